//! `ssoflow oauth2 device` and `ssoflow oauth2 revoke` against the sandbox: approval through
//! the hook while the command polls, the QR code, `--json`, exit 3 when denied or expired, and
//! revocation from the environment.

mod common;

use std::time::Duration;

use common::*;
use ssoflow_sandbox::{Config, SandboxHandle};

/// `ssoflow oauth2 device` for the sandbox's public kiosk client.
fn device(sb: &SandboxHandle) -> assert_cmd::Command {
    let c = &sb.credentials().oauth2;
    let mut cmd = ssoflow();
    cmd.args(["oauth2", "device", "--device-authorization-url"])
        .arg(format!("{}/device_authorization", c.base_url))
        .arg("--token-url")
        .arg(format!("{}/token", c.base_url))
        .args(["--client-id", &c.device_client_id]);
    cmd
}

/// Decide the newest undecided code through the hook, `after` from now, and again every
/// 100 ms until the command has asked for its codes (the hook answers 404 before that).
fn decide_later(
    sb: &SandboxHandle,
    what: &'static str,
    after: Duration,
) -> std::thread::JoinHandle<u16> {
    let url = format!("{}/__sandbox/device/{what}", sb.base_url());
    std::thread::spawn(move || {
        std::thread::sleep(after);
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let status = agent
                .post(&url)
                .header("content-type", "application/json")
                .send("{}")
                .map(|r| r.status().as_u16())
                .unwrap_or(0);
            if status == 200 || std::time::Instant::now() > deadline {
                return status;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    })
}

fn userinfo(sb: &SandboxHandle, access: &str) -> u16 {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    agent
        .get(format!("{}/userinfo", sb.credentials().oauth2.base_url))
        .header("authorization", format!("Bearer {access}"))
        .call()
        .expect("GET")
        .status()
        .as_u16()
}

#[test]
fn device_prints_the_code_and_a_qr_code_then_the_token_once_approved() {
    let sb = sandbox();
    let approver = decide_later(&sb, "approve", Duration::from_millis(1_500));
    let out = device(&sb).args(["--scope", "orders"]).output().unwrap();
    assert_eq!(approver.join().unwrap(), 200);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // The instructions: the URL, the code on its own line, and a QR code in half blocks.
    let uri = format!("{}/oauth2/device", sb.base_url());
    assert!(
        stderr.contains(&format!("open {uri} and enter the code")),
        "{stderr}"
    );
    let code_line = stderr
        .lines()
        .find(|l| l.starts_with("    ") && l.trim().len() == 9)
        .unwrap_or_else(|| panic!("no code line: {stderr}"));
    assert_eq!(code_line.trim().as_bytes()[4], b'-');
    assert!(stderr.contains("or scan:"));
    let qr_lines = stderr.lines().filter(|l| l.starts_with("██")).count();
    assert!(qr_lines >= 15, "{qr_lines} lines of QR code: {stderr}");
    // Human output: the token shortened.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("access_token") && stdout.contains("scope          orders"),
        "{stdout}"
    );
    assert!(stdout.contains('…'));
}

#[test]
fn device_json_no_qr_and_revoke_from_the_environment() {
    let sb = sandbox();
    let approver = decide_later(&sb, "approve", Duration::from_millis(500));
    let out = device(&sb).args(["--json", "--no-qr"]).output().unwrap();
    approver.join().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        !stderr.contains("or scan:") && !stderr.contains('█'),
        "{stderr}"
    );
    let v = json(&out.stdout);
    let access = v["access_token"].as_str().unwrap().to_owned();
    let refresh = v["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(userinfo(&sb, &access), 200);

    let c = sb.credentials().oauth2.clone();
    let revoke = || {
        let mut cmd = ssoflow();
        cmd.args(["oauth2", "revoke", "--revocation-url"])
            .arg(format!("{}/revoke", c.base_url))
            .args(["--client-id", &c.device_client_id]);
        cmd
    };
    // No token in the environment: a usage error.
    revoke().assert().code(2);
    // The refresh token: its access token goes too.
    let out = revoke()
        .arg("--json")
        .env("SSOFLOW_REFRESH_TOKEN", &refresh)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        json(&out.stdout),
        serde_json::json!({"revoked": ["refresh_token"]})
    );
    assert_eq!(userinfo(&sb, &access), 401);
    // Both set, hinted: only the access token; already revoked is still "revoked" (RFC 7009).
    let out = revoke()
        .args(["--token-type-hint", "access_token"])
        .env("SSOFLOW_ACCESS_TOKEN", &access)
        .env("SSOFLOW_REFRESH_TOKEN", &refresh)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "revoked  access_token"
    );
    assert_eq!(calls(&sb, "POST /oauth2/revoke"), 2);
}

#[test]
fn device_denied_or_expired_exits_3() {
    let sb = sandbox();
    let denier = decide_later(&sb, "deny", Duration::from_millis(300));
    let out = device(&sb).args(["--json", "--no-qr"]).output().unwrap();
    denier.join().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let v = json(&out.stdout);
    assert_eq!(v["error"], "access_denied", "{v}");
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("error: access_denied: the sign-in was declined")
    );

    let mut config = Config::default();
    config.oauth2.device_code_ttl_s = 2;
    let sb = sandbox_with(config);
    let out = device(&sb).args(["--json", "--no-qr"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(json(&out.stdout)["error"], "expired_token");
}

/// Calls the sandbox counted for `key`.
fn calls(sb: &SandboxHandle, key: &str) -> u64 {
    sb.stats().get(key).copied().unwrap_or(0)
}
