//! The driver: caller buffers, connection state, and the blocking loops.

use embedded_io::{Read, Write};
use ssoflow_core::session::{Access, Call, HasAccessToken, Session, Verdict};
use ssoflow_core::{Flow, Header, Instant, Request, Response, Step};

use crate::parser::{MAX_RESPONSE_HEADERS, Parsed, Progress, ResponseParser, headers_of};
use crate::{Error, RequestWriter};

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

/// The caller's monotonic clock. The driver reads it once per request.
///
/// Any `FnMut() -> Instant` closure is a clock.
pub trait Clock {
    /// Now, in milliseconds from any fixed origin.
    fn now(&mut self) -> Instant;
}

impl<F: FnMut() -> Instant> Clock for F {
    fn now(&mut self) -> Instant {
        self()
    }
}

/// How a sign-in flow is started for [`Driver::send_authorized`].
///
/// Implemented by every closure `FnMut(Option<&T>) -> Result<F, ssoflow_core::Error>` where `F`
/// is a flow producing `T` (the previous sign-in result is passed in, e.g. to reuse something).
/// Implement it on your own type when the flow must *borrow* the previous result, e.g. a
/// refresh flow that sends the previous refresh token.
pub trait SignIn<T> {
    /// The flow started.
    type Flow<'p>: Flow<Output = T>
    where
        Self: 'p,
        T: 'p;

    /// Start a sign-in; `previous` is the session's last result, if any.
    fn start<'p>(
        &'p mut self,
        previous: Option<&'p T>,
    ) -> Result<Self::Flow<'p>, ssoflow_core::Error>;
}

impl<T, F, G> SignIn<T> for G
where
    G: FnMut(Option<&T>) -> Result<F, ssoflow_core::Error>,
    F: Flow<Output = T>,
{
    type Flow<'p>
        = F
    where
        Self: 'p,
        T: 'p;

    fn start<'p>(&'p mut self, previous: Option<&'p T>) -> Result<F, ssoflow_core::Error> {
        self(previous)
    }
}

/// A response in the driver's buffer: status, headers and the complete (decoded) body.
#[derive(Debug)]
pub struct ResponseView<'a> {
    status: u16,
    headers: heapless::Vec<Header<'a>, MAX_RESPONSE_HEADERS>,
    body: &'a [u8],
}

impl<'a> ResponseView<'a> {
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
#[derive(Debug)]
pub struct Driver<'a> {
    buf: &'a mut [u8],
    /// Bytes after the last response, kept at the end of `buf`.
    tail: usize,
    /// How much of `buf` flows may write their request into (grows on `BufferTooSmall`).
    split: usize,
    reusable: bool,
    max_reads: usize,
}

