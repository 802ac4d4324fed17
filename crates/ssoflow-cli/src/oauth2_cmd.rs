//! `ssoflow oauth2 …`: the generic OAuth 2.0 grants, and a browser login with PKCE.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
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
    /// Callbacks with a wrong or missing `state` get an error page and are ignored (the wait
    /// goes on until --timeout-secs); connections are served concurrently.
    /// Env: SSOFLOW_CLIENT_SECRET (confidential clients).
    Login(LoginArgs),
    /// Device authorization grant (RFC 8628) for a device without a keyboard: prints the user
    /// code and the verification URL, with a QR code of the URL that carries the code, on
    /// stderr; polls the token endpoint (at the server's interval, 5 s more per slow_down)
    /// until the person approves. Exit 3 when they deny or the code expires.
    /// Env: SSOFLOW_CLIENT_SECRET (confidential clients).
    Device(DeviceArgs),
    /// Token revocation (RFC 7009): sign out. Revokes SSOFLOW_REFRESH_TOKEN and/or
    /// SSOFLOW_ACCESS_TOKEN (both set: the refresh token first). An unknown or already
    /// revoked token counts as revoked; a 503 is retried after a backoff.
    /// Env: SSOFLOW_ACCESS_TOKEN or SSOFLOW_REFRESH_TOKEN (one required), SSOFLOW_CLIENT_SECRET.
    Revoke(RevokeArgs),
}

/// `ssoflow oauth2 device` options.
#[derive(Debug, clap::Args)]
pub struct DeviceArgs {
    /// The device authorization endpoint.
    #[arg(long, value_name = "URL")]
    device_authorization_url: String,
    #[command(flatten)]
    common: Common,
    /// Print the code and the URL only, no QR code.
    #[arg(long)]
    no_qr: bool,
}

/// `ssoflow oauth2 revoke` options.
#[derive(Debug, clap::Args)]
pub struct RevokeArgs {
    /// The revocation endpoint (https://, or http:// to a loopback host).
    #[arg(long, value_name = "URL")]
    revocation_url: String,
    /// The client id.
    #[arg(long, value_name = "ID")]
    client_id: String,
    /// Revoke only this kind of token (the matching environment variable must be set).
    #[arg(long, value_enum, value_name = "HINT")]
    token_type_hint: Option<HintArg>,
    /// How the client authenticates (with SSOFLOW_CLIENT_SECRET set), as for the grants.
    #[arg(long, value_enum, value_name = "AUTH", default_value_t = AuthArg::Basic)]
    client_auth: AuthArg,
}

/// `--token-type-hint` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum HintArg {
    /// SSOFLOW_ACCESS_TOKEN, hinted `access_token`.
    AccessToken,
    /// SSOFLOW_REFRESH_TOKEN, hinted `refresh_token`.
    RefreshToken,
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
    /// The authorization server's issuer identifier: the callback must carry it as `iss`
    /// (RFC 9207 mix-up defence). Give it for every server that sends `iss`.
    #[arg(long, value_name = "URL")]
    issuer: Option<String>,
}

/// What a callback must carry to be ours.
struct Expected {
    state: String,
    issuer: Option<String>,
}

impl Common {
    fn client(&self) -> Result<oauth2::Client, Failure> {
        client(&self.token_url, &self.client_id, self.client_auth)
    }
}

/// A client of the endpoint `url`, with SSOFLOW_CLIENT_SECRET when it is set.
fn client(url: &str, client_id: &str, auth: AuthArg) -> Result<oauth2::Client, Failure> {
    let auth = match auth {
        AuthArg::Basic => ClientAuth::Basic,
        AuthArg::BasicRaw => ClientAuth::BasicRaw,
        AuthArg::Post => ClientAuth::Post,
    };
    let mut client = oauth2::Client::new(url, client_id)?.with_auth(auth);
    if let Some(secret) = env_secret("SSOFLOW_CLIENT_SECRET") {
        client = client.with_secret(&secret)?;
    }
    Ok(client)
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
        Command::Device(args) => device(args, ctx)?,
        Command::Revoke(args) => return revoke(args, ctx),
    };
    print_tokens(ctx.json, &tokens);
    Ok(())
}

/// The device grant: show the codes (and a QR code) on stderr, then poll until the token.
fn device(args: &DeviceArgs, ctx: &Ctx) -> Result<ssoflow_core::TokenSet, Failure> {
    let client = args.common.client()?;
    let authorization = ctx.driver.run(oauth2::device_authorization(
        &client,
        &args.device_authorization_url,
        args.common.scope.as_deref(),
    )?)?;
    eprint!("{}", device_instructions(&authorization, !args.no_qr));
    Ok(ctx
        .driver
        .run_paced(oauth2::device_token(&client, &authorization)?)?)
}

