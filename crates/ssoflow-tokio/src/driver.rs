//! Running flows: the one drive loop every ssoflow driver shares, over an async [`Transport`].

use std::sync::Arc;

use ssoflow_core::{Flow, Instant, Paced, PacedFlow, Step};
use tracing::Instrument;

use crate::http::loggable_url;
use crate::net::RequestBuf;
use crate::transport::{Config, ReqwestTransport, Transport};
use crate::{Clock, Error, OwnedRequest, OwnedResponse};

/// Size of the buffer a flow writes its requests into (a 2 KiB JWT plus headers fits; a flow
/// that needs more says how much and the buffer grows once). Each thread keeps one, reused by
/// every flow run on it.
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
        // (A URL this thread has already checked and parsed is not checked again.)
        if !crate::transport::known_good(&request.url) {
            ssoflow_core::http::check_url(&request.url)?;
        }
        let method = request.method.clone();
        // What the debug event needs is only gathered when it is on (a clock read costs as
        // much as building the request's headers).
        let logged = tracing::enabled!(tracing::Level::DEBUG).then(|| {
            (
                loggable_url(&request.url).to_owned(),
                std::time::Instant::now(),
            )
        });
        let result = self.transport.send(request).await;
        if let Some((url, started)) = logged {
            let ms = started.elapsed().as_millis() as u64;
            match &result {
                Ok(r) => tracing::debug!(%method, url, status = r.status, ms, "exchange"),
                Err(e) => tracing::debug!(%method, url, error = %e, ms, "exchange failed"),
            }
        }
        result
    }

    /// Run `flow` to its output.
    ///
    /// The flow lives inline in the returned future (a few hundred bytes: a flow holds no
    /// output; an M2M token at most).
    #[allow(clippy::manual_async_fn)] // on purpose, see the comment inside
    pub fn run<F: Flow>(&self, mut flow: F) -> impl Future<Output = Result<F::Output, Error>> {
        // Borrowing the captured flow keeps one copy of it in the future (an `async fn` would
        // hold the argument and its local binding side by side: twice the size).
        async move { self.drive(&mut flow).await }
    }

    /// Run `flow` to its output, leaving the flow with you (e.g. to read
    /// `SignInFlow::m2m` afterwards).
    pub fn drive<'a, F: Flow>(
        &'a self,
        flow: &'a mut F,
    ) -> impl Future<Output = Result<F::Output, Error>> + 'a {
        self.drive_loop(flow).instrument(flow_span::<F>())
    }

    /// The one drive loop. It borrows the flow, so the future is small whatever the flow's
    /// size.
    pub(crate) async fn drive_loop<F: Flow>(&self, flow: &mut F) -> Result<F::Output, Error> {
        // Read once before the first request and once per answer (the answer's `now` is also
        // good for the poll that follows it).
        let mut now = self.now();
        loop {
            // The flow writes into this thread's scratch buffer, which goes back before the
            // `.await` below (the request is copied out first).
            let request = {
                let mut scratch = RequestBuf::new(REQUEST_BUFFER);
                let mut limit = usize::MAX; // grown once at most (`Error::room_needed`)
                loop {
                    let room = scratch.len();
                    let needed = match flow.poll(now, scratch.bytes()) {
                        Ok(Step::Send(request)) => break OwnedRequest::from_core(&request)?,
                        // Done before any answer: no output was read.
                        Ok(Step::Done) => return Err(ssoflow_core::Error::NO_OUTPUT.into()),
                        Err(e) => e.room_needed(room, limit)?,
                    };
                    scratch.grow(needed);
                    limit = 0;
                }
            };
            let response = self.send(request).await?;
            now = self.now();
            // The output's slot lives between this answer and the poll after it, never across
            // an `.await`: the future holds the flow, not a multi-KiB output.
            let mut out = None;
            response
                .with_core(|r| flow.handle(now, r, &mut out))
                .map_err(|e| classify(e, &response))?;
            if out.is_some() {
                // The answer that ends the flow (`Flow::handle`): it has nothing more to
                // write, so it is polled without taking (and wiping) the scratch buffer.
                return match flow.poll(now, &mut []) {
                    Ok(Step::Done) => Ok(ssoflow_core::take_output(&mut out)?),
                    Ok(Step::Send(_)) | Err(_) => Err(ssoflow_core::Error::State.into()),
                };
            }
        }
    }
}

impl Driver {
    /// Run a flow that waits between its requests (device-flow polling, a revocation
    /// retrying a 503) to its output, sleeping with `tokio::time::sleep` until each
    /// [`Paced::Wait`] ends (other tasks run meanwhile).
    pub async fn run_paced<F: PacedFlow>(&self, mut flow: F) -> Result<F::Output, Error> {
        self.paced_loop(&mut flow)
            .instrument(flow_span::<F>())
            .await
    }

