//! Every public flow of the core, one small function each, with its recorded answers and its
//! golden transcript (`> request line | Host` for each request the driver wrote, then the
//! outputs' key values).
//!
//! The answers are the vendor seeds' example payloads (`crates/ssoflow-core/tests/fixtures`)
//! and the core's unit-test answers. When the core's API changes, only this file changes.
//!
//! Each flow is run the way a firmware would run it: the configuration built once, where it
//! stays; the flow borrowed by [`Driver::run_into`], its output read into a slot this function
//! owns (`let mut tokens = None`), and looked at there — no output moved through a `Result`.
//! One case, `oauth2-client-credentials-run`, runs the same flow the plain way
//! (`driver.run(…)?`, the output returned by value) to show what that costs.

use ssoflow_core::oauth2::{self, Client, Pkce};
use ssoflow_core::session::{DEFAULT_SKEW_MS, Policy, Session};
use ssoflow_core::{
    Expiry, Flow, Instant, Method, TokenSet, par_ordering, pos_api, punchh, stream,
};
use ssoflow_embedded_io::{DEFAULT_BUF, Driver, Error};

use crate::{Answer, FlowFn, Wire};

/// One flow of the image.
pub struct Case {
    pub name: &'static str,
    pub run: FlowFn,
    pub answers: &'static [Answer],
    pub golden: &'static [&'static str],
}

/// The clock every flow reads: expiries below are 1 s plus the lifetime.
fn now() -> Instant {
    Instant::from_millis(1_000)
}

fn expiry(w: &mut Wire, key: &str, e: Expiry) {
    match e {
        Expiry::At(at) => w.number(key, at.as_millis()),
        Expiry::Unknown => w.value(key, "unknown"),
    }
}

fn tokens(w: &mut Wire, t: &TokenSet) {
    w.value("access", t.access.value.expose());
    expiry(w, "expires_at_ms", t.access.expiry);
    w.optional("refresh", t.refresh.as_ref().map(|r| r.expose()));
    w.optional("scope", t.scope.as_deref());
}

/// The output a run left in its slot (`None` after `Ok` would be a bug in the flow).
fn output<T>(slot: &Option<T>) -> Result<&T, Error> {
    slot.as_ref()
        .ok_or(Error::Core(ssoflow_core::Error::NO_OUTPUT))
}

/// Run `flow` with a fresh driver in a `DEFAULT_BUF` buffer on this frame, its output read
/// into `out`. Inlined into each flow (the buffer is the flow's own, as in a firmware task).
#[inline(always)]
fn run_into<F: Flow>(w: &mut Wire, flow: &mut F, out: &mut Option<F::Output>) -> Result<(), Error> {
    let mut buf = [0u8; DEFAULT_BUF];
    Driver::new(&mut buf).run_into(w, &mut now, flow, out)
}

// ── OAuth 2.0 (RFC 6749 / 7636 / 8693 examples) ──────────────────────────────────────────────

const OAUTH_HOST: &str = "> POST /token HTTP/1.1 | Host: server.example.com";

/// The client, its secret set in place (`set_secret`; the by-value `with_secret` would move
/// the client through a `Result`). The configuration helpers return the core's own `Result`,
/// so the value is built in the slot the caller's `?` reads, not re-wrapped in a driver error.
fn oauth_client() -> Result<Client, ssoflow_core::Error> {
    let mut c = Client::new("https://server.example.com/token", "s6BhdRkqt3")?;
    c.set_secret("7Fjfp0ZBr1KtDRbnfVdmIw")?;
    Ok(c)
}

/// RFC 6749 §5.1's answer with a Bearer `token_type` (the RFC's `example` type is refused).
const RFC6749_TOKENS: &[u8] = br#"{"access_token":"2YotnFZFEjr1zCsicMWpAA","token_type":"Bearer","expires_in":3600,"refresh_token":"tGzv3JOkF0XG5Qx2TlKWIA","example_parameter":"example_value"}"#;

