//! POS API: admin accounts with the OAuth resource-owner password flow (PROTOCOLS.md §4, seed 004).
//!
//! - [`create_account()`]: `POST /users` `{"user_name","password","grant_type":"password"}` → 201
//!   [`Account`];
//! - [`login()`]: `POST /auth/token` with HTTP Basic client auth and `{"user_name","password"}` →
//!   201 [`TokenSet`] (the access token is a UUID). The Basic credentials are Base64 of the raw
//!   `client_id:client_secret` bytes by default; RFC 6749 §2.3.1 form encoding is a named switch
//!   ([`BasicAuth`], [`PosConfig::with_basic_auth`]). Raw Basic cannot carry a `:` in the client id
//!   (the first `:` ends it), so [`login()`] refuses such an id with
//!   [`Error::InvalidInput`]` { what: "client_id" }`; a `:` in the secret is fine;
//! - [`refresh()`]: `POST /auth/refresh-token` with `Authorization: Bearer <refresh_token>` → 201
//!   a new pair; the old refresh token stops working (rotation: never refresh one token twice);
//! - [`admin_request`] / [`read_admin`]: the protected `GET /admin/me`, for refresh-on-401;
//! - [`Admin`]: the sign-in [`Recipe`](crate::recipe::Recipe) for sessions (login, refresh,
//!   login again when a refresh is refused).
//!
//! Success is **201**, not 200: it is accepted whatever the [`Quirks`] say; other 2xx statuses
//! follow [`Quirks::any_2xx`]. Refusals are [`Error::OAuth`] when the body has an `error` member
//! (`{"error":"conflict","message":…}`), else [`Error::Provider`], with the HTTP status.

mod admin;
mod create_account;
mod login;
mod refresh;

pub use admin::Admin;
pub use create_account::{CreateAccount, CreateAccountFlow, create_account};
pub use login::{Login, LoginFlow, login};
pub use refresh::{Refresh, RefreshFlow, refresh};

use crate::json::{JsonError, Parser, is, read_answer, required, set_once};
use crate::oauth2::{Then, read_error, read_token_response_into};
use crate::token::check_token_chars;
use crate::{Error, Instant, Method, Quirks, Request, RequestBuilder, Response, Secret, TokenSet};

/// Capacity of the base URL.
pub const BASE_URL_CAP: usize = 256;
/// Capacity of the client id.
pub const CLIENT_ID_CAP: usize = 128;
/// Capacity of the client secret.
pub const CLIENT_SECRET_CAP: usize = 256;
/// Capacity of an account id (a UUID is 36 bytes).
pub const ACCOUNT_ID_CAP: usize = 64;
/// Capacity of a user name.
pub const USER_NAME_CAP: usize = 128;

/// How `POST /auth/token` encodes the client id and secret in its `Authorization: Basic` header.
///
/// Seed 004 says only: "The client sends an HTTP request that includes a basic authorization
/// header and the user's user_name and password." It names no encoding, so the default is
/// plain HTTP Basic (RFC 7617) over the raw bytes, which is what the sandbox checks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum BasicAuth {
    /// `Basic base64(client_id ":" client_secret)` of the raw UTF-8 bytes (the default). A `:`
    /// in the client id cannot be carried this way: [`login()`] refuses such an id.
    #[default]
    Raw,
    /// The quirk: id and secret are first form-encoded (`application/x-www-form-urlencoded`,
    /// RFC 6749 §2.3.1), then joined with `:` and Base64-encoded. Identical to [`BasicAuth::Raw`]
    /// for plain alphanumeric credentials; differs for a space, `+ / = : @ % ~` and non-ASCII.
    FormEncoded,
}

/// A POS API client's credentials.
#[derive(Clone, Debug)]
pub struct PosConfig {
    base_url: heapless::String<BASE_URL_CAP>,
    client_id: heapless::String<CLIENT_ID_CAP>,
    client_secret: Secret<CLIENT_SECRET_CAP>,
    quirks: Quirks,
    basic_auth: BasicAuth,
}

impl PosConfig {
    /// Settings for the POS API at `base_url` (checked: `https://`, or `http://` to loopback)
    /// with the admin client app's id and secret.
    pub fn new(base_url: &str, client_id: &str, client_secret: &str) -> Result<Self, Error> {
        let mut c = PosConfig {
            base_url: heapless::String::new(),
            client_id: heapless::String::new(),
            client_secret: Secret::empty(),
            quirks: Quirks::DEFAULT,
            basic_auth: BasicAuth::Raw,
        };
        c.init(base_url, client_id, client_secret)?;
        Ok(c)
    }

    /// [`new`](Self::new)'s checks and copies, into the value where it stays (out of line:
    /// the caller's frame holds one copy of the configuration, not one per `Result`).
    #[inline(never)]
    fn init(&mut self, base_url: &str, client_id: &str, client_secret: &str) -> Result<(), Error> {
        crate::http::check_url(base_url)?;
        if client_id.is_empty() {
            return Err(Error::InvalidInput { what: "client_id" });
        }
        crate::json::fill(&mut [
            (&mut self.base_url, base_url, "base_url"),
            (&mut self.client_id, client_id, "client_id"),
            (&mut self.client_secret, client_secret, "client_secret"),
        ])
    }

    /// Choose which server quirks to accept when reading answers (default [`Quirks::DEFAULT`]).
    pub fn with_quirks(mut self, quirks: Quirks) -> Self {
        self.quirks = quirks;
        self
    }

