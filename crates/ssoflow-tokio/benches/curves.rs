//! `cargo bench -p ssoflow-tokio --bench curves [-- --quick] [-- --svg DIR]`
//!
//! `TokenCache` cost curves (issue 20, item 5):
//!
//! 1. **Cached gets under concurrency.** One `TokenCache<(), oauth2::ClientCredentials>` on a
//!    two-worker multi-thread runtime; its one sign-in runs against the in-process sandbox
//!    (`/oauth2/token` over loopback) before anything is timed. Then 1, 100, 10 000 and 100 000
//!    tasks, spawned and held at a barrier so they are all alive at once, call
//!    `cache.get(&())` in a loop (a `yield_now` after every [`YIELD_EVERY`] gets, so the tasks
//!    interleave). Reported per task count: gets/s (all gets ÷ the time from the first task's
//!    first get to the last task's last get: the cache plus the runtime's task switching) and
//!    the latency of one `get` call (p50, p99, p99.9; two clock reads around the call, their
//!    own cost subtracted; the wait to be scheduled is not in it). The token's generation is
//!    checked to be unchanged at the end: no get signed in again.
//! 2. **Memory per cached key.** A `TokenCache<String, par_ordering::CustomerSignIn>` (the one
//!    keyed recipe: one entry per customer) filled with 1, 1 000 and 100 000 distinct keys
//!    (52-byte subject tokens) on a current-thread runtime, each sign-in answered at once by
//!    an in-process transport with seed 000's sign-in answer (with a DLC token). Counted by
//!    the `allocation-counter` global allocator on that thread: the bytes requested from the
//!    allocator and not freed when the fill ends (`Layout::size`, so without the allocator's
//!    own per-block header and rounding: count about 8–16 B more per block), divided by the
//!    keys. That is everything the cache keeps per key: the key's copy, the LRU node and hash
//!    table slot (with the table's growth slack), the session and the `Arc`'d sign-in result
//!    (a key's wake-up channel exists only while tasks wait for its sign-in; its size is
//!    printed apart). One-time allocations (the driver's per-thread buffer, tracing's
//!    callsite registry) are made by a warm-up fill before counting starts.
//!
//! Output: `curves …` lines of `name=value` pairs (parsed by `scripts/bench-report`), plus
//! `#` comment lines. `--svg DIR` also draws the three charts as SVG files into `DIR`.
//! `--quick` runs fewer gets per step and one round (about 10 s instead of about 60 s).
#![allow(clippy::result_large_err, missing_docs)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use ssoflow_core::oauth2 as core_oauth2;
use ssoflow_core::par_ordering::{self, CustomerSignIn, SignIn};
use ssoflow_core::{AccessToken, Expiry, Secret};
use ssoflow_sandbox::Sandbox;
use ssoflow_tokio::{
    BoxFuture, CacheConfig, Driver, Error, OwnedRequest, OwnedResponse, TokenCache, Transport,
};

/// Task counts of the gets curve.
const TASKS: [usize; 4] = [1, 100, 10_000, 100_000];
/// Key counts of the memory curve.
const KEYS: [usize; 3] = [1, 1_000, 100_000];
/// Gets between two `yield_now`s in each task.
const YIELD_EVERY: usize = 16;
/// Fewest gets each task makes, whatever the task count.
const MIN_PER_TASK: usize = 2 * YIELD_EVERY;

/// Seed 000: PAR Ordering's sign-in answer with a DLC token.
const SIGN_IN_ANSWER: &[u8] =
    include_bytes!("../../ssoflow-core/tests/fixtures/seeds/000_sign_in_response_dlc.json");

struct Options {
    quick: bool,
    svg: Option<PathBuf>,
}

fn options() -> Options {
    let mut quick = false;
    let mut svg = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--svg" => svg = args.next().map(PathBuf::from),
            // `cargo bench` passes `--bench`; anything else is ignored too.
            _ => {}
        }
    }
    Options { quick, svg }
}

/// Cost of reading the clock twice, subtracted from each sample.
fn timer_overhead() -> u64 {
    let mut v: Vec<u64> = (0..20_000)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(());
            t.elapsed().as_nanos() as u64
        })
        .collect();
    v.sort_unstable();
    v[v.len() / 2]
}

