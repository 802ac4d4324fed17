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
//! 4. Client-credentials fetches per second against a bare reqwest POST of the very same
//!    request bytes (the core's headers and form body; answer read to bytes, not parsed) and
//!    against the `oauth2` crate: a one-thread stub token endpoint (`stub/mod.rs` in
//!    ssoflow-ureq's benches), the client on one tokio worker thread so that its CPU is the
//!    bottleneck (client and stub pinned to CPUs 0 and 1 where there are two), 8 fetches at
//!    once; each round runs every side in 50 ms slices in rotating order. The reqwest clients
//!    are set up alike (ssoflow's transport settings), and the bench checks that ssoflow-tokio
//!    and the bare side put the same bytes on the wire. A fourth side, ssoflow-tokio's send
//!    path alone (the same request written with the core's `RequestBuilder`, sent with
//!    `Driver::send`, answer not parsed), separates the driver's own cost from the flow's.
//!    `--bare-count SIDE N` runs `N` fetches of one side and prints its CPU per fetch (for a
//!    profiler or A/B runs).
//!
//! `SSOFLOW_BENCH_SECS` (default 5) sets the length of each throughput round,
//! `SSOFLOW_BENCH_ROUNDS` (default 2) the number of rounds, `SSOFLOW_BENCH_TASKS`
//! (default 32) the concurrency of part 2. `--cache-only` runs part 1 alone. Part 4:
//! `SSOFLOW_BARE_ROUNDS` (default 9), `SSOFLOW_BARE_SECS` (default 2, per side and round),
//! `SSOFLOW_BARE_TASKS` (default 8); `--bare-only` runs part 4 alone.
#![allow(clippy::result_large_err, missing_docs)]

#[path = "../../ssoflow-ureq/benches/stub/mod.rs"]
mod stub;

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
use stub::threads_cpu;

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

/// A recipe whose flow answers at once (one request to the [`Canned`] transport, no network):
/// the cached path is what is measured.
struct Instantly;

/// Sends one request, then takes its token as the answer's output.
struct Done(Option<AccessToken>);

impl ssoflow_core::Flow for Done {
    type Output = AccessToken;
    fn poll<'b>(
        &mut self,
        _: ssoflow_core::Instant,
        buf: &'b mut [u8],
    ) -> Result<ssoflow_core::Step<'b>, ssoflow_core::Error> {
        if self.0.is_none() {
            return Ok(ssoflow_core::Step::Done);
        }
        let request = ssoflow_core::RequestBuilder::new(
            buf,
            ssoflow_core::Method::Get,
            "http://127.0.0.1",
            "/token",
        );
        Ok(ssoflow_core::Step::Send(request.finish()?))
    }
    fn handle(
        &mut self,
        _: ssoflow_core::Instant,
        _: ssoflow_core::Response<'_>,
        out: &mut Option<AccessToken>,
    ) -> Result<(), ssoflow_core::Error> {
        *out = Some(self.0.take().ok_or(ssoflow_core::Error::State)?);
        Ok(())
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
        let driver = Driver::with_transport(Canned);
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
    /// Seconds the client's threads were runnable but waiting for a CPU (other load).
    client_wait: f64,
}

/// The client runtime's worker threads (the sandbox's are `ssoflow-sandbox-worker`).
const CLIENT_THREADS: &str = "bench-client";
/// The sandbox's worker threads (names are cut to 15 bytes in `/proc`).
const SERVER_THREADS: &str = "ssoflow-sandbox";

/// Part 2's pause before each slice: work left over from the previous slice (connections of
/// the other client finishing in the background) runs before the clock starts.
const SETTLE: Duration = Duration::from_millis(100);

/// Part 2's client and server threads.
const SANDBOX: (&str, &str) = (CLIENT_THREADS, SERVER_THREADS);

/// Length of one slice of the throughput comparison (four make a block).
const SLICE: Duration = Duration::from_millis(500);

