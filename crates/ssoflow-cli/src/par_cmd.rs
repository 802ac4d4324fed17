//! `ssoflow par …`: PAR Ordering customer sign-in by token exchange.

use serde::Serialize;
use ssoflow_core::par_ordering::{self, CustomerAccount, RequestIds};
use ssoflow_core::{AccessToken, Expiry, Instant};

use crate::ctx::{Ctx, entropy, env_secret, required_env};
use crate::output::{Failure, print_fields, print_json, redact};

/// `ssoflow par` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Sign a customer in (registering them if new): an M2M token, then the token exchange.
    /// Env: SSOFLOW_CLIENT_SECRET and SSOFLOW_SUBJECT_TOKEN (both required),
    /// SSOFLOW_APPLICATION_KEY (unless --application-key is given).
    ///
    /// --json prints {"customer_account":{…},"token":{"value","token_type","ttl","expires_in"},
    /// "dlc_access_token":{…the same…}|null}: `ttl` as PAR sent it (minutes), `expires_in` in
    /// seconds; both null when PAR sent no ttl (the lifetime is unknown).
    SignIn(SignInArgs),
}

/// `ssoflow par sign-in` options.
#[derive(Debug, clap::Args)]
pub struct SignInArgs {
    /// The API base URL (e.g. https://api-public-playground.menu.app).
    #[arg(long, value_name = "URL")]
    base_url: String,
    /// The application key (`Application` header). Prefer SSOFLOW_APPLICATION_KEY: a flag's
    /// value is visible to every user of the machine (`ps`, /proc). The flag wins when both are
    /// given; one of them is required.
    #[arg(long, value_name = "K")]
    application_key: Option<String>,
    /// The M2M client id.
    #[arg(long, value_name = "ID")]
    client_id: String,
    /// The `Api-Version` header.
    #[arg(long, value_name = "V", default_value = par_ordering::DEFAULT_API_VERSION)]
    api_version: String,
    /// The M2M scope.
    #[arg(long, value_name = "S", default_value = par_ordering::DEFAULT_SCOPE)]
    scope: String,
    /// Send this `X-Role-ID` on the M2M call.
    #[arg(long, value_name = "ID")]
    role_id: Option<String>,
}

/// Run one `ssoflow par` command.
pub fn run(cmd: Command, ctx: &Ctx) -> Result<(), Failure> {
    match cmd {
        Command::SignIn(args) => sign_in(&args, ctx),
    }
}

fn sign_in(args: &SignInArgs, ctx: &Ctx) -> Result<(), Failure> {
    let secret = required_env("SSOFLOW_CLIENT_SECRET")?;
    let subject = required_env("SSOFLOW_SUBJECT_TOKEN")?;
    let application_key = application_key(args.application_key.as_deref())?;
    let mut config =
        par_ordering::ParConfig::new(&args.base_url, &application_key, &args.client_id, &secret)?
            .with_api_version(&args.api_version)?
            .with_scope(&args.scope)?;
    if let Some(role) = &args.role_id {
        config = config.with_role_id(role)?;
    }
    let ids = RequestIds::new(entropy::<16>()?);
    let out = ctx
        .driver
        .run(par_ordering::sign_in(&config, None, &subject, ids)?)?;
    let now = ctx.driver.now();
    if ctx.json {
        print_json(&SignInJson {
            customer_account: AccountJson::of(&out.customer),
            token: TokenJson::of(&out.menu_token, out.menu_token_ttl_min, now),
            dlc_access_token: out
                .dlc_token
                .as_ref()
                .map(|t| TokenJson::of(t, out.dlc_token_ttl_min, now)),
        });
    } else {
        let c = &out.customer;
        let mut fields = vec![
            ("customer_id", c.id.to_string()),
            ("name", format!("{} {}", c.first_name, c.last_name)),
            ("email", c.email.to_string()),
            ("phone_number", c.phone_number.to_string()),
            ("menu_token", redact(out.menu_token.value.expose())),
            ("menu_token_ttl", minutes(out.menu_token_ttl_min)),
        ];
        if let Some(dlc) = &out.dlc_token {
            fields.push(("dlc_access_token", redact(dlc.value.expose())));
            fields.push(("dlc_access_token_ttl", minutes(out.dlc_token_ttl_min)));
        } else {
            fields.push(("dlc_access_token", "-".to_owned()));
        }
        print_fields(&fields);
    }
    Ok(())
}