/// The value at quantile `q` of `sorted` (0 when empty).
fn quantile(sorted: &[u32], q: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// One point of the gets curve.
struct GetsPoint {
    tasks: usize,
    gets: usize,
    gets_per_s: f64,
    p50: u32,
    p99: u32,
    p999: u32,
}

type AppCache = TokenCache<(), core_oauth2::ClientCredentials<'static>>;

/// `tasks` tasks, all alive at once, each making `per_task` cached gets: the latencies of
/// every get and the time from the first get to the last.
fn gets_round(
    rt: &tokio::runtime::Runtime,
    cache: &AppCache,
    tasks: usize,
    per_task: usize,
    overhead: u64,
) -> (Vec<u32>, Duration) {
    rt.block_on(async {
        let barrier = Arc::new(tokio::sync::Barrier::new(tasks + 1));
        let handles: Vec<_> = (0..tasks)
            .map(|_| {
                let (cache, barrier) = (cache.clone(), barrier.clone());
                tokio::spawn(async move {
                    let mut lat = Vec::with_capacity(per_task);
                    barrier.wait().await;
                    let first = Instant::now();
                    for i in 0..per_task {
                        let t = Instant::now();
                        let token = cache.get(&()).await;
                        let ns = (t.elapsed().as_nanos() as u64).saturating_sub(overhead);
                        lat.push(u32::try_from(ns).unwrap_or(u32::MAX));
                        std::hint::black_box(token.expect("cached token"));
                        if i % YIELD_EVERY == YIELD_EVERY - 1 {
                            tokio::task::yield_now().await;
                        }
                    }
                    (first, Instant::now(), lat)
                })
            })
            .collect();
        barrier.wait().await;
        let mut all = Vec::with_capacity(tasks * per_task);
        let (mut first, mut last) = (None::<Instant>, None::<Instant>);
        for h in handles {
            let (f, l, lat) = h.await.expect("task");
            first = Some(first.map_or(f, |x| x.min(f)));
            last = Some(last.map_or(l, |x| x.max(l)));
            all.extend(lat);
        }
        let span = match (first, last) {
            (Some(f), Some(l)) => l.duration_since(f),
            _ => Duration::ZERO,
        };
        (all, span)
    })
}

fn gets_curve(quick: bool) -> Vec<GetsPoint> {
    let (total, rounds) = if quick { (150_000, 1) } else { (2_000_000, 5) };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    // The sandbox on a runtime of its own; only the first sign-in reaches it.
    let sandbox = Sandbox::builder().start_blocking().expect("sandbox");
    let c = sandbox.credentials().oauth2.clone();
    static CLIENT: OnceLock<core_oauth2::Client> = OnceLock::new();
    let client = CLIENT.get_or_init(|| {
        core_oauth2::Client::new(&format!("{}/token", c.base_url), &c.client_id)
            .and_then(|cl| cl.with_secret(&c.client_secret))
            .expect("client")
    });
    let cache: AppCache = TokenCache::new(
        Driver::new().expect("driver"),
        core_oauth2::ClientCredentials::new(client, None),
        CacheConfig::default(),
    );
    let generation = rt
        .block_on(cache.lease(&()))
        .expect("first sign-in against the sandbox")
        .generation;
    // A cached get completes without suspending and without allocating.
    let info = allocation_counter::measure(|| {
        let got = cache.get(&()).now_or_never();
        assert!(matches!(got, Some(Ok(_))), "a cached get is ready at once");
    });
    println!(
        "curves gets_setup workers=2 yield_every={YIELD_EVERY} rounds={rounds} total_per_round={total} allocs_per_get={}",
        info.count_total
    );
    let overhead = timer_overhead();
    println!("# timer overhead subtracted from each get: {overhead} ns");
    let mut points = Vec::new();
    for tasks in TASKS {
        let per_task = (total / tasks).max(MIN_PER_TASK);
        let mut lat = Vec::new();
        let mut rates = Vec::new();
        for _ in 0..rounds {
            let (l, span) = gets_round(&rt, &cache, tasks, per_task, overhead);
            rates.push(l.len() as f64 / span.as_secs_f64().max(1e-9));
            lat.extend(l);
        }
        rates.sort_by(f64::total_cmp);
        lat.sort_unstable();
        let point = GetsPoint {
            tasks,
            gets: lat.len(),
            gets_per_s: rates[rates.len() / 2],
            p50: quantile(&lat, 0.5),
            p99: quantile(&lat, 0.99),
            p999: quantile(&lat, 0.999),
        };
        let after = rt.block_on(cache.lease(&())).expect("token").generation;
        assert_eq!(after, generation, "no get signed in again");
        println!(
            "curves gets tasks={} gets={} gets_per_s={:.0} p50_ns={} p99_ns={} p999_ns={} sign_ins=1",
            point.tasks, point.gets, point.gets_per_s, point.p50, point.p99, point.p999
        );
        points.push(point);
    }
    drop(rt);
    drop(sandbox);
    points
}

/// Answers every request at once with seed 000's sign-in answer.
struct CannedSignIn;

impl Transport for CannedSignIn {
    fn send(&self, _: OwnedRequest) -> BoxFuture<'_, Result<OwnedResponse, Error>> {
        Box::pin(async {
            let mut response = OwnedResponse::new(200, SIGN_IN_ANSWER);
            response.headers.insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
            Ok(response)
        })
    }
}

