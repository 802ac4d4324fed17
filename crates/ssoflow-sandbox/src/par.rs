//! PAR Ordering under `/par` (seed 000): M2M token, SSO token exchange with account linking, and the
//! customer's own account.
//!
//! - `POST /par/api/oauth/tokens` → 200 `{"status":"OK","code":200,"data":{"oauth_token":{..}}}`
//! - `POST /par/api/sts/users/sign-in` → 200 `{"status":"OK","code":200,"data":{"customer_account",
//!   "token", "dlc_access_token"?}}`
//! - `GET /par/api/customers/me` → 200 `{"status":"OK","code":200,"data":{"customer_account":{..}}}`
//! - `GET /par/api/customers/me/loyalty` (**emulator-only**, stands for PAR's Punchh-specific
//!   calls) → 200 `{"status":"OK","code":200,"data":{"loyalty":{"punchh_user_id":N,"email":S}}}`;
//!   needs the menu token as `Authorization: Bearer` *and* the DLC token as
//!   `DLC-Authorization: Bearer` (seed 000), both unexpired and of one account.
//!
//! Every call needs `Application`, `Api-Version`, `X-Ordering-API: true` and a UUID
//! `X-Request-ID`; a call with a body needs `Content-Type: application/json` (415 otherwise).
//! Menu and DLC tokens live `menu_token_ttl_min` **minutes** (the `ttl` unit, seed 000).
//! Every error is the envelope `{"status":"ERROR","code":<http status>,"message":"..."}`.

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
    basic_matches, bearer, ct_eq, format_sql_time, header_str, json_response, jwt_claims, mint_jwt,
    parse_json, random_hex, str_field,
};

/// The Api-Version every sandbox accepts, besides the configured one.
const DEFAULT_API_VERSION: &str = "4.38.0";
/// Largest customer-info answer read.
const MAX_CUSTOMER_INFO_BYTES: usize = 64 * 1024;

/// PAR Ordering data: M2M tokens, customer accounts with their indexes, menu tokens.
#[derive(Debug, Default)]
pub(crate) struct ParState {
    /// M2M access token → expiry (ms).
    m2m: HashMap<String, u64>,
    /// Account id → account.
    accounts: HashMap<String, Account>,
    /// Identity provider's customer id → account id.
    by_idp: HashMap<String, String>,
    /// Lowercased email → account id.
    by_email: HashMap<String, String>,
    /// Menu token → (account id, expiry ms).
    menu_tokens: HashMap<String, (String, u64)>,
    /// DLC token → (account id, expiry ms).
    dlc_tokens: HashMap<String, (String, u64)>,
}

#[derive(Debug, Clone)]
struct Account {
    id: String,
    first_name: String,
    last_name: String,
    email: String,
    phone_number: String,
    created_s: u64,
    updated_s: u64,
}

/// Who the subject token says the customer is.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Identity {
    idp_id: String,
    email: String,
    first_name: String,
    last_name: String,
    phone_number: String,
}

/// The `/par` routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/par/api/oauth/tokens", post(m2m_token))
        .route("/par/api/sts/users/sign-in", post(sign_in))
        .route("/par/api/customers/me", get(me))
        .route("/par/api/customers/me/loyalty", get(loyalty))
}

/// The PAR error envelope.
fn error(status: StatusCode, message: &str) -> Response {
    json_response(
        status,
        &json!({"status": "ERROR", "code": status.as_u16(), "message": message}),
    )
}

/// The 401 envelope (also what a fault of kind `unauthorized` answers).
pub(crate) fn unauthorized() -> Response {
    error(StatusCode::UNAUTHORIZED, "Unauthenticated.")
}

fn ok(data: Value) -> Response {
    json_response(
        StatusCode::OK,
        &json!({"status": "OK", "code": 200, "data": data}),
    )
}

/// Checks the headers every PAR Ordering call carries.
fn check_headers(app: &AppState, headers: &HeaderMap) -> Result<(), Response> {
    let cfg = &app.config.par_ordering;
    match header_str(headers, "application") {
        None => {
            return Err(error(
                StatusCode::UNAUTHORIZED,
                "The Application header is required.",
            ));
        }
        Some(key) if !ct_eq(key, &cfg.application_key) => {
            return Err(error(StatusCode::UNAUTHORIZED, "Invalid application key."));
        }
        Some(_) => {}
    }
    match header_str(headers, "api-version") {
        None => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "The Api-Version header is required.",
            ));
        }
        Some(v) if v != DEFAULT_API_VERSION && v != cfg.api_version => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                &format!("Unsupported Api-Version {v:?}."),
            ));
        }
        Some(_) => {}
    }
    if !header_str(headers, "x-ordering-api").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "The X-Ordering-API header must be \"true\".",
        ));
    }
    if header_str(headers, "x-request-id").is_none_or(|v| uuid::Uuid::try_parse(v).is_err()) {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "The X-Request-ID header must be a UUID.",
        ));
    }
    Ok(())
}

