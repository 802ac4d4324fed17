//! POS API create-account: `POST /users` → 201 [`Account`] (seed 004, PROTOCOLS.md §4).

use super::{Account, PosConfig, check_credentials, read_account};
use crate::{Error, Exchange, Instant, Method, OneShot, Request, RequestBuilder, Response};

/// `POST /users` (one exchange).
pub struct CreateAccount<'c> {
    config: &'c PosConfig,
    user_name: &'c str,
    password: &'c str,
}

crate::secret::debug_redacted!(CreateAccount { config, user_name; password });

/// The create-account flow.
pub type CreateAccountFlow<'c> = OneShot<CreateAccount<'c>>;

/// Create an admin account. A taken user name is answered 409 (an error with `status() == Some(409)`).
pub fn create_account<'c>(
    config: &'c PosConfig,
    user_name: &'c str,
    password: &'c str,
) -> Result<CreateAccountFlow<'c>, Error> {
    check_credentials(user_name, password)?;
    Ok(OneShot::new(CreateAccount {
        config,
        user_name,
        password,
    }))
}

impl Exchange for CreateAccount<'_> {
    type Output = Account;

    fn request<'b>(&mut self, _now: Instant, buf: &'b mut [u8]) -> Result<Request<'b>, Error> {
        let mut rb = RequestBuilder::new(buf, Method::Post, self.config.base_url(), "/users");
        rb.json_body(&[
            ("user_name", self.user_name),
            ("password", self.password),
            ("grant_type", "password"),
        ]);
        rb.finish_in_place()
    }

    fn response_into(
        &mut self,
        _now: Instant,
        response: Response<'_>,
        out: &mut Option<Account>,
    ) -> Result<(), Error> {
        *out = Some(read_account(self.config, response)?);
        Ok(())
    }
}
