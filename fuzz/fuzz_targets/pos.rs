//! POS API: record 0 answers `create_account`, `login`, `refresh` and `read_admin`, under
//! `Quirks::DEFAULT` and `Quirks::STRICT`. 201 is success under both; tokens are visible
//! ASCII; a refresh answer without `refresh_token` keeps the old one (DEFAULT) or fails
//! (STRICT); whatever STRICT accepts DEFAULT accepts identically.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ssoflow_core::pos_api::{create_account, login, read_admin, refresh};
use ssoflow_core::{Quirks, Response};
use ssoflow_fuzz::{Outcome, assert_token, check_error, configs, drive, records};

const OLD_REFRESH: &str = "old-REFRESH-token";

fuzz_target!(|data: &[u8]| {
    let recs = records(data, 2);
    let r0 = &recs[0];
    let secrets = [configs::CLIENT_SECRET, "admin-PASSWORD-1", OLD_REFRESH];
    let mut results = Vec::new();
    for quirks in [Quirks::DEFAULT, Quirks::STRICT] {
        let config = configs::pos().with_quirks(quirks);
        let mut clock = 0;

        let mut f = create_account(&config, "admin", "admin-PASSWORD-1").unwrap();
        let created = match drive(&mut f, &recs, &mut clock, &secrets).0 {
            Outcome::Done(a) => {
                assert!(!a.id.is_empty());
                Some(a)
            }
            _ => None,
        };

        let mut f = login(&config, "admin", "admin-PASSWORD-1").unwrap();
        let logged = match drive(&mut f, &recs, &mut clock, &secrets).0 {
            Outcome::Done(t) => {
                assert_token(t.access.value.expose(), "access_token");
                if let Some(r) = &t.refresh {
                    assert_token(r.expose(), "refresh_token");
                }
                Some(t)
            }
            _ => None,
        };

        let mut f = refresh(&config, OLD_REFRESH).unwrap();
        let refreshed = match drive(&mut f, &recs, &mut clock, &secrets).0 {
            Outcome::Done(t) => {
                assert_token(t.access.value.expose(), "access_token");
                let r = t
                    .refresh
                    .as_ref()
                    .expect("refresh answer without a refresh token");
                assert_token(r.expose(), "refresh_token");
                let sent = serde_json::from_slice::<serde_json::Value>(r0.body)
                    .ok()
                    .and_then(|v| {
                        v.get("refresh_token")
                            .and_then(|x| x.as_str())
                            .map(str::to_owned)
                    });
                if let Some(sent) = sent {
                    assert_eq!(r.expose(), sent);
                } else if serde_json::from_slice::<serde_json::Value>(r0.body).is_ok() {
                    assert!(
                        quirks.keep_refresh_token(),
                        "STRICT kept an old refresh token"
                    );
                    assert_eq!(r.expose(), OLD_REFRESH);
                }
                Some(t)
            }
            _ => None,
        };

        let admin = read_admin(Response::new(r0.status, r0.body));
        match &admin {
            Ok(a) => assert!(!a.id.is_empty()),
            Err(e) => check_error(e, Some(r0.body), &secrets),
        }
        results.push((created, logged, refreshed));
    }
    let (d, s) = (&results[0], &results[1]);
    if s.0.is_some() {
        assert_eq!(
            d.0, s.0,
            "create_account: STRICT accepts what DEFAULT refuses"
        );
    }
    if s.1.is_some() {
        assert_eq!(d.1, s.1, "login: STRICT accepts what DEFAULT refuses");
    }
    if s.2.is_some() {
        assert_eq!(d.2, s.2, "refresh: STRICT accepts what DEFAULT refuses");
    }
});
