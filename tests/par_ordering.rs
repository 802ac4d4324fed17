//! PAR Ordering end to end: the blocking (ureq) driver against the in-process sandbox.
//!
//! M2M token, sign-in by token exchange (test subject and the customer-info callback served by
//! a tiny axum app with the core's `serve_customer_info`), account linking, refresh-on-401 of
//! the menu token (exactly one re-sign-in, counted with the sandbox's `stats()`), the DLC token
//! of Punchh-linked brands, every envelope error the sandbox produces, and injected faults.
// The drivers' errors carry the core's ~200-byte error inline, as in the crates themselves.
#![allow(clippy::result_large_err, clippy::large_enum_variant)]

mod common;

use std::time::Duration;

use common::{
    TEST_TIMEOUT, calls, core_err, driver, driver_with_timeout, fault, ordering_app, sandbox,
    sandbox_with, seed, with_timeout,
};
use ssoflow::par_ordering::{self, CustomerSignIn, RequestIds, SignIn};
use ssoflow::session::HasAccessToken;
use ssoflow::{Error as CoreError, Expiry, Instant, Method};
use ssoflow_sandbox::{Config, SandboxHandle};
use ssoflow_ureq::{Driver, Error, OwnedResponse, SharedSession};

const M2M: &str = "POST /par/api/oauth/tokens";
const SIGN_IN: &str = "POST /par/api/sts/users/sign-in";
const ME: &str = "GET /par/api/customers/me";

fn config(sb: &SandboxHandle) -> par_ordering::ParConfig {
    let c = &sb.credentials().par_ordering;
    par_ordering::ParConfig::new(
        &c.base_url,
        &c.application_key,
        &c.client_id,
        &c.client_secret,
    )
    .expect("sandbox credentials are valid")
}

fn subject(sb: &SandboxHandle) -> String {
    sb.credentials().par_ordering.test_subject_token.clone()
}

fn sign_in(d: &Driver, cfg: &par_ordering::ParConfig, subject: &str) -> Result<SignIn, Error> {
    d.run(par_ordering::sign_in(
        cfg,
        None,
        subject,
        RequestIds::new(seed()),
    )?)
}

/// `GET /api/customers/me` through `session`, signing in with `subject` when needed.
fn me(
    d: &Driver,
    cfg: &par_ordering::ParConfig,
    session: &SharedSession<CustomerSignIn<'_>>,
    subject: &str,
) -> Result<OwnedResponse, Error> {
    let mut ids = RequestIds::new(seed());
    d.send_authorized(session, subject, |t: &SignIn, buf| {
        cfg.protected_request(
            buf,
            Method::Get,
            "/api/customers/me",
            t.access_token().value.expose(),
            &mut ids,
        )
    })
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| {
            if [8, 13, 18, 23].contains(&i) {
                b == b'-'
            } else {
                b.is_ascii_hexdigit()
            }
        })
}

fn provider(e: &CoreError) -> (u16, Option<i64>, String) {
    match e {
        CoreError::Provider {
            status,
            code,
            message,
        } => (*status, *code, message.as_str().to_owned()),
        other => panic!("expected a provider error, got {other:?}"),
    }
}

fn subject_refused(e: &CoreError) -> (u16, Option<i64>, String) {
    match e {
        CoreError::SubjectTokenRefused {
            status,
            code,
            message,
        } => (*status, *code, message.as_str().to_owned()),
        other => panic!("expected subject_token_refused, got {other:?}"),
    }
}

#[test]
fn m2m_token_is_issued_with_its_lifetime() {
    with_timeout(TEST_TIMEOUT, || {
        let sb = sandbox();
        let cfg = config(&sb);
        let d = driver();
        let mut ids = RequestIds::new(seed());
        let before = d.now();
        let t = d
            .run(par_ordering::m2m_token(&cfg, &mut ids))
            .expect("m2m token");
        assert_eq!(t.value.expose().len(), 64, "64 hex digits");
        assert!(t.value.expose().bytes().all(|b| b.is_ascii_hexdigit()));
        match t.expiry {
            // expires_in 86399 s from when the answer was handled.
            Expiry::At(at) => {
                let ms = at.millis_since(before);
                assert!((86_399_000..86_399_000 + 5_000).contains(&ms), "{ms}");
            }
            Expiry::Unknown => panic!("the sandbox sends expires_in"),
        }
        assert_eq!(calls(&sb, M2M), 1);
        // A different scope and a role id are accepted too.
        let cfg2 = cfg
            .clone()
            .with_scope("orders")
            .unwrap()
            .with_role_id("")
            .unwrap();
        d.run(par_ordering::m2m_token(&cfg2, &mut ids))
            .expect("m2m with scope and role id");
        assert_eq!(calls(&sb, M2M), 2);
    });
}

