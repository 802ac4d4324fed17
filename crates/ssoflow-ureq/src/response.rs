//! An answer read off the wire, owned, and its borrowed view for the core.

use std::time::Duration;

use ssoflow_core::{Header, Response};

/// One header of a `HeaderMap` as the core's view.
fn core_header<'a>(
    (name, value): (&'a ureq::http::HeaderName, &'a ureq::http::HeaderValue),
) -> Header<'a> {
    Header {
        name: name.as_str(),
        value: value.as_bytes(),
    }
}

/// A complete HTTP answer: status, headers (names lowercase, as ureq gives them) and body.
///
/// `Debug` prints credential header values (`Set-Cookie`, …) as `***` and only a redacted
/// excerpt of the body.
#[derive(Clone, PartialEq, Eq)]
pub struct OwnedResponse {
    /// Status code.
    pub status: u16,
    /// Every header, moved out of ureq's answer (not copied); the values of one name in the
    /// order received.
    pub headers: ureq::http::HeaderMap,
    /// The whole body.
    pub body: Vec<u8>,
}

/// Most headers [`OwnedResponse::with_core`] lends from the stack; an answer with more lends
/// them all from the heap.
const ON_STACK: usize = 32;

impl OwnedResponse {
    /// The headers as the core's [`Header`] views (borrowing `self`).
    pub fn core_headers(&self) -> Vec<Header<'_>> {
        self.headers.iter().map(core_header).collect()
    }

    /// Call `f` with the core's [`Response`] view of this answer (headers included).
    ///
    /// ```
    /// # let resp = ssoflow_ureq::OwnedResponse { status: 200, headers: Default::default(), body: b"{}".to_vec() };
    /// let status = resp.with_core(|r| r.status);
    /// # assert_eq!(status, 200);
    /// ```
    pub fn with_core<R>(&self, f: impl FnOnce(Response<'_>) -> R) -> R {
        if self.headers.len() > ON_STACK {
            let headers = self.core_headers();
            return f(Response::new(self.status, &self.body).with_headers(&headers));
        }
        let mut headers = heapless::Vec::<Header<'_>, ON_STACK>::new();
        for h in &self.headers {
            // (Room for all: the count was checked above.)
            let _ = headers.push(core_header(h));
        }
        f(Response::new(self.status, &self.body).with_headers(&headers))
    }

    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .get(name)
            .map(ureq::http::HeaderValue::as_bytes)
    }

    /// The first header called `name` as text, when it is valid UTF-8.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.header(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// `Retry-After` as a duration, when the server gave a number of seconds.
    pub fn retry_after(&self) -> Option<Duration> {
        ssoflow_core::http::parse_retry_after(self.header("retry-after")?).map(Duration::from_secs)
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

impl std::fmt::Debug for OwnedResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers = self.core_headers();
        f.debug_struct("OwnedResponse")
            .field("status", &self.status)
            .field("headers", &crate::redact_headers(&headers))
            .field("body", &ssoflow_core::Excerpt::of(&self.body))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accessors() {
        let mut headers = ureq::http::HeaderMap::new();
        headers.append("retry-after", ureq::http::HeaderValue::from_static(" 7 "));
        headers.append(
            "set-cookie",
            ureq::http::HeaderValue::from_static("s=SECRET"),
        );
        let r = OwnedResponse {
            status: 503,
            headers,
            body: br#"{"access_token":"SECRET"}"#.to_vec(),
        };
        assert_eq!(r.retry_after(), Some(Duration::from_secs(7)));
        assert_eq!(r.header("Retry-After"), Some(&b" 7 "[..]));
        assert!(!r.is_success());
        assert_eq!(
            r.with_core(|c| c.header("SET-COOKIE").map(<[u8]>::len)),
            Some(8)
        );
        let dbg = format!("{r:?}");
        assert!(!dbg.contains("SECRET"), "{dbg}");
    }

    #[test]
    fn every_header_is_lent_to_the_core_however_many() {
        for n in [0, 1, ON_STACK, ON_STACK + 1, 3 * ON_STACK] {
            let mut headers = ureq::http::HeaderMap::new();
            for i in 0..n {
                let name: ureq::http::HeaderName = format!("x-h{i}").parse().unwrap();
                headers.append(name, ureq::http::HeaderValue::from(i));
            }
            let r = OwnedResponse {
                status: 200,
                headers,
                body: Vec::new(),
            };
            r.with_core(|c| {
                assert_eq!(c.headers.len(), n);
                if n > 0 {
                    let last = format!("{}", n - 1);
                    assert_eq!(c.header(&format!("X-H{}", n - 1)), Some(last.as_bytes()));
                }
            });
        }
    }
}
