//! Sessions: one shared token, proactive refresh, refresh-on-401, single-flight — as a state machine.
//!
//! A [`Session`] holds the current sign-in result (any type with an [`AccessToken`]) and a
//! *generation* that counts sign-ins. It never does I/O: it tells each caller what to do next.
//!
//! - [`Session::access`] answers `Ready` (use this token), `SignIn` (you, and only you, run the
//!   sign-in flow now), or `Wait` (someone else is signing in; wait for [`Session::signed_in`] /
//!   [`Session::sign_in_failed`], then ask again).
//! - Proactive refresh: `skew_ms` before expiry one caller is told `SignIn` while the others keep
//!   using the still-valid token, so a well-behaved server never sees an expired one.
//! - A 401 from a protected call is reported with the generation of the token that got it:
//!   [`Session::unauthorized`]. However many callers report the same generation, the token is
//!   dropped once, so exactly one re-sign-in happens.
//! - [`Call`] tracks one protected call: one re-sign-in and one retry after a 401, then
//!   `Error::Unauthorized` — never a loop.
//!
//! Drivers add only a lock around the session and a way to wait.

use crate::{AccessToken, Error, Instant, TokenSet};

/// Default proactive-refresh margin: renew 10 s before expiry. Small beside every lifetime the
/// vendors give (PAR menu and DLC tokens live `ttl` = 60 *minutes*, M2M tokens 86 399 s), large
/// enough for a request in flight to arrive before the token expires.
pub const DEFAULT_SKEW_MS: u64 = 10_000;

/// Anything a sign-in produces that carries a bearer token.
pub trait HasAccessToken {
    /// The token to send as `Authorization: Bearer …`.
    fn access_token(&self) -> &AccessToken;
}

impl HasAccessToken for AccessToken {
    fn access_token(&self) -> &AccessToken {
        self
    }
}

impl HasAccessToken for TokenSet {
    fn access_token(&self) -> &AccessToken {
        &self.access
    }
}

/// What a caller should do next.
#[derive(Debug)]
pub enum Access<'s, T> {
    /// Use this token; report a 401 with this generation.
    Ready {
        /// The current sign-in result.
        token: &'s T,
        /// Its generation.
        generation: u64,
    },
    /// Run the sign-in flow now, then call `signed_in` or `sign_in_failed`. `previous` is the
    /// last result (e.g. to use its refresh token), if any.
    SignIn {
        /// The previous sign-in result, if one is held.
        previous: Option<&'s T>,
    },
    /// Another caller is signing in: wait, then ask again.
    Wait,
}

/// One shared token and the bookkeeping that makes refreshes single-flight.
#[derive(Debug)]
pub struct Session<T> {
    current: Option<T>,
    /// The current token was reported unauthorized: do not hand it out.
    stale: bool,
    generation: u64,
    signing_in: bool,
    skew_ms: u64,
}

impl<T: HasAccessToken> Session<T> {
    /// An empty session that renews tokens `skew_ms` before they expire.
    pub const fn new(skew_ms: u64) -> Self {
        Session {
            current: None,
            stale: false,
            generation: 0,
            signing_in: false,
            skew_ms,
        }
    }

    /// What the caller should do at `now`.
    pub fn access(&mut self, now: Instant) -> Access<'_, T> {
        let usable = match &self.current {
            Some(t) if !self.stale => {
                let expiry = t.access_token().expiry;
                let valid = !expiry.needs_refresh(now, 0);
                let due = expiry.needs_refresh(now, self.skew_ms);
                Some((valid, due))
            }
            _ => None,
        };
        match usable {
            // Fresh: use it.
            Some((true, false)) => self.ready(),
            // Due for renewal, still valid, and someone is renewing it: keep using it.
            Some((true, true)) if self.signing_in => self.ready(),
            _ if self.signing_in => Access::Wait,
            _ => {
                self.signing_in = true;
                Access::SignIn {
                    previous: self.current.as_ref(),
                }
            }
        }
    }

    fn ready(&self) -> Access<'_, T> {
        match &self.current {
            Some(token) => Access::Ready {
                token,
                generation: self.generation,
            },
            None => Access::Wait,
        }
    }

    /// The sign-in told to run by `access` succeeded: store its result (a new generation).
    pub fn signed_in(&mut self, token: T) -> u64 {
        self.current = Some(token);
        self.stale = false;
        self.generation += 1;
        self.signing_in = false;
        self.generation
    }

    /// The sign-in failed. A token that is still valid is kept (and used until it expires).
    pub fn sign_in_failed(&mut self) {
        self.signing_in = false;
    }

    /// A protected call answered 401 with the token of `generation`. Only the first report of
    /// the current generation drops the token; reports about older tokens change nothing.
    pub fn unauthorized(&mut self, generation: u64) {
        if generation == self.generation {
            self.stale = true;
        }
    }

    /// The current generation (0 before the first sign-in).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The current result, if any (even when due for renewal).
    pub fn current(&self) -> Option<&T> {
        self.current.as_ref()
    }

    /// Forget the token (sign out).
    pub fn clear(&mut self) {
        self.current = None;
        self.stale = false;
    }
}

