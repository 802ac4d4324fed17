//! What the driver costs over raw ureq: client-credentials token fetches against the sandbox's
//! `/oauth2/token`, through `Driver::run(oauth2::client_credentials(..))` and through the same
//! request made by hand with ureq (same agent settings, same headers and form body, answer parsed
//! with serde_json), interleaved one by one so both see the same machine and server state.
//!
//! Then throughput, the way ssoflow-tokio's `cache` bench part 4 measures it: a one-thread stub
//! token endpoint (`stub/mod.rs`) and a few client threads sharing one CPU (client and stub
//! pinned to CPUs 0 and 1 where there are two), so that the client's CPU is the bottleneck;
//! `Driver::run(oauth2::client_credentials(..))` against a bare ureq POST of the very same
//! bytes (checked on the wire), answer read to a `Vec` and not parsed, and the driver's send
//! path alone (the same request written with the core's `RequestBuilder`, sent with
//! `Driver::send`); each round runs every side in 50 ms slices in rotating order.
//! `--bare-count SIDE N` runs `N` fetches of one side on one thread and prints its CPU per
//! fetch.
//!
//! `cargo bench -p ssoflow-ureq --bench overhead` (`OVERHEAD_N` sets the count, default 2000;
//! `OVERHEAD_ROUNDS` (default 9), `OVERHEAD_SECS` (default 2, per side and round) and
//! `OVERHEAD_THREADS` (default 3) the throughput part; `--throughput-only` skips the latency
//! part).

#![allow(clippy::result_large_err)] // the core's errors carry a body excerpt inline

mod latency;
mod stub;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

use ssoflow_core::oauth2;
use ssoflow_ureq::{Config, Driver};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--bare-count") {
        let arg = |k: usize| args.get(i + k).and_then(|v| v.parse().ok());
        throughput_vs_bare(Some((arg(1).expect("SIDE"), arg(2).expect("N"))));
        return;
    }
    if !args.iter().any(|a| a == "--throughput-only") {
        latency_vs_raw();
    }
    throughput_vs_bare(None);
}

