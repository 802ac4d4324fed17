//! `ssoflow stream …`: white-label SSO with a one-time login token.

use serde::Serialize;
use ssoflow_core::stream::{self, Role, SessionRequest, StreamSession};

use crate::ctx::{Ctx, required_env};
use crate::output::{Failure, or_dash, print_fields, print_json, redact, redact_query_value};

/// `ssoflow stream` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Get an API token (client credentials), generate a white-label session for the user, and
    /// print the redirect URL carrying the one-time login token (it works once). Human output
    /// shortens the token (`code=abcd…`); --json prints the whole URL.
    /// Env: SSOFLOW_CLIENT_SECRET (required).
    ///
    /// --json prints {"redirect_url"}, with --redeem {"redirect_url","session":{"session",
    /// "email","full_name","role","organization_id","provider_org_id"}}.
    Session(SessionArgs),
}

/// `ssoflow stream session` options.
#[derive(Debug, clap::Args)]
pub struct SessionArgs {
    /// The Stream API base URL (token endpoint at {base}/oauth/token).
    #[arg(long, value_name = "URL")]
    base_url: String,
    /// The white-label application's origin the user is sent to (default: the base URL).
    #[arg(long, value_name = "URL")]
    white_label_domain: Option<String>,
    /// The API client id.
    #[arg(long, value_name = "ID")]
    client_id: String,
    /// Your organization id: users sharing it share one Stream organization.
    #[arg(long, value_name = "ORG")]
    provider_org_id: String,
    /// The user's role.
    #[arg(long, value_enum, value_name = "ROLE")]
    role: RoleArg,
    /// The user's email.
    #[arg(long, value_name = "E")]
    email: String,
    /// The user's full name.
    #[arg(long, value_name = "NAME")]
    full_name: String,
    /// The user's phone number.
    #[arg(long, value_name = "P")]
    phone_number: String,
    /// Also redeem the redirect URL (as a browser would, asking for JSON) and print the session.
    /// The login token is then spent; human output shortens it.
    #[arg(long)]
    redeem: bool,
}

/// `--role` values, as on the wire.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum RoleArg {
    /// Full administrative access.
    #[value(name = "owner")]
    Owner,
    /// Administrative access with some restrictions.
    #[value(name = "admin")]
    Admin,
    /// Access to specific locations or functions.
    #[value(name = "manager")]
    Manager,
    /// Basic operational access.
    #[value(name = "team_member")]
    TeamMember,
    /// A custom role.
    #[value(name = "custom")]
    Custom,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Role {
        match r {
            RoleArg::Owner => Role::Owner,
            RoleArg::Admin => Role::Admin,
            RoleArg::Manager => Role::Manager,
            RoleArg::TeamMember => Role::TeamMember,
            RoleArg::Custom => Role::Custom,
        }
    }
}

/// Run one `ssoflow stream` command.
pub fn run(cmd: Command, ctx: &Ctx) -> Result<(), Failure> {
    match cmd {
        Command::Session(args) => session(&args, ctx),
    }
}

fn session(args: &SessionArgs, ctx: &Ctx) -> Result<(), Failure> {
    let secret = required_env("SSOFLOW_CLIENT_SECRET")?;
    let domain = args.white_label_domain.as_deref().unwrap_or(&args.base_url);
    let config = stream::StreamConfig::new(&args.base_url, domain, &args.client_id, &secret)?;
    let api = ctx.driver.run(stream::api_token(&config)?)?;
    let request = SessionRequest {
        provider_org_id: &args.provider_org_id,
        role: args.role.into(),
        email: &args.email,
        full_name: &args.full_name,
        phone_number: &args.phone_number,
    };
    let login = ctx.driver.run(stream::generate_session(
        &config,
        api.access.value.expose(),
        &request,
    )?)?;
    let mut buf = vec![0u8; login.redirect_url_len(&config)];
    let url = login.into_redirect_url(&config, &mut buf)?.to_owned();
    let session = if args.redeem {
        Some(ctx.driver.run(stream::redeem(&url)?)?)
    } else {
        None
    };
    if ctx.json {
        print_json(&SessionJson {
            redirect_url: &url,
            session: session.as_ref().map(StreamSessionJson::of),
        });
    } else {
        // The login token (`code=`) is a credential: shortened like every other; --json prints
        // the URL in full.
        let shown = redact_query_value(&url, "code");
        match &session {
            None => print_fields(&[("redirect_url", shown)]),
            Some(s) => print_fields(&[
                ("redirect_url", shown),
                ("session", redact(s.session.expose())),
                ("email", s.email.to_string()),
                ("full_name", s.full_name.to_string()),
                ("role", or_dash(s.role)),
                ("organization_id", s.organization_id.to_string()),
                ("provider_org_id", s.provider_org_id.to_string()),
            ]),
        }
    }
    Ok(())
}

#[derive(Serialize)]
struct SessionJson<'a> {
    redirect_url: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    session: Option<StreamSessionJson<'a>>,
}

#[derive(Serialize)]
struct StreamSessionJson<'a> {
    session: &'a str,
    email: &'a str,
    full_name: &'a str,
    role: Option<&'static str>,
    organization_id: &'a str,
    provider_org_id: &'a str,
}

impl<'a> StreamSessionJson<'a> {
    fn of(s: &'a StreamSession) -> Self {
        StreamSessionJson {
            session: s.session.expose(),
            email: &s.email,
            full_name: &s.full_name,
            role: s.role.map(Role::as_str),
            organization_id: &s.organization_id,
            provider_org_id: &s.provider_org_id,
        }
    }
}
