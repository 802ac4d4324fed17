//! No secret ever reaches stdout or stderr: every flow command runs with `--verbose` against a
//! sandbox configured with distinctive secret values, in human and `--json` mode, succeeding and
//! failing. Only `--json` may print tokens, and only the tokens it was asked for, on stdout.
//!
//! (`ssoflow sandbox` is left out on purpose: its ready line exists to hand out its credentials.)

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use common::{get, query_param, ssoflow};
use ssoflow_sandbox::Config;

const OAUTH2_SECRET: &str = "oauth2-CLIENT-SECRET-7c41e9";
const OAUTH2_PASSWORD: &str = "oauth2-PASSWORD-1f0b77";
const PAR_SECRET: &str = "par-CLIENT-SECRET-5d4c3b";
const PAR_APPLICATION_KEY: &str = "par-APPLICATION-KEY-8e7f6a";
const PUNCHH_SECRET: &str = "punchh-SIGNING-SECRET-9e8d2a";
const PUNCHH_SECURITY_TOKEN: &str = "punchh-SECURITY-TOKEN-3a2b1c";
const STREAM_SECRET: &str = "stream-CLIENT-SECRET-6f5e4d";
const POS_SECRET: &str = "pos-CLIENT-SECRET-4d3c2b";
const POS_PASSWORD: &str = "pos-ADMIN-PASSWORD-2b1a09";
const WRONG_PASSWORD: &str = "WRONG-PASSWORD-31c9d8";

const CONFIGURED: [&str; 10] = [
    OAUTH2_SECRET,
    OAUTH2_PASSWORD,
    PAR_SECRET,
    PAR_APPLICATION_KEY,
    PUNCHH_SECRET,
    PUNCHH_SECURITY_TOKEN,
    STREAM_SECRET,
    POS_SECRET,
    POS_PASSWORD,
    WRONG_PASSWORD,
];

/// The outcome of one run.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Collects runs and the secrets that must not show.
struct Audit {
    /// Secrets given to commands (configured credentials, tokens passed in by environment).
    secrets: Vec<String>,
    runs: usize,
}

impl Audit {
    /// Run `ssoflow --verbose <args>` with `env`; check both streams; return the run.
    fn run(&mut self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = ssoflow();
        cmd.arg("--verbose").args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("run");
        let run = Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        self.check(args, &run);
        run
    }

    fn check(&mut self, args: &[&str], run: &Run) {
        self.runs += 1;
        let json = args.contains(&"--json");
        assert!(
            run.stderr.contains("> ") || args.contains(&"authorize-url"),
            "--verbose shows the exchanges: {args:?}\n{}",
            run.stderr
        );
        for secret in CONFIGURED
            .iter()
            .copied()
            .chain(self.secrets.iter().map(String::as_str))
        {
            assert!(
                !run.stderr.contains(secret),
                "{args:?}: stderr shows {secret}\n{}",
                run.stderr
            );
            assert!(
                !run.stdout.contains(secret),
                "{args:?}: stdout shows {secret}\n{}",
                run.stdout
            );
        }
        if json && run.code == Some(0) {
            // Tokens printed on stdout never appear on stderr.
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(run.stdout.trim()) {
                for token in string_leaves(&v) {
                    if token.len() >= 16 {
                        assert!(
                            !run.stderr.contains(&token),
                            "{args:?}: stderr shows {token}"
                        );
                    }
                }
            }
        } else if !json {
            // Human output shortens every credential to 4 characters and '…'.
            for line in run.stdout.lines() {
                let key = line.split_whitespace().next().unwrap_or("");
                let credential = [
                    "access_token",
                    "refresh_token",
                    "menu_token",
                    "dlc_access_token",
                    "authentication_token",
                    "session",
                ];
                if credential.contains(&key) {
                    let value = line[key.len()..].trim();
                    assert!(
                        value == "-" || (value.ends_with('…') && value.chars().count() <= 5),
                        "{args:?}: {line}"
                    );
                }
            }
        }
    }

    /// Also check that `secret` never shows from now on.
    fn secret(&mut self, secret: &str) {
        self.secrets.push(secret.to_owned());
    }
}

fn string_leaves(v: &serde_json::Value) -> Vec<String> {
    match v {
        serde_json::Value::String(s) => vec![s.clone()],
        serde_json::Value::Object(m) => m.values().flat_map(string_leaves).collect(),
        serde_json::Value::Array(a) => a.iter().flat_map(string_leaves).collect(),
        _ => vec![],
    }
}

fn json_field(run: &Run, field: &str) -> String {
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let v: serde_json::Value = serde_json::from_str(run.stdout.trim()).expect("JSON");
    v[field].as_str().expect(field).to_owned()
}

