//! Punchh end to end: the blocking (ureq) driver against the in-process sandbox.
//!
//! SSO access token, the signed `x-pch-digest` (a wrong secret is `Error::Digest`, HTTP 412),
//! the authorization-code flow (authorize → redirect → callback with `state` checked → code for
//! token), code reuse and expiry, user information (a signed GET with a body, and the mobile
//! SHA-256 path), refresh-on-401 of a protected call, and injected faults. On every driver: the
//! OAuth client secret and the signing secret as two settings, and the user-level token signing
//! the rest of the user's session.
// The drivers' errors carry the core's ~200-byte error inline, as in the crates themselves.
#![allow(clippy::result_large_err, clippy::large_enum_variant)]

mod common;
#[path = "common/drivers.rs"]
mod drivers;

use std::time::Duration;

use common::{
    TEST_TIMEOUT, calls, core_err, driver, driver_with_timeout, fault, sandbox, with_timeout,
};
use drivers::DRIVERS;
use ssoflow::punchh::{self, Algorithm};
use ssoflow::{Error as CoreError, Expiry, Method};
use ssoflow_sandbox::SandboxHandle;
use ssoflow_ureq::{Driver, Error, SharedSession};

const SSO: &str = "POST /punchh/api/auth/sso";
const USERS: &str = "GET /punchh/api/auth/users";

fn config(sb: &SandboxHandle) -> punchh::PunchhConfig {
    let c = &sb.credentials().punchh;
    punchh::PunchhConfig::new(&c.base_url, &c.client, &c.secret).expect("sandbox credentials")
}

/// Open the authorize URL like a browser (the 302 is not followed) and return `Location`.
fn authorize(d: &Driver, cfg: &punchh::PunchhConfig, redirect_uri: &str, state: &str) -> String {
    let mut buf = vec![0u8; 2048];
    let url = punchh::authorize_url(cfg, redirect_uri, state, &mut buf).expect("authorize URL");
    let url = url.to_owned();
    let mut buf = vec![0u8; 4096];
    let req = ssoflow::RequestBuilder::new(&mut buf, Method::Get, &url, "")
        .finish()
        .unwrap();
    let r = d.send(&req).expect("authorize page");
    assert_eq!(r.status, 302, "the hosted form redirects back");
    r.header_str("location").expect("Location").to_owned()
}

/// Authorize and parse the callback: a fresh authorization code.
fn code(d: &Driver, cfg: &punchh::PunchhConfig, redirect_uri: &str) -> String {
    let state = punchh::state_from_entropy(&[9; 16]);
    let location = authorize(d, cfg, redirect_uri, &state);
    punchh::parse_callback(&location, &state)
        .expect("state matches")
        .code
        .expose()
        .to_owned()
}

fn oauth(e: &CoreError) -> (u16, String) {
    match e {
        CoreError::OAuth { status, error, .. } => (*status, error.as_str().to_owned()),
        other => panic!("expected an OAuth error, got {other:?}"),
    }
}

#[test]
fn sso_access_token_and_user() {
    with_timeout(TEST_TIMEOUT, || {
        let sb = sandbox();
        let c = sb.credentials().punchh.clone();
        let cfg = config(&sb);
        let d = driver();
        let login = d
            .run(punchh::sso(&cfg, &c.security_token).unwrap())
            .expect("sso");
        assert!(!login.access_token.value.expose().is_empty());
        assert_eq!(login.user.id, 111_111_111);
        assert_eq!(login.user.email, "test@example.com");
        assert_eq!(login.user.first_name, "Jane");
        assert_eq!(login.user.last_name, "Doe");
        assert_eq!(login.user.phone, None, "null phone");
        assert!(login.user.authentication_token.is_some());
        assert_eq!(calls(&sb, SSO), 1);

        // The SSO token is accepted for user information.
        let user = d
            .run(punchh::user_info(&cfg, login.access_token.value.expose()).unwrap())
            .expect("user info");
        assert_eq!(user, login.user);
        // So is the user's own authentication_token.
        let auth = login.user.authentication_token.as_ref().unwrap().expose();
        assert_eq!(
            d.run(punchh::user_info(&cfg, auth).unwrap()).unwrap().id,
            111_111_111
        );

        // A custom User-Agent is fine; an empty security token never leaves the process.
        let ua = cfg
            .clone()
            .with_user_agent("Punchh/Kiosk/2.0/Web/1/Linux")
            .unwrap();
        d.run(punchh::sso(&ua, &c.security_token).unwrap()).unwrap();
        assert!(matches!(
            punchh::sso(&cfg, ""),
            Err(CoreError::InvalidInput { .. })
        ));
    });
}

