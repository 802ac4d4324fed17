//! PAR Ordering M2M token (`m2m_token`): one record as the answer to the envelope-wrapped
//! `POST /api/oauth/tokens`. The token is visible ASCII and agrees with serde_json; errors redact.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ssoflow_core::par_ordering::{RequestIds, m2m_token};
use ssoflow_core::{AccessToken, Secret};
use ssoflow_fuzz::{Outcome, assert_token, configs, drive, records};

fuzz_target!(|data: &[u8]| {
    let recs = records(data, 2);
    let config = configs::par();
    let mut ids = RequestIds::new([3; 16]);
    let mut flow = m2m_token(&config, &mut ids);
    let mut clock = 0;
    let (out, _) = drive(&mut flow, &recs, &mut clock, &[configs::CLIENT_SECRET]);
    if let Outcome::Done(t) = out {
        assert_token(t.value.expose(), "m2m access_token");
        let swapped = AccessToken {
            value: Secret::new("x", "x").unwrap(),
            expiry: t.expiry,
        };
        assert_eq!(format!("{t:?}"), format!("{swapped:?}"));
        let body = recs[0].body;
        // Compared only when each member is named once (serde_json keeps the last duplicate).
        let once = |k: &str| ssoflow_fuzz::count(body, format!("\"{k}\"").as_bytes()) == 1;
        let unique = ["status", "data", "oauth_token", "access_token"]
            .iter()
            .all(|k| once(k));
        if let (true, Ok(v)) = (unique, serde_json::from_slice::<serde_json::Value>(body)) {
            assert_eq!(v["status"].as_str(), Some("OK"));
            assert_eq!(
                v["data"]["oauth_token"]["access_token"].as_str(),
                Some(t.value.expose()),
                "token differs from serde_json's"
            );
        }
    }
});
