//! Owned requests and responses: what crosses an `.await`.
//!
//! A core [`Request`] borrows the buffer given to `poll`, so it cannot be held across an
//! `.await`; the driver copies it into an [`OwnedRequest`] first. An [`OwnedResponse`] lends
//! itself back to a flow as a core [`Response`] with [`OwnedResponse::with_core`].

use std::fmt;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::header::{HeaderMap, HeaderValue};
use ssoflow_core::{Excerpt, Header, Request, Response};

use crate::Error;

/// Header names whose values are credentials: the core's one list.
pub(crate) use ssoflow_core::http::is_secret_header;

/// Prints header names with values, credential values as `***`.
struct Redacted<'a>(&'a HeaderMap);

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        for (name, value) in self.0 {
            if is_secret_header(name.as_str()) {
                list.entry(&format_args!("{name}: ***"));
            } else {
                let v = value.to_str().unwrap_or("<binary>");
                list.entry(&format_args!("{name}: {v}"));
            }
        }
        list.finish()
    }
}

/// The URL without its query or fragment, for logs (queries can carry codes or tokens).
pub(crate) fn loggable_url(url: &str) -> &str {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    url.get(..end).unwrap_or(url)
}

/// An HTTP request that owns its bytes.
///
/// `Debug` redacts credential headers and prints only the body's length.
#[derive(Clone)]
pub struct OwnedRequest {
    /// Method.
    pub method: http::Method,
    /// Absolute URL (`https://…`, or `http://` to a loopback host; checked before sending).
    pub url: String,
    /// Headers to send.
    pub headers: HeaderMap,
    /// Body (empty for none).
    pub body: Bytes,
}

impl OwnedRequest {
    /// A request with no headers and no body.
    pub fn new(method: http::Method, url: impl Into<String>) -> Self {
        OwnedRequest {
            method,
            url: url.into(),
            headers: HeaderMap::new(),
            body: Bytes::new(),
        }
    }

    /// Copy a core request (its headers validated as HTTP header names and values).
    ///
    /// The names and constant values the core writes (`Accept`, `Content-Type`, …) are taken
    /// from the `http` crate's constants, without parsing or copying; the other values and the
    /// body are copied into one allocation that they share (reqwest clones each request for
    /// its retry policy, and clones of shared bytes are reference counts, not copies).
    /// Credential values are marked sensitive (never indexed by HTTP/2 header compression,
    /// hidden by `Debug`).
    pub fn from_core(request: &Request<'_>) -> Result<Self, Error> {
        let method = match request.method {
            ssoflow_core::Method::Get => http::Method::GET,
            ssoflow_core::Method::Post => http::Method::POST,
        };
        let core_headers = request.headers();
        let room = core_headers.iter().map(|h| h.value.len()).sum::<usize>() + request.body.len();
        let mut copied = BytesMut::with_capacity(room);
        // Room for the headers reqwest adds (`User-Agent`) without growing the map.
        let mut headers = HeaderMap::with_capacity(core_headers.len() + 2);
        for h in core_headers {
            let (name, secret) = ssoflow_net::header_name(h.name)?;
            let mut value = match ssoflow_net::constant_value(h.value) {
                Some(value) => value,
                None => {
                    copied.extend_from_slice(h.value);
                    HeaderValue::from_maybe_shared(copied.split().freeze()).map_err(|_| {
                        ssoflow_core::Error::InvalidInput {
                            what: "header value",
                        }
                    })?
                }
            };
            if secret {
                value.set_sensitive(true);
            }
            headers.append(name, value);
        }
        copied.extend_from_slice(request.body);
        Ok(OwnedRequest {
            method,
            url: request.url.to_owned(),
            headers,
            body: copied.freeze(),
        })
    }

    /// Write a request with a core builder into a scratch buffer (grown once if the builder
    /// says it is too small) and copy it out, e.g.
    /// `OwnedRequest::write_with(|buf| config.protected_request(buf, Method::Get, "/api/customers/me", token, &mut ids))`.
    pub fn write_with(
        mut write: impl for<'b> FnMut(&'b mut [u8]) -> Result<Request<'b>, ssoflow_core::Error>,
    ) -> Result<Self, Error> {
        let mut scratch = crate::net::RequestBuf::new(crate::REQUEST_BUFFER);
        let room = scratch.len();
        let needed = match write(scratch.bytes()) {
            Ok(request) => return OwnedRequest::from_core(&request),
            Err(e) => e.room_needed(room, usize::MAX)?,
        };
        scratch.grow(needed);
        OwnedRequest::from_core(&write(scratch.bytes())?)
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers.get(name).map(HeaderValue::as_bytes)
    }
}

impl TryFrom<&Request<'_>> for OwnedRequest {
    type Error = Error;

    fn try_from(request: &Request<'_>) -> Result<Self, Error> {
        OwnedRequest::from_core(request)
    }
}

impl fmt::Debug for OwnedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedRequest")
            .field("method", &self.method)
            .field("url", &loggable_url(&self.url))
            .field("headers", &Redacted(&self.headers))
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// An HTTP response that owns its (size-capped) body.
///
/// `Debug` redacts credential headers and prints a redacted excerpt of the body.
#[derive(Clone)]
pub struct OwnedResponse {
    /// Status code.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// The complete body.
    pub body: Bytes,
}

impl OwnedResponse {
    /// A response with no headers.
    pub fn new(status: u16, body: impl Into<Bytes>) -> Self {
        OwnedResponse {
            status,
            headers: HeaderMap::new(),
            body: body.into(),
        }
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers.get(name).map(HeaderValue::as_bytes)
    }

