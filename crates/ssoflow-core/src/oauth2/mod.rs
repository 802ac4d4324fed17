//! Generic OAuth 2.0 (RFC 6749, RFC 7636 PKCE, RFC 8693 token exchange, RFC 8628 device
//! authorization grant, RFC 7009 token revocation).
//!
//! Every grant is one form-encoded POST to the token endpoint, so every grant is a
//! [`TokenRequest`] run by [`OneShot`]; the modules below only choose the parameters. The
//! device grant ([`device_authorization`], then [`device_token`]) and revocation ([`revoke`])
//! post to their own endpoints with the same client authentication; polling and retries wait
//! between requests, so they are [`PacedFlow`](crate::PacedFlow)s.

mod authorization_code;
mod client_credentials;
mod device;
mod password;
mod recipe;
mod refresh;
mod revoke;
mod token_exchange;

pub use authorization_code::{
    Authorization, Callback, Pkce, authorization_code, authorize_url, parse_callback,
    parse_callback_from,
};
pub use client_credentials::client_credentials;
pub use device::{
    DEFAULT_INTERVAL_SECS, DEVICE_CODE_CAP, DEVICE_CODE_GRANT, DeviceAuthorization,
    DeviceAuthorizationFlow, DeviceAuthorizationRequest, DeviceToken, MIN_INTERVAL_SECS,
    SLOW_DOWN_SECS, USER_CODE_CAP, VERIFICATION_URI_CAP, device_authorization, device_token,
};
pub use password::password;
pub use recipe::{ClientCredentials, Password, Refreshing, TokenExchange};
pub use refresh::refresh;
pub use revoke::{Revocation, TokenTypeHint, revoke, revoke_tokens};
pub use token_exchange::{ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT, token_exchange};

use crate::json::{JsonError, Parser, Seen, is, read_answer};
use crate::token::check_token_chars;
use crate::{
    AccessToken, Error, Excerpt, Exchange, Expiry, Instant, Method, OneShot, Quirks, RefreshToken,
    Request, RequestBuilder, Response, Secret, TokenSet,
};

/// How the client proves its identity at the token endpoint.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ClientAuth {
    /// HTTP Basic with id and secret form-encoded first (RFC 6749 §2.3.1). The default.
    #[default]
    Basic,
    /// HTTP Basic with id and secret as they are (servers that skip the form-encoding).
    BasicRaw,
    /// `client_id` and `client_secret` in the form body (`client_secret_post`).
    Post,
}

/// A registered OAuth 2.0 client and its token endpoint.
#[derive(Clone, Debug)]
pub struct Client {
    token_url: heapless::String<256>,
    client_id: heapless::String<128>,
    secret: Option<Secret<256>>,
    auth: ClientAuth,
    quirks: Quirks,
}

impl Client {
    /// A client of the token endpoint at `token_url` (checked: `https://`, or `http://` to loopback).
    pub fn new(token_url: &str, client_id: &str) -> Result<Self, Error> {
        let mut c = Client::empty();
        c.init(token_url, client_id)?;
        Ok(c)
    }

    /// A client with no endpoint nor id yet, for [`init`](Self::init) to fill in place.
    pub(crate) const fn empty() -> Self {
        Client {
            token_url: heapless::String::new(),
            client_id: heapless::String::new(),
            secret: None,
            auth: ClientAuth::Basic,
            quirks: Quirks::DEFAULT,
        }
    }

    /// [`new`](Self::new)'s checks and copies, into an [`empty`](Self::empty) client where it
    /// stays (a config holding a client fills its own, no client moved through a `Result`).
    #[inline(never)]
    pub(crate) fn init(&mut self, token_url: &str, client_id: &str) -> Result<(), Error> {
        crate::http::check_url(token_url)?;
        if client_id.is_empty() {
            return Err(Error::InvalidInput { what: "client_id" });
        }
        crate::json::fill(&mut [
            (&mut self.token_url, token_url, "token_url"),
            (&mut self.client_id, client_id, "client_id"),
        ])
    }

