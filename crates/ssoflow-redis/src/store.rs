//! [`RedisStore`]: the fleet-wide layer behind each process's `TokenCache`.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::FutureExt;
use rand::Rng;
use redis::Script;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ssoflow_core::Expiry;
use ssoflow_core::session::{DEFAULT_SKEW_MS, HasAccessToken};
use ssoflow_tokio::{BoxFuture, CacheConfig, Clock, Driver, Error, SharedStore};
use tokio::sync::OnceCell;
use tokio::time::Instant as TokioInstant;
use zeroize::Zeroizing;

use crate::StoreError;
use crate::codec::{Codec, TimeBase};
use crate::crypto::{EncryptionKey, Sealer};

/// How a [`RedisStore`] names, locks, waits and falls back.
#[derive(Clone, Debug)]
pub struct RedisConfig {
    /// Prefix of every key (default `ssoflow`): `<namespace>:tok:{<digest>}` and
    /// `<namespace>:lock:{<digest>}`. Give each application (or environment) sharing one Redis
    /// its own.
    pub namespace: String,
    /// A stored token this close to its expiry is not handed out; a new sign-in replaces it
    /// (default [`DEFAULT_SKEW_MS`], 10 s). Keep it **at least** the `TokenCache`'s `skew`, or
    /// a replica renewing its token would be handed one it already considers due.
    pub skew: Duration,
    /// Lifetime of the fleet's sign-in lock (default 5 s). The replica holding it extends it
    /// every `lock_ttl / 3` while its sign-in runs, so this bounds only how long a replica that
    /// died mid-sign-in holds the others up.
    pub lock_ttl: Duration,
    /// Longest a replica waits for another replica's sign-in before it signs in itself
    /// (default 30 s; the lock holder's sign-in has its own HTTP deadlines).
    pub max_wait: Duration,
    /// How long a token whose server gave no lifetime is shared (default 10 min). Replicas keep
    /// using it past that until a 401; new replicas then sign in afresh.
    pub unknown_expiry_ttl: Duration,
    /// Deadline of every Redis command (default 200 ms): a hung Redis cannot hold a caller.
    pub timeout: Duration,
    /// Deadline of connecting to Redis (default 500 ms).
    pub connect_timeout: Duration,
    /// First interval between looks while another replica signs in (default 10 ms); doubled
    /// after each look, with jitter, up to `poll_max` (default 200 ms).
    pub poll_min: Duration,
    /// Longest interval between looks while waiting (default 200 ms).
    pub poll_max: Duration,
    /// After Redis fails, sign-ins skip it (and go direct) for this long before trying it again
    /// (default 1 s), so an outage costs callers no timeouts.
    pub down_recheck: Duration,
    /// The clock expiries are read on: the same one as the `TokenCache` and `Driver`.
    pub clock: Clock,
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig {
            namespace: "ssoflow".to_owned(),
            skew: Duration::from_millis(DEFAULT_SKEW_MS),
            lock_ttl: Duration::from_secs(5),
            max_wait: Duration::from_secs(30),
            unknown_expiry_ttl: Duration::from_secs(600),
            timeout: Duration::from_millis(200),
            connect_timeout: Duration::from_millis(500),
            poll_min: Duration::from_millis(10),
            poll_max: Duration::from_millis(200),
            down_recheck: Duration::from_secs(1),
            clock: Clock::new(),
        }
    }
}

impl RedisConfig {
    /// The defaults, with the skew of the `TokenCache` this store sits behind and the clock of
    /// its driver (they must agree: see [`skew`](Self::skew) and [`clock`](Self::clock)).
    pub fn matching(cache: &CacheConfig, driver: &Driver) -> Self {
        RedisConfig {
            skew: Duration::from_millis(cache.policy.skew_ms()),
            clock: driver.clock().clone(),
            ..RedisConfig::default()
        }
    }
}

