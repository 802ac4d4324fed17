//! A token cache shared by every replica of a service through Redis: **one sign-in per expiry
//! for the whole fleet**, not one per process.
//!
//! # Shape
//!
//! Two layers. The in-process [`TokenCache`](ssoflow_tokio::TokenCache) stays in front: hits
//! are answered from memory, and per process at most one sign-in runs per key. The cache is
//! built with the store as its [`SharedStore`](ssoflow_tokio::SharedStore)
//! ([`RedisStore::shared`]), which that one sign-in consults around the recipe's flow, so per
//! process at most one task talks to Redis per key, and across processes a Redis lock lets
//! exactly one replica run the recipe:
//!
//! 1. `GET <namespace>:tok:{<digest>}` — a token is there, opens with the application key, is
//!    not within `skew` of its expiry and is not the very token this process is replacing (due,
//!    or refused with a 401): use it. No provider call.
//! 2. Else `SET <namespace>:lock:{<digest>} <owner> NX PX <lock_ttl>`. The winner looks once
//!    more (the previous holder may have just finished), runs the real sign-in — from the
//!    stored value when there is one — while extending the lock every `lock_ttl / 3`, then one
//!    Lua script stores the sealed token as the next generation, unless a newer one is there
//!    (the fence), with `PX` = remaining lifetime − `skew` (unknown lifetime:
//!    `unknown_expiry_ttl`; holding a refresh token: at least `refresh_token_ttl`) **and**
//!    deletes the lock if it still owns it — the token is visible before the lock is gone. A
//!    failed sign-in releases the lock (compare-and-delete) so the next replica can try.
//! 3. Everyone else polls for the token: exponential backoff with jitter (10 ms doubling to
//!    200 ms) and each look also tries the lock. A holder that died stops extending it and
//!    loses it after `lock_ttl` (5 s by default); the next look takes over. After `max_wait`
//!    (30 s) a waiter signs in directly. Polling rather than keyspace notifications: those are
//!    off by default on managed Redis, fire-and-forget over pub/sub (a reconnect loses them)
//!    and need a connection of their own, while polling costs one poller per key per process
//!    for the length of one sign-in.
//!
//! # Rotating refresh tokens
//!
//! A value holding a refresh token ([`Codec::holds_refresh_token`]) is renewed only under the
//! lock and from the fleet's newest stored copy; without the lock (Redis down, the wait ran out,
//! nothing stored to renew from) the recipe signs in from scratch rather than replay a refresh
//! token another replica may have used — providers revoke the whole family on a replay
//! (RFC 9700 §4.14.2).
//!
//! # TLS, Redis Cluster, key rotation
//!
//! `rediss://` verifies the server with the std drivers' roots ([`RedisConfig::roots`]: Mozilla's,
//! extra PEM roots, the platform's store); [`RedisStore::cluster`] talks to a Redis Cluster (a
//! key's value and lock share a hash slot); a [`KeyRing`] holds several keys, the newest sealing.
//!
//! # Tokens at rest
//!
//! Values are `version ‖ key id ‖ random 96-bit nonce ‖ AES-256-GCM(plaintext)`, with the Redis
//! key's name and the value's generation as associated data: a value copied under another key
//! does not open. The plaintext is
//! a small JSON mirror of the result ([`Codec`]) with expiries as Unix-epoch milliseconds, since
//! an [`Instant`](ssoflow_core::Instant) is one process's monotonic clock: converted with the
//! writer's clock on store and the reader's on load ([`TimeBase`]). Key names carry no customer
//! id or email: the digest is HMAC-SHA-256 of the type and key under a subkey of the
//! application's [`EncryptionKey`] (a plain SHA-256 of an email could be reversed by trying a
//! list of emails). A Redis dump yields no usable token and no customer identity.
//!
//! # Redis down
//!
//! Every command has a deadline (`timeout`, 200 ms; connecting: 500 ms). A failure logs one
//! `warn!` for the outage, and for `down_recheck` (1 s) sign-ins skip Redis and run directly;
//! then the next sign-in tries Redis again. The local caches keep serving the tokens they hold
//! throughout. The connection is a `redis` `ConnectionManager`, which reconnects by itself;
//! the first success logs one `info!` and sharing resumes. Nothing in the sign-in path returns
//! a Redis error.
//!
//! # Secrets
//!
//! Tokens and keys never reach a log, a `Debug` or an error: errors name only a category,
//! [`EncryptionKey`] prints `***`, the store's `Debug` omits the URL (it may hold a password),
//! plaintext buffers are zeroized.
//!
//! # Example
//!
//! ```no_run
//! use std::sync::Arc;
//! use ssoflow_core::par_ordering;
//! use ssoflow_redis::{EncryptionKey, RedisConfig, RedisStore};
//! use ssoflow_tokio::{CacheConfig, Driver, TokenCache};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let driver = Driver::new()?;
//! let par = par_ordering::ParConfig::new(
//!     "https://api-public-playground.menu.app", "app-key", "client-id", "client-secret")?;
//! let cache_config = CacheConfig::default();
//! let key = EncryptionKey::from_hex(&std::env::var("TOKEN_CACHE_KEY")?)?;
//! // Same clock and skew as the cache in front of it.
//! let store = RedisStore::new(
//!     "redis://127.0.0.1:6379", &key, RedisConfig::matching(&cache_config, &driver))?;
//!
//! // The recipe runs once per expiry across the fleet.
//! let m2m = TokenCache::with_store(
//!     driver, par_ordering::M2m::new(&par), Arc::new(store.shared("par-m2m")), cache_config);
//! let token = m2m.get(&()).await?;
//! # let _ = token; Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![allow(clippy::result_large_err)]

mod codec;
mod crypto;
mod error;
mod store;

pub use codec::{Codec, TimeBase};
pub use crypto::{EncryptionKey, KeyRing};
pub use error::StoreError;
pub use ssoflow_net::Roots;
pub use store::{KeyNames, RedisConfig, RedisStore, Shared, Stats};
