//! Stream under `/stream` (seed 003): API client token, white-label session generation, one-time SSO
//! login token redemption, and the signed-in user.
//!
//! - `POST /stream/oauth/token` (form, client credentials) → 200 `{"access_token","token_type","expires_in"}`
//! - `POST /stream/white-label/generate-session` → 200 `{"sso_login_token"}`
//! - `GET /stream/redirect/sso?code=…` → 200 JSON (with `Accept: application/json`) or 302 `/stream/app`,
//!   setting the `stream_session` cookie
//! - `GET /stream/api/me` (and `GET /stream/app`) → 200 `{"user","organization"}`

use std::collections::HashMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::oauth2::{authenticate_client, oauth_error, parse_form, redirect, token_response};
use crate::state::AppState;
use crate::util::{
    bearer, header_str, json_response, mint_jwt, parse_json, random_hex, random_token, str_field,
};

const ROLES: [&str; 5] = ["owner", "admin", "manager", "team_member", "custom"];
const SESSION_COOKIE: &str = "stream_session";

/// Stream data: API tokens, organizations, users, login tokens and sessions.
#[derive(Debug, Default)]
pub(crate) struct StreamState {
    /// API client token → expiry (ms).
    api_tokens: HashMap<String, u64>,
    /// provider_org_id → organization id.
    orgs: HashMap<String, String>,
    /// (organization id, lowercased email) → user.
    users: HashMap<(String, String), User>,
    /// One-time login token → grant.
    login_tokens: HashMap<String, LoginToken>,
    /// Session → (organization id, lowercased email).
    sessions: HashMap<String, (String, String)>,
}

#[derive(Debug, Clone)]
struct User {
    email: String,
    full_name: String,
    phone_number: String,
    role: String,
    provider_org_id: String,
}

#[derive(Debug)]
struct LoginToken {
    user_key: (String, String),
    created_ms: u64,
    redeemed: bool,
}

/// The `/stream` routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/stream/oauth/token", post(token))
        .route(
            "/stream/white-label/generate-session",
            post(generate_session),
        )
        .route("/stream/redirect/sso", get(redeem))
        .route("/stream/api/me", get(me))
        .route("/stream/app", get(me))
}

/// The 401 for a missing or bad token or session (also what a fault of kind `unauthorized` answers).
pub(crate) fn unauthorized(path: &str) -> Response {
    if path.ends_with("/oauth/token") {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        );
    }
    let mut resp = json_response(
        StatusCode::UNAUTHORIZED,
        &json!({"error": "unauthorized", "message": "missing, unknown or expired token or session"}),
    );
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"stream\""),
    );
    resp
}

async fn token(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let form = match parse_form(&headers, &body) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let cfg = &app.config.stream;
    if let Err(r) = authenticate_client(&headers, &form, &cfg.client_id, &cfg.client_secret) {
        return r;
    }
    match form.get("grant_type").map(String::as_str) {
        Some("client_credentials") => {}
        None => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "grant_type is required",
            );
        }
        Some(_) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only client_credentials is supported",
            );
        }
    }
    let access_token = random_token();
    let expires = app.clock.expiry(cfg.token_ttl_s);
    app.data()
        .stream
        .api_tokens
        .insert(access_token.clone(), expires);
    token_response(&json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": cfg.token_ttl_s,
    }))
}

fn validation_error(message: &str) -> Response {
    json_response(
        StatusCode::UNPROCESSABLE_ENTITY,
        &json!({"error": "validation_error", "message": message}),
    )
}

