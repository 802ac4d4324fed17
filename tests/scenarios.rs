//! Issue 16 item 3: one scenario table run against every session driver (ureq, tokio,
//! embedded-io blocking and async), each scenario with the request counts the sandbox must
//! have seen, per endpoint. Run with `--nocapture` to see the table.
//!
//! "N callers" are N threads (ureq), N tasks (tokio), or N calls in a row on one session
//! (embedded-io: single-threaded by design). Where a driver legitimately differs, its expected
//! counts say so with a comment.
// The drivers' errors carry the core's ~200-byte error inline, as in the crates themselves.
#![allow(clippy::result_large_err, clippy::large_enum_variant)]

mod common;
#[path = "common/tcp.rs"]
mod tcp;

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use common::{fault, sandbox, with_timeout};
use ssoflow::oauth2::{self, Client};
use ssoflow::pos_api;
use ssoflow::session::{Policy, Session};
use ssoflow::{Error as CoreError, Instant, Method, Request, RequestBuilder, TokenSet};
use ssoflow_sandbox::SandboxHandle;
use tcp::{AsyncTcp, BlockingTcp};

/// Callers per scenario.
const N: usize = 8;

const TOKEN: &str = "POST /oauth2/token";
const USERINFO: &str = "GET /oauth2/userinfo";
const LOGIN: &str = "POST /pos/auth/token";
const REFRESH: &str = "POST /pos/auth/refresh-token";
const ME: &str = "GET /pos/admin/me";
const PASSWORD: &str = "correct horse battery staple";

/// Small backoffs (they are real time); a `Retry-After` of 1 s is honoured (not above the
/// largest backoff); a final failure is shared for 30 s, far longer than any scenario.
fn policy() -> Policy {
    Policy::DEFAULT
        .with_base_backoff_ms(20)
        .with_max_backoff_ms(2_000)
        .with_failure_cooldown_ms(30_000)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum D {
    Ureq,
    Tokio,
    EmbBlocking,
    EmbAsync,
}

const DRIVERS: [D; 4] = [D::Ureq, D::Tokio, D::EmbBlocking, D::EmbAsync];

impl D {
    fn name(self) -> &'static str {
        match self {
            D::Ureq => "ureq",
            D::Tokio => "tokio",
            D::EmbBlocking => "emb-blocking",
            D::EmbAsync => "emb-async",
        }
    }

    /// Its callers run at the same time (the embedded driver's run one after another).
    fn concurrent(self) -> bool {
        matches!(self, D::Ureq | D::Tokio)
    }
}

// ---------------------------------------------------------------------------------------------
// The protected call and the callers, per driver.

/// What a protected call is sent to.
#[derive(Clone)]
enum Target {
    /// `GET url` with the bearer token (the OAuth 2.0 userinfo endpoint).
    Url(String),
    /// POS API `GET /admin/me`.
    PosMe(&'static pos_api::PosConfig),
}

fn build<'b>(target: &Target, t: &TokenSet, buf: &'b mut [u8]) -> Result<Request<'b>, CoreError> {
    match target {
        Target::Url(url) => {
            let mut rb = RequestBuilder::new(buf, Method::Get, url, "");
            rb.bearer(t.access.value.expose());
            rb.finish()
        }
        Target::PosMe(cfg) => pos_api::admin_request(cfg, t.access.value.expose(), buf),
    }
}

/// What one caller got: the status, or the error (the core's, as `Debug`, so that drivers
/// compare; a driver's own error is prefixed with `driver:`).
type Got = Result<u16, String>;

fn ureq_text(e: ssoflow_ureq::Error) -> String {
    match e {
        ssoflow_ureq::Error::Core(e) | ssoflow_ureq::Error::RetryAfter { error: e, .. } => {
            format!("{e:?}")
        }
        other => format!("driver: {other:?}"),
    }
}

fn tokio_text(e: ssoflow_tokio::Error) -> String {
    match e {
        ssoflow_tokio::Error::Core(e) | ssoflow_tokio::Error::RetryAfter { error: e, .. } => {
            format!("{e:?}")
        }
        other => format!("driver: {other:?}"),
    }
}