/// `Some(required)` when a flow asked for more request room than it had but less than `avail`.
fn grow(e: &ssoflow_core::Error, split: usize, avail: usize) -> Option<usize> {
    match *e {
        ssoflow_core::Error::BufferTooSmall { required }
            if required > split && required < avail =>
        {
            Some(required)
        }
        _ => None,
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
        }
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

    /// A flow failed to write its request with the room of `limits`: `Ok` when it said
    /// `BufferTooSmall` and a retry can give it the room it needs, else the error.
    pub(crate) fn retry_larger(
        &mut self,
        e: ssoflow_core::Error,
        (split, avail): (usize, usize),
    ) -> Result<(), Error> {
        match grow(&e, split, avail) {
            Some(required) => {
                self.split = required;
                Ok(())
            }
            None => Err(Error::Core(e)),
        }
    }

    /// Start reading a response: the connection counts as unusable until it completes; bytes
    /// kept from the last response move to the front. Returns how many.
    pub(crate) fn begin_response(&mut self) -> usize {
        self.reusable = false;
        let len = self.buf.len();
        let kept = core::mem::take(&mut self.tail).min(len);
        self.buf.copy_within(len - kept.., 0);
        kept
    }

    pub(crate) fn parts(&mut self) -> (&mut [u8], usize) {
        (self.buf, self.max_reads)
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

    pub(crate) fn view(&self, parsed: &Parsed) -> Result<ResponseView<'_>, Error> {
        let head = self
            .buf
            .get(parsed.head())
            .ok_or(Error::Parse { what: "head" })?;
        let body = self
            .buf
            .get(parsed.body())
            .ok_or(Error::Parse { what: "body" })?;
        Ok(ResponseView {
            status: parsed.status(),
            headers: headers_of(head)?,
            body,
        })
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
        S: Read + Write,
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
        S: Read + Write,
        C: Clock + ?Sized,
        F: Flow,
    {
        loop {
            let now = clock.now();
            let limits = self.limits();
            let reusable = self.is_reusable();
            let failed = {
                let (work, staging) = self.work_regions();
                match flow.poll(now, work) {
                    Ok(Step::Done(out)) => return Ok(out),
                    Ok(Step::Send(_)) if !reusable => return Err(Error::NotReusable),
                    Ok(Step::Send(request)) => {
                        write_request(stream, &request, staging)?;
                        None
                    }
                    Err(e) => Some(e),
                }
            };
            if let Some(e) = failed {
                self.retry_larger(e, limits)?;
                continue;
            }
            let parsed = self.receive(stream)?;
            flow.handle(now, self.view(&parsed)?.response())?;
        }
    }

    /// Send one request (written wherever you like) and read its response.
    pub fn send<S: Read + Write>(
        &mut self,
        stream: &mut S,
        request: &Request<'_>,
    ) -> Result<ResponseView<'_>, Error> {
        write_request(stream, request, self.free()?)?;
        let parsed = self.receive(stream)?;
        self.view(&parsed)
    }

    /// Write a request into the driver's buffer with `build`, send it, read the response.
    /// `build` is called again with more room if it answers `BufferTooSmall`.
    pub fn send_with<S, B>(
        &mut self,
        stream: &mut S,
        mut build: B,
    ) -> Result<ResponseView<'_>, Error>
    where
        S: Read + Write,
        B: for<'b> FnMut(&'b mut [u8]) -> Result<Request<'b>, ssoflow_core::Error>,
    {
        loop {
            let limits = self.limits();
            let failed = {
                let (work, staging) = self.regions()?;
                match build(work) {
                    Ok(request) => {
                        write_request(stream, &request, staging)?;
                        None
                    }
                    Err(e) => Some(e),
                }
            };
            if let Some(e) = failed {
                self.retry_larger(e, limits)?;
                continue;
            }
            break;
        }
        let parsed = self.receive(stream)?;
        self.view(&parsed)
    }

    /// A protected call with the session's token: signs in first when there is no usable token,
    /// and after a 401 signs in again and retries once (the core's [`Session`] and [`Call`]
    /// decide; a second 401 is `Error::Core(Unauthorized)`).
    ///
    /// `sign_in` starts the sign-in flow (see [`SignIn`]); `build` writes the protected request
    /// with the token, e.g. `par_ordering::Config::protected_request`. Any status other than
    /// 401 is returned as it is.
    pub fn send_authorized<S, C, T, SI, B>(
        &mut self,
        stream: &mut S,
        clock: &mut C,
        session: &mut Session<T>,
        mut sign_in: SI,
        mut build: B,
    ) -> Result<ResponseView<'_>, Error>
    where
        S: Read + Write,
        C: Clock + ?Sized,
        T: HasAccessToken,
        SI: SignIn<T>,
        B: for<'b> FnMut(&T, &'b mut [u8]) -> Result<Request<'b>, ssoflow_core::Error>,
    {
        let mut call = Call::new();
        let mut fresh = false;
        loop {
            let now = clock.now();
            if !fresh {
                match session.access(now, None) {
                    Access::Ready { .. } => {}
                    Access::SignIn { previous } => {
                        let result = match sign_in.start(previous) {
                            Ok(mut flow) => self.run_mut(stream, clock, &mut flow),
                            Err(e) => Err(Error::Core(e)),
                        };
                        match result {
                            Ok(token) => {
                                session.signed_in(now, token);
                                // Use this token even if it is already due for renewal: it is
                                // the freshest there is (a ttl below the skew would loop).
                                fresh = true;
                                continue;
                            }
                            Err(e) => {
                                session.sign_in_abandoned();
                                return Err(e);
                            }
                        }
                    }
                    Access::Wait { .. } | Access::Failed(_) => {
                        return Err(Error::Core(ssoflow_core::Error::State));
                    }
                }
            }
            let generation = session.generation();
            let token = session
                .current()
                .ok_or(Error::Core(ssoflow_core::Error::State))?;
            let limits = self.limits();
            let failed = {
                let (work, staging) = self.regions()?;
                match build(token, work) {
                    Ok(request) => {
                        write_request(stream, &request, staging)?;
                        None
                    }
                    Err(e) => Some(e),
                }
            };
            if let Some(e) = failed {
                self.retry_larger(e, limits)?;
                fresh = true;
                continue;
            }
            fresh = false;
            let parsed = self.receive(stream)?;
            match call.on_status(session, generation, parsed.status())? {
                Verdict::Done => return self.view(&parsed),
                Verdict::Retry => {}
            }
        }
    }

    /// Read one response (blocking).
    fn receive<S: Read>(&mut self, stream: &mut S) -> Result<Parsed, Error> {
        let kept = self.begin_response();
        let (buf, max_reads) = self.parts();
        let mut parser = ResponseParser::new();
        let mut progress = parser.feed(buf, kept)?;
        let mut reads = 0;
        let parsed = loop {
            if let Progress::Complete(parsed) = progress {
                break parsed;
            }
            if reads >= max_reads {
                return Err(Error::TooManyReads);
            }
            reads += 1;
            let n = stream.read(parser.spare(buf)?).map_err(Error::io)?;
            progress = match n {
                0 => parser.close(buf)?,
                n => parser.feed(buf, n)?,
            };
        };
        self.finish(&parsed);
        Ok(parsed)
    }
}

