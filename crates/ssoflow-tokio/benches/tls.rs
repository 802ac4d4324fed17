//! HTTPS cost: one client-credentials token fetch against the TLS sandbox, on a new connection
//! (a new transport: TCP connect + TLS 1.3 handshake + fetch) vs on a reused one (the pooled
//! connection of a transport that already fetched), interleaved one by one.
//!
//! `cargo bench -p ssoflow-tokio --bench tls` (`TLS_BENCH_N` sets the count, default 300). Prints
//! `tls tokio new|reused: median_us=… p90_us=… n=…`; `scripts/bench-report` reads those lines.

#![allow(clippy::result_large_err)] // the core's errors carry a body excerpt inline

use std::time::{Duration, Instant};

use ssoflow_core::oauth2;
use ssoflow_tokio::{Driver, ReqwestTransport};

fn main() {
    let n: usize = std::env::var("TLS_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // The sandbox on its own runtime thread, as a remote server would be.
    let sandbox = ssoflow_sandbox::Sandbox::builder()
        .tls(true)
        .start_blocking()
        .expect("TLS sandbox");
    let ca = sandbox.ca_cert_pem().expect("CA").as_bytes().to_vec();
    let c = &sandbox.credentials().oauth2;
    let client = oauth2::Client::new(&format!("{}/token", c.base_url), &c.client_id)
        .and_then(|cl| cl.with_secret(&c.client_secret))
        .expect("client");
    let driver = || {
        let transport = ReqwestTransport::builder()
            .no_proxy()
            .add_root_certificates_pem(&ca)
            .and_then(|b| b.build())
            .expect("transport");
        Driver::with_transport(transport)
    };
    rt.block_on(async {
        let fetch = |d: Driver| {
            let flow = oauth2::client_credentials(&client, None).expect("flow");
            async move {
                d.run(flow).await.expect("token");
            }
        };
        let reused = driver();
        for _ in 0..20 {
            fetch(reused.clone()).await;
            fetch(driver()).await;
        }
        let (mut new, mut kept) = (Vec::new(), Vec::new());
        for _ in 0..n {
            let fresh = driver();
            let t = Instant::now();
            fetch(fresh).await;
            new.push(t.elapsed());
            let t = Instant::now();
            fetch(reused.clone()).await;
            kept.push(t.elapsed());
        }
        for (what, times) in [("new", new), ("reused", kept)] {
            let (median, p90) = stats(times);
            println!(
                "tls tokio {what}: median_us={:.1} p90_us={:.1} n={n}",
                us(median),
                us(p90)
            );
        }
    });
}

fn stats(mut t: Vec<Duration>) -> (Duration, Duration) {
    t.sort();
    let at = |q: f64| t[((t.len() as f64 - 1.0) * q).round() as usize];
    (at(0.5), at(0.9))
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
