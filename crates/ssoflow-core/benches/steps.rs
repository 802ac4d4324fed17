#![allow(missing_docs)]
//! One flow step per provider, ssoflow against the serde_json baseline, measured two ways that
//! hold up on a busy machine (`scripts/bench-report` runs both):
//!
//! - `steps interleave [rounds] [batch]`: wall-clock time with the two sides *interleaved*: each
//!   round times `batch` ssoflow steps and `batch` baseline steps back to back (alternating which
//!   goes first), so both see the same machine load; the ratio reported is the median of the
//!   per-round ratios. Prints one line per workload.
//! - `steps count <workload> <side> <iterations>`: runs one side `iterations` times after one
//!   untimed warm-up call, for `valgrind --tool=callgrind`. The script runs it with 0 and with N
//!   iterations and divides the difference by N, so set-up, warm-up and process start cancel out:
//!   instructions per step, the same on every run.
//! - `steps check`: assert both sides read the same values.
//!
//! Workloads: `par_sign_in`, `punchh_sso`, `oauth2_token`, `pos_login`; sides: `ssoflow`,
//! `serde_json`. Under plain `cargo bench` (which passes `--bench`) it does nothing.

mod common;

use std::hint::black_box;
use std::time::Instant;

use common::Setup;

const WORKLOADS: [&str; 4] = ["par_sign_in", "punchh_sso", "oauth2_token", "pos_login"];

/// One step of `workload` on `side`, as a closure over the set-up.
fn step<'s>(setup: &'s mut Setup, workload: &str, side: &str) -> Option<Box<dyn FnMut() + 's>> {
    Some(match (workload, side) {
        ("par_sign_in", "ssoflow") => Box::new(move || drop(black_box(setup.par_sign_in()))),
        ("punchh_sso", "ssoflow") => Box::new(move || drop(black_box(setup.punchh_sso()))),
        ("oauth2_token", "ssoflow") => Box::new(move || drop(black_box(setup.oauth2_token()))),
        ("pos_login", "ssoflow") => Box::new(move || drop(black_box(setup.pos_login()))),
        ("par_sign_in", "serde_json") => {
            Box::new(|| drop(black_box(common::par_sign_in_baseline())))
        }
        ("punchh_sso", "serde_json") => Box::new(|| drop(black_box(common::punchh_sso_baseline()))),
        ("oauth2_token", "serde_json") => {
            Box::new(|| drop(black_box(common::oauth2_token_baseline())))
        }
        ("pos_login", "serde_json") => Box::new(|| drop(black_box(common::pos_login_baseline()))),
        _ => return None,
    })
}

fn usage() -> ! {
    eprintln!(
        "usage: steps check | steps interleave [rounds] [batch] | \
         steps count <{}> <ssoflow|serde_json> [iterations]",
        WORKLOADS.join("|")
    );
    std::process::exit(2);
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Nanoseconds per call of `f` over `batch` calls.
fn time_batch(f: &mut dyn FnMut(), batch: u32) -> f64 {
    let start = Instant::now();
    for _ in 0..batch {
        f();
    }
    start.elapsed().as_nanos() as f64 / f64::from(batch)
}

fn interleave(rounds: u32, batch: u32) {
    for workload in WORKLOADS {
        let (mut setup, mut unused) = (Setup::new(), Setup::new());
        let mut ours = step(&mut setup, workload, "ssoflow").unwrap_or_else(|| usage());
        let mut theirs = step(&mut unused, workload, "serde_json").unwrap_or_else(|| usage());
        // Warm-up: caches, branch predictors, the allocator's free lists.
        time_batch(&mut *ours, batch);
        time_batch(&mut *theirs, batch);
        let (mut a, mut b, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..rounds {
            let (x, y) = if round % 2 == 0 {
                let x = time_batch(&mut *ours, batch);
                (x, time_batch(&mut *theirs, batch))
            } else {
                let y = time_batch(&mut *theirs, batch);
                (time_batch(&mut *ours, batch), y)
            };
            a.push(x);
            b.push(y);
            ratios.push(x / y);
        }
        let (ours_ns, theirs_ns, ratio) = (median(&mut a), median(&mut b), median(&mut ratios));
        // The spread of the per-round ratios: first and ninth decile.
        let lo = ratios[ratios.len() / 10];
        let hi = ratios[ratios.len() * 9 / 10];
        println!(
            "interleaved {workload} ssoflow_ns={ours_ns:.1} serde_json_ns={theirs_ns:.1} \
             ratio={ratio:.3} ratio_p10={lo:.3} ratio_p90={hi:.3} rounds={rounds} batch={batch}"
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `cargo bench` runs every bench target with `--bench`: nothing to do then.
    if args.is_empty() || args.iter().any(|a| a == "--bench") {
        return;
    }
    match args[0].as_str() {
        "check" => {
            common::check_equivalence(&mut Setup::new());
            println!("ok");
        }
        "interleave" => {
            let rounds = args.get(1).and_then(|v| v.parse().ok()).unwrap_or(200);
            let batch = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(200);
            interleave(rounds, batch);
        }
        "count" => {
            let (Some(workload), Some(side)) = (args.get(1), args.get(2)) else {
                usage()
            };
            let n: u64 = args.get(3).and_then(|v| v.parse().ok()).unwrap_or(1);
            let mut setup = Setup::new();
            let mut one = step(&mut setup, workload, side).unwrap_or_else(|| usage());
            one(); // warm-up: first-call costs (lazy statics, the allocator's first chunks)
            for _ in 0..n {
                one();
            }
        }
        _ => usage(),
    }
}
