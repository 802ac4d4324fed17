//! The driver's loops, written once: run a flow, send a request, read a response, and a
//! protected call with sign-in, backoff and refresh-on-401.
//!
//! `loops!` holds the one source text; it is expanded twice, into [`blocking`] (over
//! `embedded_io`, waits with [`Clock::wait_until`](crate::Clock::wait_until)) and [`asynch`]
//! (over `embedded_io_async`, every stream call and wait followed by `.await`, waits with
//! [`Clock::wait_until_async`](crate::Clock::wait_until_async)). Nothing else differs.
//!
//! Why a macro rather than one `async fn` polled once with a no-op waker for the blocking API:
//! that compiles the blocking firmware build through the async state machines, which cost
//! about 7 KiB of flash at `opt-level = "z"` (measured on `checks/firmware`); the expansion
//! here is the plain blocking code, byte for byte what it was.
//!
//! The loops are `#[inline(never)]`: at `opt-level = "z"` LLVM otherwise inlines them into
//! every caller, which cost `checks/firmware` about 2.5 KB (and a Punchh-only image 12 KB).
//! [`Driver::run`](crate::Driver::run) hands `exchange` a `dyn Flow`, so there is one copy per
//! output type rather than one per flow.

/// What [`blocking::send_next`] (and its async twin) did.
pub(crate) enum Next {
    /// The flow is done: nothing was sent.
    Done,
    /// The request was written.
    Sent,
    /// The request needs this larger split of the buffer: nothing was sent.
    Larger(usize),
}

