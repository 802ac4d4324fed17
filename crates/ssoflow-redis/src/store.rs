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
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use redis::{TlsCertificates, Value};
use ssoflow_core::Expiry;
use ssoflow_core::session::{DEFAULT_SKEW_MS, HasAccessToken};
use ssoflow_net::Roots;
use ssoflow_tokio::{BoxFuture, CacheConfig, Clock, Driver, Error, RealSignIn, SharedStore};
use tokio::sync::OnceCell;
use tokio::time::Instant as TokioInstant;
use zeroize::Zeroizing;

use crate::StoreError;
use crate::codec::{Codec, TimeBase};
use crate::crypto::{KeyRing, Sealer};

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
    /// How long a value holding a refresh token stays in Redis (default 30 days), however soon
    /// its access token expires: the fleet's newest refresh token must outlive its access token,
    /// or the next renewal would have none to start from. Set it to your provider's refresh
    /// token lifetime (servers rarely send it).
    pub refresh_token_ttl: Duration,
    /// Trusted roots for `rediss://`: Mozilla's (webpki) always, plus extra PEM roots and the
    /// platform's store when asked for ([`add_root_certificates_pem`](Self::add_root_certificates_pem),
    /// [`platform_roots`](Self::platform_roots)) — the same options as the std drivers. The
    /// server's certificate is always verified: there is no option to switch that off, and a
    /// URL ending in `#insecure` is refused.
    pub roots: Roots,
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
            refresh_token_ttl: Duration::from_secs(30 * 24 * 3600),
            roots: Roots::default(),
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

    /// Also trust the certificates of `pem` (e.g. a company CA) for `rediss://`.
    pub fn add_root_certificates_pem(mut self, pem: &[u8]) -> Result<Self, StoreError> {
        self.roots
            .add_pem(pem)
            .map_err(|what| StoreError::Config { what })?;
        Ok(self)
    }

    /// Also trust the platform's certificate store for `rediss://` (default off).
    pub fn platform_roots(mut self, on: bool) -> Self {
        self.roots.platform = on;
        self
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
    /// Real sign-ins run without the lock: Redis down, or the wait ran out (values without a
    /// refresh token only).
    pub direct_sign_ins: u64,
    /// Sign-ins from scratch (no refresh token) run instead of a renewal the lock could not
    /// cover: Redis down, the wait ran out, or no stored value to renew from.
    pub fresh_sign_ins: u64,
    /// Writes the generation fence refused: a newer value was stored meanwhile.
    pub fenced: u64,
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
    fresh_sign_ins: AtomicU64,
    fenced: AtomicU64,
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

/// Reads a stored value: `{generation, sealed value}`, or nil (absent, or a value of the first
/// format, a plain string, which the next write replaces).
const LOAD: &str = r"
if redis.call('TYPE', KEYS[1])['ok'] ~= 'hash' then return false end
return redis.call('HMGET', KEYS[1], 'g', 'v')";

/// The generation fence: stores the sealed value (ARGV[1]) as generation ARGV[5] with PX
/// ARGV[2] only if the generation there is still ARGV[4], the one the writer renewed from (or
/// none is there), so a writer that stalled or lost the lock cannot overwrite a newer value;
/// then releases the lock if this replica owns it (ARGV[3], may be empty): the value is visible
/// before the lock is gone. Returns 1 if stored, 0 if fenced off.
const STORE: &str = r"
local cur = '0'
local kind = redis.call('TYPE', KEYS[1])['ok']
if kind == 'hash' then cur = redis.call('HGET', KEYS[1], 'g') or '0' end
local stored = 0
if cur == '0' or cur == ARGV[4] then
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 'g', ARGV[5], 'v', ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  stored = 1
end
if ARGV[3] ~= '' and redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
return stored";

/// Where the store connects: one Redis, or a Redis Cluster.
enum Backend {
    Single(redis::Client),
    Cluster(ClusterClient),
}

/// A connection to either (both reconnect by themselves; the cluster one follows `MOVED`).
#[derive(Clone)]
enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl redis::aio::ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a redis::Cmd) -> redis::RedisFuture<'a, Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(cmd, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

