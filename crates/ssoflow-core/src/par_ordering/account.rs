//! The PAR Ordering customer account (seed 000's `customer_account`) and its readers: inside the
//! sign-in answer, and on its own for protected customer calls such as `GET /api/customers/me`.

use super::read_envelope;
use crate::json::{JsonError, Parser, Seen, Text, is, text};
use crate::{Error, Response};

/// Capacity of [`CustomerAccount::id`]: room for a hyphenated UUID and more.
pub const ACCOUNT_ID_CAP: usize = 64;

/// A PAR Ordering customer account (every member of the seed's `customer_account` that has a
/// scalar value; `demographics` and `social_login` are skipped).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CustomerAccount {
    /// The account id, an opaque non-empty string: seed 000 shows it hyphenated
    /// (`"01e6d2c9-976b-4953-91e6-3dade887a4c7"`) and as 32 hex digits
    /// (`"90488ffee32c3acb6fcd0ca417cf6f3a"`); nothing else about its form is promised.
    pub id: heapless::String<ACCOUNT_ID_CAP>,
    /// `type_id`.
    pub type_id: i64,
    /// `reference_type`, e.g. `CustomerAccount`.
    pub reference_type: heapless::String<32>,
    /// First name.
    pub first_name: heapless::String<64>,
    /// Last name.
    pub last_name: heapless::String<64>,
    /// Email.
    pub email: heapless::String<254>,
    /// Phone number.
    pub phone_number: heapless::String<32>,
    /// Locale, e.g. `en`.
    pub locale: heapless::String<16>,
    /// Account state.
    pub state: i64,
    /// Email opt-in status.
    pub optin_status_email: i64,
    /// Push-notification opt-in status.
    pub optin_status_pn: i64,
    /// An email change awaits confirmation.
    pub has_pending_email_change: bool,
    /// A phone change awaits confirmation.
    pub has_pending_phone_number_change: bool,
    /// Registered through a social login.
    pub is_social: bool,
    /// `YYYY-MM-DD hh:mm:ss`.
    pub updated_at: heapless::String<32>,
    /// `YYYY-MM-DD hh:mm:ss`.
    pub created_at: heapless::String<32>,
    /// Email confirmed.
    pub confirmed: bool,
}

/// The members of `customer_account` read into [`CustomerAccount`], in the order of the arms
/// in [`read_account`]: one table lookup per member instead of a chain of comparisons (flash).
const ACCOUNT_KEYS: [&str; 17] = [
    "id",
    "reference_type",
    "first_name",
    "last_name",
    "email",
    "phone_number",
    "locale",
    "updated_at",
    "created_at",
    "type_id",
    "state",
    "optin_status_email",
    "optin_status_pn",
    "has_pending_email_change",
    "has_pending_phone_number_change",
    "is_social",
    "confirmed",
];

/// Read a `customer_account` object into `a` (default).
#[inline(never)]
pub(super) fn read_account(p: &mut Parser<'_>, a: &mut CustomerAccount) -> Result<(), JsonError> {
    const ID_FIELD: &str = "customer_account.id";
    let mut seen = Seen::new();
    p.object("customer_account", |p, key| {
        let Some(i) = ACCOUNT_KEYS.iter().position(|k| k.as_bytes() == key) else {
            return p.skip();
        };
        // Text members: `null` reads as empty; a repeated member replaces the earlier value.
        let mut member: Text<'_> = match i {
            0 => {
                seen.first(1, ID_FIELD)?;
                // Too long is `Capacity`, never truncated; a non-string is `Malformed`.
                return p.string_into(&mut crate::json::text(&mut a.id), ID_FIELD);
            }
            1 => clear(&mut a.reference_type),
            2 => clear(&mut a.first_name),
            3 => clear(&mut a.last_name),
            4 => clear(&mut a.email),
            5 => clear(&mut a.phone_number),
            6 => clear(&mut a.locale),
            7 => clear(&mut a.updated_at),
            8 => clear(&mut a.created_at),
            // Typed members: `null` leaves the default.
            _ => {
                let field = ACCOUNT_KEYS.get(i).copied().unwrap_or("customer_account");
                if p.null() {
                    return Ok(());
                }
                match i {
                    9 => a.type_id = p.i64(field)?,
                    10 => a.state = p.i64(field)?,
                    11 => a.optin_status_email = p.i64(field)?,
                    12 => a.optin_status_pn = p.i64(field)?,
                    13 => a.has_pending_email_change = p.bool(field)?,
                    14 => a.has_pending_phone_number_change = p.bool(field)?,
                    15 => a.is_social = p.bool(field)?,
                    _ => a.confirmed = p.bool(field)?,
                }
                return Ok(());
            }
        };
        let field = ACCOUNT_KEYS.get(i).copied().unwrap_or("customer_account");
        p.nullable_string_into(&mut member, field).map(drop)
    })?;
    seen.required(1, ID_FIELD)?;
    // Opaque, but never empty and never a control character (it is printed and logged).
    if a.id.is_empty() || a.id.chars().any(char::is_control) {
        return Err(JsonError::Malformed(ID_FIELD));
    }
    Ok(())
}

/// Empty a text member before it is read again, as a [`Sink`].
fn clear<const N: usize>(s: &mut heapless::String<N>) -> Text<'_> {
    s.clear();
    text(s)
}

/// Read the answer of a protected customer call that returns the account
/// (`{"status":"OK","code":200,"data":{"customer_account":{…}}}`, e.g. `GET /api/customers/me`).
// Out of line: the account is read into a local and copied into the caller's `Result`;
// inlined, that working copy (0.7 KiB) would stay in the caller's frame, which in a protected
// call's caller sits under the whole sign-in.
#[inline(never)]
pub fn read_customer_account(response: Response<'_>) -> Result<CustomerAccount, Error> {
    let mut account = CustomerAccount::default();
    let mut seen = Seen::new();
    read_envelope(response, &mut |p, key| match key {
        k if is(k, "customer_account") => {
            seen.first(1, "customer_account")?;
            read_account(p, &mut account)
        }
        _ => p.skip(),
    })?;
    seen.required(1, "customer_account")
        .map_err(|e| e.into_error(response.body))?;
    Ok(account)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customer_resource() {
        let body = br#"{"status":"OK","code":200,"data":{"customer_account":{"id":"01e6d2c9-976b-4953-91e6-3dade887a4c7","email":"a@b.c"}}}"#;
        assert_eq!(
            read_customer_account(Response::new(200, body))
                .unwrap()
                .email,
            "a@b.c"
        );
        assert!(matches!(
            read_customer_account(Response::new(401, b"{}")),
            Err(Error::Provider { status: 401, .. })
        ));
    }
}