    /// A confidential client: authenticate with `secret`.
    pub fn with_secret(mut self, secret: &str) -> Result<Self, Error> {
        self.set_secret(secret)?;
        Ok(self)
    }

    /// [`with_secret`](Self::with_secret) in place: the client is not moved (a move through
    /// a `Result` copies its 0.6 KiB on the stack). Replaces a secret set before; on `Err`
    /// (the secret exceeds its capacity) the client is left with no secret.
    ///
    /// ```
    /// # use ssoflow_core::oauth2::Client;
    /// let mut client = Client::new("https://server.example.com/token", "s6BhdRkqt3")?;
    /// client.set_secret("7Fjfp0ZBr1KtDRbnfVdmIw")?;
    /// # Ok::<(), ssoflow_core::Error>(())
    /// ```
    pub fn set_secret(&mut self, secret: &str) -> Result<(), Error> {
        let slot = self.secret.insert(Secret::empty());
        let filled = crate::json::fill(&mut [(slot, secret, "client_secret")]);
        if filled.is_err() {
            self.secret = None;
        }
        filled
    }

    /// Choose how the client authenticates (default [`ClientAuth::Basic`]).
    pub fn with_auth(mut self, auth: ClientAuth) -> Self {
        self.auth = auth;
        self
    }

    /// Choose which server quirks to accept (default [`Quirks::DEFAULT`]).
    pub fn with_quirks(mut self, quirks: Quirks) -> Self {
        self.quirks = quirks;
        self
    }

    /// The token endpoint.
    pub fn token_url(&self) -> &str {
        &self.token_url
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The quirks in force.
    pub fn quirks(&self) -> Quirks {
        self.quirks
    }
}

/// Most form parameters any grant sends.
const MAX_PARAMS: usize = 9;

/// A grant with more parameters than [`MAX_PARAMS`]: a bug in the grant's code.
pub(crate) const TOO_MANY_PARAMS: Error = Error::Internal {
    what: "more form parameters than a grant sends",
};

/// One token-endpoint request: the client plus the grant's form parameters.
///
/// `Debug` prints the parameters' names, and the values only of those that are never
/// credentials (grant type, scope, user name, token types, audience, redirect URI).
pub struct TokenRequest<'c> {
    client: &'c Client,
    params: heapless::Vec<(&'static str, &'c str), MAX_PARAMS>,
    keep_refresh: Option<&'c str>,
}

/// A flow that asks the token endpoint for tokens.
pub type TokenFlow<'c> = OneShot<TokenRequest<'c>>;

impl<'c> TokenRequest<'c> {
    /// A request for `grant_type` with the given extra parameters (`None` values are left out).
    pub fn new(
        client: &'c Client,
        grant_type: &'c str,
        params: &[(&'static str, Option<&'c str>)],
    ) -> Result<Self, Error> {
        let mut out = heapless::Vec::new();
        out.push(("grant_type", grant_type))
            .map_err(|_| TOO_MANY_PARAMS)?;
        for (k, v) in params {
            if let Some(v) = v {
                out.push((*k, *v)).map_err(|_| TOO_MANY_PARAMS)?;
            }
        }
        Ok(TokenRequest {
            client,
            params: out,
            keep_refresh: None,
        })
    }

    pub(crate) fn keeping_refresh_token(mut self, old: &'c str) -> Self {
        self.keep_refresh = Some(old);
        self
    }
}

/// Form parameters whose values are never credentials, printed by `Debug`.
const PUBLIC_PARAMS: [&str; 7] = [
    "grant_type",
    "scope",
    "username",
    "subject_token_type",
    "requested_token_type",
    "audience",
    "redirect_uri",
];

impl core::fmt::Debug for TokenRequest<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TokenRequest")
            .field("client", self.client)
            .field("params", &Params(&self.params))
            .finish_non_exhaustive()
    }
}

