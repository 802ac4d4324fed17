//! The firmware driver over embedded-tls (TLS 1.3, no alloc) against the TLS sandbox, the server
//! certificate verified against the sandbox's CA by `ssoflow_embedded_io::tls::CaVerified`
//! (embedded-tls's `rustpki` verifier).
//!
//! Real sign-ins over one verified connection (blocking and async): an OAuth 2.0 machine token,
//! a POS admin session and a PAR customer session, renewed after the sandbox's clock expires
//! their tokens. And the refusals: a CA that did not sign the server's certificate, a server
//! name the certificate is not for, (with a clock) an expired certificate, and a server that
//! sends no certificate at all (which embedded-tls 0.19 alone accepts) — each a typed
//! `TlsError` from the handshake, with no request reaching the server.
#![allow(clippy::result_large_err)] // the core's errors carry a redacted excerpt inline

use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant as StdInstant, SystemTime};

use embedded_io_adapters::std::FromStd;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use ssoflow::session::{HasAccessToken, Policy, Session};
use ssoflow::{Instant, Method, TokenSet, oauth2, par_ordering, pos_api};
use ssoflow_embedded_io::tls::embedded_tls::blocking::TlsConnection;
use ssoflow_embedded_io::tls::rand_core::{self, CryptoRng, RngCore};
use ssoflow_embedded_io::tls::{
    self, CaVerified, READ_RECORD_BUF, SANDBOX_SERVER_NAME, Suite, TlsClock, TlsConfig, TlsError,
    WRITE_RECORD_BUF,
};
use ssoflow_embedded_io::{DEFAULT_BUF, Driver};
use ssoflow_sandbox::tls::{IssuedCert, SANDBOX_NAMES, TestCa};
use ssoflow_sandbox::{Sandbox, SandboxHandle};

#[path = "embedded_tls_support/rogue.rs"]
mod rogue;

type Tls<'b> = TlsConnection<'b, FromStd<TcpStream>, Suite>;

/// The OS random source through rand_core 0.6's traits (a firmware's hardware RNG goes here).
struct OsRandom;

impl RngCore for OsRandom {
    fn next_u32(&mut self) -> u32 {
        rand_core::impls::next_u32_via_fill(self)
    }
    fn next_u64(&mut self) -> u64 {
        rand_core::impls::next_u64_via_fill(self)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        getrandom::fill(dest).expect("the OS random source works");
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for OsRandom {}

/// Wall-clock time for the certificate's validity dates.
struct SystemClock;

impl TlsClock for SystemClock {
    fn now() -> Option<u64> {
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .ok()
            .map(|d| d.as_secs())
    }
}

/// The record buffers one TLS connection borrows.
struct Records {
    read: Vec<u8>,
    write: Vec<u8>,
}

impl Records {
    fn new() -> Self {
        Records {
            read: vec![0; READ_RECORD_BUF],
            write: vec![0; WRITE_RECORD_BUF],
        }
    }
}

fn der(pem: &str) -> Vec<u8> {
    CertificateDer::from_pem_slice(pem.as_bytes())
        .expect("a PEM certificate")
        .to_vec()
}

fn tcp(addr: SocketAddr) -> FromStd<TcpStream> {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    FromStd::new(s)
}

/// TCP to `addr`, then a TLS 1.3 handshake verifying the certificate against `ca_der` for
/// `server_name` (validity dates by `C`).
fn open_with<'b, C: TlsClock>(
    addr: SocketAddr,
    server_name: &str,
    ca_der: &[u8],
    records: &'b mut Records,
) -> Result<Tls<'b>, TlsError> {
    let config = TlsConfig::new().with_server_name(server_name);
    let mut tls = TlsConnection::new(tcp(addr), &mut records.read, &mut records.write);
    let mut trust = CaVerified::<_, C>::with_clock(ca_der, OsRandom);
    tls::open(&mut tls, &config, &mut trust)?;
    assert!(trust.is_verified());
    Ok(tls)
}

fn open<'b>(sb: &SandboxHandle, ca_der: &[u8], records: &'b mut Records) -> Tls<'b> {
    open_with::<SystemClock>(sb.addr(), SANDBOX_SERVER_NAME, ca_der, records)
        .expect("TLS handshake with the sandbox, verified against its CA")
}

