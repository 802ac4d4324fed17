//! Stream: white-label single sign-on with a one-time login token (PROTOCOLS.md §3, seed 003).
//!
//! 1. [`api_token()`]: an API client token by OAuth 2.0 client credentials at `{base}/oauth/token`
//!    (form-encoded, HTTP Basic). Server side only: never give it to a browser.
//! 2. [`generate_session()`]: `POST /white-label/generate-session` with the user's organization,
//!    [`Role`], email, name and phone → a one-time [`SsoLoginToken`].
//! 3. [`SsoLoginToken::into_redirect_url`] consumes the token and writes
//!    `<WHITE_LABEL_DOMAIN>/redirect/sso?code=<token>`: send the user's browser there. The token
//!    works once; a second redemption is [`Error::SsoTokenRedeemed`], and because building the
//!    URL takes the token by value, building it twice does not compile.
//! 4. [`redeem()`] (tests, demos, server-side checks): `GET` that URL with
//!    `Accept: application/json` → a [`StreamSession`].
//!
//! Users with the same `provider_org_id` share one organization; different ids never see each
//! other's data.

mod api_token;
mod generate_session;
mod redeem;

pub use api_token::{ApiToken, api_token};
pub use generate_session::{
    GenerateSession, GenerateSessionFlow, MAX_REDIRECT_URL_LEN, SessionRequest, SsoLoginToken,
    generate_session,
};
pub use redeem::{Redeem, RedeemFlow, StreamSession, redeem};

#[cfg(test)]
use crate::json::Parser;
use crate::json::{JsonError, read_answer};
use crate::oauth2;
use crate::{Error, Response};

/// Capacity of the base URL and of the white-label domain.
pub const URL_CAP: usize = 256;
/// Capacity of a `provider_org_id` or an organization id.
pub const ORG_ID_CAP: usize = 128;
/// Capacity of an email address.
pub const EMAIL_CAP: usize = 254;
/// Capacity of a Stream session (an opaque token).
pub const SESSION_CAP: usize = 256;

/// The error code of a login token that was already used.
pub const SSO_TOKEN_REDEEMED: &str = "sso_token_redeemed";

/// A Stream API client's credentials and the white-label domain its users are sent to.
#[derive(Clone, Debug)]
pub struct StreamConfig {
    base_url: heapless::String<URL_CAP>,
    white_label_domain: heapless::String<URL_CAP>,
    oauth: oauth2::Client,
}

impl StreamConfig {
    /// Settings for the Stream API at `base_url`, the white-label application at
    /// `white_label_domain` (e.g. `https://orders.example-brand.com`; both checked: `https://`,
    /// or `http://` to loopback), and the API client's id and secret.
    pub fn new(
        base_url: &str,
        white_label_domain: &str,
        client_id: &str,
        client_secret: &str,
    ) -> Result<Self, Error> {
        let mut c = StreamConfig {
            base_url: heapless::String::new(),
            white_label_domain: heapless::String::new(),
            oauth: oauth2::Client::empty(),
        };
        c.init(base_url, white_label_domain, client_id, client_secret)?;
        Ok(c)
    }

    /// [`new`](Self::new)'s checks and copies, into the value where it stays (out of line:
    /// the caller's frame holds one copy of the configuration, not one per `Result`; the OAuth
    /// client is filled in place, not built apart and moved in).
    #[inline(never)]
    fn init(
        &mut self,
        base_url: &str,
        white_label_domain: &str,
        client_id: &str,
        client_secret: &str,
    ) -> Result<(), Error> {
        crate::http::check_url(base_url)?;
        crate::http::check_url(white_label_domain)?;
        if white_label_domain.bytes().any(|b| b == b'?' || b == b'#') {
            return Err(Error::InvalidInput {
                what: "white_label_domain",
            });
        }
        let base = crate::http::trim_slashes(base_url);
        // The token URL is put together in the white-label field (empty here, filled last, of
        // the same capacity): no string of its own in this frame, under the client's checks.
        let token_url = &mut self.white_label_domain;
        crate::json::fill(&mut [(token_url, base, "base_url")])?;
        crate::json::fill(&mut [(token_url, "/oauth/token", "base_url")])?;
        self.oauth.init(&self.white_label_domain, client_id)?;
        self.white_label_domain.clear();
        self.oauth.set_secret(client_secret)?;
        crate::json::fill(&mut [
            (&mut self.base_url, base, "base_url"),
            (
                &mut self.white_label_domain,
                crate::http::trim_slashes(white_label_domain),
                "white_label_domain",
            ),
        ])
    }

