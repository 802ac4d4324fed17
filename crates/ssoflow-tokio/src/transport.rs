//! Moving bytes: the [`Transport`] trait and its reqwest implementation.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::{Bytes, BytesMut};

use crate::error::from_reqwest;
use crate::{Error, OwnedRequest, OwnedResponse};

/// A boxed, `Send` future (what [`Transport::send`] returns, so the trait is object-safe).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Sends one request and reads its whole answer. Implement it to use another HTTP client.
///
/// Implementations must not follow redirects, must cap the body (returning
/// [`Error::TooLarge`], never a truncated body) and should enforce a deadline. The
/// [`Driver`](crate::Driver) checks the URL (`https://`, or `http://` to loopback) before
/// calling `send`.
pub trait Transport: Send + Sync + 'static {
    /// Send `request`; answer with the complete response.
    fn send(&self, request: OwnedRequest) -> BoxFuture<'_, Result<OwnedResponse, Error>>;
}

/// Limits for the default transport. The defaults are those every ssoflow driver shares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Time allowed to establish a connection (default 5 s).
    pub connect_timeout: Duration,
    /// Overall deadline for one request, from connecting to the last body byte (default 10 s).
    /// A server dribbling one byte a second cannot hold a caller longer than this.
    pub timeout: Duration,
    /// Largest response body accepted (default 64 KiB); larger is [`Error::TooLarge`].
    pub max_response_bytes: usize,
    /// `User-Agent` sent on every request.
    pub user_agent: String,
}

/// Default [`Config::max_response_bytes`].
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 64 * 1024;

