//! [`TokenCache`]: one token per key shared by every task, renewed single-flight.
//!
//! The decisions — who signs in, who waits, when a token is due, what a 401 means — are the
//! core's [`Session`] and [`Call`]. This module adds only what a runtime must: a lock around
//! each key's session, a way to wait for the sign-in somebody else is running, and a task to
//! run it in, so that a caller that gives up (a dropped future, a timed-out request) neither
//! cancels the sign-in for the others nor leaves the key stuck.

use std::future::Future;
use std::hash::Hash;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures_util::FutureExt;
use lru::LruCache;
use rand::Rng;
use ssoflow_core::session::{Access, Call, DEFAULT_SKEW_MS, HasAccessToken, Session, Verdict};
use ssoflow_core::{AccessToken, Excerpt, Instant};
use tokio::sync::watch;
use tracing::Instrument;

use crate::{Clock, Driver, Error, OwnedRequest, OwnedResponse};

/// How a [`TokenCache`] renews, retries and bounds itself.
#[derive(Clone, Debug)]
pub struct CacheConfig {
    /// Renew this long before expiry; callers keep the still-valid token meanwhile
    /// (default [`DEFAULT_SKEW_MS`], 10 s). Keep it below the tokens' lifetime.
    pub skew: Duration,
    /// Most keys held (default 10 000). The least recently used idle key goes first; a key
    /// with a sign-in running or tasks waiting is never evicted (the cache may then exceed
    /// `capacity` briefly rather than break them).
    pub capacity: usize,
    /// A key unused this long is dropped (default 10 min).
    pub idle_ttl: Duration,
    /// Retries of a sign-in that failed transiently (5xx, 429, transport, timeout); default 2.
    pub max_retries: u32,
    /// First retry delay; doubled each retry, with jitter (default 100 ms).
    pub base_backoff: Duration,
    /// Longest delay callers are kept waiting for a retry (default 5 s). A `Retry-After` longer
    /// than this ends the attempt at once: waiting callers get the error, and no new sign-in
    /// for the key starts until the `Retry-After` has passed (callers holding a still-valid
    /// token keep using it).
    pub max_backoff: Duration,
    /// Longest `Retry-After` honoured (default 60 s); longer ones are cut to this.
    pub max_retry_after: Duration,
    /// The clock expiries are checked on: share it with the [`Driver`] that runs the flows.
    pub clock: Clock,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            skew: Duration::from_millis(DEFAULT_SKEW_MS),
            capacity: 10_000,
            idle_ttl: Duration::from_secs(600),
            max_retries: 2,
            base_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(60),
            clock: Clock::new(),
        }
    }
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
/// renewal, refresh-on-401, bounded retries with backoff, bounded memory.
///
/// `K` is what a token is for: `()` for an application's one machine token, a customer id for
/// that customer's token. `T` is what the sign-in produces (`AccessToken`, `TokenSet`,
/// `par_ordering::SignIn`, …). Cheap to clone: clones share the entries.
///
/// The `sign_in` closure given to [`get`](Self::get) runs in a spawned task, at most one per
/// key at a time. It receives the previous result, if any (e.g. to use its refresh token), and
/// may be called again for a retry.
pub struct TokenCache<K, T> {
    inner: Arc<Inner<K, T>>,
}

impl<K, T> Clone for TokenCache<K, T> {
    fn clone(&self) -> Self {
        TokenCache {
            inner: self.inner.clone(),
        }
    }
}

impl<K, T> std::fmt::Debug for TokenCache<K, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

struct Inner<K, T> {
    config: CacheConfig,
    entries: Mutex<LruCache<K, Entry<T>>>,
}

/// The session's value: the caller's result behind an `Arc`, handed out by cloning.
struct Held<T>(Arc<T>);

impl<T: HasAccessToken> HasAccessToken for Held<T> {
    fn access_token(&self) -> &AccessToken {
        self.0.access_token()
    }
}