/// Counters of what the store did, since it was made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Sign-ins answered with a token another replica (or an earlier sign-in) stored.
    pub shared_hits: u64,
    /// Real sign-ins run while holding the fleet's lock.
    pub locked_sign_ins: u64,
    /// Sign-ins that waited for another replica's sign-in.
    pub waits: u64,
    /// Real sign-ins run without the lock: Redis down, or the wait ran out.
    pub direct_sign_ins: u64,
    /// Outages seen (each logged once, when it starts).
    pub outages: u64,
    /// Reads of stored values that did not open or decode (treated as absent, then overwritten).
    pub unreadable: u64,
}

#[derive(Default)]
struct Counters {
    shared_hits: AtomicU64,
    locked_sign_ins: AtomicU64,
    waits: AtomicU64,
    direct_sign_ins: AtomicU64,
    outages: AtomicU64,
    unreadable: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// Redis's health as this process last saw it.
#[derive(Default)]
struct Health {
    down: bool,
    /// While down, Redis is skipped until then.
    recheck_at: Option<TokioInstant>,
}

/// The Redis keys of one token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyNames {
    /// Where the sealed token lives.
    pub token: String,
    /// The fleet's sign-in lock for it.
    pub lock: String,
}

/// Deletes the lock only if this replica still owns it.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0";

/// Extends the lock only if this replica still owns it.
const RENEW: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0";

/// Stores the token, then releases the lock if this replica owns it (ARGV[3], may be empty): the
/// token is visible before the lock is gone, so no replica sees neither.
const STORE: &str = r"
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if ARGV[3] ~= '' and redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
return 1";

struct Inner {
    client: redis::Client,
    conn: OnceCell<ConnectionManager>,
    sealer: Sealer,
    config: RedisConfig,
    health: Mutex<Health>,
    counters: Counters,
    release: Script,
    renew: Script,
    store: Script,
}