fn latency_vs_raw() {
    let latency::Setup {
        n,
        sandbox: _sandbox,
        client,
    } = latency::setup("OVERHEAD_N");
    let token_url = client.token_url();
    let driver = Driver::new(Config::default());

    // The raw side: its own agent with the driver's settings, and the very bytes the core sends.
    let raw = Driver::new(Config::default());
    let (headers, body) = core_request(&client);
    let raw_fetch = || -> String {
        let mut req = ureq::http::Request::builder().method("POST").uri(token_url);
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

    let results = latency::interleaved(n, driver_fetch, raw_fetch);
    println!("client-credentials token fetches against the sandbox, n = {n} each, interleaved");
    latency::print(
        ["ssoflow-ureq Driver::run", "raw ureq + serde_json"],
        "overhead ratio (driver / raw)",
        "",
        results,
    );
}

/// The request the core writes for a client-credentials token: its headers in its order and
/// its form body, for the bare sides to send byte for byte.
fn core_request(client: &oauth2::Client) -> (Vec<(String, Vec<u8>)>, Vec<u8>) {
    let mut buf = vec![0u8; 4096];
    let mut flow = oauth2::client_credentials(client, None).expect("flow");
    match ssoflow_core::Flow::poll(&mut flow, ssoflow_core::Instant::from_millis(0), &mut buf) {
        Ok(ssoflow_core::Step::Send(r)) => (
            r.headers()
                .iter()
                .map(|h| (h.name.to_owned(), h.value.to_vec()))
                .collect(),
            r.body.to_vec(),
        ),
        other => panic!("unexpected first step: {other:?}"),
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One side's run of the throughput part.
#[derive(Clone, Copy, Default)]
struct Run {
    /// Fetches per second.
    rate: f64,
    /// The client's CPU per fetch, µs.
    cpu_us: f64,
    /// The client's CPU seconds per second.
    busy: f64,
    /// The stub's CPU per fetch, µs.
    srv_us: f64,
}

/// CPU seconds this thread has used (`/proc/thread-self/schedstat`; 0 where it does not exist).
fn this_thread_cpu() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0.0, |ns| ns as f64 / 1e9)
}

/// The client's threads (names are cut to 15 bytes in `/proc`).
const CLIENT: &str = "ureq-client";

/// Throughput of the driver against bare ureq on the stub (see the module docs). With
/// `count` (`--bare-count SIDE N`): only `N` fetches by side `SIDE` (0 ssoflow-ureq, 1 bare
/// ureq, 2 ssoflow-ureq's send path alone) on this thread, for a profiler (`valgrind --tool=callgrind`, `perf record`).
fn throughput_vs_bare(count: Option<(usize, usize)>) {
    let rounds: usize = env_or("OVERHEAD_ROUNDS", 9usize).max(1);
    let secs: f64 = env_or("OVERHEAD_SECS", 2.0);
    // ureq keeps 3 idle connections per host by default: more threads than that would open
    // and close connections all the time, and measure that instead.
    let threads: usize = env_or("OVERHEAD_THREADS", 3usize).max(1);
    let pin = stub::can_pin();
    let server = stub::Stub::start(pin.then_some(1));
    let url = server.url.clone();
    if count.is_none() {
        println!(
            "\n== client-credentials fetches/s vs bare ureq: stub token endpoint (1 thread{}), \
         client on {threads} threads sharing one CPU{}, {rounds} rounds x {secs} s, {url}",
            if pin { ", CPU 1" } else { "" },
            if pin { " (CPU 0)" } else { " (not pinned)" },
        );
    }
    let client = oauth2::Client::new(&url, "bench-client")
        .and_then(|c| c.with_secret("bench-secret"))
        .expect("client");
    let driver = Driver::new(Config::default());
    let bare = Driver::new(Config::default());
    // The bytes the core writes: its headers in its order and its form body.
    let (headers, body) = core_request(&client);
    let bare_fetch = || -> bool {
        let mut req = ureq::http::Request::builder().method("POST").uri(&url);
        for (name, value) in &headers {
            req = req.header(name.as_str(), value.as_slice());
        }
        let Ok(req) = req.body(body.as_slice()) else {
            return false;
        };
        match bare.agent().run(req) {
            Ok(mut resp) if resp.status() == 200 => {
                resp.body_mut().read_to_vec().is_ok_and(|b| !b.is_empty())
            }
            _ => false,
        }
    };
    let driver_fetch = || -> bool {
        oauth2::client_credentials(&client, None)
            .map_err(ssoflow_ureq::Error::from)
            .and_then(|flow| driver.run(flow))
            .is_ok_and(|t| !t.access.value.is_empty())
    };
    // ssoflow-ureq's send path alone, for comparison: the same request written with the
    // core's `RequestBuilder` (no flow: no credentials encoded, nothing parsed) and sent with
    // `Driver::send`; the answer checked for its status, not parsed.
    let header = |name: &str| {
        let (_, v) = headers.iter().find(|(n, _)| n == name).expect("header");
        String::from_utf8(v.clone()).expect("text")
    };
    let (authorization, form) = (header("Authorization"), String::from_utf8(body.clone()));
    let form = form.expect("form");
    let send_fetch = || -> bool {
        let mut buf = [0u8; 1024];
        let mut rb =
            ssoflow_core::RequestBuilder::new(&mut buf, ssoflow_core::Method::Post, &url, "");
        rb.header("Authorization", &authorization);
        rb.raw_body("application/x-www-form-urlencoded", form.as_bytes());
        rb.finish()
            .map_err(ssoflow_ureq::Error::from)
            .and_then(|request| driver.send(&request))
            .is_ok_and(|r| r.status == 200 && !r.body.is_empty())
    };
    let sides: [(&str, &(dyn Fn() -> bool + Sync)); 3] = [
        ("ssoflow-ureq", &driver_fetch),
        ("bare ureq", &bare_fetch),
        ("ssoflow-ureq send path", &send_fetch),
    ];
    if let Some((side, n)) = count {
        let cpu = this_thread_cpu();
        let started = Instant::now();
        for _ in 0..n {
            assert!((sides[side].1)(), "fetch");
        }
        let (cpu, elapsed) = (this_thread_cpu() - cpu, started.elapsed().as_secs_f64());
        assert_eq!(server.served(), n as u64);
        println!(
            "{}: {n} fetches, {:.0}/s, client CPU {:.3} µs per fetch",
            sides[side].0,
            n as f64 / elapsed,
            cpu / n as f64 * 1e6
        );
        return;
    }

    let (ok, captured) = server.capture(|| driver_fetch() && bare_fetch() && send_fetch());
    assert!(ok, "every side fetches a token");
    assert_eq!(captured.len(), 3, "one request each");
    for (i, other) in [(1, "bare ureq"), (2, "the send path")] {
        assert!(
            captured[0] == captured[i],
            "ssoflow-ureq and {other} send different bytes:\n{}\n---\n{}",
            String::from_utf8_lossy(&captured[0]),
            String::from_utf8_lossy(&captured[i])
        );
    }
    println!(
        "same request bytes from ssoflow-ureq and bare ureq: yes ({} B, head and body)",
        captured[0].len()
    );

    // The client's threads live for the whole run (their CPU time is read from /proc), and
    // run one side at a time between two barriers.
    const EXIT: usize = usize::MAX;
    let side = AtomicUsize::new(EXIT);
    let stop = AtomicBool::new(false);
    let done = AtomicU64::new(0);
    let failed = AtomicU64::new(0);
    let gate = Barrier::new(threads + 1);
    let results = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for i in 0..threads {
            let (side, stop, done, failed, gate, sides) =
                (&side, &stop, &done, &failed, &gate, &sides);
            std::thread::Builder::new()
                .name(format!("{CLIENT}-{i}"))
                .spawn_scoped(scope, move || {
                    if pin {
                        stub::pin_to(0);
                    }
                    loop {
                        gate.wait();
                        let Some((_, fetch)) = sides.get(side.load(Ordering::SeqCst)) else {
                            return;
                        };
                        while !stop.load(Ordering::Relaxed) {
                            if fetch() {
                                done.fetch_add(1, Ordering::Relaxed);
                            } else {
                                failed.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        gate.wait();
                    }
                })
                .expect("client thread");
        }
        // One run of `which` for `length`: [fetches, seconds, client CPU s, stub CPU s].
        let run = |which: usize, length: Duration| {
            std::thread::sleep(Duration::from_millis(5));
            side.store(which, Ordering::SeqCst);
            stop.store(false, Ordering::SeqCst);
            done.store(0, Ordering::SeqCst);
            let (cpu, srv) = (stub::threads_cpu(CLIENT), stub::threads_cpu(stub::THREAD));
            let started = Instant::now();
            gate.wait();
            std::thread::sleep(length);
            stop.store(true, Ordering::SeqCst);
            gate.wait();
            [
                done.load(Ordering::SeqCst) as f64,
                started.elapsed().as_secs_f64(),
                stub::threads_cpu(CLIENT) - cpu,
                stub::threads_cpu(stub::THREAD) - srv,
            ]
        };
        for which in 0..sides.len() {
            let _ = run(which, Duration::from_secs(1));
        }
        println!(
            "{:>6} {:>15} {:>12} {:>12} {:>8} {:>10} {:>9} {:>9} {:>9} {:>8}",
            "round",
            "ssoflow-ureq/s",
            "bare ureq/s",
            "send path/s",
            "ratio",
            "send/bare",
            "ours µs",
            "bare µs",
            "send µs",
            "srv µs"
        );
        // Each round runs each side for `secs`, in slices of 50 ms in an order that rotates
        // and reverses from slice to slice, so that changes in the machine's speed (other
        // load, other virtual machines on the host) hit every side alike; a round's ratio is
        // of its sums.
        const ORDERS: [[usize; 3]; 6] = [
            [0, 1, 2],
            [2, 1, 0],
            [1, 2, 0],
            [0, 2, 1],
            [2, 0, 1],
            [1, 0, 2],
        ];
        let slices = (secs / 0.05).round().max(1.0) as usize;
        let length = Duration::from_secs_f64(secs) / slices as u32;
        for round in 0..rounds {
            let mut sum = [[0.0f64; 4]; 3];
            for slice in 0..slices {
                for which in ORDERS[(round * slices + slice) % ORDERS.len()] {
                    for (total, v) in sum[which].iter_mut().zip(run(which, length)) {
                        *total += v;
                    }
                }
            }
            let r = sum.map(|[n, t, cpu, srv]| Run {
                rate: n / t,
                cpu_us: cpu / n * 1e6,
                busy: cpu / t,
                srv_us: srv / n * 1e6,
            });
            println!(
                "{:>6} {:>15.0} {:>12.0} {:>12.0} {:>8.3} {:>10.3} {:>9.2} {:>9.2} {:>9.2} {:>8.2}",
                round + 1,
                r[0].rate,
                r[1].rate,
                r[2].rate,
                r[0].rate / r[1].rate,
                r[2].rate / r[1].rate,
                r[0].cpu_us,
                r[1].cpu_us,
                r[2].cpu_us,
                (r[0].srv_us + r[1].srv_us + r[2].srv_us) / 3.0
            );
            results.lock().expect("lock").push(r);
        }
        side.store(EXIT, Ordering::SeqCst);
        gate.wait();
    });
    assert_eq!(failed.load(Ordering::SeqCst), 0, "every fetch succeeds");
    let results = results.into_inner().expect("lock");
    let med =
        |f: &dyn Fn(&[Run; 3]) -> f64| stub::spread(&results.iter().map(f).collect::<Vec<_>>()).0;
    println!(
        "{:>6} {:>15.0} {:>12.0} {:>12.0} {:>8} {:>10} {:>9.2} {:>9.2} {:>9.2}",
        "median",
        med(&|r| r[0].rate),
        med(&|r| r[1].rate),
        med(&|r| r[2].rate),
        "",
        "",
        med(&|r| r[0].cpu_us),
        med(&|r| r[1].cpu_us),
        med(&|r| r[2].cpu_us)
    );
    for (a, name) in [(0, "ssoflow-ureq"), (2, "ssoflow-ureq send path")] {
        let ratios: Vec<f64> = results.iter().map(|r| r[a].rate / r[1].rate).collect();
        let (m, lo, hi) = stub::spread(&ratios);
        println!(
            "{name} / bare ureq: median {m:.3}, min {lo:.3}, max {hi:.3} over {rounds} rounds"
        );
    }
    let cpu_ratios: Vec<f64> = results.iter().map(|r| r[0].cpu_us / r[1].cpu_us).collect();
    let (m, lo, hi) = stub::spread(&cpu_ratios);
    println!(
        "client CPU per fetch, ssoflow-ureq / bare ureq: median {m:.3}, min {lo:.3}, max {hi:.3}"
    );
    let busy: Vec<f64> = results
        .iter()
        .flat_map(|r| r.map(|side| side.busy))
        .collect();
    let (b, b_lo, _) = stub::spread(&busy);
    println!(
        "(µs: the client's CPU per fetch; srv µs: the stub's; the client's CPU was busy {:.0} % \
         of the time at the median, {:.0} % at the least)",
        b * 100.0,
        b_lo * 100.0
    );
}
