//! The M2M token: `POST /api/oauth/tokens` with HTTP Basic client credentials.

use core::borrow::BorrowMut;

use super::{ParConfig, RequestIds, read_envelope};
use crate::json::is;
use crate::oauth2::TokenMembers;
use crate::recipe::Recipe;
use crate::{AccessToken, Error, Exchange, Instant, Method, OneShot, Quirks, Request, Response};

/// The M2M token request (one exchange). `I` is where its request ids come from: the caller's
/// [`RequestIds`] (borrowed) or its own.
#[derive(Debug)]
pub struct M2mRequest<'c, I = &'c mut RequestIds> {
    config: &'c ParConfig,
    ids: I,
}

/// Fetch an M2M token for the application.
pub fn m2m_token<'c>(config: &'c ParConfig, ids: &'c mut RequestIds) -> OneShot<M2mRequest<'c>> {
    OneShot::new(M2mRequest { config, ids })
}

impl<I: BorrowMut<RequestIds>> Exchange for M2mRequest<'_, I> {
    type Output = AccessToken;

    fn request<'b>(&mut self, _now: Instant, buf: &'b mut [u8]) -> Result<Request<'b>, Error> {
        write_request(self.config, self.ids.borrow_mut(), buf)
    }

    fn response_into(
        &mut self,
        now: Instant,
        response: Response<'_>,
        out: &mut Option<AccessToken>,
    ) -> Result<(), Error> {
        crate::exchange::read_in_place(out, AccessToken::empty(), |slot| {
            read_response_into(self.config, now, response, slot)
        })
    }
}

/// PAR Ordering's fixed deviations when reading the M2M token object: refusals come in the
/// envelope (`"status":"ERROR"`), so no `error` member is looked for inside `oauth_token`, and
/// the envelope's 2xx decides success. The rest follows the configured quirks.
pub const fn m2m_quirks(quirks: Quirks) -> Quirks {
    quirks.with_error_in_success_body(false).with_any_2xx(true)
}

/// The application's M2M token as a sign-in [`Recipe`]: a new token for every renewal (PAR
/// issues no refresh token; `expires_in` is 86 399 s in seed 000).
#[derive(Clone, Copy, Debug)]
pub struct M2m<'c> {
    config: &'c ParConfig,
}

impl<'c> M2m<'c> {
    /// Sign the application of `config` in.
    pub fn new(config: &'c ParConfig) -> Self {
        M2m { config }
    }
}

impl Recipe for M2m<'_> {
    type Key = ();
    type Output = AccessToken;
    type Flow<'r>
        = OneShot<M2mRequest<'r, RequestIds>>
    where
        Self: 'r;

    fn flow<'r>(
        &'r self,
        _key: &'r (),
        _previous: Option<&AccessToken>,
        entropy: [u8; 16],
    ) -> Result<Self::Flow<'r>, Error> {
        Ok(OneShot::new(M2mRequest {
            config: self.config,
            ids: RequestIds::new(entropy),
        }))
    }
}

#[inline(never)]
pub(super) fn write_request<'b>(
    c: &ParConfig,
    ids: &mut RequestIds,
    buf: &'b mut [u8],
) -> Result<Request<'b>, Error> {
    let mut rb = c.request(buf, Method::Post, "/api/oauth/tokens", ids);
    if let Some(role) = &c.role_id {
        rb.header("X-Role-ID", role);
    }
    // PAR documents `base_64_encode(client_id:client_secret)`: raw, not form-encoded.
    rb.basic_auth(&c.client_id, c.client_secret.expose(), false);
    rb.json_body(&[("grant_type", "client_credentials"), ("scope", &c.scope)]);
    rb.finish_in_place()
}

/// Read the M2M answer into `out` (empty): the token object nested in the envelope, read by
/// the OAuth 2.0 token reader (`expires_in` may be a string, `token_type` may be missing).
#[inline(never)]
pub(super) fn read_response_into(
    config: &ParConfig,
    now: Instant,
    response: Response<'_>,
    out: &mut AccessToken,
) -> Result<(), Error> {
    let mut expires_in = None;
    let quirks = m2m_quirks(config.quirks());
    let mut read = TokenMembers::new(quirks, out, &mut expires_in, None, None);
    read_envelope(response, &mut |p, key| match key {
        k if is(k, "oauth_token") => p.object("oauth_token", |p, key| read.member(p, key)),
        _ => p.skip(),
    })?;
    read.check(now)
        .map(drop)
        .map_err(|e| e.into_error(response.body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Expiry;
    use crate::par_ordering::tests::config;
    use crate::testing::{drive, golden};

    /// Seed 000's M2M answer, as published.
    pub(crate) const SEED_M2M: &[u8] = br#"{
"status": "OK",
"code": 200,
"data": {
"oauth_token": {
"access_token": "d4c129d3f4560c2beaa3a1a3b15bb771a7038a4bbb680a3912c9ea284d07b291",
"token_type": "bearer",
"scope": "webhooks-management",
"expires_in": 86399
}
}
}"#;

    #[test]
    fn golden_request() {
        let c = config();
        let mut ids = RequestIds::new([0; 16]);
        let id = RequestIds::new([0; 16]).next_id();
        golden(
            &mut m2m_token(&c, &mut ids),
            &std::format!(
                "POST https://api-public-playground.menu.app/api/oauth/tokens\n\
                 Accept: application/json\n\
                 X-Request-ID: {id}\n\
                 Application: f3a90488ffee32c3acb6fcd0ca417cf6\n\
                 Api-Version: 4.38.0\n\
                 X-Ordering-API: true\n\
                 X-Role-ID: \n\
                 Authorization: Basic Y2xpZW50LWlkOmNsaWVudC1zZWNyZXQ=\n\
                 Content-Type: application/json\n\
                 \n\
                 {{\"grant_type\":\"client_credentials\",\"scope\":\"webhooks-management\"}}"
            ),
        );
    }

    #[test]
    fn seed_answer_parses() {
        let c = config();
        let mut ids = RequestIds::new([0; 16]);
        let (out, transcript) = drive(m2m_token(&c, &mut ids), &[(200, SEED_M2M)]);
        let t = out.unwrap();
        assert_eq!(
            t.value.expose(),
            "d4c129d3f4560c2beaa3a1a3b15bb771a7038a4bbb680a3912c9ea284d07b291"
        );
        assert_eq!(t.expiry, Expiry::At(Instant::from_millis(86_399_000)));
        assert_eq!(
            transcript,
            [
                "send POST https://api-public-playground.menu.app/api/oauth/tokens",
                "handle 200",
                "done"
            ]
        );
    }

    #[test]
    fn refusals() {
        let c = config();
        let mut ids = RequestIds::new([0; 16]);
        let (out, _) = drive(
            m2m_token(&c, &mut ids),
            &[(
                401,
                br#"{"status":"ERROR","code":401,"message":"bad client"}"#,
            )],
        );
        assert!(matches!(
            out,
            Err(Error::Provider {
                status: 401,
                code: Some(401),
                ..
            })
        ));
        let mut ids = RequestIds::new([0; 16]);
        let (out, _) = drive(
            m2m_token(&c, &mut ids),
            &[(
                200,
                br#"{"status":"OK","code":200,"data":{"oauth_token":{"token_type":"bearer"}}}"#,
            )],
        );
        assert!(matches!(
            out,
            Err(Error::Malformed {
                what: "access_token",
                ..
            })
        ));
    }
}