#[test]
fn bad_security_token_is_provider_400() {
    with_timeout(TEST_TIMEOUT, || {
        let sb = sandbox();
        let cfg = config(&sb);
        let d = driver();
        let e = core_err(d.run(punchh::sso(&cfg, "not-the-security-token").unwrap()));
        match &e {
            CoreError::Provider {
                status: 400,
                code: None,
                message,
            } => assert!(
                message.as_str().contains("Invalid security token"),
                "{message}"
            ),
            other => panic!("{other:?}"),
        }
        // A client key the business does not have: the same refusal.
        let c = &sb.credentials().punchh;
        let other = punchh::PunchhConfig::new(&c.base_url, "OTHER_CLIENT", &c.secret).unwrap();
        let e = core_err(d.run(punchh::sso(&other, &c.security_token).unwrap()));
        assert_eq!(e.status(), Some(400));
    });
}

#[test]
fn wrong_digest_secret_is_error_digest_412() {
    with_timeout(TEST_TIMEOUT, || {
        let sb = sandbox();
        let c = sb.credentials().punchh.clone();
        let d = driver();
        let wrong = punchh::PunchhConfig::new(&c.base_url, &c.client, "NOT_THE_SECRET").unwrap();
        let e = core_err(d.run(punchh::sso(&wrong, &c.security_token).unwrap()));
        assert_eq!(e, CoreError::Digest);
        assert_eq!(e.status(), Some(412));

        // The right secret with the wrong algorithm for the path is refused the same way.
        let sha256 = config(&sb).with_algorithm(Algorithm::Sha256);
        let e = core_err(d.run(punchh::sso(&sha256, &c.security_token).unwrap()));
        assert_eq!(e, CoreError::Digest);

        // The code exchange and user information are signed too.
        let e = core_err(d.run(punchh::code_for_token(&wrong, "code", &c.redirect_uri).unwrap()));
        assert_eq!(e, CoreError::Digest);
        let e = core_err(d.run(punchh::user_info(&wrong, "token").unwrap()));
        assert_eq!(e, CoreError::Digest);
        assert!(!format!("{e} {e:?}").contains("NOT_THE_SECRET"));
    });
}

#[test]
fn authorize_callback_code_for_token_and_user_info() {
    with_timeout(TEST_TIMEOUT, || {
        let sb = sandbox();
        let c = sb.credentials().punchh.clone();
        let cfg = config(&sb);
        let d = driver();
        let state = punchh::state_from_entropy(&[1; 16]);
        let location = authorize(&d, &cfg, &c.redirect_uri, &state);
        assert!(location.starts_with(&c.redirect_uri), "{location}");
        let callback = punchh::parse_callback(&location, &state).expect("state matches");
        let set = d
            .run(punchh::code_for_token(&cfg, callback.code.expose(), &c.redirect_uri).unwrap())
            .expect("code for token");
        assert!(set.refresh.is_some());
        assert_eq!(set.scope, None, "\"scope\":\"null\" reads as no scope");
        assert_eq!(set.expires_in, None);
        assert_eq!(
            set.access.expiry,
            Expiry::Unknown,
            "no expires_in: rely on a 401"
        );
        let user = d
            .run(punchh::user_info(&cfg, set.access.value.expose()).unwrap())
            .expect("user info");
        assert_eq!(user.email, "test@example.com");
    });
}

