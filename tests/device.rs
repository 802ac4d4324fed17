//! Kiosk sign-in and sign-out end to end against the sandbox, on every driver: the device
//! authorization grant (RFC 8628) approved, denied and expired, and token revocation (RFC 7009)
//! with a 503 retried; then each driver's session sign-out (revoke, then clear).
// The core's error carries a redacted body excerpt (no allocator to box it).
#![allow(clippy::result_large_err, clippy::large_enum_variant)]

mod common;
#[path = "common/drivers.rs"]
mod drivers;

use std::time::{Duration, Instant as StdInstant};

use common::{calls, fault, hook, sandbox, sandbox_with, with_timeout};
use drivers::{Drv, SleepClock};
use ssoflow::oauth2::{self, Client, DeviceAuthorization};
use ssoflow::{Error as CoreError, Method, Request, RequestBuilder, TokenSet};
use ssoflow_sandbox::{Config, SandboxHandle};

/// The sandbox's public kiosk client (no secret), leaked: flows borrow it.
fn kiosk(sb: &SandboxHandle) -> &'static Client {
    let c = &sb.credentials().oauth2;
    Box::leak(Box::new(
        Client::new(&format!("{}/token", c.base_url), &c.device_client_id).unwrap(),
    ))
}

fn endpoint(sb: &SandboxHandle, path: &str) -> String {
    format!("{}{path}", sb.credentials().oauth2.base_url)
}

/// Codes for the kiosk, on `drv`.
fn codes(drv: Drv, sb: &SandboxHandle, client: &Client) -> DeviceAuthorization {
    let url = endpoint(sb, "/device_authorization");
    let a = drv
        .run(
            sb.addr(),
            oauth2::device_authorization(client, &url, Some("orders")).unwrap(),
        )
        .unwrap_or_else(|e| panic!("{drv:?}: {e:?}"));
    assert_eq!(a.interval_secs(), 1);
    assert!(a.verification_uri_complete().is_some());
    a
}

/// The status `/oauth2/userinfo` answers `access`.
fn userinfo(sb: &SandboxHandle, access: &str) -> u16 {
    let url = endpoint(sb, "/userinfo");
    let mut buf = [0u8; 4096];
    let mut rb = RequestBuilder::new(&mut buf, Method::Get, &url, "");
    rb.bearer(access);
    let request: Request<'_> = rb.finish().unwrap();
    ssoflow_ureq::Driver::default()
        .send(&request)
        .unwrap()
        .status
}

