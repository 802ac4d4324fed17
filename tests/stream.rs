//! Stream end to end: the blocking (ureq) driver against the in-process sandbox.
//!
//! API client token, generate-session (client-side validation and the server's 422), the
//! one-time login token (redeem once; a second redeem is `SsoTokenRedeemed`, also under
//! concurrent redemption; expired after 300 s on the sandbox clock), organizations shared by
//! `provider_org_id`, refresh-on-401 of the API token, and injected faults.
// The drivers' errors carry the core's ~200-byte error inline, as in the crates themselves.
#![allow(clippy::result_large_err, clippy::large_enum_variant)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{
    TEST_TIMEOUT, calls, core_err, driver, driver_with_timeout, fault, sandbox, with_timeout,
};
use ssoflow::oauth2::ClientAuth;
use ssoflow::stream::{self, Role, SessionRequest, StreamSession};
use ssoflow::{Error as CoreError, Expiry, Flow, Method, RequestBuilder, Step, TokenSet};
use ssoflow_sandbox::SandboxHandle;
use ssoflow_ureq::{Driver, Error, SharedSession};

const TOKEN: &str = "POST /stream/oauth/token";
const GENERATE: &str = "POST /stream/white-label/generate-session";

fn config(sb: &SandboxHandle) -> stream::StreamConfig {
    let c = &sb.credentials().stream;
    // The sandbox serves the white-label redirect under the same prefix.
    stream::StreamConfig::new(&c.base_url, &c.base_url, &c.client_id, &c.client_secret)
        .expect("sandbox credentials")
}

fn user<'a>(org: &'a str, email: &'a str) -> SessionRequest<'a> {
    SessionRequest {
        provider_org_id: org,
        role: Role::Manager,
        email,
        full_name: "Sarah Johnson",
        phone_number: "+1-555-123-4567",
    }
}

fn api_token(d: &Driver, cfg: &stream::StreamConfig) -> TokenSet {
    d.run(stream::api_token(cfg).unwrap()).expect("API token")
}

/// Generate a session for `who` and build its one-time redirect URL.
fn login_url(
    d: &Driver,
    cfg: &stream::StreamConfig,
    api: &TokenSet,
    who: &SessionRequest<'_>,
) -> String {
    let token = d
        .run(stream::generate_session(cfg, api.access.value.expose(), who).unwrap())
        .expect("generate-session");
    let mut buf = vec![0u8; stream::MAX_REDIRECT_URL_LEN];
    token
        .into_redirect_url(cfg, &mut buf)
        .expect("redirect URL")
        .to_owned()
}

fn redeem(d: &Driver, url: &str) -> Result<StreamSession, Error> {
    d.run(stream::redeem(url).unwrap())
}

fn oauth(e: &CoreError) -> (u16, String) {
    match e {
        CoreError::OAuth { status, error, .. } => (*status, error.as_str().to_owned()),
        other => panic!("expected an OAuth error, got {other:?}"),
    }
}

#[test]
fn api_token_generate_session_redeem_once() {
    with_timeout(TEST_TIMEOUT, || {
        let sb = sandbox();
        let cfg = config(&sb);
        let d = driver();
        let api = api_token(&d, &cfg);
        assert_eq!(api.expires_in, Some(3600));
        assert!(matches!(api.access.expiry, Expiry::At(_)));
        assert!(api.refresh.is_none());

        let url = login_url(
            &d,
            &cfg,
            &api,
            &user("restaurant_chain_abc_123", "sarah@chain.example"),
        );
        let prefix = format!("{}/redirect/sso?code=", cfg.white_label_domain());
        assert!(url.starts_with(&prefix), "{url}");
        let s = redeem(&d, &url).expect("first redemption");
        assert_eq!(s.email, "sarah@chain.example");
        assert_eq!(s.full_name, "Sarah Johnson");
        assert_eq!(s.role, Some(Role::Manager));
        assert_eq!(s.provider_org_id, "restaurant_chain_abc_123");
        assert!(!s.organization_id.is_empty());
        assert!(!s.session.expose().is_empty());

        let e = core_err(redeem(&d, &url));
        assert_eq!(
            e,
            CoreError::SsoTokenRedeemed,
            "the login token is single-use"
        );
        assert_eq!(e.kind(), "sso_token_redeemed");

        // Every role goes through.
        for role in Role::ALL {
            let who = SessionRequest {
                role,
                ..user("restaurant_chain_abc_123", "x@chain.example")
            };
            let s = redeem(&d, &login_url(&d, &cfg, &api, &who)).unwrap();
            assert_eq!(s.role, Some(role));
        }
    });
}

