//! Test hooks (clock, faults, stats), body limits, config files, the ready line, start/stop.

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};
use ssoflow_sandbox::{Config, ConfigError, Sandbox, SandboxHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn url(sb: &SandboxHandle, path: &str) -> String {
    format!("{}{path}", sb.base_url())
}

async fn fault(c: &reqwest::Client, sb: &SandboxHandle, spec: Value) {
    let (s, _, b) = send(c.post(url(sb, "/__sandbox/faults")).json(&spec)).await;
    assert_eq!(s, 201, "{b}");
}

fn cc_request(c: &reqwest::Client, sb: &SandboxHandle) -> reqwest::RequestBuilder {
    let creds = &sb.credentials().oauth2;
    c.post(url(sb, "/oauth2/token"))
        .basic_auth(&creds.client_id, Some(&creds.client_secret))
        .form(&[("grant_type", "client_credentials")])
}

/// Sends raw bytes and reads until the server closes the connection.
async fn raw(sb: &SandboxHandle, request: &[u8]) -> Vec<u8> {
    let mut stream = tokio::net::TcpStream::connect(sb.addr())
        .await
        .expect("connect");
    stream.write_all(request).await.expect("write");
    let mut out = Vec::new();
    // A reset after a partial answer is what a truncating fault looks like; keep what arrived.
    let _ = stream.read_to_end(&mut out).await;
    out
}

fn cc_raw(sb: &SandboxHandle) -> Vec<u8> {
    let creds = &sb.credentials().oauth2;
    let basic = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("{}:{}", creds.client_id, creds.client_secret),
    );
    let body = "grant_type=client_credentials";
    format!(
        "POST /oauth2/token HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {basic}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[tokio::test]
async fn hooks_are_404_unless_enabled() {
    let sb = Sandbox::builder().start().await.expect("starts");
    let c = client();
    for (method, path) in [
        ("GET", "/__sandbox/stats"),
        ("POST", "/__sandbox/clock/advance"),
        ("POST", "/__sandbox/faults"),
        ("POST", "/__sandbox/stats/reset"),
    ] {
        let req = c
            .request(method.parse().expect("method"), url(&sb, path))
            .json(&json!({"seconds": 1}));
        let (s, _, b) = send(req).await;
        assert_eq!(s, 404, "{path}: {b}");
    }
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_json() {
    let sb = sandbox().await;
    let c = client();
    let (s, _, b) = send(c.get(url(&sb, "/nope"))).await;
    assert_eq!((s, b["error"].clone()), (404, json!("not_found")));
    let (s, _, b) = send(c.delete(url(&sb, "/oauth2/token"))).await;
    assert_eq!((s, b["error"].clone()), (405, json!("method_not_allowed")));
}

#[tokio::test]
async fn clock_hook_expires_tokens() {
    let sb = sandbox().await;
    let c = client();
    let (_, _, t) = send(cc_request(&c, &sb)).await;
    let access = t["access_token"].as_str().expect("t");
    let (s, _, _) = send(c.get(url(&sb, "/oauth2/userinfo")).bearer_auth(access)).await;
    assert_eq!(s, 200);
    let (s, _, b) = send(
        c.post(url(&sb, "/__sandbox/clock/advance"))
            .json(&json!({"seconds": 3601})),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(b["offset_seconds"], 3601);
    let (s, _, _) = send(c.get(url(&sb, "/oauth2/userinfo")).bearer_auth(access)).await;
    assert_eq!(s, 401);

    let (s, _, _) = send(
        c.post(url(&sb, "/__sandbox/clock/advance"))
            .json(&json!({"seconds": -5})),
    )
    .await;
    assert_eq!(s, 422);
    let (s, _, _) = send(c.post(url(&sb, "/__sandbox/clock/advance")).body("{")).await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn delay_fault_then_normal_answer() {
    let sb = sandbox().await;
    let c = client();
    fault(
        &c,
        &sb,
        json!({"path": "/oauth2/token", "kind": "delay", "ms": 300}),
    )
    .await;
    let start = Instant::now();
    let (s, _, b) = send(cc_request(&c, &sb)).await;
    assert_eq!(s, 200, "{b}");
    assert!(
        start.elapsed() >= Duration::from_millis(300),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn status_fault_with_retry_after_and_count() {
    let sb = sandbox().await;
    let c = client();
    fault(&c, &sb, json!({"path": "/oauth2/token", "count": 2, "kind": "status", "status": 503, "retry_after": 7})).await;
    for _ in 0..2 {
        let (s, h, b) = send(cc_request(&c, &sb)).await;
        assert_eq!(s, 503);
        assert_eq!(h["retry-after"], "7");
        assert!(b["error"].is_string());
    }
    assert_eq!(send(cc_request(&c, &sb)).await.0, 200);
    // Only the exact path is affected; without retry_after there is no header.
    fault(
        &c,
        &sb,
        json!({"path": "/oauth2/userinfo", "kind": "status", "status": 500}),
    )
    .await;
    assert_eq!(send(cc_request(&c, &sb)).await.0, 200);
    let (s, h, _) = send(c.get(url(&sb, "/oauth2/userinfo"))).await;
    assert_eq!(s, 500);
    assert!(h.get("retry-after").is_none());
}

#[tokio::test]
async fn drop_fault_closes_without_a_response() {
    let sb = sandbox().await;
    let c = client();
    fault(&c, &sb, json!({"path": "/oauth2/token", "kind": "drop"})).await;
    let got = raw(&sb, &cc_raw(&sb)).await;
    assert!(got.is_empty(), "{}", String::from_utf8_lossy(&got));
    fault(&c, &sb, json!({"path": "/oauth2/token", "kind": "drop"})).await;
    assert!(cc_request(&c, &sb).send().await.is_err());
    assert_eq!(send(cc_request(&c, &sb)).await.0, 200);
}

#[tokio::test]
async fn truncate_fault_sends_less_than_content_length() {
    let sb = sandbox().await;
    let c = client();
    fault(
        &c,
        &sb,
        json!({"path": "/oauth2/token", "kind": "truncate"}),
    )
    .await;
    let got = raw(&sb, &cc_raw(&sb)).await;
    let text = String::from_utf8_lossy(&got).to_string();
    let (head, body) = text.split_once("\r\n\r\n").expect("headers arrived");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let declared: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().to_owned())
        })
        .expect("content-length")
        .parse()
        .expect("number");
    assert!(
        !body.is_empty() && body.len() < declared,
        "{} of {declared}",
        body.len()
    );

    fault(
        &c,
        &sb,
        json!({"path": "/oauth2/token", "kind": "truncate"}),
    )
    .await;
    let resp = cc_request(&c, &sb).send().await.expect("headers arrive");
    assert!(resp.bytes().await.is_err());
}

#[tokio::test]
async fn unauthorized_fault_uses_each_vendors_401() {
    let sb = sandbox().await;
    let c = client();
    for path in [
        "/par/api/oauth/tokens",
        "/punchh/api/auth/sso",
        "/stream/api/me",
        "/pos/admin/me",
        "/oauth2/token",
        "/oauth2/userinfo",
    ] {
        fault(&c, &sb, json!({"path": path, "kind": "unauthorized"})).await;
    }
    let (s, _, b) = send(c.post(url(&sb, "/par/api/oauth/tokens"))).await;
    assert_eq!(
        (s, b["status"].clone(), b["code"].clone()),
        (401, json!("ERROR"), json!(401))
    );
    let (s, _, b) = send(c.post(url(&sb, "/punchh/api/auth/sso"))).await;
    assert_eq!(s, 401);
    assert!(b["errors"]["base"][0].is_string());
    let (s, _, b) = send(c.get(url(&sb, "/stream/api/me"))).await;
    assert_eq!((s, b["error"].clone()), (401, json!("unauthorized")));
    let (s, _, b) = send(c.get(url(&sb, "/pos/admin/me"))).await;
    assert_eq!((s, b["error"].clone()), (401, json!("unauthorized")));
    let (s, h, b) = send(cc_request(&c, &sb)).await;
    assert_eq!((s, b["error"].clone()), (401, json!("invalid_client")));
    assert!(
        h["www-authenticate"]
            .to_str()
            .expect("ascii")
            .starts_with("Basic")
    );
    let (s, _, b) = send(c.get(url(&sb, "/oauth2/userinfo"))).await;
    assert_eq!((s, b["error"].clone()), (401, json!("invalid_token")));
    // Consumed: the next token request works.
    assert_eq!(send(cc_request(&c, &sb)).await.0, 200);
}

#[tokio::test]
async fn fault_specs_are_validated_and_clearable() {
    let sb = sandbox().await;
    let c = client();
    for spec in [
        json!({"kind": "drop"}),
        json!({"path": "oauth2/token", "kind": "drop"}),
        json!({"path": "/oauth2/token", "kind": "explode"}),
        json!({"path": "/oauth2/token", "kind": "drop", "count": 0}),
        json!({"path": "/oauth2/token", "kind": "status", "status": 200}),
    ] {
        let (s, _, b) = send(c.post(url(&sb, "/__sandbox/faults")).json(&spec)).await;
        assert_eq!(s, 422, "{spec}: {b}");
    }
    let (s, _, _) = send(c.post(url(&sb, "/__sandbox/faults")).body("nope")).await;
    assert_eq!(s, 400);
    fault(
        &c,
        &sb,
        json!({"path": "/oauth2/token", "kind": "drop", "count": 5}),
    )
    .await;
    let (s, _, b) = send(c.delete(url(&sb, "/__sandbox/faults"))).await;
    assert_eq!((s, b["cleared"].clone()), (200, json!(1)));
    assert_eq!(send(cc_request(&c, &sb)).await.0, 200);
}

#[tokio::test]
async fn stats_count_every_request_including_faulted_ones() {
    let sb = sandbox().await;
    let c = client();
    for _ in 0..3 {
        send(cc_request(&c, &sb)).await;
    }
    fault(
        &c,
        &sb,
        json!({"path": "/oauth2/token", "kind": "status", "status": 502}),
    )
    .await;
    send(cc_request(&c, &sb)).await;
    send(c.get(url(&sb, "/oauth2/userinfo"))).await;
    send(c.get(url(&sb, "/nope?x=1"))).await;
    let (s, _, b) = send(c.get(url(&sb, "/__sandbox/stats"))).await;
    assert_eq!(s, 200);
    assert_eq!(
        b,
        json!({"calls": {"POST /oauth2/token": 4, "GET /oauth2/userinfo": 1, "GET /nope": 1}})
    );
    let from_handle: Value = serde_json::to_value(sb.stats()).expect("json");
    assert_eq!(from_handle, b["calls"]);
    let (s, _, b) = send(c.post(url(&sb, "/__sandbox/stats/reset"))).await;
    assert_eq!((s, b), (200, json!({"calls": {}})));
    assert!(sb.stats().is_empty());
}

#[tokio::test]
async fn bodies_over_64_kib_are_413() {
    let sb = sandbox().await;
    let c = client();
    let big = "a".repeat(70 * 1024);
    let (s, _, b) = send(
        c.post(url(&sb, "/oauth2/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("grant_type=client_credentials&x={big}")),
    )
    .await;
    assert_eq!((s, b["error"].clone()), (413, json!("payload_too_large")));
    let (s, _, _) = send(
        c.post(url(&sb, "/par/api/oauth/tokens"))
            .json(&json!({"x": big})),
    )
    .await;
    assert_eq!(s, 413);

    // Chunked, without a Content-Length.
    let mut request = b"POST /pos/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".to_vec();
    for _ in 0..70 {
        request.extend_from_slice(b"400\r\n");
        request.extend_from_slice(&[b' '; 1024]);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    let got = raw(&sb, &request).await;
    assert!(
        String::from_utf8_lossy(&got).starts_with("HTTP/1.1 413"),
        "{}",
        String::from_utf8_lossy(&got)
    );
}

#[tokio::test]
async fn odd_requests_never_fail_the_server() {
    let sb = sandbox().await;
    let c = client();
    let paths = [
        "/par/api/oauth/tokens",
        "/par/api/sts/users/sign-in",
        "/par/api/customers/me",
        "/punchh/api/auth/sso",
        "/punchh/oauth/authorize",
        "/punchh/oauth/token",
        "/punchh/api/auth/users",
        "/stream/oauth/token",
        "/stream/white-label/generate-session",
        "/stream/redirect/sso",
        "/stream/api/me",
        "/pos/users",
        "/pos/auth/token",
        "/pos/auth/refresh-token",
        "/pos/admin/me",
        "/oauth2/token",
        "/oauth2/authorize",
        "/oauth2/userinfo",
        "/__sandbox/clock/advance",
        "/__sandbox/faults",
        "/__sandbox/stats",
    ];
    let bodies: [&[u8]; 6] = [
        b"",
        b"null",
        b"[]",
        b"{\"a\":",
        &[0xff, 0xfe, 0x00],
        b"grant_type=%ZZ&&=&code",
    ];
    let auths = [
        "Basic !!!",
        "Basic Og==",
        "Bearer",
        "Bearer a b",
        "Negotiate abc",
        "Basic w6k6w6k=",
    ];
    for path in paths {
        for method in [reqwest::Method::GET, reqwest::Method::POST] {
            for (i, body) in bodies.iter().enumerate() {
                let req = c
                    .request(
                        method.clone(),
                        format!("{}{path}?code=%FF&client_id=%&state", sb.base_url()),
                    )
                    .header("Authorization", auths[i % auths.len()])
                    .header(
                        "Content-Type",
                        if i % 2 == 0 {
                            "application/json"
                        } else {
                            "application/x-www-form-urlencoded"
                        },
                    )
                    .header("Cookie", "stream_session=; =;;")
                    .body(body.to_vec());
                let resp = req.send().await.expect("answered");
                assert!(
                    resp.status().as_u16() < 500,
                    "{method} {path} {i}: {}",
                    resp.status()
                );
            }
        }
    }
}

#[test]
fn ready_line_and_credentials() {
    let sb = Sandbox::builder().start_blocking().expect("starts");
    let line = sb.ready_line();
    assert!(!line.contains('\n'));
    let port = sb.addr().port();
    let base = format!("http://127.0.0.1:{port}");
    assert_eq!(sb.base_url(), base);
    let expected = format!(
        concat!(
            r#"{{"listening":"{b}","#,
            r#""par_ordering":{{"base_url":"{b}/par","application_key":"f3a90488ffee32c3acb6fcd0ca417cf6","client_id":"sandbox-par-client","client_secret":"sandbox-par-secret","test_subject_token":"test-1100-jane.doe@partech.com-Jane-Doe-+41767567126"}},"#,
            r#""punchh":{{"base_url":"{b}/punchh","client":"CLIENT_GOES_HERE","secret":"SECRET_GOES_HERE","signing_secret":"SECRET_GOES_HERE","redirect_uri":"https://redirect-uri.com/auth","security_token":"SECURITY_TOKEN_GOES_HERE","user_email":"test@example.com","user_password":"sandbox-punchh-password"}},"#,
            r#""stream":{{"base_url":"{b}/stream","client_id":"sandbox-stream-client","client_secret":"sandbox-stream-secret"}},"#,
            r#""pos_api":{{"base_url":"{b}/pos","client_id":"sandbox-pos-client","client_secret":"sandbox-pos-secret"}},"#,
            r#""oauth2":{{"base_url":"{b}/oauth2","client_id":"s6BhdRkqt3","client_secret":"7Fjfp0ZBr1KtDRbnfVdmIw","username":"johndoe","password":"A3ddj3w","device_client_id":"sandbox-kiosk"}}}}"#,
        ),
        b = base
    );
    assert_eq!(line, expected);
    assert_eq!(serde_json::to_string(sb.credentials()).expect("json"), line);
}

/// A blocking raw request with `Connection: close`; returns the status line.
fn blocking_status(addr: std::net::SocketAddr, path: &str) -> std::io::Result<String> {
    let mut s = std::net::TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out.lines().next().unwrap_or("").to_owned())
}

#[test]
fn start_blocking_serves_and_shutdown_stops() {
    let sb = Sandbox::builder()
        .test_hooks(true)
        .start_blocking()
        .expect("starts");
    let addr = sb.addr();
    assert_eq!(
        blocking_status(addr, "/oauth2/userinfo").expect("answer"),
        "HTTP/1.1 401 Unauthorized"
    );
    assert_eq!(
        blocking_status(addr, "/__sandbox/stats").expect("answer"),
        "HTTP/1.1 200 OK"
    );
    sb.advance_clock(Duration::from_secs(1));
    assert_eq!(sb.stats().get("GET /oauth2/userinfo"), Some(&1));
    sb.shutdown();
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "stopped listening"
    );
}

#[test]
fn start_blocking_works_inside_a_runtime_too() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    rt.block_on(async {
        let sb = Sandbox::builder().start_blocking().expect("starts");
        let (s, _, _) = send(client().get(format!("{}/stream/api/me", sb.base_url()))).await;
        assert_eq!(s, 401);
    });
}

#[tokio::test]
async fn config_files() {
    let dir = std::env::temp_dir().join(format!("ssoflow-sandbox-test-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let good = dir.join("good.toml");
    std::fs::write(
        &good,
        "[par_ordering]\nclient_id = \"from-file\"\nmenu_token_ttl_min = 5\n\n[punchh.user]\nfirst_name = \"Kim\"\n\n[oauth2]\naccess_ttl_s = 10\n",
    )
    .expect("write");
    let sb = Sandbox::builder()
        .config_file(&good)
        .expect("parses")
        .test_hooks(true)
        .start()
        .await
        .expect("starts");
    assert_eq!(sb.credentials().par_ordering.client_id, "from-file");
    assert_eq!(
        sb.credentials().par_ordering.client_secret,
        "sandbox-par-secret"
    );
    let (_, _, t) = send(cc_request(&client(), &sb)).await;
    assert_eq!(t["expires_in"], 10);

    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[oauth2]\nclient_idd = \"typo\"\n").expect("write");
    match Sandbox::builder().config_file(&bad) {
        Err(ConfigError::Parse { message, .. }) => {
            assert!(message.contains("client_idd"), "{message}")
        }
        other => panic!("expected a parse error, got {other:?}"),
    }
    match Sandbox::builder().config_file(&dir.join("missing.toml")) {
        Err(e @ ConfigError::Io { .. }) => assert!(e.to_string().contains("missing.toml")),
        other => panic!("expected an I/O error, got {other:?}"),
    }
    let _ = std::fs::remove_dir_all(&dir);

    let parsed = Config::from_toml_str("[stream]\nlogin_token_ttl_s = 60\n").expect("parses");
    assert_eq!(parsed.stream.login_token_ttl_s, 60);
    assert!(Config::from_toml_str("[stream]\nlogin_token_ttl = 60\n").is_err());
}
