//! The sandbox over HTTPS: a certificate made at start for localhost, 127.0.0.1 and ::1 under a
//! CA it also makes (written to a file the handle removes), or given files.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use ssoflow_sandbox::tls::TestCa;
use ssoflow_sandbox::{Sandbox, SandboxHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `GET /oauth2/nowhere` over TLS to the sandbox, naming it `name`, trusting `ca_pem`: the
/// status line, or the handshake error.
async fn get(sb: &SandboxHandle, name: &'static str, ca_pem: &str) -> Result<String, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(sb.addr()).await.unwrap();
    let mut tls = connector
        .connect(ServerName::try_from(name).unwrap(), tcp)
        .await
        .map_err(|e| e.to_string())?;
    tls.write_all(b"GET /oauth2/nowhere HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    tls.read_to_string(&mut answer).await.unwrap();
    Ok(answer.lines().next().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn a_generated_certificate_serves_https_for_every_loopback_name() {
    let sb = Sandbox::builder().tls(true).start().await.unwrap();
    assert!(sb.is_tls());
    assert!(sb.base_url().starts_with("https://127.0.0.1:"));
    let ready: serde_json::Value = serde_json::from_str(&sb.ready_line()).unwrap();
    let path = sb.ca_cert_path().unwrap().to_owned();
    assert_eq!(ready["ca_cert"], path.display().to_string());
    assert!(
        ready["oauth2"]["base_url"]
            .as_str()
            .unwrap()
            .starts_with("https://")
    );
    let pem = std::fs::read_to_string(&path).unwrap();
    assert_eq!(pem, sb.ca_cert_pem().unwrap());
    for name in ["127.0.0.1", "localhost"] {
        let status = get(&sb, name, &pem).await.unwrap();
        assert!(status.starts_with("HTTP/1.1 404"), "{name}: {status}");
    }
    // Not for any other name.
    let err = get(&sb, "example.com", &pem).await.unwrap_err();
    assert!(err.contains("not valid for name"), "{err}");
    assert!(
        err.contains("localhost") && err.contains("127.0.0.1") && err.contains("::1"),
        "{err}"
    );
    drop(sb);
    assert!(!path.exists(), "the CA file goes with the handle");
}

#[tokio::test]
async fn given_files_are_served_and_no_ca_is_named() {
    let ca = TestCa::new("test CA").unwrap();
    let leaf = ca.issue(&["localhost"]).unwrap();
    let dir = std::env::temp_dir().join(format!("ssoflow-sandbox-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("cert.pem"), &leaf.cert_pem).unwrap();
    std::fs::write(dir.join("key.pem"), &leaf.key_pem).unwrap();
    let sb = Sandbox::builder()
        .tls_files(dir.join("cert.pem"), dir.join("key.pem"))
        .start()
        .await
        .unwrap();
    assert!(sb.ca_cert_pem().is_none());
    assert!(!sb.ready_line().contains("ca_cert"));
    let status = get(&sb, "localhost", ca.cert_pem()).await.unwrap();
    assert!(status.starts_with("HTTP/1.1 404"), "{status}");
    // A key file without a key is refused at start, naming no key bytes.
    std::fs::write(dir.join("bad.pem"), "nothing here").unwrap();
    let err = Sandbox::builder()
        .tls_files(dir.join("cert.pem"), dir.join("bad.pem"))
        .start()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("private key"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn plain_http_is_still_the_default() {
    let sb = Sandbox::builder().start().await.unwrap();
    assert!(!sb.is_tls());
    assert!(sb.ca_cert_path().is_none());
    assert!(!sb.ready_line().contains("ca_cert"));
}
