//! PAR Ordering (the sandbox) calling the app's authenticated `/customer-info` (the
//! `ssoflow-customer-info` crate) with the customer's bearer token, to register the customer and
//! sync a changed email on the next sign-in, while the app's `TokenCache` holds the menu token.
#![allow(clippy::result_large_err)]

mod common;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use common::{Env, SIGN_IN};
use serde_json::Value;
use ssoflow_customer_info::{BearerToken, Customer, Refusal, customer_info_router};
use ssoflow_sandbox::Sandbox;

type Customers = Arc<RwLock<HashMap<String, Customer>>>;

const UUID: &str = "1df3d3b3-d2b6-4126-93f2-1fdbd419268b";
/// John's access token at the app's identity provider: a JWT whose `sub` is his id (PAR Ordering
/// reads the id from it; the app verifies the whole token against what it issued).
const JOHN_TOKEN: &str =
    "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxZGYzZDNiMy1kMmI2LTQxMjYtOTNmMi0xZmRiZDQxOTI2OGIifQ.c2ln";

fn customers() -> Customers {
    let john = Customer {
        customer_account_uuid: UUID.into(),
        first_name: "John".into(),
        last_name: "Doe".into(),
        email: "john.doe@mail.com".into(),
        phone_number: "+23533674523".into(),
    };
    Arc::new(RwLock::new(HashMap::from([(UUID.to_owned(), john)])))
}

/// Serve the router on 127.0.0.1:0; the `/customer-info` URL. Only John's token opens John.
async fn app(customers: Customers) -> String {
    let router = customer_info_router(move |token: BearerToken, _asked: String| {
        let customers = customers.clone();
        async move {
            if !token.ct_eq(JOHN_TOKEN) {
                return Err(Refusal::Unauthorized);
            }
            customers
                .read()
                .unwrap()
                .get(UUID)
                .cloned()
                .ok_or(Refusal::Unauthorized)
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}/customer-info")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_provider_registers_the_customer_and_syncs_a_changed_email() {
    let customers = customers();
    let url = app(customers.clone()).await;
    let env = Env::with(Sandbox::builder().customer_info_url(url)).await;
    // Keyed by John's identity-provider token: PAR Ordering asks /customer-info about him,
    // with it.
    let cache = env.customers();
    let john = JOHN_TOKEN.to_owned();
    let me = |cache: &common::Customers| {
        let (cache, me, john) = (cache.clone(), env.me(), john.clone());
        async move {
            let r = cache
                .send_authorized(&john, me)
                .await
                .expect("protected call");
            assert_eq!(r.status, 200);
            serde_json::from_slice::<Value>(&r.body).unwrap()["data"]["customer_account"].clone()
        }
    };

    let first = cache.get(&john).await.expect("sign-in");
    assert_eq!(first.customer.email.as_str(), "john.doe@mail.com");
    assert_eq!(first.customer.first_name.as_str(), "John");
    let account = me(&cache).await;
    assert_eq!(account["email"], "john.doe@mail.com");
    assert_eq!(env.calls(SIGN_IN), 1);

    // John changes his email at the identity provider (our app's data).
    customers.write().unwrap().get_mut(UUID).unwrap().email = "john@new.example".into();
    // His menu token expires at the provider; the next call gets a 401, signs in again, and
    // that sign-in syncs the new email into the same account.
    env.sandbox.advance_clock(Duration::from_secs(3601)); // past the ttl of 60 minutes
    let synced = me(&cache).await;
    assert_eq!(synced["email"], "john@new.example");
    assert_eq!(synced["id"], account["id"], "same account");
    assert_eq!(env.calls(SIGN_IN), 2);
    let current = cache.get(&john).await.unwrap();
    assert_eq!(current.customer.email.as_str(), "john@new.example");
}

/// A token naming John (same `sub`) that the app did not issue: the app answers PAR Ordering
/// 401, so the sign-in is refused and nothing about John is disclosed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_the_app_did_not_issue_does_not_sign_in() {
    let url = app(customers()).await;
    let env = Env::with(Sandbox::builder().customer_info_url(url)).await;
    let cache = env.customers();
    let forged = JOHN_TOKEN.replace(".c2ln", ".Zm9yZ2Vk");
    let refused = cache.get(&forged).await;
    let error = refused.expect_err("a forged token signs in");
    assert!(format!("{error:?}").contains("401"), "{error:?}");
}