/// A stored value as read: its generation and the value, or why it does not open or decode
/// (another key ring, or altered).
struct Stored<T> {
    generation: u64,
    value: Result<T, StoreError>,
}

/// What the lock holder renews from.
enum Start<'t, T> {
    /// The fleet's newest value (its refresh token, if it holds one).
    Stored(&'t T),
    /// The value this process holds (no refresh token in play).
    Held,
    /// Nothing: a sign-in from scratch.
    Scratch,
}

/// The PEM bundle of every root `roots` trusts: Mozilla's, the platform's if asked, the extra
/// ones. (The `redis` client takes roots only as one PEM that *replaces* its defaults.)
fn root_bundle(roots: &Roots) -> Vec<u8> {
    let platform = if roots.platform {
        Roots::platform_certs()
    } else {
        Vec::new()
    };
    let mut out = Vec::with_capacity(256 * 1024);
    for der in webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .chain(&platform)
        .chain(&roots.extra)
    {
        out.extend_from_slice(pem::encode(&pem::Pem::new("CERTIFICATE", der.to_vec())).as_bytes());
    }
    out
}

/// `url` checked: a Redis URL, and never one that turns certificate checks off.
fn check_url(url: &str) -> Result<(), StoreError> {
    if url.contains('#') {
        return Err(StoreError::Config {
            what: "redis url: no fragment allowed (`#insecure` would switch certificate checks off)",
        });
    }
    let lower = url.get(..9).unwrap_or(url).to_ascii_lowercase();
    if !(lower.starts_with("redis://") || lower.starts_with("rediss://")) {
        return Err(StoreError::Config {
            what: "redis url: expected redis:// or rediss://",
        });
    }
    Ok(())
}

fn is_tls(url: &str) -> bool {
    url.get(..9)
        .is_some_and(|s| s.eq_ignore_ascii_case("rediss://"))
}

fn tls_certificates(roots: &Roots) -> TlsCertificates {
    TlsCertificates {
        client_tls: None,
        root_cert: Some(root_bundle(roots)),
    }
}

struct Inner {
    backend: Backend,
    conn: OnceCell<Conn>,
    sealer: Sealer,
    config: RedisConfig,
    health: Mutex<Health>,
    counters: Counters,
    release: Script,
    renew: Script,
    store: Script,
    load: Script,
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
    /// A store on the Redis at `url` (`redis://[user:password@]host:port[/db]`, or `rediss://`
    /// for TLS with the roots of [`RedisConfig::roots`]), sealing tokens with `keys` (one
    /// [`EncryptionKey`](crate::EncryptionKey), or a [`KeyRing`] while rotating). Connects
    /// lazily: a Redis that is down now only means direct sign-ins until it is up.
    pub fn new(
        url: &str,
        keys: impl Into<KeyRing>,
        config: RedisConfig,
    ) -> Result<Self, StoreError> {
        check_url(url)?;
        let client = if is_tls(url) {
            redis::Client::build_with_tls(url, tls_certificates(&config.roots))
        } else {
            redis::Client::open(url)
        }
        .map_err(|_| StoreError::Config { what: "redis url" })?;
        Self::with_backend(Backend::Single(client), keys.into(), config)
    }

    /// A store on a Redis Cluster reached through any of `nodes` (URLs as for
    /// [`new`](Self::new), all `redis://` or all `rediss://`). The client learns the slot map
    /// and follows `MOVED`/`ASK`; a key's lock and value share one slot (their names share the
    /// hash tag `{<digest>}`), so the store's scripts run on one node.
    pub fn cluster(
        nodes: &[&str],
        keys: impl Into<KeyRing>,
        config: RedisConfig,
    ) -> Result<Self, StoreError> {
        let bad = |what| StoreError::Config { what };
        let first = nodes.first().ok_or(bad("cluster: no node given"))?;
        for node in nodes {
            check_url(node)?;
            if is_tls(node) != is_tls(first) {
                return Err(bad("cluster: mixed redis:// and rediss:// nodes"));
            }
        }
        let mut builder = ClusterClientBuilder::new(nodes.to_vec())
            .connection_timeout(config.connect_timeout)
            .response_timeout(config.timeout)
            .retries(2);
        if is_tls(first) {
            builder = builder.certs(tls_certificates(&config.roots));
        }
        let client = builder.build().map_err(|_| bad("cluster: redis urls"))?;
        Self::with_backend(Backend::Cluster(client), keys.into(), config)
    }

