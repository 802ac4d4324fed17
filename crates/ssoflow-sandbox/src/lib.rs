//! A local, in-memory emulator of the vendors ssoflow signs in to — PAR Ordering, Punchh, Stream, a POS
//! API — plus a generic OAuth 2.0 server, for tests and demos.
//!
//! One HTTP/1.1 server (axum on hyper, bound to `127.0.0.1:0` by default) serves each vendor under its
//! own prefix (`/par`, `/punchh`, `/stream`, `/pos`, `/oauth2`) with the vendor's own paths below it.
//! Expiries run on a sandbox clock that tests can move forward; with test hooks enabled,
//! `/__sandbox/` also offers fault injection and call counts (see [Test hooks](crate#test-hooks)).
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let sandbox = ssoflow_sandbox::Sandbox::builder().test_hooks(true).start().await?;
//! println!("{}", sandbox.ready_line());
//! let token_url = format!("{}/token", sandbox.credentials().oauth2.base_url);
//! # let _ = token_url;
//! sandbox.advance_clock(std::time::Duration::from_secs(3600));
//! # Ok(()) }
//! ```
//!
//! # Test hooks
//!
//! Only routed when [`SandboxBuilder::test_hooks`] is on (404 otherwise):
//! - `POST /__sandbox/clock/advance` `{"seconds":N}` moves the sandbox clock forward.
//! - `POST /__sandbox/faults` `{"path":"/oauth2/token","count":N,"kind":K,"ms":..,"status":..,"retry_after":..}`
//!   queues a fault for the next `count` (default 1) requests to exactly `path` (no query). `kind` is
//!   `delay` (wait `ms`, then answer normally), `status` (answer `status`, default 500, with a JSON error
//!   and `Retry-After: retry_after` when given), `drop` (close the connection without answering),
//!   `truncate` (answer normally but send only half the body under the full `Content-Length`, then
//!   close), or `unauthorized` (the vendor's own 401). `DELETE /__sandbox/faults` clears the queue.
//! - `GET /__sandbox/stats` → `{"calls":{"POST /oauth2/token":3,…}}`: every request but the hooks'
//!   own, faulted ones included. `POST /__sandbox/stats/reset` zeroes them. `REPLAY /oauth2/token`
//!   counts refresh tokens presented again after their rotation (each revoked its whole family).
//! - `POST /__sandbox/device/approve` / `POST /__sandbox/device/deny` `{"user_code":S}` (or `{}`
//!   for the newest undecided code) decide a device sign-in (RFC 8628) as a person on the
//!   verification page `/oauth2/device` would.
//!
//! # Sign-in pages
//!
//! `GET /oauth2/authorize` and `GET /punchh/oauth/authorize` serve real HTML sign-in forms (user
//! name or email, password, Allow / Deny, a CSRF token bound to a cookie; a wrong password is
//! shown on the page and the client keeps waiting); see [`login`] for the exact behaviour.
//! Auto-approval (an immediate redirect with a code for the configured user, no page) is a test
//! hook: it is what `/authorize` does when [`SandboxBuilder::test_hooks`] is on, unless
//! [`SandboxBuilder::login_form`] asks for the forms there too. Without test hooks the forms are
//! always served.
//!
//! # TLS and proxies
//!
//! [`SandboxBuilder::tls`] serves HTTPS with a certificate and CA made at start;
//! [`SandboxBuilder::tls_files`] serves given files. [`tls::TestCa`] makes test certificates (a
//! leaf for another name, an expired one), and [`proxy::ConnectProxy`] is a tiny `CONNECT` proxy
//! that counts tunnels and keeps what crossed it, for the drivers' proxy tests.

#![allow(
    clippy::result_large_err,
    reason = "helpers return a ready axum Response as their error; boxing it buys nothing here"
)]

use std::collections::BTreeMap;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode, header};
use axum::response::Response;
use futures_util::StreamExt;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use serde::Serialize;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tower::ServiceExt;
use tower_http::catch_panic::CatchPanicLayer;

