//! Punchh: digest verification, SSO access token, authorization-code flow, user information.

mod common;

use std::time::Duration;

use common::*;
use reqwest::Method;
use serde_json::{Value, json};
use ssoflow_sandbox::SandboxHandle;

const SSO_BODY: &str =
    r#"{"client":"CLIENT_GOES_HERE","security_token":"SECURITY_TOKEN_GOES_HERE"}"#;

#[test]
fn digest_test_vectors() {
    assert_eq!(
        ssoflow_sandbox::punchh_digest("SECRET_GOES_HERE", "/api/auth/sso", SSO_BODY.as_bytes()),
        "375dbf88ee2e8a565138c0d8578d2cd93456a584"
    );
    assert_eq!(
        ssoflow_sandbox::punchh_digest(
            "SECRET_GOES_HERE",
            "/api2/mobile/users/profile",
            br#"{"client":"CLIENT_GOES_HERE"}"#
        ),
        "743195d63cfe21b8af7fc1f2f288a5b60ae450dc7f19aa36499512b664756c6a"
    );
}

fn assert_errors_base(status: u16, body: &Value, expected_status: u16, message: Option<&str>) {
    assert_eq!(status, expected_status, "{body}");
    let base = body["errors"]["base"]
        .as_array()
        .expect("errors.base array");
    assert_eq!(base.len(), 1);
    if let Some(m) = message {
        assert_eq!(base[0], m);
    }
}

async fn authorize(c: &reqwest::Client, sb: &SandboxHandle, state: &str) -> String {
    let creds = &sb.credentials().punchh;
    let resp = c
        .get(format!("{}/oauth/authorize", creds.base_url))
        .query(&[
            ("client_id", creds.client.as_str()),
            ("redirect_uri", creds.redirect_uri.as_str()),
            ("response_type", "code"),
            ("state", state),
        ])
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status().as_u16(), 302);
    let location = resp.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        location.starts_with(&format!("{}?", creds.redirect_uri)),
        "{location}"
    );
    assert_eq!(query_param(&location, "state").as_deref(), Some(state));
    query_param(&location, "code").expect("code")
}

fn token_body(sb: &SandboxHandle, code: &str) -> String {
    let creds = &sb.credentials().punchh;
    json!({
        "code": code,
        "client_id": creds.client,
        "client_secret": creds.secret,
        "grant_type": "authorization_code",
        "redirect_uri": creds.redirect_uri,
    })
    .to_string()
}

#[tokio::test]
async fn sso_access_token_matches_the_seed() {
    let sb = sandbox().await;
    let c = client();
    let (status, _, body) = send(punchh_signed(
        &c,
        Method::POST,
        &sb,
        "/api/auth/sso",
        SSO_BODY,
    ))
    .await;
    assert_eq!(status, 200, "{body}");
    assert_same_shape(&body, &fixture("punchh_sso.json"));
    assert_eq!(body["user"]["id"], 111_111_111);
    assert_eq!(body["user"]["email"], "test@example.com");
    assert_eq!(body["user"]["first_name"], "Jane");
    assert_eq!(body["user"]["last_name"], "Doe");
    let created = body["user"]["created_at"].as_str().expect("string");
    assert!(created.ends_with('Z') && created.contains('T'), "{created}");

    // The SSO access token fetches the user.
    let access = body["token"]["access_token"].as_str().expect("token");
    let (status, _, user) = send(
        punchh_signed(
            &c,
            Method::GET,
            &sb,
            "/api/auth/users",
            r#"{"client":"CLIENT_GOES_HERE"}"#,
        )
        .bearer_auth(access),
    )
    .await;
    assert_eq!(status, 200, "{user}");
    assert_same_shape(&user, &fixture("punchh_sso.json")["user"]);
    assert_eq!(user, body["user"]);
}

