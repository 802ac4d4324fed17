//! `cargo bench -p ssoflow-tokio --bench cache`
//!
//! 1. Cached `TokenCache::get` latency (p50/p99) and throughput with 1, 100 and 10 000
//!    concurrent tasks; the sign-in count must stay 1.
//! 2. Client-credentials token fetches per second over loopback against the sandbox's
//!    `/oauth2/token`: ssoflow-tokio's `Driver` versus the `oauth2` crate (v5, reqwest client with
//!    the same limits: no redirects, connect timeout, overall deadline), same endpoint, same
//!    concurrency, `secs` seconds each per round, interleaved in half-second
//!    slices (A B B A …) so that other load on the machine hits both alike. Also reported: the
//!    CPU per fetch of the client's threads and of the sandbox's, from `/proc` (Linux).
//! 3. Library cost per client-credentials fetch with the network taken out: both libraries
//!    over a transport that answers at once with the same canned token response, on one
//!    thread, interleaved. This is the CPU each library adds to every fetch (request
//!    building, header maps, parsing, moving the token around), free of loopback noise.
//!
//! `SSOFLOW_BENCH_SECS` (default 5) sets the length of each throughput round,
//! `SSOFLOW_BENCH_ROUNDS` (default 2) the number of rounds, `SSOFLOW_BENCH_TASKS`
//! (default 32) the concurrency of part 2. `--cache-only` skips part 2.
#![allow(clippy::result_large_err, missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use oauth2::basic::BasicClient;
use oauth2::{ClientId, ClientSecret, TokenResponse, TokenUrl};
use ssoflow_core::{AccessToken, Expiry, Secret, oauth2 as core_oauth2};
use ssoflow_sandbox::Sandbox;
use ssoflow_tokio::{
    BoxFuture, CacheConfig, Driver, Error, OwnedRequest, OwnedResponse, TokenCache, Transport,
};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The value at quantile `p` (0..=1) of `sorted` (the default when it is empty).
fn percentile<T: Copy + Default>(sorted: &[T], p: f64) -> T {
    if sorted.is_empty() {
        return T::default();
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Cost of reading the clock twice, subtracted from each sample.
fn timer_overhead() -> u64 {
    let mut v: Vec<u64> = (0..10_000)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(());
            t.elapsed().as_nanos() as u64
        })
        .collect();
    v.sort_unstable();
    percentile(&v, 0.5)
}

/// Sign-ins made by the cached-get runs.
static SIGN_INS: AtomicU64 = AtomicU64::new(0);

/// A recipe whose flow answers at once, without I/O: the cached path is what is measured.
struct Instantly;

struct Done(Option<AccessToken>);

impl ssoflow_core::Flow for Done {
    type Output = AccessToken;
    fn poll<'b>(
        &mut self,
        _: ssoflow_core::Instant,
        _: &'b mut [u8],
    ) -> Result<ssoflow_core::Step<'b, AccessToken>, ssoflow_core::Error> {
        self.0
            .take()
            .map(ssoflow_core::Step::Done)
            .ok_or(ssoflow_core::Error::State)
    }
    fn handle(
        &mut self,
        _: ssoflow_core::Instant,
        _: ssoflow_core::Response<'_>,
    ) -> Result<(), ssoflow_core::Error> {
        Err(ssoflow_core::Error::State)
    }
}

impl ssoflow_core::recipe::Recipe for Instantly {
    type Key = ();
    type Output = AccessToken;
    type Flow<'r> = Done;
    fn flow<'r>(
        &'r self,
        _: &'r (),
        _: Option<&AccessToken>,
        _: [u8; 16],
    ) -> Result<Done, ssoflow_core::Error> {
        SIGN_INS.fetch_add(1, Ordering::Relaxed);
        Ok(Done(Some(AccessToken {
            value: Secret::new("bench-token", "t")?,
            expiry: Expiry::Unknown,
        })))
    }
}

