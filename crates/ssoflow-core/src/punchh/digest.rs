//! The `x-pch-digest` request signature: lowercase hex of `HMAC(secret, uri + body)`.
//!
//! `uri` is the request's path and query after the base URL (`/api/auth/sso`), `body` the exact
//! bytes sent (empty for none). The online-ordering APIs (`/api/…`, `/oauth/…`) use HMAC-SHA1,
//! the mobile APIs (`/api2/…`) HMAC-SHA256; Punchh answers a mismatch with HTTP 412.

use crate::hash::{hmac_sha1, hmac_sha256};

/// Longest digest: 32 bytes of HMAC-SHA256 as 64 hex digits.
pub const DIGEST_HEX_LEN: usize = 64;

/// Which HMAC signs a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Algorithm {
    /// HMAC-SHA1: the online-ordering APIs (`/api/…`, `/oauth/…`).
    Sha1,
    /// HMAC-SHA256: the mobile APIs (`/api2/…`).
    Sha256,
}

impl Algorithm {
    /// The algorithm Punchh expects for `path`: SHA-256 under `/api2/`, SHA-1 elsewhere.
    pub fn for_path(path: &str) -> Self {
        if path.starts_with("/api2/") {
            Algorithm::Sha256
        } else {
            Algorithm::Sha1
        }
    }
}

/// The `x-pch-digest` of a request: lowercase hex `HMAC(secret, uri + body)`.
///
/// `uri` is the path and query after the base URL; `body` the exact bytes sent.
pub fn digest(
    secret: &str,
    algorithm: Algorithm,
    uri: &str,
    body: &[u8],
) -> heapless::String<DIGEST_HEX_LEN> {
    let parts = [uri.as_bytes(), body];
    match algorithm {
        Algorithm::Sha1 => hex(&hmac_sha1(secret.as_bytes(), &parts)),
        Algorithm::Sha256 => hex(&hmac_sha256(secret.as_bytes(), &parts)),
    }
}

/// Lowercase hex, by hand: the `hex` crate would be a dependency for ten lines, and a
/// `heapless::String` needs no allocator. Input longer than 32 bytes is cut (never happens here).
fn hex(bytes: &[u8]) -> heapless::String<DIGEST_HEX_LEN> {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = heapless::String::new();
    for &b in bytes {
        for nibble in [b >> 4, b & 0xf] {
            let c = DIGITS.get(usize::from(nibble)).copied().unwrap_or(b'0');
            if out.push(char::from(c)).is_err() {
                return out;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_vectors() {
        assert_eq!(
            digest(
                "SECRET_GOES_HERE",
                Algorithm::Sha1,
                "/api/auth/sso",
                br#"{"client":"CLIENT_GOES_HERE","security_token":"SECURITY_TOKEN_GOES_HERE"}"#
            ),
            "375dbf88ee2e8a565138c0d8578d2cd93456a584"
        );
        assert_eq!(
            digest(
                "SECRET_GOES_HERE",
                Algorithm::Sha256,
                "/api2/mobile/users/profile",
                br#"{"client":"CLIENT_GOES_HERE"}"#
            ),
            "743195d63cfe21b8af7fc1f2f288a5b60ae450dc7f19aa36499512b664756c6a"
        );
    }

    #[test]
    fn algorithm_by_path() {
        assert_eq!(Algorithm::for_path("/api/auth/sso"), Algorithm::Sha1);
        assert_eq!(Algorithm::for_path("/oauth/token"), Algorithm::Sha1);
        assert_eq!(
            Algorithm::for_path("/api2/mobile/users/profile"),
            Algorithm::Sha256
        );
        assert_eq!(Algorithm::for_path("/api2"), Algorithm::Sha1);
    }

    #[test]
    fn empty_body_and_empty_key() {
        // RFC 2202 test case 2 style sanity: HMAC-SHA1 with key "Jefe".
        assert_eq!(
            digest("Jefe", Algorithm::Sha1, "what do ya want ", b"for nothing?"),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
        assert_eq!(
            digest(
                "Jefe",
                Algorithm::Sha256,
                "what do ya want for nothing?",
                b""
            ),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(digest("", Algorithm::Sha1, "", b"").len(), 40);
    }
}
