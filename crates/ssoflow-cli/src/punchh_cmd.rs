//! `ssoflow punchh …`: SSO access token, authorization-code SSO, user information.

use serde::Serialize;
use ssoflow_core::punchh::{self, User};

use crate::ctx::{Ctx, entropy, env_secret, required_env};

/// The OAuth client secret (the `client_secret` of `/oauth/token`).
const CLIENT_SECRET: &str = "SSOFLOW_CLIENT_SECRET";
/// The `x-pch-digest` key, when it differs from the client secret.
const SIGNING_SECRET: &str = "SSOFLOW_SIGNING_SECRET";
use crate::output::{Failure, or_dash, print_fields, print_json, print_tokens, redact};

/// `ssoflow punchh` subcommands. Every call is signed (x-pch-digest) with SSOFLOW_SIGNING_SECRET
/// when set, else with SSOFLOW_CLIENT_SECRET (the OAuth client secret).
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Trade an SSO security token for an access token and the user (POST /api/auth/sso).
    /// Env: SSOFLOW_SECURITY_TOKEN (required), and SSOFLOW_SIGNING_SECRET or
    /// SSOFLOW_CLIENT_SECRET (one required).
    ///
    /// --json prints {"access_token","user":{"id","email","first_name","last_name","phone",
    /// "authentication_token"}}.
    Sso(Common),
    /// Print the Punchh-hosted login URL to send a browser to, with a fresh `state` to check
    /// when it comes back (no request is made; no secret needed).
    ///
    /// --json prints {"url","state"}.
    AuthorizeUrl {
        #[command(flatten)]
        common: Common,
        /// The registered redirect URI.
        #[arg(long, value_name = "URI")]
        redirect_uri: String,
        /// Use this `state` instead of a random one.
        #[arg(long, value_name = "S")]
        state: Option<String>,
    },
    /// Trade an authorization code for tokens (POST /oauth/token).
    /// Env: SSOFLOW_CLIENT_SECRET and SSOFLOW_CODE (both required), SSOFLOW_SIGNING_SECRET.
    ///
    /// --json prints {"access_token","token_type","expires_in","refresh_token","scope"}.
    Code {
        #[command(flatten)]
        common: Common,
        /// The redirect URI the code was sent to.
        #[arg(long, value_name = "URI")]
        redirect_uri: String,
    },
    /// The user an access token belongs to (GET /api/auth/users, with a signed JSON body).
    /// Env: SSOFLOW_ACCESS_TOKEN (required), and SSOFLOW_SIGNING_SECRET or
    /// SSOFLOW_CLIENT_SECRET (one required).
    ///
    /// --json prints {"id","email","first_name","last_name","phone","authentication_token"}.
    User(Common),
}

/// What every Punchh call needs.
#[derive(Debug, clap::Args)]
pub struct Common {
    /// The Punchh server (e.g. https://sandbox.punchh.com).
    #[arg(long, value_name = "URL")]
    base_url: String,
    /// The business client key.
    #[arg(long, value_name = "C")]
    client: String,
    /// The OAuth client id, when it differs from the client key.
    #[arg(long, value_name = "ID")]
    client_id: Option<String>,
    /// The User-Agent to send.
    #[arg(long, value_name = "UA")]
    user_agent: Option<String>,
}

impl Common {
    /// The settings with the OAuth client `secret`; SSOFLOW_SIGNING_SECRET, when set, is the
    /// digest key instead of `secret`.
    fn config(&self, secret: &str) -> Result<punchh::PunchhConfig, Failure> {
        let mut config = punchh::PunchhConfig::new(&self.base_url, &self.client, secret)?;
        if let Some(signing) = env_secret(SIGNING_SECRET) {
            config = config.with_signing_secret(&signing)?;
        }
        if let Some(id) = &self.client_id {
            config = config.with_client_id(id)?;
        }
        if let Some(ua) = &self.user_agent {
            config = config.with_user_agent(ua)?;
        }
        Ok(config)
    }
}

