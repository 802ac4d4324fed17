//! What can go wrong talking to the shared store. Never carries a token or a key.

use std::fmt;

/// An error of the shared store itself (the sign-in path never returns one: it falls back to a
/// direct sign-in instead). `Display` and `Debug` name the problem, never a value.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreError {
    /// Redis answered with an error or the connection failed.
    Redis {
        /// The kind of failure as the client classifies it (`io`, `response`, `type`, …).
        kind: &'static str,
    },
    /// Redis did not answer within the configured timeout.
    Timeout,
    /// The store was skipped: Redis was found down moments ago (see
    /// [`RedisConfig::down_recheck`](crate::RedisConfig::down_recheck)).
    Unavailable,
    /// A stored value could not be opened: another application key, another key's value, or
    /// altered. Treated as absent by the sign-in path (and overwritten by its next sign-in).
    Crypto,
    /// A stored value opened but could not be decoded into the requested type.
    Codec {
        /// What did not decode.
        what: &'static str,
    },
    /// The store was configured wrongly.
    Config {
        /// What is wrong.
        what: &'static str,
    },
}

impl StoreError {
    /// `true` for failures that say Redis is unreachable or unhealthy (as opposed to a value
    /// that cannot be used).
    pub fn is_outage(&self) -> bool {
        matches!(
            self,
            StoreError::Redis { .. } | StoreError::Timeout | StoreError::Unavailable
        )
    }

    pub(crate) fn from_redis(e: &redis::RedisError) -> Self {
        // The client's Display may quote a server reply (which could hold a stored value): keep
        // only the category.
        use redis::ErrorKind as K;
        let kind = if e.is_timeout() {
            return StoreError::Timeout;
        } else if e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() {
            "io"
        } else {
            match e.kind() {
                K::UnexpectedReturnType | K::Parse => "type",
                K::AuthenticationFailed => "authentication",
                K::InvalidClientConfig | K::Client => "client",
                K::Server(_) | K::Extension => "server",
                _ => "other",
            }
        };
        StoreError::Redis { kind }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Redis { kind } => write!(f, "redis error ({kind})"),
            StoreError::Timeout => f.write_str("redis did not answer in time"),
            StoreError::Unavailable => f.write_str("redis is down (skipped)"),
            StoreError::Crypto => f.write_str(
                "stored value does not open with this key (other application key, other key's value, or altered)",
            ),
            StoreError::Codec { what } => write!(f, "stored value does not decode: {what}"),
            StoreError::Config { what } => write!(f, "configuration: {what}"),
        }
    }
}

impl std::error::Error for StoreError {}