/// The parameters as `Debug` shows them: credentials as `***`.
struct Params<'a, 'c>(&'a [(&'static str, &'c str)]);

impl core::fmt::Debug for Params<'_, '_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut map = f.debug_map();
        for (name, value) in self.0 {
            if PUBLIC_PARAMS.contains(name) {
                map.entry(name, value);
            } else {
                map.entry(name, &crate::secret::Redacted);
            }
        }
        map.finish()
    }
}

impl Exchange for TokenRequest<'_> {
    type Output = TokenSet;

    fn request<'b>(&mut self, _now: Instant, buf: &'b mut [u8]) -> Result<Request<'b>, Error> {
        client_form(self.client, &self.client.token_url, &self.params, buf)
    }

    fn response_into(
        &mut self,
        now: Instant,
        response: Response<'_>,
        out: &mut Option<TokenSet>,
    ) -> Result<(), Error> {
        let then = Then {
            keep_refresh: self.keep_refresh,
            null_scope: false,
        };
        let quirks = self.client.quirks;
        crate::exchange::read_in_place(out, TokenSet::empty(), |slot| {
            read_token_response_into(now, response, quirks, slot, then)
        })
    }
}

/// A form-encoded `POST` of `params` to `url` with the client's authentication as configured:
/// the request every OAuth 2.0 endpoint of the client gets (token, RFC 8628 device
/// authorization, RFC 7009 revocation). Client credentials in the body come after `params`.
pub(crate) fn client_form<'b>(
    c: &Client,
    url: &str,
    params: &[(&str, &str)],
    buf: &'b mut [u8],
) -> Result<Request<'b>, Error> {
    let mut rb = RequestBuilder::new(buf, Method::Post, url, "");
    let mut extra = [("client_id", c.client_id.as_str()), ("client_secret", "")];
    let in_body = match (&c.secret, c.auth) {
        (Some(s), ClientAuth::Basic) => {
            rb.basic_auth(&c.client_id, s.expose(), true);
            0
        }
        (Some(s), ClientAuth::BasicRaw) => {
            rb.basic_auth(&c.client_id, s.expose(), false);
            0
        }
        (Some(s), ClientAuth::Post) => {
            if let Some(pair) = extra.get_mut(1) {
                pair.1 = s.expose();
            }
            2
        }
        (None, _) => 1,
    };
    rb.form_body_parts(params, extra.get(..in_body).unwrap_or(&[]));
    rb.finish_in_place()
}

/// Read a token endpoint's answer (RFC 6749 §5.1 / §5.2) with the given quirks.
///
/// Also used by vendors whose token answers have the same members (Punchh, the POS API).
pub fn read_token_response(
    now: Instant,
    response: Response<'_>,
    quirks: Quirks,
) -> Result<TokenSet, Error> {
    let mut set = TokenSet::empty();
    read_token_response_into(now, response, quirks, &mut set, Then::default())?;
    Ok(set)
}

/// [`read_token_response`] into `out`, which must be [`TokenSet::empty`]: the flows read the
/// answer where it will be kept.
///
/// `then`: what the flow does with the tokens of an answer that is not a refusal, before it
/// counts as read (done here, inside the reading, rather than after it returned: the reader's
/// `Result` then goes straight to the flow's caller, with no 0.2 KiB copy per caller frame).
pub(crate) fn read_token_response_into(
    now: Instant,
    response: Response<'_>,
    quirks: Quirks,
    out: &mut TokenSet,
    then: Then<'_>,
) -> Result<(), Error> {
    let body = quirks.body(response.body);
    let refusals = quirks.error_in_success_body();
    read_answer(
        response,
        |s| quirks.is_success(s),
        refusals,
        read_error,
        |refused| {
            *refused = matches!(parse_token_body(now, body, quirks, out)?, Body::Refusal);
            if !*refused {
                then.apply(quirks, out)?;
            }
            Ok(())
        },
    )
}