/// One key: its session and the bookkeeping for waiting on its sign-in.
struct Entry<T> {
    session: Session<Held<T>>,
    /// Bumped whenever an attempt ends (or its failure is published); waiters subscribe.
    done: watch::Sender<u64>,
    /// Sign-in attempts started so far; the running one is number `attempts`.
    attempts: u64,
    /// A sign-in task owns this key's session right now.
    in_flight: bool,
    /// The running task has published its failure and is holding off until `Retry-After`.
    cooling: bool,
    /// Highest generation reported unauthorized (only to log the first report of each).
    refused: u64,
    /// The last failed attempt and its error, shared with everyone who waited for it.
    failure: Option<(u64, Error)>,
    last_used: Instant,
}

impl<T: HasAccessToken> Entry<T> {
    fn new(skew: Duration, now: Instant) -> Self {
        Entry {
            session: Session::new(u64::try_from(skew.as_millis()).unwrap_or(u64::MAX)),
            done: watch::Sender::new(0),
            attempts: 0,
            in_flight: false,
            cooling: false,
            refused: 0,
            failure: None,
            last_used: now,
        }
    }
}

impl<T> Entry<T> {
    /// Someone depends on this entry staying put.
    fn busy(&self) -> bool {
        self.in_flight || self.done.receiver_count() > 0
    }

    /// Log the first 401 report of the current generation (the one that drops the token).
    fn note_refused(&mut self, generation: u64)
    where
        T: HasAccessToken,
    {
        if generation == self.session.generation() && generation > self.refused {
            self.refused = generation;
            tracing::info!(generation, "token refused (401): signing in again");
        }
    }

    fn wake(&self) {
        self.done.send_modify(|n| *n = n.wrapping_add(1));
    }
}

/// Most entries looked at to find an idle one to evict, or idle ones to drop, per call.
const SCAN: usize = 64;
/// A caller told to sign in again this many times after waiting gives up (the provider keeps
/// handing out tokens that are already due).
const MAX_ROUNDS: u32 = 3;

/// What one look at the session said.
enum Next<T> {
    Ready(Lease<T>),
    Wait(watch::Receiver<u64>, u64),
}

/// The caller's sign-in closure, put behind an `Arc` only when a task needs it.
struct SignInFn<F> {
    owned: Option<F>,
    shared: Option<Arc<F>>,
}

impl<F> SignInFn<F> {
    fn new(f: F) -> Self {
        SignInFn {
            owned: Some(f),
            shared: None,
        }
    }

    fn shared(&mut self) -> Result<Arc<F>, Error> {
        if let Some(f) = &self.shared {
            return Ok(f.clone());
        }
        let f = Arc::new(self.owned.take().ok_or(Error::Closed)?);
        self.shared = Some(f.clone());
        Ok(f)
    }
}

fn lease<T>(token: &Held<T>, generation: u64) -> Lease<T> {
    Lease {
        value: token.0.clone(),
        generation,
    }
}

impl<K, T> Inner<K, T>
where
    K: Hash + Eq + Clone,
    T: HasAccessToken,
{
    fn lock(&self) -> MutexGuard<'_, LruCache<K, Entry<T>>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Drop idle entries from the least recently used end (at most `limit`).
    fn sweep(&self, entries: &mut LruCache<K, Entry<T>>, now: Instant, limit: usize) {
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
        entries: &'m mut LruCache<K, Entry<T>>,
        key: &K,
        now: Instant,
    ) -> Result<&'m mut Entry<T>, Error> {
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
            entries.put(key.clone(), Entry::new(self.config.skew, now));
        }
        let entry = entries.get_mut(key).ok_or(Error::Closed)?;
        if now > entry.last_used {
            entry.last_used = now;
        }
        Ok(entry)
    }
}

