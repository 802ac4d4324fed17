//! The HTML sign-in forms of `/oauth2/authorize` and `/punchh/oauth/authorize`, over plain HTTP:
//! when they are served, the CSRF token (form and cookie), a wrong password shown on the page,
//! Allow and Deny, too many wrong passwords, escaping of everything echoed, and the codes they
//! issue being redeemable. (A real browser drives them in the CLI's `browser` tests.)

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use sha2::{Digest, Sha256};
use ssoflow_sandbox::{Sandbox, SandboxHandle};

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

/// A sandbox that serves the forms (test hooks on, as most tests want them).
async fn form_sandbox() -> SandboxHandle {
    Sandbox::builder()
        .test_hooks(true)
        .login_form(true)
        .start()
        .await
        .expect("sandbox starts")
}

/// A served form: its page, the hidden fields, and the cookie to send back.
struct Form {
    page: String,
    login_id: String,
    csrf: String,
    cookie: String,
}

/// The value of `<input … name="NAME" value="…">` in `page`.
fn hidden(page: &str, name: &str) -> String {
    let at = page
        .find(&format!("name=\"{name}\" value=\""))
        .unwrap_or_else(|| panic!("no field {name} in {page}"));
    let rest = &page[at + name.len() + 15..];
    rest[..rest.find('"').expect("closing quote")].to_owned()
}

async fn open_form(c: &reqwest::Client, url: &str, query: &[(&str, &str)]) -> Form {
    let resp = c.get(url).query(query).send().await.expect("sent");
    assert_eq!(resp.status().as_u16(), 200);
    let h = resp.headers().clone();
    assert_eq!(h["content-type"], "text/html; charset=utf-8");
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(h["x-frame-options"], "DENY");
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    let set_cookie = h["set-cookie"].to_str().expect("ascii").to_owned();
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    assert!(set_cookie.contains("SameSite=Strict"), "{set_cookie}");
    let page = resp.text().await.expect("body");
    let login_id = hidden(&page, "login_id");
    let csrf = hidden(&page, "csrf_token");
    let cookie = set_cookie.split(';').next().expect("pair").to_owned();
    assert_eq!(cookie, format!("csrf_{login_id}={csrf}"));
    Form {
        page,
        login_id,
        csrf,
        cookie,
    }
}

fn oauth2_query(redirect_uri: &str, state: &str) -> Vec<(&'static str, String)> {
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(VERIFIER.as_bytes()));
    vec![
        ("response_type", "code".into()),
        ("client_id", "s6BhdRkqt3".into()),
        ("redirect_uri", redirect_uri.into()),
        ("state", state.into()),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256".into()),
        ("scope", "openid profile".into()),
    ]
}

async fn open_oauth2(c: &reqwest::Client, sb: &SandboxHandle, redirect: &str, state: &str) -> Form {
    let q = oauth2_query(redirect, state);
    let q: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
    open_form(
        c,
        &format!("{}/authorize", sb.credentials().oauth2.base_url),
        &q,
    )
    .await
}

/// POSTs `fields` to `url` with `cookie`; status, Location and body.
async fn post(
    c: &reqwest::Client,
    url: &str,
    cookie: Option<&str>,
    fields: &[(&str, &str)],
) -> (u16, Option<String>, String) {
    let mut req = c.post(url).form(fields);
    if let Some(cookie) = cookie {
        req = req.header("cookie", cookie);
    }
    let resp = req.send().await.expect("sent");
    let status = resp.status().as_u16();
    let location = resp
        .headers()
        .get("location")
        .map(|v| v.to_str().expect("ascii").to_owned());
    (status, location, resp.text().await.expect("body"))
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

#[tokio::test]
async fn auto_approval_is_a_test_hook_and_the_form_is_served_otherwise() {
    let c = client();
    let redirect = "http://127.0.0.1:9/cb";
    let q = oauth2_query(redirect, "s");
    // Test hooks on, no login_form: auto-approval (what tests and `ssoflow demo` use).
    let hooks = sandbox().await;
    let resp = c
        .get(format!("{}/authorize", hooks.credentials().oauth2.base_url))
        .query(&q)
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status().as_u16(), 302);
    // Without test hooks the form is always served, login_form(false) or not.
    for builder in [
        Sandbox::builder(),
        Sandbox::builder().login_form(false),
        Sandbox::builder().login_form(true),
    ] {
        let sb = builder.start().await.expect("starts");
        let form = open_oauth2(&c, &sb, redirect, "s").await;
        assert!(form.page.contains("name=\"username\""), "{}", form.page);
        assert!(form.page.contains("type=\"password\""), "{}", form.page);
        assert!(form.page.contains("value=\"allow\""), "{}", form.page);
    }
}

