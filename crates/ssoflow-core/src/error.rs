//! The one error type, and the redacted body excerpt that travels with errors from a response.

use core::fmt;

/// Every way a flow can fail. Each variant says what the caller can do about it.
///
/// `Display` and `Debug` never print a secret: excerpts of response bodies are redacted
/// before they are stored (see [`Excerpt`]).
#[non_exhaustive]
#[derive(Clone, PartialEq, Eq)]
pub enum Error {
    /// The provider refused with a vendor-specific error (non-2xx, or an envelope that is not OK).
    /// Check the request's inputs; `code` is the vendor's own code when it sent one.
    Provider {
        /// HTTP status of the response.
        status: u16,
        /// The vendor's error code (PAR envelope `code`), when present.
        code: Option<i64>,
        /// A bounded, redacted excerpt of the response body.
        message: Excerpt,
    },
    /// An OAuth 2.0 error response (RFC 6749 §5.2), e.g. `invalid_grant`.
    OAuth {
        /// HTTP status of the response.
        status: u16,
        /// The `error` code, e.g. `invalid_client`.
        error: heapless::String<48>,
        /// `error_description` (redacted, bounded), when the server sent one.
        description: Excerpt,
    },
    /// The response could not be understood: bad JSON, a wrong type, a missing field.
    Malformed {
        /// Which field or part was wrong.
        what: &'static str,
        /// A bounded, redacted excerpt of what came back.
        excerpt: Excerpt,
    },
    /// A value did not fit its fixed capacity (it is never truncated).
    Capacity {
        /// The field that was too long.
        field: &'static str,
    },
    /// The buffer given to `poll` is too small; nothing usable was written. Retry with `required` bytes.
    BufferTooSmall {
        /// Bytes needed for this request.
        required: usize,
    },
    /// Still unauthorized after one fresh sign-in and one retry: the credentials are not accepted.
    Unauthorized,
    /// A token exchange was refused with 401 again after a fresh M2M token: the customer's own
    /// (subject) token is not accepted. Get a fresh one from the identity provider and sign in
    /// again.
    SubjectTokenRefused {
        /// HTTP status of the response.
        status: u16,
        /// The vendor's error code (PAR envelope `code`), when present.
        code: Option<i64>,
        /// A bounded, redacted excerpt of the response body.
        message: Excerpt,
    },
    /// The Punchh digest was refused (HTTP 412): the signing secret or the signed bytes are wrong.
    Digest,
    /// A plain `http://` URL to a host that is not loopback. Use `https://`.
    Insecure,
    /// A method was called out of order (e.g. `handle` without a request outstanding): misuse.
    State,
    /// An invariant of ssoflow itself did not hold (a bug; please report it with `what`).
    Internal {
        /// Which invariant.
        what: &'static str,
    },
    /// The authorization callback's `state` does not match the one sent: possible CSRF, stop.
    StateMismatch,
    /// A Stream one-time login token was already redeemed (`sso_token_redeemed`): generate a new one.
    SsoTokenRedeemed,
    /// A caller-supplied value is unusable (empty, or has characters a header cannot carry).
    InvalidInput {
        /// Which input.
        what: &'static str,
    },
    /// The person declined the device sign-in (RFC 8628 `access_denied`): nothing to retry;
    /// start a new device flow if they want to try again.
    AccessDenied,
    /// The device code expired before the person approved (RFC 8628 `expired_token`, or its
    /// `expires_in` passed while polling): start a new device flow.
    ExpiredToken,
}

/// What kind of failure an [`Error`] is, for callers that act on the kind rather than the
/// detail (the CLI's exit codes, a retry policy, metrics). Small and `Copy`; more classes may
/// come.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ErrorClass {
    /// The provider refused: credentials, tokens or inputs it does not accept (fix them).
    Refused,
    /// The answer could not be understood, or a value did not fit its capacity.
    Malformed,
    /// The bytes did not get there and back (connection, TLS, timeout), or were refused before
    /// sending (`http://` to a host that is not loopback).
    Transport,
    /// A caller-supplied value is unusable (empty, or characters a request cannot carry).
    Input,
    /// The API was used out of order, or given a buffer too small for the request.
    Misuse,
    /// An invariant of ssoflow did not hold: a bug.
    Internal,
}

