//! [`TokenCache`]: one token per key shared by every task, signed in single-flight with a
//! [`Recipe`].
//!
//! The decisions — who signs in, who waits, when a token is due, what a 401 means, when and
//! after how long a failed sign-in is retried, when a failure is shared — are the core's
//! [`Session`] and [`Call`], under a [`Policy`]. This module adds only what a runtime must: a
//! lock around each key's session, a way to wait for the sign-in somebody else is running (a
//! `watch` channel, and a timer for a retry that is due later), and the I/O, always done with
//! the lock released.
//!
//! The sign-in runs **in the task that was told to sign in**, not in a spawned task: its flow
//! borrows the recipe and the key, so a spawned task would need `'static` recipes (a PAR
//! recipe borrows its `Config`). If that task gives up (its future is dropped: a timeout, a
//! client that went away, a runtime shutting down), a guard tells the session the sign-in was
//! abandoned and wakes the waiters: the next one runs it.

use std::borrow::Borrow;
use std::fmt;
use std::hash::Hash;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures_util::FutureExt;
use lru::LruCache;
use rand::TryRngCore;
use ssoflow_core::recipe::Recipe;
use ssoflow_core::session::{
    Access, AfterFailure, Call, Failure, HasAccessToken, Policy, Session, SignOut, Verdict,
};
use ssoflow_core::{AccessToken, Flow, Instant, Response, Step};
use tokio::sync::watch;
use tracing::Instrument;

use crate::{BoxFuture, Driver, Error, OwnedRequest, OwnedResponse};

impl Failure for Error {
    fn is_transient(&self) -> bool {
        Error::is_transient(self)
    }

    fn retry_after_ms(&self) -> Option<u64> {
        self.retry_after()
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

/// How a [`TokenCache`] renews, retries and bounds itself.
///
/// The clock is the [`Driver`]'s: the one its flows compute expiries with.
#[derive(Clone, Debug)]
pub struct CacheConfig {
    /// Renewal margin, retries, backoff, `Retry-After` cap and failure cooldown (default
    /// [`Policy::DEFAULT`]: renew 10 s before expiry, two retries after 100 ms then 200 ms with
    /// jitter, `Retry-After` honoured up to 60 s, a final failure shared for 1 s).
    pub policy: Policy,
    /// Most keys held (default 10 000). The least recently used idle key goes first; a key
    /// with a sign-in running or tasks waiting is never evicted (the cache may then exceed
    /// `capacity` briefly rather than break them).
    pub capacity: usize,
    /// A key unused this long is dropped (default 10 min).
    pub idle_ttl: Duration,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            policy: Policy::DEFAULT,
            capacity: 10_000,
            idle_ttl: Duration::from_secs(600),
        }
    }
}

/// A place a sign-in's result may come from besides the provider, consulted around the
/// recipe's flow by the one task per key told to sign in: `ssoflow-redis` shares sign-ins
/// across a fleet of processes this way.
///
/// `real` is the recipe's sign-in (not started yet): run it to sign in for real — from the
/// result the cache holds ([`RealSignIn::run`]), or from another one ([`RealSignIn::run_from`]:
/// a newer result the store holds, or none to sign in from scratch) — or drop it when the
/// result came from elsewhere. [`RealSignIn::previous`] is the result being replaced (due for
/// renewal, or refused with a 401), if any: do not hand it back.
pub trait SharedStore<K: ?Sized, T>: Send + Sync {
    /// The sign-in for `key`.
    fn sign_in<'a>(
        &'a self,
        key: &'a K,
        real: RealSignIn<'a, T>,
    ) -> BoxFuture<'a, Result<T, Error>>;
}

type MakeSignIn<'a, T> = dyn Fn(Option<&T>) -> BoxFuture<'a, Result<T, Error>> + Send + Sync + 'a;

