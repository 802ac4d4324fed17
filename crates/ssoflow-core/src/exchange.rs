//! One request, one response: the shape of most flows, and the adapter that makes it a [`Flow`].

use crate::{Error, Flow, Instant, Request, Response, Step};

/// A single HTTP exchange: how to write the request and how to read its answer.
///
/// Most flows are exactly this; [`OneShot`] runs one as a [`Flow`]. Multi-step flows
/// (PAR sign-in with its M2M token, sessions) are built from several.
pub trait Exchange {
    /// What the answer is read into.
    type Output;
    /// Write the request into `buf`.
    fn request<'b>(&mut self, now: Instant, buf: &'b mut [u8])
    -> Result<crate::Request<'b>, Error>;
    /// Read the answer into `out` (`None` on entry), where [`OneShot`] keeps it until it is
    /// handed over: the answer is parsed where it will stay, never copied between parser, flow
    /// and caller (a [`TokenSet`](crate::TokenSet) is 3 KiB of fixed-capacity storage). On
    /// `Err`, leave `out` `None`.
    fn response_into(
        &mut self,
        now: Instant,
        response: Response<'_>,
        out: &mut Option<Self::Output>,
    ) -> Result<(), Error>;
}

/// Runs one [`Exchange`] as a [`Flow`]: `Send` once, then `Done`.
#[derive(Debug)]
pub struct OneShot<E: Exchange> {
    exchange: E,
    state: State,
    /// The answer, read in place by [`Exchange::response_into`]; `Some` only in `State::Got`.
    output: Option<E::Output>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Ready,
    Sent,
    Got,
    Finished,
}

impl<E: Exchange> OneShot<E> {
    /// Wrap an exchange.
    pub fn new(exchange: E) -> Self {
        OneShot {
            exchange,
            state: State::Ready,
            output: None,
        }
    }
}

/// Hand a flow's output over: one `memcpy` into the caller's slot.
///
/// Not inlined on purpose: inlined into a driver's loop, LLVM at `opt-level = "z"` turns this
/// move of a few KiB into thousands of scalar loads and stores (the output's fixed-capacity
/// strings are arrays it splits up); behind a call it stays one `memcpy`.
#[inline(never)]
pub(crate) fn take_output<'b, T>(slot: &mut Option<T>) -> Result<Step<'b, T>, Error> {
    match slot.take() {
        Some(out) => Ok(Step::Done(out)),
        None => Err(NO_OUTPUT),
    }
}

/// Read into a fresh `empty` value in `slot`, where it will stay (no copy afterwards); on error
/// `slot` is left `None`, so a half-read answer is never handed out. Always inlined, so `empty`
/// is built where it stays (a `TokenSet` is 3 KiB: no copy through a call).
#[inline(always)]
pub(crate) fn read_in_place<T>(
    slot: &mut Option<T>,
    empty: T,
    read: impl FnOnce(&mut T) -> Result<(), Error>,
) -> Result<(), Error> {
    // Assigned and matched here rather than with `Option::insert`: a call to `insert` takes
    // the value by pointer, so it would be built on the stack and copied (3 KiB for a
    // `TokenSet`); assigned in place only its few initialised fields are written.
    *slot = Some(empty);
    let read = match slot {
        Some(value) => read(value),
        None => Err(NO_OUTPUT),
    };
    if read.is_err() {
        *slot = None;
    }
    read
}

/// A read that succeeded without leaving its output: a bug in the exchange.
pub(crate) const NO_OUTPUT: Error = Error::Internal {
    what: "an answer was read but no output was kept",
};

/// `Step::Send` around a written request; not inlined for the same reason as [`take_output`].
#[inline(never)]
pub(crate) fn send_step<'b, T>(request: Result<Request<'b>, Error>) -> Result<Step<'b, T>, Error> {
    request.map(Step::Send)
}

impl<E: Exchange> Flow for OneShot<E> {
    type Output = E::Output;

    #[inline(never)]
    fn poll<'b>(&mut self, now: Instant, buf: &'b mut [u8]) -> Result<Step<'b, E::Output>, Error> {
        match self.state {
            State::Ready => {
                let request = self.exchange.request(now, buf);
                // A buffer too small leaves the flow ready to try again with a bigger one.
                if request.is_ok() {
                    self.state = State::Sent;
                }
                send_step(request)
            }
            State::Got => {
                self.state = State::Finished;
                // The one move of the output: from where it was parsed to the caller.
                take_output(&mut self.output)
            }
            State::Sent | State::Finished => Err(Error::State),
        }
    }

    #[inline(never)]
    fn handle(&mut self, now: Instant, response: Response<'_>) -> Result<(), Error> {
        if self.state != State::Sent {
            return Err(Error::State);
        }
        self.state = State::Finished;
        // `output` is `None` here: it is `Some` only in `Got`, which `poll` leaves by taking it.
        let read = self.exchange.response_into(now, response, &mut self.output);
        if read.is_ok() && self.output.is_some() {
            self.state = State::Got;
        } else {
            self.output = None;
        }
        read
    }
}
