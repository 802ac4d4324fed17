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
}

impl Error {
    /// A short, stable name: the core's [`kind`](ssoflow_core::Error::kind) for `Core`, else
    /// `transport`, `timeout` or `too_large`.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Core(e) => e.kind(),
            Error::Transport { .. } => "transport",
            Error::Timeout => "timeout",
            Error::TooLarge { .. } => "too_large",
        }
    }

    /// The process exit code the `ssoflow` CLI uses for this error:
    ///
    /// - `3` the provider refused (`provider`, `oauth`, `unauthorized`, `digest`,
    ///   `sso_token_redeemed`, `state_mismatch`);
    /// - `4` transport failure (`transport`, `timeout`, `insecure`);
    /// - `5` malformed or oversized answer (`malformed`, `capacity`, `too_large`,
    ///   `buffer_too_small`);
    /// - `2` an unusable input (`invalid_input`, like a usage error);
    /// - `1` anything else (`state`: a bug).
    pub fn exit_code(&self) -> u8 {
        use ssoflow_core::Error as C;
        match self {
            Error::Core(
                C::Provider { .. }
                | C::OAuth { .. }
                | C::Unauthorized
                | C::SubjectTokenRefused { .. }
                | C::Digest
                | C::SsoTokenRedeemed
                | C::StateMismatch,
            ) => 3,
            Error::Core(C::Insecure) | Error::Transport { .. } | Error::Timeout => 4,
            Error::Core(C::Malformed { .. } | C::Capacity { .. } | C::BufferTooSmall { .. })
            | Error::TooLarge { .. } => 5,
            Error::Core(C::InvalidInput { .. }) => 2,
            Error::Core(_) => 1,
        }
    }

    /// `true` when the same call may succeed later: 5xx/429 answers, timeouts, transport failures.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Core(e) => e.is_transient(),
            Error::Transport { .. } | Error::Timeout => true,
            Error::TooLarge { .. } => false,
        }
    }

    /// The core error, if this is one.
    pub fn as_core(&self) -> Option<&ssoflow_core::Error> {
        match self {
            Error::Core(e) => Some(e),
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
            Error::Core(e) => Some(e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ssoflow_core::Error as C;

    #[test]
    fn exit_codes() {
        assert_eq!(Error::Core(C::Unauthorized).exit_code(), 3);
        assert_eq!(Error::Core(C::Digest).exit_code(), 3);
        assert_eq!(Error::Core(C::StateMismatch).exit_code(), 3);
        assert_eq!(Error::Core(C::SsoTokenRedeemed).exit_code(), 3);
        assert_eq!(Error::Core(C::Insecure).exit_code(), 4);
        assert_eq!(Error::Timeout.exit_code(), 4);
        assert_eq!(transport("x").exit_code(), 4);
        assert_eq!(Error::TooLarge { limit: 1 }.exit_code(), 5);
        assert_eq!(Error::Core(C::Capacity { field: "f" }).exit_code(), 5);
        assert_eq!(
            Error::Core(C::BufferTooSmall { required: 9 }).exit_code(),
            5
        );
        assert_eq!(Error::Core(C::InvalidInput { what: "x" }).exit_code(), 2);
        assert_eq!(Error::Core(C::State).exit_code(), 1);
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
