//! The ordering application's side: the `/customer-info` endpoint PAR Ordering calls to register
//! and sync customers, and the playground's test subject tokens.

use crate::json::{JsonError, Parser, is, required, set_once};
use crate::{Error, RequestBuilder};

/// The body PAR Ordering posts: `{"customer_account_uuid": …}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomerInfoRequest {
    /// The identity provider's id of the customer (a UUID in the seed; kept as sent).
    pub customer_account_uuid: heapless::String<64>,
}

/// Parse a `/customer-info` request body.
pub fn parse_customer_info_request(body: &[u8]) -> Result<CustomerInfoRequest, Error> {
    let read = || {
        let mut uuid = None;
        let mut p = Parser::new(body);
        p.object("customer-info request", |p, key| match key {
            k if is(k, "customer_account_uuid") => set_once(
                &mut uuid,
                p.string("customer_account_uuid")?,
                "customer_account_uuid",
            ),
            _ => p.skip(),
        })?;
        p.finish()?;
        let customer_account_uuid: heapless::String<64> = required(uuid, "customer_account_uuid")?;
        if customer_account_uuid.is_empty() {
            return Err(JsonError::Malformed("customer_account_uuid"));
        }
        Ok(CustomerInfoRequest {
            customer_account_uuid,
        })
    };
    read().map_err(|e| e.into_error(body))
}

/// What the application answers about a customer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CustomerInfo<'a> {
    /// The id PAR Ordering asked about.
    pub customer_account_uuid: &'a str,
    /// First name.
    pub first_name: &'a str,
    /// Last name.
    pub last_name: &'a str,
    /// Email.
    pub email: &'a str,
    /// Phone number.
    pub phone_number: &'a str,
}

/// What the application's lookup returns about a customer (the id is the one asked about).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CustomerDetails<'a> {
    /// First name.
    pub first_name: &'a str,
    /// Last name.
    pub last_name: &'a str,
    /// Email.
    pub email: &'a str,
    /// Phone number.
    pub phone_number: &'a str,
}

/// Write the `/customer-info` answer body into `out`; returns the bytes written, or
/// `BufferTooSmall { required }`.
pub fn write_customer_info<'o>(
    info: &CustomerInfo<'_>,
    out: &'o mut [u8],
) -> Result<&'o [u8], Error> {
    let mut rb = RequestBuilder::new(out, crate::Method::Post, "", "");
    rb.json_body(&[
        ("customer_account_uuid", info.customer_account_uuid),
        ("first_name", info.first_name),
        ("last_name", info.last_name),
        ("email", info.email),
        ("phone_number", info.phone_number),
    ]);
    let req = rb.finish_in_place()?;
    Ok(req.body)
}

/// Serve one `/customer-info` call: parse `body`, ask `lookup`, write the answer into `out`.
///
/// Returns the HTTP status and the body to send: 200 with the customer, 400
/// `{"error":"invalid_request",…}` for a bad body, 404 `{"error":"not_found"}` for an unknown
/// customer. Server frameworks wrap this (see the tokio driver's axum handler).
pub fn serve_customer_info<'o, 'l>(
    body: &[u8],
    out: &'o mut [u8],
    lookup: impl FnOnce(&str) -> Option<CustomerDetails<'l>>,
) -> (u16, &'o [u8]) {
    const BAD: &[u8] = br#"{"error":"invalid_request","error_description":"body must be {\"customer_account_uuid\":\"...\"}"}"#;
    const NOT_FOUND: &[u8] = br#"{"error":"not_found","error_description":"unknown customer"}"#;
    const TOO_BIG: &[u8] = br#"{"error":"server_error","error_description":"answer too large"}"#;
    let Ok(request) = parse_customer_info_request(body) else {
        return (400, BAD);
    };
    match lookup(&request.customer_account_uuid) {
        None => (404, NOT_FOUND),
        Some(d) => match write_customer_info(
            &CustomerInfo {
                customer_account_uuid: &request.customer_account_uuid,
                first_name: d.first_name,
                last_name: d.last_name,
                email: d.email,
                phone_number: d.phone_number,
            },
            out,
        ) {
            Ok(b) => (200, b),
            Err(_) => (500, TOO_BIG),
        },
    }
}

