//! Customer sign-in (and registration) by token exchange: `POST /api/sts/users/sign-in`.
//!
//! ```text
//!            ┌─────────── no cached M2M token ───────────┐
//! start ─────┤                                            ▼
//!            └─ cached ─► SignIn ──send──► AwaitSignIn   NeedM2m ──send──► AwaitM2m ──200──► SignIn
//!                                             │ 2xx → Done(SignIn)
//!                                             │ 401, first time → drop M2M token → NeedM2m (retried)
//!                                             └ 401 again / other error → Err
//! ```

use super::{Config, RequestIds, m2m, read_envelope, text};
use crate::json::{Parser, required, set_once};
use crate::session::HasAccessToken;
use crate::token::check_token_chars;
use crate::{AccessToken, Error, Expiry, Flow, Instant, Method, Response, Secret, Step, TOKEN_CAP};

/// A PAR Ordering customer account (every member of the seed's `customer_account` that has a
/// scalar value; `demographics` and `social_login` are skipped).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CustomerAccount {
    /// Account UUID (checked to be one).
    pub id: heapless::String<36>,
    /// `type_id`.
    pub type_id: i64,
    /// `reference_type`, e.g. `CustomerAccount`.
    pub reference_type: heapless::String<32>,
    /// First name.
    pub first_name: heapless::String<64>,
    /// Last name.
    pub last_name: heapless::String<64>,
    /// Email.
    pub email: heapless::String<254>,
    /// Phone number.
    pub phone_number: heapless::String<32>,
    /// Locale, e.g. `en`.
    pub locale: heapless::String<16>,
    /// Account state.
    pub state: i64,
    /// Email opt-in status.
    pub optin_status_email: i64,
    /// Push-notification opt-in status.
    pub optin_status_pn: i64,
    /// An email change awaits confirmation.
    pub has_pending_email_change: bool,
    /// A phone change awaits confirmation.
    pub has_pending_phone_number_change: bool,
    /// Registered through a social login.
    pub is_social: bool,
    /// `YYYY-MM-DD hh:mm:ss`.
    pub updated_at: heapless::String<32>,
    /// `YYYY-MM-DD hh:mm:ss`.
    pub created_at: heapless::String<32>,
    /// Email confirmed.
    pub confirmed: bool,
}

/// What a sign-in yields: the account, the menu token and, for Punchh brands, the DLC token
/// (send it as `DLC-Authorization: Bearer …` on Punchh-specific calls).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignIn {
    /// The customer's account.
    pub customer: CustomerAccount,
    /// The menu token for protected calls (`ttl` seconds; no `ttl` means rely on a 401).
    pub menu_token: AccessToken,
    /// The DLC token, when the brand uses Punchh.
    pub dlc_token: Option<AccessToken>,
}

impl HasAccessToken for SignIn {
    fn access_token(&self) -> &AccessToken {
        &self.menu_token
    }
}

#[derive(Debug)]
enum State {
    NeedM2m { retried: bool },
    AwaitM2m { retried: bool },
    SignIn { retried: bool },
    AwaitSignIn { retried: bool },
    Done(SignIn),
    Finished,
}

/// The sign-in flow. After it is done, [`SignInFlow::m2m`] gives the M2M token it used, to cache.
#[derive(Debug)]
pub struct SignInFlow<'c> {
    config: &'c Config,
    subject_token: &'c str,
    ids: RequestIds,
    m2m: Option<AccessToken>,
    state: State,
}

/// Sign a customer in (registering them if new) with `subject_token`, their identity provider's
/// access token. Pass a cached M2M token if you have one; `ids` makes the request ids.
pub fn sign_in<'c>(
    config: &'c Config,
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
        State::SignIn { retried: false }
    } else {
        State::NeedM2m { retried: false }
    };
    Ok(SignInFlow {
        config,
        subject_token,
        ids,
        m2m,
        state,
    })
}

impl SignInFlow<'_> {
    /// The M2M token the flow holds (fetched or given), to reuse for the next sign-in.
    pub fn m2m(&self) -> Option<&AccessToken> {
        self.m2m.as_ref()
    }
}

