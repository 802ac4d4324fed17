//! Interoperability leniency as named switches, in the style of httparse's `ParserConfig`.

/// Which deviations from the letter of RFC 6749 a flow accepts when reading responses.
///
/// [`Quirks::DEFAULT`] accepts what real servers send (PROTOCOLS.md §5); [`Quirks::STRICT`]
/// accepts only the RFC. Requests are the same under both: `Accept: application/json` is always
/// sent and the token is always sent as `Bearer`. Change a switch with its `const` setter
/// (`Quirks::STRICT.with_any_2xx(true)`); the fields are private so that a new switch never
/// breaks a caller (httparse's `ParserConfig` does the same).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Quirks {
    expires_in_as_string: bool,
    missing_token_type: bool,
    error_in_success_body: bool,
    any_2xx: bool,
    keep_refresh_token: bool,
    leading_bom: bool,
}

impl Quirks {
    /// What real servers need: every switch on.
    pub const DEFAULT: Quirks = Quirks {
        expires_in_as_string: true,
        missing_token_type: true,
        error_in_success_body: true,
        any_2xx: true,
        keep_refresh_token: true,
        leading_bom: true,
    };

    /// The letter of RFC 6749 only: every switch off except reading `error` in a 2xx body, which
    /// is always the safe reading.
    pub const STRICT: Quirks = Quirks {
        expires_in_as_string: false,
        missing_token_type: false,
        error_in_success_body: true,
        any_2xx: false,
        keep_refresh_token: false,
        leading_bom: false,
    };

    /// `expires_in` may be a JSON string of digits (`"3600"`). Default: on.
    pub const fn with_expires_in_as_string(mut self, on: bool) -> Self {
        self.expires_in_as_string = on;
        self
    }

    /// `token_type` may be missing (it then means `Bearer`); any case is always accepted.
    /// Default: on.
    pub const fn with_missing_token_type(mut self, on: bool) -> Self {
        self.missing_token_type = on;
        self
    }

    /// An `error` member in a 2xx body is a refusal, not a token. Default: on (also in
    /// `STRICT`: it is always the safe reading).
    pub const fn with_error_in_success_body(mut self, on: bool) -> Self {
        self.error_in_success_body = on;
        self
    }

    /// Any 2xx status is success (vendors answer 201). Default: on; off accepts only 200.
    pub const fn with_any_2xx(mut self, on: bool) -> Self {
        self.any_2xx = on;
        self
    }

    /// A refresh answer without `refresh_token` keeps the old one. Default: on; off is an error.
    pub const fn with_keep_refresh_token(mut self, on: bool) -> Self {
        self.keep_refresh_token = on;
        self
    }

    /// A token answer may start with a UTF-8 byte-order mark (`EF BB BF`), which is skipped.
    /// Default: on; off makes it a malformed answer.
    pub const fn with_leading_bom(mut self, on: bool) -> Self {
        self.leading_bom = on;
        self
    }

    /// Whether a leading byte-order mark is skipped.
    pub const fn leading_bom(&self) -> bool {
        self.leading_bom
    }

    /// `body` without its leading byte-order mark, when [`leading_bom`](Self::leading_bom).
    pub(crate) fn body<'a>(&self, body: &'a [u8]) -> &'a [u8] {
        match body.strip_prefix(b"\xEF\xBB\xBF") {
            Some(rest) if self.leading_bom => rest,
            _ => body,
        }
    }

    /// Whether `expires_in` may be a string of digits.
    pub const fn expires_in_as_string(&self) -> bool {
        self.expires_in_as_string
    }

    /// Whether `token_type` may be missing.
    pub const fn missing_token_type(&self) -> bool {
        self.missing_token_type
    }

    /// Whether an `error` member in a 2xx body is a refusal.
    pub const fn error_in_success_body(&self) -> bool {
        self.error_in_success_body
    }

    /// Whether any 2xx status is success.
    pub const fn any_2xx(&self) -> bool {
        self.any_2xx
    }

    /// Whether a refresh answer without `refresh_token` keeps the old one.
    pub const fn keep_refresh_token(&self) -> bool {
        self.keep_refresh_token
    }

    /// Whether `status` counts as success.
    pub fn is_success(&self, status: u16) -> bool {
        if self.any_2xx {
            (200..300).contains(&status)
        } else {
            status == 200
        }
    }
}

impl Default for Quirks {
    fn default() -> Self {
        Quirks::DEFAULT
    }
}
