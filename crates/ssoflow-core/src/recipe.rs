//! Sign-in recipes: "given the previous output, if any, the flow that produces the next one".
//!
//! A [`Recipe`] is what a [`Session`](crate::session::Session) signs in with. The session
//! decides *when* (first use, renewal before expiry, after a 401, after a backoff); the recipe
//! decides *how*: log in, or refresh with the previous output's refresh token and log in again
//! when the refresh is refused, or reuse the M2M token the last sign-in fetched. Drivers take a
//! recipe, never a closure that builds a sign-in, so every driver signs in the same way.
//!
//! The core's recipes, one per vendor and grant:
//!
//! | recipe | key | output | renews with |
//! |---|---|---|---|
//! | [`oauth2::ClientCredentials`](crate::oauth2::ClientCredentials) | `()` | `TokenSet` | a new grant |
//! | [`oauth2::Password`](crate::oauth2::Password) | `()` | `TokenSet` | the refresh token, else the password |
//! | [`oauth2::Refreshing`](crate::oauth2::Refreshing) | `()` | `TokenSet` | the newest refresh token (rotation) |
//! | [`oauth2::TokenExchange`](crate::oauth2::TokenExchange) | `()` | `TokenSet` | a new exchange |
//! | [`par_ordering::M2m`](crate::par_ordering::M2m) | `()` | `AccessToken` | a new M2M token |
//! | [`par_ordering::CustomerSignIn`](crate::par_ordering::CustomerSignIn) | the subject token | `par_ordering::SignIn` | a token exchange, reusing the M2M token |
//! | [`pos_api::Admin`](crate::pos_api::Admin) | `()` | `TokenSet` | the refresh token, else the password |
//! | [`stream::ApiToken`](crate::stream::ApiToken) (`StreamConfig::api_token_recipe`) | `()` | `TokenSet` | a new grant |
//! | [`punchh::Sso`](crate::punchh::Sso) | `()` | `punchh::SsoLogin` | a new SSO exchange |

use crate::session::HasAccessToken;
use crate::{Error, Exchange, Flow, Instant, RefreshToken, Response, Secret, Step, TokenSet};

/// How to sign in: the flow for the next output, given the previous one.
///
/// A recipe is shared (a `&` borrow, or an `Arc` in async drivers) by every caller of a
/// session or cache; the flows it makes borrow it for as long as they run.
pub trait Recipe {
    /// What one sign-in is for: `()` for an application's own token; the customer's
    /// identity-provider token for a PAR Ordering customer sign-in (so a cache keyed by it
    /// holds one session per customer).
    type Key: ?Sized;
    /// What a sign-in produces.
    type Output: HasAccessToken;
    /// The flow that produces it.
    type Flow<'r>: Flow<Output = Self::Output>
    where
        Self: 'r,
        Self::Key: 'r;

    /// The flow for the next output. `previous` is the output held now, if any (its refresh
    /// token, say); the flow copies what it needs. `entropy` is 16 fresh random bytes (request
    /// ids, PKCE): the core has no random source.
    fn flow<'r>(
        &'r self,
        key: &'r Self::Key,
        previous: Option<&Self::Output>,
        entropy: [u8; 16],
    ) -> Result<Self::Flow<'r>, Error>;

    /// Called with the flow once it has ended, done or failed: a recipe may keep what the flow
    /// learnt for the next sign-in (PAR Ordering keeps the M2M token).
    fn keep<'r>(&'r self, flow: &Self::Flow<'r>) {
        let _ = flow;
    }
}

/// A login and a refresh that both answer with a [`TokenSet`]: what [`RenewFlow`] runs.
pub trait Renewable {
    /// The login exchange (user name and password, or a grant that needs no refresh token).
    type Login<'a>: Exchange<Output = TokenSet>
    where
        Self: 'a;
    /// The refresh exchange for one refresh token; it keeps that token when the answer has no
    /// new one.
    type Refresh<'a>: Exchange<Output = TokenSet>
    where
        Self: 'a;

    /// The login, or `None` when there is none to fall back to (a refused refresh is final).
    fn login(&self) -> Result<Option<Self::Login<'_>>, Error>;
    /// The refresh of `refresh_token`.
    fn refresh<'a>(&'a self, refresh_token: &'a str) -> Result<Self::Refresh<'a>, Error>;
    /// The refresh token to start from when there is no previous output.
    fn initial_refresh(&self) -> Option<&str> {
        None
    }
}

/// Every login-and-refresh pair is a recipe: [`RenewFlow`] from the previous output.
impl<G: Renewable> Recipe for G {
    type Key = ();
    type Output = TokenSet;
    type Flow<'r>
        = RenewFlow<'r, G>
    where
        G: 'r;

