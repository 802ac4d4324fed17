//! Authorization-code SSO: the Punchh-hosted login form, then `POST /oauth/token` (JSON, signed).
//!
//! 1. [`state_from_entropy`] makes an unguessable `state`; keep it until the user returns.
//! 2. [`authorize_url`]: send the user's browser there.
//! 3. [`parse_callback`](super::parse_callback): read `redirect_uri?code=…&state=…`, checking
//!    `state`.
//! 4. [`code_for_token`]: trade the code for tokens; then [`user_info`](super::user_info).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::PunchhConfig;
use crate::oauth2::{Then, read_token_response_into};
use crate::{
    Error, Exchange, Instant, Method, OneShot, Request, RequestBuilder, Response, TokenSet,
};

/// A `state` value from 16 bytes of the caller's entropy (base64url, 22 characters).
pub fn state_from_entropy(entropy: &[u8; 16]) -> heapless::String<22> {
    let mut out = [0u8; 22];
    let n = URL_SAFE_NO_PAD.encode_slice(entropy, &mut out).unwrap_or(0);
    let text = core::str::from_utf8(out.get(..n).unwrap_or(&[])).unwrap_or("");
    heapless::String::try_from(text).unwrap_or_default()
}

/// Write the Punchh-hosted login URL into `buf`:
/// `{base}/oauth/authorize?client_id=…&redirect_uri=…&response_type=code&state=…`.
///
/// `state` must not be empty: check it when the user comes back
/// ([`parse_callback`](super::parse_callback)).
pub fn authorize_url<'b>(
    config: &PunchhConfig,
    redirect_uri: &str,
    state: &str,
    buf: &'b mut [u8],
) -> Result<&'b str, Error> {
    if redirect_uri.is_empty() {
        return Err(Error::InvalidInput {
            what: "redirect_uri",
        });
    }
    if state.is_empty() {
        return Err(Error::InvalidInput { what: "state" });
    }
    let mut rb = RequestBuilder::new(buf, Method::Get, config.base_url(), "/oauth/authorize");
    rb.query(&[
        ("client_id", config.client_id()),
        ("redirect_uri", redirect_uri),
        ("response_type", "code"),
        ("state", state),
    ]);
    Ok(rb.finish_in_place()?.url)
}

/// The code-for-token request (one exchange).
pub struct CodeForToken<'c> {
    config: &'c PunchhConfig,
    code: &'c str,
    redirect_uri: &'c str,
}

crate::secret::debug_redacted!(CodeForToken { config, redirect_uri; code });

/// The code-for-token flow.
pub type CodeForTokenFlow<'c> = OneShot<CodeForToken<'c>>;

/// Trade the authorization `code` from the callback for tokens. `redirect_uri` must be the one
/// sent to [`authorize_url`].
///
/// Punchh answers `"scope":"null"` (a string) when no scope applies: that is read as no scope.
/// `created_at` (epoch seconds as a string) is ignored; there is no `expires_in`, so the expiry
/// is unknown (rely on a 401).
pub fn code_for_token<'c>(
    config: &'c PunchhConfig,
    code: &'c str,
    redirect_uri: &'c str,
) -> Result<CodeForTokenFlow<'c>, Error> {
    if code.is_empty() {
        return Err(Error::InvalidInput { what: "code" });
    }
    if redirect_uri.is_empty() {
        return Err(Error::InvalidInput {
            what: "redirect_uri",
        });
    }
    Ok(OneShot::new(CodeForToken {
        config,
        code,
        redirect_uri,
    }))
}

impl Exchange for CodeForToken<'_> {
    type Output = TokenSet;

    fn request<'b>(&mut self, _now: Instant, buf: &'b mut [u8]) -> Result<Request<'b>, Error> {
        let c = self.config;
        c.signed_request(
            buf,
            Method::Post,
            "/oauth/token",
            None,
            Some(&[
                ("code", self.code),
                ("client_id", c.client_id()),
                ("client_secret", c.client_secret.expose()),
                ("grant_type", "authorization_code"),
                ("redirect_uri", self.redirect_uri),
            ]),
        )
    }

    fn response_into(
        &mut self,
        now: Instant,
        response: Response<'_>,
        out: &mut Option<TokenSet>,
    ) -> Result<(), Error> {
        crate::exchange::read_in_place(out, TokenSet::empty(), |slot| {
            self.read_into(now, response, slot)
        })
    }
}