#[test]
fn sign_in_with_the_test_subject_and_a_cached_m2m_token() {
    with_timeout(TEST_TIMEOUT, || {
        let sb = sandbox();
        let cfg = config(&sb);
        let d = driver();
        let subject = subject(&sb);
        let mut flow =
            par_ordering::sign_in(&cfg, None, &subject, RequestIds::new(seed())).unwrap();
        let s = d.run_mut(&mut flow).expect("sign-in");
        assert!(is_uuid(&s.customer.id), "{}", s.customer.id);
        assert_eq!(s.customer.email, "jane.doe@partech.com");
        assert_eq!(s.customer.first_name, "Jane");
        assert_eq!(s.customer.last_name, "Doe");
        assert_eq!(s.customer.phone_number, "+41767567126");
        assert_eq!(s.customer.reference_type, "CustomerAccount");
        assert_eq!(s.customer.locale, "en");
        assert_eq!(s.customer.created_at.len(), "YYYY-MM-DD hh:mm:ss".len());
        assert!(s.menu_token.value.expose().starts_with("eyJ"), "a JWT");
        assert_eq!(s.menu_token.value.expose().matches('.').count(), 2);
        assert!(matches!(s.menu_token.expiry, Expiry::At(_)), "ttl 60");
        assert!(s.dlc_token.is_none(), "the brand is not Punchh-linked");
        assert_eq!((calls(&sb, M2M), calls(&sb, SIGN_IN)), (1, 1));

        // The M2M token the flow fetched is reused: no second M2M call.
        let m2m = flow.m2m().cloned().expect("the flow keeps its M2M token");
        let again = d
            .run(par_ordering::sign_in(&cfg, Some(m2m), &subject, RequestIds::new(seed())).unwrap())
            .expect("sign-in with a cached M2M token");
        assert_eq!(again.customer.id, s.customer.id);
        assert_eq!((calls(&sb, M2M), calls(&sb, SIGN_IN)), (1, 2));
    });
}

#[test]
fn linking_same_subject_same_account_then_by_email() {
    with_timeout(TEST_TIMEOUT, || {
        let sb = sandbox();
        let cfg = config(&sb);
        let d = driver();
        let jane = sign_in(
            &d,
            &cfg,
            "test-1100-jane.doe@partech.com-Jane-Doe-+41767567126",
        )
        .unwrap();
        let jane2 = sign_in(
            &d,
            &cfg,
            "test-1100-jane.doe@partech.com-Jane-Doe-+41767567126",
        )
        .unwrap();
        assert_eq!(
            jane.customer.id, jane2.customer.id,
            "same subject → same id"
        );
        // Another identity provider id with the same email (any case) binds to that account.
        let other_idp = sign_in(
            &d,
            &cfg,
            "test-2200-JANE.DOE@partech.com-Jane-Doe-+41767567126",
        )
        .unwrap();
        assert_eq!(other_idp.customer.id, jane.customer.id, "linked by email");
        // The bound id keeps the account even after its email changes, and the change syncs.
        let moved = sign_in(
            &d,
            &cfg,
            "test-2200-jane.new@partech.com-Jane-Doe-+41767567126",
        )
        .unwrap();
        assert_eq!(moved.customer.id, jane.customer.id);
        assert_eq!(moved.customer.email, "jane.new@partech.com");
        // An email with dashes parses from the right; a new person gets a new account.
        let mary = sign_in(
            &d,
            &cfg,
            "test-7-mary-ann.lee@ex-ample.com-Mary-Lee-+15550001",
        )
        .unwrap();
        assert_eq!(mary.customer.email, "mary-ann.lee@ex-ample.com");
        assert_eq!(mary.customer.first_name, "Mary");
        assert_ne!(mary.customer.id, jane.customer.id);
    });
}

