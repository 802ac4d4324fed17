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
    /// The authorization callback's `iss` is missing or names another server than the one
    /// expected (RFC 9207 mix-up defence): the code may be meant for another server, stop.
    IssuerMismatch,
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
    /// A flow said it was done, or an exchange said it had read its answer, and left no
    /// output in the slot: a bug in that flow (never a server's doing).
    pub const NO_OUTPUT: Error = Error::Internal {
        what: "an answer was read but no output was kept",
    };

    /// The error's class.
    pub const fn class(&self) -> ErrorClass {
        match self {
            Error::Provider { .. }
            | Error::OAuth { .. }
            | Error::Unauthorized
            | Error::SubjectTokenRefused { .. }
            | Error::Digest
            | Error::StateMismatch
            | Error::IssuerMismatch
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

    /// The one grow rule every driver applies when a flow (or a request builder) could not
    /// write its request into the `room` bytes it was given: `Ok(required)` — give it
    /// `required` bytes and write again — when this is `BufferTooSmall { required }` with
    /// `room < required <= limit`; else `Err(self)`, the error to return. That covers every
    /// other error, a writer asking for no more than it had (a bug: asking again cannot help)
    /// and one asking for more than the driver can give. A driver grows once per request by
    /// passing `0` as `limit` once it has grown.
    ///
    /// ```
    /// use ssoflow_core::Error;
    /// let short = Error::BufferTooSmall { required: 3000 };
    /// assert_eq!(short.room_needed(2048, usize::MAX), Ok(3000));
    /// let again = Error::BufferTooSmall { required: 3000 };
    /// assert!(again.room_needed(3000, usize::MAX).is_err()); // had it already
    /// assert!(Error::State.room_needed(2048, usize::MAX).is_err());
    /// ```
    pub fn room_needed(self, room: usize, limit: usize) -> Result<usize, Error> {
        match self {
            Error::BufferTooSmall { required } if room < required && required <= limit => {
                Ok(required)
            }
            other => Err(other),
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
            Error::IssuerMismatch => "issuer_mismatch",
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
            Error::IssuerMismatch => f.write_str(
                "callback issuer is missing or not the expected server (possible mix-up)",
            ),
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
/// The whole value (string, number, array or object) of a member whose name suggests a
/// credential (`*token*`, `*secret*`, `*password*`, `otp`, `pin`, `code`, `*authorization*`, …)
/// becomes `***`, in JSON and in form encoding, wherever it starts in the body; control bytes and invalid UTF-8 become `?`.
/// Longer bodies end in `…`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Excerpt(heapless::String<EXCERPT_CAP>);

/// Where [`Excerpt::of`] is in the body.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lexeme {
    /// Outside any string or skipped value.
    Text,
    /// Inside a JSON string that is kept (a name, or a value of another name).
    Str,
    /// Skipping a credential's JSON value, `depth` brackets deep.
    Skip(u32),
    /// Inside a string within a skipped value, `depth` brackets deep.
    SkipStr(u32),
    /// Skipping a credential's form value (`name=value`), inside a JSON string or not.
    SkipForm { in_string: bool },
}

/// A byte of a form name (`access_token`, `token[]`, `a.b-c`).
fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'[' | b']')
}

/// The excerpt being written: stops at [`EXCERPT_CAP`] with a closing `…`.
#[derive(Default)]
struct Bounded {
    text: heapless::String<EXCERPT_CAP>,
    full: bool,
}

impl Bounded {
    /// Room kept for the closing "…" (3 bytes).
    const LIMIT: usize = EXCERPT_CAP - 3;

    fn push_str(&mut self, s: &str) {
        if self.full || self.text.len() + s.len() > Self::LIMIT {
            self.full = true;
        } else {
            let _ = self.text.push_str(s);
        }
    }

    fn push(&mut self, c: char) {
        if self.full || self.text.len() + 1 > Self::LIMIT {
            self.full = true;
        } else {
            let _ = self.text.push(c);
        }
    }

    fn finish(mut self) -> Excerpt {
        if self.full {
            let _ = self.text.push('…');
        }
        Excerpt(self.text)
    }
}

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
    // A scan, not `contains`: for bytes that is `memchr`, which nothing else in a firmware
    // image needs (200 B of flash with its helpers).
    #[allow(clippy::manual_contains)]
    if key.iter().any(|&b| b == b'\\') {
        return true;
    }
    const EXACT: [&[u8]; 10] = [
        b"code",
        b"device_code",
        b"authorization_code",
        b"value",
        b"assertion",
        b"session",
        b"jwt",
        b"otp",
        b"pin",
        b"cookie",
    ];
    const PARTS: [&[u8]; 9] = [
        b"token",
        b"secret",
        b"key",
        b"password",
        b"passcode",
        b"passwd",
        b"authorization",
        b"credential",
        b"verifier",
    ];
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
    ///
    /// One pass that reads JSON and form encoding at once, wherever they appear (a body may
    /// start with a byte-order mark, an anti-XSSI prefix or text): the whole value after a
    /// credential-like name is replaced by `***`, whether it is a string, a number, a literal,
    /// an array or an object (`"name": value`), or a form value (`name=value`).
    pub fn of(body: &[u8]) -> Self {
        let mut out = Bounded::default();
        let mut at = Lexeme::Text;
        let mut escaped = false;
        // The last string read outside a value (a member name, when `:` follows).
        let mut key: &[u8] = &[];
        let mut string_start = 0;
        // Where a form name may start (after any byte that cannot be in one).
        let mut word_start = 0;
        for (i, &b) in body.iter().enumerate() {
            if let Lexeme::SkipForm { in_string } = at {
                let ends = matches!(b, b'&' | b';' | b',' | b'"' | b'}' | b'\\')
                    || b.is_ascii_whitespace();
                if !ends {
                    continue;
                }
                // The byte that ends the value is read as usual below.
                at = if in_string { Lexeme::Str } else { Lexeme::Text };
                word_start = i + 1;
            }
            let word = body.get(word_start..i).unwrap_or(&[]);
            match at {
                Lexeme::Str => {
                    let closes = !escaped && b == b'"';
                    let plain = !escaped;
                    escaped = plain && b == b'\\';
                    if closes {
                        key = body.get(string_start..i).unwrap_or(&[]);
                        at = Lexeme::Text;
                    } else if b == b'=' && plain && is_secret_key(word) {
                        // Form encoding inside a string (`"error_description":"token=…"`).
                        at = Lexeme::SkipForm { in_string: true };
                        out.push_str("=***");
                        continue;
                    } else if !is_name_byte(b) {
                        word_start = i + 1;
                    }
                }
                Lexeme::SkipStr(depth) => {
                    let closes = !escaped && b == b'"';
                    escaped = !escaped && b == b'\\';
                    if closes {
                        at = if depth == 0 {
                            Lexeme::Text
                        } else {
                            Lexeme::Skip(depth)
                        };
                    }
                    continue;
                }
                Lexeme::Skip(depth) => {
                    // A scalar ends at its separator, which is kept; a nested value at its
                    // closing bracket, which is not.
                    let (next, keep) = match b {
                        b'"' => (Lexeme::SkipStr(depth), false),
                        b'{' | b'[' => (Lexeme::Skip(depth + 1), false),
                        b'}' | b']' if depth > 1 => (Lexeme::Skip(depth - 1), false),
                        b'}' | b']' if depth == 1 => (Lexeme::Text, false),
                        b'}' | b']' | b',' if depth == 0 => (Lexeme::Text, true),
                        _ => (at, false),
                    };
                    at = next;
                    if !keep {
                        continue;
                    }
                    word_start = i + 1;
                }
                Lexeme::SkipForm { .. } => {}
                Lexeme::Text => match b {
                    b'"' => {
                        at = Lexeme::Str;
                        string_start = i + 1;
                        word_start = i + 1;
                    }
                    b':' if is_secret_key(key) => {
                        at = Lexeme::Skip(0);
                        key = &[];
                        let rest = body.get(i + 1..).unwrap_or(&[]);
                        let string = rest.iter().find(|c| !c.is_ascii_whitespace()) == Some(&b'"');
                        out.push_str(if string { ":\"***\"" } else { ":***" });
                        continue;
                    }
                    b'=' if is_secret_key(word) => {
                        at = Lexeme::SkipForm { in_string: false };
                        out.push_str("=***");
                        continue;
                    }
                    _ if !is_name_byte(b) => {
                        word_start = i + 1;
                        if !b.is_ascii_whitespace() && b != b':' {
                            key = &[];
                        }
                    }
                    _ => {}
                },
            }
            out.push(if (0x20..0x7f).contains(&b) {
                b as char
            } else {
                '?'
            });
            if out.full {
                break;
            }
        }
        out.finish()
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
    fn whole_values_are_redacted_whatever_their_type_and_wherever_json_starts() {
        let cases: [(&[u8], &str); 8] = [
            (
                br#"{"otp":987654,"pin":[1,2,"x"],"n":1}"#,
                r#"{"otp":***,"pin":***,"n":1}"#,
            ),
            (
                br#"{"data":{"passcode":{"v":"x","w":[{"y":"z"}]},"authorization":"Bearer x"},"k":true}"#,
                r#"{"data":{"passcode":***,"authorization":"***"},"k":true}"#,
            ),
            (
                "\u{feff}{\"access_token\":\"at\",\"ok\":1}".as_bytes(),
                r#"???{"access_token":"***","ok":1}"#,
            ),
            (
                b")]}'\n{\"refresh_token\":\"rt\",\"expires_in\":1}",
                r#")]}'?{"refresh_token":"***","expires_in":1}"#,
            ),
            (
                br#"{"secret_pin":null,"password":false}"#,
                r#"{"secret_pin":***,"password":***}"#,
            ),
            (
                b"arr[0]=1&access_token=at&refresh_token=rt",
                "arr[0]=1&access_token=***&refresh_token=***",
            ),
            // Found by the fuzz smoke run: form pairs inside an unclosed JSON string.
            (
                br#"x=1&{"msg":"a b&my_secret=hhvngoant&n=1"#,
                r#"x=1&{"msg":"a b&my_secret=***&n=1"#,
            ),
            (
                br#"{"error_description":"token=abc"d","n":1}"#,
                r#"{"error_description":"token=***"d","n":1}"#,
            ),
        ];
        for (body, want) in cases {
            assert_eq!(Excerpt::of(body).as_str(), want);
        }
    }

    #[test]
    fn excerpt_redacts_secret_members() {
        let e = Excerpt::of(br#"{"error":"invalid_grant","access_token":"abc.def","refresh_token" : "r1","n":"ok"}"#);
        assert_eq!(
            e.as_str(),
            r#"{"error":"invalid_grant","access_token":"***","refresh_token" :"***","n":"ok"}"#
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
