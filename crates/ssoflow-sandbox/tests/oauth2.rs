//! Generic OAuth 2.0: every grant, client authentication, refresh rotation with family revocation,
//! authorization code + PKCE, token exchange, userinfo.

mod common;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::*;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use ssoflow_sandbox::{Config, SandboxHandle};

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const ACCESS_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

fn url(sb: &SandboxHandle, path: &str) -> String {
    format!("{}{path}", sb.credentials().oauth2.base_url)
}

/// A token request authenticated with HTTP Basic.
async fn token(
    c: &reqwest::Client,
    sb: &SandboxHandle,
    form: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap, Value) {
    let creds = &sb.credentials().oauth2;
    send(
        c.post(url(sb, "/token"))
            .basic_auth(&creds.client_id, Some(&creds.client_secret))
            .header("Accept", "application/json")
            .form(form),
    )
    .await
}

fn assert_oauth_error(status: u16, body: &Value, expected: u16, error: &str) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["error"], error, "{body}");
    assert!(body["error_description"].is_string());
}

async fn userinfo(c: &reqwest::Client, sb: &SandboxHandle, access: &str) -> (u16, Value) {
    let (s, _, b) = send(c.get(url(sb, "/userinfo")).bearer_auth(access)).await;
    (s, b)
}

#[tokio::test]
async fn client_credentials() {
    let sb = sandbox().await;
    let c = client();
    let (s, headers, body) = token(
        &c,
        &sb,
        &[
            ("grant_type", "client_credentials"),
            ("scope", "read write"),
        ],
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "read write");
    assert!(body.get("refresh_token").is_none());
    let (s, info) = userinfo(&c, &sb, body["access_token"].as_str().expect("t")).await;
    assert_eq!(s, 200);
    assert_eq!(info["sub"], "s6BhdRkqt3");
    assert!(info["name"].is_string());

    // No scope asked, none echoed.
    let (_, _, body) = token(&c, &sb, &[("grant_type", "client_credentials")]).await;
    assert!(body.get("scope").is_none());

    // Expiry on the sandbox clock.
    let access = body["access_token"].as_str().expect("t").to_owned();
    sb.advance_clock(Duration::from_secs(3601));
    let (s, b) = userinfo(&c, &sb, &access).await;
    assert_oauth_error(s, &b, 401, "invalid_token");
}

#[tokio::test]
async fn client_authentication() {
    let sb = sandbox().await;
    let c = client();
    let creds = sb.credentials().oauth2.clone();
    let form = [("grant_type", "client_credentials")];

    // client_secret_post.
    let (s, _, _) = send(c.post(url(&sb, "/token")).form(&[
        ("grant_type", "client_credentials"),
        ("client_id", creds.client_id.as_str()),
        ("client_secret", creds.client_secret.as_str()),
    ]))
    .await;
    assert_eq!(s, 200);

    // Wrong secret, no authentication, both methods at once.
    let (s, h, b) = send(
        c.post(url(&sb, "/token"))
            .basic_auth(&creds.client_id, Some("nope"))
            .form(&form),
    )
    .await;
    assert_oauth_error(s, &b, 401, "invalid_client");
    assert!(
        h["www-authenticate"]
            .to_str()
            .expect("ascii")
            .starts_with("Basic")
    );
    let (s, _, b) = send(c.post(url(&sb, "/token")).form(&form)).await;
    assert_oauth_error(s, &b, 401, "invalid_client");
    let (s, _, b) = send(
        c.post(url(&sb, "/token"))
            .basic_auth(&creds.client_id, Some(&creds.client_secret))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_secret", creds.client_secret.as_str()),
            ]),
    )
    .await;
    assert_oauth_error(s, &b, 400, "invalid_request");
    // Not a form body.
    let (s, _, b) = send(
        c.post(url(&sb, "/token"))
            .basic_auth(&creds.client_id, Some(&creds.client_secret))
            .json(&json!({"grant_type": "client_credentials"})),
    )
    .await;
    assert_oauth_error(s, &b, 400, "invalid_request");
}

#[tokio::test]
async fn basic_credentials_are_form_decoded() {
    let mut config = Config::default();
    config.oauth2.client_id = "my client:1".into();
    config.oauth2.client_secret = "p@ss word+%".into();
    let sb = sandbox_with(config).await;
    let c = client();
    let encoded = STANDARD.encode("my+client%3A1:p%40ss+word%2B%25");
    let (s, _, b) = send(
        c.post(url(&sb, "/token"))
            .header("Authorization", format!("Basic {encoded}"))
            .form(&[("grant_type", "client_credentials")]),
    )
    .await;
    assert_eq!(s, 200, "{b}");
}