#[test]
fn sign_in_through_the_customer_info_callback() {
    with_timeout(TEST_TIMEOUT, || {
        let app = ordering_app();
        app.put(
            "idp-bob-0001",
            "Bob",
            "Zoë 😀",
            "bob@example.com",
            "+15550000002",
        );
        let sb = sandbox_with(Config::default(), Some(app.url.clone()));
        let cfg = config(&sb);
        let d = driver();
        let bob = sign_in(&d, &cfg, "idp-bob-0001").expect("registered through customer-info");
        assert_eq!(app.hits(), 1);
        assert!(is_uuid(&bob.customer.id));
        assert_eq!(bob.customer.email, "bob@example.com");
        assert_eq!(bob.customer.first_name, "Bob");
        assert_eq!(bob.customer.last_name, "Zoë 😀");
        assert_eq!(bob.customer.phone_number, "+15550000002");

        // Same subject → same account, and changed details are synced on the next sign-in.
        app.put(
            "idp-bob-0001",
            "Robert",
            "Zoë 😀",
            "bob.new@example.com",
            "+15550000002",
        );
        let again = sign_in(&d, &cfg, "idp-bob-0001").unwrap();
        assert_eq!(again.customer.id, bob.customer.id);
        assert_eq!(again.customer.email, "bob.new@example.com");
        assert_eq!(again.customer.first_name, "Robert");

        // A second identity with Bob's (new) email links to Bob's account.
        app.put(
            "idp-bob-0002",
            "Robert",
            "Zoë 😀",
            "BOB.NEW@example.com",
            "+15550000002",
        );
        let linked = sign_in(&d, &cfg, "idp-bob-0002").unwrap();
        assert_eq!(linked.customer.id, bob.customer.id, "linked by email");

        // A subject the app does not know: customer-info answers 404, the sandbox 401. The
        // M2M token was fetched just now, so the customer's token is what was refused: one
        // M2M token, one sign-in, no retry with the same refused token.
        let (m2m, signs) = (calls(&sb, M2M), calls(&sb, SIGN_IN));
        let e = core_err(sign_in(&d, &cfg, "idp-nobody"));
        let (status, code, message) = subject_refused(&e);
        assert_eq!((status, code), (401, Some(401)));
        assert!(message.contains("could not be verified"), "{message}");
        assert_eq!((calls(&sb, M2M) - m2m, calls(&sb, SIGN_IN) - signs), (1, 1));
    });
}

#[test]
fn expired_menu_token_401_then_exactly_one_re_sign_in() {
    with_timeout(TEST_TIMEOUT, || {
        let sb = sandbox();
        let cfg = config(&sb);
        let d = driver();
        let subject = subject(&sb);
        let session = SharedSession::new(CustomerSignIn::new(&cfg));
        let r = me(&d, &cfg, &session, &subject).expect("first call signs in");
        assert_eq!(r.status, 200);
        let account = r.with_core(par_ordering::read_customer_account).unwrap();
        assert_eq!(account.email, "jane.doe@partech.com");
        assert_eq!((calls(&sb, SIGN_IN), calls(&sb, ME)), (1, 1));

        // The token is still fresh: reused.
        me(&d, &cfg, &session, &subject).unwrap();
        assert_eq!((calls(&sb, SIGN_IN), calls(&sb, ME)), (1, 2));

        // The sandbox clock moves past the ttl of 60 minutes (the driver's clock does not): 401,
        // one re-sign-in, one retry.
        sb.advance_clock(Duration::from_secs(3601));
        let r = me(&d, &cfg, &session, &subject).expect("re-signed in");
        assert_eq!(r.status, 200);
        assert_eq!(
            r.with_core(par_ordering::read_customer_account).unwrap().id,
            account.id
        );
        assert_eq!(calls(&sb, SIGN_IN), 2, "exactly one re-sign-in");
        assert_eq!(calls(&sb, ME), 4, "the 401 and the retry");
        assert_eq!(session.lock().generation(), 2);
    });
}

