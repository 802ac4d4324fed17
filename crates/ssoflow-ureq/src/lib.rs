//! Blocking driver for [`ssoflow_core`]: runs any sign-in flow over [`ureq`] 3 (rustls + ring).
//!
//! The core writes requests and reads responses; this crate only moves the bytes. It adds what a
//! blocking program needs around that and nothing protocol-specific:
//!
//! - [`Driver::run`]: the one drive loop every ssoflow driver shares
//!   (`poll` → send → `handle` → … → `Done`), with the driver's monotonic clock as `now`;
//! - [`Driver::send`]: one exchange, with the shared std-driver defaults ([`Config`]): `http://`
//!   only to loopback hosts (checked before connecting), an overall deadline per request, a hard
//!   cap on the response size (never truncation), redirects never followed;
//! - [`Driver::send_authorized`]: a protected call through a [`SharedSession`] — sign in when
//!   needed (single-flight across threads), one re-sign-in and one retry after a 401;
//! - [`Driver::run_paced`]: flows that wait between requests (the RFC 8628 device grant's
//!   polling, an RFC 7009 revocation retrying a 503), sleeping the thread until each wait ends;
//!   [`Driver::sign_out`]: revoke a [`SharedSession`]'s tokens, then forget them.
//!
//! ```no_run
//! use ssoflow_core::oauth2;
//! use ssoflow_ureq::{Config, Driver};
//!
//! # fn main() -> Result<(), ssoflow_ureq::Error> {
//! let driver = Driver::new(Config::default());
//! let client = oauth2::Client::new("https://auth.example/token", "my-client")?
//!     .with_secret("my-secret")?;
//! let tokens = driver.run(oauth2::client_credentials(&client, Some("orders"))?)?;
//! println!("expires in {:?} s", tokens.expires_in);
//! # Ok(()) }
//! ```
//!
//! Logging goes through [`tracing`] at `DEBUG`: one span per [`Driver::run`] (named `run`, with
//! the flow's type name) and one event per exchange (method, URL, status, milliseconds, header
//! names). Credential header values, query values that look like credentials and bodies are
//! never logged.

// `Error::Core` holds the core's error inline (it carries a ~200-byte redacted excerpt of the
// body) so callers can match `Error::Core(ssoflow_core::Error::Unauthorized)` directly; the
// size only costs a copy on the error path, next to a network round trip.
#![allow(clippy::result_large_err, clippy::large_enum_variant)]

mod error;
use ssoflow_net as net;
#[cfg(test)]
mod proxy_env_tests;
mod redact;
mod response;
mod session;

use std::time::Duration;

use ssoflow_core::{Flow, Instant, Method, NeverWaits, Paced, PacedFlow, Request};

pub use error::Error;
pub use redact::{redact_headers, redact_url};
pub use response::OwnedResponse;
pub use session::SharedSession;

/// 16 bytes from the OS random source, for a sign-in's request ids and PKCE. A failing source
/// is an error, never all-zero randomness.
pub(crate) fn entropy() -> Result<[u8; 16], Error> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| Error::Transport {
        detail: format!("the OS random source failed: {e}"),
    })?;
    Ok(b)
}

/// Settings shared by every std driver and the CLI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// Longest wait for the TCP connection (default 5 s).
    pub connect_timeout: Duration,
    /// Overall deadline of one request, from DNS to the last body byte (default 10 s): a server
    /// dribbling one byte a second cannot hold the caller longer than this.
    pub timeout: Duration,
    /// Largest response body accepted (default 64 KiB); a larger one is [`Error::TooLarge`].
    pub max_response_bytes: usize,
    /// Initial size of the buffer requests are written into (default 4 KiB: a 2 KiB JWT plus
    /// headers fits). A flow that needs more says so, and the buffer grows once to the size it
    /// asked for. The buffer is wiped after every run (it held credentials), so a larger one
    /// costs that much more `memset` on every sign-in.
    pub request_buffer: usize,
}

