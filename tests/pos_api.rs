//! POS API end to end: the blocking (ureq) driver against the in-process sandbox; the Basic
//! client authentication with an awkward secret on every driver.
//!
//! Admin account creation (201; a taken name is 409), ROPC login (201; wrong password, unknown
//! user, wrong client secret are 401), refresh with rotation (the old refresh token and its
//! access token stop working), the protected `GET /admin/me` with refresh-on-401 (exactly one
//! re-login), and injected faults.
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
use ssoflow::pos_api::{self, Account, BasicAuth};
use ssoflow::{Error as CoreError, Expiry, TokenSet};
use ssoflow_sandbox::SandboxHandle;
use ssoflow_ureq::{Driver, Error, OwnedResponse, SharedSession};

const LOGIN: &str = "POST /pos/auth/token";
const ME: &str = "GET /pos/admin/me";
const REFRESH: &str = "POST /pos/auth/refresh-token";
const PASSWORD: &str = "correct horse battery staple";

fn config(sb: &SandboxHandle) -> pos_api::PosConfig {
    let c = &sb.credentials().pos_api;
    pos_api::PosConfig::new(&c.base_url, &c.client_id, &c.client_secret)
        .expect("sandbox credentials")
}

fn oauth(e: &CoreError) -> (u16, String) {
    match e {
        CoreError::OAuth { status, error, .. } => (*status, error.as_str().to_owned()),
        other => panic!("expected an OAuth error, got {other:?}"),
    }
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36 && s.split('-').map(str::len).eq([8, 4, 4, 4, 12])
}

fn register_and_login(d: &Driver, cfg: &pos_api::PosConfig, user: &str) -> TokenSet {
    d.run(pos_api::create_account(cfg, user, PASSWORD).unwrap())
        .expect("register");
    d.run(pos_api::login(cfg, user, PASSWORD).unwrap())
        .expect("login")
}

/// `GET /admin/me` with `token`, read by the core.
fn admin(d: &Driver, cfg: &pos_api::PosConfig, token: &str) -> Result<Account, CoreError> {
    let mut buf = vec![0u8; 4096];
    let req = pos_api::admin_request(cfg, token, &mut buf)?;
    let r = d.send(&req).expect("transport");
    r.with_core(pos_api::read_admin)
}

#[test]
fn register_then_duplicate_is_409() {
    with_timeout(TEST_TIMEOUT, || {
        let sb = sandbox();
        let cfg = config(&sb);
        let d = driver();
        let a = d
            .run(pos_api::create_account(&cfg, "alice-admin", PASSWORD).unwrap())
            .unwrap();
        assert!(is_uuid(&a.id), "{}", a.id);
        assert_eq!(a.user_name, "alice-admin");

        let e = core_err(d.run(pos_api::create_account(&cfg, "alice-admin", "other").unwrap()));
        assert_eq!(oauth(&e), (409, "conflict".into()));
        assert_eq!(e.status(), Some(409));
        assert!(!e.is_transient());
        assert!(
            !format!("{e}").contains("other"),
            "no password in the error"
        );

        // Empty credentials never leave the process.
        assert_eq!(
            pos_api::create_account(&cfg, "", "x").unwrap_err(),
            CoreError::InvalidInput { what: "user_name" }
        );
        assert_eq!(
            pos_api::login(&cfg, "x", "").unwrap_err(),
            CoreError::InvalidInput { what: "password" }
        );
        assert_eq!(calls(&sb, "POST /pos/users"), 2);
    });
}

#[test]
fn login_and_its_refusals() {
    with_timeout(TEST_TIMEOUT, || {
        let sb = sandbox();
        let cfg = config(&sb);
        let d = driver();
        let t = register_and_login(&d, &cfg, "bob-admin");
        assert!(
            is_uuid(t.access.value.expose()),
            "the access token is a UUID"
        );
        assert_eq!(t.expires_in, Some(3600));
        assert!(matches!(t.access.expiry, Expiry::At(_)));
        assert!(t.refresh.is_some());
        assert_eq!(
            admin(&d, &cfg, t.access.value.expose()).unwrap().user_name,
            "bob-admin"
        );

        let e = core_err(d.run(pos_api::login(&cfg, "bob-admin", "wrong password").unwrap()));
        assert_eq!(oauth(&e), (401, "unauthorized".into()));
        let e = core_err(d.run(pos_api::login(&cfg, "nobody", PASSWORD).unwrap()));
        assert_eq!(oauth(&e), (401, "unauthorized".into()));

        let c = &sb.credentials().pos_api;
        let wrong_client =
            pos_api::PosConfig::new(&c.base_url, &c.client_id, "wrong-secret").unwrap();
        let e = core_err(d.run(pos_api::login(&wrong_client, "bob-admin", PASSWORD).unwrap()));
        assert_eq!(oauth(&e), (401, "unauthorized".into()));
        assert!(!format!("{e:?}").contains("wrong-secret"));
    });
}

