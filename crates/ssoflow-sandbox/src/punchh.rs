//! Punchh under `/punchh` (seeds 001, 002): SSO access token, authorization-code SSO, user information.
//!
//! Every call except the browser page `/oauth/authorize` (`GET`, and the sign-in form's `POST`)
//! must carry the four headers seeds 001 and 002 mark "required", checked in this order:
//! - `x-pch-digest`: lowercase hex `HMAC(signing secret, uri + body)`, `uri` being path and query
//!   after the `/punchh` prefix; HMAC-SHA1 for `/api/…` and `/oauth/…`, HMAC-SHA256 for `/api2/…`.
//!   Wrong or missing: 412 `{"errors":{"base":["Invalid signature"]}}`.
//! - `User-Agent` (not blank): missing 400.
//! - `Accept`: missing 400; present but admitting no `application/json` 406.
//! - `Content-Type: application/json` (even on a call without a body): missing 400, another type 415.
//!
//! Every refusal has Punchh's shape `{"errors":{"base":[…]}}`.
//!
//! - `POST /punchh/api/auth/sso` → 200 `{"token":{"access_token"},"user":{..}}`
//! - `GET /punchh/oauth/authorize` → with auto-approval (a test hook) 302
//!   `redirect_uri?code=…&state=…`; otherwise the Punchh-hosted sign-in form of [`crate::login`]
//!   (email and password of `[punchh.user]`), posted back to `POST /punchh/oauth/authorize`
//! - `POST /punchh/oauth/token` → 200 `{"access_token","token_type","refresh_token","scope","created_at"}`
//! - `GET /punchh/api/auth/users` (and the mobile `GET /punchh/api2/mobile/users/profile`) → 200 user
//! - `GET /punchh/api/sandbox/me` (**emulator only**, no Punchh endpoint): the signed-in user for a
//!   user-level token (the user's `authentication_token`); a client-level access token is 401.
//!
//! Client-level access tokens (from `/oauth/token` and `/api/auth/sso`'s `token`) and user-level
//! tokens (the user object's `authentication_token`) are distinct.

use std::collections::{HashMap, HashSet};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use axum::routing::{get, post};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha1::Sha1;
use sha2::Sha256;

use crate::login;
use crate::oauth2::{oauth_error, redirect};
use crate::state::AppState;
use crate::util::{
    append_query, bearer, content_type_is, ct_eq, format_iso_time, header_str, hex, json_response,
    parse_json, random_token, str_field,
};

/// Prefix under which Punchh is mounted; the digest covers what follows it.
const PREFIX: &str = "/punchh";
/// How long an authorization code stays redeemable, milliseconds.
const CODE_TTL_MS: u64 = 600_000;
const SIGN_IN_FIRST: &str = "You need to sign in or sign up before continuing.";

/// Punchh data: issued access tokens and authorization codes.
#[derive(Debug)]
pub(crate) struct PunchhState {
    /// Client-level access tokens (`/oauth/token`, `/api/auth/sso`), accepted as
    /// `Authorization: Bearer` on the user-information calls only.
    access_tokens: HashSet<String>,
    /// Authorization code → (redirect_uri, expiry ms).
    codes: HashMap<String, (String, u64)>,
    /// The test user's user-level `authentication_token`: accepted as a Bearer token on the
    /// user-information calls and on the user-level endpoint.
    authentication_token: String,
}

impl PunchhState {
    /// Fresh state with a random authentication token for the test user.
    pub(crate) fn new() -> Self {
        Self {
            access_tokens: HashSet::new(),
            codes: HashMap::new(),
            authentication_token: random_token(),
        }
    }
}

/// The `/punchh` routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/punchh/api/auth/sso", post(sso))
        .route(
            "/punchh/oauth/authorize",
            get(authorize).post(login::submit),
        )
        .route("/punchh/oauth/token", post(token))
        .route("/punchh/api/auth/users", get(user_info))
        .route("/punchh/api2/mobile/users/profile", get(user_info))
        .route("/punchh/api/sandbox/me", get(user_level_me))
}

