//! Token exchange (RFC 8693): trade a subject token for one this server issues.

use super::{Client, TokenFlow, TokenRequest};
use crate::{Error, OneShot};

/// The RFC 8693 grant type.
pub const TOKEN_EXCHANGE_GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// The RFC 8693 token type of an OAuth access token.
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// Exchange `subject_token` (of `subject_token_type`, e.g. [`ACCESS_TOKEN_TYPE`]) for a new token,
/// optionally for an `audience` and `scope`.
// Out of line: inlined, its request's and Result's temporaries would stay in the caller's
// frame, which holds the driver's buffer for the whole run.
#[inline(never)]
pub fn token_exchange<'c>(
    client: &'c Client,
    subject_token: &'c str,
    subject_token_type: &'c str,
    audience: Option<&'c str>,
    scope: Option<&'c str>,
) -> Result<TokenFlow<'c>, Error> {
    if subject_token.is_empty() {
        return Err(Error::InvalidInput {
            what: "subject_token",
        });
    }
    let params = [
        ("subject_token", Some(subject_token)),
        ("subject_token_type", Some(subject_token_type)),
        ("audience", audience),
        ("scope", scope),
    ];
    Ok(OneShot::new(TokenRequest::new(
        client,
        TOKEN_EXCHANGE_GRANT,
        &params,
    )?))
}

#[cfg(test)]
mod tests {
    use crate::oauth2::tests::client;
    use crate::testing::golden;

    #[test]
    fn golden_request() {
        let c = client();
        golden(
            &mut super::token_exchange(&c, "subj", super::ACCESS_TOKEN_TYPE, None, None).unwrap(),
            "POST https://server.example.com/token\n\
             Accept: application/json\n\
             Authorization: Basic czZCaGRSa3F0Mzo3RmpmcDBaQnIxS3REUmJuZlZkbUl3\n\
             Content-Type: application/x-www-form-urlencoded\n\
             \n\
             grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&subject_token=subj&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token",
        );
    }
}
