//! URL checks and form encoding: `http::check_url`, the `Request` view of a URL
//! (`authority`, `path_and_query`), `form::encode`/`form::decode`. Input: `url \xff text`.
//! A URL `check_url` accepts with `http://` is loopback for a WHATWG parser too (the `url`
//! crate): no parser differential sends credentials in clear to another host; its request
//! target starts with `/` and its authority has no `/ ? # @`; form encoding round-trips.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ssoflow_core::http::check_url;
use ssoflow_core::{Error, Method, RequestBuilder, form};
use ssoflow_fuzz::{split_at_byte, text};

fn loopback(u: &url::Url) -> bool {
    match u.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

fuzz_target!(|data: &[u8]| {
    let (u, t) = split_at_byte(data, 0xff);
    let (u, t) = (text(u), text(t));

    match check_url(&u) {
        Ok(()) => {
            assert!(!u.bytes().any(|b| b <= b' ' || b == 0x7f));
            let lower = u.to_ascii_lowercase();
            assert!(lower.starts_with("https://") || lower.starts_with("http://"));
            if lower.starts_with("http://") {
                if let Ok(parsed) = url::Url::parse(&u) {
                    assert!(
                        loopback(&parsed),
                        "check_url allows plain http to {:?} (WHATWG host of {u:?})",
                        parsed.host_str()
                    );
                }
            }
            let mut buf = vec![0u8; u.len() + 256];
            let r = RequestBuilder::new(&mut buf, Method::Get, &u, "/p")
                .finish()
                .unwrap();
            let a = r.authority();
            assert!(
                !a.is_empty() && !a.contains(['/', '?', '#', '@']),
                "authority {a:?} of {u:?}"
            );
            if ssoflow_fuzz::enabled("request_target_slash") {
                let p = r.path_and_query();
                assert!(p.starts_with('/'), "request target {p:?} of {:?}", r.url);
            }
        }
        Err(Error::Insecure) => assert!(u.to_ascii_lowercase().starts_with("http://")),
        Err(Error::InvalidInput { what: "url" }) => {}
        Err(e) => panic!("check_url: {e:?}"),
    }

    // Form encoding round-trips, and its output is only unreserved bytes, `+` and `%XX`.
    let mut enc = String::new();
    form::encode(&t, &mut |p: &str| enc.push_str(p));
    assert!(
        enc.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"*-._+%".contains(&b)),
        "{enc:?}"
    );
    let mut dec = heapless::String::<4096>::new();
    if t.len() <= 1024 {
        assert!(
            form::decode(&enc, &mut dec),
            "decode of encode failed: {enc:?}"
        );
        assert_eq!(dec.as_str(), t);
    }
    // Decoding arbitrary text never panics, and what it yields is valid text of the input's bytes.
    let mut any = heapless::String::<64>::new();
    let _ = form::decode(&t, &mut any);
});