    /// Use this OAuth client (e.g. with other quirks or client authentication) for the API token.
    pub fn with_oauth_client(mut self, client: oauth2::Client) -> Self {
        self.oauth = client;
        self
    }

    /// Choose which server quirks to accept when reading answers (default
    /// [`Quirks::DEFAULT`](crate::Quirks::DEFAULT)): the API token's and generate-session's.
    pub fn with_quirks(mut self, quirks: crate::Quirks) -> Self {
        self.oauth = self.oauth.with_quirks(quirks);
        self
    }

    /// The API base URL (no trailing `/`).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The white-label application's origin (no trailing `/`).
    pub fn white_label_domain(&self) -> &str {
        &self.white_label_domain
    }

    /// The OAuth client used for the API token.
    pub fn oauth(&self) -> &oauth2::Client {
        &self.oauth
    }
}

/// A user's role in their organization.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Role {
    /// Full administrative access (`owner`).
    Owner,
    /// Administrative access with some restrictions (`admin`).
    Admin,
    /// Access to specific locations or functions (`manager`).
    Manager,
    /// Basic operational access (`team_member`).
    TeamMember,
    /// A custom role with specific permissions (`custom`).
    Custom,
}

impl Role {
    /// Every role, in Stream's order.
    pub const ALL: [Role; 5] = [
        Role::Owner,
        Role::Admin,
        Role::Manager,
        Role::TeamMember,
        Role::Custom,
    ];

    /// The role's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Manager => "manager",
            Role::TeamMember => "team_member",
            Role::Custom => "custom",
        }
    }

    /// The role named `s` exactly as on the wire; anything else is `Error::InvalidInput`.
    pub fn parse(s: &str) -> Result<Role, Error> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or(Error::InvalidInput { what: "role" })
    }
}

impl core::str::FromStr for Role {
    type Err = Error;

    fn from_str(s: &str) -> Result<Role, Error> {
        Role::parse(s)
    }
}

impl core::fmt::Display for Role {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Type a refused Stream answer: `sso_token_redeemed` anywhere in an error body is
/// [`Error::SsoTokenRedeemed`]; the rest is [`oauth2::read_error`].
fn read_stream_error(response: Response<'_>) -> Error {
    match oauth2::read_error(response) {
        Error::OAuth { ref error, .. } if error == SSO_TOKEN_REDEEMED => Error::SsoTokenRedeemed,
        _ if mentions_redeemed(response.body) => Error::SsoTokenRedeemed,
        other => other,
    }
}

/// Whether a JSON string value anywhere in `body` is exactly `"sso_token_redeemed"` (e.g.
/// `{"code":"sso_token_redeemed"}` or `{"errors":[{"error":"sso_token_redeemed"}]}`).
fn mentions_redeemed(body: &[u8]) -> bool {
    let needle = b"\"sso_token_redeemed\"";
    body.windows(needle.len()).any(|w| w == needle)
}

/// Read a 2xx answer with `read` (see [`read_or_refusal`]): other statuses, and under
/// [`Quirks::error_in_success_body`](crate::Quirks) a 2xx body with an `error` member, are typed
/// by [`read_stream_error`].
fn read_checked(
    quirks: crate::Quirks,
    response: Response<'_>,
    read: impl FnMut(&mut bool) -> Result<(), JsonError>,
) -> Result<(), Error> {
    let refusals = quirks.error_in_success_body();
    read_answer(
        response,
        |s| quirks.is_success(s),
        refusals,
        read_stream_error,
        read,
    )
}

/// Check an answer: 2xx (per `quirks`) with no `error` member, else a typed error.
#[cfg(test)]
fn check(quirks: crate::Quirks, response: Response<'_>) -> Result<(), Error> {
    read_checked(quirks, response, |error| {
        let mut p = Parser::new(response.body);
        // Syntax errors are reported by the real parse that follows.
        let _ = p.object("response", |p, key| match key {
            b"error" => crate::json::note_error_member(p, error),
            _ => p.skip(),
        });
        Ok(())
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::stream::generate_session::tests::SEED_REQUEST;
    use crate::testing::terminates;
    use proptest::prelude::*;

    pub(crate) fn config() -> StreamConfig {
        StreamConfig::new(
            "https://api.stream.example",
            "https://orders.brand.example/",
            "stream-client",
            "stream-secret",
        )
        .unwrap()
    }

    #[test]
    fn roles_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Ok(r));
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
            assert_eq!(std::format!("{r}"), r.as_str());
        }
        assert_eq!(Role::TeamMember.as_str(), "team_member");
        for bad in ["", "Owner", "team-member", "teammember", "root", "owner "] {
            assert_eq!(Role::parse(bad), Err(Error::InvalidInput { what: "role" }));
        }
    }