fn emb_text(e: ssoflow_embedded_io::Error) -> String {
    match e {
        ssoflow_embedded_io::Error::Core(e)
        | ssoflow_embedded_io::Error::RetryAfter { error: e, .. } => format!("{e:?}"),
        other => format!("driver: {other:?}"),
    }
}

/// One session (shared session, token cache, or firmware session) and its callers: `calls(n,
/// target)` makes n protected calls (concurrently where the driver can) and returns what each
/// caller got.
type Calls = Box<dyn FnMut(usize, &Target) -> Vec<Got>>;

/// The embedded clock: milliseconds since it was made (waits spin on it).
fn clock() -> impl FnMut() -> Instant {
    let origin = std::time::Instant::now();
    move || Instant::from_millis(u64::try_from(origin.elapsed().as_millis()).unwrap_or(u64::MAX))
}

/// The embedded drivers' random bytes (request ids, jitter).
fn entropy() -> impl FnMut() -> [u8; 16] {
    let mut n = 0u8;
    move || {
        n = n.wrapping_add(1);
        [n; 16]
    }
}

/// A session over `driver` signing in with `recipe` (a concrete type per expansion: the tokio
/// cache's bounds are met by the concrete recipe).
macro_rules! session {
    ($driver:expr, $sb:expr, $recipe:expr) => {{
        let addr = $sb.addr();
        let calls: Calls = match $driver {
            D::Ureq => {
                let driver = Arc::new(ssoflow_ureq::Driver::default());
                let session = Arc::new(ssoflow_ureq::SharedSession::with_policy($recipe, policy()));
                Box::new(move |n, target: &Target| {
                    let callers: Vec<_> = (0..n)
                        .map(|_| {
                            let (driver, session) = (driver.clone(), session.clone());
                            let target = target.clone();
                            std::thread::spawn(move || {
                                driver
                                    .send_authorized(&session, &(), |t: &TokenSet, buf| {
                                        build(&target, t, buf)
                                    })
                                    .map(|r| r.status)
                                    .map_err(ureq_text)
                            })
                        })
                        .collect();
                    callers
                        .into_iter()
                        .map(|c| c.join().expect("caller thread"))
                        .collect()
                })
            }
            D::Tokio => {
                use ssoflow_tokio::{CacheConfig, OwnedRequest, TokenCache};
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("runtime");
                let driver = ssoflow_tokio::Driver::new().expect("tokio driver");
                let cache: Arc<TokenCache<(), _>> = Arc::new(TokenCache::new(
                    driver,
                    $recipe,
                    CacheConfig {
                        policy: policy(),
                        ..CacheConfig::default()
                    },
                ));
                Box::new(move |n, target: &Target| {
                    rt.block_on(async {
                        let callers: Vec<_> = (0..n)
                            .map(|_| {
                                let (cache, target) = (cache.clone(), target.clone());
                                tokio::spawn(async move {
                                    cache
                                        .send_authorized(&(), |t: &TokenSet| {
                                            OwnedRequest::write_with(|buf| build(&target, t, buf))
                                        })
                                        .await
                                        .map(|r| r.status)
                                        .map_err(tokio_text)
                                })
                            })
                            .collect();
                        let mut got = Vec::new();
                        for c in callers {
                            got.push(c.await.expect("caller task"));
                        }
                        got
                    })
                })
            }
            D::EmbBlocking => {
                let recipe = $recipe;
                let mut session =
                    Session::<TokenSet, ssoflow_embedded_io::Error>::with_policy(policy());
                let mut stream = BlockingTcp::connect(addr);
                let buf = vec![0u8; ssoflow_embedded_io::DEFAULT_BUF].leak();
                let mut driver = ssoflow_embedded_io::Driver::new(buf);
                let (mut clock, mut entropy) = (clock(), entropy());
                Box::new(move |n, target: &Target| {
                    (0..n)
                        .map(|_| {
                            driver
                                .send_authorized(
                                    &mut stream,
                                    &mut clock,
                                    &mut session,
                                    &recipe,
                                    &(),
                                    &mut entropy,
                                    |t: &TokenSet, buf| build(target, t, buf),
                                )
                                .map(|v| v.status())
                                .map_err(emb_text)
                        })
                        .collect()
                })
            }
            D::EmbAsync => {
                let recipe = $recipe;
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                let mut session =
                    Session::<TokenSet, ssoflow_embedded_io::Error>::with_policy(policy());
                let mut stream = rt.block_on(AsyncTcp::connect(addr));
                let buf = vec![0u8; ssoflow_embedded_io::DEFAULT_BUF].leak();
                let mut driver = ssoflow_embedded_io::Driver::new(buf);
                let (mut clock, mut entropy) = (clock(), entropy());
                Box::new(move |n, target: &Target| {
                    rt.block_on(async {
                        let mut got = Vec::new();
                        for _ in 0..n {
                            got.push(
                                driver
                                    .send_authorized_async(
                                        &mut stream,
                                        &mut clock,
                                        &mut session,
                                        &recipe,
                                        &(),
                                        &mut entropy,
                                        |t: &TokenSet, buf| build(target, t, buf),
                                    )
                                    .await
                                    .map(|v| v.status())
                                    .map_err(emb_text),
                            );
                        }
                        got
                    })
                })
            }
        };
        calls
    }};
}

