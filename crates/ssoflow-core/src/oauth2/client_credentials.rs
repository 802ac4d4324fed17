//! Client credentials grant (RFC 6749 §4.4): a machine signs itself in.

use super::{Client, TokenFlow, TokenRequest};
use crate::{Error, OneShot};

/// Ask for a token for the client itself, optionally for `scope`.
pub fn client_credentials<'c>(
    client: &'c Client,
    scope: Option<&'c str>,
) -> Result<TokenFlow<'c>, Error> {
    Ok(OneShot::new(TokenRequest::new(
        client,
        "client_credentials",
        &[("scope", scope)],
    )?))
}
