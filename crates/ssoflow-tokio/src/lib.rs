//! Async (tokio) driver for [`ssoflow_core`]: run any sign-in flow over reqwest, share tokens
//! among thousands of tasks.
//!
//! - [`Driver`] runs a core [`Flow`](ssoflow_core::Flow) to its output over a [`Transport`]
//!   (default: [`ReqwestTransport`] — rustls, HTTP/1.1 and HTTP/2, pooled, no redirects,
//!   connect timeout 5 s, overall deadline 10 s, responses capped at 64 KiB).
//! - [`TokenCache`] keeps one token per key (`()` for a machine token, a customer id for a
//!   customer's token): exactly one sign-in runs however many tasks ask, renewal starts before
//!   expiry while the others keep the valid token, a 401 causes one re-sign-in and one retry,
//!   transient failures back off with jitter and honour `Retry-After`, and a caller that gives
//!   up cancels nothing. The decisions are the core's [`Session`](ssoflow_core::session::Session);
//!   this crate adds the lock, the waiting and the task.
//!
//! No protocol knowledge lives here: only moving bytes, locking and waiting. (The ordering
//! application's PAR Ordering endpoint is the `ssoflow-customer-info` crate.)
//!
//! ```no_run
//! use std::sync::Arc;
//! use ssoflow_core::{par_ordering::{self, RequestIds}, AccessToken};
//! use ssoflow_tokio::{CacheConfig, Driver, TokenCache};
//!
//! # async fn demo() -> Result<(), ssoflow_tokio::Error> {
//! let driver = Driver::new()?;
//! let config = Arc::new(par_ordering::Config::new(
//!     "https://api-public-playground.menu.app", "app-key", "client-id", "client-secret")?);
//! let m2m: TokenCache<(), AccessToken> =
//!     TokenCache::new(CacheConfig { clock: driver.clock().clone(), ..CacheConfig::default() });
//!
//! // Any number of tasks may do this at once: one token request is made.
//! let token = m2m.get(&(), {
//!     let (driver, config) = (driver.clone(), config.clone());
//!     move |_previous| {
//!         let (driver, config) = (driver.clone(), config.clone());
//!         async move {
//!             let mut ids = RequestIds::new(rand_seed());
//!             driver.run(par_ordering::m2m_token(&config, &mut ids)).await
//!         }
//!     }
//! }).await?;
//! # let _ = token; Ok(()) }
//! # fn rand_seed() -> [u8; 16] { [0; 16] }
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
mod net;
#[cfg(test)]
mod proxy_env_tests;
mod transport;

pub use cache::{CacheConfig, Lease, TokenCache};
pub use clock::Clock;
pub use driver::{Driver, REQUEST_BUFFER};
pub use error::Error;
pub use http::{LENT_HEADERS, OwnedRequest, OwnedResponse};
pub use transport::{
    BoxFuture, Config, DEFAULT_MAX_RESPONSE_BYTES, ReqwestTransport, Transport, TransportBuilder,
};

/// The core crate, re-exported so applications need one dependency.
pub use ssoflow_core;
