//! POS API: account creation, ROPC login (201), refresh rotation, admin endpoint.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use ssoflow_sandbox::SandboxHandle;

fn url(sb: &SandboxHandle, path: &str) -> String {
    format!("{}{path}", sb.credentials().pos_api.base_url)
}

async fn create(
    c: &reqwest::Client,
    sb: &SandboxHandle,
    user: &str,
    password: &str,
) -> (u16, Value) {
    let (s, _, b) = send(c.post(url(sb, "/users")).json(&json!({
        "user_name": user, "password": password, "grant_type": "password",
    })))
    .await;
    (s, b)
}

async fn login(
    c: &reqwest::Client,
    sb: &SandboxHandle,
    user: &str,
    password: &str,
) -> (u16, Value) {
    let creds = &sb.credentials().pos_api;
    let (s, _, b) = send(
        c.post(url(sb, "/auth/token"))
            .basic_auth(&creds.client_id, Some(&creds.client_secret))
            .json(&json!({"user_name": user, "password": password})),
    )
    .await;
    (s, b)
}

async fn me(c: &reqwest::Client, sb: &SandboxHandle, access: &str) -> (u16, Value) {
    let (s, _, b) = send(c.get(url(sb, "/admin/me")).bearer_auth(access)).await;
    (s, b)
}

async fn refresh(c: &reqwest::Client, sb: &SandboxHandle, refresh: &str) -> (u16, Value) {
    let (s, _, b) = send(c.post(url(sb, "/auth/refresh-token")).bearer_auth(refresh)).await;
    (s, b)
}

fn assert_token_pair(body: &Value) {
    let mut keys: Vec<_> = body.as_object().expect("object").keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        ["access_token", "expires_in", "refresh_token", "token_type"]
    );
    assert!(uuid::Uuid::try_parse(body["access_token"].as_str().expect("string")).is_ok());
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["token_type"], "Bearer");
    assert!(
        body["refresh_token"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );
}

fn assert_error(status: u16, body: &Value, expected: u16, error: &str) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["error"], error);
    assert!(body["message"].is_string());
}

#[tokio::test]
async fn create_login_refresh_and_me() {
    let sb = sandbox().await;
    let c = client();
    let (s, user) = create(&c, &sb, "admin", "s3cret").await;
    assert_eq!(s, 201, "{user}");
    assert!(uuid::Uuid::try_parse(user["id"].as_str().expect("id")).is_ok());
    assert_eq!(user["user_name"], "admin");
    assert!(user["created_at"].is_string());

    let (s, pair) = login(&c, &sb, "admin", "s3cret").await;
    assert_eq!(s, 201);
    assert_token_pair(&pair);
    let access = pair["access_token"].as_str().expect("token");
    let (s, body) = me(&c, &sb, access).await;
    assert_eq!(s, 200);
    assert_eq!(body, json!({"id": user["id"], "user_name": "admin"}));

    // Rotation: a new pair; the old refresh and access tokens stop working.
    let old_refresh = pair["refresh_token"].as_str().expect("token");
    let (s, pair2) = refresh(&c, &sb, old_refresh).await;
    assert_eq!(s, 201);
    assert_token_pair(&pair2);
    assert_ne!(pair2["access_token"], pair["access_token"]);
    assert_ne!(pair2["refresh_token"], pair["refresh_token"]);
    let (s, b) = me(&c, &sb, access).await;
    assert_error(s, &b, 401, "unauthorized");
    assert_eq!(
        me(&c, &sb, pair2["access_token"].as_str().expect("t"))
            .await
            .0,
        200
    );
    let (s, b) = refresh(&c, &sb, old_refresh).await;
    assert_error(s, &b, 401, "unauthorized");
    // The new refresh token still works after the replay attempt.
    let (s, _) = refresh(&c, &sb, pair2["refresh_token"].as_str().expect("t")).await;
    assert_eq!(s, 201);
}

#[tokio::test]
async fn errors() {
    let sb = sandbox().await;
    let c = client();
    assert_eq!(create(&c, &sb, "admin", "pw").await.0, 201);
    let (s, b) = create(&c, &sb, "admin", "other").await;
    assert_error(s, &b, 409, "conflict");
    let (s, _, b) = send(
        c.post(url(&sb, "/users"))
            .json(&json!({"user_name": "x", "password": "y"})),
    )
    .await;
    assert_error(s, &b, 400, "bad_request");
    let (s, _, b) = send(
        c.post(url(&sb, "/users"))
            .header("content-type", "application/json")
            .body("{"),
    )
    .await;
    assert_error(s, &b, 400, "bad_request");

    let (s, b) = login(&c, &sb, "admin", "wrong").await;
    assert_error(s, &b, 401, "unauthorized");
    let (s, b) = login(&c, &sb, "nobody", "pw").await;
    assert_error(s, &b, 401, "unauthorized");
    let (s, _, b) = send(
        c.post(url(&sb, "/auth/token"))
            .basic_auth("sandbox-pos-client", Some("wrong"))
            .json(&json!({"user_name": "admin", "password": "pw"})),
    )
    .await;
    assert_error(s, &b, 401, "unauthorized");
    let (s, _, b) = send(
        c.post(url(&sb, "/auth/token"))
            .json(&json!({"user_name": "admin", "password": "pw"})),
    )
    .await;
    assert_error(s, &b, 401, "unauthorized");

    let (s, b) = refresh(&c, &sb, "made-up").await;
    assert_error(s, &b, 401, "unauthorized");
    let (s, _, b) = send(c.post(url(&sb, "/auth/refresh-token"))).await;
    assert_error(s, &b, 401, "unauthorized");
    let (s, b) = me(&c, &sb, "made-up").await;
    assert_error(s, &b, 401, "unauthorized");
}