#[test]
fn forced_401_re_signs_in_once_and_a_second_401_is_unauthorized() {
    with_timeout(TEST_TIMEOUT, || {
        let sb = sandbox();
        let cfg = config(&sb);
        let d = driver();
        let subject = subject(&sb);
        let session = SharedSession::new(CustomerSignIn::new(&cfg));
        me(&d, &cfg, &session, &subject).unwrap();
        assert_eq!(calls(&sb, SIGN_IN), 1);

        fault(
            &sb,
            r#"{"path":"/par/api/customers/me","kind":"unauthorized"}"#,
        );
        let r = me(&d, &cfg, &session, &subject).expect("one 401 is recovered");
        assert_eq!(r.status, 200);
        assert_eq!(calls(&sb, SIGN_IN), 2, "exactly one re-sign-in");

        // Two 401s in a row: one re-sign-in, one retry, then a typed error (never a loop).
        fault(
            &sb,
            r#"{"path":"/par/api/customers/me","kind":"unauthorized","count":2}"#,
        );
        let e = core_err(me(&d, &cfg, &session, &subject));
        assert_eq!(e, CoreError::Unauthorized);
        assert_eq!(calls(&sb, SIGN_IN), 3, "exactly one more re-sign-in");
        assert_eq!(calls(&sb, ME), 5);

        // The session recovers on the next call.
        assert_eq!(me(&d, &cfg, &session, &subject).unwrap().status, 200);
        assert_eq!(calls(&sb, SIGN_IN), 4);
    });
}

#[test]
fn bad_application_key_and_wrong_client_secret_are_provider_401() {
    with_timeout(TEST_TIMEOUT, || {
        let sb = sandbox();
        let c = sb.credentials().par_ordering.clone();
        let d = driver();
        let subject = subject(&sb);

        let bad_key = par_ordering::ParConfig::new(
            &c.base_url,
            "not-the-key",
            &c.client_id,
            &c.client_secret,
        )
        .unwrap();
        let e = core_err(sign_in(&d, &bad_key, &subject));
        let (status, code, message) = provider(&e);
        assert_eq!((status, code), (401, Some(401)));
        assert!(message.contains("Invalid application key"), "{message}");
        // The M2M call failed: no sign-in was attempted.
        assert_eq!((calls(&sb, M2M), calls(&sb, SIGN_IN)), (1, 0));

        let bad_secret =
            par_ordering::ParConfig::new(&c.base_url, &c.application_key, &c.client_id, "wrong")
                .unwrap();
        let e = core_err(sign_in(&d, &bad_secret, &subject));
        let (status, code, message) = provider(&e);
        assert_eq!((status, code), (401, Some(401)));
        assert!(message.contains("Invalid client credentials"), "{message}");

        let bad_id = par_ordering::ParConfig::new(
            &c.base_url,
            &c.application_key,
            "nobody",
            &c.client_secret,
        )
        .unwrap();
        assert_eq!(provider(&core_err(sign_in(&d, &bad_id, &subject))).0, 401);
        assert_eq!(calls(&sb, SIGN_IN), 0);
        // Display never prints the secret.
        assert!(!format!("{e} {e:?}").contains(&c.client_secret));
    });
}

#[test]
fn dlc_token_when_the_brand_is_punchh_linked() {
    with_timeout(TEST_TIMEOUT, || {
        let mut linked = Config::default();
        linked.par_ordering.punchh_linked = true;
        linked.par_ordering.menu_token_ttl_min = 2; // minutes, as PAR sends `ttl`
        let sb = sandbox_with(linked, None);
        let cfg = config(&sb);
        let d = driver();
        let before = d.now();
        let s = sign_in(&d, &cfg, &subject(&sb)).unwrap();
        let dlc = s.dlc_token.expect("a dlc_access_token");
        assert!(dlc.value.expose().starts_with("eyJ"));
        assert_ne!(dlc.value.expose(), s.menu_token.value.expose());
        for expiry in [dlc.expiry, s.menu_token.expiry] {
            match expiry {
                Expiry::At(at) => {
                    let ms = at.millis_since(before);
                    assert!((120_000..125_000).contains(&ms), "{ms}");
                }
                Expiry::Unknown => panic!("ttl was sent"),
            }
        }
    });
}

