//! Shared by the end-to-end tests: a sandbox with test hooks, a driver and caches on one clock,
//! sign-in closures, fault injection, and a transport that counts answers and can hold
//! requests at a gate (so "mid-refresh" is a fact of the test, not a matter of timing).
#![allow(dead_code, clippy::result_large_err)]

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use ssoflow_core::par_ordering::{self, RequestIds, SignIn};
use ssoflow_core::{AccessToken, Method};
use ssoflow_sandbox::{Sandbox, SandboxHandle};
use ssoflow_tokio::{
    BoxFuture, CacheConfig, Clock, Config, Driver, Error, OwnedRequest, OwnedResponse,
    ReqwestTransport, TokenCache, Transport,
};
use tokio::sync::{Semaphore, mpsc, watch};

pub const TOKENS: &str = "POST /par/api/oauth/tokens";
pub const SIGN_IN: &str = "POST /par/api/sts/users/sign-in";
pub const ME: &str = "GET /par/api/customers/me";

/// Test-only controls shared by every clone of a [`TestTransport`].
#[derive(Default)]
pub struct Controls {
    /// 401 answers seen, per URL path.
    pub unauthorized: watch::Sender<u64>,
    /// Requests sent.
    pub sent: AtomicU64,
    gate: Mutex<Option<Gate>>,
}

struct Gate {
    path: String,
    arrived: mpsc::UnboundedSender<()>,
    release: Arc<Semaphore>,
}

/// The default transport, plus counting and an optional gate.
#[derive(Clone)]
pub struct TestTransport {
    inner: ReqwestTransport,
    pub controls: Arc<Controls>,
}

impl TestTransport {
    pub fn new(config: Config) -> Self {
        TestTransport {
            inner: ReqwestTransport::new(config).expect("transport"),
            controls: Arc::new(Controls::default()),
        }
    }

    /// Hold every request to a URL ending in `path` until a permit is added to the returned
    /// semaphore; each arrival is announced on the returned channel.
    pub fn gate(&self, path: &str) -> (mpsc::UnboundedReceiver<()>, Arc<Semaphore>) {
        let (arrived, rx) = mpsc::unbounded_channel();
        let release = Arc::new(Semaphore::new(0));
        *self.controls.gate.lock().unwrap() = Some(Gate {
            path: path.to_owned(),
            arrived,
            release: release.clone(),
        });
        (rx, release)
    }

    pub fn ungate(&self) {
        *self.controls.gate.lock().unwrap() = None;
    }
}

impl Transport for TestTransport {
    fn send(&self, request: OwnedRequest) -> BoxFuture<'_, Result<OwnedResponse, Error>> {
        Box::pin(async move {
            let held = {
                let gate = self.controls.gate.lock().unwrap();
                gate.as_ref().and_then(|g| {
                    request.url.ends_with(&g.path).then(|| {
                        let _ = g.arrived.send(());
                        g.release.clone()
                    })
                })
            };
            if let Some(release) = held {
                release.acquire().await.expect("gate open").forget();
            }
            self.controls.sent.fetch_add(1, Ordering::SeqCst);
            let response = self.inner.send(request).await;
            if matches!(&response, Ok(r) if r.status == 401) {
                self.controls.unauthorized.send_modify(|n| *n += 1);
            }
            response
        })
    }
}

/// A sandbox, a driver and the clock both the driver and the caches use.
pub struct Env {
    pub sandbox: SandboxHandle,
    pub clock: Clock,
    pub driver: Driver,
    pub transport: TestTransport,
    pub par: Arc<par_ordering::Config>,
}

impl Env {
    pub async fn new() -> Env {
        Self::with(Sandbox::builder()).await
    }

    pub async fn with(builder: ssoflow_sandbox::SandboxBuilder) -> Env {
        let sandbox = builder.test_hooks(true).start().await.expect("sandbox");
        let c = &sandbox.credentials().par_ordering;
        let par = Arc::new(
            par_ordering::Config::new(
                &c.base_url,
                &c.application_key,
                &c.client_id,
                &c.client_secret,
            )
            .expect("par config"),
        );
        let clock = Clock::new();
        let transport = TestTransport::new(Config::default());
        let driver = Driver::with_transport(transport.clone()).with_clock(clock.clone());
        Env {
            sandbox,
            clock,
            driver,
            transport,
            par,
        }
    }

    /// Cache settings for tests: fast retries, the shared clock, no idle eviction within the
    /// day the tests jump the clock by.
    pub fn cache_config(&self) -> CacheConfig {
        CacheConfig {
            clock: self.clock.clone(),
            base_backoff: Duration::from_millis(10),
            idle_ttl: Duration::from_secs(7 * 86_400),
            ..CacheConfig::default()
        }
    }

    /// Move the sandbox's clock and ours together.
    pub fn advance(&self, d: Duration) {
        self.sandbox.advance_clock(d);
        self.clock.advance(d);
    }

