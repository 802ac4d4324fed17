//! The POS admin recipe through the cache: renewal refreshes first, and a refused refresh falls
//! back to a login — with a recipe that borrows a local configuration (no `'static`).
#![allow(clippy::result_large_err)]

mod common;

use common::Env;
use ssoflow_core::pos_api;
use ssoflow_tokio::TokenCache;

const LOGIN: &str = "POST /pos/auth/token";
const REFRESH: &str = "POST /pos/auth/refresh-token";
const PASSWORD: &str = "correct horse battery staple";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_refresh_falls_back_to_a_login() {
    let env = Env::new().await;
    let c = &env.sandbox.credentials().pos_api;
    let pos = pos_api::PosConfig::new(&c.base_url, &c.client_id, &c.client_secret).unwrap();
    env.driver
        .run(pos_api::create_account(&pos, "ada-admin", PASSWORD).unwrap())
        .await
        .expect("register");
    let cache = TokenCache::new(
        env.driver.clone(),
        pos_api::Admin::new(&pos, "ada-admin", PASSWORD).unwrap(),
        env.cache_config(),
    );
    let first = cache.lease(&()).await.expect("login");
    assert_eq!((env.calls(LOGIN), env.calls(REFRESH)), (1, 0));

    // A 401 on the token: the renewal refreshes.
    cache.report_unauthorized(&(), first.generation);
    let second = cache.lease(&()).await.expect("refresh");
    assert_eq!((env.calls(LOGIN), env.calls(REFRESH)), (1, 1));
    assert_ne!(
        second.value.access.value.expose(),
        first.value.access.value.expose()
    );

    // The provider refuses the refresh token: the same renewal logs in again.
    env.fault(serde_json::json!({"path": "/pos/auth/refresh-token", "kind": "unauthorized"}))
        .await;
    cache.report_unauthorized(&(), second.generation);
    let third = cache
        .lease(&())
        .await
        .expect("login after a refused refresh");
    assert_eq!((env.calls(LOGIN), env.calls(REFRESH)), (2, 2));
    assert_eq!(third.generation, second.generation + 1, "one sign-in");
}
