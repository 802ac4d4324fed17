//! Interleaved latency of two ways to do the same thing; shared by this crate's `overhead` bench
//! and ssoflow-embedded-io's `tcp` bench (included there by path).

use std::time::{Duration, Instant};

/// What both benches fetch from.
pub struct Setup {
    /// Fetches per side.
    pub n: usize,
    /// The running sandbox (stops when dropped).
    pub sandbox: ssoflow_sandbox::SandboxHandle,
    /// An OAuth 2.0 client with the sandbox's credentials, for its `/oauth2/token`.
    pub client: ssoflow_core::oauth2::Client,
}

/// Start the sandbox; the count comes from `env_var` (default 2000).
pub fn setup(env_var: &str) -> Setup {
    let n = std::env::var(env_var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let sandbox = ssoflow_sandbox::Sandbox::builder()
        .start_blocking()
        .expect("sandbox starts");
    let creds = sandbox.credentials().oauth2.clone();
    let token_url = format!("{}/token", creds.base_url);
    let client = ssoflow_core::oauth2::Client::new(&token_url, &creds.client_id)
        .and_then(|c| c.with_secret(&creds.client_secret))
        .expect("client");
    Setup { n, sandbox, client }
}

/// Median and 99th percentile, in µs, of `n` calls of `a` and of `b`, after 50 warm-up calls
/// of each, interleaved one by one and alternating which goes first, so that both see the
/// same machine and server state.
pub fn interleaved<X, Y>(
    n: usize,
    mut a: impl FnMut() -> X,
    mut b: impl FnMut() -> Y,
) -> [(f64, f64); 2] {
    for _ in 0..50 {
        std::hint::black_box(a());
        std::hint::black_box(b());
    }
    let (mut via_a, mut via_b) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n {
        for a_turn in [i % 2 == 0, i % 2 != 0] {
            let started = Instant::now();
            if a_turn {
                std::hint::black_box(a());
                via_a.push(started.elapsed());
            } else {
                std::hint::black_box(b());
                via_b.push(started.elapsed());
            }
        }
    }
    [stats(&mut via_a), stats(&mut via_b)]
}

/// Print what [`interleaved`] measured: a line per side (`labels`), then the ratio of a to b
/// as `ratio` with `extra` at the end of its line (`scripts/bench-report` reads these lines).
pub fn print(labels: [&str; 2], ratio: &str, extra: &str, results: [(f64, f64); 2]) {
    let width = labels.iter().map(|l| l.len()).max().unwrap_or(0) + 2;
    for (label, (median, p99)) in labels.iter().zip(results) {
        println!("  {label:<width$}median {median:>8.1} µs   p99 {p99:>8.1} µs");
    }
    let [(a_med, a_p99), (b_med, b_p99)] = results;
    println!(
        "  {ratio}   median {:.3}   p99 {:.3}{extra}",
        a_med / b_med,
        a_p99 / b_p99
    );
}

/// Median and 99th percentile, in µs.
fn stats(samples: &mut [Duration]) -> (f64, f64) {
    samples.sort_unstable();
    let at = |q: f64| {
        let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
        samples[i.min(samples.len() - 1)].as_secs_f64() * 1e6
    };
    (at(0.5), at(0.99))
}
