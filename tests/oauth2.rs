//! Generic OAuth 2.0 end to end: the blocking (ureq) driver against the sandbox's RFC 6749
//! server.
//!
//! Every grant (client credentials, password, refresh with rotation, authorization code with
//! PKCE S256 and `state`, RFC 8693 token exchange), every client authentication method,
//! `invalid_client` (401), `invalid_grant` (400), `invalid_scope`, refresh-token replay (the
//! family is revoked), PKCE mismatch, code reuse, refresh-on-401 of a protected call (exactly
//! one re-sign-in), and injected faults.
// The drivers' errors carry the core's ~200-byte error inline, as in the crates themselves.
#![allow(clippy::result_large_err, clippy::large_enum_variant)]

mod common;

use std::time::Duration;

use common::{
    TEST_TIMEOUT, calls, core_err, driver, driver_with_timeout, fault, sandbox, with_timeout,
};
use ssoflow::oauth2::{self, Authorization, Client, ClientAuth, Pkce};
use ssoflow::{Error as CoreError, Expiry, Method, Quirks, RequestBuilder, TokenSet};
use ssoflow_sandbox::SandboxHandle;
use ssoflow_ureq::{Driver, Error, OwnedResponse, SharedSession};

const TOKEN: &str = "POST /oauth2/token";
const USERINFO: &str = "GET /oauth2/userinfo";

fn client(sb: &SandboxHandle) -> Client {
    let c = &sb.credentials().oauth2;
    Client::new(&format!("{}/token", c.base_url), &c.client_id)
        .and_then(|cl| cl.with_secret(&c.client_secret))
        .expect("sandbox credentials")
}

fn oauth(e: &CoreError) -> (u16, String) {
    match e {
        CoreError::OAuth { status, error, .. } => (*status, error.as_str().to_owned()),
        other => panic!("expected an OAuth error, got {other:?}"),
    }
}

fn password(d: &Driver, cl: &Client, sb: &SandboxHandle) -> TokenSet {
    let c = &sb.credentials().oauth2;
    d.run(oauth2::password(cl, &c.username, &c.password, None).unwrap())
        .expect("password grant")
}

/// `GET /oauth2/userinfo` with `token`.
fn userinfo(d: &Driver, sb: &SandboxHandle, token: &str) -> OwnedResponse {
    let url = format!("{}/userinfo", sb.credentials().oauth2.base_url);
    let mut buf = vec![0u8; 4096];
    let mut rb = RequestBuilder::new(&mut buf, Method::Get, &url, "");
    rb.bearer(token);
    d.send(&rb.finish().unwrap()).expect("transport")
}

/// Authorize (auto-approved), follow nothing, and return the callback's code.
fn authorize(
    d: &Driver,
    sb: &SandboxHandle,
    cl: &Client,
    auth: &Authorization,
    redirect: &str,
) -> String {
    let endpoint = format!("{}/authorize", sb.credentials().oauth2.base_url);
    let mut buf = vec![0u8; 2048];
    let url = oauth2::authorize_url(
        cl,
        &endpoint,
        redirect,
        Some("openid profile"),
        auth,
        &mut buf,
    )
    .unwrap()
    .to_owned();
    let mut buf = vec![0u8; 4096];
    let r = d
        .send(
            &RequestBuilder::new(&mut buf, Method::Get, &url, "")
                .finish()
                .unwrap(),
        )
        .unwrap();
    assert_eq!(r.status, 302);
    let location = r.header_str("location").expect("Location");
    assert!(location.starts_with(redirect), "{location}");
    oauth2::parse_callback(location, &auth.state)
        .expect("state matches")
        .code
        .expose()
        .to_owned()
}

