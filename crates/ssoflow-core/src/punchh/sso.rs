//! SSO access token: `POST /api/auth/sso` with the business client key and a security token.

use super::PunchhConfig;
use super::user::{User, read_user};
use crate::json::{JsonError, Parser, Seen, is, note_error_member};
use crate::recipe::Recipe;
use crate::session::HasAccessToken;
use crate::token::check_token_chars;
use crate::{AccessToken, Error, Exchange, Instant, Method, OneShot, Request, Response, Secret};

/// What an SSO login yields: the access token and the user it belongs to.
///
/// The access token is laid out last (`repr(C)`) for the reason given at
/// [`TokenSet`](crate::TokenSet): no 2 KiB `memset` when an empty answer is set up to read into.
#[derive(Clone, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct SsoLogin {
    /// The signed-in user.
    pub user: User,
    /// The access token (`token.access_token`); send it as `Authorization: Bearer …`. Its
    /// expiry is unknown (the answer gives no lifetime): a 401 tells.
    pub access_token: AccessToken,
}

impl HasAccessToken for SsoLogin {
    fn access_token(&self) -> &AccessToken {
        &self.access_token
    }
}

/// The SSO login as a sign-in [`Recipe`]: the same security token for every renewal (seed
/// 001: "Generates authentication token using the security token").
#[derive(Clone, Copy)]
pub struct Sso<'c> {
    config: &'c PunchhConfig,
    security_token: &'c str,
}

crate::secret::debug_redacted!(Sso { config; security_token });

impl<'c> Sso<'c> {
    /// Sign in with `security_token`.
    pub fn new(config: &'c PunchhConfig, security_token: &'c str) -> Result<Self, Error> {
        if security_token.is_empty() {
            return Err(Error::InvalidInput {
                what: "security_token",
            });
        }
        Ok(Sso {
            config,
            security_token,
        })
    }
}

impl Recipe for Sso<'_> {
    type Key = ();
    type Output = SsoLogin;
    type Flow<'r>
        = SsoFlow<'r>
    where
        Self: 'r;

    fn flow<'r>(
        &'r self,
        _key: &'r (),
        _previous: Option<&SsoLogin>,
        _entropy: [u8; 16],
    ) -> Result<SsoFlow<'r>, Error> {
        sso(self.config, self.security_token)
    }
}

/// The SSO request (one exchange).
pub struct SsoRequest<'c> {
    config: &'c PunchhConfig,
    security_token: &'c str,
}

crate::secret::debug_redacted!(SsoRequest { config; security_token });

/// The SSO flow.
pub type SsoFlow<'c> = OneShot<SsoRequest<'c>>;

/// Trade a `security_token` (from Punchh's mobile/web SSO) for an access token and the user.
pub fn sso<'c>(config: &'c PunchhConfig, security_token: &'c str) -> Result<SsoFlow<'c>, Error> {
    if security_token.is_empty() {
        return Err(Error::InvalidInput {
            what: "security_token",
        });
    }
    Ok(OneShot::new(SsoRequest {
        config,
        security_token,
    }))
}

impl Exchange for SsoRequest<'_> {
    type Output = SsoLogin;

    fn request<'b>(&mut self, _now: Instant, buf: &'b mut [u8]) -> Result<Request<'b>, Error> {
        let c = self.config;
        c.signed_request(
            buf,
            Method::Post,
            "/api/auth/sso",
            None,
            Some(&[
                ("client", c.client()),
                ("security_token", self.security_token),
            ]),
        )
    }

    fn response_into(
        &mut self,
        _now: Instant,
        response: Response<'_>,
        out: &mut Option<SsoLogin>,
    ) -> Result<(), Error> {
        crate::exchange::read_in_place(
            out,
            SsoLogin {
                access_token: AccessToken {
                    value: Secret::empty(),
                    expiry: crate::Expiry::Unknown,
                },
                user: User::empty(),
            },
            |login| {
                self.config
                    .read_checked(response, |error| read_sso(response.body, login, error))
            },
        )
    }
}