#[test]
fn state_mismatch_and_callback_errors() {
    with_timeout(TEST_TIMEOUT, || {
        let sb = sandbox();
        let c = sb.credentials().punchh.clone();
        let cfg = config(&sb);
        let d = driver();
        let state = punchh::state_from_entropy(&[2; 16]);
        let location = authorize(&d, &cfg, &c.redirect_uri, &state);
        let other = punchh::state_from_entropy(&[3; 16]);
        assert_eq!(
            punchh::parse_callback(&location, &other).unwrap_err(),
            CoreError::StateMismatch
        );
        // A callback without state, or an attacker's error without our state.
        let code_only = location.split('&').next().unwrap().to_owned();
        assert_eq!(
            punchh::parse_callback(&code_only, &state).unwrap_err(),
            CoreError::StateMismatch
        );
        let forged = format!("{}?error=access_denied&state=evil", c.redirect_uri);
        assert_eq!(
            punchh::parse_callback(&forged, &state).unwrap_err(),
            CoreError::StateMismatch
        );
        let denied = format!("{}?error=access_denied&state={state}", c.redirect_uri);
        assert_eq!(
            oauth(&punchh::parse_callback(&denied, &state).unwrap_err()).1,
            "access_denied"
        );
        // An empty state is never sent.
        assert!(punchh::authorize_url(&cfg, &c.redirect_uri, "", &mut [0u8; 512]).is_err());

        // The hosted form refuses a redirect URI that is not registered, without redirecting.
        let mut buf = vec![0u8; 2048];
        let url = punchh::authorize_url(&cfg, "https://evil.example/cb", &state, &mut buf)
            .unwrap()
            .to_owned();
        let mut buf = vec![0u8; 4096];
        let req = ssoflow::RequestBuilder::new(&mut buf, Method::Get, &url, "")
            .finish()
            .unwrap();
        let r = d.send(&req).unwrap();
        assert_eq!(r.status, 400);
        assert!(r.header("location").is_none());
        assert_eq!(
            oauth(&r.with_core(ssoflow::oauth2::read_error)).1,
            "invalid_redirect_uri"
        );
    });
}

#[test]
fn code_reuse_expiry_and_client_errors_are_refused() {
    with_timeout(TEST_TIMEOUT, || {
        let sb = sandbox();
        let c = sb.credentials().punchh.clone();
        let cfg = config(&sb);
        let d = driver();

        let code1 = code(&d, &cfg, &c.redirect_uri);
        d.run(punchh::code_for_token(&cfg, &code1, &c.redirect_uri).unwrap())
            .unwrap();
        let e = core_err(d.run(punchh::code_for_token(&cfg, &code1, &c.redirect_uri).unwrap()));
        assert_eq!(
            oauth(&e),
            (400, "invalid_grant".into()),
            "a code works once"
        );

        // A redirect URI that differs from the authorization request.
        let code2 = code(&d, &cfg, &c.redirect_uri);
        let e = core_err(
            d.run(punchh::code_for_token(&cfg, &code2, "https://redirect-uri.com/other").unwrap()),
        );
        assert_eq!(oauth(&e), (400, "invalid_grant".into()));

        // Codes expire after 10 minutes on the sandbox clock.
        let code3 = code(&d, &cfg, &c.redirect_uri);
        sb.advance_clock(Duration::from_secs(601));
        let e = core_err(d.run(punchh::code_for_token(&cfg, &code3, &c.redirect_uri).unwrap()));
        assert_eq!(oauth(&e), (400, "invalid_grant".into()));

        // Another OAuth client id (the digest still verifies): invalid_client, 401.
        let code4 = code(&d, &cfg, &c.redirect_uri);
        let other = cfg.clone().with_client_id("SOMEONE_ELSE").unwrap();
        let e = core_err(d.run(punchh::code_for_token(&other, &code4, &c.redirect_uri).unwrap()));
        assert_eq!(oauth(&e), (401, "invalid_client".into()));

        // An unknown code.
        let e = core_err(d.run(punchh::code_for_token(&cfg, "made-up", &c.redirect_uri).unwrap()));
        assert_eq!(oauth(&e), (400, "invalid_grant".into()));
    });
}

