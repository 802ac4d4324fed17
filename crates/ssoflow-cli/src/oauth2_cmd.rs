//! `ssoflow oauth2 …`: the generic OAuth 2.0 grants, and a browser login with PKCE.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::Duration;

use ssoflow_core::oauth2::{self, ClientAuth};

use crate::ctx::{Ctx, entropy, env_secret, required_env};
use crate::output::{Failure, print_tokens};

/// `ssoflow oauth2` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Client credentials grant (RFC 6749 §4.4): the client signs itself in.
    /// Env: SSOFLOW_CLIENT_SECRET.
    ClientCredentials(Common),
    /// Resource owner password grant (RFC 6749 §4.3).
    /// Env: SSOFLOW_PASSWORD (required), SSOFLOW_CLIENT_SECRET.
    Password {
        #[command(flatten)]
        common: Common,
        /// The resource owner's user name.
        #[arg(long, value_name = "U")]
        username: String,
    },
    /// Refresh token grant (RFC 6749 §6).
    /// Env: SSOFLOW_REFRESH_TOKEN (required), SSOFLOW_CLIENT_SECRET.
    Refresh(Common),
    /// Token exchange (RFC 8693).
    /// Env: SSOFLOW_SUBJECT_TOKEN (required), SSOFLOW_CLIENT_SECRET.
    Exchange {
        #[command(flatten)]
        common: Common,
        /// The subject token's type.
        #[arg(long, value_name = "T", default_value = oauth2::ACCESS_TOKEN_TYPE)]
        subject_token_type: String,
        /// The audience to ask a token for.
        #[arg(long, value_name = "A")]
        audience: Option<String>,
    },
    /// Authorization code + PKCE for people: prints a URL to open (stderr), waits for the
    /// browser to come back to http://127.0.0.1:PORT/callback, checks `state`, trades the code.
    /// Env: SSOFLOW_CLIENT_SECRET (confidential clients).
    Login(LoginArgs),
}

/// What every grant needs.
#[derive(Debug, clap::Args)]
pub struct Common {
    /// The token endpoint (https://, or http:// to a loopback host).
    #[arg(long, value_name = "URL")]
    token_url: String,
    /// The client id.
    #[arg(long, value_name = "ID")]
    client_id: String,
    /// The scope to ask for.
    #[arg(long, value_name = "S")]
    scope: Option<String>,
    /// How the client authenticates (with SSOFLOW_CLIENT_SECRET set): HTTP Basic
    /// (client_secret_basic, id and secret form-encoded), basic-raw (not form-encoded), or
    /// post (client_secret_post).
    #[arg(long, value_enum, value_name = "AUTH", default_value_t = AuthArg::Basic)]
    client_auth: AuthArg,
}

/// `--client-auth` values.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum AuthArg {
    /// HTTP Basic, RFC 6749 §2.3.1 form-encoding.
    Basic,
    /// HTTP Basic, id and secret as they are.
    BasicRaw,
    /// In the form body.
    Post,
}

/// `ssoflow oauth2 login` options.
#[derive(Debug, clap::Args)]
pub struct LoginArgs {
    /// The authorization endpoint.
    #[arg(long, value_name = "URL")]
    authorize_url: String,
    #[command(flatten)]
    common: Common,
    /// How long to wait for the browser to come back, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    timeout_secs: u64,
    /// Do not try to open a browser; only print the URL.
    #[arg(long)]
    no_browser: bool,
}

impl Common {
    fn client(&self) -> Result<oauth2::Client, Failure> {
        let auth = match self.client_auth {
            AuthArg::Basic => ClientAuth::Basic,
            AuthArg::BasicRaw => ClientAuth::BasicRaw,
            AuthArg::Post => ClientAuth::Post,
        };
        let mut client = oauth2::Client::new(&self.token_url, &self.client_id)?.with_auth(auth);
        if let Some(secret) = env_secret("SSOFLOW_CLIENT_SECRET") {
            client = client.with_secret(&secret)?;
        }
        Ok(client)
    }
}

/// Run one `ssoflow oauth2` command.
pub fn run(cmd: Command, ctx: &Ctx) -> Result<(), Failure> {
    let tokens = match &cmd {
        Command::ClientCredentials(common) => {
            let client = common.client()?;
            ctx.driver.run(oauth2::client_credentials(
                &client,
                common.scope.as_deref(),
            )?)?
        }
        Command::Password { common, username } => {
            let password = required_env("SSOFLOW_PASSWORD")?;
            let client = common.client()?;
            ctx.driver.run(oauth2::password(
                &client,
                username,
                &password,
                common.scope.as_deref(),
            )?)?
        }
        Command::Refresh(common) => {
            let refresh = required_env("SSOFLOW_REFRESH_TOKEN")?;
            let client = common.client()?;
            ctx.driver
                .run(oauth2::refresh(&client, &refresh, common.scope.as_deref())?)?
        }
        Command::Exchange {
            common,
            subject_token_type,
            audience,
        } => {
            let subject = required_env("SSOFLOW_SUBJECT_TOKEN")?;
            let client = common.client()?;
            ctx.driver.run(oauth2::token_exchange(
                &client,
                &subject,
                subject_token_type,
                audience.as_deref(),
                common.scope.as_deref(),
            )?)?
        }
        Command::Login(args) => login(args, ctx)?,
    };
    print_tokens(ctx.json, &tokens);
    Ok(())
}