/// The step after a token answer's members were read (see [`read_token_response_into`]).
#[derive(Clone, Copy, Default)]
pub(crate) struct Then<'a> {
    /// The refresh token to keep when the answer sends none (a refresh grant's old one); an
    /// answer without one is malformed unless the quirks keep the old token.
    pub(crate) keep_refresh: Option<&'a str>,
    /// A `scope` of `"null"` means no scope (Punchh).
    pub(crate) null_scope: bool,
}

impl Then<'_> {
    fn apply(self, quirks: Quirks, set: &mut TokenSet) -> Result<(), JsonError> {
        if self.null_scope && set.scope.as_deref() == Some("null") {
            set.scope = None;
        }
        if let (None, Some(old)) = (&set.refresh, self.keep_refresh) {
            if !quirks.keep_refresh_token() {
                return Err(JsonError::Malformed("refresh_token"));
            }
            if !crate::json::Sink::push(set.refresh.insert(Secret::empty()), old) {
                return Err(JsonError::Capacity("refresh_token"));
            }
        }
        Ok(())
    }
}

/// What a 2xx token answer turned out to be.
pub(crate) enum Body {
    Tokens,
    /// An `error` member: a refusal in a success status.
    Refusal,
}

#[inline(never)]
fn parse_token_body(
    now: Instant,
    body: &[u8],
    quirks: Quirks,
    out: &mut TokenSet,
) -> Result<Body, JsonError> {
    let mut read = TokenMembers::new(
        quirks,
        &mut out.access,
        &mut out.expires_in,
        Some(&mut out.refresh),
        Some(&mut out.scope),
    );
    let mut p = Parser::new(body);
    p.object("token response", |p, key| read.member(p, key))?;
    p.finish()?;
    read.check(now)
}

/// Reads the members of an RFC 6749 token object (§5.1) straight into their slots, over one
/// object or several (the PAR M2M answer nests one in its envelope), then checks them. Shared
/// by every token reader, so the member code exists once (firmware flash).
pub(crate) struct TokenMembers<'a> {
    quirks: Quirks,
    access: &'a mut AccessToken,
    expires_in: &'a mut Option<u64>,
    /// `None`: `refresh_token` is not read (skipped like any unknown member).
    refresh: Option<&'a mut Option<RefreshToken>>,
    /// `None`: `scope` is not read.
    scope: Option<&'a mut Option<heapless::String<256>>>,
    seen: Seen,
    token_type: heapless::String<32>,
}

impl<'a> TokenMembers<'a> {
    const ACCESS: u32 = 1;
    const TYPE: u32 = 1 << 1;
    const EXPIRES: u32 = 1 << 2;
    const REFRESH: u32 = 1 << 3;
    const SCOPE: u32 = 1 << 4;
    const ERROR: u32 = 1 << 5;

    /// Read into these (empty) slots under `quirks`.
    pub(crate) fn new(
        quirks: Quirks,
        access: &'a mut AccessToken,
        expires_in: &'a mut Option<u64>,
        refresh: Option<&'a mut Option<RefreshToken>>,
        scope: Option<&'a mut Option<heapless::String<256>>>,
    ) -> Self {
        TokenMembers {
            quirks,
            access,
            expires_in,
            refresh,
            scope,
            seen: Seen::new(),
            token_type: heapless::String::new(),
        }
    }

