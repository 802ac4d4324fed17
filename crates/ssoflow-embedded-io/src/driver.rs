//! The driver: caller buffers, connection state, and the blocking API (its loops are in
//! `loops`, shared with the async API).

use embedded_io::{Read, Write};
use ssoflow_core::recipe::Recipe;
use ssoflow_core::session::Session;
use ssoflow_core::{Flow, Header, Instant, PacedFlow, Request, Response};

use crate::Error;
use crate::loops::blocking;
use crate::parser::{MAX_RESPONSE_HEADERS, Parsed};

/// Default size of the driver's buffer. Requests and responses take turns in it: the largest
/// request (a PAR sign-in carrying a 2 KiB M2M JWT and a 2 KiB subject token) and the largest
/// real response (the PAR sign-in answer with a DLC token: about 1.5 KiB of body plus the head)
/// both fit, with room to stage the request's bytes.
pub const DEFAULT_BUF: usize = 5120;
/// Smallest useful buffer: a typical vendor head plus a token answer.
pub const MIN_BUF: usize = 1536;
/// Bytes kept free after a flow's request to stage its wire bytes (the request is written to
/// the stream in pieces of this size at least; a flow that needs more room gets it, down to 1).
pub const STAGING: usize = 512;
/// Default bound on `read` calls for one response.
pub const DEFAULT_MAX_READS: usize = 4096;

/// The caller's monotonic clock, and how to wait on it.
///
/// The driver reads it once per request, and waits on it only in
/// [`Driver::send_authorized`] (and its async twin) to back off before retrying a sign-in
/// that failed transiently, and in [`Driver::run_paced`] / [`Driver::sign_out`] between a
/// paced flow's requests (device-flow polling, a revocation retrying a 503). Any
/// `FnMut() -> Instant` closure is a clock, with the default waits.
// Single-threaded firmware executors need no `Send` bound on the async wait.
#[allow(async_fn_in_trait)]
pub trait Clock {
    /// Now, in milliseconds from any fixed origin.
    fn now(&mut self) -> Instant;

    /// Block until `now()` reaches `until` (blocking API). The default spins on
    /// [`now`](Self::now); override it to sleep (a delay, `WFI` until a timer interrupt).
    fn wait_until(&mut self, until: Instant) {
        while self.now() < until {
            core::hint::spin_loop();
        }
    }

    /// Wait until `now()` reaches `until` (async API). The default hands the executor a turn
    /// between looks at [`now`](Self::now) (other tasks run; the executor stays busy);
    /// override it with your timer, e.g. `embassy_time::Timer::at(…).await`.
    async fn wait_until_async(&mut self, until: Instant) {
        while self.now() < until {
            YieldNow(false).await;
        }
    }
}

impl<F: FnMut() -> Instant> Clock for F {
    fn now(&mut self) -> Instant {
        self()
    }
}

/// A run's result with its output taken out of its slot: one copy of this per output type,
/// not inlined into each caller (where LLVM at `opt-level = "z"` expands the output's move
/// into scalar loads and stores, kilobytes of flash per call site).
#[inline(never)]
pub(crate) fn finish<T>(result: Result<(), Error>, out: &mut Option<T>) -> Result<T, Error> {
    result?;
    match out.take() {
        Some(output) => Ok(output),
        None => Err(no_output()),
    }
}

/// A flow said `Done` with an empty output slot: a bug in the flow.
pub(crate) fn no_output() -> Error {
    Error::Core(ssoflow_core::Error::NO_OUTPUT)
}

/// The clock of the calls that take none ([`Driver::send`], [`Driver::send_with`]): they
/// never wait, and their responses never time out.
pub(crate) struct NoClock;

impl Clock for NoClock {
    fn now(&mut self) -> Instant {
        Instant::from_millis(0)
    }
}

/// Give the executor a turn once (the default async wait looks at the clock between turns).
struct YieldNow(bool);

impl core::future::Future for YieldNow {
    type Output = ();

    fn poll(
        mut self: core::pin::Pin<&mut Self>,
        cx: &mut core::task::Context<'_>,
    ) -> core::task::Poll<()> {
        if self.0 {
            core::task::Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            core::task::Poll::Pending
        }
    }
}

