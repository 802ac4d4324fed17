//! Stream generate-session: `POST /white-label/generate-session` → a one-time [`SsoLoginToken`],
//! and the `/redirect/sso?code=` URL it turns into (seed 003, PROTOCOLS.md §3).

use super::{Role, StreamConfig, URL_CAP, read_checked};
use crate::json::{JsonError, Parser, Seen, is, note_error_member};
use crate::token::check_token_chars;
use crate::{
    Error, Exchange, Instant, Method, OneShot, Request, RequestBuilder, Response, Secret,
    TOKEN_CAP, form,
};

/// Capacity of a user's full name.
pub const FULL_NAME_CAP: usize = 128;

/// `/redirect/sso?code=`: what the redirect URL adds to the white-label domain before the token.
const REDIRECT_PATH: &str = "/redirect/sso";

/// A buffer this long always holds a redirect URL: the longest domain, the path, and a token of
/// [`TOKEN_CAP`] bytes with every byte percent-encoded.
pub const MAX_REDIRECT_URL_LEN: usize =
    URL_CAP + REDIRECT_PATH.len() + "?code=".len() + 3 * TOKEN_CAP;

/// Who is signing in: all five members are required (an empty one is `Error::InvalidInput`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionRequest<'a> {
    /// Your organization identifier: users sharing it share one Stream organization.
    pub provider_org_id: &'a str,
    /// The user's role in the organization.
    pub role: Role,
    /// The user's email address.
    pub email: &'a str,
    /// The user's full name.
    pub full_name: &'a str,
    /// The user's phone number.
    pub phone_number: &'a str,
}

impl SessionRequest<'_> {
    fn check(&self) -> Result<(), Error> {
        for (value, what) in [
            (self.provider_org_id, "provider_org_id"),
            (self.email, "email"),
            (self.full_name, "full_name"),
            (self.phone_number, "phone_number"),
        ] {
            // Blank: only whitespace, as `str::trim` sees it (checked forwards, by a short match
            // instead of the standard library's Unicode table: firmware flash).
            if value.chars().all(crate::http::is_white_space) {
                return Err(Error::InvalidInput { what });
            }
        }
        Ok(())
    }
}

/// A one-time Stream login token (`sso_login_token`).
///
/// It is neither `Clone` nor `Copy`: [`into_redirect_url`](Self::into_redirect_url) consumes it,
/// so a token cannot be sent to two browsers by mistake. `Debug` prints `Secret(***)`.
#[derive(Debug)]
pub struct SsoLoginToken(Secret<TOKEN_CAP>);

impl SsoLoginToken {
    /// Bytes [`into_redirect_url`](Self::into_redirect_url) will write for `config`: size a
    /// buffer with it (or use [`MAX_REDIRECT_URL_LEN`]), since a token spent on a too-small
    /// buffer is gone.
    pub fn redirect_url_len(&self, config: &StreamConfig) -> usize {
        let mut n = config.white_label_domain().len() + REDIRECT_PATH.len() + "?code=".len();
        form::encode(self.0.expose(), &mut |p: &str| n += p.len());
        n
    }

