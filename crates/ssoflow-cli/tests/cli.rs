//! Every `ssoflow` flow command against an in-process sandbox: success, `--json` shapes, and the
//! exit codes of failures.

mod common;

use common::{
    canned_server, closed_port, fault, get, json, keys, query_param, sandbox, spawn_login, ssoflow,
};
use predicates::prelude::*;
use serde_json::json;

const TOKEN_KEYS: [&str; 5] = [
    "access_token",
    "token_type",
    "expires_in",
    "refresh_token",
    "scope",
];

fn assert_token_shape(v: &serde_json::Value) {
    assert_eq!(keys(v), TOKEN_KEYS, "{v}");
    assert!(v["access_token"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(v["token_type"], "Bearer");
    assert!(v["expires_in"].is_u64() || v["expires_in"].is_null());
    assert!(v["refresh_token"].is_string() || v["refresh_token"].is_null());
    assert!(v["scope"].is_string() || v["scope"].is_null());
}

fn assert_error_shape(stdout: &[u8], kind: &str) {
    let v = json(stdout);
    assert_eq!(keys(&v), ["error", "detail"], "{v}");
    assert_eq!(v["error"], kind, "{v}");
    assert!(v["detail"].is_string());
}

/// `ssoflow oauth2 <grant> --token-url … --client-id …` with the sandbox's client.
fn oauth2(sb: &ssoflow_sandbox::SandboxHandle, grant: &str) -> assert_cmd::Command {
    let c = &sb.credentials().oauth2;
    let mut cmd = ssoflow();
    cmd.args(["oauth2", grant, "--token-url"])
        .arg(format!("{}/token", c.base_url))
        .args(["--client-id", &c.client_id])
        .env("SSOFLOW_CLIENT_SECRET", &c.client_secret);
    cmd
}

#[test]
fn help_documents_the_contract_and_usage_errors_exit_2() {
    ssoflow()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("Exit codes:"))
        .stdout(predicate::str::contains("SSOFLOW_CLIENT_SECRET"))
        .stdout(predicate::str::contains("--json"));
    ssoflow()
        .args(["pos", "login", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Exit codes: 0 success, 2 usage"));
    ssoflow().arg("--version").assert().success();
    ssoflow().assert().code(2);
    ssoflow().args(["oauth2", "frobnicate"]).assert().code(2);
    ssoflow()
        .args(["oauth2", "client-credentials", "--client-id", "x"])
        .assert()
        .code(2);
    ssoflow()
        .args(["sandbox", "--listen", "not-an-address"])
        .assert()
        .code(2);
}

#[test]
fn oauth2_client_credentials() {
    let sb = sandbox();
    let out = oauth2(&sb, "client-credentials")
        .args(["--scope", "read", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v = json(&out);
    assert_token_shape(&v);
    assert_eq!(v["scope"], "read");

    // Human output: redacted.
    oauth2(&sb, "client-credentials")
        .args(["--client-auth", "post"])
        .assert()
        .success()
        .stdout(predicate::str::is_match(r"(?m)^access_token\s+\S{4}…$").unwrap());

    // The provider refuses a wrong secret: 3, with the OAuth error on both streams.
    let out = oauth2(&sb, "client-credentials")
        .env("SSOFLOW_CLIENT_SECRET", "wrong")
        .arg("--json")
        .assert()
        .code(3)
        .stderr(predicate::str::starts_with("error: oauth: "))
        .stderr(predicate::str::contains("invalid_client"))
        .get_output()
        .stdout
        .clone();
    assert_error_shape(&out, "oauth");
}

#[test]
fn oauth2_password_refresh_and_exchange() {
    let sb = sandbox();
    let c = sb.credentials().oauth2.clone();
    let out = oauth2(&sb, "password")
        .args(["--username", &c.username, "--json"])
        .env("SSOFLOW_PASSWORD", &c.password)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let pw = json(&out);
    assert_token_shape(&pw);
    let refresh_token = pw["refresh_token"]
        .as_str()
        .expect("refresh token")
        .to_owned();

    let out = oauth2(&sb, "refresh")
        .arg("--json")
        .env("SSOFLOW_REFRESH_TOKEN", &refresh_token)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let refreshed = json(&out);
    assert_token_shape(&refreshed);
    assert_ne!(refreshed["refresh_token"], pw["refresh_token"]);

    let out = oauth2(&sb, "exchange")
        .arg("--json")
        .env(
            "SSOFLOW_SUBJECT_TOKEN",
            refreshed["access_token"].as_str().unwrap(),
        )
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_token_shape(&json(&out));

    // The old refresh token was rotated away: replaying it is refused (and its
    // whole family revoked).
    oauth2(&sb, "refresh")
        .env("SSOFLOW_REFRESH_TOKEN", &refresh_token)
        .assert()
        .code(3)
        .stderr(predicate::str::contains("invalid_grant"));

    // Wrong password: refused. Missing secrets: usage errors.
    oauth2(&sb, "password")
        .args(["--username", &c.username])
        .env("SSOFLOW_PASSWORD", "not-the-password")
        .assert()
        .code(3);
    let out = oauth2(&sb, "password")
        .args(["--username", &c.username, "--json"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "error: usage: SSOFLOW_PASSWORD is not set",
        ))
        .get_output()
        .stdout
        .clone();
    assert_error_shape(&out, "usage");
    oauth2(&sb, "refresh").assert().code(2);
    oauth2(&sb, "exchange").assert().code(2);
}

#[test]
fn transport_failures_exit_4_and_malformed_answers_exit_5() {
    let sb = sandbox();
    let out = ssoflow()
        .args(["oauth2", "client-credentials", "--client-id", "x", "--json"])
        .arg("--token-url")
        .arg(format!("http://127.0.0.1:{}/token", closed_port()))
        .assert()
        .code(4)
        .stderr(predicate::str::starts_with("error: transport: "))
        .get_output()
        .stdout
        .clone();
    assert_error_shape(&out, "transport");

    ssoflow()
        .args(["oauth2", "client-credentials", "--client-id", "x"])
        .args(["--token-url", "http://auth.example/token"])
        .assert()
        .code(4)
        .stderr(predicate::str::starts_with("error: insecure: "));

    fault(&sb, json!({"path": "/oauth2/token", "kind": "drop"}));
    oauth2(&sb, "client-credentials").assert().code(4);

    let html = canned_server(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 14\r\nConnection: close\r\n\r\n<html>hi</html",
    );
    let out = ssoflow()
        .args(["oauth2", "client-credentials", "--client-id", "x", "--json"])
        .arg("--token-url")
        .arg(format!("{html}/token"))
        .assert()
        .code(5)
        .stderr(predicate::str::starts_with("error: malformed: "))
        .get_output()
        .stdout
        .clone();
    assert_error_shape(&out, "malformed");

    let big = canned_server(
        b"HTTP/1.1 200 OK\r\nContent-Length: 10000000\r\nConnection: close\r\n\r\n{\"access_token\":\"",
    );
    ssoflow()
        .args(["oauth2", "client-credentials", "--client-id", "x"])
        .arg("--token-url")
        .arg(format!("{big}/token"))
        .assert()
        .code(5)
        .stderr(predicate::str::starts_with("error: too_large: "));

    // A 500 is the provider's refusal (transient, but a refusal all the same).
    fault(
        &sb,
        json!({"path": "/oauth2/token", "kind": "status", "status": 500}),
    );
    oauth2(&sb, "client-credentials").assert().code(3);
}

#[test]
fn oauth2_login_with_pkce_through_the_loopback_redirect() {
    let sb = sandbox();
    let (child, url) = spawn_login(&sb, "60", &[]);
    assert!(url.contains("code_challenge_method=S256"), "{url}");
    assert!(
        url.contains("redirect_uri=http%3A%2F%2F127.0.0.1%3A"),
        "{url}"
    );
    // The sandbox auto-approves: follow its redirect by hand, as a browser would.
    let (status, location) = get(&url);
    assert_eq!(status, 302);
    let location = location.expect("Location");
    assert!(location.starts_with("http://127.0.0.1:"), "{location}");
    let (status, _) = get(&location);
    assert_eq!(status, 200);
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(0));
    let v = json(&out.stdout);
    assert_token_shape(&v);
    assert!(v["refresh_token"].is_string());
}

/// The loopback redirect URI of a login's authorize URL.
fn redirect_of(url: &str) -> String {
    query_param(url, "redirect_uri")
        .replace("%3A", ":")
        .replace("%2F", "/")
}

/// Be the browser: through the sandbox's auto-approval back to the CLI's listener.
fn complete_login(url: &str) {
    let (status, location) = get(url);
    assert_eq!(status, 302);
    let (status, _) = get(&location.expect("Location"));
    assert_eq!(status, 200);
}

#[test]
fn oauth2_login_with_issuer_ignores_a_callback_from_another_server() {
    // RFC 9207: with `--issuer`, a callback whose `iss` is missing or another server's is
    // turned away (a mix-up attack), and the wait goes on until the right one comes.
    let sb = sandbox();
    let issuer = "https://honest.as.example";
    let (child, url) = spawn_login(&sb, "60", &["--issuer", issuer]);
    let (status, location) = get(&url);
    assert_eq!(status, 302);
    let location = location.expect("Location");
    for forged in [
        location.clone(),
        format!("{location}&iss=https%3A%2F%2Fattacker.example"),
    ] {
        let (status, _) = get(&forged);
        assert_eq!(status, 400, "{forged}");
    }
    let (status, _) = get(&format!("{location}&iss=https%3A%2F%2Fhonest.as.example"));
    assert_eq!(status, 200);
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(0));
    assert_token_shape(&json(&out.stdout));
}

#[test]
fn oauth2_login_ignores_a_wrong_state_and_keeps_waiting() {
    let sb = sandbox();
    let (child, url) = spawn_login(&sb, "60", &[]);
    let redirect = redirect_of(&url);
    // A forged callback (CSRF): right path, wrong state: an error page, and the wait goes on.
    let (status, _) = get(&format!("{redirect}?code=forged&state=not-the-state"));
    assert_eq!(status, 400);
    // Without our state, an error cannot end the login either, nor can a malformed callback.
    let (status, _) = get(&format!("{redirect}?error=access_denied"));
    assert_eq!(status, 400);
    let (status, _) = get(&format!("{redirect}?code=a&code=b"));
    assert_eq!(status, 400);
    // The real browser still signs in.
    complete_login(&url);
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(0));
    assert_token_shape(&json(&out.stdout));
}

#[test]
fn oauth2_login_with_only_wrong_states_times_out_and_says_so() {
    let sb = sandbox();
    let (child, url) = spawn_login(&sb, "2", &[]);
    let (status, _) = get(&format!("{}?code=forged&state=nope", redirect_of(&url)));
    assert_eq!(status, 400);
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(4));
    assert_error_shape(&out.stdout, "timeout");
    let v = json(&out.stdout);
    let detail = v["detail"].as_str().expect("detail");
    assert!(detail.contains("1 callback(s) ignored"), "{detail}");
    assert!(detail.contains("wrong or missing state"), "{detail}");
}

#[test]
fn oauth2_login_is_not_held_up_by_a_silent_connection() {
    let sb = sandbox();
    // Shorter than the 10 s a connection may take to send its request head: served one at a
    // time, the silent connection below would hold the listener past the timeout.
    let (child, url) = spawn_login(&sb, "8", &[]);
    let redirect = redirect_of(&url);
    let host = redirect
        .strip_prefix("http://")
        .and_then(|r| r.split('/').next())
        .expect("host:port");
    // Connects and sends nothing (slowloris), then a second one that dribbles half a head.
    let silent = std::net::TcpStream::connect(host).expect("connect");
    let mut dribble = std::net::TcpStream::connect(host).expect("connect");
    std::io::Write::write_all(&mut dribble, b"GET /callback?code=x").expect("write");
    std::thread::sleep(std::time::Duration::from_millis(200));
    let started = std::time::Instant::now();
    complete_login(&url);
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(0));
    assert_token_shape(&json(&out.stdout));
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    drop((silent, dribble));
}