fn tls_sandbox() -> SandboxHandle {
    Sandbox::builder()
        .tls(true)
        .start_blocking()
        .expect("TLS sandbox starts")
}

fn clock() -> impl FnMut() -> Instant {
    let origin = StdInstant::now();
    move || Instant::from_millis(origin.elapsed().as_millis() as u64)
}

fn seed() -> [u8; 16] {
    let mut s = [0u8; 16];
    getrandom::fill(&mut s).expect("the OS random source works");
    s
}

#[test]
fn sign_ins_over_embedded_tls_verified_against_the_sandbox_ca() {
    let sb = tls_sandbox();
    let ca = der(sb.ca_cert_pem().expect("the TLS sandbox made a CA"));
    let creds = sb.credentials().clone();
    assert!(creds.pos_api.base_url.starts_with("https://"));
    let mut records = Records::new();
    let mut tls = open(&sb, &ca, &mut records);
    let mut clock = clock();
    let mut buf = [0u8; DEFAULT_BUF];
    let mut driver = Driver::new(&mut buf);

    // An OAuth 2.0 machine token.
    let o = &creds.oauth2;
    let client = oauth2::Client::new(&format!("{}/token", o.base_url), &o.client_id)
        .and_then(|c| c.with_secret(&o.client_secret))
        .unwrap();
    let machine = driver
        .run(
            &mut tls,
            &mut clock,
            oauth2::client_credentials(&client, None).unwrap(),
        )
        .expect("client-credentials token over embedded-tls");
    assert!(!machine.access.value.expose().is_empty());

    // A POS admin: create the account, then a session signed in by its recipe.
    let p = &creds.pos_api;
    let pos = pos_api::PosConfig::new(&p.base_url, &p.client_id, &p.client_secret).unwrap();
    let account = driver
        .run(
            &mut tls,
            &mut clock,
            pos_api::create_account(&pos, "tls-terminal", "fake-terminal-pass").unwrap(),
        )
        .expect("account created over embedded-tls");
    assert_eq!(account.user_name, "tls-terminal");
    let admin = pos_api::Admin::new(&pos, "tls-terminal", "fake-terminal-pass").unwrap();
    let mut pos_session: Session<TokenSet, ssoflow_embedded_io::Error> =
        Session::with_policy(Policy::DEFAULT);

    // A PAR Ordering customer, signed in by token exchange.
    let c = &creds.par_ordering;
    let par = par_ordering::ParConfig::new(
        &c.base_url,
        &c.application_key,
        &c.client_id,
        &c.client_secret,
    )
    .unwrap();
    let customer = par_ordering::CustomerSignIn::<str>::new(&par);
    let mut par_session: Session<par_ordering::SignIn, ssoflow_embedded_io::Error> =
        Session::with_policy(Policy::DEFAULT);
    let mut ids = par_ordering::RequestIds::new(seed());

    // Round 0 signs both in; round 1 runs after the sandbox clock passed the tokens' lifetime:
    // the 401s make both sessions sign in again, still over the same verified connection.
    for round in 0..2u64 {
        let view = driver
            .send_authorized(
                &mut tls,
                &mut clock,
                &mut pos_session,
                &admin,
                &(),
                seed,
                |t: &TokenSet, b: &mut [u8]| {
                    pos_api::admin_request(&pos, t.access.value.expose(), b)
                },
            )
            .expect("POS /admin/me over embedded-tls");
        assert_eq!(view.status(), 200);
        let me = pos_api::read_admin(view.response()).unwrap();
        drop(view);
        assert_eq!(me.user_name, "tls-terminal");

        let view = driver
            .send_authorized(
                &mut tls,
                &mut clock,
                &mut par_session,
                &customer,
                c.test_subject_token.as_str(),
                seed,
                |t: &par_ordering::SignIn, b: &mut [u8]| {
                    par.protected_request(
                        b,
                        Method::Get,
                        "/api/customers/me",
                        t.access_token().value.expose(),
                        &mut ids,
                    )
                },
            )
            .expect("PAR /api/customers/me over embedded-tls");
        assert_eq!(view.status(), 200);
        par_ordering::read_customer_account(view.response()).unwrap();
        drop(view);
        assert_eq!(pos_session.generation(), round + 1, "POS sign-ins");
        assert_eq!(par_session.generation(), round + 1, "PAR sign-ins");
        sb.advance_clock(Duration::from_secs(3601));
    }
    assert!(driver.is_reusable(), "one keep-alive TLS connection");
    let stats = sb.stats();
    assert_eq!(stats.get("POST /oauth2/token"), Some(&1), "{stats:?}");
    assert_eq!(stats.get("GET /pos/admin/me"), Some(&3), "{stats:?}"); // 200, 401, 200
    tls.close().map_err(|(_, e)| e).expect("close_notify");
}

