//! `oauth2::read_error`: always `OAuth` or `Provider` with the response's status, bounded and
//! printable excerpts, no secret of the body in `Display`/`Debug`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ssoflow_core::oauth2::read_error;
use ssoflow_core::{Error, Response};
use ssoflow_fuzz::{Record, check_error};

fuzz_target!(|data: &[u8]| {
    let rec = Record::parse(data);
    let e = read_error(Response::new(rec.status, rec.body));
    match &e {
        Error::OAuth { status, error, .. } => {
            assert_eq!(*status, rec.status);
            assert!(error.len() <= 48);
            // The code is what serde_json reads as `error`.
            if let Ok(serde_json::Value::Object(m)) =
                serde_json::from_slice::<serde_json::Value>(rec.body)
            {
                assert_eq!(
                    m.get("error").and_then(|v| v.as_str()),
                    Some(error.as_str())
                );
            }
        }
        Error::Provider { status, .. } => assert_eq!(*status, rec.status),
        other => panic!("read_error returned {other:?}"),
    }
    check_error(&e, Some(rec.body), &[]);
});
