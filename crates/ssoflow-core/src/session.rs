//! Sessions: one shared token and the whole sign-in policy — single flight, renewal, refresh-on-401,
//! backoff, one failure shared by every waiter — as a state machine with no I/O.
//!
//! A [`Session`] holds the current sign-in result (any type with an [`AccessToken`]) and a
//! *generation* that counts sign-ins. It never does I/O, never reads a clock and never draws
//! randomness: `now` and entropy are arguments. It tells each caller what to do next:
//!
//! - [`Session::access`] answers [`Access::Ready`] (use this token), [`Access::SignIn`] (you,
//!   and only you, run the sign-in now), [`Access::Wait`] (someone else is signing in, or a
//!   retry is due later: wait to be woken or until `until`, then ask again with the ticket) or
//!   [`Access::Failed`] (the sign-in you waited for failed, or failed moments ago and is cooling
//!   down: here is its error — nobody runs it again before the cooldown ends).
//! - The caller told to sign in reports [`Session::signed_in`] or [`Session::sign_in_failed`].
//!   A transient failure (5xx, 429, transport) is retried after a backoff with jitter (or the
//!   server's `Retry-After`) up to [`Policy::max_retries`] times: the session answers
//!   [`AfterFailure::RetryAt`] and callers wait; otherwise the failure is shared
//!   ([`AfterFailure::Failed`]) and a cooldown starts (`Retry-After`, or
//!   [`Policy::with_failure_cooldown_ms`]).
//! - Renewal before expiry: [`Policy::skew_ms`] before expiry one caller is told `SignIn`
//!   while the others keep using the still-valid token (also while a renewal backs off or has
//!   failed), so a well-behaved server never sees an expired one.
//! - A 401 from a protected call is reported with the generation of the token that got it:
//!   [`Session::unauthorized`]. However many callers report the same generation, the token is
//!   dropped once, so exactly one re-sign-in happens.
//! - [`Call`] tracks one protected call: one re-sign-in and one retry after a 401, then
//!   `Error::Unauthorized` — never a loop.
//!
//! - Sign-out ([`Session::sign_out`], then [`Session::signed_out`]): the caller revokes the
//!   tokens it is handed (RFC 7009, [`oauth2::revoke_tokens`](crate::oauth2::revoke_tokens)),
//!   then the session forgets them. Meanwhile nobody is handed the token being revoked and no
//!   sign-in starts; a sign-in already running is waited for, and its token revoked.
//!
//! Drivers add only a lock around the session, a way to wait, and the I/O; what to sign in
//! with is a [`Recipe`](crate::recipe::Recipe).

use crate::{AccessToken, Error, Instant, RefreshToken, TokenSet};

/// Default proactive-refresh margin: renew 10 s before expiry. Small beside every lifetime the
/// vendors give (PAR menu and DLC tokens live `ttl` = 60 *minutes*, M2M tokens 86 399 s), large
/// enough for a request in flight to arrive before the token expires.
pub const DEFAULT_SKEW_MS: u64 = 10_000;

/// Anything a sign-in produces that carries a bearer token.
pub trait HasAccessToken {
    /// The token to send as `Authorization: Bearer …`.
    fn access_token(&self) -> &AccessToken;

    /// The refresh token that came with it, if any (revoked first at sign-out, RFC 7009).
    fn refresh_token(&self) -> Option<&RefreshToken> {
        None
    }
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

    fn refresh_token(&self) -> Option<&RefreshToken> {
        self.refresh.as_ref()
    }
}

/// What the session needs to know about a failed sign-in. Implemented by the core's [`Error`]
/// and by each driver's error type (which add transport failures and `Retry-After`).
pub trait Failure: Clone {
    /// Retrying later may succeed (5xx, 429, a transport failure, a timeout).
    fn is_transient(&self) -> bool;
    /// How long the server asked to wait (`Retry-After`), in milliseconds, if it said.
    fn retry_after_ms(&self) -> Option<u64> {
        None
    }
}

impl Failure for Error {
    fn is_transient(&self) -> bool {
        Error::is_transient(self)
    }
}

/// How a [`Session`] renews, retries and cools down. Build it with the `const` setters from
/// [`Policy::DEFAULT`]; the fields stay private so new knobs never break a caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    skew_ms: u64,
    max_retries: u32,
    base_backoff_ms: u64,
    max_backoff_ms: u64,
    max_retry_after_ms: u64,
    failure_cooldown_ms: u64,
}