#[tokio::test]
async fn sso_errors() {
    let sb = sandbox().await;
    let c = client();
    for body in [
        r#"{"client":"CLIENT_GOES_HERE","security_token":"WRONG"}"#,
        r#"{"client":"OTHER","security_token":"SECURITY_TOKEN_GOES_HERE"}"#,
        r#"{"client":"CLIENT_GOES_HERE"}"#,
    ] {
        let (s, _, b) = send(punchh_signed(&c, Method::POST, &sb, "/api/auth/sso", body)).await;
        assert_errors_base(s, &b, 400, Some("Invalid security token"));
    }
    let (s, _, b) = send(punchh_signed(
        &c,
        Method::POST,
        &sb,
        "/api/auth/sso",
        "{nope",
    ))
    .await;
    assert_errors_base(s, &b, 400, None);
}

#[tokio::test]
async fn bad_or_missing_digest_is_412() {
    let sb = sandbox().await;
    let c = client();
    let url = format!("{}/api/auth/sso", sb.credentials().punchh.base_url);
    let base = || {
        c.post(&url)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json")
            .header("User-Agent", "test")
            .body(SSO_BODY)
    };
    let (s, _, b) = send(base()).await;
    assert_errors_base(s, &b, 412, Some("Invalid signature"));
    let (s, _, b) = send(base().header("x-pch-digest", "0".repeat(40))).await;
    assert_errors_base(s, &b, 412, Some("Invalid signature"));
    // Signed over another body, another path, or with SHA-256 instead of SHA-1.
    let other_body = ssoflow_sandbox::punchh_digest("SECRET_GOES_HERE", "/api/auth/sso", b"{}");
    let (s, _, b) = send(base().header("x-pch-digest", other_body)).await;
    assert_errors_base(s, &b, 412, Some("Invalid signature"));
    let other_path =
        ssoflow_sandbox::punchh_digest("SECRET_GOES_HERE", "/api/auth/ss", SSO_BODY.as_bytes());
    let (s, _, b) = send(base().header("x-pch-digest", other_path)).await;
    assert_errors_base(s, &b, 412, Some("Invalid signature"));
    let sha256 = ssoflow_sandbox::punchh_digest("SECRET_GOES_HERE", "/api2/x", b"");
    let (s, _, b) = send(base().header("x-pch-digest", sha256)).await;
    assert_errors_base(s, &b, 412, Some("Invalid signature"));
    // Lowercase hex only.
    let upper = "375DBF88EE2E8A565138C0D8578D2CD93456A584";
    let (s, _, b) = send(base().header("x-pch-digest", upper)).await;
    assert_errors_base(s, &b, 412, Some("Invalid signature"));
    // The test vector itself is accepted.
    let good = "375dbf88ee2e8a565138c0d8578d2cd93456a584";
    let (s, _, b) = send(base().header("x-pch-digest", good)).await;
    assert_eq!(s, 200, "{b}");
}

/// The four headers seeds 001 and 002 mark "required", with valid values for the SSO call.
fn required_headers() -> Vec<(&'static str, String)> {
    vec![
        (
            "x-pch-digest",
            ssoflow_sandbox::punchh_digest(
                "SECRET_GOES_HERE",
                "/api/auth/sso",
                SSO_BODY.as_bytes(),
            ),
        ),
        ("Content-Type", "application/json".into()),
        ("Accept", "application/json".into()),
        (
            "User-Agent",
            "Punchh/OnlineOrder/1.0/Web/BrowserVersion/OS_Type".into(),
        ),
    ]
}