mod config;
mod hooks;
pub mod login;
mod oauth2;
mod par;
mod pos;
pub mod proxy;
mod punchh;
mod state;
mod stream;
pub mod tls;
mod util;

pub use config::{
    Config, ConfigError, OAuth2Config, ParOrderingConfig, PosApiConfig, PunchhConfig,
    PunchhUserConfig, StreamConfig,
};
pub use punchh::digest as punchh_digest;

use hooks::FaultKind;
use state::{AppState, Shared};
use tls::{CaFile, Tls, TlsSetting};
use util::json_response;

/// Largest request body accepted; larger ones are answered 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// How much of a too-large body is read and discarded before answering 413.
const DRAIN_BYTES: usize = 1024 * 1024;

/// The subject token of the PAR Ordering playground's test customer.
pub const PAR_TEST_SUBJECT_TOKEN: &str = "test-1100-jane.doe@partech.com-Jane-Doe-+41767567126";

/// Entry point: `Sandbox::builder()`.
#[derive(Debug, Clone, Copy)]
pub struct Sandbox;

impl Sandbox {
    /// A builder with the demo defaults, listening on `127.0.0.1:0`, test hooks off.
    pub fn builder() -> SandboxBuilder {
        SandboxBuilder {
            config: Config::default(),
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            allow_remote: false,
            test_hooks: false,
            login_form: false,
            tls: TlsSetting::Off,
        }
    }
}

/// Configures and starts a sandbox.
#[derive(Debug, Clone)]
pub struct SandboxBuilder {
    config: Config,
    listen: SocketAddr,
    allow_remote: bool,
    test_hooks: bool,
    login_form: bool,
    tls: TlsSetting,
}

impl SandboxBuilder {
    /// Replaces the whole configuration.
    pub fn config(mut self, c: Config) -> Self {
        self.config = c;
        self
    }

    /// Loads the configuration from a TOML file (every field optional, unknown keys rejected).
    pub fn config_file(mut self, path: &Path) -> Result<Self, ConfigError> {
        self.config = Config::from_file(path)?;
        Ok(self)
    }