impl Policy {
    /// Renew 10 s before expiry; retry a transient failure twice, after 100 ms then 200 ms
    /// (half fixed, half jitter), waiting at most 5 s between tries; honour `Retry-After` up to
    /// 60 s; share a final failure for 1 s (or its `Retry-After`).
    pub const DEFAULT: Policy = Policy {
        skew_ms: DEFAULT_SKEW_MS,
        max_retries: 2,
        base_backoff_ms: 100,
        max_backoff_ms: 5_000,
        max_retry_after_ms: 60_000,
        failure_cooldown_ms: 1_000,
    };

    /// Renew this long before expiry (keep it below the tokens' lifetime).
    pub const fn with_skew_ms(mut self, ms: u64) -> Self {
        self.skew_ms = ms;
        self
    }

    /// Retries of a transiently failed sign-in before its failure is final.
    pub const fn with_max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }

    /// The first retry's delay; doubled for each further retry, half of it jitter.
    pub const fn with_base_backoff_ms(mut self, ms: u64) -> Self {
        self.base_backoff_ms = ms;
        self
    }

    /// The longest delay before a retry. A `Retry-After` longer than this ends the attempt at
    /// once: its failure is shared and the cooldown lasts the `Retry-After`.
    pub const fn with_max_backoff_ms(mut self, ms: u64) -> Self {
        self.max_backoff_ms = ms;
        self
    }

    /// The longest `Retry-After` honoured; longer ones are cut to this.
    pub const fn with_max_retry_after_ms(mut self, ms: u64) -> Self {
        self.max_retry_after_ms = ms;
        self
    }

    /// How long a final failure is handed to every caller before a sign-in runs again (when
    /// the server sent no `Retry-After`).
    pub const fn with_failure_cooldown_ms(mut self, ms: u64) -> Self {
        self.failure_cooldown_ms = ms;
        self
    }

    /// The renewal margin.
    pub const fn skew_ms(&self) -> u64 {
        self.skew_ms
    }

    /// Retries of a transient failure.
    pub const fn max_retries(&self) -> u32 {
        self.max_retries
    }

    /// The delay before retry number `retry` (0-based): `base × 2^retry`, capped at the
    /// largest backoff, half fixed and half jitter drawn from `entropy`; at least `Retry-After`
    /// (capped) when the server sent one.
    pub fn backoff_ms(&self, retry: u32, retry_after_ms: Option<u64>, entropy: u32) -> u64 {
        let exp = self
            .base_backoff_ms
            .saturating_mul(1u64 << retry.min(16))
            .min(self.max_backoff_ms);
        let half = exp / 2;
        // `entropy % (half + 1)`, in 32 bits when the span fits (always, in practice): a 64-bit
        // remainder costs a firmware about 1 KiB of software division.
        let jitter = match u32::try_from(half.saturating_add(1)) {
            Ok(span) => u64::from(entropy % span),
            Err(_) => u64::from(entropy),
        };
        match retry_after_ms {
            Some(after) => after.min(self.max_retry_after_ms).saturating_add(jitter),
            None => half.saturating_add(jitter),
        }
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy::DEFAULT
    }
}

/// Which sign-in a waiting caller waited for: give it back to [`Session::access`] so the
/// session can hand that sign-in's failure to everyone who waited for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ticket(u64);

/// What a caller should do next.
#[derive(Debug)]
pub enum Access<'s, T, E> {
    /// Use this token; report a 401 with this generation.
    Ready {
        /// The current sign-in result.
        token: &'s T,
        /// Its generation.
        generation: u64,
    },
    /// Run the sign-in now, then call [`Session::signed_in`] or [`Session::sign_in_failed`]
    /// (or [`Session::sign_in_abandoned`] if it could not finish). `previous` is the last
    /// result (e.g. to use its refresh token), if any.
    SignIn {
        /// The previous sign-in result, if one is held.
        previous: Option<&'s T>,
    },
    /// Another caller is signing in, or a retry is due later: wait until woken (or until
    /// `until`, when given), then ask again with `ticket`.
    Wait {
        /// Pass it back to [`Session::access`].
        ticket: Ticket,
        /// Ask again at this instant at the latest (a retry after backoff is due then).
        until: Option<Instant>,
    },
    /// The sign-in failed: the one this caller waited for, or one moments ago whose cooldown
    /// has not ended. Every caller gets this same error; nobody re-runs the sign-in meanwhile.
    Failed(E),
}

