//! Throughput of `POST /oauth2/token` (client_credentials) against an in-process sandbox.
//!
//! `cargo bench -p ssoflow-sandbox --bench token_rps`. N client tasks (default 32,
//! `SANDBOX_BENCH_TASKS`) share one keep-alive client for about 5 seconds (`SANDBOX_BENCH_SECS`), then
//! the requests per second are printed. The sandbox runs on its own 2-thread runtime, the clients on
//! a single-thread one.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ssoflow_sandbox::Sandbox;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secs = env_or("SANDBOX_BENCH_SECS", 5);
    let tasks = env_or("SANDBOX_BENCH_TASKS", 32);
    let sandbox = Sandbox::builder().start_blocking()?;
    let creds = sandbox.credentials().oauth2.clone();
    let url = format!("{}/token", creds.base_url);

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (ok, failed, elapsed) = rt.block_on(async move {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(usize::MAX)
            .build()?;
        let ok = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let start = Instant::now();
        let mut handles = Vec::new();
        for _ in 0..tasks {
            let (client, url, creds) = (client.clone(), url.clone(), creds.clone());
            let (ok, failed, stop) = (ok.clone(), failed.clone(), stop.clone());
            handles.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let sent = client
                        .post(&url)
                        .basic_auth(&creds.client_id, Some(&creds.client_secret))
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body("grant_type=client_credentials")
                        .send()
                        .await;
                    let good = match sent {
                        Ok(resp) if resp.status().as_u16() == 200 => resp.bytes().await.is_ok(),
                        _ => false,
                    };
                    let counter = if good { &ok } else { &failed };
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
        tokio::time::sleep(Duration::from_secs(secs)).await;
        stop.store(true, Ordering::Relaxed);
        for h in handles {
            let _ = h.await;
        }
        let elapsed = start.elapsed();
        Ok::<_, reqwest::Error>((
            ok.load(Ordering::Relaxed),
            failed.load(Ordering::Relaxed),
            elapsed,
        ))
    })?;
    let rps = ok as f64 / elapsed.as_secs_f64();
    println!(
        "token_rps: {ok} ok, {failed} failed in {:.2} s with {tasks} tasks: {rps:.0} requests/second",
        elapsed.as_secs_f64()
    );
    sandbox.shutdown();
    if failed > 0 {
        return Err(format!("{failed} requests failed").into());
    }
    Ok(())
}