/// A response in the driver's buffer: status, headers and the complete (decoded) body.
///
/// `Debug` prints the headers with credentials redacted and a redacted excerpt of the body.
pub struct ResponseView<'a> {
    status: u16,
    headers: heapless::Vec<Header<'a>, MAX_RESPONSE_HEADERS>,
    body: &'a [u8],
}

impl core::fmt::Debug for ResponseView<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(&self.response(), f)
    }
}

/// The split a flow's request needs after it failed with `e` given the room of `limits`
/// ([`Driver::limits`]): `Some` when `e` is `BufferTooSmall` and a retry can give it that
/// room (less than all of the room: writing the request needs a byte of staging after it),
/// `None` when `e` stands. The loops look at the error where the flow returned it and return
/// it from there: no copy of a 0.2 KiB error on a frame that stays under the whole exchange.
pub(crate) fn larger_split(
    e: &ssoflow_core::Error,
    (split, avail): (usize, usize),
) -> Option<usize> {
    match *e {
        ssoflow_core::Error::BufferTooSmall { required } => {
            ssoflow_core::Error::BufferTooSmall { required }
                .room_needed(split, avail.saturating_sub(1))
                .ok()
        }
        _ => None,
    }
}

/// What [`answer`] leaves beside its `Result`.
pub(crate) enum AfterAnswer {
    /// The answer was read into a view (the flow's `Result` says how its reading went), with
    /// no `Retry-After`.
    Read,
    /// The answer's `Retry-After`, in seconds (kept for the flow's error).
    RetryAfter(u64),
    /// The head could not be read into a view: the flow was not called.
    Unreadable(crate::head::Stop),
}

impl AfterAnswer {
    /// The driver's error for the flow's reading error `error`: with the answer's
    /// `Retry-After` when it is transient and the answer said how long to wait.
    pub(crate) fn into_error(self, error: ssoflow_core::Error) -> Error {
        match self {
            AfterAnswer::RetryAfter(secs) if error.is_transient() => {
                Error::RetryAfter { error, secs }
            }
            _ => Error::Core(error),
        }
    }
}

/// The answer `parsed` read into a view and handed to `flow`, its output read into `out`: the
/// exchange loop's last step (nothing in it waits: one copy for both loops). The flow's own
/// `Result` is returned as it was written (no copy of a 0.2 KiB error here); `after` says
/// what the caller needs besides: the answer's `Retry-After` for an error, or that the view
/// could not be made (then `Ok` is returned and the flow was not called).
///
/// Out of line: the view (its header table, 0.5 KiB on a 32-bit target) then takes stack only
/// while the flow reads the answer, not also under the request's writing (a signed request's
/// HMAC) and the response's reading, as it would in the exchange loop's frame.
#[inline(never)]
pub(crate) fn answer<F: Flow + ?Sized>(
    driver: &Driver<'_>,
    parsed: &Parsed,
    now: Instant,
    flow: &mut F,
    out: &mut Option<F::Output>,
    after: &mut AfterAnswer,
) -> Result<(), ssoflow_core::Error> {
    let mut view = ResponseView::empty();
    if let Err(stop) = driver.view_into(parsed, &mut view) {
        *after = AfterAnswer::Unreadable(stop);
        return Ok(());
    }
    let response = view.response();
    if let Some(secs) = response.retry_after_secs() {
        *after = AfterAnswer::RetryAfter(secs);
    }
    flow.handle(now, response, out)
}

impl<'a> ResponseView<'a> {
    /// No response yet: the view the driver reads one into. (A function, not a `const`: a
    /// constant would be copied whole from flash, header table included; made here only its
    /// few fields are written.)
    pub(crate) fn empty() -> Self {
        ResponseView {
            status: 0,
            headers: heapless::Vec::new(),
            body: &[],
        }
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Every header, in order.
    pub fn headers(&self) -> &[Header<'a>] {
        &self.headers
    }

    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    }

    /// The body.
    pub fn body(&self) -> &'a [u8] {
        self.body
    }

    /// As the core's [`Response`], to hand to a flow.
    pub fn response(&self) -> Response<'_> {
        Response::new(self.status, self.body).with_headers(&self.headers)
    }
}

