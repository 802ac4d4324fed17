//! Customer sign-in (and registration) by token exchange: `POST /api/sts/users/sign-in`.
//!
//! ```text
//!            ┌─────────── no cached M2M token ───────────┐
//! start ─────┤                                            ▼
//!            └─ cached ─► SignIn ──send──► AwaitSignIn   NeedM2m ──send──► AwaitM2m ──200──► SignIn
//!                                             │ 2xx → Done(SignIn)
//!                                             │ 401 with a cached M2M token → drop it → NeedM2m
//!                                             │ 401 with a fresh M2M token → SubjectTokenRefused
//!                                             └ other error → Err
//! ```
//!
//! The subject token is the customer's access token at their identity provider (seed 000's
//! prerequisites: it "should be available to share when making calls"). Each sign-in takes it
//! afresh: a re-sign-in after a 401 builds a new flow, so pass the identity provider's current
//! token (refreshed there if needed), not one captured at start-up. A refused subject token is
//! [`Error::SubjectTokenRefused`], never retried with the same token.

use core::marker::PhantomData;

use super::account::{CustomerAccount, read_account};
use super::{ParConfig, RequestIds, m2m, read_envelope};
use crate::exchange::read_in_place;
use crate::json::{JsonError, Parser, Seen, is};
use crate::recipe::Recipe;
use crate::session::HasAccessToken;
use crate::token::check_token_chars;
use crate::{AccessToken, Error, Expiry, Flow, Instant, Method, Response, Step};

/// What a sign-in yields: the account, the menu token and, for Punchh brands, the DLC token
/// (sent as `DLC-Authorization: Bearer …` on Punchh-specific calls by
/// [`ParConfig::dlc_request`](super::ParConfig::dlc_request)).
///
/// A token's `ttl` is in **minutes** (seed 000: `"ttl": 60` beside a JWT whose `exp - iat` is
/// 3600 s), so its expiry is the answer's arrival plus `ttl × 60` s. A missing `ttl` is an
/// unknown lifetime: the session then relies on a 401.
///
/// The menu token is laid out last (`repr(C)`) for the reason given at
/// [`TokenSet`](crate::TokenSet): no 2 KiB `memset` when an empty answer is set up to read into.
#[derive(Clone, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct SignIn {
    /// The customer's account.
    pub customer: CustomerAccount,
    /// The menu token's `ttl` as received, in minutes (`None` when absent or `null`).
    pub menu_token_ttl_min: Option<u64>,
    /// The DLC token, when the brand uses Punchh.
    pub dlc_token: Option<AccessToken>,
    /// The DLC token's `ttl` as received, in minutes.
    pub dlc_token_ttl_min: Option<u64>,
    /// The menu token for protected calls.
    pub menu_token: AccessToken,
}

impl SignIn {
    /// An empty result: the slot the answer is read into.
    fn empty() -> Self {
        SignIn {
            customer: CustomerAccount::default(),
            menu_token: AccessToken::empty(),
            menu_token_ttl_min: None,
            dlc_token: None,
            dlc_token_ttl_min: None,
        }
    }
}

impl HasAccessToken for SignIn {
    fn access_token(&self) -> &AccessToken {
        &self.menu_token
    }
}

#[derive(Clone, Copy, Debug)]
enum State {
    NeedM2m,
    AwaitM2m,
    SignIn,
    AwaitSignIn,
    /// The answer is in the caller's slot.
    Done,
    Finished,
}

/// The sign-in flow. After it is done, [`SignInFlow::m2m`] gives the M2M token it used, to cache.
pub struct SignInFlow<'c> {
    config: &'c ParConfig,
    subject_token: &'c str,
    ids: RequestIds,
    m2m: Option<AccessToken>,
    /// The M2M token was fetched by this flow: use it even if its lifetime is already over
    /// (`expires_in: 0`), or the flow would fetch it for ever; a 401 with it refuses the subject.
    fresh_m2m: bool,
    state: State,
}

crate::secret::debug_redacted!(SignInFlow { config, ids, m2m, fresh_m2m, state; subject_token });