// ---------------------------------------------------------------------------------------------
// A gate: a TCP relay to the sandbox that holds its first `n` connections until all `n` are
// open, so that n concurrent callers are all in flight (each has built its request with the
// token it held) before any of them gets an answer. A barrier, not a sleep.

fn gate(upstream: SocketAddr, n: usize) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("address");
    let barrier = Arc::new(Barrier::new(n));
    std::thread::spawn(move || {
        for (i, conn) in listener.incoming().enumerate() {
            let Ok(client) = conn else { return };
            let barrier = (i < n).then(|| barrier.clone());
            std::thread::spawn(move || {
                if let Some(b) = barrier {
                    b.wait();
                }
                let Ok(server) = TcpStream::connect(upstream) else {
                    return;
                };
                relay(client, server);
            });
        }
    });
    addr
}

fn relay(client: TcpStream, server: TcpStream) {
    let (Ok(mut c2), Ok(mut s2)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    let (mut client, mut server) = (client, server);
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut c2, &mut s2);
        let _ = s2.shutdown(std::net::Shutdown::Write);
    });
    let _ = std::io::copy(&mut server, &mut client);
    let _ = client.shutdown(std::net::Shutdown::Write);
}

// ---------------------------------------------------------------------------------------------
// The scenarios.

/// What one scenario did on one driver.
struct Run {
    /// Calls per endpoint (test hooks and set-up left out).
    counts: BTreeMap<String, u64>,
    /// Shown in the table.
    note: String,
    /// Checks other than the counts that failed.
    problems: Vec<String>,
}

fn counts(sb: &SandboxHandle) -> BTreeMap<String, u64> {
    sb.stats()
        .into_iter()
        .filter(|(k, _)| !k.contains("/__sandbox/") && k != "POST /pos/users")
        .collect()
}

/// A sandbox OAuth 2.0 client, leaked (recipes borrow it; threads and tasks need `'static`).
fn oauth_client(sb: &SandboxHandle, secret: Option<&str>) -> &'static Client {
    let c = &sb.credentials().oauth2;
    let cl = Client::new(&format!("{}/token", c.base_url), &c.client_id)
        .and_then(|cl| cl.with_secret(secret.unwrap_or(&c.client_secret)))
        .expect("sandbox credentials");
    Box::leak(Box::new(cl))
}

fn userinfo(sb: &SandboxHandle) -> Target {
    Target::Url(format!("{}/userinfo", sb.credentials().oauth2.base_url))
}

fn all_ok(got: &[Got], problems: &mut Vec<String>) {
    for (i, g) in got.iter().enumerate() {
        if g != &Ok(200) {
            problems.push(format!("caller {i} got {g:?}"));
        }
    }
}