/// HTTP/1.1 over one connection, in one caller buffer. See the [crate docs](crate).
///
/// The buffer holds, in turn, the flow's request (written by `poll`, followed by at least
/// [`STAGING`] bytes where the request's wire bytes are staged) and the response (head, then
/// the decoded body). Bytes that arrived after a response (the start of the next one) are kept
/// at the end of the buffer until the next exchange.
///
/// The driver assumes the stream it is first given is freshly connected to the authority of
/// the requests it will carry. After a response that closes the connection (or any error but
/// [`Error::Core`]) [`is_reusable`](Self::is_reusable) is `false`: connect again, then
/// [`reset`](Self::reset).
///
/// `Debug` prints the driver's bookkeeping, never its buffer (which holds requests with
/// credentials and answers with tokens).
pub struct Driver<'a> {
    buf: &'a mut [u8],
    /// Bytes after the last response, kept at the end of `buf`.
    tail: usize,
    /// How much of `buf` flows may write their request into (grows on `BufferTooSmall`).
    split: usize,
    reusable: bool,
    max_reads: usize,
    /// The longest a response may take, by the caller's clock.
    timeout_ms: Option<u64>,
}

impl core::fmt::Debug for Driver<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Driver")
            .field("buf_len", &self.buf.len())
            .field("tail", &self.tail)
            .field("split", &self.split)
            .field("reusable", &self.reusable)
            .field("max_reads", &self.max_reads)
            .field("timeout_ms", &self.timeout_ms)
            .finish()
    }
}

impl<'a> Driver<'a> {
    /// A driver working in `buf` ([`DEFAULT_BUF`] fits every flow), for a freshly connected
    /// stream. A flow's request that does not fit is `Error::Core(BufferTooSmall { required })`;
    /// a response head or body that does not fit is [`Error::HeadTooLarge`] /
    /// [`Error::BodyTooLarge`] — never truncated.
    pub fn new(buf: &'a mut [u8]) -> Self {
        let split = buf.len().saturating_sub(STAGING);
        Driver {
            buf,
            tail: 0,
            split,
            reusable: true,
            max_reads: DEFAULT_MAX_READS,
            timeout_ms: None,
        }
    }

    /// Give up on a response `ms` after its request was sent, by the [`Clock`]
    /// ([`Error::TimedOut`]): a deadline for the whole response, however many reads it takes
    /// (checked after each read, so a read blocked in the stream overruns it by at most the
    /// stream's own read timeout). Default: none ([`send`](Self::send) and
    /// [`send_with`](Self::send_with), which take no clock, never time out).
    pub fn with_timeout_ms(mut self, ms: u64) -> Self {
        self.timeout_ms = Some(ms);
        self
    }

    /// Give up on a response after `max_reads` reads ([`Error::TooManyReads`]); default
    /// [`DEFAULT_MAX_READS`]. Per-read timeouts are the stream's job.
    pub fn with_max_reads(mut self, max_reads: usize) -> Self {
        self.max_reads = max_reads;
        self
    }

    /// Whether the connection can carry another request.
    pub fn is_reusable(&self) -> bool {
        self.reusable
    }

    /// Forget the old connection: use this when you hand the driver a new stream.
    pub fn reset(&mut self) {
        self.reusable = true;
        self.tail = 0;
    }

    /// Where a flow writes its request and where its bytes are staged, after a check that the
    /// connection is usable.
    pub(crate) fn regions(&mut self) -> Result<(&mut [u8], &mut [u8]), Error> {
        if !self.reusable {
            return Err(Error::NotReusable);
        }
        Ok(self.work_regions())
    }

    /// [`regions`](Self::regions) without the check: a flow may still finish (`Done`) on a
    /// connection the last answer closed; only a request to send needs the connection.
    pub(crate) fn work_regions(&mut self) -> (&mut [u8], &mut [u8]) {
        let avail = self.buf.len().saturating_sub(self.tail);
        let split = self.split.min(avail);
        let work = self.buf.get_mut(..avail).unwrap_or(&mut []);
        work.split_at_mut(split)
    }

    /// All of the buffer that is free (for a request written elsewhere).
    pub(crate) fn free(&mut self) -> Result<&mut [u8], Error> {
        if !self.reusable {
            return Err(Error::NotReusable);
        }
        let avail = self.buf.len().saturating_sub(self.tail);
        Ok(self.buf.get_mut(..avail).unwrap_or(&mut []))
    }

    /// The request room flows get now and the most they could get: `(split, avail)`.
    pub(crate) fn limits(&self) -> (usize, usize) {
        let avail = self.buf.len().saturating_sub(self.tail);
        (self.split.min(avail), avail)
    }