/// `POST /api/auth/sso` with the required headers, `name` left out (or given `value`). Raw
/// HTTP/1.1: reqwest would add an `Accept: */*` of its own.
async fn sso_with(sb: &SandboxHandle, name: &str, value: Option<&str>) -> (u16, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut head = format!(
        "POST /punchh/api/auth/sso HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
        sb.addr(),
        SSO_BODY.len()
    );
    for (n, v) in required_headers() {
        let v = if n.eq_ignore_ascii_case(name) {
            match value {
                Some(value) => value.to_owned(),
                None => continue,
            }
        } else {
            v
        };
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    let mut tcp = tokio::net::TcpStream::connect(sb.addr())
        .await
        .expect("connect");
    tcp.write_all(format!("{head}\r\n{SSO_BODY}").as_bytes())
        .await
        .expect("write");
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut out))
        .await
        .expect("answer in time")
        .expect("read");
    let text = String::from_utf8(out).expect("utf-8");
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let (_, body) = text.split_once("\r\n\r\n").expect("head and body");
    (
        status,
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}")),
    )
}

#[tokio::test]
async fn all_four_required_headers_pass() {
    let sb = sandbox().await;
    let (s, b) = sso_with(&sb, "none", None).await;
    assert_eq!(s, 200, "{b}");
}

#[tokio::test]
async fn missing_digest_is_412() {
    // seed 001: "x-pch-digest ... Type: string ... required ... The signature for the API call"
    let sb = sandbox().await;
    let (s, b) = sso_with(&sb, "x-pch-digest", None).await;
    assert_errors_base(s, &b, 412, Some("Invalid signature"));
}

#[tokio::test]
async fn missing_user_agent_is_400() {
    // seed 001: "User-Agent ... Type: string ... required"
    let sb = sandbox().await;
    let (s, b) = sso_with(&sb, "User-Agent", None).await;
    assert_errors_base(s, &b, 400, Some("The User-Agent header is required"));
    let (s, b) = sso_with(&sb, "User-Agent", Some(" ")).await;
    assert_errors_base(s, &b, 400, Some("The User-Agent header is required"));
}

#[tokio::test]
async fn missing_accept_is_400_and_a_non_json_accept_406() {
    // seed 001: "Accept ... Type: string ... required ... Advertises which content types the
    // client is able to understand"
    let sb = sandbox().await;
    let (s, b) = sso_with(&sb, "Accept", None).await;
    assert_errors_base(s, &b, 400, Some("The Accept header is required"));
    let (s, b) = sso_with(&sb, "Accept", Some("text/html")).await;
    assert_errors_base(s, &b, 406, Some("Accept must admit application/json"));
    for ok in ["*/*", "application/*", "text/html, application/json;q=0.9"] {
        let (s, b) = sso_with(&sb, "Accept", Some(ok)).await;
        assert_eq!(s, 200, "{ok}: {b}");
    }
}

#[tokio::test]
async fn missing_content_type_is_400_and_another_type_415() {
    // seed 001: "Content-Type ... Type: string ... required ... Set this header to application/json."
    let sb = sandbox().await;
    let (s, b) = sso_with(&sb, "Content-Type", None).await;
    assert_errors_base(s, &b, 400, Some("The Content-Type header is required"));
    let (s, b) = sso_with(&sb, "Content-Type", Some("text/plain")).await;
    assert_errors_base(s, &b, 415, Some("Content-Type must be application/json"));
    let (s, b) = sso_with(&sb, "Content-Type", Some("application/json; charset=utf-8")).await;
    assert_eq!(s, 200, "{b}");
}

#[tokio::test]
async fn content_type_is_required_on_a_call_without_a_body_too() {
    // seed 002: "Content-Type ... Type: string ... required ... Set this header to application/json."
    let sb = sandbox().await;
    let c = client();
    let creds = &sb.credentials().punchh;
    let req = c
        .get(format!("{}/api/auth/users", creds.base_url))
        .header(
            "x-pch-digest",
            ssoflow_sandbox::punchh_digest(&creds.signing_secret, "/api/auth/users", b""),
        )
        .header("Accept", "application/json")
        .header("User-Agent", "t");
    let (s, _, b) = send(req).await;
    assert_errors_base(s, &b, 400, Some("The Content-Type header is required"));
}