#[test]
fn dlc_token_authorizes_punchh_specific_calls_with_one_re_sign_in_after_expiry() {
    with_timeout(TEST_TIMEOUT, || {
        let mut linked = Config::default();
        linked.par_ordering.punchh_linked = true;
        let sb = sandbox_with(linked, None);
        let cfg = config(&sb);
        let d = driver();
        let session = SharedSession::new(CustomerSignIn::new(&cfg));
        let subject = subject(&sb);
        let mut ids = RequestIds::new(seed());
        let mut loyalty = || {
            d.send_authorized(&session, subject.as_str(), |t: &SignIn, buf| {
                cfg.dlc_request(buf, Method::Get, "/api/customers/me/loyalty", t, &mut ids)
            })
        };
        assert_eq!(loyalty().expect("signed in, then the call").status, 200);
        assert_eq!(calls(&sb, SIGN_IN), 1);
        // seed 000: the DLC token's `"ttl": 60` is minutes too; past it the sandbox answers
        // 401 and the session signs in once more (a fresh menu and DLC token).
        sb.advance_clock(Duration::from_secs(3601));
        assert_eq!(loyalty().expect("re-signed in").status, 200);
        assert_eq!(calls(&sb, SIGN_IN), 2);
        assert_eq!(calls(&sb, "GET /par/api/customers/me/loyalty"), 3);
    });
}

#[test]
fn a_refused_customer_token_is_subject_token_refused_not_a_loop() {
    with_timeout(TEST_TIMEOUT, || {
        let sb = sandbox();
        let cfg = config(&sb);
        let d = driver();
        let e = core_err(sign_in(&d, &cfg, "an-identity-provider-token-nobody-knows"));
        assert!(
            matches!(e, CoreError::SubjectTokenRefused { status: 401, .. }),
            "{e:?}"
        );
        // One M2M token (fresh, so not the culprit) and one token exchange.
        assert_eq!((calls(&sb, M2M), calls(&sb, SIGN_IN)), (1, 1));
        assert!(!format!("{e} {e:?}").contains("nobody-knows"));
    });
}

#[test]
fn envelope_errors_keep_status_and_code() {
    with_timeout(TEST_TIMEOUT, || {
        let sb = sandbox();
        let cfg = config(&sb);
        let d = driver();

        // An Api-Version the sandbox does not serve: 400 envelope.
        let old = cfg.clone().with_api_version("1.0.0").unwrap();
        let e = core_err(sign_in(&d, &old, &subject(&sb)));
        let (status, code, message) = provider(&e);
        assert_eq!((status, code), (400, Some(400)));
        assert!(message.contains("Unsupported Api-Version"), "{message}");

        // A subject that is no test token and no customer-info URL configured: 401 with a
        // fresh M2M token, so the subject token is refused (one M2M token, one sign-in).
        let (m2m, signs) = (calls(&sb, M2M), calls(&sb, SIGN_IN));
        let e = core_err(sign_in(&d, &cfg, "opaque-subject-token"));
        let (status, code, message) = subject_refused(&e);
        assert_eq!((status, code), (401, Some(401)));
        assert!(message.contains("Invalid subject token"), "{message}");
        assert_eq!((calls(&sb, M2M) - m2m, calls(&sb, SIGN_IN) - signs), (1, 1));

        // The protected call without a valid token: the envelope, read by the core.
        let mut ids = RequestIds::new(seed());
        let mut buf = vec![0u8; 4096];
        let req = cfg
            .protected_request(
                &mut buf,
                Method::Get,
                "/api/customers/me",
                "not-a-token",
                &mut ids,
            )
            .unwrap();
        let r = d.send(&req).unwrap();
        assert_eq!(r.status, 401);
        let e = r
            .with_core(par_ordering::read_customer_account)
            .unwrap_err();
        assert_eq!(provider(&e).0, 401);
        assert_eq!(provider(&e).1, Some(401));

        // An empty subject is refused before any I/O.
        assert!(matches!(
            par_ordering::sign_in(&cfg, None, "", RequestIds::new(seed())),
            Err(CoreError::InvalidInput { .. })
        ));
    });
}