impl Flow for SignInFlow<'_> {
    type Output = SignIn;

    fn poll<'b>(&mut self, now: Instant, buf: &'b mut [u8]) -> Result<Step<'b, SignIn>, Error> {
        match core::mem::replace(&mut self.state, State::Finished) {
            State::NeedM2m { retried } => {
                self.state = State::NeedM2m { retried };
                let request = m2m::write_request(self.config, &mut self.ids, buf)?;
                self.state = State::AwaitM2m { retried };
                Ok(Step::Send(request))
            }
            State::SignIn { retried } => {
                self.state = State::SignIn { retried };
                let m2m = match &self.m2m {
                    // An M2M token known to have expired is fetched again first.
                    Some(t) if !t.expiry.needs_refresh(now, 0) => t,
                    _ => {
                        self.m2m = None;
                        self.state = State::NeedM2m { retried };
                        return self.poll(now, buf);
                    }
                };
                let mut rb =
                    self.config
                        .request(buf, Method::Post, "/api/sts/users/sign-in", &mut self.ids);
                rb.bearer(m2m.value.expose());
                rb.json_body(&[
                    ("grant_type", "token_exchange"),
                    ("subject_token", self.subject_token),
                    ("subject_token_type", "access_token"),
                ]);
                let request = rb.finish()?;
                self.state = State::AwaitSignIn { retried };
                Ok(Step::Send(request))
            }
            State::Done(out) => Ok(Step::Done(out)),
            State::AwaitM2m { .. } | State::AwaitSignIn { .. } | State::Finished => {
                Err(Error::State)
            }
        }
    }

    fn handle(&mut self, now: Instant, response: Response<'_>) -> Result<(), Error> {
        match core::mem::replace(&mut self.state, State::Finished) {
            State::AwaitM2m { retried } => {
                self.m2m = Some(m2m::read_response(now, response)?);
                self.state = State::SignIn { retried };
                Ok(())
            }
            State::AwaitSignIn { retried: false } if response.status == 401 => {
                // The M2M token expired or was revoked: get a new one once, retry once.
                self.m2m = None;
                self.state = State::NeedM2m { retried: true };
                Ok(())
            }
            State::AwaitSignIn { .. } => {
                self.state = State::Done(read_sign_in(now, response)?);
                Ok(())
            }
            _ => Err(Error::State),
        }
    }
}

fn read_token(
    p: &mut Parser<'_>,
    now: Instant,
    what: &'static str,
    body: &[u8],
) -> Result<AccessToken, Error> {
    let mut value: Option<Secret<TOKEN_CAP>> = None;
    let mut ttl = None;
    p.object(what, |p, key| match key {
        b"value" => set_once(&mut value, p.secret(what)?, what, body),
        b"ttl" if p.null() => Ok(()),
        b"ttl" => set_once(&mut ttl, p.u64_or_string("ttl", true)?, "ttl", body),
        _ => p.skip(),
    })?;
    let value = required(value, what, body)?;
    if !check_token_chars(value.expose()) {
        return Err(Error::malformed(what, body));
    }
    Ok(AccessToken {
        value,
        expiry: Expiry::after(now, ttl),
    })
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                b == b'-'
            } else {
                b.is_ascii_hexdigit()
            }
        })
}

fn read_account(p: &mut Parser<'_>, body: &[u8]) -> Result<CustomerAccount, Error> {
    let mut a = CustomerAccount::default();
    let mut id = None;
    p.object("customer_account", |p, key| {
        match key {
            b"id" => set_once(
                &mut id,
                p.string::<36>("customer_account.id")
                    .map_err(|_| p.error("customer_account.id"))?,
                "customer_account.id",
                body,
            )?,
            b"type_id" if !p.null() => a.type_id = p.i64("type_id")?,
            b"reference_type" => a.reference_type = text(p, "reference_type")?,
            b"first_name" => a.first_name = text(p, "first_name")?,
            b"last_name" => a.last_name = text(p, "last_name")?,
            b"email" => a.email = text(p, "email")?,
            b"phone_number" => a.phone_number = text(p, "phone_number")?,
            b"locale" => a.locale = text(p, "locale")?,
            b"state" if !p.null() => a.state = p.i64("state")?,
            b"optin_status_email" if !p.null() => {
                a.optin_status_email = p.i64("optin_status_email")?
            }
            b"optin_status_pn" if !p.null() => a.optin_status_pn = p.i64("optin_status_pn")?,
            b"has_pending_email_change" if !p.null() => {
                a.has_pending_email_change = p.bool("has_pending_email_change")?
            }
            b"has_pending_phone_number_change" if !p.null() => {
                a.has_pending_phone_number_change = p.bool("has_pending_phone_number_change")?
            }
            b"is_social" if !p.null() => a.is_social = p.bool("is_social")?,
            b"updated_at" => a.updated_at = text(p, "updated_at")?,
            b"created_at" => a.created_at = text(p, "created_at")?,
            b"confirmed" if !p.null() => a.confirmed = p.bool("confirmed")?,
            // `null` for the typed members above lands here too: already consumed, nothing to skip.
            b"type_id"
            | b"state"
            | b"optin_status_email"
            | b"optin_status_pn"
            | b"has_pending_email_change"
            | b"has_pending_phone_number_change"
            | b"is_social"
            | b"confirmed" => {}
            _ => p.skip()?,
        }
        Ok(())
    })?;
    a.id = required(id, "customer_account.id", body)?;
    if !is_uuid(&a.id) {
        return Err(Error::malformed("customer_account.id", body));
    }
    Ok(a)
}

