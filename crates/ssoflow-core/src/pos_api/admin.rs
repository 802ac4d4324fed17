//! The POS admin's sign-in as a [`Recipe`](crate::recipe::Recipe): log in, then refresh with the refresh token (the
//! old one stops working: seed 004, "the new access and refresh tokens"); when a refresh is
//! refused, log in again.

use super::{Login, PosConfig, Refresh, check_basic_id, check_credentials};
use crate::Error;
use crate::recipe::Renewable;
use crate::token::check_token_chars;

/// An admin's user name and password, with the refresh-first renewal above.
#[derive(Clone, Copy)]
pub struct Admin<'c> {
    config: &'c PosConfig,
    user_name: &'c str,
    password: &'c str,
}

crate::secret::debug_redacted!(Admin { config, user_name; password });

impl<'c> Admin<'c> {
    /// Sign `user_name` in with `password`.
    pub fn new(
        config: &'c PosConfig,
        user_name: &'c str,
        password: &'c str,
    ) -> Result<Self, Error> {
        check_basic_id(config)?;
        check_credentials(user_name, password)?;
        Ok(Admin {
            config,
            user_name,
            password,
        })
    }
}

impl Renewable for Admin<'_> {
    type Login<'a>
        = Login<'a>
    where
        Self: 'a;
    type Refresh<'a>
        = Refresh<'a>
    where
        Self: 'a;

    fn login(&self) -> Result<Option<Login<'_>>, Error> {
        Ok(Some(Login {
            config: self.config,
            user_name: self.user_name,
            password: self.password,
        }))
    }

    fn refresh<'a>(&'a self, refresh_token: &'a str) -> Result<Refresh<'a>, Error> {
        if !check_token_chars(refresh_token.as_bytes()) {
            return Err(Error::InvalidInput {
                what: "refresh_token",
            });
        }
        Ok(Refresh {
            config: self.config,
            refresh_token,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recipe::Recipe;
    use crate::testing::drive;

    // seed 004: "the server responds with a 201 Created status code with an access token in
    // the response body" — members from its table: access_token, expires_in, refresh_token,
    // token_type.
    const TOKENS: &[u8] = br#"{"access_token":"0b3c4d5e-0000-4000-8000-000000000001","expires_in":3600,"refresh_token":"r2","token_type":"Bearer"}"#;

    #[test]
    fn login_then_refresh_then_login_again_when_the_refresh_is_refused() {
        let c = PosConfig::new("https://pos.example", "pos-admin-client", "pos-secret").unwrap();
        let admin = Admin::new(&c, "admin", "pw").unwrap();
        let (out, t) = drive(admin.flow(&(), None, [0; 16]).unwrap(), &[(201, TOKENS)]);
        let first = out.unwrap();
        assert!(t[0].ends_with("/auth/token"), "{t:?}");
        let (out, t) = drive(
            admin.flow(&(), Some(&first), [0; 16]).unwrap(),
            &[(201, TOKENS)],
        );
        assert!(out.is_ok());
        assert!(t[0].ends_with("/auth/refresh-token"), "{t:?}");
        let refused =
            br#"{"error":"unauthorized","message":"unknown or already used refresh token"}"#;
        let (out, t) = drive(
            admin.flow(&(), Some(&first), [0; 16]).unwrap(),
            &[(401, refused), (201, TOKENS)],
        );
        assert!(out.is_ok(), "{t:?}");
        assert!(t[2].ends_with("/auth/token"), "{t:?}");
        assert!(Admin::new(&c, "", "pw").is_err());
    }
}