    /// The address to bind (default `127.0.0.1:0`, a free port). A non-loopback address
    /// (`0.0.0.0`, a LAN address) is refused when starting unless [`Self::allow_remote`] is on:
    /// the sandbox hands out its credentials and, with test hooks, lets anyone move its clock.
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Allows a non-loopback [`Self::listen`] address (default off: starting fails with
    /// `ErrorKind::InvalidInput`).
    pub fn allow_remote(mut self, on: bool) -> Self {
        self.allow_remote = on;
        self
    }

    /// Enables the `/__sandbox/` test hooks (default off), and with them auto-approval of
    /// `/authorize` (see [`Self::login_form`]).
    pub fn test_hooks(mut self, on: bool) -> Self {
        self.test_hooks = on;
        self
    }

    /// With test hooks on, serves the HTML sign-in forms of [`login`] on `/oauth2/authorize` and
    /// `/punchh/oauth/authorize` instead of auto-approving (default off: tests and `ssoflow demo`
    /// rely on auto-approval). Without test hooks the forms are always served and this changes
    /// nothing: auto-approval is a test hook.
    pub fn login_form(mut self, on: bool) -> Self {
        self.login_form = on;
        self
    }

    /// Serves HTTPS (default off) with a certificate made at start for `localhost`, `127.0.0.1`
    /// and `::1`, signed by a CA also made at start. The CA's PEM is written to a temporary file
    /// the handle owns ([`SandboxHandle::ca_cert_path`], removed when the handle is dropped) and
    /// named in the ready line (`"ca_cert"`). Base URLs become `https://127.0.0.1:PORT/…`.
    pub fn tls(mut self, on: bool) -> Self {
        self.tls = if on {
            TlsSetting::Generated
        } else {
            TlsSetting::Off
        };
        self
    }

    /// Serves HTTPS with this certificate chain (PEM, leaf first) and private key (PEM) instead
    /// of a generated one; no CA is made (the ready line has no `"ca_cert"`).
    pub fn tls_files(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.tls = TlsSetting::Files {
            cert: cert.into(),
            key: key.into(),
        };
        self
    }

    /// Sets `par_ordering.customer_info_url`: where sign-in asks who a non-test subject token is.
    pub fn customer_info_url(mut self, url: impl Into<String>) -> Self {
        self.config.par_ordering.customer_info_url = Some(url.into());
        self
    }

    /// Binds and starts serving on the current tokio runtime.
    pub async fn start(self) -> std::io::Result<SandboxHandle> {
        let (running, server) = self.bind().await?;
        tokio::spawn(server);
        Ok(running.into_handle(None))
    }

    /// Starts on a multi-thread runtime of its own, on a background thread; for blocking code.
    pub fn start_blocking(self) -> std::io::Result<SandboxHandle> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("ssoflow-sandbox".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .thread_name("ssoflow-sandbox-worker")
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                rt.block_on(async move {
                    match self.bind().await {
                        Ok((running, server)) => {
                            if ready_tx.send(Ok(running)).is_ok() {
                                server.await;
                            }
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                        }
                    }
                });
                rt.shutdown_timeout(Duration::from_secs(1));
            })?;
        let running = ready_rx
            .recv()
            .map_err(|_| std::io::Error::other("the sandbox thread stopped before binding"))??;
        Ok(running.into_handle(Some(thread)))
    }

    /// Binds the listener and builds the server future (which stops when the shutdown signal fires).
    async fn bind(self) -> std::io::Result<(Running, impl Future<Output = ()> + Send + 'static)> {
        if !self.listen.ip().is_loopback() && !self.allow_remote {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "{} is not a loopback address: the sandbox hands out its credentials to \
                     anyone who can reach it; allow it explicitly (allow_remote, --allow-remote)",
                    self.listen.ip()
                ),
            ));
        }
        let tls = Tls::new(&self.tls)?;
        let listener = TcpListener::bind(self.listen).await?;
        // The address really bound (the port chosen for port 0); an unspecified address is
        // reached through loopback from this machine.
        let mut addr = listener.local_addr()?;
        if addr.ip().is_unspecified() {
            addr.set_ip(if addr.is_ipv6() {
                std::net::Ipv6Addr::LOCALHOST.into()
            } else {
                Ipv4Addr::LOCALHOST.into()
            });
        }
        let scheme = if tls.is_some() { "https" } else { "http" };
        let base_url = format!("{scheme}://{addr}");
        let (acceptor, ca) = match tls {
            Some(Tls { acceptor, ca }) => (Some(acceptor), ca),
            None => (None, None),
        };
        let mut credentials = Credentials::new(&self.config, &base_url);
        credentials.ca_cert = ca.as_ref().map(|c| c.path.display().to_string());
        let login_form = self.login_form || !self.test_hooks;
        let shared = Arc::new(Shared::new(self.config, base_url.clone(), login_form)?);
        let app = App {
            router: router(shared.clone(), self.test_hooks),
            shared: shared.clone(),
        };
        let (shutdown_tx, shutdown_rx) = oneshot::channel();
        let running = Running {
            addr,
            base_url,
            credentials,
            shared,
            shutdown_tx,
            ca,
        };
        Ok((running, serve(listener, acceptor, app, shutdown_rx)))
    }
}

/// A bound, not yet handed-out sandbox.
struct Running {
    addr: SocketAddr,
    base_url: String,
    credentials: Credentials,
    shared: AppState,
    shutdown_tx: oneshot::Sender<()>,
    ca: Option<CaFile>,
}

impl Running {
    fn into_handle(self, thread: Option<std::thread::JoinHandle<()>>) -> SandboxHandle {
        SandboxHandle {
            addr: self.addr,
            base_url: self.base_url,
            credentials: self.credentials,
            shared: self.shared,
            shutdown_tx: Some(self.shutdown_tx),
            thread,
            ca: self.ca,
        }
    }
}

/// A running sandbox. Dropping it (or [`SandboxHandle::shutdown`]) stops the server.
pub struct SandboxHandle {
    addr: SocketAddr,
    base_url: String,
    credentials: Credentials,
    shared: AppState,
    shutdown_tx: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Declared last: the CA file is removed after the server has stopped.
    ca: Option<CaFile>,
}