/// Approved through the hook while the driver polls: the token arrives, it works, no poll came
/// sooner than the interval (the sandbox would have said `slow_down`: the flow would have
/// slowed and still succeeded, so the poll count is checked too), and revocation ends it.
fn approved_then_revoked(drv: Drv) {
    let sb = sandbox();
    let client = kiosk(&sb);
    let a = codes(drv, &sb, client);
    let started = StdInstant::now();
    let body = format!(r#"{{"user_code":"{}"}}"#, a.user_code());
    let tokens: TokenSet = std::thread::scope(|scope| {
        let approver = scope.spawn(|| {
            // After the first poll (due 1 s after the codes), so that one at least is pending.
            let deadline = StdInstant::now() + Duration::from_secs(20);
            while calls(&sb, "POST /oauth2/token") == 0 && StdInstant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            hook(&sb, "POST", "/__sandbox/device/approve", &body).0
        });
        let tokens = drv
            .run_paced(sb.addr(), oauth2::device_token(client, &a).unwrap())
            .unwrap_or_else(|e| panic!("{drv:?}: {e:?}"));
        assert_eq!(approver.join().unwrap(), 200);
        tokens
    });
    let elapsed = started.elapsed().as_secs_f64();
    let polls = calls(&sb, "POST /oauth2/token");
    assert!(polls >= 2, "{drv:?}: {polls} polls (one pending at least)");
    assert!(
        polls as f64 <= elapsed / 1.0 + 1.0,
        "{drv:?}: {polls} polls in {elapsed:.1} s at a 1 s interval"
    );
    assert_eq!(tokens.scope.as_deref(), Some("orders"));
    let access = tokens.access.value.expose().to_owned();
    assert_eq!(userinfo(&sb, &access), 200, "{drv:?}");
    // Sign out: the refresh token (taking its access tokens along), then the access token.
    let revoke_url = endpoint(&sb, "/revoke");
    drv.run_paced(
        sb.addr(),
        oauth2::revoke_tokens(client, &revoke_url, &tokens).unwrap(),
    )
    .unwrap_or_else(|e| panic!("{drv:?}: {e:?}"));
    assert_eq!(calls(&sb, "POST /oauth2/revoke"), 2, "{drv:?}");
    assert_eq!(userinfo(&sb, &access), 401, "{drv:?}: revoked");
}

fn denied(drv: Drv) {
    let sb = sandbox();
    let client = kiosk(&sb);
    let a = codes(drv, &sb, client);
    let (s, _) = hook(&sb, "POST", "/__sandbox/device/deny", "{}");
    assert_eq!(s, 200);
    let e = drv
        .run_paced(sb.addr(), oauth2::device_token(client, &a).unwrap())
        .unwrap_err()
        .core();
    assert_eq!(e, CoreError::AccessDenied, "{drv:?}");
    assert_eq!(calls(&sb, "POST /oauth2/token"), 1, "{drv:?}");
}

fn expired(drv: Drv) {
    let mut config = Config::default();
    config.oauth2.device_code_ttl_s = 2;
    let sb = sandbox_with(config, None);
    let client = kiosk(&sb);
    let a = codes(drv, &sb, client);
    let e = drv
        .run_paced(sb.addr(), oauth2::device_token(client, &a).unwrap())
        .unwrap_err()
        .core();
    assert_eq!(e, CoreError::ExpiredToken, "{drv:?}");
    // Polled at 1 s and 2 s at most; never after the codes expired.
    assert!(calls(&sb, "POST /oauth2/token") <= 2, "{drv:?}");
}

/// RFC 7009 §2.2.1: a 503 with `Retry-After: 1` is retried after a second; an unknown token is
/// revoked with a 200 all the same.
fn revoke_retries_a_503(drv: Drv) {
    let sb = sandbox();
    let client = kiosk(&sb);
    fault(
        &sb,
        r#"{"path":"/oauth2/revoke","kind":"status","status":503,"retry_after":1}"#,
    );
    let url = endpoint(&sb, "/revoke");
    let started = StdInstant::now();
    drv.run_paced(
        sb.addr(),
        oauth2::revoke(
            client,
            &url,
            "never-issued",
            Some(oauth2::TokenTypeHint::AccessToken),
        )
        .unwrap(),
    )
    .unwrap_or_else(|e| panic!("{drv:?}: {e:?}"));
    assert!(started.elapsed() >= Duration::from_millis(1_000), "{drv:?}");
    assert_eq!(calls(&sb, "POST /oauth2/revoke"), 2, "{drv:?}");
}

macro_rules! on_every_driver {
    ($($scenario:ident),*) => {
        $(
            mod $scenario {
                use super::*;
                #[test] fn ureq() { with_timeout(common::TEST_TIMEOUT, || super::$scenario(Drv::Ureq)) }
                #[test] fn tokio() { with_timeout(common::TEST_TIMEOUT, || super::$scenario(Drv::Tokio)) }
                #[test] fn embedded_blocking() { with_timeout(common::TEST_TIMEOUT, || super::$scenario(Drv::EmbBlocking)) }
                #[test] fn embedded_async() { with_timeout(common::TEST_TIMEOUT, || super::$scenario(Drv::EmbAsync)) }
                #[test] fn http_compat() { with_timeout(common::TEST_TIMEOUT, || super::$scenario(Drv::HttpCompat)) }
            }
        )*
    };
}

on_every_driver!(approved_then_revoked, denied, expired, revoke_retries_a_503);

/// A password sign-in's tokens, for the session tests.
fn password_client(sb: &SandboxHandle) -> &'static Client {
    let c = &sb.credentials().oauth2;
    Box::leak(Box::new(
        Client::new(&format!("{}/token", c.base_url), &c.client_id)
            .unwrap()
            .with_secret(&c.client_secret)
            .unwrap(),
    ))
}

fn userinfo_request<'b>(
    url: &str,
    t: &TokenSet,
    buf: &'b mut [u8],
) -> Result<Request<'b>, CoreError> {
    let mut rb = RequestBuilder::new(buf, Method::Get, url, "");
    rb.bearer(t.access.value.expose());
    rb.finish()
}