#[test]
fn client_credentials_and_strict_quirks() {
    with_timeout(TEST_TIMEOUT, || {
        let sb = sandbox();
        let cl = client(&sb);
        let d = driver();
        let t = d
            .run(oauth2::client_credentials(&cl, Some("orders menus")).unwrap())
            .unwrap();
        assert_eq!(t.scope.as_deref(), Some("orders menus"));
        assert_eq!(t.expires_in, Some(3600));
        assert!(matches!(t.access.expiry, Expiry::At(_)));
        assert!(t.refresh.is_none(), "no refresh token for a machine");
        assert_eq!(userinfo(&d, &sb, t.access.value.expose()).status, 200);

        // The sandbox speaks the letter of RFC 6749: strict quirks accept it.
        let strict = cl.clone().with_quirks(Quirks::STRICT);
        d.run(oauth2::client_credentials(&strict, None).unwrap())
            .expect("strict");
        // Every client authentication method.
        for auth in [ClientAuth::Basic, ClientAuth::BasicRaw, ClientAuth::Post] {
            let cl = cl.clone().with_auth(auth);
            d.run(oauth2::client_credentials(&cl, None).unwrap())
                .unwrap_or_else(|e| panic!("{auth:?}: {e}"));
        }
        assert_eq!(calls(&sb, TOKEN), 5);
    });
}

#[test]
fn invalid_client_invalid_grant_invalid_scope() {
    with_timeout(TEST_TIMEOUT, || {
        let sb = sandbox();
        let c = sb.credentials().oauth2.clone();
        let d = driver();
        let url = format!("{}/token", c.base_url);
        for wrong in [
            Client::new(&url, &c.client_id)
                .unwrap()
                .with_secret("wrong")
                .unwrap(),
            Client::new(&url, "nobody")
                .unwrap()
                .with_secret(&c.client_secret)
                .unwrap(),
            Client::new(&url, &c.client_id)
                .unwrap()
                .with_secret("wrong")
                .unwrap()
                .with_auth(ClientAuth::Post),
            // A public client (no secret) is not registered here.
            Client::new(&url, &c.client_id).unwrap(),
        ] {
            let e = core_err(d.run(oauth2::client_credentials(&wrong, None).unwrap()));
            assert_eq!(oauth(&e), (401, "invalid_client".into()), "{wrong:?}");
            assert!(!format!("{e} {e:?}").contains(&c.client_secret));
        }

        let cl = client(&sb);
        let e = core_err(d.run(oauth2::password(&cl, &c.username, "wrong", None).unwrap()));
        assert_eq!(oauth(&e), (400, "invalid_grant".into()));
        match &e {
            CoreError::OAuth { description, .. } => {
                assert!(description.as_str().contains("wrong username or password"))
            }
            _ => unreachable!(),
        }
        let e = core_err(d.run(oauth2::password(&cl, "mallory", &c.password, None).unwrap()));
        assert_eq!(oauth(&e), (400, "invalid_grant".into()));
        let e = core_err(d.run(oauth2::client_credentials(&cl, Some("a\"b")).unwrap()));
        assert_eq!(oauth(&e), (400, "invalid_scope".into()));
        let e = core_err(d.run(oauth2::refresh(&cl, "never-issued", None).unwrap()));
        assert_eq!(oauth(&e), (400, "invalid_grant".into()));
        let e = core_err(
            d.run(
                oauth2::token_exchange(&cl, "not-a-token", oauth2::ACCESS_TOKEN_TYPE, None, None)
                    .unwrap(),
            ),
        );
        assert_eq!(oauth(&e), (400, "invalid_grant".into()));
        let e = core_err(d.run(oauth2::token_exchange(&cl, "x", "urn:other", None, None).unwrap()));
        assert_eq!(oauth(&e), (400, "invalid_request".into()));
        assert!(matches!(
            oauth2::password(&cl, "", "p", None),
            Err(CoreError::InvalidInput { .. })
        ));
    });
}

