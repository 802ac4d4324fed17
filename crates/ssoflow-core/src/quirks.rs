//! Interoperability leniency as named switches, in the style of httparse's `ParserConfig`.

/// Which deviations from the letter of RFC 6749 a flow accepts when reading responses.
///
/// [`Quirks::DEFAULT`] accepts what real servers send (PROTOCOLS.md §5); [`Quirks::STRICT`]
/// accepts only the RFC. Requests are the same under both: `Accept: application/json` is always
/// sent and the token is always sent as `Bearer`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Quirks {
    /// `expires_in` may be a JSON string of digits (`"3600"`). Default: on.
    pub expires_in_as_string: bool,
    /// `token_type` may be missing (it then means `Bearer`). Any case is always accepted. Default: on.
    pub missing_token_type: bool,
    /// An `error` member in a 2xx body is a refusal, not a token. Default: on.
    pub error_in_success_body: bool,
    /// Any 2xx status is success (vendors answer 201). Default: on; off accepts only 200.
    pub any_2xx: bool,
    /// A refresh answer without `refresh_token` keeps the old one. Default: on; off is an error.
    pub keep_refresh_token: bool,
}

impl Quirks {
    /// What real servers need: every switch on.
    pub const DEFAULT: Quirks = Quirks {
        expires_in_as_string: true,
        missing_token_type: true,
        error_in_success_body: true,
        any_2xx: true,
        keep_refresh_token: true,
    };

    /// The letter of RFC 6749 only: every switch off except reading `error` in a 2xx body, which
    /// is always the safe reading.
    pub const STRICT: Quirks = Quirks {
        expires_in_as_string: false,
        missing_token_type: false,
        error_in_success_body: true,
        any_2xx: false,
        keep_refresh_token: false,
    };

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