    fn flow<'r>(
        &'r self,
        _key: &'r (),
        previous: Option<&TokenSet>,
        _entropy: [u8; 16],
    ) -> Result<RenewFlow<'r, G>, Error> {
        RenewFlow::new(self, previous)
    }
}

/// `true` for a refusal a login may cure: a 4xx that is not "slow down" (the refresh token
/// expired, was revoked or rotated away).
fn refused(e: &Error) -> bool {
    !e.is_transient() && e.status().is_some_and(|s| (400..500).contains(&s))
}

/// The refresh state without a refresh token: a bug in [`RenewFlow`].
const NO_REFRESH: Error = Error::Internal {
    what: "a refresh without a refresh token",
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RenewState {
    Refresh,
    AwaitRefresh,
    Login,
    AwaitLogin,
    Done,
    Finished,
}

/// Refresh with the previous output's refresh token; when the refresh is refused (or there is
/// no refresh token), log in.
///
/// ```text
/// start ─ refresh token? ─yes─► Refresh ─send─► AwaitRefresh ─2xx─► Done
///            │                                      │ 4xx refusal, a login exists ─► Login
///            └─no──────────────────────────────────────────────────────────────────► Login
/// Login ─send─► AwaitLogin ─2xx─► Done        (any other error → Err)
/// ```
#[derive(Debug)]
pub struct RenewFlow<'r, G: Renewable> {
    grants: &'r G,
    refresh: Option<RefreshToken>,
    state: RenewState,
}

impl<'r, G: Renewable> RenewFlow<'r, G> {
    /// Renew from `previous` (its refresh token), else from the grants' initial refresh token,
    /// else log in.
    pub fn new(grants: &'r G, previous: Option<&TokenSet>) -> Result<Self, Error> {
        let from = previous
            .and_then(|p| p.refresh.as_ref().map(Secret::expose))
            .or_else(|| grants.initial_refresh());
        let refresh = match from {
            Some(token) => Some(Secret::new(token, "refresh_token")?),
            None => None,
        };
        let state = if refresh.is_some() {
            RenewState::Refresh
        } else {
            RenewState::Login
        };
        Ok(RenewFlow {
            grants,
            refresh,
            state,
        })
    }

    fn refresh_token(&self) -> Result<&str, Error> {
        self.refresh.as_ref().map(Secret::expose).ok_or(NO_REFRESH)
    }
}

impl<G: Renewable> Flow for RenewFlow<'_, G> {
    type Output = TokenSet;

    fn poll<'b>(&mut self, now: Instant, buf: &'b mut [u8]) -> Result<Step<'b>, Error> {
        let request = match self.state {
            RenewState::Refresh => self
                .grants
                .refresh(self.refresh_token()?)?
                .request(now, buf)?,
            RenewState::Login => match self.grants.login()? {
                Some(mut login) => login.request(now, buf)?,
                None => {
                    return Err(Error::InvalidInput {
                        what: "refresh_token",
                    });
                }
            },
            RenewState::Done => {
                self.state = RenewState::Finished;
                return Ok(Step::Done);
            }
            RenewState::AwaitRefresh | RenewState::AwaitLogin | RenewState::Finished => {
                return Err(Error::State);
            }
        };
        self.state = match self.state {
            RenewState::Refresh => RenewState::AwaitRefresh,
            _ => RenewState::AwaitLogin,
        };
        Ok(Step::Send(request))
    }

    fn handle(
        &mut self,
        now: Instant,
        response: Response<'_>,
        out: &mut Option<TokenSet>,
    ) -> Result<(), Error> {
        let read = match self.state {
            RenewState::AwaitRefresh => {
                let token = self.refresh.as_ref().map(Secret::expose);
                let mut refresh = self.grants.refresh(token.ok_or(NO_REFRESH)?)?;
                refresh.response_into(now, response, out)
            }
            RenewState::AwaitLogin => match self.grants.login()? {
                Some(mut login) => login.response_into(now, response, out),
                None => Err(Error::State),
            },
            _ => return Err(Error::State),
        };
        let read = read.and_then(|()| match out {
            Some(_) => Ok(()),
            None => Err(Error::NO_OUTPUT),
        });
        match read {
            Ok(()) => {
                self.state = RenewState::Done;
                Ok(())
            }
            Err(e) if self.state == RenewState::AwaitRefresh && refused(&e) => {
                // The refresh token is spent or revoked: log in again, if there is a login.
                *out = None;
                if self.grants.login()?.is_some() {
                    self.state = RenewState::Login;
                    Ok(())
                } else {
                    self.state = RenewState::Finished;
                    Err(e)
                }
            }
            Err(e) => {
                *out = None;
                self.state = RenewState::Finished;
                Err(e)
            }
        }
    }
}
