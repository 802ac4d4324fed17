//! The HTML sign-in pages behind `GET /oauth2/authorize` and `GET /punchh/oauth/authorize`.
//!
//! When the sandbox shows login forms (always without test hooks; with test hooks only when
//! [`SandboxBuilder::login_form`](crate::SandboxBuilder::login_form) asks for them), a valid
//! authorization request is answered with a form instead of an immediate redirect:
//!
//! - `GET …/authorize?…` (checked by the vendor module exactly as for auto-approval) → 200
//!   `text/html`: user name (Punchh: email) and password fields, an **Allow** and a **Deny** button,
//!   and two hidden fields: `login_id` (the pending request, kept server-side for 10 minutes of
//!   sandbox time) and `csrf_token`. The same token is set in a cookie `csrf_<login_id>`
//!   (`HttpOnly; SameSite=Strict`, path of the form), so a submission must come from the browser
//!   that loaded the form (synchronizer token bound to a cookie).
//! - `POST …/authorize` (form-encoded: `login_id`, `csrf_token`, the user field, `password`,
//!   `decision=allow|deny`):
//!   - unknown, expired or used `login_id`, or one started at the other vendor: 400 page;
//!   - CSRF token missing or wrong in the form or the cookie: 403 page (the login stays pending);
//!   - `deny`: 303 to `redirect_uri?error=access_denied&state=…`;
//!   - `allow` with a wrong user name or password: 200, the form again with the error shown in
//!     `#error` (the client keeps waiting); after [`MAX_FAILURES`] wrong tries, 303
//!     `error=access_denied`;
//!   - `allow` with the right credentials: 303 to `redirect_uri?code=…&state=…`.
//!
//! Everything echoed into a page (client id, scope, redirect URI, the user name typed) is
//! HTML-escaped; `state` is kept server-side and only ever goes back in the redirect's query.
//! Every page is sent with `Cache-Control: no-store`, a `Content-Security-Policy` that allows no
//! script, and `X-Frame-Options: DENY` (no clickjacking of the consent button).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use crate::oauth2::{self, CodeRequest};
use crate::punchh;
use crate::state::AppState;
use crate::util::{append_query, content_type_is, ct_eq, random_token};

/// How long a shown form stays usable, seconds of sandbox time.
const LOGIN_TTL_S: u64 = 600;
/// Wrong passwords accepted on one form before the request is refused (`access_denied`).
pub const MAX_FAILURES: u32 = 5;
/// Pending logins kept at once; past it (after dropping expired ones) a new form is refused.
const MAX_PENDING: usize = 1024;

/// Which authorization server a pending login belongs to, and what approving it issues.
#[derive(Debug)]
pub(crate) enum Vendor {
    /// The generic OAuth 2.0 server: approval stores this code grant.
    OAuth2(CodeRequest),
    /// Punchh: approval stores a code for the registered redirect URI.
    Punchh,
}

impl Vendor {
    /// The path the form is served on and posted to.
    fn path(&self) -> &'static str {
        match self {
            Self::OAuth2(_) => "/oauth2/authorize",
            Self::Punchh => "/punchh/oauth/authorize",
        }
    }

    /// The name shown in the page's title.
    fn brand(&self) -> &'static str {
        match self {
            Self::OAuth2(_) => "the OAuth 2.0 sandbox",
            Self::Punchh => "Punchh (sandbox)",
        }
    }

    /// The user field: its form name, its label and its input type.
    fn user_field(&self) -> (&'static str, &'static str, &'static str) {
        match self {
            Self::OAuth2(_) => ("username", "User name", "text"),
            Self::Punchh => ("email", "Email", "email"),
        }
    }

    /// What a wrong sign-in says.
    fn wrong_credentials(&self) -> &'static str {
        match self {
            Self::OAuth2(_) => "Wrong user name or password.",
            Self::Punchh => "Wrong email or password.",
        }
    }
}