#[test]
fn password_refresh_rotation_and_replay_revokes_the_family() {
    with_timeout(TEST_TIMEOUT, || {
        let sb = sandbox();
        let cl = client(&sb);
        let d = driver();
        let t1 = password(&d, &cl, &sb);
        let r1 = t1
            .refresh
            .as_ref()
            .expect("a refresh token")
            .expose()
            .to_owned();
        let t2 = d
            .run(oauth2::refresh(&cl, &r1, None).unwrap())
            .expect("refresh");
        let r2 = t2.refresh.as_ref().unwrap().expose().to_owned();
        assert_ne!(r1, r2, "rotated");
        assert_eq!(userinfo(&d, &sb, t2.access.value.expose()).status, 200);

        // Replaying the old refresh token: refused, and the whole family is revoked.
        let e = core_err(d.run(oauth2::refresh(&cl, &r1, None).unwrap()));
        assert_eq!(oauth(&e), (400, "invalid_grant".into()));
        let e = core_err(d.run(oauth2::refresh(&cl, &r2, None).unwrap()));
        assert_eq!(
            oauth(&e),
            (400, "invalid_grant".into()),
            "the rotated-to token too"
        );
        assert_eq!(userinfo(&d, &sb, t2.access.value.expose()).status, 401);

        // A scope wider than granted is refused; a fresh family works again.
        let t3 = password(&d, &cl, &sb);
        let r3 = t3.refresh.as_ref().unwrap().expose();
        let e = core_err(d.run(oauth2::refresh(&cl, r3, Some("admin")).unwrap()));
        assert_eq!(oauth(&e), (400, "invalid_scope".into()));
        d.run(oauth2::refresh(&cl, r3, None).unwrap())
            .expect("new family");
    });
}

#[test]
fn authorization_code_with_pkce_and_its_refusals() {
    with_timeout(TEST_TIMEOUT, || {
        let sb = sandbox();
        let cl = client(&sb);
        let d = driver();
        let redirect = "http://127.0.0.1:9/callback";

        let auth = Authorization::from_entropy(&[5; 48]);
        let code = authorize(&d, &sb, &cl, &auth, redirect);
        let t = d
            .run(oauth2::authorization_code(&cl, &code, redirect, Some(&auth.pkce)).unwrap())
            .expect("code exchange");
        assert_eq!(t.scope.as_deref(), Some("openid profile"));
        assert!(t.refresh.is_some());
        assert_eq!(userinfo(&d, &sb, t.access.value.expose()).status, 200);

        // Reusing the code: refused, and the tokens issued for it are revoked.
        let e = core_err(
            d.run(oauth2::authorization_code(&cl, &code, redirect, Some(&auth.pkce)).unwrap()),
        );
        assert_eq!(oauth(&e), (400, "invalid_grant".into()));
        assert_eq!(userinfo(&d, &sb, t.access.value.expose()).status, 401);

        // PKCE mismatch: another verifier.
        let auth = Authorization::from_entropy(&[6; 48]);
        let code = authorize(&d, &sb, &cl, &auth, redirect);
        let other = Pkce::from_entropy(&[7; 32]);
        let e = core_err(
            d.run(oauth2::authorization_code(&cl, &code, redirect, Some(&other)).unwrap()),
        );
        assert_eq!(oauth(&e), (400, "invalid_grant".into()));

        // No verifier at all.
        let auth = Authorization::from_entropy(&[8; 48]);
        let code = authorize(&d, &sb, &cl, &auth, redirect);
        let e = core_err(d.run(oauth2::authorization_code(&cl, &code, redirect, None).unwrap()));
        assert_eq!(oauth(&e), (400, "invalid_grant".into()));

        // Another redirect URI than the one authorized.
        let auth = Authorization::from_entropy(&[9; 48]);
        let code = authorize(&d, &sb, &cl, &auth, redirect);
        let e = core_err(
            d.run(
                oauth2::authorization_code(
                    &cl,
                    &code,
                    "http://127.0.0.1:9/other",
                    Some(&auth.pkce),
                )
                .unwrap(),
            ),
        );
        assert_eq!(oauth(&e), (400, "invalid_grant".into()));

        // Codes expire after 10 minutes of sandbox time.
        let auth = Authorization::from_entropy(&[10; 48]);
        let code = authorize(&d, &sb, &cl, &auth, redirect);
        sb.advance_clock(Duration::from_secs(601));
        let e = core_err(
            d.run(oauth2::authorization_code(&cl, &code, redirect, Some(&auth.pkce)).unwrap()),
        );
        assert_eq!(oauth(&e), (400, "invalid_grant".into()));
    });
}

