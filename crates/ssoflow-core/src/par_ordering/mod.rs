//! PAR Ordering: machine (M2M) token, customer sign-in by token exchange, refresh-on-401,
//! the protected-call headers, and the ordering application's `/customer-info` endpoint.
//!
//! Every call carries `X-Request-ID` (a fresh UUID v4 from [`RequestIds`]), `Application`,
//! `Api-Version`, `X-Ordering-API: true` and `Accept: application/json`. Answers come in an
//! envelope `{"status":"OK","code":200,"data":{…}}`; any non-2xx status, or a `status` other
//! than `"OK"`, is `Error::Provider` with the envelope's `code` and a redacted excerpt.

mod account;
mod customer_info;
mod m2m;
mod sign_in;

pub use account::{ACCOUNT_ID_CAP, CustomerAccount, read_customer_account};
pub use customer_info::{
    CustomerDetails, CustomerInfo, CustomerInfoRequest, TestSubject, parse_customer_info_request,
    parse_test_subject, serve_customer_info, write_customer_info,
};
pub use m2m::{M2m, M2mRequest, m2m_quirks, m2m_token};
pub use sign_in::{CustomerSignIn, SignIn, SignInFlow, sign_in};

use crate::json::{JsonError, Parser, is, read_answer, set_once};
use crate::{Error, Excerpt, Method, Quirks, Request, RequestBuilder, Response, Secret};

/// The API version sent when none is configured.
pub const DEFAULT_API_VERSION: &str = "4.38.0";
/// The M2M scope requested when none is configured.
pub const DEFAULT_SCOPE: &str = "webhooks-management";

/// A PAR Ordering application's credentials and settings. Its `Debug` shows neither the
/// application key nor the client secret.
#[derive(Clone)]
pub struct ParConfig {
    base_url: heapless::String<256>,
    application_key: heapless::String<64>,
    client_id: heapless::String<128>,
    client_secret: Secret<256>,
    api_version: heapless::String<16>,
    scope: heapless::String<64>,
    role_id: Option<heapless::String<64>>,
    quirks: Quirks,
}

impl core::fmt::Debug for ParConfig {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ParConfig")
            .field("base_url", &self.base_url)
            .field("application_key", &"***")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("api_version", &self.api_version)
            .field("scope", &self.scope)
            .field("role_id", &self.role_id)
            .field("quirks", &self.quirks)
            .finish()
    }
}

/// Values that go into headers: visible ASCII and spaces only, never CR/LF.
fn header_safe(v: &str, what: &'static str) -> Result<(), Error> {
    if v.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        Ok(())
    } else {
        Err(Error::InvalidInput { what })
    }
}

impl ParConfig {
    /// Settings for the API at `base_url` (e.g. `https://api-public-playground.menu.app`).
    pub fn new(
        base_url: &str,
        application_key: &str,
        client_id: &str,
        client_secret: &str,
    ) -> Result<Self, Error> {
        let mut c = ParConfig {
            base_url: heapless::String::new(),
            application_key: heapless::String::new(),
            client_id: heapless::String::new(),
            client_secret: Secret::empty(),
            api_version: heapless::String::new(),
            scope: heapless::String::new(),
            role_id: None,
            quirks: Quirks::DEFAULT,
        };
        c.init(base_url, application_key, client_id, client_secret)?;
        Ok(c)
    }

    /// [`new`](Self::new)'s checks and copies, into the value where it stays (out of line:
    /// the caller's frame holds one copy of the configuration, not one per `Result`).
    #[inline(never)]
    fn init(
        &mut self,
        base_url: &str,
        application_key: &str,
        client_id: &str,
        client_secret: &str,
    ) -> Result<(), Error> {
        crate::http::check_url(base_url)?;
        header_safe(application_key, "application_key")?;
        if client_id.is_empty() {
            return Err(Error::InvalidInput { what: "client_id" });
        }
        crate::json::fill(&mut [
            (&mut self.base_url, base_url, "base_url"),
            (
                &mut self.application_key,
                application_key,
                "application_key",
            ),
            (&mut self.client_id, client_id, "client_id"),
            (&mut self.client_secret, client_secret, "client_secret"),
            (&mut self.api_version, DEFAULT_API_VERSION, "api_version"),
            (&mut self.scope, DEFAULT_SCOPE, "scope"),
        ])
    }

