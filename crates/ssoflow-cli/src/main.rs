//! `ssoflow`: run every ssoflow sign-in flow from a shell, and the local sandbox.
//!
//! `main.rs` holds the command line (clap), the dispatch and the exit codes; each command lives in
//! its own module. Adding a command is one `Command` variant and one arm in `dispatch`.

// The core's errors carry a redacted body excerpt inline; they only travel on the error path.
#![allow(clippy::result_large_err, clippy::large_enum_variant)]

mod ctx;
mod demo;
mod oauth2_cmd;
mod output;
mod par_cmd;
mod pos_cmd;
mod punchh_cmd;
mod sandbox_cmd;
mod stream_cmd;

use std::process::ExitCode;

use clap::{FromArgMatches, Parser, Subcommand};

use crate::ctx::Ctx;
use crate::output::Failure;

/// Shown after every command's help: the contract scripts rely on.
const AFTER_HELP: &str = "\
Secrets are read from the environment, never from flags (PAR's --application-key is the one
exception, kept for scripts: a flag is visible to every user of the machine in `ps`):
  SSOFLOW_CLIENT_SECRET   client secret (OAuth 2.0, PAR Ordering, Stream, POS API, Punchh's OAuth app)
  SSOFLOW_APPLICATION_KEY PAR Ordering application key (else --application-key)
  SSOFLOW_SIGNING_SECRET  Punchh x-pch-digest key, when it differs from SSOFLOW_CLIENT_SECRET
  SSOFLOW_PASSWORD        resource owner's / admin's password
  SSOFLOW_REFRESH_TOKEN   refresh token (refresh grant; oauth2 revoke)
  SSOFLOW_SUBJECT_TOKEN   subject token (token exchange, PAR Ordering sign-in)
  SSOFLOW_SECURITY_TOKEN  Punchh SSO security token
  SSOFLOW_CODE            Punchh authorization code
  SSOFLOW_ACCESS_TOKEN    access token (Punchh user information; oauth2 revoke)

Output: human-readable by default, with secrets shortened to their first 4 characters and '…'.
With --json, one JSON object on stdout (machine output: tokens are printed in full).
Errors: one line on stderr, 'error: <kind>: <detail>'; with --json also
{\"error\":\"<kind>\",\"detail\":\"…\"} on stdout.

Exit codes:
  0  success
  1  internal error (a bug) or the sandbox could not start
  2  usage: bad flags, a missing environment variable, an unusable input
  3  the provider refused (HTTP error, OAuth error, unauthorized, digest, state mismatch, token redeemed,
     a device sign-in denied or expired)
  4  transport failure: connection, TLS (the certificate problem is named), DNS, timeout,
     plain http:// to a remote host

HTTPS trusts Mozilla's roots plus --ca-cert FILE (else SSL_CERT_FILE). HTTPS_PROXY (or ALL_PROXY)
tunnels https:// requests by CONNECT, except to loopback and NO_PROXY hosts; http:// never uses a proxy.
  5  malformed or oversized response";

/// Shown after the help of every subcommand.
const SUB_AFTER_HELP: &str = "\
Secrets come from the environment only (see `ssoflow --help`). Human output shortens them;
--json prints one object on stdout. Errors: 'error: <kind>: <detail>' on stderr.
Exit codes: 0 success, 2 usage, 3 provider refused, 4 transport failure, 5 malformed or oversized
response.";

/// The command line, with [`SUB_AFTER_HELP`] under every subcommand's help.
fn command_line() -> clap::Command {
    fn with_footer(cmd: clap::Command) -> clap::Command {
        let cmd = cmd.mut_subcommands(with_footer);
        if cmd.get_after_help().is_some() {
            cmd
        } else {
            cmd.after_help(SUB_AFTER_HELP)
        }
    }
    use clap::CommandFactory;
    Cli::command().mut_subcommands(with_footer)
}

/// Sign in to PAR Ordering, Punchh, Stream, a POS API or any OAuth 2.0 server from a shell,
/// or run the local sandbox that emulates them.
#[derive(Debug, Parser)]
#[command(name = "ssoflow", version, after_help = AFTER_HELP)]
struct Cli {
    /// Print one JSON object on stdout (tokens in full) instead of human-readable text.
    #[arg(long, global = true)]
    json: bool,

    /// Show each HTTP exchange on stderr: method, URL, status, milliseconds and header names
    /// (credential values and bodies are never shown).
    #[arg(long, short, global = true)]
    verbose: bool,

    /// Also trust the CA certificates in FILE (PEM) for HTTPS, besides Mozilla's roots (for a
    /// company CA, or the sandbox's "ca_cert"). Without it, SSL_CERT_FILE is used when set.
    /// Certificate verification is never switched off.
    #[arg(long, global = true, value_name = "FILE")]
    ca_cert: Option<std::path::PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The main job: start the sandbox in-process and run every flow of every provider end to
    /// end through the blocking driver; one line per step, a summary, exit 0 only if every step
    /// behaved as expected.
    Demo(demo::Args),
    /// Run the local sandbox emulating every provider; print its ready line (JSON) and serve
    /// until SIGINT or SIGTERM.
    Sandbox(sandbox_cmd::Args),
    /// Generic OAuth 2.0: client credentials, password, refresh, token exchange, browser login,
    /// device sign-in (RFC 8628), revocation (RFC 7009).
    #[command(subcommand)]
    Oauth2(oauth2_cmd::Command),
    /// PAR Ordering: customer sign-in by token exchange.
    #[command(subcommand)]
    Par(par_cmd::Command),
    /// Punchh: SSO access token, authorization-code SSO, user information.
    #[command(subcommand)]
    Punchh(punchh_cmd::Command),
    /// Stream: white-label SSO session with a one-time login token.
    #[command(subcommand)]
    Stream(stream_cmd::Command),
    /// POS API: admin accounts with the password grant.
    #[command(subcommand)]
    Pos(pos_cmd::Command),
}

fn dispatch(command: Command, ctx: &Ctx) -> Result<(), Failure> {
    match command {
        Command::Demo(args) => demo::run(args),
        Command::Sandbox(args) => sandbox_cmd::run(args, ctx),
        Command::Oauth2(cmd) => oauth2_cmd::run(cmd, ctx),
        Command::Par(cmd) => par_cmd::run(cmd, ctx),
        Command::Punchh(cmd) => punchh_cmd::run(cmd, ctx),
        Command::Stream(cmd) => stream_cmd::run(cmd, ctx),
        Command::Pos(cmd) => pos_cmd::run(cmd, ctx),
    }
}

fn main() -> ExitCode {
    // Usage errors exit 2 (clap's default); --help and --version exit 0.
    let cli = Cli::from_arg_matches(&command_line().get_matches()).unwrap_or_else(|e| e.exit());
    if cli.verbose {
        output::install_verbose_logging();
    }
    // The demo and the sandbox make their own certificates: only network commands read a CA.
    let network = !matches!(cli.command, Command::Demo(_) | Command::Sandbox(_));
    let ca_cert = network
        .then(|| ctx::CaCert::choose(cli.ca_cert.as_deref()))
        .flatten();
    let ctx = match Ctx::new(cli.json, cli.verbose, ca_cert.as_ref()) {
        Ok(ctx) => ctx,
        Err(failure) => {
            output::print_failure(&failure, cli.json);
            return ExitCode::from(failure.code);
        }
    };
    match dispatch(cli.command, &ctx) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            output::print_failure(&failure, ctx.json);
            ExitCode::from(failure.code)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        command_line().debug_assert();
    }
}
