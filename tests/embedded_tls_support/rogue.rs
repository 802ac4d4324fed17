//! A TLS 1.3 server that never proves who it is: it completes the handshake (ServerHello with a
//! P-256 key share, EncryptedExtensions, Finished) but sends no Certificate and no
//! CertificateVerify — what anyone in the network path can answer. RFC 8446 requires a client
//! authenticating the server by certificate to abort; embedded-tls 0.19 alone does not.
//!
//! Hand-written (with RustCrypto's p256, hkdf, hmac, aes-gcm) because no maintained TLS server
//! can be told to skip its certificate. Only what embedded-tls's ClientHello needs: suite
//! TLS_AES_128_GCM_SHA256, group secp256r1.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::Duration;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes128Gcm, Nonce};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// Starts the server on 127.0.0.1:0 for one connection. The thread returns the bytes the client
/// sent after the server's Finished (its own Finished record, then any application data).
pub fn serve_one() -> (SocketAddr, JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let handle = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().expect("accept");
        s.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        handshake(&mut s);
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest);
        rest
    });
    (addr, handle)
}

fn read_record(s: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut head = [0u8; 5];
    s.read_exact(&mut head).expect("record header");
    let len = u16::from_be_bytes([head[3], head[4]]) as usize;
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).expect("record body");
    (head[0], body)
}

/// The client's legacy session id and its P-256 key share, from a ClientHello message.
fn parse_client_hello(m: &[u8]) -> (Vec<u8>, Vec<u8>) {
    assert_eq!(m[0], 1, "ClientHello");
    let mut i = 4 + 2 + 32;
    let sid = m[i + 1..i + 1 + m[i] as usize].to_vec();
    i += 1 + m[i] as usize;
    i += 2 + u16::from_be_bytes([m[i], m[i + 1]]) as usize; // cipher suites
    i += 1 + m[i] as usize; // compression methods
    let end = i + 2 + u16::from_be_bytes([m[i], m[i + 1]]) as usize;
    i += 2;
    while i < end {
        let ty = u16::from_be_bytes([m[i], m[i + 1]]);
        let len = u16::from_be_bytes([m[i + 2], m[i + 3]]) as usize;
        let data = &m[i + 4..i + 4 + len];
        if ty == 0x0033 {
            let mut j = 2;
            while j < data.len() {
                let group = u16::from_be_bytes([data[j], data[j + 1]]);
                let klen = u16::from_be_bytes([data[j + 2], data[j + 3]]) as usize;
                if group == 0x0017 {
                    return (sid, data[j + 4..j + 4 + klen].to_vec());
                }
                j += 4 + klen;
            }
        }
        i += 4 + len;
    }
    panic!("no secp256r1 key share in the ClientHello");
}

fn expand_label(secret: &[u8], label: &str, context: &[u8], len: usize) -> Vec<u8> {
    let full = format!("tls13 {label}");
    let mut info = Vec::new();
    info.extend_from_slice(&(len as u16).to_be_bytes());
    info.push(full.len() as u8);
    info.extend_from_slice(full.as_bytes());
    info.push(context.len() as u8);
    info.extend_from_slice(context);
    let mut out = vec![0u8; len];
    Hkdf::<Sha256>::from_prk(secret)
        .expect("prk")
        .expand(&info, &mut out)
        .expect("expand");
    out
}

fn handshake_message(ty: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![ty];
    m.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    m.extend_from_slice(body);
    m
}

fn handshake(s: &mut TcpStream) {
    let (ty, client_hello) = read_record(s);
    assert_eq!(ty, 22, "a handshake record first");
    let (sid, client_share) = parse_client_hello(&client_hello);
    let mut transcript = Sha256::new();
    transcript.update(&client_hello);

    // Our ephemeral P-256 key and the shared secret.
    let secret = loop {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).expect("random");
        if let Ok(k) = p256::SecretKey::from_slice(&bytes) {
            break k;
        }
    };
    let public = p256::EncodedPoint::from(secret.public_key());
    let client = p256::PublicKey::from_sec1_bytes(&client_share).expect("client key share");
    let shared = p256::ecdh::diffie_hellman(secret.to_nonzero_scalar(), client.as_affine());

    let mut body = vec![0x03, 0x03];
    let mut random = [0u8; 32];
    getrandom::fill(&mut random).expect("random");
    body.extend_from_slice(&random);
    body.push(sid.len() as u8);
    body.extend_from_slice(&sid);
    body.extend_from_slice(&[0x13, 0x01, 0x00]);
    let mut ext = vec![0x00, 0x2b, 0x00, 0x02, 0x03, 0x04, 0x00, 0x33];
    ext.extend_from_slice(&(4 + public.len() as u16).to_be_bytes());
    ext.extend_from_slice(&[0x00, 0x17]);
    ext.extend_from_slice(&(public.len() as u16).to_be_bytes());
    ext.extend_from_slice(public.as_bytes());
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend_from_slice(&ext);
    let server_hello = handshake_message(2, &body);
    transcript.update(&server_hello);
    let mut record = vec![22, 0x03, 0x03];
    record.extend_from_slice(&(server_hello.len() as u16).to_be_bytes());
    record.extend_from_slice(&server_hello);
    s.write_all(&record).expect("send ServerHello");

    // The key schedule (RFC 8446 §7.1) up to the server's handshake traffic keys.
    let (early, _) = Hkdf::<Sha256>::extract(Some(&[0u8; 32]), &[0u8; 32]);
    let derived = expand_label(&early, "derived", &Sha256::digest([]), 32);
    let (hs_secret, _) = Hkdf::<Sha256>::extract(Some(&derived), shared.raw_secret_bytes());
    let server_secret = expand_label(
        &hs_secret,
        "s hs traffic",
        &transcript.clone().finalize(),
        32,
    );
    let key = expand_label(&server_secret, "key", &[], 16);
    let iv = expand_label(&server_secret, "iv", &[], 12);
    let aead = Aes128Gcm::new_from_slice(&key).expect("key");
    let mut seq = 0u64;
    let mut send_encrypted = |s: &mut TcpStream, message: &[u8]| {
        let mut inner = message.to_vec();
        inner.push(22); // the real content type: handshake
        let mut nonce = [0u8; 12];
        nonce.copy_from_slice(&iv);
        for (n, b) in nonce[4..].iter_mut().zip(seq.to_be_bytes()) {
            *n ^= b;
        }
        seq += 1;
        let mut head = vec![23, 0x03, 0x03];
        head.extend_from_slice(&((inner.len() + 16) as u16).to_be_bytes());
        let sealed = aead
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &inner,
                    aad: &head,
                },
            )
            .expect("seal");
        head.extend_from_slice(&sealed);
        s.write_all(&head).expect("send record");
    };

    let encrypted_extensions = handshake_message(8, &[0x00, 0x00]);
    transcript.update(&encrypted_extensions);
    send_encrypted(s, &encrypted_extensions);
    // No Certificate, no CertificateVerify: straight to Finished.
    let finished_key = expand_label(&server_secret, "finished", &[], 32);
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&finished_key).expect("hmac key");
    mac.update(&transcript.clone().finalize());
    let finished = handshake_message(20, &mac.finalize().into_bytes());
    send_encrypted(s, &finished);
}