/// Sign a customer in (registering them if new) with `subject_token`, their identity provider's
/// access token. Pass a cached M2M token if you have one; `ids` makes the request ids.
pub fn sign_in<'c>(
    config: &'c ParConfig,
    m2m: Option<AccessToken>,
    subject_token: &'c str,
    ids: RequestIds,
) -> Result<SignInFlow<'c>, Error> {
    if subject_token.is_empty() {
        return Err(Error::InvalidInput {
            what: "subject_token",
        });
    }
    let state = if m2m.is_some() {
        State::SignIn
    } else {
        State::NeedM2m
    };
    Ok(SignInFlow {
        config,
        subject_token,
        ids,
        m2m,
        fresh_m2m: false,
        state,
    })
}

impl SignInFlow<'_> {
    /// The M2M token the flow holds (fetched or given), to reuse for the next sign-in.
    pub fn m2m(&self) -> Option<&AccessToken> {
        self.m2m.as_ref()
    }
}

/// The customer sign-in as a [`Recipe`]: the key is the customer's identity-provider access
/// token (the subject token), asked of the caller on every sign-in, so a re-sign-in uses the
/// token the caller holds *then*; the M2M token is kept from one sign-in to the next and
/// fetched again only when it is refused (401) or expired.
///
/// `K` is how callers hold the subject token (`str`, `String`, …).
#[derive(Debug)]
pub struct CustomerSignIn<'c, K: ?Sized = str> {
    config: &'c ParConfig,
    m2m: spin::Mutex<Option<AccessToken>>,
    key: PhantomData<fn(&K)>,
}

impl<'c, K: ?Sized> CustomerSignIn<'c, K> {
    /// Sign customers in to the application of `config`.
    pub fn new(config: &'c ParConfig) -> Self {
        CustomerSignIn {
            config,
            m2m: spin::Mutex::new(None),
            key: PhantomData,
        }
    }

    /// Start with an M2M token fetched elsewhere (e.g. the application's own [`M2m`](super::M2m) session).
    pub fn with_m2m_token(self, token: AccessToken) -> Self {
        *self.m2m.lock() = Some(token);
        self
    }

    /// The M2M token kept for the next sign-in, if any.
    pub fn m2m_token(&self) -> Option<AccessToken> {
        self.m2m.lock().clone()
    }
}

impl<K: AsRef<str> + ?Sized> Recipe for CustomerSignIn<'_, K> {
    type Key = K;
    type Output = SignIn;
    type Flow<'r>
        = SignInFlow<'r>
    where
        Self: 'r,
        K: 'r;

    // Out of line: the flow is built in this frame and copied into the caller's `Result`
    // (Rust does not build a returned local in place); inlined, that working copy would stay
    // in the driver's sign-in frame beside the one it runs, 2 KiB for the whole sign-in.
    #[inline(never)]
    fn flow<'r>(
        &'r self,
        key: &'r K,
        _previous: Option<&SignIn>,
        entropy: [u8; 16],
    ) -> Result<SignInFlow<'r>, Error> {
        // The kept token is cloned straight into the flow, where it is returned (no copy of
        // the token on the stack).
        let mut made = sign_in(self.config, None, key.as_ref(), RequestIds::new(entropy));
        if let Ok(flow) = &mut made {
            AccessToken::clone_into_slot(&mut flow.m2m, self.m2m.lock().as_ref());
            if flow.m2m.is_some() {
                flow.state = State::SignIn;
            }
        }
        made
    }

    fn keep<'r>(&'r self, flow: &SignInFlow<'r>) {
        // The token the flow ended with: the one it reused, a fresh one, or none when the
        // old one was refused and no new one came.
        AccessToken::clone_into_slot(&mut self.m2m.lock(), flow.m2m());
    }
}