#[tokio::test]
async fn password_grant_and_refresh_rotation_with_family_revocation() {
    let sb = sandbox().await;
    let c = client();
    let (s, _, b) = token(
        &c,
        &sb,
        &[
            ("grant_type", "password"),
            ("username", "johndoe"),
            ("password", "wrong"),
        ],
    )
    .await;
    assert_oauth_error(s, &b, 400, "invalid_grant");
    let (s, _, b) = token(
        &c,
        &sb,
        &[("grant_type", "password"), ("username", "johndoe")],
    )
    .await;
    assert_oauth_error(s, &b, 400, "invalid_request");

    let (s, _, first) = token(
        &c,
        &sb,
        &[
            ("grant_type", "password"),
            ("username", "johndoe"),
            ("password", "A3ddj3w"),
            ("scope", "a b"),
        ],
    )
    .await;
    assert_eq!(s, 200);
    let r1 = first["refresh_token"].as_str().expect("refresh").to_owned();
    let a1 = first["access_token"].as_str().expect("access").to_owned();
    assert_eq!(userinfo(&c, &sb, &a1).await.1["sub"], "johndoe");

    let (s, _, second) = token(
        &c,
        &sb,
        &[("grant_type", "refresh_token"), ("refresh_token", &r1)],
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(second["scope"], "a b");
    let r2 = second["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    let a2 = second["access_token"].as_str().expect("access").to_owned();
    assert_ne!(r1, r2);

    // Narrowing the scope is fine; widening it is not.
    let (s, _, b) = token(
        &c,
        &sb,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &r2),
            ("scope", "a c"),
        ],
    )
    .await;
    assert_oauth_error(s, &b, 400, "invalid_scope");
    let (s, _, third) = token(
        &c,
        &sb,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &r2),
            ("scope", "a"),
        ],
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(third["scope"], "a");
    let r3 = third["refresh_token"].as_str().expect("refresh").to_owned();
    let a3 = third["access_token"].as_str().expect("access").to_owned();
    assert_eq!(userinfo(&c, &sb, &a3).await.0, 200);

    // Replaying a rotated refresh token revokes the whole family.
    let (s, _, b) = token(
        &c,
        &sb,
        &[("grant_type", "refresh_token"), ("refresh_token", &r1)],
    )
    .await;
    assert_oauth_error(s, &b, 400, "invalid_grant");
    let (s, _, b) = token(
        &c,
        &sb,
        &[("grant_type", "refresh_token"), ("refresh_token", &r3)],
    )
    .await;
    assert_oauth_error(s, &b, 400, "invalid_grant");
    for access in [&a1, &a2, &a3] {
        assert_eq!(userinfo(&c, &sb, access).await.0, 401);
    }
    // The replay is counted (the presentation of a token of a revoked family is not one).
    assert_eq!(sb.stats().get("REPLAY /oauth2/token"), Some(&1));
    let (s, _, b) = token(
        &c,
        &sb,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", "made-up"),
        ],
    )
    .await;
    assert_oauth_error(s, &b, 400, "invalid_grant");

    // Other families are untouched.
    let (_, _, other) = token(
        &c,
        &sb,
        &[
            ("grant_type", "password"),
            ("username", "johndoe"),
            ("password", "A3ddj3w"),
        ],
    )
    .await;
    assert_eq!(
        userinfo(&c, &sb, other["access_token"].as_str().expect("t"))
            .await
            .0,
        200
    );
}

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

async fn authorize(
    c: &reqwest::Client,
    sb: &SandboxHandle,
    params: &[(&str, &str)],
) -> reqwest::Response {
    c.get(url(sb, "/authorize"))
        .query(params)
        .send()
        .await
        .expect("sent")
}

async fn code_for(c: &reqwest::Client, sb: &SandboxHandle, redirect_uri: &str) -> String {
    let ch = challenge(VERIFIER);
    let resp = authorize(
        c,
        sb,
        &[
            ("response_type", "code"),
            ("client_id", "s6BhdRkqt3"),
            ("redirect_uri", redirect_uri),
            ("state", "xyz 1/2"),
            ("code_challenge", &ch),
            ("code_challenge_method", "S256"),
            ("scope", "openid profile"),
        ],
    )
    .await;
    assert_eq!(resp.status().as_u16(), 302);
    let location = resp.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        location.starts_with(&format!("{redirect_uri}?")),
        "{location}"
    );
    assert_eq!(query_param(&location, "state").as_deref(), Some("xyz 1/2"));
    query_param(&location, "code").expect("code")
}

