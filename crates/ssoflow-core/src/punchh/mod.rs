//! Punchh: the SSO access token, authorization-code SSO and user information (PROTOCOLS.md §2,
//! seeds 001 and 002).
//!
//! Every call is signed: `x-pch-digest` is the lowercase hex `HMAC(signing secret, uri + body)`
//! of the path and query after the base URL and the exact body bytes sent (see [`digest`]). The
//! signing secret is a setting of its own ([`PunchhConfig::with_signing_secret`]); it defaults to the
//! OAuth client secret, which is what `POST /oauth/token` carries as `client_secret`. Every call
//! also carries `Accept: application/json`, `Content-Type: application/json` and a `User-Agent`.
//! A refused digest is HTTP 412, reported as [`Error::Digest`]; other refusals are
//! [`Error::Provider`] (`{"errors":{"base":[…]}}`) or [`Error::OAuth`] (`{"error":…}`).
//!
//! Flows, each one request and one response:
//! - [`sso`]: trade a mobile/web SSO `security_token` for an access token and the [`User`];
//! - [`authorize_url`] → the user signs in on the Punchh-hosted form → [`parse_callback`] →
//!   [`code_for_token`]: the authorization-code flow, yielding a [`TokenSet`](crate::TokenSet);
//! - [`user_info()`]: the signed-in [`User`] for an access token. The user object carries the
//!   user-level token ([`User::user_token`]); sign the rest of the user's session with it through
//!   [`PunchhConfig::user_request`].

mod digest;
mod oauth;
mod sso;
mod user;
mod user_info;

pub use digest::{Algorithm, DIGEST_HEX_LEN, digest};
pub use oauth::{
    CodeForToken, CodeForTokenFlow, authorize_url, code_for_token, state_from_entropy,
};
pub use sso::{Sso, SsoFlow, SsoLogin, SsoRequest, sso};
pub use user::{AUTH_TOKEN_CAP, EMAIL_CAP, NAME_CAP, PHONE_CAP, User};
pub use user_info::{UserInfo, UserInfoFlow, user_info};

/// Authorization callbacks are plain OAuth 2.0: the redirect carries `code` and `state`.
pub use crate::oauth2::{Callback, parse_callback};

use crate::json::{JsonError, read_answer};
use crate::oauth2::read_error;
use crate::token::check_token_chars;
use crate::{Error, Method, Quirks, Request, RequestBuilder, Response, Secret};

/// The `User-Agent` sent when none is configured (the one in Punchh's examples).
pub const DEFAULT_USER_AGENT: &str = "Punchh/OnlineOrder/1.0/Web/BrowserVersion/OS_Type";

/// Capacity of the base URL.
pub const BASE_URL_CAP: usize = 256;
/// Capacity of the business client key and of the OAuth client id.
pub const CLIENT_CAP: usize = 128;
/// Capacity of the OAuth client secret and of the signing (digest) secret, each.
pub const SECRET_CAP: usize = 256;
/// Capacity of the `User-Agent`.
pub const USER_AGENT_CAP: usize = 128;

/// A Punchh business's credentials and settings.
#[derive(Clone, Debug)]
pub struct PunchhConfig {
    base_url: heapless::String<BASE_URL_CAP>,
    client: heapless::String<CLIENT_CAP>,
    client_secret: Secret<SECRET_CAP>,
    signing_secret: Secret<SECRET_CAP>,
    client_id: heapless::String<CLIENT_CAP>,
    user_agent: heapless::String<USER_AGENT_CAP>,
    algorithm: Option<Algorithm>,
    quirks: Quirks,
}

impl PunchhConfig {
    /// Settings for the Punchh server at `base_url` (e.g. `https://sandbox.punchh.com`; checked:
    /// `https://`, or `http://` to loopback), the business `client` key and its OAuth client
    /// `secret` (seed 002: `client_secret`, "OAuth client secret of the business").
    ///
    /// The OAuth client id defaults to `client`; the `x-pch-digest` signing secret to `secret`
    /// ([`with_signing_secret`](Self::with_signing_secret)); the `User-Agent` to
    /// [`DEFAULT_USER_AGENT`]; the digest algorithm is chosen by path ([`Algorithm::for_path`]).
    pub fn new(base_url: &str, client: &str, secret: &str) -> Result<Self, Error> {
        let mut c = PunchhConfig {
            base_url: heapless::String::new(),
            client: heapless::String::new(),
            client_secret: Secret::empty(),
            signing_secret: Secret::empty(),
            client_id: heapless::String::new(),
            user_agent: heapless::String::new(),
            algorithm: None,
            quirks: Quirks::DEFAULT,
        };
        c.init(base_url, client, secret)?;
        Ok(c)
    }

