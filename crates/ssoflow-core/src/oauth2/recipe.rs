//! Sign-in recipes for a standard OAuth 2.0 server (see [`crate::recipe`]).

use super::{Client, TokenFlow, TokenRequest};
use crate::recipe::{Recipe, Renewable};
use crate::{Error, TokenSet};

/// The client credentials grant, run again for every renewal.
#[derive(Clone, Copy, Debug)]
pub struct ClientCredentials<'c> {
    client: &'c Client,
    scope: Option<&'c str>,
}

impl<'c> ClientCredentials<'c> {
    /// Sign `client` in, optionally for `scope`.
    pub fn new(client: &'c Client, scope: Option<&'c str>) -> Self {
        ClientCredentials { client, scope }
    }
}

impl Recipe for ClientCredentials<'_> {
    type Key = ();
    type Output = TokenSet;
    type Flow<'r>
        = TokenFlow<'r>
    where
        Self: 'r;

    fn flow<'r>(
        &'r self,
        _key: &'r (),
        _previous: Option<&TokenSet>,
        _entropy: [u8; 16],
    ) -> Result<TokenFlow<'r>, Error> {
        super::client_credentials(self.client, self.scope)
    }
}

/// The resource-owner password grant; renewals use the refresh token (rotated or kept) and
/// fall back to the password when the refresh is refused.
#[derive(Clone, Copy)]
pub struct Password<'c> {
    client: &'c Client,
    username: &'c str,
    password: &'c str,
    scope: Option<&'c str>,
}

crate::secret::debug_redacted!(Password { client, username, scope; password });

impl<'c> Password<'c> {
    /// Sign `username` in with `password`, optionally for `scope`.
    pub fn new(
        client: &'c Client,
        username: &'c str,
        password: &'c str,
        scope: Option<&'c str>,
    ) -> Result<Self, Error> {
        if username.is_empty() {
            return Err(Error::InvalidInput { what: "username" });
        }
        Ok(Password {
            client,
            username,
            password,
            scope,
        })
    }
}

impl Renewable for Password<'_> {
    type Login<'a>
        = TokenRequest<'a>
    where
        Self: 'a;
    type Refresh<'a>
        = TokenRequest<'a>
    where
        Self: 'a;

    fn login(&self) -> Result<Option<TokenRequest<'_>>, Error> {
        let params = [
            ("username", Some(self.username)),
            ("password", Some(self.password)),
            ("scope", self.scope),
        ];
        TokenRequest::new(self.client, "password", &params).map(Some)
    }

    fn refresh<'a>(&'a self, refresh_token: &'a str) -> Result<TokenRequest<'a>, Error> {
        refresh_request(self.client, refresh_token, self.scope)
    }
}

/// The refresh token grant from a refresh token you already hold (e.g. from an authorization
/// code); every renewal uses the newest refresh token. A refused refresh is final: the user
/// must sign in again.
#[derive(Clone, Copy)]
pub struct Refreshing<'c> {
    client: &'c Client,
    refresh_token: &'c str,
    scope: Option<&'c str>,
}

crate::secret::debug_redacted!(Refreshing { client, scope; refresh_token });

impl<'c> Refreshing<'c> {
    /// Start from `refresh_token`.
    pub fn new(
        client: &'c Client,
        refresh_token: &'c str,
        scope: Option<&'c str>,
    ) -> Result<Self, Error> {
        if refresh_token.is_empty() {
            return Err(Error::InvalidInput {
                what: "refresh_token",
            });
        }
        Ok(Refreshing {
            client,
            refresh_token,
            scope,
        })
    }
}

impl Renewable for Refreshing<'_> {
    type Login<'a>
        = TokenRequest<'a>
    where
        Self: 'a;
    type Refresh<'a>
        = TokenRequest<'a>
    where
        Self: 'a;

    fn login(&self) -> Result<Option<TokenRequest<'_>>, Error> {
        Ok(None)
    }

    fn refresh<'a>(&'a self, refresh_token: &'a str) -> Result<TokenRequest<'a>, Error> {
        refresh_request(self.client, refresh_token, self.scope)
    }

    fn initial_refresh(&self) -> Option<&str> {
        Some(self.refresh_token)
    }
}

/// The refresh request for `refresh_token`, keeping it when the answer has no new one.
fn refresh_request<'a>(
    client: &'a Client,
    refresh_token: &'a str,
    scope: Option<&'a str>,
) -> Result<TokenRequest<'a>, Error> {
    let params = [("refresh_token", Some(refresh_token)), ("scope", scope)];
    Ok(TokenRequest::new(client, "refresh_token", &params)?.keeping_refresh_token(refresh_token))
}

/// Token exchange (RFC 8693), run again for every renewal.
#[derive(Clone, Copy)]
pub struct TokenExchange<'c> {
    client: &'c Client,
    subject_token: &'c str,
    subject_token_type: &'c str,
    audience: Option<&'c str>,
    scope: Option<&'c str>,
}

