//! The async API: the loops of [`Driver`] over an `embedded_io_async` stream.
//!
//! These are the same loops the blocking methods run (one source, see `loops`), over
//! [`embedded_io_async::Read`] + [`embedded_io_async::Write`]. Dropping one of these futures
//! half-way (a timeout) leaves the connection marked unusable; a sign-in it was running is
//! freed by the next call.

use embedded_io_async::{Read, Write};
use ssoflow_core::recipe::Recipe;
use ssoflow_core::session::Session;
use ssoflow_core::{Flow, PacedFlow, Request};

use crate::driver::NoClock;
use crate::loops::asynch;
use crate::{Clock, Driver, Error, ResponseView};

impl Driver<'_> {
    /// [`run`](Driver::run) over an async stream.
    pub async fn run_async<S, C, F>(
        &mut self,
        stream: &mut S,
        clock: &mut C,
        mut flow: F,
    ) -> Result<F::Output, Error>
    where
        S: Read + Write + ?Sized,
        C: Clock + ?Sized,
        F: Flow,
    {
        self.run_mut_async(stream, clock, &mut flow).await
    }

    /// [`run_mut`](Driver::run_mut) over an async stream.
    pub async fn run_mut_async<S, C, F>(
        &mut self,
        stream: &mut S,
        clock: &mut C,
        flow: &mut F,
    ) -> Result<F::Output, Error>
    where
        S: Read + Write + ?Sized,
        C: Clock + ?Sized,
        F: Flow,
    {
        let mut out = None;
        let result = asynch::exchange(self, stream, clock, flow, &mut out).await;
        crate::driver::finish(result, &mut out)
    }

    /// [`run_paced`](Driver::run_paced) over an async stream; waits with
    /// [`Clock::wait_until_async`] (override it with your timer, e.g. embassy's).
    pub async fn run_paced_async<S, C, F>(
        &mut self,
        stream: &mut S,
        clock: &mut C,
        mut flow: F,
    ) -> Result<F::Output, Error>
    where
        S: Read + Write + ?Sized,
        C: Clock + ?Sized,
        F: PacedFlow,
    {
        let mut out = None;
        let result = asynch::exchange_paced(self, stream, clock, &mut flow, &mut out).await;
        crate::driver::finish(result, &mut out)
    }

    /// [`sign_out`](Driver::sign_out) over an async stream.
    #[allow(clippy::too_many_arguments)]
    pub async fn sign_out_async<S, C, T>(
        &mut self,
        stream: &mut S,
        clock: &mut C,
        session: &mut Session<T, Error>,
        client: &ssoflow_core::oauth2::Client,
        revocation_url: &str,
        entropy: [u8; 16],
    ) -> Result<(), Error>
    where
        S: Read + Write + ?Sized,
        C: Clock + ?Sized,
        T: ssoflow_core::session::HasAccessToken,
    {
        asynch::sign_out(
            self,
            stream,
            clock,
            session,
            client,
            revocation_url,
            entropy,
        )
        .await
    }

    /// [`send`](Driver::send) over an async stream.
    pub async fn send_async<S: Read + Write + ?Sized>(
        &mut self,
        stream: &mut S,
        request: &Request<'_>,
    ) -> Result<ResponseView<'_>, Error> {
        let parsed = asynch::send_one(self, stream, &mut NoClock, request).await?;
        self.view(&parsed)
    }

    /// [`send_with`](Driver::send_with) over an async stream.
    pub async fn send_with_async<S, B>(
        &mut self,
        stream: &mut S,
        build: B,
    ) -> Result<ResponseView<'_>, Error>
    where
        S: Read + Write + ?Sized,
        B: for<'b> FnMut(&'b mut [u8]) -> Result<Request<'b>, ssoflow_core::Error>,
    {
        let parsed = asynch::build_and_send(self, stream, &mut NoClock, build).await?;
        self.view(&parsed)
    }

    /// [`send_authorized`](Driver::send_authorized) over an async stream; backoffs wait with
    /// [`Clock::wait_until_async`].
    #[allow(clippy::too_many_arguments)]
    pub async fn send_authorized_async<S, C, R, N, B>(
        &mut self,
        stream: &mut S,
        clock: &mut C,
        session: &mut Session<R::Output, Error>,
        recipe: &R,
        key: &R::Key,
        entropy: N,
        build: B,
    ) -> Result<ResponseView<'_>, Error>
    where
        S: Read + Write + ?Sized,
        C: Clock + ?Sized,
        R: Recipe,
        N: FnMut() -> [u8; 16],
        B: for<'b> FnMut(&R::Output, &'b mut [u8]) -> Result<Request<'b>, ssoflow_core::Error>,
    {
        let parsed =
            asynch::authorized(self, stream, clock, session, recipe, key, entropy, build).await?;
        self.view(&parsed)
    }
}
