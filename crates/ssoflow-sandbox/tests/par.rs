//! PAR Ordering: M2M token, token exchange, account linking, customer-info callback, menu-token expiry.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use serde_json::{Value, json};
use ssoflow_sandbox::{Config, SandboxHandle};

const TEST_TOKEN: &str = "test-1100-jane.doe@partech.com-Jane-Doe-+41767567126";

fn url(sb: &SandboxHandle, path: &str) -> String {
    format!("{}{path}", sb.credentials().par_ordering.base_url)
}

fn post(c: &reqwest::Client, sb: &SandboxHandle, path: &str) -> reqwest::RequestBuilder {
    par_headers(
        c.post(url(sb, path)),
        &sb.credentials().par_ordering.application_key,
    )
}

async fn m2m_token(c: &reqwest::Client, sb: &SandboxHandle) -> String {
    let creds = &sb.credentials().par_ordering;
    let (status, _, body) = send(
        post(c, sb, "/api/oauth/tokens")
            .basic_auth(&creds.client_id, Some(&creds.client_secret))
            .json(&json!({"grant_type": "client_credentials", "scope": "webhooks-management"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["data"]["oauth_token"]["access_token"]
        .as_str()
        .expect("token")
        .to_owned()
}

async fn sign_in(
    c: &reqwest::Client,
    sb: &SandboxHandle,
    m2m: &str,
    subject: &str,
) -> (u16, Value) {
    let (status, _, body) = send(post(c, sb, "/api/sts/users/sign-in").bearer_auth(m2m).json(
        &json!({
            "grant_type": "token_exchange",
            "subject_token": subject,
            "subject_token_type": "access_token",
        }),
    ))
    .await;
    (status, body)
}

async fn me(c: &reqwest::Client, sb: &SandboxHandle, menu_token: &str) -> (u16, Value) {
    let key = &sb.credentials().par_ordering.application_key;
    let (status, _, body) =
        send(par_headers(c.get(url(sb, "/api/customers/me")), key).bearer_auth(menu_token)).await;
    (status, body)
}

fn assert_error_envelope(status: u16, body: &Value, expected: u16) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["status"], "ERROR");
    assert_eq!(body["code"], expected);
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

#[tokio::test]
async fn m2m_token_matches_the_seed() {
    let sb = sandbox().await;
    let c = client();
    let creds = &sb.credentials().par_ordering;
    let (status, _, body) = send(
        post(&c, &sb, "/api/oauth/tokens")
            .header("X-Role-ID", "")
            .basic_auth(&creds.client_id, Some(&creds.client_secret))
            .json(&json!({"grant_type": "client_credentials", "scope": "webhooks-management"})),
    )
    .await;
    assert_eq!(status, 200);
    assert_same_shape(&body, &fixture("par_m2m_token.json"));
    let token = &body["data"]["oauth_token"];
    let access = token["access_token"].as_str().expect("string");
    assert_eq!(access.len(), 64);
    assert!(access.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(token["token_type"], "bearer");
    assert_eq!(token["scope"], "webhooks-management");
    assert_eq!(token["expires_in"], 86399);
    assert_eq!(body["status"], "OK");
    assert_eq!(body["code"], 200);
}

#[tokio::test]
async fn m2m_token_errors() {
    let sb = sandbox().await;
    let c = client();
    let creds = sb.credentials().par_ordering.clone();
    let body = json!({"grant_type": "client_credentials", "scope": "x"});
    let tokens_url = url(&sb, "/api/oauth/tokens");

    let (s, _, b) = send(
        post(&c, &sb, "/api/oauth/tokens")
            .basic_auth(&creds.client_id, Some("wrong"))
            .json(&body),
    )
    .await;
    assert_error_envelope(s, &b, 401);
    let (s, _, b) = send(post(&c, &sb, "/api/oauth/tokens").json(&body)).await;
    assert_error_envelope(s, &b, 401);

    let authed =
        |req: reqwest::RequestBuilder| req.basic_auth(&creds.client_id, Some(&creds.client_secret));
    // Missing or wrong Application key.
    let req = c
        .post(&tokens_url)
        .header("X-Request-ID", uuid::Uuid::new_v4().to_string())
        .header("Api-Version", "4.38.0")
        .header("X-Ordering-API", "true");
    let (s, _, b) = send(authed(req).json(&body)).await;
    assert_error_envelope(s, &b, 401);
    let (s, _, b) = send(authed(par_headers(c.post(&tokens_url), "nope")).json(&body)).await;
    assert_error_envelope(s, &b, 401);
    // Wrong Api-Version, X-Ordering-API, X-Request-ID.
    for (name, value) in [
        ("Api-Version", Some("1.0.0")),
        ("Api-Version", None),
        ("X-Ordering-API", Some("false")),
        ("X-Ordering-API", None),
        ("X-Request-ID", Some("not-a-uuid")),
        ("X-Request-ID", None),
    ] {
        let mut headers = reqwest::header::HeaderMap::new();
        for (n, v) in [
            ("Application", creds.application_key.as_str()),
            ("Api-Version", "4.38.0"),
            ("X-Ordering-API", "true"),
            ("X-Request-ID", "69da3547-204b-4093-a225-54e084c24215"),
        ] {
            let v = if n == name { value } else { Some(v) };
            if let Some(v) = v {
                headers.insert(n, v.parse().expect("header value"));
            }
        }
        let req = c.post(&tokens_url).headers(headers);
        let (s, _, b) = send(authed(req).json(&body)).await;
        assert_error_envelope(s, &b, 400);
    }
    // Content-Type: a JSON body must say so (415, the envelope).
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let mut req = authed(post(&c, &sb, "/api/oauth/tokens"));
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let (s, _, b) = send(req.body(body.to_string())).await;
        assert_error_envelope(s, &b, 415);
    }
    let (s, _, _) = send(
        authed(post(&c, &sb, "/api/oauth/tokens"))
            .header("content-type", "application/json; charset=utf-8")
            .body(body.to_string()),
    )
    .await;
    assert_eq!(s, 200, "a charset parameter is fine");
    // Malformed JSON, wrong grant type.
    let (s, _, b) = send(
        authed(post(&c, &sb, "/api/oauth/tokens"))
            .header("content-type", "application/json")
            .body("{not json"),
    )
    .await;
    assert_error_envelope(s, &b, 400);
    let (s, _, b) =
        send(authed(post(&c, &sb, "/api/oauth/tokens")).json(&json!({"grant_type": "password"})))
            .await;
    assert_error_envelope(s, &b, 422);
}

#[tokio::test]
async fn configured_api_version_is_accepted() {
    let mut config = Config::default();
    config.par_ordering.api_version = "5.0.0".into();
    let sb = sandbox_with(config).await;
    let c = client();
    let creds = &sb.credentials().par_ordering;
    for version in ["5.0.0", "4.38.0"] {
        let req = post(&c, &sb, "/api/oauth/tokens")
            .header("Api-Version", version)
            .basic_auth(&creds.client_id, Some(&creds.client_secret))
            .json(&json!({"grant_type": "client_credentials", "scope": "s"}));
        assert_eq!(send(req).await.0, 200, "{version}");
    }
}

#[tokio::test]
async fn sign_in_with_a_test_token_matches_the_seed() {
    let sb = sandbox().await;
    let c = client();
    let m2m = m2m_token(&c, &sb).await;
    let (status, body) = sign_in(&c, &sb, &m2m, TEST_TOKEN).await;
    assert_eq!(status, 200, "{body}");
    assert_same_shape(&body, &fixture("par_sign_in.json"));
    let account = &body["data"]["customer_account"];
    assert_eq!(account["first_name"], "Jane");
    assert_eq!(account["last_name"], "Doe");
    assert_eq!(account["email"], "jane.doe@partech.com");
    assert_eq!(account["phone_number"], "+41767567126");
    assert_eq!(account["reference_type"], "CustomerAccount");
    assert!(uuid::Uuid::try_parse(account["id"].as_str().expect("id")).is_ok());
    let created = account["created_at"].as_str().expect("created_at");
    assert_eq!(created.len(), "2023-09-20 07:38:15".len());
    assert_eq!(&created[4..5], "-");
    assert_eq!(&created[10..11], " ");
    let token = &body["data"]["token"];
    assert_eq!(token["ttl"], 60);
    assert_eq!(token["token_type"], "Bearer");
    assert_eq!(token["issued_token_type"], "access_token");
    let menu = token["value"].as_str().expect("menu token");
    assert_eq!(menu.split('.').count(), 3, "JWT-shaped");
    let claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(menu.split('.').nth(1).expect("payload"))
            .expect("base64url"),
    )
    .expect("JSON claims");
    assert_eq!(claims["sub"], account["id"]);
    // seed 000: `"ttl": 60,` beside a JWT whose `exp - iat` is 3600: ttl counts minutes.
    assert_eq!(
        claims["exp"].as_u64().expect("exp") - claims["iat"].as_u64().expect("iat"),
        60 * 60
    );

    // The same subject always maps to the same account.
    let (_, again) = sign_in(&c, &sb, &m2m, TEST_TOKEN).await;
    assert_eq!(again["data"]["customer_account"]["id"], account["id"]);

    let (status, me_body) = me(&c, &sb, menu).await;
    assert_eq!(status, 200, "{me_body}");
    assert_eq!(me_body["status"], "OK");
    assert_same_shape(
        &me_body["data"]["customer_account"],
        &fixture("par_sign_in.json")["data"]["customer_account"],
    );
    assert_eq!(me_body["data"]["customer_account"], *account);
}

#[tokio::test]
async fn punchh_linked_brands_get_a_dlc_token() {
    let mut config = Config::default();
    config.par_ordering.punchh_linked = true;
    let sb = sandbox_with(config).await;
    let c = client();
    let m2m = m2m_token(&c, &sb).await;
    let (status, body) = sign_in(&c, &sb, &m2m, TEST_TOKEN).await;
    assert_eq!(status, 200);
    assert_same_shape(&body, &fixture("par_sign_in_punchh.json"));
    assert_eq!(body["data"]["dlc_access_token"]["refresh_ttl"], 0);
    assert_eq!(body["data"]["dlc_access_token"]["token_type"], "Bearer");
    assert_eq!(body["data"]["dlc_access_token"]["ttl"], 60);
}

/// `GET /par/api/customers/me/loyalty` (emulator-only) with the given tokens.
async fn loyalty(
    c: &reqwest::Client,
    sb: &SandboxHandle,
    menu: &str,
    dlc: Option<&str>,
) -> (u16, Value) {
    let key = &sb.credentials().par_ordering.application_key;
    let mut req = par_headers(c.get(url(sb, "/api/customers/me/loyalty")), key).bearer_auth(menu);
    if let Some(dlc) = dlc {
        req = req.header("DLC-Authorization", format!("Bearer {dlc}"));
    }
    let (status, _, body) = send(req).await;
    (status, body)
}

#[tokio::test]
async fn the_dlc_token_authorizes_punchh_specific_calls_until_it_expires() {
    // seed 000: "an additional dlc-token is received that will be later used for Punchh
    // specific calls in DLC-Authorization header"
    let mut config = Config::default();
    config.par_ordering.punchh_linked = true;
    let sb = sandbox_with(config).await;
    let c = client();
    let m2m = m2m_token(&c, &sb).await;
    let (_, body) = sign_in(&c, &sb, &m2m, TEST_TOKEN).await;
    let menu = body["data"]["token"]["value"].as_str().expect("menu");
    let dlc = body["data"]["dlc_access_token"]["value"]
        .as_str()
        .expect("dlc");
    let (s, b) = loyalty(&c, &sb, menu, Some(dlc)).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["data"]["loyalty"]["email"], "jane.doe@partech.com");
    // Without the DLC token, with the menu token in its place, or with another account's.
    let (s, b) = loyalty(&c, &sb, menu, None).await;
    assert_error_envelope(s, &b, 401);
    let (s, b) = loyalty(&c, &sb, menu, Some(menu)).await;
    assert_error_envelope(s, &b, 401);
    let (_, other) = sign_in(&c, &sb, &m2m, "test-7-kim@example.com-Kim-Lee-+15550100").await;
    let other_dlc = other["data"]["dlc_access_token"]["value"]
        .as_str()
        .expect("dlc");
    let (s, b) = loyalty(&c, &sb, menu, Some(other_dlc)).await;
    assert_error_envelope(s, &b, 401);
    // The DLC token lives `ttl` minutes too.
    sb.advance_clock(Duration::from_secs(3601));
    let (s, b) = loyalty(&c, &sb, menu, Some(dlc)).await;
    assert_error_envelope(s, &b, 401);
}

#[tokio::test]
async fn sign_in_errors() {
    let sb = sandbox().await;
    let c = client();
    let m2m = m2m_token(&c, &sb).await;
    let valid = json!({"grant_type": "token_exchange", "subject_token": TEST_TOKEN, "subject_token_type": "access_token"});

    let (s, _, b) = send(post(&c, &sb, "/api/sts/users/sign-in").json(&valid)).await;
    assert_error_envelope(s, &b, 401);
    // A JSON body without `Content-Type: application/json`.
    let (s, _, b) = send(
        post(&c, &sb, "/api/sts/users/sign-in")
            .bearer_auth(&m2m)
            .body(valid.to_string()),
    )
    .await;
    assert_error_envelope(s, &b, 415);
    let (s, _, b) = send(
        post(&c, &sb, "/api/sts/users/sign-in")
            .bearer_auth("f".repeat(64))
            .json(&valid),
    )
    .await;
    assert_error_envelope(s, &b, 401);

    for (field, value) in [
        ("grant_type", json!("client_credentials")),
        ("subject_token_type", json!("id_token")),
        ("subject_token", json!("")),
    ] {
        let mut body = valid.clone();
        body[field] = value;
        let (s, _, b) = send(
            post(&c, &sb, "/api/sts/users/sign-in")
                .bearer_auth(&m2m)
                .json(&body),
        )
        .await;
        assert_error_envelope(s, &b, 422);
    }
    let mut missing = valid.clone();
    missing
        .as_object_mut()
        .expect("object")
        .remove("subject_token");
    let (s, _, b) = send(
        post(&c, &sb, "/api/sts/users/sign-in")
            .bearer_auth(&m2m)
            .json(&missing),
    )
    .await;
    assert_error_envelope(s, &b, 422);
    let (s, _, b) = send(
        post(&c, &sb, "/api/sts/users/sign-in")
            .bearer_auth(&m2m)
            .header("content-type", "application/json")
            .body("["),
    )
    .await;
    assert_error_envelope(s, &b, 400);

    // Not a test token and no customer-info endpoint configured.
    let (s, b) = sign_in(&c, &sb, &m2m, "some-opaque-customer-token").await;
    assert_error_envelope(s, &b, 401);
    let (s, b) = sign_in(&c, &sb, &m2m, "test-1100-no-fields").await;
    assert_error_envelope(s, &b, 401);

    // The M2M token expires on the sandbox clock.
    sb.advance_clock(Duration::from_secs(86_400));
    let (s, b) = sign_in(&c, &sb, &m2m, TEST_TOKEN).await;
    assert_error_envelope(s, &b, 401);
}

#[tokio::test]
async fn menu_token_expires_on_the_sandbox_clock() {
    let sb = sandbox().await;
    let c = client();
    let m2m = m2m_token(&c, &sb).await;
    let (_, body) = sign_in(&c, &sb, &m2m, TEST_TOKEN).await;
    let menu = body["data"]["token"]["value"]
        .as_str()
        .expect("token")
        .to_owned();
    assert_eq!(me(&c, &sb, &menu).await.0, 200);
    // seed 000: `"ttl": 60` is minutes — the token still works after 59 min 59 s.
    sb.advance_clock(Duration::from_secs(3599));
    assert_eq!(me(&c, &sb, &menu).await.0, 200);
    sb.advance_clock(Duration::from_secs(2));
    let (s, b) = me(&c, &sb, &menu).await;
    assert_error_envelope(s, &b, 401);
    // Refresh-on-401: signing in again gives a working token for the same account.
    let (_, again) = sign_in(&c, &sb, &m2m, TEST_TOKEN).await;
    assert_eq!(
        again["data"]["customer_account"]["id"],
        body["data"]["customer_account"]["id"]
    );
    let fresh = again["data"]["token"]["value"].as_str().expect("token");
    assert_eq!(me(&c, &sb, fresh).await.0, 200);
    let (s, b) = me(&c, &sb, "not-a-token").await;
    assert_error_envelope(s, &b, 401);
}

#[tokio::test]
async fn test_tokens_link_by_id_and_sync_details() {
    let sb = sandbox().await;
    let c = client();
    let m2m = m2m_token(&c, &sb).await;
    let (_, first) = sign_in(&c, &sb, &m2m, "test-42-a-b@example.com-Ann-Lee-+1555").await;
    let (_, renamed) = sign_in(&c, &sb, &m2m, "test-42-new-mail@example.com-Annie-Li-+1666").await;
    let (a, b) = (
        &first["data"]["customer_account"],
        &renamed["data"]["customer_account"],
    );
    assert_eq!(a["email"], "a-b@example.com");
    assert_eq!(a["id"], b["id"], "same identity-provider id, same account");
    assert_eq!(b["email"], "new-mail@example.com");
    assert_eq!(b["first_name"], "Annie");
    assert_eq!(b["last_name"], "Li");
    assert_eq!(b["phone_number"], "+1666");
    let (_, other) = sign_in(&c, &sb, &m2m, "test-43-someone@example.com-X-Y-+1").await;
    assert_ne!(other["data"]["customer_account"]["id"], a["id"]);
}

/// What the fake ordering application answers, and what it was asked.
#[derive(Default)]
struct CustomerInfo {
    answer: Option<Value>,
    status: u16,
    seen: Vec<(Option<String>, Value)>,
}

async fn customer_info(
    State(info): State<Arc<Mutex<CustomerInfo>>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (axum::http::StatusCode, Json<Value>) {
    let mut info = info.lock().expect("lock");
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    info.seen.push((auth, body));
    let status = axum::http::StatusCode::from_u16(info.status).expect("status");
    (status, Json(info.answer.clone().unwrap_or(json!({}))))
}

async fn customer_info_app(info: Arc<Mutex<CustomerInfo>>) -> String {
    let app = axum::Router::new()
        .route("/customer-info", axum::routing::post(customer_info))
        .with_state(info);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}/customer-info")
}

fn jwt_with_sub(sub: &str) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
    let payload =
        URL_SAFE_NO_PAD.encode(json!({"sub": sub, "iss": "https://idp.example"}).to_string());
    format!("{header}.{payload}.c2lnbmF0dXJl")
}

