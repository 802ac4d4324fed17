//! `ssoflow demo`: every flow, end to end, through the blocking driver, against the embedded
//! sandbox (started in-process on 127.0.0.1, a free port) and the demo's own ordering app, which
//! serves the authenticated `/customer-info` of `ssoflow-customer-info`.
//!
//! One line per step: provider, step, HTTP status of its last exchange, milliseconds, and a
//! detail with secrets shortened. Exit 0 only if every step behaved as expected.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant as StdInstant};

use ssoflow_core::recipe::Recipe;
use ssoflow_core::session::HasAccessToken;
use ssoflow_core::{
    Error as CoreError, Flow, Instant, Method, Paced, PacedFlow, RequestBuilder, Response, Step,
};
use ssoflow_core::{oauth2, par_ordering, pos_api, punchh, stream};
use ssoflow_customer_info::{BearerToken, Customer, CustomerInfoEndpoint, RateLimit, Refusal};
use ssoflow_sandbox::{Sandbox, SandboxHandle};
use ssoflow_ureq::{Driver, Error, SharedSession};

use crate::ctx::entropy;
use crate::output::{Failure, redact};

/// The exchanges of the current step: "METHOD path" and status.
type Log = RefCell<Vec<(String, u16)>>;

/// A flow that records each exchange it makes, for the step lines.
struct Observed<'l, F> {
    inner: F,
    log: &'l Log,
}

impl<F> Observed<'_, F> {
    /// A request went out: a new step line, its status still unknown.
    fn sent(&self, r: &ssoflow_core::Request<'_>) {
        self.log
            .borrow_mut()
            .push((format!("{} {}", r.method.as_str(), r.path_and_query()), 0));
    }

    /// Its answer came back with `status`.
    fn answered(&self, status: u16) {
        if let Some(last) = self.log.borrow_mut().last_mut() {
            last.1 = status;
        }
    }
}

impl<F: Flow> Flow for Observed<'_, F> {
    type Output = F::Output;

    fn poll<'b>(&mut self, now: Instant, buf: &'b mut [u8]) -> Result<Step<'b>, CoreError> {
        let step = self.inner.poll(now, buf)?;
        if let Step::Send(r) = &step {
            self.sent(r);
        }
        Ok(step)
    }

    fn handle(
        &mut self,
        now: Instant,
        response: Response<'_>,
        out: &mut Option<F::Output>,
    ) -> Result<(), CoreError> {
        self.answered(response.status);
        self.inner.handle(now, response, out)
    }
}

impl<F: PacedFlow> PacedFlow for Observed<'_, F> {
    type Output = F::Output;

    fn poll<'b>(&mut self, now: Instant, buf: &'b mut [u8]) -> Result<Paced<'b>, CoreError> {
        let step = self.inner.poll(now, buf)?;
        if let Paced::Send(r) = &step {
            self.sent(r);
        }
        Ok(step)
    }

    fn handle(
        &mut self,
        now: Instant,
        response: Response<'_>,
        out: &mut Option<F::Output>,
    ) -> Result<(), CoreError> {
        self.answered(response.status);
        self.inner.handle(now, response, out)
    }
}

/// A recipe whose flows record their exchanges ([`Observed`]).
struct Logged<R> {
    inner: R,
    log: Rc<Log>,
}

impl<R: Recipe> Recipe for Logged<R> {
    type Key = R::Key;
    type Output = R::Output;
    type Flow<'r>
        = Observed<'r, R::Flow<'r>>
    where
        Self: 'r,
        R::Key: 'r;

    fn flow<'r>(
        &'r self,
        key: &'r R::Key,
        previous: Option<&R::Output>,
        entropy: [u8; 16],
    ) -> Result<Self::Flow<'r>, CoreError> {
        Ok(Observed {
            inner: self.inner.flow(key, previous, entropy)?,
            log: &self.log,
        })
    }

    fn keep<'r>(&'r self, flow: &Self::Flow<'r>) {
        self.inner.keep(&flow.inner);
    }
}

/// The PAR customer sessions of the demo: sign-ins logged for the step lines.
type ParSession<'a> = SharedSession<Logged<par_ordering::CustomerSignIn<'a>>>;

/// The demo ordering app's customers, by their id at its identity provider.
type Customers = Arc<Mutex<HashMap<String, Customer>>>;

