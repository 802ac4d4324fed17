//! The device authorization grant (RFC 8628) and token revocation (RFC 7009) of the `/oauth2`
//! server (a child module of `oauth2`: it issues and revokes that server's tokens).
//!
//! - `POST /oauth2/device_authorization` (form, §3.1–3.2): codes for the registered client
//!   (authenticated as at the token endpoint) or the public kiosk client (`client_id` only,
//!   `[oauth2] device_client_id`). `expires_in` is `device_code_ttl_s`, `interval` is
//!   `device_interval_s`.
//! - The token endpoint's `urn:ietf:params:oauth:grant-type:device_code` (§3.4–3.5):
//!   `authorization_pending` until the person decides, `slow_down` (and 5 s more for that code)
//!   when polled sooner than the interval after the previous poll (or the codes' issue),
//!   `access_denied`, `expired_token`; once approved, an access and a refresh token (a new
//!   family), redeemable once.
//! - `GET /oauth2/device` (`?user_code=` pre-fills it): the verification page, where a person
//!   types the user code and approves or denies; `POST /oauth2/device` (form `user_code`,
//!   `action=approve|deny`) decides and answers a page saying so.
//! - `POST /oauth2/revoke` (form, RFC 7009 §2): `token`, optional `token_type_hint`. A refresh
//!   token revokes its whole family, the access tokens issued from it included; an access token
//!   only itself; an unknown token is answered 200 too (§2.2); a hint other than
//!   `access_token`/`refresh_token` is `unsupported_token_type`.
//! - The kiosk client may also refresh the tokens it got (`refresh_token` grant by its id).
//! - Test hooks (with the other `/__sandbox/` hooks): `POST /__sandbox/device/approve` and
//!   `POST /__sandbox/device/deny`, JSON `{"user_code":S}` or `{}` for the newest undecided
//!   code, → 200 `{"user_code":S,"status":"approved"|"denied"}`.

use std::collections::HashMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::{
    Issue, OAuth2State, authenticate_client, bad_request, issue, parse_form, parse_params,
    requested_scope, token_response,
};
use crate::state::AppState;
use crate::util::{ct_eq, has_basic_scheme, json_response, parse_json, random_token};

/// The RFC 8628 grant type.
pub(super) const GRANT_DEVICE_CODE: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// What a `slow_down` adds to a code's interval (RFC 8628 §3.5).
const SLOW_DOWN_S: u64 = 5;
/// RFC 8628 §6.1: a base-20 alphabet without vowels (no words) and without look-alikes.
const USER_CODE_ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";

/// Device codes in flight, by device code; the user codes point at them.
#[derive(Debug, Default)]
pub(super) struct DeviceState {
    codes: HashMap<String, DeviceGrant>,
    by_user_code: HashMap<String, String>,
    /// Device codes in issue order (the hooks' "newest undecided").
    order: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    Pending,
    Approved,
    Denied,
    /// Approved, and the tokens were handed out: a second redemption is `invalid_grant`.
    Redeemed,
}

#[derive(Debug)]
struct DeviceGrant {
    client_id: String,
    scope: Option<String>,
    user_code: String,
    expires_ms: u64,
    interval_s: u64,
    /// The previous poll, or the codes' issue: a poll sooner than the interval after it is
    /// `slow_down`.
    last_poll_ms: u64,
    decision: Decision,
}

/// The device and revocation routes (under `/oauth2`).
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/oauth2/device_authorization", post(device_authorization))
        .route("/oauth2/device", get(verification_page).post(verify))
        .route("/oauth2/revoke", post(revoke))
}

/// The device test hooks (routed only with test hooks on).
pub(crate) fn hook_routes() -> Router<AppState> {
    Router::new()
        .route("/__sandbox/device/approve", post(hook_approve))
        .route("/__sandbox/device/deny", post(hook_deny))
}