/// One authorization request waiting for its user.
#[derive(Debug)]
struct Pending {
    vendor: Vendor,
    client_id: String,
    scope: Option<String>,
    redirect_uri: String,
    state: Option<String>,
    csrf: String,
    expires_ms: u64,
    failures: u32,
}

/// Pending logins by `login_id`.
#[derive(Debug, Default)]
pub(crate) struct LoginState {
    pending: HashMap<String, Pending>,
}

/// A validated authorization request, to be shown as a form.
#[derive(Debug)]
pub(crate) struct Request {
    /// Which server, and what approval issues.
    pub(crate) vendor: Vendor,
    /// The client asking (shown on the page).
    pub(crate) client_id: String,
    /// The scope asked for (shown on the page).
    pub(crate) scope: Option<String>,
    /// Where the answer goes: already checked against the registered client.
    pub(crate) redirect_uri: String,
    /// The client's `state`, returned untouched in the redirect.
    pub(crate) state: Option<String>,
}

/// Answers a validated authorization request with the sign-in form (and its CSRF cookie).
pub(crate) fn show(app: &AppState, request: Request) -> Response {
    let now = app.clock.now_ms();
    let id = random_token();
    let csrf = random_token();
    let path = request.vendor.path();
    let page = {
        let mut data = app.data();
        let pending = &mut data.login.pending;
        if pending.len() >= MAX_PENDING {
            pending.retain(|_, p| p.expires_ms > now);
        }
        if pending.len() >= MAX_PENDING {
            drop(data);
            return message_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Too many sign-ins in progress",
                "Too many sign-ins are waiting; try again in a few minutes.",
            );
        }
        let p = Pending {
            vendor: request.vendor,
            client_id: request.client_id,
            scope: request.scope,
            redirect_uri: request.redirect_uri,
            state: request.state,
            csrf: csrf.clone(),
            expires_ms: app.clock.expiry(LOGIN_TTL_S),
            failures: 0,
        };
        let page = form_page(&id, &p, "", None);
        pending.insert(id.clone(), p);
        page
    };
    let mut resp = html(StatusCode::OK, page);
    let cookie =
        format!("csrf_{id}={csrf}; Path={path}; Max-Age={LOGIN_TTL_S}; HttpOnly; SameSite=Strict");
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

/// `POST /oauth2/authorize` and `POST /punchh/oauth/authorize`: the form's submission.
pub(crate) async fn submit(
    State(app): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !content_type_is(&headers, "application/x-www-form-urlencoded") {
        return message_page(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Not a sign-in form",
            "The sign-in form is sent as application/x-www-form-urlencoded.",
        );
    }
    let mut form: HashMap<String, String> = HashMap::new();
    for (k, v) in form_urlencoded::parse(&body) {
        if form.insert(k.into_owned(), v.into_owned()).is_some() {
            return message_page(
                StatusCode::BAD_REQUEST,
                "Malformed sign-in",
                "A field of the form was sent twice.",
            );
        }
    }
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    let now = app.clock.now_ms();
    let id = field("login_id");
    let mut data = app.data();
    let pending = &mut data.login.pending;
    let known = pending
        .get(id)
        .is_some_and(|p| p.expires_ms > now && p.vendor.path() == uri.path());
    let Some(p) = pending.get_mut(id).filter(|_| known) else {
        drop(data);
        return message_page(
            StatusCode::BAD_REQUEST,
            "Sign-in expired",
            "This sign-in is unknown, expired or already finished. Start again from the \
             application.",
        );
    };
    // Both comparisons always run (no short-circuit).
    let cookie = cookie_value(&headers, &format!("csrf_{id}")).unwrap_or("");
    let form_ok = ct_eq(field("csrf_token"), &p.csrf);
    let cookie_ok = ct_eq(cookie, &p.csrf);
    if !(form_ok & cookie_ok) {
        drop(data);
        return message_page(
            StatusCode::FORBIDDEN,
            "Request refused",
            "The form's CSRF token is missing or wrong: it must be sent from the sign-in page \
             itself. Reload the page and try again.",
        );
    }
    match field("decision") {
        "deny" => {
            let p = pending.remove(id);
            drop(data);
            p.map_or_else(internal, |p| {
                finish_error(&p, "access_denied", "the user denied the request")
            })
        }
        "allow" => {
            let (user_field, _, _) = p.vendor.user_field();
            let user = field(user_field);
            if credentials_ok(&app, &p.vendor, user, field("password")) {
                let p = pending.remove(id);
                drop(data);
                p.map_or_else(internal, |p| approve(&app, p))
            } else {
                p.failures = p.failures.saturating_add(1);
                if p.failures >= MAX_FAILURES {
                    let p = pending.remove(id);
                    drop(data);
                    return p.map_or_else(internal, |p| {
                        finish_error(&p, "access_denied", "too many wrong passwords")
                    });
                }
                let page = form_page(id, p, user, Some(p.vendor.wrong_credentials()));
                drop(data);
                html(StatusCode::OK, page)
            }
        }
        _ => {
            drop(data);
            message_page(
                StatusCode::BAD_REQUEST,
                "Malformed sign-in",
                "Choose Allow or Deny.",
            )
        }
    }
}