    /// Consume the token and write `<WHITE_LABEL_DOMAIN>/redirect/sso?code=<token>` (the token
    /// percent-encoded) into `buf`. Send the user's browser there.
    ///
    /// A buffer that is too small is `Error::BufferTooSmall` and the token is spent: generate a
    /// new one. [`redirect_url_len`](Self::redirect_url_len) says how much room to give.
    ///
    /// ```no_run
    /// # use ssoflow_core::stream::{StreamConfig, SsoLoginToken};
    /// # fn demo(token: SsoLoginToken, config: &StreamConfig) -> Result<(), ssoflow_core::Error> {
    /// let mut buf = [0u8; ssoflow_core::stream::MAX_REDIRECT_URL_LEN];
    /// let url = token.into_redirect_url(config, &mut buf)?;
    /// # let _ = url; Ok(()) }
    /// ```
    ///
    /// The token is single-use, and so is this value: building a second URL does not compile.
    ///
    /// ```compile_fail,E0382
    /// # use ssoflow_core::stream::{StreamConfig, SsoLoginToken};
    /// # fn demo(token: SsoLoginToken, config: &StreamConfig) {
    /// let mut a = [0u8; 8192];
    /// let mut b = [0u8; 8192];
    /// let first = token.into_redirect_url(config, &mut a);
    /// let second = token.into_redirect_url(config, &mut b); // use of moved value: `token`
    /// # let _ = (first, second); }
    /// ```
    pub fn into_redirect_url<'b>(
        self,
        config: &StreamConfig,
        buf: &'b mut [u8],
    ) -> Result<&'b str, Error> {
        self.write_redirect_url(config, buf)
    }

    /// [`into_redirect_url`](Self::into_redirect_url) for a token still in the slot it was read
    /// into (a driver's `run_into`, [`Flow::handle`](crate::Flow::handle)'s `out`): the URL is
    /// written from the token where it is, then the slot is emptied and the token spent (wiped).
    /// No copy of the 2 KiB token is made on the caller's stack, as moving it out of the slot
    /// would. Unlike `into_redirect_url`, a buffer too small loses nothing: the error is
    /// `Error::BufferTooSmall` with the room needed and the token stays in the slot, unspent,
    /// for a second try. An empty slot is [`Error::NO_OUTPUT`].
    ///
    /// ```no_run
    /// # use ssoflow_core::stream::{StreamConfig, SsoLoginToken};
    /// # fn demo(mut out: Option<SsoLoginToken>, config: &StreamConfig) -> Result<(), ssoflow_core::Error> {
    /// let mut buf = [0u8; ssoflow_core::stream::MAX_REDIRECT_URL_LEN];
    /// let url = SsoLoginToken::take_redirect_url(&mut out, config, &mut buf)?;
    /// assert!(out.is_none());
    /// # let _ = url; Ok(()) }
    /// ```
    // Out of line: inlined, the URL writer's working values would stay in the caller's frame.
    #[inline(never)]
    pub fn take_redirect_url<'b>(
        slot: &mut Option<Self>,
        config: &StreamConfig,
        buf: &'b mut [u8],
    ) -> Result<&'b str, Error> {
        let url = match slot {
            Some(token) => token.write_redirect_url(config, buf)?,
            None => return Err(Error::NO_OUTPUT),
        };
        *slot = None;
        Ok(url)
    }

    fn write_redirect_url<'b>(
        &self,
        config: &StreamConfig,
        buf: &'b mut [u8],
    ) -> Result<&'b str, Error> {
        let mut rb =
            RequestBuilder::new(buf, Method::Get, config.white_label_domain(), REDIRECT_PATH);
        rb.query(&[("code", self.0.expose())]);
        Ok(rb.finish_in_place()?.url)
    }
}

/// `POST /white-label/generate-session` (one exchange).
pub struct GenerateSession<'c> {
    config: &'c StreamConfig,
    api_token: &'c str,
    request: SessionRequest<'c>,
}

crate::secret::debug_redacted!(GenerateSession { config, request; api_token });

/// The generate-session flow.
pub type GenerateSessionFlow<'c> = OneShot<GenerateSession<'c>>;

/// Ask Stream for a one-time login token for the user in `request`, authorized by `api_token`
/// (from [`api_token`](super::api_token)).
pub fn generate_session<'c>(
    config: &'c StreamConfig,
    api_token: &'c str,
    request: &SessionRequest<'c>,
) -> Result<GenerateSessionFlow<'c>, Error> {
    if !check_token_chars(api_token.as_bytes()) {
        return Err(Error::InvalidInput { what: "api_token" });
    }
    request.check()?;
    Ok(OneShot::new(GenerateSession {
        config,
        api_token,
        request: *request,
    }))
}

impl Exchange for GenerateSession<'_> {
    type Output = SsoLoginToken;

    fn request<'b>(&mut self, _now: Instant, buf: &'b mut [u8]) -> Result<Request<'b>, Error> {
        let r = &self.request;
        let mut rb = RequestBuilder::new(
            buf,
            Method::Post,
            self.config.base_url(),
            "/white-label/generate-session",
        );
        rb.bearer(self.api_token);
        rb.json_body(&[
            ("provider_org_id", r.provider_org_id),
            ("role", r.role.as_str()),
            ("email", r.email),
            ("full_name", r.full_name),
            ("phone_number", r.phone_number),
        ]);
        rb.finish_in_place()
    }

    fn response_into(
        &mut self,
        _now: Instant,
        response: Response<'_>,
        out: &mut Option<SsoLoginToken>,
    ) -> Result<(), Error> {
        crate::exchange::read_in_place(out, SsoLoginToken(Secret::empty()), |token| {
            read_checked(self.config.oauth().quirks(), response, |error| {
                read_login_token(response.body, &mut token.0, error)
            })
        })
    }
}