macro_rules! loops {
    ([$($kw:tt)?] $io:ident; $wait:ident; [$($aw:tt)*]) => {
        use $io::{Read, Write};
        use ssoflow_core::recipe::Recipe;
        use ssoflow_core::oauth2;
        use ssoflow_core::session::{
            Access, AfterFailure, Call, HasAccessToken, Session, SignOut, Ticket, Verdict,
        };
        use ssoflow_core::{Flow, Paced, PacedFlow, Request, Step};

        use crate::parser::{Parsed, Progress, ResponseParser};
        use crate::loops::Next;
        use crate::{Clock, Driver, Error, RequestWriter};

        /// Poll → send → read → handle until the flow is done, its output read into `out`.
        #[inline(never)]
        pub(crate) $($kw)? fn exchange<S, C, F>(
            driver: &mut Driver<'_>,
            stream: &mut S,
            clock: &mut C,
            flow: &mut F,
            out: &mut Option<F::Output>,
        ) -> Result<(), Error>
        where
            S: Read + Write + ?Sized,
            C: Clock + ?Sized,
            F: Flow + ?Sized,
        {
            loop {
                let now = clock.now();
                let mut next = Next::Sent;
                send_next(driver, stream, now, flow, &mut next) $($aw)* ?;
                match next {
                    Next::Done => return Ok(()),
                    Next::Larger(split) => {
                        driver.set_split(split);
                        continue;
                    }
                    Next::Sent => {}
                }
                let parsed = receive(driver, stream, clock) $($aw)* ?;
                let mut after = crate::driver::AfterAnswer::Read;
                if let Err(e) = crate::driver::answer(driver, &parsed, now, flow, out, &mut after) {
                    return Err(after.into_error(e));
                }
                if let crate::driver::AfterAnswer::Unreadable(stop) = after {
                    return Err(stop.into_error());
                }
            }
        }

        /// Poll `flow` and write the request it returns: [`exchange`]'s first half. What
        /// happened is left in `next` (`Sent` on entry).
        ///
        /// Out of line, so the slot `poll` returns into (the request, or a 0.2 KiB error) takes
        /// stack only while the request is written, not also under the response's reading and
        /// the flow's handling of it, as it would in the exchange loop's frame. The request is
        /// written from where `poll` returned it, and a failure is looked at there (a larger
        /// split, or the error returned from that slot): no copy of either. The writer's
        /// `Result` is returned as it was written (no copy of an error here either).
        #[inline(never)]
        $($kw)? fn send_next<S, F>(
            driver: &mut Driver<'_>,
            stream: &mut S,
            now: ssoflow_core::Instant,
            flow: &mut F,
            next: &mut Next,
        ) -> Result<(), Error>
        where
            S: Write + ?Sized,
            F: Flow + ?Sized,
        {
            let limits = driver.limits();
            let reusable = driver.is_reusable();
            let (work, staging) = driver.work_regions();
            match flow.poll(now, work) {
                Ok(Step::Done) => {
                    *next = Next::Done;
                    Ok(())
                }
                Ok(Step::Send(_)) if !reusable => Err(Error::NotReusable),
                Ok(Step::Send(ref request)) => write_request(stream, request, staging) $($aw)*,
                Err(e) => match crate::driver::larger_split(&e, limits) {
                    Some(split) => {
                        *next = Next::Larger(split);
                        Ok(())
                    }
                    None => Err(Error::from_core(e)),
                },
            }
        }

        /// Poll → (wait on the clock | send → read → handle) until the paced flow is done, its
        /// output read into `out`.
        ///
        /// `exchange`'s loop with one more arm. Kept apart rather than running every flow
        /// through it: the wait arm would be compiled into each flow's loop, flash the
        /// firmware budget has no room for, for flows that never wait.
        #[inline(never)]
        pub(crate) $($kw)? fn exchange_paced<S, C, F>(
            driver: &mut Driver<'_>,
            stream: &mut S,
            clock: &mut C,
            flow: &mut F,
            out: &mut Option<F::Output>,
        ) -> Result<(), Error>
        where
            S: Read + Write + ?Sized,
            C: Clock + ?Sized,
            F: PacedFlow,
        {
            loop {
                let now = clock.now();
                let limits = driver.limits();
                let reusable = driver.is_reusable();
                let next = {
                    let (work, staging) = driver.work_regions();
                    match flow.poll(now, work) {
                        Ok(Paced::Done) => return Ok(()),
                        Ok(Paced::Wait { until }) => Some(Ok(until)),
                        Ok(Paced::Send(_)) if !reusable => return Err(Error::NotReusable),
                        Ok(Paced::Send(ref request)) => {
                            write_request(stream, request, staging) $($aw)* ?;
                            None
                        }
                        Err(e) => match crate::driver::larger_split(&e, limits) {
                            Some(split) => Some(Err(split)),
                            None => return Err(Error::Core(e)),
                        },
                    }
                };
                match next {
                    Some(Ok(until)) => {
                        clock.$wait(until) $($aw)*;
                        continue;
                    }
                    Some(Err(split)) => {
                        driver.set_split(split);
                        continue;
                    }
                    None => {}
                }
                let parsed = receive(driver, stream, clock) $($aw)* ?;
                let mut view = crate::driver::ResponseView::empty();
                if let Err(stop) = driver.view_into(&parsed, &mut view) {
                    return Err(stop.into_error());
                }
                flow.handle(clock.now(), view.response(), out)?;
            }
        }

        /// Sign out: revoke what `session` holds (RFC 7009), then forget it, whatever the
        /// revocation's outcome.
        #[allow(clippy::too_many_arguments)]
        #[inline(never)]
        pub(crate) $($kw)? fn sign_out<S, C, T>(
            driver: &mut Driver<'_>,
            stream: &mut S,
            clock: &mut C,
            session: &mut Session<T, Error>,
            client: &oauth2::Client,
            revocation_url: &str,
            entropy: [u8; 16],
        ) -> Result<(), Error>
        where
            S: Read + Write + ?Sized,
            C: Clock + ?Sized,
            T: HasAccessToken,
        {
            let policy = *session.policy();
            let result = loop {
                match session.sign_out() {
                    SignOut::Revoke { token: Some(tokens) } => {
                        break match oauth2::revoke_tokens(client, revocation_url, tokens) {
                            Ok(flow) => {
                                let mut flow = flow.with_policy(policy).with_entropy(entropy);
                                exchange_paced(driver, stream, clock, &mut flow, &mut None) $($aw)*
                            }
                            Err(e) => Err(Error::Core(e)),
                        };
                    }
                    SignOut::Revoke { token: None } => break Ok(()),
                    // One thread, yet a sign-in "runs": a call cancelled during its sign-in (a
                    // dropped future). Free the slot; then sign out.
                    SignOut::Wait { .. } => session.sign_in_abandoned(),
                }
            };
            session.signed_out();
            result
        }

        /// Send a request written elsewhere; read its response.
        pub(crate) $($kw)? fn send_one<S: Read + Write + ?Sized, C: Clock + ?Sized>(
            driver: &mut Driver<'_>,
            stream: &mut S,
            clock: &mut C,
            request: &Request<'_>,
        ) -> Result<Parsed, Error> {
            write_request(stream, request, driver.free()?) $($aw)* ?;
            receive(driver, stream, clock) $($aw)*
        }

        /// Write a request with `build` (again with more room on `BufferTooSmall`), send it,
        /// read its response.
        pub(crate) $($kw)? fn build_and_send<S, C, B>(
            driver: &mut Driver<'_>,
            stream: &mut S,
            clock: &mut C,
            mut build: B,
        ) -> Result<Parsed, Error>
        where
            S: Read + Write + ?Sized,
            C: Clock + ?Sized,
            B: for<'b> FnMut(&'b mut [u8]) -> Result<Request<'b>, ssoflow_core::Error>,
        {
            loop {
                let limits = driver.limits();
                let larger = {
                    let (work, staging) = driver.regions()?;
                    match build(work) {
                        Ok(ref request) => {
                            write_request(stream, request, staging) $($aw)* ?;
                            None
                        }
                        Err(e) => match crate::driver::larger_split(&e, limits) {
                            Some(split) => Some(split),
                            None => return Err(Error::Core(e)),
                        },
                    }
                };
                match larger {
                    Some(split) => driver.set_split(split),
                    None => return receive(driver, stream, clock) $($aw)*,
                }
            }
        }

        /// A protected call: the session says what to do, this loop does it.
        #[allow(clippy::too_many_arguments)]
        #[inline(never)]
        pub(crate) $($kw)? fn authorized<S, C, R, N, B>(
            driver: &mut Driver<'_>,
            stream: &mut S,
            clock: &mut C,
            session: &mut Session<R::Output, Error>,
            recipe: &R,
            key: &R::Key,
            mut entropy: N,
            mut build: B,
        ) -> Result<Parsed, Error>
        where
            S: Read + Write + ?Sized,
            C: Clock + ?Sized,
            R: Recipe + ?Sized,
            N: FnMut() -> [u8; 16],
            B: for<'b> FnMut(&R::Output, &'b mut [u8]) -> Result<Request<'b>, ssoflow_core::Error>,
        {
            // Every path needs the connection: refuse before waiting out a backoff for nothing.
            if !driver.is_reusable() {
                return Err(Error::NotReusable);
            }
            let mut call = Call::new();
            let mut ticket = None;
            loop {
                match session.access(clock.now(), ticket.take()) {
                    Access::Ready { token, generation } => {
                        let limits = driver.limits();
                        let larger = {
                            let (work, staging) = driver.regions()?;
                            match build(token, work) {
                                Ok(ref request) => {
                                    write_request(stream, request, staging) $($aw)* ?;
                                    None
                                }
                                Err(e) => match crate::driver::larger_split(&e, limits) {
                                    Some(split) => Some(split),
                                    None => return Err(Error::Core(e)),
                                },
                            }
                        };
                        if let Some(split) = larger {
                            driver.set_split(split);
                            continue;
                        }
                        let parsed = receive(driver, stream, clock) $($aw)* ?;
                        match call.on_status(session, generation, parsed.status())? {
                            Verdict::Done => return Ok(parsed),
                            Verdict::Retry => {}
                        }
                    }
                    Access::SignIn { .. } => {
                        if !driver.is_reusable() {
                            // Not a failure of the sign-in: reconnect, then call again.
                            session.sign_in_abandoned();
                            return Err(Error::NotReusable);
                        }
                        ticket =
                            sign_in(driver, stream, clock, session, recipe, key, &mut entropy) $($aw)* ?;
                    }
                    Access::Wait {
                        ticket: t,
                        until: Some(at),
                    } => {
                        // One thread: a backoff before the next try.
                        ticket = Some(t);
                        clock.$wait(at) $($aw)*;
                    }
                    // One thread, yet a sign-in "runs": a call cancelled during its sign-in (a
                    // dropped future). Free the slot; this call signs in.
                    Access::Wait { until: None, .. } => session.sign_in_abandoned(),
                    Access::Failed(e) => return Err(e),
                }
            }
        }

        /// Run the sign-in the session asked for (its `previous` result is the session's
        /// current one) and record how it ended: [`outcome`]'s answer.
        ///
        /// Out of line, so the sign-in's flow and output slot (kilobytes for a PAR sign-in)
        /// take stack only while a sign-in runs, not under every protected call's request.
        #[inline(never)]
        $($kw)? fn sign_in<S, C, R, N>(
            driver: &mut Driver<'_>,
            stream: &mut S,
            clock: &mut C,
            session: &mut Session<R::Output, Error>,
            recipe: &R,
            key: &R::Key,
            entropy: &mut N,
        ) -> Result<Option<Ticket>, Error>
        where
            S: Read + Write + ?Sized,
            C: Clock + ?Sized,
            R: Recipe + ?Sized,
            N: FnMut() -> [u8; 16],
        {
            let mut out = None;
            // The flow is run where the recipe returned it (`ref mut`): moved out of the
            // `Result` it would be a second copy on this frame (2 KiB for a PAR sign-in).
            let result = match recipe.flow(key, session.current(), entropy()) {
                Ok(ref mut flow) => {
                    let result = exchange(driver, stream, clock, flow, &mut out) $($aw)*;
                    recipe.keep(flow);
                    result
                }
                Err(e) => Err(Error::Core(e)),
            };
            outcome(driver, clock, session, result, &mut out, entropy) $($aw)*
        }

        /// Record how the sign-in the session asked for ended (`result`, and the output in
        /// `out`). `Ok` with the ticket to ask again with (after a transient failure's backoff
        /// was waited out); `Err` ends the call.
        #[inline(never)]
        $($kw)? fn outcome<C, T, N>(
            driver: &Driver<'_>,
            clock: &mut C,
            session: &mut Session<T, Error>,
            result: Result<(), Error>,
            out: &mut Option<T>,
            entropy: &mut N,
        ) -> Result<Option<Ticket>, Error>
        where
            C: Clock + ?Sized,
            T: HasAccessToken,
            N: FnMut() -> [u8; 16],
        {
            // The output moves once, from the slot into the session (a move through a `Result`
            // or a by-value argument would be a copy of it on the stack, expanded into scalar
            // loads and stores at `opt-level = "z"`).
            let error = match result {
                Ok(()) => match session.signed_in_from(clock.now(), out) {
                    Some(_) => return Ok(None),
                    None => crate::driver::no_output(),
                },
                Err(Error::NotReusable) => {
                    session.sign_in_abandoned();
                    return Err(Error::NotReusable);
                }
                Err(e) => e,
            };
            let [a, b, c, d, ..] = entropy();
            let jitter = u32::from_le_bytes([a, b, c, d]);
            match session.sign_in_failed(clock.now(), error.clone(), jitter) {
                // The connection is gone: the caller reconnects; the session keeps the backoff
                // and the next call waits it out.
                AfterFailure::RetryAt(_) if !driver.is_reusable() => Err(error),
                AfterFailure::RetryAt(at) => {
                    clock.$wait(at) $($aw)*;
                    Ok(None)
                }
                // Ask again with this run's ticket: a still-valid token, or the failure.
                AfterFailure::Failed(_) => Ok(Some(session.ticket())),
            }
        }

        /// Read one response.
        #[inline(never)]
        $($kw)? fn receive<S: Read + ?Sized, C: Clock + ?Sized>(
            driver: &mut Driver<'_>,
            stream: &mut S,
            clock: &mut C,
        ) -> Result<Parsed, Error> {
            let kept = driver.begin_response();
            let (buf, max_reads, timeout_ms) = driver.parts();
            let deadline = timeout_ms.map(|ms| clock.now().plus_millis(ms));
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
                let n = stream.read(parser.spare(buf)?) $($aw)* .map_err(Error::io)?;
                if deadline.is_some_and(|d| clock.now() >= d) {
                    return Err(Error::TimedOut);
                }
                progress = match n {
                    0 => parser.close(buf)?,
                    n => parser.feed(buf, n)?,
                };
            };
            driver.finish(&parsed);
            Ok(parsed)
        }

        /// Write `request` through `staging`.
        #[inline(never)]
        $($kw)? fn write_request<S: Write + ?Sized>(
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
                    match stream.write(out) $($aw)* .map_err(Error::io)? {
                        0 => return Err(Error::Closed),
                        n => out = out.get(n..).unwrap_or(&[]),
                    }
                }
            }
            stream.flush() $($aw)* .map_err(Error::io)
        }
    };
}

/// The loops over `embedded_io` (blocking).
pub(crate) mod blocking {
    loops!([] embedded_io; wait_until; []);
}

/// The same loops over `embedded_io_async`.
pub(crate) mod asynch {
    loops!([async] embedded_io_async; wait_until_async; [.await]);
}
