//! A POS terminal's sign-ins over a plain `embedded-io` stream, with fixed buffers.
//!
//! The cashier signs in with the device authorization grant (RFC 8628): the terminal shows a
//! short code and a URL, the cashier approves on their phone (against the sandbox, its test
//! hook approves), the terminal polls until the token arrives, waiting with its clock; at the
//! end of the shift the terminal signs the cashier out (RFC 7009: revoke, then clear).
//! A POS API admin session (`pos_api::Admin`: ROPC login, then refresh) and a PAR Ordering
//! customer session (`par_ordering::CustomerSignIn`), each a core `Session` the driver signs in
//! and renews on a 401 — the same code a firmware image runs, here over `std::net::TcpStream`
//! wrapped by `embedded-io-adapters`. Against a running sandbox:
//!
//! ```sh
//! ssoflow sandbox --test-hooks > sandbox.json &   # prints its ready line
//! SSOFLOW_SANDBOX="$(head -1 sandbox.json)" cargo run --example pos_terminal --features embedded-io
//! ```
//!
//! Without `SSOFLOW_SANDBOX` it starts an in-process sandbox itself.
#![allow(clippy::result_large_err)] // the core's error carries a redacted excerpt inline

use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant as StdInstant};

use embedded_io_adapters::std::FromStd;
use ssoflow::embedded::{Clock, DEFAULT_BUF, Driver, Error};
use ssoflow::session::{Access, HasAccessToken, Policy, Session};
use ssoflow::{Instant, Method, RequestBuilder, TokenSet, oauth2, par_ordering, pos_api};

type Stream = FromStd<TcpStream>;

fn connect(addr: SocketAddr) -> std::io::Result<Stream> {
    let s = TcpStream::connect(addr)?;
    // Read timeouts are the stream's job: the driver itself never loops forever.
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    Ok(FromStd::new(s))
}

/// Fields of the sandbox's ready line this example needs.
struct Sandbox {
    addr: SocketAddr,
    pos: [String; 3],
    par: [String; 5],
    oauth2: [String; 2],
    _in_process: Option<ssoflow_sandbox::SandboxHandle>,
}

fn sandbox() -> Result<Sandbox, Box<dyn std::error::Error>> {
    let (line, handle) = match std::env::var("SSOFLOW_SANDBOX") {
        Ok(line) => (line, None),
        Err(_) => {
            let h = ssoflow_sandbox::Sandbox::builder()
                .test_hooks(true)
                .start_blocking()?;
            (h.ready_line(), Some(h))
        }
    };
    let v: serde_json::Value = serde_json::from_str(&line)?;
    let s = |p: &str| {
        v.pointer(p)
            .and_then(|x| x.as_str())
            .unwrap_or_default()
            .to_string()
    };
    let listening = s("/listening");
    let addr = listening.trim_start_matches("http://").parse()?;
    Ok(Sandbox {
        addr,
        pos: [
            s("/pos_api/base_url"),
            s("/pos_api/client_id"),
            s("/pos_api/client_secret"),
        ],
        par: [
            s("/par_ordering/base_url"),
            s("/par_ordering/application_key"),
            s("/par_ordering/client_id"),
            s("/par_ordering/client_secret"),
            s("/par_ordering/test_subject_token"),
        ],
        oauth2: [s("/oauth2/base_url"), s("/oauth2/device_client_id")],
        _in_process: handle,
    })
}

/// The terminal's monotonic clock. Its waits sleep, as a firmware's delay or timer interrupt
/// would (the default `wait_until` spins).
struct TerminalClock(StdInstant);

impl Clock for TerminalClock {
    fn now(&mut self) -> Instant {
        Instant::from_millis(self.0.elapsed().as_millis() as u64)
    }

