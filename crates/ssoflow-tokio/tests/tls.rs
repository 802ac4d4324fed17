//! HTTPS end to end: the driver against the TLS sandbox — trusted with its CA, refused without
//! it, refused for a certificate of another name or an expired one — and the proxy rule through
//! a small CONNECT proxy.

#![allow(clippy::result_large_err)] // the core's errors carry a body excerpt inline

use std::path::PathBuf;

use ssoflow_core::oauth2;
use ssoflow_sandbox::proxy::ConnectProxy;
use ssoflow_sandbox::tls::TestCa;
use ssoflow_sandbox::{Sandbox, SandboxHandle};
use ssoflow_tokio::{Driver, Error, ReqwestTransport};

async fn tls_sandbox() -> SandboxHandle {
    Sandbox::builder()
        .tls(true)
        .start()
        .await
        .expect("TLS sandbox starts")
}

/// A sandbox serving `cert` (files in a fresh temporary directory, removed when dropped).
struct Served {
    sandbox: SandboxHandle,
    dir: PathBuf,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn serve(cert: &ssoflow_sandbox::tls::IssuedCert) -> Served {
    let dir = std::env::temp_dir().join(format!(
        "ssoflow-tokio-tls-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("cert.pem"), &cert.cert_pem).unwrap();
    std::fs::write(dir.join("key.pem"), &cert.key_pem).unwrap();
    let sandbox = Sandbox::builder()
        .tls_files(dir.join("cert.pem"), dir.join("key.pem"))
        .start()
        .await
        .expect("sandbox starts with the given files");
    Served { sandbox, dir }
}

fn client(sb: &SandboxHandle) -> oauth2::Client {
    let c = &sb.credentials().oauth2;
    oauth2::Client::new(&format!("{}/token", c.base_url), &c.client_id)
        .unwrap()
        .with_secret(&c.client_secret)
        .unwrap()
}

async fn token(driver: &Driver, sb: &SandboxHandle) -> Result<(), Error> {
    driver
        .run(oauth2::client_credentials(&client(sb), None).unwrap())
        .await
        .map(|t| assert!(!t.access.value.is_empty()))
}

fn driver(builder: ssoflow_tokio::TransportBuilder) -> Driver {
    Driver::with_transport(builder.build().unwrap())
}

fn trusting(pem: &str) -> Driver {
    driver(
        ReqwestTransport::builder()
            .no_proxy()
            .add_root_certificates_pem(pem.as_bytes())
            .unwrap(),
    )
}

/// The transport error's detail; panics on anything else.
fn transport_detail(result: Result<(), Error>) -> String {
    match result {
        Err(e @ Error::Transport { .. }) => e.to_string(),
        other => panic!("expected a transport error, got {other:?}"),
    }
}

#[tokio::test]
async fn https_with_the_sandbox_ca_succeeds() {
    let sb = tls_sandbox().await;
    assert!(sb.base_url().starts_with("https://127.0.0.1:"));
    let driver = trusting(sb.ca_cert_pem().unwrap());
    token(&driver, &sb).await.unwrap();
    // Connections are reused over TLS too.
    token(&driver, &sb).await.unwrap();
}

#[tokio::test]
async fn without_the_ca_the_issuer_is_unknown() {
    let sb = tls_sandbox().await;
    let detail =
        transport_detail(token(&driver(ReqwestTransport::builder().no_proxy()), &sb).await);
    assert!(detail.contains("unknown issuer"), "{detail}");
}

#[tokio::test]
async fn a_certificate_for_another_name_is_refused() {
    let ca = TestCa::new("test CA").unwrap();
    let served = serve(&ca.issue(&["other.example"]).unwrap()).await;
    let detail = transport_detail(token(&trusting(ca.cert_pem()), &served.sandbox).await);
    assert!(detail.contains("not valid for name"), "{detail}");
    assert!(
        detail.contains("127.0.0.1"),
        "names the expected name: {detail}"
    );
}

#[tokio::test]
async fn an_expired_certificate_is_refused() {
    let ca = TestCa::new("test CA").unwrap();
    let served = serve(&ca.issue_expired(&["127.0.0.1", "localhost"]).unwrap()).await;
    let detail = transport_detail(token(&trusting(ca.cert_pem()), &served.sandbox).await);
    assert!(detail.contains("certificate expired"), "{detail}");
}

#[tokio::test]
async fn a_pem_without_certificates_is_invalid_input() {
    let err = ReqwestTransport::builder()
        .add_root_certificates_pem(b"not a certificate")
        .unwrap_err();
    assert_eq!(err.kind(), "invalid_input", "{err}");
}

#[tokio::test]
async fn an_explicit_proxy_tunnels_https_even_to_loopback_and_sees_no_secret() {
    let sb = tls_sandbox().await;
    let proxy = ConnectProxy::start().unwrap();
    let driver = driver(
        ReqwestTransport::builder()
            .proxy(proxy.url())
            .add_root_certificates_pem(sb.ca_cert_pem().unwrap().as_bytes())
            .unwrap(),
    );
    token(&driver, &sb).await.unwrap();
    assert_eq!(proxy.connects(), 1, "{:?}", proxy.connect_heads());
    let head = &proxy.connect_heads()[0];
    assert!(
        head.starts_with(&format!("CONNECT 127.0.0.1:{} ", sb.addr().port())),
        "{head}"
    );
    let secret = &sb.credentials().oauth2.client_secret;
    assert!(
        !proxy.saw(secret),
        "the client secret crossed the proxy in the clear"
    );
    assert!(!proxy.saw("authorization:") && !proxy.saw("Authorization:"));
}

#[tokio::test]
async fn plain_http_never_goes_through_a_proxy() {
    let sb = Sandbox::builder().start().await.unwrap();
    let proxy = ConnectProxy::start().unwrap();
    let driver = driver(ReqwestTransport::builder().proxy(proxy.url()));
    token(&driver, &sb).await.unwrap();
    assert_eq!(proxy.connects(), 0);
    assert!(proxy.refused().is_empty());
}

#[tokio::test]
async fn a_proxy_url_that_is_not_http_is_invalid_input() {
    let err = ReqwestTransport::builder()
        .proxy("socks5://127.0.0.1:1080")
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), "invalid_input", "{err}");
}