fn cached_get(rt: &tokio::runtime::Runtime) {
    println!("== cached TokenCache::get (2 worker threads)");
    println!(
        "{:>8} {:>10} {:>10} {:>10} {:>14} {:>9}",
        "tasks", "gets", "p50 ns", "p99 ns", "gets/s", "sign-ins"
    );
    let overhead = timer_overhead();
    for tasks in [1usize, 100, 10_000] {
        SIGN_INS.store(0, Ordering::Relaxed);
        let driver = Driver::new().expect("driver");
        let cache = TokenCache::new(driver, Instantly, CacheConfig::default());
        let per_task = (2_000_000 / tasks).max(100);
        let (lat, elapsed) = rt.block_on(async {
            let started = Instant::now();
            let handles: Vec<_> = (0..tasks)
                .map(|_| {
                    let cache = cache.clone();
                    tokio::spawn(async move {
                        let mut lat = Vec::with_capacity(per_task);
                        for i in 0..per_task {
                            let t = Instant::now();
                            let token = cache.get(&()).await;
                            lat.push((t.elapsed().as_nanos() as u64).saturating_sub(overhead));
                            std::hint::black_box(token.expect("token"));
                            if i % 16 == 15 {
                                tokio::task::yield_now().await;
                            }
                        }
                        lat
                    })
                })
                .collect();
            let mut all = Vec::with_capacity(tasks * per_task);
            for h in handles {
                all.extend(h.await.expect("task"));
            }
            (all, started.elapsed())
        });
        let mut lat = lat;
        // The first get of the run signs in: report it, then the cached ones.
        lat.sort_unstable();
        println!(
            "{:>8} {:>10} {:>10} {:>10} {:>14.0} {:>9}",
            tasks,
            lat.len(),
            percentile(&lat, 0.5),
            percentile(&lat, 0.99),
            lat.len() as f64 / elapsed.as_secs_f64(),
            SIGN_INS.load(Ordering::Relaxed)
        );
        assert_eq!(SIGN_INS.load(Ordering::Relaxed), 1, "single-flight");
    }
}

/// One slice of client-credentials fetching.
struct Slice {
    done: u64,
    failed: u64,
    elapsed: f64,
    /// CPU seconds the client's runtime threads used (Linux; 0 elsewhere).
    client_cpu: f64,
    /// CPU seconds the sandbox's threads used (Linux; 0 elsewhere).
    server_cpu: f64,
}

/// CPU seconds used so far by this process's threads whose name starts with `prefix`
/// (from `/proc/self/task/*/stat`; 0 where that does not exist).
fn threads_cpu(prefix: &str) -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0.0;
    };
    let mut ticks = 0u64;
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        if !stat[open + 1..close].starts_with(prefix) {
            continue;
        }
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        // utime and stime: fields 14 and 15 of stat, 12 and 13 after the command.
        for i in [11, 12] {
            ticks += fields
                .get(i)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    ticks as f64 / 100.0
}

/// The client runtime's worker threads (the sandbox's are `ssoflow-sandbox-worker`).
const CLIENT_THREADS: &str = "bench-client";
/// The sandbox's worker threads (names are cut to 15 bytes in `/proc`).
const SERVER_THREADS: &str = "ssoflow-sandbox";

/// Length of one slice of the throughput comparison (four make a block).
const SLICE: Duration = Duration::from_millis(500);

/// Run `tasks` copies of `fetch` in a loop for `length`.
async fn rate<F, Fut>(tasks: usize, length: Duration, fetch: F) -> Slice
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    // Let work left over from the previous slice (connections of the other client finishing
    // in the background) run before the clock starts, so it is not billed to this one.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let cpu_before = threads_cpu(CLIENT_THREADS);
    let server_before = threads_cpu(SERVER_THREADS);
    let started = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let (stop, done, failed, fetch) =
                (stop.clone(), done.clone(), failed.clone(), fetch.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    if fetch().await {
                        done.fetch_add(1, Ordering::Relaxed);
                    } else {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(length).await;
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.await.expect("task");
    }
    Slice {
        done: done.load(Ordering::Relaxed),
        failed: failed.load(Ordering::Relaxed),
        elapsed: started.elapsed().as_secs_f64(),
        client_cpu: threads_cpu(CLIENT_THREADS) - cpu_before,
        server_cpu: threads_cpu(SERVER_THREADS) - server_before,
    }
}