    fn wait_until(&mut self, until: Instant) {
        std::thread::sleep(Duration::from_millis(until.millis_since(self.now())));
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sb = sandbox()?;
    let mut clock = TerminalClock(StdInstant::now());
    // One fixed buffer for request and response: what the firmware would reserve.
    let mut buf = [0u8; DEFAULT_BUF];
    let mut driver = Driver::new(&mut buf);
    let mut stream = connect(sb.addr)?;

    // ── The cashier: device sign-in (RFC 8628) on the terminal's public client ──
    let token_url = format!("{}/token", sb.oauth2[0]);
    let kiosk = oauth2::Client::new(&token_url, &sb.oauth2[1])?;
    let codes = driver.run(
        &mut stream,
        &mut clock,
        oauth2::device_authorization(
            &kiosk,
            &format!("{}/device_authorization", sb.oauth2[0]),
            Some("orders"),
        )?,
    )?;
    show_on_screen(&codes);
    if !approve_on_phone(&mut driver, &mut stream, &sb, codes.user_code())? {
        println!("        (sandbox without --test-hooks: approve at the URL above)");
    }
    let cashier_tokens = driver.run_paced(
        &mut stream,
        &mut clock,
        oauth2::device_token(&kiosk, &codes)?,
    )?;
    // The cashier's session holds the token until the end of the shift.
    let mut cashier: Session<TokenSet, Error> = Session::with_policy(Policy::DEFAULT);
    if let Access::SignIn { .. } = cashier.access(clock.now(), None) {
        cashier.signed_in(clock.now(), cashier_tokens);
    }
    println!("cashier signed in              token {}…", short(&cashier));

    // ── POS API: an admin account, signed in by its recipe (log in, then refresh) ──
    let pos = pos_api::PosConfig::new(&sb.pos[0], &sb.pos[1], &sb.pos[2])?;
    let user = format!("terminal-{}", std::process::id());
    let account = driver.run(
        &mut stream,
        &mut clock,
        pos_api::create_account(&pos, &user, "terminal-pass")?,
    )?;
    println!(
        "pos     account created        {} ({})",
        account.id, account.user_name
    );
    let admin = pos_api::Admin::new(&pos, &user, "terminal-pass")?;
    let mut pos_session: Session<TokenSet, Error> = Session::with_policy(Policy::DEFAULT);

    // ── PAR Ordering: a customer's session, signed in by `CustomerSignIn` (keeps the M2M token) ──
    let par = par_ordering::ParConfig::new(&sb.par[0], &sb.par[1], &sb.par[2], &sb.par[3])?;
    let customer = par_ordering::CustomerSignIn::<str>::new(&par);
    let subject = sb.par[4].as_str();
    let mut par_session: Session<par_ordering::SignIn, Error> =
        Session::with_policy(Policy::DEFAULT);
    let mut ids = par_ordering::RequestIds::new(seed()?);

    // Round 0 signs both in; round 1 runs after the tokens expired (sandbox clock +1 h): the
    // 401s make the sessions renew — POS with its refresh token, PAR with a new token exchange.
    for round in 0..2 {
        if !driver.is_reusable() {
            stream = connect(sb.addr)?;
            driver.reset();
        }
        let before = pos_session.generation();
        let me = driver.send_authorized(
            &mut stream,
            &mut clock,
            &mut pos_session,
            &admin,
            &(),
            fresh_seed,
            |t: &TokenSet, b: &mut [u8]| pos_api::admin_request(&pos, t.access.value.expose(), b),
        )?;
        let status = me.status();
        let who = pos_api::read_admin(me.response())?;
        drop(me);
        println!(
            "pos     GET /admin/me          {}{status} → {}",
            signed_in(round, pos_session.generation() > before),
            who.user_name
        );

        if !driver.is_reusable() {
            stream = connect(sb.addr)?;
            driver.reset();
        }
        let before = par_session.generation();
        let view = driver.send_authorized(
            &mut stream,
            &mut clock,
            &mut par_session,
            &customer,
            subject,
            fresh_seed,
            |t: &par_ordering::SignIn, b: &mut [u8]| {
                par.protected_request(
                    b,
                    Method::Get,
                    "/api/customers/me",
                    t.access_token().value.expose(),
                    &mut ids,
                )
            },
        )?;
        let status = view.status();
        let account = par_ordering::read_customer_account(view.response())?;
        drop(view);
        println!(
            "par     GET /api/customers/me  {}{status} → {} <{}>",
            signed_in(round, par_session.generation() > before),
            account.first_name,
            account.email
        );
        if round == 0 && !advance_sandbox_clock(&mut driver, &mut stream, &sb, 3601)? {
            println!("        (sandbox without --test-hooks: cannot expire the tokens; done)");
            break;
        }
    }

    // ── End of the shift: sign the cashier out (revoke, then clear) ──
    if !driver.is_reusable() {
        stream = connect(sb.addr)?;
        driver.reset();
    }
    driver.sign_out(
        &mut stream,
        &mut clock,
        &mut cashier,
        &kiosk,
        &format!("{}/revoke", sb.oauth2[0]),
        seed()?,
    )?;
    println!(
        "cashier signed out             tokens revoked, session {}",
        if cashier.current().is_none() {
            "cleared"
        } else {
            "NOT cleared"
        }
    );
    Ok(())
}

/// What the terminal's screen shows: where to go, and the code to type there.
fn show_on_screen(codes: &oauth2::DeviceAuthorization) {
    let lines = [
        "Cashier sign-in".to_owned(),
        String::new(),
        format!("On your phone, open {}", codes.verification_uri()),
        format!("and enter the code   {}", codes.user_code()),
        String::new(),
        format!("(valid {} min)", codes.expires_in_secs().div_ceil(60)),
    ];
    let width = lines.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    println!("+{}+", "-".repeat(width + 4));
    for l in &lines {
        println!("|  {l:<width$}  |");
    }
    println!("+{}+", "-".repeat(width + 4));
}

/// The cashier approving on their phone: here the sandbox's test hook does it. `false` when
/// the sandbox has no test hooks (a person approves at the URL instead).
fn approve_on_phone(
    driver: &mut Driver<'_>,
    stream: &mut Stream,
    sb: &Sandbox,
    user_code: &str,
) -> Result<bool, Error> {
    let base = format!("http://{}", sb.addr);
    let view = driver.send_with(stream, |b| {
        let mut rb = RequestBuilder::new(b, Method::Post, &base, "/__sandbox/device/approve");
        rb.json_body(&[("user_code", user_code)]);
        rb.finish()
    })?;
    let approved = view.status() == 200;
    if approved {
        println!("cashier approves on the phone  (the sandbox's test hook stands in)");
    }
    Ok(approved)
}

/// The first characters of the session's access token (never the whole token on a screen).
fn short(session: &Session<TokenSet, Error>) -> String {
    session
        .current()
        .map(|t| t.access.value.expose().chars().take(4).collect())
        .unwrap_or_default()
}

fn signed_in(round: u32, renewed: bool) -> &'static str {
    match (round, renewed) {
        (0, true) => "signed in, then ",
        (_, true) => "401 → renewed → ",
        _ => "",
    }
}

