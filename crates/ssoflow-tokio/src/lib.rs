//! Async (tokio) driver for [`ssoflow_core`]: run any sign-in flow over reqwest, share tokens
//! among thousands of tasks.
//!
//! - [`Driver`] runs a core [`Flow`](ssoflow_core::Flow) to its output over a [`Transport`]
//!   (default: [`ReqwestTransport`] — rustls, HTTP/1.1 and HTTP/2, pooled, no redirects,
//!   connect timeout 5 s, overall deadline 10 s, responses capped at 64 KiB).
//! - [`TokenCache`] keeps one token per key (`()` for a machine token, a customer's
//!   identity-provider token for that customer's sign-in), signed in with a core
//!   [`Recipe`](ssoflow_core::recipe::Recipe): exactly one sign-in runs however many tasks ask,
//!   renewal starts before expiry while the others keep the valid token, a 401 causes one
//!   re-sign-in and one retry, transient failures back off with jitter and honour
//!   `Retry-After`, one failure is shared by every waiter, and a caller that gives up hands the
//!   sign-in to the next waiter. The decisions are the core's
//!   [`Session`](ssoflow_core::session::Session) and its
//!   [`Policy`](ssoflow_core::session::Policy); this crate adds the lock and the waiting.
//!
//! No protocol knowledge lives here: only moving bytes, locking and waiting. (The ordering
//! application's PAR Ordering endpoint is the `ssoflow-customer-info` crate.)
//!
//! ```no_run
//! use ssoflow_core::par_ordering;
//! use ssoflow_tokio::{CacheConfig, Driver, TokenCache};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let driver = Driver::new()?;
//! let par = par_ordering::ParConfig::new(
//!     "https://api-public-playground.menu.app", "app-key", "client-id", "client-secret")?;
//! let cache = TokenCache::new(driver, par_ordering::M2m::new(&par), CacheConfig::default());
//!
//! // Any number of tasks may do this at once: one token request is made.
//! let token = cache.get(&()).await?;
//! # let _ = token; Ok(()) }
//! ```
//!
//! The recipe borrows its configuration, so the cache does too. A server that spawns tasks
//! keeps the configuration for the life of the process (a `static`, a `OnceLock`, or
//! `Box::leak`), which makes the cache `'static`:
//!
//! ```no_run
//! use std::sync::OnceLock;
//! use ssoflow_core::par_ordering::{self, CustomerSignIn};
//! use ssoflow_tokio::{CacheConfig, Driver, TokenCache};
//!
//! static PAR: OnceLock<par_ordering::ParConfig> = OnceLock::new();
//!
//! # async fn demo(subject_token: String) -> Result<(), Box<dyn std::error::Error>> {
//! let par = PAR.get_or_init(|| {
//!     par_ordering::ParConfig::new("https://api-public-playground.menu.app", "app-key",
//!         "client-id", "client-secret").expect("PAR config")
//! });
//! // One session per customer, keyed by the customer's identity-provider token.
//! let customers: TokenCache<String, CustomerSignIn<'static>> =
//!     TokenCache::new(Driver::new()?, CustomerSignIn::new(par), CacheConfig::default());
//! let task = tokio::spawn({
//!     let customers = customers.clone();
//!     async move { customers.get(&subject_token).await }
//! });
//! let sign_in = task.await??;
//! # let _ = sign_in; Ok(()) }
//! ```
#![forbid(unsafe_code)]
// `Error::Core` holds the core's error unboxed (it carries a ~160-byte redacted excerpt) so
// callers can match on its variants, as with the other drivers; it is moved only on failure.
#![allow(clippy::result_large_err)]

mod cache;
mod clock;
mod driver;
mod error;
mod http;
use ssoflow_net as net;
#[cfg(test)]
mod proxy_env_tests;
mod transport;

pub use cache::{CacheConfig, Lease, RealSignIn, SharedStore, TokenCache};
pub use clock::Clock;
pub use driver::{Driver, REQUEST_BUFFER};
pub use error::Error;
pub use http::{LENT_HEADERS, OwnedRequest, OwnedResponse};
pub use transport::{
    BoxFuture, Config, DEFAULT_MAX_RESPONSE_BYTES, ReqwestTransport, Transport, TransportBuilder,
};

/// The core crate, re-exported so applications need one dependency.
pub use ssoflow_core;
