//! Bounded memory: capacity and idle eviction, and never evicting a key somebody waits on.
#![allow(clippy::result_large_err)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::until;
use ssoflow_core::{AccessToken, Expiry, Instant, Secret};
use ssoflow_tokio::{CacheConfig, Clock, Error, TokenCache};

fn token(v: &str, expiry: Expiry) -> AccessToken {
    AccessToken {
        value: Secret::new(v, "t").unwrap(),
        expiry,
    }
}

fn config(clock: &Clock, capacity: usize) -> CacheConfig {
    CacheConfig {
        capacity,
        idle_ttl: Duration::from_secs(60),
        clock: clock.clone(),
        ..CacheConfig::default()
    }
}

#[tokio::test]
async fn capacity_and_idle_time_bound_the_entries() {
    let clock = Clock::new();
    let cache: TokenCache<u32, AccessToken> = TokenCache::new(config(&clock, 8));
    let sign_ins = Arc::new(AtomicU64::new(0));
    let sign_in = |n: u32| {
        let sign_ins = sign_ins.clone();
        move |_| {
            sign_ins.fetch_add(1, Ordering::SeqCst);
            async move { Ok(token(&format!("t{n}"), Expiry::Unknown)) }
        }
    };
    for n in 0..100 {
        let t = cache.get(&n, sign_in(n)).await.unwrap();
        assert_eq!(t.value.expose(), format!("t{n}"));
        assert!(cache.len() <= 8);
    }
    assert_eq!(cache.len(), 8);
    // The most recent keys are the ones kept.
    cache.get(&99, sign_in(99)).await.unwrap();
    assert_eq!(sign_ins.load(Ordering::SeqCst), 100);

    clock.advance(Duration::from_secs(61));
    cache.purge_idle();
    assert!(cache.is_empty());
    // Idle entries also go on the way, a few at every access.
    for n in 0..8 {
        cache.get(&n, sign_in(n)).await.unwrap();
    }
    clock.advance(Duration::from_secs(61));
    cache.get(&1000, sign_in(1000)).await.unwrap();
    assert_eq!(cache.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_being_signed_in_is_never_evicted() {
    let clock = Clock::new();
    let cache: TokenCache<u32, AccessToken> = TokenCache::new(config(&clock, 1));
    let (go_tx, go_rx) = tokio::sync::watch::channel(false);
    let waiters: Vec<_> = (0..10)
        .map(|_| {
            let (cache, go) = (cache.clone(), go_rx.clone());
            tokio::spawn(async move {
                cache
                    .get(&0, move |_| {
                        let mut go = go.clone();
                        async move {
                            go.wait_for(|g| *g).await.expect("go");
                            Ok::<_, Error>(token(
                                "slow",
                                Expiry::At(Instant::from_millis(u64::MAX)),
                            ))
                        }
                    })
                    .await
            })
        })
        .collect();
    until("10 waiters", || cache.waiting(&0) == 10).await;

    // The cache is full with a busy key: others get in beside it instead of evicting it.
    for n in 1..5 {
        cache
            .get(&n, move |_| async move {
                Ok(token(&format!("t{n}"), Expiry::Unknown))
            })
            .await
            .unwrap();
    }
    assert!(cache.signing_in(&0));
    assert_eq!(cache.len(), 2, "busy key kept, idle ones evicted in turn");

    go_tx.send(true).unwrap();
    for w in waiters {
        assert_eq!(w.await.unwrap().unwrap().value.expose(), "slow");
    }
}