#[test]
fn refresh_rotates_and_the_old_refresh_token_is_refused() {
    with_timeout(TEST_TIMEOUT, || {
        let sb = sandbox();
        let cfg = config(&sb);
        let d = driver();
        let first = register_and_login(&d, &cfg, "carol-admin");
        let old_refresh = first.refresh.as_ref().unwrap().expose().to_owned();
        let second = d
            .run(pos_api::refresh(&cfg, &old_refresh).unwrap())
            .expect("refresh");
        let new_refresh = second.refresh.as_ref().unwrap().expose().to_owned();
        assert_ne!(new_refresh, old_refresh, "rotated");
        assert_ne!(second.access.value.expose(), first.access.value.expose());
        assert_eq!(second.expires_in, Some(3600));

        // The old refresh token and the access token issued with it stop working.
        let e = core_err(d.run(pos_api::refresh(&cfg, &old_refresh).unwrap()));
        assert_eq!(oauth(&e), (401, "unauthorized".into()));
        let e = admin(&d, &cfg, first.access.value.expose()).unwrap_err();
        assert_eq!(oauth(&e), (401, "unauthorized".into()));
        assert_eq!(
            admin(&d, &cfg, second.access.value.expose())
                .unwrap()
                .user_name,
            "carol-admin"
        );

        // The new one works once more.
        d.run(pos_api::refresh(&cfg, &new_refresh).unwrap())
            .expect("refresh again");
        assert!(matches!(
            pos_api::refresh(&cfg, ""),
            Err(CoreError::InvalidInput { .. })
        ));
    });
}

/// `GET /admin/me` through a session whose sign-in is the admin recipe (login, then refresh).
fn me(
    d: &Driver,
    cfg: &pos_api::PosConfig,
    session: &SharedSession<pos_api::Admin<'_>>,
) -> Result<OwnedResponse, Error> {
    d.send_authorized(session, &(), |t: &TokenSet, buf| {
        pos_api::admin_request(cfg, t.access.value.expose(), buf)
    })
}

/// Sign-ins so far: logins and refreshes.
fn sign_ins(sb: &ssoflow_sandbox::SandboxHandle) -> (u64, u64) {
    (calls(sb, LOGIN), calls(sb, REFRESH))
}