impl Config {
    /// The defaults: 5 s connect, 10 s overall, 64 KiB responses, 4 KiB request buffer.
    pub const DEFAULT: Config = Config {
        connect_timeout: Duration::from_secs(5),
        timeout: Duration::from_secs(10),
        max_response_bytes: 64 * 1024,
        request_buffer: 4 * 1024,
    };
}

impl Default for Config {
    fn default() -> Self {
        Config::DEFAULT
    }
}

/// Runs flows and sends requests over one [`ureq::Agent`] (connections are pooled).
///
/// `Driver` is `Send + Sync`: share one between threads.
pub struct Driver {
    agent: ureq::Agent,
    /// The agent for URLs that go through the proxy, and its route.
    proxied: Option<(ureq::Agent, net::ProxyRoute)>,
    config: Config,
    origin: std::time::Instant,
}

/// Builds a [`Driver`] with TLS trust and proxy options (see [`Driver::builder`]).
#[derive(Clone, Debug, Default)]
pub struct DriverBuilder {
    config: Config,
    roots: net::Roots,
    proxy: net::ProxyChoice,
}

impl DriverBuilder {
    /// The limits ([`Config::default`] otherwise).
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Also trust the root certificates in `pem` (one or more `CERTIFICATE` blocks), e.g. a
    /// company CA or the sandbox's (`SandboxHandle::ca_cert_pem`). They are added to Mozilla's
    /// roots, which stay trusted. Nothing in the PEM, or an unreadable block, is
    /// `InvalidInput`. Verification is never switched off: there is no option for it.
    pub fn add_root_certificates_pem(mut self, pem: &[u8]) -> Result<Self, Error> {
        self.roots
            .add_pem(pem)
            .map_err(|what| Error::Core(ssoflow_core::Error::InvalidInput { what }))?;
        Ok(self)
    }

    /// Also trust the platform's certificate store (default off; read with
    /// `rustls-native-certs`: on Linux the same files OpenSSL reads, `SSL_CERT_FILE` and
    /// `SSL_CERT_DIR` included).
    pub fn platform_roots(mut self, on: bool) -> Self {
        self.roots.platform = on;
        self
    }

    /// Tunnel every `https://` request, loopback included, through the HTTP proxy at `url`
    /// (`http://[user:pass@]host:port`, by `CONNECT`), whatever the environment says.
    /// Without this the environment decides: `HTTPS_PROXY` (or `ALL_PROXY`) for `https://`
    /// URLs, except loopback hosts and hosts `NO_PROXY` matches; `http://` never goes through a
    /// proxy (see [`ssoflow_core::proxy`]).
    pub fn proxy(mut self, url: impl Into<String>) -> Self {
        self.proxy = net::ProxyChoice::Explicit(url.into());
        self
    }

    /// Use no proxy at all, whatever the environment says.
    pub fn no_proxy(mut self) -> Self {
        self.proxy = net::ProxyChoice::Off;
        self
    }

    /// The driver. A proxy URL that is not `http://` is `InvalidInput`.
    pub fn build(self) -> Result<Driver, Error> {
        let invalid = |what| Error::Core(ssoflow_core::Error::InvalidInput { what });
        let proxy = match self.proxy.resolve().map_err(invalid)? {
            Some(route) => {
                let proxy = ureq::Proxy::new(&route.url).map_err(|_| invalid("proxy url"))?;
                Some((proxy, route))
            }
            None => None,
        };
        Ok(Driver::assemble(self.config, &self.roots, proxy))
    }
}

/// ureq's TLS settings for `roots`: rustls with ring; Mozilla's roots alone when nothing is
/// added (ureq's own default), else them plus the platform's and the extra ones.
fn tls_config(roots: &net::Roots) -> ureq::tls::TlsConfig {
    use ureq::tls::{Certificate, RootCerts, TlsConfig, TlsProvider};
    let root_certs = if roots.extra.is_empty() && !roots.platform {
        RootCerts::WebPki
    } else {
        let platform = if roots.platform {
            net::Roots::platform_certs()
        } else {
            Vec::new()
        };
        webpki_root_certs::TLS_SERVER_ROOT_CERTS
            .iter()
            .chain(&platform)
            .chain(&roots.extra)
            .map(|der| Certificate::from_der(der).to_owned())
            .collect::<Vec<_>>()
            .into()
    };
    TlsConfig::builder()
        .provider(TlsProvider::Rustls)
        .root_certs(root_certs)
        .build()
}