#[test]
fn callback_state_is_checked() {
    with_timeout(TEST_TIMEOUT, || {
        let sb = sandbox();
        let cl = client(&sb);
        let d = driver();
        let auth = Authorization::from_entropy(&[11; 48]);
        let endpoint = format!("{}/authorize", sb.credentials().oauth2.base_url);
        let mut buf = vec![0u8; 2048];
        let url = oauth2::authorize_url(
            &cl,
            &endpoint,
            "http://127.0.0.1:9/cb",
            None,
            &auth,
            &mut buf,
        )
        .unwrap()
        .to_owned();
        let mut buf = vec![0u8; 4096];
        let r = d
            .send(
                &RequestBuilder::new(&mut buf, Method::Get, &url, "")
                    .finish()
                    .unwrap(),
            )
            .unwrap();
        let location = r.header_str("location").unwrap();
        let other = Authorization::from_entropy(&[12; 48]);
        assert_eq!(
            oauth2::parse_callback(location, &other.state).unwrap_err(),
            CoreError::StateMismatch
        );
        assert!(oauth2::parse_callback(location, &auth.state).is_ok());

        // A redirect URI that is neither registered nor loopback is refused on the page itself.
        let mut buf = vec![0u8; 2048];
        let url = oauth2::authorize_url(
            &cl,
            &endpoint,
            "https://evil.example/cb",
            None,
            &auth,
            &mut buf,
        )
        .unwrap()
        .to_owned();
        let mut buf = vec![0u8; 4096];
        let r = d
            .send(
                &RequestBuilder::new(&mut buf, Method::Get, &url, "")
                    .finish()
                    .unwrap(),
            )
            .unwrap();
        assert_eq!(r.status, 400);
        assert!(r.header("location").is_none());
    });
}

#[test]
fn token_exchange_rfc8693() {
    with_timeout(TEST_TIMEOUT, || {
        let sb = sandbox();
        let cl = client(&sb);
        let d = driver();
        let subject = d
            .run(oauth2::client_credentials(&cl, Some("orders")).unwrap())
            .unwrap();
        let t = d
            .run(
                oauth2::token_exchange(
                    &cl,
                    subject.access.value.expose(),
                    oauth2::ACCESS_TOKEN_TYPE,
                    None,
                    None,
                )
                .unwrap(),
            )
            .expect("exchange");
        assert_ne!(t.access.value.expose(), subject.access.value.expose());
        assert_eq!(
            t.scope.as_deref(),
            Some("orders"),
            "the subject's scope carries over"
        );
        assert_eq!(userinfo(&d, &sb, t.access.value.expose()).status, 200);

        // An expired subject token is refused.
        sb.advance_clock(Duration::from_secs(3601));
        let e = core_err(
            d.run(
                oauth2::token_exchange(
                    &cl,
                    subject.access.value.expose(),
                    oauth2::ACCESS_TOKEN_TYPE,
                    None,
                    None,
                )
                .unwrap(),
            ),
        );
        assert_eq!(oauth(&e), (400, "invalid_grant".into()));
    });
}

/// `GET /oauth2/userinfo` through a session whose sign-in is the password grant.
fn protected(
    d: &Driver,
    sb: &SandboxHandle,
    session: &SharedSession<oauth2::Password<'_>>,
) -> Result<OwnedResponse, Error> {
    let url = format!("{}/userinfo", sb.credentials().oauth2.base_url);
    d.send_authorized(session, &(), |t: &TokenSet, buf| {
        let mut rb = RequestBuilder::new(buf, Method::Get, &url, "");
        rb.bearer(t.access.value.expose());
        rb.finish()
    })
}

