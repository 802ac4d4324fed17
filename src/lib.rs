//! ssoflow: sign users and machines in to PAR Ordering, Punchh, Stream, a POS API and any OAuth 2.0
//! server. This facade re-exports the `no_std` core ([`ssoflow_core`]); features add drivers.
#![forbid(unsafe_code)]

pub use ssoflow_core::*;

#[cfg(feature = "http")]
pub mod http_compat;