#[test]
fn concurrent_redemptions_exactly_one_wins() {
    with_timeout(TEST_TIMEOUT, || {
        let sb = sandbox();
        let cfg = config(&sb);
        let d = Arc::new(driver());
        let api = api_token(&d, &cfg);
        let url = Arc::new(login_url(
            &d,
            &cfg,
            &api,
            &user("org-race", "race@chain.example"),
        ));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (d, url) = (d.clone(), url.clone());
                std::thread::spawn(move || redeem(&d, &url).map(|s| s.email.to_string()))
            })
            .collect();
        let results: Vec<_> = threads
            .into_iter()
            .map(|t| t.join().expect("no panic"))
            .collect();
        let won = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(won, 1, "{results:?}");
        for r in results.iter().filter(|r| r.is_err()) {
            assert_eq!(
                r.as_ref().unwrap_err(),
                &Error::Core(CoreError::SsoTokenRedeemed)
            );
        }
    });
}

#[test]
fn generate_session_validation_client_side_and_server_422() {
    with_timeout(TEST_TIMEOUT, || {
        let sb = sandbox();
        let cfg = config(&sb);
        let d = driver();
        let api = api_token(&d, &cfg);
        let token = api.access.value.expose();

        // Empty (or blank) members never leave the process.
        let base = user("org", "a@b.example");
        for (who, what) in [
            (
                SessionRequest {
                    provider_org_id: "",
                    ..base
                },
                "provider_org_id",
            ),
            (SessionRequest { email: " ", ..base }, "email"),
            (
                SessionRequest {
                    full_name: "",
                    ..base
                },
                "full_name",
            ),
            (
                SessionRequest {
                    phone_number: "",
                    ..base
                },
                "phone_number",
            ),
        ] {
            assert_eq!(
                stream::generate_session(&cfg, token, &who).unwrap_err(),
                CoreError::InvalidInput { what }
            );
        }
        assert!(matches!(
            Role::parse("chef"),
            Err(CoreError::InvalidInput { .. })
        ));
        assert!(matches!(
            stream::generate_session(&cfg, "bad token", &base),
            Err(CoreError::InvalidInput { .. })
        ));
        assert_eq!(calls(&sb, GENERATE), 0);

        // The server's own validation: a body another client might send (no phone number, an
        // unknown role), answered 422 and typed by the flow's response handling.
        for members in [
            &[
                ("provider_org_id", "org"),
                ("role", "manager"),
                ("email", "a@b.example"),
                ("full_name", "A B"),
            ][..],
            &[
                ("provider_org_id", "org"),
                ("role", "chef"),
                ("email", "a@b.example"),
                ("full_name", "A B"),
                ("phone_number", "1"),
            ][..],
        ] {
            let mut flow = stream::generate_session(&cfg, token, &base).unwrap();
            let mut scratch = vec![0u8; 8192];
            assert!(matches!(
                flow.poll(d.now(), &mut scratch),
                Ok(Step::Send(_))
            ));
            let mut buf = vec![0u8; 8192];
            let mut rb = RequestBuilder::new(
                &mut buf,
                Method::Post,
                cfg.base_url(),
                "/white-label/generate-session",
            );
            rb.bearer(token);
            rb.json_body(members);
            let r = d.send(&rb.finish().unwrap()).unwrap();
            assert_eq!(r.status, 422);
            let e = r
                .with_core(|resp| flow.handle(d.now(), resp, &mut None))
                .unwrap_err();
            assert_eq!(oauth(&e), (422, "validation_error".into()));
        }
    });
}

