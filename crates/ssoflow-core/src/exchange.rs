//! One request, one response: the shape of most flows, and the adapter that makes it a [`Flow`].

use crate::{Error, Flow, Instant, Response, Step};

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
    /// Read the answer into `out` (`None` on entry), the caller's slot: the answer is parsed
    /// where it will stay, never copied between parser, flow and caller (a
    /// [`TokenSet`](crate::TokenSet) is 3 KiB of fixed-capacity storage). On `Err`, leave
    /// `out` `None`.
    fn response_into(
        &mut self,
        now: Instant,
        response: Response<'_>,
        out: &mut Option<Self::Output>,
    ) -> Result<(), Error>;
}

/// Runs one [`Exchange`] as a [`Flow`]: `Send` once, then `Done`.
///
/// It holds the exchange and where it is, never the output: the answer is read into the
/// caller's slot (a flow moved into a driver moves a few hundred bytes, not a 3 KiB
/// [`TokenSet`](crate::TokenSet)).
#[derive(Debug)]
pub struct OneShot<E: Exchange> {
    exchange: E,
    state: State,
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
        }
    }
}

/// The output a flow left in `slot` when it said [`Step::Done`](crate::Step::Done); a flow
/// that said `Done` with an empty slot (a bug in the flow) is [`Error::Internal`].
///
/// Not inlined on purpose: inlined into a driver's loop, LLVM at `opt-level = "z"` turns this
/// move of a few KiB into thousands of scalar loads and stores (the output's fixed-capacity
/// strings are arrays it splits up); behind a call it stays one `memcpy`.
#[inline(never)]
pub fn take_output<T>(slot: &mut Option<T>) -> Result<T, Error> {
    slot.take().ok_or(Error::NO_OUTPUT)
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
    // Matched, each arm returning what it was given: kept in a local and looked at, the
    // reading's `Result` took 0.2 KiB slots in the frame this is inlined into.
    match slot {
        Some(value) => match read(value) {
            Ok(()) => Ok(()),
            Err(e) => {
                *slot = None;
                Err(e)
            }
        },
        None => Err(Error::NO_OUTPUT),
    }
}

impl<E: Exchange> Flow for OneShot<E> {
    type Output = E::Output;

    #[inline(never)]
    fn poll<'b>(&mut self, now: Instant, buf: &'b mut [u8]) -> Result<Step<'b>, Error> {
        match self.state {
            // Matched rather than `?`: the `?` operator's residual is one more temporary of
            // the request's size on this frame, under the whole request writing.
            State::Ready => match self.exchange.request(now, buf) {
                Ok(request) => {
                    self.state = State::Sent;
                    Ok(Step::Send(request))
                }
                // A buffer too small leaves the flow ready to try again with a bigger one.
                Err(e) => Err(e),
            },
            State::Got => {
                self.state = State::Finished;
                Ok(Step::Done)
            }
            State::Sent | State::Finished => Err(Error::State),
        }
    }

    #[inline(never)]
    fn handle(
        &mut self,
        now: Instant,
        response: Response<'_>,
        out: &mut Option<E::Output>,
    ) -> Result<(), Error> {
        if self.state != State::Sent {
            return Err(Error::State);
        }
        self.state = State::Finished;
        // Matched, each arm returning what it was given: kept in a local and looked at, the
        // reading's `Result` took two 0.2 KiB slots on this frame, on every answer's path.
        match self.exchange.response_into(now, response, out) {
            Ok(()) => {
                if out.is_some() {
                    self.state = State::Got;
                }
                Ok(())
            }
            Err(e) => {
                *out = None;
                Err(e)
            }
        }
    }
}