/// What the person is shown: the URL, the code, how long it is valid, and a QR code of the
/// URL that carries the code (scanned with a phone, it needs no typing).
pub fn device_instructions(a: &oauth2::DeviceAuthorization, qr: bool) -> String {
    let mut text = format!(
        "To sign in, open {} and enter the code\n\n    {}\n\n",
        a.verification_uri(),
        a.user_code()
    );
    if qr {
        let target = a
            .verification_uri_complete()
            .unwrap_or(a.verification_uri());
        if let Some(code) = qr_code(target) {
            text.push_str("or scan:\n\n");
            text.push_str(&code);
            text.push('\n');
        }
    }
    text.push_str(&format!(
        "The code expires in {} min; waiting for approval (checking every {} s)…\n",
        a.expires_in_secs().div_ceil(60),
        a.interval_secs()
    ));
    text
}

/// `data` as a QR code in Unicode half blocks (two modules per character), light on dark as a
/// terminal shows it best; `None` if it does not fit a QR code.
pub fn qr_code(data: &str) -> Option<String> {
    use qrcode::render::unicode::Dense1x2;
    let code = qrcode::QrCode::new(data.as_bytes()).ok()?;
    Some(
        code.render::<Dense1x2>()
            .dark_color(Dense1x2::Light)
            .light_color(Dense1x2::Dark)
            .quiet_zone(true)
            .build(),
    )
}