/// What a failed sign-in leads to, for the caller that ran it. After `Failed`, that caller asks
/// [`Session::access`] again with [`Session::ticket`]: a still-valid token is still its answer.
#[derive(Debug, PartialEq, Eq)]
pub enum AfterFailure<E> {
    /// A transient failure with retries left: wait until this instant, then ask
    /// [`Session::access`] again (it answers `SignIn` to the first caller then).
    RetryAt(Instant),
    /// Final: the error is shared with every waiter until the cooldown ends.
    Failed(E),
}

#[derive(Debug)]
enum Renewal {
    /// Nobody is signing in.
    Idle,
    /// One caller is signing in.
    Running,
    /// The last try failed transiently; the next may start at `until`.
    Backoff { until: Instant },
    /// The last run failed; its error is handed out until `until`.
    CoolingDown { until: Instant },
}

/// One shared token and everything that decides when and how it is renewed.
#[derive(Debug)]
pub struct Session<T, E = Error> {
    current: Option<T>,
    /// The current token was reported unauthorized: do not hand it out.
    stale: bool,
    /// The current token arrived already inside the renewal window (or expired): use it until
    /// a 401 rather than sign in again and again.
    trust_until_401: bool,
    generation: u64,
    renewal: Renewal,
    /// Sign-in runs started (a run is one sign-in with its retries); tickets name them.
    runs: u64,
    /// Failed tries of the current run.
    retries: u32,
    /// The last run that failed, with its error.
    failure: Option<(u64, E)>,
    policy: Policy,
}

impl<T: HasAccessToken> Session<T, Error> {
    /// An empty session sharing the core's [`Error`], with the default policy renewing
    /// `skew_ms` before expiry. (Drivers with their own error type use
    /// [`with_policy`](Self::with_policy).)
    pub const fn new(skew_ms: u64) -> Self {
        Self::with_policy(Policy::DEFAULT.with_skew_ms(skew_ms))
    }
}

impl<T: HasAccessToken, E: Failure> Session<T, E> {
    /// An empty session with `policy`.
    pub const fn with_policy(policy: Policy) -> Self {
        Session {
            current: None,
            stale: false,
            trust_until_401: false,
            generation: 0,
            renewal: Renewal::Idle,
            runs: 0,
            retries: 0,
            failure: None,
            policy,
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// What the caller should do at `now`. A caller that waited passes back its ticket.
    pub fn access(&mut self, now: Instant, waited: Option<Ticket>) -> Access<'_, T, E> {
        // A cooldown or backoff that has ended opens the way for a new try.
        match self.renewal {
            Renewal::CoolingDown { until } if now >= until => self.renewal = Renewal::Idle,
            _ => {}
        }
        let (valid, due) = match &self.current {
            Some(t) if !self.stale => {
                let expiry = t.access_token().expiry;
                if self.trust_until_401 {
                    (true, false)
                } else {
                    (
                        !expiry.needs_refresh(now, 0),
                        expiry.needs_refresh(now, self.policy.skew_ms),
                    )
                }
            }
            _ => (false, false),
        };
        // A still-valid token is served while it is fresh, or while a renewal is running,
        // backing off or cooling down; a renewal whose backoff has ended starts now.
        let busy = match self.renewal {
            Renewal::Idle => false,
            Renewal::Running | Renewal::CoolingDown { .. } => true,
            Renewal::Backoff { until } => now < until,
        };
        // The run this caller waited for (or ran) failed: no second run for it.
        let its_run_failed = matches!(
            (waited, &self.failure),
            (Some(Ticket(run)), Some((failed, _))) if *failed >= run
        );
        if valid && (!due || busy || its_run_failed) {
            return self.ready();
        }
        if its_run_failed {
            if let Some((_, error)) = &self.failure {
                return Access::Failed(error.clone());
            }
        }
        match self.renewal {
            Renewal::Running => self.wait(None),
            Renewal::Backoff { until } if now < until => self.wait(Some(until)),
            Renewal::CoolingDown { .. } => match &self.failure {
                Some((_, error)) => Access::Failed(error.clone()),
                None => self.start(false),
            },
            Renewal::Backoff { .. } => self.start(true),
            Renewal::Idle => self.start(false),
        }
    }

    fn wait(&self, until: Option<Instant>) -> Access<'_, T, E> {
        Access::Wait {
            ticket: Ticket(self.runs),
            until,
        }
    }

