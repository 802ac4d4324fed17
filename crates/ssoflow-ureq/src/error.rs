//! The driver's error: the core's errors plus what can go wrong moving bytes.

use std::fmt;

/// Everything [`Driver`](crate::Driver) can fail with. `Display` never prints a secret.
#[non_exhaustive]
#[derive(Clone, PartialEq, Eq)]
pub enum Error {
    /// The flow failed: the provider refused, the answer was malformed, an input was unusable…
    Core(ssoflow_core::Error),
    /// The bytes did not get there or back: connection refused or reset, DNS, TLS, a body cut
    /// short, broken HTTP.
    Transport {
        /// What the transport said (no header values, no bodies).
        detail: String,
    },
    /// The request did not finish within the connect timeout or the overall deadline.
    Timeout,
    /// The answer was larger than the configured cap (it is never truncated).
    TooLarge {
        /// The cap, in bytes.
        limit: usize,
    },
    /// A transient refusal (5xx, 429) whose answer said how long to wait (`Retry-After`).
    RetryAfter {
        /// The refusal.
        error: ssoflow_core::Error,
        /// How long the server asked to wait.
        after: std::time::Duration,
    },
}

impl Error {
    /// A short, stable name: the core's [`kind`](ssoflow_core::Error::kind) for `Core`, else
    /// `transport`, `timeout` or `too_large`.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Core(e) | Error::RetryAfter { error: e, .. } => e.kind(),
            Error::Transport { .. } => "transport",
            Error::Timeout => "timeout",
            Error::TooLarge { .. } => "too_large",
        }
    }

    /// The error's class: the core's for `Core` and `RetryAfter`; `Transport` for transport
    /// failures and timeouts; `Malformed` for an answer over the size cap.
    pub fn class(&self) -> ssoflow_core::ErrorClass {
        use ssoflow_core::ErrorClass;
        match self {
            Error::Core(e) | Error::RetryAfter { error: e, .. } => e.class(),
            Error::Transport { .. } | Error::Timeout => ErrorClass::Transport,
            Error::TooLarge { .. } => ErrorClass::Malformed,
        }
    }

    /// How long the server asked to wait (`Retry-After`), if it said.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            Error::RetryAfter { after, .. } => Some(*after),
            _ => None,
        }
    }

    /// `error` as read from `response`: with its `Retry-After` when it is transient and the
    /// answer said how long to wait.
    pub(crate) fn from_answer(error: ssoflow_core::Error, response: &crate::OwnedResponse) -> Self {
        match response.retry_after() {
            Some(after) if error.is_transient() => Error::RetryAfter { error, after },
            _ => Error::Core(error),
        }
    }

    /// `true` when the same call may succeed later: 5xx/429 answers, timeouts, transport failures.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Core(e) => e.is_transient(),
            Error::RetryAfter { .. } | Error::Transport { .. } | Error::Timeout => true,
            Error::TooLarge { .. } => false,
        }
    }

    /// The core error, if this is one.
    pub fn as_core(&self) -> Option<&ssoflow_core::Error> {
        match self {
            Error::Core(e) | Error::RetryAfter { error: e, .. } => Some(e),
            _ => None,
        }
    }

    /// Map a ureq error. `limit` is the body cap in force.
    pub(crate) fn from_ureq(e: ureq::Error, limit: usize) -> Error {
        use ureq::Error as U;
        match e {
            U::Timeout(_) => Error::Timeout,
            U::BodyExceedsLimit(_) => Error::TooLarge { limit },
            U::LargeResponseHeader(n, _) => Error::TooLarge { limit: n },
            U::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => Error::Timeout,
            U::Io(io) => Error::Transport {
                detail: crate::net::tls_problem(&io).unwrap_or_else(|| io_detail(&io)),
            },
            U::HostNotFound => transport("host not found"),
            U::ConnectionFailed => transport("connection failed"),
            U::Tls(m) => Error::Transport {
                detail: format!("tls: {m}"),
            },
            U::Rustls(r) => Error::Transport {
                detail: crate::net::describe_tls(&r),
            },
            U::Protocol(p) => Error::Transport {
                detail: format!("http: {p}"),
            },
            // The request could not be built (a URL the http crate refuses).
            U::BadUri(_) | U::Http(_) => {
                Error::Core(ssoflow_core::Error::InvalidInput { what: "url" })
            }
            U::BodyStalled => transport("the response body stalled"),
            // Everything else is about moving bytes too; keep only the variant's name-level text.
            other => Error::Transport {
                detail: short(&other.to_string()),
            },
        }
    }
}

fn transport(detail: &str) -> Error {
    Error::Transport {
        detail: detail.to_owned(),
    }
}

/// An I/O error's description, bounded.
fn io_detail(e: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    let what = match e.kind() {
        K::ConnectionRefused => "connection refused",
        K::ConnectionReset => "connection reset",
        K::ConnectionAborted => "connection aborted",
        K::UnexpectedEof => "connection closed before the response was complete",
        K::BrokenPipe => "broken pipe",
        K::NotConnected => "not connected",
        K::AddrNotAvailable => "address not available",
        _ => return short(&e.to_string()),
    };
    what.to_owned()
}

/// At most 200 characters of `s`.
fn short(s: &str) -> String {
    let mut out: String = s.chars().take(200).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

impl From<ssoflow_core::Error> for Error {
    fn from(e: ssoflow_core::Error) -> Self {
        Error::Core(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Core(e) => fmt::Display::fmt(e, f),
            Error::RetryAfter { error, after } => {
                write!(f, "{error} (retry after {} s)", after.as_secs())
            }
            Error::Transport { detail } => write!(f, "transport failure: {detail}"),
            Error::Timeout => f.write_str("timed out"),
            Error::TooLarge { limit } => write!(f, "response larger than {limit} bytes"),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Error::{}({self})", self.kind())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Core(e) | Error::RetryAfter { error: e, .. } => Some(e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ssoflow_core::Error as C;

    #[test]
    fn classes() {
        use ssoflow_core::ErrorClass as K;
        assert_eq!(Error::Core(C::Unauthorized).class(), K::Refused);
        assert_eq!(Error::Core(C::Digest).class(), K::Refused);
        assert_eq!(Error::Core(C::StateMismatch).class(), K::Refused);
        assert_eq!(Error::Core(C::SsoTokenRedeemed).class(), K::Refused);
        assert_eq!(Error::Core(C::Insecure).class(), K::Transport);
        assert_eq!(Error::Timeout.class(), K::Transport);
        assert_eq!(transport("x").class(), K::Transport);
        assert_eq!(Error::TooLarge { limit: 1 }.class(), K::Malformed);
        assert_eq!(
            Error::Core(C::Capacity { field: "f" }).class(),
            K::Malformed
        );
        assert_eq!(
            Error::Core(C::BufferTooSmall { required: 9 }).class(),
            K::Misuse
        );
        assert_eq!(Error::Core(C::InvalidInput { what: "x" }).class(), K::Input);
        assert_eq!(Error::Core(C::State).class(), K::Misuse);
        assert_eq!(Error::Core(C::Internal { what: "x" }).class(), K::Internal);
        assert_eq!(Error::Timeout.kind(), "timeout");
        assert_eq!(Error::TooLarge { limit: 1 }.kind(), "too_large");
        assert_eq!(Error::Core(C::Unauthorized).kind(), "unauthorized");
    }

    #[test]
    fn details_are_bounded() {
        let long = "x".repeat(1000);
        assert!(short(&long).chars().count() <= 201);
    }
}