    /// `true` for 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// `Retry-After`, when given as a number of seconds (the HTTP-date form is ignored).
    pub fn retry_after(&self) -> Option<Duration> {
        ssoflow_core::http::parse_retry_after(self.header("retry-after")?).map(Duration::from_secs)
    }

    /// Lend this response to `f` as a core [`Response`] (e.g. to feed it to `Flow::handle`),
    /// with its first [`LENT_HEADERS`] headers.
    pub fn with_core<R>(&self, f: impl FnOnce(Response<'_>) -> R) -> R {
        // Flows read few headers (`Retry-After`, …): the first `LENT_HEADERS` are lent, on the
        // stack (only the slots used are written).
        let mut lent = heapless::Vec::<Header<'_>, LENT_HEADERS>::new();
        for (name, value) in &self.headers {
            let header = Header {
                name: name.as_str(),
                value: value.as_bytes(),
            };
            if lent.push(header).is_err() {
                break;
            }
        }
        f(Response::new(self.status, &self.body).with_headers(&lent))
    }
}

/// Most response headers lent to a flow by [`OwnedResponse::with_core`].
pub const LENT_HEADERS: usize = 32;

impl fmt::Debug for OwnedResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedResponse")
            .field("status", &self.status)
            .field("headers", &Redacted(&self.headers))
            .field("body", &Excerpt::of(&self.body))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ssoflow_core::{Method, RequestBuilder};

    #[test]
    fn write_with_grows_the_scratch_buffer_once() {
        let long = "x".repeat(2 * crate::REQUEST_BUFFER);
        let mut calls = 0;
        let request = OwnedRequest::write_with(|buf| {
            calls += 1;
            let mut rb = RequestBuilder::new(buf, Method::Post, "https://auth.example", "/token");
            rb.form_body(&[("subject_token", &long)]);
            rb.finish()
        })
        .unwrap();
        assert_eq!(calls, 2);
        assert!(
            request.body.len() > long.len(),
            "whole body: {}",
            request.body.len()
        );
    }

    #[test]
    fn copies_core_requests_and_redacts_debug() {
        let mut buf = [0u8; 512];
        let mut rb =
            RequestBuilder::new(&mut buf, Method::Post, "https://a.example", "/t?code=C0DE");
        rb.bearer("tok-SECRET");
        rb.header("X-Request-ID", "abc");
        rb.json_body(&[("password", "pw-SECRET")]);
        let core = rb.finish().unwrap();
        let owned = OwnedRequest::from_core(&core).unwrap();
        assert_eq!(owned.method, http::Method::POST);
        assert_eq!(owned.url, "https://a.example/t?code=C0DE");
        assert_eq!(
            owned.header("authorization"),
            Some(&b"Bearer tok-SECRET"[..])
        );
        assert_eq!(owned.header("x-request-id"), Some(&b"abc"[..]));
        assert_eq!(owned.header("accept"), Some(&b"application/json"[..]));
        assert_eq!(&owned.body[..], core.body);
        // Credentials are marked sensitive (HTTP/2 never indexes them), others are not.
        assert!(owned.headers["authorization"].is_sensitive());
        assert!(!owned.headers["x-request-id"].is_sensitive());
        assert!(!owned.headers["content-type"].is_sensitive());
        let s = format!("{owned:?}");
        assert!(!s.contains("SECRET") && !s.contains("C0DE"), "{s}");
        assert!(s.contains("authorization: ***"), "{s}");
    }

    #[test]
    fn every_header_is_copied_whatever_its_spelling() {
        let mut buf = [0u8; 512];
        let mut rb = RequestBuilder::new(&mut buf, Method::Post, "https://a.example", "/t");
        rb.header("application", "app-KEY");
        rb.header("X-Custom", "application/json");
        rb.header("content-type", "text/plain; charset=utf-8");
        rb.form_body(&[("grant_type", "client_credentials")]);
        let core = rb.finish().unwrap();
        let owned = OwnedRequest::from_core(&core).unwrap();
        let names: Vec<_> = owned.headers.keys().map(|n| n.as_str()).collect();
        assert_eq!(names, ["accept", "application", "x-custom", "content-type"]);
        assert!(
            owned.headers["application"].is_sensitive(),
            "a secret name in any spelling"
        );
        assert_eq!(owned.header("x-custom"), Some(&b"application/json"[..]));
        let types: Vec<_> = owned.headers.get_all("content-type").iter().collect();
        assert_eq!(types.len(), 2, "{types:?}");
        assert_eq!(types[0], "text/plain; charset=utf-8");
        assert_eq!(types[1], "application/x-www-form-urlencoded");
        assert_eq!(&owned.body[..], b"grant_type=client_credentials");
        // An invalid value is refused, as before.
        let mut buf = [0u8; 256];
        let mut rb = RequestBuilder::new(&mut buf, Method::Get, "https://a.example", "/t");
        rb.header("X-Bad", "line\nbreak");
        let core = rb.finish().unwrap();
        assert!(OwnedRequest::from_core(&core).is_err());
    }

    #[test]
    fn response_helpers() {
        let mut r = OwnedResponse::new(503, &br#"{"refresh_token":"SECRET","e":1}"#[..]);
        r.headers
            .insert("retry-after", HeaderValue::from_static(" 7 "));
        r.headers
            .insert("set-cookie", HeaderValue::from_static("sid=SECRET"));
        assert_eq!(r.retry_after(), Some(Duration::from_secs(7)));
        assert!(!r.is_success());
        let s = format!("{r:?}");
        assert!(!s.contains("SECRET"), "{s}");
        r.with_core(|c| {
            assert_eq!(c.status, 503);
            assert_eq!(c.retry_after_secs(), Some(7));
            assert_eq!(c.body, &r.body[..]);
        });
        r.headers.insert(
            "retry-after",
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(r.retry_after(), None);
    }
}