/// An agent with `config`'s limits, `tls` and `proxy` (ureq's own reading of the environment
/// is always replaced: the proxy rule is ssoflow's, the same in every std driver).
fn agent_with(
    config: &Config,
    tls: ureq::tls::TlsConfig,
    proxy: Option<ureq::Proxy>,
) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_connect(Some(config.connect_timeout))
        .timeout_global(Some(config.timeout))
        .tls_config(tls)
        .proxy(proxy)
        .build()
        .new_agent()
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Default for Driver {
    fn default() -> Self {
        Driver::new(Config::default())
    }
}

impl Driver {
    /// A driver with `config`: HTTP statuses are answers (not errors), redirects are never
    /// followed, and the timeouts of `config` apply. Trusts Mozilla's roots; the proxy comes
    /// from the environment (an unusable proxy URL there is ignored: use [`Driver::builder`] to
    /// be told).
    pub fn new(config: Config) -> Self {
        let proxy = net::ProxyChoice::Environment
            .resolve()
            .ok()
            .flatten()
            .and_then(|route| Some((ureq::Proxy::new(&route.url).ok()?, route)));
        Driver::assemble(config, &net::Roots::default(), proxy)
    }

    fn assemble(
        config: Config,
        roots: &net::Roots,
        proxy: Option<(ureq::Proxy, net::ProxyRoute)>,
    ) -> Driver {
        let tls = tls_config(roots);
        Driver {
            agent: agent_with(&config, tls.clone(), None),
            proxied: proxy.map(|(proxy, route)| (agent_with(&config, tls, Some(proxy)), route)),
            config,
            origin: std::time::Instant::now(),
        }
    }

    /// A builder: extra root certificates, the platform's store, an explicit proxy.
    pub fn builder() -> DriverBuilder {
        DriverBuilder::default()
    }

    /// The agent a request to `url` goes through (the proxied one when the proxy applies).
    fn agent_for(&self, url: &str) -> &ureq::Agent {
        match &self.proxied {
            Some((agent, route)) if route.applies(url) => agent,
            _ => &self.agent,
        }
    }

    /// The settings in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The underlying agent (the direct one), for calls outside ssoflow with the same settings.
    pub fn agent(&self) -> &ureq::Agent {
        &self.agent
    }

