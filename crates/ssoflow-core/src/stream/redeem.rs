//! Stream redeem: `GET` the one-time redirect URL with `Accept: application/json` → the
//! white-label [`StreamSession`] (seed 003, PROTOCOLS.md §3; tests, demos and server-side checks).

use super::generate_session::FULL_NAME_CAP;
use super::{EMAIL_CAP, ORG_ID_CAP, Role, SESSION_CAP, read_checked};
use crate::json::{JsonError, Parser, Seen, is, note_error_member};
use crate::token::check_token_chars;
use crate::{
    Error, Exchange, Instant, Method, OneShot, Quirks, Request, RequestBuilder, Response, Secret,
};

/// A redeemed login: the white-label session and who it belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamSession {
    /// The session (the white-label application's cookie value).
    pub session: Secret<SESSION_CAP>,
    /// The user's email.
    pub email: heapless::String<EMAIL_CAP>,
    /// The user's full name (empty when not sent).
    pub full_name: heapless::String<FULL_NAME_CAP>,
    /// The user's role, when sent and known.
    pub role: Option<Role>,
    /// Stream's id of the organization.
    pub organization_id: heapless::String<ORG_ID_CAP>,
    /// Your `provider_org_id` of the organization.
    pub provider_org_id: heapless::String<ORG_ID_CAP>,
}

/// `GET <redirect URL>` with `Accept: application/json` (one exchange).
pub struct Redeem<'c> {
    url: &'c str,
}

/// The URL's query is the one-time login token: `Debug` prints the URL without it.
impl core::fmt::Debug for Redeem<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Redeem")
            .field("url", &crate::http::UrlWithoutQuery(self.url))
            .finish()
    }
}

/// The redeem flow.
pub type RedeemFlow<'c> = OneShot<Redeem<'c>>;

/// Redeem a redirect URL the way a browser would, but asking for JSON: for server-side tests and
/// demos. The login token in it works once; a second time is [`Error::SsoTokenRedeemed`].
pub fn redeem(redirect_url: &str) -> Result<RedeemFlow<'_>, Error> {
    crate::http::check_url(redirect_url)?;
    Ok(OneShot::new(Redeem { url: redirect_url }))
}

impl Exchange for Redeem<'_> {
    type Output = StreamSession;

    fn request<'b>(&mut self, _now: Instant, buf: &'b mut [u8]) -> Result<Request<'b>, Error> {
        RequestBuilder::new(buf, Method::Get, self.url, "").finish_in_place()
    }

    fn response_into(
        &mut self,
        _now: Instant,
        response: Response<'_>,
        out: &mut Option<StreamSession>,
    ) -> Result<(), Error> {
        crate::exchange::read_in_place(
            out,
            StreamSession {
                session: Secret::empty(),
                email: heapless::String::new(),
                full_name: heapless::String::new(),
                role: None,
                organization_id: heapless::String::new(),
                provider_org_id: heapless::String::new(),
            },
            |session| {
                read_checked(Quirks::DEFAULT, response, |error| {
                    read_session(response.body, session, error)
                })
            },
        )
    }
}