impl Default for Config {
    fn default() -> Self {
        Config {
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(10),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            user_agent: concat!("ssoflow-tokio/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

/// The default transport: a pooled reqwest client (rustls, HTTP/1.1 and HTTP/2 by ALPN),
/// redirects disabled, connect timeout and overall deadline, response size cap.
///
/// Cheap to clone: clones share the connection pool.
#[derive(Clone, Debug)]
pub struct ReqwestTransport {
    client: reqwest::Client,
    config: Config,
    /// The client was built here, with `config.timeout` as its total (body included) timeout.
    deadline_in_client: bool,
}

/// Builds a [`ReqwestTransport`] with TLS trust and proxy options (see
/// [`ReqwestTransport::builder`]); the same options, with the same meaning, as
/// `ssoflow_ureq::DriverBuilder`.
#[derive(Clone, Debug, Default)]
pub struct TransportBuilder {
    config: Config,
    roots: crate::net::Roots,
    proxy: crate::net::ProxyChoice,
}

impl TransportBuilder {
    /// The limits ([`Config::default`] otherwise).
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Also trust the root certificates in `pem` (one or more `CERTIFICATE` blocks), e.g. a
    /// company CA or the sandbox's. They are added to Mozilla's roots, which stay trusted.
    /// Nothing in the PEM, or an unreadable block, is `InvalidInput`. Verification is never
    /// switched off: there is no option for it.
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
    /// proxy (see [`ssoflow_core::proxy`]). reqwest's own reading of the environment is
    /// always replaced by this rule.
    pub fn proxy(mut self, url: impl Into<String>) -> Self {
        self.proxy = crate::net::ProxyChoice::Explicit(url.into());
        self
    }

    /// Use no proxy at all, whatever the environment says.
    pub fn no_proxy(mut self) -> Self {
        self.proxy = crate::net::ProxyChoice::Off;
        self
    }

    /// The transport. A proxy URL that is not `http://` is `InvalidInput`.
    pub fn build(self) -> Result<ReqwestTransport, Error> {
        let route = self
            .proxy
            .resolve()
            .map_err(|what| Error::Core(ssoflow_core::Error::InvalidInput { what }))?;
        self.build_routed(route)
    }

    /// The transport, with `route` as the proxy in force.
    pub(crate) fn build_routed(
        self,
        route: Option<crate::net::ProxyRoute>,
    ) -> Result<ReqwestTransport, Error> {
        let invalid = |what| Error::Core(ssoflow_core::Error::InvalidInput { what });
        let config = self.config;
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .user_agent(config.user_agent.clone())
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(90));
        let platform = if self.roots.platform {
            crate::net::Roots::platform_certs()
        } else {
            Vec::new()
        };
        for der in platform.iter().chain(&self.roots.extra) {
            let cert =
                reqwest::Certificate::from_der(der).map_err(|_| invalid("root certificate"))?;
            builder = builder.add_root_certificate(cert);
        }
        builder = match route {
            None => builder.no_proxy(),
            Some(route) => {
                let proxy_url =
                    reqwest::Url::parse(&route.url).map_err(|_| invalid("proxy url"))?;
                builder.proxy(reqwest::Proxy::custom(move |url| {
                    route.applies(url.as_str()).then(|| proxy_url.clone())
                }))
            }
        };
        let client = builder.build().map_err(|e| from_reqwest(&e))?;
        Ok(ReqwestTransport {
            client,
            config,
            deadline_in_client: true,
        })
    }
}

impl ReqwestTransport {
    /// A client with these limits, Mozilla's roots and the proxy from the environment.
    pub fn new(config: Config) -> Result<Self, Error> {
        Self::builder().config(config).build()
    }

    /// A builder: extra root certificates, the platform's store, an explicit proxy.
    pub fn builder() -> TransportBuilder {
        TransportBuilder::default()
    }

    /// Use your own reqwest client (its redirect policy and timeouts are yours to set; the
    /// overall deadline and the size cap of `config` still apply).
    pub fn with_client(client: reqwest::Client, config: Config) -> Self {
        ReqwestTransport {
            client,
            config,
            deadline_in_client: false,
        }
    }

    /// The limits in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Build the reqwest request and start it; the returned future only waits and reads.
    ///
    /// The building is done here, outside any `async` block, so that none of its locals live
    /// in the boxed future: `send` allocates that future on every request, and kept under
    /// 1 KiB it stays in the allocator's fast per-thread cache (built inside, it was 1.7 KiB).
    fn exchange(&self, request: OwnedRequest) -> BoxFuture<'_, Result<OwnedResponse, Error>> {
        let pending = match outgoing(request) {
            Ok(outgoing) => self.client.execute(outgoing),
            Err(e) => return Box::pin(std::future::ready(Err(e))),
        };
        let limit = self.config.max_response_bytes;
        Box::pin(async move {
            let mut response = pending.await.map_err(|e| from_reqwest(&e))?;
            let status = response.status().as_u16();
            let headers = std::mem::take(response.headers_mut());
            let body = read_capped(response, limit).await?;
            Ok(OwnedResponse {
                status,
                headers,
                body,
            })
        })
    }
}

/// The reqwest request for `request` (its URL checked first).
fn outgoing(request: OwnedRequest) -> Result<reqwest::Request, Error> {
    let mut outgoing = reqwest::Request::new(request.method, checked_url(&request.url)?);
    *outgoing.headers_mut() = request.headers;
    if !request.body.is_empty() {
        *outgoing.body_mut() = Some(request.body.into());
    }
    Ok(outgoing)
}

std::thread_local! {
    /// The URL this thread last checked and parsed, kept only when it is its own
    /// serialization (so a byte-for-byte match with it is a URL that passed the check).
    static LAST_URL: RefCell<Option<reqwest::Url>> = const { RefCell::new(None) };
}

/// Whether `url` is, byte for byte, the URL this thread last checked and parsed: it passed
/// [`check_url`](ssoflow_core::http::check_url) (a pure function of the text), so it need not
/// be checked again.
pub(crate) fn known_good(url: &str) -> bool {
    LAST_URL
        .try_with(|last| last.borrow().as_ref().is_some_and(|u| u.as_str() == url))
        .unwrap_or(false)
}

/// `url` checked (`https://`, or `http://` only to loopback) and parsed, reusing this thread's
/// last parse when it is the same URL: a driver sends to a handful of endpoints over and over,
/// and checking and parsing (IDNA processing included) cost more than the rest of building a
/// request. The URL stays unchecked for nothing: only what passed the check is kept.
fn checked_url(url: &str) -> Result<reqwest::Url, Error> {
    let check_and_parse = |url: &str| -> Result<reqwest::Url, Error> {
        ssoflow_core::http::check_url(url)?;
        Ok(reqwest::Url::parse(url)
            .map_err(|_| ssoflow_core::Error::InvalidInput { what: "url" })?)
    };
    LAST_URL
        .try_with(|last| {
            let mut last = last.borrow_mut();
            if let Some(hit) = last.as_ref().filter(|u| u.as_str() == url) {
                return Ok(hit.clone());
            }
            let parsed = check_and_parse(url)?;
            if parsed.as_str() == url {
                *last = Some(parsed.clone());
            }
            Ok(parsed)
        })
        .unwrap_or_else(|_| check_and_parse(url))
}

/// Read the whole body, refusing (not truncating) one longer than `limit`.
///
/// The body is read to its end even when `Content-Length` says it is complete: the connection
/// goes back to the pool only once hyper has seen the end, and a request that starts before
/// that would open a new connection.
async fn read_capped(mut response: reqwest::Response, limit: usize) -> Result<Bytes, Error> {
    let declared = response.content_length();
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(Error::TooLarge { limit });
    }
    let Some(first) = response.chunk().await.map_err(|e| from_reqwest(&e))? else {
        return Ok(Bytes::new());
    };
    if first.len() > limit {
        return Err(Error::TooLarge { limit });
    }
    // Most answers arrive in one chunk: keep it without copying.
    let Some(mut next) = response.chunk().await.map_err(|e| from_reqwest(&e))? else {
        return Ok(first);
    };
    let hint = declared.map_or(first.len() + next.len(), |n| n as usize);
    let mut body = BytesMut::with_capacity(hint.min(limit));
    body.extend_from_slice(&first);
    loop {
        if body.len() + next.len() > limit {
            return Err(Error::TooLarge { limit });
        }
        body.extend_from_slice(&next);
        match response.chunk().await.map_err(|e| from_reqwest(&e))? {
            None => return Ok(body.freeze()),
            Some(chunk) => next = chunk,
        }
    }
}

impl Transport for ReqwestTransport {
    fn send(&self, request: OwnedRequest) -> BoxFuture<'_, Result<OwnedResponse, Error>> {
        let exchange = self.exchange(request);
        if self.deadline_in_client {
            // The client's total timeout runs from connecting to the last body byte.
            return exchange;
        }
        let deadline = self.config.timeout;
        Box::pin(async move {
            tokio::time::timeout(deadline, exchange)
                .await
                .unwrap_or(Err(Error::Timeout))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checked_url_is_kept_per_thread_and_nothing_unchecked_is() {
        let good = "http://127.0.0.1:8080/oauth2/token";
        assert_eq!(checked_url(good).unwrap().as_str(), good);
        assert!(known_good(good));
        // Another URL is checked, not taken from the cache.
        assert!(matches!(
            checked_url("http://auth.example/token"),
            Err(Error::Core(ssoflow_core::Error::Insecure))
        ));
        assert!(!known_good("http://auth.example/token"));
        assert!(
            known_good(good),
            "a refused URL does not replace the kept one"
        );
        // A URL that is not its own serialization passes the check but is not kept (a match
        // with the kept one is always byte for byte).
        let loose = "HTTPS://Auth.Example/t";
        assert_eq!(
            checked_url(loose).unwrap().as_str(),
            "https://auth.example/t"
        );
        assert!(!known_good(loose) && !known_good("https://auth.example/t"));
        // Per thread.
        std::thread::spawn(move || assert!(!known_good(good)))
            .join()
            .unwrap();
    }
}
