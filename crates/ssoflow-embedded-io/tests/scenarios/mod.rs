//! End-to-end scenarios against the in-process sandbox, written once for the blocking and the
//! async driver: each test file supplies a [`Conn`].
#![allow(dead_code, clippy::large_enum_variant, clippy::result_large_err)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ssoflow_core::recipe::Recipe;
use ssoflow_core::session::{Policy, Session};
use ssoflow_core::{
    Flow, Instant, Method, Request, RequestBuilder, TokenSet, oauth2, par_ordering, pos_api,
    punchh, stream,
};
use ssoflow_embedded_io::{Clock, Error};
use ssoflow_sandbox::SandboxHandle;

/// The client's clock: moves only when a test says so.
#[derive(Clone, Debug, Default)]
pub struct TestClock(pub Arc<AtomicU64>);

impl Clock for TestClock {
    fn now(&mut self) -> Instant {
        Instant::from_millis(self.0.load(Ordering::SeqCst))
    }

    /// A backoff jumps the clock forward.
    fn wait_until(&mut self, until: Instant) {
        self.0.fetch_max(until.as_millis(), Ordering::SeqCst);
    }

    async fn wait_until_async(&mut self, until: Instant) {
        self.wait_until(until);
    }
}

impl TestClock {
    /// Milliseconds on the client's clock.
    pub fn ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// A session with the driver's error and the default policy.
pub fn session<T: ssoflow_core::session::HasAccessToken>() -> Session<T, Error> {
    Session::with_policy(Policy::DEFAULT)
}

/// One connection to the sandbox with a driver on it.
pub trait Conn {
    /// Run a flow.
    async fn run<F: Flow>(&mut self, flow: F) -> Result<F::Output, Error>;
    /// Build a request in the driver's buffer, send it; status and body.
    async fn send_with<B>(&mut self, build: B) -> Result<(u16, Vec<u8>), Error>
    where
        B: for<'b> FnMut(&'b mut [u8]) -> Result<Request<'b>, ssoflow_core::Error>;
    /// A protected call through the session, signing in with `recipe`; status and body.
    async fn authorized<R, B>(
        &mut self,
        session: &mut Session<R::Output, Error>,
        recipe: &R,
        key: &R::Key,
        build: B,
    ) -> Result<(u16, Vec<u8>), Error>
    where
        R: Recipe,
        B: for<'b> FnMut(&R::Output, &'b mut [u8]) -> Result<Request<'b>, ssoflow_core::Error>;
    /// The client's clock.
    fn clock(&self) -> &TestClock;
    /// A new TCP connection (and `Driver::reset`).
    async fn reconnect(&mut self);
    /// Whether the driver would reuse the connection.
    fn reusable(&self) -> bool;
}

fn calls(sb: &SandboxHandle, key: &str) -> u64 {
    sb.stats().get(key).copied().unwrap_or(0)
}

fn par_config(sb: &SandboxHandle) -> par_ordering::ParConfig {
    let c = &sb.credentials().par_ordering;
    par_ordering::ParConfig::new(
        &c.base_url,
        &c.application_key,
        &c.client_id,
        &c.client_secret,
    )
    .unwrap()
}

/// PAR Ordering: M2M token then sign-in, the DLC token when the brand is Punchh-linked.
pub async fn par_sign_in<C: Conn>(c: &mut C, sb: &SandboxHandle, dlc: bool) {
    let config = par_config(sb);
    let subject = &sb.credentials().par_ordering.test_subject_token;
    let ids = par_ordering::RequestIds::new([1; 16]);
    let out = c
        .run(par_ordering::sign_in(&config, None, subject, ids).unwrap())
        .await
        .unwrap();
    assert_eq!(out.customer.email, "jane.doe@partech.com");
    assert!(!out.menu_token.value.expose().is_empty());
    assert_eq!(out.dlc_token.is_some(), dlc);
    assert_eq!(calls(sb, "POST /par/api/oauth/tokens"), 1);
    assert_eq!(calls(sb, "POST /par/api/sts/users/sign-in"), 1);
    assert!(c.reusable());
}

