//! The driver against the in-process sandbox: every grant, injected faults, sessions.

#![allow(clippy::result_large_err)] // the core's errors carry a body excerpt inline

mod common;

use std::time::{Duration, Instant};

use common::{calls, fault, get, oauth_client, sandbox};
use serde_json::json;
use ssoflow_core::{Method, RequestBuilder, TokenSet, oauth2, punchh};
use ssoflow_ureq::{Config, Driver, Error, SharedSession};

const TOKEN: &str = "POST /oauth2/token";
const USERINFO: &str = "GET /oauth2/userinfo";

#[test]
fn every_oauth2_grant_succeeds() {
    let sb = sandbox();
    let creds = sb.credentials().oauth2.clone();
    let driver = Driver::default();
    let client = oauth_client(&sb);

    let cc = driver
        .run(oauth2::client_credentials(&client, None).unwrap())
        .unwrap();
    assert!(!cc.access.value.is_empty());
    assert!(cc.expires_in.is_some());

    let pw = driver
        .run(oauth2::password(&client, &creds.username, &creds.password, None).unwrap())
        .unwrap();
    let refresh_token = pw
        .refresh
        .clone()
        .expect("password grant issues a refresh token");

    let refreshed = driver
        .run(oauth2::refresh(&client, refresh_token.expose(), None).unwrap())
        .unwrap();
    assert_ne!(refreshed.access.value.expose(), pw.access.value.expose());

    let exchanged = driver
        .run(
            oauth2::token_exchange(
                &client,
                refreshed.access.value.expose(),
                oauth2::ACCESS_TOKEN_TYPE,
                None,
                None,
            )
            .unwrap(),
        )
        .unwrap();
    assert!(!exchanged.access.value.is_empty());

    // Authorization code + PKCE: the sandbox auto-approves and redirects (not followed).
    let auth = oauth2::Authorization::from_entropy(&[9; 48]);
    let redirect_uri = "http://127.0.0.1:1/callback";
    let mut buf = [0u8; 2048];
    let url = oauth2::authorize_url(
        &client,
        &format!("{}/authorize", creds.base_url),
        redirect_uri,
        Some("openid"),
        &auth,
        &mut buf,
    )
    .unwrap()
    .to_owned();
    let mut rbuf = [0u8; 2048];
    let resp = driver.send(&get(&mut rbuf, &url)).unwrap();
    assert_eq!(resp.status, 302);
    let location = resp.header_str("location").unwrap().to_owned();
    assert!(location.starts_with(redirect_uri), "{location}");
    let callback = oauth2::parse_callback(&location, &auth.state).unwrap();
    let tokens = driver
        .run(
            oauth2::authorization_code(
                &client,
                callback.code.expose(),
                redirect_uri,
                Some(&auth.pkce),
            )
            .unwrap(),
        )
        .unwrap();
    assert!(tokens.refresh.is_some());
    assert_eq!(calls(&sb, TOKEN), 5);
}

#[test]
fn client_secret_post_and_a_tiny_request_buffer() {
    let sb = sandbox();
    let client = oauth_client(&sb).with_auth(oauth2::ClientAuth::Post);
    // The buffer grows once to what the flow asks for.
    let driver = Driver::new(Config {
        request_buffer: 8,
        ..Config::default()
    });
    let t = driver
        .run(oauth2::client_credentials(&client, Some("read")).unwrap())
        .unwrap();
    assert!(!t.access.value.is_empty());
}

#[test]
fn punchh_get_with_a_body_is_sent_and_signed() {
    let sb = sandbox();
    let c = &sb.credentials().punchh;
    let config = punchh::PunchhConfig::new(&c.base_url, &c.client, &c.secret).unwrap();
    let driver = Driver::default();
    let login = driver
        .run(punchh::sso(&config, &c.security_token).unwrap())
        .unwrap();
    // `GET /api/auth/users` carries `{"client":…}`: without the body the sandbox answers 400.
    let user = driver
        .run(punchh::user_info(&config, login.access_token.value.expose()).unwrap())
        .unwrap();
    assert_eq!(user.id, login.user.id);
    assert_eq!(calls(&sb, "GET /punchh/api/auth/users"), 1);
}

