//! Single-flight sign-in, refresh-on-401 and cancellation against the sandbox's PAR Ordering.
#![allow(clippy::result_large_err)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Env, ME, SIGN_IN, TOKENS, concurrently, until};
use serde_json::json;
use ssoflow_core::par_ordering::SignIn;
use ssoflow_core::{AccessToken, Expiry, Secret};
use ssoflow_tokio::{CacheConfig, Error, TokenCache};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_cold_gets_make_one_token_request_and_one_more_after_expiry() {
    let env = Env::new().await;
    let cache: TokenCache<(), AccessToken> = TokenCache::new(env.cache_config());

    let tokens = concurrently(10_000, || {
        let (cache, sign_in) = (cache.clone(), env.m2m_sign_in());
        async move { cache.get(&(), sign_in).await.expect("token") }
    })
    .await;
    assert_eq!(env.calls(TOKENS), 1, "{:?}", env.stats());
    assert!(tokens.iter().all(|t| Arc::ptr_eq(t, &tokens[0])));

    // Past the M2M token's lifetime (86 399 s) on both clocks.
    env.advance(Duration::from_secs(86_400));
    let renewed = concurrently(10_000, || {
        let (cache, sign_in) = (cache.clone(), env.m2m_sign_in());
        async move { cache.get(&(), sign_in).await.expect("token") }
    })
    .await;
    assert_eq!(env.calls(TOKENS), 2, "{:?}", env.stats());
    assert!(renewed.iter().all(|t| Arc::ptr_eq(t, &renewed[0])));
    assert_ne!(renewed[0].value.expose(), tokens[0].value.expose());
}