/// Read the answer of a protected customer call that returns the account
/// (`{"status":"OK","code":200,"data":{"customer_account":{…}}}`, e.g. `GET /api/customers/me`).
pub fn read_customer_account(response: Response<'_>) -> Result<CustomerAccount, Error> {
    let body = response.body;
    let mut customer = None;
    read_envelope(response, |p, key| match key {
        b"customer_account" => set_once(
            &mut customer,
            read_account(p, body)?,
            "customer_account",
            body,
        ),
        _ => p.skip(),
    })?;
    required(customer, "customer_account", body)
}

fn read_sign_in(now: Instant, response: Response<'_>) -> Result<SignIn, Error> {
    let body = response.body;
    let mut customer = None;
    let mut menu = None;
    let mut dlc = None;
    read_envelope(response, |p, key| match key {
        b"customer_account" => set_once(
            &mut customer,
            read_account(p, body)?,
            "customer_account",
            body,
        ),
        b"token" => set_once(
            &mut menu,
            read_token(p, now, "token.value", body)?,
            "token",
            body,
        ),
        b"dlc_access_token" if p.null() => Ok(()),
        b"dlc_access_token" => set_once(
            &mut dlc,
            read_token(p, now, "dlc_access_token.value", body)?,
            "dlc_access_token",
            body,
        ),
        _ => p.skip(),
    })?;
    Ok(SignIn {
        customer: required(customer, "customer_account", body)?,
        menu_token: required(menu, "token", body)?,
        dlc_token: dlc,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Expiry;
    use crate::par_ordering::tests::config;
    use crate::testing::{drive, drive_at};

    const SEED_SIGN_IN: &str = include_str!("../../tests/fixtures/par_sign_in.json");
    const SEED_SIGN_IN_DLC: &str = include_str!("../../tests/fixtures/par_sign_in_dlc.json");
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
        assert_eq!(
            s.menu_token.expiry,
            Expiry::At(Instant::from_millis(60_000))
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
            Err(Error::Provider {
                status: 401,
                code: Some(401),
                ..
            })
        ));
        assert_eq!(transcript.len(), 7);
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
    fn customer_resource() {
        let body = br#"{"status":"OK","code":200,"data":{"customer_account":{"id":"01e6d2c9-976b-4953-91e6-3dade887a4c7","email":"a@b.c"}}}"#;
        assert_eq!(
            read_customer_account(Response::new(200, body))
                .unwrap()
                .email,
            "a@b.c"
        );
        assert!(matches!(
            read_customer_account(Response::new(401, b"{}")),
            Err(Error::Provider { status: 401, .. })
        ));
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
                "non-uuid id",
                200,
                r#"{"status":"OK","code":200,"data":{"customer_account":{"id":"5091514"},"token":{"value":"t","ttl":60}}}"#,
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
                assert_eq!(out.unwrap().menu_token.expiry, Expiry::Unknown);
            }
        }
        assert_eq!(
            kinds,
            [
                ("error envelope", Err("provider")),
                ("422", Err("provider")),
                ("no ttl is fine", Ok(())),
                ("non-uuid id", Err("malformed")),
                ("no token", Err("malformed")),
                ("names", Ok(())),
                ("wrong type", Err("malformed")),
            ]
        );
    }
}
