//! PAR Ordering sign-in (`sign_in`): records answer the flow's requests in order (M2M token,
//! sign-in, a 401 and the retry…), with and without a cached M2M token (first byte's low bit),
//! on a clock the records move. Terminates within 16 polls, never sends after `Done` or an
//! error, outputs are checked (a non-empty account id without control characters, ttl and expiry agreeing, visible-ASCII tokens, redacted Debug).
#![no_main]
use libfuzzer_sys::fuzz_target;
use ssoflow_core::par_ordering::{RequestIds, SignIn, sign_in};
use ssoflow_core::{AccessToken, Expiry, Instant, Secret};
use ssoflow_fuzz::{Outcome, assert_token, configs, drive, records};

const SUBJECT: &str = "test-1100-jane.doe@partech.com-Jane-Doe-+41767567126";

fuzz_target!(|data: &[u8]| {
    let Some((&mode, data)) = data.split_first() else {
        return;
    };
    let recs = records(data, 8);
    let config = configs::par();
    let cached = (mode & 1 == 1).then(|| AccessToken {
        value: Secret::new("cached-m2m-TOKEN", "t").unwrap(),
        expiry: if mode & 2 == 2 {
            Expiry::At(Instant::from_millis(u64::from(mode >> 2) * 1000))
        } else {
            Expiry::Unknown
        },
    });
    let mut flow = sign_in(&config, cached, SUBJECT, RequestIds::new([mode; 16])).unwrap();
    let mut clock = 0;
    let (out, _) = drive(
        &mut flow,
        &recs,
        &mut clock,
        &[configs::CLIENT_SECRET, "cached-m2m-TOKEN"],
    );
    if let Some(m) = flow.m2m() {
        assert_token(m.value.expose(), "m2m");
    }
    if let Outcome::Done(s) = out {
        let SignIn {
            customer,
            menu_token,
            menu_token_ttl_min,
            dlc_token,
            dlc_token_ttl_min,
        } = &s;
        // The id is opaque (seed 000 shows a UUID and 32 hex digits): never empty, no control
        // characters.
        assert!(
            !customer.id.is_empty() && !customer.id.chars().any(char::is_control),
            "account id: {:?}",
            customer.id
        );
        // `ttl` is minutes: a known ttl always gives a known expiry.
        assert_eq!(
            menu_token_ttl_min.is_some(),
            matches!(menu_token.expiry, Expiry::At(_)),
            "menu token ttl and expiry disagree"
        );
        assert_token(menu_token.value.expose(), "menu token");
        if let Some(d) = dlc_token {
            assert_token(d.value.expose(), "dlc token");
        }
        let x = |t: &AccessToken| AccessToken {
            value: Secret::new("x", "x").unwrap(),
            expiry: t.expiry,
        };
        let swapped = SignIn {
            customer: customer.clone(),
            menu_token: x(menu_token),
            menu_token_ttl_min: *menu_token_ttl_min,
            dlc_token: dlc_token.as_ref().map(x),
            dlc_token_ttl_min: *dlc_token_ttl_min,
        };
        assert_eq!(
            format!("{s:?}"),
            format!("{swapped:?}"),
            "SignIn Debug shows a token"
        );
    }
});