/// Checks the headers of a call with a JSON body: the common ones, then `Content-Type`.
fn check_json_call(app: &AppState, headers: &HeaderMap) -> Result<(), Response> {
    check_headers(app, headers)?;
    let json = header_str(headers, "content-type").is_some_and(|v| {
        v.split(';')
            .next()
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
    });
    if json {
        Ok(())
    } else {
        Err(error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "The Content-Type header must be application/json.",
        ))
    }
}

async fn m2m_token(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = check_json_call(&app, &headers) {
        return r;
    }
    let cfg = &app.config.par_ordering;
    if !basic_matches(&headers, &cfg.client_id, &cfg.client_secret) {
        return error(StatusCode::UNAUTHORIZED, "Invalid client credentials.");
    }
    let Ok(req) = parse_json(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "The request body is not valid JSON.",
        );
    };
    if req.get("grant_type").and_then(Value::as_str) != Some("client_credentials") {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "The grant type must be client_credentials.",
        );
    }
    let scope = req.get("scope").and_then(Value::as_str).unwrap_or("");
    let token = random_hex(32);
    let expires = app.clock.expiry(cfg.m2m_ttl_s);
    app.data().par.m2m.insert(token.clone(), expires);
    ok(json!({"oauth_token": {
        "access_token": token,
        "token_type": "bearer",
        "scope": scope,
        "expires_in": cfg.m2m_ttl_s,
    }}))
}

/// Parses `test-<id>-<email>-<first>-<last>-<phone>`; the email may contain `-`, so the last three
/// fields are taken from the right.
fn parse_test_token(token: &str) -> Option<Identity> {
    let rest = token.strip_prefix("test-")?;
    let (id, rest) = rest.split_once('-')?;
    let mut right = rest.rsplitn(4, '-');
    let phone = right.next()?;
    let last = right.next()?;
    let first = right.next()?;
    let email = right.next()?;
    let fields = [id, email, first, last, phone];
    if fields.iter().any(|f| f.is_empty()) {
        return None;
    }
    Some(Identity {
        idp_id: id.to_owned(),
        email: email.to_owned(),
        first_name: first.to_owned(),
        last_name: last.to_owned(),
        phone_number: phone.to_owned(),
    })
}

/// Asks the ordering application's `/customer-info` endpoint who the subject is.
async fn fetch_customer_info(app: &AppState, url: &str, subject: &str) -> Result<Identity, String> {
    let uuid = jwt_claims(subject)
        .and_then(|c| c.get("sub").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| subject.to_owned());
    let resp = app
        .http
        .post(url)
        .bearer_auth(subject)
        .header("accept", "application/json")
        .json(&json!({"customer_account_uuid": uuid}))
        .send()
        .await
        .map_err(|e| format!("customer-info call failed: {e}"))?;
    if !resp.status().is_success() {
        return Err(format!("customer-info answered {}", resp.status()));
    }
    if resp
        .content_length()
        .is_some_and(|n| n > MAX_CUSTOMER_INFO_BYTES as u64)
    {
        return Err("customer-info answer too large".into());
    }
    let body = resp
        .bytes()
        .await
        .map_err(|e| format!("customer-info body unreadable: {e}"))?;
    if body.len() > MAX_CUSTOMER_INFO_BYTES {
        return Err("customer-info answer too large".into());
    }
    let info = parse_json(&body).map_err(|_| "customer-info answer is not JSON".to_owned())?;
    let text = |k: &str| info.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let email = text("email");
    if email.is_empty() {
        return Err("customer-info answer has no email".into());
    }
    let idp_id = str_field(&info, "customer_account_uuid")
        .unwrap_or(&uuid)
        .to_owned();
    Ok(Identity {
        idp_id,
        email,
        first_name: text("first_name"),
        last_name: text("last_name"),
        phone_number: text("phone_number"),
    })
}

