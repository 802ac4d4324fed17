//! A core [`Session`] and its [`Recipe`] behind a lock: protected calls with sign-in,
//! renewal, backoff and refresh-on-401.
//!
//! The core decides everything (who signs in, when to retry and after how long, when a failure
//! is shared, when to give up); this module adds the mutex, the condition variable waiting
//! callers sleep on, and the I/O — always done with the lock released.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use ssoflow_core::Request;
use ssoflow_core::oauth2;
use ssoflow_core::recipe::Recipe;
use ssoflow_core::session::{
    Access, AfterFailure, Call, Failure, Policy, Session, SignOut, Ticket, Verdict,
};

use crate::{Driver, Error, OwnedResponse, net};

impl Failure for Error {
    fn is_transient(&self) -> bool {
        Error::is_transient(self)
    }

    fn retry_after_ms(&self) -> Option<u64> {
        self.retry_after()
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

/// One [`Session`] shared by threads, with the [`Recipe`] it signs in with: the session behind
/// a mutex, and a condition variable on which callers told to wait sleep until the sign-in in
/// flight ends.
///
/// Share it by reference (or in an `Arc`) and pass it to [`Driver::send_authorized`].
#[derive(Debug)]
pub struct SharedSession<R: Recipe> {
    recipe: R,
    session: Mutex<Session<R::Output, Error>>,
    changed: Condvar,
}

impl<R: Recipe> SharedSession<R> {
    /// A session signing in with `recipe` under the default [`Policy`].
    pub fn new(recipe: R) -> Self {
        Self::with_policy(recipe, Policy::DEFAULT)
    }

    /// A session signing in with `recipe` under `policy`.
    pub fn with_policy(recipe: R, policy: Policy) -> Self {
        SharedSession {
            recipe,
            session: Mutex::new(Session::with_policy(policy)),
            changed: Condvar::new(),
        }
    }

    /// The recipe.
    pub fn recipe(&self) -> &R {
        &self.recipe
    }

    /// Sleep until the session changes (a sign-in or sign-out ends), or at most `ms`
    /// milliseconds when given; the lock is released meanwhile.
    fn wait<'s>(
        &'s self,
        guard: MutexGuard<'s, Session<R::Output, Error>>,
        ms: Option<u64>,
    ) -> MutexGuard<'s, Session<R::Output, Error>> {
        match ms {
            None => self
                .changed
                .wait(guard)
                .unwrap_or_else(PoisonError::into_inner),
            Some(ms) => {
                self.changed
                    .wait_timeout(guard, Duration::from_millis(ms))
                    .unwrap_or_else(PoisonError::into_inner)
                    .0
            }
        }
    }

    /// Lock the session (e.g. to read the current token or sign out). A lock poisoned by a
    /// panicking thread is taken over: the session's state is always consistent.
    pub fn lock(&self) -> MutexGuard<'_, Session<R::Output, Error>> {
        self.session.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The sign-in this caller was told to run. If it is dropped unresolved (a panic in the flow)
/// the session hears `sign_in_abandoned` and the waiters wake, so nobody waits forever.
struct PendingSignIn<'s, R: Recipe> {
    shared: &'s SharedSession<R>,
    armed: bool,
}

impl<R: Recipe> Drop for PendingSignIn<'_, R> {
    fn drop(&mut self) {
        if self.armed {
            self.shared.lock().sign_in_abandoned();
            self.shared.changed.notify_all();
        }
    }
}

/// A random number for the backoff's jitter.
fn jitter() -> u32 {
    let mut b = [0u8; 4];
    // Without randomness the jitter is only less spread out; the backoff still holds.
    let _ = getrandom::fill(&mut b);
    u32::from_le_bytes(b)
}