/// The recipe's sign-in for one key, not started: a [`SharedStore`] runs it from the result
/// the cache holds, or from another one.
///
/// Why a store may need another start: with rotating refresh tokens, the result this process
/// holds may carry a refresh token another process has already used (and the provider, seeing
/// it again, would revoke the whole token family, RFC 9700 §4.14.2); the store knows the
/// fleet's newest result, or that a sign-in from scratch is the safe one.
pub struct RealSignIn<'a, T> {
    previous: Option<Arc<T>>,
    make: Box<MakeSignIn<'a, T>>,
}

impl<'a, T> RealSignIn<'a, T> {
    /// A sign-in that runs `make(previous)`: for stores tested without a recipe.
    pub fn new(
        previous: Option<Arc<T>>,
        make: impl Fn(Option<&T>) -> BoxFuture<'a, Result<T, Error>> + Send + Sync + 'a,
    ) -> Self {
        RealSignIn {
            previous,
            make: Box::new(make),
        }
    }

    /// The result being replaced, if any (due for renewal, or refused with a 401).
    pub fn previous(&self) -> Option<&Arc<T>> {
        self.previous.as_ref()
    }

    /// The recipe's flow from the result the cache holds: what the cache runs without a store.
    pub fn run(&self) -> BoxFuture<'a, Result<T, Error>> {
        (self.make)(self.previous.as_deref())
    }

    /// The recipe's flow from `previous` instead (`None`: from scratch). Each run draws fresh
    /// entropy.
    pub fn run_from(&self, previous: Option<&T>) -> BoxFuture<'a, Result<T, Error>> {
        (self.make)(previous)
    }
}

impl<T> fmt::Debug for RealSignIn<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RealSignIn")
            .field("has_previous", &self.previous.is_some())
            .finish_non_exhaustive()
    }
}

/// A recipe's flow with the recipe to tell when it has ended.
struct Kept<'a, R: Recipe> {
    recipe: &'a R,
    flow: R::Flow<'a>,
}

/// A flow whose recipe keeps what it learnt, behind a `dyn`.
trait KeptFlow: Flow {
    fn keep(&self);
}

impl<R: Recipe> Flow for Kept<'_, R> {
    type Output = R::Output;

    fn poll<'b>(
        &mut self,
        now: Instant,
        buf: &'b mut [u8],
    ) -> Result<Step<'b>, ssoflow_core::Error> {
        self.flow.poll(now, buf)
    }

    fn handle(
        &mut self,
        now: Instant,
        response: Response<'_>,
        out: &mut Option<R::Output>,
    ) -> Result<(), ssoflow_core::Error> {
        self.flow.handle(now, response, out)
    }
}

impl<R: Recipe> KeptFlow for Kept<'_, R> {
    fn keep(&self) {
        self.recipe.keep(&self.flow);
    }
}

/// A [`KeptFlow`] of any recipe, as one `Send` type.
struct Erased<'a, O>(Box<dyn KeptFlow<Output = O> + Send + 'a>);

impl<O> Flow for Erased<'_, O> {
    type Output = O;

    fn poll<'b>(
        &mut self,
        now: Instant,
        buf: &'b mut [u8],
    ) -> Result<Step<'b>, ssoflow_core::Error> {
        self.0.poll(now, buf)
    }

    fn handle(
        &mut self,
        now: Instant,
        response: Response<'_>,
        out: &mut Option<O>,
    ) -> Result<(), ssoflow_core::Error> {
        self.0.handle(now, response, out)
    }
}

