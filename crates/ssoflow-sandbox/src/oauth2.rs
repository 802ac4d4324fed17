//! Generic OAuth 2.0 authorization server under `/oauth2` (RFC 6749, RFC 7636 PKCE, RFC 8693).
//!
//! - `POST /oauth2/token` (form): grants `client_credentials`, `password`, `refresh_token` (rotating; a
//!   replayed refresh token revokes its whole family), `authorization_code` (+ PKCE S256, single-use code),
//!   and `urn:ietf:params:oauth:grant-type:token-exchange`.
//! - `GET /oauth2/authorize`: with auto-approval (a test hook) 302 to `redirect_uri?code=…&state=…`
//!   for the configured user; otherwise the sign-in form of [`crate::login`], posted back to
//!   `POST /oauth2/authorize`.
//! - `GET /oauth2/userinfo`: Bearer-protected `{"sub","name"}`.
//! - The device authorization grant (RFC 8628) and revocation (RFC 7009): see the `device`
//!   module (`device.rs`).
//!
//! The token-endpoint helpers here (form parsing, client authentication, RFC 6749 §5.2 errors) serve
//! Stream's token endpoint too.

use std::collections::{HashMap, HashSet};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::login;
use crate::state::AppState;
use crate::util::{
    append_query, basic_auth, bearer, content_type_is, ct_eq, has_basic_scheme, json_response,
    random_token,
};

// A child module in its own file: it issues and revokes this server's tokens.
#[path = "device.rs"]
pub(crate) mod device;

const TOKEN_TYPE_ACCESS: &str = "urn:ietf:params:oauth:token-type:access_token";
const GRANT_TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// How long an authorization code stays redeemable, seconds.
const CODE_TTL_S: u64 = 600;

/// In-memory OAuth 2.0 server state.
#[derive(Debug, Default)]
pub(crate) struct OAuth2State {
    access: HashMap<String, AccessGrant>,
    refresh: HashMap<String, RefreshGrant>,
    codes: HashMap<String, CodeGrant>,
    revoked_families: HashSet<u64>,
    next_family: u64,
    device: device::DeviceState,
}

#[derive(Debug, Clone)]
struct AccessGrant {
    sub: String,
    scope: Option<String>,
    expires_ms: u64,
    family: Option<u64>,
}

#[derive(Debug)]
struct RefreshGrant {
    sub: String,
    scope: Option<String>,
    family: u64,
    rotated: bool,
}

#[derive(Debug)]
struct CodeGrant {
    redirect_uri_given: Option<String>,
    redirect_uri: String,
    challenge: String,
    scope: Option<String>,
    expires_ms: u64,
    /// Set once redeemed: the token family issued for it (a replay revokes that family).
    redeemed_family: Option<u64>,
}

impl OAuth2State {
    fn new_family(&mut self) -> u64 {
        self.next_family = self.next_family.wrapping_add(1);
        self.next_family
    }

    fn access_valid(&self, token: &str, now_ms: u64) -> Option<&AccessGrant> {
        self.access.get(token).filter(|g| {
            g.expires_ms > now_ms && g.family.is_none_or(|f| !self.revoked_families.contains(&f))
        })
    }
}

/// The `/oauth2` routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/oauth2/token", post(token))
        .route("/oauth2/authorize", get(authorize).post(login::submit))
        .route("/oauth2/userinfo", get(userinfo))
        .merge(device::routes())
}

/// An RFC 6749 §5.2 error answer (`Cache-Control: no-store`; `WWW-Authenticate: Basic` on a 401).
pub(crate) fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut resp = json_response(
        status,
        &json!({"error": error, "error_description": description}),
    );
    no_store(resp.headers_mut());
    if status == StatusCode::UNAUTHORIZED && error == "invalid_client" {
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"sandbox\""),
        );
    }
    resp
}

