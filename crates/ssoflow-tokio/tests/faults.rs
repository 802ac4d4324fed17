//! Provider faults (sandbox fault hooks) and transport limits (small local servers).
#![allow(clippy::result_large_err)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use common::{Env, TOKENS, concurrently, fault, until};
use futures_util::StreamExt;
use serde_json::json;
use ssoflow_core::oauth2;
use ssoflow_core::par_ordering::{self, RequestIds};
use ssoflow_tokio::{
    CacheConfig, Config, DEFAULT_MAX_RESPONSE_BYTES, Driver, Error, OwnedRequest, TokenCache,
};

const TOKEN_PATH: &str = "/par/api/oauth/tokens";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_503_with_retry_after_is_retried_after_waiting() {
    let env = Env::new().await;
    env.fault(json!({"path": TOKEN_PATH, "kind": "status", "status": 503, "retry_after": 1}))
        .await;
    let cache = env.m2m();
    let started = Instant::now();
    let tokens = concurrently(100, || {
        let cache = cache.clone();
        async move { cache.get(&()).await }
    })
    .await;
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After honoured"
    );
    for t in tokens {
        t.expect("token after the retry");
    }
    assert_eq!(env.calls(TOKENS), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_driver_reports_retry_after_and_never_parses_a_cut_body() {
    let env = Env::new().await;
    let run = || async {
        let mut ids = RequestIds::new([1; 16]);
        env.driver
            .run(par_ordering::m2m_token(env.par, &mut ids))
            .await
    };
    env.fault(json!({"path": TOKEN_PATH, "kind": "status", "status": 429, "retry_after": 7}))
        .await;
    let e = run().await.unwrap_err();
    assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
    assert_eq!(e.status(), Some(429));
    assert!(e.is_transient());

    env.fault(fault(TOKEN_PATH, "truncate")).await;
    let e = run().await.unwrap_err();
    assert!(matches!(e, Error::Transport { .. }), "{e:?}");
    assert!(e.is_transient());

    env.fault(fault(TOKEN_PATH, "drop")).await;
    let e = run().await.unwrap_err();
    assert!(matches!(e, Error::Transport { .. }), "{e:?}");

    run().await.expect("provider back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_dropped_mid_response_is_retried() {
    let env = Env::new().await;
    let cache = env.m2m();
    env.fault(fault(TOKEN_PATH, "truncate")).await;
    env.fault(fault(TOKEN_PATH, "drop")).await;
    let tokens = concurrently(50, || {
        let cache = cache.clone();
        async move { cache.get(&()).await }
    })
    .await;
    for t in tokens {
        t.expect("token after two retries");
    }
    assert_eq!(env.calls(TOKENS), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_are_bounded_and_the_error_is_shared() {
    let env = Env::new().await;
    let cache = env.m2m();
    env.fault(json!({"path": TOKEN_PATH, "kind": "status", "status": 500, "count": 3}))
        .await;
    // Hold the first request until all 20 callers wait for it.
    let (mut arrived, release) = env.transport.gate(TOKEN_PATH);
    let calls: Vec<_> = (0..20)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move { cache.get(&()).await })
        })
        .collect();
    arrived.recv().await.expect("first attempt");
    // The caller running the sign-in, and 19 waiting for it.
    until("19 waiters", || cache.waiting(&()) == 19).await;
    env.transport.ungate();
    release.add_permits(1);
    for c in calls {
        let e = c.await.expect("task").unwrap_err();
        assert_eq!(e.status(), Some(500), "{e:?}");
    }
    // One attempt, two retries (the default), then the error went to all 20 callers.
    assert_eq!(env.calls(TOKENS), 3);
    cache.get(&()).await.expect("next caller signs in");
    assert_eq!(env.calls(TOKENS), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_sign_in_is_shared_by_every_waiter_with_one_request() {
    let env = Env::new().await;
    // The default policy: a final failure is handed out for 1 s.
    let cache = TokenCache::new(
        env.driver.clone(),
        par_ordering::M2m::new(env.par),
        CacheConfig::default(),
    );
    env.fault(json!({"path": TOKEN_PATH, "kind": "unauthorized"}))
        .await;
    let (mut arrived, release) = env.transport.gate(TOKEN_PATH);
    let calls: Vec<_> = (0..50)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move { cache.get(&()).await })
        })
        .collect();
    arrived.recv().await.expect("the one request");
    until("49 waiters", || cache.waiting(&()) == 49).await;
    env.transport.ungate();
    release.add_permits(1);
    for c in calls {
        assert_eq!(c.await.expect("task").unwrap_err().status(), Some(401));
    }
    // During the cooldown the failure is the answer, and the provider is left alone.
    assert_eq!(cache.get(&()).await.unwrap_err().status(), Some(401));
    assert_eq!(env.calls(TOKENS), 1);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    cache.get(&()).await.expect("after the cooldown");
    assert_eq!(env.calls(TOKENS), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_sign_in_is_not_retried() {
    let env = Env::new().await;
    let cache = env.m2m();
    env.fault(json!({"path": TOKEN_PATH, "kind": "unauthorized"}))
        .await;
    let e = cache.get(&()).await.unwrap_err();
    assert_eq!(e.status(), Some(401));
    assert_eq!(env.calls(TOKENS), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_retry_after_fails_fast_and_holds_off_new_sign_ins() {
    let env = Env::new().await;
    let config = env.cache_config();
    let cache = TokenCache::new(
        env.driver.clone(),
        par_ordering::M2m::new(env.par),
        CacheConfig {
            policy: config.policy.with_max_backoff_ms(500),
            ..config
        },
    );
    env.fault(json!({"path": TOKEN_PATH, "kind": "status", "status": 429, "retry_after": 30}))
        .await;
    let started = Instant::now();
    let results = concurrently(20, || {
        let cache = cache.clone();
        async move { cache.get(&()).await }
    })
    .await;
    for r in results {
        assert_eq!(r.unwrap_err().retry_after(), Some(Duration::from_secs(30)));
    }
    // Within the Retry-After: callers get the error at once, the provider is left alone.
    let e = cache.get(&()).await.unwrap_err();
    assert_eq!(e.status(), Some(429));
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(env.calls(TOKENS), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_token_keeps_serving_while_the_provider_is_down() {
    let env = Env::new().await;
    let cache = env.m2m();
    let token = cache.get(&()).await.expect("token");
    env.fault(json!({"path": TOKEN_PATH, "kind": "status", "status": 503, "count": 100_000}))
        .await;

    // 5 s before expiry: inside the renewal window (skew 10 s), still valid.
    env.advance(Duration::from_secs(86_399 - 5));
    for _ in 0..20 {
        let got = concurrently(50, || {
            let cache = cache.clone();
            async move { cache.get(&()).await }
        })
        .await;
        for t in got {
            assert!(Arc::ptr_eq(&t.expect("still-valid token"), &token));
        }
    }
    until("a renewal attempt", || env.calls(TOKENS) >= 2).await;

    // Past expiry: no token to hand out, and the provider is still down.
    env.advance(Duration::from_secs(6));
    let e = cache.get(&()).await.unwrap_err();
    assert_eq!(e.status(), Some(503));
    assert!(e.is_transient());

    env.clear_faults().await;
    let renewed = cache.get(&()).await.expect("provider back");
    assert_ne!(renewed.value.expose(), token.value.expose());
}

/// A local server for transport tests.
async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

fn get_request(url: String) -> OwnedRequest {
    OwnedRequest::new(http::Method::GET, url)
}

#[tokio::test]
async fn bodies_over_the_cap_are_refused_never_truncated() {
    let cap = DEFAULT_MAX_RESPONSE_BYTES;
    let base = serve(
        Router::new()
            .route("/exact", get(move || async move { vec![b'a'; cap] }))
            .route("/big", get(move || async move { vec![b'a'; cap + 1] }))
            .route(
                "/chunked",
                get(move || async move {
                    let chunks = (0..20).map(|_| Ok::<_, std::io::Error>(vec![b'b'; 4096]));
                    Body::from_stream(futures_util::stream::iter(chunks))
                }),
            ),
    )
    .await;
    let driver = Driver::new().unwrap();
    let ok = driver
        .send(get_request(format!("{base}/exact")))
        .await
        .unwrap();
    assert_eq!(ok.body.len(), cap);
    let e = driver
        .send(get_request(format!("{base}/big")))
        .await
        .unwrap_err();
    assert_eq!(e, Error::TooLarge { limit: cap });
    let e = driver
        .send(get_request(format!("{base}/chunked")))
        .await
        .unwrap_err();
    assert_eq!(e, Error::TooLarge { limit: cap });
}

#[tokio::test]
async fn a_stalled_server_hits_the_overall_deadline() {
    let base = serve(Router::new().route(
        "/stall",
        get(|| async {
            let slow = futures_util::stream::once(async { Ok::<_, std::io::Error>(b"{".to_vec()) })
                .chain(futures_util::stream::pending());
            Body::from_stream(slow)
        }),
    ))
    .await;
    let driver = Driver::with_config(Config {
        timeout: Duration::from_millis(300),
        ..Config::default()
    })
    .unwrap();
    let started = Instant::now();
    let e = driver
        .send(get_request(format!("{base}/stall")))
        .await
        .unwrap_err();
    assert_eq!(e, Error::Timeout);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn redirects_are_not_followed_and_plain_http_needs_loopback() {
    let base = serve(Router::new().route(
        "/moved",
        get(|| async {
            (
                http::StatusCode::FOUND,
                [("location", "http://127.0.0.1:9/elsewhere")],
            )
        }),
    ))
    .await;
    let driver = Driver::new().unwrap();
    let r = driver
        .send(get_request(format!("{base}/moved")))
        .await
        .unwrap();
    assert_eq!(r.status, 302);

    let e = driver
        .send(get_request("http://example.invalid/token".into()))
        .await
        .unwrap_err();
    assert_eq!(e, Error::Core(ssoflow_core::Error::Insecure));
    // A flow's own URL check refuses it before any request is built.
    assert_eq!(
        oauth2::Client::new("http://auth.example/token", "id").unwrap_err(),
        ssoflow_core::Error::Insecure
    );
    let e = driver
        .send(get_request("https://127.0.0.1:9/token".into()))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Transport { .. }), "{e:?}");
}