crate::secret::debug_redacted!(TokenExchange { client, subject_token_type, audience, scope; subject_token });

impl<'c> TokenExchange<'c> {
    /// Exchange `subject_token` (of `subject_token_type`) for a token, optionally for an
    /// `audience` and `scope`.
    pub fn new(
        client: &'c Client,
        subject_token: &'c str,
        subject_token_type: &'c str,
        audience: Option<&'c str>,
        scope: Option<&'c str>,
    ) -> Self {
        TokenExchange {
            client,
            subject_token,
            subject_token_type,
            audience,
            scope,
        }
    }
}

impl Recipe for TokenExchange<'_> {
    type Key = ();
    type Output = TokenSet;
    type Flow<'r>
        = TokenFlow<'r>
    where
        Self: 'r;

    fn flow<'r>(
        &'r self,
        _key: &'r (),
        _previous: Option<&TokenSet>,
        _entropy: [u8; 16],
    ) -> Result<TokenFlow<'r>, Error> {
        super::token_exchange(
            self.client,
            self.subject_token,
            self.subject_token_type,
            self.audience,
            self.scope,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth2::tests::client;
    use crate::testing::drive;

    const TOKENS: &[u8] =
        br#"{"access_token":"a2","token_type":"Bearer","expires_in":60,"refresh_token":"r2"}"#;
    const NO_REFRESH: &[u8] = br#"{"access_token":"a3","token_type":"Bearer","expires_in":60}"#;
    const INVALID_GRANT: &[u8] = br#"{"error":"invalid_grant"}"#;

    fn set(refresh: Option<&str>) -> TokenSet {
        let mut s = TokenSet::empty();
        s.access.value = crate::Secret::new("a1", "t").unwrap();
        s.refresh = refresh.map(|r| crate::Secret::new(r, "t").unwrap());
        s
    }

    #[test]
    fn password_logs_in_then_refreshes_then_falls_back_to_the_password() {
        let c = client();
        let r = Password::new(&c, "johndoe", "A3ddj3w", None).unwrap();
        let (out, t) = drive(r.flow(&(), None, [0; 16]).unwrap(), &[(200, TOKENS)]);
        assert_eq!(out.unwrap().refresh.unwrap().expose(), "r2");
        assert_eq!(
            t,
            [
                "send POST https://server.example.com/token",
                "handle 200",
                "done"
            ]
        );
        // With a refresh token: refresh; a refresh answer without one keeps it.
        let prev = set(Some("r2"));
        let (out, _) = drive(
            r.flow(&(), Some(&prev), [0; 16]).unwrap(),
            &[(200, NO_REFRESH)],
        );
        assert_eq!(out.unwrap().refresh.unwrap().expose(), "r2");
        // A refused refresh (the token was rotated away): log in with the password.
        let (out, t) = drive(
            r.flow(&(), Some(&prev), [0; 16]).unwrap(),
            &[(400, INVALID_GRANT), (200, TOKENS)],
        );
        assert_eq!(out.unwrap().access.value.expose(), "a2");
        assert_eq!(t.len(), 5, "{t:?}");
        // A 503 on the refresh is not a refusal: it is the session's to retry.
        let (out, _) = drive(
            r.flow(&(), Some(&prev), [0; 16]).unwrap(),
            &[(503, b"{}"), (200, TOKENS)],
        );
        assert!(out.unwrap_err().is_transient());
    }

    #[test]
    fn refreshing_rotates_and_a_refusal_is_final() {
        let c = client();
        let r = Refreshing::new(&c, "r1", None).unwrap();
        let (out, _) = drive(r.flow(&(), None, [0; 16]).unwrap(), &[(200, TOKENS)]);
        let first = out.unwrap();
        assert_eq!(first.refresh.as_ref().unwrap().expose(), "r2");
        let (out, _) = drive(
            r.flow(&(), Some(&first), [0; 16]).unwrap(),
            &[(400, INVALID_GRANT)],
        );
        assert_eq!(out.unwrap_err().kind(), "oauth");
        assert!(Refreshing::new(&c, "", None).is_err());
    }

    #[test]
    fn client_credentials_and_token_exchange_run_their_grant() {
        let c = client();
        let (out, _) = drive(
            ClientCredentials::new(&c, Some("orders"))
                .flow(&(), Some(&set(None)), [0; 16])
                .unwrap(),
            &[(200, TOKENS)],
        );
        assert!(out.is_ok());
        let x = TokenExchange::new(&c, "subj", super::super::ACCESS_TOKEN_TYPE, None, None);
        let (out, _) = drive(x.flow(&(), None, [0; 16]).unwrap(), &[(200, TOKENS)]);
        assert!(out.is_ok());
    }
}
