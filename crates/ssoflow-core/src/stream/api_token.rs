//! Stream API token: OAuth 2.0 client credentials (RFC 6749 §4.4) at `{base}/oauth/token` with
//! HTTP Basic client auth, and the [`ApiToken`] recipe that keeps it (seed 003, PROTOCOLS.md §3).

use super::StreamConfig;
use crate::Error;
use crate::oauth2::{self, TokenFlow};

/// Get an API client token (client credentials at `{base}/oauth/token`).
pub fn api_token(config: &StreamConfig) -> Result<TokenFlow<'_>, Error> {
    oauth2::client_credentials(&config.oauth, None)
}

/// The API client token as a sign-in [`Recipe`](crate::recipe::Recipe) (seed 003: "request a
/// token using your created API"; never exposed to the browser): client credentials again for
/// every renewal.
pub type ApiToken<'c> = oauth2::ClientCredentials<'c>;

impl StreamConfig {
    /// The recipe that keeps this API client's token.
    pub fn api_token_recipe(&self) -> ApiToken<'_> {
        oauth2::ClientCredentials::new(&self.oauth, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::tests::config;
    use crate::testing::{drive, golden};

    #[test]
    fn api_token_is_client_credentials_with_basic_auth() {
        let c = config();
        golden(
            &mut api_token(&c).unwrap(),
            "POST https://api.stream.example/oauth/token\n\
             Accept: application/json\n\
             Authorization: Basic c3RyZWFtLWNsaWVudDpzdHJlYW0tc2VjcmV0\n\
             Content-Type: application/x-www-form-urlencoded\n\
             \n\
             grant_type=client_credentials",
        );
        let (out, transcript) = drive(
            api_token(&c).unwrap(),
            &[(
                200,
                br#"{"access_token":"api-token","token_type":"Bearer","expires_in":3600}"#,
            )],
        );
        assert_eq!(out.unwrap().access.value.expose(), "api-token");
        assert_eq!(
            transcript,
            [
                "send POST https://api.stream.example/oauth/token",
                "handle 200",
                "done"
            ]
        );
        let (out, _) = drive(
            api_token(&c).unwrap(),
            &[(401, br#"{"error":"invalid_client"}"#)],
        );
        assert!(matches!(out, Err(Error::OAuth { status: 401, .. })));
    }
}