#[test]
fn a_500_is_a_typed_transient_error() {
    let sb = sandbox();
    fault(
        &sb,
        json!({"path": "/oauth2/token", "kind": "status", "status": 500}),
    );
    let client = oauth_client(&sb);
    let err = Driver::default()
        .run(oauth2::client_credentials(&client, None).unwrap())
        .unwrap_err();
    let core = err.as_core().expect("a core error");
    assert_eq!(core.status(), Some(500), "{err}");
    assert!(err.is_transient());
    assert_eq!(err.class(), ssoflow_core::ErrorClass::Refused);
}

#[test]
fn retry_after_is_readable() {
    let sb = sandbox();
    fault(
        &sb,
        json!({"path": "/oauth2/token", "kind": "status", "status": 503, "retry_after": 7}),
    );
    let mut buf = [0u8; 512];
    let url = format!("{}/token", sb.credentials().oauth2.base_url);
    let mut rb = RequestBuilder::new(&mut buf, Method::Post, &url, "");
    rb.form_body(&[("grant_type", "client_credentials")]);
    let resp = Driver::default().send(&rb.finish().unwrap()).unwrap();
    assert_eq!(resp.status, 503);
    assert_eq!(resp.retry_after(), Some(Duration::from_secs(7)));
}

#[test]
fn a_dropped_connection_is_a_transport_error() {
    let sb = sandbox();
    fault(&sb, json!({"path": "/oauth2/token", "kind": "drop"}));
    let client = oauth_client(&sb);
    let err = Driver::default()
        .run(oauth2::client_credentials(&client, None).unwrap())
        .unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert_eq!(err.class(), ssoflow_core::ErrorClass::Transport);
}

#[test]
fn a_truncated_body_is_typed_never_a_panic() {
    let sb = sandbox();
    fault(&sb, json!({"path": "/oauth2/token", "kind": "truncate"}));
    let client = oauth_client(&sb);
    let err = Driver::default()
        .run(oauth2::client_credentials(&client, None).unwrap())
        .unwrap_err();
    assert!(matches!(err.kind(), "transport" | "malformed"), "{err:?}");
}

#[test]
fn a_slow_answer_hits_the_overall_deadline() {
    let sb = sandbox();
    fault(
        &sb,
        json!({"path": "/oauth2/token", "kind": "delay", "ms": 2500}),
    );
    let client = oauth_client(&sb);
    let driver = Driver::new(Config {
        timeout: Duration::from_secs(1),
        ..Config::default()
    });
    let started = Instant::now();
    let err = driver
        .run(oauth2::client_credentials(&client, None).unwrap())
        .unwrap_err();
    assert_eq!(err, Error::Timeout);
    assert!(started.elapsed() < Duration::from_millis(2400));
    assert_eq!(err.class(), ssoflow_core::ErrorClass::Transport);
}

#[test]
fn a_redirect_is_returned_not_followed() {
    let sb = sandbox();
    let client = oauth_client(&sb);
    let auth = oauth2::Authorization::from_entropy(&[3; 48]);
    // A loopback redirect URI pointing back at the sandbox: following it would be counted.
    let redirect_uri = format!("{}/oauth2/userinfo", sb.base_url());
    let mut buf = [0u8; 2048];
    let url = oauth2::authorize_url(
        &client,
        &format!("{}/oauth2/authorize", sb.base_url()),
        &redirect_uri,
        None,
        &auth,
        &mut buf,
    )
    .unwrap()
    .to_owned();
    let mut rbuf = [0u8; 2048];
    let resp = Driver::default().send(&get(&mut rbuf, &url)).unwrap();
    assert_eq!(resp.status, 302);
    assert!(
        resp.header_str("Location")
            .unwrap()
            .starts_with(&redirect_uri)
    );
    assert_eq!(calls(&sb, "GET /oauth2/authorize"), 1);
    assert_eq!(calls(&sb, USERINFO), 0);
}

/// A session signing in with client credentials.
fn session(client: &oauth2::Client) -> SharedSession<oauth2::ClientCredentials<'_>> {
    SharedSession::new(oauth2::ClientCredentials::new(client, None))
}

