//! The driver's error: transport and HTTP framing failures, or the core's own error.

use core::fmt;

/// Everything that can go wrong while moving a flow's bytes. Each variant says what to do.
///
/// After any error but [`Error::Core`] the connection is marked unusable
/// ([`Driver::is_reusable`](crate::Driver::is_reusable) is `false`): open a new one and call
/// [`Driver::reset`](crate::Driver::reset).
#[non_exhaustive]
#[derive(Clone, PartialEq, Eq)]
pub enum Error {
    /// The response's status line and headers do not fit the response buffer. Give it more room.
    HeadTooLarge,
    /// The response has more header lines than [`MAX_RESPONSE_HEADERS`](crate::MAX_RESPONSE_HEADERS).
    TooManyHeaders,
    /// The response body does not fit the response buffer after its head (never truncated).
    BodyTooLarge,
    /// The peer closed the connection before the response was complete (or before it began:
    /// a reused keep-alive connection the server had already dropped — reconnect and retry).
    Closed,
    /// The connection closed after `received` of the `declared` Content-Length body bytes.
    ContentLengthMismatch {
        /// The body length the server declared.
        declared: usize,
        /// Body bytes that arrived.
        received: usize,
    },
    /// A chunked body has a malformed chunk size or chunk framing.
    BadChunk,
    /// The response is not valid HTTP/1.x.
    Parse {
        /// Which part was wrong.
        what: &'static str,
    },
    /// The request cannot be written safely (e.g. a header value with CR or LF, which would let
    /// one header smuggle another, or a header the driver writes itself).
    InvalidRequest {
        /// Which part was refused.
        what: &'static str,
    },
    /// The server said it closes the connection (`Connection: close`, HTTP/1.0, or a body read
    /// until close). Open a new connection, call `Driver::reset`, then send again.
    NotReusable,
    /// The response needed more than [`Driver::max_reads`](crate::Driver::with_max_reads) reads:
    /// a peer dribbling bytes is cut off instead of holding the caller forever.
    TooManyReads,
    /// The response took longer than [`Driver::with_timeout_ms`](crate::Driver::with_timeout_ms)
    /// allows, by the caller's clock.
    TimedOut,
    /// The stream failed.
    Io(embedded_io::ErrorKind),
    /// The flow or the session refused (see [`ssoflow_core::Error`]).
    Core(ssoflow_core::Error),
    /// A transient refusal (5xx, 429) whose answer said how long to wait (`Retry-After`, in
    /// seconds): the session waits at least that long before it signs in again.
    RetryAfter {
        /// The refusal.
        error: ssoflow_core::Error,
        /// How long the server asked to wait, in seconds.
        secs: u64,
    },
}

impl Error {
    /// The stream error `e` as a driver error.
    pub fn io<E: embedded_io::Error>(e: E) -> Self {
        Error::Io(e.kind())
    }

    /// [`Error::Core`]`(error)`, built where the caller returns it. Out of line on purpose:
    /// written inline, LLVM builds the value in a temporary and copies it (a second 0.2 KiB
    /// slot in the caller's frame, e.g. under a request's writing).
    #[inline(never)]
    pub(crate) fn from_core(error: ssoflow_core::Error) -> Self {
        Error::Core(error)
    }

    /// The flow's own error, for [`Error::Core`] and [`Error::RetryAfter`].
    pub fn core(&self) -> Option<&ssoflow_core::Error> {
        match self {
            Error::Core(e) | Error::RetryAfter { error: e, .. } => Some(e),
            _ => None,
        }
    }

    /// A short, stable name for the kind of error (`head_too_large`, `io`, `core`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            Error::HeadTooLarge => "head_too_large",
            Error::TooManyHeaders => "too_many_headers",
            Error::BodyTooLarge => "body_too_large",
            Error::Closed => "closed",
            Error::ContentLengthMismatch { .. } => "content_length_mismatch",
            Error::BadChunk => "bad_chunk",
            Error::Parse { .. } => "parse",
            Error::InvalidRequest { .. } => "invalid_request",
            Error::NotReusable => "not_reusable",
            Error::TooManyReads => "too_many_reads",
            Error::TimedOut => "timed_out",
            Error::Io(_) => "io",
            Error::Core(_) => "core",
            Error::RetryAfter { .. } => "retry_after",
        }
    }
}

impl From<ssoflow_core::Error> for Error {
    fn from(e: ssoflow_core::Error) -> Self {
        Error::Core(e)
    }
}

impl core::error::Error for Error {}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::HeadTooLarge => f.write_str("response head does not fit the response buffer"),
            Error::TooManyHeaders => f.write_str("response has too many headers"),
            Error::BodyTooLarge => f.write_str("response body does not fit the response buffer"),
            Error::Closed => f.write_str("connection closed before the response was complete"),
            Error::ContentLengthMismatch { declared, received } => write!(
                f,
                "connection closed after {received} of {declared} declared body bytes"
            ),
            Error::BadChunk => f.write_str("malformed chunked encoding"),
            Error::Parse { what } => write!(f, "invalid HTTP response: {what}"),
            Error::InvalidRequest { what } => write!(f, "refusing to write request: {what}"),
            Error::NotReusable => f.write_str("the server closed this connection: reconnect"),
            Error::TooManyReads => f.write_str("response needed too many reads"),
            Error::TimedOut => f.write_str("response took longer than the driver's timeout"),
            Error::Io(kind) => write!(f, "i/o error: {kind:?}"),
            Error::Core(e) => fmt::Display::fmt(e, f),
            Error::RetryAfter { error, secs } => write!(f, "{error} (retry after {secs} s)"),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Core(e) => write!(f, "Error::Core({e:?})"),
            Error::RetryAfter { error, secs } => {
                write!(f, "Error::RetryAfter({secs} s, {error:?})")
            }
            other => write!(f, "Error::{}({other})", other.kind()),
        }
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for Error {
    fn format(&self, f: defmt::Formatter<'_>) {
        match self {
            Error::Core(e) => defmt::write!(f, "Error::Core({})", e),
            Error::RetryAfter { error, secs } => {
                defmt::write!(f, "Error::RetryAfter({=u64} s, {})", secs, error)
            }
            Error::Io(kind) => defmt::write!(f, "Error::Io({})", kind),
            other => defmt::write!(f, "Error::{=str}", other.kind()),
        }
    }
}

/// How a [`Session`](ssoflow_core::session::Session) treats a failed sign-in: transport
/// failures (the stream failed or closed, a peer dribbling bytes) and the core's transient
/// refusals (5xx, 429) are worth a retry after a backoff; everything else is final.
impl ssoflow_core::session::Failure for Error {
    fn is_transient(&self) -> bool {
        match self {
            Error::Io(_) | Error::Closed | Error::TooManyReads | Error::TimedOut => true,
            Error::RetryAfter { .. } => true,
            Error::Core(e) => e.is_transient(),
            _ => false,
        }
    }

    fn retry_after_ms(&self) -> Option<u64> {
        match self {
            Error::RetryAfter { secs, .. } => Some(secs.saturating_mul(1000)),
            _ => None,
        }
    }
}
