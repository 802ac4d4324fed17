//! Stream: API token, generate-session, one-time login token (atomic redemption), organizations.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use ssoflow_sandbox::SandboxHandle;

fn url(sb: &SandboxHandle, path: &str) -> String {
    format!("{}{path}", sb.credentials().stream.base_url)
}

async fn api_token(c: &reqwest::Client, sb: &SandboxHandle) -> String {
    let creds = &sb.credentials().stream;
    let (status, headers, body) = send(
        c.post(url(sb, "/oauth/token"))
            .basic_auth(&creds.client_id, Some(&creds.client_secret))
            .form(&[("grant_type", "client_credentials")]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["cache-control"], "no-store");
    body["access_token"].as_str().expect("token").to_owned()
}

fn session_request(org: &str, email: &str, role: &str) -> Value {
    json!({
        "provider_org_id": org,
        "role": role,
        "email": email,
        "full_name": "Sarah Johnson",
        "phone_number": "+1-555-123-4567",
    })
}

async fn login_token(c: &reqwest::Client, sb: &SandboxHandle, api: &str, req: &Value) -> String {
    let (status, _, body) = send(
        c.post(url(sb, "/white-label/generate-session"))
            .bearer_auth(api)
            .json(req),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["sso_login_token"].as_str().expect("token").to_owned()
}

async fn redeem(
    c: &reqwest::Client,
    sb: &SandboxHandle,
    code: &str,
) -> (u16, reqwest::header::HeaderMap, Value) {
    send(
        c.get(url(sb, "/redirect/sso"))
            .query(&[("code", code)])
            .header("Accept", "application/json"),
    )
    .await
}

#[tokio::test]
async fn token_endpoint_shapes_and_errors() {
    let sb = sandbox().await;
    let c = client();
    let creds = sb.credentials().stream.clone();
    let (status, _, body) = send(
        c.post(url(&sb, "/oauth/token"))
            .basic_auth(&creds.client_id, Some(&creds.client_secret))
            .form(&[("grant_type", "client_credentials")]),
    )
    .await;
    assert_eq!(status, 200);
    let mut keys: Vec<_> = body.as_object().expect("object").keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, ["access_token", "expires_in", "token_type"]);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);

    // client_secret_post works too.
    let (status, _, _) = send(c.post(url(&sb, "/oauth/token")).form(&[
        ("grant_type", "client_credentials"),
        ("client_id", creds.client_id.as_str()),
        ("client_secret", creds.client_secret.as_str()),
    ]))
    .await;
    assert_eq!(status, 200);

    let (s, h, b) = send(
        c.post(url(&sb, "/oauth/token"))
            .basic_auth(&creds.client_id, Some("wrong"))
            .form(&[("grant_type", "client_credentials")]),
    )
    .await;
    assert_eq!((s, b["error"].clone()), (401, json!("invalid_client")));
    assert!(
        h["www-authenticate"]
            .to_str()
            .expect("ascii")
            .starts_with("Basic")
    );
    let (s, _, b) = send(
        c.post(url(&sb, "/oauth/token"))
            .basic_auth(&creds.client_id, Some(&creds.client_secret))
            .form(&[("grant_type", "password")]),
    )
    .await;
    assert_eq!(
        (s, b["error"].clone()),
        (400, json!("unsupported_grant_type"))
    );
    let (s, _, b) = send(
        c.post(url(&sb, "/oauth/token"))
            .basic_auth(&creds.client_id, Some(&creds.client_secret))
            .json(&json!({"grant_type": "client_credentials"})),
    )
    .await;
    assert_eq!((s, b["error"].clone()), (400, json!("invalid_request")));
}

#[tokio::test]
async fn generate_session_and_redeem() {
    let sb = sandbox().await;
    let c = client();
    let api = api_token(&c, &sb).await;
    let req = fixture("stream_generate_session_request.json");
    let (status, _, body) = send(
        c.post(url(&sb, "/white-label/generate-session"))
            .bearer_auth(&api)
            .json(&req),
    )
    .await;
    assert_eq!(status, 200);
    assert_same_shape(&body, &fixture("stream_generate_session.json"));
    let code = body["sso_login_token"].as_str().expect("token");

    let (status, headers, body) = redeem(&c, &sb, code).await;
    assert_eq!(status, 200, "{body}");
    let cookie = headers["set-cookie"].to_str().expect("ascii");
    let session = body["session"].as_str().expect("session");
    assert_eq!(
        cookie,
        format!("stream_session={session}; Path=/stream; HttpOnly; SameSite=Lax")
    );
    assert_eq!(
        body["user"],
        json!({
            "email": req["email"],
            "full_name": req["full_name"],
            "phone_number": req["phone_number"],
            "role": req["role"],
        })
    );
    assert_eq!(
        body["organization"]["provider_org_id"],
        req["provider_org_id"]
    );
    assert!(body["organization"]["id"].is_string());

    // The session works as a cookie and as a Bearer token.
    let (s, _, me) = send(
        c.get(url(&sb, "/api/me"))
            .header("Cookie", format!("a=b; stream_session={session}")),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        me,
        json!({"user": body["user"], "organization": body["organization"]})
    );
    let (s, _, me2) = send(c.get(url(&sb, "/api/me")).bearer_auth(session)).await;
    assert_eq!((s, &me2), (200, &me));

    // Single use.
    let (s, _, b) = redeem(&c, &sb, code).await;
    assert_eq!((s, b["error"].clone()), (400, json!("sso_token_redeemed")));
    assert!(b["error_description"].is_string());
}

