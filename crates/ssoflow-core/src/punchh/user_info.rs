//! Punchh user information: `GET /api/auth/users` with an access token → the [`User`] and its
//! user-level token (seed 002, PROTOCOLS.md §2).

use super::PunchhConfig;
use super::user::{User, user_from_json};
use crate::token::check_token_chars;
use crate::{Error, Exchange, Instant, Method, OneShot, Request, Response};

/// `GET /api/auth/users` with the access token and a JSON body `{"client":…}` (one exchange).
pub struct UserInfo<'c> {
    config: &'c PunchhConfig,
    access_token: &'c str,
}

crate::secret::debug_redacted!(UserInfo { config; access_token });

/// The user-information flow.
pub type UserInfoFlow<'c> = OneShot<UserInfo<'c>>;

/// Fetch the [`User`] an `access_token` (from [`code_for_token`](super::code_for_token) or
/// [`sso`](super::sso)) belongs to.
pub fn user_info<'c>(
    config: &'c PunchhConfig,
    access_token: &'c str,
) -> Result<UserInfoFlow<'c>, Error> {
    if !check_token_chars(access_token.as_bytes()) {
        return Err(Error::InvalidInput {
            what: "access_token",
        });
    }
    Ok(OneShot::new(UserInfo {
        config,
        access_token,
    }))
}

impl Exchange for UserInfo<'_> {
    type Output = User;

    fn request<'b>(&mut self, _now: Instant, buf: &'b mut [u8]) -> Result<Request<'b>, Error> {
        // Yes, a GET with a body: Punchh documents it so, and signs it like the others.
        let c = self.config;
        c.signed_request(
            buf,
            Method::Get,
            "/api/auth/users",
            Some(self.access_token),
            Some(&[("client", c.client())]),
        )
    }

    fn response_into(
        &mut self,
        _now: Instant,
        response: Response<'_>,
        out: &mut Option<User>,
    ) -> Result<(), Error> {
        crate::exchange::read_in_place(out, User::empty(), |user| {
            self.config.read_checked(response, |error| {
                user_from_json(response.body, user, Some(error))
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::punchh::tests::seed_config;
    use crate::punchh::user::tests::seed_user_body;
    use crate::testing::terminates;
    use crate::testing::{drive, golden};
    use proptest::prelude::*;

    #[test]
    fn golden_request() {
        let c = seed_config();
        let body = r#"{"client":"CLIENT_GOES_HERE"}"#;
        let want = crate::punchh::digest(
            "SECRET_GOES_HERE",
            crate::punchh::Algorithm::Sha1,
            "/api/auth/users",
            body.as_bytes(),
        );
        golden(
            &mut user_info(&c, "ACCESS_TOKEN_GOES_HERE").unwrap(),
            &std::format!(
                "GET https://SERVER_NAME_GOES_HERE.punchh.com/api/auth/users\n\
                 Accept: application/json\n\
                 Authorization: Bearer ACCESS_TOKEN_GOES_HERE\n\
                 Content-Type: application/json\n\
                 User-Agent: Punchh/OnlineOrder/1.0/Web/BrowserVersion/OS_Type\n\
                 x-pch-digest: {want}\n\
                 \n\
                 {body}"
            ),
        );
    }

    #[test]
    fn seed_user_parses_byte_for_byte() {
        let body = seed_user_body();
        assert!(body.starts_with("{\n    \"anniversary\": null,"));
        assert!(body.ends_with("\"access_token\": null\n  }"));
        let c = seed_config();
        let (out, transcript) = drive(
            user_info(&c, "ACCESS_TOKEN_GOES_HERE").unwrap(),
            &[(200, body.as_bytes())],
        );
        let u = out.unwrap();
        assert_eq!(u.id, 111_111_111);
        assert_eq!(u.email, "test@example.com");
        assert_eq!(u.first_name, "FIRST_NAME_GOES_HERE");
        assert_eq!(u.last_name, "LAST_NAME_GOES_HERE");
        assert_eq!(u.phone, None);
        // seed 001: "authentication_token": "AUTHENTICATION_TOKEN_GOES_HERE" and
        // "access_token": null — the user-level token is the authentication token.
        assert_eq!(u.access_token, None);
        assert_eq!(
            u.user_token().unwrap().expose(),
            "AUTHENTICATION_TOKEN_GOES_HERE"
        );
        assert_eq!(
            u.authentication_token.unwrap().expose(),
            "AUTHENTICATION_TOKEN_GOES_HERE"
        );
        assert_eq!(
            transcript,
            [
                "send GET https://SERVER_NAME_GOES_HERE.punchh.com/api/auth/users",
                "handle 200",
                "done"
            ]
        );
    }

    #[test]
    fn refusals() {
        let c = seed_config();
        let run =
            |status: u16, body: &[u8]| drive(user_info(&c, "tok").unwrap(), &[(status, body)]).0;
        assert_eq!(
            run(412, br#"{"errors":{"base":["Invalid signature"]}}"#),
            Err(Error::Digest)
        );
        match run(
            401,
            br#"{"errors":{"base":["You need to sign in or sign up before continuing."]}}"#,
        ) {
            Err(Error::Provider {
                status: 401,
                message,
                ..
            }) => assert!(message.as_str().contains("You need to sign in")),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            run(
                200,
                br#"{"error":"invalid_token","error_description":"expired"}"#
            ),
            Err(Error::OAuth { status: 200, .. })
        ));
        assert!(matches!(run(200, b"<html>"), Err(Error::Malformed { .. })));
        assert!(matches!(
            run(500, b""),
            Err(Error::Provider { status: 500, .. })
        ));
        assert_eq!(
            user_info(&c, "").unwrap_err(),
            Error::InvalidInput {
                what: "access_token"
            }
        );
        assert_eq!(
            user_info(&c, "a\r\nb").unwrap_err(),
            Error::InvalidInput {
                what: "access_token"
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
            terminates(user_info(&c, "tok").unwrap(), &answers);
            for (_, body) in &answers {
                let _ = User::from_json(body);
            }
        }

        #[test]
        fn user_like_answers_terminate(body in r#"\{("(id|email|first_name|phone|x)":(1|null|"[a-z\\]{0,8}"|\[\]|\{\}),?){0,6}\}"#) {
            let c = seed_config();
            terminates(user_info(&c, "tok").unwrap(), &[(200, body.into_bytes())]);
        }
    }
}
