//! Moving bytes: the [`Transport`] trait and its reqwest implementation.

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

impl ReqwestTransport {
    /// A client with these limits.
    pub fn new(config: Config) -> Result<Self, Error> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .user_agent(config.user_agent.clone())
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(90))
            .build()
            .map_err(|e| from_reqwest(&e))?;
        Ok(ReqwestTransport {
            client,
            config,
            deadline_in_client: true,
        })
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

    async fn exchange(&self, request: OwnedRequest) -> Result<OwnedResponse, Error> {
        ssoflow_core::http::check_url(&request.url)?;
        let OwnedRequest {
            method,
            url,
            headers,
            body,
        } = request;
        let mut builder = self.client.request(method, url.as_str()).headers(headers);
        if !body.is_empty() {
            builder = builder.body(body);
        }
        let mut response = builder.send().await.map_err(|e| from_reqwest(&e))?;
        let status = response.status().as_u16();
        let headers = std::mem::take(response.headers_mut());
        let body = read_capped(response, self.config.max_response_bytes).await?;
        Ok(OwnedResponse {
            status,
            headers,
            body,
        })
    }
}

/// Read the whole body, refusing (not truncating) one longer than `limit`.
async fn read_capped(mut response: reqwest::Response, limit: usize) -> Result<Bytes, Error> {
    let declared = response.content_length();
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(Error::TooLarge { limit });
    }
    let mut first = match response.chunk().await.map_err(|e| from_reqwest(&e))? {
        None => return Ok(Bytes::new()),
        Some(chunk) => chunk,
    };
    if first.len() > limit {
        return Err(Error::TooLarge { limit });
    }
    // Most answers arrive in one chunk: keep it without copying.
    let Some(second) = response.chunk().await.map_err(|e| from_reqwest(&e))? else {
        return Ok(first);
    };
    let hint = declared.map_or(first.len() + second.len(), |n| n as usize);
    let mut body = BytesMut::with_capacity(hint.min(limit));
    body.extend_from_slice(&first);
    first = second;
    loop {
        if body.len() + first.len() > limit {
            return Err(Error::TooLarge { limit });
        }
        body.extend_from_slice(&first);
        match response.chunk().await.map_err(|e| from_reqwest(&e))? {
            None => return Ok(body.freeze()),
            Some(chunk) => first = chunk,
        }
    }
}

impl Transport for ReqwestTransport {
    fn send(&self, request: OwnedRequest) -> BoxFuture<'_, Result<OwnedResponse, Error>> {
        Box::pin(async move {
            if self.deadline_in_client {
                // The client's total timeout runs from connecting to the last body byte.
                self.exchange(request).await
            } else {
                tokio::time::timeout(self.config.timeout, self.exchange(request))
                    .await
                    .unwrap_or(Err(Error::Timeout))
            }
        })
    }
}