impl Driver {
    /// Send a protected request with the session's token, signing in when needed.
    ///
    /// - No usable token: one caller (across all threads sharing `session`) runs the recipe's
    ///   flow for `key` while the others wait; then every caller uses the new token. A
    ///   transient failure is retried after the policy's backoff (or `Retry-After`); a final one
    ///   is handed to every caller that waited, and nobody re-runs it during the cooldown.
    /// - `build(token, buf)` writes the protected request (vendor headers come from the core's
    ///   helpers, e.g. `par_ordering::ParConfig::protected_request`).
    /// - A 401 answer: the token is dropped once however many callers saw it, one re-sign-in
    ///   happens, and the call is retried once; a second 401 is
    ///   `Error::Core(ssoflow_core::Error::Unauthorized)`.
    ///
    /// Every other answer, success or not, is returned as it is. The lock is never held during
    /// I/O.
    pub fn send_authorized<R, B>(
        &self,
        session: &SharedSession<R>,
        key: &R::Key,
        mut build: B,
    ) -> Result<OwnedResponse, Error>
    where
        R: Recipe,
        B: for<'b> FnMut(&R::Output, &'b mut [u8]) -> Result<Request<'b>, ssoflow_core::Error>,
    {
        let mut call = Call::new();
        let mut ticket = None;
        let mut buf = net::RequestBuf::new(self.config.request_buffer);
        // Grown at most once per request written (`Error::room_needed`), at the top of the
        // loop: the request borrows `buf` until it is sent.
        let mut grow_to = None;
        let mut guard = session.lock();
        loop {
            let limit = match grow_to.take() {
                Some(needed) => {
                    buf.grow(needed);
                    0
                }
                None => usize::MAX,
            };
            let room = buf.len();
            match guard.access(self.now(), ticket.take()) {
                Access::Ready { token, generation } => {
                    let request = match build(token, buf.bytes()) {
                        Ok(r) => r,
                        Err(e) => {
                            grow_to = Some(e.room_needed(room, limit)?);
                            continue;
                        }
                    };
                    drop(guard);
                    let response = self.send(&request)?;
                    guard = session.lock();
                    match call.on_status(&mut guard, generation, response.status)? {
                        Verdict::Done => return Ok(response),
                        Verdict::Retry => {
                            tracing::debug!(generation, "401: signing in again, then one retry");
                        }
                    }
                }
                Access::SignIn { previous } => {
                    let flow =
                        crate::entropy().map(|entropy| session.recipe.flow(key, previous, entropy));
                    (guard, ticket) = self.sign_in(session, guard, flow)?;
                }
                Access::Wait { ticket: t, until } => {
                    ticket = Some(t);
                    guard = session.wait(guard, until.map(|at| at.millis_since(self.now())));
                }
                Access::Failed(e) => return Err(e),
            }
        }
    }

    /// Run the sign-in the session told this caller to run (`flow`, made under the lock) with
    /// the lock released; record its outcome, wake the waiters and, after a transient failure,
    /// sleep out the backoff. Returns the lock again and the ticket to ask again with.
    #[allow(clippy::type_complexity)]
    fn sign_in<'s, R: Recipe>(
        &self,
        session: &'s SharedSession<R>,
        mut guard: MutexGuard<'s, Session<R::Output, Error>>,
        flow: Result<Result<R::Flow<'s>, ssoflow_core::Error>, Error>,
    ) -> Result<(MutexGuard<'s, Session<R::Output, Error>>, Option<Ticket>), Error> {
        let flow = match flow {
            Ok(flow) => flow,
            Err(e) => {
                guard.sign_in_abandoned();
                return Err(e);
            }
        };
        let pending = PendingSignIn {
            shared: session,
            armed: true,
        };
        drop(guard);
        let result = match flow {
            Ok(mut flow) => {
                let result = self.run_mut(&mut flow);
                session.recipe.keep(&flow);
                result
            }
            Err(e) => Err(Error::Core(e)),
        };
        let mut guard = session.lock();
        let mut pending = pending;
        pending.armed = false;
        let mut ticket = None;
        let wait_until = match result {
            Ok(token) => {
                guard.signed_in(self.now(), token);
                None
            }
            Err(e) => match guard.sign_in_failed(self.now(), e, jitter()) {
                AfterFailure::RetryAt(at) => Some(at),
                // Ask again with this run's ticket: a still-valid token, or the failure.
                AfterFailure::Failed(_) => {
                    ticket = Some(guard.ticket());
                    None
                }
            },
        };
        session.changed.notify_all();
        if let Some(at) = wait_until {
            // Back off without the lock; then ask again (this caller or a waiter whose
            // deadline also passed runs the retry).
            drop(guard);
            std::thread::sleep(Duration::from_millis(at.millis_since(self.now())));
            guard = session.lock();
        }
        Ok((guard, ticket))
    }

    /// Sign out of `session`: revoke its tokens at the RFC 7009 revocation endpoint
    /// `revocation_url` of `client` (the refresh token first, then the access token; a 503 is
    /// retried after the session policy's backoff), then forget them.
    ///
    /// Meanwhile no caller gets the token and no sign-in starts; a sign-in already running is
    /// waited for and its token revoked. The tokens are forgotten even when the revocation
    /// fails (its error is returned): a shared terminal never keeps the last person's tokens.
    pub fn sign_out<R>(
        &self,
        session: &SharedSession<R>,
        client: &oauth2::Client,
        revocation_url: &str,
    ) -> Result<(), Error>
    where
        R: Recipe,
        R::Output: Clone,
    {
        let mut guard = session.lock();
        let held = loop {
            match guard.sign_out() {
                SignOut::Revoke { token } => break token.cloned(),
                SignOut::Wait { .. } => guard = session.wait(guard, None),
            }
        };
        // If the revocation panics, the session still forgets the tokens and wakes the others.
        let pending = PendingSignOut { shared: session };
        drop(guard);
        let result = match &held {
            Some(tokens) => crate::entropy().and_then(|entropy| {
                let flow = oauth2::revoke_tokens(client, revocation_url, tokens)?
                    .with_policy(*session.lock().policy())
                    .with_entropy(entropy);
                self.run_paced(flow)
            }),
            None => Ok(()),
        };
        drop(pending);
        result
    }
}

/// A sign-out in progress: dropped (done, failed or panicked), the session forgets the tokens
/// and the callers waiting on it wake.
struct PendingSignOut<'s, R: Recipe> {
    shared: &'s SharedSession<R>,
}

impl<R: Recipe> Drop for PendingSignOut<'_, R> {
    fn drop(&mut self) {
        self.shared.lock().signed_out();
        self.shared.changed.notify_all();
    }
}