#[inline(never)]
fn oauth2_client_credentials(w: &mut Wire) -> Result<(), Error> {
    let c = oauth_client()?;
    let mut flow = oauth2::client_credentials(&c, Some("read write"))?;
    let mut out = None;
    run_into(w, &mut flow, &mut out)?;
    tokens(w, output(&out)?);
    Ok(())
}

/// The same flow the plain way: `Driver::run` takes the flow by value and returns the output
/// by value (through its own slot and a `Result`), as the other drivers' `run` do.
#[inline(never)]
fn oauth2_client_credentials_run(w: &mut Wire) -> Result<(), Error> {
    let mut buf = [0u8; DEFAULT_BUF];
    let mut driver = Driver::new(&mut buf);
    let c = oauth_client()?;
    let t = driver.run(
        w,
        &mut now,
        oauth2::client_credentials(&c, Some("read write"))?,
    )?;
    tokens(w, &t);
    Ok(())
}

#[inline(never)]
fn oauth2_password(w: &mut Wire) -> Result<(), Error> {
    let c = oauth_client()?;
    let mut flow = oauth2::password(&c, "johndoe", "A3ddj3w", None)?;
    let mut out = None;
    run_into(w, &mut flow, &mut out)?;
    let t = output(&out)?;
    tokens(w, t);
    Ok(())
}

#[inline(never)]
fn oauth2_refresh(w: &mut Wire) -> Result<(), Error> {
    let c = oauth_client()?;
    let mut flow = oauth2::refresh(&c, "tGzv3JOkF0XG5Qx2TlKWIA", None)?;
    let mut out = None;
    run_into(w, &mut flow, &mut out)?;
    let t = output(&out)?;
    tokens(w, t);
    Ok(())
}

#[inline(never)]
fn oauth2_token_exchange(w: &mut Wire) -> Result<(), Error> {
    let c = oauth_client()?;
    let mut flow = oauth2::token_exchange(
        &c,
        "subj",
        oauth2::ACCESS_TOKEN_TYPE,
        Some("https://backend.example.com"),
        None,
    )?;
    let mut out = None;
    run_into(w, &mut flow, &mut out)?;
    let t = output(&out)?;
    tokens(w, t);
    Ok(())
}

#[inline(never)]
fn oauth2_authorization_code(w: &mut Wire) -> Result<(), Error> {
    let c = oauth_client()?;
    // RFC 7636 appendix B's verifier; RFC 6749 §4.1.2's callback.
    let pkce = Pkce::from_verifier("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")?;
    w.value("challenge", &pkce.challenge());
    let cb = oauth2::parse_callback(
        "https://client.example.com/cb?code=SplxlOBeZQQYbYS6WxSbIA&state=xyz",
        "xyz",
    )?;
    w.value("code", cb.code.expose());
    let mut flow = oauth2::authorization_code(
        &c,
        cb.code.expose(),
        "https://client.example.com/cb",
        Some(&pkce),
    )?;
    let mut out = None;
    run_into(w, &mut flow, &mut out)?;
    let t = output(&out)?;
    tokens(w, t);
    Ok(())
}

// ── PAR Ordering (seed 000) ──────────────────────────────────────────────────────────────────

const PAR_M2M: &[u8] =
    include_bytes!("../../../crates/ssoflow-core/tests/fixtures/seeds/000_m2m_response.json");
const PAR_SIGN_IN: &[u8] =
    include_bytes!("../../../crates/ssoflow-core/tests/fixtures/seeds/000_sign_in_response.json");
const PAR_SIGN_IN_DLC: &[u8] = include_bytes!(
    "../../../crates/ssoflow-core/tests/fixtures/seeds/000_sign_in_response_dlc.json"
);
const PAR_ME: &[u8] = br#"{"status":"OK","code":200,"data":{"customer_account":{"id":"01e6d2c9-976b-4953-91e6-3dade887a4c7","first_name":"Jane","last_name":"Doe","email":"jane.doe@partech.com"}}}"#;
const PAR_401: &[u8] = br#"{"status":"ERROR","code":401,"message":"Unauthenticated."}"#;

