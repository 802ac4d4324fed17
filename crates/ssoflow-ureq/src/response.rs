//! An answer read off the wire, owned, and its borrowed view for the core.

use std::time::Duration;

use ssoflow_core::{Header, Response};

/// A complete HTTP answer: status, headers (names lowercase, as ureq gives them) and body.
///
/// `Debug` prints credential header values (`Set-Cookie`, …) as `***` and only a redacted
/// excerpt of the body.
#[derive(Clone, PartialEq, Eq)]
pub struct OwnedResponse {
    /// Status code.
    pub status: u16,
    /// Every header, in the order received.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The whole body.
    pub body: Vec<u8>,
}

impl OwnedResponse {
    /// The headers as the core's [`Header`] views (borrowing `self`).
    pub fn core_headers(&self) -> Vec<Header<'_>> {
        self.headers
            .iter()
            .map(|(name, value)| Header {
                name: name.as_str(),
                value: value.as_slice(),
            })
            .collect()
    }

    /// Call `f` with the core's [`Response`] view of this answer (headers included).
    ///
    /// ```
    /// # let resp = ssoflow_ureq::OwnedResponse { status: 200, headers: vec![], body: b"{}".to_vec() };
    /// let status = resp.with_core(|r| r.status);
    /// # assert_eq!(status, 200);
    /// ```
    pub fn with_core<R>(&self, f: impl FnOnce(Response<'_>) -> R) -> R {
        let headers = self.core_headers();
        f(Response::new(self.status, &self.body).with_headers(&headers))
    }

    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
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
        let r = OwnedResponse {
            status: 503,
            headers: vec![
                ("retry-after".into(), b" 7 ".to_vec()),
                ("set-cookie".into(), b"s=SECRET".to_vec()),
            ],
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
}
