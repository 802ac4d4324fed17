//! The device authorization grant (RFC 8628) and token revocation (RFC 7009) of `/oauth2`:
//! codes, polling (pending, slow_down, denied, expired), the verification page, the hooks, and
//! revocation of access and refresh tokens.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use ssoflow_sandbox::{Config, SandboxHandle};

const GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

fn url(sb: &SandboxHandle, path: &str) -> String {
    format!("{}{path}", sb.credentials().oauth2.base_url)
}

fn kiosk(sb: &SandboxHandle) -> String {
    sb.credentials().oauth2.device_client_id.clone()
}

/// Device codes for the public kiosk client.
async fn codes(c: &reqwest::Client, sb: &SandboxHandle, scope: Option<&str>) -> Value {
    let id = kiosk(sb);
    let mut form = vec![("client_id", id.as_str())];
    if let Some(s) = scope {
        form.push(("scope", s));
    }
    let (s, headers, body) = send(
        c.post(url(sb, "/device_authorization"))
            .header("Accept", "application/json")
            .form(&form),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(headers["cache-control"], "no-store");
    body
}

async fn poll(c: &reqwest::Client, sb: &SandboxHandle, device_code: &str) -> (u16, Value) {
    let id = kiosk(sb);
    let (s, _, b) = send(c.post(url(sb, "/token")).form(&[
        ("grant_type", GRANT),
        ("device_code", device_code),
        ("client_id", id.as_str()),
    ]))
    .await;
    (s, b)
}

async fn hook(c: &reqwest::Client, sb: &SandboxHandle, what: &str, body: Value) -> (u16, Value) {
    let (s, _, b) = send(
        c.post(format!("{}/__sandbox/device/{what}", sb.base_url()))
            .json(&body),
    )
    .await;
    (s, b)
}

async fn revoke(
    c: &reqwest::Client,
    sb: &SandboxHandle,
    token: &str,
    hint: Option<&str>,
) -> reqwest::Response {
    let creds = &sb.credentials().oauth2;
    let mut form = vec![("token", token)];
    if let Some(h) = hint {
        form.push(("token_type_hint", h));
    }
    c.post(url(sb, "/revoke"))
        .basic_auth(&creds.client_id, Some(&creds.client_secret))
        .form(&form)
        .send()
        .await
        .unwrap()
}

async fn userinfo_status(c: &reqwest::Client, sb: &SandboxHandle, access: &str) -> u16 {
    c.get(url(sb, "/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn rfc8628_codes_pending_slow_down_approve_token_once() {
    let sb = sandbox().await;
    let c = client();
    let a = codes(&c, &sb, Some("read")).await;
    // §3.2's members.
    let user_code = a["user_code"].as_str().unwrap().to_owned();
    assert_eq!(user_code.len(), 9, "{a}");
    assert_eq!(
        a["verification_uri"],
        format!("{}/oauth2/device", sb.base_url())
    );
    assert_eq!(
        a["verification_uri_complete"],
        format!("{}/oauth2/device?user_code={user_code}", sb.base_url())
    );
    assert_eq!(a["expires_in"], 600);
    assert_eq!(a["interval"], 1);
    let device_code = a["device_code"].as_str().unwrap();
    // Polled at once: sooner than the interval after the issue.
    let (s, b) = poll(&c, &sb, device_code).await;
    assert_eq!((s, b["error"].as_str()), (400, Some("slow_down")), "{b}");
    // The interval is now 6 s; the sandbox clock moves instead of the test waiting.
    sb.advance_clock(Duration::from_secs(6));
    let (s, b) = poll(&c, &sb, device_code).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (400, Some("authorization_pending"))
    );
    let (s, b) = hook(&c, &sb, "approve", json!({})).await;
    assert_eq!(s, 200);
    assert_eq!(b, json!({"user_code": user_code, "status": "approved"}));
    sb.advance_clock(Duration::from_secs(6));
    let (s, b) = poll(&c, &sb, device_code).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["scope"], "read");
    assert!(b["refresh_token"].is_string());
    let access = b["access_token"].as_str().unwrap();
    assert_eq!(userinfo_status(&c, &sb, access).await, 200);
    // The public kiosk client refreshes by its id alone (the refresh token rotates).
    let id = kiosk(&sb);
    let (s, _, r) = send(c.post(url(&sb, "/token")).form(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", b["refresh_token"].as_str().unwrap()),
        ("client_id", id.as_str()),
    ]))
    .await;
    assert_eq!(s, 200, "{r}");
    let (s, _, r) = send(c.post(url(&sb, "/token")).form(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", r["refresh_token"].as_str().unwrap()),
        ("client_id", "not-a-client"),
    ]))
    .await;
    assert_eq!((s, r["error"].as_str()), (401, Some("invalid_client")));
    // Redeemable once.
    sb.advance_clock(Duration::from_secs(6));
    let (s, b) = poll(&c, &sb, device_code).await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_grant")));
}