fn par_config() -> Result<par_ordering::ParConfig, ssoflow_core::Error> {
    par_ordering::ParConfig::new(
        "https://api-public-playground.menu.app",
        "f3a90488ffee32c3acb6fcd0ca417cf6",
        "client-id",
        "client-secret",
    )
}

#[inline(never)]
fn par_m2m(w: &mut Wire) -> Result<(), Error> {
    let c = par_config()?;
    let mut ids = par_ordering::RequestIds::new([1; 16]);
    let mut flow = par_ordering::m2m_token(&c, &mut ids);
    let mut out = None;
    run_into(w, &mut flow, &mut out)?;
    let t = output(&out)?;
    w.value("m2m", t.value.expose());
    expiry(w, "expires_at_ms", t.expiry);
    Ok(())
}

/// Sign-in (M2M + token exchange) through a `Session`, a protected call answered 401, the
/// re-sign-in (this time with a DLC token), and the retried call.
#[inline(never)]
fn par_sign_in_session(w: &mut Wire) -> Result<(), Error> {
    let c = par_config()?;
    let mut session = Session::<par_ordering::SignIn, Error>::with_policy(
        Policy::DEFAULT.with_skew_ms(DEFAULT_SKEW_MS),
    );
    let recipe = par_ordering::CustomerSignIn::new(&c);
    let mut seed = [2u8; 16];
    let mut call_ids = par_ordering::RequestIds::new([3; 16]);
    let mut buf = [0u8; DEFAULT_BUF];
    let mut driver = Driver::new(&mut buf);
    let view = driver.send_authorized(
        w,
        &mut now,
        &mut session,
        &recipe,
        "subject-token",
        || {
            seed[0] = seed[0].wrapping_add(1);
            seed
        },
        |t: &par_ordering::SignIn, b: &mut [u8]| {
            c.protected_request(
                b,
                Method::Get,
                "/api/customers/me",
                t.menu_token.value.expose(),
                &mut call_ids,
            )
        },
    )?;
    let status = view.status();
    let me = par_ordering::read_customer_account(view.response())?;
    w.number("status", status.into());
    w.value("customer", &me.id);
    w.value("email", &me.email);
    w.number("generation", session.generation());
    if let Some(s) = session.current() {
        w.value("first_name", &s.customer.first_name);
        match s.menu_token_ttl_min {
            Some(m) => w.number("ttl_min", m),
            None => w.value("ttl_min", "-"),
        }
        expiry(w, "menu_expires_at_ms", s.menu_token.expiry);
        w.value("dlc", if s.dlc_token.is_some() { "yes" } else { "no" });
    }
    Ok(())
}

// ── Punchh (seeds 001, 002) ──────────────────────────────────────────────────────────────────

const PUNCHH_SSO: &[u8] =
    include_bytes!("../../../crates/ssoflow-core/tests/fixtures/seeds/001_sso_response.json");
const PUNCHH_TOKEN: &[u8] = include_bytes!(
    "../../../crates/ssoflow-core/tests/fixtures/seeds/002_oauth_token_response.json"
);
/// The seed's `user` object on its own (what `/api/auth/users` answers), cut from the SSO seed.
const PUNCHH_USER: &[u8] = br#"{"created_at":"2015-08-18T13:53:06Z","email":"test@example.com","first_name":"FIRST_NAME_GOES_HERE","id":111111111,"last_name":"LAST_NAME_GOES_HERE","authentication_token":"AUTHENTICATION_TOKEN_GOES_HERE","phone":null,"access_token":null}"#;

fn punchh_config() -> Result<punchh::PunchhConfig, ssoflow_core::Error> {
    punchh::PunchhConfig::new(
        "https://SERVER_NAME_GOES_HERE.punchh.com",
        "CLIENT_GOES_HERE",
        "SECRET_GOES_HERE",
    )
}

