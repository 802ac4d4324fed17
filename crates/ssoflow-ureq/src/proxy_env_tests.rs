//! The proxy from the environment, end to end through ureq (the environment is given as a
//! lookup: tests cannot set the real one, `set_var` being unsafe). The same cases as
//! ssoflow-tokio's, with the same expectations.

use ssoflow_core::oauth2;
use ssoflow_sandbox::proxy::ConnectProxy;
use ssoflow_sandbox::tls::TestCa;
use ssoflow_sandbox::{Sandbox, SandboxHandle};

use crate::net::{ProxyChoice, Roots};
use crate::{Config, Driver, Error};

fn driver(env: &[(&str, &str)], ca_pem: &str) -> Driver {
    let lookup = |name: &str| {
        env.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    };
    let route = ProxyChoice::Environment.resolve_with(&lookup).unwrap();
    let proxy = route.map(|r| (ureq::Proxy::new(&r.url).unwrap(), r));
    let mut roots = Roots::default();
    roots.add_pem(ca_pem.as_bytes()).unwrap();
    Driver::assemble(Config::default(), &roots, proxy)
}

fn token(driver: &Driver, sb: &SandboxHandle, base: &str) -> Result<(), Error> {
    let c = &sb.credentials().oauth2;
    let client = oauth2::Client::new(&format!("{base}/oauth2/token"), &c.client_id)
        .unwrap()
        .with_secret(&c.client_secret)
        .unwrap();
    driver
        .run(oauth2::client_credentials(&client, None).unwrap())
        .map(|_| ())
}

#[test]
fn https_proxy_from_the_environment_is_never_used_for_loopback() {
    let sb = Sandbox::builder().tls(true).start_blocking().unwrap();
    let proxy = ConnectProxy::start().unwrap();
    let url = proxy.url();
    let d = driver(
        &[("HTTPS_PROXY", &url), ("ALL_PROXY", &url)],
        sb.ca_cert_pem().unwrap(),
    );
    token(&d, &sb, &sb.base_url()).unwrap();
    let localhost = format!("https://localhost:{}", sb.addr().port());
    token(&d, &sb, &localhost).unwrap();
    assert_eq!(proxy.connects(), 0, "{:?}", proxy.connect_heads());
}

/// A sandbox serving a certificate for `sandbox.test`, a name only the proxy can reach (it
/// tunnels every CONNECT to 127.0.0.1).
fn remote_sandbox(ca: &TestCa, dir: &std::path::Path) -> SandboxHandle {
    let leaf = ca.issue(&["sandbox.test"]).unwrap();
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("cert.pem"), &leaf.cert_pem).unwrap();
    std::fs::write(dir.join("key.pem"), &leaf.key_pem).unwrap();
    Sandbox::builder()
        .tls_files(dir.join("cert.pem"), dir.join("key.pem"))
        .start_blocking()
        .unwrap()
}

#[test]
fn https_proxy_from_the_environment_tunnels_a_remote_host_unless_no_proxy_says() {
    let ca = TestCa::new("test CA").unwrap();
    let dir = std::env::temp_dir().join(format!("ssoflow-ureq-proxy-{}", std::process::id()));
    let sb = remote_sandbox(&ca, &dir);
    let proxy = ConnectProxy::start().unwrap();
    let url = proxy.url();
    let remote = format!("https://sandbox.test:{}", sb.addr().port());

    let d = driver(&[("https_proxy", &url)], ca.cert_pem());
    token(&d, &sb, &remote).unwrap();
    assert_eq!(proxy.connects(), 1);
    assert!(
        proxy.connect_heads()[0]
            .starts_with(&format!("CONNECT sandbox.test:{} ", sb.addr().port())),
        "{:?}",
        proxy.connect_heads()
    );
    assert!(!proxy.saw(&sb.credentials().oauth2.client_secret));

    // NO_PROXY: straight to sandbox.test, which does not resolve.
    let d = driver(
        &[("HTTPS_PROXY", &url), ("NO_PROXY", ".test")],
        ca.cert_pem(),
    );
    let err = token(&d, &sb, &remote).unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert_eq!(proxy.connects(), 1, "not through the proxy");
    let _ = std::fs::remove_dir_all(&dir);
}