#[test]
fn ureq_shared_session_signs_out_revoke_then_clear() {
    with_timeout(common::TEST_TIMEOUT, || {
        let sb = sandbox();
        let c = sb.credentials().oauth2.clone();
        let client = password_client(&sb);
        let d = ssoflow_ureq::Driver::default();
        let session = ssoflow_ureq::SharedSession::new(
            oauth2::Password::new(client, &c.username, &c.password, None).unwrap(),
        );
        let url = endpoint(&sb, "/userinfo");
        let r = d
            .send_authorized(&session, &(), |t, buf| userinfo_request(&url, t, buf))
            .unwrap();
        assert_eq!(r.status, 200);
        let access = session
            .lock()
            .current()
            .unwrap()
            .access
            .value
            .expose()
            .to_owned();
        d.sign_out(&session, client, &endpoint(&sb, "/revoke"))
            .unwrap();
        assert!(session.lock().current().is_none());
        assert_eq!(calls(&sb, "POST /oauth2/revoke"), 2);
        assert_eq!(userinfo(&sb, &access), 401);
        // The next call signs in afresh.
        let r = d
            .send_authorized(&session, &(), |t, buf| userinfo_request(&url, t, buf))
            .unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(calls(&sb, "POST /oauth2/token"), 2);
        // Nothing held after a second sign-out... and nothing to revoke in a fresh session.
        let empty = ssoflow_ureq::SharedSession::new(
            oauth2::Password::new(client, &c.username, &c.password, None).unwrap(),
        );
        d.sign_out(&empty, client, &endpoint(&sb, "/revoke"))
            .unwrap();
        assert_eq!(calls(&sb, "POST /oauth2/revoke"), 2);
    })
}

#[test]
fn tokio_token_cache_signs_out_revoke_then_clear() {
    with_timeout(common::TEST_TIMEOUT, || {
        let sb = sandbox();
        let c = sb.credentials().oauth2.clone();
        let client = password_client(&sb);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let driver = ssoflow_tokio::Driver::new().unwrap();
            let username: &'static str = Box::leak(c.username.clone().into_boxed_str());
            let password: &'static str = Box::leak(c.password.clone().into_boxed_str());
            let cache = ssoflow_tokio::TokenCache::new(
                driver,
                oauth2::Password::new(client, username, password, None).unwrap(),
                ssoflow_tokio::CacheConfig::default(),
            );
            let token = cache.get(&()).await.unwrap();
            let access = token.access.value.expose().to_owned();
            assert_eq!(userinfo(&sb, &access), 200);
            cache
                .sign_out(&(), client, &endpoint(&sb, "/revoke"))
                .await
                .unwrap();
            assert_eq!(calls(&sb, "POST /oauth2/revoke"), 2);
            assert_eq!(userinfo(&sb, &access), 401);
            // The next caller signs in afresh.
            let again = cache.get(&()).await.unwrap();
            assert_ne!(again.access.value.expose(), access);
            assert_eq!(calls(&sb, "POST /oauth2/token"), 2);
        });
    })
}

#[test]
fn embedded_session_signs_out_revoke_then_clear() {
    with_timeout(common::TEST_TIMEOUT, || {
        let sb = sandbox();
        let c = sb.credentials().oauth2.clone();
        let client = password_client(&sb);
        let recipe = oauth2::Password::new(client, &c.username, &c.password, None).unwrap();
        let mut session =
            ssoflow::session::Session::<TokenSet, ssoflow_embedded_io::Error>::with_policy(
                ssoflow::session::Policy::DEFAULT,
            );
        let mut stream = drivers::BlockingTcp::connect(sb.addr());
        let mut buf = vec![0u8; ssoflow_embedded_io::DEFAULT_BUF];
        let mut d = ssoflow_embedded_io::Driver::new(&mut buf);
        let mut clock = SleepClock::new();
        let url = endpoint(&sb, "/userinfo");
        let status = d
            .send_authorized(
                &mut stream,
                &mut clock,
                &mut session,
                &recipe,
                &(),
                || [7; 16],
                |t, buf| userinfo_request(&url, t, buf),
            )
            .unwrap()
            .status();
        assert_eq!(status, 200);
        let access = session.current().unwrap().access.value.expose().to_owned();
        d.sign_out(
            &mut stream,
            &mut clock,
            &mut session,
            client,
            &endpoint(&sb, "/revoke"),
            [9; 16],
        )
        .unwrap();
        assert!(session.current().is_none());
        assert_eq!(calls(&sb, "POST /oauth2/revoke"), 2);
        assert_eq!(userinfo(&sb, &access), 401);
    })
}