    /// Give the next request the room [`larger_split`] found.
    pub(crate) fn set_split(&mut self, split: usize) {
        self.split = split;
    }

    /// Start reading a response: the connection counts as unusable until it completes; bytes
    /// kept from the last response move to the front. Returns how many.
    pub(crate) fn begin_response(&mut self) -> usize {
        self.reusable = false;
        let len = self.buf.len();
        let kept = core::mem::take(&mut self.tail).min(len);
        crate::parser::copy_down(self.buf, len - kept..len, 0);
        kept
    }

    pub(crate) fn parts(&mut self) -> (&mut [u8], usize, Option<u64>) {
        (self.buf, self.max_reads, self.timeout_ms)
    }

    /// A response is complete: remember whether the connection stays, and keep what followed
    /// the response at the end of the buffer (after the body, so the body stays readable).
    ///
    /// The driver never pipelines, so bytes that arrive after a complete response were never
    /// asked for: taking them as the next answer would desynchronise the connection (a server
    /// could slip in a forged token). Such a connection is not reused.
    pub(crate) fn finish(&mut self, parsed: &Parsed) {
        self.reusable = parsed.keep_alive() && parsed.leftover().is_empty();
        self.tail = 0;
    }

    /// The response `parsed` describes, as a view into the buffer. Out of line: inlined into
    /// a caller's frame, its working copy of the view (0.5 KiB) stays there beside the one
    /// returned.
    #[inline(never)]
    pub(crate) fn view(&self, parsed: &Parsed) -> Result<ResponseView<'_>, Error> {
        let mut view = ResponseView::empty();
        self.view_into(parsed, &mut view)
            .map_err(crate::head::Stop::into_error)?;
        Ok(view)
    }

    /// [`view`](Self::view) read into `view` (empty on entry), where the caller keeps it: the
    /// driver's loops look at the view in place rather than move it out of a `Result` (two
    /// copies of its header table on the stack). Fails with the head parser's small
    /// [`Stop`](crate::head::Stop) (`Stop::into_error` gives the driver's error), so a caller
    /// keeps no 0.2 KiB error slot for it under the whole exchange.
    pub(crate) fn view_into<'s>(
        &'s self,
        parsed: &Parsed,
        view: &mut ResponseView<'s>,
    ) -> Result<(), crate::head::Stop> {
        use crate::head::Stop;
        let head = self.buf.get(parsed.head()).ok_or(Stop::Bad("head"))?;
        view.body = self.buf.get(parsed.body()).ok_or(Stop::Bad("body"))?;
        view.status = parsed.status();
        // The headers are read straight into the view (no vector of them moved around).
        // A complete head read again: `Partial` would be a bug, reported as a bad head.
        crate::head::parse(head, &mut view.headers)?;
        Ok(())
    }

    /// Run `flow` to completion over `stream`: the one driver loop.
    ///
    /// Every request of the flow goes over `stream`; `clock` is read before each request and
    /// that instant is also given to `handle` (expiries are computed from when the request left,
    /// the conservative choice).
    pub fn run<S, C, F>(
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
        self.run_mut(stream, clock, &mut flow)
    }

    /// [`run`](Self::run) with the flow borrowed, to inspect it afterwards (e.g. the M2M token
    /// a PAR sign-in used).
    pub fn run_mut<S, C, F>(
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
        let result = self.run_into(stream, clock, flow, &mut out);
        finish(result, &mut out)
    }

    /// [`run_mut`](Self::run_mut) reading the output into `out`, a slot you own (`None` on
    /// entry; `Some` on `Ok` for every core flow, `None` on `Err`): the answer is parsed where
    /// it stays, with no copy of a multi-KiB output through return values, and the least stack.
    /// (`run_mut` also turns a flow that said `Done` with an empty slot, a bug in that flow,
    /// into an error.)
    ///
    /// ```
    /// # use ssoflow_embedded_io::{Driver, Error};
    /// # use ssoflow_core::{oauth2, Instant};
    /// # fn demo(stream: &mut (impl embedded_io::Read + embedded_io::Write)) -> Result<(), Error> {
    /// let client = oauth2::Client::new("https://auth.example/token", "pos-17")?
    ///     .with_secret("fake-secret")?;
    /// let mut buf = [0u8; ssoflow_embedded_io::DEFAULT_BUF];
    /// let mut tokens = None; // stays where you put it: a static, a struct field, the stack
    /// let mut flow = oauth2::client_credentials(&client, None)?;
    /// let mut clock = || Instant::from_millis(0); // your monotonic clock
    /// Driver::new(&mut buf).run_into(stream, &mut clock, &mut flow, &mut tokens)?;
    /// assert!(tokens.is_some());
    /// # Ok(()) }
    /// ```
    pub fn run_into<S, C, F>(
        &mut self,
        stream: &mut S,
        clock: &mut C,
        flow: &mut F,
        out: &mut Option<F::Output>,
    ) -> Result<(), Error>
    where
        S: Read + Write + ?Sized,
        C: Clock + ?Sized,
        F: Flow,
    {
        // The loop runs the flow as a `dyn Flow`: one copy of it per output type, not per flow
        // (every flow that makes a `TokenSet` shares one; 0.8 KB of the firmware check). The
        // flow stays where it is: only its `poll` and `handle` are called through the vtable.
        // The async twin keeps the flow's own type, so its future stays `Send` when the flow is.
        blocking::exchange(
            self,
            stream,
            clock,
            flow as &mut dyn Flow<Output = F::Output>,
            out,
        )
    }

    /// Run a flow that waits between its requests (device-flow polling, a revocation retrying
    /// a 503) over `stream`, waiting with [`Clock::wait_until`] (override it with your delay
    /// or timer: the default spins).
    pub fn run_paced<S, C, F>(
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
        let result = blocking::exchange_paced(self, stream, clock, &mut flow, &mut out);
        finish(result, &mut out)
    }

    /// Sign out of `session`: revoke its tokens at `client`'s RFC 7009 revocation endpoint
    /// `revocation_url` (the refresh token first, then the access token; a 503 retried after
    /// the session policy's backoff, waiting on `clock`), then forget them — also when the
    /// revocation fails (its error is returned). `entropy`: 16 random bytes for the jitter.
    #[allow(clippy::too_many_arguments)]
    pub fn sign_out<S, C, T>(
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
        blocking::sign_out(
            self,
            stream,
            clock,
            session,
            client,
            revocation_url,
            entropy,
        )
    }

    /// Send one request (written wherever you like) and read its response.
    pub fn send<S: Read + Write + ?Sized>(
        &mut self,
        stream: &mut S,
        request: &Request<'_>,
    ) -> Result<ResponseView<'_>, Error> {
        let parsed = blocking::send_one(self, stream, &mut NoClock, request)?;
        self.view(&parsed)
    }

    /// Write a request into the driver's buffer with `build`, send it, read the response.
    /// `build` is called again with more room if it answers `BufferTooSmall`.
    pub fn send_with<S, B>(&mut self, stream: &mut S, build: B) -> Result<ResponseView<'_>, Error>
    where
        S: Read + Write + ?Sized,
        B: for<'b> FnMut(&'b mut [u8]) -> Result<Request<'b>, ssoflow_core::Error>,
    {
        let parsed = blocking::build_and_send(self, stream, &mut NoClock, build)?;
        self.view(&parsed)
    }

    /// A protected call with the session's token, signing in with `recipe` (for `key`) when
    /// there is no usable token. The core's [`Session`] decides everything:
    ///
    /// - no token, or one due for renewal: run `recipe`'s flow (with 16 bytes from `entropy`,
    ///   e.g. your hardware RNG), store its output, then make the call;
    /// - a transient sign-in failure (5xx, 429, a transport error): wait with
    ///   [`Clock::wait_until`] until the policy's backoff ends, then try again, up to the
    ///   policy's retries; a final failure is returned, and handed out again (without a try)
    ///   until the policy's cooldown ends. A transport failure leaves the connection unusable:
    ///   it is returned at once, and the next call (after you reconnect and
    ///   [`reset`](Self::reset)) waits out the backoff, then retries;
    /// - a 401: the token is dropped, one re-sign-in, one retry; a second 401 is
    ///   `Error::Core(Unauthorized)`.
    ///
    /// `build` writes the protected request with the token, e.g.
    /// `par_ordering::ParConfig::protected_request`. Any status other than 401 is returned as it
    /// is.
    #[allow(clippy::too_many_arguments)]
    pub fn send_authorized<S, C, R, N, B>(
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
            blocking::authorized(self, stream, clock, session, recipe, key, entropy, build)?;
        self.view(&parsed)
    }
}