/// What to do with a protected call's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The answer stands (success or an error that is not a 401).
    Done,
    /// 401: the session was told; get access again (a fresh sign-in) and retry once.
    Retry,
}

/// One protected call's retry budget: at most one retry after a 401.
#[derive(Clone, Copy, Debug, Default)]
pub struct Call {
    retried: bool,
}

impl Call {
    /// A new call.
    pub const fn new() -> Self {
        Call { retried: false }
    }

    /// Report the status the call got with the token of `generation`.
    pub fn on_status<T: HasAccessToken>(
        &mut self,
        session: &mut Session<T>,
        generation: u64,
        status: u16,
    ) -> Result<Verdict, Error> {
        if status != 401 {
            return Ok(Verdict::Done);
        }
        session.unauthorized(generation);
        if self.retried {
            return Err(Error::Unauthorized);
        }
        self.retried = true;
        Ok(Verdict::Retry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Expiry, Secret};

    fn token(v: &str, expiry: Expiry) -> AccessToken {
        AccessToken {
            value: Secret::new(v, "t").unwrap(),
            expiry,
        }
    }

    fn t(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    #[test]
    fn single_flight_sign_in() {
        let mut s = Session::new(5_000);
        assert!(matches!(s.access(t(0)), Access::SignIn { previous: None }));
        for _ in 0..1000 {
            assert!(matches!(s.access(t(0)), Access::Wait));
        }
        s.signed_in(token("a", Expiry::At(t(60_000))));
        assert!(matches!(
            s.access(t(1)),
            Access::Ready { generation: 1, .. }
        ));
    }

    #[test]
    fn proactive_refresh_keeps_serving_the_valid_token() {
        let mut s = Session::new(5_000);
        let _ = s.access(t(0));
        s.signed_in(token("a", Expiry::At(t(60_000))));
        // Inside the skew window: one caller refreshes, everybody else keeps the valid token.
        assert!(matches!(
            s.access(t(56_000)),
            Access::SignIn { previous: Some(_) }
        ));
        assert!(matches!(
            s.access(t(56_001)),
            Access::Ready { generation: 1, .. }
        ));
        // The refresh failed: the still-valid token is kept.
        s.sign_in_failed();
        assert!(matches!(s.access(t(56_002)), Access::SignIn { .. }));
        s.sign_in_failed();
        // Expired and nobody refreshing: sign in, others wait.
        assert!(matches!(s.access(t(60_000)), Access::SignIn { .. }));
        assert!(matches!(s.access(t(60_000)), Access::Wait));
    }

    #[test]
    fn many_401s_of_one_generation_cause_one_sign_in() {
        let mut s = Session::new(0);
        let _ = s.access(t(0));
        let g = s.signed_in(token("a", Expiry::Unknown));
        let mut calls: std::vec::Vec<Call> = (0..100).map(|_| Call::new()).collect();
        for c in &mut calls {
            assert_eq!(c.on_status(&mut s, g, 401).unwrap(), Verdict::Retry);
        }
        let mut sign_ins = 0;
        for _ in &calls {
            if let Access::SignIn { .. } = s.access(t(1)) {
                sign_ins += 1;
            }
        }
        assert_eq!(sign_ins, 1);
        let g2 = s.signed_in(token("b", Expiry::Unknown));
        // A late 401 report about the old generation does not drop the new token.
        s.unauthorized(g);
        assert!(matches!(s.access(t(2)), Access::Ready { generation, .. } if generation == g2));
        // A second 401 for the same call is final.
        assert_eq!(
            calls[0].on_status(&mut s, g2, 401),
            Err(Error::Unauthorized)
        );
        assert_eq!(Call::new().on_status(&mut s, g2, 200), Ok(Verdict::Done));
    }
}