    fn with_backend(
        backend: Backend,
        keys: KeyRing,
        config: RedisConfig,
    ) -> Result<Self, StoreError> {
        let checks = [
            (config.namespace.is_empty(), "namespace is empty"),
            (
                config.namespace.bytes().any(|b| b.is_ascii_whitespace()),
                "namespace has whitespace",
            ),
            (
                config.namespace.bytes().any(|b| b == b'{' || b == b'}'),
                "namespace has a brace (it would change the keys' cluster hash tag)",
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
                backend,
                conn: OnceCell::new(),
                sealer: Sealer::new(&keys),
                config,
                health: Mutex::new(Health::default()),
                counters: Counters::default(),
                release: Script::new(RELEASE),
                renew: Script::new(RENEW),
                store: Script::new(STORE),
                load: Script::new(LOAD),
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
    /// The name is hashed with a key derived from the [`EncryptionKey`](crate::EncryptionKey) before it reaches
    /// Redis. For the one task per process that the cache lets sign in for a key, the store:
    /// 1. hands out the stored token when one is there, not within `skew` of expiry, and not the
    ///    one this process is replacing (the `previous` the cache passes in: due, or refused
    ///    with a 401);
    /// 2. else takes the fleet's lock for the name (`SET NX PX`), looks again, runs the
    ///    recipe (extending the lock meanwhile) — from the stored value when there is one (its
    ///    refresh token is the fleet's newest) — stores the result sealed with a Redis TTL of
    ///    its remaining lifetime minus `skew` (for a value holding a refresh token, at least
    ///    `refresh_token_ttl`) as the next generation, unless a newer generation is already
    ///    there, and releases the lock if still its owner;
    /// 3. else waits for the holder's token (polling with backoff and jitter); a holder that
    ///    died loses the lock after `lock_ttl`, and the next look takes it over.
    ///
    /// Without the lock (Redis unreachable or slow — every command has a deadline — or the
    /// wait ran out), a value holding a refresh token is **never renewed**: the recipe signs in
    /// from scratch instead, so no refresh token is ever used twice. Other values are signed
    /// in for directly. Either way the result is shared only if Redis works; outages are
    /// logged once.
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
        let stored = self.inner.read::<T>(&names).await?;
        let Some(Stored { value, .. }) = stored else {
            return Ok(None);
        };
        let value = value?;
        Ok(self.inner.usable(&value, None).then_some(value))
    }

    /// Store `value` for `key` (e.g. one signed in some other way) as the next generation of
    /// what is there now; due tokens are not stored.
    pub async fn store<T: Codec + HasAccessToken>(
        &self,
        key: impl AsRef<[u8]>,
        value: &T,
    ) -> Result<(), StoreError> {
        let names = self.inner.names::<T>(key.as_ref());
        let generation = match self.inner.read::<T>(&names).await? {
            Some(stored) => stored.generation,
            None => 0,
        };
        self.inner
            .put(&names, value, None, generation)
            .await
            .map(drop)
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
            fresh_sign_ins: get(&c.fresh_sign_ins),
            fenced: get(&c.fenced),
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
        real: RealSignIn<'a, T>,
    ) -> BoxFuture<'a, Result<T, Error>> {
        let name = (self.name)(key);
        Box::pin(async move { self.inner.shared(&name, real).await })
    }
}

/// Why a sign-in runs without the lock.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Unlocked {
    /// Redis is down: do not touch it.
    Down,
    /// The wait ran out: Redis works, share the result (fenced on the generation seen first).
    WaitedTooLong(u64),
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
    fn usable_now(&self) -> bool {
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

    async fn conn(&self) -> Result<Conn, StoreError> {
        self.connect(false).await
    }

    /// The connection, made on first use. Callers queue on one attempt at a time; once one
    /// failed, the others are told `Unavailable` at once (unless `force`d) instead of each
    /// waiting out a connect timeout of its own.
    async fn connect(&self, force: bool) -> Result<Conn, StoreError> {
        if let Some(c) = self.conn.get() {
            return Ok(c.clone());
        }
        self.conn
            .get_or_try_init(|| async {
                if !force && !self.usable_now() {
                    return Err(StoreError::Unavailable);
                }
                let made = match &self.backend {
                    Backend::Single(client) => {
                        let config = ConnectionManagerConfig::new()
                            .set_connection_timeout(Some(self.config.connect_timeout))
                            .set_response_timeout(Some(self.config.timeout))
                            .set_number_of_retries(2)
                            .set_min_delay(Duration::from_millis(50))
                            .set_max_delay(self.config.down_recheck.max(Duration::from_millis(50)));
                        let connect = ConnectionManager::new_with_config(client.clone(), config);
                        tokio::time::timeout(self.config.connect_timeout, connect)
                            .await
                            .map(|r| r.map(Conn::Single))
                    }
                    Backend::Cluster(client) => {
                        let connect = client.get_async_connection();
                        tokio::time::timeout(self.config.connect_timeout, connect)
                            .await
                            .map(|r| r.map(Conn::Cluster))
                    }
                };
                let made = match made {
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

    /// The stored value and its generation (`None`: nothing there). A value that does not open
    /// or decode has that error as its `value`; only outages are errors.
    async fn read<T: Codec>(&self, names: &KeyNames) -> Result<Option<Stored<T>>, StoreError> {
        let mut conn = self.conn().await?;
        let mut invocation = self.load.prepare_invoke();
        invocation.key(&names.token);
        let raw = self
            .timed(async move {
                invocation
                    .invoke_async::<Option<(Option<u64>, Option<Vec<u8>>)>>(&mut conn)
                    .await
            })
            .await?;
        let Some((Some(generation), Some(sealed))) = raw else {
            return Ok(None);
        };
        let time = TimeBase::from_clock(&self.config.clock);
        let value = self
            .sealer
            .open(&names.token, generation, &sealed)
            .and_then(|plain| T::decode(&plain, &time));
        if let Err(e) = &value {
            bump(&self.counters.unreadable);
            tracing::warn!(
                key = %names.token,
                error = %e,
                "stored token unreadable (another encryption key or namespace clash?); signing in to replace it"
            );
        }
        Ok(Some(Stored { generation, value }))
    }

    /// Whether a stored value may be handed to a process replacing `previous`: not within
    /// `skew` of its expiry, and not the very token being replaced (due, or refused with a 401).
    fn usable<T: HasAccessToken>(&self, value: &T, previous: Option<&T>) -> bool {
        let time = TimeBase::from_clock(&self.config.clock);
        let access = value.access_token();
        !access
            .expiry
            .needs_refresh(time.now(), millis(self.config.skew))
            && !previous.is_some_and(|p| p.access_token().value == access.value)
    }

    /// Store `value` sealed as generation `renewed_from + 1` (random after 0), unless a generation other than
    /// `renewed_from` is there now (the fence); then release the lock if `owner` holds it. The
    /// Redis TTL is the remaining lifetime minus the skew, and at least `refresh_token_ttl` for
    /// a value holding a refresh token. Returns whether it was stored.
    async fn put<T: Codec + HasAccessToken>(
        &self,
        names: &KeyNames,
        value: &T,
        owner: Option<&str>,
        renewed_from: u64,
    ) -> Result<bool, StoreError> {
        let time = TimeBase::from_clock(&self.config.clock);
        let mut ttl_ms = match value.access_token().expiry {
            Expiry::At(at) => at
                .millis_since(time.now())
                .saturating_sub(millis(self.config.skew)),
            Expiry::Unknown => millis(self.config.unknown_expiry_ttl),
        };
        if value.holds_refresh_token() {
            ttl_ms = ttl_ms.max(millis(self.config.refresh_token_ttl));
        }
        if ttl_ms == 0 {
            if let Some(owner) = owner {
                self.release(names, owner).await?;
            }
            return Ok(false);
        }
        // After nothing (first write, or Redis lost its data) a random generation, not 1: a
        // writer that renewed from a value Redis then lost cannot match a new one by chance.
        // Below 2^52, so it stays exact wherever it is read as a number.
        let generation = if renewed_from == 0 {
            (rand::random::<u64>() >> 12).max(1)
        } else {
            renewed_from.saturating_add(1)
        };
        // Room for a 2 KiB JWT or two plus a customer record, so the plaintext is not copied
        // around by reallocation before it is zeroized.
        let mut plain = Zeroizing::new(Vec::with_capacity(8 * 1024));
        value.encode(&time, &mut plain)?;
        let sealed = self.sealer.seal(&names.token, generation, &plain)?;
        drop(plain);
        let mut conn = self.conn().await?;
        let mut invocation = self.store.prepare_invoke();
        invocation
            .key(&names.token)
            .key(&names.lock)
            .arg(sealed)
            .arg(ttl_ms)
            .arg(owner.unwrap_or(""))
            .arg(renewed_from)
            .arg(generation);
        let stored = self
            .timed(async move { invocation.invoke_async::<i64>(&mut conn).await })
            .await?
            == 1;
        if !stored {
            bump(&self.counters.fenced);
            tracing::warn!(
                key = %names.token,
                "a newer token was stored meanwhile (this replica stalled or lost the lock): this one is kept locally, not shared"
            );
        }
        Ok(stored)
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
                // Lost it (this process stalled past the TTL, or Redis restarted): ours still
                // finishes, and the generation fence keeps it from overwriting a newer value.
                tracing::warn!(key = %names.lock, "sign-in lock lost before the sign-in finished");
                return std::future::pending().await;
            }
        }
    }

    /// The shared sign-in: a stored token, else one replica signs in for all.
    async fn shared<T>(&self, key: &[u8], real: RealSignIn<'_, T>) -> Result<T, Error>
    where
        T: Codec + HasAccessToken,
    {
        let names = self.names::<T>(key);
        let previous = real.previous().cloned();
        let previous = previous.as_deref();
        if !self.usable_now() {
            return self.unlocked(&names, &real, Unlocked::Down).await;
        }
        // 1. A token another replica stored.
        let seen = match self.read::<T>(&names).await {
            Ok(seen) => seen,
            Err(_) => return self.unlocked(&names, &real, Unlocked::Down).await,
        };
        let seen_generation = match seen {
            Some(Stored {
                value: Ok(token), ..
            }) if self.usable(&token, previous) => return Ok(self.hit(&names, token)),
            Some(Stored { generation, .. }) => generation,
            None => 0,
        };
        let owner = format!("{:032x}", rand::random::<u128>());
        let started = TokioInstant::now();
        let mut delay = self.config.poll_min;
        let mut waiting = false;
        loop {
            // 2. Take the lock, or learn that another replica has it.
            match self.try_lock(&names, &owner).await {
                Ok(true) => {
                    // Its holder may have stored a token and released the lock just now.
                    let current = match self.read::<T>(&names).await {
                        Ok(current) => current,
                        Err(_) => return self.unlocked(&names, &real, Unlocked::Down).await,
                    };
                    return match current {
                        Some(Stored {
                            value: Ok(token), ..
                        }) if self.usable(&token, previous) => {
                            let _ = self.release(&names, &owner).await;
                            Ok(self.hit(&names, token))
                        }
                        current => self.hold(&names, &owner, &real, current).await,
                    };
                }
                Ok(false) => {}
                Err(_) => return self.unlocked(&names, &real, Unlocked::Down).await,
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
                    "another replica's sign-in is taking too long: signing in without the lock"
                );
                return self
                    .unlocked(&names, &real, Unlocked::WaitedTooLong(seen_generation))
                    .await;
            }
            tokio::time::sleep(pause).await;
            delay = (delay * 2).min(self.config.poll_max);
            match self.read::<T>(&names).await {
                Ok(Some(Stored {
                    value: Ok(token), ..
                })) if self.usable(&token, previous) => return Ok(self.hit(&names, token)),
                Ok(_) => {}
                Err(_) => return self.unlocked(&names, &real, Unlocked::Down).await,
            }
        }
    }

    fn hit<T>(&self, names: &KeyNames, token: T) -> T {
        bump(&self.counters.shared_hits);
        tracing::debug!(key = %names.token, "token from the shared store");
        token
    }

    /// Run the real sign-in holding the lock (extended meanwhile), from the fleet's newest
    /// value when there is one; store the result fenced on the generation it renewed from and
    /// release the lock in one step. A failed sign-in releases the lock for the next replica.
    async fn hold<T>(
        &self,
        names: &KeyNames,
        owner: &str,
        real: &RealSignIn<'_, T>,
        current: Option<Stored<T>>,
    ) -> Result<T, Error>
    where
        T: Codec + HasAccessToken,
    {
        bump(&self.counters.locked_sign_ins);
        tracing::debug!(key = %names.lock, "holding the sign-in lock: signing in for the fleet");
        let renewed_from = current.as_ref().map_or(0, |c| c.generation);
        let stored = current.and_then(|c| c.value.ok());
        let rotating = real.previous().is_some_and(|p| p.holds_refresh_token());
        let start = match &stored {
            Some(value) => Start::Stored(value),
            // This process's refresh token may have been rotated by another replica whose value
            // was then lost (Redis restarted, or its write failed): never replay it.
            None if rotating => Start::Scratch,
            None => Start::Held,
        };
        let sign_in = match start {
            Start::Stored(value) => real.run_from(Some(value)),
            Start::Held => real.run(),
            Start::Scratch => {
                bump(&self.counters.fresh_sign_ins);
                tracing::info!(key = %names.token, "no stored refresh token to renew from: signing in from scratch");
                real.run_from(None)
            }
        };
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
                match self.put(names, &token, Some(owner), renewed_from).await {
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

    /// The real sign-in without the lock. A value holding a refresh token is not renewed (its
    /// refresh token may be used by the lock holder at this moment): the recipe signs in from
    /// scratch. The result is shared (fenced) if Redis works.
    async fn unlocked<T>(
        &self,
        names: &KeyNames,
        real: &RealSignIn<'_, T>,
        why: Unlocked,
    ) -> Result<T, Error>
    where
        T: Codec + HasAccessToken,
    {
        let rotating = real.previous().is_some_and(|p| p.holds_refresh_token());
        let result = if rotating {
            bump(&self.counters.fresh_sign_ins);
            tracing::info!(key = %names.token, "no lock to renew under: signing in from scratch (never replaying a refresh token)");
            real.run_from(None).await
        } else {
            bump(&self.counters.direct_sign_ins);
            real.run().await
        };
        if let (Unlocked::WaitedTooLong(seen), Ok(token)) = (why, &result) {
            let _ = self.put(names, token, None, seen).await;
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EncryptionKey;

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
        // Certificate checks cannot be switched off, and only Redis URLs are taken.
        for url in [
            "rediss://127.0.0.1:1/#insecure",
            "http://127.0.0.1:1",
            "redis+unix:///tmp/x",
        ] {
            assert!(
                matches!(
                    RedisStore::new(url, &key, RedisConfig::default()).unwrap_err(),
                    StoreError::Config { .. }
                ),
                "{url}"
            );
        }
        assert!(
            RedisStore::cluster(
                &["redis://127.0.0.1:1", "rediss://127.0.0.1:2"],
                &key,
                RedisConfig::default()
            )
            .is_err()
        );
        assert!(RedisStore::cluster(&[], &key, RedisConfig::default()).is_err());
        assert!(RedisStore::new("rediss://localhost:1", &key, RedisConfig::default()).is_ok());
        assert!(matches!(
            RedisConfig::default().add_root_certificates_pem(b"not a pem"),
            Err(StoreError::Config { .. })
        ));
        assert!(matches!(
            bad(RedisConfig {
                namespace: "a{b}".into(),
                ..RedisConfig::default()
            }),
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
