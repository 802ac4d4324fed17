//! Punchh authorization code for token (`punchh::code_for_token`): one record answers the
//! signed `POST /oauth/token`. 412 is `Error::Digest`; `"scope":"null"` is no scope; tokens
//! visible ASCII; the result equals `read_token_response`'s on the same answer.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ssoflow_core::punchh::code_for_token;
use ssoflow_core::{Error, Instant, Quirks, Response};
use ssoflow_fuzz::{Outcome, assert_token, configs, drive, records};

fuzz_target!(|data: &[u8]| {
    let recs = records(data, 2);
    for quirks in [Quirks::DEFAULT, Quirks::STRICT] {
        let config = configs::punchh().with_quirks(quirks);
        let mut flow =
            code_for_token(&config, "auth-CODE-123456", "https://app.example/cb").unwrap();
        let mut clock = 0;
        let (out, _) = drive(
            &mut flow,
            &recs,
            &mut clock,
            &[configs::CLIENT_SECRET, "auth-CODE-123456"],
        );
        match out {
            Outcome::Done(t) => {
                let r = &recs[0];
                assert_ne!(r.status, 412);
                assert_token(t.access.value.expose(), "access_token");
                if let Some(rt) = &t.refresh {
                    assert_token(rt.expose(), "refresh_token");
                }
                assert_ne!(t.scope.as_deref(), Some("null"));
                let direct = ssoflow_core::oauth2::read_token_response(
                    Instant::from_millis(clock),
                    Response::new(r.status, r.body),
                    quirks,
                )
                .expect("flow accepted what read_token_response refuses");
                assert_eq!(direct.access, t.access);
                assert_eq!(direct.refresh, t.refresh);
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