/// The path the browser is sent back to.
const CALLBACK_PATH: &str = "/callback";

fn login(args: &LoginArgs, ctx: &Ctx) -> Result<ssoflow_core::TokenSet, Failure> {
    let client = args.common.client()?;
    let auth = oauth2::Authorization::from_entropy(&entropy::<48>()?);
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| Failure {
        kind: "listen".into(),
        detail: format!("cannot open the redirect listener on 127.0.0.1: {e}"),
        code: 4,
    })?;
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    let redirect_uri = format!("http://127.0.0.1:{port}{CALLBACK_PATH}");
    let mut buf = vec![0u8; 8192];
    let url = oauth2::authorize_url(
        &client,
        &args.authorize_url,
        &redirect_uri,
        args.common.scope.as_deref(),
        &auth,
        &mut buf,
    )?
    .to_owned();

    eprintln!("Sign in by opening this URL in a browser:");
    eprintln!("{url}");
    if !args.no_browser {
        open_browser(&url);
    }

    let (tx, rx) = mpsc::channel();
    let state = auth.state.as_str().to_owned();
    std::thread::spawn(move || serve_callback(&listener, &state, &tx));
    let timeout = Duration::from_secs(args.timeout_secs);
    let callback = match rx.recv_timeout(timeout) {
        Ok(result) => result?,
        Err(_) => {
            return Err(Failure {
                kind: "timeout".into(),
                detail: format!(
                    "the browser did not come back to {redirect_uri} within {} s",
                    args.timeout_secs
                ),
                code: 4,
            });
        }
    };
    Ok(ctx.driver.run(oauth2::authorization_code(
        &client,
        callback.code.expose(),
        &redirect_uri,
        Some(&auth.pkce),
    )?)?)
}

/// Try to open `url` in the user's browser, silently: only where a display is likely, and never
/// failing the command.
fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        Some("open")
    } else if std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some()
    {
        Some("xdg-open")
    } else {
        None
    };
    if let Some(program) = opener {
        let child = std::process::Command::new(program)
            .arg(url)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        if let Ok(mut child) = child {
            // Reap it in the background; its outcome does not matter.
            std::thread::spawn(move || child.wait());
        }
    }
}

/// Answer requests on the redirect listener until one comes to the callback path; send its
/// verdict (the code, or why not) once.
fn serve_callback(
    listener: &TcpListener,
    state: &str,
    tx: &mpsc::Sender<Result<oauth2::Callback, Failure>>,
) {
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        let Some(target) = read_request_target(&mut stream) else {
            continue;
        };
        let path = target.split('?').next().unwrap_or("");
        if path != CALLBACK_PATH {
            respond(&mut stream, "404 Not Found", "Not found", "Nothing here.");
            continue;
        }
        let result = oauth2::parse_callback(&target, state);
        match &result {
            Ok(_) => respond(
                &mut stream,
                "200 OK",
                "Signed in",
                "You are signed in. You can close this tab and return to the terminal.",
            ),
            Err(e) => respond(
                &mut stream,
                "400 Bad Request",
                "Sign-in failed",
                &format!("Sign-in failed ({}). Return to the terminal.", e.kind()),
            ),
        }
        let _ = tx.send(result.map_err(Failure::from));
        return;
    }
}

/// The request target of one HTTP request (`/callback?code=…`), reading at most 8 KiB of head.
fn read_request_target(stream: &mut TcpStream) -> Option<String> {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut head = Vec::new();
    let mut chunk = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 8192 {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(chunk.get(..n).unwrap_or(&[])),
        }
    }
    let line = head.split(|&b| b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?.trim_end();
    let mut parts = line.split(' ');
    let _method = parts.next()?;
    let target = parts.next()?;
    target.starts_with('/').then(|| target.to_owned())
}

/// A small HTML page, then close.
fn respond(stream: &mut TcpStream, status: &str, title: &str, message: &str) {
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>ssoflow: {title}</title></head>\
         <body><h1>{title}</h1><p>{message}</p></body></html>\n"
    );
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.flush();
}