#[tokio::test]
async fn browser_redemption_redirects_with_a_cookie() {
    let sb = sandbox().await;
    let c = client();
    let api = api_token(&c, &sb).await;
    let code = login_token(&c, &sb, &api, &session_request("org", "a@b.c", "owner")).await;
    let resp = c
        .get(url(&sb, "/redirect/sso"))
        .query(&[("code", code.as_str())])
        .header("Accept", "text/html")
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status().as_u16(), 302);
    assert_eq!(resp.headers()["location"], "/stream/app");
    let cookie = resp.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        cookie.starts_with("stream_session=")
            && cookie.ends_with("; Path=/stream; HttpOnly; SameSite=Lax")
    );
    let session = cookie
        .trim_start_matches("stream_session=")
        .split(';')
        .next()
        .expect("value");
    let (s, _, me) = send(
        c.get(url(&sb, "/app"))
            .header("Cookie", format!("stream_session={session}")),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(me["user"]["role"], "owner");
}

#[tokio::test]
async fn redemption_errors() {
    let sb = sandbox().await;
    let c = client();
    let api = api_token(&c, &sb).await;
    let (s, _, b) = redeem(&c, &sb, "made-up").await;
    assert_eq!((s, b["error"].clone()), (400, json!("invalid_sso_token")));
    let (s, _, b) = send(c.get(url(&sb, "/redirect/sso"))).await;
    assert_eq!((s, b["error"].clone()), (400, json!("invalid_sso_token")));

    let code = login_token(&c, &sb, &api, &session_request("org", "a@b.c", "admin")).await;
    sb.advance_clock(Duration::from_secs(301));
    let (s, _, b) = redeem(&c, &sb, &code).await;
    assert_eq!((s, b["error"].clone()), (400, json!("sso_token_expired")));

    let code = login_token(&c, &sb, &api, &session_request("org", "a@b.c", "admin")).await;
    sb.advance_clock(Duration::from_secs(299));
    assert_eq!(redeem(&c, &sb, &code).await.0, 200);

    // No session, bad session.
    let (s, _, b) = send(c.get(url(&sb, "/api/me"))).await;
    assert_eq!((s, b["error"].clone()), (401, json!("unauthorized")));
    let (s, _, _) = send(
        c.get(url(&sb, "/api/me"))
            .header("Cookie", "stream_session=nope"),
    )
    .await;
    assert_eq!(s, 401);
}

#[tokio::test]
async fn generate_session_errors() {
    let sb = sandbox().await;
    let c = client();
    let api = api_token(&c, &sb).await;
    let good = session_request("org", "a@b.c", "manager");
    let endpoint = url(&sb, "/white-label/generate-session");

    let (s, _, b) = send(c.post(&endpoint).json(&good)).await;
    assert_eq!((s, b["error"].clone()), (401, json!("unauthorized")));
    let (s, _, _) = send(c.post(&endpoint).bearer_auth("bogus").json(&good)).await;
    assert_eq!(s, 401);

    for field in [
        "provider_org_id",
        "role",
        "email",
        "full_name",
        "phone_number",
    ] {
        for bad in [Value::Null, json!(""), json!(5)] {
            let mut req = good.clone();
            if bad.is_null() {
                req.as_object_mut().expect("object").remove(field);
            } else {
                req[field] = bad;
            }
            let (s, _, b) = send(c.post(&endpoint).bearer_auth(&api).json(&req)).await;
            assert_eq!(
                (s, b["error"].clone()),
                (422, json!("validation_error")),
                "{field}"
            );
            assert!(b["message"].is_string());
        }
    }
    let (s, _, b) = send(
        c.post(&endpoint)
            .bearer_auth(&api)
            .json(&session_request("org", "a@b.c", "boss")),
    )
    .await;
    assert_eq!((s, b["error"].clone()), (422, json!("validation_error")));
    let (s, _, _) = send(
        c.post(&endpoint)
            .bearer_auth(&api)
            .header("content-type", "application/json")
            .body("{"),
    )
    .await;
    assert_eq!(s, 400);

    // The API token expires.
    sb.advance_clock(Duration::from_secs(3601));
    let (s, _, _) = send(c.post(&endpoint).bearer_auth(&api).json(&good)).await;
    assert_eq!(s, 401);
}

#[tokio::test]
async fn organizations_group_by_provider_org_id() {
    let sb = sandbox().await;
    let c = client();
    let api = api_token(&c, &sb).await;
    let mut orgs = Vec::new();
    for (org, email) in [
        ("tonys_pizza_main", "tony@x"),
        ("tonys_pizza_main", "lisa@x"),
        ("marias_cafe_001", "maria@x"),
    ] {
        let code = login_token(&c, &sb, &api, &session_request(org, email, "owner")).await;
        let (_, _, body) = redeem(&c, &sb, &code).await;
        orgs.push(body["organization"].clone());
    }
    assert_eq!(orgs[0], orgs[1]);
    assert_ne!(orgs[0]["id"], orgs[2]["id"]);
    assert_eq!(orgs[2]["provider_org_id"], "marias_cafe_001");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_one_of_100_concurrent_redemptions_succeeds() {
    let sb = sandbox().await;
    let c = client();
    let api = api_token(&c, &sb).await;
    let code = login_token(&c, &sb, &api, &session_request("org", "race@x", "owner")).await;
    let target = url(&sb, "/redirect/sso");
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let (c, target, code) = (c.clone(), target.clone(), code.clone());
        tasks.push(tokio::spawn(async move {
            let (status, _, body) = send(
                c.get(&target)
                    .query(&[("code", code.as_str())])
                    .header("Accept", "application/json"),
            )
            .await;
            (status, body)
        }));
    }
    let mut ok = 0;
    for t in tasks {
        let (status, body) = t.await.expect("task");
        match status {
            200 => ok += 1,
            400 => assert_eq!(body["error"], "sso_token_redeemed"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(ok, 1);
}