impl fmt::Debug for SandboxHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SandboxHandle")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl SandboxHandle {
    /// `http://127.0.0.1:PORT` (`https://` with TLS).
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// Whether the sandbox serves HTTPS.
    pub fn is_tls(&self) -> bool {
        self.base_url.starts_with("https:")
    }

    /// The generated CA's certificate (PEM), when [`SandboxBuilder::tls`] made one: what a
    /// client must trust to reach this sandbox.
    pub fn ca_cert_pem(&self) -> Option<&str> {
        self.ca.as_ref().map(|c| c.pem.as_str())
    }

    /// The file holding [`ca_cert_pem`](Self::ca_cert_pem) (removed when the handle is dropped).
    pub fn ca_cert_path(&self) -> Option<&Path> {
        self.ca.as_ref().map(|c| c.path.as_path())
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Base URLs and demo credentials of every emulated vendor.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// The one-line JSON `ssoflow sandbox` prints: `{"listening":…,"par_ordering":{…},…}`.
    pub fn ready_line(&self) -> String {
        serde_json::to_string(&self.credentials).unwrap_or_default()
    }

    /// Moves the sandbox clock forward (same as `POST /__sandbox/clock/advance`).
    pub fn advance_clock(&self, d: Duration) {
        self.shared.clock.advance(d);
    }

    /// Calls per `"METHOD /path"` (same as `GET /__sandbox/stats` → `calls`).
    pub fn stats(&self) -> BTreeMap<String, u64> {
        self.shared.hooks.stats()
    }

    /// Stops the server gracefully (in-flight requests get up to 5 s).
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for SandboxHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown_tx.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Everything a client needs to talk to the sandbox; serializes to the ready line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Credentials {
    /// `http://127.0.0.1:PORT` (`https://` with TLS).
    pub listening: String,
    /// With a generated TLS certificate: the path of the CA's PEM, to trust.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_cert: Option<String>,
    /// PAR Ordering.
    pub par_ordering: ParCredentials,
    /// Punchh.
    pub punchh: PunchhCredentials,
    /// Stream.
    pub stream: ClientCredentials,
    /// POS API.
    pub pos_api: ClientCredentials,
    /// Generic OAuth 2.0.
    pub oauth2: OAuth2Credentials,
}

/// PAR Ordering's part of [`Credentials`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParCredentials {
    /// `…/par`.
    pub base_url: String,
    /// `Application` header value.
    pub application_key: String,
    /// M2M client id.
    pub client_id: String,
    /// M2M client secret.
    pub client_secret: String,
    /// A playground subject token that always signs in.
    pub test_subject_token: String,
}

/// Punchh's part of [`Credentials`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PunchhCredentials {
    /// `…/punchh`.
    pub base_url: String,
    /// Business key, also the OAuth client id.
    pub client: String,
    /// The OAuth client secret (`client_secret` of `/oauth/token`).
    pub secret: String,
    /// The `x-pch-digest` secret (the client secret unless configured apart).
    pub signing_secret: String,
    /// The registered redirect URI.
    pub redirect_uri: String,
    /// The security token `/api/auth/sso` accepts.
    pub security_token: String,
    /// The test user's email, for the sign-in form.
    pub user_email: String,
    /// The test user's password, for the sign-in form.
    pub user_password: String,
}

/// A base URL with one client's credentials (Stream, POS API).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClientCredentials {
    /// `…/stream` or `…/pos`.
    pub base_url: String,
    /// Client id.
    pub client_id: String,
    /// Client secret.
    pub client_secret: String,
}

/// The generic OAuth 2.0 server's part of [`Credentials`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OAuth2Credentials {
    /// `…/oauth2`.
    pub base_url: String,
    /// Client id.
    pub client_id: String,
    /// Client secret.
    pub client_secret: String,
    /// Resource owner for the password grant and the sign-in form.
    pub username: String,
    /// The resource owner's password.
    pub password: String,
    /// The public kiosk client of the device grant (no secret).
    pub device_client_id: String,
}