#[test]
fn async_sign_in_over_embedded_tls() {
    use embedded_io_adapters::tokio_1::FromTokio;
    use ssoflow_embedded_io::tls::embedded_tls::TlsConnection;

    let sb = tls_sandbox();
    let ca = der(sb.ca_cert_pem().unwrap());
    let o = sb.credentials().oauth2.clone();
    let client = oauth2::Client::new(&format!("{}/token", o.base_url), &o.client_id)
        .and_then(|c| c.with_secret(&o.client_secret))
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let tcp = tokio::net::TcpStream::connect(sb.addr()).await.unwrap();
        let mut records = Records::new();
        let config = TlsConfig::new().with_server_name(SANDBOX_SERVER_NAME);
        let mut tls: TlsConnection<'_, _, Suite> =
            TlsConnection::new(FromTokio::new(tcp), &mut records.read, &mut records.write);
        let mut trust = CaVerified::<_, SystemClock>::with_clock(&ca, OsRandom);
        tls::open_async(&mut tls, &config, &mut trust)
            .await
            .expect("async TLS handshake, verified");
        let mut buf = [0u8; DEFAULT_BUF];
        let mut driver = Driver::new(&mut buf);
        let mut clock = clock();
        for _ in 0..2 {
            let flow = oauth2::client_credentials(&client, None).unwrap();
            let tokens = driver
                .run_async(&mut tls, &mut clock, flow)
                .await
                .expect("token over async embedded-tls");
            assert!(!tokens.access.value.expose().is_empty());
        }
    });
    assert_eq!(sb.stats().get("POST /oauth2/token"), Some(&2));
}

/// Opening fails with `InvalidCertificate` and the server saw no request at all.
fn assert_refused(sb: &SandboxHandle, result: Result<Tls<'_>, TlsError>) {
    match result {
        Err(TlsError::InvalidCertificate) => {}
        Err(other) => panic!("expected InvalidCertificate, got {other:?}"),
        Ok(_) => panic!("the handshake must fail"),
    }
    assert!(
        sb.stats().is_empty(),
        "no request may reach the server: {:?}",
        sb.stats()
    );
}

#[test]
fn a_ca_that_did_not_sign_the_certificate_is_refused_before_any_request() {
    let sb = tls_sandbox();
    let other = TestCa::new("some other CA").unwrap();
    let mut records = Records::new();
    let r = open_with::<SystemClock>(
        sb.addr(),
        SANDBOX_SERVER_NAME,
        &der(other.cert_pem()),
        &mut records,
    );
    assert_refused(&sb, r);
}

#[test]
fn a_server_name_the_certificate_is_not_for_is_refused_before_any_request() {
    let sb = tls_sandbox();
    let ca = der(sb.ca_cert_pem().unwrap());
    let mut records = Records::new();
    let r = open_with::<SystemClock>(sb.addr(), "pos.example.com", &ca, &mut records);
    assert_refused(&sb, r);
}

