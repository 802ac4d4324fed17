//! POS API login: `POST /auth/token` with HTTP Basic client auth → 201 [`TokenSet`]
//! (OAuth resource-owner password flow, RFC 6749 §4.3; seed 004, PROTOCOLS.md §4).

use super::{BasicAuth, PosConfig, check_basic_id, check_credentials};
use crate::{
    Error, Exchange, Instant, Method, OneShot, Request, RequestBuilder, Response, TokenSet,
};

/// `POST /auth/token` (one exchange).
pub struct Login<'c> {
    pub(super) config: &'c PosConfig,
    pub(super) user_name: &'c str,
    pub(super) password: &'c str,
}

crate::secret::debug_redacted!(Login { config, user_name; password });

/// The login flow.
pub type LoginFlow<'c> = OneShot<Login<'c>>;

/// Log an admin in with their user name and password.
///
/// Under [`BasicAuth::Raw`] (the default) a client id containing `:` is
/// [`Error::InvalidInput`]` { what: "client_id" }`: raw Basic cannot carry it.
pub fn login<'c>(
    config: &'c PosConfig,
    user_name: &'c str,
    password: &'c str,
) -> Result<LoginFlow<'c>, Error> {
    check_basic_id(config)?;
    check_credentials(user_name, password)?;
    Ok(OneShot::new(Login {
        config,
        user_name,
        password,
    }))
}

impl Exchange for Login<'_> {
    type Output = TokenSet;

    fn request<'b>(&mut self, _now: Instant, buf: &'b mut [u8]) -> Result<Request<'b>, Error> {
        let c = self.config;
        let mut rb = RequestBuilder::new(buf, Method::Post, c.base_url(), "/auth/token");
        check_basic_id(c)?;
        let form_encode = c.basic_auth == BasicAuth::FormEncoded;
        rb.basic_auth(&c.client_id, c.client_secret.expose(), form_encode);
        rb.json_body(&[("user_name", self.user_name), ("password", self.password)]);
        rb.finish_in_place()
    }

    fn response_into(
        &mut self,
        now: Instant,
        response: Response<'_>,
        out: &mut Option<TokenSet>,
    ) -> Result<(), Error> {
        self.config.read_tokens_into(now, response, out, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pos_api::tests::BASE;
    use crate::{Flow, Step};

    /// The fake secret of the end-to-end suite: every character the two encodings treat differently.
    const ODD_SECRET: &str = "fake pos+/=:@%~secret";

    fn authorization(c: &PosConfig) -> std::string::String {
        let mut buf = [0u8; 1024];
        let mut flow = login(c, "admin@pos.example", "pw").unwrap();
        match flow.poll(crate::Instant::from_millis(0), &mut buf).unwrap() {
            Step::Send(r) => {
                std::string::String::from_utf8(r.header("authorization").unwrap().to_vec()).unwrap()
            }
            Step::Done => panic!("login sends a request first"),
        }
    }

    fn basic(bytes: &str) -> std::string::String {
        use base64::Engine;
        let mut out = [0u8; 256];
        let n = base64::engine::general_purpose::STANDARD
            .encode_slice(bytes, &mut out)
            .unwrap();
        std::format!("Basic {}", core::str::from_utf8(&out[..n]).unwrap())
    }

    #[test]
    fn basic_auth_is_raw_bytes_by_default() {
        // seed 004: "The client sends an HTTP request that includes a basic authorization header" —
        // no encoding named, so plain RFC 7617 Basic over the raw bytes.
        let c = PosConfig::new(BASE, "pos-admin-client", ODD_SECRET).unwrap();
        assert_eq!(c.basic_auth(), BasicAuth::Raw);
        assert_eq!(
            authorization(&c),
            basic("pos-admin-client:fake pos+/=:@%~secret")
        );
        // The RFC 6749 §2.3.1 form encoding is the named quirk.
        let form = c.with_basic_auth(BasicAuth::FormEncoded);
        assert_eq!(
            authorization(&form),
            basic("pos-admin-client:fake+pos%2B%2F%3D%3A%40%25%7Esecret")
        );
    }

    #[test]
    fn a_colon_in_the_client_id_is_refused_in_raw_mode_only() {
        let c = PosConfig::new(BASE, "pos:client", ODD_SECRET).unwrap();
        assert_eq!(
            login(&c, "admin", "pw").unwrap_err(),
            Error::InvalidInput { what: "client_id" }
        );
        let form = c.with_basic_auth(BasicAuth::FormEncoded);
        assert_eq!(
            authorization(&form),
            basic("pos%3Aclient:fake+pos%2B%2F%3D%3A%40%25%7Esecret")
        );
        // A `:` in the secret is fine raw: the first `:` ends the id.
        let c = PosConfig::new(BASE, "pos-client", "a:b").unwrap();
        assert_eq!(authorization(&c), basic("pos-client:a:b"));
        assert!(!std::format!("{c:?}").contains("a:b"));
    }
}