#[tokio::test]
async fn authorization_code_flow_matches_the_seed() {
    let sb = sandbox().await;
    let c = client();
    let code = authorize(&c, &sb, "st ate/&=?").await;
    let (status, _, body) = send(punchh_signed(
        &c,
        Method::POST,
        &sb,
        "/oauth/token",
        &token_body(&sb, &code),
    ))
    .await;
    assert_eq!(status, 200, "{body}");
    assert_same_shape(&body, &fixture("punchh_oauth_token.json"));
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "null");
    let created: u64 = body["created_at"]
        .as_str()
        .expect("string")
        .parse()
        .expect("epoch digits");
    assert!(created > 1_695_818_361);

    let access = body["access_token"].as_str().expect("token");
    let (status, _, user) = send(
        punchh_signed(
            &c,
            Method::GET,
            &sb,
            "/api/auth/users",
            r#"{"client":"CLIENT_GOES_HERE"}"#,
        )
        .bearer_auth(access),
    )
    .await;
    assert_eq!(status, 200);
    assert_same_shape(&user, &fixture("punchh_sso.json")["user"]);

    // The mobile API is signed with HMAC-SHA256.
    let (status, _, user) = send(
        punchh_signed(
            &c,
            Method::GET,
            &sb,
            "/api2/mobile/users/profile",
            r#"{"client":"CLIENT_GOES_HERE"}"#,
        )
        .bearer_auth(access),
    )
    .await;
    assert_eq!(status, 200, "{user}");
    assert_eq!(user["email"], "test@example.com");

    // Codes are single-use.
    let (s, _, b) = send(punchh_signed(
        &c,
        Method::POST,
        &sb,
        "/oauth/token",
        &token_body(&sb, &code),
    ))
    .await;
    assert_eq!(s, 400);
    assert_eq!(b["error"], "invalid_grant");
    assert!(b["error_description"].is_string());
}

#[tokio::test]
async fn authorize_errors() {
    let sb = sandbox().await;
    let c = client();
    let creds = sb.credentials().punchh.clone();
    let url = format!("{}/oauth/authorize", creds.base_url);
    for (client_id, redirect, response_type, error) in [
        (
            "OTHER",
            creds.redirect_uri.as_str(),
            "code",
            "invalid_client",
        ),
        (
            creds.client.as_str(),
            "https://evil.example/cb",
            "code",
            "invalid_redirect_uri",
        ),
        (
            creds.client.as_str(),
            creds.redirect_uri.as_str(),
            "token",
            "unsupported_response_type",
        ),
    ] {
        let (s, _, b) = send(c.get(&url).query(&[
            ("client_id", client_id),
            ("redirect_uri", redirect),
            ("response_type", response_type),
            ("state", "s"),
        ]))
        .await;
        assert_eq!(s, 400, "{b}");
        assert_eq!(b["error"], error);
    }
}