/// PAR Ordering: `GET /par/api/customers/me` through a session; after the sandbox clock passes
/// the menu-token ttl (60 minutes) the server answers 401 and the driver signs in again, once.
pub async fn par_protected_call_refreshes_on_401<C: Conn>(c: &mut C, sb: &SandboxHandle) {
    let config = par_config(sb);
    let subject = sb.credentials().par_ordering.test_subject_token.clone();
    let recipe = par_ordering::CustomerSignIn::<String>::new(&config);
    let mut session = session();
    let mut call_ids = par_ordering::RequestIds::new([200; 16]);
    let sign_in_calls = "POST /par/api/sts/users/sign-in";
    for (round, advance) in [(1, 0), (2, 0), (3, 3601)] {
        sb.advance_clock(Duration::from_secs(advance));
        let (status, body) = c
            .authorized(
                &mut session,
                &recipe,
                &subject,
                |t: &par_ordering::SignIn, buf: &mut [u8]| {
                    config.protected_request(
                        buf,
                        Method::Get,
                        "/api/customers/me",
                        t.menu_token.value.expose(),
                        &mut call_ids,
                    )
                },
            )
            .await
            .unwrap();
        assert_eq!(
            status,
            200,
            "round {round}: {}",
            String::from_utf8_lossy(&body)
        );
        assert!(String::from_utf8_lossy(&body).contains("jane.doe@partech.com"));
        let expected_sign_ins = if round == 3 { 2 } else { 1 };
        assert_eq!(calls(sb, sign_in_calls), expected_sign_ins, "round {round}");
    }
    assert_eq!(calls(sb, "GET /par/api/customers/me"), 4);
    assert_eq!(session.generation(), 2);
    assert!(c.reusable());
}

/// Punchh: SSO access token, then the user (a signed GET).
pub async fn punchh_sso<C: Conn>(c: &mut C, sb: &SandboxHandle) {
    let cr = &sb.credentials().punchh;
    let config = punchh::PunchhConfig::new(&cr.base_url, &cr.client, &cr.secret).unwrap();
    let login = c
        .run(punchh::sso(&config, &cr.security_token).unwrap())
        .await
        .unwrap();
    assert!(!login.user.email.is_empty());
    let user = c
        .run(punchh::user_info(&config, login.access_token.value.expose()).unwrap())
        .await
        .unwrap();
    assert_eq!(user.email, login.user.email);
    assert_eq!(calls(sb, "POST /punchh/api/auth/sso"), 1);
}

/// Stream: API token, generate-session, then redeem the one-time login token.
pub async fn stream_generate_session<C: Conn>(c: &mut C, sb: &SandboxHandle) {
    let cr = &sb.credentials().stream;
    let white_label = cr.base_url.clone();
    let config =
        stream::StreamConfig::new(&cr.base_url, &white_label, &cr.client_id, &cr.client_secret)
            .unwrap();
    let api = c.run(stream::api_token(&config).unwrap()).await.unwrap();
    let who = stream::SessionRequest {
        provider_org_id: "org-embedded",
        role: stream::Role::parse("manager").unwrap(),
        email: "Terminal.Owner@example.com",
        full_name: "Términal Öwner",
        phone_number: "+41 76 000 00 00",
    };
    let token = c
        .run(stream::generate_session(&config, api.access.value.expose(), &who).unwrap())
        .await
        .unwrap();
    let mut url_buf = vec![0u8; stream::MAX_REDIRECT_URL_LEN];
    let url = token.into_redirect_url(&config, &mut url_buf).unwrap();
    let session = c.run(stream::redeem(url).unwrap()).await.unwrap();
    assert_eq!(session.email.to_lowercase(), "terminal.owner@example.com");
    assert_eq!(session.provider_org_id, "org-embedded");
    // The login token works once.
    let again = c.run(stream::redeem(url).unwrap()).await.unwrap_err();
    assert_eq!(again, Error::Core(ssoflow_core::Error::SsoTokenRedeemed));
}

