//! Shared by the end-to-end tests: a sandbox with test hooks, a driver and caches on one clock,
//! the PAR recipes, fault injection, a transport that counts answers and can hold requests at a
//! gate (so "mid-refresh" is a fact of the test, not a matter of timing), and a stand-in
//! sign-in (a `SharedStore` that never runs the recipe) for tests without a provider.
#![allow(dead_code, clippy::result_large_err)]

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use ssoflow_core::par_ordering::{self, CustomerSignIn, M2m, RequestIds, SignIn};
use ssoflow_core::recipe::Recipe;
use ssoflow_core::session::Policy;
use ssoflow_core::{AccessToken, Flow, Instant, Method, Response, Step};
use ssoflow_sandbox::{Sandbox, SandboxHandle};
use ssoflow_tokio::{
    BoxFuture, CacheConfig, Clock, Config, Driver, Error, OwnedRequest, OwnedResponse, RealSignIn,
    ReqwestTransport, SharedStore, TokenCache, Transport,
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
    /// Requests to a path held until the 401 counter reaches a number.
    hold: Mutex<Option<(String, u64)>>,
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

    /// Hold every request to a URL ending in `path` until `n` answers 401 have been seen.
    pub fn hold_until_401s(&self, path: &str, n: u64) {
        *self.controls.hold.lock().unwrap() = Some((path.to_owned(), n));
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
            let hold = self.controls.hold.lock().unwrap().clone();
            if let Some((path, n)) = hold {
                if request.url.ends_with(&path) {
                    let mut seen = self.controls.unauthorized.subscribe();
                    seen.wait_for(|s| *s >= n).await.expect("counter");
                }
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
    /// Leaked for the test's life: the recipes borrow it, and the caches go to spawned tasks.
    pub par: &'static par_ordering::ParConfig,
}

pub type M2mCache = TokenCache<(), M2m<'static>>;
pub type Customers = TokenCache<String, CustomerSignIn<'static>>;

impl Env {
    pub async fn new() -> Env {
        Self::with(Sandbox::builder()).await
    }

    pub async fn with(builder: ssoflow_sandbox::SandboxBuilder) -> Env {
        let sandbox = builder.test_hooks(true).start().await.expect("sandbox");
        let c = &sandbox.credentials().par_ordering;
        let par: &'static par_ordering::ParConfig = Box::leak(Box::new(
            par_ordering::ParConfig::new(
                &c.base_url,
                &c.application_key,
                &c.client_id,
                &c.client_secret,
            )
            .expect("par config"),
        ));
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

    /// Cache settings for tests: fast retries, no cooldown after a final failure (its error
    /// still goes to every caller that waited for it; the cooldown has tests of its own), no
    /// idle eviction within the day the tests jump the clock by.
    pub fn cache_config(&self) -> CacheConfig {
        CacheConfig {
            policy: Policy::DEFAULT
                .with_base_backoff_ms(10)
                .with_failure_cooldown_ms(0),
            idle_ttl: Duration::from_secs(7 * 86_400),
            ..CacheConfig::default()
        }
    }

    /// The application's M2M token cache.
    pub fn m2m(&self) -> M2mCache {
        TokenCache::new(self.driver.clone(), M2m::new(self.par), self.cache_config())
    }

    /// One session per customer, keyed by the customer's identity-provider token.
    pub fn customers(&self) -> Customers {
        TokenCache::new(
            self.driver.clone(),
            CustomerSignIn::new(self.par),
            self.cache_config(),
        )
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

    /// `GET /par/api/customers/me` with a customer's menu token.
    pub fn me(&self) -> impl Fn(&SignIn) -> Result<OwnedRequest, Error> + Send + Sync + 'static {
        let par = self.par;
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

/// A recipe for tests without a provider: its flow never runs, because the cache is built
/// with a [`Local`] store that answers instead.
pub struct Unused<K>(std::marker::PhantomData<fn(&K)>);

pub struct NoFlow;

impl Flow for NoFlow {
    type Output = AccessToken;
    fn poll<'b>(&mut self, _: Instant, _: &'b mut [u8]) -> Result<Step<'b>, ssoflow_core::Error> {
        Err(ssoflow_core::Error::State)
    }
    fn handle(
        &mut self,
        _: Instant,
        _: Response<'_>,
        _: &mut Option<AccessToken>,
    ) -> Result<(), ssoflow_core::Error> {
        Err(ssoflow_core::Error::State)
    }
}

impl<K> Recipe for Unused<K> {
    type Key = K;
    type Output = AccessToken;
    type Flow<'r>
        = NoFlow
    where
        Self: 'r,
        K: 'r;
    fn flow<'r>(
        &'r self,
        _: &'r K,
        _: Option<&AccessToken>,
        _: [u8; 16],
    ) -> Result<NoFlow, ssoflow_core::Error> {
        Ok(NoFlow)
    }
}

type LocalFn<K> = dyn Fn(&K, Option<Arc<AccessToken>>) -> BoxFuture<'static, Result<AccessToken, Error>>
    + Send
    + Sync;

/// A stand-in sign-in: the store answers with `f(key, previous)` and never runs the recipe.
pub struct Local<K>(Box<LocalFn<K>>);

impl<K: Sync> SharedStore<K, AccessToken> for Local<K> {
    fn sign_in<'a>(
        &'a self,
        key: &'a K,
        real: RealSignIn<'a, AccessToken>,
    ) -> BoxFuture<'a, Result<AccessToken, Error>> {
        (self.0)(key, real.previous().cloned())
    }
}

/// A cache whose sign-in is `f` (no provider, no I/O).
pub fn local_cache<K, F, Fut>(config: CacheConfig, f: F) -> TokenCache<K, Unused<K>>
where
    K: std::hash::Hash + Eq + Clone + Send + Sync + 'static,
    F: Fn(&K, Option<Arc<AccessToken>>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<AccessToken, Error>> + Send + 'static,
{
    let f: Box<LocalFn<K>> = Box::new(move |k, p| Box::pin(f(k, p)));
    TokenCache::with_store(
        Driver::with_transport(TestTransport::new(Config::default())),
        Unused(std::marker::PhantomData),
        Arc::new(Local(f)),
        config,
    )
}

pub fn local_token(v: &str) -> AccessToken {
    AccessToken {
        value: ssoflow_core::Secret::new(v, "t").unwrap(),
        expiry: ssoflow_core::Expiry::Unknown,
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