/// Protected call: `GET /oauth2/userinfo` through `session`.
fn protected_call(
    driver: &Driver,
    session: &SharedSession<oauth2::ClientCredentials<'_>>,
    userinfo: &str,
) -> Result<ssoflow_ureq::OwnedResponse, Error> {
    driver.send_authorized(session, &(), |token: &TokenSet, buf| {
        let mut rb = RequestBuilder::new(buf, Method::Get, userinfo, "");
        rb.bearer(token.access.value.expose());
        rb.finish()
    })
}

#[test]
fn a_401_causes_exactly_one_sign_in_and_one_retry() {
    let sb = sandbox();
    let client = oauth_client(&sb);
    let userinfo = format!("{}/userinfo", sb.credentials().oauth2.base_url);
    let driver = Driver::default();
    let session = session(&client);

    let first = protected_call(&driver, &session, &userinfo).unwrap();
    assert_eq!(first.status, 200);
    assert_eq!(calls(&sb, TOKEN), 1);

    fault(
        &sb,
        json!({"path": "/oauth2/userinfo", "kind": "unauthorized"}),
    );
    let second = protected_call(&driver, &session, &userinfo).unwrap();
    assert_eq!(second.status, 200);
    assert_eq!(calls(&sb, TOKEN), 2, "exactly one re-sign-in");
    assert_eq!(
        calls(&sb, USERINFO),
        3,
        "one call, then the 401 and its retry"
    );
    assert_eq!(session.lock().generation(), 2);
}

#[test]
fn two_401s_in_a_row_are_unauthorized_not_a_loop() {
    let sb = sandbox();
    let client = oauth_client(&sb);
    let userinfo = format!("{}/userinfo", sb.credentials().oauth2.base_url);
    let driver = Driver::default();
    let session = session(&client);
    fault(
        &sb,
        json!({"path": "/oauth2/userinfo", "kind": "unauthorized", "count": 2}),
    );
    let err = protected_call(&driver, &session, &userinfo).unwrap_err();
    assert_eq!(err, Error::Core(ssoflow_core::Error::Unauthorized));
    assert_eq!(err.class(), ssoflow_core::ErrorClass::Refused);
    assert_eq!(calls(&sb, TOKEN), 2);
    assert_eq!(calls(&sb, USERINFO), 2);
}

#[test]
fn a_transient_sign_in_failure_is_retried_after_a_backoff() {
    let sb = sandbox();
    let client = oauth_client(&sb);
    let userinfo = format!("{}/userinfo", sb.credentials().oauth2.base_url);
    let driver = Driver::default();
    let session = session(&client);
    fault(
        &sb,
        json!({"path": "/oauth2/token", "kind": "status", "status": 503}),
    );
    let ok = protected_call(&driver, &session, &userinfo).unwrap();
    assert_eq!(ok.status, 200);
    assert_eq!(calls(&sb, TOKEN), 2, "the 503, then the retry");
}

#[test]
fn a_final_sign_in_failure_is_shared_and_not_rerun_during_the_cooldown() {
    let sb = sandbox();
    let wrong = oauth2::Client::new(
        &format!("{}/token", sb.credentials().oauth2.base_url),
        &sb.credentials().oauth2.client_id,
    )
    .unwrap()
    .with_secret("not-the-secret")
    .unwrap();
    let userinfo = format!("{}/userinfo", sb.credentials().oauth2.base_url);
    let driver = Driver::default();
    let session = session(&wrong);
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                let e = protected_call(&driver, &session, &userinfo).unwrap_err();
                assert_eq!(e.as_core().and_then(|e| e.status()), Some(401), "{e}");
            });
        }
    });
    // Eight callers, one refused sign-in: the others got its error (waiting, or during the
    // cooldown), nobody ran it again.
    assert_eq!(calls(&sb, TOKEN), 1);
    assert_eq!(calls(&sb, USERINFO), 0);
}

#[test]
fn eight_threads_share_one_sign_in() {
    let sb = sandbox();
    let client = oauth_client(&sb);
    let userinfo = format!("{}/userinfo", sb.credentials().oauth2.base_url);
    let driver = Driver::default();
    let session = session(&client);
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                for _ in 0..50 {
                    let r = protected_call(&driver, &session, &userinfo).expect("protected call");
                    assert_eq!(r.status, 200);
                }
            });
        }
    });
    assert_eq!(calls(&sb, TOKEN), 1);
    assert_eq!(calls(&sb, USERINFO), 400);
}