#[tokio::test]
async fn oauth2_wrong_password_shows_the_error_then_the_right_one_issues_a_code() {
    let sb = form_sandbox().await;
    let c = client();
    let creds = sb.credentials().oauth2.clone();
    let url = format!("{}/authorize", creds.base_url);
    let redirect = "http://127.0.0.1:9/cb";
    let form = open_oauth2(&c, &sb, redirect, "xyz 1/2").await;
    assert!(form.page.contains("s6BhdRkqt3"));
    assert!(form.page.contains("openid profile"));
    let fields = |password: &'static str| {
        vec![
            ("login_id", form.login_id.clone()),
            ("csrf_token", form.csrf.clone()),
            ("username", creds.username.clone()),
            ("password", password.to_owned()),
            ("decision", "allow".to_owned()),
        ]
    };
    let wrong = fields("not-the-password");
    let wrong: Vec<(&str, &str)> = wrong.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, location, page) = post(&c, &url, Some(&form.cookie), &wrong).await;
    assert_eq!((status, location), (200, None));
    assert!(
        page.contains("<p id=\"error\" role=\"alert\">Wrong user name or password.</p>"),
        "{page}"
    );
    // The user name typed stays filled in; the same login goes on.
    assert!(page.contains(&format!("value=\"{}\"", creds.username)));
    assert_eq!(hidden(&page, "login_id"), form.login_id);

    let right = fields("A3ddj3w");
    let right: Vec<(&str, &str)> = right.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, location, _) = post(&c, &url, Some(&form.cookie), &right).await;
    assert_eq!(status, 303);
    let location = location.expect("Location");
    assert!(
        location.starts_with("http://127.0.0.1:9/cb?code="),
        "{location}"
    );
    assert_eq!(query_param(&location, "state").as_deref(), Some("xyz 1/2"));
    let code = query_param(&location, "code").expect("code");

    // The code is an ordinary one: PKCE-checked and redeemable once.
    let (status, _, body) = send(
        c.post(format!("{}/token", creds.base_url))
            .basic_auth(&creds.client_id, Some(&creds.client_secret))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", redirect),
                ("code_verifier", VERIFIER),
            ]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "openid profile");

    // The login is finished: submitting it again is refused.
    let (status, location, page) = post(&c, &url, Some(&form.cookie), &right).await;
    assert_eq!((status, location), (400, None));
    assert!(
        page.contains("unknown, expired or already finished"),
        "{page}"
    );
}

/// `base` plus `csrf_token` when given.
fn with_csrf<'a>(base: &[(&'a str, &'a str)], csrf: Option<&'a str>) -> Vec<(&'a str, &'a str)> {
    let mut v = base.to_vec();
    if let Some(t) = csrf {
        v.push(("csrf_token", t));
    }
    v
}

