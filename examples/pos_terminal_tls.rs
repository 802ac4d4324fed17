//! The POS terminal's sign-ins over HTTPS with embedded-tls (TLS 1.3, no allocator), the
//! server's certificate verified against a CA — the firmware's code, run on a host.
//!
//! The stack a firmware builds: TCP stream → `embedded_tls::blocking::TlsConnection` (record
//! buffers of 16 640 + 4 096 B), opened by `ssoflow::embedded::tls::open` → ssoflow's embedded
//! driver (one 5 KiB buffer). The trust is `tls::CaVerified`: embedded-tls's own verifier (`rustpki`:
//! pure Rust, no C toolchain for the MCU, no allocator) checks that the server's certificate
//! chains to the CA given here (a firmware embeds the DER, `include_bytes!`), that it is for the
//! server name, and the handshake signature — a CA rather than a pinned certificate because the
//! server's certificate changes on renewal (the sandbox's on every start). Dates are checked
//! with a clock; a firmware without one (`NoClock`) accepts an expired certificate from that CA.
//!
//! Against a running TLS sandbox (its ready line names the CA's PEM file, `"ca_cert"`):
//!
//! ```sh
//! ssoflow sandbox --tls --test-hooks > sandbox.json &
//! SSOFLOW_SANDBOX="$(head -1 sandbox.json)" cargo run --example pos_terminal_tls --features embedded-tls
//! ```
//!
//! Without `SSOFLOW_SANDBOX` it starts an in-process TLS sandbox itself.
#![allow(clippy::result_large_err)] // the core's error carries a redacted excerpt inline

use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant as StdInstant, SystemTime};

use embedded_io_adapters::std::FromStd;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use ssoflow::embedded::tls::embedded_tls::blocking::TlsConnection;
use ssoflow::embedded::tls::rand_core::{self, CryptoRng, RngCore};
use ssoflow::embedded::tls::{
    self, CaVerified, READ_RECORD_BUF, SANDBOX_SERVER_NAME, Suite, TlsClock, TlsConfig, TlsError,
    WRITE_RECORD_BUF,
};
use ssoflow::embedded::{DEFAULT_BUF, Driver, Error};
use ssoflow::session::{HasAccessToken, Policy, Session};
use ssoflow::{Instant, Method, RequestBuilder, TokenSet, par_ordering, pos_api};

type Tls<'b> = TlsConnection<'b, FromStd<TcpStream>, Suite>;

/// The random source embedded-tls draws from (rand_core 0.6's traits): a firmware's hardware
/// RNG; here the OS's.
struct Rng;

impl RngCore for Rng {
    fn next_u32(&mut self) -> u32 {
        rand_core::impls::next_u32_via_fill(self)
    }
    fn next_u64(&mut self) -> u64 {
        rand_core::impls::next_u64_via_fill(self)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        // No random source, no TLS: stop loudly rather than use predictable keys.
        getrandom::fill(dest).expect("the OS random source failed");
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        getrandom::fill(dest).map_err(os_error)
    }
}

/// The OS random source's failure as rand_core's error (its code, or 1).
fn os_error(e: getrandom::Error) -> rand_core::Error {
    let code = e.raw_os_error().map_or(1, i32::unsigned_abs);
    rand_core::Error::from(core::num::NonZeroU32::new(code).unwrap_or(core::num::NonZeroU32::MIN))
}

impl CryptoRng for Rng {}

/// The certificate's validity dates are checked against this clock (a firmware's RTC or SNTP).
struct WallClock;

impl TlsClock for WallClock {
    fn now() -> Option<u64> {
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .ok()
            .map(|d| d.as_secs())
    }
}

/// Fields of the sandbox's ready line this example needs.
struct Sandbox {
    addr: SocketAddr,
    ca_der: Vec<u8>,
    pos: [String; 3],
    par: [String; 5],
    _in_process: Option<ssoflow_sandbox::SandboxHandle>,
}