/// Alice's id at the demo app's identity provider.
const ALICE: &str = "5e0f3b8a-2c4d-4e6f-8a1b-3c5d7e9f0a12";
/// The access token the demo app's identity provider issued Alice: a JWT whose `sub` is her id
/// (PAR Ordering reads the id from it and shares the whole token with `/customer-info`).
const ALICE_TOKEN: &str = "eyJhbGciOiJub25lIn0.eyJzdWIiOiI1ZTBmM2I4YS0yYzRkLTRlNmYtOGExYi0zYzVkN2U5ZjBhMTIifQ.YWxpY2Utc2lnbmF0dXJl";

/// The demo ordering app: `POST /customer-info`, answered only to a call carrying the token the
/// app's identity provider issued that very customer (`issued`: token → customer id).
fn start_ordering_app(
    customers: Customers,
    issued: HashMap<&'static str, &'static str>,
) -> std::io::Result<(String, tokio::runtime::Runtime)> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let url = format!("http://{}/customer-info", listener.local_addr()?);
    let verify = move |token: BearerToken, _asked: String| {
        let found = issued
            .iter()
            .find(|(t, _)| token.ct_eq(t))
            .and_then(|(_, id)| customers.lock().ok()?.get(*id).cloned());
        std::future::ready(found.ok_or(Refusal::Unauthorized))
    };
    let app = CustomerInfoEndpoint::new(verify)
        .rate_limit(RateLimit::per_peer(120, Duration::from_secs(60)))
        .router()
        .into_make_service_with_connect_info::<std::net::SocketAddr>();
    rt.spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((url, rt))
}

struct Demo {
    driver: Driver,
    sandbox: SandboxHandle,
    log: Rc<Log>,
    /// The PAR M2M token, fetched once and reused by every sign-in.
    m2m: RefCell<Option<ssoflow_core::AccessToken>>,
    ok: usize,
    failures: Vec<Failure>,
}

/// What a step reports on success: a detail for its line.
type StepResult = Result<String, Failure>;

/// A step whose exchanges all worked but whose outcome was not the expected one.
fn unexpected(what: &str) -> Failure {
    Failure {
        kind: "unexpected".into(),
        detail: what.to_string(),
        code: 1,
    }
}

impl Demo {
    /// Run one step and print its line.
    fn step(&mut self, provider: &str, name: &str, f: impl FnOnce(&Demo) -> StepResult) {
        self.log.borrow_mut().clear();
        let t = StdInstant::now();
        let result = f(self);
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        let status = self
            .log
            .borrow()
            .last()
            .map_or_else(|| "-".to_string(), |(_, s)| s.to_string());
        match result {
            Ok(detail) => {
                self.ok += 1;
                println!("  ok    {provider:<8} {name:<52} {status:>4} {ms:>7.1} ms  {detail}");
            }
            Err(f) => {
                println!(
                    "  FAIL  {provider:<8} {name:<52} {status:>4} {ms:>7.1} ms  {}: {}",
                    f.kind, f.detail
                );
                self.failures.push(f);
            }
        }
    }

    fn run<F: Flow>(&self, flow: F) -> Result<F::Output, Error> {
        self.driver.run(Observed {
            inner: flow,
            log: &self.log,
        })
    }

    /// [`run`](Self::run) for a flow that waits between its requests (the driver sleeps).
    fn run_paced<F: PacedFlow>(&self, flow: F) -> Result<F::Output, Error> {
        self.driver.run_paced(Observed {
            inner: flow,
            log: &self.log,
        })
    }

    /// Act as the person on the verification page: approve `user_code` through the sandbox's
    /// test hook.
    fn approve_device(&self, user_code: &str) -> Result<(), Failure> {
        let mut buf = vec![0u8; 1024];
        let url = format!("{}/__sandbox/device/approve", self.sandbox.base_url());
        let mut rb = RequestBuilder::new(&mut buf, Method::Post, &url, "");
        rb.json_body(&[("user_code", user_code)]);
        let request = rb.finish()?;
        let response = self.driver.send(&request)?;
        self.log.borrow_mut().push((
            format!("POST {}", request.path_and_query()),
            response.status,
        ));
        if response.status != 200 {
            return Err(unexpected("the approval hook refused the user code"));
        }
        Ok(())
    }