#[test]
fn oauth2_login_times_out() {
    let sb = sandbox();
    let (child, _url) = spawn_login(&sb, "1", &[]);
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(4));
    assert_error_shape(&out.stdout, "timeout");
}

#[test]
fn par_sign_in() {
    let sb = sandbox();
    let c = sb.credentials().par_ordering.clone();
    let par = || {
        let mut cmd = ssoflow();
        cmd.args(["par", "sign-in", "--base-url", &c.base_url])
            .args(["--application-key", &c.application_key])
            .args(["--client-id", &c.client_id])
            .env("SSOFLOW_CLIENT_SECRET", &c.client_secret)
            .env("SSOFLOW_SUBJECT_TOKEN", &c.test_subject_token);
        cmd
    };
    let out = par()
        .args(["--api-version", "4.38.0", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v = json(&out);
    assert_eq!(keys(&v), ["customer_account", "token", "dlc_access_token"]);
    let account = &v["customer_account"];
    assert_eq!(account["email"], "jane.doe@partech.com");
    assert_eq!(account["first_name"], "Jane");
    assert_eq!(account["id"].as_str().map(str::len), Some(36));
    assert_eq!(
        keys(&v["token"]),
        ["value", "token_type", "ttl", "expires_in"]
    );
    // seed 000: `"ttl": 60,` — kept as received (minutes); `expires_in` is seconds.
    assert_eq!(v["token"]["ttl"], 60);
    let expires_in = v["token"]["expires_in"].as_u64().expect("expires_in");
    assert!((3590..=3600).contains(&expires_in), "{expires_in}");
    assert!(v["dlc_access_token"].is_null());

    // Same subject, same account.
    let again = json(
        &par()
            .arg("--json")
            .assert()
            .success()
            .get_output()
            .stdout
            .clone(),
    );
    assert_eq!(again["customer_account"]["id"], account["id"]);

    par()
        .assert()
        .success()
        .stdout(predicate::str::contains("jane.doe@partech.com"))
        .stdout(predicate::str::is_match(r"menu_token_ttl\s+60 min\n").expect("regex"));
    // A refused customer token is its own error: exit 3, and the detail says whose token.
    par()
        .env(
            "SSOFLOW_SUBJECT_TOKEN",
            "an-unknown-identity-provider-token",
        )
        .assert()
        .code(3)
        .stderr(predicate::str::starts_with(
            "error: subject_token_refused: the customer's token was refused",
        ))
        .stderr(predicate::str::contains("an-unknown").not());
    par()
        .env("SSOFLOW_CLIENT_SECRET", "wrong")
        .assert()
        .code(3)
        .stderr(predicate::str::starts_with("error: provider: "));
    par().env_remove("SSOFLOW_SUBJECT_TOKEN").assert().code(2);
}

#[test]
fn par_application_key_from_the_environment() {
    let sb = sandbox();
    let c = sb.credentials().par_ordering.clone();
    let par = || {
        let mut cmd = ssoflow();
        cmd.args(["par", "sign-in", "--base-url", &c.base_url])
            .args(["--client-id", &c.client_id])
            .env("SSOFLOW_CLIENT_SECRET", &c.client_secret)
            .env("SSOFLOW_SUBJECT_TOKEN", &c.test_subject_token);
        cmd
    };
    // The environment alone: no flag for `ps` to show.
    par()
        .env("SSOFLOW_APPLICATION_KEY", &c.application_key)
        .assert()
        .success()
        .stdout(predicate::str::contains("jane.doe@partech.com"));
    // The flag wins over the environment.
    par()
        .env("SSOFLOW_APPLICATION_KEY", "not-the-key")
        .args(["--application-key", &c.application_key])
        .assert()
        .success();
    par()
        .env("SSOFLOW_APPLICATION_KEY", "not-the-key")
        .assert()
        .code(3);
    // Neither: a usage error that names the variable.
    par()
        .assert()
        .code(2)
        .stderr(predicate::str::contains("SSOFLOW_APPLICATION_KEY"));
    // The help says the flag is visible in `ps`.
    ssoflow()
        .args(["par", "sign-in", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("ps"))
        .stdout(predicate::str::contains("SSOFLOW_APPLICATION_KEY"));
}

#[test]
fn punchh_sso_code_and_user() {
    let sb = sandbox();
    let c = sb.credentials().punchh.clone();
    let punchh = |sub: &str| {
        let mut cmd = ssoflow();
        cmd.args([
            "punchh",
            sub,
            "--base-url",
            &c.base_url,
            "--client",
            &c.client,
        ])
        .env("SSOFLOW_CLIENT_SECRET", &c.secret);
        cmd
    };
    let v = json(
        &punchh("sso")
            .arg("--json")
            .env("SSOFLOW_SECURITY_TOKEN", &c.security_token)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone(),
    );
    assert_eq!(keys(&v), ["access_token", "user"]);
    assert_eq!(
        keys(&v["user"]),
        [
            "id",
            "email",
            "first_name",
            "last_name",
            "phone",
            "authentication_token"
        ]
    );
    punchh("sso")
        .env("SSOFLOW_SECURITY_TOKEN", "wrong")
        .assert()
        .code(3);
    punchh("sso")
        .env("SSOFLOW_CLIENT_SECRET", "wrong-signing-secret")
        .env("SSOFLOW_SECURITY_TOKEN", &c.security_token)
        .assert()
        .code(3)
        .stderr(predicate::str::starts_with("error: digest: "));

    // Authorization code: URL → (browser) → code → tokens → user.
    let v = json(
        &punchh("authorize-url")
            .args(["--redirect-uri", &c.redirect_uri, "--json"])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone(),
    );
    assert_eq!(keys(&v), ["url", "state"]);
    let (status, location) = get(v["url"].as_str().unwrap());
    assert_eq!(status, 302);
    let location = location.expect("Location");
    assert_eq!(
        query_param(&location, "state"),
        v["state"].as_str().unwrap()
    );
    let code = query_param(&location, "code");
    let tokens = json(
        &punchh("code")
            .args(["--redirect-uri", &c.redirect_uri, "--json"])
            .env("SSOFLOW_CODE", &code)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone(),
    );
    assert_token_shape(&tokens);
    // The code was used.
    punchh("code")
        .args(["--redirect-uri", &c.redirect_uri])
        .env("SSOFLOW_CODE", &code)
        .assert()
        .code(3);

    let user = json(
        &punchh("user")
            .arg("--json")
            .env(
                "SSOFLOW_ACCESS_TOKEN",
                tokens["access_token"].as_str().unwrap(),
            )
            .assert()
            .success()
            .get_output()
            .stdout
            .clone(),
    );
    assert_eq!(user["email"], "test@example.com");
    punchh("user")
        .env("SSOFLOW_ACCESS_TOKEN", "not-a-token")
        .assert()
        .code(3);
}

#[test]
fn stream_session_and_redeem() {
    let sb = sandbox();
    let c = sb.credentials().stream.clone();
    let stream = || {
        let mut cmd = ssoflow();
        cmd.args(["stream", "session", "--base-url", &c.base_url])
            .args(["--client-id", &c.client_id])
            .args(["--provider-org-id", "chain-42", "--role", "team_member"])
            .args(["--email", "sam@chain.example", "--full-name", "Sam Doe"])
            .args(["--phone-number", "+1-555-0100"])
            .env("SSOFLOW_CLIENT_SECRET", &c.client_secret);
        cmd
    };
    let v = json(
        &stream()
            .arg("--json")
            .assert()
            .success()
            .get_output()
            .stdout
            .clone(),
    );
    assert_eq!(keys(&v), ["redirect_url"]);
    let url = v["redirect_url"].as_str().unwrap();
    assert!(url.starts_with(&format!("{}/redirect/sso?code=", c.base_url)));

    let v = json(
        &stream()
            .args(["--redeem", "--json"])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone(),
    );
    assert_eq!(keys(&v), ["redirect_url", "session"]);
    assert_eq!(
        keys(&v["session"]),
        [
            "session",
            "email",
            "full_name",
            "role",
            "organization_id",
            "provider_org_id"
        ]
    );
    assert_eq!(v["session"]["role"], "team_member");
    assert_eq!(v["session"]["provider_org_id"], "chain-42");

    // Human output shortens the one-time login token, redeemed or not; --json printed it whole.
    let token = query_param(url, "code");
    assert!(token.chars().count() > 8, "{url}");
    for extra in [&[][..], &["--redeem"][..]] {
        let out = stream()
            .args(extra)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let out = String::from_utf8_lossy(&out).into_owned();
        let line = out
            .lines()
            .find(|l| l.starts_with("redirect_url"))
            .unwrap_or_else(|| panic!("{out}"));
        let shown = line
            .split("code=")
            .nth(1)
            .unwrap_or_else(|| panic!("{line}"));
        let shown = shown.split('&').next().unwrap_or("");
        assert!(
            shown.ends_with('…') && shown.chars().count() == 5,
            "{extra:?}: {line}"
        );
    }

    stream()
        .env("SSOFLOW_CLIENT_SECRET", "wrong")
        .assert()
        .code(3);
    stream().args(["--role", "root"]).assert().code(2);
}

#[test]
fn pos_register_login_refresh() {
    let sb = sandbox();
    let c = sb.credentials().pos_api.clone();
    let pos = |sub: &str| {
        let mut cmd = ssoflow();
        cmd.args(["pos", sub, "--base-url", &c.base_url])
            .args(["--client-id", &c.client_id]);
        cmd
    };
    let v = json(
        &pos("register")
            .args(["--user-name", "admin-7", "--json"])
            .env("SSOFLOW_PASSWORD", "correct horse battery")
            .assert()
            .success()
            .get_output()
            .stdout
            .clone(),
    );
    assert_eq!(keys(&v), ["id", "user_name"]);
    assert_eq!(v["user_name"], "admin-7");
    // Taken: the provider refuses.
    pos("register")
        .args(["--user-name", "admin-7"])
        .env("SSOFLOW_PASSWORD", "correct horse battery")
        .assert()
        .code(3);

    let tokens = json(
        &pos("login")
            .args(["--user-name", "admin-7", "--json"])
            .env("SSOFLOW_PASSWORD", "correct horse battery")
            .env("SSOFLOW_CLIENT_SECRET", &c.client_secret)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone(),
    );
    assert_token_shape(&tokens);
    pos("login")
        .args(["--user-name", "admin-7"])
        .env("SSOFLOW_PASSWORD", "wrong")
        .env("SSOFLOW_CLIENT_SECRET", &c.client_secret)
        .assert()
        .code(3);

    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let refreshed = json(
        &pos("refresh")
            .arg("--json")
            .env("SSOFLOW_REFRESH_TOKEN", &refresh)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone(),
    );
    assert_token_shape(&refreshed);
    // Rotated: the old refresh token no longer works.
    pos("refresh")
        .env("SSOFLOW_REFRESH_TOKEN", &refresh)
        .assert()
        .code(3);
    pos("refresh").assert().code(2);
}
