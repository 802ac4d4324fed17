//! The `/customer-info` router: its answers, and PAR Ordering (the sandbox) calling it to
//! register a customer and sync a changed email on the next sign-in.
#![allow(clippy::result_large_err)]

mod common;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use common::{Env, SIGN_IN};
use serde_json::{Value, json};
use ssoflow_core::par_ordering::SignIn;
use ssoflow_sandbox::Sandbox;
use ssoflow_tokio::{Customer, Driver, OwnedRequest, TokenCache, customer_info_router};

type Customers = Arc<RwLock<HashMap<String, Customer>>>;

const UUID: &str = "1df3d3b3-d2b6-4126-93f2-1fdbd419268b";

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

/// Serve the router on 127.0.0.1:0; the `/customer-info` URL.
async fn app(customers: Customers) -> String {
    let router = customer_info_router(move |id: String| {
        let customers = customers.clone();
        async move { customers.read().unwrap().get(&id).cloned() }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}/customer-info")
}

async fn post(driver: &Driver, url: &str, body: Vec<u8>) -> (u16, Value) {
    let mut request = OwnedRequest::new(http::Method::POST, url);
    request.headers.insert(
        "content-type",
        http::HeaderValue::from_static("application/json"),
    );
    request.body = body.into();
    let r = driver.send(request).await.unwrap();
    assert_eq!(
        r.header("content-type"),
        Some(&b"application/json"[..]),
        "{r:?}"
    );
    (r.status, serde_json::from_slice(&r.body).unwrap())
}

#[tokio::test]
async fn answers_known_unknown_bad_and_oversized() {
    let url = app(customers()).await;
    let driver = Driver::new().unwrap();

    let (status, body) = post(
        &driver,
        &url,
        json!({"customer_account_uuid": UUID}).to_string().into(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"customer_account_uuid": UUID, "first_name": "John", "last_name": "Doe",
               "email": "john.doe@mail.com", "phone_number": "+23533674523"})
    );

    let (status, body) = post(
        &driver,
        &url,
        br#"{"customer_account_uuid":"nobody"}"#.to_vec(),
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (404, Some("not_found")));

    for bad in [&b"{"[..], b"[]", br#"{"customer_account_uuid":7}"#, b""] {
        let (status, body) = post(&driver, &url, bad.to_vec()).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_request")),
            "{bad:?}"
        );
    }

    let mut big = br#"{"customer_account_uuid":""#.to_vec();
    big.resize(17 * 1024, b'x');
    big.extend_from_slice(br#""}"#);
    let (status, body) = post(&driver, &url, big).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (413, Some("invalid_request"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_provider_registers_the_customer_and_syncs_a_changed_email() {
    let customers = customers();
    let url = app(customers.clone()).await;
    let env = Env::with(Sandbox::builder().customer_info_url(url)).await;
    let m2m = TokenCache::new(env.cache_config());
    let cache: TokenCache<String, SignIn> = TokenCache::new(env.cache_config());
    // The identity provider's opaque token for John: PAR Ordering asks /customer-info about it.
    let sign_in = || env.customer_sign_in(&m2m, UUID);
    let me = |cache: &TokenCache<String, SignIn>| {
        let (cache, driver, sign_in, me) = (cache.clone(), env.driver.clone(), sign_in(), env.me());
        async move {
            let r = cache
                .send_authorized(&driver, &UUID.to_owned(), sign_in, me)
                .await
                .expect("protected call");
            assert_eq!(r.status, 200);
            serde_json::from_slice::<Value>(&r.body).unwrap()["data"]["customer_account"].clone()
        }
    };

    let first = cache
        .get(&UUID.to_owned(), sign_in())
        .await
        .expect("sign-in");
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
    let current = cache.get(&UUID.to_owned(), sign_in()).await.unwrap();
    assert_eq!(current.customer.email.as_str(), "john@new.example");
}