fn internal() -> Response {
    message_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Sign-in failed",
        "The sandbox lost this sign-in.",
    )
}

/// Whether `user` and `password` are the configured test user's, compared in constant time.
fn credentials_ok(app: &AppState, vendor: &Vendor, user: &str, password: &str) -> bool {
    match vendor {
        Vendor::OAuth2(_) => {
            let cfg = &app.config.oauth2;
            ct_eq(user, &cfg.username) & ct_eq(password, &cfg.password)
        }
        Vendor::Punchh => {
            let u = &app.config.punchh.user;
            // Email addresses are compared without regard to case.
            ct_eq(&user.to_ascii_lowercase(), &u.email.to_ascii_lowercase())
                & ct_eq(password, &u.password)
        }
    }
}

/// Issues the code and sends the browser back with it.
fn approve(app: &AppState, p: Pending) -> Response {
    let code = match p.vendor {
        Vendor::OAuth2(request) => oauth2::issue_code(app, request),
        Vendor::Punchh => punchh::issue_code(app),
    };
    let mut query = vec![("code", code.as_str())];
    if let Some(s) = &p.state {
        query.push(("state", s));
    }
    see_other(&append_query(&p.redirect_uri, &query))
}

/// Sends the browser back with an RFC 6749 §4.1.2.1 error.
fn finish_error(p: &Pending, error: &str, description: &str) -> Response {
    let mut query = vec![("error", error), ("error_description", description)];
    if let Some(s) = &p.state {
        query.push(("state", s));
    }
    see_other(&append_query(&p.redirect_uri, &query))
}

/// A 303 (the answer to a POST that the browser follows with a GET).
fn see_other(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(v) => {
            let mut resp = html(
                StatusCode::SEE_OTHER,
                page(
                    "Redirecting",
                    &format!(
                        "<p>Continue to <a href=\"{0}\">{0}</a>.</p>",
                        escape(location)
                    ),
                ),
            );
            resp.headers_mut().insert(header::LOCATION, v);
            resp
        }
        Err(_) => message_page(
            StatusCode::BAD_REQUEST,
            "Bad redirect",
            "The redirect URI is not a valid header value.",
        ),
    }
}

/// The value of cookie `name` in the request's `Cookie` header(s).
fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
}

/// Escapes text for an HTML element body or a double-quoted attribute value.
///
/// Hand-written rather than a crate: these five replacements are the whole of OWASP's rule for
/// those two contexts (the only ones used here; nothing goes into a script, style or URL
/// attribute unescaped), and the function is tested below.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