/// A sandbox serving `cert` from files in a fresh temporary directory (removed on drop).
struct Served {
    sandbox: SandboxHandle,
    dir: PathBuf,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn serve(cert: &IssuedCert) -> Served {
    let dir = std::env::temp_dir().join(format!(
        "ssoflow-embedded-tls-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("cert.pem"), &cert.cert_pem).unwrap();
    std::fs::write(dir.join("key.pem"), &cert.key_pem).unwrap();
    let sandbox = Sandbox::builder()
        .tls_files(dir.join("cert.pem"), dir.join("key.pem"))
        .start_blocking()
        .expect("sandbox starts with the given files");
    Served { sandbox, dir }
}

#[test]
fn an_expired_certificate_is_refused_when_the_provider_has_a_clock() {
    let ca = TestCa::new("test CA").unwrap();
    let served = serve(&ca.issue_expired(&SANDBOX_NAMES).unwrap());
    let sb = &served.sandbox;
    let trust = der(ca.cert_pem());
    let mut records = Records::new();
    let r = open_with::<SystemClock>(sb.addr(), SANDBOX_SERVER_NAME, &trust, &mut records);
    assert_refused(sb, r);

    // Without a clock the dates cannot be checked (documented on `CaVerified`): the chain and
    // name still verify, so the handshake completes. A firmware without time must know this.
    let mut records = Records::new();
    let r = open_with::<ssoflow_embedded_io::tls::NoClock>(
        sb.addr(),
        SANDBOX_SERVER_NAME,
        &trust,
        &mut records,
    );
    assert!(r.is_ok(), "NoClock does not check dates: {:?}", r.err());
}

/// TLS records in `bytes`: (content type, length).
fn records(mut bytes: &[u8]) -> Vec<(u8, usize)> {
    let mut out = Vec::new();
    while bytes.len() >= 5 {
        let len = u16::from_be_bytes([bytes[3], bytes[4]]) as usize;
        out.push((bytes[0], len));
        bytes = &bytes[(5 + len).min(bytes.len())..];
    }
    out
}

#[test]
fn a_server_that_sends_no_certificate_is_refused_before_any_request() {
    let (addr, server) = rogue::serve_one();
    let ca = TestCa::new("the CA we trust").unwrap();
    let mut records_buf = Records::new();
    let r = open_with::<SystemClock>(
        addr,
        SANDBOX_SERVER_NAME,
        &der(ca.cert_pem()),
        &mut records_buf,
    );
    match r {
        Err(TlsError::InvalidCertificate) => {}
        Err(other) => panic!("expected InvalidCertificate, got {other:?}"),
        Ok(_) => panic!("a server without a certificate must be refused"),
    }
    // The connection was dropped: the server got embedded-tls's own Finished (one encrypted
    // record: 32-byte verify data + header + content type + tag) and nothing after it.
    let sent = server.join().expect("rogue server");
    let encrypted: Vec<_> = records(&sent).into_iter().filter(|r| r.0 == 23).collect();
    assert_eq!(encrypted, [(23, 53)], "no application data: {sent:?}");
}

/// Why `tls::open` checks the proof itself: embedded-tls 0.19's own verifier, given through a
/// provider of our own, completes the handshake with the same certificate-less server. (If this
/// starts failing, embedded-tls now refuses such a server itself; the check in `open` stays.)
#[test]
fn embedded_tls_alone_completes_a_handshake_without_a_certificate() {
    use ssoflow_embedded_io::tls::embedded_tls::pki::CertVerifier;
    use ssoflow_embedded_io::tls::embedded_tls::{
        Certificate, CryptoProvider, TlsContext, TlsVerifier,
    };

    struct Plain<'a> {
        rng: OsRandom,
        verifier: CertVerifier<'a, Suite, SystemClock, 4096>,
    }
    impl CryptoProvider for Plain<'_> {
        type CipherSuite = Suite;
        type Signature = [u8; 0];
        fn rng(&mut self) -> impl ssoflow_embedded_io::tls::embedded_tls::CryptoRngCore {
            &mut self.rng
        }
        fn verifier(&mut self) -> Result<&mut impl TlsVerifier<Suite>, TlsError> {
            Ok(&mut self.verifier)
        }
    }

    let (addr, server) = rogue::serve_one();
    let ca = der(TestCa::new("the CA we trust").unwrap().cert_pem());
    let mut records_buf = Records::new();
    let mut tls: Tls<'_> =
        TlsConnection::new(tcp(addr), &mut records_buf.read, &mut records_buf.write);
    let config = TlsConfig::new().with_server_name(SANDBOX_SERVER_NAME);
    let plain = Plain {
        rng: OsRandom,
        verifier: CertVerifier::new(Certificate::X509(&ca)),
    };
    let r = tls.open(TlsContext::new(&config, plain));
    assert!(r.is_ok(), "embedded-tls refused it itself now: {r:?}");
    drop(tls);
    server.join().expect("rogue server");
}