impl ErrorClass {
    /// A short, stable name: `refused`, `malformed`, `transport`, `input`, `misuse`, `internal`.
    pub const fn name(self) -> &'static str {
        match self {
            ErrorClass::Refused => "refused",
            ErrorClass::Malformed => "malformed",
            ErrorClass::Transport => "transport",
            ErrorClass::Input => "input",
            ErrorClass::Misuse => "misuse",
            ErrorClass::Internal => "internal",
        }
    }
}

impl Error {
    /// The error's class.
    pub const fn class(&self) -> ErrorClass {
        match self {
            Error::Provider { .. }
            | Error::OAuth { .. }
            | Error::Unauthorized
            | Error::SubjectTokenRefused { .. }
            | Error::Digest
            | Error::StateMismatch
            | Error::SsoTokenRedeemed
            | Error::AccessDenied
            | Error::ExpiredToken => ErrorClass::Refused,
            Error::Malformed { .. } | Error::Capacity { .. } => ErrorClass::Malformed,
            Error::Insecure => ErrorClass::Transport,
            Error::InvalidInput { .. } => ErrorClass::Input,
            Error::State | Error::BufferTooSmall { .. } => ErrorClass::Misuse,
            Error::Internal { .. } => ErrorClass::Internal,
        }
    }

    /// A 2xx answer that could not be read. Its body is never excerpted: a success answer to a
    /// sign-in carries tokens (a token answer preceded by a byte-order mark, an anti-XSSI prefix
    /// or in form encoding would otherwise be printed in clear); the excerpt says only what kind
    /// of body it was and how long.
    pub(crate) fn malformed(what: &'static str, body: &[u8]) -> Self {
        Error::Malformed {
            what,
            excerpt: Excerpt::withheld(body),
        }
    }

    /// `true` when retrying the same call later may succeed (5xx and 429 answers).
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Provider { status, .. } | Error::OAuth { status, .. } => {
                *status == 429 || *status >= 500
            }
            _ => false,
        }
    }

    /// The HTTP status of the response this error came from, if any.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Provider { status, .. }
            | Error::OAuth { status, .. }
            | Error::SubjectTokenRefused { status, .. } => Some(*status),
            Error::Digest => Some(412),
            _ => None,
        }
    }

    /// A short, stable name for the kind of error (`provider`, `oauth`, `malformed`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Provider { .. } => "provider",
            Error::OAuth { .. } => "oauth",
            Error::Malformed { .. } => "malformed",
            Error::Capacity { .. } => "capacity",
            Error::BufferTooSmall { .. } => "buffer_too_small",
            Error::Unauthorized => "unauthorized",
            Error::SubjectTokenRefused { .. } => "subject_token_refused",
            Error::Digest => "digest",
            Error::Insecure => "insecure",
            Error::State => "state",
            Error::Internal { .. } => "internal",
            Error::StateMismatch => "state_mismatch",
            Error::SsoTokenRedeemed => "sso_token_redeemed",
            Error::InvalidInput { .. } => "invalid_input",
            Error::AccessDenied => "access_denied",
            Error::ExpiredToken => "expired_token",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Provider {
                status,
                code: Some(c),
                message,
            } => {
                write!(f, "provider refused: HTTP {status}, code {c}: {message}")
            }
            Error::Provider {
                status,
                code: None,
                message,
            } => {
                write!(f, "provider refused: HTTP {status}: {message}")
            }
            Error::OAuth {
                status,
                error,
                description,
            } if description.is_empty() => {
                write!(f, "oauth error {error} (HTTP {status})")
            }
            Error::OAuth {
                status,
                error,
                description,
            } => {
                write!(f, "oauth error {error} (HTTP {status}): {description}")
            }
            Error::Malformed { what, excerpt } => {
                write!(f, "malformed response ({what}): {excerpt}")
            }
            Error::Capacity { field } => write!(f, "value too long for {field}"),
            Error::BufferTooSmall { required } => {
                write!(f, "request buffer too small: {required} bytes required")
            }
            Error::Unauthorized => f.write_str("unauthorized after a fresh sign-in and one retry"),
            Error::SubjectTokenRefused {
                status, message, ..
            } => write!(
                f,
                "the customer's token was refused (HTTP {status} with a fresh M2M token): {message}"
            ),
            Error::Digest => f.write_str("x-pch-digest refused (HTTP 412)"),
            Error::Insecure => f.write_str("refusing plain http:// to a non-loopback host"),
            Error::State => f.write_str("flow method called out of order"),
            Error::Internal { what } => write!(f, "internal error (a bug in ssoflow): {what}"),
            Error::StateMismatch => f.write_str("callback state does not match (possible CSRF)"),
            Error::SsoTokenRedeemed => f.write_str("sso_token_redeemed: login token already used"),
            Error::InvalidInput { what } => write!(f, "invalid input: {what}"),
            Error::AccessDenied => f.write_str("the sign-in was declined"),
            Error::ExpiredToken => f.write_str("the device code expired before it was approved"),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Error::{}({self})", self.kind())
    }
}