/// A token store shared by every replica through Redis: one sign-in per expiry for the fleet.
///
/// Put it *behind* each process's [`TokenCache`](ssoflow_tokio::TokenCache): build the cache
/// with [`shared`](Self::shared) as its store (`TokenCache::with_store`). The cache
/// still answers hits from memory and runs at most one sign-in per key per process; that
/// sign-in asks Redis first, and across processes a lock lets exactly one replica run the real
/// one. Redis down: sign-ins go direct, nothing fails. Cheap to clone.
///
/// Make one per runtime: its connection lives on the runtime that first uses it.
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the URL: it may carry a password.
        f.debug_struct("RedisStore")
            .field("config", &self.inner.config)
            .field("available", &self.is_available())
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// A store on the Redis at `url` (`redis://[user:password@]host:port[/db]`), sealing tokens
    /// with `key`. Connects lazily: a Redis that is down now only means direct sign-ins until
    /// it is up.
    pub fn new(url: &str, key: &EncryptionKey, config: RedisConfig) -> Result<Self, StoreError> {
        let client =
            redis::Client::open(url).map_err(|_| StoreError::Config { what: "redis url" })?;
        let checks = [
            (config.namespace.is_empty(), "namespace is empty"),
            (
                config.namespace.bytes().any(|b| b.is_ascii_whitespace()),
                "namespace has whitespace",
            ),
            (
                config.lock_ttl < Duration::from_millis(3),
                "lock_ttl below 3 ms",
            ),
            (config.timeout.is_zero(), "timeout is zero"),
            (config.connect_timeout.is_zero(), "connect_timeout is zero"),
            (config.poll_min.is_zero(), "poll_min is zero"),
            (config.poll_max < config.poll_min, "poll_max below poll_min"),
        ];
        if let Some((_, what)) = checks.iter().find(|(bad, _)| *bad) {
            return Err(StoreError::Config { what });
        }
        Ok(RedisStore {
            inner: Arc::new(Inner {
                client,
                conn: OnceCell::new(),
                sealer: Sealer::new(key),
                config,
                health: Mutex::new(Health::default()),
                counters: Counters::default(),
                release: Script::new(RELEASE),
                renew: Script::new(RENEW),
                store: Script::new(STORE),
            }),
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &RedisConfig {
        &self.inner.config
    }

    /// The [`SharedStore`] to build a `TokenCache` with (`TokenCache::with_store`) when every
    /// key of that cache is one token fleet-wide named `name` (e.g. `"par-m2m"` for the
    /// application's own token).
    ///
    /// The name is hashed with a key derived from the [`EncryptionKey`] before it reaches
    /// Redis. For the one task per process that the cache lets sign in for a key, the store:
    /// 1. hands out the stored token when one is there, not within `skew` of expiry, and not the
    ///    one this process is replacing (the `previous` the cache passes in: due, or refused
    ///    with a 401);
    /// 2. else takes the fleet's lock for the name (`SET NX PX`), looks again, runs the
    ///    recipe (extending the lock meanwhile), stores the result sealed with a Redis TTL of
    ///    its remaining lifetime minus `skew`, and releases the lock if still its owner;
    /// 3. else waits for the holder's token (polling with backoff and jitter); a holder that
    ///    died loses the lock after `lock_ttl`, and the next look takes it over.
    ///
    /// Redis unreachable or slow (every command has a deadline): the recipe runs directly and
    /// its result is not shared; logged once per outage.
    pub fn shared<K: ?Sized>(&self, name: impl AsRef<[u8]>) -> Shared<K> {
        let name: Arc<[u8]> = Arc::from(name.as_ref());
        self.shared_by(move |_: &K| name.to_vec())
    }

    /// Like [`shared`](Self::shared), with each key of the cache named by `name(key)` fleet-wide
    /// (e.g. a customer's id for a cache keyed by that customer's identity-provider token).
    pub fn shared_by<K: ?Sized>(
        &self,
        name: impl Fn(&K) -> Vec<u8> + Send + Sync + 'static,
    ) -> Shared<K> {
        Shared {
            inner: self.inner.clone(),
            name: Box::new(name),
        }
    }

    /// The stored token for `key`, if there is one not within `skew` of its expiry.
    pub async fn load<T: Codec + HasAccessToken>(
        &self,
        key: impl AsRef<[u8]>,
    ) -> Result<Option<T>, StoreError> {
        let names = self.inner.names::<T>(key.as_ref());
        self.inner.load(&names, None).await
    }

    /// Store `value` for `key` (e.g. one signed in some other way); due tokens are not stored.
    pub async fn store<T: Codec + HasAccessToken>(
        &self,
        key: impl AsRef<[u8]>,
        value: &T,
    ) -> Result<(), StoreError> {
        let names = self.inner.names::<T>(key.as_ref());
        self.inner.put(&names, value, None).await
    }

    /// Delete the stored token for `key` (sign-out; pair it with `TokenCache::invalidate`).
    pub async fn remove<T: Codec>(&self, key: impl AsRef<[u8]>) -> Result<(), StoreError> {
        let names = self.inner.names::<T>(key.as_ref());
        let mut conn = self.inner.conn().await?;
        let cmd = redis::cmd("DEL").arg(&names.token).clone();
        self.inner
            .timed(async move { cmd.query_async::<i64>(&mut conn).await })
            .await
            .map(drop)
    }

    /// Ask Redis now (`PING`), whatever the recent failures; marks it up or down accordingly.
    /// For health checks, and for tests that wait for a restarted Redis.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.inner.connect(true).await?;
        self.inner
            .timed(async move { redis::cmd("PING").query_async::<String>(&mut conn).await })
            .await
            .map(drop)
    }

    /// Whether the last Redis call succeeded (no outage in progress).
    pub fn is_available(&self) -> bool {
        !self.inner.health().down
    }

    /// The Redis key names for `key` and type `T`: no customer id or email appears in them.
    pub fn key_names<T: Codec>(&self, key: impl AsRef<[u8]>) -> KeyNames {
        self.inner.names::<T>(key.as_ref())
    }

    /// What the store did so far.
    pub fn stats(&self) -> Stats {
        let c = &self.inner.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Stats {
            shared_hits: get(&c.shared_hits),
            locked_sign_ins: get(&c.locked_sign_ins),
            waits: get(&c.waits),
            direct_sign_ins: get(&c.direct_sign_ins),
            outages: get(&c.outages),
            unreadable: get(&c.unreadable),
        }
    }
}

/// A [`RedisStore`] as the [`SharedStore`] of one `TokenCache`: see [`RedisStore::shared`].
pub struct Shared<K: ?Sized> {
    inner: Arc<Inner>,
    name: Box<NameFn<K>>,
}

type NameFn<K> = dyn Fn(&K) -> Vec<u8> + Send + Sync;

impl<K: ?Sized> fmt::Debug for Shared<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl<K, T> SharedStore<K, T> for Shared<K>
where
    K: ?Sized + Sync,
    T: Codec + HasAccessToken + Send + Sync + 'static,
{
    fn sign_in<'a>(
        &'a self,
        key: &'a K,
        previous: Option<Arc<T>>,
        real: BoxFuture<'a, Result<T, Error>>,
    ) -> BoxFuture<'a, Result<T, Error>> {
        let name = (self.name)(key);
        Box::pin(async move { self.inner.shared(&name, previous, real).await })
    }
}

