//! `cargo bench -p ssoflow-redis --bench shared`
//!
//! 1. Token requests at the provider per expiry for fleets of 1, 2 and 8 replicas (1 000
//!    concurrent callers each; each replica its own runtime, cache and store): target 1.
//! 2. Latency of `TokenCache::get` answered from memory (local hit) versus from Redis (the
//!    replica's local cache cold, Redis warm: GET + AES-GCM open + decode + the cache's own
//!    sign-in), versus a real sign-in at the sandbox over loopback for scale.
//!
//! Needs `redis-server` (installed with apt-get if missing; skipped otherwise).
//! `SSOFLOW_BENCH_N` (default 2 000) sets the number of samples of the Redis and provider runs.
#![allow(clippy::result_large_err, missing_docs)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{Replica, TOKENS, calls, fleet, key, redis_or_skip, sandbox};
use std::sync::Arc;

use ssoflow_core::par_ordering::M2m;
use ssoflow_redis::RedisConfig;
use ssoflow_tokio::TokenCache;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn report(what: &str, mut samples: Vec<Duration>) {
    samples.sort_unstable();
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    println!(
        "{what:<44} n={:<7} p50={:>10.1?} p99={:>10.1?} mean={:>10.1?}",
        samples.len(),
        percentile(&samples, 0.5),
        percentile(&samples, 0.99),
        mean
    );
}

fn main() {
    let Some(redis) = redis_or_skip("bench") else {
        return;
    };
    let n: usize = std::env::var("SSOFLOW_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);

    println!("== token requests at the provider per expiry (1 000 callers per replica)");
    for replicas in [1, 2, 8] {
        let (cold, refresh) = fleet(&redis, replicas, 1_000);
        println!("replicas={replicas}: cold start {cold}, after expiry {refresh}");
    }

    println!("\n== TokenCache::get latency (one caller at a time, loopback Redis and sandbox)");
    let sandbox = sandbox();
    let r = Replica::new(&redis.url(), &sandbox, &key(), RedisConfig::default());
    r.rt.block_on(async {
        r.m2m.get(&()).await.expect("warm");
        let signed_in = calls(&sandbox, TOKENS);

        let mut local = Vec::with_capacity(100_000);
        for _ in 0..100_000 {
            let t = Instant::now();
            let token = r.m2m.get(&()).await.expect("local hit");
            local.push(t.elapsed());
            std::hint::black_box(token);
        }
        report("local hit (memory)", local);

        let mut shared = Vec::with_capacity(n);
        for _ in 0..n {
            let cold = TokenCache::with_store(
                r.driver.clone(),
                M2m::new(r.par),
                Arc::new(r.store.shared("par-m2m")),
                r.m2m.config().clone(),
            );
            let t = Instant::now();
            let token = cold.get(&()).await.expect("redis hit");
            shared.push(t.elapsed());
            std::hint::black_box(token);
        }
        assert_eq!(calls(&sandbox, TOKENS), signed_in, "a Redis hit signed in");
        report("local cold, Redis warm (shared hit)", shared);

        let mut provider = Vec::with_capacity(n);
        for _ in 0..n {
            let cold = TokenCache::new(r.driver.clone(), M2m::new(r.par), r.m2m.config().clone());
            let t = Instant::now();
            let token = cold.get(&()).await.expect("sign-in");
            provider.push(t.elapsed());
            std::hint::black_box(token);
        }
        report("local cold, no Redis (sign-in at sandbox)", provider);
    });
    let s = r.store.stats();
    println!(
        "\nstore stats: shared hits {}, locked sign-ins {}, direct {}",
        s.shared_hits, s.locked_sign_ins, s.direct_sign_ins
    );
}
