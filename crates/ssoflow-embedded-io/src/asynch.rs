//! The async loops: the same writer, parser and connection state over `embedded_io_async`.
//!
//! Dropping one of these futures half-way (a timeout) leaves the connection marked unusable.

use embedded_io_async::{Read, Write};
use ssoflow_core::session::{Access, Call, HasAccessToken, Session, Verdict};
use ssoflow_core::{Flow, Request, Step};

use crate::parser::{Parsed, Progress, ResponseParser};
use crate::{Clock, Driver, Error, RequestWriter, ResponseView, SignIn};

impl Driver<'_> {
    /// [`run`](Driver::run) over an async stream.
    pub async fn run_async<S, C, F>(
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
                        write_request(stream, &request, staging).await?;
                        None
                    }
                    Err(e) => Some(e),
                }
            };
            if let Some(e) = failed {
                self.retry_larger(e, limits)?;
                continue;
            }
            let parsed = self.receive_async(stream).await?;
            flow.handle(now, self.view(&parsed)?.response())?;
        }
    }

    /// [`send`](Driver::send) over an async stream.
    pub async fn send_async<S: Read + Write>(
        &mut self,
        stream: &mut S,
        request: &Request<'_>,
    ) -> Result<ResponseView<'_>, Error> {
        write_request(stream, request, self.free()?).await?;
        let parsed = self.receive_async(stream).await?;
        self.view(&parsed)
    }

    /// [`send_with`](Driver::send_with) over an async stream.
    pub async fn send_with_async<S, B>(
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
                        write_request(stream, &request, staging).await?;
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
        let parsed = self.receive_async(stream).await?;
        self.view(&parsed)
    }

    /// [`send_authorized`](Driver::send_authorized) over an async stream.
    pub async fn send_authorized_async<S, C, T, SI, B>(
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
                            Ok(mut flow) => self.run_mut_async(stream, clock, &mut flow).await,
                            Err(e) => Err(Error::Core(e)),
                        };
                        match result {
                            Ok(token) => {
                                session.signed_in(now, token);
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
                        write_request(stream, &request, staging).await?;
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
            let parsed = self.receive_async(stream).await?;
            match call.on_status(session, generation, parsed.status())? {
                Verdict::Done => return self.view(&parsed),
                Verdict::Retry => {}
            }
        }
    }

    /// Read one response (async).
    async fn receive_async<S: Read>(&mut self, stream: &mut S) -> Result<Parsed, Error> {
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
            let n = stream.read(parser.spare(buf)?).await.map_err(Error::io)?;
            progress = match n {
                0 => parser.close(buf)?,
                n => parser.feed(buf, n)?,
            };
        };
        self.finish(&parsed);
        Ok(parsed)
    }
}

/// Write `request` through `staging` (async).
async fn write_request<S: Write>(
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
            match stream.write(out).await.map_err(Error::io)? {
                0 => return Err(Error::Closed),
                n => out = out.get(n..).unwrap_or(&[]),
            }
        }
    }
    stream.flush().await.map_err(Error::io)
}