    /// Send this `Api-Version` (default [`DEFAULT_API_VERSION`]).
    pub fn with_api_version(mut self, v: &str) -> Result<Self, Error> {
        header_safe(v, "api_version")?;
        self.api_version.clear();
        crate::json::fill(&mut [(&mut self.api_version, v, "api_version")])?;
        Ok(self)
    }

    /// Ask for this M2M scope (default [`DEFAULT_SCOPE`]).
    pub fn with_scope(mut self, v: &str) -> Result<Self, Error> {
        self.scope.clear();
        crate::json::fill(&mut [(&mut self.scope, v, "scope")])?;
        Ok(self)
    }

    /// Send `X-Role-ID` (possibly empty) on the M2M call.
    pub fn with_role_id(mut self, v: &str) -> Result<Self, Error> {
        header_safe(v, "role_id")?;
        let role = self.role_id.insert(heapless::String::new());
        crate::json::fill(&mut [(role, v, "role_id")])?;
        Ok(self)
    }

    /// Choose which server quirks to accept when reading the M2M token (default
    /// [`Quirks::DEFAULT`]; PAR's fixed deviations are applied on top: [`m2m_quirks`]).
    pub fn with_quirks(mut self, quirks: Quirks) -> Self {
        self.quirks = quirks;
        self
    }

    /// The quirks in force.
    pub fn quirks(&self) -> Quirks {
        self.quirks
    }

    /// The API base URL.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Start a request with the headers every PAR Ordering call carries.
    fn request<'b>(
        &self,
        buf: &'b mut [u8],
        method: Method,
        path: &str,
        ids: &mut RequestIds,
    ) -> RequestBuilder<'b> {
        let mut rb = RequestBuilder::new(buf, method, &self.base_url, path);
        rb.header("X-Request-ID", &ids.next_id());
        rb.header("Application", &self.application_key);
        rb.header("Api-Version", &self.api_version);
        rb.static_header("X-Ordering-API", "true");
        rb
    }

    /// Write a call to a protected customer resource (e.g. `GET /api/customers/me`) with the
    /// menu token. Report a 401 to the session: the menu token has expired.
    pub fn protected_request<'b>(
        &self,
        buf: &'b mut [u8],
        method: Method,
        path: &str,
        menu_token: &str,
        ids: &mut RequestIds,
    ) -> Result<Request<'b>, Error> {
        let mut rb = self.request(buf, method, path, ids);
        rb.bearer(menu_token);
        rb.finish_in_place()
    }

    /// Write a Punchh-specific call for a brand integrated with Punchh: the menu token as
    /// `Authorization: Bearer …` and the DLC token as `DLC-Authorization: Bearer …` (seed 000:
    /// the DLC token "will be later used for Punchh specific calls in DLC-Authorization
    /// header"). A 401 means one of them expired; report it to the session like any protected
    /// call: the one re-sign-in renews both. [`Error::InvalidInput`] (`dlc_token`) when the
    /// sign-in carried no DLC token (the brand does not use Punchh).
    pub fn dlc_request<'b>(
        &self,
        buf: &'b mut [u8],
        method: Method,
        path: &str,
        signed_in: &SignIn,
        ids: &mut RequestIds,
    ) -> Result<Request<'b>, Error> {
        let dlc = signed_in
            .dlc_token
            .as_ref()
            .ok_or(Error::InvalidInput { what: "dlc_token" })?;
        let mut rb = self.request(buf, method, path, ids);
        rb.bearer(signed_in.menu_token.value.expose());
        rb.header_parts("DLC-Authorization", &["Bearer ", dlc.value.expose()]);
        rb.finish_in_place()
    }
}

/// Makes the `X-Request-ID` of each call: UUID v4s derived from a caller seed.
///
/// The core has no random source. Seed it with 16 random bytes; each id is the first 16 bytes
/// of SHA-256(seed ‖ counter) with the v4 bits set, so ids never repeat for one seed.
#[derive(Clone, Debug)]
pub struct RequestIds {
    seed: [u8; 16],
    counter: u64,
}

