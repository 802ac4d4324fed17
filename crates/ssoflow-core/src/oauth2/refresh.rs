//! Refresh token grant (RFC 6749 §6).
//!
//! A new refresh token in the answer replaces the old one; an answer without one keeps the old
//! one (switch [`Quirks::keep_refresh_token`](crate::Quirks)). Servers that rotate refresh tokens
//! revoke the whole family when one is replayed, so never run two refreshes of one token at once:
//! [`Session`](crate::session::Session) makes sure of that.

use super::{Client, TokenFlow, TokenRequest};
use crate::{Error, OneShot};

/// Exchange `refresh_token` for fresh tokens.
// Out of line: inlined, its request's and Result's temporaries would stay in the caller's
// frame, which holds the driver's buffer for the whole run.
#[inline(never)]
pub fn refresh<'c>(
    client: &'c Client,
    refresh_token: &'c str,
    scope: Option<&'c str>,
) -> Result<TokenFlow<'c>, Error> {
    if refresh_token.is_empty() {
        return Err(Error::InvalidInput {
            what: "refresh_token",
        });
    }
    let params = [("refresh_token", Some(refresh_token)), ("scope", scope)];
    Ok(OneShot::new(
        TokenRequest::new(client, "refresh_token", &params)?.keeping_refresh_token(refresh_token),
    ))
}

#[cfg(test)]
mod tests {
    use crate::oauth2::tests::client;
    use crate::testing::drive;

    #[test]
    fn rotation_and_keeping() {
        let c = client();
        let rotated =
            br#"{"access_token":"a2","token_type":"Bearer","expires_in":60,"refresh_token":"r2"}"#;
        let (out, _) = drive(super::refresh(&c, "r1", None).unwrap(), &[(200, rotated)]);
        assert_eq!(out.unwrap().refresh.unwrap().expose(), "r2");
        let kept = br#"{"access_token":"a2","token_type":"Bearer","expires_in":60}"#;
        let (out, _) = drive(super::refresh(&c, "r1", None).unwrap(), &[(200, kept)]);
        assert_eq!(out.unwrap().refresh.unwrap().expose(), "r1");
        let strict = c.clone().with_quirks(crate::Quirks::STRICT);
        let (out, _) = drive(super::refresh(&strict, "r1", None).unwrap(), &[(200, kept)]);
        assert!(out.is_err());
        let (out, _) = drive(
            super::refresh(&c, "r1", None).unwrap(),
            &[(400, br#"{"error":"invalid_grant"}"#)],
        );
        assert_eq!(out.unwrap_err().kind(), "oauth");
    }
}