    pub fn calls(&self, key: &str) -> u64 {
        self.stats().get(key).copied().unwrap_or(0)
    }

    pub fn stats(&self) -> BTreeMap<String, u64> {
        self.sandbox.stats()
    }

    /// Queue a sandbox fault, e.g. `json!({"path": "/par/api/oauth/tokens", "kind": "drop"})`.
    pub async fn fault(&self, fault: Value) {
        let mut request = OwnedRequest::new(
            http::Method::POST,
            format!("{}/__sandbox/faults", self.sandbox.base_url()),
        );
        request.headers.insert(
            "content-type",
            http::HeaderValue::from_static("application/json"),
        );
        request.body = serde_json::to_vec(&fault).unwrap().into();
        let response = self.driver.send(request).await.expect("fault hook");
        assert_eq!(response.status, 201, "{fault}");
    }

    pub async fn clear_faults(&self) {
        let request = OwnedRequest::new(
            http::Method::DELETE,
            format!("{}/__sandbox/faults", self.sandbox.base_url()),
        );
        let response = self.driver.send(request).await.expect("fault hook");
        assert_eq!(response.status, 200);
    }

    /// The sign-in closure for the application's M2M token.
    pub fn m2m_sign_in(
        &self,
    ) -> impl Fn(Option<Arc<AccessToken>>) -> BoxFuture<'static, Result<AccessToken, Error>>
    + Send
    + Sync
    + 'static {
        m2m_sign_in(self.driver.clone(), self.par.clone())
    }

    /// The sign-in closure for a customer (token exchange with `subject`), sharing `m2m`.
    pub fn customer_sign_in(
        &self,
        m2m: &TokenCache<(), AccessToken>,
        subject: &str,
    ) -> impl Fn(Option<Arc<SignIn>>) -> BoxFuture<'static, Result<SignIn, Error>> + Send + Sync + 'static
    {
        customer_sign_in(
            self.driver.clone(),
            self.par.clone(),
            m2m.clone(),
            subject.to_owned(),
        )
    }

    /// `GET /par/api/customers/me` with a customer's menu token.
    pub fn me(&self) -> impl Fn(&SignIn) -> Result<OwnedRequest, Error> + Send + Sync + 'static {
        let par = self.par.clone();
        move |s: &SignIn| {
            let mut ids = RequestIds::new(rand::random());
            OwnedRequest::write_with(|buf| {
                par.protected_request(
                    buf,
                    Method::Get,
                    "/api/customers/me",
                    s.menu_token.value.expose(),
                    &mut ids,
                )
            })
        }
    }
}

pub fn m2m_sign_in(
    driver: Driver,
    par: Arc<par_ordering::Config>,
) -> impl Fn(Option<Arc<AccessToken>>) -> BoxFuture<'static, Result<AccessToken, Error>>
+ Send
+ Sync
+ 'static {
    move |_previous| {
        let (driver, par) = (driver.clone(), par.clone());
        Box::pin(async move {
            let mut ids = RequestIds::new(rand::random());
            driver.run(par_ordering::m2m_token(&par, &mut ids)).await
        })
    }
}

pub fn customer_sign_in(
    driver: Driver,
    par: Arc<par_ordering::Config>,
    m2m: TokenCache<(), AccessToken>,
    subject: String,
) -> impl Fn(Option<Arc<SignIn>>) -> BoxFuture<'static, Result<SignIn, Error>> + Send + Sync + 'static
{
    move |_previous| {
        let (driver, par, m2m, subject) =
            (driver.clone(), par.clone(), m2m.clone(), subject.clone());
        Box::pin(async move {
            let machine = m2m
                .lease(&(), m2m_sign_in(driver.clone(), par.clone()))
                .await?;
            let mut flow = par_ordering::sign_in(
                &par,
                Some(machine.value.as_ref().clone()),
                &subject,
                RequestIds::new(rand::random()),
            )?;
            let result = driver.drive(&mut flow).await;
            // The flow fetched a new M2M token after a 401: the cached one is dead.
            if flow.m2m().map(|t| t.value.expose()) != Some(machine.value.value.expose()) {
                m2m.report_unauthorized(&(), machine.generation);
            }
            result
        })
    }
}

/// Spawn `n` copies of `f()` and collect their results in order.
pub async fn concurrently<T, Fut>(n: usize, f: impl Fn() -> Fut) -> Vec<T>
where
    T: Send + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    let handles: Vec<_> = (0..n).map(|_| tokio::spawn(f())).collect();
    let mut out = Vec::with_capacity(n);
    for h in handles {
        out.push(h.await.expect("task"));
    }
    out
}

/// Wait (yielding, bounded) until `cond` holds.
pub async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::task::yield_now().await;
    }
}

pub fn fault(path: &str, kind: &str) -> Value {
    json!({"path": path, "kind": kind, "count": 1})
}