fn bad_request(error: &str, description: &str) -> Response {
    oauth_error(StatusCode::BAD_REQUEST, error, description)
}

fn invalid_client(description: &str) -> Response {
    oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", description)
}

/// An RFC 6750 §3 answer for a missing or bad Bearer token.
pub(crate) fn invalid_token(headers_had_token: bool) -> Response {
    let mut resp = json_response(
        StatusCode::UNAUTHORIZED,
        &json!({"error": "invalid_token", "error_description": "the access token is missing, unknown, expired or revoked"}),
    );
    let challenge = if headers_had_token {
        "Bearer realm=\"sandbox\", error=\"invalid_token\""
    } else {
        "Bearer realm=\"sandbox\""
    };
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(challenge),
    );
    resp
}

/// The 401 a fault of kind `unauthorized` forces on `path`.
pub(crate) fn unauthorized(path: &str) -> Response {
    if path.ends_with("/token") {
        invalid_client("client authentication failed")
    } else {
        invalid_token(true)
    }
}

fn no_store(headers: &mut HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// A 200 token answer with `Cache-Control: no-store`.
pub(crate) fn token_response(body: &Value) -> Response {
    let mut resp = json_response(StatusCode::OK, body);
    no_store(resp.headers_mut());
    resp
}

/// Parses an `application/x-www-form-urlencoded` token request. Empty values count as absent
/// (RFC 6749 §3.1); a repeated parameter is an `invalid_request`.
pub(crate) fn parse_form(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<HashMap<String, String>, Response> {
    let is_form = content_type_is(headers, "application/x-www-form-urlencoded");
    if !is_form {
        return Err(bad_request(
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    if std::str::from_utf8(body).is_err() {
        return Err(bad_request("invalid_request", "the body is not UTF-8"));
    }
    parse_params(body).map_err(|name| {
        bad_request(
            "invalid_request",
            &format!("parameter {name:?} is repeated"),
        )
    })
}

/// Parses form/query parameters; `Err(name)` on a repeated parameter.
fn parse_params(raw: &[u8]) -> Result<HashMap<String, String>, String> {
    let mut params = HashMap::new();
    for (k, v) in form_urlencoded::parse(raw) {
        if v.is_empty() {
            continue;
        }
        if params.insert(k.to_string(), v.into_owned()).is_some() {
            return Err(k.into_owned());
        }
    }
    Ok(params)
}

/// Authenticates the client by HTTP Basic (RFC 6749 §2.3.1 form-decoded) or by `client_id` +
/// `client_secret` in the body; exactly one method may be used.
pub(crate) fn authenticate_client(
    headers: &HeaderMap,
    form: &HashMap<String, String>,
    client_id: &str,
    client_secret: &str,
) -> Result<(), Response> {
    let (id, secret) = if has_basic_scheme(headers) {
        if form.contains_key("client_secret") {
            return Err(bad_request(
                "invalid_request",
                "use only one client authentication method",
            ));
        }
        let Some((id, secret)) = basic_auth(headers, true) else {
            return Err(invalid_client("malformed Basic credentials"));
        };
        if form.get("client_id").is_some_and(|body_id| *body_id != id) {
            return Err(invalid_client(
                "client_id in the body differs from the Basic credentials",
            ));
        }
        (id, secret)
    } else {
        match (form.get("client_id"), form.get("client_secret")) {
            (Some(id), Some(secret)) => (id.clone(), secret.clone()),
            _ => return Err(invalid_client("client authentication required")),
        }
    };
    // Both comparisons always run (no short-circuit on the id).
    if ct_eq(&id, client_id) & ct_eq(&secret, client_secret) {
        Ok(())
    } else {
        Err(invalid_client("unknown client or wrong secret"))
    }
}

/// RFC 6749 §3.3: space-separated scope-tokens of NQCHARs.
fn scope_is_valid(scope: &str) -> bool {
    scope.split(' ').all(|t| {
        !t.is_empty()
            && t.bytes()
                .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
    })
}

fn requested_scope(form: &HashMap<String, String>) -> Result<Option<String>, Response> {
    match form.get("scope") {
        None => Ok(None),
        Some(s) if scope_is_valid(s) => Ok(Some(s.clone())),
        Some(_) => Err(bad_request("invalid_scope", "the scope is malformed")),
    }
}

struct Issue {
    sub: String,
    scope: Option<String>,
    /// `Some(family)` issues a refresh token in that family too.
    family: Option<u64>,
    issued_token_type: bool,
}

fn issue(app: &AppState, st: &mut OAuth2State, issue: Issue) -> Value {
    let ttl = app.config.oauth2.access_ttl_s;
    let access = random_token();
    st.access.insert(
        access.clone(),
        AccessGrant {
            sub: issue.sub.clone(),
            scope: issue.scope.clone(),
            expires_ms: app.clock.expiry(ttl),
            family: issue.family,
        },
    );
    let mut body = Map::new();
    body.insert("access_token".into(), json!(access));
    body.insert("token_type".into(), json!("Bearer"));
    body.insert("expires_in".into(), json!(ttl));
    if let Some(family) = issue.family {
        let refresh = random_token();
        st.refresh.insert(
            refresh.clone(),
            RefreshGrant {
                sub: issue.sub,
                scope: issue.scope.clone(),
                family,
                rotated: false,
            },
        );
        body.insert("refresh_token".into(), json!(refresh));
    }
    if let Some(scope) = issue.scope {
        body.insert("scope".into(), json!(scope));
    }
    if issue.issued_token_type {
        body.insert("issued_token_type".into(), json!(TOKEN_TYPE_ACCESS));
    }
    Value::Object(body)
}

async fn token(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let form = match parse_form(&headers, &body) {
        Ok(f) => f,
        Err(r) => return r,
    };
    // The device grant authenticates for itself: its kiosk client is public.
    if form.get("grant_type").map(String::as_str) == Some(device::GRANT_DEVICE_CODE) {
        return device::device_code_grant(&app, &headers, &form);
    }
    let cfg = &app.config.oauth2;
    // The kiosk client is public: it refreshes the tokens the device grant gave it by its id.
    let public_refresh = form.get("grant_type").map(String::as_str) == Some("refresh_token")
        && device::is_public_client(&app, &headers, &form);
    if !public_refresh {
        if let Err(r) = authenticate_client(&headers, &form, &cfg.client_id, &cfg.client_secret) {
            return r;
        }
    }
    let scope = match requested_scope(&form) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let param = |k: &str| form.get(k).map(String::as_str);
    let result = match param("grant_type") {
        None => Err(bad_request("invalid_request", "grant_type is required")),
        Some("client_credentials") => {
            let mut data = app.data();
            Ok(issue(
                &app,
                &mut data.oauth2,
                Issue {
                    sub: cfg.client_id.clone(),
                    scope,
                    family: None,
                    issued_token_type: false,
                },
            ))
        }
        Some("password") => password_grant(&app, &form, scope),
        Some("refresh_token") => refresh_grant(&app, &form, scope),
        Some("authorization_code") => code_grant(&app, &form),
        Some(GRANT_TOKEN_EXCHANGE) => exchange_grant(&app, &form, scope),
        Some(_) => Err(bad_request(
            "unsupported_grant_type",
            "the grant type is not supported",
        )),
    };
    match result {
        Ok(body) => token_response(&body),
        Err(r) => r,
    }
}

fn password_grant(
    app: &AppState,
    form: &HashMap<String, String>,
    scope: Option<String>,
) -> Result<Value, Response> {
    let cfg = &app.config.oauth2;
    let (Some(user), Some(pass)) = (form.get("username"), form.get("password")) else {
        return Err(bad_request(
            "invalid_request",
            "username and password are required",
        ));
    };
    if !(ct_eq(user, &cfg.username) & ct_eq(pass, &cfg.password)) {
        return Err(bad_request("invalid_grant", "wrong username or password"));
    }
    let mut data = app.data();
    let st = &mut data.oauth2;
    let family = st.new_family();
    Ok(issue(
        app,
        st,
        Issue {
            sub: cfg.username.clone(),
            scope,
            family: Some(family),
            issued_token_type: false,
        },
    ))
}

fn refresh_grant(
    app: &AppState,
    form: &HashMap<String, String>,
    scope: Option<String>,
) -> Result<Value, Response> {
    let Some(presented) = form.get("refresh_token") else {
        return Err(bad_request("invalid_request", "refresh_token is required"));
    };
    let mut data = app.data();
    let st = &mut data.oauth2;
    let Some(grant) = st.refresh.get_mut(presented) else {
        return Err(bad_request("invalid_grant", "unknown refresh token"));
    };
    if st.revoked_families.contains(&grant.family) {
        return Err(bad_request(
            "invalid_grant",
            "the refresh token was revoked",
        ));
    }
    if grant.rotated {
        let family = grant.family;
        st.revoked_families.insert(family);
        // Counted apart (stats key `REPLAY /oauth2/token`): tests assert a fleet never does it.
        app.hooks.count("REPLAY", "/oauth2/token");
        return Err(bad_request(
            "invalid_grant",
            "the refresh token was already used; its whole token family is now revoked",
        ));
    }
    let granted = grant.scope.clone();
    let scope = match scope {
        None => granted,
        Some(asked) => {
            let allowed: HashSet<&str> = granted.as_deref().unwrap_or("").split(' ').collect();
            if !asked.split(' ').all(|s| allowed.contains(s)) {
                return Err(bad_request(
                    "invalid_scope",
                    "the requested scope exceeds the scope originally granted",
                ));
            }
            Some(asked)
        }
    };
    grant.rotated = true;
    let (sub, family) = (grant.sub.clone(), grant.family);
    Ok(issue(
        app,
        st,
        Issue {
            sub,
            scope,
            family: Some(family),
            issued_token_type: false,
        },
    ))
}

/// RFC 7636 §4.1: 43–128 unreserved characters.
fn verifier_is_valid(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

fn code_grant(app: &AppState, form: &HashMap<String, String>) -> Result<Value, Response> {
    let Some(code) = form.get("code") else {
        return Err(bad_request("invalid_request", "code is required"));
    };
    let now = app.clock.now_ms();
    let mut data = app.data();
    let st = &mut data.oauth2;
    let Some(grant) = st.codes.get_mut(code) else {
        return Err(bad_request("invalid_grant", "unknown authorization code"));
    };
    if let Some(family) = grant.redeemed_family {
        st.revoked_families.insert(family);
        return Err(bad_request(
            "invalid_grant",
            "the authorization code was already used; tokens issued for it are revoked",
        ));
    }
    if grant.expires_ms <= now {
        return Err(bad_request(
            "invalid_grant",
            "the authorization code expired",
        ));
    }
    let redirect_ok = match (&grant.redirect_uri_given, form.get("redirect_uri")) {
        (Some(given), Some(sent)) => given == sent,
        (Some(_), None) => false,
        (None, sent) => sent.is_none_or(|s| *s == grant.redirect_uri),
    };
    if !redirect_ok {
        return Err(bad_request(
            "invalid_grant",
            "redirect_uri differs from the authorization request",
        ));
    }
    let Some(verifier) = form.get("code_verifier") else {
        return Err(bad_request(
            "invalid_grant",
            "code_verifier is required (PKCE)",
        ));
    };
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    if !verifier_is_valid(verifier) || !ct_eq(&computed, &grant.challenge) {
        return Err(bad_request(
            "invalid_grant",
            "code_verifier does not match the code_challenge",
        ));
    }
    let scope = grant.scope.clone();
    let family = st.new_family();
    if let Some(grant) = st.codes.get_mut(code) {
        grant.redeemed_family = Some(family);
    }
    Ok(issue(
        app,
        st,
        Issue {
            sub: app.config.oauth2.username.clone(),
            scope,
            family: Some(family),
            issued_token_type: false,
        },
    ))
}

fn exchange_grant(
    app: &AppState,
    form: &HashMap<String, String>,
    scope: Option<String>,
) -> Result<Value, Response> {
    let (Some(subject), Some(subject_type)) =
        (form.get("subject_token"), form.get("subject_token_type"))
    else {
        return Err(bad_request(
            "invalid_request",
            "subject_token and subject_token_type are required",
        ));
    };
    if subject_type != TOKEN_TYPE_ACCESS {
        return Err(bad_request(
            "invalid_request",
            "subject_token_type must be urn:ietf:params:oauth:token-type:access_token",
        ));
    }
    if form
        .get("requested_token_type")
        .is_some_and(|t| t != TOKEN_TYPE_ACCESS)
    {
        return Err(bad_request(
            "invalid_request",
            "only access tokens can be requested",
        ));
    }
    let now = app.clock.now_ms();
    let mut data = app.data();
    let st = &mut data.oauth2;
    let Some(subject_grant) = st.access_valid(subject, now).cloned() else {
        return Err(bad_request(
            "invalid_grant",
            "the subject_token is not an active access token issued here",
        ));
    };
    Ok(issue(
        app,
        st,
        Issue {
            sub: subject_grant.sub,
            scope: scope.or(subject_grant.scope),
            family: None,
            issued_token_type: true,
        },
    ))
}

/// Loopback redirect URIs (any port, any path) are allowed besides the registered one.
fn is_loopback_uri(uri: &str) -> bool {
    let Some(rest) = uri
        .strip_prefix("http://")
        .or_else(|| uri.strip_prefix("https://"))
    else {
        return false;
    };
    if uri.contains('#') {
        return false;
    }
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    if authority.contains('@') {
        return false;
    }
    let host = if authority.starts_with('[') {
        authority.split(']').next().map(|h| format!("{h}]"))
    } else {
        authority.split(':').next().map(str::to_owned)
    };
    matches!(host.as_deref(), Some("127.0.0.1" | "localhost" | "[::1]"))
}

async fn authorize(State(app): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let cfg = &app.config.oauth2;
    let params = match parse_params(query.as_deref().unwrap_or("").as_bytes()) {
        Ok(p) => p,
        Err(name) => {
            return bad_request(
                "invalid_request",
                &format!("parameter {name:?} is repeated"),
            );
        }
    };
    let param = |k: &str| params.get(k).map(String::as_str);
    // Errors about the client or the redirect URI are shown here, never redirected (RFC 6749 §4.1.2.1).
    if !param("client_id").is_some_and(|id| ct_eq(id, &cfg.client_id)) {
        return bad_request("invalid_client", "unknown or missing client_id");
    }
    let redirect_uri_given = param("redirect_uri").map(str::to_owned);
    let redirect_uri = match &redirect_uri_given {
        None => cfg.redirect_uri.clone(),
        Some(uri) if *uri == cfg.redirect_uri || is_loopback_uri(uri) => uri.clone(),
        Some(_) => {
            return bad_request(
                "invalid_request",
                "redirect_uri is neither the registered one nor a loopback URI",
            );
        }
    };
    let state = param("state");
    let redirect_error = |error: &str, description: &str| {
        let mut query = vec![("error", error), ("error_description", description)];
        if let Some(s) = state {
            query.push(("state", s));
        }
        redirect(&append_query(&redirect_uri, &query))
    };
    if param("response_type") != Some("code") {
        return redirect_error("unsupported_response_type", "response_type must be code");
    }
    let Some(challenge) = param("code_challenge") else {
        return redirect_error("invalid_request", "code_challenge is required (PKCE)");
    };
    if param("code_challenge_method") != Some("S256") {
        return redirect_error("invalid_request", "code_challenge_method must be S256");
    }
    if challenge.len() != 43 || URL_SAFE_NO_PAD.decode(challenge).is_err() {
        return redirect_error(
            "invalid_request",
            "code_challenge must be BASE64URL(SHA256(code_verifier))",
        );
    }
    let scope = param("scope").map(str::to_owned);
    if scope.as_deref().is_some_and(|s| !scope_is_valid(s)) {
        return redirect_error("invalid_scope", "the scope is malformed");
    }
    let request = CodeRequest {
        redirect_uri_given,
        redirect_uri: redirect_uri.clone(),
        challenge: challenge.to_owned(),
        scope: scope.clone(),
    };
    if app.login_form {
        return login::show(
            &app,
            login::Request {
                vendor: login::Vendor::OAuth2(request),
                client_id: cfg.client_id.clone(),
                scope,
                redirect_uri,
                state: state.map(str::to_owned),
            },
        );
    }
    let code = issue_code(&app, request);
    let mut query = vec![("code", code.as_str())];
    if let Some(s) = state {
        query.push(("state", s));
    }
    redirect(&append_query(&redirect_uri, &query))
}

/// An approved authorization request, before its code exists.
#[derive(Debug)]
pub(crate) struct CodeRequest {
    redirect_uri_given: Option<String>,
    redirect_uri: String,
    challenge: String,
    scope: Option<String>,
}

/// Stores a fresh authorization code for an approved request and returns it.
pub(crate) fn issue_code(app: &AppState, request: CodeRequest) -> String {
    let code = random_token();
    app.data().oauth2.codes.insert(
        code.clone(),
        CodeGrant {
            redirect_uri_given: request.redirect_uri_given,
            redirect_uri: request.redirect_uri,
            challenge: request.challenge,
            scope: request.scope,
            expires_ms: app.clock.expiry(CODE_TTL_S),
            redeemed_family: None,
        },
    );
    code
}

/// A 302 to `location`, with a small JSON body naming it.
pub(crate) fn redirect(location: &str) -> Response {
    let mut resp = json_response(StatusCode::FOUND, &json!({"redirect_to": location}));
    match HeaderValue::from_str(location) {
        Ok(v) => {
            resp.headers_mut().insert(header::LOCATION, v);
            resp
        }
        Err(_) => bad_request(
            "invalid_request",
            "the redirect URI is not a valid header value",
        ),
    }
}

async fn userinfo(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let Some(token) = bearer(&headers) else {
        return invalid_token(false);
    };
    let now = app.clock.now_ms();
    let data = app.data();
    match data.oauth2.access_valid(token, now) {
        Some(grant) => json_response(
            StatusCode::OK,
            &json!({"sub": grant.sub, "name": grant.sub}),
        ),
        None => invalid_token(true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_redirects() {
        assert!(is_loopback_uri("http://127.0.0.1:8080/cb"));
        assert!(is_loopback_uri("http://localhost/cb?x=1"));
        assert!(is_loopback_uri("http://[::1]:9/"));
        assert!(!is_loopback_uri("http://127.0.0.1.evil.example/cb"));
        assert!(!is_loopback_uri("http://user@127.0.0.1/cb"));
        assert!(!is_loopback_uri("https://client.example.com/cb"));
        assert!(!is_loopback_uri("http://localhost/cb#frag"));
    }

    #[test]
    fn scopes() {
        assert!(scope_is_valid("read write:all"));
        assert!(!scope_is_valid("read  write"));
        assert!(!scope_is_valid("a\"b"));
        assert!(!scope_is_valid("a\\b"));
    }

    #[test]
    fn rfc7636_appendix_b() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert!(verifier_is_valid(verifier));
        assert_eq!(
            URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