async fn generate_session(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = app.clock.now_ms();
    let token_ok = bearer(&headers).is_some_and(|t| {
        app.data()
            .stream
            .api_tokens
            .get(t)
            .is_some_and(|&e| e > now)
    });
    if !token_ok {
        return unauthorized("");
    }
    let Ok(req) = parse_json(&body) else {
        return json_response(
            StatusCode::BAD_REQUEST,
            &json!({"error": "invalid_request", "message": "the request body is not valid JSON"}),
        );
    };
    let mut fields = [""; 5];
    let names = [
        "provider_org_id",
        "role",
        "email",
        "full_name",
        "phone_number",
    ];
    for (slot, name) in fields.iter_mut().zip(names) {
        match str_field(&req, name) {
            Some(v) => *slot = v,
            None => {
                return validation_error(&format!(
                    "{name} is required and must be a non-empty string"
                ));
            }
        }
    }
    let [provider_org_id, role, email, full_name, phone_number] = fields;
    if !ROLES.contains(&role) {
        return validation_error("role must be one of owner, admin, manager, team_member, custom");
    }
    let login_token = mint_jwt(
        &json!({"jti": random_hex(16), "iat": app.clock.now_s(), "typ": "sso_login"}),
        &app.jwt_key,
    );
    let mut data = app.data();
    let st = &mut data.stream;
    let org_id = st
        .orgs
        .entry(provider_org_id.to_owned())
        .or_insert_with(|| uuid::Uuid::new_v4().to_string())
        .clone();
    let user_key = (org_id, email.to_lowercase());
    st.users.insert(
        user_key.clone(),
        User {
            email: email.to_owned(),
            full_name: full_name.to_owned(),
            phone_number: phone_number.to_owned(),
            role: role.to_owned(),
            provider_org_id: provider_org_id.to_owned(),
        },
    );
    st.login_tokens.insert(
        login_token.clone(),
        LoginToken {
            user_key,
            created_ms: now,
            redeemed: false,
        },
    );
    drop(data);
    json_response(StatusCode::OK, &json!({"sso_login_token": login_token}))
}

fn sso_error(error: &str, description: &str) -> Response {
    oauth_error(StatusCode::BAD_REQUEST, error, description)
}

fn user_json(org_id: &str, user: &User) -> (Value, Value) {
    (
        json!({
            "email": user.email,
            "full_name": user.full_name,
            "phone_number": user.phone_number,
            "role": user.role,
        }),
        json!({"id": org_id, "provider_org_id": user.provider_org_id}),
    )
}

async fn redeem(
    State(app): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let code = form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes())
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned());
    let now = app.clock.now_ms();
    let ttl_ms = app.config.stream.login_token_ttl_s.saturating_mul(1000);
    let redeemed = {
        let mut data = app.data();
        let st = &mut data.stream;
        // Check and mark under one lock: of concurrent redemptions exactly one succeeds.
        let Some(grant) = code.as_deref().and_then(|c| st.login_tokens.get_mut(c)) else {
            return sso_error("invalid_sso_token", "the SSO login token is unknown");
        };
        if grant.redeemed {
            return sso_error("sso_token_redeemed", "the SSO login token was already used");
        }
        if now.saturating_sub(grant.created_ms) > ttl_ms {
            return sso_error("sso_token_expired", "the SSO login token expired");
        }
        grant.redeemed = true;
        let user_key = grant.user_key.clone();
        let Some(user) = st.users.get(&user_key).cloned() else {
            return sso_error("invalid_sso_token", "the SSO login token's user is gone");
        };
        let session = random_token();
        st.sessions.insert(session.clone(), user_key.clone());
        (session, user_key.0, user)
    };
    let (session, org_id, user) = redeemed;
    let cookie = format!("{SESSION_COOKIE}={session}; Path=/stream; HttpOnly; SameSite=Lax");
    let wants_json = header_str(&headers, "accept").is_some_and(|a| a.contains("application/json"));
    let mut resp = if wants_json {
        let (user, organization) = user_json(&org_id, &user);
        json_response(
            StatusCode::OK,
            &json!({"session": session, "user": user, "organization": organization}),
        )
    } else {
        redirect("/stream/app")
    };
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

/// The session from the `stream_session` cookie, else from a Bearer header.
fn session_of(headers: &HeaderMap) -> Option<&str> {
    let from_cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == SESSION_COOKIE && !value.is_empty()).then_some(value)
        });
    from_cookie.or_else(|| bearer(headers))
}

async fn me(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let found = session_of(&headers).and_then(|s| {
        let data = app.data();
        let key = data.stream.sessions.get(s)?;
        let user = data.stream.users.get(key)?;
        Some(user_json(&key.0, user))
    });
    match found {
        Some((user, organization)) => json_response(
            StatusCode::OK,
            &json!({"user": user, "organization": organization}),
        ),
        None => unauthorized(""),
    }
}
