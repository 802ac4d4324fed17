//! Property tests: the parser never panics, never reports a range outside its buffer, and
//! decodes any valid response however the bytes are split.
// The core's error carries a redacted body excerpt (no allocator to box it).
#![allow(clippy::result_large_err)]

use proptest::prelude::*;
use ssoflow_embedded_io::{Error, Progress, ResponseParser};

/// Feed `wire` in pieces of the given sizes (cycled), then close. Returns the outcome.
fn parse(wire: &[u8], sizes: &[usize], cap: usize) -> (Result<Progress, Error>, Vec<u8>) {
    let mut buf = vec![0u8; cap];
    let mut p = ResponseParser::new();
    let mut rest = wire;
    let mut i = 0;
    loop {
        let outcome = if rest.is_empty() {
            p.close(&mut buf)
        } else {
            let spare = match p.spare(&mut buf) {
                Ok(s) => s,
                Err(e) => return (Err(e), buf),
            };
            let want = sizes
                .get(i % sizes.len().max(1))
                .copied()
                .unwrap_or(1)
                .max(1);
            i += 1;
            let n = want.min(spare.len()).min(rest.len());
            spare[..n].copy_from_slice(&rest[..n]);
            rest = &rest[n..];
            p.feed(&mut buf, n)
        };
        assert!(p.filled() <= cap);
        match outcome {
            Ok(Progress::Partial) if !rest.is_empty() => continue,
            Ok(Progress::Partial) => {
                // Closed: a partial answer after close is impossible.
                if let Ok(Progress::Partial) = p.close(&mut buf) {
                    panic!("partial after close");
                }
                return (Err(Error::Closed), buf);
            }
            other => return (other, buf),
        }
    }
}

fn check_ranges(outcome: &Result<Progress, Error>, cap: usize) {
    if let Ok(Progress::Complete(p)) = outcome {
        let (h, b, l) = (p.head(), p.body(), p.leftover());
        assert!(h.end <= b.start || b.is_empty(), "{p:?}");
        assert!(
            b.start <= b.end && b.end <= l.start && l.start <= l.end && l.end <= cap,
            "{p:?}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(
        wire in proptest::collection::vec(any::<u8>(), 0..600),
        sizes in proptest::collection::vec(1usize..64, 1..8),
        cap in 0usize..700,
    ) {
        let (outcome, _) = parse(&wire, &sizes, cap);
        check_ranges(&outcome, cap);
    }

    #[test]
    fn http_shaped_bytes_never_panic(
        head in prop::sample::select(vec![
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n",
            "HTTP/1.0 200 OK\r\n\r\n",
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        ]),
        tail in proptest::collection::vec(prop::sample::select(
            b"0123456789abcdefABCDEF;= \t\r\nxzHTTP/1.1".to_vec()), 0..300),
        sizes in proptest::collection::vec(1usize..32, 1..8),
        cap in 0usize..400,
    ) {
        let mut wire = head.as_bytes().to_vec();
        wire.extend_from_slice(&tail);
        let (outcome, _) = parse(&wire, &sizes, cap);
        check_ranges(&outcome, cap);
    }

    #[test]
    fn valid_chunked_bodies_decode(
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..80), 0..8),
        sizes in proptest::collection::vec(1usize..50, 1..8),
        next in proptest::collection::vec(any::<u8>(), 0..20),
    ) {
        let mut wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        let mut body = Vec::new();
        for c in &chunks {
            wire.extend_from_slice(format!("{:x};e=1\r\n", c.len()).as_bytes());
            wire.extend_from_slice(c);
            wire.extend_from_slice(b"\r\n");
            body.extend_from_slice(c);
        }
        wire.extend_from_slice(b"0\r\nT: v\r\n\r\n");
        wire.extend_from_slice(&next);
        let cap = wire.len();
        let (outcome, buf) = parse(&wire, &sizes, cap);
        check_ranges(&outcome, cap);
        let Ok(Progress::Complete(p)) = outcome else { panic!("{outcome:?}") };
        prop_assert_eq!(&buf[p.body()], &body[..]);
        // Leftover bytes read so far are a prefix of what followed the response.
        prop_assert!(next.starts_with(&buf[p.leftover()]));
    }
}