    /// One member of the object (a [`Parser::object`] callback).
    #[inline(never)]
    pub(crate) fn member(&mut self, p: &mut Parser<'_>, key: &[u8]) -> Result<(), JsonError> {
        match key {
            k if is(k, "access_token") => {
                self.seen.first(Self::ACCESS, "access_token")?;
                p.string_into(&mut self.access.value, "access_token")
            }
            k if is(k, "token_type") => {
                self.seen.first(Self::TYPE, "token_type")?;
                p.string_into(&mut crate::json::text(&mut self.token_type), "token_type")
            }
            k if is(k, "expires_in") && p.null() => Ok(()),
            k if is(k, "expires_in") => {
                let v = p.u64_or_string("expires_in", self.quirks.expires_in_as_string())?;
                self.seen.first(Self::EXPIRES, "expires_in")?;
                *self.expires_in = Some(v);
                Ok(())
            }
            k if is(k, "refresh_token") => match self.refresh.as_deref_mut() {
                None => p.skip(),
                Some(_) if p.null() => Ok(()),
                Some(slot) => {
                    self.seen.first(Self::REFRESH, "refresh_token")?;
                    p.string_into(slot.insert(Secret::empty()), "refresh_token")
                }
            },
            k if is(k, "scope") => match self.scope.as_deref_mut() {
                None => p.skip(),
                Some(_) if p.null() => Ok(()),
                Some(slot) => {
                    self.seen.first(Self::SCOPE, "scope")?;
                    let scope = slot.insert(heapless::String::new());
                    p.string_into(&mut crate::json::text(scope), "scope")
                }
            },
            k if is(k, "error") && self.quirks.error_in_success_body() => {
                self.seen.first(Self::ERROR, "error")?;
                p.string::<48>("error").map(drop)
            }
            _ => p.skip(),
        }
    }

    /// After the object(s): a refusal (an `error` member), or the checked tokens with their
    /// expiry set from `now`.
    #[inline(never)]
    pub(crate) fn check(self, now: Instant) -> Result<Body, JsonError> {
        if self.seen.has(Self::ERROR) {
            return Ok(Body::Refusal);
        }
        self.seen.required(Self::ACCESS, "access_token")?;
        if !check_token_chars(self.access.value.as_bytes()) {
            return Err(JsonError::Malformed("access_token"));
        }
        let bearer = if self.seen.has(Self::TYPE) {
            self.token_type.eq_ignore_ascii_case("bearer")
        } else {
            self.quirks.missing_token_type()
        };
        if !bearer {
            return Err(JsonError::Malformed("token_type"));
        }
        if let Some(Some(r)) = self.refresh.as_deref() {
            if !check_token_chars(r.as_bytes()) {
                return Err(JsonError::Malformed("refresh_token"));
            }
        }
        self.access.expiry = Expiry::after(now, *self.expires_in);
        Ok(Body::Tokens)
    }
}