    /// `drive_loop` with a wait arm; apart so that the hot loop every sign-in runs stays as
    /// it was measured (issue 20's overhead budget).
    async fn paced_loop<F: PacedFlow>(&self, flow: &mut F) -> Result<F::Output, Error> {
        let mut out = None;
        loop {
            let now = self.now();
            // As in `drive_loop`: the request is copied out of this thread's scratch buffer
            // before any `.await`.
            let request = {
                let mut scratch = RequestBuf::new(REQUEST_BUFFER);
                let mut limit = usize::MAX; // grown once at most (`Error::room_needed`)
                loop {
                    let room = scratch.len();
                    let needed = match flow.poll(now, scratch.bytes()) {
                        Ok(Paced::Send(request)) => break Ok(OwnedRequest::from_core(&request)?),
                        Ok(Paced::Wait { until }) => break Err(until),
                        Ok(Paced::Done) => return Ok(ssoflow_core::take_output(&mut out)?),
                        Err(e) => e.room_needed(room, limit)?,
                    };
                    scratch.grow(needed);
                    limit = 0;
                }
            };
            let request = match request {
                Ok(request) => request,
                Err(until) => {
                    let ms = until.millis_since(self.now());
                    tracing::debug!(ms, "waiting before the next request");
                    tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
                    continue;
                }
            };
            let response = self.send(request).await?;
            let now = self.now();
            response
                .with_core(|r| flow.handle(now, r, &mut out))
                .map_err(|e| classify(e, &response))?;
        }
    }
}

/// One span per flow run, named for the flow's type.
fn flow_span<F>() -> tracing::Span {
    tracing::info_span!("ssoflow.flow", flow = std::any::type_name::<F>())
}

/// A flow error, with the provider's `Retry-After` attached when it asked to be retried later.
fn classify(e: ssoflow_core::Error, response: &OwnedResponse) -> Error {
    match response.retry_after() {
        Some(after) if e.is_transient() => Error::RetryAfter { error: e, after },
        _ => Error::Core(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::BoxFuture;
    use ssoflow_core::{Error as CoreError, Response, oauth2};
    use std::sync::Mutex;

    /// Answers every request with a token and keeps the body lengths it saw.
    #[derive(Default)]
    struct Canned(Arc<Mutex<Vec<usize>>>);

    impl Transport for Canned {
        fn send(&self, request: OwnedRequest) -> BoxFuture<'_, Result<OwnedResponse, Error>> {
            self.0.lock().unwrap().push(request.body.len());
            Box::pin(async {
                let mut response =
                    OwnedResponse::new(200, br#"{"access_token":"fake-AT"}"#.to_vec());
                response.headers.insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static("application/json"),
                );
                Ok(response)
            })
        }
    }

    #[tokio::test]
    async fn a_request_bigger_than_the_buffer_grows_it_once() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let driver = Driver::with_transport(Canned(seen.clone()));
        let client = oauth2::Client::new("https://auth.example/token", "fake-client").unwrap();
        let subject = "s".repeat(2 * REQUEST_BUFFER);
        let flow = oauth2::token_exchange(&client, &subject, oauth2::ACCESS_TOKEN_TYPE, None, None)
            .unwrap();
        let tokens = driver.run(flow).await.unwrap();
        assert_eq!(tokens.access.value.expose(), "fake-AT");
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1);
        assert!(seen[0] > 2 * REQUEST_BUFFER, "whole body sent: {}", seen[0]);
    }

    #[tokio::test]
    async fn futures_hold_one_copy_of_the_flow_and_requests_box_under_1_kib() {
        let client = oauth2::Client::new("https://auth.example/token", "fake-client").unwrap();
        let flow = oauth2::client_credentials(&client, None).unwrap();
        let flow_size = std::mem::size_of_val(&flow);
        let driver = Driver::new().unwrap();
        let run = driver.run(flow);
        // One flow plus the drive loop's own state: not two flows (see `run`), and no output
        // slot (a 3.4 KiB `TokenSet`) held across an `.await`.
        assert!(
            std::mem::size_of_val(&run) < flow_size + 1024,
            "{} for a {flow_size}-byte flow",
            std::mem::size_of_val(&run)
        );
        // Each request's boxed future fits the allocator's per-thread cache (see `exchange`).
        let transport = ReqwestTransport::new(Config::default()).unwrap();
        let send = transport.send(OwnedRequest::new(
            http::Method::GET,
            "https://auth.example/",
        ));
        assert!(
            std::mem::size_of_val(&*send) <= 1024,
            "{}",
            std::mem::size_of_val(&*send)
        );
    }

    /// A flow that asks for more room every time it is polled.
    struct Greedy(usize);

    impl Flow for Greedy {
        type Output = ();
        fn poll<'b>(&mut self, _: Instant, buf: &'b mut [u8]) -> Result<Step<'b>, CoreError> {
            self.0 += 1;
            Err(CoreError::BufferTooSmall {
                required: buf.len() + 1,
            })
        }
        fn handle(
            &mut self,
            _: Instant,
            _: Response<'_>,
            _: &mut Option<()>,
        ) -> Result<(), CoreError> {
            Err(CoreError::State)
        }
    }

    #[tokio::test]
    async fn a_flow_asking_for_ever_more_room_ends_in_an_error() {
        let driver = Driver::with_transport(Canned::default());
        let mut flow = Greedy(0);
        let err = driver.drive(&mut flow).await.unwrap_err();
        assert!(
            matches!(err, Error::Core(CoreError::BufferTooSmall { .. })),
            "{err:?}"
        );
        assert_eq!(flow.0, 2, "grown once, then the error");
    }
}