/// Write `request` through `staging` (blocking).
fn write_request<S: Write>(
    stream: &mut S,
    request: &Request<'_>,
    staging: &mut [u8],
) -> Result<(), Error> {
    let mut writer = RequestWriter::new(request)?;
    if staging.is_empty() {
        return Err(Error::Core(ssoflow_core::Error::BufferTooSmall {
            required: writer.len(),
        }));
    }
    loop {
        let n = writer.fill(staging);
        let mut out = staging.get(..n).unwrap_or(&[]);
        if out.is_empty() {
            break;
        }
        while !out.is_empty() {
            match stream.write(out).map_err(Error::io)? {
                0 => return Err(Error::Closed),
                n => out = out.get(n..).unwrap_or(&[]),
            }
        }
    }
    stream.flush().map_err(Error::io)
}

/// One of two flows with the same output, e.g. for a [`SignIn`] that logs in when there is no
/// previous result and refreshes with the previous refresh token otherwise.
#[derive(Debug)]
pub enum Either<A, B> {
    /// The first flow.
    Left(A),
    /// The second flow.
    Right(B),
}

impl<A: Flow, B: Flow<Output = A::Output>> Flow for Either<A, B> {
    type Output = A::Output;

    fn poll<'b>(
        &mut self,
        now: Instant,
        buf: &'b mut [u8],
    ) -> Result<Step<'b, Self::Output>, ssoflow_core::Error> {
        match self {
            Either::Left(a) => a.poll(now, buf),
            Either::Right(b) => b.poll(now, buf),
        }
    }

    fn handle(&mut self, now: Instant, response: Response<'_>) -> Result<(), ssoflow_core::Error> {
        match self {
            Either::Left(a) => a.handle(now, response),
            Either::Right(b) => b.handle(now, response),
        }
    }
}
