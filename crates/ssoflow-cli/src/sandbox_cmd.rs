//! `ssoflow sandbox`: the local emulator of every provider, until SIGINT or SIGTERM.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::ctx::Ctx;
use crate::output::Failure;

/// `ssoflow sandbox` options.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Prints one line of JSON on stdout once it is listening, with every base URL and demo credential
(\"listening\" is the address really bound, with the port chosen for port 0):
  {\"listening\":\"http://127.0.0.1:PORT\",\"par_ordering\":{…},\"punchh\":{…},\"stream\":{…},\"pos_api\":{…},\"oauth2\":{…}}
then serves until SIGINT or SIGTERM and exits 0.
With --tls the URLs are https:// and the line also has \"ca_cert\": the path of the CA to trust
(e.g. `ssoflow --ca-cert PATH oauth2 …`); the file is removed when the sandbox stops.")]
pub struct Args {
    /// Address to listen on (port 0: any free port). Only loopback addresses unless
    /// --allow-remote is given.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    listen: SocketAddr,

    /// Allow a non-loopback --listen address (e.g. 0.0.0.0:8080). Anyone who can reach it gets
    /// the sandbox's credentials (and, with --test-hooks, its clock and faults).
    #[arg(long)]
    allow_remote: bool,

    /// TOML configuration (credentials, token lifetimes); every field optional.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Enable the /__sandbox/ test hooks (clock, faults, call counts), and auto-approval of
    /// /oauth2/authorize and /punchh/oauth/authorize (no sign-in page) unless --login-form.
    #[arg(long)]
    test_hooks: bool,

    /// With --test-hooks, still serve the HTML sign-in forms on the authorize endpoints (without
    /// --test-hooks they are always served; the user and password are in the ready line).
    #[arg(long)]
    login_form: bool,

    /// Serve HTTPS with a certificate made at start for localhost, 127.0.0.1 and ::1, signed by
    /// a CA also made at start (its PEM path is in the ready line as "ca_cert").
    #[arg(long)]
    tls: bool,

    /// Serve HTTPS with this certificate chain (PEM, leaf first) instead of a generated one
    /// (needs --key).
    #[arg(long, value_name = "FILE", requires = "key")]
    cert: Option<PathBuf>,

    /// The private key (PEM) of --cert.
    #[arg(long, value_name = "FILE", requires = "cert")]
    key: Option<PathBuf>,
}

/// Start, print the ready line, wait for a signal, stop.
pub fn run(args: Args, _ctx: &Ctx) -> Result<(), Failure> {
    if !args.listen.ip().is_loopback() && !args.allow_remote {
        return Err(Failure::usage(format!(
            "--listen {}: not a loopback address; pass --allow-remote to serve other machines \
             (they get the sandbox's credentials)",
            args.listen
        )));
    }
    let mut builder = ssoflow_sandbox::Sandbox::builder()
        .listen(args.listen)
        .allow_remote(args.allow_remote)
        .test_hooks(args.test_hooks)
        .login_form(args.login_form)
        .tls(args.tls);
    if let (Some(cert), Some(key)) = (&args.cert, &args.key) {
        builder = builder.tls_files(cert, key);
    }
    if let Some(path) = &args.config {
        builder = builder.config_file(path).map_err(|e| Failure {
            kind: "config".into(),
            detail: e.to_string(),
            code: 2,
        })?;
    }
    // Registered before the ready line: a signal sent right after it is never missed.
    let mut signals = Signals::new([SIGINT, SIGTERM]).map_err(|e| Failure {
        kind: "signal".into(),
        detail: format!("cannot watch SIGINT/SIGTERM: {e}"),
        code: 1,
    })?;
    let handle = builder.start_blocking().map_err(|e| Failure {
        kind: "listen".into(),
        detail: format!("cannot start the sandbox on {}: {e}", args.listen),
        code: 1,
    })?;
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", handle.ready_line());
        let _ = out.flush();
    }
    let signal = signals.forever().next();
    eprintln!(
        "ssoflow sandbox: {}, stopping",
        match signal {
            Some(SIGINT) => "SIGINT",
            Some(SIGTERM) => "SIGTERM",
            _ => "signal",
        }
    );
    handle.shutdown();
    Ok(())
}