fn punchh_user(w: &mut Wire, u: &punchh::User) {
    w.number("user", u.id);
    w.value("email", &u.email);
    w.value("name", &u.first_name);
    w.optional(
        "authentication_token",
        u.authentication_token.as_ref().map(|t| t.expose()),
    );
}

#[inline(never)]
fn punchh_sso(w: &mut Wire) -> Result<(), Error> {
    let c = punchh_config()?;
    let mut flow = punchh::sso(&c, "SECURITY_TOKEN_GOES_HERE")?;
    let mut out = None;
    run_into(w, &mut flow, &mut out)?;
    let login = output(&out)?;
    w.value("access", login.access_token.value.expose());
    punchh_user(w, &login.user);
    Ok(())
}

#[inline(never)]
fn punchh_code_for_token(w: &mut Wire) -> Result<(), Error> {
    let c = punchh_config()?;
    let mut flow = punchh::code_for_token(&c, "CODE_GOES_HERE", "https://brand.example/callback")?;
    let mut out = None;
    run_into(w, &mut flow, &mut out)?;
    let t = output(&out)?;
    tokens(w, t);
    Ok(())
}

#[inline(never)]
fn punchh_user_info(w: &mut Wire) -> Result<(), Error> {
    let c = punchh_config()?;
    let mut flow = punchh::user_info(&c, "ACCESS_TOKEN_GOES_HERE")?;
    let mut out = None;
    run_into(w, &mut flow, &mut out)?;
    let u = output(&out)?;
    punchh_user(w, u);
    Ok(())
}

// ── Stream (seed 003) ────────────────────────────────────────────────────────────────────────

const STREAM_TOKEN: &[u8] =
    br#"{"access_token":"YOUR_ACCESS_TOKEN","token_type":"Bearer","expires_in":3600}"#;
const STREAM_SESSION: &[u8] =
    b"{\n\"sso_login_token\": \"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9...\"\n}";
const STREAM_REDEEMED: &[u8] = br#"{"session":"sess-123","user":{"email":"sarah.manager@restaurantchain.com","full_name":"Sarah Johnson","phone_number":"+1-555-123-4567","role":"manager"},"organization":{"id":"5b0b2b0e-9a52-4b6e-9d7e-3f7f3c1c2a10","provider_org_id":"restaurant_chain_abc_123"}}"#;
const STREAM_REDIRECT: &str =
    "https://orders.brand.example/redirect/sso?code=eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9...";

fn stream_config() -> Result<stream::StreamConfig, ssoflow_core::Error> {
    stream::StreamConfig::new(
        "https://api.stream.example",
        "https://orders.brand.example",
        "client-id",
        "client-secret",
    )
}

#[inline(never)]
fn stream_api_token(w: &mut Wire) -> Result<(), Error> {
    let c = stream_config()?;
    let mut flow = stream::api_token(&c)?;
    let mut out = None;
    run_into(w, &mut flow, &mut out)?;
    let t = output(&out)?;
    tokens(w, t);
    Ok(())
}

#[inline(never)]
fn stream_generate_session(w: &mut Wire) -> Result<(), Error> {
    let c = stream_config()?;
    let who = stream::SessionRequest {
        provider_org_id: "restaurant_chain_abc_123",
        role: stream::Role::Manager,
        email: "sarah.manager@restaurantchain.com",
        full_name: "Sarah Johnson",
        phone_number: "+1-555-123-4567",
    };
    let mut flow = stream::generate_session(&c, "YOUR_ACCESS_TOKEN", &who)?;
    let mut out = None;
    run_into(w, &mut flow, &mut out)?;
    // The token is single-use: spent where it was read (`take_redirect_url` empties the slot).
    let mut url = [0u8; 512];
    let redirect = stream::SsoLoginToken::take_redirect_url(&mut out, &c, &mut url)?;
    w.value("redirect", redirect);
    Ok(())
}