    /// The driver's monotonic clock as the core's [`Instant`] (milliseconds since the driver was
    /// made). Sessions and flows run by this driver use it.
    pub fn now(&self) -> Instant {
        let ms = u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX);
        Instant::from_millis(ms)
    }

    /// Run `flow` to completion: send every request it asks for and feed it every answer.
    pub fn run<F: Flow>(&self, mut flow: F) -> Result<F::Output, Error> {
        self.run_mut(&mut flow)
    }

    /// [`run`](Self::run), keeping the flow: some flows have more to give after they are done
    /// (e.g. the M2M token a PAR Ordering sign-in fetched, to cache).
    pub fn run_mut<F: Flow>(&self, flow: &mut F) -> Result<F::Output, Error> {
        let span = tracing::debug_span!("run", flow = std::any::type_name::<F>());
        let _entered = span.enter();
        self.drive(&mut NeverWaits(flow))
    }

    /// Run a flow that waits between its requests (device-flow polling, a revocation retrying a
    /// 503) to its output, sleeping this thread until each [`Paced::Wait`] ends.
    ///
    /// [`Paced::Wait`]: ssoflow_core::Paced::Wait
    pub fn run_paced<F: PacedFlow>(&self, mut flow: F) -> Result<F::Output, Error> {
        let span = tracing::debug_span!("run", flow = std::any::type_name::<F>());
        let _entered = span.enter();
        self.drive(&mut flow)
    }

    /// The one drive loop: poll → (sleep | send → handle) → … → done.
    fn drive<F: PacedFlow>(&self, flow: &mut F) -> Result<F::Output, Error> {
        let mut buf = net::RequestBuf::new(self.config.request_buffer);
        let mut limit = usize::MAX; // grown once per request at most (`Error::room_needed`)
        let mut out = None; // the output's slot: the answer is read straight into it
        loop {
            let room = buf.len();
            let needed = match flow.poll(self.now(), buf.bytes()) {
                Ok(Paced::Send(request)) => {
                    let response = self.send(&request)?;
                    response
                        .with_core(|r| flow.handle(self.now(), r, &mut out))
                        .map_err(|e| Error::from_answer(e, &response))?;
                    limit = usize::MAX;
                    continue;
                }
                Ok(Paced::Wait { until }) => {
                    let ms = until.millis_since(self.now());
                    tracing::debug!(ms, "waiting before the next request");
                    std::thread::sleep(Duration::from_millis(ms));
                    continue;
                }
                Ok(Paced::Done) => return Ok(ssoflow_core::take_output(&mut out)?),
                Err(e) => e.room_needed(room, limit)?,
            };
            buf.grow(needed);
            limit = 0;
        }
    }

    /// Send one request and read the whole answer (any status: a 3xx is returned, not followed).
    ///
    /// Refuses `http://` to a non-loopback host before connecting ([`ssoflow_core::Error::Insecure`]).
    /// A body over [`Config::max_response_bytes`] is [`Error::TooLarge`]; bodies delimited by
    /// `Content-Length`, chunked encoding or the connection's close are all read. A `GET` with a
    /// body (Punchh's `GET /api/auth/users`) sends the body.
    pub fn send(&self, request: &Request<'_>) -> Result<OwnedResponse, Error> {
        // (A URL this thread has just checked and parsed is not checked again.)
        if !known_good(request.url) {
            ssoflow_core::http::check_url(request.url)?;
        }
        // The clock is read only when the event below is on.
        let started = tracing::enabled!(tracing::Level::DEBUG).then(std::time::Instant::now);
        let result = self.exchange(request);
        let Some(started) = started else {
            return result;
        };
        let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let method = request.method.as_str();
        // Field expressions are only evaluated when the event is enabled: no cost otherwise.
        match &result {
            Ok(r) => tracing::debug!(
                method,
                url = %redact_url(request.url),
                status = r.status,
                ms,
                headers = %redact_headers(request.headers()),
                "exchange"
            ),
            Err(e) => tracing::debug!(
                method,
                url = %redact_url(request.url),
                error = e.kind(),
                ms,
                headers = %redact_headers(request.headers()),
                "exchange failed"
            ),
        }
        result
    }

    /// One request and its whole answer. The request is handed to ureq as an `http::Request`
    /// built in place: the URI is this thread's last one when the URL is the same (a driver
    /// sends to a few endpoints over and over; a parsed URI is cloned by reference counts),
    /// the header names and constant values the core writes are the `http` crate's constants,
    /// and the body is lent, not copied. The answer's headers are moved out of ureq's
    /// response, not copied.
    fn exchange(&self, request: &Request<'_>) -> Result<OwnedResponse, Error> {
        use ureq::http;
        let invalid = |what| Error::Core(ssoflow_core::Error::InvalidInput { what });
        let mut headers = http::HeaderMap::with_capacity(request.headers().len());
        for h in request.headers() {
            let mut value = match net::constant_value(h.value) {
                Some(value) => value,
                None => http::HeaderValue::from_bytes(h.value).map_err(|_| invalid("header"))?,
            };
            let (name, secret) = net::header_name(h.name)?;
            if secret {
                value.set_sensitive(true);
            }
            headers.append(name, value);
        }
        let uri = parsed_uri(request.url).ok_or_else(|| invalid("url"))?;
        let method = match request.method {
            Method::Get => http::Method::GET,
            Method::Post => http::Method::POST,
        };
        let agent = self.agent_for(request.url);
        let sent = if request.body.is_empty() && request.method == Method::Get {
            // No body at all (no `Content-Length: 0` on a plain GET).
            agent.run(assemble(method, uri, headers, ()))
        } else {
            // ureq sends the body of any method given one through the http crate's API.
            agent.run(assemble(method, uri, headers, request.body))
        };
        let mut response = sent.map_err(|e| Error::from_ureq(e, self.config.max_response_bytes))?;
        let status = response.status().as_u16();
        let headers = std::mem::take(response.headers_mut());
        let limit = self.config.max_response_bytes;
        let body = response.body_mut();
        if body
            .content_length()
            .is_some_and(|n| n > u64::try_from(limit).unwrap_or(u64::MAX))
        {
            return Err(Error::TooLarge { limit });
        }
        let body = body
            .with_config()
            .limit(u64::try_from(limit).unwrap_or(u64::MAX))
            .read_to_vec()
            .map_err(|e| Error::from_ureq(e, limit))?;
        Ok(OwnedResponse {
            status,
            headers,
            body,
        })
    }
}

