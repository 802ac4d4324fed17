//! The caller's bearer token: read from `Authorization`, redacted in `Debug`, wiped on drop.

use core::fmt;

use axum::http::{HeaderMap, header};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// The bearer token of a `/customer-info` call (RFC 6750): per seed 000's prerequisites, the
/// customer's identity-provider access token, which PAR Ordering shares when it calls.
///
/// `Debug` prints `BearerToken(***)`, there is no `Display`, and the bytes are zeroized when it
/// is dropped. Read it with [`expose`](Self::expose) only to verify it.
#[derive(Clone)]
pub struct BearerToken(Zeroizing<String>);

impl BearerToken {
    /// Wrap a token (for verifiers' own tests; the endpoint builds it from `Authorization`).
    pub fn new(token: impl Into<String>) -> Self {
        BearerToken(Zeroizing::new(token.into()))
    }

    /// The token itself. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the token equals `other`, compared in constant time (for equal lengths).
    pub fn ct_eq(&self, other: &str) -> bool {
        self.0.as_bytes().ct_eq(other.as_bytes()).into()
    }

    /// The token of `Authorization: Bearer <token>`; `None` when there is no such header, more
    /// than one, another scheme, or a value that is not an RFC 6750 `b64token`.
    pub(crate) fn from_headers(headers: &HeaderMap) -> Option<BearerToken> {
        let mut values = headers.get_all(header::AUTHORIZATION).iter();
        let value = values.next()?;
        if values.next().is_some() {
            return None;
        }
        let (scheme, token) = value.to_str().ok()?.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        let token = token.trim_start_matches(' ');
        let body = token.trim_end_matches('=');
        let b64 = |b: u8| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b);
        (!body.is_empty() && body.bytes().all(b64)).then(|| BearerToken::new(token))
    }
}

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BearerToken(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn parse(values: &[&'static str]) -> Option<String> {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append(header::AUTHORIZATION, HeaderValue::from_static(v));
        }
        BearerToken::from_headers(&headers).map(|t| t.expose().to_owned())
    }

    #[test]
    fn reads_only_one_well_formed_bearer() {
        assert_eq!(
            parse(&["Bearer abc.DEF-_~+/=="]).as_deref(),
            Some("abc.DEF-_~+/==")
        );
        assert_eq!(parse(&["bearer  tok"]).as_deref(), Some("tok"));
        for bad in [
            &[][..],
            &["Basic dXNlcjpwdw=="],
            &["Bearer"],
            &["Bearer "],
            &["Bearer a b"],
            &["Bearer a=b"],
            &["Bearer ==="],
            &["Bearertok"],
            &["Bearer a", "Bearer a"],
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn debug_is_redacted_and_compare_is_exact() {
        let t = BearerToken::new("s3cr3t-token");
        assert_eq!(format!("{t:?}"), "BearerToken(***)");
        assert!(t.ct_eq("s3cr3t-token"));
        assert!(!t.ct_eq("s3cr3t-tokem"));
        assert!(!t.ct_eq("s3cr3t"));
    }
}