    /// Tell this caller to sign in: a new run, or the next try of the current one.
    fn start(&mut self, retry: bool) -> Access<'_, T, E> {
        if !retry {
            self.runs = self.runs.wrapping_add(1);
            self.retries = 0;
        }
        self.renewal = Renewal::Running;
        Access::SignIn {
            previous: self.current.as_ref(),
        }
    }

    fn ready(&self) -> Access<'_, T, E> {
        match &self.current {
            Some(token) => Access::Ready {
                token,
                generation: self.generation,
            },
            None => self.wait(None),
        }
    }

    /// The sign-in told to run by `access` succeeded at `now`: store its result (a new
    /// generation). A token that arrives already due for renewal (a lifetime shorter than the
    /// skew, or `expires_in: 0`) is used until a 401 instead of being renewed at once, again
    /// and again.
    pub fn signed_in(&mut self, now: Instant, token: T) -> u64 {
        self.current = Some(token);
        self.stored(now)
    }

    /// [`signed_in`](Self::signed_in) with the result taken from `slot` (left `None`), where
    /// a driver's flow read it ([`Flow::handle`](crate::Flow::handle)'s output slot): the result
    /// moves from the slot into the session without a by-value copy of it on the stack between
    /// them (kilobytes for a PAR sign-in). `None`, and nothing recorded, when `slot` is empty.
    pub fn signed_in_from(&mut self, now: Instant, slot: &mut Option<T>) -> Option<u64> {
        slot.as_ref()?;
        // The new result and the old one trade places; the old one is dropped from the slot.
        core::mem::swap(&mut self.current, slot);
        *slot = None;
        Some(self.stored(now))
    }

    /// A new result is in `current` (stored at `now`): a new generation, the renewal done.
    fn stored(&mut self, now: Instant) -> u64 {
        self.trust_until_401 = self.current.as_ref().is_some_and(|t| {
            t.access_token()
                .expiry
                .needs_refresh(now, self.policy.skew_ms)
        });
        self.stale = false;
        self.generation = self.generation.wrapping_add(1);
        self.renewal = Renewal::Idle;
        self.retries = 0;
        self.failure = None;
        self.generation
    }

    /// The sign-in told to run by `access` failed at `now` with `error`. `entropy` is any
    /// fresh random number (for the backoff's jitter). A still-valid token is kept and served.
    pub fn sign_in_failed(&mut self, now: Instant, error: E, entropy: u32) -> AfterFailure<E> {
        let retry_after = error.retry_after_ms();
        if error.is_transient() && self.retries < self.policy.max_retries {
            let delay = self.policy.backoff_ms(self.retries, retry_after, entropy);
            if delay <= self.policy.max_backoff_ms {
                self.retries += 1;
                let until = now.plus_millis(delay);
                self.renewal = Renewal::Backoff { until };
                return AfterFailure::RetryAt(until);
            }
        }
        let cooldown = retry_after.map_or(self.policy.failure_cooldown_ms, |ms| {
            ms.min(self.policy.max_retry_after_ms)
        });
        self.renewal = Renewal::CoolingDown {
            until: now.plus_millis(cooldown),
        };
        self.retries = 0;
        self.failure = Some((self.runs, error.clone()));
        AfterFailure::Failed(error)
    }

    /// The sign-in told to run could not finish (its task was cancelled, its thread panicked):
    /// free the slot so the next caller runs it. Nothing is shared as a failure.
    pub fn sign_in_abandoned(&mut self) {
        if matches!(self.renewal, Renewal::Running) {
            self.renewal = Renewal::Idle;
        }
    }

    /// A protected call answered 401 with the token of `generation`. Only the first report of
    /// the current generation drops the token; reports about older tokens change nothing.
    pub fn unauthorized(&mut self, generation: u64) {
        if generation == self.generation {
            self.stale = true;
        }
    }

    /// The ticket of the sign-in run in progress (or the last one): a caller whose own sign-in
    /// just failed asks [`access`](Self::access) again with it, and gets a still-valid token
    /// ([`Access::Ready`]) or that failure ([`Access::Failed`]) — never a second run.
    pub fn ticket(&self) -> Ticket {
        Ticket(self.runs)
    }

    /// The current generation (0 before the first sign-in).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The current result, if any (even when due for renewal).
    pub fn current(&self) -> Option<&T> {
        self.current.as_ref()
    }

    /// A sign-in is running (or backing off before its next try).
    pub fn signing_in(&self) -> bool {
        matches!(self.renewal, Renewal::Running | Renewal::Backoff { .. })
    }

    /// Sign out, first step: the tokens to revoke. From now until [`signed_out`](Self::signed_out)
    /// the token is handed to nobody and no sign-in starts (callers wait); a sign-in already
    /// running is waited for ([`SignOut::Wait`]) so that its token is revoked too.
    pub fn sign_out(&mut self) -> SignOut<'_, T> {
        if matches!(self.renewal, Renewal::Running) {
            return SignOut::Wait {
                ticket: Ticket(self.runs),
            };
        }
        self.stale = true;
        self.renewal = Renewal::Running;
        SignOut::Revoke {
            token: self.current.as_ref(),
        }
    }

    /// Sign out, last step (after the revocation, successful or not): forget the token and any
    /// shared failure; the next caller signs in afresh.
    pub fn signed_out(&mut self) {
        self.clear();
        self.renewal = Renewal::Idle;
    }

    /// Forget the token (sign out) and any shared failure.
    pub fn clear(&mut self) {
        self.current = None;
        self.stale = false;
        self.trust_until_401 = false;
        self.failure = None;
        if matches!(self.renewal, Renewal::CoolingDown { .. }) {
            self.renewal = Renewal::Idle;
        }
    }
}