impl RequestIds {
    /// Ids from 16 bytes of the caller's entropy.
    pub fn new(seed: [u8; 16]) -> Self {
        RequestIds { seed, counter: 0 }
    }

    /// The next id, lowercase hyphenated.
    pub fn next_id(&mut self) -> heapless::String<36> {
        let digest = crate::hash::sha256(&[&self.seed, &self.counter.to_le_bytes()]);
        self.counter = self.counter.wrapping_add(1);
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(digest.get(..16).unwrap_or(&[0; 16]));
        uuid_v4(bytes)
    }
}

/// `bytes` as a UUID version 4 (RFC 9562 §5.4: version and variant bits set), lowercase and
/// hyphenated. By hand: the `uuid` crate's formatter costs more flash than these lines.
fn uuid_v4(mut bytes: [u8; 16]) -> heapless::String<36> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    if let Some(b) = bytes.get_mut(6) {
        *b = (*b & 0x0f) | 0x40;
    }
    if let Some(b) = bytes.get_mut(8) {
        *b = (*b & 0x3f) | 0x80;
    }
    let mut out = heapless::String::new();
    for (i, b) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            let _ = out.push('-');
        }
        for nibble in [b >> 4, b & 0xf] {
            let c = HEX.get(usize::from(nibble)).copied().unwrap_or(b'0');
            let _ = out.push(char::from(c));
        }
    }
    out
}