impl Credentials {
    fn new(c: &Config, base: &str) -> Self {
        Self {
            listening: base.to_owned(),
            ca_cert: None,
            par_ordering: ParCredentials {
                base_url: format!("{base}/par"),
                application_key: c.par_ordering.application_key.clone(),
                client_id: c.par_ordering.client_id.clone(),
                client_secret: c.par_ordering.client_secret.clone(),
                test_subject_token: PAR_TEST_SUBJECT_TOKEN.to_owned(),
            },
            punchh: PunchhCredentials {
                base_url: format!("{base}/punchh"),
                client: c.punchh.client.clone(),
                secret: c.punchh.secret.clone(),
                signing_secret: c.punchh.signing_secret().to_owned(),
                redirect_uri: c.punchh.redirect_uri.clone(),
                security_token: c.punchh.security_token.clone(),
                user_email: c.punchh.user.email.clone(),
                user_password: c.punchh.user.password.clone(),
            },
            stream: ClientCredentials {
                base_url: format!("{base}/stream"),
                client_id: c.stream.client_id.clone(),
                client_secret: c.stream.client_secret.clone(),
            },
            pos_api: ClientCredentials {
                base_url: format!("{base}/pos"),
                client_id: c.pos_api.client_id.clone(),
                client_secret: c.pos_api.client_secret.clone(),
            },
            oauth2: OAuth2Credentials {
                base_url: format!("{base}/oauth2"),
                client_id: c.oauth2.client_id.clone(),
                client_secret: c.oauth2.client_secret.clone(),
                username: c.oauth2.username.clone(),
                password: c.oauth2.password.clone(),
                device_client_id: c.oauth2.device_client_id.clone(),
            },
        }
    }
}

fn router(shared: AppState, test_hooks: bool) -> Router {
    let mut router = Router::new()
        .merge(par::routes())
        .merge(punchh::routes())
        .merge(stream::routes())
        .merge(pos::routes())
        .merge(oauth2::routes());
    if test_hooks {
        router = router
            .merge(hooks::routes())
            .merge(oauth2::device::hook_routes());
    }
    router
        .fallback(|| async {
            json_response(
                StatusCode::NOT_FOUND,
                &json!({"error": "not_found", "message": "no such endpoint"}),
            )
        })
        .method_not_allowed_fallback(|| async {
            json_response(
                StatusCode::METHOD_NOT_ALLOWED,
                &json!({"error": "method_not_allowed", "message": "method not allowed on this endpoint"}),
            )
        })
        .layer(CatchPanicLayer::custom(|_| {
            json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                &json!({"error": "internal_error", "message": "the sandbox failed on this request"}),
            )
        }))
        .with_state(shared)
}

/// Returned by the connection service to make hyper close the connection without a response.
#[derive(Debug)]
struct DropConnection;

impl fmt::Display for DropConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for DropConnection {}

/// The per-request front: counts, applies faults, buffers the body (64 KiB cap), then routes.
#[derive(Clone)]
struct App {
    router: Router,
    shared: AppState,
}

impl App {
    async fn handle(self, req: Request<Incoming>) -> Result<Response, DropConnection> {
        let path = req.uri().path().to_owned();
        let mut truncate = false;
        if !path.starts_with("/__sandbox/") {
            self.shared.hooks.count(req.method().as_str(), &path);
            match self.shared.hooks.take_fault(&path) {
                None => {}
                Some(FaultKind::Delay(ms)) => tokio::time::sleep(Duration::from_millis(ms)).await,
                Some(FaultKind::Status {
                    status,
                    retry_after,
                }) => return Ok(fault_status(status, retry_after)),
                Some(FaultKind::Drop) => return Err(DropConnection),
                Some(FaultKind::Truncate) => truncate = true,
                Some(FaultKind::Unauthorized) => return Ok(vendor_unauthorized(&path)),
            }
        }
        let (parts, body) = req.into_parts();
        let bytes = match read_body(&parts.headers, body).await {
            Ok(bytes) => bytes,
            Err(resp) => return Ok(resp),
        };
        let req = Request::from_parts(parts, Body::from(bytes));
        let resp = match self.router.oneshot(req).await {
            Ok(resp) => resp,
            Err(never) => match never {},
        };
        if truncate {
            Ok(truncated(resp).await)
        } else {
            Ok(resp)
        }
    }
}