#[test]
fn no_secret_reaches_stdout_or_stderr() {
    let mut config = Config::default();
    config.oauth2.client_secret = OAUTH2_SECRET.into();
    config.oauth2.password = OAUTH2_PASSWORD.into();
    config.par_ordering.client_secret = PAR_SECRET.into();
    config.par_ordering.application_key = PAR_APPLICATION_KEY.into();
    config.punchh.secret = PUNCHH_SECRET.into();
    config.punchh.security_token = PUNCHH_SECURITY_TOKEN.into();
    config.stream.client_secret = STREAM_SECRET.into();
    config.pos_api.client_secret = POS_SECRET.into();
    let sb = common::sandbox_with(config);
    let creds = sb.credentials().clone();
    let mut audit = Audit {
        secrets: vec![],
        runs: 0,
    };

    // --- OAuth 2.0 ---
    let o = &creds.oauth2;
    let token_url = format!("{}/token", o.base_url);
    let base: Vec<&str> = vec!["--token-url", &token_url, "--client-id", &o.client_id];
    let cs = [("SSOFLOW_CLIENT_SECRET", OAUTH2_SECRET)];
    let args = |sub: &[&str], extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = vec!["oauth2".into()];
        v.extend(sub.iter().map(|s| s.to_string()));
        v.extend(base.iter().map(|s| s.to_string()));
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let run = |audit: &mut Audit, a: Vec<String>, env: &[(&str, &str)]| {
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        audit.run(&a, env)
    };

    for mode in [&[][..], &["--json"][..]] {
        let r = run(&mut audit, args(&["client-credentials"], mode), &cs);
        assert_eq!(r.code, Some(0), "{}", r.stderr);
    }
    let pw_env = [cs[0], ("SSOFLOW_PASSWORD", OAUTH2_PASSWORD)];
    let r = run(
        &mut audit,
        args(&["password"], &["--username", &o.username]),
        &pw_env,
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let r = run(
        &mut audit,
        args(&["password"], &["--username", &o.username, "--json"]),
        &pw_env,
    );
    let refresh_token = json_field(&r, "refresh_token");
    let access_token = json_field(&r, "access_token");
    audit.secret(&refresh_token);
    audit.secret(&access_token);
    let r = run(
        &mut audit,
        args(&["password"], &["--username", &o.username]),
        &[cs[0], ("SSOFLOW_PASSWORD", WRONG_PASSWORD)],
    );
    assert_eq!(r.code, Some(3));
    let r = run(
        &mut audit,
        args(&["exchange"], &[]),
        &[cs[0], ("SSOFLOW_SUBJECT_TOKEN", &access_token)],
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let r = run(
        &mut audit,
        args(&["refresh"], &[]),
        &[cs[0], ("SSOFLOW_REFRESH_TOKEN", &refresh_token)],
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    // Replayed: refused, and still nothing shows.
    let r = run(
        &mut audit,
        args(&["refresh"], &["--json"]),
        &[cs[0], ("SSOFLOW_REFRESH_TOKEN", &refresh_token)],
    );
    assert_eq!(r.code, Some(3));
    login(&mut audit, &o.base_url, &o.client_id);

    // --- PAR Ordering ---
    let p = &creds.par_ordering;
    audit.secret(&p.test_subject_token);
    // The application key (an `Application` header on every call) is redacted in --verbose;
    // it comes from SSOFLOW_APPLICATION_KEY (and, once, from the flag, which `ps` shows).
    assert_eq!(p.application_key, PAR_APPLICATION_KEY);
    for (mode, flag) in [(&[][..], false), (&["--json"][..], false), (&[][..], true)] {
        let mut a = vec![
            "par",
            "sign-in",
            "--base-url",
            &p.base_url,
            "--client-id",
            &p.client_id,
        ];
        if flag {
            a.extend_from_slice(&["--application-key", PAR_APPLICATION_KEY]);
        }
        a.extend_from_slice(mode);
        let r = audit.run(
            &a,
            &[
                ("SSOFLOW_CLIENT_SECRET", PAR_SECRET),
                ("SSOFLOW_SUBJECT_TOKEN", &p.test_subject_token),
                (
                    "SSOFLOW_APPLICATION_KEY",
                    if flag { "" } else { PAR_APPLICATION_KEY },
                ),
            ],
        );
        assert_eq!(r.code, Some(0), "{}", r.stderr);
        assert!(r.stderr.contains("Application: ***"), "{}", r.stderr);
    }

    // --- Punchh ---
    let u = &creds.punchh;
    let pb = [
        "--base-url",
        u.base_url.as_str(),
        "--client",
        u.client.as_str(),
    ];
    let punchh = |sub: &str, extra: &[&str]| -> Vec<String> {
        let mut v = vec!["punchh".to_string(), sub.to_string()];
        v.extend(pb.iter().map(|s| s.to_string()));
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let ps = ("SSOFLOW_CLIENT_SECRET", PUNCHH_SECRET);
    for mode in [&[][..], &["--json"][..]] {
        let r = run(
            &mut audit,
            punchh("sso", mode),
            &[ps, ("SSOFLOW_SECURITY_TOKEN", PUNCHH_SECURITY_TOKEN)],
        );
        assert_eq!(r.code, Some(0), "{}", r.stderr);
    }
    let r = run(
        &mut audit,
        punchh(
            "authorize-url",
            &["--redirect-uri", &u.redirect_uri, "--json"],
        ),
        &[ps],
    );
    let url = json_field(&r, "url");
    let (_, location) = get(&url);
    let code = query_param(&location.expect("Location"), "code");
    audit.secret(&code);
    let r = run(
        &mut audit,
        punchh("code", &["--redirect-uri", &u.redirect_uri, "--json"]),
        &[ps, ("SSOFLOW_CODE", &code)],
    );
    let punchh_token = json_field(&r, "access_token");
    audit.secret(&punchh_token);
    let r = run(
        &mut audit,
        punchh("code", &["--redirect-uri", &u.redirect_uri]),
        &[ps, ("SSOFLOW_CODE", &code)],
    );
    assert_eq!(r.code, Some(3), "a used code is refused");
    for mode in [&[][..], &["--json"][..]] {
        let r = run(
            &mut audit,
            punchh("user", mode),
            &[ps, ("SSOFLOW_ACCESS_TOKEN", &punchh_token)],
        );
        assert_eq!(r.code, Some(0), "{}", r.stderr);
    }

    // --- Stream ---
    let s = &creds.stream;
    for mode in [&["--redeem"][..], &["--redeem", "--json"][..], &[][..]] {
        let mut a = vec![
            "stream",
            "session",
            "--base-url",
            &s.base_url,
            "--client-id",
            &s.client_id,
            "--provider-org-id",
            "org-1",
            "--role",
            "owner",
            "--email",
            "o@example.com",
            "--full-name",
            "O Wner",
            "--phone-number",
            "+1-555-0101",
        ];
        a.extend_from_slice(mode);
        let r = audit.run(&a, &[("SSOFLOW_CLIENT_SECRET", STREAM_SECRET)]);
        assert_eq!(r.code, Some(0), "{}", r.stderr);
    }

    // --- POS API ---
    let q = &creds.pos_api;
    let pos = |sub: &str, extra: &[&str]| -> Vec<String> {
        let mut v = vec!["pos".to_string(), sub.to_string()];
        v.extend(
            [
                "--base-url",
                q.base_url.as_str(),
                "--client-id",
                q.client_id.as_str(),
            ]
            .iter()
            .map(|s| s.to_string()),
        );
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let qs = ("SSOFLOW_CLIENT_SECRET", POS_SECRET);
    let qp = ("SSOFLOW_PASSWORD", POS_PASSWORD);
    let r = run(&mut audit, pos("register", &["--user-name", "boss"]), &[qp]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let r = run(
        &mut audit,
        pos("login", &["--user-name", "boss"]),
        &[qs, qp],
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let r = run(
        &mut audit,
        pos("login", &["--user-name", "boss"]),
        &[qs, ("SSOFLOW_PASSWORD", WRONG_PASSWORD)],
    );
    assert_eq!(r.code, Some(3));
    let r = run(
        &mut audit,
        pos("login", &["--user-name", "boss", "--json"]),
        &[qs, qp],
    );
    let pos_refresh = json_field(&r, "refresh_token");
    audit.secret(&pos_refresh);
    let r = run(
        &mut audit,
        pos("refresh", &[]),
        &[("SSOFLOW_REFRESH_TOKEN", &pos_refresh)],
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);

    assert!(audit.runs >= 25, "{} runs", audit.runs);
}

/// `ssoflow --verbose oauth2 login`, completed through the sandbox's auto-approval.
fn login(audit: &mut Audit, base_url: &str, client_id: &str) {
    let authorize = format!("{base_url}/authorize");
    let token = format!("{base_url}/token");
    let args = [
        "oauth2",
        "login",
        "--no-browser",
        "--authorize-url",
        &authorize,
        "--token-url",
        &token,
        "--client-id",
        client_id,
    ];
    let mut cmd = std::process::Command::new(common::bin());
    for v in common::SECRET_VARS {
        cmd.env_remove(v);
    }
    let mut child = cmd
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env("SSOFLOW_CLIENT_SECRET", OAUTH2_SECRET)
        .arg("--verbose")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut seen = String::new();
    let url = loop {
        let mut line = String::new();
        assert!(stderr.read_line(&mut line).expect("line") > 0, "{seen}");
        seen.push_str(&line);
        if line.starts_with("http") {
            break line.trim().to_owned();
        }
    };
    let reader = std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut rest);
        rest
    });
    let (_, location) = get(&url);
    let location = location.expect("Location");
    let code = query_param(&location, "code");
    let _ = get(&location);
    let out = child.wait_with_output().expect("wait");
    seen.push_str(&reader.join().expect("reader"));
    let run = Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: seen,
    };
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    audit.secret(&code);
    audit.check(&args, &run);
}
