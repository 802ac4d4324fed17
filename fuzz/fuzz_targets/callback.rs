//! `oauth2::parse_callback(url, expected_state)`: input is `expected_state \xff url`. A code is
//! returned only when `state` decodes to exactly `expected_state` (non-empty) and the code is
//! non-empty and decodes from the URL; errors never print the code.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ssoflow_core::Error;
use ssoflow_core::Secret;
use ssoflow_core::oauth2::{Callback, parse_callback};
use ssoflow_fuzz::{check_error, count, split_at_byte, text};

/// The raw values of `key` in the query, as a browser would send them.
fn raw_values<'a>(url: &'a str, key: &str) -> Vec<&'a str> {
    let query = url.split_once('?').map_or(url, |(_, q)| q);
    let query = query.split('#').next().unwrap_or("");
    query
        .split('&')
        .filter_map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k == key).then_some(v)
        })
        .collect()
}

fn form_decode(v: &str) -> Option<String> {
    let mut out = Vec::new();
    let b = v.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let h = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(h, 16).ok()?);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

fuzz_target!(|data: &[u8]| {
    let (state, url) = split_at_byte(data, 0xff);
    let (state, url) = (text(state), text(url));
    let r = parse_callback(&url, &state);
    let codes = raw_values(&url, "code");
    match &r {
        Ok(cb) => {
            assert!(!state.is_empty(), "accepted with an empty expected state");
            let states = raw_values(&url, "state");
            assert_eq!(
                states.len(),
                1,
                "accepted with {} state parameters",
                states.len()
            );
            assert_eq!(
                form_decode(states[0]).as_deref(),
                Some(state.as_str()),
                "state differs"
            );
            assert_eq!(codes.len(), 1);
            assert!(!cb.code.is_empty());
            assert_eq!(form_decode(codes[0]).as_deref(), Some(cb.code.expose()));
            assert!(
                raw_values(&url, "error").is_empty(),
                "code accepted next to an error"
            );
            let swapped = Callback {
                code: Secret::new("x", "x").unwrap(),
            };
            assert_eq!(
                format!("{cb:?}"),
                format!("{swapped:?}"),
                "Callback Debug shows the code"
            );
        }
        Err(e) => {
            if let Error::OAuth { status, .. } = e {
                assert_eq!(*status, 0);
            }
            // The authorization code is a credential: it must not be printed.
            let secrets: Vec<&str> = codes
                .iter()
                .copied()
                .filter(|c| count(url.as_bytes(), c.as_bytes()) == 1)
                .collect();
            if ssoflow_fuzz::enabled("callback_code_secret") {
                check_error(e, None, &secrets);
            } else {
                check_error(e, None, &[]);
            }
        }
    }
});
