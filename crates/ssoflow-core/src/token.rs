//! Tokens with their expiry, computed when the response is handled.

use crate::{Instant, Secret};

/// Capacity of an access token: a 2 KiB JWT fits.
pub const TOKEN_CAP: usize = 2048;
/// Capacity of a refresh token.
pub const REFRESH_CAP: usize = 1024;

/// A refresh token.
pub type RefreshToken = Secret<REFRESH_CAP>;

/// When a token stops working.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Expiry {
    /// At this instant on the caller's clock.
    At(Instant),
    /// The server did not say: rely on a 401.
    Unknown,
}

impl Expiry {
    /// Expiry `lifetime_secs` after `now`, or unknown.
    #[inline(never)]
    pub fn after(now: Instant, lifetime_secs: Option<u64>) -> Self {
        match lifetime_secs {
            Some(s) => Expiry::At(now.plus_secs(s)),
            None => Expiry::Unknown,
        }
    }

    /// Whether the token should be renewed at `now`, `skew_ms` before it actually expires.
    pub fn needs_refresh(&self, now: Instant, skew_ms: u64) -> bool {
        match self {
            Expiry::At(at) => now.plus_millis(skew_ms) >= *at,
            Expiry::Unknown => false,
        }
    }
}

/// A bearer token and when it expires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessToken {
    /// The token (sent as `Authorization: Bearer …`).
    pub value: Secret<TOKEN_CAP>,
    /// When it expires.
    pub expiry: Expiry,
}

impl AccessToken {
    /// An empty token of unknown expiry: the slot a reader parses into.
    pub(crate) const fn empty() -> Self {
        AccessToken {
            value: Secret::empty(),
            expiry: Expiry::Unknown,
        }
    }

    /// `*slot = from.cloned()`, written in place: a clone built on the stack and then moved
    /// into the slot would be two copies of a 2 KiB token there (a firmware's sign-in keeps its
    /// M2M token this way).
    pub(crate) fn clone_into_slot(slot: &mut Option<AccessToken>, from: Option<&AccessToken>) {
        let Some(from) = from else {
            *slot = None;
            return;
        };
        *slot = Some(AccessToken::empty());
        if let Some(to) = slot {
            // The same capacity: it always fits.
            to.value.push_ascii_bytes(from.value.as_bytes());
            to.expiry = from.expiry;
        }
    }
}

/// What a token endpoint returns: access token, optional refresh token and scope.
///
/// The access token is laid out last on purpose (`repr(C)`): an empty set written where it
/// will be read into then stores the token's length and nothing after its 2 KiB of unused
/// capacity. With a zeroed field on both sides, LLVM merges the two stores and the capacity
/// between them into one 2 KiB `memset` — a fifth of a token step's instructions.
#[derive(Clone, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct TokenSet {
    /// The refresh token, when the server issued one.
    pub refresh: Option<RefreshToken>,
    /// The granted scope, kept opaque (space- or comma-separated as the server sent it).
    pub scope: Option<heapless::String<256>>,
    /// `expires_in` as sent, in seconds.
    pub expires_in: Option<u64>,
    /// The access token.
    pub access: AccessToken,
}

impl TokenSet {
    /// An empty set: the slot a reader parses into.
    pub(crate) const fn empty() -> Self {
        TokenSet {
            access: AccessToken::empty(),
            refresh: None,
            scope: None,
            expires_in: None,
        }
    }
}

/// Check a token for characters an `Authorization` header cannot carry (RFC 6750 `b64token`
/// is narrower; we accept any visible ASCII).
pub(crate) fn check_token_chars(token: &[u8]) -> bool {
    !token.is_empty() && token.iter().all(|b| (0x21..0x7f).contains(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_before_expiry() {
        let e = Expiry::after(Instant::from_millis(1_000), Some(60));
        assert!(!e.needs_refresh(Instant::from_millis(1_000), 5_000));
        assert!(!e.needs_refresh(Instant::from_millis(55_999), 5_000));
        assert!(e.needs_refresh(Instant::from_millis(56_000), 5_000));
        assert!(!Expiry::Unknown.needs_refresh(Instant::from_millis(u64::MAX), 5_000));
        assert_eq!(
            Expiry::after(Instant::from_millis(1), Some(u64::MAX)),
            Expiry::At(Instant::from_millis(u64::MAX))
        );
    }
}
