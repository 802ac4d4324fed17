//! Shared server state: the configuration, the clock and hooks, and every vendor's data behind one lock.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::config::Config;
use crate::hooks::{Clock, Hooks};
use crate::login::LoginState;
use crate::oauth2::OAuth2State;
use crate::par::ParState;
use crate::pos::PosState;
use crate::punchh::PunchhState;
use crate::stream::StreamState;
use crate::util::random_bytes;

/// What every handler gets.
pub(crate) type AppState = Arc<Shared>;

/// Immutable settings plus the mutable data.
#[derive(Debug)]
pub(crate) struct Shared {
    /// The configuration the sandbox started with.
    pub(crate) config: Config,
    /// `http://127.0.0.1:PORT`.
    pub(crate) base_url: String,
    /// Sandbox time.
    pub(crate) clock: Clock,
    /// Faults and call counts.
    pub(crate) hooks: Hooks,
    /// Key that signs the JWT-shaped tokens.
    pub(crate) jwt_key: Vec<u8>,
    /// When the sandbox started (sandbox epoch seconds): the Punchh test user's creation time.
    pub(crate) started_s: u64,
    /// Client for calling the configured customer-info endpoint.
    pub(crate) http: reqwest::Client,
    /// Whether `/authorize` shows the sign-in form (else it auto-approves: a test hook).
    pub(crate) login_form: bool,
    data: Mutex<Data>,
}

/// All vendors' mutable data; one lock, never held across an `.await`.
#[derive(Debug)]
pub(crate) struct Data {
    pub(crate) par: ParState,
    pub(crate) punchh: PunchhState,
    pub(crate) stream: StreamState,
    pub(crate) pos: PosState,
    pub(crate) oauth2: OAuth2State,
    pub(crate) login: LoginState,
}

impl Shared {
    /// Fresh state for a sandbox reachable at `base_url`; `login_form`: see the field.
    pub(crate) fn new(config: Config, base_url: String, login_form: bool) -> std::io::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(std::io::Error::other)?;
        let clock = Clock::default();
        let started_s = clock.now_s();
        Ok(Self {
            config,
            base_url,
            clock,
            hooks: Hooks::default(),
            jwt_key: random_bytes(32),
            started_s,
            http,
            login_form,
            data: Mutex::new(Data {
                par: ParState::default(),
                punchh: PunchhState::new(),
                stream: StreamState::default(),
                pos: PosState::default(),
                oauth2: OAuth2State::default(),
                login: LoginState::default(),
            }),
        })
    }

    /// Locks the vendor data.
    pub(crate) fn data(&self) -> MutexGuard<'_, Data> {
        lock(&self.data)
    }
}

/// Locks a mutex, recovering the data if a previous holder panicked.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