impl ParState {
    /// Finds the account by identity-provider id, else by email (binding the id), else registers one;
    /// then syncs the identity's details into it. Returns a copy of the account.
    fn link(&mut self, ident: &Identity, now_s: u64) -> Account {
        let email_key = ident.email.to_lowercase();
        let id = if let Some(id) = self.by_idp.get(&ident.idp_id) {
            id.clone()
        } else if let Some(id) = self.by_email.get(&email_key).cloned() {
            self.by_idp.insert(ident.idp_id.clone(), id.clone());
            id
        } else {
            let id = uuid::Uuid::new_v4().to_string();
            self.by_idp.insert(ident.idp_id.clone(), id.clone());
            id
        };
        let account = self.accounts.entry(id.clone()).or_insert_with(|| Account {
            id: id.clone(),
            first_name: ident.first_name.clone(),
            last_name: ident.last_name.clone(),
            email: ident.email.clone(),
            phone_number: ident.phone_number.clone(),
            created_s: now_s,
            updated_s: now_s,
        });
        let old_email_key = account.email.to_lowercase();
        let changed = account.first_name != ident.first_name
            || account.last_name != ident.last_name
            || account.email != ident.email
            || account.phone_number != ident.phone_number;
        if changed {
            account.first_name.clone_from(&ident.first_name);
            account.last_name.clone_from(&ident.last_name);
            account.email.clone_from(&ident.email);
            account.phone_number.clone_from(&ident.phone_number);
            account.updated_s = now_s;
        }
        let account = account.clone();
        if old_email_key != email_key && self.by_email.get(&old_email_key) == Some(&id) {
            self.by_email.remove(&old_email_key);
        }
        self.by_email.entry(email_key).or_insert(id);
        account
    }
}

fn account_json(a: &Account) -> Value {
    json!({
        "id": a.id,
        "type_id": 1,
        "reference_type": "CustomerAccount",
        "first_name": a.first_name,
        "last_name": a.last_name,
        "email": a.email,
        "phone_number": a.phone_number,
        "locale": "en",
        "state": 1,
        "demographics": [],
        "optin_status_email": 3,
        "optin_status_pn": 3,
        "has_pending_email_change": false,
        "has_pending_phone_number_change": false,
        "is_social": false,
        "social_login": null,
        "updated_at": format_sql_time(a.updated_s),
        "created_at": format_sql_time(a.created_s),
        "confirmed": false,
    })
}

async fn sign_in(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = check_json_call(&app, &headers) {
        return r;
    }
    let now = app.clock.now_ms();
    let m2m_ok = bearer(&headers).is_some_and(|t| {
        app.data()
            .par
            .m2m
            .get(t)
            .is_some_and(|&expires| expires > now)
    });
    if !m2m_ok {
        return unauthorized();
    }
    let Ok(req) = parse_json(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "The request body is not valid JSON.",
        );
    };
    let unprocessable = |m: &str| error(StatusCode::UNPROCESSABLE_ENTITY, m);
    if req.get("grant_type").and_then(Value::as_str) != Some("token_exchange") {
        return unprocessable("The grant type must be token_exchange.");
    }
    if req.get("subject_token_type").and_then(Value::as_str) != Some("access_token") {
        return unprocessable("The subject token type must be access_token.");
    }
    let Some(subject) = str_field(&req, "subject_token") else {
        return unprocessable("The subject token field is required.");
    };
    let cfg = &app.config.par_ordering;
    let ident = if let Some(ident) = parse_test_token(subject) {
        ident
    } else if let Some(url) = &cfg.customer_info_url {
        match fetch_customer_info(&app, url, subject).await {
            Ok(ident) => ident,
            Err(why) => {
                return error(
                    StatusCode::UNAUTHORIZED,
                    &format!("The subject token could not be verified: {why}."),
                );
            }
        }
    } else {
        return error(StatusCode::UNAUTHORIZED, "Invalid subject token.");
    };

    let now_s = app.clock.now_s();
    // `ttl` is minutes (seed 000: `"ttl": 60` with a JWT whose `exp - iat` is 3600).
    let ttl = cfg.menu_token_ttl_min;
    let lifetime_s = ttl.saturating_mul(60);
    let account = app.data().par.link(&ident, now_s);
    let menu_token = mint_jwt(
        &json!({
            "iss": format!("{}/par/api/sts/users/sign-in", app.base_url),
            "iat": now_s,
            "nbf": now_s,
            "exp": now_s.saturating_add(lifetime_s),
            "jti": random_hex(8),
            "sub": account.id,
            "_oapi_sts_token": 1,
        }),
        &app.jwt_key,
    );
    app.data().par.menu_tokens.insert(
        menu_token.clone(),
        (account.id.clone(), app.clock.expiry(lifetime_s)),
    );
    let mut data = json!({
        "customer_account": account_json(&account),
        "token": {
            "value": menu_token,
            "ttl": ttl,
            "issued_token_type": "access_token",
            "token_type": "Bearer",
        },
    });
    if cfg.punchh_linked {
        let dlc = mint_jwt(
            &json!({
                "email": account.email,
                "id": dlc_user_id(&account.id),
                "exp": now_s.saturating_add(lifetime_s),
            }),
            &app.jwt_key,
        );
        app.data().par.dlc_tokens.insert(
            dlc.clone(),
            (account.id.clone(), app.clock.expiry(lifetime_s)),
        );
        data["dlc_access_token"] = json!({
            "value": dlc,
            "ttl": ttl,
            "refresh_ttl": 0,
            "issued_token_type": "access_token",
            "token_type": "Bearer",
        });
    }
    ok(data)
}