#[tokio::test]
async fn customer_info_callback_registers_syncs_and_links_by_email() {
    let uuid = "1df3d3b3-d2b6-4126-93f2-1fdbd419268b";
    let info = Arc::new(Mutex::new(CustomerInfo {
        status: 200,
        answer: Some(json!({
            "customer_account_uuid": uuid,
            "first_name": "John",
            "last_name": "Doe",
            "email": "john.doe@mail.com",
            "phone_number": "+23533674523",
        })),
        seen: Vec::new(),
    }));
    let info_url = customer_info_app(info.clone()).await;
    let sb = ssoflow_sandbox::Sandbox::builder()
        .customer_info_url(info_url)
        .start()
        .await
        .expect("starts");
    let c = client();
    let m2m = m2m_token(&c, &sb).await;
    let subject = jwt_with_sub(uuid);

    let (status, first) = sign_in(&c, &sb, &m2m, &subject).await;
    assert_eq!(status, 200, "{first}");
    let account = first["data"]["customer_account"].clone();
    assert_eq!(account["email"], "john.doe@mail.com");
    assert_eq!(account["first_name"], "John");
    assert_eq!(account["phone_number"], "+23533674523");
    {
        let info = info.lock().expect("lock");
        let (auth, body) = info.seen.last().expect("called");
        assert_eq!(auth.as_deref(), Some(format!("Bearer {subject}").as_str()));
        assert_eq!(*body, json!({"customer_account_uuid": uuid}));
    }

    // The customer changes their email at the identity provider: the next sign-in syncs it.
    info.lock().expect("lock").answer.as_mut().expect("answer")["email"] =
        json!("john@new.example");
    let (_, second) = sign_in(&c, &sb, &m2m, &subject).await;
    assert_eq!(second["data"]["customer_account"]["id"], account["id"]);
    assert_eq!(
        second["data"]["customer_account"]["email"],
        "john@new.example"
    );
    let menu = second["data"]["token"]["value"].as_str().expect("token");
    assert_eq!(
        me(&c, &sb, menu).await.1["data"]["customer_account"]["email"],
        "john@new.example"
    );

    // A test token with another identity-provider id but the same email binds to that account.
    let (_, bound) = sign_in(
        &c,
        &sb,
        &m2m,
        "test-2000-john@new.example-John-Doe-+23533674523",
    )
    .await;
    assert_eq!(bound["data"]["customer_account"]["id"], account["id"]);
    let (_, again) = sign_in(&c, &sb, &m2m, "test-2000-other@example.com-John-Doe-+1").await;
    assert_eq!(
        again["data"]["customer_account"]["id"], account["id"],
        "id 2000 is bound now"
    );

    // An opaque (non-JWT) subject token is sent as the uuid itself.
    let (status, _) = sign_in(&c, &sb, &m2m, "opaque-token-123").await;
    assert_eq!(status, 200);
    assert_eq!(
        info.lock().expect("lock").seen.last().expect("called").1,
        json!({"customer_account_uuid": "opaque-token-123"})
    );

    // The ordering application refuses: 401 envelope.
    info.lock().expect("lock").status = 404;
    let (s, b) = sign_in(&c, &sb, &m2m, &subject).await;
    assert_error_envelope(s, &b, 401);
    info.lock().expect("lock").status = 200;
    info.lock().expect("lock").answer = Some(json!({"customer_account_uuid": uuid}));
    let (s, b) = sign_in(&c, &sb, &m2m, &subject).await;
    assert_error_envelope(s, &b, 401);
}

#[tokio::test]
async fn unreachable_customer_info_is_a_401() {
    // Bind and drop a listener to get a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let sb = ssoflow_sandbox::Sandbox::builder()
        .customer_info_url(format!("http://127.0.0.1:{port}/customer-info"))
        .start()
        .await
        .expect("starts");
    let c = client();
    let m2m = m2m_token(&c, &sb).await;
    let (s, b) = sign_in(&c, &sb, &m2m, "opaque").await;
    assert_error_envelope(s, &b, 401);
}
