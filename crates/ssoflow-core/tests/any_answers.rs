//! Property: whatever a server answers — any status, any bytes — every OAuth 2.0 and PAR Ordering
//! flow and the session end within a few steps in an output or a typed error, never a panic.

use proptest::prelude::*;
use ssoflow_core::session::{Access, Call, Session};
use ssoflow_core::{
    AccessToken, Expiry, Flow, Instant, Response, Secret, Step, oauth2, par_ordering,
};

/// Drive `flow` with `answers` (repeating the last); `true` when it ended within `max` polls.
fn ends<F: Flow>(mut flow: F, answers: &[(u16, Vec<u8>)], max: usize) -> bool {
    let mut buf = vec![0u8; 8192];
    let mut out = None;
    for i in 0..max {
        match flow.poll(Instant::from_millis(i as u64), &mut buf) {
            Ok(Step::Send(_)) => {
                let (status, body) = answers
                    .get(i)
                    .or(answers.last())
                    .cloned()
                    .unwrap_or((200, Vec::new()));
                if flow
                    .handle(
                        Instant::from_millis(i as u64),
                        Response::new(status, &body),
                        &mut out,
                    )
                    .is_err()
                {
                    return out.is_none();
                }
            }
            Ok(Step::Done) => return out.is_some(),
            Err(_) => return true,
        }
    }
    false
}

fn answer() -> impl Strategy<Value = (u16, Vec<u8>)> {
    let json = prop_oneof![
        Just(br#"{"access_token":"a","token_type":"Bearer","expires_in":60,"refresh_token":"r"}"#.to_vec()),
        Just(br#"{"status":"OK","code":200,"data":{"oauth_token":{"access_token":"m","expires_in":0}}}"#.to_vec()),
        Just(include_bytes!("fixtures/seeds/000_sign_in_response_dlc.json").to_vec()),
        Just(br#"{"status":"ERROR","code":422}"#.to_vec()),
        Just(br#"{"error":"invalid_grant"}"#.to_vec()),
        proptest::collection::vec(any::<u8>(), 0..256),
    ];
    (
        prop_oneof![Just(200u16), Just(201), Just(401), Just(500), 100u16..600],
        json,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_flow_ends(answers in proptest::collection::vec(answer(), 1..6)) {
        let client = oauth2::Client::new("https://a.example/token", "id").unwrap().with_secret("s").unwrap();
        prop_assert!(ends(oauth2::client_credentials(&client, None).unwrap(), &answers, 4));
        prop_assert!(ends(oauth2::password(&client, "u", "p", None).unwrap(), &answers, 4));
        prop_assert!(ends(oauth2::refresh(&client, "r", None).unwrap(), &answers, 4));
        prop_assert!(ends(oauth2::token_exchange(&client, "t", oauth2::ACCESS_TOKEN_TYPE, None, None).unwrap(), &answers, 4));
        prop_assert!(ends(oauth2::authorization_code(&client, "c", "https://b.example/cb", None).unwrap(), &answers, 4));
        let par = par_ordering::ParConfig::new("https://p.example", "k", "id", "s").unwrap();
        let mut ids = par_ordering::RequestIds::new([1; 16]);
        prop_assert!(ends(par_ordering::m2m_token(&par, &mut ids), &answers, 4));
        // M2M + sign-in, one M2M re-fetch and one retry at most: 5 requests, then done.
        prop_assert!(ends(par_ordering::sign_in(&par, None, "subject", par_ordering::RequestIds::new([2; 16])).unwrap(), &answers, 8));
        let cached = AccessToken { value: Secret::new("m2m", "t").unwrap(), expiry: Expiry::Unknown };
        prop_assert!(ends(par_ordering::sign_in(&par, Some(cached), "subject", par_ordering::RequestIds::new([3; 16])).unwrap(), &answers, 8));
    }

    #[test]
    fn a_protected_call_never_retries_more_than_once(statuses in proptest::collection::vec(prop_oneof![Just(401u16), Just(200), Just(500)], 1..10)) {
        let mut session: Session<AccessToken> = Session::new(1_000);
        let mut call = Call::new();
        let mut sent = 0;
        for (i, status) in statuses.iter().enumerate() {
            let now = Instant::from_millis(i as u64);
            let generation = match session.access(now, None) {
                Access::Ready { generation, .. } => generation,
                Access::SignIn { .. } => session.signed_in(now, AccessToken { value: Secret::new("t", "t").unwrap(), expiry: Expiry::Unknown }),
                Access::Wait { .. } | Access::Failed(_) => unreachable!("one caller never waits, nothing fails"),
            };
            sent += 1;
            match call.on_status(&mut session, generation, *status) {
                Ok(ssoflow_core::session::Verdict::Retry) => continue,
                Ok(ssoflow_core::session::Verdict::Done) | Err(_) => break,
            }
        }
        prop_assert!(sent <= 2);
    }
}
