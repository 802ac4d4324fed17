//! The device authorization grant (RFC 8628): record 0 answers the device authorization request,
//! records 1.. answer the polls. On a simulated clock that jumps to every `Paced::Wait`:
//! the codes shown are printable (no control characters, http(s) URLs of visible ASCII), the
//! interval is at least 1 s and at most `expires_in`; no poll comes sooner than the interval in
//! force after the previous answer, none after the codes expired, and there are at most
//! `expires_in / interval + 1` of them (no busy polling, whatever the answers); every wait moves
//! the clock; errors redact the device code, the client secret and any token.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ssoflow_core::oauth2::{self, DeviceAuthorization};
use ssoflow_core::{Flow, Instant, Paced, PacedFlow, Response, Step};
use ssoflow_fuzz::{
    Record, assert_token, check_error, check_request, configs, distinctive, records,
};

/// Most poll answers read from one input.
const MAX_RECORDS: usize = 64;

fn authorization(r: &Record<'_>, now: Instant) -> Option<DeviceAuthorization> {
    let client = configs::oauth2_client();
    let mut flow =
        oauth2::device_authorization(&client, "https://auth.example/device", Some("pos")).unwrap();
    let mut buf = vec![0u8; 4096];
    let Ok(Step::Send(req)) = flow.poll(now, &mut buf) else {
        panic!("the device authorization request is written first")
    };
    check_request(&req);
    drop(req);
    let headers = r.header_views();
    let response = Response::new(r.status, r.body).with_headers(&headers);
    let mut out = None;
    if let Err(e) = flow.handle(now, response, &mut out) {
        assert!(out.is_none(), "a failed handle left an output");
        check_error(&e, Some(r.body), &[configs::CLIENT_SECRET]);
        return None;
    }
    match flow.poll(now, &mut buf) {
        Ok(Step::Done) => Some(out.expect("Done with an empty output slot")),
        other => panic!("an answer read is the output: {other:?}"),
    }
}

fn check_authorization(a: &DeviceAuthorization, now: Instant) {
    assert!(!a.user_code().is_empty() && !a.user_code().chars().any(char::is_control));
    for uri in [Some(a.verification_uri()), a.verification_uri_complete()]
        .into_iter()
        .flatten()
    {
        let lower = uri.to_ascii_lowercase();
        assert!(
            lower.starts_with("http://") || lower.starts_with("https://"),
            "{uri:?}"
        );
        assert!(uri.bytes().all(|b| (0x21..0x7f).contains(&b)), "{uri:?}");
    }
    assert_token(a.device_code().expose(), "device_code");
    assert!(a.expires_in_secs() >= 1);
    assert!(a.interval_secs() >= oauth2::MIN_INTERVAL_SECS);
    assert!(a.interval_secs() <= a.expires_in_secs());
    assert_eq!(a.expires_at(), now.plus_secs(a.expires_in_secs()));
    let code = a.device_code().expose();
    // (Unless the server put the same text in a field that is shown: a URI, the user code.)
    let shown_elsewhere = [a.user_code(), a.verification_uri()]
        .into_iter()
        .chain(a.verification_uri_complete())
        .any(|f| f.contains(code));
    // (Nor when the code is a piece of the Debug's own text: a field or type name, found by
    // the CI smoke run with the device code "ification_ur".)
    let in_names = "DeviceAuthorization device_code user_code verification_uri \
                    verification_uri_complete expires_in interval received Secret Instant Some None";
    if distinctive(code) && !shown_elsewhere && !in_names.contains(code) {
        assert!(!format!("{a:?}").contains(code), "the device code in Debug");
    }
}

fuzz_target!(|data: &[u8]| {
    let recs = records(data, MAX_RECORDS);
    let start = Instant::from_millis(1_000);
    let Some(a) = authorization(&recs[0], start) else {
        return;
    };
    check_authorization(&a, start);
    let code = a.device_code().expose().to_owned();
    let secrets = [configs::CLIENT_SECRET, code.as_str()];

    let client = configs::oauth2_client();
    let mut flow = oauth2::device_token(&client, &a).unwrap();
    let mut now = start;
    let mut buf = vec![0u8; 8192];
    let mut answers = recs[1..].iter();
    // The previous answer's time and the interval in force after it: the next poll may not
    // come sooner.
    let mut earliest = start.plus_secs(a.interval_secs());
    let mut polls = 0u64;
    let mut out = None;
    // Every step either moves the clock, sends (at most one per record), or ends.
    for _ in 0..(4 * MAX_RECORDS + 8) {
        match flow.poll(now, &mut buf) {
            Ok(Paced::Wait { until }) => {
                assert!(until > now, "a wait that does not move the clock");
                assert!(until <= a.expires_at(), "waiting past the codes' expiry");
                now = until;
            }
            Ok(Paced::Send(req)) => {
                check_request(&req);
                assert!(now >= earliest, "polled sooner than the interval");
                assert!(now <= a.expires_at(), "polled after the codes expired");
                polls += 1;
                assert!(
                    polls <= a.expires_in_secs() / a.interval_secs() + 1,
                    "{polls} polls for {} s at {} s",
                    a.expires_in_secs(),
                    a.interval_secs()
                );
                let Some(r) = answers.next() else { return };
                // The answer arrives some time later (T flag).
                now = now.plus_millis(r.flags.advance_ms);
                let headers = r.header_views();
                let response = Response::new(r.status, r.body).with_headers(&headers);
                match flow.handle(now, response, &mut out) {
                    Ok(()) => {
                        earliest = now.plus_secs(flow.interval_secs().max(1));
                        assert!(flow.interval_secs() >= a.interval_secs());
                    }
                    Err(e) => {
                        assert!(out.is_none(), "a failed handle left an output");
                        check_error(&e, Some(r.body), &secrets);
                        return;
                    }
                }
                if r.flags.double_handle {
                    let had = out.is_some();
                    let again = flow.handle(now, response, &mut out);
                    assert!(again.is_err(), "a second answer accepted");
                    assert_eq!(
                        out.is_some(),
                        had,
                        "a refused answer changed the output slot"
                    );
                    return;
                }
            }
            Ok(Paced::Done) => {
                let t = out.take().expect("Done with an empty output slot");
                assert_token(t.access.value.expose(), "access_token");
                let mut again = [0u8; 64];
                assert!(flow.poll(now, &mut again).is_err(), "poll after Done");
                return;
            }
            Err(e) => {
                check_error(&e, None, &secrets);
                return;
            }
        }
    }
    panic!("the polling neither ended nor ran out of answers");
});
