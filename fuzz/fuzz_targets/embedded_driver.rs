//! The embedded-io `Driver::run` with a PAR Ordering sign-in over an in-memory stream whose
//! peer sends the fuzz bytes (any number of pipelined responses). Ends (no hang) within the
//! driver's read bound; every request written is well-formed HTTP/1.1 whose Content-Length
//! matches its body; nothing sent after the connection is known to be closed.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ssoflow_core::par_ordering::{RequestIds, sign_in};
use ssoflow_core::session::{Policy, Session};
use ssoflow_core::{Instant, Method, RequestBuilder, TokenSet, oauth2};
use ssoflow_embedded_io::{Driver, Error};
use ssoflow_fuzz::{configs, embedded::Mock};

fn check_written(mut w: &[u8]) -> usize {
    let mut n = 0;
    while !w.is_empty() {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut r = httparse::Request::new(&mut headers);
        let head = match r.parse(w) {
            Ok(httparse::Status::Complete(h)) => h,
            other => panic!(
                "request written is not HTTP/1.1: {other:?} {:?}",
                String::from_utf8_lossy(w)
            ),
        };
        let cl: usize = r
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("content-length"))
            .and_then(|h| std::str::from_utf8(h.value).ok()?.parse().ok())
            .expect("request without Content-Length");
        assert!(
            r.headers
                .iter()
                .any(|h| h.name.eq_ignore_ascii_case("host"))
        );
        assert!(
            w.len() >= head + cl,
            "request body shorter than its Content-Length"
        );
        w = &w[head + cl..];
        n += 1;
    }
    n
}

fuzz_target!(|data: &[u8]| {
    let Some((&cfg, wire)) = data.split_first() else {
        return;
    };
    let piece = 1 + usize::from(cfg & 0x3f) * 16;
    let config = configs::par();
    let flow = sign_in(&config, None, "subject-TOKEN-1", RequestIds::new([cfg; 16])).unwrap();
    let mut space = vec![
        0u8;
        if cfg & 0x40 != 0 {
            ssoflow_embedded_io::MIN_BUF
        } else {
            ssoflow_embedded_io::DEFAULT_BUF
        }
    ];
    let mut driver = Driver::new(&mut space).with_max_reads(2_000);
    let mut stream = Mock::new(wire, piece);
    let mut ms = 0u64;
    let mut clock = || {
        ms += 1_000;
        Instant::from_millis(ms)
    };
    let result = driver.run(&mut stream, &mut clock, flow);
    let sent = check_written(&stream.written);
    let _ = format!("{result:?}");
    match &result {
        Ok(s) => {
            assert!(sent >= 2, "signed in with {sent} requests");
            // The account id is opaque (issue 15): any non-empty id up to its capacity.
            assert!(!s.customer.id.is_empty());
            assert!(s.customer.id.len() <= ssoflow_core::par_ordering::ACCOUNT_ID_CAP);
        }
        Err(Error::Core(e)) => {
            let _ = e.to_string();
        }
        Err(_) => assert!(
            !driver.is_reusable(),
            "transport error but the connection is reusable"
        ),
    }
    // Bounded: the flow never asks for more requests than the peer sent responses, plus one.
    assert!(
        sent <= 2 + wire.len() / 16 + 1,
        "{sent} requests for {} bytes of answers",
        wire.len()
    );

    // A protected call through a session, the same bytes answering: at most two sign-ins (each
    // tried at most three times: the policy's two retries) and two attempts, and never a 401
    // handed back as a success.
    let client = configs::oauth2_client();
    let recipe = oauth2::ClientCredentials::new(&client, None);
    let policy = Policy::DEFAULT.with_skew_ms(u64::from(cfg) * 100);
    let mut session: Session<TokenSet, ssoflow_embedded_io::Error> = Session::with_policy(policy);
    let mut space = vec![0u8; ssoflow_embedded_io::DEFAULT_BUF];
    let mut driver = Driver::new(&mut space).with_max_reads(2_000);
    let mut stream = Mock::new(wire, piece);
    let mut ms = 0u64;
    let mut clock = || {
        ms += 7_000;
        Instant::from_millis(ms)
    };
    let result = driver.send_authorized(
        &mut stream,
        &mut clock,
        &mut session,
        &recipe,
        &(),
        || [cfg; 16],
        |t: &TokenSet, buf: &mut [u8]| {
            let mut rb = RequestBuilder::new(buf, Method::Get, "https://api.example", "/me");
            rb.bearer(t.access.value.expose());
            rb.finish()
        },
    );
    let sent = check_written(&stream.written);
    assert!(sent <= 8, "send_authorized sent {sent} requests");
    if let Ok(view) = &result {
        assert_ne!(view.status(), 401, "a 401 returned as the answer");
    }
});