#[tokio::test]
async fn authorization_code_with_pkce() {
    let sb = sandbox().await;
    let c = client();
    let redirect = "http://127.0.0.1:49152/callback";
    let code = code_for(&c, &sb, redirect).await;
    let (s, _, b) = token(
        &c,
        &sb,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", redirect),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["scope"], "openid profile");
    assert!(b["refresh_token"].is_string());
    let access = b["access_token"].as_str().expect("t").to_owned();
    assert_eq!(userinfo(&c, &sb, &access).await.1["sub"], "johndoe");

    // Single use; the replay also revokes what the code yielded.
    let (s, _, b) = token(
        &c,
        &sb,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", redirect),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_oauth_error(s, &b, 400, "invalid_grant");
    assert_eq!(userinfo(&c, &sb, &access).await.0, 401);

    // The registered redirect URI, and localhost, are allowed too.
    for redirect in ["https://client.example.com/cb", "http://localhost:8080/cb"] {
        let code = code_for(&c, &sb, redirect).await;
        let (s, _, b) = token(
            &c,
            &sb,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", redirect),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
        assert_eq!(s, 200, "{b}");
    }
}

#[tokio::test]
async fn authorization_code_errors() {
    let sb = sandbox().await;
    let c = client();
    let redirect = "http://127.0.0.1:1/cb";
    let redeem = |code: String, redirect: &'static str, verifier: Option<&'static str>| {
        let c = c.clone();
        let sb = &sb;
        async move {
            let mut form = vec![
                ("grant_type", "authorization_code".to_owned()),
                ("code", code),
                ("redirect_uri", redirect.to_owned()),
            ];
            if let Some(v) = verifier {
                form.push(("code_verifier", v.to_owned()));
            }
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            token(&c, sb, &form).await
        }
    };
    let wrong_verifier = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let (s, _, b) = redeem(
        code_for(&c, &sb, redirect).await,
        "http://127.0.0.1:1/cb",
        Some(wrong_verifier),
    )
    .await;
    assert_oauth_error(s, &b, 400, "invalid_grant");
    let (s, _, b) = redeem(
        code_for(&c, &sb, redirect).await,
        "http://127.0.0.1:1/cb",
        None,
    )
    .await;
    assert_oauth_error(s, &b, 400, "invalid_grant");
    let (s, _, b) = redeem(
        code_for(&c, &sb, redirect).await,
        "http://127.0.0.1:2/cb",
        Some(VERIFIER),
    )
    .await;
    assert_oauth_error(s, &b, 400, "invalid_grant");
    let code = code_for(&c, &sb, redirect).await;
    sb.advance_clock(Duration::from_secs(601));
    let (s, _, b) = redeem(code, "http://127.0.0.1:1/cb", Some(VERIFIER)).await;
    assert_oauth_error(s, &b, 400, "invalid_grant");
    let (s, _, b) = redeem("made-up".into(), "http://127.0.0.1:1/cb", Some(VERIFIER)).await;
    assert_oauth_error(s, &b, 400, "invalid_grant");
}

#[tokio::test]
async fn authorize_errors() {
    let sb = sandbox().await;
    let c = client();
    let ch = challenge(VERIFIER);
    // Bad client or redirect URI: shown, not redirected.
    for (client_id, redirect) in [
        ("other", "http://127.0.0.1/cb"),
        ("s6BhdRkqt3", "https://evil.example/cb"),
        ("s6BhdRkqt3", "http://127.0.0.1.evil.example/cb"),
    ] {
        let resp = authorize(
            &c,
            &sb,
            &[
                ("response_type", "code"),
                ("client_id", client_id),
                ("redirect_uri", redirect),
                ("code_challenge", &ch),
                ("code_challenge_method", "S256"),
            ],
        )
        .await;
        let (s, _, b) = json_of(resp).await;
        assert_eq!(s, 400, "{b}");
        assert!(b["error"].is_string());
    }
    // Everything else is redirected back with an error and the state.
    for (params, error) in [
        (
            vec![
                ("response_type", "token"),
                ("code_challenge", ch.as_str()),
                ("code_challenge_method", "S256"),
            ],
            "unsupported_response_type",
        ),
        (vec![("response_type", "code")], "invalid_request"),
        (
            vec![
                ("response_type", "code"),
                ("code_challenge", ch.as_str()),
                ("code_challenge_method", "plain"),
            ],
            "invalid_request",
        ),
        (
            vec![
                ("response_type", "code"),
                ("code_challenge", ch.as_str()),
                ("code_challenge_method", "S256"),
                ("scope", "a\"b"),
            ],
            "invalid_scope",
        ),
    ] {
        let mut all = vec![
            ("client_id", "s6BhdRkqt3"),
            ("redirect_uri", "http://127.0.0.1/cb"),
            ("state", "st"),
        ];
        all.extend(params);
        let resp = authorize(&c, &sb, &all).await;
        assert_eq!(resp.status().as_u16(), 302);
        let location = resp.headers()["location"]
            .to_str()
            .expect("ascii")
            .to_owned();
        assert_eq!(
            query_param(&location, "error").as_deref(),
            Some(error),
            "{location}"
        );
        assert_eq!(query_param(&location, "state").as_deref(), Some("st"));
    }
}

#[tokio::test]
async fn token_exchange() {
    let sb = sandbox().await;
    let c = client();
    let (_, _, subject) = token(
        &c,
        &sb,
        &[
            ("grant_type", "password"),
            ("username", "johndoe"),
            ("password", "A3ddj3w"),
            ("scope", "a"),
        ],
    )
    .await;
    let subject_token = subject["access_token"].as_str().expect("t");
    let grant = "urn:ietf:params:oauth:grant-type:token-exchange";
    let (s, h, b) = token(
        &c,
        &sb,
        &[
            ("grant_type", grant),
            ("subject_token", subject_token),
            ("subject_token_type", ACCESS_TYPE),
        ],
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(b["issued_token_type"], ACCESS_TYPE);
    assert_eq!(b["token_type"], "Bearer");
    assert_eq!(b["scope"], "a");
    assert!(b.get("refresh_token").is_none());
    assert_eq!(
        userinfo(&c, &sb, b["access_token"].as_str().expect("t"))
            .await
            .1["sub"],
        "johndoe"
    );

    let (s, _, b) = token(
        &c,
        &sb,
        &[
            ("grant_type", grant),
            ("subject_token", "made-up"),
            ("subject_token_type", ACCESS_TYPE),
        ],
    )
    .await;
    assert_oauth_error(s, &b, 400, "invalid_grant");
    let (s, _, b) = token(
        &c,
        &sb,
        &[
            ("grant_type", grant),
            ("subject_token", subject_token),
            (
                "subject_token_type",
                "urn:ietf:params:oauth:token-type:id_token",
            ),
        ],
    )
    .await;
    assert_oauth_error(s, &b, 400, "invalid_request");
    let (s, _, b) = token(
        &c,
        &sb,
        &[("grant_type", grant), ("subject_token_type", ACCESS_TYPE)],
    )
    .await;
    assert_oauth_error(s, &b, 400, "invalid_request");
    // A refresh token is not an access token.
    let refresh = subject["refresh_token"].as_str().expect("t");
    let (s, _, b) = token(
        &c,
        &sb,
        &[
            ("grant_type", grant),
            ("subject_token", refresh),
            ("subject_token_type", ACCESS_TYPE),
        ],
    )
    .await;
    assert_oauth_error(s, &b, 400, "invalid_grant");
}

#[tokio::test]
async fn request_errors() {
    let sb = sandbox().await;
    let c = client();
    let (s, _, b) = token(&c, &sb, &[("grant_type", "implicit")]).await;
    assert_oauth_error(s, &b, 400, "unsupported_grant_type");
    let (s, _, b) = token(&c, &sb, &[("scope", "a")]).await;
    assert_oauth_error(s, &b, 400, "invalid_request");
    let (s, _, b) = token(
        &c,
        &sb,
        &[
            ("grant_type", "client_credentials"),
            ("grant_type", "password"),
        ],
    )
    .await;
    assert_oauth_error(s, &b, 400, "invalid_request");
    let (s, _, b) = token(
        &c,
        &sb,
        &[("grant_type", "client_credentials"), ("scope", "a\\b")],
    )
    .await;
    assert_oauth_error(s, &b, 400, "invalid_scope");
    // userinfo without a token.
    let (s, h, b) = send(c.get(url(&sb, "/userinfo"))).await;
    assert_oauth_error(s, &b, 401, "invalid_token");
    assert!(
        h["www-authenticate"]
            .to_str()
            .expect("ascii")
            .starts_with("Bearer")
    );
}