fn token_rps(rt: &tokio::runtime::Runtime) {
    let secs = env_u64("SSOFLOW_BENCH_SECS", 5);
    let tasks = env_u64("SSOFLOW_BENCH_TASKS", 32) as usize;
    let rounds = env_u64("SSOFLOW_BENCH_ROUNDS", 2).max(1);
    // The sandbox on a runtime of its own, so both clients meet the same server.
    let sandbox = Sandbox::builder().start_blocking().expect("sandbox");
    let c = sandbox.credentials().oauth2.clone();
    let token_url = format!("{}/token", c.base_url);
    println!("\n== client-credentials fetches/s, {tasks} tasks, {secs} s per round, {token_url}");

    let driver = Driver::new().expect("driver");
    let ours = Arc::new(
        core_oauth2::Client::new(&token_url, &c.client_id)
            .and_then(|cl| cl.with_secret(&c.client_secret))
            .expect("client"),
    );
    let theirs = Arc::new(
        BasicClient::new(ClientId::new(c.client_id.clone()))
            .set_client_secret(ClientSecret::new(c.client_secret.clone()))
            .set_token_uri(TokenUrl::new(token_url.clone()).expect("url")),
    );
    // The same limits as ssoflow-tokio's default transport (no redirects, 5 s to connect, a
    // 10 s deadline for the whole exchange): what a server application would configure. The
    // deadline is a timer per request; reqwest's defaults have none (see BENCHMARKS.md).
    let limits = ssoflow_tokio::Config::default();
    let http = oauth2::reqwest::Client::builder()
        .redirect(oauth2::reqwest::redirect::Policy::none())
        .connect_timeout(limits.connect_timeout)
        .timeout(limits.timeout)
        .build()
        .expect("reqwest");

    let ssoflow_fetch = {
        let (driver, ours) = (driver.clone(), ours.clone());
        move || {
            let (driver, ours) = (driver.clone(), ours.clone());
            async move {
                match core_oauth2::client_credentials(&ours, None) {
                    Ok(flow) => driver
                        .run(flow)
                        .await
                        .is_ok_and(|t| !t.access.value.is_empty()),
                    Err(_) => false,
                }
            }
        }
    };
    let oauth2_fetch = {
        let (theirs, http) = (theirs.clone(), http.clone());
        move || {
            let (theirs, http) = (theirs.clone(), http.clone());
            async move {
                theirs
                    .exchange_client_credentials()
                    .request_async(&http)
                    .await
                    .is_ok_and(|t| !t.access_token().secret().is_empty())
            }
        }
    };

    let (mut ours_total, mut theirs_total) = (0.0, 0.0);
    let (mut ours_cpu, mut theirs_cpu) = (Vec::new(), Vec::new());
    let (mut ours_srv, mut theirs_srv) = (Vec::new(), Vec::new());
    let mut block_ratios = Vec::new();
    let mut slice_rates: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    println!(
        "{:>6} {:>16} {:>16} {:>7} {:>14} {:>14} {:>14} {:>14}",
        "round",
        "ssoflow-tokio/s",
        "oauth2 v5/s",
        "ratio",
        "ours cpu µs",
        "oauth2 cpu µs",
        "ours srv µs",
        "oauth2 srv µs"
    );
    rt.block_on(async {
        // Warm both pools.
        let _ = rate(tasks, SLICE * 4, ssoflow_fetch.clone()).await;
        let _ = rate(tasks, SLICE * 4, oauth2_fetch.clone()).await;
        // Each round is `secs` seconds: blocks of four half-second slices, A B B A then
        // B A A B, so that drift in the machine's load (other processes, other VMs) hits both
        // alike; every block also gives a ratio of its own.
        for round in 1..=rounds {
            let mut sums = [[0.0f64; 5]; 2]; // [ours, theirs] × [done, seconds, failed, cpu, server cpu]
            for block in 0..secs.div_ceil(2) {
                let mut in_block = [[0.0f64; 2]; 2]; // [ours, theirs] × [done, seconds]
                for slice in 0..4 {
                    let ours_turn = matches!(slice, 0 | 3) == (block % 2 == 0);
                    let r = if ours_turn {
                        rate(tasks, SLICE, ssoflow_fetch.clone()).await
                    } else {
                        rate(tasks, SLICE, oauth2_fetch.clone()).await
                    };
                    let side = usize::from(!ours_turn);
                    for (i, v) in [
                        r.done as f64,
                        r.elapsed,
                        r.failed as f64,
                        r.client_cpu,
                        r.server_cpu,
                    ]
                        .into_iter()
                        .enumerate()
                    {
                        sums[side][i] += v;
                    }
                    in_block[side][0] += r.done as f64;
                    in_block[side][1] += r.elapsed;
                    slice_rates[side].push(r.done as f64 / r.elapsed);
                }
                let [a, b] = in_block.map(|[n, t]| n / t);
                block_ratios.push(a / b);
            }
            let [a, b] = sums.map(|[n, t, ..]| n / t);
            assert_eq!((sums[0][2], sums[1][2]), (0.0, 0.0), "every fetch succeeds");
            ours_total += a;
            theirs_total += b;
            let [a_us, b_us] = sums.map(|[n, _, _, cpu, _]| cpu / n * 1e6);
            let [a_srv, b_srv] = sums.map(|[n, _, _, _, cpu]| cpu / n * 1e6);
            ours_srv.push(a_srv);
            theirs_srv.push(b_srv);
            ours_cpu.push(a_us);
            theirs_cpu.push(b_us);
            println!(
                "{round:>6} {a:>16.0} {b:>16.0} {:>7.3} {a_us:>14.1} {b_us:>14.1} {a_srv:>14.1} {b_srv:>14.1}",
                a / b
            );
        }
    });
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    block_ratios.sort_by(f64::total_cmp);
    let at = |q: f64| percentile(&block_ratios, q);
    println!(
        "{:>6} {:>16.0} {:>16.0} {:>7.3} {:>14.1} {:>14.1} {:>14.1} {:>14.1}",
        "mean",
        ours_total / rounds as f64,
        theirs_total / rounds as f64,
        ours_total / theirs_total,
        mean(&ours_cpu),
        mean(&theirs_cpu),
        mean(&ours_srv),
        mean(&theirs_srv)
    );
    println!(
        "blocks {}: median ratio {:.3}, p10 {:.3}, p90 {:.3}",
        block_ratios.len(),
        at(0.5),
        at(0.1),
        at(0.9)
    );
    // Interference from outside only ever slows a slice down, so the fastest slices are each
    // client's rate with the machine left alone: the ratio of the 90th percentiles.
    let slices = slice_rates[0].len();
    let [ours_p90, theirs_p90] = slice_rates.map(|mut v| {
        v.sort_by(f64::total_cmp);
        percentile(&v, 0.9)
    });
    println!(
        "fastest slices (p90 of {slices} each): {ours_p90:.0}/s vs {theirs_p90:.0}/s, ratio {:.3}",
        ours_p90 / theirs_p90
    );
    println!(
        "(cpu µs: the client's threads' CPU per fetch; srv µs: the sandbox's threads' CPU per fetch)"
    );
    drop(sandbox);
}