impl CodeForToken<'_> {
    #[inline(never)]
    fn read_into(
        &self,
        now: Instant,
        response: Response<'_>,
        set: &mut TokenSet,
    ) -> Result<(), Error> {
        if self.config.refuses(response.status) {
            return Err(super::refusal(response));
        }
        // Punchh sends `"scope": "null"` for no scope.
        let then = Then {
            keep_refresh: None,
            null_scope: true,
        };
        read_token_response_into(now, response, self.config.quirks(), set, then)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::punchh::tests::seed_config;
    use crate::punchh::{Algorithm, digest, parse_callback};
    use crate::testing::terminates;
    use crate::testing::{drive, golden};
    use crate::{Expiry, Quirks};
    use proptest::prelude::*;

    /// Seed 002's answer, as published.
    const SEED_TOKEN: &str =
        include_str!("../../tests/fixtures/seeds/002_oauth_token_response.json");

    #[test]
    fn authorize_url_and_callback() {
        let c = seed_config();
        let state = state_from_entropy(&[9; 16]);
        assert_eq!(state.len(), 22);
        let mut buf = [0u8; 512];
        let url = authorize_url(&c, "https://redirect-uri.com/auth", &state, &mut buf).unwrap();
        assert_eq!(
            url,
            std::format!(
                "https://SERVER_NAME_GOES_HERE.punchh.com/oauth/authorize?client_id=CLIENT_GOES_HERE&redirect_uri=https%3A%2F%2Fredirect-uri.com%2Fauth&response_type=code&state={state}"
            )
        );
        let back = std::format!("https://redirect-uri.com/auth?code=TOKEN_GOES_HERE&state={state}");
        assert_eq!(
            parse_callback(&back, &state).unwrap().code.expose(),
            "TOKEN_GOES_HERE"
        );
        assert_eq!(
            parse_callback("https://redirect-uri.com/auth?code=x&state=forged", &state),
            Err(Error::StateMismatch)
        );
        let mut buf = [0u8; 512];
        assert_eq!(
            authorize_url(&c, "https://redirect-uri.com/auth", "", &mut buf),
            Err(Error::InvalidInput { what: "state" })
        );
        let mut small = [0u8; 8];
        assert!(matches!(
            authorize_url(&c, "https://redirect-uri.com/auth", "s", &mut small),
            Err(Error::BufferTooSmall { .. })
        ));
    }

    #[test]
    fn golden_request() {
        let c = seed_config();
        let body = r#"{"code":"TOKEN_GOES_HERE","client_id":"CLIENT_GOES_HERE","client_secret":"SECRET_GOES_HERE","grant_type":"authorization_code","redirect_uri":"https://redirect-uri.com/auth"}"#;
        let want = digest(
            "SECRET_GOES_HERE",
            Algorithm::Sha1,
            "/oauth/token",
            body.as_bytes(),
        );
        golden(
            &mut code_for_token(&c, "TOKEN_GOES_HERE", "https://redirect-uri.com/auth").unwrap(),
            &std::format!(
                "POST https://SERVER_NAME_GOES_HERE.punchh.com/oauth/token\n\
                 Accept: application/json\n\
                 Content-Type: application/json\n\
                 User-Agent: Punchh/OnlineOrder/1.0/Web/BrowserVersion/OS_Type\n\
                 x-pch-digest: {want}\n\
                 \n\
                 {body}"
            ),
        );
        // A separate OAuth client id goes in the body in place of the client key.
        let other = seed_config().with_client_id("oauth-app").unwrap();
        let mut flow = code_for_token(&other, "c", "https://r.example/cb").unwrap();
        let mut buf = [0u8; 1024];
        let crate::Step::Send(r) =
            crate::Flow::poll(&mut flow, Instant::from_millis(0), &mut buf).unwrap()
        else {
            panic!()
        };
        assert!(
            std::str::from_utf8(r.body)
                .unwrap()
                .contains(r#""client_id":"oauth-app""#)
        );
    }

    #[test]
    fn client_secret_in_the_body_signing_secret_in_the_digest() {
        // seed 002: "client_secret ... OAuth client secret of the business"; the x-pch-digest
        // key is a setting of its own (defaulting to the client secret).
        let c = seed_config()
            .with_signing_secret("fake-signing-secret")
            .unwrap();
        let body = r#"{"code":"TOKEN_GOES_HERE","client_id":"CLIENT_GOES_HERE","client_secret":"SECRET_GOES_HERE","grant_type":"authorization_code","redirect_uri":"https://redirect-uri.com/auth"}"#;
        let want = digest(
            "fake-signing-secret",
            Algorithm::Sha1,
            "/oauth/token",
            body.as_bytes(),
        );
        golden(
            &mut code_for_token(&c, "TOKEN_GOES_HERE", "https://redirect-uri.com/auth").unwrap(),
            &std::format!(
                "POST https://SERVER_NAME_GOES_HERE.punchh.com/oauth/token\n\
                 Accept: application/json\n\
                 Content-Type: application/json\n\
                 User-Agent: Punchh/OnlineOrder/1.0/Web/BrowserVersion/OS_Type\n\
                 x-pch-digest: {want}\n\
                 \n\
                 {body}"
            ),
        );
        assert_ne!(
            want,
            digest(
                "SECRET_GOES_HERE",
                Algorithm::Sha1,
                "/oauth/token",
                body.as_bytes()
            )
        );
        let debug = std::format!("{c:?}");
        assert!(!debug.contains("fake-signing-secret"), "{debug}");
        assert!(!debug.contains("SECRET_GOES_HERE"), "{debug}");
        assert_eq!(
            seed_config().with_signing_secret("").unwrap_err(),
            Error::InvalidInput {
                what: "signing_secret"
            }
        );
        let long = "k".repeat(crate::punchh::SECRET_CAP + 1);
        assert_eq!(
            seed_config().with_signing_secret(&long).unwrap_err(),
            Error::Capacity {
                field: "signing_secret"
            }
        );
    }

    #[test]
    fn seed_answer_parses_byte_for_byte() {
        let c = seed_config();
        let (out, transcript) = drive(
            code_for_token(&c, "TOKEN_GOES_HERE", "https://redirect-uri.com/auth").unwrap(),
            &[(200, SEED_TOKEN.as_bytes())],
        );
        let t = out.unwrap();
        assert_eq!(t.access.value.expose(), "ACCESS_TOKEN_GOES_HERE");
        assert_eq!(t.refresh.unwrap().expose(), "REFRESH_TOKEN_GOES_HERE");
        assert_eq!(t.scope, None);
        assert_eq!(t.expires_in, None);
        assert_eq!(t.access.expiry, Expiry::Unknown);
        assert_eq!(
            transcript,
            [
                "send POST https://SERVER_NAME_GOES_HERE.punchh.com/oauth/token",
                "handle 200",
                "done"
            ]
        );
        // Under strict quirks the seed still parses: it has token_type and no string expires_in.
        let strict = seed_config().with_quirks(Quirks::STRICT);
        let (out, _) = drive(
            code_for_token(&strict, "c", "https://r.example/cb").unwrap(),
            &[(200, SEED_TOKEN.as_bytes())],
        );
        assert!(out.is_ok());
        let real_scope = br#"{"access_token":"a","token_type":"Bearer","scope":"read write"}"#;
        let (out, _) = drive(
            code_for_token(&c, "c", "https://r.example/cb").unwrap(),
            &[(200, real_scope)],
        );
        assert_eq!(out.unwrap().scope.as_deref(), Some("read write"));
    }

    #[test]
    fn refusals() {
        let c = seed_config();
        let run = |status: u16, body: &[u8]| {
            drive(
                code_for_token(&c, "c", "https://r.example/cb").unwrap(),
                &[(status, body)],
            )
            .0
        };
        assert_eq!(run(412, b""), Err(Error::Digest));
        match run(
            400,
            br#"{"error":"invalid_grant","error_description":"The provided authorization grant is invalid, expired, revoked"}"#,
        ) {
            Err(Error::OAuth {
                status: 400,
                error,
                description,
            }) => {
                assert_eq!(error, "invalid_grant");
                assert!(description.as_str().starts_with("The provided authorization grant"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            run(401, br#"{"errors":{"base":["Invalid client"]}}"#),
            Err(Error::Provider { status: 401, .. })
        ));
        assert!(matches!(
            run(200, br#"{"error":"invalid_grant"}"#),
            Err(Error::OAuth { status: 200, .. })
        ));
        assert!(matches!(
            run(200, br#"{"access_token":"a","token_type":"MAC"}"#),
            Err(Error::Malformed {
                what: "token_type",
                ..
            })
        ));
        assert!(matches!(
            run(200, br#"{"token_type":"Bearer"}"#),
            Err(Error::Malformed {
                what: "access_token",
                ..
            })
        ));
        assert!(matches!(
            run(200, br#"{"access_token":1,"token_type":"Bearer"}"#),
            Err(Error::Malformed { .. })
        ));
        assert!(matches!(
            run(200, b"not json"),
            Err(Error::Malformed { .. })
        ));
        assert_eq!(
            code_for_token(&c, "", "https://r.example/cb").unwrap_err(),
            Error::InvalidInput { what: "code" }
        );
        assert_eq!(
            code_for_token(&c, "c", "").unwrap_err(),
            Error::InvalidInput {
                what: "redirect_uri"
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
            terminates(code_for_token(&c, "c", "https://r.example/cb").unwrap(), &answers);
        }
    }
}
