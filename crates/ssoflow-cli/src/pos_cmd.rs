//! `ssoflow pos …`: POS API admin accounts with the password grant.

use ssoflow_core::pos_api;

use crate::ctx::{Ctx, env_secret, required_env};
use crate::output::{Failure, print_fields, print_json, print_tokens};

/// `ssoflow pos` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Create an admin account (POST /users).
    /// Env: SSOFLOW_PASSWORD (required).
    ///
    /// --json prints {"id","user_name"}.
    Register {
        #[command(flatten)]
        common: Common,
        /// The new admin's user name.
        #[arg(long, value_name = "U")]
        user_name: String,
    },
    /// Log an admin in (POST /auth/token, HTTP Basic client auth).
    /// Env: SSOFLOW_CLIENT_SECRET and SSOFLOW_PASSWORD (both required).
    ///
    /// --json prints {"access_token","token_type","expires_in","refresh_token","scope"}.
    Login {
        #[command(flatten)]
        common: Common,
        /// The admin's user name.
        #[arg(long, value_name = "U")]
        user_name: String,
    },
    /// Trade a refresh token for a new pair (POST /auth/refresh-token); the old one stops
    /// working. Env: SSOFLOW_REFRESH_TOKEN (required).
    ///
    /// --json prints {"access_token","token_type","expires_in","refresh_token","scope"}.
    Refresh(Common),
}

/// What every POS API call needs.
#[derive(Debug, clap::Args)]
pub struct Common {
    /// The POS API base URL.
    #[arg(long, value_name = "URL")]
    base_url: String,
    /// The admin client app's id.
    #[arg(long, value_name = "ID")]
    client_id: String,
}

impl Common {
    fn config(&self, secret: Option<String>) -> Result<pos_api::PosConfig, Failure> {
        let secret = secret.or_else(|| env_secret("SSOFLOW_CLIENT_SECRET"));
        Ok(pos_api::PosConfig::new(
            &self.base_url,
            &self.client_id,
            secret.as_deref().unwrap_or(""),
        )?)
    }
}

/// Run one `ssoflow pos` command.
pub fn run(cmd: Command, ctx: &Ctx) -> Result<(), Failure> {
    match cmd {
        Command::Register { common, user_name } => {
            let password = required_env("SSOFLOW_PASSWORD")?;
            let config = common.config(None)?;
            let account = ctx
                .driver
                .run(pos_api::create_account(&config, &user_name, &password)?)?;
            if ctx.json {
                #[derive(serde::Serialize)]
                struct AccountJson<'a> {
                    id: &'a str,
                    user_name: &'a str,
                }
                print_json(&AccountJson {
                    id: &account.id,
                    user_name: &account.user_name,
                });
            } else {
                print_fields(&[
                    ("id", account.id.to_string()),
                    ("user_name", account.user_name.to_string()),
                ]);
            }
        }
        Command::Login { common, user_name } => {
            let secret = required_env("SSOFLOW_CLIENT_SECRET")?;
            let password = required_env("SSOFLOW_PASSWORD")?;
            let config = common.config(Some(secret))?;
            let tokens = ctx
                .driver
                .run(pos_api::login(&config, &user_name, &password)?)?;
            print_tokens(ctx.json, &tokens);
        }
        Command::Refresh(common) => {
            let refresh = required_env("SSOFLOW_REFRESH_TOKEN")?;
            let config = common.config(None)?;
            let tokens = ctx.driver.run(pos_api::refresh(&config, &refresh)?)?;
            print_tokens(ctx.json, &tokens);
        }
    }
    Ok(())
}