/// A stable numeric (Punchh-style) user id for an account.
fn dlc_user_id(account_id: &str) -> u64 {
    account_id
        .bytes()
        .filter(u8::is_ascii_hexdigit)
        .take(8)
        .fold(0u64, |n, b| {
            n * 16 + u64::from(char::from(b).to_digit(16).unwrap_or(0))
        })
}

/// The account an unexpired token of `tokens` belongs to.
fn holder(
    tokens: &HashMap<String, (String, u64)>,
    token: Option<&str>,
    now_ms: u64,
) -> Option<String> {
    let (id, expires) = tokens.get(token?)?;
    (*expires > now_ms).then(|| id.clone())
}

async fn me(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(r) = check_headers(&app, &headers) {
        return r;
    }
    let now = app.clock.now_ms();
    let account = {
        let data = app.data();
        holder(&data.par.menu_tokens, bearer(&headers), now)
            .and_then(|id| data.par.accounts.get(&id).cloned())
    };
    match account {
        Some(a) => ok(json!({"customer_account": account_json(&a)})),
        None => unauthorized(),
    }
}

/// Emulator-only stand-in for PAR's Punchh-specific calls: needs both the menu token and the
/// DLC token (`DLC-Authorization: Bearer …`), unexpired, of the same account.
async fn loyalty(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(r) = check_headers(&app, &headers) {
        return r;
    }
    let now = app.clock.now_ms();
    let dlc = header_str(&headers, "dlc-authorization").and_then(|v| {
        let (scheme, token) = v.trim().split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
    });
    let account = {
        let data = app.data();
        let menu = holder(&data.par.menu_tokens, bearer(&headers), now);
        let dlc = holder(&data.par.dlc_tokens, dlc, now);
        match (menu, dlc) {
            (Some(m), Some(d)) if m == d => data.par.accounts.get(&m).cloned(),
            _ => None,
        }
    };
    match account {
        Some(a) => ok(json!({"loyalty": {
            "punchh_user_id": dlc_user_id(&a.id),
            "email": a.email,
        }})),
        None => unauthorized(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_tokens_parse_from_the_right() {
        let ident = parse_test_token("test-1100-jane.doe@partech.com-Jane-Doe-+41767567126");
        assert_eq!(
            ident,
            Some(Identity {
                idp_id: "1100".into(),
                email: "jane.doe@partech.com".into(),
                first_name: "Jane".into(),
                last_name: "Doe".into(),
                phone_number: "+41767567126".into(),
            })
        );
        let dashed =
            parse_test_token("test-7-mary-ann.o-neil@ex-ample.com-Mary-Ann-+1555").expect("parses");
        assert_eq!(dashed.email, "mary-ann.o-neil@ex-ample.com");
        assert_eq!(dashed.first_name, "Mary");
        assert_eq!(dashed.last_name, "Ann");
        for bad in [
            "test-",
            "test-1",
            "test-1-a-b-c",
            "test--a@b-c-d-e",
            "x-1-a@b-c-d-e",
            "test-1-a@b-c--e",
        ] {
            assert_eq!(parse_test_token(bad), None, "{bad}");
        }
    }

    #[test]
    fn linking_by_id_then_email() {
        let mut st = ParState::default();
        let ident = |id: &str, email: &str| Identity {
            idp_id: id.into(),
            email: email.into(),
            first_name: "A".into(),
            last_name: "B".into(),
            phone_number: "1".into(),
        };
        let a = st.link(&ident("u-1", "x@example.com"), 1);
        let b = st.link(&ident("1100", "X@example.com"), 2);
        assert_eq!(a.id, b.id, "bound by email");
        let c = st.link(&ident("1100", "new@example.com"), 3);
        assert_eq!(c.id, a.id, "bound id wins over the changed email");
        assert_eq!(c.email, "new@example.com");
        assert_eq!(c.updated_s, 3);
        let d = st.link(&ident("other", "x@example.com"), 4);
        assert_ne!(d.id, a.id, "old email was released");
    }
}
