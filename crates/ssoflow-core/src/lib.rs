//! Sans-I/O sign-in flows for PAR Ordering, Punchh, Stream, a POS API and any OAuth 2.0 server.
//!
//! `ssoflow-core` never touches a socket, a clock or a random source. Every flow is a small
//! state machine: [`Flow::poll`] writes the next HTTP request into a buffer you own, you send it
//! however you like, and you feed the answer back with [`Flow::handle`]. The crate is
//! `#![no_std]`, uses no allocator and no `unsafe`, so the same code runs on POS terminal
//! firmware, in a blocking CLI and in an async server.
//!
//! Features, all off by default: `defmt` derives `defmt::Format` (secrets redacted);
//! `compact-hash` replaces the RustCrypto `sha1`, `sha2` and `hmac` crates (used on every target
//! otherwise) with hand-written SHA-1/SHA-256/HMAC: about 3.7 KB less firmware flash, slower per
//! byte, checked equal to the crates by differential tests.
//!
//! Call order, for every flow: `poll` → (`Step::Send` → your transport → `handle` → `poll`)* →
//! `Step::Done`. You own the output's slot: `handle` reads the answer straight into the
//! `&mut Option<Output>` you pass it (`None` to start with), and `Done` means the slot holds the
//! output. A flow keeps no output of its own, so a flow is small (an OAuth 2.0 token flow is a
//! few hundred bytes, not the 3 KiB of a [`TokenSet`]) and the output is never copied between
//! flow, driver and caller. Calling `handle` without an outstanding request, or `poll` after
//! `Done`, is `Error::State`, never a panic. Flows that must wait between requests (RFC 8628 device
//! polling, an RFC 7009 revocation retrying a 503) are [`PacedFlow`]s: their `poll` may also say
//! [`Paced::Wait`] — sleep until `until` with your timer, then poll again.
//!
//! ```no_run
//! use ssoflow_core::{oauth2, Flow, Instant, Response, Step, Error};
//!
//! fn send(req: &ssoflow_core::Request<'_>, body: &mut [u8]) -> (u16, usize) { unimplemented!() }
//!
//! # fn main() -> Result<(), Error> {
//! let client = oauth2::Client::new("https://auth.example/token", "my-client")?
//!     .with_secret("my-secret")?;
//! let mut flow = oauth2::client_credentials(&client, Some("orders"))?;
//! let mut buf = [0u8; 4096];
//! let mut rx = [0u8; 8192];
//! let mut token = None; // the output's slot: the answer is read straight into it
//! loop {
//!     let now = Instant::from_millis(0); // your monotonic clock
//!     match flow.poll(now, &mut buf)? {
//!         Step::Send(request) => {
//!             let (status, len) = send(&request, &mut rx);
//!             let answer = Response::new(status, rx.get(..len).unwrap_or(&[]));
//!             flow.handle(now, answer, &mut token)?;
//!         }
//!         Step::Done => break,
//!     }
//! }
//! let token = ssoflow_core::take_output(&mut token)?;
//! # let _ = token; Ok(()) }
//! ```
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
// `Error` carries a redacted excerpt of the response (about 200 bytes) so people can see what
// the server said. Without an allocator it cannot be boxed; results are returned through an
// out-pointer anyway, so the size costs a copy only on the error path.
// Outputs hold fixed-capacity strings inline (`large_enum_variant`): boxing is not available,
// and `size_of` of every flow and output is reported by a test and in the README.
#![allow(clippy::result_large_err, clippy::large_enum_variant)]

#[cfg(test)]
extern crate std;

mod error;
mod exchange;
pub mod form;
mod hash;
pub mod http;
// The bounded JSON reader is the core's own business; the fuzz crate reaches it through the
// `fuzz` feature (not part of the API).
#[cfg(feature = "fuzz")]
#[doc(hidden)]
pub mod json;
#[cfg(not(feature = "fuzz"))]
pub(crate) mod json;
pub mod proxy;
mod quirks;
pub mod recipe;
mod secret;
pub mod session;
mod time;
mod token;

pub mod oauth2;
pub mod par_ordering;
pub mod pos_api;
pub mod punchh;
pub mod stream;

#[cfg(test)]
pub(crate) mod testing;

