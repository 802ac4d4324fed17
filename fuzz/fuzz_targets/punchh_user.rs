//! Punchh user information (`punchh::user_info` and `User::from_json`): one record answers
//! `GET /api/auth/users`. The flow's user equals `User::from_json` of the body; values agree
//! with serde_json; the user-level tokens (`authentication_token`, `access_token`) are visible
//! ASCII and never printed.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ssoflow_core::punchh::{User, user_info};
use ssoflow_core::{Error, Secret};
use ssoflow_fuzz::{Outcome, assert_token, check_error, configs, drive, records};

fn check_user(u: &User, body: &[u8]) {
    if let Some(t) = &u.authentication_token {
        assert_token(t.expose(), "authentication_token");
        let mut s = u.clone();
        s.authentication_token = Some(Secret::new("x", "x").unwrap());
        assert_eq!(
            format!("{u:?}"),
            format!("{s:?}"),
            "User Debug shows the token"
        );
    }
    if let Some(t) = &u.access_token {
        assert_token(t.expose(), "access_token");
        let mut s = u.clone();
        s.access_token = Some(Secret::new("x", "x").unwrap());
        assert_eq!(
            format!("{u:?}"),
            format!("{s:?}"),
            "User Debug shows the user-level access token"
        );
    }
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        assert_eq!(v["id"].as_u64(), Some(u.id));
        let text = |k: &str| v[k].as_str().unwrap_or("").to_owned();
        assert_eq!(text("email"), u.email.as_str());
        assert_eq!(text("first_name"), u.first_name.as_str());
        assert_eq!(text("last_name"), u.last_name.as_str());
        assert_eq!(v["phone"].as_str(), u.phone.as_deref());
    }
}

fuzz_target!(|data: &[u8]| {
    let recs = records(data, 2);
    let body = recs[0].body;
    let direct = User::from_json(body);
    match &direct {
        Ok(u) => check_user(u, body),
        Err(e) => check_error(e, Some(body), &[]),
    }
    let config = configs::punchh();
    let mut flow = user_info(&config, "user-ACCESS-token").unwrap();
    let mut clock = 0;
    let (out, _) = drive(
        &mut flow,
        &recs,
        &mut clock,
        &[configs::CLIENT_SECRET, "user-ACCESS-token"],
    );
    match out {
        Outcome::Done(u) => {
            assert_eq!(
                Some(&u),
                direct.as_ref().ok(),
                "flow and User::from_json disagree"
            );
            assert!((200..300).contains(&recs[0].status));
        }
        Outcome::Failed(e) => {
            if recs[0].status == 412 {
                assert_eq!(e, Error::Digest);
            }
        }
        Outcome::OutOfRecords => {}
    }
});