#[test]
fn expired_and_unknown_login_tokens() {
    with_timeout(TEST_TIMEOUT, || {
        let sb = sandbox();
        let cfg = config(&sb);
        let d = driver();
        let api = api_token(&d, &cfg);
        let who = user("org-exp", "late@chain.example");
        let in_time = login_url(&d, &cfg, &api, &who);
        let late = login_url(&d, &cfg, &api, &who);
        sb.advance_clock(Duration::from_secs(299));
        redeem(&d, &in_time).expect("still valid after 299 s");
        sb.advance_clock(Duration::from_secs(2));
        let e = core_err(redeem(&d, &late));
        assert_eq!(
            oauth(&e),
            (400, "sso_token_expired".into()),
            "expired after 301 s"
        );

        // A token Stream never issued (or a tampered URL).
        let forged = format!("{}/redirect/sso?code=forged", cfg.white_label_domain());
        let e = core_err(redeem(&d, &forged));
        assert_eq!(oauth(&e), (400, "invalid_sso_token".into()));
    });
}

#[test]
fn organizations_are_shared_by_provider_org_id_only() {
    with_timeout(TEST_TIMEOUT, || {
        let sb = sandbox();
        let cfg = config(&sb);
        let d = driver();
        let api = api_token(&d, &cfg);
        let a1 = redeem(
            &d,
            &login_url(&d, &cfg, &api, &user("chain-a", "one@a.example")),
        )
        .unwrap();
        let a2 = redeem(
            &d,
            &login_url(&d, &cfg, &api, &user("chain-a", "two@a.example")),
        )
        .unwrap();
        let b = redeem(
            &d,
            &login_url(&d, &cfg, &api, &user("chain-b", "one@a.example")),
        )
        .unwrap();
        assert_eq!(a1.organization_id, a2.organization_id);
        assert_ne!(a1.organization_id, b.organization_id);
        assert_eq!(b.provider_org_id, "chain-b");
        assert_ne!(a1.session.expose(), a2.session.expose());
    });
}

#[test]
fn client_authentication_errors_and_expired_api_token() {
    with_timeout(TEST_TIMEOUT, || {
        let sb = sandbox();
        let c = sb.credentials().stream.clone();
        let d = driver();
        let wrong =
            stream::StreamConfig::new(&c.base_url, &c.base_url, &c.client_id, "wrong").unwrap();
        let e = core_err(d.run(stream::api_token(&wrong).unwrap()));
        assert_eq!(oauth(&e), (401, "invalid_client".into()));

        // client_secret_post works as well as Basic.
        let cfg = config(&sb);
        let post = cfg
            .clone()
            .with_oauth_client(cfg.oauth().clone().with_auth(ClientAuth::Post));
        let api = api_token(&d, &post);

        // The API token expires after an hour of sandbox time: generate-session answers 401.
        sb.advance_clock(Duration::from_secs(3601));
        let e = core_err(d.run(
            stream::generate_session(&cfg, api.access.value.expose(), &user("o", "a@b.c")).unwrap(),
        ));
        assert_eq!(oauth(&e), (401, "unauthorized".into()));
    });
}

/// generate-session as a protected call: the session holds the API token.
fn generate(
    d: &Driver,
    cfg: &stream::StreamConfig,
    session: &SharedSession<stream::ApiToken<'_>>,
) -> Result<stream::SsoLoginToken, Error> {
    let who = user("org-session", "s@chain.example");
    let response = d.send_authorized(session, &(), |t: &TokenSet, buf| {
        // The flow writes the request; its response is read by a fresh flow below.
        match stream::generate_session(cfg, t.access.value.expose(), &who)?.poll(d.now(), buf)? {
            Step::Send(r) => Ok(r),
            Step::Done => Err(CoreError::State),
        }
    })?;
    let mut flow = stream::generate_session(cfg, "x", &who)?;
    let mut scratch = vec![0u8; 8192];
    let _ = flow.poll(d.now(), &mut scratch)?;
    let mut token = None;
    response.with_core(|r| flow.handle(d.now(), r, &mut token))?;
    match flow.poll(d.now(), &mut scratch)? {
        Step::Done => Ok(ssoflow::take_output(&mut token)?),
        Step::Send(_) => Err(Error::Core(CoreError::State)),
    }
}