/// Run `recipe`'s flow for `key` to its output; the recipe keeps what the flow learnt.
///
/// The flow is made here, outside any `async` block, and held behind a `dyn … + Send`: a
/// recipe's flow type held across an `.await` would make the cache's futures unprovably
/// `Send` (the compiler asks it of the flow for every lifetime, not the one it has), so
/// `tokio::spawn` would refuse them.
fn run_recipe<'a, R>(
    recipe: &'a R,
    driver: &'a Driver,
    key: &'a R::Key,
    previous: Option<&R::Output>,
    entropy: [u8; 16],
) -> BoxFuture<'a, Result<R::Output, Error>>
where
    R: Recipe + Sync,
    R::Output: Send,
    R::Flow<'a>: Send,
{
    let flow = match recipe.flow(key, previous, entropy) {
        Ok(flow) => flow,
        Err(e) => return Box::pin(std::future::ready(Err(Error::Core(e)))),
    };
    // The span names the recipe's flow, not the box it travels in.
    let span = tracing::info_span!("ssoflow.flow", flow = std::any::type_name::<R::Flow<'a>>());
    let mut flow = Erased(Box::new(Kept { recipe, flow }));
    Box::pin(async move {
        let result = driver.drive_loop(&mut flow).instrument(span).await;
        flow.0.keep();
        result
    })
}

/// A token handed out by the cache, with the generation to report a 401 against.
#[derive(Debug)]
pub struct Lease<T> {
    /// The sign-in result.
    pub value: Arc<T>,
    /// Its generation (see [`TokenCache::report_unauthorized`]).
    pub generation: u64,
}

impl<T> Clone for Lease<T> {
    fn clone(&self) -> Self {
        Lease {
            value: self.value.clone(),
            generation: self.generation,
        }
    }
}

/// Shares one sign-in result per key among all tasks: single-flight sign-in, proactive
/// renewal, refresh-on-401, bounded retries with backoff, one failure shared by its waiters,
/// bounded memory.
///
/// Built from a [`Driver`] and a [`Recipe`] (and optionally a [`SharedStore`]). `K` is what a token is
/// for and must borrow as the recipe's key: `()` for an application's own token, the
/// customer's identity-provider token (a `String`) for `par_ordering::CustomerSignIn`. Cheap
/// to clone: clones share the driver, the recipe and the entries.
///
/// The recipe may borrow (`par_ordering::M2m<'c>` holds a `&'c Config`): nothing here needs it
/// to be `'static`. Keep the configuration in a `static`, a `OnceLock`, or beside the cache.
pub struct TokenCache<K, R: Recipe> {
    inner: Arc<Inner<K, R>>,
}

impl<K, R: Recipe> Clone for TokenCache<K, R> {
    fn clone(&self) -> Self {
        TokenCache {
            inner: self.inner.clone(),
        }
    }
}

impl<K, R: Recipe> std::fmt::Debug for TokenCache<K, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

struct Inner<K, R: Recipe> {
    driver: Driver,
    recipe: Arc<R>,
    store: Option<Arc<dyn SharedStore<R::Key, R::Output>>>,
    config: CacheConfig,
    entries: Mutex<LruCache<K, Entry<R::Output>>>,
}

/// The session's value: the sign-in result behind an `Arc`, handed out by cloning.
struct Held<T>(Arc<T>);

impl<T: HasAccessToken> HasAccessToken for Held<T> {
    fn access_token(&self) -> &AccessToken {
        self.0.access_token()
    }

    fn refresh_token(&self) -> Option<&ssoflow_core::RefreshToken> {
        self.0.refresh_token()
    }
}

/// One key: its session and the channel its waiters are woken on.
struct Entry<T> {
    session: Session<Held<T>, Error>,
    /// Bumped whenever a sign-in ends (or is abandoned); waiters subscribe under the lock.
    /// Made by the first waiter and dropped by a wake that finds none left: most keys never
    /// have a waiter, and the channel is 344 B of heap per key.
    changed: Option<watch::Sender<u64>>,
    /// Highest generation reported unauthorized (only to log the first report of each).
    refused: u64,
    last_used: Instant,
}

impl<T: HasAccessToken> Entry<T> {
    fn new(policy: Policy, now: Instant) -> Self {
        Entry {
            session: Session::with_policy(policy),
            changed: None,
            refused: 0,
            last_used: now,
        }
    }

    /// Someone depends on this entry staying put: a sign-in runs (or backs off), or tasks wait.
    fn busy(&self) -> bool {
        self.session.signing_in() || self.waiters() > 0
    }

    /// Tasks subscribed to the next wake.
    fn waiters(&self) -> usize {
        self.changed
            .as_ref()
            .map_or(0, watch::Sender::receiver_count)
    }

    /// A receiver woken by the next [`wake`](Self::wake) (the channel made if there is none).
    fn subscribe(&mut self) -> watch::Receiver<u64> {
        self.changed
            .get_or_insert_with(|| watch::Sender::new(0))
            .subscribe()
    }

    /// Log the first 401 report of the current generation (the one that drops the token).
    fn note_refused(&mut self, generation: u64) {
        if generation == self.session.generation() && generation > self.refused {
            self.refused = generation;
            tracing::info!(generation, "token refused (401): signing in again");
        }
    }

    /// Wake every subscribed task; with none left, the channel goes.
    fn wake(&mut self) {
        match &self.changed {
            Some(tx) if tx.receiver_count() > 0 => tx.send_modify(|n| *n = n.wrapping_add(1)),
            _ => self.changed = None,
        }
    }
}

/// Most entries looked at to find an idle one to evict, or idle ones to drop, per call.
const SCAN: usize = 64;

fn lease<T>(token: &Held<T>, generation: u64) -> Lease<T> {
    Lease {
        value: token.0.clone(),
        generation,
    }
}

/// What one look at the session said, when it was not an answer.
enum Next<T> {
    /// Wait to be woken, or until this instant.
    Wait(watch::Receiver<u64>, Option<Instant>),
    /// Run the sign-in, from this previous result.
    SignIn(Option<Arc<T>>),
}

impl<K, R> Inner<K, R>
where
    K: Hash + Eq + Clone,
    R: Recipe,
{
    fn lock(&self) -> MutexGuard<'_, LruCache<K, Entry<R::Output>>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn now(&self) -> Instant {
        self.driver.now()
    }

    /// Drop idle entries from the least recently used end (at most `limit`).
    fn sweep(&self, entries: &mut LruCache<K, Entry<R::Output>>, now: Instant, limit: usize) {
        let idle_ms = u64::try_from(self.config.idle_ttl.as_millis()).unwrap_or(u64::MAX);
        for _ in 0..limit {
            match entries.peek_lru() {
                Some((_, e)) if !e.busy() && now.millis_since(e.last_used) >= idle_ms => {
                    entries.pop_lru();
                }
                _ => break,
            }
        }
    }

    /// The entry for `key`, made (evicting an idle one when full) if missing; marked used.
    fn entry<'m>(
        &self,
        entries: &'m mut LruCache<K, Entry<R::Output>>,
        key: &K,
        now: Instant,
    ) -> Result<&'m mut Entry<R::Output>, Error> {
        self.sweep(entries, now, SCAN);
        if !entries.contains(key) {
            if entries.len() >= self.config.capacity.max(1) {
                let victim = entries
                    .iter()
                    .rev()
                    .take(SCAN)
                    .find(|(_, e)| !e.busy())
                    .map(|(k, _)| k.clone());
                if let Some(victim) = victim {
                    entries.pop(&victim);
                }
            }
            entries.put(key.clone(), Entry::new(self.config.policy, now));
        }
        let entry = entries.get_mut(key).ok_or(Error::Closed)?;
        if now > entry.last_used {
            entry.last_used = now;
        }
        Ok(entry)
    }
}

