//! The request writer and the response parser through the driver, over a scripted stream.
// The core's error carries a redacted body excerpt (no allocator to box it).
#![allow(clippy::result_large_err)]

mod common;

use common::{Event, Mock, block_on, get};
use embedded_io::ErrorKind;
use ssoflow_core::{Method, RequestBuilder};
use ssoflow_embedded_io::{Driver, Error, Progress, RequestWriter, ResponseParser};

/// What a test looks at in a response.
#[derive(Debug, PartialEq, Eq)]
struct Got {
    status: u16,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
    reusable: bool,
}

/// Send one GET over `mock` with a response buffer of `cap` bytes, blocking and async; both
/// must agree.
fn send(mock: impl Fn() -> Mock, cap: usize) -> Result<Got, Error> {
    let blocking = {
        let mut rs = vec![0u8; cap];
        let mut d = Driver::new(&mut rs);
        let mut m = mock();
        let mut buf = [0u8; 512];
        let r = d.send(&mut m, &get(&mut buf)).map(|v| got(&v));
        r.map(|g| Got {
            reusable: d.is_reusable(),
            ..g
        })
    };
    let asynchronous = {
        let mut rs = vec![0u8; cap];
        let mut d = Driver::new(&mut rs);
        let mut m = mock();
        let mut buf = [0u8; 512];
        let r = block_on(d.send_async(&mut m, &get(&mut buf))).map(|v| got(&v));
        r.map(|g| Got {
            reusable: d.is_reusable(),
            ..g
        })
    };
    assert_eq!(blocking, asynchronous);
    blocking
}

fn got(v: &ssoflow_embedded_io::ResponseView<'_>) -> Got {
    Got {
        status: v.status(),
        headers: v
            .headers()
            .iter()
            .map(|h| (h.name.to_owned(), h.value.to_vec()))
            .collect(),
        body: v.body().to_vec(),
        reusable: false,
    }
}

/// `wire` split at every byte boundary (two reads), and one byte per read, and in 3s and 7s.
fn every_split(wire: &[u8], cap: usize) -> Result<Got, Error> {
    let whole = send(|| Mock::cut(wire, &[]), cap);
    for i in 0..=wire.len() {
        assert_eq!(send(|| Mock::cut(wire, &[i]), cap), whole, "split at {i}");
    }
    for size in [1, 2, 3, 7, 64] {
        assert_eq!(
            send(|| Mock::chunks(wire, size), cap),
            whole,
            "chunks of {size}"
        );
    }
    whole
}