/// A 52-byte subject token (the customer's identity-provider token), distinct per `i`.
fn subject(i: usize) -> String {
    format!("fake-subject-{i:07}-jane.doe@example.com-0123456789")
}

/// One point of the memory curve.
struct MemoryPoint {
    keys: usize,
    bytes: i64,
    blocks: i64,
}

type CustomerCache = TokenCache<String, CustomerSignIn<'static, str>>;

fn customer_cache(driver: &Driver, capacity: usize) -> CustomerCache {
    static PAR: OnceLock<par_ordering::ParConfig> = OnceLock::new();
    let par = PAR.get_or_init(|| {
        par_ordering::ParConfig::new(
            "https://par.example",
            "fake-app-key",
            "fake-client-id",
            "fake-client-secret",
        )
        .expect("PAR config")
    });
    let m2m = AccessToken {
        value: Secret::new("fake-m2m-token", "m2m").expect("m2m token"),
        expiry: Expiry::Unknown,
    };
    TokenCache::new(
        driver.clone(),
        CustomerSignIn::new(par).with_m2m_token(m2m),
        CacheConfig {
            capacity,
            ..CacheConfig::default()
        },
    )
}

/// Bytes of one `Arc<SignIn>` allocation: the two reference counts and the value.
fn output_bytes() -> usize {
    std::mem::size_of::<SignIn>() + 2 * std::mem::size_of::<usize>()
}

fn fill(rt: &tokio::runtime::Runtime, cache: &CustomerCache, keys: usize) {
    rt.block_on(async {
        for i in 0..keys {
            let key = subject(i);
            let signed_in = cache.get(&key).await.expect("sign-in");
            std::hint::black_box(signed_in);
        }
    });
}

fn memory_curve() -> Vec<MemoryPoint> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let driver = Driver::with_transport(CannedSignIn);
    // Warm-up: one-time allocations happen here, before anything is counted.
    fill(&rt, &customer_cache(&driver, 64), 64);
    // What one key's wake-up channel (a `tokio::sync::watch` sender) allocates, for the
    // breakdown.
    let mut channel = None;
    let watch =
        allocation_counter::measure(|| channel = Some(tokio::sync::watch::Sender::new(0u64)));
    drop(channel);
    let mut points = Vec::new();
    for keys in KEYS {
        let cache = customer_cache(&driver, keys);
        let info = allocation_counter::measure(|| fill(&rt, &cache, keys));
        assert_eq!(cache.len(), keys, "every key kept");
        let point = MemoryPoint {
            keys,
            bytes: info.bytes_current,
            blocks: info.count_current,
        };
        let per_key = point.bytes as f64 / keys as f64;
        let output = output_bytes();
        let key = subject(0).len();
        println!(
            "curves memory keys={keys} bytes={} bytes_per_key={per_key:.0} blocks_per_key={:.2} key_bytes={key} output_bytes={output} cache_bytes_per_key={:.0} watch_channel_bytes={}",
            point.bytes,
            point.blocks as f64 / keys as f64,
            per_key - (key + output) as f64,
            watch.bytes_current,
        );
        points.push(point);
    }
    points
}

/// One line of a chart: its name, its colour and its values at the chart's x values.
type Series<'a> = (&'a str, plotters::style::RGBColor, Vec<f64>);