/// Move the sandbox's clock past the menu token's lifetime, `ttl` 60 minutes (test hook).
fn advance_sandbox_clock(
    driver: &mut Driver<'_>,
    stream: &mut Stream,
    sb: &Sandbox,
    secs: u64,
) -> Result<bool, Error> {
    let body = format!("{{\"seconds\":{secs}}}");
    let base = format!("http://{}", sb.addr);
    let view = driver.send_with(stream, |b| {
        let mut rb = RequestBuilder::new(b, Method::Post, &base, "/__sandbox/clock/advance");
        rb.raw_body("application/json", body.as_bytes());
        rb.finish()
    });
    match view {
        Ok(v) if v.status() == 200 => {
            println!("sandbox clock +{secs} s           the tokens have expired");
            Ok(true)
        }
        Ok(_) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Request ids and backoff jitter: firmware would read its hardware RNG here. No random
/// source, no terminal: never all-zero ids.
fn seed() -> Result<[u8; 16], Box<dyn std::error::Error>> {
    let mut s = [0u8; 16];
    getrandom::fill(&mut s).map_err(|e| format!("the OS random source failed: {e}"))?;
    Ok(s)
}

/// [`seed`] for the driver's entropy callback, which cannot return an error: a failing random
/// source stops the program loudly (never all-zero request ids). `main` has drawn a seed already,
/// so the source worked once.
fn fresh_seed() -> [u8; 16] {
    match seed() {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    }
}