#[test]
fn refresh_on_401_exactly_one_re_sign_in() {
    with_timeout(TEST_TIMEOUT, || {
        let sb = sandbox();
        let cl = client(&sb);
        let c = sb.credentials().oauth2.clone();
        let d = driver();
        let session =
            SharedSession::new(oauth2::Password::new(&cl, &c.username, &c.password, None).unwrap());
        let r = protected(&d, &sb, &session).unwrap();
        assert_eq!(r.status, 200);
        assert!(String::from_utf8_lossy(&r.body).contains("johndoe"));
        protected(&d, &sb, &session).unwrap();
        assert_eq!((calls(&sb, TOKEN), calls(&sb, USERINFO)), (1, 2));

        fault(&sb, r#"{"path":"/oauth2/userinfo","kind":"unauthorized"}"#);
        assert_eq!(protected(&d, &sb, &session).unwrap().status, 200);
        assert_eq!(
            (calls(&sb, TOKEN), calls(&sb, USERINFO)),
            (2, 4),
            "exactly one re-sign-in"
        );

        sb.advance_clock(Duration::from_secs(3601));
        assert_eq!(protected(&d, &sb, &session).unwrap().status, 200);
        assert_eq!((calls(&sb, TOKEN), calls(&sb, USERINFO)), (3, 6));

        fault(
            &sb,
            r#"{"path":"/oauth2/userinfo","kind":"unauthorized","count":2}"#,
        );
        assert_eq!(
            core_err(protected(&d, &sb, &session)),
            CoreError::Unauthorized
        );
        assert_eq!((calls(&sb, TOKEN), calls(&sb, USERINFO)), (4, 8));

        // The call that ended Unauthorized left the session's token marked stale: the next
        // call signs in again first.
        assert_eq!(protected(&d, &sb, &session).unwrap().status, 200);
        assert_eq!(calls(&sb, TOKEN), 5);

        // Eight threads, one 401: one re-sign-in between them.
        let before = calls(&sb, TOKEN);
        fault(&sb, r#"{"path":"/oauth2/userinfo","kind":"unauthorized"}"#);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| assert_eq!(protected(&d, &sb, &session).unwrap().status, 200));
            }
        });
        assert_eq!(
            calls(&sb, TOKEN) - before,
            1,
            "one 401 report, one re-sign-in"
        );
    });
}

#[test]
fn faults_500_503_drop_truncate_and_delay_are_typed() {
    with_timeout(TEST_TIMEOUT, || {
        let sb = sandbox();
        let cl = client(&sb);
        let d = driver();
        let cc = || d.run(oauth2::client_credentials(&cl, None).unwrap());

        for status in [500, 502, 503] {
            fault(
                &sb,
                &format!(r#"{{"path":"/oauth2/token","kind":"status","status":{status}}}"#),
            );
            let e = core_err(cc());
            assert_eq!(oauth(&e), (status, "sandbox_fault".into()));
            assert!(e.is_transient());
        }
        fault(
            &sb,
            r#"{"path":"/oauth2/token","kind":"status","status":429,"retry_after":1}"#,
        );
        assert!(core_err(cc()).is_transient(), "429 is transient");
        fault(
            &sb,
            r#"{"path":"/oauth2/userinfo","kind":"status","status":503,"retry_after":30}"#,
        );
        let r = userinfo(&d, &sb, "t");
        assert_eq!(
            (r.status, r.retry_after()),
            (503, Some(Duration::from_secs(30)))
        );

        fault(&sb, r#"{"path":"/oauth2/token","kind":"drop"}"#);
        let e = cc().unwrap_err();
        assert_eq!(e.kind(), "transport");
        assert!(e.is_transient());

        fault(&sb, r#"{"path":"/oauth2/token","kind":"truncate"}"#);
        assert_eq!(cc().unwrap_err().kind(), "transport");

        let quick = driver_with_timeout(Duration::from_secs(1));
        fault(&sb, r#"{"path":"/oauth2/token","kind":"delay","ms":1500}"#);
        assert_eq!(
            quick
                .run(oauth2::client_credentials(&cl, None).unwrap())
                .unwrap_err(),
            Error::Timeout
        );
        // A delay within the deadline is just slow.
        fault(&sb, r#"{"path":"/oauth2/token","kind":"delay","ms":200}"#);
        quick
            .run(oauth2::client_credentials(&cl, None).unwrap())
            .expect("slow but in time");

        fault(&sb, r#"{"path":"/oauth2/token","kind":"unauthorized"}"#);
        assert_eq!(oauth(&core_err(cc())), (401, "invalid_client".into()));
        cc().expect("recovered");
    });
}