/// The token endpoint's answer both libraries get in part 3.
const CANNED_BODY: &[u8] =
    br#"{"access_token":"2YotnFZFEjr1zCsicMWpAA","token_type":"Bearer","expires_in":3600}"#;

/// A transport that answers every request with [`CANNED_BODY`] at once.
struct Canned;

impl Transport for Canned {
    fn send(&self, _: OwnedRequest) -> BoxFuture<'_, Result<OwnedResponse, Error>> {
        Box::pin(async {
            let mut response = OwnedResponse::new(200, CANNED_BODY);
            response.headers.insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
            Ok(response)
        })
    }
}

fn library_cost() {
    let rounds = env_u64("SSOFLOW_BENCH_ROUNDS", 2).max(1) as usize * 3;
    let n = 100_000;
    println!("\n== library CPU per client-credentials fetch, canned answer, no network (1 thread)");
    println!(
        "{:>6} {:>16} {:>16} {:>7}",
        "round", "ssoflow-tokio ns", "oauth2 v5 ns", "ratio"
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let url = "https://auth.example/oauth2/token";
    let ours = core_oauth2::Client::new(url, "fake-client")
        .and_then(|c| c.with_secret("fake-secret"))
        .expect("client");
    let driver = Driver::with_transport(Canned);
    let theirs = BasicClient::new(ClientId::new("fake-client".into()))
        .set_client_secret(ClientSecret::new("fake-secret".into()))
        .set_token_uri(TokenUrl::new(url.into()).expect("url"));
    let canned = |_: oauth2::HttpRequest| async {
        http::Response::builder()
            .status(200)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(CANNED_BODY.to_vec())
            .map_err(|_| std::io::Error::other("response"))
    };
    let mut ratios = Vec::new();
    let (mut a_all, mut b_all) = (0.0, 0.0);
    rt.block_on(async {
        for round in 0..=rounds {
            let timed = Instant::now();
            for _ in 0..n {
                let flow = core_oauth2::client_credentials(&ours, None).expect("flow");
                let tokens = driver.run(flow).await.expect("ours");
                assert!(!tokens.access.value.is_empty());
            }
            let a = timed.elapsed().as_nanos() as f64 / n as f64;
            let timed = Instant::now();
            for _ in 0..n {
                let tokens = theirs
                    .exchange_client_credentials()
                    .request_async(&canned)
                    .await
                    .expect("oauth2");
                assert!(!tokens.access_token().secret().is_empty());
            }
            let b = timed.elapsed().as_nanos() as f64 / n as f64;
            if round == 0 {
                continue; // warm-up
            }
            ratios.push(a / b);
            a_all += a;
            b_all += b;
            println!("{round:>6} {a:>16.0} {b:>16.0} {:>7.3}", a / b);
        }
    });
    ratios.sort_by(f64::total_cmp);
    println!(
        "{:>6} {:>16.0} {:>16.0} {:>7.3}  (median ratio {:.3}; ratio < 1: ssoflow-tokio cheaper)",
        "mean",
        a_all / rounds as f64,
        b_all / rounds as f64,
        a_all / b_all,
        percentile(&ratios, 0.5)
    );
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(CLIENT_THREADS)
        .enable_all()
        .build()
        .expect("runtime");
    cached_get(&rt);
    if std::env::args().any(|a| a == "--cache-only") {
        return;
    }
    library_cost();
    token_rps(&rt);
}
