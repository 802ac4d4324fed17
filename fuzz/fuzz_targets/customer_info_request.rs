//! The ordering application's side of PAR Ordering: `parse_customer_info_request` and
//! `serve_customer_info`. Input: `body \xff first \xff last \xff email \xff phone \xff n`.
//! The answer is one of the documented statuses; a 200 body is valid JSON that reads back as
//! exactly what the lookup returned (escaping is right); a parsed uuid agrees with serde_json.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ssoflow_core::par_ordering::{
    CustomerDetails, CustomerInfo, parse_customer_info_request, serve_customer_info,
    write_customer_info,
};
use ssoflow_fuzz::{check_error, split_at_byte, text};

fuzz_target!(|data: &[u8]| {
    let (body, rest) = split_at_byte(data, 0xff);
    let (first, rest) = split_at_byte(rest, 0xff);
    let (last, rest) = split_at_byte(rest, 0xff);
    let (email, rest) = split_at_byte(rest, 0xff);
    let (phone, rest) = split_at_byte(rest, 0xff);
    let out_len = rest.first().map_or(4096, |&n| usize::from(n) * 8);
    let (first, last, email, phone) = (text(first), text(last), text(email), text(phone));

    let parsed = parse_customer_info_request(body);
    match &parsed {
        Ok(r) => {
            assert!(!r.customer_account_uuid.is_empty());
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
                assert_eq!(
                    v["customer_account_uuid"].as_str(),
                    Some(r.customer_account_uuid.as_str()),
                    "uuid differs from serde_json's"
                );
            }
        }
        Err(e) => check_error(e, Some(body), &[]),
    }

    // write_customer_info escapes whatever it is given: serde_json reads back the same text.
    let mut direct = vec![0u8; out_len];
    let info = CustomerInfo {
        customer_account_uuid: &first,
        first_name: &last,
        last_name: &email,
        email: &phone,
        phone_number: &first,
    };
    if let Ok(b) = write_customer_info(&info, &mut direct) {
        let v: serde_json::Value =
            serde_json::from_slice(b).expect("write_customer_info wrote invalid JSON");
        assert_eq!(v["customer_account_uuid"].as_str(), Some(first.as_str()));
        assert_eq!(v["first_name"].as_str(), Some(last.as_str()));
        assert_eq!(v["last_name"].as_str(), Some(email.as_str()));
        assert_eq!(v["email"].as_str(), Some(phone.as_str()));
    }
    let mut out = vec![0u8; out_len];
    let mut asked = None;
    let (status, answer) = serve_customer_info(body, &mut out, |id| {
        asked = Some(id.to_owned());
        if first == "unknown" {
            return None;
        }
        // The lookup answers about the uuid it was asked for.
        Some(CustomerDetails {
            first_name: &first,
            last_name: &last,
            email: &email,
            phone_number: &phone,
        })
    });
    let answer_json: serde_json::Value = serde_json::from_slice(answer).unwrap_or_else(|e| {
        panic!(
            "answer ({status}) is not JSON ({e}): {:?}",
            String::from_utf8_lossy(answer)
        )
    });
    match status {
        200 => {
            let id = asked.clone().expect("200 without a lookup");
            assert_eq!(
                parsed
                    .as_ref()
                    .ok()
                    .map(|r| r.customer_account_uuid.as_str()),
                Some(id.as_str())
            );
            assert_eq!(
                answer_json["customer_account_uuid"].as_str(),
                Some(id.as_str())
            );
            assert_eq!(answer_json["first_name"].as_str(), Some(first.as_str()));
            assert_eq!(answer_json["last_name"].as_str(), Some(last.as_str()));
            assert_eq!(answer_json["email"].as_str(), Some(email.as_str()));
            assert_eq!(answer_json["phone_number"].as_str(), Some(phone.as_str()));
            assert!(answer.len() <= out_len);
        }
        400 => assert!(parsed.is_err() && asked.is_none()),
        404 => assert!(parsed.is_ok() && first == "unknown"),
        500 => assert!(parsed.is_ok() && asked.is_some()),
        s => panic!("unexpected status {s}"),
    }
});
