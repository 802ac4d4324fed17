//! Resource owner password credentials grant (RFC 6749 §4.3).

use super::{Client, TokenFlow, TokenRequest};
use crate::{Error, OneShot};

/// Exchange a user's name and password for tokens.
// Out of line: inlined, its request's and Result's temporaries would stay in the caller's
// frame, which holds the driver's buffer for the whole run.
#[inline(never)]
pub fn password<'c>(
    client: &'c Client,
    username: &'c str,
    password: &'c str,
    scope: Option<&'c str>,
) -> Result<TokenFlow<'c>, Error> {
    if username.is_empty() {
        return Err(Error::InvalidInput { what: "username" });
    }
    let params = [
        ("username", Some(username)),
        ("password", Some(password)),
        ("scope", scope),
    ];
    Ok(OneShot::new(TokenRequest::new(
        client, "password", &params,
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
            &mut super::password(&c, "johndoe", "A3ddj3w", None).unwrap(),
            "POST https://server.example.com/token\n\
             Accept: application/json\n\
             Authorization: Basic czZCaGRSa3F0Mzo3RmpmcDBaQnIxS3REUmJuZlZkbUl3\n\
             Content-Type: application/x-www-form-urlencoded\n\
             \n\
             grant_type=password&username=johndoe&password=A3ddj3w",
        );
    }
}