    /// Choose how the client credentials are encoded in the Basic header of [`login()`]
    /// (default [`BasicAuth::Raw`]; [`BasicAuth::FormEncoded`] for a server that form-decodes
    /// them as RFC 6749 §2.3.1 says). Seed 004 asks only for "a basic authorization header".
    pub fn with_basic_auth(mut self, basic_auth: BasicAuth) -> Self {
        self.basic_auth = basic_auth;
        self
    }

    /// How the Basic header of [`login()`] encodes the client credentials.
    pub fn basic_auth(&self) -> BasicAuth {
        self.basic_auth
    }

    /// The base URL.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The quirks in force.
    pub fn quirks(&self) -> Quirks {
        self.quirks
    }

    /// 201 always succeeds here; other statuses as the quirks say.
    fn is_success(&self, status: u16) -> bool {
        status == 201 || self.quirks.is_success(status)
    }

    /// Read a token answer (201, or a 2xx the quirks accept, with the RFC 6749 members) into
    /// `out` (empty).
    #[inline(never)]
    fn read_tokens(
        &self,
        now: Instant,
        response: Response<'_>,
        out: &mut TokenSet,
        keep_refresh: Option<&str>,
    ) -> Result<(), Error> {
        if !self.is_success(response.status) {
            return Err(read_error(response));
        }
        // The status is already accepted: let the shared reader take any 2xx.
        let quirks = self.quirks.with_any_2xx(true);
        let then = Then {
            keep_refresh,
            null_scope: false,
        };
        read_token_response_into(now, response, quirks, out, then)
    }

    /// Read a token answer into a fresh slot of `out`; `out` is `None` on error.
    fn read_tokens_into(
        &self,
        now: Instant,
        response: Response<'_>,
        out: &mut Option<TokenSet>,
        keep_refresh: Option<&str>,
    ) -> Result<(), Error> {
        crate::exchange::read_in_place(out, TokenSet::empty(), |set| {
            self.read_tokens(now, response, set, keep_refresh)
        })
    }
}

/// An admin account (the members of the `/users` and `/admin/me` answers this crate keeps).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// Account id (a string, or a number written in decimal).
    pub id: heapless::String<ACCOUNT_ID_CAP>,
    /// User name.
    pub user_name: heapless::String<USER_NAME_CAP>,
}

/// Raw Basic splits at the first `:`, so the client id must not contain one.
fn check_basic_id(config: &PosConfig) -> Result<(), Error> {
    if config.basic_auth == BasicAuth::Raw && config.client_id.bytes().any(|b| b == b':') {
        return Err(Error::InvalidInput { what: "client_id" });
    }
    Ok(())
}

fn check_credentials(user_name: &str, password: &str) -> Result<(), Error> {
    if user_name.is_empty() {
        return Err(Error::InvalidInput { what: "user_name" });
    }
    if password.is_empty() {
        return Err(Error::InvalidInput { what: "password" });
    }
    Ok(())
}

/// Write the protected `GET /admin/me` with `Authorization: Bearer <access_token>`.
///
/// A 401 answer means the access token expired: refresh (or log in) once, then retry once.
pub fn admin_request<'b>(
    config: &PosConfig,
    access_token: &str,
    buf: &'b mut [u8],
) -> Result<Request<'b>, Error> {
    if !check_token_chars(access_token.as_bytes()) {
        return Err(Error::InvalidInput {
            what: "access_token",
        });
    }
    let mut rb = RequestBuilder::new(buf, Method::Get, config.base_url(), "/admin/me");
    rb.bearer(access_token);
    rb.finish_in_place()
}

/// Read the `GET /admin/me` answer `{"id","user_name"}`. Any 2xx is success; a refusal is typed
/// as the module says (a 401 keeps its status: see [`Error::status`]).
pub fn read_admin(response: Response<'_>) -> Result<Account, Error> {
    parse_account(response, |s| (200..300).contains(&s))
}

fn read_account(config: &PosConfig, response: Response<'_>) -> Result<Account, Error> {
    parse_account(response, |s| config.is_success(s))
}

/// An account object in an answer `accept` takes; an `error` member in it is a refusal.
fn parse_account(
    response: Response<'_>,
    accept: impl FnOnce(u16) -> bool,
) -> Result<Account, Error> {
    let mut account = None;
    read_answer(response, accept, true, read_error, |refused| {
        account = parse_account_body(response.body)?;
        *refused = account.is_none();
        Ok(())
    })?;
    account.ok_or(Error::NO_OUTPUT)
}

/// The account, or `None` when the object has an `error` member.
fn parse_account_body(body: &[u8]) -> Result<Option<Account>, JsonError> {
    let mut id: Option<heapless::String<ACCOUNT_ID_CAP>> = None;
    let mut user_name = None;
    let mut error = false;
    let mut p = Parser::new(body);
    p.object("account", |p, key| match key {
        k if is(k, "id") && p.peek() == Some(b'"') => set_once(&mut id, p.string("id")?, "id"),
        k if is(k, "id") => {
            let n = p.u64("id")?;
            let mut s = heapless::String::new();
            core::fmt::Write::write_fmt(&mut s, format_args!("{n}"))
                .map_err(|_| JsonError::Capacity("id"))?;
            set_once(&mut id, s, "id")
        }
        k if is(k, "user_name") => set_once(&mut user_name, p.string("user_name")?, "user_name"),
        k if is(k, "error") && p.peek() == Some(b'"') => {
            error = true;
            p.skip()
        }
        _ => p.skip(),
    })?;
    p.finish()?;
    if error {
        return Ok(None);
    }
    let id = required(id, "id")?;
    if id.is_empty() {
        return Err(JsonError::Malformed("id"));
    }
    Ok(Some(Account {
        id,
        user_name: required(user_name, "user_name")?,
    }))
}

#[cfg(test)]
mod tests;
