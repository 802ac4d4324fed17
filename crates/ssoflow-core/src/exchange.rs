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
    /// Read the answer.
    fn response(&mut self, now: Instant, response: Response<'_>) -> Result<Self::Output, Error>;
}

/// Runs one [`Exchange`] as a [`Flow`]: `Send` once, then `Done`.
#[derive(Debug)]
pub struct OneShot<E: Exchange> {
    exchange: E,
    state: State<E::Output>,
}

#[derive(Debug)]
enum State<T> {
    Ready,
    Sent,
    Got(T),
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

impl<E: Exchange> Flow for OneShot<E> {
    type Output = E::Output;

    fn poll<'b>(&mut self, now: Instant, buf: &'b mut [u8]) -> Result<Step<'b, E::Output>, Error> {
        match core::mem::replace(&mut self.state, State::Finished) {
            State::Ready => {
                let request = self.exchange.request(now, buf);
                // A buffer too small leaves the flow ready to try again with a bigger one.
                self.state = if request.is_ok() {
                    State::Sent
                } else {
                    State::Ready
                };
                request.map(Step::Send)
            }
            State::Got(out) => Ok(Step::Done(out)),
            State::Sent => {
                self.state = State::Sent;
                Err(Error::State)
            }
            State::Finished => Err(Error::State),
        }
    }

    fn handle(&mut self, now: Instant, response: Response<'_>) -> Result<(), Error> {
        if !matches!(self.state, State::Sent) {
            return Err(Error::State);
        }
        self.state = State::Finished;
        let out = self.exchange.response(now, response)?;
        self.state = State::Got(out);
        Ok(())
    }
}