impl core::error::Error for Error {}

#[cfg(feature = "defmt")]
impl defmt::Format for Error {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "Error::{=str}", self.kind())
    }
}

/// Bytes of a response body kept in an error.
pub const EXCERPT_CAP: usize = 160;

/// A bounded copy of a response body with secret values blanked out.
///
/// JSON string values of members whose name suggests a credential (`*token*`, `*secret*`,
/// `password`, `code`, `value`, …) become `***`; control bytes and invalid UTF-8 become `?`.
/// Longer bodies end in `…`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Excerpt(heapless::String<EXCERPT_CAP>);

/// RFC 6749 §5.2: an `error` code is %x20-21 / %x23-5B / %x5D-7E (printable, no `"` or `\`).
pub(crate) fn is_error_code(code: &str) -> bool {
    !code.is_empty()
        && code
            .bytes()
            .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
}

/// Member names whose string values are never copied into an excerpt. A name written with
/// escapes (`"refresh_tok\u0065n"`) may decode to any of them, so it counts as one.
fn is_secret_key(key: &[u8]) -> bool {
    if key.contains(&b'\\') {
        return true;
    }
    const EXACT: [&[u8]; 6] = [
        b"code",
        b"value",
        b"password",
        b"assertion",
        b"session",
        b"jwt",
    ];
    const PARTS: [&[u8]; 3] = [b"token", b"secret", b"key"];
    EXACT.iter().any(|k| key.eq_ignore_ascii_case(k))
        || PARTS
            .iter()
            .any(|p| key.windows(p.len()).any(|w| w.eq_ignore_ascii_case(p)))
}

impl Excerpt {
    /// What a withheld body was, without any of its content: its kind (by its first visible
    /// byte) and its length, e.g. `(2xx body withheld: a JSON object, 512 bytes)`.
    pub fn withheld(body: &[u8]) -> Self {
        let kind = match body.iter().find(|b| !b.is_ascii_whitespace()) {
            None => "empty",
            Some(b'{') => "a JSON object",
            Some(b'[') => "a JSON array",
            Some(b'<') => "HTML or XML",
            Some(0xEF) => "text starting with a byte-order mark",
            Some(b) if b.is_ascii_graphic() => "text",
            Some(_) => "binary",
        };
        // By hand, not `write!`: core::fmt's machinery costs firmware 2 KB of flash.
        let mut digits = [0u8; 20];
        let mut n = body.len();
        let mut start = digits.len();
        loop {
            start -= 1;
            if let Some(d) = digits.get_mut(start) {
                *d = b'0' + (n % 10) as u8;
            }
            n /= 10;
            if n == 0 || start == 0 {
                break;
            }
        }
        let mut out = heapless::String::<EXCERPT_CAP>::new();
        for part in [
            "(2xx body withheld: ",
            kind,
            ", ",
            core::str::from_utf8(digits.get(start..).unwrap_or(&[])).unwrap_or("?"),
            " bytes)",
        ] {
            let _ = out.push_str(part);
        }
        Excerpt(out)
    }