/// POS API: create an admin, log in (ROPC), call `/admin/me`; after expiry a 401 makes the
/// driver refresh with the rotating refresh token and retry.
pub async fn pos_login_and_refresh<C: Conn>(c: &mut C, sb: &SandboxHandle) {
    let cr = &sb.credentials().pos_api;
    let config = pos_api::PosConfig::new(&cr.base_url, &cr.client_id, &cr.client_secret).unwrap();
    let account = c
        .run(pos_api::create_account(&config, "till-admin", "S3cret-pass!").unwrap())
        .await
        .unwrap();
    let admin = pos_api::Admin::new(&config, "till-admin", "S3cret-pass!").unwrap();
    let mut session = session::<TokenSet>();
    for (round, advance) in [(1, 0), (2, 3601)] {
        sb.advance_clock(Duration::from_secs(advance));
        let (status, body) = c
            .authorized(&mut session, &admin, &(), |t: &TokenSet, buf: &mut [u8]| {
                pos_api::admin_request(&config, t.access.value.expose(), buf)
            })
            .await
            .unwrap();
        assert_eq!(status, 200, "round {round}");
        let me = pos_api::read_admin(ssoflow_core::Response::new(status, &body)).unwrap();
        assert_eq!(me.id, account.id);
    }
    assert_eq!(calls(sb, "POST /pos/auth/token"), 1);
    assert_eq!(calls(sb, "POST /pos/auth/refresh-token"), 1);
    assert_eq!(calls(sb, "GET /pos/admin/me"), 3);
}

/// Generic OAuth 2.0: client credentials, password, refresh.
pub async fn oauth2_grants<C: Conn>(c: &mut C, sb: &SandboxHandle) {
    let cr = &sb.credentials().oauth2;
    let client = oauth2::Client::new(&format!("{}/token", cr.base_url), &cr.client_id)
        .unwrap()
        .with_secret(&cr.client_secret)
        .unwrap();
    let cc = c
        .run(oauth2::client_credentials(&client, None).unwrap())
        .await
        .unwrap();
    assert!(!cc.access.value.expose().is_empty());
    let pw = c
        .run(oauth2::password(&client, &cr.username, &cr.password, None).unwrap())
        .await
        .unwrap();
    let r = pw.refresh.as_ref().unwrap();
    let refreshed = c
        .run(oauth2::refresh(&client, r.expose(), None).unwrap())
        .await
        .unwrap();
    assert_ne!(refreshed.access.value.expose(), pw.access.value.expose());
    assert_eq!(calls(sb, "POST /oauth2/token"), 3);
}

async fn fault<C: Conn>(c: &mut C, sb: &SandboxHandle, path: &str, kind: &str) {
    let base = sb.base_url();
    let (status, body) = c
        .send_with(|buf| {
            let mut rb = RequestBuilder::new(buf, Method::Post, &base, "/__sandbox/faults");
            rb.json_body(&[("path", path), ("kind", kind)]);
            rb.finish()
        })
        .await
        .unwrap();
    assert!(
        (200..300).contains(&status),
        "{}",
        String::from_utf8_lossy(&body)
    );
}

/// Injected faults come back as typed errors, and the driver needs a new connection after them.
pub async fn faults_are_typed<C: Conn>(c: &mut C, sb: &SandboxHandle) {
    let cr = &sb.credentials().oauth2;
    let client = oauth2::Client::new(&format!("{}/token", cr.base_url), &cr.client_id)
        .unwrap()
        .with_secret(&cr.client_secret)
        .unwrap();

    fault(c, sb, "/oauth2/token", "status").await;
    match c
        .run(oauth2::client_credentials(&client, None).unwrap())
        .await
    {
        Err(Error::Core(e)) => assert_eq!(e.status(), Some(500), "{e:?}"),
        other => panic!("{other:?}"),
    }
    assert!(c.reusable());

    fault(c, sb, "/oauth2/token", "drop").await;
    let e = c
        .run(oauth2::client_credentials(&client, None).unwrap())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Closed | Error::Io(_)), "{e:?}");
    assert!(!c.reusable());
    let e = c
        .run(oauth2::client_credentials(&client, None).unwrap())
        .await
        .unwrap_err();
    assert_eq!(e, Error::NotReusable);

    c.reconnect().await;
    fault(c, sb, "/oauth2/token", "truncate").await;
    let e = c
        .run(oauth2::client_credentials(&client, None).unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::ContentLengthMismatch { .. } | Error::Io(_)),
        "{e:?}"
    );
    c.reconnect().await;
    assert!(
        c.run(oauth2::client_credentials(&client, None).unwrap())
            .await
            .is_ok()
    );
}

