//! A replica dying mid-sign-in, and Redis going away and coming back.
#![allow(clippy::result_large_err)]

mod common;

use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use common::{Replica, TOKENS, calls, key, one_token, redis_or_skip, sandbox};
use ssoflow_core::AccessToken;
use ssoflow_core::par_ordering;
use ssoflow_redis::RedisConfig;
use ssoflow_tokio::{
    BoxFuture, CacheConfig, Driver, Error, OwnedRequest, OwnedResponse, TokenCache, Transport,
};

/// A transport that announces each request and never answers it.
struct Hanging(Mutex<mpsc::Sender<()>>);

impl Transport for Hanging {
    fn send(&self, _: OwnedRequest) -> BoxFuture<'_, Result<OwnedResponse, Error>> {
        let _ = self.0.lock().unwrap().send(());
        Box::pin(std::future::pending())
    }
}

#[test]
fn a_replica_dying_mid_sign_in_holds_the_others_up_only_for_the_lock_ttl() {
    let Some(redis) = redis_or_skip("lock holder dies") else {
        return;
    };
    let sandbox = sandbox();
    let lock_ttl = Duration::from_millis(1_000);
    let config = RedisConfig {
        lock_ttl,
        ..RedisConfig::default()
    };
    let doomed = Replica::new(&redis.url(), &sandbox, &key(), config.clone());
    let survivor = Replica::new(&redis.url(), &sandbox, &key(), config);

    // The doomed replica takes the lock; its sign-in never completes (its token request
    // never gets an answer).
    let (entered, signing) = mpsc::channel::<()>();
    let driver =
        Driver::with_transport(Hanging(Mutex::new(entered))).with_clock(doomed.clock.clone());
    let cache = TokenCache::with_store(
        driver,
        par_ordering::M2m::new(doomed.par),
        Arc::new(doomed.store.shared("par-m2m")),
        CacheConfig::default(),
    );
    doomed.rt.spawn(async move { cache.get(&()).await });
    signing
        .recv_timeout(Duration::from_secs(10))
        .expect("the doomed replica started signing in");
    let lock = doomed.store.key_names::<AccessToken>("par-m2m").lock;
    let pttl = survivor.rt.block_on(async {
        let client = redis::Client::open(redis.url()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        redis::cmd("PTTL")
            .arg(&lock)
            .query_async::<i64>(&mut conn)
            .await
            .unwrap()
    });
    assert!(pttl > 0, "the lock is held (PTTL {pttl})");

    // It dies: its tasks are dropped, its lock is neither released nor extended any more.
    doomed.rt.shutdown_background();

    let started = Instant::now();
    let results = survivor.get_m2m(100);
    let waited = started.elapsed();
    one_token(&[results]);
    assert_eq!(calls(&sandbox, TOKENS), 1, "{:?}", sandbox.stats());
    let stats = survivor.store.stats();
    assert_eq!((stats.waits, stats.locked_sign_ins), (1, 1), "{stats:?}");
    assert_eq!(stats.direct_sign_ins, 0, "{stats:?}");
    // Held up for what was left of the lock, plus at most one polling interval (and slack
    // for a loaded machine) — never the 30 s `max_wait`.
    assert!(
        waited < lock_ttl + Duration::from_millis(1_500),
        "waited {waited:?}"
    );
    println!(
        "lock holder died: the next replica took over after {waited:?} (lock_ttl {lock_ttl:?}, PTTL at death {pttl} ms)"
    );
}

#[test]
fn callers_keep_their_tokens_while_redis_is_down_and_sharing_resumes_when_it_is_back() {
    let Some(mut redis) = redis_or_skip("redis outage") else {
        return;
    };
    let sandbox = sandbox();
    let config = RedisConfig {
        down_recheck: Duration::from_millis(100),
        ..RedisConfig::default()
    };
    let url = redis.url();
    let replica = || Replica::new(&url, &sandbox, &key(), config.clone());
    let a = replica();
    let b = replica();
    one_token(&[a.get_m2m(100), b.get_m2m(100)]);
    assert_eq!(calls(&sandbox, TOKENS), 1);

    redis.stop();

    // Local hits need no Redis.
    let before = calls(&sandbox, TOKENS);
    one_token(&[a.get_m2m(100), b.get_m2m(100)]);
    assert_eq!(calls(&sandbox, TOKENS), before);
    // A new replica signs in directly, without errors and without waiting on Redis for long.
    let c = replica();
    let started = Instant::now();
    one_token(&[c.get_m2m(100)]);
    let direct_latency = started.elapsed();
    println!("Redis down: a cold replica's 100 callers got a direct sign-in in {direct_latency:?}");
    assert!(
        direct_latency < Duration::from_secs(3),
        "{direct_latency:?}"
    );
    assert_eq!(calls(&sandbox, TOKENS), before + 1);
    let stats = c.store.stats();
    assert_eq!((stats.direct_sign_ins, stats.outages), (1, 1), "{stats:?}");
    assert!(!c.store.is_available());
    // A replica that had Redis renews directly too (it finds the outage on its own).
    a.m2m.invalidate(&());
    one_token(&[a.get_m2m(100)]);
    assert_eq!(calls(&sandbox, TOKENS), before + 2);
    assert_eq!(a.store.stats().outages, 1);
    // More sign-ins during the outage: one outage, logged once.
    c.m2m.invalidate(&());
    one_token(&[c.get_m2m(10)]);
    assert_eq!(c.store.stats().outages, 1);

    redis.restart();
    // Wait (bounded) until the old replicas' connections are back.
    for r in [&a, &c] {
        r.rt.block_on(async {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
            while r.store.ping().await.is_err() {
                assert!(tokio::time::Instant::now() < deadline, "no reconnect");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        assert!(r.store.is_available());
    }

    // The restarted Redis is empty: one replica signs in and stores, the next shares.
    let signed_in = calls(&sandbox, TOKENS);
    let d = replica();
    let fresh = one_token(&[d.get_m2m(100)]);
    assert_eq!(calls(&sandbox, TOKENS), signed_in + 1);
    let e = replica();
    assert_eq!(one_token(&[e.get_m2m(100)]), fresh);
    assert_eq!(
        calls(&sandbox, TOKENS),
        signed_in + 1,
        "new replica signed in"
    );
    assert_eq!(e.store.stats().shared_hits, 1);
    // And a replica that lived through the outage shares again.
    c.m2m.invalidate(&());
    assert_eq!(one_token(&[c.get_m2m(10)]), fresh);
    assert_eq!(calls(&sandbox, TOKENS), signed_in + 1);
    assert_eq!(c.store.stats().outages, 1);
}

#[test]
fn a_hung_redis_costs_callers_a_timeout_not_a_hang() {
    let Some(redis) = redis_or_skip("hung redis") else {
        return;
    };
    let sandbox = sandbox();
    let url = redis.url();
    let replica = || Replica::new(&url, &sandbox, &key(), RedisConfig::default());
    let a = replica();
    let first = one_token(&[a.get_m2m(10)]);

    redis.freeze();
    // A replica with a connection: its GET times out (200 ms), it signs in directly.
    a.m2m.invalidate(&());
    let started = Instant::now();
    one_token(&[a.get_m2m(100)]);
    let with_connection = started.elapsed();
    // A new replica: connecting times out (500 ms), it signs in directly.
    let b = replica();
    let started = Instant::now();
    one_token(&[b.get_m2m(100)]);
    let connecting = started.elapsed();
    assert_eq!(calls(&sandbox, TOKENS), 3);
    assert_eq!(a.store.stats().direct_sign_ins, 1);
    assert_eq!(b.store.stats().direct_sign_ins, 1);
    println!(
        "hung Redis: sign-in via timeout + direct took {with_connection:?} (connected), {connecting:?} (connecting)"
    );
    assert!(
        with_connection < Duration::from_millis(1_500),
        "{with_connection:?}"
    );
    assert!(connecting < Duration::from_millis(2_000), "{connecting:?}");

    redis.thaw();
    a.rt.block_on(async {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while a.store.ping().await.is_err() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "Redis did not answer again"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    // The token stored before the freeze is still there; nobody stored while it was frozen.
    let c = replica();
    assert_eq!(one_token(&[c.get_m2m(10)]), first);
    assert_eq!(calls(&sandbox, TOKENS), 3);
}