/// Read `{"sso_login_token":…}` into `token` (empty), noting an `error` member in `error`.
#[inline(never)]
fn read_login_token(
    body: &[u8],
    token: &mut Secret<TOKEN_CAP>,
    error: &mut bool,
) -> Result<(), JsonError> {
    let mut seen = Seen::new();
    let mut p = Parser::new(body);
    p.object("generate-session response", |p, key| match key {
        k if is(k, "sso_login_token") => {
            seen.first(1, "sso_login_token")?;
            p.string_into(token, "sso_login_token")
        }
        k if is(k, "error") => note_error_member(p, error),
        _ => p.skip(),
    })?;
    p.finish()?;
    seen.required(1, "sso_login_token")?;
    if !check_token_chars(token.as_bytes()) {
        return Err(JsonError::Malformed("sso_login_token"));
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::stream::tests::config;
    use crate::testing::{drive, golden};

    /// Seed 003's example request, as published.
    pub(crate) const SEED_REQUEST: SessionRequest<'static> = SessionRequest {
        provider_org_id: "restaurant_chain_abc_123",
        role: Role::Manager,
        email: "sarah.manager@restaurantchain.com",
        full_name: "Sarah Johnson",
        phone_number: "+1-555-123-4567",
    };

    /// Seed 003's example answer, as published.
    const SEED_RESPONSE: &str =
        "{\n\"sso_login_token\": \"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9...\"\n}";

    fn token(s: &str) -> SsoLoginToken {
        SsoLoginToken(Secret::new(s, "t").unwrap())
    }

    #[test]
    fn golden_request() {
        let c = config();
        golden(
            &mut generate_session(&c, "YOUR_ACCESS_TOKEN", &SEED_REQUEST).unwrap(),
            "POST https://api.stream.example/white-label/generate-session\n\
             Accept: application/json\n\
             Authorization: Bearer YOUR_ACCESS_TOKEN\n\
             Content-Type: application/json\n\
             \n\
             {\"provider_org_id\":\"restaurant_chain_abc_123\",\"role\":\"manager\",\"email\":\"sarah.manager@restaurantchain.com\",\"full_name\":\"Sarah Johnson\",\"phone_number\":\"+1-555-123-4567\"}",
        );
        let zoe = SessionRequest {
            full_name: "Zoë \"Z\" Müller",
            role: Role::TeamMember,
            ..SEED_REQUEST
        };
        golden(
            &mut generate_session(&c, "t", &zoe).unwrap(),
            "POST https://api.stream.example/white-label/generate-session\n\
             Accept: application/json\n\
             Authorization: Bearer t\n\
             Content-Type: application/json\n\
             \n\
             {\"provider_org_id\":\"restaurant_chain_abc_123\",\"role\":\"team_member\",\"email\":\"sarah.manager@restaurantchain.com\",\"full_name\":\"Zoë \\\"Z\\\" Müller\",\"phone_number\":\"+1-555-123-4567\"}",
        );
    }

    #[test]
    fn white_space_is_the_standard_librarys() {
        for c in (0..=0x10ffff_u32).filter_map(char::from_u32) {
            assert_eq!(
                crate::http::is_white_space(c),
                c.is_whitespace(),
                "{:x}",
                c as u32
            );
        }
    }

    #[test]
    fn inputs_are_required() {
        let c = config();
        for (req, what) in [
            (
                SessionRequest {
                    provider_org_id: "",
                    ..SEED_REQUEST
                },
                "provider_org_id",
            ),
            (
                SessionRequest {
                    email: "",
                    ..SEED_REQUEST
                },
                "email",
            ),
            (
                SessionRequest {
                    full_name: " ",
                    ..SEED_REQUEST
                },
                "full_name",
            ),
            (
                SessionRequest {
                    phone_number: "",
                    ..SEED_REQUEST
                },
                "phone_number",
            ),
        ] {
            assert_eq!(
                generate_session(&c, "t", &req).unwrap_err(),
                Error::InvalidInput { what }
            );
        }
        assert_eq!(
            generate_session(&c, "", &SEED_REQUEST).unwrap_err(),
            Error::InvalidInput { what: "api_token" }
        );
        assert_eq!(
            generate_session(&c, "a\nb", &SEED_REQUEST).unwrap_err(),
            Error::InvalidInput { what: "api_token" }
        );
    }

    #[test]
    fn seed_answer_parses_and_builds_the_redirect() {
        let c = config();
        let (out, transcript) = drive(
            generate_session(&c, "YOUR_ACCESS_TOKEN", &SEED_REQUEST).unwrap(),
            &[(200, SEED_RESPONSE.as_bytes())],
        );
        assert_eq!(
            transcript,
            [
                "send POST https://api.stream.example/white-label/generate-session",
                "handle 200",
                "done"
            ]
        );
        let t = out.unwrap();
        assert_eq!(std::format!("{t:?}"), "SsoLoginToken(Secret(***))");
        let n = t.redirect_url_len(&c);
        let mut buf = std::vec![0u8; n];
        let url = t.into_redirect_url(&c, &mut buf).unwrap();
        assert_eq!(
            url,
            "https://orders.brand.example/redirect/sso?code=eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9..."
        );
        assert_eq!(url.len(), n);
    }

    #[test]
    fn redirect_percent_encodes_the_token() {
        let c = config();
        let mut buf = [0u8; 256];
        let url = token("a+b/c=d&e~f%")
            .into_redirect_url(&c, &mut buf)
            .unwrap();
        assert_eq!(
            url,
            "https://orders.brand.example/redirect/sso?code=a%2Bb%2Fc%3Dd%26e%7Ef%25"
        );
        let mut small = [0u8; 10];
        let t = token("abc");
        let need = t.redirect_url_len(&c);
        assert_eq!(
            t.into_redirect_url(&c, &mut small),
            Err(Error::BufferTooSmall { required: need })
        );
        let worst = token(&"~".repeat(TOKEN_CAP));
        let c2 = StreamConfig::new(
            "https://a.example",
            &std::format!("https://{}", "d".repeat(URL_CAP - 8)),
            "i",
            "s",
        )
        .unwrap();
        assert!(worst.redirect_url_len(&c2) <= MAX_REDIRECT_URL_LEN);
        let mut buf = std::vec![0u8; MAX_REDIRECT_URL_LEN];
        assert!(worst.into_redirect_url(&c2, &mut buf).is_ok());
    }

    #[test]
    fn take_redirect_url_spends_the_token_in_its_slot() {
        let c = config();
        // The same URL as `into_redirect_url`, and the slot left empty.
        let mut slot = Some(token("a+b/c=d&e~f%"));
        let mut buf = [0u8; 256];
        let url = SsoLoginToken::take_redirect_url(&mut slot, &c, &mut buf).unwrap();
        assert_eq!(
            url,
            "https://orders.brand.example/redirect/sso?code=a%2Bb%2Fc%3Dd%26e%7Ef%25"
        );
        assert!(slot.is_none());
        // A buffer too small: the exact size asked for, and the token kept for a second try.
        let mut slot = Some(token("abc"));
        let need = slot.as_ref().map(|t| t.redirect_url_len(&c)).unwrap();
        let mut small = [0u8; 10];
        assert_eq!(
            SsoLoginToken::take_redirect_url(&mut slot, &c, &mut small),
            Err(Error::BufferTooSmall { required: need })
        );
        assert!(slot.is_some());
        let mut room = [0u8; 256];
        let url = SsoLoginToken::take_redirect_url(&mut slot, &c, &mut room).unwrap();
        assert!(url.ends_with("?code=abc"), "{url}");
        assert!(slot.is_none());
        // An empty slot.
        assert_eq!(
            SsoLoginToken::take_redirect_url(&mut slot, &c, &mut buf),
            Err(Error::NO_OUTPUT)
        );
    }

    #[test]
    fn generate_session_refusals() {
        let c = config();
        let run = |status: u16, body: &str| {
            drive(
                generate_session(&c, "t", &SEED_REQUEST).unwrap(),
                &[(status, body.as_bytes())],
            )
            .0
            .map(|_| ())
        };
        assert!(matches!(
            run(
                401,
                r#"{"error":"unauthorized","message":"missing, unknown or expired token or session"}"#
            ),
            Err(Error::OAuth { status: 401, .. })
        ));
        assert!(matches!(
            run(
                422,
                r#"{"error":"validation_error","message":"role must be one of owner, admin, manager, team_member, custom"}"#
            ),
            Err(Error::OAuth { status: 422, .. })
        ));
        assert!(matches!(
            run(500, "<html>"),
            Err(Error::Provider { status: 500, .. })
        ));
        assert_eq!(
            run(400, r#"{"error":"sso_token_redeemed"}"#),
            Err(Error::SsoTokenRedeemed)
        );
        for (body, kind) in [
            ("", "malformed"),
            ("{}", "malformed"),
            (r#"{"sso_login_token":null}"#, "malformed"),
            (r#"{"sso_login_token":42}"#, "malformed"),
            (r#"{"sso_login_token":""}"#, "malformed"),
            (r#"{"sso_login_token":"a b"}"#, "malformed"),
            (
                r#"{"sso_login_token":"a","sso_login_token":"b"}"#,
                "malformed",
            ),
            (r#"{"sso_login_token":"a"}x"#, "malformed"),
        ] {
            assert_eq!(run(200, body).map_err(|e| e.kind()), Err(kind), "{body}");
        }
        let big = std::format!(r#"{{"sso_login_token":"{}"}}"#, "a".repeat(TOKEN_CAP + 1));
        assert_eq!(
            run(200, &big),
            Err(Error::Capacity {
                field: "sso_login_token"
            })
        );
        assert_eq!(
            run(201, r#"{"sso_login_token":"ok","extra":{"n":[1]}}"#),
            Ok(())
        );
    }
}