/// A line chart with a logarithmic x axis, drawn as SVG into `path`.
fn draw(
    path: &Path,
    title: &str,
    (x_desc, y_desc): (&str, &str),
    xs: &[f64],
    series: &[Series<'_>],
    log_y: bool,
    legend: plotters::chart::SeriesLabelPosition,
) -> Result<(), Box<dyn std::error::Error>> {
    use plotters::prelude::*;

    let root = SVGBackend::new(path, (720, 400)).into_drawing_area();
    root.fill(&WHITE)?;
    let x_max = xs.iter().copied().fold(1.0, f64::max) * 2.0;
    let ys = || series.iter().flat_map(|s| s.2.iter().copied());
    let y_max = ys().fold(1.0, f64::max) * if log_y { 1.6 } else { 1.15 };
    let y_min = ys()
        .filter(|y| *y > 0.0)
        .fold(f64::MAX, f64::min)
        .min(y_max)
        / 2.0;
    let mut builder = ChartBuilder::on(&root);
    builder
        .caption(title, ("sans-serif", 20))
        .margin(14)
        .x_label_area_size(44)
        .y_label_area_size(84);
    let format_x = |v: &f64| format_count(*v);
    let format_y = |v: &f64| format_count(*v);
    macro_rules! lines {
        ($chart:ident) => {
            $chart
                .configure_mesh()
                .max_light_lines(4)
                .x_desc(x_desc)
                .y_desc(y_desc)
                .x_label_formatter(&format_x)
                .y_label_formatter(&format_y)
                .draw()?;
            for (name, color, values) in series {
                let color = *color;
                let points: Vec<(f64, f64)> =
                    xs.iter().copied().zip(values.iter().copied()).collect();
                $chart
                    .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
                    .label(*name)
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                    });
                $chart.draw_series(
                    points
                        .into_iter()
                        .map(|p| Circle::new(p, 4, color.filled())),
                )?;
            }
            $chart
                .configure_series_labels()
                .position(legend)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .draw()?;
        };
    }
    if log_y {
        let mut chart =
            builder.build_cartesian_2d((0.5..x_max).log_scale(), (y_min..y_max).log_scale())?;
        lines!(chart);
    } else {
        let mut chart = builder.build_cartesian_2d((0.5..x_max).log_scale(), 0.0..y_max)?;
        lines!(chart);
    }
    root.present()?;
    Ok(())
}

/// 1, 100, 10k, 1.5M: short axis labels.
fn format_count(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{}M", trim(v / 1e6))
    } else if a >= 1e3 {
        format!("{}k", trim(v / 1e3))
    } else {
        trim(v)
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.1}");
    s.strip_suffix(".0").map(str::to_owned).unwrap_or(s)
}

fn charts(dir: &Path, gets: &[GetsPoint], memory: &[MemoryPoint]) {
    use plotters::chart::SeriesLabelPosition;

    std::fs::create_dir_all(dir).expect("chart directory");
    let blue = plotters::style::RGBColor(31, 119, 180);
    let orange = plotters::style::RGBColor(255, 127, 14);
    let green = plotters::style::RGBColor(44, 160, 44);
    let tasks: Vec<f64> = gets.iter().map(|p| p.tasks as f64).collect();
    let drawn = [
        (
            "tokencache-gets.svg",
            draw(
                &dir.join("tokencache-gets.svg"),
                "TokenCache: cached gets per second (2 worker threads)",
                ("concurrent tasks (log)", "gets/s"),
                &tasks,
                &[("gets/s", blue, gets.iter().map(|p| p.gets_per_s).collect())],
                false,
                SeriesLabelPosition::LowerRight,
            ),
        ),
        (
            "tokencache-latency.svg",
            draw(
                &dir.join("tokencache-latency.svg"),
                "TokenCache: latency of one cached get",
                ("concurrent tasks (log)", "ns (log)"),
                &tasks,
                &[
                    ("p50", blue, gets.iter().map(|p| f64::from(p.p50)).collect()),
                    (
                        "p99",
                        orange,
                        gets.iter().map(|p| f64::from(p.p99)).collect(),
                    ),
                    (
                        "p99.9",
                        green,
                        gets.iter().map(|p| f64::from(p.p999)).collect(),
                    ),
                ],
                true,
                SeriesLabelPosition::UpperLeft,
            ),
        ),
        (
            "tokencache-memory.svg",
            draw(
                &dir.join("tokencache-memory.svg"),
                "TokenCache: heap bytes per cached key (PAR customer sign-in)",
                ("distinct keys (log)", "bytes per key"),
                &memory.iter().map(|p| p.keys as f64).collect::<Vec<_>>(),
                &[
                    (
                        "total per key",
                        blue,
                        memory
                            .iter()
                            .map(|p| p.bytes as f64 / p.keys as f64)
                            .collect(),
                    ),
                    (
                        "of which the sign-in result (Arc<SignIn>)",
                        orange,
                        memory.iter().map(|_| output_bytes() as f64).collect(),
                    ),
                    (
                        "of which the cache's own and the key's copy",
                        green,
                        memory
                            .iter()
                            .map(|p| p.bytes as f64 / p.keys as f64 - output_bytes() as f64)
                            .collect(),
                    ),
                ],
                false,
                SeriesLabelPosition::MiddleRight,
            ),
        ),
    ];
    for (name, result) in drawn {
        match result {
            Ok(()) => println!("curves chart file={name}"),
            Err(e) => panic!("drawing {name}: {e}"),
        }
    }
}

fn main() {
    let opts = options();
    let started = Instant::now();
    let gets = gets_curve(opts.quick);
    let memory = memory_curve();
    if let Some(dir) = &opts.svg {
        charts(dir, &gets, &memory);
    }
    println!(
        "curves done quick={} secs={:.1}",
        u8::from(opts.quick),
        started.elapsed().as_secs_f64()
    );
}
