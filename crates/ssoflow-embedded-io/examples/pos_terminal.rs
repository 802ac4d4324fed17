//! A POS terminal's sign-ins over a plain `embedded-io` stream, with fixed buffers.
//!
//! POS API admin login (ROPC) + refresh + a protected call, and a PAR Ordering customer sign-in
//! with refresh-on-401 — the same code a firmware image runs, here over `std::net::TcpStream`
//! wrapped by `embedded-io-adapters`. Against a running sandbox:
//!
//! ```sh
//! ssoflow sandbox --test-hooks > sandbox.json &   # prints its ready line
//! SSOFLOW_SANDBOX="$(head -1 sandbox.json)" cargo run -p ssoflow-embedded-io --example pos_terminal
//! ```
//!
//! Without `SSOFLOW_SANDBOX` it starts an in-process sandbox itself.
#![allow(clippy::result_large_err)] // the core's error carries a redacted excerpt inline

use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant as StdInstant};

use embedded_io_adapters::std::FromStd;
use ssoflow_core::session::{HasAccessToken, Session};
use ssoflow_core::{Instant, Method, RequestBuilder, TokenSet, par_ordering, pos_api};
use ssoflow_embedded_io::{DEFAULT_BUF, Driver, Error};

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
        _in_process: handle,
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sb = sandbox()?;
    let origin = StdInstant::now();
    let mut clock = move || Instant::from_millis(origin.elapsed().as_millis() as u64);
    // One fixed buffer for request and response: what the firmware would reserve.
    let mut buf = [0u8; DEFAULT_BUF];
    let mut driver = Driver::new(&mut buf);
    let mut stream = connect(sb.addr)?;

    // ── POS API: create an admin, log in (ROPC), refresh, call /admin/me ──
    let pos = pos_api::Config::new(&sb.pos[0], &sb.pos[1], &sb.pos[2])?;
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
    let login: TokenSet = driver.run(
        &mut stream,
        &mut clock,
        pos_api::login(&pos, &user, "terminal-pass")?,
    )?;
    println!(
        "pos     ROPC login             access token expires in {:?} s",
        login.expires_in
    );
    let refresh = login.refresh.clone().ok_or("no refresh token")?;
    let fresh = driver.run(
        &mut stream,
        &mut clock,
        pos_api::refresh(&pos, refresh.expose())?,
    )?;
    println!(
        "pos     refresh (rotated)      new access token {}…",
        fresh.access.value.expose().get(..4).unwrap_or("")
    );
    {
        let me = driver.send_with(&mut stream, |b| {
            pos_api::admin_request(&pos, fresh.access.value.expose(), b)
        })?;
        let admin = pos_api::read_admin(me.response())?;
        println!(
            "pos     GET /admin/me          {} → {}",
            me.status(),
            admin.user_name
        );
    }

    // ── PAR Ordering: sign a customer in; refresh-on-401 after the menu token expires ──
    let par = par_ordering::Config::new(&sb.par[0], &sb.par[1], &sb.par[2], &sb.par[3])?;
    let subject = sb.par[4].clone();
    let mut session: Session<par_ordering::SignIn> =
        Session::new(ssoflow_core::session::DEFAULT_SKEW_MS);
    let mut ids = par_ordering::RequestIds::new(seed());
    for round in 0..2 {
        if !driver.is_reusable() {
            stream = connect(sb.addr)?;
            driver.reset();
        }
        let before = session.generation();
        let view = driver.send_authorized(
            &mut stream,
            &mut clock,
            &mut session,
            |_: Option<&par_ordering::SignIn>| {
                par_ordering::sign_in(&par, None, &subject, par_ordering::RequestIds::new(seed()))
            },
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
        let customer = par_ordering::read_customer_account(view.response())?;
        drop(view);
        let signed_in = match (round, session.generation() > before) {
            (0, true) => "signed in, then ",
            (_, true) => "401 → re-signed in → ",
            _ => "",
        };
        println!(
            "par     GET /api/customers/me  {signed_in}{status} → {} <{}>",
            customer.first_name, customer.email
        );
        if round == 0 && !advance_sandbox_clock(&mut driver, &mut stream, &sb, 3601)? {
            println!("par     (sandbox without --test-hooks: cannot expire the menu token; done)");
            break;
        }
    }
    Ok(())
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
            println!("sandbox clock +{secs} s           the menu token has expired");
            Ok(true)
        }
        Ok(_) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Request-id seed: firmware would read its hardware RNG here.
fn seed() -> [u8; 16] {
    let mut s = [0u8; 16];
    let _ = getrandom::fill(&mut s);
    s
}