/// The client a device or revocation request comes from: the registered (confidential) client,
/// authenticated as at the token endpoint, or the public kiosk client by its `client_id` alone.
fn device_client(
    app: &AppState,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<String, Response> {
    let cfg = &app.config.oauth2;
    if is_public_client(app, headers, form) {
        return Ok(cfg.device_client_id.clone());
    }
    authenticate_client(headers, form, &cfg.client_id, &cfg.client_secret)?;
    Ok(cfg.client_id.clone())
}

/// The request names the public kiosk client by its `client_id` alone (no secret anywhere).
pub(super) fn is_public_client(
    app: &AppState,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> bool {
    !has_basic_scheme(headers)
        && !form.contains_key("client_secret")
        && form
            .get("client_id")
            .is_some_and(|id| ct_eq(id, &app.config.oauth2.device_client_id))
}

/// `XXXX-XXXX` from [`USER_CODE_ALPHABET`].
fn new_user_code() -> String {
    let bytes = crate::util::random_bytes(8);
    let mut s = String::with_capacity(9);
    for (i, b) in bytes.iter().enumerate() {
        if i == 4 {
            s.push('-');
        }
        let c = USER_CODE_ALPHABET[usize::from(*b) % USER_CODE_ALPHABET.len()];
        s.push(char::from(c));
    }
    s
}

/// A user code as typed: upper case, without the dash or spaces (RFC 8628 §6.1).
fn normalize_user_code(typed: &str) -> String {
    typed
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

async fn device_authorization(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = match parse_form(&headers, &body) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let client_id = match device_client(&app, &headers, &form) {
        Ok(id) => id,
        Err(r) => return r,
    };
    let scope = match requested_scope(&form) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let cfg = &app.config.oauth2;
    let now = app.clock.now_ms();
    let device_code = random_token();
    let mut data = app.data();
    let st = &mut data.oauth2.device;
    // Drop codes that expired: the map stays as small as the codes alive.
    st.codes.retain(|_, g| g.expires_ms > now);
    let live = &st.codes;
    st.by_user_code.retain(|_, d| live.contains_key(d));
    st.order.retain(|d| live.contains_key(d));
    let user_code = loop {
        let c = new_user_code();
        if !st.by_user_code.contains_key(&normalize_user_code(&c)) {
            break c;
        }
    };
    st.by_user_code
        .insert(normalize_user_code(&user_code), device_code.clone());
    st.order.push(device_code.clone());
    st.codes.insert(
        device_code.clone(),
        DeviceGrant {
            client_id,
            scope,
            user_code: user_code.clone(),
            expires_ms: app.clock.expiry(cfg.device_code_ttl_s),
            interval_s: cfg.device_interval_s,
            last_poll_ms: now,
            decision: Decision::Pending,
        },
    );
    drop(data);
    let verification_uri = format!("{}/oauth2/device", app.base_url);
    token_response(&json!({
        "device_code": device_code,
        "user_code": user_code,
        "verification_uri": verification_uri,
        "verification_uri_complete": format!("{verification_uri}?user_code={user_code}"),
        "expires_in": cfg.device_code_ttl_s,
        "interval": cfg.device_interval_s,
    }))
}

/// The token endpoint's device-code grant (RFC 8628 §3.4–3.5). Authenticates the client itself:
/// the public kiosk client has no secret.
pub(super) fn device_code_grant(
    app: &AppState,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Response {
    let client_id = match device_client(app, headers, form) {
        Ok(id) => id,
        Err(r) => return r,
    };
    let Some(device_code) = form.get("device_code") else {
        return bad_request("invalid_request", "device_code is required");
    };
    let now = app.clock.now_ms();
    let mut data = app.data();
    let st: &mut OAuth2State = &mut data.oauth2;
    let Some(grant) = st.device.codes.get_mut(device_code) else {
        return bad_request("invalid_grant", "unknown device code");
    };
    if grant.client_id != client_id {
        return bad_request(
            "invalid_grant",
            "the device code was issued to another client",
        );
    }
    if grant.expires_ms <= now {
        return bad_request("expired_token", "the device code expired");
    }
    let too_soon = now
        < grant
            .last_poll_ms
            .saturating_add(grant.interval_s.saturating_mul(1000));
    grant.last_poll_ms = now;
    match grant.decision {
        Decision::Redeemed => bad_request("invalid_grant", "the device code was already used"),
        Decision::Denied => bad_request("access_denied", "the person declined the sign-in"),
        _ if too_soon => {
            grant.interval_s = grant.interval_s.saturating_add(SLOW_DOWN_S);
            bad_request(
                "slow_down",
                "polled sooner than the interval: wait 5 s more from now on",
            )
        }
        Decision::Pending => bad_request("authorization_pending", "the person has not decided yet"),
        Decision::Approved => {
            grant.decision = Decision::Redeemed;
            let scope = grant.scope.clone();
            let family = st.new_family();
            let body = issue(
                app,
                st,
                Issue {
                    sub: app.config.oauth2.username.clone(),
                    scope,
                    family: Some(family),
                    issued_token_type: false,
                },
            );
            token_response(&body)
        }
    }
}

/// Decide the undecided code `user_code` (as typed), or the newest undecided one when `None`.
/// The user code decided, or why not.
fn decide(app: &AppState, user_code: Option<&str>, approve: bool) -> Result<String, &'static str> {
    let now = app.clock.now_ms();
    let mut data = app.data();
    let st = &mut data.oauth2.device;
    let device_code = match user_code {
        Some(typed) => st
            .by_user_code
            .get(&normalize_user_code(typed))
            .cloned()
            .ok_or("no such code")?,
        None => st
            .order
            .iter()
            .rev()
            .find(|d| {
                st.codes
                    .get(*d)
                    .is_some_and(|g| g.decision == Decision::Pending && g.expires_ms > now)
            })
            .cloned()
            .ok_or("no code is waiting")?,
    };
    let grant = st.codes.get_mut(&device_code).ok_or("no such code")?;
    if grant.expires_ms <= now {
        return Err("this code has expired");
    }
    if grant.decision != Decision::Pending {
        return Err("this code was already used");
    }
    grant.decision = if approve {
        Decision::Approved
    } else {
        Decision::Denied
    };
    Ok(grant.user_code.clone())
}

/// Text for an HTML page: `& < > " '` escaped.
fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn html_page(status: StatusCode, title: &str, body: &str) -> Response {
    let page = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title></head>\n<body>\n<h1>{title}</h1>\n{body}\n</body></html>\n",
        title = escape_html(title),
    );
    let mut resp = Response::new(axum::body::Body::from(page));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; form-action 'self'"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    resp
}

async fn verification_page(RawQuery(query): RawQuery) -> Response {
    let params = parse_params(query.as_deref().unwrap_or("").as_bytes()).unwrap_or_default();
    let code = params.get("user_code").map(String::as_str).unwrap_or("");
    let body = format!(
        "<p>Enter the code shown on the device, then approve or deny its sign-in.</p>\n\
         <form method=\"post\" action=\"device\">\n\
         <label for=\"user_code\">Code</label>\n\
         <input id=\"user_code\" name=\"user_code\" value=\"{}\" autocomplete=\"off\" \
         autocapitalize=\"characters\" required>\n\
         <button type=\"submit\" name=\"action\" value=\"approve\">Approve</button>\n\
         <button type=\"submit\" name=\"action\" value=\"deny\">Deny</button>\n\
         </form>",
        escape_html(code)
    );
    html_page(StatusCode::OK, "Sign in a device", &body)
}

async fn verify(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let form = match parse_form(&headers, &body) {
        Ok(f) => f,
        Err(_) => {
            return html_page(
                StatusCode::BAD_REQUEST,
                "Not signed in",
                "<p>The form could not be read.</p>",
            );
        }
    };
    let approve = match form.get("action").map(String::as_str) {
        Some("approve") => true,
        Some("deny") => false,
        _ => {
            return html_page(
                StatusCode::BAD_REQUEST,
                "Not signed in",
                "<p>Choose approve or deny.</p>",
            );
        }
    };
    let Some(typed) = form.get("user_code") else {
        return html_page(
            StatusCode::BAD_REQUEST,
            "Not signed in",
            "<p>Enter the code shown on the device.</p>",
        );
    };
    match decide(&app, Some(typed), approve) {
        Ok(code) if approve => html_page(
            StatusCode::OK,
            "Device approved",
            &format!(
                "<p id=\"result\">Approved: the device showing <b>{}</b> is signing you in. \
                 You can close this page.</p>",
                escape_html(&code)
            ),
        ),
        Ok(code) => html_page(
            StatusCode::OK,
            "Device denied",
            &format!(
                "<p id=\"result\">Denied: the device showing <b>{}</b> will not be signed in.</p>",
                escape_html(&code)
            ),
        ),
        Err(why) => html_page(
            StatusCode::BAD_REQUEST,
            "Not signed in",
            &format!(
                "<p id=\"result\">The code was not accepted: {why}.</p>\n\
                 <p><a href=\"device\">Try again</a></p>"
            ),
        ),
    }
}

async fn revoke(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let form = match parse_form(&headers, &body) {
        Ok(f) => f,
        Err(r) => return r,
    };
    if let Err(r) = device_client(&app, &headers, &form) {
        return r;
    }
    let Some(token) = form.get("token") else {
        return bad_request("invalid_request", "token is required");
    };
    let hint = form.get("token_type_hint").map(String::as_str);
    if hint.is_some_and(|h| h != "access_token" && h != "refresh_token") {
        return bad_request(
            "unsupported_token_type",
            "only access_token and refresh_token can be revoked",
        );
    }
    let mut data = app.data();
    let st = &mut data.oauth2;
    // The hint only says where to look first (§2.1): both kinds are searched.
    if let Some(grant) = st.refresh.get(token) {
        let family = grant.family;
        st.revoked_families.insert(family);
        st.refresh.remove(token);
    } else {
        st.access.remove(token);
    }
    drop(data);
    let mut resp = Response::new(axum::body::Body::empty());
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

async fn hook_approve(State(app): State<AppState>, body: Bytes) -> Response {
    hook_decide(&app, &body, true)
}

async fn hook_deny(State(app): State<AppState>, body: Bytes) -> Response {
    hook_decide(&app, &body, false)
}

fn hook_decide(app: &AppState, body: &[u8], approve: bool) -> Response {
    let v = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        match parse_json(body) {
            Ok(v) => v,
            Err(_) => {
                return json_response(
                    StatusCode::BAD_REQUEST,
                    &json!({"error": "invalid_request", "message": "body is not valid JSON"}),
                );
            }
        }
    };
    let user_code = v.get("user_code").and_then(Value::as_str);
    match decide(app, user_code, approve) {
        Ok(code) => json_response(
            StatusCode::OK,
            &json!({"user_code": code, "status": if approve { "approved" } else { "denied" }}),
        ),
        Err(why) => json_response(
            StatusCode::NOT_FOUND,
            &json!({"error": "not_found", "message": why}),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_follow_rfc8628_6_1() {
        for _ in 0..100 {
            let c = new_user_code();
            assert_eq!(c.len(), 9);
            assert_eq!(c.as_bytes()[4], b'-');
            assert!(
                c.bytes()
                    .filter(|b| *b != b'-')
                    .all(|b| USER_CODE_ALPHABET.contains(&b))
            );
        }
        assert_eq!(normalize_user_code("wdjb-mjht"), "WDJBMJHT");
        assert_eq!(normalize_user_code(" WDJB MJHT "), "WDJBMJHT");
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape_html(r#"<script>"x"&'y'</script>"#),
            "&lt;script&gt;&quot;x&quot;&amp;&#39;y&#39;&lt;/script&gt;"
        );
    }
}
