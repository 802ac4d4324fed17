//! POS API under `/pos` (seed 004): admin accounts, ROPC login, rotating refresh. Successes are 201.
//!
//! - `POST /pos/users` → 201 `{"id","user_name","created_at"}`; 409 on a taken user name
//! - `POST /pos/auth/token` (Basic client auth: Base64 of the raw `client_id:client_secret` bytes, or
//!   form-encoded first when `basic_form_encoded` is set) → 201
//!   `{"access_token","expires_in","refresh_token","token_type"}`
//! - `POST /pos/auth/refresh-token` (`Authorization: Bearer <refresh_token>`) → 201 new pair; the old
//!   refresh token and its access token stop working
//! - `GET /pos/admin/me` → 200 `{"id","user_name"}`
//!
//! A call with a body needs `Content-Type: application/json` (seed 004's bodies are JSON), else 415.
//!
//! Errors: `{"error":"bad_request"|"unauthorized"|"conflict"|"unsupported_media_type","message":...}`.

use std::collections::HashMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::state::AppState;
use crate::util::{
    basic_auth, bearer, content_type_is, ct_eq, format_iso_time, json_response, parse_json,
    random_token, str_field,
};

/// POS data: accounts and tokens.
#[derive(Debug, Default)]
pub(crate) struct PosState {
    /// user_name → account.
    users: HashMap<String, PosUser>,
    /// Access token → (user_name, expiry ms).
    access: HashMap<String, (String, u64)>,
    /// Refresh token → (user_name, the access token issued with it).
    refresh: HashMap<String, (String, String)>,
}

#[derive(Debug)]
struct PosUser {
    id: String,
    password: String,
}

/// The `/pos` routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/pos/users", post(create_user))
        .route("/pos/auth/token", post(login))
        .route("/pos/auth/refresh-token", post(refresh))
        .route("/pos/admin/me", get(me))
}

fn error(status: StatusCode, error: &str, message: &str) -> Response {
    json_response(status, &json!({"error": error, "message": message}))
}

/// The 401 (also what a fault of kind `unauthorized` answers).
pub(crate) fn unauthorized(message: &str) -> Response {
    error(StatusCode::UNAUTHORIZED, "unauthorized", message)
}

fn bad_request(message: &str) -> Response {
    error(StatusCode::BAD_REQUEST, "bad_request", message)
}

/// A body must be declared JSON (415 otherwise).
fn check_json_body(headers: &HeaderMap, body: &[u8]) -> Result<(), Response> {
    if !body.is_empty() && !content_type_is(headers, "application/json") {
        return Err(error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Content-Type must be application/json",
        ));
    }
    Ok(())
}

async fn create_user(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = check_json_body(&headers, &body) {
        return r;
    }
    let Ok(req) = parse_json(&body) else {
        return bad_request("the request body is not valid JSON");
    };
    let (Some(user_name), Some(password)) =
        (str_field(&req, "user_name"), str_field(&req, "password"))
    else {
        return bad_request("user_name and password are required non-empty strings");
    };
    if req.get("grant_type").and_then(Value::as_str) != Some("password") {
        return bad_request("grant_type must be password");
    }
    let id = uuid::Uuid::new_v4().to_string();
    {
        let mut data = app.data();
        if data.pos.users.contains_key(user_name) {
            return error(
                StatusCode::CONFLICT,
                "conflict",
                &format!("user_name {user_name:?} is already taken"),
            );
        }
        data.pos.users.insert(
            user_name.to_owned(),
            PosUser {
                id: id.clone(),
                password: password.to_owned(),
            },
        );
    }
    json_response(
        StatusCode::CREATED,
        &json!({"id": id, "user_name": user_name, "created_at": format_iso_time(app.clock.now_s())}),
    )
}

/// Issues a new access/refresh pair for `user_name`.
fn issue_pair(app: &AppState, st: &mut PosState, user_name: &str) -> Response {
    let ttl = app.config.pos_api.access_ttl_s;
    let access = uuid::Uuid::new_v4().to_string();
    let refresh = random_token();
    st.access.insert(
        access.clone(),
        (user_name.to_owned(), app.clock.expiry(ttl)),
    );
    st.refresh
        .insert(refresh.clone(), (user_name.to_owned(), access.clone()));
    json_response(
        StatusCode::CREATED,
        &json!({
            "access_token": access,
            "expires_in": ttl,
            "refresh_token": refresh,
            "token_type": "Bearer",
        }),
    )
}

async fn login(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let cfg = &app.config.pos_api;
    let client_ok = basic_auth(&headers, cfg.basic_form_encoded).is_some_and(|(id, secret)| {
        ct_eq(&id, &cfg.client_id) & ct_eq(&secret, &cfg.client_secret)
    });
    if !client_ok {
        return unauthorized("invalid client credentials");
    }
    if let Err(r) = check_json_body(&headers, &body) {
        return r;
    }
    let Ok(req) = parse_json(&body) else {
        return bad_request("the request body is not valid JSON");
    };
    let (Some(user_name), Some(password)) =
        (str_field(&req, "user_name"), str_field(&req, "password"))
    else {
        return bad_request("user_name and password are required non-empty strings");
    };
    let mut data = app.data();
    let st = &mut data.pos;
    // Compare against a dummy password for unknown users so both failures take the same path.
    let stored = st
        .users
        .get(user_name)
        .map_or("\u{0}", |u| u.password.as_str());
    if !(ct_eq(password, stored) & st.users.contains_key(user_name)) {
        return unauthorized("wrong user name or password");
    }
    issue_pair(&app, st, user_name)
}

async fn refresh(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let Some(presented) = bearer(&headers) else {
        return unauthorized("the refresh token is required as Authorization: Bearer");
    };
    let mut data = app.data();
    let st = &mut data.pos;
    let Some((user_name, old_access)) = st.refresh.remove(presented) else {
        return unauthorized("unknown or already used refresh token");
    };
    st.access.remove(&old_access);
    issue_pair(&app, st, &user_name)
}

async fn me(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let now = app.clock.now_ms();
    let found = bearer(&headers).and_then(|t| {
        let data = app.data();
        let (user_name, expires) = data.pos.access.get(t)?;
        if *expires <= now {
            return None;
        }
        let user = data.pos.users.get(user_name)?;
        Some(json!({"id": user.id, "user_name": user_name}))
    });
    match found {
        Some(body) => json_response(StatusCode::OK, &body),
        None => unauthorized("missing, unknown or expired access token"),
    }
}