/// An `http::Request` from its parts.
fn assemble<B>(
    method: ureq::http::Method,
    uri: ureq::http::Uri,
    headers: ureq::http::HeaderMap,
    body: B,
) -> ureq::http::Request<B> {
    let mut request = ureq::http::Request::new(body);
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.headers_mut() = headers;
    request
}

std::thread_local! {
    /// The URL this thread last checked and parsed, with its URI. Only a URL that passed
    /// `check_url` is kept.
    static LAST_URL: std::cell::RefCell<Option<(String, ureq::http::Uri)>> =
        const { std::cell::RefCell::new(None) };
}

/// Whether `url` is, byte for byte, the URL this thread last checked and parsed: it passed
/// [`check_url`](ssoflow_core::http::check_url) (a pure function of the text), so it need not
/// be checked again.
fn known_good(url: &str) -> bool {
    LAST_URL
        .try_with(|last| last.borrow().as_ref().is_some_and(|(u, _)| u == url))
        .unwrap_or(false)
}

/// `url` parsed as a URI (`None` if it is not one), reusing this thread's last parse when it
/// is the same URL. Called after `check_url` passed, so what it keeps passed it.
fn parsed_uri(url: &str) -> Option<ureq::http::Uri> {
    let parse = |url: &str| ureq::http::Uri::try_from(url).ok();
    LAST_URL
        .try_with(|last| {
            let mut last = last.borrow_mut();
            if let Some((_, uri)) = last.as_ref().filter(|(u, _)| u == url) {
                return Some(uri.clone());
            }
            let uri = parse(url)?;
            match last.as_mut() {
                Some((kept, kept_uri)) => {
                    kept.clear();
                    kept.push_str(url);
                    *kept_uri = uri.clone();
                }
                None => *last = Some((url.to_owned(), uri.clone())),
            }
            Some(uri)
        })
        .unwrap_or_else(|_| parse(url))
}

#[cfg(test)]
mod exchange_tests {
    use super::*;

    #[test]
    fn a_url_is_checked_before_it_is_kept_and_kept_per_thread() {
        let driver = Driver::new(Config::default());
        let mut buf = [0u8; 512];
        let insecure = ssoflow_core::RequestBuilder::new(
            &mut buf,
            Method::Get,
            "http://auth.example",
            "/token",
        )
        .finish()
        .unwrap();
        assert!(matches!(
            driver.send(&insecure),
            Err(Error::Core(ssoflow_core::Error::Insecure))
        ));
        assert!(!known_good(insecure.url), "refused before anything is kept");
        // A parse keeps the URL (`send` checks before `exchange` parses).
        let good = "http://127.0.0.1:9/token";
        assert_eq!(parsed_uri(good).unwrap(), good);
        assert!(known_good(good) && !known_good("http://127.0.0.1:9/token2"));
        assert_eq!(
            parsed_uri("https://other.example/t").unwrap(),
            "https://other.example/t"
        );
        assert!(!known_good(good), "one URL kept: the last");
        assert!(parsed_uri("not a url").is_none());
        std::thread::spawn(|| assert!(!known_good("https://other.example/t")))
            .join()
            .unwrap();
    }
}
