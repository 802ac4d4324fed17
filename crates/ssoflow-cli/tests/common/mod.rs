//! Shared helpers for the `ssoflow` tests: the binary, an in-process sandbox, plain HTTP.
#![allow(dead_code)]

use std::io::{BufRead, Read, Write};
use std::net::TcpListener;

use ssoflow_sandbox::{Config, Sandbox, SandboxHandle};

/// Every variable `ssoflow` reads.
pub const SECRET_VARS: [&str; 9] = [
    "SSOFLOW_CLIENT_SECRET",
    "SSOFLOW_APPLICATION_KEY",
    "SSOFLOW_SIGNING_SECRET",
    "SSOFLOW_PASSWORD",
    "SSOFLOW_REFRESH_TOKEN",
    "SSOFLOW_SUBJECT_TOKEN",
    "SSOFLOW_SECURITY_TOKEN",
    "SSOFLOW_CODE",
    "SSOFLOW_ACCESS_TOKEN",
];

/// The path of the built binary.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_ssoflow")
}

/// `ssoflow` with a clean environment: none of its variables, no display (no browser).
pub fn ssoflow() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(bin());
    for v in SECRET_VARS {
        cmd.env_remove(v);
    }
    cmd.env_remove("DISPLAY").env_remove("WAYLAND_DISPLAY");
    cmd.timeout(std::time::Duration::from_secs(60));
    cmd
}

/// A sandbox with test hooks on and the demo credentials.
pub fn sandbox() -> SandboxHandle {
    sandbox_with(Config::default())
}

/// A sandbox with test hooks on and `config`.
pub fn sandbox_with(config: Config) -> SandboxHandle {
    Sandbox::builder()
        .config(config)
        .test_hooks(true)
        .start_blocking()
        .expect("sandbox starts")
}

/// Parse one line of JSON (the whole of stdout).
pub fn json(stdout: &[u8]) -> serde_json::Value {
    let text = String::from_utf8_lossy(stdout);
    assert_eq!(text.lines().count(), 1, "one line of JSON: {text}");
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The keys of a JSON object, in order.
pub fn keys(v: &serde_json::Value) -> Vec<String> {
    v.as_object().expect("an object").keys().cloned().collect()
}

/// `GET url` without following redirects: status and `Location`.
pub fn get(url: &str) -> (u16, Option<String>) {
    let agent = ureq::Agent::config_builder()
        .max_redirects(0)
        .http_status_as_error(false)
        .build()
        .new_agent();
    let resp = agent.get(url).call().expect("GET");
    let location = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (resp.status().as_u16(), location)
}

/// Queue a sandbox fault (`POST /__sandbox/faults`).
pub fn fault(sb: &SandboxHandle, spec: serde_json::Value) {
    let resp = ureq::post(format!("{}/__sandbox/faults", sb.base_url()))
        .header("content-type", "application/json")
        .send(spec.to_string())
        .expect("fault queued");
    assert_eq!(resp.status().as_u16(), 201);
}

/// The value of query parameter `name` in `url` (sandbox values need no decoding).
pub fn query_param(url: &str, name: &str) -> String {
    let query = url.split_once('?').expect("a query").1;
    query
        .split('&')
        .find_map(|p| p.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} in {url}"))
        .to_owned()
}

/// A server on 127.0.0.1:0 answering every connection with `answer`; returns its base URL.
/// The thread ends with the test process.
pub fn canned_server(answer: &'static [u8]) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut head = Vec::new();
            let mut b = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                match s.read(&mut b) {
                    Ok(1) => head.push(b[0]),
                    _ => break,
                }
            }
            // Read the body too: closing with unread bytes would reset the connection.
            let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
            let len = text
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            let mut body = vec![0u8; len];
            let _ = s.read_exact(&mut body);
            let _ = s.write_all(answer);
        }
    });
    base
}

/// A loopback port nobody listens on.
pub fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Spawn `ssoflow oauth2 login --json --no-browser --scope openid …` against the sandbox, with
/// `extra` arguments; return the child and the authorize URL it printed on stderr (the rest of
/// stderr is drained in the background).
pub fn spawn_login(
    sb: &ssoflow_sandbox::SandboxHandle,
    timeout_secs: &str,
    extra: &[&str],
) -> (std::process::Child, String) {
    let c = &sb.credentials().oauth2;
    let mut cmd = std::process::Command::new(bin());
    for v in SECRET_VARS {
        cmd.env_remove(v);
    }
    let mut child = cmd
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env("SSOFLOW_CLIENT_SECRET", &c.client_secret)
        .args([
            "oauth2",
            "login",
            "--json",
            "--no-browser",
            "--scope",
            "openid",
        ])
        .arg("--authorize-url")
        .arg(format!("{}/authorize", c.base_url))
        .arg("--token-url")
        .arg(format!("{}/token", c.base_url))
        .args(["--client-id", &c.client_id, "--timeout-secs", timeout_secs])
        .args(extra)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stderr = std::io::BufReader::new(child.stderr.take().expect("stderr"));
    let mut url = String::new();
    loop {
        let mut line = String::new();
        if stderr.read_line(&mut line).expect("stderr line") == 0 {
            panic!("ssoflow exited before printing the URL");
        }
        if line.starts_with("http") {
            url = line.trim().to_owned();
            break;
        }
        assert!(url.is_empty());
    }
    // Keep draining stderr so the child never blocks on it.
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    (child, url)
}