/// The application key: `--application-key` when given, else `SSOFLOW_APPLICATION_KEY`;
/// neither is a usage error (exit 2).
fn application_key(flag: Option<&str>) -> Result<String, Failure> {
    match flag {
        Some(key) => Ok(key.to_owned()),
        None => env_secret("SSOFLOW_APPLICATION_KEY").ok_or_else(|| {
            Failure::usage("the application key is missing: set SSOFLOW_APPLICATION_KEY (or pass --application-key)")
        }),
    }
}

/// A `ttl` for people: always with its unit.
fn minutes(ttl: Option<u64>) -> String {
    match ttl {
        Some(m) => format!("{m} min"),
        None => "unknown (not sent; a 401 will tell)".to_owned(),
    }
}

/// Seconds left before `token` expires (rounded up), if it has a known expiry.
fn expires_in(token: &AccessToken, now: Instant) -> Option<u64> {
    match token.expiry {
        Expiry::At(at) => Some(at.millis_since(now).div_ceil(1000)),
        Expiry::Unknown => None,
    }
}

#[derive(Serialize)]
struct SignInJson<'a> {
    customer_account: AccountJson<'a>,
    token: TokenJson<'a>,
    dlc_access_token: Option<TokenJson<'a>>,
}

#[derive(Serialize)]
struct TokenJson<'a> {
    value: &'a str,
    token_type: &'static str,
    /// As received: minutes.
    ttl: Option<u64>,
    /// Seconds left.
    expires_in: Option<u64>,
}

impl<'a> TokenJson<'a> {
    fn of(t: &'a AccessToken, ttl: Option<u64>, now: Instant) -> Self {
        TokenJson {
            value: t.value.expose(),
            token_type: "Bearer",
            ttl,
            expires_in: expires_in(t, now),
        }
    }
}

/// Every member of the customer account the core keeps, named as on the wire.
#[derive(Serialize)]
struct AccountJson<'a> {
    id: &'a str,
    type_id: i64,
    reference_type: &'a str,
    first_name: &'a str,
    last_name: &'a str,
    email: &'a str,
    phone_number: &'a str,
    locale: &'a str,
    state: i64,
    optin_status_email: i64,
    optin_status_pn: i64,
    has_pending_email_change: bool,
    has_pending_phone_number_change: bool,
    is_social: bool,
    updated_at: &'a str,
    created_at: &'a str,
    confirmed: bool,
}

impl<'a> AccountJson<'a> {
    fn of(c: &'a CustomerAccount) -> Self {
        AccountJson {
            id: &c.id,
            type_id: c.type_id,
            reference_type: &c.reference_type,
            first_name: &c.first_name,
            last_name: &c.last_name,
            email: &c.email,
            phone_number: &c.phone_number,
            locale: &c.locale,
            state: c.state,
            optin_status_email: c.optin_status_email,
            optin_status_pn: c.optin_status_pn,
            has_pending_email_change: c.has_pending_email_change,
            has_pending_phone_number_change: c.has_pending_phone_number_change,
            is_social: c.is_social,
            updated_at: &c.updated_at,
            created_at: &c.created_at,
            confirmed: c.confirmed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_debug_shows_neither_the_application_key_nor_the_secret() {
        let c = par_ordering::ParConfig::new(
            "https://par.example",
            "APPLICATION-KEY-1f2e3d",
            "client-id",
            "CLIENT-SECRET-4c5b6a",
        )
        .expect("config");
        let debug = format!("{c:?}");
        assert!(!debug.contains("APPLICATION-KEY"), "{debug}");
        assert!(!debug.contains("CLIENT-SECRET"), "{debug}");
        assert!(debug.contains("client-id"), "{debug}");
    }
}