/// Read the redeem answer into `out` (empty), noting an `error` member in `error`.
#[inline(never)]
fn read_session(body: &[u8], out: &mut StreamSession, error: &mut bool) -> Result<(), JsonError> {
    const SESSION: u32 = 1;
    const EMAIL: u32 = 1 << 1;
    const FULL_NAME: u32 = 1 << 2;
    const ROLE: u32 = 1 << 3;
    const ORG_ID: u32 = 1 << 4;
    const PROVIDER_ORG_ID: u32 = 1 << 5;
    const USER: u32 = 1 << 6;
    const ORGANIZATION: u32 = 1 << 7;
    let mut seen = Seen::new();
    let mut p = Parser::new(body);
    p.object("redeem response", |p, key| match key {
        k if is(k, "session") => {
            seen.first(SESSION, "session")?;
            p.string_into(&mut out.session, "session")
        }
        k if is(k, "user") => {
            seen.first(USER, "duplicate member")?;
            p.object("user", |p, key| match key {
                k if is(k, "email") => {
                    seen.first(EMAIL, "user.email")?;
                    p.string_into(&mut crate::json::text(&mut out.email), "user.email")
                }
                k if is(k, "full_name") => {
                    seen.first(FULL_NAME, "user.full_name")?;
                    p.nullable_string_into(
                        &mut crate::json::text(&mut out.full_name),
                        "user.full_name",
                    )
                    .map(drop)
                }
                // An unknown role is kept as none: Stream may add roles.
                k if is(k, "role") => {
                    let r = if p.null() {
                        None
                    } else {
                        p.string::<16>("user.role").ok()
                    };
                    seen.first(ROLE, "user.role")?;
                    out.role = r.and_then(|r| Role::parse(&r).ok());
                    Ok(())
                }
                _ => p.skip(),
            })
        }
        k if is(k, "organization") => {
            seen.first(ORGANIZATION, "duplicate member")?;
            p.object("organization", |p, key| match key {
                k if is(k, "id") => {
                    seen.first(ORG_ID, "organization.id")?;
                    p.string_into(
                        &mut crate::json::text(&mut out.organization_id),
                        "organization.id",
                    )
                }
                k if is(k, "provider_org_id") => {
                    seen.first(PROVIDER_ORG_ID, "organization.provider_org_id")?;
                    p.string_into(
                        &mut crate::json::text(&mut out.provider_org_id),
                        "organization.provider_org_id",
                    )
                }
                _ => p.skip(),
            })
        }
        k if is(k, "error") => note_error_member(p, error),
        _ => p.skip(),
    })?;
    p.finish()?;
    seen.required(SESSION, "session")?;
    if !check_token_chars(out.session.as_bytes()) {
        return Err(JsonError::Malformed("session"));
    }
    seen.required(EMAIL, "user.email")?;
    seen.required(ORG_ID, "organization.id")?;
    seen.required(PROVIDER_ORG_ID, "organization.provider_org_id")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{drive, golden};
    use crate::{Flow, Step};

    const SESSION: &str = r#"{"session":"sess-123","user":{"email":"sarah.manager@restaurantchain.com","full_name":"Sarah Johnson","phone_number":"+1-555-123-4567","role":"manager"},"organization":{"id":"5b0b2b0e-9a52-4b6e-9d7e-3f7f3c1c2a10","provider_org_id":"restaurant_chain_abc_123"}}"#;

    #[test]
    fn golden_redeem_and_transcript() {
        let url = "https://orders.brand.example/redirect/sso?code=abc%2B1";
        golden(
            &mut redeem(url).unwrap(),
            "GET https://orders.brand.example/redirect/sso?code=abc%2B1\n\
             Accept: application/json\n\
             \n",
        );
        let (out, transcript) = drive(redeem(url).unwrap(), &[(200, SESSION.as_bytes())]);
        let s = out.unwrap();
        assert_eq!(s.session.expose(), "sess-123");
        assert_eq!(s.email, "sarah.manager@restaurantchain.com");
        assert_eq!(s.full_name, "Sarah Johnson");
        assert_eq!(s.role, Some(Role::Manager));
        assert_eq!(s.organization_id, "5b0b2b0e-9a52-4b6e-9d7e-3f7f3c1c2a10");
        assert_eq!(s.provider_org_id, "restaurant_chain_abc_123");
        assert_eq!(
            transcript,
            [
                std::format!("send GET {url}"),
                "handle 200".into(),
                "done".into()
            ]
        );
        assert_eq!(
            redeem("http://evil.example/x").unwrap_err(),
            Error::Insecure
        );
    }

    #[test]
    fn redeem_twice_is_sso_token_redeemed() {
        let url = "https://orders.brand.example/redirect/sso?code=abc";
        let (first, _) = drive(redeem(url).unwrap(), &[(200, SESSION.as_bytes())]);
        assert!(first.is_ok());
        let (second, transcript) = drive(
            redeem(url).unwrap(),
            &[(
                400,
                br#"{"error":"sso_token_redeemed","error_description":"the SSO login token was already used"}"#,
            )],
        );
        assert_eq!(second.unwrap_err(), Error::SsoTokenRedeemed);
        assert_eq!(transcript.last().unwrap(), "error sso_token_redeemed");
    }

    #[test]
    fn redeem_answers() {
        let url = "https://orders.brand.example/redirect/sso?code=abc";
        let run =
            |status: u16, body: &str| drive(redeem(url).unwrap(), &[(status, body.as_bytes())]).0;
        let s = run(
            200,
            r#"{"session":"s","user":{"email":"zoe@example.com","full_name":"Zo\u00eb Ren\u00e9e","role":"chef"},"organization":{"id":"o","provider_org_id":"p"}}"#,
        )
        .unwrap();
        assert_eq!(s.full_name, "Zoë Renée");
        assert_eq!(s.role, None);
        let s = run(
            200,
            r#"{"session":"s","user":{"email":"a@b","full_name":null,"role":null},"organization":{"id":"o","provider_org_id":"p"}}"#,
        )
        .unwrap();
        assert_eq!((s.full_name.as_str(), s.role), ("", None));
        for (status, body, want) in [
            (
                400,
                r#"{"error":"invalid_sso_token","error_description":"unknown"}"#,
                "oauth",
            ),
            (400, r#"{"error":"sso_token_expired"}"#, "oauth"),
            (
                200,
                r#"{"user":{"email":"a@b"},"organization":{"id":"o","provider_org_id":"p"}}"#,
                "malformed",
            ),
            (
                200,
                r#"{"session":"s","organization":{"id":"o","provider_org_id":"p"}}"#,
                "malformed",
            ),
            (
                200,
                r#"{"session":"s","user":{"email":"a@b"}}"#,
                "malformed",
            ),
            (
                200,
                r#"{"session":"s","user":{"email":"a@b"},"organization":{"id":"o"}}"#,
                "malformed",
            ),
            (
                200,
                r#"{"session":"s","user":{"email":null},"organization":{"id":"o","provider_org_id":"p"}}"#,
                "malformed",
            ),
            (
                200,
                r#"{"session":"s s","user":{"email":"a@b"},"organization":{"id":"o","provider_org_id":"p"}}"#,
                "malformed",
            ),
            (
                200,
                r#"{"session":"s","user":{"email":"a@b"},"user":{"email":"c@d"},"organization":{"id":"o","provider_org_id":"p"}}"#,
                "malformed",
            ),
            (
                200,
                r#"{"session":"s","user":{"email":"a@b"},"organization":{"id":7,"provider_org_id":"p"}}"#,
                "malformed",
            ),
            (302, "", "provider"),
        ] {
            assert_eq!(run(status, body).unwrap_err().kind(), want, "{body}");
        }
        let long_email = std::format!(
            r#"{{"session":"s","user":{{"email":"{}"}},"organization":{{"id":"o","provider_org_id":"p"}}}}"#,
            "e".repeat(EMAIL_CAP + 1)
        );
        assert_eq!(
            run(200, &long_email).unwrap_err(),
            Error::Capacity {
                field: "user.email"
            }
        );
        let long_org = std::format!(
            r#"{{"session":"s","user":{{"email":"a"}},"organization":{{"id":"o","provider_org_id":"{}"}}}}"#,
            "p".repeat(ORG_ID_CAP + 1)
        );
        assert_eq!(
            run(200, &long_org).unwrap_err(),
            Error::Capacity {
                field: "organization.provider_org_id"
            }
        );
        let long_session = std::format!(
            r#"{{"session":"{}","user":{{"email":"a"}},"organization":{{"id":"o","provider_org_id":"p"}}}}"#,
            "s".repeat(SESSION_CAP + 1)
        );
        assert_eq!(
            run(200, &long_session).unwrap_err(),
            Error::Capacity { field: "session" }
        );
    }

    #[test]
    fn poll_after_done_is_a_state_error() {
        let url = "https://orders.brand.example/redirect/sso?code=abc";
        let mut flow = redeem(url).unwrap();
        let mut buf = [0u8; 512];
        assert!(matches!(
            flow.poll(Instant::from_millis(0), &mut buf),
            Ok(Step::Send(_))
        ));
        assert!(
            flow.handle(
                Instant::from_millis(0),
                Response::new(200, SESSION.as_bytes()),
                &mut None
            )
            .is_ok()
        );
        assert!(matches!(
            flow.poll(Instant::from_millis(0), &mut buf),
            Ok(Step::Done)
        ));
        assert!(matches!(
            flow.poll(Instant::from_millis(0), &mut buf),
            Err(Error::State)
        ));
    }
}