/// `x-pch-digest` of a request: lowercase hex HMAC of `uri + body`, SHA-256 for mobile (`/api2/`)
/// paths and SHA-1 otherwise. `uri` is the path and query after the base URL.
pub fn digest(secret: &str, uri: &str, body: &[u8]) -> String {
    if uri.starts_with("/api2/") {
        hmac_hex::<Hmac<Sha256>>(secret, uri, body)
    } else {
        hmac_hex::<Hmac<Sha1>>(secret, uri, body)
    }
}

fn hmac_hex<M: Mac + hmac::digest::KeyInit>(secret: &str, uri: &str, body: &[u8]) -> String {
    match <M as hmac::digest::KeyInit>::new_from_slice(secret.as_bytes()) {
        Ok(mut mac) => {
            mac.update(uri.as_bytes());
            mac.update(body);
            hex(&mac.finalize().into_bytes())
        }
        // HMAC accepts keys of any length; unreachable in practice, and never a match.
        Err(_) => String::new(),
    }
}

fn errors_base(status: StatusCode, message: &str) -> Response {
    json_response(status, &json!({"errors": {"base": [message]}}))
}

/// The 401 (also what a fault of kind `unauthorized` answers).
pub(crate) fn unauthorized() -> Response {
    errors_base(StatusCode::UNAUTHORIZED, SIGN_IN_FIRST)
}

