//! Stream: record 0 answers `generate_session` (and the client-credentials `api_token`), record
//! 1 answers `redeem` of the redirect URL built from the login token. The redirect URL is as
//! long as `redirect_url_len` says, at most `MAX_REDIRECT_URL_LEN`, carries the token back
//! exactly, and passes `redeem`'s URL check; a too-small buffer is `BufferTooSmall`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ssoflow_core::stream::{
    MAX_REDIRECT_URL_LEN, Role, SessionRequest, api_token, generate_session, redeem,
};
use ssoflow_core::{Error, Secret};
use ssoflow_fuzz::{Outcome, assert_token, configs, drive, records};

const REQUEST: SessionRequest<'static> = SessionRequest {
    provider_org_id: "restaurant_chain_abc_123",
    role: Role::Manager,
    email: "sarah.manager@restaurantchain.com",
    full_name: "Sarah Johnson",
    phone_number: "+1-555-123-4567",
};

fuzz_target!(|data: &[u8]| {
    let recs = records(data, 3);
    let config = configs::stream();
    let mut clock = 0;
    let secrets = [configs::CLIENT_SECRET, "api-TOKEN-abc"];

    let mut flow = api_token(&config).unwrap();
    let _ = drive(&mut flow, &recs[..1], &mut clock, &secrets);

    let generate = |clock: &mut u64| {
        let mut flow = generate_session(&config, "api-TOKEN-abc", &REQUEST).unwrap();
        drive(&mut flow, &recs[..1], clock, &secrets).0
    };
    let out = generate(&mut clock);
    let mut url_buf = vec![0u8; MAX_REDIRECT_URL_LEN];
    let url: String = match out {
        Outcome::Done(token) => {
            let need = token.redirect_url_len(&config);
            assert!(need <= MAX_REDIRECT_URL_LEN);
            let _ = format!("{token:?}");
            let url = token
                .into_redirect_url(&config, &mut url_buf)
                .expect("redirect url")
                .to_owned();
            assert_eq!(url.len(), need, "redirect_url_len is wrong");
            let code = url
                .strip_prefix("https://brand.example/redirect/sso?code=")
                .expect("redirect URL shape");
            let decoded = decode(code);
            assert_token(&decoded, "sso_login_token");
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(recs[0].body) {
                assert_eq!(v["sso_login_token"].as_str(), Some(decoded.as_str()));
            }
            // The same answer again, into a buffer one byte short: BufferTooSmall, exact size.
            if let Outcome::Done(t) = generate(&mut clock) {
                let mut short = vec![0u8; need - 1];
                assert_eq!(
                    t.into_redirect_url(&config, &mut short).unwrap_err(),
                    Error::BufferTooSmall { required: need }
                );
            } else {
                panic!("the same answer read twice gave different results");
            }
            url
        }
        _ => "https://brand.example/redirect/sso?code=fixed-LOGIN-token".to_owned(),
    };

    let Ok(mut flow) = redeem(&url) else {
        panic!("redeem refuses the redirect URL {url:?}")
    };
    let rest = if recs.len() > 1 {
        &recs[1..]
    } else {
        &recs[..]
    };
    let (out, _) = drive(&mut flow, rest, &mut clock, &secrets);
    if let Outcome::Done(s) = out {
        assert_token(s.session.expose(), "session");
        let mut x = s.clone();
        x.session = Secret::new("x", "x").unwrap();
        assert_eq!(
            format!("{s:?}"),
            format!("{x:?}"),
            "StreamSession Debug shows the session"
        );
        if let Some(r) = s.role {
            assert_eq!(Role::parse(r.as_str()), Ok(r));
        }
    }
});

fn decode(v: &str) -> String {
    let b = v.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                out.push(
                    u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap(), 16).unwrap(),
                );
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}