/// A playground test subject token, `test-<id>-<email>-<first name>-<last name>-<phone>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TestSubject<'a> {
    /// The identity provider's customer id.
    pub id: &'a str,
    /// Email (may itself contain `-`).
    pub email: &'a str,
    /// First name.
    pub first_name: &'a str,
    /// Last name.
    pub last_name: &'a str,
    /// Phone.
    pub phone: &'a str,
}

/// Split a test subject token; the last three fields are taken from the right because the
/// email may contain `-`. `None` when it is not of that form.
pub fn parse_test_subject(token: &str) -> Option<TestSubject<'_>> {
    let rest = token.strip_prefix("test-")?;
    let (id, rest) = rest.split_once('-')?;
    let (rest, phone) = rest.rsplit_once('-')?;
    let (rest, last_name) = rest.rsplit_once('-')?;
    let (email, first_name) = rest.rsplit_once('-')?;
    let fields = [id, email, first_name, last_name, phone];
    if fields.iter().any(|f| f.is_empty()) || !email.contains('@') {
        return None;
    }
    Some(TestSubject {
        id,
        email,
        first_name,
        last_name,
        phone,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const UUID: &str = "1df3d3b3-d2b6-4126-93f2-1fdbd419268b";
    const INFO: CustomerDetails<'static> = CustomerDetails {
        first_name: "John",
        last_name: "Doe",
        email: "john.doe@mail.com",
        phone_number: "+23533674523",
    };

    #[test]
    fn seed_request_and_answer() {
        let r = parse_customer_info_request(
            br#"{"customer_account_uuid": "1df3d3b3-d2b6-4126-93f2-1fdbd419268b"}"#,
        )
        .unwrap();
        assert_eq!(
            r.customer_account_uuid,
            "1df3d3b3-d2b6-4126-93f2-1fdbd419268b"
        );
        let mut out = [0u8; 512];
        let (status, body) = serve_customer_info(
            br#"{"customer_account_uuid":"1df3d3b3-d2b6-4126-93f2-1fdbd419268b"}"#,
            &mut out,
            |id| (id == UUID).then_some(INFO),
        );
        assert_eq!(status, 200);
        assert_eq!(
            core::str::from_utf8(body).unwrap(),
            r#"{"customer_account_uuid":"1df3d3b3-d2b6-4126-93f2-1fdbd419268b","first_name":"John","last_name":"Doe","email":"john.doe@mail.com","phone_number":"+23533674523"}"#
        );
    }

    #[test]
    fn bad_and_unknown() {
        let mut out = [0u8; 512];
        assert_eq!(serve_customer_info(b"{", &mut out, |_| Some(INFO)).0, 400);
        let mut out = [0u8; 512];
        assert_eq!(
            serve_customer_info(br#"{"customer_account_uuid":""}"#, &mut out, |_| Some(INFO)).0,
            400
        );
        let mut out = [0u8; 512];
        assert_eq!(
            serve_customer_info(br#"{"customer_account_uuid":"x"}"#, &mut out, |_| None).0,
            404
        );
        let mut out = [0u8; 16];
        assert_eq!(
            serve_customer_info(br#"{"customer_account_uuid":"x"}"#, &mut out, |_| Some(
                INFO
            ))
            .0,
            500
        );
    }

    #[test]
    fn test_subject_tokens() {
        let t = parse_test_subject("test-1100-jane.doe@partech.com-Jane-Doe-+41767567126").unwrap();
        assert_eq!(
            t,
            TestSubject {
                id: "1100",
                email: "jane.doe@partech.com",
                first_name: "Jane",
                last_name: "Doe",
                phone: "+41767567126"
            }
        );
        let t = parse_test_subject("test-7-mary-ann.lee@ex-ample.com-Mary-Lee-+1555").unwrap();
        assert_eq!(t.email, "mary-ann.lee@ex-ample.com");
        assert!(parse_test_subject("opaque-token").is_none());
        assert!(parse_test_subject("test-1-a-b").is_none());
    }
}