    /// [`new`](Self::new)'s checks and copies, into the value where it stays (out of line:
    /// the caller's frame holds one copy of the configuration, not one per `Result`).
    #[inline(never)]
    fn init(&mut self, base_url: &str, client: &str, secret: &str) -> Result<(), Error> {
        crate::http::check_url(base_url)?;
        if client.is_empty() {
            return Err(Error::InvalidInput { what: "client" });
        }
        if secret.is_empty() {
            return Err(Error::InvalidInput { what: "secret" });
        }
        crate::json::fill(&mut [
            (&mut self.base_url, base_url, "base_url"),
            (&mut self.client, client, "client"),
            (&mut self.client_secret, secret, "secret"),
            (&mut self.signing_secret, secret, "secret"),
            (&mut self.client_id, client, "client_id"),
            (&mut self.user_agent, DEFAULT_USER_AGENT, "user_agent"),
        ])
    }

    /// Use this OAuth client id for the authorization-code flow (default: the client key).
    pub fn with_client_id(mut self, client_id: &str) -> Result<Self, Error> {
        if client_id.is_empty() {
            return Err(Error::InvalidInput { what: "client_id" });
        }
        self.client_id.clear();
        crate::json::fill(&mut [(&mut self.client_id, client_id, "client_id")])?;
        Ok(self)
    }

    /// Sign `x-pch-digest` with this secret instead of the OAuth client secret (not empty).
    ///
    /// The client secret still goes in the `client_secret` member of `POST /oauth/token`; the
    /// signing secret never leaves the process (only HMACs made with it do).
    pub fn with_signing_secret(mut self, signing_secret: &str) -> Result<Self, Error> {
        if signing_secret.is_empty() {
            return Err(Error::InvalidInput {
                what: "signing_secret",
            });
        }
        self.signing_secret = Secret::new(signing_secret, "signing_secret")?;
        Ok(self)
    }

    /// Send this `User-Agent` (visible ASCII and spaces, not empty).
    pub fn with_user_agent(mut self, user_agent: &str) -> Result<Self, Error> {
        let ok =
            !user_agent.trim().is_empty() && user_agent.bytes().all(|b| (0x20..0x7f).contains(&b));
        if !ok {
            return Err(Error::InvalidInput { what: "user_agent" });
        }
        self.user_agent.clear();
        crate::json::fill(&mut [(&mut self.user_agent, user_agent, "user_agent")])?;
        Ok(self)
    }

