//! The embedded-io HTTP/1.1 response parser (`ResponseParser`) and `Driver::send` over an
//! in-memory stream. Input: one config byte (buffer size, read size) then the wire bytes.
//! Ranges of a complete response are in order and inside the buffer; the result does not
//! depend on how the bytes were split into reads; a Content-Length body is exactly the bytes
//! after the head; `Driver::send` sees the same response, and keep-alive leftovers are reused.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ssoflow_core::{Method, RequestBuilder};
use ssoflow_embedded_io::{Driver, Error};
use ssoflow_fuzz::embedded::{Mock, parse_all};

fuzz_target!(|data: &[u8]| {
    let Some((&cfg, wire)) = data.split_first() else {
        return;
    };
    let cap = 32 + usize::from(cfg & 0x7f) * 24;
    let piece = if cfg & 0x80 != 0 {
        1 + usize::from(cfg & 0x0f)
    } else {
        usize::MAX
    };

    let mut buf_a = vec![0u8; cap];
    let a = parse_all(&mut buf_a, wire, piece);
    let mut buf_b = vec![0u8; cap];
    let b = parse_all(&mut buf_b, wire, 1);

    let view = |buf: &[u8], p: &ssoflow_embedded_io::Parsed| {
        (
            p.status(),
            buf[p.body()].to_vec(),
            buf[p.leftover()].to_vec(),
            p.keep_alive(),
        )
    };
    match (&a.result, &b.result) {
        (Ok(pa), Ok(pb)) => {
            let (sa, ba, la, ka) = view(&buf_a, pa);
            let (sb, bb, lb, kb) = view(&buf_b, pb);
            assert_eq!(
                (sa, &ba, ka),
                (sb, &bb, kb),
                "result depends on the read size"
            );
            // Leftover: the bytes after the response that were read; byte-at-a-time reads none
            // beyond what the response needed… except when the body ends at close.
            assert!(la.len() >= lb.len());
            assert_eq!(&la[..lb.len()], &lb[..]);
        }
        (Ok(_), Err(e)) | (Err(e), Ok(_)) => {
            panic!(
                "read size changes the outcome: {:?} vs {:?} ({e:?})",
                a.result.is_ok(),
                b.result.is_ok()
            )
        }
        (Err(_), Err(_)) => {}
    }

    // A Content-Length response with a final status first: the body is the bytes after the head.
    if let Ok(p) = &a.result {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut r = httparse::Response::new(&mut headers);
        if let Ok(httparse::Status::Complete(n)) = r.parse(wire) {
            let code = r.code.unwrap_or(0);
            let te = r
                .headers
                .iter()
                .any(|h| h.name.eq_ignore_ascii_case("transfer-encoding"));
            let cl: Vec<&[u8]> = r
                .headers
                .iter()
                .filter(|h| h.name.eq_ignore_ascii_case("content-length"))
                .map(|h| h.value)
                .collect();
            if code >= 200 && code != 204 && code != 304 && !te && cl.len() == 1 {
                if let Some(len) = std::str::from_utf8(cl[0])
                    .ok()
                    .and_then(|s| s.trim().parse::<usize>().ok())
                {
                    assert_eq!(p.status(), code);
                    assert_eq!(
                        &buf_a[p.body()],
                        &wire[n..n + len],
                        "Content-Length body differs"
                    );
                }
            }
        }
    }

    // Differential: the driver's own head parser (src/head.rs) reads heads exactly as
    // httparse 1.10 does with the driver's two leniencies. A head httparse refuses is refused.
    {
        let mut headers = [httparse::EMPTY_HEADER; 256];
        let mut r = httparse::Response::new(&mut headers);
        let parsed = httparse::ParserConfig::default()
            .allow_multiple_spaces_in_response_status_delimiters(true)
            .allow_spaces_after_header_name_in_responses(true)
            .parse_response(&mut r, wire);
        match parsed {
            Err(httparse::Error::TooManyHeaders) => {}
            Err(e) => assert!(
                a.result.is_err(),
                "httparse refuses the head ({e:?}) but the parser read a response"
            ),
            Ok(httparse::Status::Complete(_)) => {
                if let (Ok(p), Some(code)) = (&a.result, r.code) {
                    if code >= 200 {
                        assert_eq!(p.status(), code, "status differs from httparse");
                    }
                }
            }
            Ok(httparse::Status::Partial) => {}
        }
    }

    // The driver over a stream delivering the same bytes sees the same response.
    let mut req_buf = [0u8; 256];
    let request = RequestBuilder::new(&mut req_buf, Method::Get, "https://api.example", "/me")
        .finish()
        .unwrap();
    let mut space = vec![0u8; cap + 1024];
    let mut driver = Driver::new(&mut space).with_max_reads(10_000);
    let mut stream = Mock::new(wire, piece.min(4096));
    let sent = driver.send(&mut stream, &request);
    match (&sent, &a.result) {
        (Ok(v), Ok(p)) => {
            assert_eq!(v.status(), p.status());
            assert_eq!(v.body(), &buf_a[p.body()]);
            let _ = (v.headers().len(), v.header("content-type"), v.response());
        }
        (Ok(v), Err(e)) if !matches!(e, Error::HeadTooLarge | Error::BodyTooLarge) => {
            panic!(
                "driver accepted ({}) what the parser refused: {e:?}",
                v.status()
            )
        }
        _ => {}
    }
    drop(sent);
    if driver.is_reusable() {
        // Keep-alive: a second request reads the next response (leftover bytes first).
        let _ = driver.send(&mut stream, &request);
    } else {
        assert!(matches!(
            driver.send(&mut stream, &request),
            Err(Error::NotReusable)
        ));
    }
});
