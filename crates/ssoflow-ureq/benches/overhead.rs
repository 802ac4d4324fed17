//! What the driver costs over raw ureq: client-credentials token fetches against the sandbox's
//! `/oauth2/token`, through `Driver::run(oauth2::client_credentials(..))` and through the same
//! request made by hand with ureq (same agent settings, same headers and form body, answer parsed
//! with serde_json), interleaved one by one so both see the same machine and server state.
//!
//! `cargo bench -p ssoflow-ureq --bench overhead` (`OVERHEAD_N` sets the count, default 2000).

#![allow(clippy::result_large_err)] // the core's errors carry a body excerpt inline

use std::time::{Duration, Instant};

use ssoflow_core::oauth2;
use ssoflow_ureq::{Config, Driver};

fn main() {
    let n: usize = std::env::var("OVERHEAD_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let sandbox = ssoflow_sandbox::Sandbox::builder()
        .start_blocking()
        .expect("sandbox starts");
    let creds = sandbox.credentials().oauth2.clone();
    let token_url = format!("{}/token", creds.base_url);

    let driver = Driver::new(Config::default());
    let client = oauth2::Client::new(&token_url, &creds.client_id)
        .and_then(|c| c.with_secret(&creds.client_secret))
        .expect("client");

    // The raw side: its own agent with the driver's settings, and the very bytes the core sends.
    let raw = Driver::new(Config::default());
    let mut buf = vec![0u8; 4096];
    let (headers, body) = {
        let mut flow = oauth2::client_credentials(&client, None).expect("flow");
        match ssoflow_core::Flow::poll(&mut flow, ssoflow_core::Instant::from_millis(0), &mut buf) {
            Ok(ssoflow_core::Step::Send(r)) => (
                r.headers()
                    .iter()
                    .map(|h| (h.name.to_owned(), h.value.to_vec()))
                    .collect::<Vec<_>>(),
                r.body.to_vec(),
            ),
            other => panic!("unexpected first step: {other:?}"),
        }
    };
    let raw_fetch = || -> String {
        let mut req = ureq::http::Request::builder()
            .method("POST")
            .uri(&token_url);
        for (name, value) in &headers {
            req = req.header(name.as_str(), value.as_slice());
        }
        let req = req.body(body.as_slice()).expect("request");
        let mut resp = raw.agent().run(req).expect("raw request");
        assert_eq!(resp.status().as_u16(), 200);
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(64 * 1024)
            .read_to_vec()
            .expect("raw body");
        let v: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
        v["access_token"].as_str().expect("access_token").to_owned()
    };
    let driver_fetch = || {
        let flow = oauth2::client_credentials(&client, None).expect("flow");
        driver.run(flow).expect("driver request")
    };

    // Warm up both connection pools.
    for _ in 0..50 {
        let _ = raw_fetch();
        let _ = driver_fetch();
    }

    let mut via_driver = Vec::with_capacity(n);
    let mut via_raw = Vec::with_capacity(n);
    for i in 0..n {
        // Alternate which goes first so neither always follows the other.
        let order = [i % 2 == 0, i % 2 != 0];
        for driver_turn in order {
            let started = Instant::now();
            if driver_turn {
                std::hint::black_box(driver_fetch());
                via_driver.push(started.elapsed());
            } else {
                std::hint::black_box(raw_fetch());
                via_raw.push(started.elapsed());
            }
        }
    }

    let (d_med, d_p99) = stats(&mut via_driver);
    let (r_med, r_p99) = stats(&mut via_raw);
    println!("client-credentials token fetches against the sandbox, n = {n} each, interleaved");
    println!(
        "  ssoflow-ureq Driver::run   median {:>8.1} µs   p99 {:>8.1} µs",
        micros(d_med),
        micros(d_p99)
    );
    println!(
        "  raw ureq + serde_json      median {:>8.1} µs   p99 {:>8.1} µs",
        micros(r_med),
        micros(r_p99)
    );
    println!(
        "  overhead ratio (driver / raw)   median {:.3}   p99 {:.3}",
        micros(d_med) / micros(r_med),
        micros(d_p99) / micros(r_p99)
    );
}

/// Median and 99th percentile.
fn stats(samples: &mut [Duration]) -> (Duration, Duration) {
    samples.sort_unstable();
    let at = |q: f64| {
        let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
        samples[i.min(samples.len() - 1)]
    };
    (at(0.5), at(0.99))
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