/// The checks shared by every signed call: the four headers seeds 001 and 002 mark "required"
/// (`x-pch-digest`, `User-Agent`, `Accept`, `Content-Type`), in that order.
fn verify(app: &AppState, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Result<(), Response> {
    let full = uri.path_and_query().map_or(uri.path(), |pq| pq.as_str());
    let signed_uri = full.strip_prefix(PREFIX).unwrap_or(full);
    let expected = digest(app.config.punchh.signing_secret(), signed_uri, body);
    let valid =
        header_str(headers, "x-pch-digest").is_some_and(|given| ct_eq(given.trim(), &expected));
    if !valid {
        return Err(errors_base(
            StatusCode::PRECONDITION_FAILED,
            "Invalid signature",
        ));
    }
    if header_str(headers, "user-agent").is_none_or(|ua| ua.trim().is_empty()) {
        return Err(errors_base(
            StatusCode::BAD_REQUEST,
            "The User-Agent header is required",
        ));
    }
    match header_str(headers, "accept") {
        None => {
            return Err(errors_base(
                StatusCode::BAD_REQUEST,
                "The Accept header is required",
            ));
        }
        Some(accept) if !accepts_json(accept) => {
            return Err(errors_base(
                StatusCode::NOT_ACCEPTABLE,
                "Accept must admit application/json",
            ));
        }
        Some(_) => {}
    }
    if header_str(headers, "content-type").is_none() {
        return Err(errors_base(
            StatusCode::BAD_REQUEST,
            "The Content-Type header is required",
        ));
    }
    if !content_type_is(headers, "application/json") {
        return Err(errors_base(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/json",
        ));
    }
    Ok(())
}

/// Whether an `Accept` value admits `application/json` (`application/json`, `application/*` or
/// `*/*`, parameters ignored).
fn accepts_json(accept: &str) -> bool {
    accept.split(',').any(|range| {
        let media = range.split(';').next().unwrap_or("").trim();
        ["application/json", "application/*", "*/*"]
            .iter()
            .any(|m| media.eq_ignore_ascii_case(m))
    })
}

fn user_json(app: &AppState, authentication_token: &str) -> Value {
    let user = &app.config.punchh.user;
    let created = format_iso_time(app.started_s);
    let code = format!("SBX{}", user.id % 100_000);
    json!({
        "anniversary": null,
        "avatar_remote_url": null,
        "birthday": null,
        "created_at": created,
        "email": user.email,
        "fb_uid": format!("sandbox-fb-{}", user.id),
        "first_name": user.first_name,
        "gender": null,
        "id": user.id,
        "last_name": user.last_name,
        "updated_at": created,
        "allow_multiple": false,
        "authentication_token": authentication_token,
        "favourite_locations": "",
        "preferred_menu_items": [],
        "referral_code": code,
        "referral_path": format!("{}{PREFIX}/referral/{code}", app.base_url),
        "secondary_email": null,
        "user_as_barcode": (user.id % 10_000_000).to_string(),
        "user_as_qrcode": format!("sandbox-qr-{}", user.id),
        "user_relations": [],
        "wants_menu_notifications": false,
        "profile_field_answers": {},
        "address_line1": null,
        "zip_code": null,
        "phone": null,
        "migrate_status": false,
        "work_zip_code": null,
        "email_unsubscribe": null,
        "allow_push_notifications": true,
        "facebook_signup": false,
        "communicable_email": user.email,
        "access_token": null,
    })
}

async fn sso(State(app): State<AppState>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = verify(&app, &uri, &headers, &body) {
        return r;
    }
    let Ok(req) = parse_json(&body) else {
        return errors_base(
            StatusCode::BAD_REQUEST,
            "The request body is not valid JSON",
        );
    };
    let cfg = &app.config.punchh;
    let client_ok = str_field(&req, "client").is_some_and(|c| ct_eq(c, &cfg.client));
    let token_ok = str_field(&req, "security_token").is_some_and(|t| ct_eq(t, &cfg.security_token));
    if !(client_ok & token_ok) {
        return errors_base(StatusCode::BAD_REQUEST, "Invalid security token");
    }
    let access_token = random_token();
    let auth_token = {
        let mut data = app.data();
        data.punchh.access_tokens.insert(access_token.clone());
        data.punchh.authentication_token.clone()
    };
    json_response(
        StatusCode::OK,
        &json!({"token": {"access_token": access_token}, "user": user_json(&app, &auth_token)}),
    )
}

/// The Punchh-hosted login form (auto-approved for the test user when that test hook is on).
/// Not signed (a browser opens it).
async fn authorize(State(app): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let cfg = &app.config.punchh;
    let params: HashMap<String, String> =
        form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let param = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
    if !param("client_id").is_some_and(|c| ct_eq(c, &cfg.client)) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_client",
            "unknown or missing client_id",
        );
    }
    if param("redirect_uri") != Some(cfg.redirect_uri.as_str()) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_redirect_uri",
            "redirect_uri must equal the one registered for the OAuth app",
        );
    }
    if param("response_type") != Some("code") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_response_type",
            "response_type must be code",
        );
    }
    if app.login_form {
        return login::show(
            &app,
            login::Request {
                vendor: login::Vendor::Punchh,
                client_id: cfg.client.clone(),
                scope: None,
                redirect_uri: cfg.redirect_uri.clone(),
                state: param("state").map(str::to_owned),
            },
        );
    }
    let code = issue_code(&app);
    let mut query = vec![("code", code.as_str())];
    if let Some(state) = param("state") {
        query.push(("state", state));
    }
    redirect(&append_query(&cfg.redirect_uri, &query))
}

/// Stores a fresh authorization code for the registered redirect URI and returns it.
pub(crate) fn issue_code(app: &AppState) -> String {
    let code = random_token();
    let expires = app.clock.now_ms().saturating_add(CODE_TTL_MS);
    app.data().punchh.codes.insert(
        code.clone(),
        (app.config.punchh.redirect_uri.clone(), expires),
    );
    code
}