/// Why a sign-in bypasses the lock.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Direct {
    /// Redis is down: do not touch it.
    Down,
    /// The wait ran out: Redis works, share the result.
    WaitedTooLong,
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// `d` with jitter: uniformly between half of it and all of it.
fn jittered(d: Duration) -> Duration {
    let half = d / 2;
    half + rand::rng().random_range(Duration::ZERO..=half)
}

impl Inner {
    fn health(&self) -> std::sync::MutexGuard<'_, Health> {
        self.health.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn names<T: Codec>(&self, key: &[u8]) -> KeyNames {
        let digest = self.sealer.key_digest(T::KIND, key);
        let ns = &self.config.namespace;
        // `{digest}` is a hash tag: both keys land in one cluster slot, so the store-and-release
        // script may touch both.
        KeyNames {
            token: format!("{ns}:tok:{{{digest}}}"),
            lock: format!("{ns}:lock:{{{digest}}}"),
        }
    }

    /// Redis may be used now: up, or down long enough to look again.
    fn usable(&self) -> bool {
        let h = self.health();
        !h.down || h.recheck_at.is_none_or(|at| TokioInstant::now() >= at)
    }

    fn went_down(&self, error: &StoreError) {
        let mut h = self.health();
        h.recheck_at = Some(TokioInstant::now() + self.config.down_recheck);
        if !h.down {
            h.down = true;
            bump(&self.counters.outages);
            tracing::warn!(
                error = %error,
                "Redis unavailable: tokens are not shared and sign-ins go direct until it is back"
            );
        }
    }

    fn came_up(&self) {
        let mut h = self.health();
        if h.down {
            h.down = false;
            h.recheck_at = None;
            tracing::info!("Redis reachable again: sharing tokens resumed");
        }
    }

    /// Record the outcome of a Redis call in the health state.
    fn observe<T>(&self, r: Result<T, StoreError>) -> Result<T, StoreError> {
        match &r {
            // Skipped: nothing new was learnt.
            Err(StoreError::Unavailable) => {}
            Err(e) if e.is_outage() => self.went_down(e),
            _ => self.came_up(),
        }
        r
    }

    async fn conn(&self) -> Result<ConnectionManager, StoreError> {
        self.connect(false).await
    }