const CL: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{\"ok\":\"yes\"}\n";

#[test]
fn content_length_at_every_split() {
    let g = every_split(CL, 512).unwrap();
    assert_eq!(g.status, 200);
    assert_eq!(g.body, b"{\"ok\":\"yes\"}\n");
    assert_eq!(
        g.headers[0],
        ("Content-Type".to_owned(), b"application/json".to_vec())
    );
    assert!(g.reusable);
}

#[test]
fn chunked_with_odd_sizes_extensions_and_trailers() {
    let mut body = Vec::new();
    let mut wire = b"HTTP/1.1 201 Created\r\nTransfer-Encoding: gzip, chunked\r\n\r\n".to_vec();
    for (i, size) in [1usize, 7, 13, 0x1f, 2, 255].into_iter().enumerate() {
        let data: Vec<u8> = (0..size).map(|j| b'a' + ((i + j) % 26) as u8).collect();
        let ext = match i {
            1 => ";name=value",
            2 => " ; quoted=\"a;b\"",
            3 => ";x",
            _ => "",
        };
        let hex = if i % 2 == 0 {
            format!("{size:x}")
        } else {
            format!("{size:X}")
        };
        wire.extend_from_slice(format!("{hex}{ext}\r\n").as_bytes());
        wire.extend_from_slice(&data);
        wire.extend_from_slice(b"\r\n");
        body.extend_from_slice(&data);
    }
    wire.extend_from_slice(b"0;last\r\nX-Trailer: one\r\nX-Other: two\r\n\r\n");
    let g = every_split(&wire, 1024).unwrap();
    assert_eq!(g.status, 201);
    assert_eq!(g.body, body);
    assert!(g.reusable);

    // Bare LF line ends and a chunk of 0 with no trailers.
    let lf = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\n0\n\n";
    assert_eq!(every_split(lf, 256).unwrap().body, b"abc");
}

#[test]
fn informational_responses_are_skipped() {
    let wire = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";
    let g = every_split(wire, 256).unwrap();
    assert_eq!((g.status, g.body.as_slice()), (200, &b"hi"[..]));
    assert_eq!(g.headers.len(), 1);
    let switching = b"HTTP/1.1 101 Switching Protocols\r\n\r\n";
    assert!(matches!(
        send(|| Mock::cut(switching, &[]), 256),
        Err(Error::Parse { .. })
    ));
}

#[test]
fn until_close_and_no_body_statuses() {
    let wire = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it";
    let g = every_split(wire, 256).unwrap();
    assert_eq!(g.body, b"all of it");
    assert!(!g.reusable);
    let no_content = b"HTTP/1.1 204 No Content\r\n\r\n";
    let g = every_split(no_content, 256).unwrap();
    assert_eq!((g.status, g.body.len(), g.reusable), (204, 0, true));
}

#[test]
fn connection_close_and_http10() {
    let close = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx";
    assert!(!every_split(close, 256).unwrap().reusable);
    let http10 = b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx";
    assert!(!every_split(http10, 256).unwrap().reusable);
    let http10_ka = b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 1\r\n\r\nx";
    assert!(every_split(http10_ka, 256).unwrap().reusable);
    let both = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n";
    let g = every_split(both, 256).unwrap();
    assert_eq!((g.body.as_slice(), g.reusable), (&b"x"[..], false));

    // A closed connection refuses the next request until reset.
    let mut rs = [0u8; 512];
    let mut d = Driver::new(&mut rs);
    let mut m = Mock::cut(close, &[]);
    let mut buf = [0u8; 512];
    d.send(&mut m, &get(&mut buf)).unwrap();
    assert_eq!(
        d.send(&mut m, &get(&mut buf)).unwrap_err(),
        Error::NotReusable
    );
    d.reset();
    let mut m = Mock::cut(CL, &[]);
    assert_eq!(d.send(&mut m, &get(&mut buf)).unwrap().status(), 200);
}

/// The driver never pipelines: bytes that arrive after a complete response were not asked for.
/// They are never taken as the next answer (a desynchronised or hostile server could slip in a
/// forged token); the connection is just not reused. Answers that arrive only after the next
/// request was written are read normally.
#[test]
fn unsolicited_bytes_after_a_response_end_the_connection() {
    let mut wire = CL.to_vec();
    wire.extend_from_slice(
        b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nno\r\n0\r\n\r\n",
    );
    wire.extend_from_slice(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n");
    let expected = [
        (200, b"{\"ok\":\"yes\"}\n".to_vec()),
        (404, b"no".to_vec()),
        (202, vec![]),
    ];
    for cut in 0..=wire.len() {
        for asynchronous in [false, true] {
            let mut rs = [0u8; 512];
            let mut d = Driver::new(&mut rs);
            let mut m = Mock::cut(&wire, &[cut]);
            let mut buf = [0u8; 512];
            let mut statuses = Vec::new();
            for _ in 0..3 {
                let v = if asynchronous {
                    block_on(d.send_async(&mut m, &get(&mut buf)))
                } else {
                    d.send(&mut m, &get(&mut buf))
                };
                match v {
                    Ok(v) => statuses.push((v.status(), v.body().to_vec())),
                    Err(e) => {
                        assert_eq!(e, Error::NotReusable, "cut {cut}");
                        break;
                    }
                }
            }
            assert!(!statuses.is_empty(), "cut {cut}");
            assert_eq!(statuses[..], expected[..statuses.len()], "cut {cut}");
            if cut < CL.len() || cut > CL.len() {
                // The extra bytes came with (part of) an answer: the connection ended there.
                assert!(statuses.len() < 3, "cut {cut}");
            }
        }
    }
}

#[test]
fn head_too_large() {
    let wire = format!(
        "HTTP/1.1 200 OK\r\nX-Big: {}\r\nContent-Length: 0\r\n\r\n",
        "v".repeat(300)
    );
    assert_eq!(
        send(|| Mock::chunks(wire.as_bytes(), 50), 256),
        Err(Error::HeadTooLarge)
    );
    let many: String = (0..40).map(|i| format!("X-{i}: v\r\n")).collect();
    let wire = format!("HTTP/1.1 200 OK\r\n{many}Content-Length: 0\r\n\r\n");
    assert_eq!(
        send(|| Mock::cut(wire.as_bytes(), &[]), 2048),
        Err(Error::TooManyHeaders)
    );
}

#[test]
fn body_too_large() {
    let declared = b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\nxxxx";
    assert_eq!(
        send(|| Mock::cut(declared, &[]), 512),
        Err(Error::BodyTooLarge)
    );
    let chunked = format!(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n100\r\n{}\r\n0\r\n\r\n",
        "y".repeat(256)
    );
    assert_eq!(
        send(|| Mock::chunks(chunked.as_bytes(), 40), 200),
        Err(Error::BodyTooLarge)
    );
    let many_small: String = (0..100).map(|_| "4\r\nzzzz\r\n").collect();
    let chunked =
        format!("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{many_small}0\r\n\r\n");
    assert_eq!(
        send(|| Mock::chunks(chunked.as_bytes(), 40), 200),
        Err(Error::BodyTooLarge)
    );
    // The same body fits a buffer only a little larger than head + decoded body.
    assert_eq!(
        send(|| Mock::chunks(chunked.as_bytes(), 40), 460)
            .unwrap()
            .body
            .len(),
        400
    );
    let until_close = format!("HTTP/1.1 200 OK\r\n\r\n{}", "z".repeat(600));
    assert_eq!(
        send(|| Mock::chunks(until_close.as_bytes(), 64), 512),
        Err(Error::BodyTooLarge)
    );
}

#[test]
fn closed_mid_response() {
    assert_eq!(send(Mock::default, 256), Err(Error::Closed));
    assert_eq!(
        send(|| Mock::cut(b"HTTP/1.1 200 OK\r\nContent-", &[]), 256),
        Err(Error::Closed)
    );
    let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab";
    assert_eq!(send(|| Mock::chunks(chunked, 5), 256), Err(Error::Closed));
    let no_last_chunk = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n";
    assert_eq!(
        send(|| Mock::cut(no_last_chunk, &[]), 256),
        Err(Error::Closed)
    );
}

#[test]
fn content_length_mismatch() {
    let short = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabcd";
    assert_eq!(
        send(|| Mock::chunks(short, 3), 256),
        Err(Error::ContentLengthMismatch {
            declared: 10,
            received: 4
        })
    );
    let conflicting = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab";
    assert!(matches!(
        send(|| Mock::cut(conflicting, &[]), 256),
        Err(Error::Parse { .. })
    ));
    let repeated = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab";
    assert_eq!(send(|| Mock::cut(repeated, &[]), 256).unwrap().body, b"ab");
    let junk = b"HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\nab";
    assert!(matches!(
        send(|| Mock::cut(junk, &[]), 256),
        Err(Error::Parse { .. })
    ));
}

#[test]
fn bad_chunks() {
    for bad in [
        &b"zz\r\n"[..],
        b"\r\n",
        b";ext\r\n",
        b" 5\r\n",
        b"ffffffffffffffffffffff\r\n",
        b"3\rxabc\r\n0\r\n\r\n",
        b"3\r\nabcX\r\n0\r\n\r\n",
        b"3\r\nabc\rX0\r\n\r\n",
        b"0\r\n\rX",
    ] {
        let mut wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        wire.extend_from_slice(bad);
        assert_eq!(
            send(|| Mock::cut(&wire, &[]), 512),
            Err(Error::BadChunk),
            "{bad:?}"
        );
        assert_eq!(
            send(|| Mock::chunks(&wire, 1), 512),
            Err(Error::BadChunk),
            "{bad:?}"
        );
    }
}

#[test]
fn garbage_is_a_parse_error() {
    assert!(matches!(
        send(|| Mock::cut(b"SSH-2.0-OpenSSH\r\n\r\n", &[]), 256),
        Err(Error::Parse { .. })
    ));
    assert!(matches!(
        send(|| Mock::cut(b"HTTP/1.1 2000 OK\r\n\r\n", &[]), 256),
        Err(Error::Parse { .. })
    ));
}

#[test]
fn reads_are_bounded_and_io_errors_typed() {
    let mut rs = [0u8; 512];
    let mut d = Driver::new(&mut rs).with_max_reads(10);
    let mut m = Mock::chunks(CL, 1);
    let mut buf = [0u8; 512];
    assert_eq!(
        d.send(&mut m, &get(&mut buf)).unwrap_err(),
        Error::TooManyReads
    );
    assert_eq!(m.reads, 10);
    assert!(!d.is_reusable());

    let mut d = Driver::new(&mut rs);
    let mut m = Mock::default();
    m.script.push_back(Event::Data(b"HTTP/1.1 2".to_vec()));
    m.script.push_back(Event::Fail(ErrorKind::TimedOut));
    assert_eq!(
        d.send(&mut m, &get(&mut buf)).unwrap_err(),
        Error::Io(ErrorKind::TimedOut)
    );
    assert_eq!(
        d.send(&mut m, &get(&mut buf)).unwrap_err(),
        Error::NotReusable
    );

    let mut d = Driver::new(&mut rs);
    let mut m = Mock {
        write_zero: true,
        ..Mock::default()
    };
    assert_eq!(d.send(&mut m, &get(&mut buf)).unwrap_err(), Error::Closed);
}

#[test]
fn request_bytes() {
    let mut buf = [0u8; 512];
    let mut m = Mock::cut(CL, &[]);
    let mut rs = [0u8; 512];
    let mut d = Driver::new(&mut rs);
    d.send(&mut m, &get(&mut buf)).unwrap();
    assert_eq!(
        String::from_utf8(m.written).unwrap(),
        "GET /v1/me?x=1 HTTP/1.1\r\nHost: api.example:8443\r\nAccept: application/json\r\n\
         X-Test: yes\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n"
    );

    // A GET with a JSON body (Punchh) says how long it is.
    let mut rb = RequestBuilder::new(&mut buf, Method::Get, "http://127.0.0.1:1", "");
    rb.json_body(&[("a", "b")]);
    let r = rb.finish().unwrap();
    let mut out = vec![0u8; 512];
    let n = RequestWriter::new(&r).unwrap().fill(&mut out);
    let text = std::str::from_utf8(&out[..n]).unwrap();
    assert!(
        text.starts_with("GET / HTTP/1.1\r\nHost: 127.0.0.1:1\r\n"),
        "{text}"
    );
    assert!(
        text.ends_with("Content-Length: 9\r\nConnection: keep-alive\r\n\r\n{\"a\":\"b\"}"),
        "{text}"
    );
}

#[test]
fn large_requests_are_written_through_a_small_buffer() {
    let big = "q".repeat(3000);
    let mut buf = vec![0u8; 4096];
    let mut rb = RequestBuilder::new(&mut buf, Method::Post, "https://api.example", "/t");
    rb.json_body(&[("big", &big)]);
    let r = rb.finish().unwrap();
    let mut expected = vec![0u8; 4096];
    let n = RequestWriter::new(&r).unwrap().fill(&mut expected);
    expected.truncate(n);
    assert_eq!(RequestWriter::new(&r).unwrap().len(), n);
    for (cap, limit) in [(100, 0), (257, 7), (4096, 1)] {
        let mut rs = vec![0u8; cap];
        let mut d = Driver::new(&mut rs);
        let mut m = Mock {
            write_limit: limit,
            ..Mock::cut(CL, &[])
        };
        d.send(&mut m, &r).unwrap();
        assert_eq!(m.written, expected, "cap {cap}");
    }
}

#[test]
fn header_injection_is_refused() {
    for (name, value) in [
        ("X-A", "a\r\nEvil: 1"),
        ("X-A", "a\nb"),
        ("X-A", "a\rb"),
        // Fuzz finding F9: every control byte but HTAB, and DEL.
        ("X-A", "a\x0bb"),
        ("X-A", "a\x0cb"),
        ("X-A", "a\x1bb"),
        ("X-A", "a\x7fb"),
        ("Bad Name", "v"),
        ("Host", "x"),
        ("content-length", "1"),
    ] {
        let mut buf = [0u8; 256];
        let mut rb = RequestBuilder::new(&mut buf, Method::Get, "https://api.example", "/");
        rb.header(name, value);
        let r = rb.finish().unwrap();
        assert!(
            matches!(RequestWriter::new(&r), Err(Error::InvalidRequest { .. })),
            "{name}: {value:?}"
        );
        let mut m = Mock::cut(CL, &[]);
        let mut rs = [0u8; 512];
        let mut d = Driver::new(&mut rs);
        assert!(matches!(
            d.send(&mut m, &r),
            Err(Error::InvalidRequest { .. })
        ));
        assert!(m.written.is_empty());
        // Refusing before sending leaves the connection usable.
        assert!(d.is_reusable());
    }
}

#[test]
fn parser_reports_leftover() {
    let mut wire = CL.to_vec();
    wire.extend_from_slice(b"HTTP/1.1 ");
    let mut buf = [0u8; 256];
    buf[..wire.len()].copy_from_slice(&wire);
    let mut p = ResponseParser::new();
    let Progress::Complete(parsed) = p.feed(&mut buf, wire.len()).unwrap() else {
        panic!()
    };
    assert_eq!(&buf[parsed.leftover()], b"HTTP/1.1 ");
    assert_eq!(&buf[parsed.body()], b"{\"ok\":\"yes\"}\n");
    assert!(parsed.keep_alive());
    assert!(p.feed(&mut buf, 0).is_err());
}

const TOKEN: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 60\r\n\r\n{\"access_token\":\"tok\",\"token_type\":\"Bearer\",\"expires_in\":60}";

fn client() -> ssoflow_core::oauth2::Client {
    ssoflow_core::oauth2::Client::new("https://auth.example/token", "client")
        .unwrap()
        .with_secret("secret")
        .unwrap()
}

#[test]
fn flows_get_more_room_when_they_ask() {
    let scope = "s".repeat(300);
    let c = client();
    for asynchronous in [false, true] {
        let mut buf = vec![0u8; 700];
        let mut d = Driver::new(&mut buf);
        let mut m = Mock::cut(TOKEN, &[]);
        let mut clock = || ssoflow_core::Instant::from_millis(0);
        let flow = ssoflow_core::oauth2::client_credentials(&c, Some(&scope)).unwrap();
        let out = if asynchronous {
            block_on(d.run_async(&mut m, &mut clock, flow))
        } else {
            d.run(&mut m, &mut clock, flow)
        }
        .unwrap();
        assert_eq!(out.access.value.expose(), "tok");
        let sent = String::from_utf8(m.written).unwrap();
        assert!(
            sent.starts_with("POST /token HTTP/1.1\r\n") && sent.ends_with(&scope),
            "{sent}"
        );
    }
    // A request larger than the whole buffer is the core's BufferTooSmall.
    let mut buf = vec![0u8; 200];
    let mut d = Driver::new(&mut buf);
    let flow = ssoflow_core::oauth2::client_credentials(&c, Some(&scope)).unwrap();
    let e = d
        .run(
            &mut Mock::cut(TOKEN, &[]),
            &mut || ssoflow_core::Instant::from_millis(0),
            flow,
        )
        .unwrap_err();
    assert!(
        matches!(e, Error::Core(ssoflow_core::Error::BufferTooSmall { .. })),
        "{e:?}"
    );
}

#[test]
fn an_unsolicited_second_answer_is_never_taken_for_the_next_flow() {
    let c = client();
    let mut wire = TOKEN.to_vec();
    wire.extend_from_slice(&TOKEN.replace_all_tok());
    for cut in [0, 40, TOKEN.len(), TOKEN.len() + 10, wire.len()] {
        let mut buf = vec![0u8; 1024];
        let mut d = Driver::new(&mut buf);
        let mut m = Mock::cut(&wire, &[cut]);
        let mut clock = || ssoflow_core::Instant::from_millis(0);
        let first = d
            .run(
                &mut m,
                &mut clock,
                ssoflow_core::oauth2::client_credentials(&c, None).unwrap(),
            )
            .unwrap();
        assert_eq!(first.access.value.expose(), "tok", "cut {cut}");
        let second = d.run(
            &mut m,
            &mut clock,
            ssoflow_core::oauth2::client_credentials(&c, None).unwrap(),
        );
        if cut == TOKEN.len() {
            // The second answer arrived only after the second request: a normal exchange.
            assert_eq!(second.unwrap().access.value.expose(), "TOK");
        } else {
            assert_eq!(second.unwrap_err(), Error::NotReusable, "cut {cut}");
        }
    }
}

trait ReplaceTok {
    fn replace_all_tok(&self) -> Vec<u8>;
}

impl ReplaceTok for [u8] {
    fn replace_all_tok(&self) -> Vec<u8> {
        String::from_utf8(self.to_vec())
            .unwrap()
            .replace("\"tok\"", "\"TOK\"")
            .into_bytes()
    }
}

/// A peer dribbling one byte per read is cut off by the clock, blocking and async alike, long
/// before the read bound: the deadline covers the whole response.
#[test]
fn a_dribbling_response_hits_the_clock_deadline() {
    use ssoflow_core::{Instant, oauth2};
    let client = oauth2::Client::new("https://auth.example/token", "id").unwrap();
    let ticking = || {
        let mut ms = 0;
        move || {
            ms += 100;
            Instant::from_millis(ms)
        }
    };
    let mut rs = [0u8; 512];
    let mut d = Driver::new(&mut rs).with_timeout_ms(1_000);
    let mut m = Mock::chunks(CL, 1);
    let flow = oauth2::client_credentials(&client, None).unwrap();
    assert_eq!(
        d.run(&mut m, &mut ticking(), flow).unwrap_err(),
        Error::TimedOut
    );
    assert!(m.reads <= 10, "{} reads", m.reads);
    assert!(!d.is_reusable());

    let mut d = Driver::new(&mut rs).with_timeout_ms(1_000);
    let mut m = Mock::chunks(CL, 1);
    let flow = oauth2::client_credentials(&client, None).unwrap();
    assert_eq!(
        block_on(d.run_async(&mut m, &mut ticking(), flow)).unwrap_err(),
        Error::TimedOut
    );
    assert!(m.reads <= 10, "{} reads", m.reads);
}

#[test]
fn debug_never_shows_the_buffer_or_the_tokens_in_it() {
    let wire = b"HTTP/1.1 200 OK\r\nSet-Cookie: sid=Zq9-cookie\r\nContent-Length: 56\r\n\r\n{\"access_token\":\"Zq9-token\",\"token_type\":\"Bearer\",\"a\":1}";
    let mut rs = vec![0u8; 2048];
    let mut d = Driver::new(&mut rs);
    let mut m = Mock::cut(wire, &[]);
    let mut buf = [0u8; 512];
    {
        let view = d.send(&mut m, &get(&mut buf)).unwrap();
        assert_eq!(view.body().len(), 56);
        let printed = format!("{view:?}{view:#?}");
        assert!(!printed.contains("Zq9"), "{printed}");
        assert!(printed.contains("200"), "{printed}");
    }
    let printed = format!("{d:?}{d:#?}");
    assert!(!printed.contains("Zq9"), "{printed}");
}