/// Run one `ssoflow punchh` command.
pub fn run(cmd: Command, ctx: &Ctx) -> Result<(), Failure> {
    match cmd {
        Command::Sso(common) => {
            let config = common.config(&signing_only_secret()?)?;
            let security_token = required_env("SSOFLOW_SECURITY_TOKEN")?;
            let login = ctx.driver.run(punchh::sso(&config, &security_token)?)?;
            if ctx.json {
                print_json(&SsoJson {
                    access_token: login.access_token.value.expose(),
                    user: UserJson::of(&login.user),
                });
            } else {
                let mut fields = vec![("access_token", redact(login.access_token.value.expose()))];
                fields.extend(user_fields(&login.user));
                print_fields(&fields);
            }
        }
        Command::AuthorizeUrl {
            common,
            redirect_uri,
            state,
        } => {
            // The URL is not signed: any secret will do when none is set.
            let secret = env_secret(CLIENT_SECRET).unwrap_or_else(|| "-".into());
            let config = common.config(&secret)?;
            let state = match state {
                Some(s) => s,
                None => punchh::state_from_entropy(&entropy::<16>()?).to_string(),
            };
            let mut buf = vec![0u8; 4096];
            let url = punchh::authorize_url(&config, &redirect_uri, &state, &mut buf)?;
            if ctx.json {
                print_json(&AuthorizeJson { url, state: &state });
            } else {
                print_fields(&[("url", url.to_owned()), ("state", state.clone())]);
            }
        }
        Command::Code {
            common,
            redirect_uri,
        } => {
            let config = common.config(&required_env(CLIENT_SECRET)?)?;
            let code = required_env("SSOFLOW_CODE")?;
            let tokens = ctx
                .driver
                .run(punchh::code_for_token(&config, &code, &redirect_uri)?)?;
            print_tokens(ctx.json, &tokens);
        }
        Command::User(common) => {
            let config = common.config(&signing_only_secret()?)?;
            let token = required_env("SSOFLOW_ACCESS_TOKEN")?;
            let user = ctx.driver.run(punchh::user_info(&config, &token)?)?;
            if ctx.json {
                print_json(&UserJson::of(&user));
            } else {
                print_fields(&user_fields(&user));
            }
        }
    }
    Ok(())
}

/// For calls that carry no client secret (only a signature): SSOFLOW_CLIENT_SECRET, or
/// SSOFLOW_SIGNING_SECRET alone (then it stands in for both).
fn signing_only_secret() -> Result<String, Failure> {
    env_secret(CLIENT_SECRET)
        .or_else(|| env_secret(SIGNING_SECRET))
        .ok_or_else(|| Failure::usage(format!("{CLIENT_SECRET} (or {SIGNING_SECRET}) is not set")))
}

fn user_fields(u: &User) -> Vec<(&'static str, String)> {
    vec![
        ("user_id", u.id.to_string()),
        ("email", u.email.to_string()),
        ("name", format!("{} {}", u.first_name, u.last_name)),
        ("phone", or_dash(u.phone.as_deref())),
        (
            "authentication_token",
            or_dash(u.authentication_token.as_ref().map(|t| redact(t.expose()))),
        ),
    ]
}

#[derive(Serialize)]
struct AuthorizeJson<'a> {
    url: &'a str,
    state: &'a str,
}

#[derive(Serialize)]
struct SsoJson<'a> {
    access_token: &'a str,
    user: UserJson<'a>,
}

#[derive(Serialize)]
struct UserJson<'a> {
    id: u64,
    email: &'a str,
    first_name: &'a str,
    last_name: &'a str,
    phone: Option<&'a str>,
    authentication_token: Option<&'a str>,
}

impl<'a> UserJson<'a> {
    fn of(u: &'a User) -> Self {
        UserJson {
            id: u.id,
            email: &u.email,
            first_name: &u.first_name,
            last_name: &u.last_name,
            phone: u.phone.as_deref(),
            authentication_token: u.authentication_token.as_ref().map(|t| t.expose()),
        }
    }
}