#[test]
fn user_info_refusals_and_the_mobile_sha256_path() {
    with_timeout(TEST_TIMEOUT, || {
        let sb = sandbox();
        let c = sb.credentials().punchh.clone();
        let cfg = config(&sb);
        let d = driver();
        let e = core_err(d.run(punchh::user_info(&cfg, "unknown-token").unwrap()));
        match &e {
            CoreError::Provider {
                status: 401,
                message,
                ..
            } => assert!(message.as_str().contains("sign in"), "{message}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            punchh::user_info(&cfg, "bad token"),
            Err(CoreError::InvalidInput { .. })
        ));

        // /api2/ is signed with HMAC-SHA256, chosen by path.
        let login = d
            .run(punchh::sso(&cfg, &c.security_token).unwrap())
            .unwrap();
        let mut buf = vec![0u8; 4096];
        let req = cfg
            .signed_request(
                &mut buf,
                Method::Get,
                "/api2/mobile/users/profile",
                Some(login.access_token.value.expose()),
                Some(&[("client", &c.client)]),
            )
            .unwrap();
        assert_eq!(req.header("x-pch-digest").map(<[u8]>::len), Some(64));
        let r = d.send(&req).unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(punchh::User::from_json(&r.body).unwrap().id, 111_111_111);
    });
}

/// `GET /api/auth/users` through a session whose sign-in is the SSO recipe.
fn protected_user(
    d: &Driver,
    cfg: &punchh::PunchhConfig,
    session: &SharedSession<punchh::Sso<'_>>,
) -> Result<ssoflow_ureq::OwnedResponse, Error> {
    d.send_authorized(session, &(), |t: &punchh::SsoLogin, buf| {
        cfg.signed_request(
            buf,
            Method::Get,
            "/api/auth/users",
            Some(t.access_token.value.expose()),
            Some(&[("client", cfg.client())]),
        )
    })
}

#[test]
fn forced_401_on_user_info_re_signs_in_exactly_once() {
    with_timeout(TEST_TIMEOUT, || {
        let sb = sandbox();
        let c = sb.credentials().punchh.clone();
        let cfg = config(&sb);
        let d = driver();
        let session = SharedSession::new(punchh::Sso::new(&cfg, &c.security_token).unwrap());
        let r = protected_user(&d, &cfg, &session).unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(calls(&sb, SSO), 1);

        fault(
            &sb,
            r#"{"path":"/punchh/api/auth/users","kind":"unauthorized"}"#,
        );
        let r = protected_user(&d, &cfg, &session).unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(punchh::User::from_json(&r.body).unwrap().id, 111_111_111);
        assert_eq!(calls(&sb, SSO), 2, "exactly one re-sign-in");
        assert_eq!(calls(&sb, USERS), 3);

        fault(
            &sb,
            r#"{"path":"/punchh/api/auth/users","kind":"unauthorized","count":2}"#,
        );
        let e = core_err(protected_user(&d, &cfg, &session));
        assert_eq!(e, CoreError::Unauthorized);
        assert_eq!(calls(&sb, SSO), 3);
        assert_eq!(calls(&sb, USERS), 5);
    });
}