fn sandbox() -> Result<Sandbox, Box<dyn std::error::Error>> {
    let (line, handle) = match std::env::var("SSOFLOW_SANDBOX") {
        Ok(line) => (line, None),
        Err(_) => {
            let h = ssoflow_sandbox::Sandbox::builder()
                .tls(true)
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
    let Some(addr) = listening.strip_prefix("https://") else {
        return Err(
            format!("not a TLS sandbox (listening on {listening}): start it with --tls").into(),
        );
    };
    let ca_path = s("/ca_cert");
    if ca_path.is_empty() {
        return Err(
            "the ready line names no \"ca_cert\" (a sandbox with --cert/--key: use --tls)".into(),
        );
    }
    let ca_der = CertificateDer::from_pem_file(&ca_path)
        .map_err(|e| format!("the CA certificate {ca_path}: {e}"))?
        .to_vec();
    Ok(Sandbox {
        addr: addr.parse()?,
        ca_der,
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

/// TCP, then the TLS 1.3 handshake: the certificate must chain to the CA and be for `localhost`
/// (the name in the sandbox's certificate; only DNS names are matched, so not `127.0.0.1`).
fn connect<'b>(
    sb: &Sandbox,
    read: &'b mut [u8],
    write: &'b mut [u8],
) -> Result<Tls<'b>, Box<dyn std::error::Error>> {
    let tcp = TcpStream::connect(sb.addr)?;
    // Read timeouts are the stream's job: the driver itself never loops forever.
    tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
    let config = TlsConfig::new().with_server_name(SANDBOX_SERVER_NAME);
    let mut tls = TlsConnection::new(FromStd::new(tcp), read, write);
    let mut trust = CaVerified::<_, WallClock>::with_clock(&sb.ca_der, Rng);
    // The handshake, and the check that the server proved its identity; on an error the
    // connection is dropped unused.
    tls::open(&mut tls, &config, &mut trust)
        .map_err(|e: TlsError| format!("TLS handshake refused: {e:?}"))?;
    Ok(tls)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sb = sandbox()?;
    let origin = StdInstant::now();
    let mut clock = move || Instant::from_millis(origin.elapsed().as_millis() as u64);
    // What the firmware reserves: the TLS record buffers and the driver's one buffer.
    let mut record_read = vec![0u8; READ_RECORD_BUF];
    let mut record_write = vec![0u8; WRITE_RECORD_BUF];
    let mut buf = [0u8; DEFAULT_BUF];
    let mut driver = Driver::new(&mut buf);

    let pos = pos_api::PosConfig::new(&sb.pos[0], &sb.pos[1], &sb.pos[2])?;
    let user = format!("tls-terminal-{}", std::process::id());
    let admin = pos_api::Admin::new(&pos, &user, "fake-terminal-pass")?;
    let mut pos_session: Session<TokenSet, Error> = Session::with_policy(Policy::DEFAULT);
    let par = par_ordering::ParConfig::new(&sb.par[0], &sb.par[1], &sb.par[2], &sb.par[3])?;
    let customer = par_ordering::CustomerSignIn::<str>::new(&par);
    let mut par_session: Session<par_ordering::SignIn, Error> =
        Session::with_policy(Policy::DEFAULT);
    let mut ids = par_ordering::RequestIds::new(seed());

    // One TLS connection for everything while the server keeps it alive; a new handshake only
    // when the driver says the connection cannot be reused.
    let (mut round, mut handshakes) = (0, 0);
    while round < 2 {
        let mut tls = connect(&sb, &mut record_read, &mut record_write)?;
        handshakes += 1;
        driver.reset();
        println!(
            "tls     handshake {handshakes}            TLS 1.3, certificate verified against the CA"
        );
        if handshakes == 1 {
            let account = driver.run(
                &mut tls,
                &mut clock,
                pos_api::create_account(&pos, &user, "fake-terminal-pass")?,
            )?;
            println!(
                "pos     account created        {} ({})",
                account.id, account.user_name
            );
        }
        // Round 0 signs both in; round 1 runs after the tokens expired (sandbox clock +1 h).
        while round < 2 && driver.is_reusable() {
            let before = pos_session.generation();
            let me = driver.send_authorized(
                &mut tls,
                &mut clock,
                &mut pos_session,
                &admin,
                &(),
                seed,
                |t: &TokenSet, b: &mut [u8]| {
                    pos_api::admin_request(&pos, t.access.value.expose(), b)
                },
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
                break; // reconnect, then the PAR call
            }
            let before = par_session.generation();
            let view = driver.send_authorized(
                &mut tls,
                &mut clock,
                &mut par_session,
                &customer,
                sb.par[4].as_str(),
                seed,
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
            if round == 0 && !advance_sandbox_clock(&mut driver, &mut tls, &sb, 3601)? {
                println!("        (sandbox without --test-hooks: cannot expire the tokens; done)");
                return Ok(());
            }
            round += 1;
        }
    }
    println!("tls     {handshakes} handshake(s) for every call above");
    Ok(())
}

fn signed_in(round: u32, renewed: bool) -> &'static str {
    match (round, renewed) {
        (0, true) => "signed in, then ",
        (_, true) => "401 → renewed → ",
        _ => "",
    }
}

/// Move the sandbox's clock past the tokens' lifetime (test hook), over the same connection.
fn advance_sandbox_clock(
    driver: &mut Driver<'_>,
    tls: &mut Tls<'_>,
    sb: &Sandbox,
    secs: u64,
) -> Result<bool, Error> {
    let body = format!("{{\"seconds\":{secs}}}");
    let base = format!("https://{}", sb.addr);
    let view = driver.send_with(tls, |b| {
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

/// Request ids and backoff jitter from the random source (never all-zero ids).
fn seed() -> [u8; 16] {
    let mut s = [0u8; 16];
    Rng.fill_bytes(&mut s);
    s
}