/// The sign-in this task was told to run. Dropped unresolved (the task's future was dropped,
/// or the sign-in panicked), it tells the session the sign-in was abandoned and wakes the
/// waiters, so the next one runs it.
struct Pending<'a, K: Hash + Eq + Clone, R: Recipe> {
    inner: &'a Inner<K, R>,
    key: &'a K,
    armed: bool,
}

impl<K: Hash + Eq + Clone, R: Recipe> Drop for Pending<'_, K, R> {
    fn drop(&mut self) {
        if self.armed {
            let mut entries = self.inner.lock();
            if let Some(e) = entries.peek_mut(self.key) {
                tracing::warn!("sign-in abandoned before it finished; a waiter takes over");
                e.session.sign_in_abandoned();
                e.wake();
            }
        }
    }
}

/// A sign-out in progress: dropped, the session forgets the tokens and the waiters wake.
struct SignedOut<'a, K: Hash + Eq + Clone, R: Recipe> {
    inner: &'a Inner<K, R>,
    key: &'a K,
}

impl<K: Hash + Eq + Clone, R: Recipe> Drop for SignedOut<'_, K, R> {
    fn drop(&mut self) {
        let mut entries = self.inner.lock();
        if let Some(e) = entries.peek_mut(self.key) {
            e.session.signed_out();
            e.wake();
        }
    }
}