async fn token(State(app): State<AppState>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = verify(&app, &uri, &headers, &body) {
        return r;
    }
    let Ok(req) = parse_json(&body) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the request body is not valid JSON",
        );
    };
    let cfg = &app.config.punchh;
    let id_ok = str_field(&req, "client_id").is_some_and(|c| ct_eq(c, &cfg.client));
    // seed 002: `client_secret` is the "OAuth client secret of the business" (not the signing secret).
    let secret_ok = str_field(&req, "client_secret").is_some_and(|s| ct_eq(s, &cfg.secret));
    if !(id_ok & secret_ok) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unknown client or wrong client_secret",
        );
    }
    if str_field(&req, "grant_type") != Some("authorization_code") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type must be authorization_code",
        );
    }
    let now = app.clock.now_ms();
    let mut data = app.data();
    // Removing the code makes it single-use whatever the outcome.
    let grant = str_field(&req, "code").and_then(|c| data.punchh.codes.remove(c));
    let Some((redirect_uri, expires)) = grant else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "the authorization code is unknown or was already used",
        );
    };
    if expires <= now {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "the authorization code expired",
        );
    }
    if str_field(&req, "redirect_uri") != Some(redirect_uri.as_str()) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "redirect_uri differs from the authorization request",
        );
    }
    let access_token = random_token();
    data.punchh.access_tokens.insert(access_token.clone());
    drop(data);
    json_response(
        StatusCode::OK,
        &json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "refresh_token": random_token(),
            "scope": "null",
            "created_at": app.clock.now_s().to_string(),
        }),
    )
}

async fn user_info(
    State(app): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = verify(&app, &uri, &headers, &body) {
        return r;
    }
    let auth_token = {
        let data = app.data();
        // The client-level token is what this call is for; the user-level one works too.
        let known = bearer(&headers).is_some_and(|t| {
            data.punchh.access_tokens.contains(t) || ct_eq(t, &data.punchh.authentication_token)
        });
        if !known {
            return unauthorized();
        }
        data.punchh.authentication_token.clone()
    };
    let Ok(req) = parse_json(&body) else {
        return errors_base(
            StatusCode::BAD_REQUEST,
            "The request body must be JSON with the client key",
        );
    };
    if !str_field(&req, "client").is_some_and(|c| ct_eq(c, &app.config.punchh.client)) {
        return errors_base(StatusCode::BAD_REQUEST, "Invalid client");
    }
    json_response(StatusCode::OK, &user_json(&app, &auth_token))
}

/// **Emulator only** (Punchh has no such endpoint): a protected user call that accepts only a
/// user-level token, to show a client signs the user's session with it. Answers the user's
/// `{"id","email","first_name","last_name"}`; a client-level access token (or none) is 401.
async fn user_level_me(
    State(app): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = verify(&app, &uri, &headers, &body) {
        return r;
    }
    let user_level = {
        let data = app.data();
        bearer(&headers).is_some_and(|t| ct_eq(t, &data.punchh.authentication_token))
    };
    if !user_level {
        return errors_base(
            StatusCode::UNAUTHORIZED,
            "A user-level token (the user's authentication_token) is required",
        );
    }
    let user = &app.config.punchh.user;
    json_response(
        StatusCode::OK,
        &json!({
            "id": user.id,
            "email": user.email,
            "first_name": user.first_name,
            "last_name": user.last_name,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_test_vectors() {
        assert_eq!(
            digest(
                "SECRET_GOES_HERE",
                "/api/auth/sso",
                br#"{"client":"CLIENT_GOES_HERE","security_token":"SECURITY_TOKEN_GOES_HERE"}"#
            ),
            "375dbf88ee2e8a565138c0d8578d2cd93456a584"
        );
        assert_eq!(
            digest(
                "SECRET_GOES_HERE",
                "/api2/mobile/users/profile",
                br#"{"client":"CLIENT_GOES_HERE"}"#
            ),
            "743195d63cfe21b8af7fc1f2f288a5b60ae450dc7f19aa36499512b664756c6a"
        );
    }
}