impl<K, T> TokenCache<K, T>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    T: HasAccessToken + Send + Sync + 'static,
{
    /// An empty cache.
    pub fn new(config: CacheConfig) -> Self {
        TokenCache {
            inner: Arc::new(Inner {
                config,
                entries: Mutex::new(LruCache::unbounded()),
            }),
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &CacheConfig {
        &self.inner.config
    }

    /// The token for `key`: the cached one while it is fresh, else the result of the one
    /// sign-in running for `key` (started by this call if none is).
    ///
    /// A failed sign-in's error goes to every caller that waited for it. While a still-valid
    /// token is being renewed (or its renewal failed) callers get that token without waiting.
    pub async fn get<F, Fut>(&self, key: &K, sign_in: F) -> Result<Arc<T>, Error>
    where
        F: Fn(Option<Arc<T>>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, Error>> + Send + 'static,
    {
        let mut sign_in = SignInFn::new(sign_in);
        Ok(self.acquire(key, &mut sign_in).await?.value)
    }

    /// Like [`get`](Self::get), with the generation to pass to
    /// [`report_unauthorized`](Self::report_unauthorized) if the token is refused.
    pub async fn lease<F, Fut>(&self, key: &K, sign_in: F) -> Result<Lease<T>, Error>
    where
        F: Fn(Option<Arc<T>>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, Error>> + Send + 'static,
    {
        let mut sign_in = SignInFn::new(sign_in);
        self.acquire(key, &mut sign_in).await
    }

    /// A call with the token of `generation` was answered 401: that token is not handed out
    /// again. However many tasks report the same generation, one sign-in follows.
    pub fn report_unauthorized(&self, key: &K, generation: u64) {
        if let Some(e) = self.inner.lock().peek_mut(key) {
            e.note_refused(generation);
            e.session.unauthorized(generation);
        }
    }

    /// Send a request built with `key`'s token; on a 401, sign in again (once, however many
    /// tasks saw that 401) and retry once. A second 401 is `Error::Core(Unauthorized)`.
    ///
    /// `build` writes the request for a token, e.g. with
    /// [`OwnedRequest::write_with`] and `par_ordering::Config::protected_request`.
    pub async fn send_authorized<F, Fut, B>(
        &self,
        driver: &Driver,
        key: &K,
        sign_in: F,
        build: B,
    ) -> Result<OwnedResponse, Error>
    where
        F: Fn(Option<Arc<T>>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, Error>> + Send + 'static,
        B: Fn(&T) -> Result<OwnedRequest, Error>,
    {
        let mut sign_in = SignInFn::new(sign_in);
        let mut call = Call::new();
        loop {
            let Lease { value, generation } = self.acquire(key, &mut sign_in).await?;
            let request = build(&value)?;
            drop(value);
            let response = driver.send(request).await?;
            let verdict = {
                let mut entries = self.inner.lock();
                match entries.peek_mut(key) {
                    Some(e) => {
                        if response.status == 401 {
                            e.note_refused(generation);
                        }
                        call.on_status(&mut e.session, generation, response.status)
                    }
                    // Evicted meanwhile: the retry signs in afresh anyway.
                    None => {
                        call.on_status(&mut Session::<Held<T>>::new(0), generation, response.status)
                    }
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

    /// Forget `key`'s token (sign out); a running sign-in still completes for its waiters.
    pub fn invalidate(&self, key: &K) {
        if let Some(e) = self.inner.lock().peek_mut(key) {
            e.session.clear();
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
        let now = self.inner.config.clock.now();
        let mut entries = self.inner.lock();
        self.inner.sweep(&mut entries, now, usize::MAX);
    }

    /// Tasks waiting for `key`'s sign-in right now (for metrics and tests).
    pub fn waiting(&self, key: &K) -> usize {
        self.inner
            .lock()
            .peek(key)
            .map_or(0, |e| e.done.receiver_count())
    }

    /// Whether a sign-in for `key` is running right now.
    pub fn signing_in(&self, key: &K) -> bool {
        self.inner.lock().peek(key).is_some_and(|e| e.in_flight)
    }

    async fn acquire<F, Fut>(&self, key: &K, sign_in: &mut SignInFn<F>) -> Result<Lease<T>, Error>
    where
        F: Fn(Option<Arc<T>>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, Error>> + Send + 'static,
    {
        let mut waited = None;
        let mut rounds = 0;
        loop {
            let now = self.inner.config.clock.now();
            let mut done = match self.step(key, now, waited, rounds, sign_in)? {
                Next::Ready(lease) => return Ok(lease),
                Next::Wait(done, attempt) => {
                    waited = Some(attempt);
                    done
                }
            };
            // Subscribed under the lock: an attempt ending since then is seen at once.
            done.changed().await.map_err(|_| Error::Closed)?;
            rounds += 1;
        }
    }

    /// One look at `key`'s session under the lock: a token, or what to wait for.
    fn step<F, Fut>(
        &self,
        key: &K,
        now: Instant,
        waited: Option<u64>,
        rounds: u32,
        sign_in: &mut SignInFn<F>,
    ) -> Result<Next<T>, Error>
    where
        F: Fn(Option<Arc<T>>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, Error>> + Send + 'static,
    {
        let mut entries = self.inner.lock();
        let entry = self.inner.entry(&mut entries, key, now)?;
        // The attempt this caller waited for failed: everyone who waited shares its error
        // (unless a still-valid token is at hand).
        if let (Some(waited), Some((failed, error))) = (waited, &entry.failure) {
            if *failed >= waited {
                let error = error.clone();
                return match entry.session.access(now, None) {
                    Access::Ready { token, generation } => {
                        Ok(Next::Ready(lease(token, generation)))
                    }
                    Access::SignIn { .. } => {
                        entry.session.sign_in_abandoned();
                        Err(error)
                    }
                    Access::Wait { .. } | Access::Failed(_) => Err(error),
                };
            }
        }
        loop {
            match entry.session.access(now, None) {
                Access::Ready { token, generation } => {
                    return Ok(Next::Ready(lease(token, generation)));
                }
                Access::Wait { .. } if entry.cooling => {
                    if let Some((_, error)) = &entry.failure {
                        return Err(error.clone());
                    }
                    return Ok(Next::Wait(entry.done.subscribe(), entry.attempts));
                }
                Access::Wait { .. } => {
                    return Ok(Next::Wait(entry.done.subscribe(), entry.attempts));
                }
                // This cache never reports failures to the session (it shares them itself).
                Access::Failed(e) => return Err(Error::Core(e)),
                Access::SignIn { previous } => {
                    let previous = previous.map(|p| p.0.clone());
                    let started = if rounds >= MAX_ROUNDS {
                        Err(Error::Core(ssoflow_core::Error::Malformed {
                            what: "token lifetime (every sign-in returns a token already due)",
                            excerpt: Excerpt::default(),
                        }))
                    } else {
                        match tokio::runtime::Handle::try_current() {
                            Err(_) => Err(Error::Closed),
                            Ok(runtime) => sign_in.shared().map(|f| (runtime, f)),
                        }
                    };
                    let (runtime, f) = match started {
                        Ok(started) => started,
                        Err(e) => {
                            entry.session.sign_in_abandoned();
                            return Err(e);
                        }
                    };
                    entry.attempts += 1;
                    entry.in_flight = true;
                    let completion = Completion {
                        inner: self.inner.clone(),
                        key: key.clone(),
                        attempt: entry.attempts,
                        finished: false,
                    };
                    let span = tracing::info_span!(
                        "ssoflow.sign_in",
                        of = short_type_name::<T>(),
                        attempt = entry.attempts,
                        renewing = previous.is_some()
                    );
                    runtime.spawn(run_sign_in(completion, f, previous).instrument(span));
                    // Ask again: a still-valid token is served while it is renewed.
                }
            }
        }
    }
}

/// `SignIn` for `ssoflow_core::par_ordering::SignIn` (for the sign-in span).
fn short_type_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base)
}

/// Ends a sign-in attempt exactly once: with its result, or — if the task is dropped (runtime
/// shutdown, abort) before it finishes — with `Error::Closed`, so the key never stays stuck.
struct Completion<K: Hash + Eq + Clone, T: HasAccessToken> {
    inner: Arc<Inner<K, T>>,
    key: K,
    attempt: u64,
    finished: bool,
}

impl<K: Hash + Eq + Clone, T: HasAccessToken> Completion<K, T> {
    /// Run `f` on this attempt's entry (it is never evicted while the attempt runs).
    fn with_entry(&self, f: impl FnOnce(&mut Entry<T>)) {
        let mut entries = self.inner.lock();
        if let Some(e) = entries.peek_mut(&self.key) {
            if e.in_flight && e.attempts == self.attempt {
                f(e);
            }
        }
    }

    fn succeed(&mut self, value: T) {
        self.finished = true;
        let value = Held(Arc::new(value));
        self.with_entry(|e| {
            let now = self.inner.config.clock.now();
            let generation = e.session.signed_in(now, value);
            tracing::info!(generation, "signed in");
            e.failure = None;
            e.in_flight = false;
            e.cooling = false;
            e.wake();
        });
    }

    fn fail(&mut self, error: Error) {
        self.finished = true;
        let attempt = self.attempt;
        self.with_entry(|e| {
            tracing::warn!(error = %error, "sign-in failed");
            e.session.sign_in_abandoned();
            e.failure = Some((attempt, error));
            e.in_flight = false;
            e.cooling = false;
            e.wake();
        });
    }

    /// Hand the failure to the waiters now but keep the key's sign-in slot: no new sign-in
    /// starts until [`end_cooldown`](Self::end_cooldown).
    fn start_cooldown(&mut self, error: Error, until: Duration) {
        let attempt = self.attempt;
        self.with_entry(|e| {
            tracing::warn!(error = %error, cooldown_ms = until.as_millis() as u64, "sign-in failed; holding off as asked (Retry-After)");
            e.failure = Some((attempt, error));
            e.cooling = true;
            e.wake();
        });
    }

    fn end_cooldown(&mut self) {
        self.finished = true;
        self.with_entry(|e| {
            e.session.sign_in_abandoned();
            e.in_flight = false;
            e.cooling = false;
            e.wake();
        });
    }
}

impl<K: Hash + Eq + Clone, T: HasAccessToken> Drop for Completion<K, T> {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let attempt = self.attempt;
        self.with_entry(|e| {
            tracing::warn!("sign-in task dropped before finishing");
            if !e.cooling {
                e.failure = Some((attempt, Error::Closed));
            }
            e.session.sign_in_abandoned();
            e.in_flight = false;
            e.cooling = false;
            e.wake();
        });
    }
}

/// The sign-in task: call the closure, retry transient failures with backoff, report once.
async fn run_sign_in<K, T, F, Fut>(
    mut completion: Completion<K, T>,
    sign_in: Arc<F>,
    previous: Option<Arc<T>>,
) where
    K: Hash + Eq + Clone,
    T: HasAccessToken,
    F: Fn(Option<Arc<T>>) -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let config = completion.inner.config.clone();
    tracing::info!("sign-in started");
    let mut retries = 0;
    loop {
        let attempt = AssertUnwindSafe(async { sign_in(previous.clone()).await });
        let result = attempt.catch_unwind().await.unwrap_or(Err(Error::Panicked));
        let error = match result {
            Ok(value) => return completion.succeed(value),
            Err(e) => e,
        };
        let retry_after = error.retry_after().map(|d| d.min(config.max_retry_after));
        if error.is_transient() && retries < config.max_retries {
            let delay = backoff(&config, retries, retry_after);
            if delay <= config.max_backoff {
                tracing::warn!(error = %error, delay_ms = delay.as_millis() as u64, retry = retries + 1, "sign-in failed; retrying");
                tokio::time::sleep(delay).await;
                retries += 1;
                continue;
            }
        }
        match retry_after {
            Some(wait) => {
                completion.start_cooldown(error, wait);
                tokio::time::sleep(wait).await;
                return completion.end_cooldown();
            }
            None => return completion.fail(error),
        }
    }
}

/// Exponential backoff with jitter (half fixed, half random); at least `Retry-After` when given.
fn backoff(config: &CacheConfig, retries: u32, retry_after: Option<Duration>) -> Duration {
    let exp = config
        .base_backoff
        .saturating_mul(1u32 << retries.min(16))
        .min(config.max_backoff);
    let half = exp / 2;
    let jitter = if half.is_zero() {
        Duration::ZERO
    } else {
        rand::rng().random_range(Duration::ZERO..=half)
    };
    match retry_after {
        Some(after) => after + jitter,
        None => half + jitter,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_honours_retry_after() {
        let c = CacheConfig {
            base_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            ..CacheConfig::default()
        };
        for _ in 0..100 {
            let d0 = backoff(&c, 0, None);
            assert!(d0 >= Duration::from_millis(50) && d0 <= Duration::from_millis(100));
            let d3 = backoff(&c, 3, None);
            assert!(d3 >= Duration::from_millis(400) && d3 <= Duration::from_millis(800));
            let big = backoff(&c, 30, None);
            assert!(big <= Duration::from_secs(1));
            let ra = backoff(&c, 0, Some(Duration::from_secs(2)));
            assert!(ra >= Duration::from_secs(2) && ra <= Duration::from_millis(2050));
        }
    }
}
