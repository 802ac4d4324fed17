//! ssoflow: sign users and machines in to PAR Ordering, Punchh, Stream, a POS API and any OAuth 2.0
//! server. This facade re-exports the `no_std` core ([`ssoflow_core`]); features add drivers.
#![forbid(unsafe_code)]
// The core's `Error` carries a redacted body excerpt inline (it is `no_std`, nothing to box it in).
#![allow(clippy::result_large_err, clippy::large_enum_variant)]
// The README's examples compile as doc tests of this crate.
#![doc = ""]
#![doc = include_str!("../README.md")]

pub use ssoflow_core::*;

#[cfg(feature = "http")]
pub mod http_compat;

/// The blocking driver (ureq): run flows, protected calls with refresh-on-401.
#[cfg(feature = "ureq")]
pub use ssoflow_ureq as blocking;

/// The async driver (tokio, reqwest): `TokenCache`, refresh-on-401.
#[cfg(feature = "tokio")]
pub use ssoflow_tokio as tokio;

/// The firmware driver: HTTP/1.1 over any `embedded-io` stream, no allocation.
#[cfg(feature = "embedded-io")]
pub use ssoflow_embedded_io as embedded;

/// The ordering app's PAR Ordering `POST /customer-info` endpoint (axum), which answers only a
/// caller holding the customer's own access token.
#[cfg(feature = "customer-info")]
pub use ssoflow_customer_info as customer_info;