#[tokio::test]
async fn a_post_without_or_with_a_wrong_csrf_token_is_refused() {
    let sb = form_sandbox().await;
    let c = client();
    let creds = sb.credentials().oauth2.clone();
    let url = format!("{}/authorize", creds.base_url);
    let form = open_oauth2(&c, &sb, "http://127.0.0.1:9/cb", "s").await;
    let base = [
        ("login_id", form.login_id.as_str()),
        ("username", creds.username.as_str()),
        ("password", creds.password.as_str()),
        ("decision", "allow"),
    ];
    let wrong_cookie = format!("csrf_{}=forged", form.login_id);
    let good = form.csrf.as_str();
    for (fields, cookie) in [
        (with_csrf(&base, None), Some(form.cookie.as_str())),
        (with_csrf(&base, Some("forged")), Some(form.cookie.as_str())),
        (with_csrf(&base, Some("")), Some(form.cookie.as_str())),
        // The right token in the form, but not from the browser that loaded it.
        (with_csrf(&base, Some(good)), None),
        (with_csrf(&base, Some(good)), Some(wrong_cookie.as_str())),
    ] {
        let (status, location, page) = post(&c, &url, cookie, &fields).await;
        assert_eq!((status, location), (403, None), "{fields:?} {cookie:?}");
        assert!(page.contains("CSRF token is missing or wrong"), "{page}");
    }
    // None of that spent the login: the genuine form still signs in.
    let (status, location, _) =
        post(&c, &url, Some(&form.cookie), &with_csrf(&base, Some(good))).await;
    assert_eq!(status, 303);
    assert!(location.expect("Location").contains("code="));
    // Another content type is not a form.
    let resp = c
        .post(&url)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status().as_u16(), 415);
}

