//! Single-flight sign-in, refresh-on-401 and cancellation against the sandbox's PAR Ordering.
#![allow(clippy::result_large_err)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::{
    Customers, Env, M2mCache, ME, SIGN_IN, TOKENS, concurrently, local_cache, local_token, until,
};
use serde_json::json;
use ssoflow_core::AccessToken;
use ssoflow_core::session::Policy;
use ssoflow_sandbox::PAR_TEST_SUBJECT_TOKEN;
use ssoflow_tokio::{CacheConfig, Error};

fn jane() -> String {
    PAR_TEST_SUBJECT_TOKEN.to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_cold_gets_make_one_token_request_and_one_more_after_expiry() {
    let env = Env::new().await;
    let cache: M2mCache = env.m2m();

    let tokens = concurrently(10_000, || {
        let cache = cache.clone();
        async move { cache.get(&()).await.expect("token") }
    })
    .await;
    assert_eq!(env.calls(TOKENS), 1, "{:?}", env.stats());
    assert!(tokens.iter().all(|t| Arc::ptr_eq(t, &tokens[0])));

    // Past the M2M token's lifetime (86 399 s) on both clocks.
    env.advance(Duration::from_secs(86_400));
    let renewed = concurrently(10_000, || {
        let cache = cache.clone();
        async move { cache.get(&()).await.expect("token") }
    })
    .await;
    assert_eq!(env.calls(TOKENS), 2, "{:?}", env.stats());
    assert!(renewed.iter().all(|t| Arc::ptr_eq(t, &renewed[0])));
    assert_ne!(renewed[0].value.expose(), tokens[0].value.expose());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_tasks_make_one_sign_in() {
    let env = Env::new().await;
    let customers = env.customers();
    let signed_in = concurrently(1000, || {
        let customers = customers.clone();
        async move { customers.get(&jane()).await.expect("sign-in") }
    })
    .await;
    assert!(signed_in.iter().all(|s| Arc::ptr_eq(s, &signed_in[0])));
    assert_eq!(env.calls(SIGN_IN), 1, "{:?}", env.stats());
    assert_eq!(env.calls(TOKENS), 1, "{:?}", env.stats());
}

/// Warm a customer's token with one protected call.
async fn warm(env: &Env, customers: &Customers) {
    let r = customers
        .send_authorized(&jane(), env.me())
        .await
        .expect("first call");
    assert_eq!(r.status, 200);
    assert_eq!(env.calls(SIGN_IN), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_calls_answered_401_cause_one_re_sign_in() {
    let env = Env::new().await;
    let customers = env.customers();
    warm(&env, &customers).await;

    // Every call's first request gets the vendor's 401. The requests are held at a gate until
    // all 1 000 are in flight (so all carry the same token), and the re-sign-in is held until
    // all 1 000 answers are in (so no retry overtakes a first request at the provider).
    env.fault(json!({"path": "/par/api/customers/me", "kind": "unauthorized", "count": 1000}))
        .await;
    let (mut arrived, release) = env.transport.gate("/par/api/customers/me");
    env.transport
        .hold_until_401s("/par/api/sts/users/sign-in", 1000);
    let calls: Vec<_> = (0..1000)
        .map(|_| {
            let (customers, me) = (customers.clone(), env.me());
            tokio::spawn(async move { customers.send_authorized(&jane(), me).await })
        })
        .collect();
    for _ in 0..1000 {
        arrived.recv().await.expect("request held");
    }
    env.transport.ungate();
    release.add_permits(1000);
    let mut responses = Vec::new();
    for c in calls {
        responses.push(c.await.expect("task"));
    }
    let failed = responses.iter().filter(|r| r.is_err()).count();
    assert_eq!(
        failed,
        0,
        "401s {} {:?}",
        env.transport.controls.unauthorized.borrow().to_owned(),
        env.stats()
    );
    assert_eq!(
        env.transport.controls.unauthorized.borrow().to_owned(),
        1000
    );
    for r in &responses {
        assert_eq!(r.as_ref().expect("call succeeds").status, 200);
    }
    assert_eq!(env.calls(SIGN_IN), 2, "{:?}", env.stats());
    assert_eq!(env.calls(ME), 1 + 1000 + 1000, "{:?}", env.stats());
    // The re-sign-in reused the M2M token the recipe kept.
    assert_eq!(env.calls(TOKENS), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_menu_token_is_renewed_once_for_a_thousand_callers() {
    let env = Env::new().await;
    let customers = env.customers();
    warm(&env, &customers).await;

    // Only the provider's clock moves: we still believe the menu token (ttl 60 min) is fresh,
    // the provider answers 401, and the cache must recover with exactly one sign-in.
    env.sandbox.advance_clock(Duration::from_secs(3601));
    let responses = concurrently(1000, || {
        let (customers, me) = (customers.clone(), env.me());
        async move { customers.send_authorized(&jane(), me).await }
    })
    .await;
    for r in &responses {
        assert_eq!(r.as_ref().expect("call succeeds").status, 200);
    }
    assert_eq!(env.calls(SIGN_IN), 2, "{:?}", env.stats());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_401_after_a_fresh_sign_in_is_an_error_not_a_loop() {
    let env = Env::new().await;
    let customers = env.customers();
    warm(&env, &customers).await;
    env.fault(json!({"path": "/par/api/customers/me", "kind": "unauthorized", "count": 2}))
        .await;
    let e = customers
        .send_authorized(&jane(), env.me())
        .await
        .unwrap_err();
    assert_eq!(e, Error::Core(ssoflow_core::Error::Unauthorized));
    assert_eq!(env.calls(SIGN_IN), 2);
    assert_eq!(env.calls(ME), 3);
}

/// The sign-in runs in the task that was told to run it. Dropping that task mid-sign-in hands
/// the sign-in to a waiter; dropping waiters changes nothing for the others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_dropped_mid_sign_in_hands_it_to_another_waiter() {
    let env = Env::new().await;
    let cache = env.m2m();
    let (mut arrived, release) = env.transport.gate("/par/api/oauth/tokens");
    // A slow provider on top of the gate, as in production.
    env.fault(json!({"path": "/par/api/oauth/tokens", "kind": "delay", "ms": 50}))
        .await;

    // The first caller signs in; its request is now held at the gate.
    let spawn_get = || {
        let cache = cache.clone();
        tokio::spawn(async move { cache.get(&()).await })
    };
    let first = spawn_get();
    arrived.recv().await.expect("token request sent");
    let mut others: Vec<_> = (0..99).map(|_| spawn_get()).collect();
    until("99 waiters", || cache.waiting(&()) == 99).await;

    // Drop the caller that is signing in, and half of the rest.
    first.abort();
    assert!(first.await.unwrap_err().is_cancelled());
    let dropped: Vec<_> = others.drain(..49).collect();
    for h in &dropped {
        h.abort();
    }
    for h in dropped {
        assert!(h.await.unwrap_err().is_cancelled());
    }
    // One of the 50 left took the sign-in over: its request is at the gate now.
    arrived.recv().await.expect("the sign-in taken over");
    until("49 waiters", || cache.waiting(&()) == 49).await;
    assert!(cache.signing_in(&()));

    release.add_permits(1);
    let mut tokens = Vec::new();
    for h in others {
        tokens.push(h.await.expect("task").expect("token"));
    }
    assert_eq!(tokens.len(), 50);
    assert!(tokens.iter().all(|t| Arc::ptr_eq(t, &tokens[0])));

    env.transport.ungate();
    let again = cache.get(&()).await.expect("cached");
    assert!(Arc::ptr_eq(&again, &tokens[0]));
    // The abandoned request never left the gate.
    assert_eq!(env.calls(TOKENS), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_sign_in_fails_its_waiters_and_leaves_the_cache_usable() {
    let (go_tx, go_rx) = tokio::sync::watch::channel(false);
    let runs = Arc::new(AtomicU64::new(0));
    let config = CacheConfig {
        policy: Policy::DEFAULT.with_failure_cooldown_ms(0),
        ..CacheConfig::default()
    };
    let cache = local_cache(config, {
        let runs = runs.clone();
        move |_: &u8, _| {
            let mut go = go_rx.clone();
            let first = runs.fetch_add(1, Ordering::SeqCst) == 0;
            async move {
                if first {
                    go.wait_for(|g| *g).await.expect("go");
                    panic!("sign-in bug (expected by this test)")
                }
                Ok(local_token("ok"))
            }
        }
    });
    let handles: Vec<_> = (0..10)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move { cache.get(&1).await })
        })
        .collect();
    until("9 waiters", || cache.waiting(&1) == 9).await;
    go_tx.send(true).expect("go");
    for h in handles {
        assert_eq!(h.await.expect("task").unwrap_err(), Error::Panicked);
    }
    assert_eq!(runs.load(Ordering::SeqCst), 1, "one panic, shared");
    let t = cache.get(&1).await.expect("recovered");
    assert_eq!(t.value.expose(), "ok");
}

#[test]
fn a_runtime_shut_down_mid_sign_in_leaves_the_key_usable() {
    let runs = Arc::new(AtomicU64::new(0));
    let cache = local_cache(CacheConfig::default(), {
        let runs = runs.clone();
        move |_: &u8, _| {
            let first = runs.fetch_add(1, Ordering::SeqCst) == 0;
            async move {
                if first {
                    std::future::pending::<()>().await;
                }
                Ok::<AccessToken, Error>(local_token("second"))
            }
        }
    });
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let c = cache.clone();
        tokio::spawn(async move { c.get(&1).await });
        let c = cache.clone();
        until("sign-in running", move || c.signing_in(&1)).await;
    });
    drop(rt);
    assert!(!cache.signing_in(&1));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let t = rt.block_on(cache.get(&1)).expect("signs in again");
    assert_eq!(t.value.expose(), "second");
}