/// Run `tasks` copies of `fetch` in a loop for `length`, after `settle`; CPU is counted for
/// the threads named `threads.0` (the client) and `threads.1` (the server).
async fn rate<F, Fut>(
    tasks: usize,
    length: Duration,
    fetch: F,
    threads: (&'static str, &'static str),
    settle: Duration,
) -> Slice
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    // Let work left over from the previous slice (connections of the other client finishing
    // in the background) run before the clock starts, so it is not billed to this one.
    tokio::time::sleep(settle).await;
    let (client_threads, server_threads) = threads;
    let (cpu_before, wait_before) = stub::threads_sched(client_threads);
    let server_before = threads_cpu(server_threads);
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
        client_cpu: stub::threads_sched(client_threads).0 - cpu_before,
        server_cpu: threads_cpu(server_threads) - server_before,
        client_wait: stub::threads_sched(client_threads).1 - wait_before,
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
        let _ = rate(tasks, SLICE * 4, ssoflow_fetch.clone(), SANDBOX, SETTLE).await;
        let _ = rate(tasks, SLICE * 4, oauth2_fetch.clone(), SANDBOX, SETTLE).await;
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
                        rate(tasks, SLICE, ssoflow_fetch.clone(), SANDBOX, SETTLE).await
                    } else {
                        rate(tasks, SLICE, oauth2_fetch.clone(), SANDBOX, SETTLE).await
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

/// Part 4's client runtime threads (one worker).
const BARE_CLIENT: &str = "bare-client";

/// A reqwest client set up as ssoflow-tokio's default transport sets up its own (no redirects,
/// the same connect timeout, overall deadline, `User-Agent`, `TCP_NODELAY`, pool idle timeout,
/// no proxy): the bare and `oauth2` sides of part 4 use it, so all three send through equal
/// clients.
fn client_like_ssoflow() -> reqwest::Client {
    let limits = ssoflow_tokio::Config::default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(limits.connect_timeout)
        .timeout(limits.timeout)
        .user_agent(limits.user_agent)
        .tcp_nodelay(true)
        .pool_idle_timeout(Duration::from_secs(90))
        .no_proxy()
        .build()
        .expect("reqwest")
}

/// The ways part 4 fetches a token. Each is an `async fn` whose future lives inline in the
/// fetching task (none is boxed per fetch: a boxed 4 KiB future would go past the allocator's
/// per-thread cache and bill that to one side only).
struct Sides {
    driver: Driver,
    ours: core_oauth2::Client,
    /// The core's request, for the send-path side: URL, `Authorization` value, form body.
    url: String,
    authorization: String,
    form: String,
    /// The bytes the core writes: its headers in its order, its form body.
    headers: http::HeaderMap,
    body: bytes::Bytes,
    target: reqwest::Url,
    http: reqwest::Client,
    theirs: oauth2::basic::BasicClient<
        oauth2::EndpointNotSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointSet,
    >,
}

/// Names of the sides, in their order.
const SIDES: [&str; 4] = [
    "ssoflow-tokio",
    "bare reqwest",
    "oauth2 v5",
    "ssoflow-tokio send path",
];

impl Sides {
    /// ssoflow-tokio: `Driver::run(oauth2::client_credentials(..))`.
    async fn ours(&self) -> bool {
        match core_oauth2::client_credentials(&self.ours, None) {
            Ok(flow) => self
                .driver
                .run(flow)
                .await
                .is_ok_and(|t| !t.access.value.is_empty()),
            Err(_) => false,
        }
    }

    /// A bare reqwest POST of the core's bytes; the answer read to bytes, not parsed.
    async fn bare(&self) -> bool {
        let sent = self
            .http
            .request(reqwest::Method::POST, self.target.clone())
            .headers(self.headers.clone())
            .body(self.body.clone())
            .send()
            .await;
        match sent {
            Ok(response) if response.status() == 200 => {
                response.bytes().await.is_ok_and(|b| !b.is_empty())
            }
            _ => false,
        }
    }

    /// ssoflow-tokio's send path alone, for comparison: the same request written into the
    /// thread's scratch buffer with the core's `RequestBuilder` (no flow: no credentials
    /// encoded, nothing parsed), copied out (`OwnedRequest::write_with`) and sent with
    /// `Driver::send`; the answer checked for its status, not parsed.
    async fn send_path(&self) -> bool {
        let request = OwnedRequest::write_with(|buf| {
            let mut rb =
                ssoflow_core::RequestBuilder::new(buf, ssoflow_core::Method::Post, &self.url, "");
            rb.header("Authorization", &self.authorization);
            rb.raw_body("application/x-www-form-urlencoded", self.form.as_bytes());
            rb.finish()
        });
        match request {
            Ok(request) => self
                .driver
                .send(request)
                .await
                .is_ok_and(|r| r.status == 200 && !r.body.is_empty()),
            Err(_) => false,
        }
    }

    /// The `oauth2` crate v5 over an equal reqwest client.
    async fn oauth2(&self) -> bool {
        self.theirs
            .exchange_client_credentials()
            .request_async(&self.http)
            .await
            .is_ok_and(|t| !t.access_token().secret().is_empty())
    }

    /// Run side `side` for `length` with `tasks` tasks (after a 5 ms pause: each side has
    /// its own connections, and a slice ends when its last fetch has).
    async fn rate(self: &Arc<Self>, side: usize, tasks: usize, length: Duration) -> Slice {
        const THREADS: (&str, &str) = (BARE_CLIENT, stub::THREAD);
        const SETTLE: Duration = Duration::from_millis(5);
        let sides = self.clone();
        match side {
            0 => {
                let f = move || {
                    let s = sides.clone();
                    async move { s.ours().await }
                };
                rate(tasks, length, f, THREADS, SETTLE).await
            }
            1 => {
                let f = move || {
                    let s = sides.clone();
                    async move { s.bare().await }
                };
                rate(tasks, length, f, THREADS, SETTLE).await
            }
            2 => {
                let f = move || {
                    let s = sides.clone();
                    async move { s.oauth2().await }
                };
                rate(tasks, length, f, THREADS, SETTLE).await
            }
            _ => {
                let f = move || {
                    let s = sides.clone();
                    async move { s.send_path().await }
                };
                rate(tasks, length, f, THREADS, SETTLE).await
            }
        }
    }
}

/// Part 4's stub, client runtime and sides.
struct Bare {
    server: stub::Stub,
    rt: tokio::runtime::Runtime,
    sides: Arc<Sides>,
    /// Client and stub pinned to CPUs 0 and 1.
    pin: bool,
}

fn bare_setup() -> Bare {
    let pin = stub::can_pin();
    let server = stub::Stub::start(pin.then_some(1));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name(BARE_CLIENT)
        .on_thread_start(move || {
            if pin {
                stub::pin_to(0);
            }
        })
        .enable_all()
        .build()
        .expect("runtime");
    let url = server.url.clone();
    let ours = core_oauth2::Client::new(&url, "bench-client")
        .and_then(|c| c.with_secret("bench-secret"))
        .expect("client");
    let (headers, body) = {
        let mut buf = vec![0u8; 4096];
        let mut flow = core_oauth2::client_credentials(&ours, None).expect("flow");
        match ssoflow_core::Flow::poll(&mut flow, ssoflow_core::Instant::from_millis(0), &mut buf) {
            Ok(ssoflow_core::Step::Send(r)) => {
                let mut headers = http::HeaderMap::new();
                for h in r.headers() {
                    headers.append(
                        http::HeaderName::from_bytes(h.name.as_bytes()).expect("name"),
                        http::HeaderValue::from_bytes(h.value).expect("value"),
                    );
                }
                (headers, bytes::Bytes::copy_from_slice(r.body))
            }
            other => panic!("unexpected first step: {other:?}"),
        }
    };
    let header = |name: &str| {
        String::from_utf8(headers.get(name).expect("header").as_bytes().to_vec()).expect("text")
    };
    let sides = Arc::new(Sides {
        driver: Driver::new().expect("driver"),
        url: url.clone(),
        authorization: header("authorization"),
        form: String::from_utf8(body.to_vec()).expect("form"),
        ours,
        headers,
        body,
        target: reqwest::Url::parse(&url).expect("url"),
        http: client_like_ssoflow(),
        theirs: BasicClient::new(ClientId::new("bench-client".into()))
            .set_client_secret(ClientSecret::new("bench-secret".into()))
            .set_token_uri(TokenUrl::new(url.clone()).expect("url")),
    });
    Bare {
        server,
        rt,
        sides,
        pin,
    }
}

/// `--bare-count SIDE N`: `N` fetches by side `SIDE` (0 ssoflow-tokio, 1 bare reqwest, 2 the
/// `oauth2` crate, 3 ssoflow-tokio's send path alone), `SSOFLOW_BARE_TASKS` at once, and nothing else: for a profiler
/// (`valgrind --tool=callgrind`, `perf record`), e.g. instructions per fetch from two counts.
fn bare_count(side: usize, n: usize) {
    let tasks = env_u64("SSOFLOW_BARE_TASKS", 8) as usize;
    let Bare {
        server, rt, sides, ..
    } = bare_setup();
    let (cpu, wait) = stub::threads_sched(BARE_CLIENT);
    let started = Instant::now();
    rt.block_on(async {
        let handles: Vec<_> = (0..tasks)
            .map(|t| {
                let sides = sides.clone();
                let mine = n / tasks + usize::from(t < n % tasks);
                tokio::spawn(async move {
                    for _ in 0..mine {
                        let ok = match side {
                            0 => sides.ours().await,
                            1 => sides.bare().await,
                            2 => sides.oauth2().await,
                            _ => sides.send_path().await,
                        };
                        assert!(ok, "fetch");
                    }
                })
            })
            .collect();
        for h in handles {
            h.await.expect("task");
        }
    });
    let elapsed = started.elapsed().as_secs_f64();
    let (cpu_after, wait_after) = stub::threads_sched(BARE_CLIENT);
    assert_eq!(server.served(), n as u64);
    println!(
        "{}: {n} fetches, {:.0}/s, client CPU {:.3} µs per fetch, waiting for its CPU {:.0} % of the time",
        SIDES[side],
        n as f64 / elapsed,
        (cpu_after - cpu) / n as f64 * 1e6,
        (wait_after - wait) / elapsed * 100.0
    );
    drop(rt);
}

/// Part 4: ssoflow-tokio against a bare reqwest POST of the very same request bytes (answer
/// read to bytes, not parsed) and against the `oauth2` crate, on a one-thread stub token
/// endpoint, the client on one tokio worker thread (so its CPU is the bottleneck), `tasks`
/// fetches at once, `rounds` rounds of `secs` seconds per side in rotating order.
fn versus_bare() {
    let secs = std::env::var("SSOFLOW_BARE_SECS")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(2.0);
    let rounds = env_u64("SSOFLOW_BARE_ROUNDS", 9).max(1) as usize;
    let tasks = env_u64("SSOFLOW_BARE_TASKS", 8) as usize;
    let Bare {
        server,
        rt,
        sides,
        pin,
    } = bare_setup();
    println!(
        "\n== client-credentials fetches/s vs bare reqwest: stub token endpoint (1 thread{}), \
         client on 1 tokio worker thread{}, {tasks} tasks, {rounds} rounds x {secs} s, {}",
        if pin { ", CPU 1" } else { "" },
        if pin { " (CPU 0)" } else { "" },
        server.url
    );

    // The same bytes on the wire: one request from ssoflow-tokio, bare reqwest and the send
    // path, compared.
    let (ok, captured) = server.capture(|| {
        rt.block_on(async { sides.ours().await && sides.bare().await && sides.send_path().await })
    });
    assert!(ok, "every side fetches a token");
    assert_eq!(captured.len(), 3, "one request each");
    for (i, other) in [(1, "bare reqwest"), (2, "the send path")] {
        assert!(
            captured[0] == captured[i],
            "ssoflow-tokio and {other} send different bytes:\n{}\n---\n{}",
            String::from_utf8_lossy(&captured[0]),
            String::from_utf8_lossy(&captured[i])
        );
    }
    println!(
        "same request bytes from ssoflow-tokio and bare reqwest: yes ({} B, head and body)",
        captured[0].len()
    );
    let length = Duration::from_secs_f64(secs);
    // Each round runs every side for `length`, in slices of 50 ms, in an order that rotates
    // and reverses from slice to slice, so that changes in the machine's speed (other load,
    // other virtual machines on the host) hit every side alike; a round's ratio is of its
    // sums.
    const ORDERS: [[usize; 4]; 8] = [
        [0, 1, 2, 3],
        [3, 2, 1, 0],
        [1, 2, 3, 0],
        [0, 3, 2, 1],
        [2, 3, 0, 1],
        [1, 0, 3, 2],
        [3, 0, 1, 2],
        [2, 1, 0, 3],
    ];
    let slices = (secs / 0.05).round().max(1.0) as usize;
    let mut rates = vec![[0.0f64; 4]; rounds];
    let mut cpu = vec![[0.0f64; 4]; rounds];
    let mut busy = vec![[0.0f64; 4]; rounds];
    let mut srv = vec![[0.0f64; 4]; rounds];
    let mut waiting = Vec::new();
    println!(
        "{:>6} {:>16} {:>15} {:>12} {:>10} {:>8} {:>9} {:>9} {:>8} {:>8} {:>9} {:>8} {:>7}",
        "round",
        "ssoflow-tokio/s",
        "bare reqwest/s",
        "oauth2 v5/s",
        "send path/s",
        "vs bare",
        "vs oauth2",
        "send/bare",
        "ours µs",
        "bare µs",
        "oauth2 µs",
        "send µs",
        "srv µs"
    );
    rt.block_on(async {
        for side in 0..SIDES.len() {
            let _ = sides.rate(side, tasks, Duration::from_secs(1)).await;
        }
        for round in 0..rounds {
            // [side] × [done, seconds, client cpu, server cpu, client waiting]
            let mut sum = [[0.0f64; 5]; 4];
            for slice in 0..slices {
                for &side in &ORDERS[(round * slices + slice) % ORDERS.len()] {
                    let r = sides.rate(side, tasks, length / slices as u32).await;
                    assert_eq!(r.failed, 0, "every fetch succeeds ({})", SIDES[side]);
                    for (i, v) in [
                        r.done as f64,
                        r.elapsed,
                        r.client_cpu,
                        r.server_cpu,
                        r.client_wait,
                    ]
                    .into_iter()
                    .enumerate()
                    {
                        sum[side][i] += v;
                    }
                }
            }
            for (side, [n, t, c, sv, wt]) in sum.into_iter().enumerate() {
                rates[round][side] = n / t;
                cpu[round][side] = c / n * 1e6;
                busy[round][side] = c / t;
                srv[round][side] = sv / n * 1e6;
                waiting.push(wt / t);
            }
            let [a, b, c, d] = rates[round];
            let [ca, cb, cc, cd] = cpu[round];
            let s = srv[round].iter().sum::<f64>() / 4.0;
            println!(
                "{:>6} {a:>16.0} {b:>15.0} {c:>12.0} {d:>10.0} {:>8.3} {:>9.3} {:>9.3} {ca:>8.2} {cb:>8.2} {cc:>9.2} {cd:>8.2} {s:>7.2}",
                round + 1,
                a / b,
                a / c,
                d / b
            );
        }
    });
    let column = |v: &[[f64; 4]], i: usize| v.iter().map(|r| r[i]).collect::<Vec<_>>();
    let med = |v: Vec<f64>| stub::spread(&v).0;
    println!(
        "{:>6} {:>16.0} {:>15.0} {:>12.0} {:>10.0} {:>8} {:>9} {:>9} {:>8.2} {:>8.2} {:>9.2} {:>8.2}",
        "median",
        med(column(&rates, 0)),
        med(column(&rates, 1)),
        med(column(&rates, 2)),
        med(column(&rates, 3)),
        "",
        "",
        "",
        med(column(&cpu, 0)),
        med(column(&cpu, 1)),
        med(column(&cpu, 2)),
        med(column(&cpu, 3)),
    );
    for (a, b, name) in [
        (0, 1, "ssoflow-tokio / bare reqwest"),
        (0, 2, "ssoflow-tokio / oauth2 v5"),
        (3, 1, "ssoflow-tokio send path / bare reqwest"),
    ] {
        let ratios: Vec<f64> = rates.iter().map(|r| r[a] / r[b]).collect();
        let (m, lo, hi) = stub::spread(&ratios);
        println!("{name}: median {m:.3}, min {lo:.3}, max {hi:.3} over {rounds} rounds");
    }
    let cpu_ratios: Vec<f64> = cpu.iter().map(|r| r[0] / r[1]).collect();
    let (m, lo, hi) = stub::spread(&cpu_ratios);
    println!(
        "client CPU per fetch, ssoflow-tokio / bare reqwest: median {m:.3}, min {lo:.3}, max {hi:.3}"
    );
    let all_busy: Vec<f64> = busy.iter().flatten().copied().collect();
    let (b, b_lo, _) = stub::spread(&all_busy);
    let (w, _, w_hi) = stub::spread(&waiting);
    println!(
        "(µs: the client's CPU per fetch; srv µs: the stub's; the client thread was busy {:.0} % \
         of the time at the median, {:.0} % at the least, and runnable but waiting for its CPU \
         (other load) {:.0} % at the median, {:.0} % at the most)",
        b * 100.0,
        b_lo * 100.0,
        w * 100.0,
        w_hi * 100.0
    );
    drop(rt);
    drop(server);
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
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--bare-count") {
        let arg = |k: usize| args.get(i + k).and_then(|v| v.parse().ok());
        bare_count(arg(1).expect("SIDE"), arg(2).expect("N"));
        return;
    }
    let only_bare = args.iter().any(|a| a == "--bare-only");
    if !only_bare {
        cached_get(&rt);
        if args.iter().any(|a| a == "--cache-only") {
            return;
        }
        library_cost();
        token_rps(&rt);
    }
    drop(rt);
    versus_bare();
}