#[tokio::test]
async fn token_errors() {
    let sb = sandbox().await;
    let c = client();
    let creds = sb.credentials().punchh.clone();

    let code = authorize(&c, &sb, "s1").await;
    let mut wrong_secret: Value = serde_json::from_str(&token_body(&sb, &code)).expect("json");
    wrong_secret["client_secret"] = json!("nope");
    let (s, _, b) = send(punchh_signed(
        &c,
        Method::POST,
        &sb,
        "/oauth/token",
        &wrong_secret.to_string(),
    ))
    .await;
    assert_eq!(s, 401);
    assert_eq!(b["error"], "invalid_client");

    let mut wrong_grant = wrong_secret.clone();
    wrong_grant["client_secret"] = json!(creds.secret);
    wrong_grant["grant_type"] = json!("password");
    let (s, _, b) = send(punchh_signed(
        &c,
        Method::POST,
        &sb,
        "/oauth/token",
        &wrong_grant.to_string(),
    ))
    .await;
    assert_eq!(s, 400);
    assert_eq!(b["error"], "unsupported_grant_type");

    // Bound to the redirect_uri (and consumed by the failed attempt).
    let mut wrong_redirect: Value = serde_json::from_str(&token_body(&sb, &code)).expect("json");
    wrong_redirect["redirect_uri"] = json!("https://other.example/auth");
    let (s, _, b) = send(punchh_signed(
        &c,
        Method::POST,
        &sb,
        "/oauth/token",
        &wrong_redirect.to_string(),
    ))
    .await;
    assert_eq!((s, b["error"].clone()), (400, json!("invalid_grant")));

    let (s, _, b) = send(punchh_signed(
        &c,
        Method::POST,
        &sb,
        "/oauth/token",
        &token_body(&sb, "made-up"),
    ))
    .await;
    assert_eq!((s, b["error"].clone()), (400, json!("invalid_grant")));

    // Codes expire (10 minutes on the sandbox clock).
    let code = authorize(&c, &sb, "s2").await;
    sb.advance_clock(Duration::from_secs(601));
    let (s, _, b) = send(punchh_signed(
        &c,
        Method::POST,
        &sb,
        "/oauth/token",
        &token_body(&sb, &code),
    ))
    .await;
    assert_eq!((s, b["error"].clone()), (400, json!("invalid_grant")));

    let (s, _, b) = send(punchh_signed(
        &c,
        Method::POST,
        &sb,
        "/oauth/token",
        "not json",
    ))
    .await;
    assert_eq!((s, b["error"].clone()), (400, json!("invalid_request")));
}