    /// `GET url` with `access` as the bearer token; the status (logged).
    fn get_with(&self, url: &str, access: &str) -> Result<u16, Failure> {
        let mut buf = vec![0u8; 4096];
        let mut rb = RequestBuilder::new(&mut buf, Method::Get, url, "");
        rb.bearer(access);
        let request = rb.finish()?;
        let response = self.driver.send(&request)?;
        self.log
            .borrow_mut()
            .push((format!("GET {}", request.path_and_query()), response.status));
        Ok(response.status)
    }

    /// Act as the browser: GET `url` (redirects are not followed) and return `Location`.
    fn browse(&self, url: &str) -> Result<String, Failure> {
        let mut buf = vec![0u8; 4096];
        let request = RequestBuilder::new(&mut buf, Method::Get, url, "").finish()?;
        let response = self.driver.send(&request)?;
        self.log
            .borrow_mut()
            .push((format!("GET {}", request.path_and_query()), response.status));
        response
            .header_str("location")
            .map(str::to_string)
            .ok_or_else(|| unexpected("no Location header"))
    }

    /// A protected PAR call (`GET /api/customers/me`) with refresh-on-401 through `session`.
    fn par_me(
        &self,
        par: &par_ordering::ParConfig,
        session: &ParSession<'_>,
        subject: &str,
    ) -> Result<par_ordering::CustomerAccount, Failure> {
        let response = self.par_get(par, session, subject, "/api/customers/me", false)?;
        Ok(response.with_core(par_ordering::read_customer_account)?)
    }

