//! Helpers shared by the end-to-end suites: sandbox start-up, fault injection over the test
//! hooks, a watchdog for every test, a flow adapter, and the PAR customer-info app.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ssoflow::{Error as CoreError, Flow, Instant, Response, Step};
use ssoflow_sandbox::{Config, Sandbox, SandboxHandle};
use ssoflow_ureq::{Driver, Error};

/// How long any single test may run before it is failed (never a hang).
pub const TEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Run `f` on its own thread; fail if it has not finished within `limit`. A panic inside `f`
/// is re-raised with its own message.
pub fn with_timeout<T: Send + 'static>(
    limit: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = std::thread::Builder::new()
        .name("test-body".into())
        .spawn(move || {
            let out = f();
            let _ = tx.send(());
            out
        })
        .expect("spawn the test body");
    match rx.recv_timeout(limit) {
        // Finished (or panicked: the sender was dropped without sending).
        Ok(()) | Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => match handle.join() {
            Ok(v) => v,
            Err(panic) => std::panic::resume_unwind(panic),
        },
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("test did not finish within {limit:?} (hang)")
        }
    }
}

/// A sandbox with test hooks on (its own clock, faults and counters: one per test).
pub fn sandbox() -> SandboxHandle {
    sandbox_with(Config::default(), None)
}

/// A sandbox with test hooks on, `config`, and optionally a `/customer-info` URL.
pub fn sandbox_with(config: Config, customer_info_url: Option<String>) -> SandboxHandle {
    let mut b = Sandbox::builder().config(config).test_hooks(true);
    if let Some(url) = customer_info_url {
        b = b.customer_info_url(url);
    }
    b.start_blocking().expect("start the sandbox")
}

/// A driver with the default settings (10 s deadline).
pub fn driver() -> Driver {
    Driver::default()
}

/// A driver whose overall deadline is `timeout` (for the delay faults).
pub fn driver_with_timeout(timeout: Duration) -> Driver {
    Driver::new(ssoflow_ureq::Config {
        timeout,
        ..ssoflow_ureq::Config::DEFAULT
    })
}

/// Calls the sandbox counted for `key` (`"POST /oauth2/token"`).
pub fn calls(sandbox: &SandboxHandle, key: &str) -> u64 {
    sandbox.stats().get(key).copied().unwrap_or(0)
}

/// One raw HTTP/1.1 request to a test hook; returns the status and the body.
pub fn hook(sandbox: &SandboxHandle, method: &str, path: &str, json: &str) -> (u16, String) {
    let mut s = TcpStream::connect(sandbox.addr()).expect("connect to the sandbox");
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
        sandbox.addr(),
        json.len()
    );
    s.write_all(req.as_bytes()).expect("write the hook request");
    let mut out = Vec::new();
    s.read_to_end(&mut out).expect("read the hook answer");
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    (status, body)
}

/// Queue a fault (`{"path":…,"kind":…}` members) and check it was accepted.
pub fn fault(sandbox: &SandboxHandle, json: &str) {
    let (status, body) = hook(sandbox, "POST", "/__sandbox/faults", json);
    assert_eq!(status, 201, "fault refused: {body}");
}

/// A flow whose output is mapped (e.g. a Punchh SSO login to the bearer token a session needs).
pub struct MapFlow<F: Flow, G> {
    inner: F,
    /// The inner flow's output slot.
    inner_out: Option<F::Output>,
    map: Option<G>,
}

/// Map `flow`'s output with `map`.
pub fn map_flow<F: Flow, G>(flow: F, map: G) -> MapFlow<F, G> {
    MapFlow {
        inner: flow,
        inner_out: None,
        map: Some(map),
    }
}

impl<F: Flow, T, G: FnOnce(F::Output) -> T> Flow for MapFlow<F, G> {
    type Output = T;

    fn poll<'b>(&mut self, now: Instant, buf: &'b mut [u8]) -> Result<Step<'b>, CoreError> {
        self.inner.poll(now, buf)
    }

    fn handle(
        &mut self,
        now: Instant,
        response: Response<'_>,
        out: &mut Option<T>,
    ) -> Result<(), CoreError> {
        self.inner.handle(now, response, &mut self.inner_out)?;
        if let Some(inner) = self.inner_out.take() {
            let map = self.map.take().ok_or(CoreError::State)?;
            *out = Some(map(inner));
        }
        Ok(())
    }
}

/// The error's core part (with or without a `Retry-After`), or a panic naming what came
/// instead.
pub fn core_err<T: std::fmt::Debug>(r: Result<T, Error>) -> CoreError {
    match r {
        Err(Error::Core(e) | Error::RetryAfter { error: e, .. }) => e,
        other => panic!("expected a core error, got {other:?}"),
    }
}

/// A customer of the test's ordering application.
#[derive(Clone, Debug)]
pub struct Customer {
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub phone_number: String,
}

/// The customers the ordering application knows, by the identity provider's id.
pub type Customers = Arc<Mutex<HashMap<String, Customer>>>;

/// The ordering application PAR Ordering calls back: `POST /customer-info` answered by the
/// core's `par_ordering::serve_customer_info`, on 127.0.0.1:0. Keep the runtime alive.
pub struct OrderingApp {
    pub url: String,
    pub customers: Customers,
    pub hits: Arc<Mutex<u64>>,
    _rt: tokio::runtime::Runtime,
}

/// Start the ordering application.
pub fn ordering_app() -> OrderingApp {
    use axum::http::{StatusCode, header};
    let customers: Customers = Arc::new(Mutex::new(HashMap::new()));
    let hits = Arc::new(Mutex::new(0u64));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind 127.0.0.1:0");
    let url = format!(
        "http://{}/customer-info",
        listener.local_addr().expect("address")
    );
    let (known, counter) = (customers.clone(), hits.clone());
    let app = axum::Router::new().route(
        "/customer-info",
        axum::routing::post(move |body: axum::body::Bytes| {
            let known = known.lock().map(|c| c.clone()).unwrap_or_default();
            if let Ok(mut n) = counter.lock() {
                *n += 1;
            }
            async move {
                let mut out = vec![0u8; 2048];
                let (status, answer) =
                    ssoflow::par_ordering::serve_customer_info(&body, &mut out, |id| {
                        known
                            .get(id)
                            .map(|c| ssoflow::par_ordering::CustomerDetails {
                                first_name: &c.first_name,
                                last_name: &c.last_name,
                                email: &c.email,
                                phone_number: &c.phone_number,
                            })
                    });
                (
                    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                    [(header::CONTENT_TYPE, "application/json")],
                    answer.to_vec(),
                )
            }
        }),
    );
    rt.spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    OrderingApp {
        url,
        customers,
        hits,
        _rt: rt,
    }
}

impl OrderingApp {
    /// Add or replace a customer.
    pub fn put(&self, id: &str, first: &str, last: &str, email: &str, phone: &str) {
        self.customers.lock().expect("lock").insert(
            id.to_owned(),
            Customer {
                first_name: first.into(),
                last_name: last.into(),
                email: email.into(),
                phone_number: phone.into(),
            },
        );
    }

    /// Calls served so far.
    pub fn hits(&self) -> u64 {
        *self.hits.lock().expect("lock")
    }
}

/// 16 request-id seed bytes that differ per call (tests need no real randomness).
pub fn seed() -> [u8; 16] {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(1);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let mut s = [0u8; 16];
    s[..8].copy_from_slice(&n.to_le_bytes());
    s[8..].copy_from_slice(&std::process::id().to_le_bytes().repeat(2));
    s
}