#[tokio::test]
async fn user_info_errors() {
    let sb = sandbox().await;
    let c = client();
    let body = r#"{"client":"CLIENT_GOES_HERE"}"#;
    let (s, _, b) = send(punchh_signed(&c, Method::GET, &sb, "/api/auth/users", body)).await;
    assert_errors_base(s, &b, 401, None);
    let (s, _, b) =
        send(punchh_signed(&c, Method::GET, &sb, "/api/auth/users", body).bearer_auth("bogus"))
            .await;
    assert_errors_base(s, &b, 401, None);

    let (_, _, sso) = send(punchh_signed(
        &c,
        Method::POST,
        &sb,
        "/api/auth/sso",
        SSO_BODY,
    ))
    .await;
    let access = sso["token"]["access_token"].as_str().expect("token");
    let (s, _, b) = send(
        punchh_signed(
            &c,
            Method::GET,
            &sb,
            "/api/auth/users",
            r#"{"client":"OTHER"}"#,
        )
        .bearer_auth(access),
    )
    .await;
    assert_errors_base(s, &b, 400, Some("Invalid client"));
    // The query is part of what is signed.
    let (s, _, b) =
        send(punchh_signed(&c, Method::GET, &sb, "/api/auth/users?x=1", body).bearer_auth(access))
            .await;
    assert_eq!(s, 200, "{b}");
    // The user's authentication_token works as a Bearer token too.
    let auth_token = sso["user"]["authentication_token"].as_str().expect("token");
    let (s, _, _) =
        send(punchh_signed(&c, Method::GET, &sb, "/api/auth/users", body).bearer_auth(auth_token))
            .await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn client_secret_and_signing_secret_are_two_settings() {
    // seed 002: "client_secret ... OAuth client secret of the business"; the x-pch-digest key is
    // configured on its own.
    let mut config = ssoflow_sandbox::Config::default();
    config.punchh.secret = "fake-oauth-client-secret".into();
    config.punchh.signing_secret = Some("fake-signing-secret".into());
    let sb = sandbox_with(config).await;
    let creds = &sb.credentials().punchh;
    assert_eq!(creds.secret, "fake-oauth-client-secret");
    assert_eq!(creds.signing_secret, "fake-signing-secret");
    let c = client();
    // Signed with the signing secret, carrying the client secret: accepted.
    let code = authorize(&c, &sb, "s1").await;
    let (s, _, b) = send(punchh_signed(
        &c,
        Method::POST,
        &sb,
        "/oauth/token",
        &token_body(&sb, &code),
    ))
    .await;
    assert_eq!(s, 200, "{b}");
    // Signed with the client secret: 412.
    let code = authorize(&c, &sb, "s2").await;
    let body = token_body(&sb, &code);
    let wrong_key =
        ssoflow_sandbox::punchh_digest("fake-oauth-client-secret", "/oauth/token", body.as_bytes());
    let (s, _, b) = send(
        c.post(format!("{}/oauth/token", creds.base_url))
            .header("x-pch-digest", wrong_key)
            .header("Accept", "application/json")
            .header("Content-Type", "application/json")
            .header("User-Agent", "t")
            .body(body),
    )
    .await;
    assert_errors_base(s, &b, 412, Some("Invalid signature"));
    // The signing secret in the body in place of the client secret: invalid_client.
    let code = authorize(&c, &sb, "s3").await;
    let mut body: Value = serde_json::from_str(&token_body(&sb, &code)).expect("json");
    body["client_secret"] = json!("fake-signing-secret");
    let (s, _, b) = send(punchh_signed(
        &c,
        Method::POST,
        &sb,
        "/oauth/token",
        &body.to_string(),
    ))
    .await;
    assert_eq!(
        (s, b["error"].as_str()),
        (401, Some("invalid_client")),
        "{b}"
    );
}

#[tokio::test]
async fn the_user_level_endpoint_takes_only_the_user_level_token() {
    // seed 002: "supply it to the Fetch User Information API to retrieve a user-level
    // authentication or access token. You can then use that user-level token to authenticate API
    // calls for the remainder of the user's session."
    let sb = sandbox().await;
    let c = client();
    let code = authorize(&c, &sb, "st").await;
    let (s, _, tokens) = send(punchh_signed(
        &c,
        Method::POST,
        &sb,
        "/oauth/token",
        &token_body(&sb, &code),
    ))
    .await;
    assert_eq!(s, 200, "{tokens}");
    let client_level = tokens["access_token"].as_str().expect("token");
    let body = r#"{"client":"CLIENT_GOES_HERE"}"#;
    let (s, _, user) = send(
        punchh_signed(&c, Method::GET, &sb, "/api/auth/users", body).bearer_auth(client_level),
    )
    .await;
    assert_eq!(s, 200, "{user}");
    let user_level = user["authentication_token"].as_str().expect("token");
    assert_ne!(user_level, client_level);

    let (s, _, me) =
        send(punchh_signed(&c, Method::GET, &sb, "/api/sandbox/me", "").bearer_auth(user_level))
            .await;
    assert_eq!(s, 200, "{me}");
    assert_eq!(me["id"], 111_111_111);
    assert_eq!(me["email"], "test@example.com");
    let (s, _, b) =
        send(punchh_signed(&c, Method::GET, &sb, "/api/sandbox/me", "").bearer_auth(client_level))
            .await;
    assert_errors_base(s, &b, 401, None);
    let (s, _, b) = send(punchh_signed(&c, Method::GET, &sb, "/api/sandbox/me", "")).await;
    assert_errors_base(s, &b, 401, None);
    // The SSO's client-level token is refused too; its user's token is accepted.
    let (_, _, sso) = send(punchh_signed(
        &c,
        Method::POST,
        &sb,
        "/api/auth/sso",
        SSO_BODY,
    ))
    .await;
    let sso_access = sso["token"]["access_token"].as_str().expect("token");
    let (s, _, _) =
        send(punchh_signed(&c, Method::GET, &sb, "/api/sandbox/me", "").bearer_auth(sso_access))
            .await;
    assert_eq!(s, 401);
    let sso_user = sso["user"]["authentication_token"].as_str().expect("token");
    assert_ne!(sso_user, sso_access);
    let (s, _, _) =
        send(punchh_signed(&c, Method::GET, &sb, "/api/sandbox/me", "").bearer_auth(sso_user))
            .await;
    assert_eq!(s, 200);
}
