//! One sign-in per expiry for a whole fleet: replicas are independent tokio runtimes, each with
//! its own `TokenCache` and `RedisStore`, against a real `redis-server` and the sandbox.
#![allow(clippy::result_large_err)]

mod common;

use std::time::Duration;

use common::{
    M2M_TTL, Replica, TOKENS, calls, fleet, key, on_all, one_token, redis_or_skip, sandbox,
};
use ssoflow_redis::RedisConfig;

#[test]
fn eight_replicas_of_a_thousand_callers_make_one_token_request_per_expiry() {
    let Some(redis) = redis_or_skip("eight replicas") else {
        return;
    };
    let sandbox = sandbox();
    let replicas: Vec<Replica> = (0..8)
        .map(|_| Replica::new(&redis.url(), &sandbox, &key(), RedisConfig::default()))
        .collect();

    // Cold: 8 × 1 000 concurrent callers.
    let first = one_token(&on_all(&replicas, |r| r.get_m2m(1_000)));
    assert_eq!(calls(&sandbox, TOKENS), 1, "{:?}", sandbox.stats());
    let stats: Vec<_> = replicas.iter().map(|r| r.store.stats()).collect();
    assert_eq!(
        stats.iter().map(|s| s.locked_sign_ins).sum::<u64>(),
        1,
        "{stats:?}"
    );
    assert_eq!(
        stats.iter().map(|s| s.shared_hits).sum::<u64>(),
        7,
        "{stats:?}"
    );
    assert_eq!(
        stats.iter().map(|s| s.direct_sign_ins).sum::<u64>(),
        0,
        "{stats:?}"
    );

    // Past the token's expiry on every clock: exactly one refresh for the fleet.
    let step = M2M_TTL + Duration::from_secs(1);
    sandbox.advance_clock(step);
    replicas.iter().for_each(|r| r.advance(step));
    let second = one_token(&on_all(&replicas, |r| r.get_m2m(1_000)));
    assert_ne!(first, second);
    assert_eq!(calls(&sandbox, TOKENS), 2, "{:?}", sandbox.stats());

    // Into the renewal window (5 s left, skew 10 s): callers keep the valid token while one
    // replica renews it for everyone; then every replica holds the renewed one.
    let step = M2M_TTL - Duration::from_secs(5);
    sandbox.advance_clock(step);
    replicas.iter().for_each(|r| r.advance(step));
    let during = on_all(&replicas, |r| r.get_m2m(100));
    for t in during.iter().flatten() {
        assert!(t.is_ok(), "a caller failed during renewal");
    }
    let third = one_token(&on_all(&replicas, |r| {
        vec![r.rt.block_on(async {
            // The renewal runs behind the still-valid token: wait (bounded) until it landed.
            let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
            loop {
                let t = r.m2m.get(&()).await;
                let renewed = t.as_ref().map_or(true, |t| t.value.expose() != second);
                if renewed || tokio::time::Instant::now() > deadline {
                    return t;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })]
    }));
    assert_ne!(third, second, "the renewal did not land in time");
    assert_eq!(calls(&sandbox, TOKENS), 3, "{:?}", sandbox.stats());
}

#[test]
fn token_requests_per_expiry_do_not_grow_with_the_fleet() {
    let Some(redis) = redis_or_skip("1/2/8 replicas") else {
        return;
    };
    for n in [1, 2, 8] {
        let (cold, refresh) = fleet(&redis, n, 200);
        println!("replicas={n}: token requests cold={cold} after expiry={refresh}");
        assert_eq!((cold, refresh), (1, 1), "replicas={n}");
    }
}