    /// The connection, made on first use. Callers queue on one attempt at a time; once one
    /// failed, the others are told `Unavailable` at once (unless `force`d) instead of each
    /// waiting out a connect timeout of its own.
    async fn connect(&self, force: bool) -> Result<ConnectionManager, StoreError> {
        if let Some(c) = self.conn.get() {
            return Ok(c.clone());
        }
        self.conn
            .get_or_try_init(|| async {
                if !force && !self.usable() {
                    return Err(StoreError::Unavailable);
                }
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(self.config.connect_timeout))
                    .set_response_timeout(Some(self.config.timeout))
                    .set_number_of_retries(2)
                    .set_min_delay(Duration::from_millis(50))
                    .set_max_delay(self.config.down_recheck.max(Duration::from_millis(50)));
                let connect = ConnectionManager::new_with_config(self.client.clone(), config);
                let made = match tokio::time::timeout(self.config.connect_timeout, connect).await {
                    Err(_) => Err(StoreError::Timeout),
                    Ok(Err(e)) => Err(StoreError::from_redis(&e)),
                    Ok(Ok(c)) => Ok(c),
                };
                self.observe(made)
            })
            .await
            .cloned()
    }

    /// Run one command with the deadline, recording Redis's health.
    async fn timed<T>(
        &self,
        command: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, StoreError> {
        let r = match tokio::time::timeout(self.config.timeout, command).await {
            Err(_) => Err(StoreError::Timeout),
            Ok(Err(e)) => Err(StoreError::from_redis(&e)),
            Ok(Ok(v)) => Ok(v),
        };
        self.observe(r)
    }

    /// The stored token, if it can be used by a process replacing `previous`.
    async fn load<T: Codec + HasAccessToken>(
        &self,
        names: &KeyNames,
        previous: Option<&T>,
    ) -> Result<Option<T>, StoreError> {
        let mut conn = self.conn().await?;
        let cmd = redis::cmd("GET").arg(&names.token).clone();
        let raw = self
            .timed(async move { cmd.query_async::<Option<Vec<u8>>>(&mut conn).await })
            .await?;
        let Some(raw) = raw else {
            return Ok(None);
        };
        let time = TimeBase::from_clock(&self.config.clock);
        let token = self
            .sealer
            .open(&names.token, &raw)
            .and_then(|plain| T::decode(&plain, &time))?;
        let access = token.access_token();
        if access
            .expiry
            .needs_refresh(time.now(), millis(self.config.skew))
        {
            return Ok(None);
        }
        if previous.is_some_and(|p| p.access_token().value == access.value) {
            // The very token the caller is replacing (due, or refused with a 401).
            return Ok(None);
        }
        Ok(Some(token))
    }

    /// [`load`](Self::load) for the sign-in path: an unreadable value is absent (a sign-in
    /// overwrites it); only outages are errors.
    async fn fresh<T: Codec + HasAccessToken>(
        &self,
        names: &KeyNames,
        previous: Option<&T>,
    ) -> Result<Option<T>, StoreError> {
        match self.load(names, previous).await {
            Err(e) if !e.is_outage() => {
                bump(&self.counters.unreadable);
                tracing::warn!(
                    key = %names.token,
                    error = %e,
                    "stored token unreadable (another encryption key or namespace clash?); signing in to replace it"
                );
                Ok(None)
            }
            r => r,
        }
    }

    /// Store `value` sealed, with a Redis TTL of its remaining lifetime minus the skew; then
    /// release the lock if `owner` holds it. A due token is not stored (the lock is released).
    async fn put<T: Codec + HasAccessToken>(
        &self,
        names: &KeyNames,
        value: &T,
        owner: Option<&str>,
    ) -> Result<(), StoreError> {
        let time = TimeBase::from_clock(&self.config.clock);
        let ttl_ms = match value.access_token().expiry {
            Expiry::At(at) => at
                .millis_since(time.now())
                .saturating_sub(millis(self.config.skew)),
            Expiry::Unknown => millis(self.config.unknown_expiry_ttl),
        };
        if ttl_ms == 0 {
            return match owner {
                Some(owner) => self.release(names, owner).await,
                None => Ok(()),
            };
        }
        // Room for a 2 KiB JWT or two plus a customer record, so the plaintext is not copied
        // around by reallocation before it is zeroized.
        let mut plain = Zeroizing::new(Vec::with_capacity(8 * 1024));
        value.encode(&time, &mut plain)?;
        let sealed = self.sealer.seal(&names.token, &plain)?;
        drop(plain);
        let mut conn = self.conn().await?;
        let mut invocation = self.store.prepare_invoke();
        invocation
            .key(&names.token)
            .key(&names.lock)
            .arg(sealed)
            .arg(ttl_ms)
            .arg(owner.unwrap_or(""));
        self.timed(async move { invocation.invoke_async::<i64>(&mut conn).await })
            .await
            .map(drop)
    }

    /// `SET lock owner NX PX lock_ttl`: whether this replica got the lock.
    async fn try_lock(&self, names: &KeyNames, owner: &str) -> Result<bool, StoreError> {
        let mut conn = self.conn().await?;
        let cmd = redis::cmd("SET")
            .arg(&names.lock)
            .arg(owner)
            .arg("NX")
            .arg("PX")
            .arg(millis(self.config.lock_ttl))
            .clone();
        let set = self
            .timed(async move { cmd.query_async::<Option<String>>(&mut conn).await })
            .await?;
        Ok(set.is_some())
    }

    async fn release(&self, names: &KeyNames, owner: &str) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        let mut invocation = self.release.prepare_invoke();
        invocation.key(&names.lock).arg(owner);
        self.timed(async move { invocation.invoke_async::<i64>(&mut conn).await })
            .await
            .map(drop)
    }

    /// Extend the lock every `lock_ttl / 3` while this replica owns it. Never returns: it is
    /// dropped with the sign-in it guards.
    async fn keep_lock(&self, names: &KeyNames, owner: &str) -> Infallible {
        let every = (self.config.lock_ttl / 3).max(Duration::from_millis(1));
        loop {
            tokio::time::sleep(every).await;
            let renewed = async {
                let mut conn = self.conn().await?;
                let mut invocation = self.renew.prepare_invoke();
                invocation
                    .key(&names.lock)
                    .arg(owner)
                    .arg(millis(self.config.lock_ttl));
                self.timed(async move { invocation.invoke_async::<i64>(&mut conn).await })
                    .await
            };
            // Extended, or Redis failed (logged once): keep trying while the sign-in runs.
            if let Ok(0) = renewed.await {
                // Lost it (this process stalled past the TTL): another replica may sign in
                // too. Ours still finishes and stores its result.
                tracing::warn!(key = %names.lock, "sign-in lock lost before the sign-in finished");
                return std::future::pending().await;
            }
        }
    }

    /// The shared sign-in: a stored token, else one replica signs in for all.
    async fn shared<T, Fut>(
        &self,
        key: &[u8],
        previous: Option<Arc<T>>,
        sign_in: Fut,
    ) -> Result<T, Error>
    where
        T: Codec + HasAccessToken,
        Fut: Future<Output = Result<T, Error>>,
    {
        let names = self.names::<T>(key);
        if !self.usable() {
            return self.direct(&names, sign_in, Direct::Down).await;
        }
        // 1. A token another replica stored.
        match self.fresh(&names, previous.as_deref()).await {
            Ok(Some(token)) => return Ok(self.hit(&names, token)),
            Ok(None) => {}
            Err(_) => return self.direct(&names, sign_in, Direct::Down).await,
        }
        let owner = format!("{:032x}", rand::random::<u128>());
        let started = TokioInstant::now();
        let mut delay = self.config.poll_min;
        let mut waiting = false;
        loop {
            // 2. Take the lock, or learn that another replica has it.
            match self.try_lock(&names, &owner).await {
                Ok(true) => {
                    // Its holder may have stored a token and released the lock just now.
                    return match self.fresh(&names, previous.as_deref()).await {
                        Ok(Some(token)) => {
                            let _ = self.release(&names, &owner).await;
                            Ok(self.hit(&names, token))
                        }
                        Ok(None) => self.hold(&names, &owner, sign_in).await,
                        Err(_) => self.direct(&names, sign_in, Direct::Down).await,
                    };
                }
                Ok(false) => {}
                Err(_) => return self.direct(&names, sign_in, Direct::Down).await,
            }
            // 3. Wait for the holder's token.
            if !waiting {
                waiting = true;
                bump(&self.counters.waits);
                tracing::debug!(key = %names.lock, "another replica is signing in: waiting for its token");
            }
            let pause = jittered(delay);
            if started.elapsed() + pause > self.config.max_wait {
                tracing::warn!(
                    key = %names.lock,
                    waited_ms = millis(started.elapsed()),
                    "another replica's sign-in is taking too long: signing in directly"
                );
                return self.direct(&names, sign_in, Direct::WaitedTooLong).await;
            }
            tokio::time::sleep(pause).await;
            delay = (delay * 2).min(self.config.poll_max);
            match self.fresh(&names, previous.as_deref()).await {
                Ok(Some(token)) => return Ok(self.hit(&names, token)),
                Ok(None) => {}
                Err(_) => return self.direct(&names, sign_in, Direct::Down).await,
            }
        }
    }

    fn hit<T>(&self, names: &KeyNames, token: T) -> T {
        bump(&self.counters.shared_hits);
        tracing::debug!(key = %names.token, "token from the shared store");
        token
    }

    /// Run the real sign-in holding the lock (extended meanwhile); store the result and
    /// release the lock in one step. A failed sign-in releases the lock for the next replica.
    async fn hold<T, Fut>(&self, names: &KeyNames, owner: &str, sign_in: Fut) -> Result<T, Error>
    where
        T: Codec + HasAccessToken,
        Fut: Future<Output = Result<T, Error>>,
    {
        bump(&self.counters.locked_sign_ins);
        tracing::debug!(key = %names.lock, "holding the sign-in lock: signing in for the fleet");
        // If this future is dropped (runtime shutdown) the lock is left to expire: `lock_ttl`.
        let result = {
            let signing = AssertUnwindSafe(sign_in).catch_unwind();
            let keeping = self.keep_lock(names, owner);
            tokio::pin!(signing, keeping);
            tokio::select! {
                result = &mut signing => result.unwrap_or(Err(Error::Panicked)),
                never = &mut keeping => match never {},
            }
        };
        match result {
            Ok(token) => {
                // Best effort: a Redis failure here is logged once and costs only sharing.
                match self.put(names, &token, Some(owner)).await {
                    Err(e) if !e.is_outage() => {
                        // Not stored (it did not encode): free the lock all the same.
                        tracing::warn!(key = %names.token, error = %e, "token not shared");
                        let _ = self.release(names, owner).await;
                    }
                    _ => {}
                }
                Ok(token)
            }
            Err(e) => {
                let _ = self.release(names, owner).await;
                Err(e)
            }
        }
    }

    /// The real sign-in without the lock; its result is shared if Redis works.
    async fn direct<T, Fut>(&self, names: &KeyNames, sign_in: Fut, why: Direct) -> Result<T, Error>
    where
        T: Codec + HasAccessToken,
        Fut: Future<Output = Result<T, Error>>,
    {
        bump(&self.counters.direct_sign_ins);
        let result = sign_in.await;
        if let (Direct::WaitedTooLong, Ok(token)) = (why, &result) {
            let _ = self.put(names, token, None).await;
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_half_and_whole() {
        for _ in 0..1000 {
            let d = jittered(Duration::from_millis(100));
            assert!(d >= Duration::from_millis(50) && d <= Duration::from_millis(100));
        }
        assert_eq!(jittered(Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn config_is_checked_and_nothing_secret_is_printed() {
        let key = EncryptionKey::from_bytes([3; 32]);
        let bad = |c: RedisConfig| RedisStore::new("redis://127.0.0.1:1", &key, c).unwrap_err();
        assert!(matches!(
            bad(RedisConfig {
                namespace: String::new(),
                ..RedisConfig::default()
            }),
            StoreError::Config { .. }
        ));
        assert!(matches!(
            bad(RedisConfig {
                poll_max: Duration::from_millis(1),
                ..RedisConfig::default()
            }),
            StoreError::Config { .. }
        ));
        assert!(matches!(
            RedisStore::new("not a url", &key, RedisConfig::default()).unwrap_err(),
            StoreError::Config { .. }
        ));
        let store =
            RedisStore::new("redis://:hunter2@127.0.0.1:1", &key, RedisConfig::default()).unwrap();
        let shown = format!("{store:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        let names = store.key_names::<ssoflow_core::AccessToken>("jane.doe@partech.com");
        assert!(names.token.starts_with("ssoflow:tok:{"), "{names:?}");
        assert!(names.lock.starts_with("ssoflow:lock:{"), "{names:?}");
        assert!(!names.token.contains("jane"));
        assert_eq!(names.token[13..], names.lock[14..]);
    }
}
