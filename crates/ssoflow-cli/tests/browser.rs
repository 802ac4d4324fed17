//! The sandbox's sign-in forms in a real browser (headless Chromium over WebDriver, see
//! `common/browser.rs`): `ssoflow oauth2 login` prints the URL → the browser opens it, fills in
//! the form and submits → it is sent to the CLI's loopback callback → the CLI exits 0 with the
//! token; a wrong password first is shown on the page while the CLI keeps waiting. The same for
//! Punchh's authorize page with `ssoflow punchh authorize-url` / `code` / `user`. Screenshots of
//! the forms are saved under `<target dir>/browser/`. Each test prints SKIPPED and passes only
//! when chromium or chromedriver is not installed.

#[path = "common/browser.rs"]
mod browser;
mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Child, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use browser::Browser;
use common::{bin, json, query_param, spawn_login, ssoflow};
use ssoflow_sandbox::{Config, Sandbox, SandboxHandle};

/// How long a page may take to show what the test waits for.
const PAGE: Duration = Duration::from_secs(20);

/// A sandbox that serves the sign-in forms (test hooks on too; auto-approval off).
fn form_sandbox(config: Config) -> SandboxHandle {
    Sandbox::builder()
        .config(config)
        .test_hooks(true)
        .login_form(true)
        .start_blocking()
        .expect("sandbox starts")
}

/// Waits at most `timeout` for `child` to exit (killing it after that) and returns its output.
fn wait(mut child: Child, timeout: Duration) -> Output {
    let deadline = Instant::now() + timeout;
    while child.try_wait().expect("try_wait").is_none() {
        if Instant::now() >= deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("output")
}

/// Asserts the login is still waiting for its callback.
fn still_waiting(child: &mut Child) {
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        child.try_wait().expect("try_wait").is_none(),
        "ssoflow oauth2 login stopped waiting after a wrong password"
    );
}

#[test]
fn oauth2_login_through_the_sign_in_form_in_chromium() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let sb = form_sandbox(Config::default());
    let c = sb.credentials().oauth2.clone();
    let (mut child, url) = spawn_login(&sb, "120", &[]);

    browser.goto(&url);
    let text = browser.wait_for_text("Sign in to", PAGE);
    assert!(text.contains(&c.client_id), "{text}");
    assert!(text.contains("openid"), "{text}");
    browser.screenshot(&Browser::artifact("oauth2-login-form.png"));

    // A wrong password: the error is on the page, and the CLI keeps waiting.
    browser.fill("username", &c.username);
    browser.fill("password", "not-the-password");
    browser.click("#allow");
    browser.wait_for_text("Wrong user name or password.", PAGE);
    browser.screenshot(&Browser::artifact("oauth2-login-wrong-password.png"));
    still_waiting(&mut child);

    // The right one (the user name is still filled in): back to the CLI's callback.
    browser.fill("password", &c.password);
    browser.click("#allow");
    browser.wait_for_text("You are signed in", PAGE);
    let landed = browser.current_url();
    assert!(
        landed.starts_with("http://127.0.0.1:") && landed.contains("/callback?code="),
        "{landed}"
    );

    let out = wait(child, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v = json(&out.stdout);
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["scope"], "openid");
    assert!(v["refresh_token"].is_string());
    // The token is the user's: the userinfo endpoint says who signed in.
    let token = v["access_token"].as_str().expect("access_token");
    let me: serde_json::Value = serde_json::from_str(
        &ureq::get(format!("{}/userinfo", c.base_url))
            .header("authorization", &format!("Bearer {token}"))
            .call()
            .expect("userinfo")
            .body_mut()
            .read_to_string()
            .expect("body"),
    )
    .expect("JSON");
    assert_eq!(me["sub"], c.username.as_str());
}

#[test]
fn oauth2_deny_in_chromium_ends_the_login_with_access_denied() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let sb = form_sandbox(Config::default());
    let (child, url) = spawn_login(&sb, "120", &[]);
    browser.goto(&url);
    browser.wait_for_text("Sign in to", PAGE);
    browser.click("#deny");
    browser.wait_for_text("Sign-in failed", PAGE);
    let out = wait(child, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let v = json(&out.stdout);
    assert_eq!(v["error"], "oauth", "{v}");
    assert!(
        v["detail"].as_str().unwrap_or("").contains("access_denied"),
        "{v}"
    );
}

/// A stand-in for a web app's Punchh redirect URI: answers every request with a small page and
/// sends each request target on the channel. The thread ends with the test process.
fn callback_server() -> (String, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let redirect_uri = format!("http://{}/auth", listener.local_addr().expect("addr"));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
            let mut head = Vec::new();
            let mut b = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
                match s.read(&mut b) {
                    Ok(1) => head.push(b[0]),
                    _ => break,
                }
            }
            let head = String::from_utf8_lossy(&head);
            let target = head.split(' ').nth(1).unwrap_or("").to_owned();
            let body = "<!doctype html><title>app</title><p>Back at the app.</p>";
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{body}",
                body.len()
            );
            if target.starts_with("/auth") {
                let _ = tx.send(target);
            }
        }
    });
    (redirect_uri, rx)
}