/// The sign-in form of `p`, with `user` filled in and `error` shown when given.
fn form_page(id: &str, p: &Pending, user: &str, error: Option<&str>) -> String {
    let (user_name, user_label, user_type) = p.vendor.user_field();
    let scope = p.scope.as_deref().map_or_else(String::new, |s| {
        format!(
            "<p>It asks for: <code id=\"scope\">{}</code>.</p>",
            escape(s)
        )
    });
    let error = error.map_or_else(String::new, |e| {
        format!("<p id=\"error\" role=\"alert\">{}</p>", escape(e))
    });
    let body = format!(
        "<p>The application <strong id=\"client\">{client}</strong> asks to sign you in.</p>\
         {scope}{error}\
         <form method=\"post\" action=\"{action}\">\
         <input type=\"hidden\" name=\"login_id\" value=\"{id}\">\
         <input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">\
         <label for=\"user\">{user_label}</label>\
         <input id=\"user\" name=\"{user_name}\" type=\"{user_type}\" value=\"{user}\" \
         autocomplete=\"username\" required{user_focus}>\
         <label for=\"password\">Password</label>\
         <input id=\"password\" name=\"password\" type=\"password\" \
         autocomplete=\"current-password\" required{password_focus}>\
         <p class=\"note\">Allowing sends you back to <code id=\"redirect\">{redirect}</code>.</p>\
         <button id=\"allow\" type=\"submit\" name=\"decision\" value=\"allow\">Allow</button> \
         <button id=\"deny\" type=\"submit\" name=\"decision\" value=\"deny\" formnovalidate>Deny</button>\
         </form>",
        client = escape(&p.client_id),
        action = p.vendor.path(),
        id = escape(id),
        csrf = escape(&p.csrf),
        user = escape(user),
        // The field to type in first: the password once the user name is known.
        user_focus = if user.is_empty() { " autofocus" } else { "" },
        password_focus = if user.is_empty() { "" } else { " autofocus" },
        redirect = escape(&p.redirect_uri),
    );
    page(&format!("Sign in to {}", p.vendor.brand()), &body)
}

/// A page with only a message.
fn message_page(status: StatusCode, title: &str, message: &str) -> Response {
    html(
        status,
        page(title, &format!("<p id=\"message\">{}</p>", escape(message))),
    )
}

/// The page skeleton; `title` is escaped, `body` is trusted markup.
fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>{STYLE}</style></head>\
         <body><main><h1>{title}</h1>{body}</main></body></html>\n",
        title = escape(title)
    )
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;background:#f4f5f7;margin:0}\
main{max-width:26rem;margin:3rem auto;background:#fff;padding:2rem;border-radius:8px;\
box-shadow:0 1px 4px #0002}h1{font-size:1.3rem;margin-top:0}label{display:block;\
margin-top:1rem;font-weight:600}input[type=text],input[type=email],input[type=password]{\
width:100%;box-sizing:border-box;padding:.5rem;margin-top:.25rem}\
button{margin-top:1.2rem;padding:.5rem 1.2rem}#allow{background:#1a5fb4;color:#fff;border:0;\
border-radius:4px}#error{color:#a51d2d;background:#fbe9eb;padding:.5rem;border-radius:4px}\
.note{color:#555;font-size:.9rem}code{word-break:break-all}";

/// An HTML answer with the headers every sign-in page carries.
fn html(status: StatusCode, body: String) -> Response {
    let mut resp = (status, body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_every_special_character() {
        assert_eq!(
            escape(r#"<a href="x" onclick='y'>&amp;</a>"#),
            "&lt;a href=&quot;x&quot; onclick=&#x27;y&#x27;&gt;&amp;amp;&lt;/a&gt;"
        );
        assert_eq!(escape("plain text é"), "plain text é");
    }

    #[test]
    fn finds_a_cookie_among_several() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("a=1; csrf_x=tok"));
        h.append(header::COOKIE, HeaderValue::from_static("b=2"));
        assert_eq!(cookie_value(&h, "csrf_x"), Some("tok"));
        assert_eq!(cookie_value(&h, "b"), Some("2"));
        assert_eq!(cookie_value(&h, "csrf_"), None);
    }
}
