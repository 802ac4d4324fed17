//! ssoflow on firmware: HTTP/1.1 over any [`embedded_io`] or [`embedded_io_async`] stream, in
//! buffers you own — `#![no_std]`, no allocator, no `unsafe`.
//!
//! The [`Driver`] moves a flow's bytes and nothing else: [`Driver::run`] is the one loop every
//! ssoflow driver shares (`poll` → send → `handle` → … → `Done`). The protocol lives in
//! [`ssoflow_core`]. The blocking (`embedded-io` 0.7) and async (`embedded-io-async` 0.7)
//! methods are one source: each loop is written once and expanded over both traits; they
//! share one [`RequestWriter`] and one sans-I/O [`ResponseParser`].
//!
//! - Requests: `METHOD path HTTP/1.1`, `Host`, the flow's headers, `Content-Length` (always),
//!   `Connection: keep-alive`. Header values with CR or LF are refused.
//! - Responses: the head read as `httparse` reads it (a parser of its own, checked against
//!   `httparse` by differential tests); 1xx skipped; body by `Content-Length`, chunked
//!   (extensions and trailers tolerated) or until close; keep-alive (bytes after a complete response, never asked for, end the connection);
//!   `Connection: close` honoured ([`Driver::is_reusable`]).
//! - One caller buffer ([`DEFAULT_BUF`], 5 KiB): the flow's request is written there, staged to
//!   the stream through the space after it, then the response is read into the whole buffer.
//! - Limits: a head or body larger than the buffer is an error, never truncated; at
//!   most [`DEFAULT_MAX_READS`] reads per response; with [`Driver::with_timeout_ms`], a
//!   deadline per response on your clock. Each read's timeout is the stream's job.
//! - Time: you implement [`Clock`] (any `FnMut() -> Instant` is one): `now`, and how to wait
//!   for a backoff (by default it spins; override [`Clock::wait_until`] /
//!   [`Clock::wait_until_async`] with your delay or timer).
//!
//! ```no_run
//! use embedded_io::{Read, Write};
//! use ssoflow_core::{Instant, par_ordering};
//! use ssoflow_embedded_io::{DEFAULT_BUF, Driver, Error};
//!
//! fn sign_in<S: Read + Write>(stream: &mut S, ms: &mut impl FnMut() -> Instant) -> Result<(), Error> {
//!     let config = par_ordering::ParConfig::new(
//!         "https://api-public-playground.menu.app", "app-key", "client-id", "client-secret",
//!     )?;
//!     let mut buf = [0u8; DEFAULT_BUF];
//!     let mut driver = Driver::new(&mut buf);
//!     let ids = par_ordering::RequestIds::new([7; 16]); // 16 bytes from your RNG
//!     let flow = par_ordering::sign_in(&config, None, "subject-token", ids)?;
//!     let signed_in = driver.run(stream, ms, flow)?;
//!     # let _ = signed_in;
//!     Ok(())
//! }
//! ```
//!
//! # Protected calls
//!
//! [`Driver::send_authorized`] (and `send_authorized_async`) makes a call with a core
//! [`Session`](ssoflow_core::session::Session)'s token, signing in with a
//! [`Recipe`](ssoflow_core::recipe::Recipe) when the session says so. The session owns the
//! policy (renewal before expiry, backoff with jitter after a transient failure, a cooldown
//! after a final one, one re-sign-in and one retry after a 401); on one thread a "wait" is
//! only ever a backoff, waited out on your [`Clock`]. `entropy` gives the recipe's request ids
//! and the jitter: read your hardware RNG there.
//!
//! ```no_run
//! use embedded_io::{Read, Write};
//! use ssoflow_core::session::{Policy, Session};
//! use ssoflow_core::{Instant, Method, par_ordering};
//! use ssoflow_embedded_io::{DEFAULT_BUF, Driver, Error};
//!
//! fn me<S: Read + Write>(
//!     stream: &mut S,
//!     ms: &mut impl FnMut() -> Instant,
//!     rng: impl FnMut() -> [u8; 16],
//!     customer_token: &str, // from the customer's identity provider
//! ) -> Result<u16, Error> {
//!     let config = par_ordering::ParConfig::new(
//!         "https://api-public-playground.menu.app", "app-key", "client-id", "client-secret",
//!     )?;
//!     // Both live as long as the device: the recipe keeps the M2M token between sign-ins.
//!     let recipe = par_ordering::CustomerSignIn::<str>::new(&config);
//!     let mut session = Session::<par_ordering::SignIn, Error>::with_policy(Policy::DEFAULT);
//!     let mut ids = par_ordering::RequestIds::new([9; 16]);
//!     let mut buf = [0u8; DEFAULT_BUF];
//!     let mut driver = Driver::new(&mut buf).with_timeout_ms(10_000);
//!     let view = driver.send_authorized(
//!         stream, ms, &mut session, &recipe, customer_token, rng,
//!         |t: &par_ordering::SignIn, buf: &mut [u8]| {
//!             let token = t.menu_token.value.expose();
//!             config.protected_request(buf, Method::Get, "/api/customers/me", token, &mut ids)
//!         },
//!     )?;
//!     Ok(view.status())
//! }
//! ```
//!
//! # TLS
//!
//! TLS is the stream's job; the driver has no TLS code. With
//! [embedded-tls](https://docs.rs/embedded-tls) 0.19 (which uses `embedded-io` 0.7 too), open
//! the connection and pass it as the stream: its `blocking::TlsConnection` implements
//! `embedded_io::{Read, Write}` and its async `TlsConnection` implements
//! `embedded_io_async::{Read, Write}`. Feature `embedded-tls` adds the `tls` module: the
//! handshake, `tls::open` / `tls::open_async` with a `tls::CaVerified` trust, which verifies
//! the server's certificate against your CA and refuses a server that never presents one
//! (embedded-tls 0.19 alone accepts that, and skips verification for a provider without a
//! verifier such as its `UnsecureProvider`) — with the how, the why, the limits and a complete
//! example.
//!
//! # Connections
//!
//! All requests of one call go over the stream you pass. When the server closes the
//! connection (`Connection: close`, HTTP/1.0, a body read until close) or anything fails, the
//! next send is [`Error::NotReusable`]: connect again, call [`Driver::reset`], run again. A
//! sign-in that failed on a dropped connection is retried by the next call, after the
//! session's backoff, once you have reconnected.
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]
// The core's error carries a redacted body excerpt (no allocator to box it), as in the core.
#![allow(clippy::result_large_err, clippy::large_enum_variant)]

mod asynch;
mod driver;
mod error;
mod head;
mod loops;
mod parser;
#[cfg(feature = "embedded-tls")]
pub mod tls;
mod writer;

pub use driver::{Clock, DEFAULT_BUF, DEFAULT_MAX_READS, Driver, MIN_BUF, ResponseView, STAGING};
pub use error::Error;
pub use parser::{MAX_RESPONSE_HEADERS, Parsed, Progress, ResponseParser};
pub use writer::RequestWriter;
