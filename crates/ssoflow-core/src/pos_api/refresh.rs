//! POS API refresh: `POST /auth/refresh-token` with the refresh token as Bearer → 201 a new,
//! rotated pair (seed 004, PROTOCOLS.md §4).

use super::PosConfig;
use crate::token::check_token_chars;
use crate::{
    Error, Exchange, Instant, Method, OneShot, Request, RequestBuilder, Response, TokenSet,
};

/// `POST /auth/refresh-token` (one exchange).
pub struct Refresh<'c> {
    pub(super) config: &'c PosConfig,
    pub(super) refresh_token: &'c str,
}

crate::secret::debug_redacted!(Refresh { config; refresh_token });

/// The refresh flow.
pub type RefreshFlow<'c> = OneShot<Refresh<'c>>;

/// Trade `refresh_token` for a new access/refresh pair. The old refresh token stops working, so
/// run at most one refresh per token ([`Session`](crate::session::Session) sees to that).
///
/// An answer without a `refresh_token` keeps the old one under
/// [`Quirks::keep_refresh_token`](crate::Quirks::keep_refresh_token), and is `Error::Malformed` otherwise.
pub fn refresh<'c>(
    config: &'c PosConfig,
    refresh_token: &'c str,
) -> Result<RefreshFlow<'c>, Error> {
    if !check_token_chars(refresh_token.as_bytes()) {
        return Err(Error::InvalidInput {
            what: "refresh_token",
        });
    }
    Ok(OneShot::new(Refresh {
        config,
        refresh_token,
    }))
}

impl Exchange for Refresh<'_> {
    type Output = TokenSet;

    fn request<'b>(&mut self, _now: Instant, buf: &'b mut [u8]) -> Result<Request<'b>, Error> {
        let mut rb = RequestBuilder::new(
            buf,
            Method::Post,
            self.config.base_url(),
            "/auth/refresh-token",
        );
        rb.bearer(self.refresh_token);
        rb.finish_in_place()
    }

    fn response_into(
        &mut self,
        now: Instant,
        response: Response<'_>,
        out: &mut Option<TokenSet>,
    ) -> Result<(), Error> {
        self.config
            .read_tokens_into(now, response, out, Some(self.refresh_token))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Quirks;
    use crate::pos_api::tests::config;
    use crate::testing::drive;

    #[test]
    fn refresh_without_a_new_refresh_token() {
        let c = config();
        let kept = r#"{"access_token":"a2","expires_in":60,"token_type":"Bearer"}"#;
        let (out, _) = drive(refresh(&c, "r-1").unwrap(), &[(201, kept.as_bytes())]);
        assert_eq!(out.unwrap().refresh.unwrap().expose(), "r-1");
        let strict = config().with_quirks(Quirks::STRICT);
        let (out, _) = drive(refresh(&strict, "r-1").unwrap(), &[(201, kept.as_bytes())]);
        assert!(matches!(
            out,
            Err(Error::Malformed {
                what: "refresh_token",
                ..
            })
        ));
    }
}
