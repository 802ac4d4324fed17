//! One debug event per exchange (method, URL without its query values, status or error kind,
//! milliseconds, header names), never a credential; nothing at all when debug is off.

#![allow(clippy::result_large_err)] // the core's errors carry a body excerpt inline

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::{oauth_client, sandbox};
use ssoflow_core::oauth2;
use ssoflow_ureq::Driver;

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

impl Captured {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

fn subscriber(level: tracing::Level, sink: Captured) -> impl tracing::Subscriber + Send + Sync {
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .finish()
}

#[test]
fn each_exchange_is_one_event_without_secrets() {
    let sb = sandbox();
    let client = oauth_client(&sb);
    let driver = Driver::default();
    let creds = sb.credentials().oauth2.clone();

    let captured = Captured::default();
    let tokens = tracing::subscriber::with_default(
        subscriber(tracing::Level::DEBUG, captured.clone()),
        || {
            driver
                .run(oauth2::client_credentials(&client, None).unwrap())
                .unwrap()
        },
    );
    let log = captured.text();
    assert_eq!(log.matches(" exchange").count(), 1, "{log}");
    for expected in [
        "method=\"POST\"",
        "/token",
        "status=200",
        "ms=",
        "Authorization: ***",
    ] {
        assert!(log.contains(expected), "missing {expected:?} in:\n{log}");
    }
    for secret in [
        creds.client_secret.as_str(),
        tokens.access.value.expose(),
        "Basic ",
    ] {
        assert!(!log.contains(secret), "{secret:?} logged:\n{log}");
    }

    // A failed exchange is logged as such.
    let mut buf = [0u8; 256];
    let refused = common::get(&mut buf, "http://127.0.0.1:9/closed");
    let captured = Captured::default();
    tracing::subscriber::with_default(subscriber(tracing::Level::DEBUG, captured.clone()), || {
        assert!(driver.send(&refused).is_err())
    });
    let log = captured.text();
    assert!(
        log.contains("exchange failed") && log.contains("error="),
        "{log}"
    );

    // With debug off there is no event (and the clock is not read for it).
    let captured = Captured::default();
    tracing::subscriber::with_default(subscriber(tracing::Level::INFO, captured.clone()), || {
        driver
            .run(oauth2::client_credentials(&client, None).unwrap())
            .unwrap()
    });
    assert!(!captured.text().contains("exchange"), "{}", captured.text());
}