/// Reads the whole request body, at most [`MAX_BODY_BYTES`]. A larger body is still drained (up to
/// [`DRAIN_BYTES`]) so the client reads the 413 instead of a connection reset.
async fn read_body(headers: &HeaderMap, mut body: Incoming) -> Result<Bytes, Response> {
    let mut too_large = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > MAX_BODY_BYTES as u64);
    let mut buf = Vec::new();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return Err(json_response(
                StatusCode::BAD_REQUEST,
                &json!({"error": "invalid_request", "message": "the request body could not be read"}),
            ));
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        total = total.saturating_add(data.len());
        too_large |= total > MAX_BODY_BYTES;
        if too_large {
            if total > DRAIN_BYTES {
                break;
            }
        } else {
            buf.extend_from_slice(&data);
        }
    }
    if too_large {
        Err(too_large_response())
    } else {
        Ok(Bytes::from(buf))
    }
}

fn too_large_response() -> Response {
    json_response(
        StatusCode::PAYLOAD_TOO_LARGE,
        &json!({"error": "payload_too_large", "message": format!("request bodies are limited to {MAX_BODY_BYTES} bytes")}),
    )
}

fn fault_status(status: u16, retry_after: Option<u64>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = json_response(
        status,
        &json!({"error": "sandbox_fault", "message": format!("injected fault: status {}", status.as_u16())}),
    );
    if let Some(secs) = retry_after {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    resp
}

/// The vendor's own 401 for `path`.
fn vendor_unauthorized(path: &str) -> Response {
    let vendor = path.trim_start_matches('/').split('/').next().unwrap_or("");
    match vendor {
        "par" => par::unauthorized(),
        "punchh" => punchh::unauthorized(),
        "stream" => stream::unauthorized(path),
        "pos" => pos::unauthorized("missing, unknown or expired token"),
        _ => oauth2::unauthorized(path),
    }
}

/// The same response, but with only half the body sent under the full Content-Length, then an abort.
async fn truncated(resp: Response) -> Response {
    let (mut parts, body) = resp.into_parts();
    let full = body
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let partial = full.slice(..full.len() / 2);
    let declared = full.len().max(partial.len() + 1);
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(declared));
    let chunks = futures_util::stream::iter([Ok::<Bytes, std::io::Error>(partial)]).chain(
        futures_util::stream::once(async {
            // Give hyper a moment to flush the partial body before the connection is aborted.
            tokio::time::sleep(Duration::from_millis(50)).await;
            Err(std::io::Error::other(
                "response truncated by an injected fault",
            ))
        }),
    );
    Response::from_parts(parts, Body::from_stream(chunks))
}

/// Accepts connections until the shutdown signal, then lets in-flight requests finish (5 s at most).
///
/// With `tls`, each accepted stream completes a TLS handshake (10 s at most) before HTTP.
async fn serve(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    app: App,
    mut shutdown: oneshot::Receiver<()>,
) {
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new());
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(_) => {
                        // E.g. out of file descriptors: back off instead of spinning.
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let app = app.clone();
                let service = hyper::service::service_fn(move |req| app.clone().handle(req));
                match &tls {
                    None => {
                        let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
                        tokio::spawn(async move {
                            let _ = conn.await;
                        });
                    }
                    Some(acceptor) => {
                        let (acceptor, http, watcher) = (acceptor.clone(), http.clone(), graceful.watcher());
                        tokio::spawn(async move {
                            let handshake = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream));
                            // A failed handshake (the client refused our certificate) just ends here.
                            if let Ok(Ok(stream)) = handshake.await {
                                let _ = watcher.watch(http.serve_connection(TokioIo::new(stream), service)).await;
                            }
                        });
                    }
                }
            }
            _ = &mut shutdown => break,
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(Duration::from_secs(5), graceful.shutdown()).await;
}
