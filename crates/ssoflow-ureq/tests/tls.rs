//! HTTPS end to end: the driver against the TLS sandbox — trusted with its CA, refused without
//! it, refused for a certificate of another name or an expired one — and the proxy rule through
//! a small CONNECT proxy.

#![allow(clippy::result_large_err)] // the core's errors carry a body excerpt inline

use std::path::PathBuf;

use ssoflow_core::oauth2;
use ssoflow_sandbox::proxy::ConnectProxy;
use ssoflow_sandbox::tls::TestCa;
use ssoflow_sandbox::{Sandbox, SandboxHandle};
use ssoflow_ureq::{Driver, Error};

fn tls_sandbox() -> SandboxHandle {
    Sandbox::builder()
        .tls(true)
        .start_blocking()
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

fn serve(cert: &ssoflow_sandbox::tls::IssuedCert) -> Served {
    let dir = std::env::temp_dir().join(format!(
        "ssoflow-ureq-tls-{}-{:?}",
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

fn client(sb: &SandboxHandle) -> oauth2::Client {
    let c = &sb.credentials().oauth2;
    oauth2::Client::new(&format!("{}/token", c.base_url), &c.client_id)
        .unwrap()
        .with_secret(&c.client_secret)
        .unwrap()
}

fn token(driver: &Driver, sb: &SandboxHandle) -> Result<(), Error> {
    driver
        .run(oauth2::client_credentials(&client(sb), None).unwrap())
        .map(|t| assert!(!t.access.value.is_empty()))
}

fn trusting(pem: &str) -> Driver {
    Driver::builder()
        .no_proxy()
        .add_root_certificates_pem(pem.as_bytes())
        .unwrap()
        .build()
        .unwrap()
}

/// The transport error's detail; panics on anything else.
fn transport_detail(result: Result<(), Error>) -> String {
    match result {
        Err(e @ Error::Transport { .. }) => {
            assert_eq!(e.class(), ssoflow_core::ErrorClass::Transport);
            e.to_string()
        }
        other => panic!("expected a transport error, got {other:?}"),
    }
}

#[test]
fn https_with_the_sandbox_ca_succeeds() {
    let sb = tls_sandbox();
    assert!(sb.base_url().starts_with("https://127.0.0.1:"));
    let driver = trusting(sb.ca_cert_pem().unwrap());
    token(&driver, &sb).unwrap();
    // Connections are reused over TLS too.
    token(&driver, &sb).unwrap();
}

#[test]
fn without_the_ca_the_issuer_is_unknown() {
    let sb = tls_sandbox();
    let detail = transport_detail(token(&Driver::builder().no_proxy().build().unwrap(), &sb));
    assert!(detail.contains("unknown issuer"), "{detail}");
}

#[test]
fn a_certificate_for_another_name_is_refused() {
    let ca = TestCa::new("test CA").unwrap();
    let served = serve(&ca.issue(&["other.example"]).unwrap());
    let detail = transport_detail(token(&trusting(ca.cert_pem()), &served.sandbox));
    assert!(detail.contains("not valid for name"), "{detail}");
    assert!(
        detail.contains("127.0.0.1"),
        "names the expected name: {detail}"
    );
}

#[test]
fn an_expired_certificate_is_refused() {
    let ca = TestCa::new("test CA").unwrap();
    let served = serve(&ca.issue_expired(&["127.0.0.1", "localhost"]).unwrap());
    let detail = transport_detail(token(&trusting(ca.cert_pem()), &served.sandbox));
    assert!(detail.contains("certificate expired"), "{detail}");
}

#[test]
fn a_pem_without_certificates_is_invalid_input() {
    let err = Driver::builder()
        .add_root_certificates_pem(b"not a certificate")
        .unwrap_err();
    assert_eq!(err.class(), ssoflow_core::ErrorClass::Input, "{err}");
}

#[test]
fn an_explicit_proxy_tunnels_https_even_to_loopback_and_sees_no_secret() {
    let sb = tls_sandbox();
    let proxy = ConnectProxy::start().unwrap();
    let driver = Driver::builder()
        .proxy(proxy.url())
        .add_root_certificates_pem(sb.ca_cert_pem().unwrap().as_bytes())
        .unwrap()
        .build()
        .unwrap();
    token(&driver, &sb).unwrap();
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

#[test]
fn plain_http_never_goes_through_a_proxy() {
    let sb = Sandbox::builder().start_blocking().unwrap();
    let proxy = ConnectProxy::start().unwrap();
    let driver = Driver::builder().proxy(proxy.url()).build().unwrap();
    token(&driver, &sb).unwrap();
    assert_eq!(proxy.connects(), 0);
    assert!(proxy.refused().is_empty());
}

#[test]
fn a_proxy_url_that_is_not_http_is_invalid_input() {
    let err = Driver::builder()
        .proxy("socks5://127.0.0.1:1080")
        .build()
        .unwrap_err();
    assert_eq!(err.class(), ssoflow_core::ErrorClass::Input, "{err}");
}