/// Scenario 1, cold start: N callers on an empty session.
fn cold_start(d: D) -> Run {
    let sb = sandbox();
    let cl = oauth_client(&sb, None);
    let mut calls = session!(d, sb, oauth2::ClientCredentials::new(cl, None));
    let mut problems = Vec::new();
    all_ok(&calls(N, &userinfo(&sb)), &mut problems);
    Run {
        counts: counts(&sb),
        note: format!("{N} callers"),
        problems,
    }
}

/// Scenario 2, a 401 storm: signed in, then the token expires at the server (its clock jumps
/// an hour; the session's clock does not know), so every call made with it is answered 401,
/// whatever order the requests arrive in.
fn storm(d: D) -> Run {
    let sb = sandbox();
    let cl = oauth_client(&sb, None);
    let mut calls = session!(d, sb, oauth2::ClientCredentials::new(cl, None));
    let mut problems = Vec::new();
    all_ok(&calls(1, &userinfo(&sb)), &mut problems);
    sb.advance_clock(Duration::from_secs(3601));
    let (target, how) = if d.concurrent() {
        // All N through the gate: every one has built its request with the expired token
        // before any 401 comes back.
        let url = format!("http://{}/oauth2/userinfo", gate(sb.addr(), N));
        (Target::Url(url), format!("{N} in flight"))
    } else {
        // One call at a time: the first meets the 401; the others use the new token.
        (userinfo(&sb), format!("{N} in a row"))
    };
    all_ok(&calls(N, &target), &mut problems);
    Run {
        counts: counts(&sb),
        note: format!("token expired at the server, {how}"),
        problems,
    }
}

/// Scenario 3: 503 with `Retry-After: 1` on the token endpoint once.
fn retry_after(d: D) -> Run {
    let sb = sandbox();
    let cl = oauth_client(&sb, None);
    let mut calls = session!(d, sb, oauth2::ClientCredentials::new(cl, None));
    fault(
        &sb,
        r#"{"path":"/oauth2/token","kind":"status","status":503,"retry_after":1}"#,
    );
    let mut problems = Vec::new();
    let started = std::time::Instant::now();
    all_ok(&calls(1, &userinfo(&sb)), &mut problems);
    let took = started.elapsed();
    // Every driver carries the answer's Retry-After to the session, which waits it out.
    if took < Duration::from_secs(1) {
        problems.push(format!("retried after {took:?}, before the Retry-After"));
    }
    let how = "Retry-After honoured";
    Run {
        counts: counts(&sb),
        note: format!("1 caller, retried after {} ms ({how})", took.as_millis()),
        problems,
    }
}

/// Scenario 4, a failing sign-in (a wrong client secret: 401 `invalid_client`) shared by N
/// callers.
fn failing_sign_in(d: D) -> Run {
    let sb = sandbox();
    let cl = oauth_client(&sb, Some("wrong-secret"));
    let mut calls = session!(d, sb, oauth2::ClientCredentials::new(cl, None));
    let got = calls(N, &userinfo(&sb));
    let mut problems = Vec::new();
    let first = got[0].clone();
    match &first {
        Err(e) if e.contains("401") && e.contains("invalid_client") => {}
        other => problems.push(format!("caller 0 got {other:?}, not a 401 invalid_client")),
    }
    for (i, g) in got.iter().enumerate().skip(1) {
        if g != &first {
            problems.push(format!("caller {i} got {g:?}, caller 0 {first:?}"));
        }
    }
    Run {
        counts: counts(&sb),
        note: format!("{N} callers, all the same 401 invalid_client"),
        problems,
    }
}