    /// A PAR customer session for this demo: signs in with the demo's M2M token.
    fn par_session<'a>(&self, par: &'a par_ordering::ParConfig) -> ParSession<'a> {
        let mut recipe = par_ordering::CustomerSignIn::new(par);
        if let Some(m2m) = self.m2m.borrow().clone() {
            recipe = recipe.with_m2m_token(m2m);
        }
        SharedSession::new(Logged {
            inner: recipe,
            log: self.log.clone(),
        })
    }

    /// `GET path` with the menu token (and the DLC token when `dlc`), with refresh-on-401
    /// through `session`.
    fn par_get(
        &self,
        par: &par_ordering::ParConfig,
        session: &ParSession<'_>,
        subject: &str,
        path: &str,
        dlc: bool,
    ) -> Result<ssoflow_ureq::OwnedResponse, Failure> {
        let mut ids = par_ordering::RequestIds::new(entropy()?);
        let what = format!("GET /par{path}");
        let response =
            self.driver
                .send_authorized(session, subject, |t: &par_ordering::SignIn, buf| {
                    let mut log = self.log.borrow_mut();
                    // The driver builds the call again only after a 401 (and a re-sign-in).
                    if let Some(earlier) = log.iter_mut().rev().find(|(w, s)| *w == what && *s == 0)
                    {
                        earlier.1 = 401;
                    }
                    log.push((what.clone(), 0));
                    drop(log);
                    if dlc {
                        par.dlc_request(buf, Method::Get, path, t, &mut ids)
                    } else {
                        let menu = t.access_token().value.expose();
                        par.protected_request(buf, Method::Get, path, menu, &mut ids)
                    }
                })?;
        if let Some(last) = self.log.borrow_mut().last_mut() {
            last.1 = response.status;
        }
        Ok(response)
    }

    fn calls(&self, key: &str) -> u64 {
        self.sandbox.stats().get(key).copied().unwrap_or(0)
    }

    /// The exchanges of this step, as `401 → 200` for the line's detail.
    fn statuses(&self) -> String {
        let log = self.log.borrow();
        log.iter()
            .map(|(what, s)| format!("{what} {s}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// `ssoflow demo` options.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Run everything over HTTPS: the sandbox serves a certificate made at start, and the
    /// driver trusts the CA that signed it (and nothing is ever left unverified).
    #[arg(long)]
    tls: bool,
}

/// Run the demo; returns the exit code.
pub fn run(args: Args) -> Result<(), Failure> {
    let started = StdInstant::now();
    // No random source, no demo: it would sign in with predictable `state`, PKCE and ids.
    entropy::<16>()?;
    let customers: Customers = Arc::new(Mutex::new(HashMap::new()));
    let idp_token = ALICE_TOKEN;
    customers.lock().map_err(|_| internal("lock"))?.insert(
        ALICE.to_string(),
        Customer {
            customer_account_uuid: ALICE.into(),
            first_name: "Alice".into(),
            last_name: "Zoë".into(),
            email: "alice@example.com".into(),
            phone_number: "+15550000001".into(),
        },
    );
    let issued = HashMap::from([(ALICE_TOKEN, ALICE)]);
    let (app_url, _app) = start_ordering_app(customers.clone(), issued)
        .map_err(|e| internal(format!("ordering app: {e}")))?;
    // A brand integrated with Punchh: sign-ins also carry the DLC token.
    let mut config = ssoflow_sandbox::Config::default();
    config.par_ordering.punchh_linked = true;
    let sandbox = Sandbox::builder()
        .config(config)
        .test_hooks(true)
        .customer_info_url(app_url.clone())
        .tls(args.tls)
        .start_blocking()
        .map_err(|e| internal(format!("sandbox: {e}")))?;
    let mut driver = Driver::builder();
    if let Some(ca) = sandbox.ca_cert_pem() {
        driver = driver
            .add_root_certificates_pem(ca.as_bytes())
            .map_err(|e| internal(format!("sandbox CA: {e}")))?;
    }
    let driver = driver
        .build()
        .map_err(|e| internal(format!("driver: {e}")))?;
    let creds = sandbox.credentials().clone();
    println!(
        "ssoflow demo: sandbox at {}, ordering app at {app_url}",
        sandbox.base_url()
    );
    println!(
        "  {:<5} {:<8} {:<52} {:>4} {:>10}  detail",
        "", "provider", "step", "http", "time"
    );
    let mut d = Demo {
        driver,
        sandbox,
        log: Rc::new(RefCell::new(Vec::new())),
        m2m: RefCell::new(None),
        ok: 0,
        failures: Vec::new(),
    };

    par_ordering_steps(&mut d, &creds, &customers, idp_token)?;
    punchh_steps(&mut d, &creds)?;
    stream_steps(&mut d, &creds)?;
    pos_steps(&mut d, &creds)?;
    oauth2_steps(&mut d, &creds)?;

    let total = d.ok + d.failures.len();
    println!(
        "\nsummary: {total} steps, {} ok, {} failed, {:.0} ms",
        d.ok,
        d.failures.len(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    match d.failures.into_iter().next() {
        None => Ok(()),
        Some(first) => Err(first),
    }
}

fn config_failure(e: CoreError) -> Failure {
    internal(format!("sandbox credentials rejected: {e}"))
}

/// The sandbox's menu-token lifetime: `ttl` 60 minutes, as in seed 000.
const MENU_TOKEN_LIFETIME_S: u64 = 60 * 60;

fn par_ordering_steps(
    d: &mut Demo,
    creds: &ssoflow_sandbox::Credentials,
    customers: &Customers,
    idp_token: &str,
) -> Result<(), Failure> {
    let c = &creds.par_ordering;
    let par = par_ordering::ParConfig::new(
        &c.base_url,
        &c.application_key,
        &c.client_id,
        &c.client_secret,
    )
    .map_err(config_failure)?;
    d.step("par", "M2M token (client credentials)", |d| {
        let mut ids = par_ordering::RequestIds::new(entropy()?);
        let t = d.run(par_ordering::m2m_token(&par, &mut ids))?;
        let detail = format!("token {}", redact(t.value.expose()));
        *d.m2m.borrow_mut() = Some(t);
        Ok(detail)
    });
    let subject = c.test_subject_token.as_str();
    d.step("par", "sign-in, test subject token (token exchange)", |d| {
        let flow = par_ordering::sign_in(
            &par,
            d.m2m.borrow().clone(),
            subject,
            par_ordering::RequestIds::new(entropy()?),
        )?;
        let s = d.run(flow)?;
        let ttl = s
            .menu_token_ttl_min
            .map_or_else(|| "unknown lifetime".to_owned(), |m| format!("ttl {m} min"));
        Ok(format!(
            "customer {} {}, menu token {} ({ttl})",
            s.customer.id,
            s.customer.email,
            redact(s.menu_token.value.expose())
        ))
    });
    d.step("par", "sign-in, refused customer token", |d| {
        let flow = par_ordering::sign_in(
            &par,
            d.m2m.borrow().clone(),
            "idp-token-nobody-knows",
            par_ordering::RequestIds::new(entropy()?),
        )?;
        match d.run(flow) {
            Err(Error::Core(e @ CoreError::SubjectTokenRefused { .. })) => {
                Ok(format!("{} (exit 3), as expected", e.kind()))
            }
            Err(e) => Err(e.into()),
            Ok(_) => Err(unexpected("an unknown customer token was accepted")),
        }
    });
    let session = d.par_session(&par);
    d.step("par", "protected call (signs in first)", |d| {
        let me = d.par_me(&par, &session, subject)?;
        Ok(format!("{} {} {}", me.first_name, me.last_name, me.email))
    });
    d.step("par", "Punchh-specific call (DLC-Authorization)", |d| {
        let r = d.par_get(&par, &session, subject, "/api/customers/me/loyalty", true)?;
        if r.status != 200 {
            return Err(unexpected(&format!("loyalty call answered {}", r.status)));
        }
        Ok("menu token + DLC token accepted".to_owned())
    });
    d.step(
        "par",
        "clock +60 min: menu token expired → 401 → re-sign-in",
        |d| {
            // `ttl` 60 is minutes (seed 000): one second past the menu token's lifetime.
            d.sandbox
                .advance_clock(Duration::from_secs(MENU_TOKEN_LIFETIME_S + 1));
            let sign_ins = d.calls("POST /par/api/sts/users/sign-in");
            let me = d.par_me(&par, &session, subject)?;
            let again = d.calls("POST /par/api/sts/users/sign-in") - sign_ins;
            let log = d.statuses();
            if again != 1 || !log.contains("/par/api/customers/me 401") {
                return Err(unexpected(&format!(
                    "expected one 401 and one re-sign-in, saw {log}"
                )));
            }
            Ok(format!("{log} → {}", me.email))
        },
    );

    // An identity-provider token the sandbox resolves through the demo app's /customer-info.
    let idp_session = d.par_session(&par);
    d.step("par", "sign-in via /customer-info (registers)", |d| {
        let me = d.par_me(&par, &idp_session, idp_token)?;
        if me.email != "alice@example.com" {
            return Err(unexpected("customer-info details not used"));
        }
        Ok(format!("{} {} <{}>", me.first_name, me.last_name, me.email))
    });
    d.step(
        "par",
        "email changed in the app → synced on re-sign-in",
        |d| {
            if let Ok(mut c) = customers.lock() {
                if let Some(alice) = c.get_mut(ALICE) {
                    alice.email = "alice.new@example.com".into();
                }
            }
            d.sandbox
                .advance_clock(Duration::from_secs(MENU_TOKEN_LIFETIME_S + 1));
            let me = d.par_me(&par, &idp_session, idp_token)?;
            if me.email != "alice.new@example.com" {
                return Err(unexpected(&format!("email not synced: {}", me.email)));
            }
            Ok(format!("{} → {}", d.statuses(), me.email))
        },
    );
    Ok(())
}

fn punchh_steps(d: &mut Demo, creds: &ssoflow_sandbox::Credentials) -> Result<(), Failure> {
    let c = &creds.punchh;
    let cfg = punchh::PunchhConfig::new(&c.base_url, &c.client, &c.secret)
        .and_then(|cfg| cfg.with_signing_secret(&c.signing_secret))
        .map_err(config_failure)?;
    d.step("punchh", "SSO access token (signed x-pch-digest)", |d| {
        let login = d.run(punchh::sso(&cfg, &c.security_token)?)?;
        Ok(format!(
            "user {} <{}>, token {}",
            login.user.id,
            login.user.email,
            redact(login.access_token.value.expose())
        ))
    });
    let token = RefCell::new(None);
    d.step(
        "punchh",
        "authorize → callback (state checked) → code",
        |d| {
            let state = punchh::state_from_entropy(&entropy()?);
            let mut buf = vec![0u8; 2048];
            let url = punchh::authorize_url(&cfg, &c.redirect_uri, &state, &mut buf)?;
            let location = d.browse(url)?;
            let callback = punchh::parse_callback(&location, &state)?;
            let set = d.run(punchh::code_for_token(
                &cfg,
                callback.code.expose(),
                &c.redirect_uri,
            )?)?;
            let detail = format!(
                "code {}, access token {}",
                redact(callback.code.expose()),
                redact(set.access.value.expose())
            );
            *token.borrow_mut() = Some(set);
            Ok(detail)
        },
    );
    let user = RefCell::new(None);
    d.step("punchh", "user information (GET with a signed body)", |d| {
        let set = token
            .borrow()
            .clone()
            .ok_or_else(|| unexpected("no access token from the previous step"))?;
        let u = d.run(punchh::user_info(&cfg, set.access.value.expose())?)?;
        let detail = format!(
            "user {} {} {}, user-level token {}",
            u.id,
            u.first_name,
            u.last_name,
            u.user_token().map_or("-".into(), |t| redact(t.expose()))
        );
        *user.borrow_mut() = Some(u);
        Ok(detail)
    });
    d.step(
        "punchh",
        "user-level token → protected call (emulator)",
        |d| {
            let u = user
                .borrow()
                .clone()
                .ok_or_else(|| unexpected("no user from the previous step"))?;
            let user_level = u
                .user_token()
                .ok_or_else(|| unexpected("the user object has no user-level token"))?;
            let client_level = token
                .borrow()
                .clone()
                .ok_or_else(|| unexpected("no access token"))?;
            // The client-level token is refused there; the user-level one is accepted.
            let (status, _) = punchh_user_call(d, &cfg, client_level.access.value.expose())?;
            if status != 401 {
                return Err(unexpected(&format!(
                    "the client-level token was answered {status}, not 401"
                )));
            }
            let (status, body) = punchh_user_call(d, &cfg, user_level.expose())?;
            if status != 200 {
                return Err(unexpected(&format!(
                    "the user-level token was answered {status}"
                )));
            }
            let me = punchh::User::from_json(&body)?;
            Ok(format!("{} → user {} <{}>", d.statuses(), me.id, me.email))
        },
    );
    Ok(())
}

/// The sandbox's emulator-only user-level call, `GET /api/sandbox/me`, signed with `token` by
/// `Config::user_request`; its status and body.
fn punchh_user_call(
    d: &Demo,
    cfg: &punchh::PunchhConfig,
    token: &str,
) -> Result<(u16, Vec<u8>), Failure> {
    let mut buf = vec![0u8; 4096];
    let request = cfg.user_request(&mut buf, Method::Get, "/api/sandbox/me", None, token)?;
    let response = d.driver.send(&request)?;
    d.log
        .borrow_mut()
        .push((format!("GET {}", request.path_and_query()), response.status));
    Ok((response.status, response.body))
}

fn stream_steps(d: &mut Demo, creds: &ssoflow_sandbox::Credentials) -> Result<(), Failure> {
    let c = &creds.stream;
    let cfg = stream::StreamConfig::new(&c.base_url, &c.base_url, &c.client_id, &c.client_secret)
        .map_err(config_failure)?;
    let api = RefCell::new(None);
    d.step("stream", "API token (client credentials)", |d| {
        let t = d.run(stream::api_token(&cfg)?)?;
        let detail = format!("token {}", redact(t.access.value.expose()));
        *api.borrow_mut() = Some(t);
        Ok(detail)
    });
    let url = RefCell::new(String::new());
    d.step("stream", "generate-session → one-time login URL", |d| {
        let api = api
            .borrow()
            .clone()
            .ok_or_else(|| unexpected("no API token"))?;
        let request = stream::SessionRequest {
            provider_org_id: "restaurant_chain_abc_123",
            role: stream::Role::Manager,
            email: "sarah.manager@restaurantchain.com",
            full_name: "Sarah Johnson",
            phone_number: "+1-555-123-4567",
        };
        let login = d.run(stream::generate_session(
            &cfg,
            api.access.value.expose(),
            &request,
        )?)?;
        let mut buf = vec![0u8; stream::MAX_REDIRECT_URL_LEN];
        // The login token is consumed here: it cannot be used twice.
        let redirect = login.into_redirect_url(&cfg, &mut buf)?.to_string();
        let shown = redirect
            .split_once("code=")
            .map_or(redirect.clone(), |(a, b)| format!("{a}code={}", redact(b)));
        *url.borrow_mut() = redirect;
        Ok(shown)
    });
    d.step("stream", "redeem the login URL (creates a session)", |d| {
        let s = d.run(stream::redeem(&url.borrow())?)?;
        Ok(format!(
            "{} in org {} ({})",
            s.email, s.organization_id, s.provider_org_id
        ))
    });
    d.step(
        "stream",
        "redeem again → refused sso_token_redeemed",
        |d| match d.run(stream::redeem(&url.borrow())?) {
            Err(Error::Core(CoreError::SsoTokenRedeemed)) => Ok("refused as expected".into()),
            Err(e) => Err(e.into()),
            Ok(_) => Err(unexpected("a one-time token was accepted twice")),
        },
    );
    Ok(())
}

fn pos_steps(d: &mut Demo, creds: &ssoflow_sandbox::Credentials) -> Result<(), Failure> {
    let c = &creds.pos_api;
    let cfg = pos_api::PosConfig::new(&c.base_url, &c.client_id, &c.client_secret)
        .map_err(config_failure)?;
    let (user, password) = ("demo-admin", "correct horse battery staple");
    d.step("pos", "create admin account (201)", |d| {
        let a = d.run(pos_api::create_account(&cfg, user, password)?)?;
        Ok(format!("account {} ({})", a.id, a.user_name))
    });
    let tokens = RefCell::new(None);
    d.step("pos", "ROPC login (Basic + JSON, 201)", |d| {
        let t = d.run(pos_api::login(&cfg, user, password)?)?;
        let detail = format!(
            "access {}, refresh {}",
            redact(t.access.value.expose()),
            t.refresh
                .as_ref()
                .map_or("-".into(), |r| redact(r.expose()))
        );
        *tokens.borrow_mut() = Some(t);
        Ok(detail)
    });
    let old_refresh = RefCell::new(String::new());
    d.step("pos", "refresh (rotation, 201)", |d| {
        let t = tokens
            .borrow()
            .clone()
            .ok_or_else(|| unexpected("no login tokens"))?;
        let old = t
            .refresh
            .as_ref()
            .map(|r| r.expose().to_string())
            .ok_or_else(|| unexpected("no refresh token"))?;
        let new = d.run(pos_api::refresh(&cfg, &old)?)?;
        *old_refresh.borrow_mut() = old;
        Ok(format!("new access {}", redact(new.access.value.expose())))
    });
    d.step("pos", "old refresh token → refused", |d| {
        match d.run(pos_api::refresh(&cfg, &old_refresh.borrow())?) {
            Err(e) if e.as_core().and_then(CoreError::status) == Some(401) => {
                Ok(format!("refused as expected: {e}"))
            }
            Err(e) => Err(e.into()),
            Ok(_) => Err(unexpected("a rotated refresh token still worked")),
        }
    });
    Ok(())
}

fn oauth2_steps(d: &mut Demo, creds: &ssoflow_sandbox::Credentials) -> Result<(), Failure> {
    let c = &creds.oauth2;
    let token_url = format!("{}/token", c.base_url);
    let client = oauth2::Client::new(&token_url, &c.client_id)
        .and_then(|cl| cl.with_secret(&c.client_secret))
        .map_err(config_failure)?;
    let machine = RefCell::new(None);
    d.step("oauth2", "client credentials", |d| {
        let t = d.run(oauth2::client_credentials(&client, Some("orders"))?)?;
        let lifetime = t.expires_in.map_or_else(
            || "unknown lifetime".to_owned(),
            |s| format!("expires in {s} s"),
        );
        let detail = format!("token {}, {lifetime}", redact(t.access.value.expose()));
        *machine.borrow_mut() = Some(t);
        Ok(detail)
    });
    let user = RefCell::new(None);
    d.step("oauth2", "resource-owner password", |d| {
        let t = d.run(oauth2::password(&client, &c.username, &c.password, None)?)?;
        let detail = format!("token {}", redact(t.access.value.expose()));
        *user.borrow_mut() = Some(t);
        Ok(detail)
    });
    d.step("oauth2", "refresh (rotation)", |d| {
        let t = user
            .borrow()
            .clone()
            .ok_or_else(|| unexpected("no password tokens"))?;
        let r = t.refresh.ok_or_else(|| unexpected("no refresh token"))?;
        let n = d.run(oauth2::refresh(&client, r.expose(), None)?)?;
        Ok(format!("new token {}", redact(n.access.value.expose())))
    });
    d.step("oauth2", "token exchange (RFC 8693)", |d| {
        let t = machine
            .borrow()
            .clone()
            .ok_or_else(|| unexpected("no client-credentials token"))?;
        let n = d.run(oauth2::token_exchange(
            &client,
            t.access.value.expose(),
            oauth2::ACCESS_TOKEN_TYPE,
            None,
            None,
        )?)?;
        Ok(format!("exchanged for {}", redact(n.access.value.expose())))
    });
    d.step("oauth2", "authorization code + PKCE S256 + state", |d| {
        let auth = oauth2::Authorization::from_entropy(&entropy()?);
        let redirect = "http://127.0.0.1:1/callback";
        let mut buf = vec![0u8; 2048];
        let url = oauth2::authorize_url(
            &client,
            &format!("{}/authorize", c.base_url),
            redirect,
            Some("openid"),
            &auth,
            &mut buf,
        )?;
        let location = d.browse(url)?;
        let callback = oauth2::parse_callback(&location, &auth.state)?;
        let t = d.run(oauth2::authorization_code(
            &client,
            callback.code.expose(),
            redirect,
            Some(&auth.pkce),
        )?)?;
        Ok(format!("token {}", redact(t.access.value.expose())))
    });
    // A kiosk: the public client of the device grant signs a person in who approves on their
    // phone (here the sandbox's hook approves), then signs them out.
    let kiosk = oauth2::Client::new(&token_url, &c.device_client_id).map_err(config_failure)?;
    let person = RefCell::new(None);
    d.step(
        "oauth2",
        "device sign-in (RFC 8628), approved via hook",
        |d| {
            let a = d.run(oauth2::device_authorization(
                &kiosk,
                &format!("{}/device_authorization", c.base_url),
                Some("orders"),
            )?)?;
            d.approve_device(a.user_code())?;
            let t = d.run_paced(oauth2::device_token(&kiosk, &a)?)?;
            let polls = d
                .log
                .borrow()
                .iter()
                .filter(|(w, _)| w.starts_with("POST /oauth2/token"))
                .count();
            let detail = format!(
                "code {} at {}, approved; token {} after {polls} poll(s) {} s apart",
                a.user_code(),
                a.verification_uri(),
                redact(t.access.value.expose()),
                a.interval_secs()
            );
            *person.borrow_mut() = Some(t);
            Ok(detail)
        },
    );
    d.step("oauth2", "sign-out (RFC 7009): revoke, then clear", |d| {
        let t = person
            .borrow()
            .clone()
            .ok_or_else(|| unexpected("no device sign-in"))?;
        let refresh = t.refresh.ok_or_else(|| unexpected("no refresh token"))?;
        // The kiosk's session renews with the person's refresh token (rotation).
        let session = SharedSession::new(Logged {
            inner: oauth2::Refreshing::new(&kiosk, refresh.expose(), None)?,
            log: d.log.clone(),
        });
        let userinfo = format!("{}/userinfo", c.base_url);
        let before = d
            .driver
            .send_authorized(&session, &(), |t: &ssoflow_core::TokenSet, buf| {
                let mut rb = RequestBuilder::new(buf, Method::Get, &userinfo, "");
                rb.bearer(t.access.value.expose());
                rb.finish()
            })?
            .status;
        let access = session
            .lock()
            .current()
            .map(|t| t.access.value.expose().to_owned())
            .ok_or_else(|| unexpected("no token in the session"))?;
        let revocations = d.calls("POST /oauth2/revoke");
        d.driver
            .sign_out(&session, &kiosk, &format!("{}/revoke", c.base_url))?;
        let revoked = d.calls("POST /oauth2/revoke") - revocations;
        if session.lock().current().is_some() {
            return Err(unexpected("the session still holds a token"));
        }
        let after = d.get_with(&userinfo, &access)?;
        if (before, after) != (200, 401) {
            return Err(unexpected("the revoked token still works"));
        }
        Ok(format!(
            "userinfo {before}; {revoked} token(s) revoked, session cleared; the old token now gets {after}"
        ))
    });
    Ok(())
}

/// A failure of the demo's own set-up (exit 1: not the provider's fault).
fn internal(detail: impl Into<String>) -> Failure {
    Failure {
        kind: "internal".into(),
        detail: detail.into(),
        code: 1,
    }
}