#[test]
fn faults_500_503_drop_truncate_and_delay_are_typed() {
    with_timeout(TEST_TIMEOUT, || {
        let sb = sandbox();
        let c = sb.credentials().punchh.clone();
        let cfg = config(&sb);
        let d = driver();
        let sso = || d.run(punchh::sso(&cfg, &c.security_token).unwrap());

        fault(
            &sb,
            r#"{"path":"/punchh/api/auth/sso","kind":"status","status":500}"#,
        );
        let e = core_err(sso());
        assert_eq!(oauth(&e), (500, "sandbox_fault".into()));
        assert!(e.is_transient());

        fault(
            &sb,
            r#"{"path":"/punchh/oauth/token","kind":"status","status":503,"retry_after":9}"#,
        );
        let e = core_err(d.run(punchh::code_for_token(&cfg, "x", &c.redirect_uri).unwrap()));
        assert_eq!(oauth(&e), (503, "sandbox_fault".into()));
        fault(
            &sb,
            r#"{"path":"/punchh/api/auth/users","kind":"status","status":503,"retry_after":9}"#,
        );
        let mut buf = vec![0u8; 4096];
        let req = cfg
            .signed_request(
                &mut buf,
                Method::Get,
                "/api/auth/users",
                Some("t"),
                Some(&[("client", "x")]),
            )
            .unwrap();
        let r = d.send(&req).unwrap();
        assert_eq!(
            (r.status, r.retry_after()),
            (503, Some(Duration::from_secs(9)))
        );

        fault(&sb, r#"{"path":"/punchh/api/auth/sso","kind":"drop"}"#);
        assert_eq!(sso().unwrap_err().kind(), "transport");

        fault(&sb, r#"{"path":"/punchh/api/auth/sso","kind":"truncate"}"#);
        assert_eq!(sso().unwrap_err().kind(), "transport");

        let quick = driver_with_timeout(Duration::from_secs(1));
        fault(
            &sb,
            r#"{"path":"/punchh/api/auth/sso","kind":"delay","ms":1500}"#,
        );
        let e = quick
            .run(punchh::sso(&cfg, &c.security_token).unwrap())
            .unwrap_err();
        assert_eq!(e, Error::Timeout);

        // A forced 401 on the SSO call itself is the vendor's refusal, typed.
        fault(
            &sb,
            r#"{"path":"/punchh/api/auth/sso","kind":"unauthorized"}"#,
        );
        assert_eq!(core_err(sso()).status(), Some(401));

        sso().expect("recovered");
    });
}

/// The emulator-only user-level endpoint (see the sandbox README).
const USER_LEVEL_PATH: &str = "/api/sandbox/me";

#[test]
fn client_secret_and_signing_secret_apart_on_every_driver() {
    // seed 002: "client_secret ... OAuth client secret of the business" goes in the
    // /oauth/token body; the x-pch-digest key is configured on its own.
    with_timeout(TEST_TIMEOUT, || {
        let mut config = ssoflow_sandbox::Config::default();
        config.punchh.secret = "fake-oauth-client-secret".into();
        config.punchh.signing_secret = Some("fake-signing-secret".into());
        let sb = common::sandbox_with(config, None);
        let c = sb.credentials().punchh.clone();
        let cfg = punchh::PunchhConfig::new(&c.base_url, &c.client, &c.secret)
            .unwrap()
            .with_signing_secret(&c.signing_secret)
            .unwrap();
        // Signing with the client secret, or sending the signing secret as client secret, fails.
        let unsigned = punchh::PunchhConfig::new(&c.base_url, &c.client, &c.secret).unwrap();
        let swapped = punchh::PunchhConfig::new(&c.base_url, &c.client, &c.signing_secret).unwrap();
        let d = driver();
        for drv in DRIVERS {
            let code_ = code(&d, &cfg, &c.redirect_uri);
            let set = drv
                .run(
                    sb.addr(),
                    punchh::code_for_token(&cfg, &code_, &c.redirect_uri).unwrap(),
                )
                .unwrap_or_else(|e| panic!("{drv:?}: {e:?}"));
            let user = drv
                .run(
                    sb.addr(),
                    punchh::user_info(&cfg, set.access.value.expose()).unwrap(),
                )
                .unwrap_or_else(|e| panic!("{drv:?}: {e:?}"));
            assert_eq!(user.id, 111_111_111);
            let sso = drv
                .run(sb.addr(), punchh::sso(&cfg, &c.security_token).unwrap())
                .unwrap_or_else(|e| panic!("{drv:?}: {e:?}"));
            assert_eq!(sso.user.id, 111_111_111);

            let code_ = code(&d, &cfg, &c.redirect_uri);
            let e = drv
                .run(
                    sb.addr(),
                    punchh::code_for_token(&unsigned, &code_, &c.redirect_uri).unwrap(),
                )
                .unwrap_err()
                .core();
            assert_eq!(e, CoreError::Digest, "{drv:?}");
            let e = drv
                .run(
                    sb.addr(),
                    punchh::code_for_token(&swapped, &code_, &c.redirect_uri).unwrap(),
                )
                .unwrap_err()
                .core();
            assert_eq!(oauth(&e), (401, "invalid_client".into()), "{drv:?}");
            let shown = format!("{e:?}{e}{cfg:?}");
            assert!(!shown.contains("fake-signing-secret"), "{shown}");
            assert!(!shown.contains("fake-oauth-client-secret"), "{shown}");
        }
    });
}

#[test]
fn user_level_token_signs_the_session_on_every_driver() {
    // seed 002: "supply it to the Fetch User Information API to retrieve a user-level
    // authentication or access token. You can then use that user-level token to authenticate API
    // calls for the remainder of the user's session."
    with_timeout(TEST_TIMEOUT, || {
        let sb = sandbox();
        let c = sb.credentials().punchh.clone();
        let cfg = config(&sb);
        let d = driver();
        for drv in DRIVERS {
            let code_ = code(&d, &cfg, &c.redirect_uri);
            let set = drv
                .run(
                    sb.addr(),
                    punchh::code_for_token(&cfg, &code_, &c.redirect_uri).unwrap(),
                )
                .unwrap_or_else(|e| panic!("{drv:?}: {e:?}"));
            let client_level = set.access.value.expose();
            let user = drv
                .run(sb.addr(), punchh::user_info(&cfg, client_level).unwrap())
                .unwrap_or_else(|e| panic!("{drv:?}: {e:?}"));
            // seed 001: "access_token": null — the user-level token is the authentication_token.
            assert_eq!(user.access_token, None);
            let user_level = user.user_token().expect("a user-level token").expose();
            assert_ne!(user_level, client_level, "{drv:?}");
            assert!(!format!("{user:?}").contains(user_level));

            let mut buf = vec![0u8; 4096];
            let req = cfg
                .user_request(&mut buf, Method::Get, USER_LEVEL_PATH, None, user_level)
                .unwrap();
            let (status, body) = drv.send(sb.addr(), &req).expect("user-level call");
            assert_eq!(status, 200, "{drv:?}: {}", String::from_utf8_lossy(&body));
            let me = punchh::User::from_json(&body).unwrap();
            assert_eq!(
                (me.id, me.email.as_str()),
                (111_111_111, "test@example.com")
            );

            // The client-level token is refused there.
            let mut buf = vec![0u8; 4096];
            let req = cfg
                .user_request(&mut buf, Method::Get, USER_LEVEL_PATH, None, client_level)
                .unwrap();
            let (status, body) = drv.send(sb.addr(), &req).expect("client-level call");
            assert_eq!(status, 401, "{drv:?}");
            let body = String::from_utf8_lossy(&body);
            assert!(body.starts_with(r#"{"errors":{"base":["#), "{body}");
        }
        assert_eq!(
            calls(&sb, "GET /punchh/api/sandbox/me"),
            2 * DRIVERS.len() as u64
        );
    });
}
