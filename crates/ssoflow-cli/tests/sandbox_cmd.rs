//! `ssoflow sandbox`: prints its ready line, serves, and stops cleanly on SIGTERM / SIGINT.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// Start `ssoflow sandbox <args>`; return the child and its ready line, parsed.
fn start(args: &[&str]) -> (Child, serde_json::Value) {
    let mut child = Command::new(common::bin())
        .arg("sandbox")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("ready line");
    assert!(line.ends_with('\n'), "{line:?}");
    let ready = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    (child, ready)
}

/// Send `signal` and wait (at most 15 s) for the exit status.
fn stop(child: Child, signal: Signal) -> std::process::ExitStatus {
    let pid = Pid::from_raw(i32::try_from(child.id()).expect("pid"));
    kill(pid, signal).expect("signal sent");
    let (tx, rx) = mpsc::channel();
    let mut child = child;
    std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    rx.recv_timeout(Duration::from_secs(15))
        .expect("exits within 15 s")
        .expect("wait")
}

#[test]
fn prints_the_ready_line_serves_and_stops_on_sigterm() {
    let (child, ready) = start(&["--test-hooks"]);
    let base = ready["listening"].as_str().expect("listening").to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    for vendor in ["par_ordering", "punchh", "stream", "pos_api", "oauth2"] {
        assert!(ready[vendor]["base_url"].is_string(), "{vendor}: {ready}");
    }
    // It serves: the generic OAuth 2.0 server answers, and the test hooks are on.
    let (status, _) = common::get(&format!("{base}/oauth2/userinfo"));
    assert_eq!(status, 401);
    let (status, _) = common::get(&format!("{base}/__sandbox/stats"));
    assert_eq!(status, 200);
    let status = stop(child, Signal::SIGTERM);
    assert_eq!(status.code(), Some(0), "{status:?}");
}

#[test]
fn stops_on_sigint_and_reads_a_config_file() {
    let path = std::env::temp_dir().join(format!("ssoflow-cli-test-{}.toml", std::process::id()));
    std::fs::write(&path, "[oauth2]\nclient_id = \"from-the-config-file\"\n").expect("write");
    let (child, ready) = start(&[
        "--listen",
        "127.0.0.1:0",
        "--config",
        path.to_str().unwrap(),
    ]);
    let _ = std::fs::remove_file(&path);
    assert_eq!(ready["oauth2"]["client_id"], "from-the-config-file");
    // Without --test-hooks the hooks are not there.
    let base = ready["listening"].as_str().unwrap();
    let (status, _) = common::get(&format!("{base}/__sandbox/stats"));
    assert_eq!(status, 404);
    let status = stop(child, Signal::SIGINT);
    assert_eq!(status.code(), Some(0), "{status:?}");
}

#[test]
fn a_bad_config_file_is_a_usage_error() {
    let path = std::env::temp_dir().join(format!("ssoflow-cli-bad-{}.toml", std::process::id()));
    std::fs::write(&path, "[oauth2]\nno_such_key = 1\n").expect("write");
    let out = common::ssoflow()
        .args(["sandbox", "--config", path.to_str().unwrap()])
        .output()
        .expect("run");
    let _ = std::fs::remove_file(&path);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: config: "));
}

#[test]
fn a_non_loopback_listen_address_needs_allow_remote() {
    for addr in ["0.0.0.0:0", "[::]:0"] {
        let out = common::ssoflow()
            .args(["sandbox", "--listen", addr])
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(2), "{addr}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.starts_with("error: usage: "), "{stderr}");
        assert!(stderr.contains("--allow-remote"), "{stderr}");
        assert!(out.stdout.is_empty(), "no ready line");
    }
}

#[test]
fn the_ready_line_names_the_port_really_bound() {
    let (child, ready) = start(&["--listen", "127.0.0.1:0"]);
    let base = ready["listening"].as_str().expect("listening").to_owned();
    let port: u16 = base
        .strip_prefix("http://127.0.0.1:")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{base}"));
    assert_ne!(port, 0, "{base}");
    let (status, _) = common::get(&format!("{base}/oauth2/userinfo"));
    assert_eq!(status, 401);
    let status = stop(child, Signal::SIGTERM);
    assert_eq!(status.code(), Some(0), "{status:?}");
}

#[test]
fn test_hooks_auto_approve_unless_login_form() {
    let c = "s6BhdRkqt3";
    let authorize = |base: &str| {
        format!(
            "{base}/oauth2/authorize?response_type=code&client_id={c}&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb\
             &code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"
        )
    };
    // --test-hooks: auto-approval, a redirect with a code at once.
    let (child, ready) = start(&["--test-hooks"]);
    let (status, location) = common::get(&authorize(ready["listening"].as_str().unwrap()));
    assert_eq!(status, 302);
    assert!(location.expect("Location").contains("code="));
    assert_eq!(stop(child, Signal::SIGTERM).code(), Some(0));
    // --test-hooks --login-form, and no hooks at all: the sign-in page.
    for args in [&["--test-hooks", "--login-form"][..], &[][..]] {
        let (child, ready) = start(args);
        let (status, location) = common::get(&authorize(ready["listening"].as_str().unwrap()));
        assert_eq!((status, location), (200, None), "{args:?}");
        assert_eq!(ready["punchh"]["user_email"], "test@example.com");
        assert_eq!(stop(child, Signal::SIGTERM).code(), Some(0));
    }
}
