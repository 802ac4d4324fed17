//! The firmware driver over a real TCP connection, against ssoflow-ureq: client-credentials
//! token fetches against the sandbox's `/oauth2/token`, one by one, interleaved (alternating
//! which goes first) so both see the same machine and server state. Both keep their connection
//! alive between fetches: ssoflow-embedded-io on one `std::net::TcpStream` (reconnecting only
//! when the server closes it), ssoflow-ureq on its agent's pool.
//!
//! `cargo bench -p ssoflow-embedded-io --bench tcp` (`TCP_BENCH_N` sets the count, default 2000).
#![allow(clippy::result_large_err, missing_docs)] // the core's errors carry a body excerpt inline

use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

#[path = "../../ssoflow-ureq/benches/latency/mod.rs"]
mod latency;

use embedded_io_adapters::std::FromStd;
use ssoflow_core::oauth2;
use ssoflow_embedded_io::{DEFAULT_BUF, Driver};

fn connect(addr: SocketAddr) -> FromStd<TcpStream> {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_nodelay(true).expect("nodelay");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    FromStd::new(s)
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return; // `cargo test --benches` / `--list`: nothing to list
    }
    let latency::Setup {
        n, sandbox, client, ..
    } = latency::setup("TCP_BENCH_N");

    let mut buf = vec![0u8; DEFAULT_BUF];
    let mut firmware = Driver::new(&mut buf);
    let mut stream = connect(sandbox.addr());
    let origin = Instant::now();
    let mut clock = || ssoflow_core::Instant::from_millis(origin.elapsed().as_millis() as u64);
    let reconnects = std::cell::Cell::new(0u32);
    let embedded_fetch = || {
        if !firmware.is_reusable() {
            stream = connect(sandbox.addr());
            firmware.reset();
            reconnects.set(reconnects.get() + 1);
        }
        let flow = oauth2::client_credentials(&client, None).expect("flow");
        firmware
            .run(&mut stream, &mut clock, flow)
            .expect("embedded-io fetch")
    };
    let ureq = ssoflow_ureq::Driver::new(ssoflow_ureq::Config::default());
    let ureq_fetch = || {
        let flow = oauth2::client_credentials(&client, None).expect("flow");
        ureq.run(flow).expect("ureq fetch")
    };

    let results = latency::interleaved(n, embedded_fetch, ureq_fetch);
    println!("client-credentials token fetches over loopback TCP, n = {n} each, interleaved");
    latency::print(
        [
            "ssoflow-embedded-io (blocking, one TcpStream)",
            "ssoflow-ureq",
        ],
        "ratio (embedded-io / ureq)",
        &format!("   reconnects {}", reconnects.get()),
        results,
    );
}