impl Flow for SignInFlow<'_> {
    type Output = SignIn;

    fn poll<'b>(&mut self, now: Instant, buf: &'b mut [u8]) -> Result<Step<'b>, Error> {
        match self.state {
            State::NeedM2m => {
                let request = m2m::write_request(self.config, &mut self.ids, buf)?;
                self.state = State::AwaitM2m;
                Ok(Step::Send(request))
            }
            State::SignIn => {
                // An M2M token known to have expired is fetched again first.
                if self
                    .m2m
                    .as_ref()
                    .is_none_or(|t| !self.fresh_m2m && t.expiry.needs_refresh(now, 0))
                {
                    self.m2m = None;
                    self.state = State::NeedM2m;
                    return self.poll(now, buf);
                }
                let request = self.write_sign_in(buf)?;
                self.state = State::AwaitSignIn;
                Ok(Step::Send(request))
            }
            State::Done => {
                self.state = State::Finished;
                Ok(Step::Done)
            }
            State::AwaitM2m | State::AwaitSignIn | State::Finished => Err(Error::State),
        }
    }

    fn handle(
        &mut self,
        now: Instant,
        response: Response<'_>,
        out: &mut Option<SignIn>,
    ) -> Result<(), Error> {
        let state = core::mem::replace(&mut self.state, State::Finished);
        match state {
            State::AwaitM2m => {
                read_in_place(&mut self.m2m, AccessToken::empty(), |t| {
                    m2m::read_response_into(self.config, now, response, t)
                })?;
                self.fresh_m2m = true;
                self.state = State::SignIn;
                Ok(())
            }
            State::AwaitSignIn if response.status == 401 => {
                if self.fresh_m2m {
                    // Refused with an M2M token fetched just now: the subject token is the
                    // problem.
                    return Err(Error::SubjectTokenRefused {
                        status: response.status,
                        code: super::envelope_code(response.body),
                        message: crate::Excerpt::of(response.body),
                    });
                }
                // The M2M token expired or was revoked: get a new one once, retry once.
                self.m2m = None;
                self.state = State::NeedM2m;
                Ok(())
            }
            State::AwaitSignIn => {
                read_in_place(out, SignIn::empty(), |out| {
                    read_sign_in_into(now, response, out)
                })?;
                self.state = State::Done;
                Ok(())
            }
            other => {
                // Misuse is refused without losing where the flow was.
                self.state = other;
                Err(Error::State)
            }
        }
    }
}

impl SignInFlow<'_> {
    #[inline(never)]
    fn write_sign_in<'b>(&mut self, buf: &'b mut [u8]) -> Result<crate::Request<'b>, Error> {
        let m2m = self.m2m.as_ref().ok_or(Error::Internal {
            what: "a sign-in without an M2M token",
        })?;
        let mut rb =
            self.config
                .request(buf, Method::Post, "/api/sts/users/sign-in", &mut self.ids);
        rb.bearer(m2m.value.expose());
        rb.json_body(&[
            ("grant_type", "token_exchange"),
            ("subject_token", self.subject_token),
            ("subject_token_type", "access_token"),
        ]);
        rb.finish_in_place()
    }
}

/// Seconds in one minute: PAR's `ttl` counts minutes.
const SECS_PER_MIN: u64 = 60;

/// Read a `{"value":…,"ttl":…}` token object into `out` (empty) and `ttl_min`; the expiry is
/// `ttl` minutes after `now`.
fn read_token(
    p: &mut Parser<'_>,
    now: Instant,
    what: &'static str,
    out: &mut AccessToken,
    ttl_min: &mut Option<u64>,
) -> Result<(), JsonError> {
    const VALUE: u32 = 1;
    const TTL: u32 = 1 << 1;
    let mut seen = Seen::new();
    let mut ttl = None;
    p.object(what, |p, key| match key {
        k if is(k, "value") => {
            seen.first(VALUE, what)?;
            p.string_into(&mut out.value, what)
        }
        k if is(k, "ttl") && p.null() => Ok(()),
        k if is(k, "ttl") => {
            let v = p.u64_or_string("ttl", true)?;
            seen.first(TTL, "ttl")?;
            ttl = Some(v);
            Ok(())
        }
        _ => p.skip(),
    })?;
    seen.required(VALUE, what)?;
    if !check_token_chars(out.value.as_bytes()) {
        return Err(JsonError::Malformed(what));
    }
    *ttl_min = ttl;
    out.expiry = Expiry::after(now, ttl.map(|m| m.saturating_mul(SECS_PER_MIN)));
    Ok(())
}

