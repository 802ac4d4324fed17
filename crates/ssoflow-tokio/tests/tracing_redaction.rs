//! The driver's and the cache's tracing output names methods, URLs, statuses and timings, and
//! never a credential or a body.
#![allow(clippy::result_large_err)]

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::Env;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// Current-thread runtime: every task runs where the capturing subscriber is the default.
#[tokio::test]
async fn logs_name_the_exchange_never_the_secrets() {
    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let env = Env::new().await;
    let m2m = env.m2m();
    let customers = env.customers();
    let subject = ssoflow_sandbox::PAR_TEST_SUBJECT_TOKEN;
    let key = subject.to_owned();
    let r = customers
        .send_authorized(&key, env.me())
        .await
        .expect("call");
    assert_eq!(r.status, 200);
    // A 401 and the re-sign-in are logged too.
    env.fault(serde_json::json!({"path": "/par/api/customers/me", "kind": "unauthorized"}))
        .await;
    customers
        .send_authorized(&key, env.me())
        .await
        .expect("call after 401");
    let machine = m2m.get(&()).await.unwrap();
    let customer = customers.get(&key).await.unwrap();

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    for expected in [
        "ssoflow.flow",
        "M2mRequest",
        "SignInFlow",
        "method=POST",
        "/par/api/oauth/tokens",
        "status=200",
        "ms=",
        "sign-in started",
        "signed in",
        "token refused (401)",
        "retrying once",
    ] {
        assert!(log.contains(expected), "missing {expected:?} in:\n{log}");
    }
    let credentials = &env.sandbox.credentials().par_ordering;
    for secret in [
        credentials.client_secret.as_str(),
        subject,
        "jane.doe",
        machine.value.expose(),
        customer.menu_token.value.expose(),
        "Basic ",
        "Bearer ",
        "access_token",
        "customer_account",
    ] {
        assert!(
            !log.contains(secret),
            "{secret:?} leaked into the log:\n{log}"
        );
    }
}