/// Read the SSO answer into `out` (empty), noting a top-level `error` member in `error`.
#[inline(never)]
fn read_sso(body: &[u8], out: &mut SsoLogin, error: &mut bool) -> Result<(), JsonError> {
    const TOKEN: u32 = 1;
    const USER: u32 = 1 << 1;
    let mut seen = Seen::new();
    let mut p = Parser::new(body);
    p.object("sso response", |p, key| match key {
        k if is(k, "token") => {
            seen.first(TOKEN, "token")?;
            let mut access = Seen::new();
            p.object("token", |p, key| match key {
                k if is(k, "access_token") => {
                    access.first(1, "token.access_token")?;
                    p.string_into(&mut out.access_token.value, "token.access_token")
                }
                _ => p.skip(),
            })?;
            access.required(1, "token.access_token")
        }
        k if is(k, "user") => {
            seen.first(USER, "user")?;
            read_user(p, &mut out.user, None)
        }
        k if is(k, "error") => note_error_member(p, error),
        _ => p.skip(),
    })?;
    p.finish()?;
    seen.required(TOKEN, "token")?;
    if !check_token_chars(out.access_token.value.as_bytes()) {
        return Err(JsonError::Malformed("token.access_token"));
    }
    seen.required(USER, "user")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::punchh::tests::seed_config;
    use crate::testing::terminates;
    use crate::testing::{drive, golden};
    use proptest::prelude::*;

    /// Seed 001's answer, as published.
    const SEED_SSO: &str = include_str!("../../tests/fixtures/seeds/001_sso_response.json");

    #[test]
    fn golden_request_carries_the_published_digest() {
        let c = seed_config();
        golden(
            &mut sso(&c, "SECURITY_TOKEN_GOES_HERE").unwrap(),
            "POST https://SERVER_NAME_GOES_HERE.punchh.com/api/auth/sso\n\
             Accept: application/json\n\
             Content-Type: application/json\n\
             User-Agent: Punchh/OnlineOrder/1.0/Web/BrowserVersion/OS_Type\n\
             x-pch-digest: 375dbf88ee2e8a565138c0d8578d2cd93456a584\n\
             \n\
             {\"client\":\"CLIENT_GOES_HERE\",\"security_token\":\"SECURITY_TOKEN_GOES_HERE\"}",
        );
    }

    #[test]
    fn digest_ignores_a_base_path_prefix() {
        let c = PunchhConfig::new(
            "http://127.0.0.1:9/punchh",
            "CLIENT_GOES_HERE",
            "SECRET_GOES_HERE",
        )
        .unwrap()
        .with_user_agent("ssoflow-test/1.0")
        .unwrap();
        golden(
            &mut sso(&c, "SECURITY_TOKEN_GOES_HERE").unwrap(),
            "POST http://127.0.0.1:9/punchh/api/auth/sso\n\
             Accept: application/json\n\
             Content-Type: application/json\n\
             User-Agent: ssoflow-test/1.0\n\
             x-pch-digest: 375dbf88ee2e8a565138c0d8578d2cd93456a584\n\
             \n\
             {\"client\":\"CLIENT_GOES_HERE\",\"security_token\":\"SECURITY_TOKEN_GOES_HERE\"}",
        );
    }

    #[test]
    fn digest_covers_escaped_body_bytes() {
        let c = seed_config();
        let mut flow = sso(&c, "tok\"en\\é").unwrap();
        let mut buf = [0u8; 1024];
        let crate::Step::Send(r) =
            crate::Flow::poll(&mut flow, Instant::from_millis(0), &mut buf).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            r.body,
            "{\"client\":\"CLIENT_GOES_HERE\",\"security_token\":\"tok\\\"en\\\\é\"}".as_bytes()
        );
        let want = crate::punchh::digest(
            "SECRET_GOES_HERE",
            crate::punchh::Algorithm::Sha1,
            "/api/auth/sso",
            r.body,
        );
        assert_eq!(r.header("x-pch-digest").unwrap(), want.as_bytes());
    }

    #[test]
    fn seed_answer_parses_byte_for_byte() {
        let c = seed_config();
        let (out, transcript) = drive(
            sso(&c, "SECURITY_TOKEN_GOES_HERE").unwrap(),
            &[(200, SEED_SSO.as_bytes())],
        );
        let login = out.unwrap();
        assert_eq!(login.access_token.value.expose(), "ACCESS_TOKEN_GOES_HERE");
        assert_eq!(login.user.id, 111_111_111);
        assert_eq!(login.user.email, "test@example.com");
        assert_eq!(login.user.first_name, "FIRST_NAME_GOES_HERE");
        assert_eq!(login.user.last_name, "LAST_NAME_GOES_HERE");
        assert_eq!(login.user.phone, None);
        assert_eq!(
            login.user.authentication_token.as_ref().unwrap().expose(),
            "AUTHENTICATION_TOKEN_GOES_HERE"
        );
        assert_eq!(
            transcript,
            [
                "send POST https://SERVER_NAME_GOES_HERE.punchh.com/api/auth/sso",
                "handle 200",
                "done"
            ]
        );
        let debug = std::format!("{login:?}");
        assert!(!debug.contains("ACCESS_TOKEN_GOES_HERE"), "{debug}");
        assert!(!debug.contains("AUTHENTICATION_TOKEN_GOES_HERE"), "{debug}");
    }

    #[test]
    fn refusals_and_bad_answers() {
        let c = seed_config();
        let run =
            |status: u16, body: &str| drive(sso(&c, "st").unwrap(), &[(status, body.as_bytes())]).0;
        match run(400, r#"{"errors":{"base":["Invalid security token"]}}"#) {
            Err(Error::Provider {
                status: 400,
                code: None,
                message,
            }) => assert_eq!(
                message.as_str(),
                r#"{"errors":{"base":["Invalid security token"]}}"#
            ),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            run(412, r#"{"errors":{"base":["Invalid signature"]}}"#),
            Err(Error::Digest)
        );
        assert_eq!(run(412, ""), Err(Error::Digest));
        assert!(matches!(
            run(401, r#"{"error":"invalid_client"}"#),
            Err(Error::OAuth { status: 401, .. })
        ));
        assert!(matches!(
            run(503, "<html>busy</html>"),
            Err(Error::Provider { status: 503, .. })
        ));
        let user = r#""user":{"id":5,"first_name":"Zo\u00eb","last_name":"Zoë"}"#;
        let cases: &[(&str, Result<(), &str>)] = &[
            ("", Err("malformed")),
            ("{", Err("malformed")),
            (r#"{"token":{"access_token":"a"}}"#, Err("malformed")),
            (&std::format!("{{{user}}}"), Err("malformed")),
            (
                &std::format!(r#"{{"token":{{}},{user}}}"#),
                Err("malformed"),
            ),
            (
                &std::format!(r#"{{"token":{{"access_token":null}},{user}}}"#),
                Err("malformed"),
            ),
            (
                &std::format!(r#"{{"token":{{"access_token":"a b"}},{user}}}"#),
                Err("malformed"),
            ),
            (&std::format!(r#"{{"token":"a",{user}}}"#), Err("malformed")),
            (
                &std::format!(r#"{{"token":{{"access_token":"a"}},{user},"user":{{"id":1}}}}"#),
                Err("malformed"),
            ),
            (
                r#"{"token":{"access_token":"a"},"user":null}"#,
                Err("malformed"),
            ),
            (
                &std::format!(
                    r#"{{"token":{{"access_token":"a","expires_in":5}},{user},"x":[{{}}]}}"#
                ),
                Ok(()),
            ),
        ];
        for (body, want) in cases {
            let got = run(200, body);
            assert_eq!(
                got.as_ref().map(|_| ()).map_err(|e| e.kind()),
                *want,
                "{body}"
            );
            if let Ok(login) = got {
                assert_eq!(login.user.first_name, "Zoë");
                assert_eq!(login.user.last_name, "Zoë");
            }
        }
        let mut big = std::string::String::from(r#"{"token":{"access_token":""#);
        big.push_str(&"a".repeat(crate::TOKEN_CAP + 1));
        big.push_str(r#""},"user":{"id":1}}"#);
        assert_eq!(
            run(200, &big),
            Err(Error::Capacity {
                field: "token.access_token"
            })
        );
        assert_eq!(
            sso(&c, "").unwrap_err(),
            Error::InvalidInput {
                what: "security_token"
            }
        );
    }

    proptest! {
        #[test]
        fn any_answer_terminates(
            answers in proptest::collection::vec(
                (0u16..700, proptest::collection::vec(any::<u8>(), 0..512)),
                1..4,
            )
        ) {
            let c = seed_config();
            terminates(sso(&c, "st").unwrap(), &answers);
        }
    }
}