    /// Sign every request with `algorithm` instead of choosing by path.
    pub fn with_algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = Some(algorithm);
        self
    }

    /// Choose which server quirks to accept when reading answers (default [`Quirks::DEFAULT`]).
    pub fn with_quirks(mut self, quirks: Quirks) -> Self {
        self.quirks = quirks;
        self
    }

    /// The base URL.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The business client key.
    pub fn client(&self) -> &str {
        &self.client
    }

    /// The OAuth client id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The `User-Agent` sent.
    pub fn user_agent(&self) -> &str {
        &self.user_agent
    }

    /// The forced digest algorithm, if any (`None`: chosen by path).
    pub fn algorithm(&self) -> Option<Algorithm> {
        self.algorithm
    }

    /// The quirks in force.
    pub fn quirks(&self) -> Quirks {
        self.quirks
    }

    /// Write a signed Punchh request: `Accept`, `Authorization: Bearer` when `bearer` is given,
    /// `Content-Type: application/json`, `User-Agent` and `x-pch-digest` over the path after the
    /// base URL and the exact JSON body written (`body` members are strings; `None`: no body).
    ///
    /// The flows of this module use it; use it too for Punchh calls they do not cover.
    pub fn signed_request<'b>(
        &self,
        buf: &'b mut [u8],
        method: Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<&[(&str, &str)]>,
    ) -> Result<Request<'b>, Error> {
        if !path.starts_with('/') || path.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(Error::InvalidInput { what: "path" });
        }
        let base = crate::http::trim_slashes(&self.base_url);
        let mut rb = RequestBuilder::new(buf, method, base, path);
        if let Some(token) = bearer {
            if !check_token_chars(token.as_bytes()) {
                return Err(Error::InvalidInput {
                    what: "access_token",
                });
            }
            rb.bearer(token);
        }
        match body {
            Some(members) => rb.json_body(members),
            None => rb.static_header("Content-Type", "application/json"),
        }
        rb.header("User-Agent", &self.user_agent);
        // The signed uri is what follows the base URL, exactly as written (query included).
        let url = rb.written_url();
        let uri = url
            .get(base.len()..)
            .and_then(|u| core::str::from_utf8(u).ok())
            .unwrap_or("");
        let algorithm = self.algorithm.unwrap_or_else(|| Algorithm::for_path(uri));
        let signature = digest(
            self.signing_secret.expose(),
            algorithm,
            uri,
            rb.written_body(),
        );
        rb.header("x-pch-digest", &signature);
        rb.finish_in_place()
    }

    /// Write a signed Punchh call on the user's behalf: the four required headers (`Accept`,
    /// `Content-Type: application/json`, `User-Agent`, `x-pch-digest`) and
    /// `Authorization: Bearer <user_token>`, the user-level token of [`User::user_token`].
    ///
    /// Seed 002: supply the client-level access token "to the Fetch User Information API to
    /// retrieve a user-level authentication or access token. You can then use that user-level
    /// token to authenticate API calls for the remainder of the user's session."
    ///
    /// `path_and_query` follows the base URL (`/api/…`); `body` members are strings (`None`: no
    /// body). A `user_token` that is empty or does not fit in a header is
    /// [`Error::InvalidInput`]` { what: "user_token" }`.
    pub fn user_request<'b>(
        &self,
        buf: &'b mut [u8],
        method: Method,
        path_and_query: &str,
        body: Option<&[(&str, &str)]>,
        user_token: &str,
    ) -> Result<Request<'b>, Error> {
        if !check_token_chars(user_token.as_bytes()) {
            return Err(Error::InvalidInput { what: "user_token" });
        }
        self.signed_request(buf, method, path_and_query, Some(user_token), body)
    }

    /// Read a 2xx answer with `read` (see [`read_or_refusal`]): 412 is [`Error::Digest`], other
    /// refusals (and, under [`Quirks::error_in_success_body`], a 2xx body with an `error` member)
    /// are typed by [`read_error`](crate::oauth2::read_error).
    fn read_checked(
        &self,
        response: Response<'_>,
        read: impl FnMut(&mut bool) -> Result<(), JsonError>,
    ) -> Result<(), Error> {
        let (quirks, refusals) = (self.quirks, self.quirks.error_in_success_body());
        read_answer(response, |s| quirks.is_success(s), refusals, refusal, read)
    }

    /// Whether an answer with `status` is refused ([`refusal`] says how): 412 (the digest)
    /// or a status the quirks do not accept.
    pub(super) fn refuses(&self, status: u16) -> bool {
        status == 412 || !self.quirks.is_success(status)
    }
}