/// What [`read_envelope`] hands each member of `data` to.
type DataMember<'m> = &'m mut dyn FnMut(&mut Parser<'_>, &[u8]) -> Result<(), JsonError>;

/// Read an envelope, handing each member of `data` to `data`. Errors as the module says.
#[inline(never)]
fn read_envelope(response: Response<'_>, data: DataMember<'_>) -> Result<(), Error> {
    let accept = |s| (200..300).contains(&s);
    read_answer(response, accept, true, envelope_error, |refused| {
        *refused = !parse_envelope(response.body, data)?;
        Ok(())
    })
}

/// `true` for `"status":"OK"` with `data`, `false` for another status.
fn parse_envelope(body: &[u8], data: DataMember<'_>) -> Result<bool, JsonError> {
    let mut status: Option<heapless::String<16>> = None;
    let mut saw_data = false;
    let mut p = Parser::new(body);
    p.object("envelope", |p, key| match key {
        k if is(k, "status") => set_once(&mut status, p.string("status")?, "status"),
        k if is(k, "data") && status.as_deref().is_none_or(|s| s == "OK") && !p.null() => {
            saw_data = true;
            p.object("data", &mut *data)
        }
        _ => p.skip(),
    })?;
    p.finish()?;
    match status.as_deref() {
        Some("OK") if saw_data => Ok(true),
        Some("OK") => Err(JsonError::Malformed("data")),
        Some(_) => Ok(false),
        None => Err(JsonError::Malformed("status")),
    }
}

/// A refused call: HTTP status, the envelope's `code` when readable, and a redacted excerpt.
#[inline(never)]
fn envelope_error(response: Response<'_>) -> Error {
    Error::Provider {
        status: response.status,
        code: envelope_code(response.body),
        message: Excerpt::of(response.body),
    }
}

/// The envelope's numeric `code`, when the body is an envelope that has one.
fn envelope_code(body: &[u8]) -> Option<i64> {
    let mut code = None;
    let mut p = Parser::new(body);
    let _ = p.object("envelope", |p, key| match key {
        k if is(k, "code") && p.peek().is_some_and(|b| b == b'-' || b.is_ascii_digit()) => {
            code = p.i64("code").ok();
            Ok(())
        }
        _ => p.skip(),
    });
    code
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn config() -> ParConfig {
        ParConfig::new(
            "https://api-public-playground.menu.app",
            "f3a90488ffee32c3acb6fcd0ca417cf6",
            "client-id",
            "client-secret",
        )
        .unwrap()
        .with_role_id("")
        .unwrap()
    }

    #[test]
    fn uuid_v4_matches_the_uuid_crate() {
        for seed in 0u8..32 {
            let bytes: [u8; 16] = core::array::from_fn(|i| {
                seed.wrapping_mul(37)
                    .wrapping_add((i as u8).wrapping_mul(29))
            });
            let mut buf = [0u8; 36];
            let want = uuid::Builder::from_random_bytes(bytes)
                .into_uuid()
                .hyphenated()
                .encode_lower(&mut buf);
            assert_eq!(uuid_v4(bytes).as_str(), &*want);
        }
    }

    #[test]
    fn request_ids_are_uuid_v4_and_fresh() {
        let mut ids = RequestIds::new([7; 16]);
        let a = ids.next_id();
        let b = ids.next_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(a.as_bytes()[14], b'4');
        assert!(matches!(a.as_bytes()[19], b'8' | b'9' | b'a' | b'b'));
    }

    #[test]
    fn envelope_errors_keep_the_code() {
        let body = br#"{"status":"ERROR","code":422,"message":"subject_token is invalid"}"#;
        for status in [200, 422] {
            let e = read_envelope(Response::new(status, body), &mut |p, _| p.skip()).unwrap_err();
            match e {
                Error::Provider {
                    status: s,
                    code,
                    message,
                } => {
                    assert_eq!(s, status);
                    assert_eq!(code, Some(422));
                    assert!(message.as_str().contains("subject_token is invalid"));
                }
                other => panic!("{other:?}"),
            }
        }
        assert!(matches!(
            read_envelope(Response::new(502, b"<html>"), &mut |p, _| p.skip()),
            Err(Error::Provider {
                status: 502,
                code: None,
                ..
            })
        ));
        assert!(matches!(
            read_envelope(Response::new(200, br#"{"status":"OK"}"#), &mut |p, _| p
                .skip()),
            Err(Error::Malformed { what: "data", .. })
        ));
        assert!(matches!(
            read_envelope(Response::new(200, br#"{"data":{}}"#), &mut |p, _| p.skip()),
            Err(Error::Malformed { what: "status", .. })
        ));
    }

    #[test]
    fn dlc_request_sends_both_tokens() {
        use crate::{AccessToken, Expiry};
        let token = |v: &str| AccessToken {
            value: Secret::new(v, "t").unwrap(),
            expiry: Expiry::Unknown,
        };
        let mut signed_in = SignIn {
            customer: CustomerAccount::default(),
            menu_token: token("menu-jwt"),
            menu_token_ttl_min: Some(60),
            dlc_token: Some(token("dlc-jwt")),
            dlc_token_ttl_min: Some(60),
        };
        let c = config();
        let mut ids = RequestIds::new([0; 16]);
        let id = RequestIds::new([0; 16]).next_id();
        let mut buf = [0u8; 1024];
        let rendered = crate::testing::render(
            &c.dlc_request(&mut buf, Method::Get, "/api/loyalty", &signed_in, &mut ids)
                .unwrap(),
        );
        // seed 000: "an additional dlc-token is received that will be later used for Punchh
        // specific calls in DLC-Authorization header"
        assert_eq!(
            rendered,
            std::format!(
                "GET https://api-public-playground.menu.app/api/loyalty\n\
                 Accept: application/json\n\
                 X-Request-ID: {id}\n\
                 Application: f3a90488ffee32c3acb6fcd0ca417cf6\n\
                 Api-Version: 4.38.0\n\
                 X-Ordering-API: true\n\
                 Authorization: Bearer menu-jwt\n\
                 DLC-Authorization: Bearer dlc-jwt\n\
                 \n"
            )
        );
        signed_in.dlc_token = None;
        let mut buf = [0u8; 1024];
        assert_eq!(
            c.dlc_request(&mut buf, Method::Get, "/api/loyalty", &signed_in, &mut ids)
                .unwrap_err(),
            Error::InvalidInput { what: "dlc_token" }
        );
    }

    #[test]
    fn config_refuses_header_injection() {
        assert!(ParConfig::new("https://x.example", "key\r\nX: y", "id", "s").is_err());
        assert_eq!(
            ParConfig::new("http://x.example", "k", "id", "s").unwrap_err(),
            Error::Insecure
        );
    }
}