#[test]
fn forced_401_renews_the_api_token_exactly_once() {
    with_timeout(TEST_TIMEOUT, || {
        let sb = sandbox();
        let cfg = config(&sb);
        let d = driver();
        let session = SharedSession::new(cfg.api_token_recipe());
        generate(&d, &cfg, &session).expect("first call gets an API token");
        generate(&d, &cfg, &session).expect("reused");
        assert_eq!(calls(&sb, TOKEN), 1);

        fault(
            &sb,
            r#"{"path":"/stream/white-label/generate-session","kind":"unauthorized"}"#,
        );
        let token = generate(&d, &cfg, &session).expect("one 401 recovered");
        assert_eq!(calls(&sb, TOKEN), 2, "exactly one new API token");
        let mut buf = vec![0u8; stream::MAX_REDIRECT_URL_LEN];
        let url = token.into_redirect_url(&cfg, &mut buf).unwrap().to_owned();
        redeem(&d, &url).expect("the login token works");

        // Expired on the sandbox clock: the same single renewal.
        sb.advance_clock(Duration::from_secs(3601));
        generate(&d, &cfg, &session).expect("renewed after expiry");
        assert_eq!(calls(&sb, TOKEN), 3);

        fault(
            &sb,
            r#"{"path":"/stream/white-label/generate-session","kind":"unauthorized","count":2}"#,
        );
        assert_eq!(
            core_err(generate(&d, &cfg, &session)),
            CoreError::Unauthorized
        );
        assert_eq!(calls(&sb, TOKEN), 4);
        assert_eq!(calls(&sb, GENERATE), 8, "1 + 1 + (401, retry) × 3");
    });
}

#[test]
fn faults_500_503_drop_truncate_and_delay_are_typed() {
    with_timeout(TEST_TIMEOUT, || {
        let sb = sandbox();
        let cfg = config(&sb);
        let d = driver();

        fault(
            &sb,
            r#"{"path":"/stream/oauth/token","kind":"status","status":500}"#,
        );
        let e = core_err(d.run(stream::api_token(&cfg).unwrap()));
        assert_eq!(oauth(&e), (500, "sandbox_fault".into()));
        assert!(e.is_transient());

        let api = api_token(&d, &cfg);
        fault(
            &sb,
            r#"{"path":"/stream/white-label/generate-session","kind":"status","status":503,"retry_after":4}"#,
        );
        let mut buf = vec![0u8; 8192];
        let req =
            match stream::generate_session(&cfg, api.access.value.expose(), &user("o", "a@b.c"))
                .unwrap()
                .poll(d.now(), &mut buf)
                .unwrap()
            {
                Step::Send(r) => r,
                Step::Done => unreachable!(),
            };
        let r = d.send(&req).unwrap();
        assert_eq!(
            (r.status, r.retry_after()),
            (503, Some(Duration::from_secs(4)))
        );

        let url = login_url(&d, &cfg, &api, &user("o", "a@b.c"));
        fault(&sb, r#"{"path":"/stream/redirect/sso","kind":"drop"}"#);
        assert_eq!(redeem(&d, &url).unwrap_err().kind(), "transport");
        // The dropped request never reached the handler: the token is still unused.
        redeem(&d, &url).expect("not consumed by the dropped request");

        fault(&sb, r#"{"path":"/stream/oauth/token","kind":"truncate"}"#);
        assert_eq!(
            d.run(stream::api_token(&cfg).unwrap()).unwrap_err().kind(),
            "transport"
        );

        let quick = driver_with_timeout(Duration::from_secs(1));
        fault(
            &sb,
            r#"{"path":"/stream/oauth/token","kind":"delay","ms":1500}"#,
        );
        assert_eq!(
            quick.run(stream::api_token(&cfg).unwrap()).unwrap_err(),
            Error::Timeout
        );

        fault(
            &sb,
            r#"{"path":"/stream/oauth/token","kind":"unauthorized"}"#,
        );
        let e = core_err(d.run(stream::api_token(&cfg).unwrap()));
        assert_eq!(oauth(&e), (401, "invalid_client".into()));

        api_token(&d, &cfg);
    });
}