#[tokio::test]
async fn access_tokens_expire_on_the_sandbox_clock() {
    let sb = sandbox().await;
    let c = client();
    create(&c, &sb, "admin", "pw").await;
    let (_, pair) = login(&c, &sb, "admin", "pw").await;
    let access = pair["access_token"].as_str().expect("token");
    sb.advance_clock(Duration::from_secs(3599));
    assert_eq!(me(&c, &sb, access).await.0, 200);
    sb.advance_clock(Duration::from_secs(2));
    assert_eq!(me(&c, &sb, access).await.0, 401);
    // The refresh token outlives the access token.
    let (s, pair2) = refresh(&c, &sb, pair["refresh_token"].as_str().expect("t")).await;
    assert_eq!(s, 201);
    assert_eq!(
        me(&c, &sb, pair2["access_token"].as_str().expect("t"))
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn create_user_needs_a_json_content_type() {
    // seed 004: "The client sends an HTTP request to the /users endpoint, including the user_name,
    // password, and grant_type properties in the request body." — a JSON body.
    let sb = sandbox().await;
    let c = client();
    let body = r#"{"user_name":"a","password":"b","grant_type":"password"}"#;
    let (s, _, b) = send(c.post(url(&sb, "/users")).body(body)).await;
    assert_error(s, &b, 415, "unsupported_media_type");
    let (s, _, b) = send(
        c.post(url(&sb, "/users"))
            .header("content-type", "text/plain")
            .body(body),
    )
    .await;
    assert_error(s, &b, 415, "unsupported_media_type");
    let (s, _, b) = send(
        c.post(url(&sb, "/users"))
            .header("content-type", "application/json")
            .body(body),
    )
    .await;
    assert_eq!(s, 201, "{b}");
}

#[tokio::test]
async fn login_needs_a_json_content_type() {
    // seed 004: "The client sends an HTTP request that includes a basic authorization header and
    // the user's user_name and password." — in a JSON body.
    let sb = sandbox().await;
    let c = client();
    assert_eq!(create(&c, &sb, "admin", "pw").await.0, 201);
    let creds = &sb.credentials().pos_api;
    let body = r#"{"user_name":"admin","password":"pw"}"#;
    let (s, _, b) = send(
        c.post(url(&sb, "/auth/token"))
            .basic_auth(&creds.client_id, Some(&creds.client_secret))
            .body(body),
    )
    .await;
    assert_error(s, &b, 415, "unsupported_media_type");
    let (s, _, b) = send(
        c.post(url(&sb, "/auth/token"))
            .basic_auth(&creds.client_id, Some(&creds.client_secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body),
    )
    .await;
    assert_error(s, &b, 415, "unsupported_media_type");
    let (s, b) = login(&c, &sb, "admin", "pw").await;
    assert_eq!(s, 201, "{b}");
}

#[tokio::test]
async fn basic_credentials_are_raw_bytes_unless_configured_form_encoded() {
    // seed 004: "The client sends an HTTP request that includes a basic authorization header"
    use base64::Engine;
    let secret = "fake pos+/=:@%~secret";
    let basic = |pair: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    };
    let raw = basic(&format!("sandbox-pos-client:{secret}"));
    let form = basic("sandbox-pos-client:fake+pos%2B%2F%3D%3A%40%25%7Esecret");
    for form_encoded in [false, true] {
        let mut config = ssoflow_sandbox::Config::default();
        config.pos_api.client_secret = secret.into();
        config.pos_api.basic_form_encoded = form_encoded;
        let sb = sandbox_with(config).await;
        let c = client();
        assert_eq!(create(&c, &sb, "admin", "pw").await.0, 201);
        for (header, right) in [(&raw, !form_encoded), (&form, form_encoded)] {
            let (s, _, b) = send(
                c.post(url(&sb, "/auth/token"))
                    .header("authorization", header.as_str())
                    .json(&json!({"user_name": "admin", "password": "pw"})),
            )
            .await;
            let want = if right { 201 } else { 401 };
            assert_eq!(s, want, "form_encoded={form_encoded} {header}: {b}");
        }
    }
}