#[inline(never)]
fn stream_redeem(w: &mut Wire) -> Result<(), Error> {
    let mut flow = stream::redeem(STREAM_REDIRECT)?;
    let mut out = None;
    run_into(w, &mut flow, &mut out)?;
    let s = output(&out)?;
    w.value("session", s.session.expose());
    w.value("email", &s.email);
    w.optional("role", s.role.map(stream::Role::as_str));
    w.value("organization", &s.organization_id);
    w.value("provider_org_id", &s.provider_org_id);
    Ok(())
}

// ── POS API (seed 004) ───────────────────────────────────────────────────────────────────────

const POS_TOKENS: &[u8] = br#"{"access_token":"3f2c6f8e-2b1a-4c3d-9e8f-0a1b2c3d4e5f","expires_in":3600,"refresh_token":"r-1","token_type":"Bearer"}"#;
const POS_ROTATED: &[u8] = br#"{"access_token":"9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a","expires_in":3600,"refresh_token":"r-2","token_type":"Bearer"}"#;
const POS_CREATED: &[u8] = br#"{"id":"6a1e3f0c-8d4b-4e2a-9c7f-5b3d1a0e9f8c","user_name":"admin@pos.example","created_at":"2024-01-01T00:00:00Z"}"#;

fn pos_config() -> Result<pos_api::PosConfig, ssoflow_core::Error> {
    pos_api::PosConfig::new("https://pos.example", "pos-admin-client", "pos-secret")
}

#[inline(never)]
fn pos_create_account(w: &mut Wire) -> Result<(), Error> {
    let c = pos_config()?;
    let mut flow = pos_api::create_account(&c, "admin@pos.example", "terminal-pass")?;
    let mut out = None;
    run_into(w, &mut flow, &mut out)?;
    let a = output(&out)?;
    w.value("account", &a.id);
    w.value("user_name", &a.user_name);
    Ok(())
}

#[inline(never)]
fn pos_login(w: &mut Wire) -> Result<(), Error> {
    let c = pos_config()?;
    let mut flow = pos_api::login(&c, "admin@pos.example", "terminal-pass")?;
    let mut out = None;
    run_into(w, &mut flow, &mut out)?;
    let t = output(&out)?;
    tokens(w, t);
    Ok(())
}

#[inline(never)]
fn pos_refresh(w: &mut Wire) -> Result<(), Error> {
    let c = pos_config()?;
    let mut flow = pos_api::refresh(&c, "r-1")?;
    let mut out = None;
    run_into(w, &mut flow, &mut out)?;
    let t = output(&out)?;
    tokens(w, t);
    Ok(())
}

// ── The table ────────────────────────────────────────────────────────────────────────────────

/// The client-credentials answer (RFC 6749 §5.1 with the requested scope), for both ways of
/// running that flow.
const CLIENT_CREDENTIALS_ANSWERS: &[Answer] = &[Answer::ok(
    br#"{"access_token":"2YotnFZFEjr1zCsicMWpAA","token_type":"Bearer","expires_in":3600,"scope":"read write"}"#,
)];
const CLIENT_CREDENTIALS_GOLDEN: &[&str] = &[
    OAUTH_HOST,
    "access 2YotnFZFEjr1zCsicMWpAA",
    "expires_at_ms 3601000",
    "refresh -",
    "scope read write",
];

