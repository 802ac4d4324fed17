//! HTTPS cost: one client-credentials token fetch against the TLS sandbox, on a new connection
//! (a new driver: TCP connect + TLS 1.3 handshake + fetch) vs on a reused one (the pooled
//! connection of a driver that already fetched), interleaved one by one.
//!
//! `cargo bench -p ssoflow-ureq --bench tls` (`TLS_BENCH_N` sets the count, default 300). Prints
//! `tls ureq new|reused|roots: median_us=… p90_us=… n=…`; `scripts/bench-report` reads those lines.

#![allow(clippy::result_large_err)] // the core's errors carry a body excerpt inline

use std::time::{Duration, Instant};

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use ssoflow_core::oauth2;
use ssoflow_ureq::Driver;

fn main() {
    let n: usize = std::env::var("TLS_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
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
        Driver::builder()
            .no_proxy()
            .add_root_certificates_pem(&ca)
            .and_then(|b| b.build())
            .expect("driver")
    };
    let fetch = |d: &Driver| {
        d.run(oauth2::client_credentials(&client, None).expect("flow"))
            .expect("token");
    };
    let reused = driver();
    for _ in 0..20 {
        fetch(&reused);
        fetch(&driver());
    }
    let (mut new, mut kept, mut roots) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..n {
        let fresh = driver();
        let t = Instant::now();
        fetch(&fresh);
        new.push(t.elapsed());
        let t = Instant::now();
        fetch(&reused);
        kept.push(t.elapsed());
        // What ureq does lazily on a new agent's first connection: its root store (Mozilla's
        // roots plus the CA), part of the "new" time above.
        let t = Instant::now();
        let mut store = rustls::RootCertStore::empty();
        store.add_parsable_certificates(
            webpki_root_certs::TLS_SERVER_ROOT_CERTS
                .iter()
                .cloned()
                .chain(CertificateDer::pem_slice_iter(&ca).flatten()),
        );
        roots.push(t.elapsed());
        std::hint::black_box(store);
    }
    for (what, times) in [("new", new), ("reused", kept), ("roots", roots)] {
        let (median, p90) = stats(times);
        println!(
            "tls ureq {what}: median_us={:.1} p90_us={:.1} n={n}",
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
