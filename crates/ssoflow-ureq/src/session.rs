//! A core [`Session`] behind a lock, and protected calls with refresh-on-401.
//!
//! The core decides everything (who signs in, when to retry, when to give up); this module adds
//! the mutex, the condition variable that waiting callers sleep on, and the I/O — always done
//! with the lock released.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use ssoflow_core::session::{Access, Call, DEFAULT_SKEW_MS, HasAccessToken, Session, Verdict};
use ssoflow_core::{Flow, Request};

use crate::{Driver, Error, OwnedResponse};

/// One [`Session`] shared by threads: the session behind a mutex, and a condition variable on
/// which callers told to `Wait` sleep until the sign-in in flight ends.
///
/// Share it by reference (or in an `Arc`) and pass it to [`Driver::send_authorized`].
#[derive(Debug)]
pub struct SharedSession<T> {
    session: Mutex<Session<T>>,
    changed: Condvar,
}

impl<T: HasAccessToken> SharedSession<T> {
    /// An empty session renewing tokens `skew_ms` before they expire.
    pub fn new(skew_ms: u64) -> Self {
        Self::from_session(Session::new(skew_ms))
    }

    /// Share an existing session.
    pub fn from_session(session: Session<T>) -> Self {
        SharedSession {
            session: Mutex::new(session),
            changed: Condvar::new(),
        }
    }

    /// Lock the session (e.g. to read the current token or sign out). A lock poisoned by a
    /// panicking thread is taken over: the session's state is always consistent.
    pub fn lock(&self) -> MutexGuard<'_, Session<T>> {
        self.session.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wait<'a>(&self, guard: MutexGuard<'a, Session<T>>) -> MutexGuard<'a, Session<T>> {
        self.changed
            .wait(guard)
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T: HasAccessToken> Default for SharedSession<T> {
    /// An empty session with the core's default skew.
    fn default() -> Self {
        Self::new(DEFAULT_SKEW_MS)
    }
}

impl<T: HasAccessToken> From<Session<T>> for SharedSession<T> {
    fn from(session: Session<T>) -> Self {
        Self::from_session(session)
    }
}

/// The sign-in this caller was told to run. If it is dropped without [`succeed`](Self::succeed)
/// (an error, or a panic in the flow) the session hears `sign_in_failed` and the waiters wake,
/// so nobody waits forever.
struct PendingSignIn<'s, T: HasAccessToken> {
    shared: &'s SharedSession<T>,
    armed: bool,
}

impl<T: HasAccessToken> PendingSignIn<'_, T> {
    fn succeed(mut self, token: T) {
        self.armed = false;
        self.shared.lock().signed_in(token);
        self.shared.changed.notify_all();
    }
}

impl<T: HasAccessToken> Drop for PendingSignIn<'_, T> {
    fn drop(&mut self) {
        if self.armed {
            self.shared.lock().sign_in_failed();
            self.shared.changed.notify_all();
        }
    }
}

impl Driver {
    /// Send a protected request with the session's token, signing in when needed.
    ///
    /// - No usable token: one caller (across all threads sharing `session`) runs
    ///   `sign_in(previous)` — `previous` is the last sign-in result, e.g. to use its refresh
    ///   token — while the others wait; then every caller uses the new token.
    /// - `build(token, buf)` writes the protected request (vendor headers come from the core's
    ///   helpers, e.g. `par_ordering::Config::protected_request`).
    /// - A 401 answer: the token is dropped once however many callers saw it, one re-sign-in
    ///   happens, and the call is retried once; a second 401 is
    ///   `Error::Core(ssoflow_core::Error::Unauthorized)`.
    ///
    /// Every other answer, success or not, is returned as it is. The lock is never held during
    /// I/O.
    pub fn send_authorized<T, F, S, B>(
        &self,
        session: &SharedSession<T>,
        mut sign_in: S,
        mut build: B,
    ) -> Result<OwnedResponse, Error>
    where
        T: HasAccessToken,
        F: Flow<Output = T>,
        S: FnMut(Option<&T>) -> Result<F, ssoflow_core::Error>,
        B: for<'b> FnMut(&T, &'b mut [u8]) -> Result<Request<'b>, ssoflow_core::Error>,
    {
        let mut call = Call::new();
        let mut buf = vec![0u8; self.config.request_buffer];
        let mut grow_to: Option<usize> = None;
        let mut guard = session.lock();
        loop {
            // Grow at most once per request written; a flow asking twice would be a core bug.
            let grown = match grow_to.take() {
                Some(n) => {
                    buf.resize(n, 0);
                    true
                }
                None => false,
            };
            let len = buf.len();
            match guard.access(self.now()) {
                Access::Ready { token, generation } => {
                    let request = match build(token, &mut buf) {
                        Ok(r) => r,
                        Err(ssoflow_core::Error::BufferTooSmall { required })
                            if !grown && required > len =>
                        {
                            grow_to = Some(required);
                            continue;
                        }
                        Err(e) => return Err(e.into()),
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
                    let flow = sign_in(previous);
                    let pending = PendingSignIn {
                        shared: session,
                        armed: true,
                    };
                    drop(guard);
                    let token = self.run(flow?)?;
                    pending.succeed(token);
                    guard = session.lock();
                }
                Access::Wait => guard = session.wait(guard),
            }
        }
    }
}
