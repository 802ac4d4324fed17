//! HTTPS from the command line: `--ca-cert`, `SSL_CERT_FILE`, exit 4 naming the certificate
//! problem, `sandbox --tls`, `demo --tls`, and the proxy variables (`HTTPS_PROXY`, `NO_PROXY`,
//! `HTTP_PROXY`) through a small CONNECT proxy.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::ssoflow;
use predicates::prelude::*;
use ssoflow_sandbox::proxy::ConnectProxy;
use ssoflow_sandbox::tls::{IssuedCert, TestCa};
use ssoflow_sandbox::{Sandbox, SandboxHandle};

/// Variables that would change where or how the requests go.
const NET_VARS: [&str; 10] = [
    "SSL_CERT_FILE",
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
    "SSL_CERT_DIR",
];

/// A scratch directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("ssoflow-cli-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tls_sandbox() -> SandboxHandle {
    Sandbox::builder().tls(true).start_blocking().unwrap()
}

/// A sandbox serving `leaf` (its files in `scratch`).
fn serving(scratch: &Scratch, leaf: &IssuedCert) -> SandboxHandle {
    let cert = scratch.write("cert.pem", &leaf.cert_pem);
    let key = scratch.write("key.pem", &leaf.key_pem);
    Sandbox::builder()
        .tls_files(cert, key)
        .start_blocking()
        .unwrap()
}

/// `ssoflow oauth2 client-credentials` against `base` (default: the sandbox's own base URL),
/// with a clean network environment.
fn client_credentials(sb: &SandboxHandle, base: Option<&str>) -> assert_cmd::Command {
    let c = &sb.credentials().oauth2;
    let base = base.map_or_else(|| sb.base_url(), str::to_owned);
    let mut cmd = ssoflow();
    for v in NET_VARS {
        cmd.env_remove(v);
    }
    cmd.args(["oauth2", "client-credentials", "--token-url"])
        .arg(format!("{base}/oauth2/token"))
        .args(["--client-id", &c.client_id])
        .env("SSOFLOW_CLIENT_SECRET", &c.client_secret);
    cmd
}

fn ca_path(sb: &SandboxHandle) -> &Path {
    sb.ca_cert_path().unwrap()
}

#[test]
fn ca_cert_trusts_the_sandbox_ca() {
    let sb = tls_sandbox();
    client_credentials(&sb, None)
        .arg("--ca-cert")
        .arg(ca_path(&sb))
        .assert()
        .success()
        .stdout(predicate::str::contains("access_token"));
}

#[test]
fn ssl_cert_file_is_honoured_and_ca_cert_wins_over_it() {
    let sb = tls_sandbox();
    client_credentials(&sb, None)
        .env("SSL_CERT_FILE", ca_path(&sb))
        .assert()
        .success();
    let other = TestCa::new("another CA").unwrap();
    let scratch = Scratch::new("other-ca");
    let other = scratch.write("other.pem", other.cert_pem());
    client_credentials(&sb, None)
        .env("SSL_CERT_FILE", &other)
        .arg("--ca-cert")
        .arg(ca_path(&sb))
        .assert()
        .success();
    client_credentials(&sb, None)
        .env("SSL_CERT_FILE", &other)
        .assert()
        .code(4);
}

#[test]
fn without_the_ca_exit_4_names_the_unknown_issuer() {
    let sb = tls_sandbox();
    client_credentials(&sb, None)
        .assert()
        .code(4)
        .stderr(predicate::str::contains("unknown issuer"))
        .stderr(predicate::str::contains(
            "--ca-cert FILE or set SSL_CERT_FILE",
        ));
}

#[test]
fn a_certificate_for_another_name_exits_4_and_says_so() {
    let ca = TestCa::new("test CA").unwrap();
    let scratch = Scratch::new("wrong-name");
    let sb = serving(&scratch, &ca.issue(&["other.example"]).unwrap());
    let ca_file = scratch.write("ca.pem", ca.cert_pem());
    client_credentials(&sb, None)
        .arg("--ca-cert")
        .arg(&ca_file)
        .assert()
        .code(4)
        .stderr(predicate::str::contains("not valid for name"));
}

#[test]
fn an_expired_certificate_exits_4_and_says_so() {
    let ca = TestCa::new("test CA").unwrap();
    let scratch = Scratch::new("expired");
    let sb = serving(&scratch, &ca.issue_expired(&["127.0.0.1"]).unwrap());
    let ca_file = scratch.write("ca.pem", ca.cert_pem());
    let out = client_credentials(&sb, None)
        .arg("--ca-cert")
        .arg(&ca_file)
        .assert()
        .code(4)
        .stderr(predicate::str::contains("certificate expired"))
        .get_output()
        .clone();
    // Never key material.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("PRIVATE KEY") && !stderr.contains("BEGIN"),
        "{stderr}"
    );
}

