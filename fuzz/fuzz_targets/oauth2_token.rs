//! `oauth2::read_token_response` under `Quirks::DEFAULT`, `Quirks::STRICT` and a mix chosen by
//! the input (`T<bits>` flag): tokens are visible ASCII, expiry matches `expires_in`, whatever
//! STRICT accepts DEFAULT accepts identically, values agree with serde_json, errors redact, and
//! no error about a 2xx answer prints a value of its credential members (wherever its JSON starts).
#![no_main]
use libfuzzer_sys::fuzz_target;
use ssoflow_core::oauth2::read_token_response;
use ssoflow_core::{AccessToken, Expiry, Instant, Quirks, Response, Secret, TokenSet};
use ssoflow_fuzz::{
    Record, assert_token, check_error, configs::CLIENT_SECRET, count, fixed_text, token_values,
};

fn check(set: &TokenSet, body: &[u8], now: Instant, quirks: Quirks, status: u16) {
    assert!(
        quirks.is_success(status),
        "token accepted with status {status} under {quirks:?}"
    );
    assert_token(set.access.value.expose(), "access_token");
    if let Some(r) = &set.refresh {
        assert_token(r.expose(), "refresh_token");
    }
    match set.expires_in {
        Some(s) => assert_eq!(set.access.expiry, Expiry::At(now.plus_secs(s))),
        None => assert_eq!(set.access.expiry, Expiry::Unknown),
    }
    // Debug never shows a secret: swapping the secrets for others does not change it.
    let swapped = TokenSet {
        access: AccessToken {
            value: Secret::new("x", "x").unwrap(),
            expiry: set.access.expiry,
        },
        refresh: set.refresh.as_ref().map(|_| Secret::new("y", "y").unwrap()),
        scope: set.scope.clone(),
        expires_in: set.expires_in,
    };
    assert_eq!(
        format!("{set:?}"),
        format!("{swapped:?}"),
        "TokenSet Debug shows a secret"
    );
    // What serde_json reads agrees, when it reads the body at all. Only members named once
    // are compared: with duplicates serde_json keeps the last (and ours refuses them, except
    // a `null` duplicate of an optional member, see README.md F7).
    if let Ok(serde_json::Value::Object(m)) = serde_json::from_slice::<serde_json::Value>(body) {
        let once = |k: &str| count(body, format!("\"{k}\"").as_bytes()) == 1;
        if once("access_token") {
            assert_eq!(
                m.get("access_token").and_then(|v| v.as_str()),
                Some(set.access.value.expose()),
                "access_token differs from serde_json's"
            );
        }
        if let Some(r) = set.refresh.as_ref().filter(|_| once("refresh_token")) {
            assert_eq!(
                m.get("refresh_token").and_then(|v| v.as_str()),
                Some(r.expose())
            );
        }
        if let Some(s) = set.scope.as_ref().filter(|_| once("scope")) {
            assert_eq!(m.get("scope").and_then(|v| v.as_str()), Some(s.as_str()));
        }
        if let Some(e) = set.expires_in.filter(|_| once("expires_in")) {
            let theirs = match m.get("expires_in") {
                Some(serde_json::Value::Number(n)) => n.as_u64(),
                Some(serde_json::Value::String(s)) => s.parse().ok(),
                _ => None,
            };
            assert_eq!(theirs, Some(e), "expires_in differs from serde_json's");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let rec = Record::parse(data);
    let now = Instant::from_millis(1_000u64.saturating_add(rec.flags.advance_ms));
    let headers = rec.header_views();
    let response = Response::new(rec.status, rec.body).with_headers(&headers);
    let bits = rec.flags.advance_ms / 1000;
    let mixed = Quirks::DEFAULT
        .with_expires_in_as_string(bits & 1 != 0)
        .with_missing_token_type(bits & 2 != 0)
        .with_error_in_success_body(bits & 4 != 0)
        .with_any_2xx(bits & 8 != 0)
        .with_keep_refresh_token(bits & 16 != 0);
    let mut results = Vec::new();
    for q in [Quirks::DEFAULT, Quirks::STRICT, mixed] {
        let r = read_token_response(now, response, q);
        match &r {
            Ok(set) => check(set, rec.body, now, q, rec.status),
            Err(e) => {
                check_error(e, Some(rec.body), &[CLIENT_SECRET]);
                // A 2xx token answer never reaches an error's text (issue 17 item 3).
                if (200..300).contains(&rec.status) {
                    let shown = format!("{e} {e:?}");
                    let fixed = fixed_text(e);
                    for value in token_values(rec.body)
                        .into_iter()
                        .filter(|v| !fixed.contains(v.as_str()))
                    {
                        assert!(
                            !shown.contains(value.as_str()),
                            "an error about a 2xx token answer prints {value:?}: {shown}"
                        );
                    }
                }
            }
        }
        results.push(r);
    }
    // DEFAULT is at least as lenient as STRICT, and as any mix that reads `error` in 2xx bodies.
    if let Ok(strict) = &results[1] {
        assert_eq!(
            results[0].as_ref().ok(),
            Some(strict),
            "STRICT accepts what DEFAULT refuses"
        );
    }
    if mixed.error_in_success_body() {
        if let Ok(m) = &results[2] {
            assert_eq!(
                results[0].as_ref().ok(),
                Some(m),
                "{mixed:?} accepts what DEFAULT refuses"
            );
        }
    }
});