/// 16 bytes for the flow and 4 for the backoff's jitter, from the OS random source. A failing
/// source is an error, never all-zero randomness.
fn randomness() -> Result<([u8; 16], u32), Error> {
    let mut b = [0u8; 20];
    rand::rngs::OsRng
        .try_fill_bytes(&mut b)
        .map_err(|e| Error::Transport {
            detail: format!("the OS random source failed: {e}"),
        })?;
    let mut entropy = [0u8; 16];
    entropy.copy_from_slice(&b[..16]);
    Ok((entropy, u32::from_le_bytes([b[16], b[17], b[18], b[19]])))
}

/// `SignIn` for `ssoflow_core::par_ordering::SignIn` (for the sign-in span).
fn short_type_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base)
}

/// `LruCache::peek_mut` by the cache's own key type (where `K: Borrow<R::Key>` is in scope,
/// inference would pick the recipe's key).
fn peek_mut<'m, K: Hash + Eq, V>(entries: &'m mut LruCache<K, V>, key: &K) -> Option<&'m mut V> {
    entries.peek_mut(key)
}

/// `LruCache::peek` by the cache's own key type.
fn peek<'m, K: Hash + Eq, V>(entries: &'m LruCache<K, V>, key: &K) -> Option<&'m V> {
    entries.peek(key)
}