/// What a caller signing out should do next ([`Session::sign_out`]).
#[derive(Debug)]
pub enum SignOut<'s, T> {
    /// Revoke this sign-in's tokens (nothing to revoke when `None`), then call
    /// [`Session::signed_out`] — whether the revocation succeeded or not: the session forgets
    /// the tokens either way. Until then callers are told to wait.
    Revoke {
        /// What the session holds, if anything.
        token: Option<&'s T>,
    },
    /// A sign-in is running: wait until woken, then ask again (its token is revoked then).
    Wait {
        /// Which sign-in is awaited.
        ticket: Ticket,
    },
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
    pub fn on_status<T: HasAccessToken, E: Failure>(
        &mut self,
        session: &mut Session<T, E>,
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
    use crate::{Excerpt, Expiry, Secret};

    fn token(v: &str, expiry: Expiry) -> AccessToken {
        AccessToken {
            value: Secret::new(v, "t").unwrap(),
            expiry,
        }
    }

    fn t(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    /// A failure with a chosen transience and `Retry-After`.
    #[derive(Clone, Debug, PartialEq, Eq)]
    struct Fail {
        transient: bool,
        after_ms: Option<u64>,
    }

    impl Failure for Fail {
        fn is_transient(&self) -> bool {
            self.transient
        }
        fn retry_after_ms(&self) -> Option<u64> {
            self.after_ms
        }
    }

    const FINAL: Fail = Fail {
        transient: false,
        after_ms: None,
    };
    const BUSY: Fail = Fail {
        transient: true,
        after_ms: None,
    };

    type S = Session<AccessToken, Fail>;

    fn session(skew_ms: u64) -> S {
        Session::with_policy(Policy::DEFAULT.with_skew_ms(skew_ms))
    }

    fn ticket(a: Access<'_, AccessToken, Fail>) -> Ticket {
        match a {
            Access::Wait { ticket, .. } => ticket,
            other => panic!("expected Wait, got {other:?}"),
        }
    }

    #[test]
    fn single_flight_sign_in() {
        let mut s: S = session(5_000);
        assert!(matches!(
            s.access(t(0), None),
            Access::SignIn { previous: None }
        ));
        for _ in 0..1000 {
            assert!(matches!(
                s.access(t(0), None),
                Access::Wait { until: None, .. }
            ));
        }
        s.signed_in(t(0), token("a", Expiry::At(t(60_000))));
        assert!(matches!(
            s.access(t(1), None),
            Access::Ready { generation: 1, .. }
        ));
    }

    #[test]
    fn proactive_refresh_keeps_serving_the_valid_token() {
        let mut s: S = session(5_000);
        let _ = s.access(t(0), None);
        s.signed_in(t(0), token("a", Expiry::At(t(60_000))));
        // Inside the skew window: one caller refreshes, everybody else keeps the valid token.
        assert!(matches!(
            s.access(t(56_000), None),
            Access::SignIn { previous: Some(_) }
        ));
        assert!(matches!(
            s.access(t(56_001), None),
            Access::Ready { generation: 1, .. }
        ));
        // The refresh failed for good: the still-valid token is kept, also during the cooldown.
        assert_eq!(
            s.sign_in_failed(t(56_002), FINAL, 0),
            AfterFailure::Failed(FINAL)
        );
        assert!(matches!(s.access(t(56_003), None), Access::Ready { .. }));
        // After the cooldown (1 s) one caller tries again.
        assert!(matches!(s.access(t(57_002), None), Access::SignIn { .. }));
        s.sign_in_abandoned();
        // Expired and nobody refreshing: sign in, others wait.
        assert!(matches!(s.access(t(60_000), None), Access::SignIn { .. }));
        assert!(matches!(s.access(t(60_000), None), Access::Wait { .. }));
    }

    #[test]
    fn one_failure_is_shared_by_every_waiter_and_nobody_reruns_it_during_the_cooldown() {
        let mut s: S = Session::with_policy(Policy::DEFAULT.with_failure_cooldown_ms(0));
        assert!(matches!(s.access(t(0), None), Access::SignIn { .. }));
        let tickets: std::vec::Vec<Ticket> =
            (0..100).map(|_| ticket(s.access(t(0), None))).collect();
        assert_eq!(
            s.sign_in_failed(t(10), FINAL, 0),
            AfterFailure::Failed(FINAL)
        );
        // Even with no cooldown at all, everyone who waited for that run gets its error.
        for tk in tickets {
            assert!(matches!(s.access(t(10), Some(tk)), Access::Failed(FINAL)));
        }
        // A caller who did not wait for it starts a new run.
        assert!(matches!(s.access(t(10), None), Access::SignIn { .. }));
    }

    #[test]
    fn the_cooldown_hands_out_the_failure_until_it_ends() {
        let mut s: S = session(0);
        let _ = s.access(t(0), None);
        let after = Fail {
            transient: false,
            after_ms: Some(30_000),
        };
        // Not transient: no retry, and the server's Retry-After is the cooldown.
        assert!(matches!(
            s.sign_in_failed(t(0), after.clone(), 0),
            AfterFailure::Failed(_)
        ));
        assert!(matches!(s.access(t(29_999), None), Access::Failed(f) if f == after));
        assert!(matches!(s.access(t(30_000), None), Access::SignIn { .. }));
    }

    #[test]
    fn transient_failures_back_off_with_jitter_then_fail_for_all() {
        let mut s: S = session(0);
        assert!(matches!(s.access(t(0), None), Access::SignIn { .. }));
        let waiter = ticket(s.access(t(0), None));
        // Retry 1 after 50..=100 ms (base 100: half fixed, half jitter), retry 2 after 100..=200.
        let AfterFailure::RetryAt(first) = s.sign_in_failed(t(0), BUSY, 7) else {
            panic!("retry expected")
        };
        assert_eq!(first, t(50 + 7));
        // Before it: everyone waits, told when to look again; at it: one caller retries.
        assert!(matches!(s.access(t(10), None), Access::Wait { until: Some(u), .. } if u == first));
        assert!(matches!(s.access(first, None), Access::SignIn { .. }));
        assert!(matches!(
            s.access(first, None),
            Access::Wait { until: None, .. }
        ));
        let AfterFailure::RetryAt(second) = s.sign_in_failed(first, BUSY, 1000) else {
            panic!("retry expected")
        };
        assert_eq!(second, first.plus_millis(100 + 1000 % 101));
        assert!(matches!(s.access(second, None), Access::SignIn { .. }));
        // Retries used up: final, shared with the caller who waited since the start.
        assert_eq!(
            s.sign_in_failed(second, BUSY, 0),
            AfterFailure::Failed(BUSY)
        );
        assert!(matches!(
            s.access(second, Some(waiter)),
            Access::Failed(BUSY)
        ));
    }

    #[test]
    fn retry_after_sets_the_backoff_and_a_long_one_ends_the_run() {
        let mut s: S = session(0);
        let _ = s.access(t(0), None);
        let soon = Fail {
            transient: true,
            after_ms: Some(2_000),
        };
        assert_eq!(
            s.sign_in_failed(t(0), soon, 0),
            AfterFailure::RetryAt(t(2_000))
        );
        assert!(matches!(s.access(t(2_000), None), Access::SignIn { .. }));
        // Longer than the largest backoff (5 s): fail now, cool down for the Retry-After.
        let late = Fail {
            transient: true,
            after_ms: Some(20_000),
        };
        assert!(matches!(
            s.sign_in_failed(t(2_000), late, 0),
            AfterFailure::Failed(_)
        ));
        assert!(matches!(s.access(t(21_999), None), Access::Failed(_)));
        assert!(matches!(s.access(t(22_000), None), Access::SignIn { .. }));
        // A Retry-After above the cap is cut to it (60 s).
        assert_eq!(Policy::DEFAULT.backoff_ms(0, Some(3_600_000), 0), 60_000);
    }

    #[test]
    fn a_renewal_that_failed_transiently_is_retried_after_its_backoff_while_the_token_is_valid() {
        let mut s: S = session(10_000);
        let _ = s.access(t(0), None);
        s.signed_in(t(0), token("a", Expiry::At(t(60_000))));
        assert!(matches!(s.access(t(50_000), None), Access::SignIn { .. }));
        let AfterFailure::RetryAt(at) = s.sign_in_failed(t(50_000), BUSY, 0) else {
            panic!("retry expected")
        };
        // During the backoff the valid token is served; once it has passed, one caller retries.
        assert!(matches!(s.access(t(50_001), None), Access::Ready { .. }));
        assert!(matches!(
            s.access(at, None),
            Access::SignIn { previous: Some(_) }
        ));
        assert!(matches!(s.access(at, None), Access::Ready { .. }));
    }

    #[test]
    fn signed_in_from_takes_the_slot_and_an_empty_slot_records_nothing() {
        let mut s: S = session(5_000);
        let _ = s.access(t(0), None);
        let mut slot = None;
        assert_eq!(s.signed_in_from(t(0), &mut slot), None);
        assert_eq!(s.generation(), 0);
        assert!(s.signing_in());
        slot = Some(token("a", Expiry::At(t(60_000))));
        assert_eq!(s.signed_in_from(t(0), &mut slot), Some(1));
        assert!(slot.is_none());
        assert!(matches!(
            s.access(t(1), None),
            Access::Ready { generation: 1, token } if token.value.expose() == "a"
        ));
        // A second sign-in replaces the first result; one already due is trusted until a 401.
        s.unauthorized(1);
        assert!(matches!(
            s.access(t(2), None),
            Access::SignIn { previous: Some(_) }
        ));
        slot = Some(token("b", Expiry::At(t(3))));
        assert_eq!(s.signed_in_from(t(2), &mut slot), Some(2));
        assert!(matches!(
            s.access(t(4), None),
            Access::Ready { generation: 2, token } if token.value.expose() == "b"
        ));
    }

    #[test]
    fn a_token_already_due_on_arrival_is_used_until_a_401() {
        let mut s: S = session(10_000);
        let _ = s.access(t(0), None);
        // Lives 5 s, less than the 10 s skew: not renewed again and again.
        let g = s.signed_in(t(0), token("short", Expiry::At(t(5_000))));
        assert!(matches!(s.access(t(1), None), Access::Ready { .. }));
        assert!(matches!(s.access(t(9_000), None), Access::Ready { .. }));
        s.unauthorized(g);
        assert!(matches!(s.access(t(9_001), None), Access::SignIn { .. }));
        // `expires_in: 0` too.
        s.signed_in(t(9_001), token("zero", Expiry::At(t(9_001))));
        assert!(matches!(s.access(t(9_002), None), Access::Ready { .. }));
    }

    #[test]
    fn the_caller_whose_renewal_failed_still_gets_the_valid_token() {
        let mut s: S = Session::with_policy(
            Policy::DEFAULT
                .with_skew_ms(10_000)
                .with_failure_cooldown_ms(0),
        );
        let _ = s.access(t(0), None);
        s.signed_in(t(0), token("a", Expiry::At(t(60_000))));
        assert!(matches!(s.access(t(55_000), None), Access::SignIn { .. }));
        assert_eq!(
            s.sign_in_failed(t(55_000), FINAL, 0),
            AfterFailure::Failed(FINAL)
        );
        // Even with no cooldown and time moving on, the runner's ticket gets the valid token,
        // not a second run.
        let tk = s.ticket();
        assert!(matches!(
            s.access(t(55_001), Some(tk)),
            Access::Ready { .. }
        ));
        // Once expired, the same ticket gets the failure.
        assert!(matches!(
            s.access(t(60_000), Some(tk)),
            Access::Failed(FINAL)
        ));
    }

    #[test]
    fn an_abandoned_sign_in_frees_the_slot_without_a_failure() {
        let mut s: S = session(0);
        let _ = s.access(t(0), None);
        let tk = ticket(s.access(t(0), None));
        s.sign_in_abandoned();
        assert!(matches!(s.access(t(0), Some(tk)), Access::SignIn { .. }));
    }

    #[test]
    fn the_core_error_is_a_failure() {
        let busy = Error::Provider {
            status: 503,
            code: None,
            message: Excerpt::default(),
        };
        assert!(Failure::is_transient(&busy));
        assert!(!Failure::is_transient(&Error::Unauthorized));
        assert_eq!(Failure::retry_after_ms(&busy), None);
    }

    #[test]
    fn sign_out_revokes_then_clears_and_nobody_uses_the_token_meanwhile() {
        let mut s: S = session(0);
        // A sign-in is running: sign-out waits for it.
        assert!(matches!(s.access(t(0), None), Access::SignIn { .. }));
        assert!(matches!(s.sign_out(), SignOut::Wait { .. }));
        s.signed_in(t(1), token("a", Expiry::Unknown));
        // Now it is handed the token to revoke.
        match s.sign_out() {
            SignOut::Revoke { token: Some(tk) } => assert_eq!(tk.value.expose(), "a"),
            other => panic!("{other:?}"),
        }
        // During the revocation other callers wait: no token, no new sign-in.
        assert!(matches!(
            s.access(t(2), None),
            Access::Wait { until: None, .. }
        ));
        s.signed_out();
        assert!(s.current().is_none());
        // Afterwards the next caller signs in afresh.
        assert!(matches!(
            s.access(t(3), None),
            Access::SignIn { previous: None }
        ));
        s.sign_in_abandoned();
        // Nothing held: nothing to revoke.
        assert!(matches!(s.sign_out(), SignOut::Revoke { token: None }));
        s.signed_out();
    }

    #[test]
    fn a_token_set_offers_its_refresh_token_for_revocation() {
        let set = TokenSet {
            access: token("a", Expiry::Unknown),
            refresh: Some(Secret::new("r", "t").unwrap()),
            scope: None,
            expires_in: None,
        };
        assert_eq!(set.refresh_token().map(|r| r.expose()), Some("r"));
        assert!(set.access.refresh_token().is_none());
    }

    #[test]
    fn many_401s_of_one_generation_cause_one_sign_in() {
        let mut s: S = session(0);
        let _ = s.access(t(0), None);
        let g = s.signed_in(t(0), token("a", Expiry::Unknown));
        let mut calls: std::vec::Vec<Call> = (0..100).map(|_| Call::new()).collect();
        for c in &mut calls {
            assert_eq!(c.on_status(&mut s, g, 401).unwrap(), Verdict::Retry);
        }
        let mut sign_ins = 0;
        for _ in &calls {
            if let Access::SignIn { .. } = s.access(t(1), None) {
                sign_ins += 1;
            }
        }
        assert_eq!(sign_ins, 1);
        let g2 = s.signed_in(t(1), token("b", Expiry::Unknown));
        // A late 401 report about the old generation does not drop the new token.
        s.unauthorized(g);
        assert!(
            matches!(s.access(t(2), None), Access::Ready { generation, .. } if generation == g2)
        );
        // A second 401 for the same call is final.
        assert_eq!(
            calls[0].on_status(&mut s, g2, 401),
            Err(Error::Unauthorized)
        );
        assert_eq!(Call::new().on_status(&mut s, g2, 200), Ok(Verdict::Done));
    }
}