#[tokio::test]
async fn denied_expired_unknown_and_other_clients() {
    let mut config = Config::default();
    config.oauth2.device_code_ttl_s = 30;
    let sb = sandbox_with(config).await;
    let c = client();
    let a = codes(&c, &sb, None).await;
    let (s, _) = hook(&c, &sb, "deny", json!({"user_code": a["user_code"]})).await;
    assert_eq!(s, 200);
    sb.advance_clock(Duration::from_secs(2));
    let (s, b) = poll(&c, &sb, a["device_code"].as_str().unwrap()).await;
    assert_eq!((s, b["error"].as_str()), (400, Some("access_denied")));
    // A decided code cannot be decided again.
    let (s, _) = hook(&c, &sb, "approve", json!({"user_code": a["user_code"]})).await;
    assert_eq!(s, 404);

    let a = codes(&c, &sb, None).await;
    sb.advance_clock(Duration::from_secs(31));
    let (s, b) = poll(&c, &sb, a["device_code"].as_str().unwrap()).await;
    assert_eq!((s, b["error"].as_str()), (400, Some("expired_token")));
    let (s, _) = hook(&c, &sb, "approve", json!({"user_code": a["user_code"]})).await;
    assert_eq!(s, 404);

    let (s, b) = poll(&c, &sb, "no-such-code").await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_grant")));
    // A code of the kiosk client polled by the confidential client: refused.
    let a = codes(&c, &sb, None).await;
    let creds = &sb.credentials().oauth2;
    let (s, _, b) = send(
        c.post(url(&sb, "/token"))
            .basic_auth(&creds.client_id, Some(&creds.client_secret))
            .form(&[
                ("grant_type", GRANT),
                ("device_code", a["device_code"].as_str().unwrap()),
            ]),
    )
    .await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_grant")));
    // An unknown public client gets no codes.
    let (s, _, b) = send(
        c.post(url(&sb, "/device_authorization"))
            .form(&[("client_id", "not-a-client")]),
    )
    .await;
    assert_eq!((s, b["error"].as_str()), (401, Some("invalid_client")));
}

#[tokio::test]
async fn the_verification_page_approves_and_denies_by_form() {
    let sb = sandbox().await;
    let c = client();
    let a = codes(&c, &sb, None).await;
    let page = c
        .get(a["verification_uri_complete"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert_eq!(
        page.headers()["content-security-policy"],
        "default-src 'none'; form-action 'self'"
    );
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    let html = page.text().await.unwrap();
    let user_code = a["user_code"].as_str().unwrap();
    assert!(html.contains(&format!("value=\"{user_code}\"")), "{html}");
    assert!(html.contains("value=\"approve\"") && html.contains("value=\"deny\""));
    // Typed in lower case with a space: still the code (RFC 8628 §6.1).
    let typed = user_code.to_lowercase().replace('-', " ");
    let done = c
        .post(url(&sb, "/device"))
        .form(&[("user_code", typed.as_str()), ("action", "approve")])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    assert!(done.text().await.unwrap().contains("Approved"));
    sb.advance_clock(Duration::from_secs(2));
    let (s, b) = poll(&c, &sb, a["device_code"].as_str().unwrap()).await;
    assert_eq!(s, 200, "{b}");
    // A wrong code is refused on the page; markup in it is escaped.
    let bad = c
        .post(url(&sb, "/device"))
        .form(&[("user_code", "<b>nope</b>"), ("action", "deny")])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("not accepted"));
    let page = c
        .get(format!("{}?user_code=%3Cscript%3E", url(&sb, "/device")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!page.contains("<script>") && page.contains("&lt;script&gt;"));
}

/// A password-grant sign-in (an access and a refresh token).
async fn login(c: &reqwest::Client, sb: &SandboxHandle) -> Value {
    let creds = &sb.credentials().oauth2;
    let (s, _, b) = send(
        c.post(url(sb, "/token"))
            .basic_auth(&creds.client_id, Some(&creds.client_secret))
            .form(&[
                ("grant_type", "password"),
                ("username", creds.username.as_str()),
                ("password", creds.password.as_str()),
            ]),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    b
}

#[tokio::test]
async fn rfc7009_refresh_revokes_its_access_tokens_access_only_itself_unknown_is_200() {
    let sb = sandbox().await;
    let c = client();
    let creds = sb.credentials().oauth2.clone();
    // Access token alone: only it.
    let t1 = login(&c, &sb).await;
    let t2 = login(&c, &sb).await;
    let r = revoke(
        &c,
        &sb,
        t1["access_token"].as_str().unwrap(),
        Some("access_token"),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(
        userinfo_status(&c, &sb, t1["access_token"].as_str().unwrap()).await,
        401
    );
    assert_eq!(
        userinfo_status(&c, &sb, t2["access_token"].as_str().unwrap()).await,
        200
    );
    // Refresh token, hinted wrongly: found anyway; its access token dies with it, and it
    // refreshes no more.
    let r = revoke(
        &c,
        &sb,
        t2["refresh_token"].as_str().unwrap(),
        Some("access_token"),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        userinfo_status(&c, &sb, t2["access_token"].as_str().unwrap()).await,
        401
    );
    let (s, _, b) = send(
        c.post(url(&sb, "/token"))
            .basic_auth(&creds.client_id, Some(&creds.client_secret))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", t2["refresh_token"].as_str().unwrap()),
            ]),
    )
    .await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_grant")));
    // Unknown, and again: 200 (§2.2).
    assert_eq!(revoke(&c, &sb, "never-issued", None).await.status(), 200);
    assert_eq!(
        revoke(&c, &sb, t1["access_token"].as_str().unwrap(), None)
            .await
            .status(),
        200
    );
    // An unknown hint and a missing client.
    let (s, _, b) = send(
        c.post(url(&sb, "/revoke"))
            .basic_auth(&creds.client_id, Some(&creds.client_secret))
            .form(&[("token", "x"), ("token_type_hint", "id_token")]),
    )
    .await;
    assert_eq!(
        (s, b["error"].as_str()),
        (400, Some("unsupported_token_type"))
    );
    let (s, _, b) = send(c.post(url(&sb, "/revoke")).form(&[("token", "x")])).await;
    assert_eq!((s, b["error"].as_str()), (401, Some("invalid_client")));
}