impl<K, R> TokenCache<K, R>
where
    K: Borrow<R::Key> + Hash + Eq + Clone,
    R: Recipe,
{
    /// An empty cache signing in with `recipe` over `driver` (whose clock it reads).
    pub fn new(driver: Driver, recipe: R, config: CacheConfig) -> Self {
        Self::with_shared_recipe(driver, Arc::new(recipe), config)
    }

    /// An empty cache signing in with a recipe shared with others.
    pub fn with_shared_recipe(driver: Driver, recipe: Arc<R>, config: CacheConfig) -> Self {
        Self::build(driver, recipe, None, config)
    }

    /// An empty cache whose sign-ins go through `store` (e.g. `ssoflow-redis`'s fleet-wide
    /// one), which runs the recipe only when it has no result to share.
    pub fn with_store(
        driver: Driver,
        recipe: R,
        store: Arc<dyn SharedStore<R::Key, R::Output>>,
        config: CacheConfig,
    ) -> Self {
        Self::build(driver, Arc::new(recipe), Some(store), config)
    }

    fn build(
        driver: Driver,
        recipe: Arc<R>,
        store: Option<Arc<dyn SharedStore<R::Key, R::Output>>>,
        config: CacheConfig,
    ) -> Self {
        TokenCache {
            inner: Arc::new(Inner {
                driver,
                recipe,
                store,
                config,
                entries: Mutex::new(LruCache::unbounded()),
            }),
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &CacheConfig {
        &self.inner.config
    }

    /// The driver the sign-ins and protected calls run on.
    pub fn driver(&self) -> &Driver {
        &self.inner.driver
    }

    /// The recipe signed in with.
    pub fn recipe(&self) -> &Arc<R> {
        &self.inner.recipe
    }

    /// The token for `key`: the cached one while it is fresh, else the result of the one
    /// sign-in running for `key` (run by this call if none is).
    ///
    /// A transient failure (5xx, 429, transport) is retried after the policy's backoff (or
    /// the server's `Retry-After`); a final one goes to every caller that waited for it, and
    /// to every caller during the cooldown. While a still-valid token is being renewed (or
    /// its renewal failed) callers get that token without waiting.
    pub async fn get<'a>(&'a self, key: &'a K) -> Result<Arc<R::Output>, Error>
    where
        R: Sync,
        R::Key: Sync,
        R::Output: Send + Sync,
        R::Flow<'a>: Send,
    {
        Ok(self.acquire(key).await?.value)
    }

    /// Like [`get`](Self::get), with the generation to pass to
    /// [`report_unauthorized`](Self::report_unauthorized) if the token is refused.
    pub async fn lease<'a>(&'a self, key: &'a K) -> Result<Lease<R::Output>, Error>
    where
        R: Sync,
        R::Key: Sync,
        R::Output: Send + Sync,
        R::Flow<'a>: Send,
    {
        self.acquire(key).await
    }

    /// A call with the token of `generation` was answered 401: that token is not handed out
    /// again. However many tasks report the same generation, one sign-in follows.
    pub fn report_unauthorized(&self, key: &K, generation: u64) {
        if let Some(e) = peek_mut(&mut self.inner.lock(), key) {
            e.note_refused(generation);
            e.session.unauthorized(generation);
        }
    }

    /// Send a request built with `key`'s token over the cache's driver; on a 401, sign in
    /// again (once, however many tasks saw that 401) and retry once. A second 401 is
    /// `Error::Core(Unauthorized)`.
    ///
    /// `build` writes the request for a token, e.g. with
    /// [`OwnedRequest::write_with`] and `par_ordering::ParConfig::protected_request`.
    pub async fn send_authorized<'a, B>(
        &'a self,
        key: &'a K,
        build: B,
    ) -> Result<OwnedResponse, Error>
    where
        R: Sync,
        R::Key: Sync,
        R::Output: Send + Sync,
        R::Flow<'a>: Send,
        B: Fn(&R::Output) -> Result<OwnedRequest, Error>,
    {
        let mut call = Call::new();
        loop {
            let Lease { value, generation } = self.acquire(key).await?;
            let request = build(&value)?;
            drop(value);
            let response = self.inner.driver.send(request).await?;
            let verdict = {
                let mut entries = self.inner.lock();
                match peek_mut(&mut entries, key) {
                    Some(e) => {
                        if response.status == 401 {
                            e.note_refused(generation);
                        }
                        call.on_status(&mut e.session, generation, response.status)
                    }
                    // Evicted meanwhile: the retry signs in afresh anyway.
                    None => call.on_status(
                        &mut Session::<Held<R::Output>, Error>::with_policy(
                            self.inner.config.policy,
                        ),
                        generation,
                        response.status,
                    ),
                }
            };
            match verdict? {
                Verdict::Done => return Ok(response),
                Verdict::Retry => {
                    tracing::debug!(generation, "protected call answered 401: retrying once");
                }
            }
        }
    }

    /// Forget `key`'s token (sign out) and any shared failure; a running sign-in still
    /// completes for its waiters.
    pub fn invalidate(&self, key: &K) {
        if let Some(e) = peek_mut(&mut self.inner.lock(), key) {
            e.session.clear();
        }
    }

    /// Sign `key` out: revoke its tokens at the RFC 7009 revocation endpoint
    /// `revocation_url` of `client` (the refresh token first, then the access token; a 503 is
    /// retried after the policy's backoff), then forget them.
    ///
    /// Meanwhile no task gets the token and no sign-in starts for `key`; a sign-in already
    /// running is waited for and its token revoked. The tokens are forgotten even when the
    /// revocation fails (its error is returned). A [`SharedStore`]'s copy is not removed (the
    /// trait has no removal yet): the store may hand the revoked token to the next sign-in,
    /// which the server then refuses with a 401.
    pub async fn sign_out(
        &self,
        key: &K,
        client: &ssoflow_core::oauth2::Client,
        revocation_url: &str,
    ) -> Result<(), Error> {
        let inner = &*self.inner;
        let held = loop {
            let rx = {
                let mut entries = inner.lock();
                let Some(entry) = peek_mut(&mut entries, key) else {
                    // Nothing held for `key`: nothing to revoke.
                    return Ok(());
                };
                match entry.session.sign_out() {
                    SignOut::Revoke { token } => break token.map(|t| t.0.clone()),
                    SignOut::Wait { .. } => entry.subscribe(),
                }
            };
            self.wait(rx, None).await?;
        };
        // Dropped however this ends (done, failed, the future dropped): forget and wake.
        let _forget = SignedOut { inner, key };
        match held {
            Some(tokens) => {
                let (entropy, _) = randomness()?;
                let flow = ssoflow_core::oauth2::revoke_tokens(client, revocation_url, &*tokens)?
                    .with_policy(inner.config.policy)
                    .with_entropy(entropy);
                inner.driver.run_paced(flow).await
            }
            None => Ok(()),
        }
    }

    /// Keys held.
    pub fn len(&self) -> usize {
        self.inner.lock().len()
    }

    /// `true` when no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drop every entry idle for longer than `idle_ttl` now (this also happens, a few at a
    /// time, on every access).
    pub fn purge_idle(&self) {
        let now = self.inner.now();
        let mut entries = self.inner.lock();
        self.inner.sweep(&mut entries, now, usize::MAX);
    }

    /// Tasks waiting for `key`'s sign-in right now (the one running it not counted; for
    /// metrics and tests).
    pub fn waiting(&self, key: &K) -> usize {
        peek(&self.inner.lock(), key).map_or(0, Entry::waiters)
    }

    /// Whether a sign-in for `key` is running (or backing off before a retry) right now.
    pub fn signing_in(&self, key: &K) -> bool {
        peek(&self.inner.lock(), key).is_some_and(|e| e.session.signing_in())
    }

    async fn acquire<'a>(&'a self, key: &'a K) -> Result<Lease<R::Output>, Error>
    where
        R: Sync,
        R::Key: Sync,
        R::Output: Send + Sync,
        R::Flow<'a>: Send,
    {
        let inner = &*self.inner;
        let mut ticket = None;
        loop {
            let now = inner.now();
            let next = {
                let mut entries = inner.lock();
                let entry = inner.entry(&mut entries, key, now)?;
                match entry.session.access(now, ticket.take()) {
                    Access::Ready { token, generation } => return Ok(lease(token, generation)),
                    Access::Failed(e) => return Err(e),
                    Access::Wait { ticket: t, until } => {
                        ticket = Some(t);
                        // Subscribed under the lock: a sign-in ending after this is seen.
                        Next::Wait(entry.subscribe(), until)
                    }
                    Access::SignIn { previous } => Next::SignIn(previous.map(|p| p.0.clone())),
                }
            };
            match next {
                Next::Wait(rx, until) => self.wait(rx, until).await?,
                Next::SignIn(previous) => {
                    let span = tracing::info_span!(
                        "ssoflow.sign_in",
                        of = short_type_name::<R::Output>(),
                        renewing = previous.is_some()
                    );
                    if let Some(lease) = self.sign_in(key, previous).instrument(span).await? {
                        return Ok(lease);
                    }
                }
            }
        }
    }

    /// Wait until woken, or until `until` when given.
    async fn wait(
        &self,
        mut rx: watch::Receiver<u64>,
        until: Option<Instant>,
    ) -> Result<(), Error> {
        match until {
            // An error means the entry is gone: the next look makes a new one.
            None => {
                let _ = rx.changed().await;
            }
            Some(at) => {
                let left = Duration::from_millis(at.millis_since(self.inner.now()));
                if left.is_zero() {
                    return Ok(());
                }
                if tokio::runtime::Handle::try_current().is_err() {
                    // No timer to back off with.
                    return Err(Error::Closed);
                }
                let _ = tokio::time::timeout(left, rx.changed()).await;
            }
        }
        Ok(())
    }

    /// Run the sign-in this task was told to run and report it. `Some` is this caller's
    /// answer; `None` means "ask the session again" (a retry is due later).
    async fn sign_in<'a>(
        &'a self,
        key: &'a K,
        previous: Option<Arc<R::Output>>,
    ) -> Result<Option<Lease<R::Output>>, Error>
    where
        R: Sync,
        R::Key: Sync,
        R::Output: Send + Sync,
        R::Flow<'a>: Send,
    {
        let inner: &'a Inner<K, R> = &self.inner;
        let mut pending = Pending {
            inner,
            key,
            armed: true,
        };
        // A failing random source: abandoned (by `pending`), and this caller gets the error.
        let (entropy, jitter) = randomness()?;
        tracing::info!("sign-in started");
        let key_ref: &'a R::Key = key.borrow();
        let run = match &inner.store {
            Some(store) => {
                let (recipe, driver) = (&*inner.recipe, &inner.driver);
                let first = Mutex::new(Some(entropy));
                let real = RealSignIn::new(previous, move |from: Option<&R::Output>| {
                    // The first run uses this sign-in's entropy; any further run draws its own.
                    let taken = first.lock().ok().and_then(|mut e| e.take());
                    let entropy = match taken.map_or_else(|| randomness().map(|r| r.0), Ok) {
                        Ok(e) => e,
                        Err(e) => return Box::pin(std::future::ready(Err(e))),
                    };
                    run_recipe(recipe, driver, key_ref, from, entropy)
                });
                store.sign_in(key_ref, real)
            }
            None => run_recipe(
                &*inner.recipe,
                &inner.driver,
                key_ref,
                previous.as_deref(),
                entropy,
            ),
        };
        let result = AssertUnwindSafe(run)
            .catch_unwind()
            .await
            .unwrap_or(Err(Error::Panicked));
        pending.armed = false;
        let now = inner.now();
        let mut entries = inner.lock();
        let Some(entry) = peek_mut(&mut entries, key) else {
            // Never evicted while signing in; if it were, the result is still this caller's.
            return result.map(|t| {
                Some(Lease {
                    value: Arc::new(t),
                    generation: 0,
                })
            });
        };
        let outcome = match result {
            Ok(value) => {
                let value = Arc::new(value);
                let generation = entry.session.signed_in(now, Held(value.clone()));
                tracing::info!(generation, "signed in");
                Ok(Some(Lease { value, generation }))
            }
            Err(e) => match entry.session.sign_in_failed(now, e, jitter) {
                AfterFailure::RetryAt(at) => {
                    tracing::warn!(
                        delay_ms = at.millis_since(now),
                        "sign-in failed transiently; retrying after a backoff"
                    );
                    Ok(None)
                }
                AfterFailure::Failed(e) => {
                    tracing::warn!(error = %e, "sign-in failed");
                    // A still-valid token is this caller's answer too.
                    let ticket = entry.session.ticket();
                    match entry.session.access(now, Some(ticket)) {
                        Access::Ready { token, generation } => Ok(Some(lease(token, generation))),
                        Access::SignIn { .. } => {
                            entry.session.sign_in_abandoned();
                            Err(e)
                        }
                        Access::Wait { .. } | Access::Failed(_) => Err(e),
                    }
                }
            },
        };
        entry.wake();
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_has_a_wake_up_channel_only_while_tasks_wait() {
        let mut e = Entry::<ssoflow_core::TokenSet>::new(Policy::DEFAULT, Instant::from_millis(0));
        assert!(e.changed.is_none() && !e.busy());
        // A wake with nobody waiting makes nothing.
        e.wake();
        assert!(e.changed.is_none());
        let first = e.subscribe();
        let second = e.subscribe();
        assert_eq!(e.waiters(), 2);
        assert!(e.busy());
        e.wake();
        // Both woken; the channel stays while they hold their receivers.
        assert!(first.has_changed().unwrap());
        assert!(second.has_changed().unwrap());
        drop((first, second));
        assert!(e.changed.is_some() && e.waiters() == 0);
        // The next wake finds nobody left and drops it; a later waiter makes a new one.
        e.wake();
        assert!(e.changed.is_none());
        let third = e.subscribe();
        e.wake();
        assert!(third.has_changed().unwrap());
    }

    #[test]
    fn randomness_is_fresh() {
        let (a, _) = randomness().unwrap();
        let (b, _) = randomness().unwrap();
        assert_ne!(a, b);
    }
}