#[test]
fn an_unusable_ca_file_is_a_usage_error() {
    let sb = tls_sandbox();
    client_credentials(&sb, None)
        .args(["--ca-cert", "/nonexistent/ca.pem"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--ca-cert"));
    let scratch = Scratch::new("bad-ca");
    let bad = scratch.write("bad.pem", "not a certificate\n");
    client_credentials(&sb, None)
        .env("SSL_CERT_FILE", &bad)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("SSL_CERT_FILE"));
}

#[test]
fn sandbox_tls_names_its_ca_in_the_ready_line_and_removes_it_on_stop() {
    let mut child = Command::new(common::bin())
        .args(["sandbox", "--tls"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let ready: serde_json::Value = serde_json::from_str(&line).unwrap();
    let keys: Vec<_> = ready.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys[..2], ["listening", "ca_cert"], "{line}");
    let listening = ready["listening"].as_str().unwrap();
    assert!(listening.starts_with("https://127.0.0.1:"), "{line}");
    let ca = PathBuf::from(ready["ca_cert"].as_str().unwrap());
    assert!(
        std::fs::read_to_string(&ca)
            .unwrap()
            .contains("BEGIN CERTIFICATE")
    );
    let c = &ready["oauth2"];
    ssoflow()
        .env_remove("HTTPS_PROXY")
        .env_remove("https_proxy")
        .arg("--ca-cert")
        .arg(&ca)
        .args(["oauth2", "client-credentials", "--token-url"])
        .arg(format!("{}/token", c["base_url"].as_str().unwrap()))
        .args(["--client-id", c["client_id"].as_str().unwrap()])
        .env(
            "SSOFLOW_CLIENT_SECRET",
            c["client_secret"].as_str().unwrap(),
        )
        .assert()
        .success();
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    assert!(child.wait().unwrap().success());
    assert!(!ca.exists(), "the CA file is removed on stop");
}

#[test]
fn demo_tls_runs_every_flow_over_https() {
    let out = ssoflow()
        .args(["demo", "--tls"])
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("sandbox at https://127.0.0.1:"), "{stdout}");
    assert!(stdout.contains(" 0 failed"), "{stdout}");
}

#[test]
fn https_proxy_is_never_used_for_loopback() {
    let sb = tls_sandbox();
    let proxy = ConnectProxy::start().unwrap();
    for base in [
        sb.base_url(),
        format!("https://localhost:{}", sb.addr().port()),
    ] {
        client_credentials(&sb, Some(&base))
            .env("HTTPS_PROXY", proxy.url())
            .env("ALL_PROXY", proxy.url())
            .arg("--ca-cert")
            .arg(ca_path(&sb))
            .assert()
            .success();
    }
    assert_eq!(proxy.connects(), 0, "{:?}", proxy.connect_heads());
}

#[test]
fn http_proxy_never_sees_a_plain_http_request() {
    let sb = Sandbox::builder().start_blocking().unwrap();
    let proxy = ConnectProxy::start().unwrap();
    client_credentials(&sb, None)
        .env("HTTP_PROXY", proxy.url())
        .env("http_proxy", proxy.url())
        .env("ALL_PROXY", proxy.url())
        .assert()
        .success();
    assert_eq!(proxy.connects(), 0);
    assert!(proxy.refused().is_empty(), "{:?}", proxy.refused());
}

#[test]
fn https_proxy_tunnels_a_remote_host_and_no_proxy_bypasses_it() {
    let ca = TestCa::new("test CA").unwrap();
    let scratch = Scratch::new("proxy");
    let sb = serving(&scratch, &ca.issue(&["sandbox.test"]).unwrap());
    let ca_file = scratch.write("ca.pem", ca.cert_pem());
    let proxy = ConnectProxy::start().unwrap();
    let remote = format!("https://sandbox.test:{}", sb.addr().port());

    client_credentials(&sb, Some(&remote))
        .env("HTTPS_PROXY", proxy.url())
        .arg("--ca-cert")
        .arg(&ca_file)
        .assert()
        .success();
    assert_eq!(proxy.connects(), 1);
    let head = &proxy.connect_heads()[0];
    assert!(
        head.starts_with(&format!("CONNECT sandbox.test:{} ", sb.addr().port())),
        "{head}"
    );
    assert!(
        !proxy.saw(&sb.credentials().oauth2.client_secret),
        "secret crossed the proxy"
    );

    // NO_PROXY: direct, and sandbox.test does not resolve: a transport failure.
    client_credentials(&sb, Some(&remote))
        .env("HTTPS_PROXY", proxy.url())
        .env("NO_PROXY", "localhost,.test")
        .arg("--ca-cert")
        .arg(&ca_file)
        .assert()
        .code(4);
    assert_eq!(proxy.connects(), 1, "NO_PROXY host went through the proxy");
}
