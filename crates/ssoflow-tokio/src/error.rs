//! The driver's error: a flow's own error, or what went wrong moving its bytes.

use std::fmt;
use std::time::Duration;

/// Everything that can go wrong running a flow or getting a token through this driver.
///
/// `Display` and `Debug` never print a credential: core errors carry only redacted excerpts, and
/// transport details come from the HTTP client's error (which names no header values or bodies).
/// Errors are `Clone` so that one failed sign-in can be handed to every task that waited for it.
#[non_exhaustive]
#[derive(Clone, PartialEq, Eq)]
pub enum Error {
    /// The flow refused (provider error, malformed answer, 401 after a retry, …).
    Core(ssoflow_core::Error),
    /// The provider answered 429 or 5xx with a `Retry-After`: try again after `after`.
    ///
    /// `error` is what the flow made of the answer (the same value a [`Error::Core`] would hold);
    /// [`Error::core`] returns it for both variants.
    RetryAfter {
        /// The flow's error for the answer.
        error: ssoflow_core::Error,
        /// How long the provider asked to wait.
        after: Duration,
    },
    /// The request could not be sent or its answer not read (connection refused, reset, TLS, …).
    Transport {
        /// What the HTTP client said (never contains header values or bodies).
        detail: String,
    },
    /// The request did not finish within the configured deadline.
    Timeout,
    /// The answer was larger than `limit` bytes; nothing of it was used (never truncated).
    TooLarge {
        /// The cap in bytes.
        limit: usize,
    },
    /// The sign-in could not finish: a retry was due later but the call was made outside a
    /// tokio runtime (no timer to wait with).
    Closed,
    /// The sign-in (the recipe's flow, or a shared store around it) panicked. The failure is
    /// shared with the callers that waited for it; the cache stays usable.
    Panicked,
}

impl Error {
    /// The flow's own error, for [`Error::Core`] and [`Error::RetryAfter`].
    pub fn core(&self) -> Option<&ssoflow_core::Error> {
        match self {
            Error::Core(e) | Error::RetryAfter { error: e, .. } => Some(e),
            _ => None,
        }
    }

    /// The error's class: the core's for `Core` and `RetryAfter`; `Transport` for transport
    /// failures and timeouts; `Malformed` for an answer over the size cap; `Internal` for a
    /// closed cache or a sign-in that panicked.
    pub fn class(&self) -> ssoflow_core::ErrorClass {
        use ssoflow_core::ErrorClass;
        match self {
            Error::Core(e) | Error::RetryAfter { error: e, .. } => e.class(),
            Error::Transport { .. } | Error::Timeout => ErrorClass::Transport,
            Error::TooLarge { .. } => ErrorClass::Malformed,
            Error::Closed | Error::Panicked => ErrorClass::Internal,
        }
    }

    /// `true` when the same call may succeed later: 5xx and 429 answers, transport failures and
    /// timeouts. The token cache retries these (with backoff) a bounded number of times.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Core(e) => e.is_transient(),
            Error::RetryAfter { .. } | Error::Transport { .. } | Error::Timeout => true,
            _ => false,
        }
    }

    /// How long the provider asked to wait (`Retry-After`), if it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::RetryAfter { after, .. } => Some(*after),
            _ => None,
        }
    }

    /// The HTTP status of the answer this error came from, if any.
    pub fn status(&self) -> Option<u16> {
        self.core().and_then(ssoflow_core::Error::status)
    }

    /// A short, stable name for the kind of error (`transport`, `timeout`, or the core's kind).
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Core(e) | Error::RetryAfter { error: e, .. } => e.kind(),
            Error::Transport { .. } => "transport",
            Error::Timeout => "timeout",
            Error::TooLarge { .. } => "too_large",
            Error::Closed => "closed",
            Error::Panicked => "panicked",
        }
    }
}

impl From<ssoflow_core::Error> for Error {
    fn from(e: ssoflow_core::Error) -> Self {
        Error::Core(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Core(e) => write!(f, "{e}"),
            Error::RetryAfter { error, after } => {
                write!(f, "{error} (retry after {} s)", after.as_secs())
            }
            Error::Transport { detail } => write!(f, "transport: {detail}"),
            Error::Timeout => f.write_str("request timed out"),
            Error::TooLarge { limit } => write!(f, "response larger than {limit} bytes"),
            Error::Closed => f.write_str("no tokio runtime to wait for a sign-in retry with"),
            Error::Panicked => f.write_str("sign-in panicked"),
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

/// Describe a reqwest error without anything secret: its kind and its source chain, no URL query.
pub(crate) fn from_reqwest(e: &reqwest::Error) -> Error {
    if e.is_timeout() {
        return Error::Timeout;
    }
    // A certificate problem is named as such (the chain's own text says "invalid peer
    // certificate: UnknownIssuer" at best).
    if let Some(detail) = crate::net::tls_problem(e) {
        return Error::Transport { detail };
    }
    let what = if e.is_connect() {
        "connect"
    } else if e.is_body() || e.is_decode() {
        "reading body"
    } else if e.is_request() {
        "request"
    } else {
        "http"
    };
    let mut detail = String::from(what);
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        detail.push_str(": ");
        detail.push_str(&s.to_string());
        source = s.source();
    }
    Error::Transport { detail }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_the_problem_not_the_secret() {
        let e = Error::RetryAfter {
            error: ssoflow_core::Error::Provider {
                status: 503,
                code: None,
                message: ssoflow_core::Excerpt::of(br#"{"access_token":"SECRET-TOKEN"}"#),
            },
            after: Duration::from_secs(2),
        };
        let s = format!("{e} {e:?}");
        assert!(!s.contains("SECRET"), "{s}");
        assert!(s.contains("retry after 2 s"));
        assert!(e.is_transient());
        assert_eq!(e.status(), Some(503));
        assert_eq!(e.kind(), "provider");
        assert!(Error::Timeout.is_transient());
        assert!(!Error::TooLarge { limit: 1 }.is_transient());
        assert!(!Error::Core(ssoflow_core::Error::Unauthorized).is_transient());
    }
}