pub use error::{Error, ErrorClass, Excerpt};
pub use exchange::{Exchange, OneShot, take_output};
pub use http::{Header, Method, Request, RequestBuilder, Response};
pub use quirks::Quirks;
pub use secret::Secret;
pub use time::Instant;
pub use token::{AccessToken, Expiry, REFRESH_CAP, RefreshToken, TOKEN_CAP, TokenSet};

/// What a flow wants next.
#[must_use]
#[derive(Debug)]
pub enum Step<'b> {
    /// Send this request (it borrows the buffer passed to `poll`) and feed the answer to `handle`.
    Send(Request<'b>),
    /// The flow is finished: its output is in the slot last passed to `handle`.
    Done,
}

/// A sign-in flow: a state machine that emits requests and consumes responses.
///
/// Drivers run every flow with the same loop, so a flow never knows how its bytes travel.
/// The caller owns the output's slot (see the crate docs): a flow holds only what it needs
/// between its requests.
pub trait Flow {
    /// What the flow produces when it is done.
    type Output;

    /// The next thing to do. A request is written into `buf`; the returned view borrows it.
    ///
    /// A buffer that is too small yields [`Error::BufferTooSmall`] with the size required.
    fn poll<'b>(&mut self, now: Instant, buf: &'b mut [u8]) -> Result<Step<'b>, Error>;

    /// Feed the response to the request last returned by `poll`. An answer that completes the
    /// flow is read straight into `out` (pass the same slot, `None` at first, to every call);
    /// on `Err`, `out` is left `None`, so a half-read answer is never handed out.
    ///
    /// A flow fills `out` only with the answer that ends it: after a `handle` that leaves
    /// `out` `Some`, the next `poll` says [`Step::Done`] and writes nothing into its buffer
    /// (drivers rely on it to skip their scratch buffer for that poll).
    fn handle(
        &mut self,
        now: Instant,
        response: Response<'_>,
        out: &mut Option<Self::Output>,
    ) -> Result<(), Error>;
}

/// What a [`PacedFlow`] wants next: a [`Step`] that may also be "not before this instant".
#[must_use]
#[derive(Debug)]
pub enum Paced<'b> {
    /// Send this request (it borrows the buffer passed to `poll`) and feed the answer to `handle`.
    Send(Request<'b>),
    /// Nothing to send before `until` on the caller's clock: sleep until then (with the
    /// driver's own timer), then call `poll` again. Calling earlier only gets `Wait` again.
    Wait {
        /// Call `poll` again at this instant.
        until: Instant,
    },
    /// The flow is finished: its output is in the slot last passed to `handle`.
    Done,
}

/// A [`Flow`] as a [`PacedFlow`] that never waits, so one drive loop can run both kinds.
#[derive(Debug)]
pub struct NeverWaits<'f, F>(pub &'f mut F);

impl<F: Flow> PacedFlow for NeverWaits<'_, F> {
    type Output = F::Output;

    fn poll<'b>(&mut self, now: Instant, buf: &'b mut [u8]) -> Result<Paced<'b>, Error> {
        Ok(match self.0.poll(now, buf)? {
            Step::Send(request) => Paced::Send(request),
            Step::Done => Paced::Done,
        })
    }

    fn handle(
        &mut self,
        now: Instant,
        response: Response<'_>,
        out: &mut Option<F::Output>,
    ) -> Result<(), Error> {
        self.0.handle(now, response, out)
    }
}

/// A flow that must wait between its requests: polling for a device-flow token (RFC 8628
/// `interval`, `slow_down`), retrying a revocation after a 503 (RFC 7009).
///
/// The core never reads a clock, so the flow says *until when* to wait ([`Paced::Wait`]) and
/// the driver sleeps with its own timer: a thread sleep, a tokio sleep, the firmware's delay.
/// The drive loop is [`Flow`]'s with one more arm: `Wait { until } => sleep_until(until)`.
pub trait PacedFlow {
    /// What the flow produces when it is done.
    type Output;

    /// The next thing to do at `now`. A request is written into `buf`; the returned view
    /// borrows it.
    fn poll<'b>(&mut self, now: Instant, buf: &'b mut [u8]) -> Result<Paced<'b>, Error>;

    /// Feed the response to the request last returned by `poll`, reading an answer that
    /// completes the flow into `out`, as [`Flow::handle`] does.
    fn handle(
        &mut self,
        now: Instant,
        response: Response<'_>,
        out: &mut Option<Self::Output>,
    ) -> Result<(), Error>;
}