    /// Make a redacted excerpt of `body`.
    pub fn of(body: &[u8]) -> Self {
        let first = body.iter().find(|b| !b.is_ascii_whitespace());
        if !matches!(first, Some(b'{' | b'[') | None) {
            return Self::of_text(body);
        }
        let mut out = heapless::String::<EXCERPT_CAP>::new();
        // Room kept for a closing "…" (3 bytes).
        let limit = EXCERPT_CAP - 3;
        let mut in_string = false;
        let mut escaped = false;
        let mut redacting = false;
        let mut string_start = 0;
        let mut last_key: &[u8] = &[];
        let mut full = false;
        for (i, &b) in body.iter().enumerate() {
            if in_string {
                let closes = !escaped && b == b'"';
                escaped = !escaped && b == b'\\';
                if closes {
                    in_string = false;
                    if !redacting {
                        last_key = body.get(string_start..i).unwrap_or(&[]);
                    }
                    redacting = false;
                } else if redacting {
                    continue;
                }
            } else if b == b'"' {
                in_string = true;
                string_start = i + 1;
                // A string right after `"key":` is a value of that key.
                let before = body.get(..i).unwrap_or(&[]);
                let prev = before.iter().rev().find(|c| !c.is_ascii_whitespace());
                if prev == Some(&b':') && is_secret_key(last_key) {
                    redacting = true;
                    if out.len() + 4 > limit {
                        full = true;
                        break;
                    }
                    let _ = out.push_str("\"***");
                    continue;
                }
            }
            let c = if (0x20..0x7f).contains(&b) {
                b as char
            } else {
                '?'
            };
            if out.len() + 1 > limit {
                full = true;
                break;
            }
            let _ = out.push(c);
        }
        if full {
            let _ = out.push('…');
        }
        Excerpt(out)
    }

    /// A body that is not JSON (form-encoded, HTML, plain text): values after `name=` where
    /// the name looks like a credential (`access_token=…&`) become `***`.
    fn of_text(body: &[u8]) -> Self {
        let mut out = heapless::String::<EXCERPT_CAP>::new();
        let limit = EXCERPT_CAP - 3;
        let mut name_start = 0;
        let mut redacting = false;
        let mut full = false;
        for (i, &b) in body.iter().enumerate() {
            let separator = matches!(b, b'&' | b';' | b',' | b'?') || b.is_ascii_whitespace();
            if redacting {
                if !separator {
                    continue;
                }
                redacting = false;
            }
            if b == b'=' && is_secret_key(body.get(name_start..i).unwrap_or(&[])) {
                redacting = true;
                if out.len() + 4 > limit {
                    full = true;
                    break;
                }
                let _ = out.push_str("=***");
                continue;
            }
            if separator {
                name_start = i + 1;
            }
            let c = if (0x20..0x7f).contains(&b) {
                b as char
            } else {
                '?'
            };
            if out.len() + 1 > limit {
                full = true;
                break;
            }
            let _ = out.push(c);
        }
        if full {
            let _ = out.push('…');
        }
        Excerpt(out)
    }

    /// The excerpt as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `true` when nothing was kept.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Excerpt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Excerpt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpt_redacts_secret_members() {
        let e = Excerpt::of(br#"{"error":"invalid_grant","access_token":"abc.def","refresh_token" : "r1","n":"ok"}"#);
        assert_eq!(
            e.as_str(),
            r#"{"error":"invalid_grant","access_token":"***","refresh_token" : "***","n":"ok"}"#
        );
    }

    #[test]
    fn form_and_escaped_names_are_redacted() {
        let e = Excerpt::of(
            b"access_token=gho_16C7e42F292c6912E7710c838347Ae178B4a&scope=&token_type=bearer",
        );
        assert_eq!(e.as_str(), "access_token=***&scope=&token_type=***");
        let e = Excerpt::of(br#"{"refresh_tok\u0065n":"r-SECRET","x":"y"}"#);
        assert!(!e.as_str().contains("r-SECRET"), "{e}");
        assert!(is_error_code("invalid_grant") && !is_error_code("a\nb") && !is_error_code(""));
    }

    #[test]
    fn excerpt_is_bounded_and_printable() {
        let body = [b'a'; 1000];
        let e = Excerpt::of(&body);
        assert!(e.as_str().len() <= EXCERPT_CAP);
        assert!(e.as_str().ends_with('…'));
        assert_eq!(Excerpt::of(b"\x00\xffhi\n").as_str(), "??hi?");
    }

    #[test]
    fn excerpt_redacts_escaped_quotes_inside_secrets() {
        let e = Excerpt::of(br#"{"client_secret":"a\"b","x":1}"#);
        assert_eq!(e.as_str(), r#"{"client_secret":"***","x":1}"#);
    }
}