fn pos_me(
    config: &pos_api::PosConfig,
) -> impl for<'b> FnMut(&TokenSet, &'b mut [u8]) -> Result<Request<'b>, ssoflow_core::Error> + '_ {
    move |t, buf| pos_api::admin_request(config, t.access.value.expose(), buf)
}

/// A 500 from the sign-in is transient: the driver waits out the session's backoff on its
/// clock, signs in again on the same connection, then makes the call.
pub async fn sign_in_5xx_is_retried_after_backoff<C: Conn>(c: &mut C, sb: &SandboxHandle) {
    let cr = &sb.credentials().pos_api;
    let config = pos_api::PosConfig::new(&cr.base_url, &cr.client_id, &cr.client_secret).unwrap();
    c.run(pos_api::create_account(&config, "backoff", "S3cret-pass!").unwrap())
        .await
        .unwrap();
    let admin = pos_api::Admin::new(&config, "backoff", "S3cret-pass!").unwrap();
    let mut session = session::<TokenSet>();
    fault(c, sb, "/pos/auth/token", "status").await;
    let before = c.clock().ms();
    let (status, _) = c
        .authorized(&mut session, &admin, &(), pos_me(&config))
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(calls(sb, "POST /pos/auth/token"), 2);
    // The first retry waits 50..=100 ms (the default policy).
    let waited = c.clock().ms() - before;
    assert!((50..=100).contains(&waited), "waited {waited} ms");
    assert_eq!(session.generation(), 1);
}

/// A connection dropped during the sign-in ends the call (the driver cannot reconnect); after
/// a reconnect the next call waits out the backoff, then signs in.
pub async fn sign_in_drop_returns_then_retries_after_reconnect<C: Conn>(
    c: &mut C,
    sb: &SandboxHandle,
) {
    let cr = &sb.credentials().pos_api;
    let config = pos_api::PosConfig::new(&cr.base_url, &cr.client_id, &cr.client_secret).unwrap();
    c.run(pos_api::create_account(&config, "dropped", "S3cret-pass!").unwrap())
        .await
        .unwrap();
    let admin = pos_api::Admin::new(&config, "dropped", "S3cret-pass!").unwrap();
    let mut session = session::<TokenSet>();
    fault(c, sb, "/pos/auth/token", "drop").await;
    let e = c
        .authorized(&mut session, &admin, &(), pos_me(&config))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Closed | Error::Io(_)), "{e:?}");
    assert!(!c.reusable());
    // Without a new connection: refused before anything is sent, and not a sign-in failure.
    let e = c
        .authorized(&mut session, &admin, &(), pos_me(&config))
        .await
        .unwrap_err();
    assert_eq!(e, Error::NotReusable);
    c.reconnect().await;
    let before = c.clock().ms();
    let (status, _) = c
        .authorized(&mut session, &admin, &(), pos_me(&config))
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert!(c.clock().ms() > before, "the backoff was waited out");
    assert_eq!(session.generation(), 1);
}

/// A final sign-in failure (a 401 to the login) is returned, and handed out again without a
/// request until the policy's cooldown ends.
pub async fn final_sign_in_failure_cools_down<C: Conn>(c: &mut C, sb: &SandboxHandle) {
    let cr = &sb.credentials().pos_api;
    let config = pos_api::PosConfig::new(&cr.base_url, &cr.client_id, &cr.client_secret).unwrap();
    let admin = pos_api::Admin::new(&config, "nobody", "wrong-pass!").unwrap();
    let mut session = session::<TokenSet>();
    let first = c
        .authorized(&mut session, &admin, &(), pos_me(&config))
        .await
        .unwrap_err();
    assert!(matches!(first, Error::Core(_)), "{first:?}");
    let again = c
        .authorized(&mut session, &admin, &(), pos_me(&config))
        .await
        .unwrap_err();
    assert_eq!(again, first);
    assert_eq!(calls(sb, "POST /pos/auth/token"), 1);
    c.clock().0.fetch_add(1_000, Ordering::SeqCst);
    let _ = c
        .authorized(&mut session, &admin, &(), pos_me(&config))
        .await
        .unwrap_err();
    assert_eq!(calls(sb, "POST /pos/auth/token"), 2);
}
