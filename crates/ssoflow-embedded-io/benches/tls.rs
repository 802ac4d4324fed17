//! HTTPS cost on the firmware driver: one client-credentials token fetch against the TLS sandbox
//! over embedded-tls 0.19 (TLS 1.3, `TLS_AES_128_GCM_SHA256`, P-256, the certificate verified
//! against the sandbox's CA by `tls::CaVerified` with its dates checked), on a new connection
//! (TCP connect + handshake + fetch) vs on a reused one (a TLS connection kept alive),
//! interleaved one by one — the same shape as ssoflow-ureq's and ssoflow-tokio's `tls` benches.
//!
//! `cargo bench -p ssoflow-embedded-io --features embedded-tls --bench tls` (`TLS_BENCH_N` sets
//! the count, default 300). Prints `tls embedded new|reused: median_us=… p90_us=… n=…`;
//! `scripts/bench-report` reads those lines.
#![allow(clippy::result_large_err, missing_docs)] // the core's errors carry a body excerpt inline

use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant, SystemTime};

use embedded_io_adapters::std::FromStd;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use ssoflow_core::oauth2;
use ssoflow_embedded_io::tls::embedded_tls::blocking::TlsConnection;
use ssoflow_embedded_io::tls::rand_core::{self, CryptoRng, RngCore};
use ssoflow_embedded_io::tls::{
    self, CaVerified, READ_RECORD_BUF, SANDBOX_SERVER_NAME, Suite, TlsClock, TlsConfig,
    WRITE_RECORD_BUF,
};
use ssoflow_embedded_io::{DEFAULT_BUF, Driver};

type Tls<'b> = TlsConnection<'b, FromStd<TcpStream>, Suite>;

struct OsRandom;

impl RngCore for OsRandom {
    fn next_u32(&mut self) -> u32 {
        rand_core::impls::next_u32_via_fill(self)
    }
    fn next_u64(&mut self) -> u64 {
        rand_core::impls::next_u64_via_fill(self)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        getrandom::fill(dest).expect("OS random source");
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for OsRandom {}

struct SystemClock;

impl TlsClock for SystemClock {
    fn now() -> Option<u64> {
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .ok()
            .map(|d| d.as_secs())
    }
}

fn open<'b>(addr: SocketAddr, ca: &[u8], read: &'b mut [u8], write: &'b mut [u8]) -> Tls<'b> {
    let tcp = TcpStream::connect(addr).expect("connect");
    tcp.set_nodelay(true).expect("nodelay");
    tcp.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let config = TlsConfig::new().with_server_name(SANDBOX_SERVER_NAME);
    let mut tls = TlsConnection::new(FromStd::new(tcp), read, write);
    let mut trust = CaVerified::<_, SystemClock>::with_clock(ca, OsRandom);
    tls::open(&mut tls, &config, &mut trust).expect("verified TLS handshake");
    tls
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return; // `cargo test --benches` / `--list`: nothing to list
    }
    let n: usize = std::env::var("TLS_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let sandbox = ssoflow_sandbox::Sandbox::builder()
        .tls(true)
        .start_blocking()
        .expect("TLS sandbox");
    let addr = sandbox.addr();
    let ca = CertificateDer::from_pem_slice(sandbox.ca_cert_pem().expect("CA").as_bytes())
        .expect("CA PEM")
        .to_vec();
    let c = &sandbox.credentials().oauth2;
    let client = oauth2::Client::new(&format!("{}/token", c.base_url), &c.client_id)
        .and_then(|cl| cl.with_secret(&c.client_secret))
        .expect("client");
    let origin = Instant::now();
    let mut clock = || ssoflow_core::Instant::from_millis(origin.elapsed().as_millis() as u64);

    // The kept connection: its own record buffers and driver buffer for the whole run.
    let (mut kept_read, mut kept_write) = (vec![0u8; READ_RECORD_BUF], vec![0u8; WRITE_RECORD_BUF]);
    let mut kept_buf = vec![0u8; DEFAULT_BUF];
    let mut kept_tls = open(addr, &ca, &mut kept_read, &mut kept_write);
    let mut kept_driver = Driver::new(&mut kept_buf);
    // A new connection's buffers, reused from one connection to the next (as a firmware would).
    let (mut new_read, mut new_write) = (vec![0u8; READ_RECORD_BUF], vec![0u8; WRITE_RECORD_BUF]);
    let mut new_buf = vec![0u8; DEFAULT_BUF];

    let mut round = |timed: bool, new: &mut Vec<Duration>, kept: &mut Vec<Duration>| {
        let t = Instant::now();
        {
            let mut tls = open(addr, &ca, &mut new_read, &mut new_write);
            let mut driver = Driver::new(&mut new_buf);
            let flow = oauth2::client_credentials(&client, None).expect("flow");
            driver
                .run(&mut tls, &mut clock, flow)
                .expect("fetch on a new connection");
            if timed {
                new.push(t.elapsed());
            }
        }
        let t = Instant::now();
        let flow = oauth2::client_credentials(&client, None).expect("flow");
        kept_driver
            .run(&mut kept_tls, &mut clock, flow)
            .expect("fetch on the kept connection");
        assert!(
            kept_driver.is_reusable(),
            "the sandbox keeps the connection"
        );
        if timed {
            kept.push(t.elapsed());
        }
    };
    let (mut new, mut kept) = (Vec::new(), Vec::new());
    for _ in 0..20 {
        round(false, &mut new, &mut kept);
    }
    for _ in 0..n {
        round(true, &mut new, &mut kept);
    }
    for (what, times) in [("new", new), ("reused", kept)] {
        let (median, p90) = stats(times);
        println!(
            "tls embedded {what}: median_us={:.1} p90_us={:.1} n={n}",
            us(median),
            us(p90)
        );
    }
}

fn stats(mut t: Vec<Duration>) -> (Duration, Duration) {
    t.sort();
    let at = |q: f64| t[((t.len() as f64 - 1.0) * q).round() as usize];
    (at(0.5), at(0.9))
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