pub static FLOWS: &[Case] = &[
    Case {
        name: "oauth2-client-credentials",
        run: oauth2_client_credentials,
        answers: CLIENT_CREDENTIALS_ANSWERS,
        golden: CLIENT_CREDENTIALS_GOLDEN,
    },
    Case {
        // The same flow run the plain way (`driver.run(…)?`), for comparison.
        name: "oauth2-client-credentials-run",
        run: oauth2_client_credentials_run,
        answers: CLIENT_CREDENTIALS_ANSWERS,
        golden: CLIENT_CREDENTIALS_GOLDEN,
    },
    Case {
        name: "oauth2-password",
        run: oauth2_password,
        answers: &[Answer::ok(RFC6749_TOKENS)],
        golden: &[
            OAUTH_HOST,
            "access 2YotnFZFEjr1zCsicMWpAA",
            "expires_at_ms 3601000",
            "refresh tGzv3JOkF0XG5Qx2TlKWIA",
            "scope -",
        ],
    },
    Case {
        name: "oauth2-refresh",
        run: oauth2_refresh,
        answers: &[Answer::ok(
            br#"{"access_token":"a2","token_type":"Bearer","expires_in":60,"refresh_token":"r2"}"#,
        )],
        golden: &[
            OAUTH_HOST,
            "access a2",
            "expires_at_ms 61000",
            "refresh r2",
            "scope -",
        ],
    },
    Case {
        // The same flow, answered without a refresh token: the old one is kept.
        name: "oauth2-refresh-kept",
        run: oauth2_refresh,
        answers: &[Answer::ok(
            br#"{"access_token":"a3","token_type":"Bearer","expires_in":60}"#,
        )],
        golden: &[
            OAUTH_HOST,
            "access a3",
            "expires_at_ms 61000",
            "refresh tGzv3JOkF0XG5Qx2TlKWIA",
            "scope -",
        ],
    },
    Case {
        name: "oauth2-token-exchange",
        run: oauth2_token_exchange,
        answers: &[Answer::ok(br#"{"access_token":"eyJhbGciOiJFUzI1NiIsImtpZCI6IjllciJ9.eyJhdWQiOiJiYWNrZW5kIn0.sig","issued_token_type":"urn:ietf:params:oauth:token-type:access_token","token_type":"Bearer","expires_in":60}"#)],
        golden: &[
            OAUTH_HOST,
            "access eyJhbGciOiJFUzI1NiIsImtpZCI6IjllciJ9.eyJhdWQiOiJiYWNrZW5kIn0.sig",
            "expires_at_ms 61000",
            "refresh -",
            "scope -",
        ],
    },
    Case {
        name: "oauth2-authorization-code",
        run: oauth2_authorization_code,
        answers: &[Answer::ok(RFC6749_TOKENS)],
        golden: &[
            "challenge E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "code SplxlOBeZQQYbYS6WxSbIA",
            OAUTH_HOST,
            "access 2YotnFZFEjr1zCsicMWpAA",
            "expires_at_ms 3601000",
            "refresh tGzv3JOkF0XG5Qx2TlKWIA",
            "scope -",
        ],
    },
    Case {
        name: "par-m2m",
        run: par_m2m,
        answers: &[Answer::ok(PAR_M2M)],
        golden: &[
            "> POST /api/oauth/tokens HTTP/1.1 | Host: api-public-playground.menu.app",
            "m2m d4c129d3f4560c2beaa3a1a3b15bb771a7038a4bbb680a3912c9ea284d07b291",
            "expires_at_ms 86400000",
        ],
    },
    Case {
        name: "par-sign-in-session",
        run: par_sign_in_session,
        answers: &[
            Answer::ok(PAR_M2M),
            Answer::ok(PAR_SIGN_IN),
            Answer {
                status: 401,
                reason: "Unauthorized",
                body: PAR_401,
            },
            // The re-sign-in reuses the M2M token the recipe kept: no second M2M call.
            Answer::ok(PAR_SIGN_IN_DLC),
            Answer::ok(PAR_ME),
        ],
        golden: &[
            "> POST /api/oauth/tokens HTTP/1.1 | Host: api-public-playground.menu.app",
            "> POST /api/sts/users/sign-in HTTP/1.1 | Host: api-public-playground.menu.app",
            "> GET /api/customers/me HTTP/1.1 | Host: api-public-playground.menu.app",
            "> POST /api/sts/users/sign-in HTTP/1.1 | Host: api-public-playground.menu.app",
            "> GET /api/customers/me HTTP/1.1 | Host: api-public-playground.menu.app",
            "status 200",
            "customer 01e6d2c9-976b-4953-91e6-3dade887a4c7",
            "email jane.doe@partech.com",
            "generation 2",
            "first_name Jane",
            "ttl_min 60",
            "menu_expires_at_ms 3601000",
            "dlc yes",
        ],
    },
    Case {
        name: "punchh-sso",
        run: punchh_sso,
        answers: &[Answer::ok(PUNCHH_SSO)],
        golden: &[
            "> POST /api/auth/sso HTTP/1.1 | Host: SERVER_NAME_GOES_HERE.punchh.com",
            "access ACCESS_TOKEN_GOES_HERE",
            "user 111111111",
            "email test@example.com",
            "name FIRST_NAME_GOES_HERE",
            "authentication_token AUTHENTICATION_TOKEN_GOES_HERE",
        ],
    },
    Case {
        name: "punchh-code-for-token",
        run: punchh_code_for_token,
        answers: &[Answer::ok(PUNCHH_TOKEN)],
        golden: &[
            "> POST /oauth/token HTTP/1.1 | Host: SERVER_NAME_GOES_HERE.punchh.com",
            "access ACCESS_TOKEN_GOES_HERE",
            "expires_at_ms unknown",
            "refresh REFRESH_TOKEN_GOES_HERE",
            "scope -",
        ],
    },
    Case {
        name: "punchh-user-info",
        run: punchh_user_info,
        answers: &[Answer::ok(PUNCHH_USER)],
        golden: &[
            "> GET /api/auth/users HTTP/1.1 | Host: SERVER_NAME_GOES_HERE.punchh.com",
            "user 111111111",
            "email test@example.com",
            "name FIRST_NAME_GOES_HERE",
            "authentication_token AUTHENTICATION_TOKEN_GOES_HERE",
        ],
    },
    Case {
        name: "stream-api-token",
        run: stream_api_token,
        answers: &[Answer::ok(STREAM_TOKEN)],
        golden: &[
            "> POST /oauth/token HTTP/1.1 | Host: api.stream.example",
            "access YOUR_ACCESS_TOKEN",
            "expires_at_ms 3601000",
            "refresh -",
            "scope -",
        ],
    },
    Case {
        name: "stream-generate-session",
        run: stream_generate_session,
        answers: &[Answer::ok(STREAM_SESSION)],
        golden: &[
            "> POST /white-label/generate-session HTTP/1.1 | Host: api.stream.example",
            "redirect https://orders.brand.example/redirect/sso?code=eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9...",
        ],
    },
    Case {
        name: "stream-redeem",
        run: stream_redeem,
        answers: &[Answer::ok(STREAM_REDEEMED)],
        golden: &[
            "> GET /redirect/sso?code=eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9... HTTP/1.1 | Host: orders.brand.example",
            "session sess-123",
            "email sarah.manager@restaurantchain.com",
            "role manager",
            "organization 5b0b2b0e-9a52-4b6e-9d7e-3f7f3c1c2a10",
            "provider_org_id restaurant_chain_abc_123",
        ],
    },
    Case {
        name: "pos-create-account",
        run: pos_create_account,
        answers: &[Answer {
            status: 201,
            reason: "Created",
            body: POS_CREATED,
        }],
        golden: &[
            "> POST /users HTTP/1.1 | Host: pos.example",
            "account 6a1e3f0c-8d4b-4e2a-9c7f-5b3d1a0e9f8c",
            "user_name admin@pos.example",
        ],
    },
    Case {
        name: "pos-login",
        run: pos_login,
        answers: &[Answer::ok(POS_TOKENS)],
        golden: &[
            "> POST /auth/token HTTP/1.1 | Host: pos.example",
            "access 3f2c6f8e-2b1a-4c3d-9e8f-0a1b2c3d4e5f",
            "expires_at_ms 3601000",
            "refresh r-1",
            "scope -",
        ],
    },
    Case {
        name: "pos-refresh",
        run: pos_refresh,
        answers: &[Answer::ok(POS_ROTATED)],
        golden: &[
            "> POST /auth/refresh-token HTTP/1.1 | Host: pos.example",
            "access 9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a",
            "expires_at_ms 3601000",
            "refresh r-2",
            "scope -",
        ],
    },
];