/// A refused Punchh answer: 412 is [`Error::Digest`], the rest as
/// [`read_error`](crate::oauth2::read_error) says.
pub(super) fn refusal(response: Response<'_>) -> Error {
    if response.status == 412 {
        return Error::Digest;
    }
    read_error(response)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The seed's placeholders: with them the published digest vectors apply.
    pub(crate) fn seed_config() -> PunchhConfig {
        PunchhConfig::new(
            "https://SERVER_NAME_GOES_HERE.punchh.com",
            "CLIENT_GOES_HERE",
            "SECRET_GOES_HERE",
        )
        .unwrap()
    }

    #[test]
    fn config_rules() {
        assert_eq!(
            PunchhConfig::new("http://x.punchh.com", "c", "s").unwrap_err(),
            Error::Insecure
        );
        assert!(PunchhConfig::new("http://127.0.0.1:9/punchh", "c", "s").is_ok());
        assert_eq!(
            PunchhConfig::new("https://x.punchh.com", "", "s").unwrap_err(),
            Error::InvalidInput { what: "client" }
        );
        assert_eq!(
            PunchhConfig::new("https://x.punchh.com", "c", "").unwrap_err(),
            Error::InvalidInput { what: "secret" }
        );
        let c = seed_config();
        assert_eq!(c.client_id(), "CLIENT_GOES_HERE");
        assert_eq!(c.user_agent(), DEFAULT_USER_AGENT);
        assert!(c.clone().with_user_agent("a\r\nX-Evil: 1").is_err());
        assert!(c.clone().with_user_agent(" ").is_err());
        assert_eq!(
            c.clone().with_client_id("oauth-id").unwrap().client_id(),
            "oauth-id"
        );
        let long = [b'a'; 300];
        assert_eq!(
            PunchhConfig::new(
                "https://x.punchh.com",
                core::str::from_utf8(&long).unwrap(),
                "s"
            )
            .unwrap_err(),
            Error::Capacity { field: "client" }
        );
        let debug = std::format!("{:?}", c);
        assert!(!debug.contains("SECRET_GOES_HERE"), "{debug}");
    }

    #[test]
    fn signed_request_with_path_prefix_and_forced_algorithm() {
        let c = PunchhConfig::new(
            "http://127.0.0.1:9/punchh/",
            "CLIENT_GOES_HERE",
            "SECRET_GOES_HERE",
        )
        .unwrap();
        let mut buf = [0u8; 1024];
        let r = c
            .signed_request(
                &mut buf,
                Method::Get,
                "/api2/mobile/users/profile",
                None,
                Some(&[("client", "CLIENT_GOES_HERE")]),
            )
            .unwrap();
        assert_eq!(r.url, "http://127.0.0.1:9/punchh/api2/mobile/users/profile");
        assert_eq!(
            r.header("x-pch-digest").unwrap(),
            b"743195d63cfe21b8af7fc1f2f288a5b60ae450dc7f19aa36499512b664756c6a"
        );
        let forced = c.clone().with_algorithm(Algorithm::Sha1);
        let mut buf = [0u8; 1024];
        let r = forced
            .signed_request(
                &mut buf,
                Method::Get,
                "/api2/mobile/users/profile",
                None,
                Some(&[("client", "CLIENT_GOES_HERE")]),
            )
            .unwrap();
        assert_eq!(r.header("x-pch-digest").unwrap().len(), 40);
        // No body: the digest covers the uri alone, Content-Type is still sent.
        let mut buf = [0u8; 1024];
        let r = c
            .signed_request(&mut buf, Method::Get, "/api/x", None, None)
            .unwrap();
        assert!(r.body.is_empty());
        assert_eq!(r.header("content-type").unwrap(), b"application/json");
        let want = digest("SECRET_GOES_HERE", Algorithm::Sha1, "/api/x", b"");
        assert_eq!(r.header("x-pch-digest").unwrap(), want.as_bytes());
        let mut buf = [0u8; 1024];
        assert_eq!(
            c.signed_request(&mut buf, Method::Get, "api/x", None, None)
                .unwrap_err(),
            Error::InvalidInput { what: "path" }
        );
        let mut buf = [0u8; 1024];
        assert_eq!(
            c.signed_request(&mut buf, Method::Get, "/api/x", Some("a b"), None)
                .unwrap_err(),
            Error::InvalidInput {
                what: "access_token"
            }
        );
    }

    #[test]
    fn too_small_buffer_reports_the_exact_size() {
        let c = seed_config();
        let write = |buf: &mut [u8]| {
            c.signed_request(
                buf,
                Method::Post,
                "/api/x",
                Some("tok"),
                Some(&[("a", "b")]),
            )
            .map(|r| crate::testing::render(&r))
        };
        let mut small = [0u8; 16];
        let Err(Error::BufferTooSmall { required }) = write(&mut small) else {
            panic!("expected BufferTooSmall")
        };
        let mut exact = std::vec![0u8; required];
        let mut big = [0u8; 1024];
        assert_eq!(write(&mut exact).unwrap(), write(&mut big).unwrap());
        let mut short = std::vec![0u8; required - 1];
        assert_eq!(write(&mut short), Err(Error::BufferTooSmall { required }));
    }
}