#[tokio::test]
async fn deny_and_too_many_wrong_passwords_send_access_denied_with_the_state() {
    let sb = form_sandbox().await;
    let c = client();
    let creds = sb.credentials().oauth2.clone();
    let url = format!("{}/authorize", creds.base_url);

    let form = open_oauth2(&c, &sb, "http://127.0.0.1:9/cb", "st").await;
    let (status, location, _) = post(
        &c,
        &url,
        Some(&form.cookie),
        &[
            ("login_id", &form.login_id),
            ("csrf_token", &form.csrf),
            ("decision", "deny"),
        ],
    )
    .await;
    assert_eq!(status, 303);
    let location = location.expect("Location");
    assert_eq!(
        query_param(&location, "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(query_param(&location, "state").as_deref(), Some("st"));
    assert_eq!(query_param(&location, "code"), None);

    let form = open_oauth2(&c, &sb, "http://127.0.0.1:9/cb", "st2").await;
    let fields = [
        ("login_id", form.login_id.as_str()),
        ("csrf_token", form.csrf.as_str()),
        ("username", "johndoe"),
        ("password", "wrong"),
        ("decision", "allow"),
    ];
    for _ in 1..ssoflow_sandbox::login::MAX_FAILURES {
        let (status, _, page) = post(&c, &url, Some(&form.cookie), &fields).await;
        assert_eq!(status, 200);
        assert!(page.contains("id=\"error\""));
    }
    let (status, location, _) = post(&c, &url, Some(&form.cookie), &fields).await;
    assert_eq!(status, 303);
    let location = location.expect("Location");
    assert_eq!(
        query_param(&location, "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(query_param(&location, "state").as_deref(), Some("st2"));
}

#[tokio::test]
async fn everything_echoed_is_escaped() {
    let sb = form_sandbox().await;
    let c = client();
    let creds = sb.credentials().oauth2.clone();
    let url = format!("{}/authorize", creds.base_url);
    let attack = "\"><script>alert(1)</script>";
    // A loopback redirect URI may carry any path and query: it is shown, escaped.
    let redirect = format!("http://127.0.0.1:9/cb?x={attack}");
    let form = open_oauth2(&c, &sb, &redirect, attack).await;
    assert!(!form.page.contains("<script"), "{}", form.page);
    assert!(
        form.page
            .contains("http://127.0.0.1:9/cb?x=&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{}",
        form.page
    );
    // The user name typed is echoed back escaped as well.
    let (status, _, page) = post(
        &c,
        &url,
        Some(&form.cookie),
        &[
            ("login_id", &form.login_id),
            ("csrf_token", &form.csrf),
            ("username", attack),
            ("password", "wrong"),
            ("decision", "allow"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert!(!page.contains("<script"), "{page}");
    assert!(page.contains("value=\"&quot;&gt;&lt;script&gt;"), "{page}");
    // The state goes back in the redirect, percent-encoded, never into the page.
    let (status, location, _) = post(
        &c,
        &url,
        Some(&form.cookie),
        &[
            ("login_id", &form.login_id),
            ("csrf_token", &form.csrf),
            ("username", "johndoe"),
            ("password", "A3ddj3w"),
            ("decision", "allow"),
        ],
    )
    .await;
    assert_eq!(status, 303);
    let location = location.expect("Location");
    assert_eq!(query_param(&location, "state").as_deref(), Some(attack));
    // The redirect URI is still checked exactly as before: a foreign one gets no form.
    let q = oauth2_query("https://evil.example/cb", "s");
    let (status, _, body) = send(c.get(&url).query(&q)).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_request");
}

#[tokio::test]
async fn punchh_form_signs_the_test_user_in_by_email() {
    let sb = form_sandbox().await;
    let c = client();
    let creds = sb.credentials().punchh.clone();
    let url = format!("{}/oauth/authorize", creds.base_url);
    let q = [
        ("client_id", creds.client.as_str()),
        ("redirect_uri", creds.redirect_uri.as_str()),
        ("response_type", "code"),
        ("state", "p1"),
    ];
    let form = open_form(&c, &url, &q).await;
    assert!(form.page.contains("name=\"email\""), "{}", form.page);
    assert!(form.page.contains("Punchh"), "{}", form.page);
    let fields = |password: &'static str| {
        [
            ("login_id", form.login_id.clone()),
            ("csrf_token", form.csrf.clone()),
            ("email", "TEST@example.com".to_owned()),
            ("password", password.to_owned()),
            ("decision", "allow".to_owned()),
        ]
    };
    let wrong = fields("nope");
    let (status, _, page) = post(
        &c,
        &url,
        Some(&form.cookie),
        &wrong
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .collect::<Vec<_>>(),
    )
    .await;
    assert_eq!(status, 200);
    assert!(page.contains("Wrong email or password."), "{page}");
    // A login started at Punchh cannot be finished at the other server.
    let right = fields("sandbox-punchh-password");
    let right: Vec<(&str, &str)> = right.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let other = format!("{}/authorize", sb.credentials().oauth2.base_url);
    let (status, _, _) = post(&c, &other, Some(&form.cookie), &right).await;
    assert_eq!(status, 400);
    // The right password (email in any case): back to the registered URI with a code.
    let (status, location, _) = post(&c, &url, Some(&form.cookie), &right).await;
    assert_eq!(status, 303);
    let location = location.expect("Location");
    assert!(location.starts_with(&creds.redirect_uri), "{location}");
    assert_eq!(query_param(&location, "state").as_deref(), Some("p1"));
    let code = query_param(&location, "code").expect("code");
    // Redeemable at the signed token endpoint.
    let body = serde_json::json!({
        "client_id": creds.client,
        "client_secret": creds.secret,
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": creds.redirect_uri,
    })
    .to_string();
    let digest =
        ssoflow_sandbox::punchh_digest(&creds.signing_secret, "/oauth/token", body.as_bytes());
    let (status, _, token) = send(
        c.post(format!("{}/oauth/token", creds.base_url))
            .header("x-pch-digest", digest)
            .header("user-agent", "ssoflow-test")
            .header("accept", "application/json")
            .header("content-type", "application/json")
            .body(body),
    )
    .await;
    assert_eq!(status, 200, "{token}");
    assert!(token["access_token"].is_string());
}