#[test]
fn punchh_authorize_page_in_chromium_then_code_and_user() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let (redirect_uri, callbacks) = callback_server();
    let mut config = Config::default();
    config.punchh.redirect_uri = redirect_uri.clone();
    let sb = form_sandbox(config);
    let c = sb.credentials().punchh.clone();
    let punchh = |cmd: &str| {
        let mut command = ssoflow();
        command
            .args(["punchh", cmd, "--json", "--base-url", &c.base_url])
            .args(["--client", &c.client]);
        command
    };

    let v = json(
        &punchh("authorize-url")
            .args(["--redirect-uri", &redirect_uri])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone(),
    );
    let url = v["url"].as_str().expect("url");
    let state = v["state"].as_str().expect("state");

    browser.goto(url);
    let text = browser.wait_for_text("Sign in to Punchh", PAGE);
    assert!(text.contains("Email"), "{text}");
    browser.screenshot(&Browser::artifact("punchh-login-form.png"));
    browser.fill("email", &c.user_email);
    browser.fill("password", "not-the-password");
    browser.click("#allow");
    browser.wait_for_text("Wrong email or password.", PAGE);
    assert!(
        callbacks.try_recv().is_err(),
        "a wrong password reached the app"
    );
    browser.fill("password", &c.user_password);
    browser.click("#allow");
    browser.wait_for_text("Back at the app.", PAGE);

    let target = callbacks
        .recv_timeout(Duration::from_secs(10))
        .expect("the browser came back to the redirect URI");
    assert_eq!(query_param(&target, "state"), state);
    let code = query_param(&target, "code");

    let tokens = json(
        &punchh("code")
            .args(["--redirect-uri", &redirect_uri])
            .env("SSOFLOW_CLIENT_SECRET", &c.secret)
            .env("SSOFLOW_CODE", &code)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone(),
    );
    let access = tokens["access_token"].as_str().expect("access_token");
    let user = json(
        &punchh("user")
            .env("SSOFLOW_CLIENT_SECRET", &c.secret)
            .env("SSOFLOW_ACCESS_TOKEN", access)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone(),
    );
    assert_eq!(user["email"], c.user_email.as_str());
}

/// `ssoflow oauth2 device --json --no-qr …` for the sandbox's kiosk client: the child, the
/// verification URI and the user code it printed on stderr (the rest is drained).
fn spawn_device(sb: &SandboxHandle) -> (Child, String, String) {
    let c = &sb.credentials().oauth2;
    let mut cmd = std::process::Command::new(bin());
    for v in common::SECRET_VARS {
        cmd.env_remove(v);
    }
    let mut child = cmd
        .args([
            "oauth2",
            "device",
            "--json",
            "--no-qr",
            "--device-authorization-url",
        ])
        .arg(format!("{}/device_authorization", c.base_url))
        .arg("--token-url")
        .arg(format!("{}/token", c.base_url))
        .args(["--client-id", &c.device_client_id])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ssoflow");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let (mut uri, mut code) = (String::new(), String::new());
    while uri.is_empty() || code.is_empty() {
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).expect("stderr") > 0,
            "ssoflow exited before printing the code"
        );
        // "To sign in, open <uri> and enter the code", then the code indented on its own line.
        if let Some((_, rest)) = line.split_once(" open ") {
            uri = rest.split(' ').next().unwrap_or("").to_owned();
        } else if line.starts_with("    ") && line.trim().len() == 9 {
            code = line.trim().to_owned();
        }
    }
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    (child, uri, code)
}

#[test]
fn device_verification_page_in_chromium_signs_the_kiosk_in() {
    // RFC 8628 as a person meets it: the terminal shows a code and a URL; on their phone they
    // open the page, type the code (a wrong one first) and approve; the terminal gets the token.
    let Some(browser) = Browser::start() else {
        return;
    };
    let sb = form_sandbox(Config::default());
    let (mut child, uri, code) = spawn_device(&sb);
    assert!(uri.ends_with("/oauth2/device"), "{uri}");

    browser.goto(&uri);
    browser.wait_for_text("Enter the code shown on the device", PAGE);
    browser.screenshot(&Browser::artifact("device-verification.png"));
    browser.fill("user_code", "BCDF-GHJK");
    browser.click("button[value=approve]");
    browser.wait_for_text("The code was not accepted", PAGE);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        child.try_wait().expect("try_wait").is_none(),
        "the device flow stopped polling after a wrong code on the page"
    );

    browser.goto(&uri);
    browser.wait_for_text("Enter the code shown on the device", PAGE);
    // Typed as a person would: lower case, without the dash.
    browser.fill("user_code", &code.replace('-', "").to_lowercase());
    browser.click("button[value=approve]");
    let text = browser.wait_for_text("Approved", PAGE);
    assert!(text.contains(&code), "{text}");

    let out = wait(child, Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v = json(&out.stdout);
    assert_eq!(v["token_type"], "Bearer", "{v}");
    assert!(
        v["access_token"].is_string() && v["refresh_token"].is_string(),
        "{v}"
    );
}

#[test]
fn device_deny_in_chromium_ends_the_device_flow_with_exit_3() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let sb = form_sandbox(Config::default());
    let (child, uri, code) = spawn_device(&sb);
    browser.goto(&format!("{uri}?user_code={code}"));
    browser.wait_for_text("Enter the code shown on the device", PAGE);
    browser.click("button[value=deny]");
    browser.wait_for_text("Denied", PAGE);
    let out = wait(child, Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(3), "{out:?}");
}