/// Scenario 5, POS admin: a 401 on `/admin/me` renews with the refresh token; the refresh is
/// refused (401): the recipe logs in again.
fn refresh_refused(d: D) -> Run {
    let sb = sandbox();
    let c = &sb.credentials().pos_api;
    let cfg: &'static pos_api::PosConfig = Box::leak(Box::new(
        pos_api::PosConfig::new(&c.base_url, &c.client_id, &c.client_secret)
            .expect("sandbox credentials"),
    ));
    ssoflow_ureq::Driver::default()
        .run(pos_api::create_account(cfg, "scenario-admin", PASSWORD).expect("account"))
        .expect("register");
    let recipe = || pos_api::Admin::new(cfg, "scenario-admin", PASSWORD).expect("recipe");
    let mut calls = session!(d, sb, recipe());
    let mut problems = Vec::new();
    let me = Target::PosMe(cfg);
    all_ok(&calls(1, &me), &mut problems);
    fault(&sb, r#"{"path":"/pos/admin/me","kind":"unauthorized"}"#);
    fault(
        &sb,
        r#"{"path":"/pos/auth/refresh-token","kind":"unauthorized"}"#,
    );
    all_ok(&calls(1, &me), &mut problems);
    Run {
        counts: counts(&sb),
        note: "1 caller, 2 calls".into(),
        problems,
    }
}

struct Scenario {
    name: &'static str,
    run: fn(D) -> Run,
    /// The calls each endpoint must have seen (endpoints left out: none).
    expect: fn(D) -> Vec<(&'static str, u64)>,
}

fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "cold start",
            run: cold_start,
            expect: |_| vec![(TOKEN, 1), (USERINFO, N as u64)],
        },
        Scenario {
            name: "401 storm",
            run: storm,
            // One re-sign-in everywhere. Concurrent drivers: the warm-up call, N calls
            // answered 401, N retries. Embedded (one call at a time, by design): the warm-up,
            // one 401, its retry, then N-1 calls with the new token.
            expect: |d| {
                let n = N as u64;
                let userinfo = if d.concurrent() { 1 + 2 * n } else { n + 2 };
                vec![(TOKEN, 2), (USERINFO, userinfo)]
            },
        },
        Scenario {
            name: "503 + Retry-After: 1",
            run: retry_after,
            // The same counts; the wait differs (see the note column).
            expect: |_| vec![(TOKEN, 2), (USERINFO, 1)],
        },
        Scenario {
            name: "failing sign-in shared",
            run: failing_sign_in,
            // Embedded: the 2nd..Nth calls come within the cooldown and get the shared
            // failure without a request.
            expect: |_| vec![(TOKEN, 1)],
        },
        Scenario {
            name: "refresh refused -> login",
            run: refresh_refused,
            expect: |_| vec![(LOGIN, 2), (REFRESH, 1), (ME, 3)],
        },
    ]
}

fn show(counts: &BTreeMap<String, u64>) -> String {
    counts
        .iter()
        .map(|(k, v)| format!("{}={v}", k.rsplit('/').next().unwrap_or(k)))
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn every_scenario_on_every_driver_makes_the_same_requests() {
    with_timeout(Duration::from_secs(120), || {
        let mut failures = Vec::new();
        let mut lines = vec![format!(
            "{:<26} {:<13} {:<36} {:<4} note",
            "scenario", "driver", "requests", "ok"
        )];
        for s in scenarios() {
            for d in DRIVERS {
                let run = (s.run)(d);
                let expected: BTreeMap<String, u64> = (s.expect)(d)
                    .into_iter()
                    .filter(|(_, v)| *v > 0)
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect();
                let ok = run.counts == expected && run.problems.is_empty();
                lines.push(format!(
                    "{:<26} {:<13} {:<36} {:<4} {}",
                    s.name,
                    d.name(),
                    show(&run.counts),
                    if ok { "ok" } else { "FAIL" },
                    run.note
                ));
                if run.counts != expected {
                    failures.push(format!(
                        "{} / {}: requests {} (expected {})",
                        s.name,
                        d.name(),
                        show(&run.counts),
                        show(&expected)
                    ));
                }
                for p in run.problems {
                    failures.push(format!("{} / {}: {p}", s.name, d.name()));
                }
            }
        }
        println!("{}", lines.join("\n"));
        assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    });
}

// ---------------------------------------------------------------------------------------------
// The embedded drivers' streams: one keep-alive TCP connection per session.
