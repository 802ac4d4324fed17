//! Bounded memory: capacity and idle eviction, and never evicting a key somebody waits on.
#![allow(clippy::result_large_err)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::{local_cache, until};
use ssoflow_core::{AccessToken, Expiry, Instant, Secret};
use ssoflow_tokio::{CacheConfig, Error};

fn token(v: &str, expiry: Expiry) -> AccessToken {
    AccessToken {
        value: Secret::new(v, "t").unwrap(),
        expiry,
    }
}

fn config(capacity: usize) -> CacheConfig {
    CacheConfig {
        capacity,
        idle_ttl: Duration::from_secs(60),
        ..CacheConfig::default()
    }
}

#[tokio::test]
async fn capacity_and_idle_time_bound_the_entries() {
    let sign_ins = Arc::new(AtomicU64::new(0));
    let cache = local_cache(config(8), {
        let sign_ins = sign_ins.clone();
        move |n: &u32, _| {
            sign_ins.fetch_add(1, Ordering::SeqCst);
            let n = *n;
            async move { Ok(token(&format!("t{n}"), Expiry::Unknown)) }
        }
    });
    let clock = cache.driver().clock().clone();
    for n in 0..100 {
        let t = cache.get(&n).await.unwrap();
        assert_eq!(t.value.expose(), format!("t{n}"));
        assert!(cache.len() <= 8);
    }
    assert_eq!(cache.len(), 8);
    // The most recent keys are the ones kept.
    cache.get(&99).await.unwrap();
    assert_eq!(sign_ins.load(Ordering::SeqCst), 100);

    clock.advance(Duration::from_secs(61));
    cache.purge_idle();
    assert!(cache.is_empty());
    // Idle entries also go on the way, a few at every access.
    for n in 0..8 {
        cache.get(&n).await.unwrap();
    }
    clock.advance(Duration::from_secs(61));
    cache.get(&1000).await.unwrap();
    assert_eq!(cache.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_being_signed_in_is_never_evicted() {
    let (go_tx, go_rx) = tokio::sync::watch::channel(false);
    let cache = local_cache(config(1), move |n: &u32, _| {
        let n = *n;
        let mut go = go_rx.clone();
        async move {
            if n != 0 {
                return Ok(token(&format!("t{n}"), Expiry::Unknown));
            }
            go.wait_for(|g| *g).await.expect("go");
            Ok::<_, Error>(token("slow", Expiry::At(Instant::from_millis(u64::MAX))))
        }
    });
    let waiters: Vec<_> = (0..10)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move { cache.get(&0).await })
        })
        .collect();
    until("9 waiters", || cache.waiting(&0) == 9).await;

    // The cache is full with a busy key: others get in beside it instead of evicting it.
    for n in 1..5 {
        cache.get(&n).await.unwrap();
    }
    assert!(cache.signing_in(&0));
    assert_eq!(cache.len(), 2, "busy key kept, idle ones evicted in turn");

    go_tx.send(true).unwrap();
    for w in waiters {
        assert_eq!(w.await.unwrap().unwrap().value.expose(), "slow");
    }
}