    #[test]
    fn config_rules() {
        let c = config();
        assert_eq!(c.white_label_domain(), "https://orders.brand.example");
        assert_eq!(
            c.oauth().token_url(),
            "https://api.stream.example/oauth/token"
        );
        assert_eq!(
            StreamConfig::new("https://a.example", "http://brand.example", "i", "s").unwrap_err(),
            Error::Insecure
        );
        assert_eq!(
            StreamConfig::new("https://a.example", "https://b.example/?x=1", "i", "s").unwrap_err(),
            Error::InvalidInput {
                what: "white_label_domain"
            }
        );
        assert!(
            StreamConfig::new(
                "http://127.0.0.1:9/stream",
                "http://127.0.0.1:9/stream",
                "i",
                "s"
            )
            .is_ok()
        );
        assert!(!std::format!("{c:?}").contains("stream-secret"));
    }

    #[test]
    fn redeemed_is_recognised_in_any_shape() {
        for (status, body) in [
            (
                400,
                &br#"{"error":"sso_token_redeemed","error_description":"the SSO login token was already used"}"#[..],
            ),
            (410, br#"{"code":"sso_token_redeemed"}"#),
            (422, br#"{"errors":[{"error":"sso_token_redeemed"}]}"#),
        ] {
            assert_eq!(
                read_stream_error(Response::new(status, body)),
                Error::SsoTokenRedeemed
            );
        }
        assert!(matches!(
            read_stream_error(Response::new(400, br#"{"error":"invalid_sso_token"}"#)),
            Error::OAuth { status: 400, .. }
        ));
        assert!(matches!(
            read_stream_error(Response::new(500, b"sso_token_redeemed?")),
            Error::Provider { status: 500, .. }
        ));
        let c = config();
        assert_eq!(
            check(
                c.oauth().quirks(),
                Response::new(200, br#"{"error":"sso_token_redeemed"}"#)
            ),
            Err(Error::SsoTokenRedeemed)
        );
        assert_eq!(
            check(c.oauth().quirks(), Response::new(200, br#"{"ok":1}"#)),
            Ok(())
        );
    }

    proptest! {
        #[test]
        fn any_answer_terminates(
            answers in proptest::collection::vec((0u16..700, proptest::collection::vec(any::<u8>(), 0..384)), 1..4)
        ) {
            let c = config();
            terminates(generate_session(&c, "t", &SEED_REQUEST).unwrap(), &answers);
            terminates(redeem("https://orders.brand.example/redirect/sso?code=a").unwrap(), &answers);
            terminates(api_token(&c).unwrap(), &answers);
        }

        #[test]
        fn session_like_answers_terminate(body in r#"\{("(session|user|organization|email|id|x)":(1|null|"[a-z\\]{0,6}"|\{("(email|id|provider_org_id)":"[a-z]{0,3}",?){0,3}\}),?){0,5}\}"#) {
            terminates(redeem("https://orders.brand.example/redirect/sso?code=a").unwrap(), &[(200, body.into_bytes())]);
        }
    }
}