#[test]
fn expired_m2m_token_is_fetched_again_once() {
    with_timeout(TEST_TIMEOUT, || {
        let sb = sandbox();
        let cfg = config(&sb);
        let d = driver();
        let subject = subject(&sb);
        let mut ids = RequestIds::new(seed());
        let m2m = d.run(par_ordering::m2m_token(&cfg, &mut ids)).unwrap();
        // The sandbox says the cached M2M token expired (the driver's clock does not know).
        sb.advance_clock(Duration::from_secs(86_400));
        let mut flow =
            par_ordering::sign_in(&cfg, Some(m2m.clone()), &subject, RequestIds::new(seed()))
                .unwrap();
        let s = d
            .run_mut(&mut flow)
            .expect("re-fetched M2M token, retried once");
        assert!(is_uuid(&s.customer.id));
        assert_ne!(
            flow.m2m().unwrap().value.expose(),
            m2m.value.expose(),
            "the new M2M token is kept for reuse"
        );
        assert_eq!((calls(&sb, M2M), calls(&sb, SIGN_IN)), (2, 2));

        // A cached token already expired on the caller's own clock is never sent.
        let stale = ssoflow::AccessToken {
            value: m2m.value.clone(),
            expiry: Expiry::At(Instant::from_millis(0)),
        };
        d.run(par_ordering::sign_in(&cfg, Some(stale), &subject, RequestIds::new(seed())).unwrap())
            .unwrap();
        assert_eq!((calls(&sb, M2M), calls(&sb, SIGN_IN)), (3, 3));
    });
}

#[test]
fn faults_500_503_drop_truncate_and_delay_are_typed() {
    with_timeout(TEST_TIMEOUT, || {
        let sb = sandbox();
        let cfg = config(&sb);
        let d = driver();
        let subject = subject(&sb);

        fault(
            &sb,
            r#"{"path":"/par/api/oauth/tokens","kind":"status","status":500}"#,
        );
        let e = core_err(sign_in(&d, &cfg, &subject));
        assert_eq!(provider(&e).0, 500);
        assert_eq!(provider(&e).1, None, "the fault body is no PAR envelope");
        assert!(e.is_transient());

        fault(
            &sb,
            r#"{"path":"/par/api/sts/users/sign-in","kind":"status","status":503,"retry_after":7}"#,
        );
        let e = core_err(sign_in(&d, &cfg, &subject));
        assert_eq!(provider(&e).0, 503);
        assert!(e.is_transient());

        // The Retry-After header reaches the caller through a raw send.
        fault(
            &sb,
            r#"{"path":"/par/api/customers/me","kind":"status","status":503,"retry_after":7}"#,
        );
        let mut ids = RequestIds::new(seed());
        let mut buf = vec![0u8; 4096];
        let req = cfg
            .protected_request(&mut buf, Method::Get, "/api/customers/me", "t", &mut ids)
            .unwrap();
        let r = d.send(&req).unwrap();
        assert_eq!(r.status, 503);
        assert_eq!(r.retry_after(), Some(Duration::from_secs(7)));

        // A 503 on a protected call is returned as it is: no re-sign-in, no retry.
        let session = SharedSession::new(CustomerSignIn::new(&cfg));
        me(&d, &cfg, &session, &subject).unwrap();
        let signs = calls(&sb, SIGN_IN);
        fault(
            &sb,
            r#"{"path":"/par/api/customers/me","kind":"status","status":503,"retry_after":3}"#,
        );
        let r = me(&d, &cfg, &session, &subject).unwrap();
        assert_eq!(
            (r.status, r.retry_after()),
            (503, Some(Duration::from_secs(3)))
        );
        assert_eq!(calls(&sb, SIGN_IN), signs);

        fault(
            &sb,
            r#"{"path":"/par/api/sts/users/sign-in","kind":"drop"}"#,
        );
        let e = sign_in(&d, &cfg, &subject).unwrap_err();
        assert_eq!(e.kind(), "transport", "{e:?}");
        assert!(e.is_transient());

        fault(
            &sb,
            r#"{"path":"/par/api/sts/users/sign-in","kind":"truncate"}"#,
        );
        let e = sign_in(&d, &cfg, &subject).unwrap_err();
        assert_eq!(e.kind(), "transport", "{e:?}");

        let quick = driver_with_timeout(Duration::from_secs(1));
        fault(
            &sb,
            r#"{"path":"/par/api/oauth/tokens","kind":"delay","ms":1500}"#,
        );
        let started = std::time::Instant::now();
        let e = sign_in(&quick, &cfg, &subject).unwrap_err();
        assert_eq!(e, Error::Timeout);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );

        // Every fault was consumed: the next sign-in works.
        sign_in(&d, &cfg, &subject).expect("recovered");
    });
}