/// Read the sign-in answer into `out` (empty).
#[inline(never)]
fn read_sign_in_into(now: Instant, response: Response<'_>, out: &mut SignIn) -> Result<(), Error> {
    const CUSTOMER: u32 = 1;
    const MENU: u32 = 1 << 1;
    const DLC: u32 = 1 << 2;
    let mut seen = Seen::new();
    read_envelope(response, &mut |p, key| match key {
        k if is(k, "customer_account") => {
            seen.first(CUSTOMER, "customer_account")?;
            read_account(p, &mut out.customer)
        }
        k if is(k, "token") => {
            seen.first(MENU, "token")?;
            read_token(
                p,
                now,
                "token.value",
                &mut out.menu_token,
                &mut out.menu_token_ttl_min,
            )
        }
        k if is(k, "dlc_access_token") && p.null() => Ok(()),
        k if is(k, "dlc_access_token") => {
            seen.first(DLC, "dlc_access_token")?;
            let dlc = out.dlc_token.insert(AccessToken::empty());
            read_token(
                p,
                now,
                "dlc_access_token.value",
                dlc,
                &mut out.dlc_token_ttl_min,
            )
        }
        _ => p.skip(),
    })?;
    seen.required(CUSTOMER, "customer_account")
        .and_then(|()| seen.required(MENU, "token"))
        .map_err(|e| e.into_error(response.body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::par_ordering::tests::config;
    use crate::testing::{drive, drive_at};
    use crate::{Expiry, Secret};

    const SEED_SIGN_IN: &str = include_str!("../../tests/fixtures/seeds/000_sign_in_response.json");
    const SEED_SIGN_IN_DLC: &str =
        include_str!("../../tests/fixtures/seeds/000_sign_in_response_dlc.json");
    const M2M: &[u8] = br#"{"status":"OK","code":200,"data":{"oauth_token":{"access_token":"m2m","token_type":"bearer","scope":"webhooks-management","expires_in":86399}}}"#;
    const SUBJECT: &str = "test-1100-jane.doe@partech.com-Jane-Doe-+41767567126";
    const DENIED: &[u8] = br#"{"status":"ERROR","code":401,"message":"Unauthenticated"}"#;

    fn cached() -> AccessToken {
        AccessToken {
            value: Secret::new("cached-m2m", "t").unwrap(),
            expiry: Expiry::Unknown,
        }
    }

    #[test]
    fn seed_answers_parse_byte_for_byte() {
        let c = config();
        let flow = sign_in(&c, None, SUBJECT, RequestIds::new([1; 16])).unwrap();
        let (out, transcript) = drive(flow, &[(200, M2M), (200, SEED_SIGN_IN.as_bytes())]);
        let s = out.unwrap();
        assert_eq!(s.customer.id, "01e6d2c9-976b-4953-91e6-3dade887a4c7");
        assert_eq!(s.customer.first_name, "Jane");
        assert_eq!(s.customer.email, "jane.doe@partech.com");
        assert_eq!(s.customer.phone_number, "+17126417675");
        assert_eq!(s.customer.created_at, "2023-09-20 07:38:15");
        assert_eq!(s.customer.optin_status_email, 3);
        assert!(!s.customer.confirmed);
        assert!(
            s.menu_token
                .value
                .expose()
                .starts_with("eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJpc3Mi")
        );
        assert!(
            s.menu_token
                .value
                .expose()
                .ends_with(".xWaQxNP1vAw-VYNS-VwmmXmYM_Ggw6dCW72L6leC89w")
        );
        // seed 000: `"ttl": 60,` — minutes: the menu token lives 3600 s.
        assert_eq!(s.menu_token_ttl_min, Some(60));
        assert_eq!(
            s.menu_token.expiry,
            Expiry::At(Instant::from_millis(3_600_000))
        );
        assert!(s.dlc_token.is_none());
        assert_eq!(
            transcript,
            [
                "send POST https://api-public-playground.menu.app/api/oauth/tokens",
                "handle 200",
                "send POST https://api-public-playground.menu.app/api/sts/users/sign-in",
                "handle 200",
                "done"
            ]
        );

        let flow = sign_in(&c, Some(cached()), SUBJECT, RequestIds::new([1; 16])).unwrap();
        let (out, transcript) = drive(flow, &[(200, SEED_SIGN_IN_DLC.as_bytes())]);
        let s = out.unwrap();
        let dlc = s.dlc_token.unwrap();
        assert!(
            dlc.value
                .expose()
                .ends_with(".MAE4JOlvR6mq_Bmx4Sqj1zYO8s4_b9IIjZIhce6B5Ao")
        );
        assert_eq!(transcript.len(), 3);
    }

    #[test]
    fn the_recipe_keeps_the_m2m_token_until_it_is_refused() {
        let c = config();
        let recipe: CustomerSignIn<'_> = CustomerSignIn::new(&c);
        // First sign-in: fetches the M2M token and keeps it.
        let mut flow = recipe.flow(SUBJECT, None, [1; 16]).unwrap();
        let (out, t) = drive_at(
            &mut flow,
            &[(200, M2M), (200, SEED_SIGN_IN.as_bytes())],
            Instant::from_millis(0),
        );
        assert!(out.is_ok());
        assert_eq!(t.len(), 5);
        recipe.keep(&flow);
        assert_eq!(recipe.m2m_token().unwrap().value.expose(), "m2m");
        // A re-sign-in (the subject asked again) reuses it: one exchange, no M2M call.
        let mut flow = recipe.flow("another-subject", None, [2; 16]).unwrap();
        let (out, t) = drive_at(
            &mut flow,
            &[(200, SEED_SIGN_IN.as_bytes())],
            Instant::from_millis(0),
        );
        assert!(out.is_ok());
        assert_eq!(
            t[0],
            "send POST https://api-public-playground.menu.app/api/sts/users/sign-in"
        );
        recipe.keep(&flow);
        // Refused (401): a fresh one, kept in its place.
        let fresh = br#"{"status":"OK","code":200,"data":{"oauth_token":{"access_token":"m2m-2","token_type":"bearer","expires_in":86399}}}"#;
        let mut flow = recipe.flow(SUBJECT, None, [3; 16]).unwrap();
        let (out, _) = drive_at(
            &mut flow,
            &[(401, DENIED), (200, fresh), (200, SEED_SIGN_IN.as_bytes())],
            Instant::from_millis(0),
        );
        assert!(out.is_ok());
        recipe.keep(&flow);
        assert_eq!(recipe.m2m_token().unwrap().value.expose(), "m2m-2");
    }

    #[test]
    fn golden_sign_in_request() {
        let c = config();
        let mut flow = sign_in(&c, Some(cached()), SUBJECT, RequestIds::new([0; 16])).unwrap();
        let id = RequestIds::new([0; 16]).next_id();
        crate::testing::golden(
            &mut flow,
            &std::format!(
                "POST https://api-public-playground.menu.app/api/sts/users/sign-in\n\
                 Accept: application/json\n\
                 X-Request-ID: {id}\n\
                 Application: f3a90488ffee32c3acb6fcd0ca417cf6\n\
                 Api-Version: 4.38.0\n\
                 X-Ordering-API: true\n\
                 Authorization: Bearer cached-m2m\n\
                 Content-Type: application/json\n\
                 \n\
                 {{\"grant_type\":\"token_exchange\",\"subject_token\":\"{SUBJECT}\",\"subject_token_type\":\"access_token\"}}"
            ),
        );
    }

    #[test]
    fn a_401_refetches_the_m2m_token_once() {
        let c = config();
        let flow = sign_in(&c, Some(cached()), SUBJECT, RequestIds::new([1; 16])).unwrap();
        let (out, transcript) = drive(
            flow,
            &[(401, DENIED), (200, M2M), (200, SEED_SIGN_IN.as_bytes())],
        );
        assert!(out.is_ok());
        assert_eq!(
            transcript,
            [
                "send POST https://api-public-playground.menu.app/api/sts/users/sign-in",
                "handle 401",
                "send POST https://api-public-playground.menu.app/api/oauth/tokens",
                "handle 200",
                "send POST https://api-public-playground.menu.app/api/sts/users/sign-in",
                "handle 200",
                "done"
            ]
        );
        // Never a loop: the second 401 is final, with the envelope's reason.
        let flow = sign_in(&c, Some(cached()), SUBJECT, RequestIds::new([1; 16])).unwrap();
        let (out, transcript) = drive(
            flow,
            &[(401, DENIED), (200, M2M), (401, DENIED), (200, M2M)],
        );
        assert!(matches!(
            out,
            Err(Error::SubjectTokenRefused {
                status: 401,
                code: Some(401),
                ..
            })
        ));
        assert_eq!(transcript.len(), 7, "{transcript:?}");
        assert_eq!(transcript[6], "error subject_token_refused");
    }

    #[test]
    fn a_401_with_a_fresh_m2m_token_refuses_the_subject_at_once() {
        // No cached M2M token: the one fetched now is good, so a 401 is the subject's fault
        // and no second M2M token is fetched.
        let c = config();
        let flow = sign_in(&c, None, SUBJECT, RequestIds::new([1; 16])).unwrap();
        let (out, transcript) = drive(flow, &[(200, M2M), (401, DENIED), (200, M2M)]);
        let e = out.unwrap_err();
        assert_eq!(e.kind(), "subject_token_refused");
        assert_eq!(e.status(), Some(401));
        assert!(std::format!("{e}").contains("customer's token was refused"));
        assert_eq!(
            transcript,
            [
                "send POST https://api-public-playground.menu.app/api/oauth/tokens",
                "handle 200",
                "send POST https://api-public-playground.menu.app/api/sts/users/sign-in",
                "handle 401",
                "error subject_token_refused"
            ]
        );
    }

    #[test]
    fn the_menu_token_ttl_is_minutes_as_the_seed_jwt_shows() {
        use base64::Engine as _;
        // seed 000: `"value": "eyJ0eXAiOiJKV1Qi…"` with `"ttl": 60,` — decode the JWT's claims.
        let jwt = SEED_SIGN_IN
            .split("\"value\": \"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap();
        let claims = jwt.split('.').nth(1).unwrap();
        let mut decoded = [0u8; 512];
        let n = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode_slice(claims, &mut decoded)
            .unwrap();
        let claims: serde_json::Value = serde_json::from_slice(&decoded[..n]).unwrap();
        let lifetime = claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap();
        assert_eq!(lifetime, 3600);
        let c = config();
        let flow = sign_in(&c, Some(cached()), SUBJECT, RequestIds::new([1; 16])).unwrap();
        let mut flow = flow;
        let start = Instant::from_millis(5_000);
        let (out, _) = drive_at(&mut flow, &[(200, SEED_SIGN_IN.as_bytes())], start);
        let s = out.unwrap();
        assert_eq!(
            s.menu_token.expiry,
            Expiry::At(start.plus_secs(s.menu_token_ttl_min.unwrap() * 60))
        );
        assert_eq!(s.menu_token.expiry, Expiry::At(start.plus_secs(lifetime)));
        // seed 000 (DLC answer): `"ttl": 60,` `"refresh_ttl": 0,` — the DLC token too.
        let mut flow = sign_in(&c, Some(cached()), SUBJECT, RequestIds::new([1; 16])).unwrap();
        let (out, _) = drive_at(&mut flow, &[(200, SEED_SIGN_IN_DLC.as_bytes())], start);
        let s = out.unwrap();
        assert_eq!(s.dlc_token_ttl_min, Some(60));
        assert_eq!(
            s.dlc_token.unwrap().expiry,
            Expiry::At(start.plus_secs(3600))
        );
    }

    #[test]
    fn an_expired_cached_m2m_token_is_refetched_first() {
        let c = config();
        let old = AccessToken {
            value: Secret::new("old", "t").unwrap(),
            expiry: Expiry::At(Instant::from_millis(10)),
        };
        let mut flow = sign_in(&c, Some(old), SUBJECT, RequestIds::new([1; 16])).unwrap();
        let (out, transcript) = drive_at(
            &mut flow,
            &[(200, M2M), (200, SEED_SIGN_IN.as_bytes())],
            Instant::from_millis(20),
        );
        assert!(out.is_ok());
        assert_eq!(
            transcript[0],
            "send POST https://api-public-playground.menu.app/api/oauth/tokens"
        );
        assert_eq!(flow.m2m().unwrap().value.expose(), "m2m");
    }

    #[test]
    fn a_fresh_m2m_token_is_used_even_with_expires_in_0() {
        let zero = br#"{"status":"OK","code":200,"data":{"oauth_token":{"access_token":"m2m","token_type":"bearer","expires_in":0}}}"#;
        let c = config();
        let flow = sign_in(&c, None, SUBJECT, RequestIds::new([1; 16])).unwrap();
        let (out, transcript) = drive(flow, &[(200, zero), (200, SEED_SIGN_IN.as_bytes())]);
        assert!(out.is_ok(), "{transcript:?}");
    }

    #[test]
    fn a_refused_second_handle_keeps_the_answer() {
        let c = config();
        let mut flow = sign_in(&c, Some(cached()), SUBJECT, RequestIds::new([1; 16])).unwrap();
        let mut buf = [0u8; 4096];
        assert!(matches!(
            flow.poll(Instant::from_millis(0), &mut buf),
            Ok(Step::Send(_))
        ));
        let mut out = None;
        flow.handle(
            Instant::from_millis(0),
            Response::new(200, SEED_SIGN_IN.as_bytes()),
            &mut out,
        )
        .unwrap();
        let mut second = None;
        assert_eq!(
            flow.handle(
                Instant::from_millis(0),
                Response::new(200, b"{}"),
                &mut second
            ),
            Err(Error::State)
        );
        assert!(second.is_none());
        assert!(matches!(
            flow.poll(Instant::from_millis(0), &mut buf),
            Ok(Step::Done)
        ));
        assert_eq!(out.unwrap().customer.email.as_str(), "jane.doe@partech.com");
    }

    #[test]
    fn bad_answers() {
        let c = config();
        let cases: &[(&str, u16, &str)] = &[
            (
                "error envelope",
                200,
                r#"{"status":"ERROR","code":422,"message":"invalid"}"#,
            ),
            ("422", 422, r#"{"status":"ERROR","code":422}"#),
            (
                "no ttl is fine",
                200,
                r#"{"status":"OK","code":200,"data":{"customer_account":{"id":"01e6d2c9-976b-4953-91e6-3dade887a4c7"},"token":{"value":"t"}}}"#,
            ),
            (
                "numeric-looking id",
                200,
                r#"{"status":"OK","code":200,"data":{"customer_account":{"id":"5091514"},"token":{"value":"t","ttl":60}}}"#,
            ),
            (
                // seed 000's attribute table: `customer_account.id | string | "90488ffee32c3acb6fcd0ca417cf6f3a"`
                "32-hex id",
                200,
                r#"{"status":"OK","code":200,"data":{"customer_account":{"id":"90488ffee32c3acb6fcd0ca417cf6f3a"},"token":{"value":"t","ttl":60}}}"#,
            ),
            (
                "empty id",
                200,
                r#"{"status":"OK","code":200,"data":{"customer_account":{"id":""},"token":{"value":"t","ttl":60}}}"#,
            ),
            (
                "control character in id",
                200,
                r#"{"status":"OK","code":200,"data":{"customer_account":{"id":"a\u001bb"},"token":{"value":"t","ttl":60}}}"#,
            ),
            (
                "numeric id",
                200,
                r#"{"status":"OK","code":200,"data":{"customer_account":{"id":5091514},"token":{"value":"t","ttl":60}}}"#,
            ),
            (
                "id over capacity",
                200,
                r#"{"status":"OK","code":200,"data":{"customer_account":{"id":"0123456789012345678901234567890123456789012345678901234567890123456789"},"token":{"value":"t","ttl":60}}}"#,
            ),
            (
                "no token",
                200,
                r#"{"status":"OK","code":200,"data":{"customer_account":{"id":"01e6d2c9-976b-4953-91e6-3dade887a4c7"}}}"#,
            ),
            (
                "names",
                200,
                r#"{"status":"OK","code":200,"data":{"customer_account":{"id":"01e6d2c9-976b-4953-91e6-3dade887a4c7","first_name":"Zo\u00eb","last_name":"Ren\u00e9e \ud83d\ude00","email":null},"token":{"value":"t","ttl":"60"},"dlc_access_token":null}}"#,
            ),
            (
                "wrong type",
                200,
                r#"{"status":"OK","code":200,"data":{"customer_account":{"id":"01e6d2c9-976b-4953-91e6-3dade887a4c7","state":"one"},"token":{"value":"t","ttl":60}}}"#,
            ),
        ];
        let mut kinds = std::vec::Vec::new();
        for (name, status, body) in cases {
            let flow = sign_in(&c, Some(cached()), SUBJECT, RequestIds::new([1; 16])).unwrap();
            let (out, _) = drive(flow, &[(*status, body.as_bytes())]);
            kinds.push((*name, out.as_ref().map(|_| ()).map_err(|e| e.kind())));
            if *name == "names" {
                let s = out.unwrap();
                assert_eq!(s.customer.first_name, "Zoë");
                assert_eq!(s.customer.last_name, "Renée 😀");
            } else if *name == "no ttl is fine" {
                let s = out.unwrap();
                assert_eq!(s.menu_token.expiry, Expiry::Unknown);
                assert_eq!(s.menu_token_ttl_min, None);
            } else if *name == "32-hex id" {
                assert_eq!(out.unwrap().customer.id, "90488ffee32c3acb6fcd0ca417cf6f3a");
            }
        }
        assert_eq!(
            kinds,
            [
                ("error envelope", Err("provider")),
                ("422", Err("provider")),
                ("no ttl is fine", Ok(())),
                ("numeric-looking id", Ok(())),
                ("32-hex id", Ok(())),
                ("empty id", Err("malformed")),
                ("control character in id", Err("malformed")),
                ("numeric id", Err("malformed")),
                ("id over capacity", Err("capacity")),
                ("no token", Err("malformed")),
                ("names", Ok(())),
                ("wrong type", Err("malformed")),
            ]
        );
    }
}