/// Revoke the token(s) from the environment; print what was revoked.
fn revoke(args: &RevokeArgs, ctx: &Ctx) -> Result<(), Failure> {
    // The client's token URL is not used by a revocation: the revocation URL stands in.
    let client = client(&args.revocation_url, &args.client_id, args.client_auth)?;
    let want = |hint: HintArg| args.token_type_hint.is_none_or(|h| h == hint);
    let refresh = want(HintArg::RefreshToken)
        .then(|| env_secret("SSOFLOW_REFRESH_TOKEN"))
        .flatten();
    let access = want(HintArg::AccessToken)
        .then(|| env_secret("SSOFLOW_ACCESS_TOKEN"))
        .flatten();
    let mut revoked = Vec::new();
    for (token, hint) in [
        (refresh, oauth2::TokenTypeHint::RefreshToken),
        (access, oauth2::TokenTypeHint::AccessToken),
    ] {
        if let Some(token) = token {
            let flow = oauth2::revoke(&client, &args.revocation_url, &token, Some(hint))?
                .with_entropy(entropy::<16>()?);
            ctx.driver.run_paced(flow)?;
            revoked.push(hint.as_str());
        }
    }
    if revoked.is_empty() {
        return Err(Failure::usage(match args.token_type_hint {
            Some(HintArg::AccessToken) => "set SSOFLOW_ACCESS_TOKEN",
            Some(HintArg::RefreshToken) => "set SSOFLOW_REFRESH_TOKEN",
            None => "set SSOFLOW_ACCESS_TOKEN or SSOFLOW_REFRESH_TOKEN",
        }));
    }
    if ctx.json {
        crate::output::print_json(&serde_json::json!({ "revoked": revoked }));
    } else {
        crate::output::print_fields(&[("revoked", revoked.join(", "))]);
    }
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
    let state = Arc::new(Expected {
        state: auth.state.to_string(),
        issuer: args.issuer.clone(),
    });
    let ignored = Arc::new(Mutex::new(Ignored::default()));
    {
        let ignored = ignored.clone();
        std::thread::spawn(move || serve_callback(&listener, &state, &tx, &ignored));
    }
    let timeout = Duration::from_secs(args.timeout_secs);
    let callback = match rx.recv_timeout(timeout) {
        Ok(result) => result?,
        Err(_) => {
            let ignored = ignored.lock().map(|i| i.describe()).unwrap_or_default();
            return Err(Failure {
                kind: "timeout".into(),
                detail: format!(
                    "the browser did not come back to {redirect_uri} within {} s{ignored}",
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

/// At most this many callback connections are served at once; more are closed unanswered.
const MAX_CONNECTIONS: usize = 16;
/// How long one connection may take to send its request head.
const HEAD_DEADLINE: Duration = Duration::from_secs(10);

/// Callbacks turned away while waiting: how many, and the last reason (for the timeout message).
#[derive(Default)]
struct Ignored {
    count: usize,
    last: Option<&'static str>,
}

impl Ignored {
    fn describe(&self) -> String {
        match self.last {
            Some(why) => format!(" ({} callback(s) ignored, the last one: {why})", self.count),
            None => String::new(),
        }
    }
}

/// Answer requests on the redirect listener, each connection on its own thread (at most
/// [`MAX_CONNECTIONS`] at once), so a client that connects and sends nothing holds up nobody.
/// Only a callback carrying our `state` ends the wait: its verdict (the code, or the
/// authorization server's error) is sent once. A wrong or missing `state` gets an error page
/// and is otherwise ignored: anyone on this machine can reach the listener.
fn serve_callback(
    listener: &TcpListener,
    state: &Arc<Expected>,
    tx: &mpsc::Sender<Result<oauth2::Callback, Failure>>,
    ignored: &Arc<Mutex<Ignored>>,
) {
    let active = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        if active.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            active.fetch_sub(1, Ordering::SeqCst);
            drop(stream);
            continue;
        }
        let (done, state, tx, ignored) =
            (active.clone(), state.clone(), tx.clone(), ignored.clone());
        let spawned = std::thread::Builder::new().spawn(move || {
            serve_one(stream, &state, &tx, &ignored);
            done.fetch_sub(1, Ordering::SeqCst);
        });
        if spawned.is_err() {
            // No thread: that connection was dropped with the closure.
            active.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// One connection to the redirect listener.
fn serve_one(
    mut stream: TcpStream,
    expected: &Expected,
    tx: &mpsc::Sender<Result<oauth2::Callback, Failure>>,
    ignored: &Mutex<Ignored>,
) {
    let Some(target) = read_request_target(&mut stream) else {
        return;
    };
    let path = target.split('?').next().unwrap_or("");
    if path != CALLBACK_PATH {
        respond(&mut stream, "404 Not Found", "Not found", "Nothing here.");
        return;
    }
    let parsed = match &expected.issuer {
        Some(issuer) => oauth2::parse_callback_from(&target, &expected.state, issuer),
        None => oauth2::parse_callback(&target, &expected.state),
    };
    match parsed {
        Ok(callback) => {
            respond(
                &mut stream,
                "200 OK",
                "Signed in",
                "You are signed in. You can close this tab and return to the terminal.",
            );
            let _ = tx.send(Ok(callback));
        }
        // An `error=` answer is only returned when `state` matched: the authorization server's
        // verdict on this login.
        Err(e @ ssoflow_core::Error::OAuth { .. }) => {
            respond(
                &mut stream,
                "400 Bad Request",
                "Sign-in failed",
                &format!("Sign-in failed ({}). Return to the terminal.", e.kind()),
            );
            let _ = tx.send(Err(Failure::from(e)));
        }
        // A wrong or missing `state` (or a malformed callback): not our login; keep waiting.
        Err(e) => {
            let why = match e {
                ssoflow_core::Error::StateMismatch => "wrong or missing state",
                ssoflow_core::Error::IssuerMismatch => "wrong or missing issuer (iss)",
                _ => "malformed callback",
            };
            if let Ok(mut i) = ignored.lock() {
                i.count += 1;
                i.last = Some(why);
            }
            respond(
                &mut stream,
                "400 Bad Request",
                "Not this sign-in",
                &format!(
                    "This callback was ignored ({why}). Still waiting for the sign-in started \
                     in the terminal."
                ),
            );
        }
    }
}

/// The request target of one HTTP request (`/callback?code=…`), reading at most 8 KiB of head
/// within [`HEAD_DEADLINE`] (a client dribbling bytes gets no more time).
fn read_request_target(stream: &mut TcpStream) -> Option<String> {
    let deadline = std::time::Instant::now() + HEAD_DEADLINE;
    let mut head = Vec::new();
    let mut chunk = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 8192 {
        let left = deadline.checked_duration_since(std::time::Instant::now())?;
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            return None;
        }
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

#[cfg(test)]
mod tests {
    use super::qr_code;

    /// The half-block rendering back into modules (`true` = dark), two rows per line.
    fn modules(text: &str) -> Vec<Vec<bool>> {
        let mut rows = Vec::new();
        for line in text.lines() {
            let (mut top, mut bottom) = (Vec::new(), Vec::new());
            for c in line.chars() {
                // Light on dark: a full block is two light modules.
                let (t, b) = match c {
                    '█' => (false, false),
                    '▀' => (false, true),
                    '▄' => (true, false),
                    _ => (true, true),
                };
                top.push(t);
                bottom.push(b);
            }
            rows.push(top);
            rows.push(bottom);
        }
        rows
    }

    #[test]
    fn the_qr_code_decodes_to_the_url_with_the_code() {
        let url = "http://127.0.0.1:8080/oauth2/device?user_code=WDJB-MJHT";
        let text = qr_code(url).unwrap();
        let rows = modules(&text);
        let scale = 4;
        let (w, h) = (rows[0].len() * scale, rows.len() * scale);
        let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| {
            let dark = rows[y / scale].get(x / scale).copied().unwrap_or(false);
            if dark { 0 } else { 255 }
        });
        let grids = img.detect_grids();
        assert_eq!(grids.len(), 1, "one QR code");
        let (_, content) = grids[0].decode().unwrap();
        assert_eq!(content, url);
    }
}
