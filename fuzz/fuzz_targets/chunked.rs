//! The embedded-io parser's chunked decoder, against a reference decoder of the grammar it
//! documents (sizes in hex, optional whitespace and `;extensions`, CRLF or bare LF, trailers).
//! Input: one config byte (buffer size, read size) then the raw chunked body, sent after
//! `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n`. What the parser completes, the
//! reference decodes to the same bytes and leftover; what the reference decodes and fits, the
//! parser completes; what the reference calls malformed, the parser refuses.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ssoflow_embedded_io::Error;
use ssoflow_fuzz::embedded::parse_all;

const HEAD: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";

#[derive(Debug, PartialEq)]
enum Ref {
    /// Decoded body and bytes consumed.
    Ok(Vec<u8>, usize),
    Incomplete,
    Bad,
}

fn hex(b: u8) -> Option<usize> {
    (b as char).to_digit(16).map(|d| d as usize)
}

/// chunk      = 1*HEX *(SP / HTAB) [ ";" *(not LF) / CR ] LF data (CRLF / LF)
/// last-chunk = 1*HEX (all zero value) … LF, then trailer lines `(not CR/LF) *(not LF) LF`
///              and an empty line (CRLF / LF).
fn reference(raw: &[u8]) -> Ref {
    let mut i = 0;
    let mut body = Vec::new();
    let at = |i: usize| raw.get(i).copied();
    loop {
        let mut size: usize = 0;
        let start = i;
        while let Some(d) = at(i).and_then(hex) {
            size = match size.checked_mul(16).and_then(|s| s.checked_add(d)) {
                Some(s) => s,
                None => return Ref::Bad,
            };
            i += 1;
        }
        if i == start {
            return if at(i).is_none() {
                Ref::Incomplete
            } else {
                Ref::Bad
            };
        }
        while matches!(at(i), Some(b' ' | b'\t')) {
            i += 1;
        }
        match at(i) {
            None => return Ref::Incomplete,
            Some(b';') => {
                while at(i).is_some_and(|b| b != b'\n') {
                    i += 1;
                }
                if at(i).is_none() {
                    return Ref::Incomplete;
                }
                i += 1;
            }
            Some(b'\r') => {
                i += 1;
                match at(i) {
                    None => return Ref::Incomplete,
                    Some(b'\n') => i += 1,
                    Some(_) => return Ref::Bad,
                }
            }
            Some(b'\n') => i += 1,
            Some(_) => return Ref::Bad,
        }
        if size == 0 {
            // Trailers, then an empty line.
            loop {
                match at(i) {
                    None => return Ref::Incomplete,
                    Some(b'\n') => return Ref::Ok(body, i + 1),
                    Some(b'\r') => {
                        return match at(i + 1) {
                            None => Ref::Incomplete,
                            Some(b'\n') => Ref::Ok(body, i + 2),
                            Some(_) => Ref::Bad,
                        };
                    }
                    Some(_) => {
                        while at(i).is_some_and(|b| b != b'\n') {
                            i += 1;
                        }
                        if at(i).is_none() {
                            return Ref::Incomplete;
                        }
                        i += 1;
                    }
                }
            }
        }
        let Some(data) = raw.get(i..i.saturating_add(size)) else {
            return Ref::Incomplete;
        };
        body.extend_from_slice(data);
        i += size;
        match at(i) {
            None => return Ref::Incomplete,
            Some(b'\n') => i += 1,
            Some(b'\r') => match at(i + 1) {
                None => return Ref::Incomplete,
                Some(b'\n') => i += 2,
                Some(_) => return Ref::Bad,
            },
            Some(_) => return Ref::Bad,
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&cfg, raw)) = data.split_first() else {
        return;
    };
    let piece = 1 + usize::from(cfg & 0x0f) * usize::from(cfg >> 4);
    let mut wire = HEAD.to_vec();
    wire.extend_from_slice(raw);
    let roomy = cfg & 1 == 0;
    let cap = if roomy {
        wire.len() + 1
    } else {
        HEAD.len() + 1 + usize::from(cfg >> 1)
    };
    let mut buf = vec![0u8; cap];
    let got = parse_all(&mut buf, &wire, piece);
    let want = reference(raw);
    match (&got.result, &want) {
        (Ok(p), Ref::Ok(body, used)) => {
            assert_eq!(&buf[p.body()], &body[..], "decoded body differs");
            let fed_raw = got.fed - HEAD.len();
            assert_eq!(&buf[p.leftover()], &raw[*used..fed_raw], "leftover differs");
            assert!(p.keep_alive());
        }
        (Ok(p), other) => panic!(
            "parser completed ({:?}) what the reference calls {other:?}",
            String::from_utf8_lossy(&buf[p.body()])
        ),
        (Err(Error::BodyTooLarge | Error::HeadTooLarge), _) => assert!(
            !roomy || !matches!(want, Ref::Ok(..)),
            "refused as too large although the buffer holds the whole wire"
        ),
        (Err(e), Ref::Ok(..)) => panic!("parser refused ({e:?}) a body the reference decodes"),
        (Err(Error::Closed), Ref::Incomplete) => {}
        (Err(Error::BadChunk), Ref::Bad) => {}
        (Err(e), r) => panic!("parser said {e:?}, reference {r:?}"),
    }
});
