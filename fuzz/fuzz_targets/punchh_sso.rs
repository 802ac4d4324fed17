//! Punchh SSO (`punchh::sso`): one record answers `POST /api/auth/sso`. 412 is always
//! `Error::Digest`; tokens are visible ASCII; `SsoLogin` Debug shows no token; errors redact.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ssoflow_core::punchh::{SsoLogin, sso};
use ssoflow_core::{Error, Secret};
use ssoflow_fuzz::{Outcome, assert_token, configs, drive, records};

pub fn swapped(l: &SsoLogin) -> SsoLogin {
    let mut user = l.user.clone();
    user.authentication_token = user
        .authentication_token
        .map(|_| Secret::new("y", "y").unwrap());
    SsoLogin {
        access_token: ssoflow_core::AccessToken {
            value: Secret::new("x", "x").unwrap(),
            expiry: l.access_token.expiry,
        },
        user,
    }
}

fuzz_target!(|data: &[u8]| {
    let recs = records(data, 2);
    for quirks in [ssoflow_core::Quirks::DEFAULT, ssoflow_core::Quirks::STRICT] {
        let config = configs::punchh().with_quirks(quirks);
        let mut flow = sso(&config, "security-TOKEN-1").unwrap();
        let mut clock = 0;
        let (out, _) = drive(
            &mut flow,
            &recs,
            &mut clock,
            &[configs::CLIENT_SECRET, "security-TOKEN-1"],
        );
        match out {
            Outcome::Done(l) => {
                assert_ne!(recs[0].status, 412);
                assert_token(l.access_token.value.expose(), "sso access_token");
                if let Some(t) = &l.user.authentication_token {
                    assert_token(t.expose(), "authentication_token");
                }
                assert_eq!(format!("{l:?}"), format!("{:?}", swapped(&l)));
                if let Ok(v) = serde_json::from_slice::<serde_json::Value>(recs[0].body) {
                    assert_eq!(
                        v["token"]["access_token"].as_str(),
                        Some(l.access_token.value.expose())
                    );
                    assert_eq!(v["user"]["id"].as_u64(), Some(l.user.id));
                }
            }
            Outcome::Failed(e) => {
                if recs[0].status == 412 {
                    assert_eq!(e, Error::Digest);
                }
            }
            Outcome::OutOfRecords => {}
        }
    }
});
