//! Running flows: the one drive loop every ssoflow driver shares, over an async [`Transport`].

use std::borrow::BorrowMut;
use std::sync::Arc;

use ssoflow_core::{Flow, Instant, Step};
use tracing::Instrument;

use crate::http::loggable_url;
use crate::transport::{Config, ReqwestTransport, Transport};
use crate::{Clock, Error, OwnedRequest, OwnedResponse};

/// Initial size of the buffer a flow writes its requests into (a 2 KiB JWT plus headers fits;
/// a flow that needs more says how much and the buffer grows once).
pub const REQUEST_BUFFER: usize = 4 * 1024;

/// Runs flows and sends requests. Cheap to clone: clones share the transport (and so its
/// connection pool) and the clock.
#[derive(Clone)]
pub struct Driver {
    transport: Arc<dyn Transport>,
    clock: Clock,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

impl Driver {
    /// A driver over the default reqwest transport with the default limits.
    pub fn new() -> Result<Self, Error> {
        Self::with_config(Config::default())
    }

    /// A driver over the default reqwest transport with these limits.
    pub fn with_config(config: Config) -> Result<Self, Error> {
        Ok(Self::with_transport(ReqwestTransport::new(config)?))
    }

    /// A driver over your own transport.
    pub fn with_transport(transport: impl Transport) -> Self {
        Driver {
            transport: Arc::new(transport),
            clock: Clock::new(),
        }
    }

    /// Use `clock` for `now` (share it with the [`TokenCache`](crate::TokenCache)'s config).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The clock flows are run with.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Now, on this driver's clock.
    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    /// Send one request (URL checked first: `https://`, or `http://` only to loopback).
    pub async fn send(&self, request: OwnedRequest) -> Result<OwnedResponse, Error> {
        ssoflow_core::http::check_url(&request.url)?;
        let method = request.method.clone();
        let url =
            tracing::enabled!(tracing::Level::DEBUG).then(|| loggable_url(&request.url).to_owned());
        let started = std::time::Instant::now();
        let result = self.transport.send(request).await;
        if let Some(url) = url {
            let ms = started.elapsed().as_millis() as u64;
            match &result {
                Ok(r) => tracing::debug!(%method, url, status = r.status, ms, "exchange"),
                Err(e) => tracing::debug!(%method, url, error = %e, ms, "exchange failed"),
            }
        }
        result
    }

    /// Run `flow` to its output.
    pub fn run<F: Flow>(&self, flow: F) -> impl Future<Output = Result<F::Output, Error>> {
        self.drive_loop(flow).instrument(flow_span::<F>())
    }

    /// Run `flow` to its output, leaving the flow with you (e.g. to read
    /// `SignInFlow::m2m` afterwards).
    pub fn drive<'a, F: Flow>(
        &'a self,
        flow: &'a mut F,
    ) -> impl Future<Output = Result<F::Output, Error>> + 'a {
        self.drive_loop::<F, _>(flow).instrument(flow_span::<F>())
    }

    /// The one drive loop. The flow is owned (`run`) or borrowed (`drive`) without another
    /// future layer: a flow's output can be kilobytes (tokens are held inline), and each layer
    /// would copy it once more.
    async fn drive_loop<F: Flow, B: BorrowMut<F>>(&self, mut flow: B) -> Result<F::Output, Error> {
        let flow = flow.borrow_mut();
        let mut buf = vec![0u8; REQUEST_BUFFER];
        loop {
            // The request view borrows `buf`: copy it out before any `.await`.
            let request = match poll_owned(flow, self.now(), &mut buf)? {
                Next::Done(out) => return Ok(out),
                Next::Send(request) => request,
            };
            let response = self.send(request).await?;
            let now = self.now();
            response
                .with_core(|r| flow.handle(now, r))
                .map_err(|e| classify(e, &response))?;
        }
    }
}

/// One span per flow run, named for the flow's type.
fn flow_span<F>() -> tracing::Span {
    tracing::info_span!("ssoflow.flow", flow = std::any::type_name::<F>())
}

/// What to do next, with the request already copied out of the poll buffer.
enum Next<T> {
    Send(OwnedRequest),
    Done(T),
}

/// Poll once, growing `buf` once when the flow says it is too small.
fn poll_owned<F: Flow>(
    flow: &mut F,
    now: Instant,
    buf: &mut Vec<u8>,
) -> Result<Next<F::Output>, Error> {
    let len = buf.len();
    let required = match flow.poll(now, buf) {
        Ok(step) => return owned(step),
        Err(ssoflow_core::Error::BufferTooSmall { required }) if required > len => required,
        Err(e) => return Err(e.into()),
    };
    buf.resize(required, 0);
    owned(flow.poll(now, buf)?)
}

fn owned<T>(step: Step<'_, T>) -> Result<Next<T>, Error> {
    Ok(match step {
        Step::Done(out) => Next::Done(out),
        Step::Send(request) => Next::Send(OwnedRequest::from_core(&request)?),
    })
}

/// A flow error, with the provider's `Retry-After` attached when it asked to be retried later.
fn classify(e: ssoflow_core::Error, response: &OwnedResponse) -> Error {
    match response.retry_after() {
        Some(after) if e.is_transient() => Error::RetryAfter { error: e, after },
        _ => Error::Core(e),
    }
}