#[test]
fn protected_call_refresh_on_401_exactly_one_re_login() {
    with_timeout(TEST_TIMEOUT, || {
        let sb = sandbox();
        let cfg = config(&sb);
        let d = driver();
        d.run(pos_api::create_account(&cfg, "dave-admin", PASSWORD).unwrap())
            .unwrap();
        let session =
            SharedSession::new(pos_api::Admin::new(&cfg, "dave-admin", PASSWORD).unwrap());
        let r = me(&d, &cfg, &session).unwrap();
        assert_eq!(
            r.with_core(pos_api::read_admin).unwrap().user_name,
            "dave-admin"
        );
        me(&d, &cfg, &session).unwrap();
        assert_eq!((sign_ins(&sb), calls(&sb, ME)), ((1, 0), 2));

        // A 401: exactly one renewal, with the refresh token (seed 004: "you can refresh the
        // access token by sending a POST call to the /auth/refresh-token endpoint").
        fault(&sb, r#"{"path":"/pos/admin/me","kind":"unauthorized"}"#);
        assert_eq!(me(&d, &cfg, &session).unwrap().status, 200);
        assert_eq!(
            (sign_ins(&sb), calls(&sb, ME)),
            ((1, 1), 4),
            "exactly one renewal"
        );

        // The access token expires on the sandbox clock: the same single renewal.
        sb.advance_clock(Duration::from_secs(3601));
        assert_eq!(me(&d, &cfg, &session).unwrap().status, 200);
        let (logins, refreshes) = sign_ins(&sb);
        assert_eq!(logins + refreshes, 3, "one renewal");
        assert_eq!(calls(&sb, ME), 6);

        fault(
            &sb,
            r#"{"path":"/pos/admin/me","kind":"unauthorized","count":2}"#,
        );
        assert_eq!(core_err(me(&d, &cfg, &session)), CoreError::Unauthorized);
        let (logins, refreshes) = sign_ins(&sb);
        assert_eq!((logins + refreshes, calls(&sb, ME)), (4, 8));

        // A sign-in that fails is reported as it is, and the session stays usable.
        let nobody = SharedSession::new(pos_api::Admin::new(&cfg, "nobody", PASSWORD).unwrap());
        let e = core_err(me(&d, &cfg, &nobody));
        assert_eq!(oauth(&e), (401, "unauthorized".into()));
    });
}

#[test]
fn faults_500_503_drop_truncate_and_delay_are_typed() {
    with_timeout(TEST_TIMEOUT, || {
        let sb = sandbox();
        let cfg = config(&sb);
        let d = driver();

        fault(&sb, r#"{"path":"/pos/users","kind":"status","status":500}"#);
        let e = core_err(d.run(pos_api::create_account(&cfg, "erin-admin", PASSWORD).unwrap()));
        assert_eq!(oauth(&e), (500, "sandbox_fault".into()));
        assert!(e.is_transient());
        // The failed attempt created nothing: the name is still free.
        let t = register_and_login(&d, &cfg, "erin-admin");
        let refresh = t.refresh.as_ref().unwrap().expose().to_owned();

        fault(
            &sb,
            r#"{"path":"/pos/auth/token","kind":"status","status":503,"retry_after":2}"#,
        );
        let e = core_err(d.run(pos_api::login(&cfg, "erin-admin", PASSWORD).unwrap()));
        assert_eq!(oauth(&e), (503, "sandbox_fault".into()));
        fault(
            &sb,
            r#"{"path":"/pos/admin/me","kind":"status","status":503,"retry_after":2}"#,
        );
        let mut buf = vec![0u8; 4096];
        let r = d
            .send(&pos_api::admin_request(&cfg, "t", &mut buf).unwrap())
            .unwrap();
        assert_eq!(
            (r.status, r.retry_after()),
            (503, Some(Duration::from_secs(2)))
        );

        // A dropped refresh never reached the server: the refresh token still works.
        fault(&sb, r#"{"path":"/pos/auth/refresh-token","kind":"drop"}"#);
        assert_eq!(
            d.run(pos_api::refresh(&cfg, &refresh).unwrap())
                .unwrap_err()
                .kind(),
            "transport"
        );
        let t = d
            .run(pos_api::refresh(&cfg, &refresh).unwrap())
            .expect("not consumed");
        let refresh = t.refresh.as_ref().unwrap().expose().to_owned();

        // A truncated refresh answer: typed as a transport failure, never a half token. The
        // server rotated anyway, so the old refresh token is gone: log in again.
        fault(
            &sb,
            r#"{"path":"/pos/auth/refresh-token","kind":"truncate"}"#,
        );
        assert_eq!(
            d.run(pos_api::refresh(&cfg, &refresh).unwrap())
                .unwrap_err()
                .kind(),
            "transport"
        );
        let e = core_err(d.run(pos_api::refresh(&cfg, &refresh).unwrap()));
        assert_eq!(e.status(), Some(401));

        let quick = driver_with_timeout(Duration::from_secs(1));
        fault(
            &sb,
            r#"{"path":"/pos/auth/token","kind":"delay","ms":1500}"#,
        );
        assert_eq!(
            quick
                .run(pos_api::login(&cfg, "erin-admin", PASSWORD).unwrap())
                .unwrap_err(),
            Error::Timeout
        );
        d.run(pos_api::login(&cfg, "erin-admin", PASSWORD).unwrap())
            .expect("recovered");
    });
}

/// A clearly fake secret with every character raw and form-encoded Basic treat differently.
const ODD_SECRET: &str = "fake pos+/=:@%~secret";

/// A sandbox whose POS client secret is [`ODD_SECRET`], expecting form-encoded Basic or not.
fn odd_sandbox(form_encoded: bool) -> SandboxHandle {
    let mut config = ssoflow_sandbox::Config::default();
    config.pos_api.client_secret = ODD_SECRET.into();
    config.pos_api.basic_form_encoded = form_encoded;
    common::sandbox_with(config, None)
}

#[test]
fn raw_basic_auth_with_an_awkward_secret_on_every_driver() {
    // seed 004: "The client sends an HTTP request that includes a basic authorization header and
    // the user's user_name and password." — no encoding named: Base64 of the raw bytes.
    with_timeout(TEST_TIMEOUT, || {
        let sb = odd_sandbox(false);
        assert_eq!(sb.credentials().pos_api.client_secret, ODD_SECRET);
        let cfg = config(&sb);
        assert_eq!(cfg.basic_auth(), BasicAuth::Raw);
        let form = cfg.clone().with_basic_auth(BasicAuth::FormEncoded);
        for drv in DRIVERS {
            let user = format!("admin-{drv:?}");
            let account = drv
                .run(
                    sb.addr(),
                    pos_api::create_account(&cfg, &user, PASSWORD).unwrap(),
                )
                .unwrap_or_else(|e| panic!("{drv:?}: {e:?}"));
            assert_eq!(account.user_name.as_str(), user);
            let t = drv
                .run(sb.addr(), pos_api::login(&cfg, &user, PASSWORD).unwrap())
                .unwrap_or_else(|e| panic!("{drv:?}: {e:?}"));
            let mut buf = vec![0u8; 4096];
            let req = pos_api::admin_request(&cfg, t.access.value.expose(), &mut buf).unwrap();
            let (status, body) = drv.send(sb.addr(), &req).expect("admin call");
            assert_eq!(status, 200, "{drv:?}");
            let me = pos_api::read_admin(ssoflow::Response::new(status, &body)).unwrap();
            assert_eq!(me.user_name.as_str(), user);
            // The form-encoded quirk is not what this server reads.
            let e = drv
                .run(sb.addr(), pos_api::login(&form, &user, PASSWORD).unwrap())
                .unwrap_err()
                .core();
            assert_eq!(oauth(&e), (401, "unauthorized".into()), "{drv:?}");
            assert!(!format!("{e:?}{e}").contains("fake pos"), "{drv:?}");
        }
        assert_eq!(calls(&sb, LOGIN), 2 * DRIVERS.len() as u64);
    });
}

#[test]
fn form_encoded_basic_auth_is_the_named_quirk_on_every_driver() {
    // seed 004: "includes a basic authorization header" — a server that form-decodes the
    // credentials (RFC 6749 §2.3.1) needs BasicAuth::FormEncoded.
    with_timeout(TEST_TIMEOUT, || {
        let sb = odd_sandbox(true);
        let raw = config(&sb);
        let form = raw.clone().with_basic_auth(BasicAuth::FormEncoded);
        for drv in DRIVERS {
            let user = format!("form-admin-{drv:?}");
            drv.run(
                sb.addr(),
                pos_api::create_account(&form, &user, PASSWORD).unwrap(),
            )
            .unwrap_or_else(|e| panic!("{drv:?}: {e:?}"));
            let t = drv
                .run(sb.addr(), pos_api::login(&form, &user, PASSWORD).unwrap())
                .unwrap_or_else(|e| panic!("{drv:?}: {e:?}"));
            assert!(is_uuid(t.access.value.expose()));
            let e = drv
                .run(sb.addr(), pos_api::login(&raw, &user, PASSWORD).unwrap())
                .unwrap_err()
                .core();
            assert_eq!(oauth(&e), (401, "unauthorized".into()), "{drv:?}");
        }
    });
}

#[test]
fn a_colon_in_the_client_id_never_leaves_the_process_raw() {
    with_timeout(TEST_TIMEOUT, || {
        let sb = odd_sandbox(false);
        let c = &sb.credentials().pos_api;
        let cfg = pos_api::PosConfig::new(&c.base_url, "pos:client", ODD_SECRET).unwrap();
        assert_eq!(
            pos_api::login(&cfg, "admin", PASSWORD).unwrap_err(),
            CoreError::InvalidInput { what: "client_id" }
        );
        assert_eq!(calls(&sb, LOGIN), 0);
    });
}
