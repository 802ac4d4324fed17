//! Interleaved latency of two ways to do the same thing; shared by this crate's `overhead` bench
//! and ssoflow-embedded-io's `tcp` bench (included there by path).

use std::time::{Duration, Instant};

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

/// Median and 99th percentile, in µs.
fn stats(samples: &mut [Duration]) -> (f64, f64) {
    samples.sort_unstable();
    let at = |q: f64| {
        let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
        samples[i.min(samples.len() - 1)].as_secs_f64() * 1e6
    };
    (at(0.5), at(0.99))
}