/// Warm a customer's token with one protected call.
async fn warm(
    env: &Env,
    m2m: &TokenCache<(), AccessToken>,
    customers: &TokenCache<String, SignIn>,
) {
    let r = customers
        .send_authorized(
            &env.driver,
            &"jane".to_owned(),
            env.customer_sign_in(m2m, ssoflow_sandbox::PAR_TEST_SUBJECT_TOKEN),
            env.me(),
        )
        .await
        .expect("first call");
    assert_eq!(r.status, 200);
    assert_eq!(env.calls(SIGN_IN), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_calls_answered_401_cause_one_re_sign_in() {
    let env = Env::new().await;
    let m2m = TokenCache::new(env.cache_config());
    let customers: TokenCache<String, SignIn> = TokenCache::new(env.cache_config());
    warm(&env, &m2m, &customers).await;

    // Every call's first request gets the vendor's 401. The requests are held at a gate until
    // all 1 000 are in flight (so all carry the same token), and the re-sign-in is held until
    // all 1 000 answers are in (so no retry overtakes a first request at the provider).
    env.fault(json!({"path": "/par/api/customers/me", "kind": "unauthorized", "count": 1000}))
        .await;
    let (mut arrived, release) = env.transport.gate("/par/api/customers/me");
    let unauthorized = env.transport.controls.unauthorized.subscribe();
    let sign_in = Arc::new(env.customer_sign_in(&m2m, ssoflow_sandbox::PAR_TEST_SUBJECT_TOKEN));
    let calls: Vec<_> = (0..1000)
        .map(|_| {
            let (driver, customers, sign_in, seen, me) = (
                env.driver.clone(),
                customers.clone(),
                sign_in.clone(),
                unauthorized.clone(),
                env.me(),
            );
            let held_sign_in = move |previous: Option<Arc<SignIn>>| {
                let mut seen = seen.clone();
                let run = sign_in(previous);
                async move {
                    seen.wait_for(|n| *n >= 1000).await.expect("counter");
                    run.await
                }
            };
            tokio::spawn(async move {
                customers
                    .send_authorized(&driver, &"jane".to_owned(), held_sign_in, me)
                    .await
            })
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
    assert_eq!(env.calls(TOKENS), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_menu_token_is_renewed_once_for_a_thousand_callers() {
    let env = Env::new().await;
    let m2m = TokenCache::new(env.cache_config());
    let customers: TokenCache<String, SignIn> = TokenCache::new(env.cache_config());
    warm(&env, &m2m, &customers).await;

    // Only the provider's clock moves: we still believe the menu token (ttl 60 min) is fresh,
    // the provider answers 401, and the cache must recover with exactly one sign-in.
    env.sandbox.advance_clock(Duration::from_secs(3601));
    let responses = concurrently(1000, || {
        let (driver, customers, sign_in, me) = (
            env.driver.clone(),
            customers.clone(),
            env.customer_sign_in(&m2m, ssoflow_sandbox::PAR_TEST_SUBJECT_TOKEN),
            env.me(),
        );
        async move {
            customers
                .send_authorized(&driver, &"jane".to_owned(), sign_in, me)
                .await
        }
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
    let m2m = TokenCache::new(env.cache_config());
    let customers: TokenCache<String, SignIn> = TokenCache::new(env.cache_config());
    warm(&env, &m2m, &customers).await;
    env.fault(json!({"path": "/par/api/customers/me", "kind": "unauthorized", "count": 2}))
        .await;
    let e = customers
        .send_authorized(
            &env.driver,
            &"jane".to_owned(),
            env.customer_sign_in(&m2m, ssoflow_sandbox::PAR_TEST_SUBJECT_TOKEN),
            env.me(),
        )
        .await
        .unwrap_err();
    assert_eq!(e, Error::Core(ssoflow_core::Error::Unauthorized));
    assert_eq!(env.calls(SIGN_IN), 2);
    assert_eq!(env.calls(ME), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_waiters_mid_refresh_cancels_nothing() {
    let env = Env::new().await;
    let cache: TokenCache<(), AccessToken> = TokenCache::new(env.cache_config());
    let (mut arrived, release) = env.transport.gate("/par/api/oauth/tokens");
    // A slow provider on top of the gate, as in production.
    env.fault(json!({"path": "/par/api/oauth/tokens", "kind": "delay", "ms": 50}))
        .await;

    // The first caller starts the sign-in; its request is now held at the gate.
    let spawn_get = || {
        let (cache, sign_in) = (cache.clone(), env.m2m_sign_in());
        tokio::spawn(async move { cache.get(&(), sign_in).await })
    };
    let first = spawn_get();
    arrived.recv().await.expect("token request sent");
    let mut others: Vec<_> = (0..99).map(|_| spawn_get()).collect();
    until("100 waiters", || cache.waiting(&()) == 100).await;

    // Drop the caller that started the sign-in and half of the rest.
    first.abort();
    let dropped: Vec<_> = others.drain(..49).collect();
    for h in &dropped {
        h.abort();
    }
    assert!(first.await.unwrap_err().is_cancelled());
    for h in dropped {
        assert!(h.await.unwrap_err().is_cancelled());
    }
    assert_eq!(cache.waiting(&()), 50);
    assert!(cache.signing_in(&()));

    release.add_permits(1);
    let mut tokens = Vec::new();
    for h in others {
        tokens.push(h.await.expect("task").expect("token"));
    }
    assert_eq!(tokens.len(), 50);
    assert!(tokens.iter().all(|t| Arc::ptr_eq(t, &tokens[0])));

    env.transport.ungate();
    let again = cache.get(&(), env.m2m_sign_in()).await.expect("cached");
    assert!(Arc::ptr_eq(&again, &tokens[0]));
    assert_eq!(env.calls(TOKENS), 1);
}

fn local_token(v: &str) -> AccessToken {
    AccessToken {
        value: Secret::new(v, "t").unwrap(),
        expiry: Expiry::Unknown,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_sign_in_fails_its_waiters_and_leaves_the_cache_usable() {
    let cache: TokenCache<u8, AccessToken> = TokenCache::new(CacheConfig::default());
    let (go_tx, go_rx) = tokio::sync::watch::channel(false);
    let handles: Vec<_> = (0..10)
        .map(|_| {
            let cache = cache.clone();
            let go = go_rx.clone();
            tokio::spawn(async move {
                cache
                    .get(&1, move |_| {
                        let mut go = go.clone();
                        async move {
                            go.wait_for(|g| *g).await.expect("go");
                            panic!("sign-in bug (expected by this test)")
                        }
                    })
                    .await
            })
        })
        .collect();
    until("10 waiters", || cache.waiting(&1) == 10).await;
    go_tx.send(true).expect("go");
    for h in handles {
        assert_eq!(h.await.expect("task").unwrap_err(), Error::Panicked);
    }
    let t = cache
        .get(&1, |_| async { Ok(local_token("ok")) })
        .await
        .expect("recovered");
    assert_eq!(t.value.expose(), "ok");
}

#[test]
fn a_runtime_shut_down_mid_sign_in_leaves_the_key_usable() {
    let cache: TokenCache<u8, AccessToken> = TokenCache::new(CacheConfig::default());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let c = cache.clone();
        tokio::spawn(async move {
            c.get(&1, |_| std::future::pending::<Result<AccessToken, Error>>())
                .await
        });
        let c = cache.clone();
        until("sign-in running", move || c.signing_in(&1)).await;
    });
    drop(rt);
    assert!(!cache.signing_in(&1));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let t = rt
        .block_on(cache.get(&1, |_| async { Ok(local_token("second")) }))
        .expect("signs in again");
    assert_eq!(t.value.expose(), "second");
}