/// Turn an error answer into a typed error: `OAuth` when the body has an `error` member
/// (RFC 6749 §5.2; `message` is read as a description too), `Provider` otherwise.
#[inline(never)]
pub fn read_error(response: Response<'_>) -> Error {
    let body = response.body;
    // A 2xx body is a token answer that said `error`: it may hold tokens too, so it is never
    // excerpted, only described (found by the fuzz smoke run: a malformed prefix can hide a
    // token member from the redaction).
    let whole = || {
        if (200..300).contains(&response.status) {
            Excerpt::withheld(body)
        } else {
            Excerpt::of(body)
        }
    };
    let mut error: Option<heapless::String<48>> = None;
    let mut errors = 0u8;
    let mut description = None;
    let mut p = Parser::new(body);
    let parsed = p.object("error response", |p, key| match key {
        k if is(k, "error") => {
            // Two `error` members are ambiguous (parsers differ on which wins, so a proxy and
            // we could read different codes): counted, and then read as a Provider error.
            errors = errors.saturating_add(1);
            if p.peek() != Some(b'"') {
                return p.skip();
            }
            // An error code too long for 48 bytes is not an RFC 6749 code: fall back to Provider.
            // Not an RFC 6749 §5.2 code (control characters, quotes): read as a Provider error.
            error = p
                .string("error")
                .ok()
                .filter(|e: &heapless::String<48>| crate::error::is_error_code(e));
            Ok(())
        }
        k if (is(k, "error_description") || is(k, "message")) && p.peek() == Some(b'"') => {
            let d: Result<heapless::String<{ crate::error::EXCERPT_CAP }>, _> =
                p.string("error_description");
            description = Some(
                d.map(|d| Excerpt::of(d.as_bytes()))
                    .unwrap_or_else(|_| whole()),
            );
            Ok(())
        }
        _ => p.skip(),
    });
    match (parsed, error) {
        (Ok(()), Some(error)) if errors == 1 => Error::OAuth {
            status: response.status,
            error,
            description: description.unwrap_or_default(),
        },
        _ => Error::Provider {
            status: response.status,
            code: None,
            message: whole(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{drive, golden};
    use crate::{Flow, Step};

    pub(crate) fn client() -> Client {
        Client::new("https://server.example.com/token", "s6BhdRkqt3")
            .unwrap()
            .with_secret("7Fjfp0ZBr1KtDRbnfVdmIw")
            .unwrap()
    }

    #[test]
    fn set_secret_in_place_matches_with_secret_and_clears_on_overflow() {
        let mut c = Client::new("https://server.example.com/token", "s6BhdRkqt3").unwrap();
        assert!(c.secret.is_none());
        c.set_secret("first").unwrap();
        c.set_secret("7Fjfp0ZBr1KtDRbnfVdmIw").unwrap();
        let built = client();
        assert_eq!(
            c.secret.as_ref().map(|s| s.expose()),
            built.secret.as_ref().map(|s| s.expose())
        );
        assert_eq!(c.token_url(), built.token_url());
        assert_eq!(c.client_id(), built.client_id());
        // Too long for its capacity: refused, and no secret is left behind (not a stale or
        // empty one the client would authenticate with).
        let long = "s".repeat(257);
        assert!(matches!(
            c.set_secret(&long),
            Err(Error::Capacity {
                field: "client_secret"
            })
        ));
        assert!(c.secret.is_none());
    }

    #[test]
    fn rfc6749_example_response_parses() {
        let body = br#"{"access_token":"2YotnFZFEjr1zCsicMWpAA","token_type":"example","expires_in":3600}"#;
        // token_type "example" is not Bearer: refused.
        let r = read_token_response(
            Instant::from_millis(0),
            Response::new(200, body),
            Quirks::DEFAULT,
        );
        assert!(matches!(
            r,
            Err(Error::Malformed {
                what: "token_type",
                ..
            })
        ));
        let body = br#"{"access_token":"2YotnFZFEjr1zCsicMWpAA","token_type":"BEARER","expires_in":3600,"refresh_token":"tGzv3JOkF0XG5Qx2TlKWIA","example_parameter":"example_value"}"#;
        let t = read_token_response(
            Instant::from_millis(5),
            Response::new(200, body),
            Quirks::DEFAULT,
        )
        .unwrap();
        assert_eq!(t.access.value.expose(), "2YotnFZFEjr1zCsicMWpAA");
        assert_eq!(t.access.expiry, Expiry::At(Instant::from_millis(3_600_005)));
        assert_eq!(t.refresh.unwrap().expose(), "tGzv3JOkF0XG5Qx2TlKWIA");
    }

    #[test]
    fn quirks_are_switches() {
        let now = Instant::from_millis(0);
        let body = br#"{"access_token":"a","expires_in":"60"}"#;
        let t = read_token_response(now, Response::new(201, body), Quirks::DEFAULT).unwrap();
        assert_eq!(t.expires_in, Some(60));
        assert!(read_token_response(now, Response::new(201, body), Quirks::STRICT).is_err());
        let strict_ok = br#"{"access_token":"a","token_type":"Bearer","expires_in":60}"#;
        assert!(read_token_response(now, Response::new(200, strict_ok), Quirks::STRICT).is_ok());
        assert!(matches!(
            read_token_response(now, Response::new(201, strict_ok), Quirks::STRICT),
            Err(Error::Provider { status: 201, .. })
        ));
        let refusal = br#"{"error":"invalid_grant","error_description":"bad code"}"#;
        match read_token_response(now, Response::new(200, refusal), Quirks::DEFAULT) {
            Err(Error::OAuth {
                status: 200,
                error,
                description,
            }) => {
                assert_eq!(error, "invalid_grant");
                assert_eq!(description.as_str(), "bad code");
            }
            other => panic!("{other:?}"),
        }
        let no_expiry = br#"{"access_token":"a","token_type":"bearer"}"#;
        let t = read_token_response(now, Response::new(200, no_expiry), Quirks::DEFAULT).unwrap();
        assert_eq!(t.access.expiry, Expiry::Unknown);
    }

    #[test]
    fn bad_answers_are_typed() {
        let now = Instant::from_millis(0);
        let cases: &[(u16, &[u8], &str)] = &[
            (200, b"", "malformed"),
            (200, b"<html>hi</html>", "malformed"),
            (
                200,
                br#"{"access_token":"a","token_type":"bearer","expires_in":-1}"#,
                "malformed",
            ),
            (
                200,
                br#"{"access_token":"a","token_type":"bearer","expires_in":1e30}"#,
                "malformed",
            ),
            (
                200,
                br#"{"access_token":"a\u0000b","token_type":"bearer"}"#,
                "malformed",
            ),
            (
                200,
                br#"{"access_token":"a","access_token":"b"}"#,
                "malformed",
            ),
            (200, br#"{"token_type":"bearer"}"#, "malformed"),
            (200, br#"{"access_token":"a","#, "malformed"),
            (400, br#"{"error":"invalid_client"}"#, "oauth"),
            (
                401,
                br#"{"error":"invalid_client","error_description":"no"}"#,
                "oauth",
            ),
            (500, b"oops", "provider"),
            (503, b"", "provider"),
        ];
        for (status, body, kind) in cases {
            let e = read_token_response(now, Response::new(*status, body), Quirks::DEFAULT)
                .unwrap_err();
            assert_eq!(e.kind(), *kind, "{status} {:?}", core::str::from_utf8(body));
        }
        let mut big = std::vec::Vec::from(&br#"{"access_token":""#[..]);
        big.extend(core::iter::repeat_n(b'a', 100_000));
        big.extend_from_slice(br#"","token_type":"bearer"}"#);
        let e = read_token_response(now, Response::new(200, &big), Quirks::DEFAULT).unwrap_err();
        assert_eq!(
            e,
            Error::Capacity {
                field: "access_token"
            }
        );
    }

    #[test]
    fn client_secret_post_and_public_clients() {
        let c = client().with_auth(ClientAuth::Post);
        let mut flow = client_credentials(&c, None).unwrap();
        let mut buf = [0u8; 1024];
        let Step::Send(r) = flow.poll(Instant::from_millis(0), &mut buf).unwrap() else {
            panic!()
        };
        assert!(r.header("authorization").is_none());
        assert_eq!(r.body, b"grant_type=client_credentials&client_id=s6BhdRkqt3&client_secret=7Fjfp0ZBr1KtDRbnfVdmIw");
        let public = Client::new("https://server.example.com/token", "pub").unwrap();
        let mut flow = client_credentials(&public, Some("a b")).unwrap();
        let mut buf2 = [0u8; 1024];
        let Step::Send(r) = flow.poll(Instant::from_millis(0), &mut buf2).unwrap() else {
            panic!()
        };
        assert_eq!(
            r.body,
            b"grant_type=client_credentials&scope=a+b&client_id=pub"
        );
    }

    #[test]
    fn oauth_error_code_is_printed_without_control_characters() {
        let e = read_error(Response::new(400, br#"{"error":"a\nb"}"#));
        let s = std::format!("{e}");
        assert!(!s.chars().any(char::is_control), "{s:?}");
        assert_eq!(e.kind(), "provider");
    }

    #[test]
    fn insecure_urls_refused() {
        assert_eq!(
            Client::new("http://auth.example/token", "x").unwrap_err(),
            Error::Insecure
        );
        assert!(Client::new("http://127.0.0.1:9/token", "x").is_ok());
    }

    #[test]
    fn transcript_and_golden_request() {
        let c = client();
        let ok = br#"{"access_token":"at","token_type":"Bearer","expires_in":3600}"#;
        let (out, transcript) = drive(
            client_credentials(&c, Some("orders")).unwrap(),
            &[(200, ok)],
        );
        assert!(out.is_ok());
        assert_eq!(
            transcript,
            [
                "send POST https://server.example.com/token",
                "handle 200",
                "done"
            ]
        );
        golden(
            &mut client_credentials(&c, Some("orders")).unwrap(),
            "POST https://server.example.com/token\n\
             Accept: application/json\n\
             Authorization: Basic czZCaGRSa3F0Mzo3RmpmcDBaQnIxS3REUmJuZlZkbUl3\n\
             Content-Type: application/x-www-form-urlencoded\n\
             \n\
             grant_type=client_credentials&scope=orders",
        );
    }

    #[test]
    fn a_2xx_token_answer_that_cannot_be_read_is_never_excerpted() {
        // A byte-order mark, an anti-XSSI prefix, form encoding: each a token answer the reader
        // refuses, each holding tokens that must not reach the error (issue 17, item 3).
        let bodies: [&[u8]; 4] = [
            b"\xEF\xBB\xBF{\"access_token\":\"AT-SECRET-1\",\"refresh_token\":\"RT-SECRET-2\",\"token_type\":\"Bearer\"}",
            b")]}'\n{\"access_token\":\"AT-SECRET-1\",\"refresh_token\":\"RT-SECRET-2\"}",
            b"access_token=AT-SECRET-1&refresh_token=RT-SECRET-2&token_type=bearer",
            b"{\"access_token\":\"AT-SECRET-1\",\"expires_in\":[\"RT-SECRET-2\"]}",
        ];
        for body in bodies {
            // Strict: the byte-order mark is refused too (the default skips it, below).
            let e = read_token_response(
                Instant::from_millis(0),
                Response::new(200, body),
                Quirks::STRICT,
            )
            .unwrap_err();
            let shown = std::format!("{e} {e:?}");
            assert!(!shown.contains("SECRET"), "{shown}");
            assert!(
                shown.contains(&std::format!("{} bytes", body.len())),
                "{shown}"
            );
        }
    }

    #[test]
    fn a_leading_byte_order_mark_is_skipped_by_default_only() {
        let body = b"\xEF\xBB\xBF{\"access_token\":\"at\",\"token_type\":\"Bearer\"}";
        let now = Instant::from_millis(0);
        let set = read_token_response(now, Response::new(200, body), Quirks::DEFAULT).unwrap();
        assert_eq!(set.access.value.expose(), "at");
        let off = Quirks::DEFAULT.with_leading_bom(false);
        assert!(matches!(
            read_token_response(now, Response::new(200, body), off),
            Err(Error::Malformed { .. })
        ));
    }

    #[test]
    fn a_duplicate_error_member_is_a_provider_error() {
        // Found by the fuzz campaign (oauth2_error): the first, string `error` was kept while
        // serde_json (last wins) read the number.
        for body in [
            &br#"{"error":"x$","error":7.65951106e00}"#[..],
            br#"{"error":"invalid_grant","error":"temporarily_unavailable"}"#,
            br#"{"error":null,"error":"invalid_grant"}"#,
        ] {
            let e = read_error(Response::new(400, body));
            assert!(
                matches!(e, Error::Provider { status: 400, .. }),
                "{body:?}: {e:?}"
            );
        }
        let once = read_error(Response::new(400, br#"{"error":"invalid_grant"}"#));
        assert!(matches!(once, Error::OAuth { .. }), "{once:?}");
    }
}
