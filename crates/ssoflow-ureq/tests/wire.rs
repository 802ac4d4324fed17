//! The driver against hand-written HTTP on 127.0.0.1:0: body framing, the size cap, the
//! overall deadline, and the loopback rule.

mod common;

use std::time::{Duration, Instant};

use common::{get, serve_once, write};
use ssoflow_core::{Method, RequestBuilder};
use ssoflow_ureq::{Config, Driver, Error};

const BIG: usize = 100 * 1024;

#[test]
fn content_length_chunked_and_close_delimited_bodies_are_read() {
    let driver = Driver::default();
    let cases: [&[u8]; 3] = [
        b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\nConnection: close\r\n\r\nhello world",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
        b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nhello world",
    ];
    for answer in cases {
        let (base, server) = serve_once(move |s| write(s, answer));
        let mut buf = [0u8; 256];
        let resp = driver.send(&get(&mut buf, &format!("{base}/x"))).unwrap();
        assert_eq!(resp.status, 200);
        assert_eq!(resp.body, b"hello world");
        server.join().unwrap();
    }
}

#[test]
fn a_body_over_the_cap_is_too_large_never_truncated() {
    let driver = Driver::default();
    let body = vec![b'a'; BIG];
    let chunked = {
        let mut c = format!("{:x}\r\n", BIG).into_bytes();
        c.extend_from_slice(&body);
        c.extend_from_slice(b"\r\n0\r\n\r\n");
        c
    };
    let answers: Vec<(Vec<u8>, Vec<u8>)> = vec![
        (
            format!("HTTP/1.1 200 OK\r\nContent-Length: {BIG}\r\n\r\n").into_bytes(),
            body.clone(),
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec(),
            chunked,
        ),
        (b"HTTP/1.0 200 OK\r\n\r\n".to_vec(), body),
    ];
    for (head, payload) in answers {
        let (base, server) = serve_once(move |s| {
            write(s, &head);
            write(s, &payload);
        });
        let mut buf = [0u8; 256];
        let err = driver
            .send(&get(&mut buf, &format!("{base}/big")))
            .unwrap_err();
        assert_eq!(err, Error::TooLarge { limit: 64 * 1024 });
        assert_eq!(err.class(), ssoflow_core::ErrorClass::Malformed);
        server.join().unwrap();
    }
}

#[test]
fn a_dribbling_server_cannot_hold_the_caller() {
    let (base, server) = serve_once(|s| {
        write(s, b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n");
        // One byte every 100 ms: 10 s for the whole body, far past the 1 s deadline. Stops as
        // soon as the client has gone.
        for _ in 0..100 {
            if std::io::Write::write_all(s, b"x").is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let driver = Driver::new(Config {
        timeout: Duration::from_secs(1),
        ..Config::default()
    });
    let started = Instant::now();
    let mut buf = [0u8; 256];
    let err = driver
        .send(&get(&mut buf, &format!("{base}/slow")))
        .unwrap_err();
    assert_eq!(err, Error::Timeout);
    assert!(started.elapsed() < Duration::from_secs(3));
    drop(driver);
    server.join().unwrap();
}

#[test]
fn request_bytes_on_the_wire() {
    let (base, server) =
        serve_once(|s| write(s, b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"));
    let mut buf = [0u8; 512];
    let mut rb = RequestBuilder::new(&mut buf, Method::Get, &base, "/api/auth/users");
    rb.bearer("tok");
    rb.json_body(&[("client", "c")]);
    let resp = Driver::default().send(&rb.finish().unwrap()).unwrap();
    assert_eq!(resp.status, 204);
    let head = server.join().unwrap().to_ascii_lowercase();
    assert!(
        head.starts_with("get /api/auth/users http/1.1\r\n"),
        "{head}"
    );
    assert!(head.contains("\r\naccept: application/json\r\n"), "{head}");
    assert!(head.contains("\r\nauthorization: bearer tok\r\n"), "{head}");
    // A GET with a body says how long it is (the body itself follows the head).
    assert!(head.contains("\r\ncontent-length: 14\r\n"), "{head}");
}

#[test]
fn plain_http_to_a_remote_host_is_refused_before_connecting() {
    let driver = Driver::default();
    let started = Instant::now();
    let mut buf = [0u8; 256];
    let err = driver
        .send(&get(&mut buf, "http://example.com/oauth/token"))
        .unwrap_err();
    assert_eq!(err, Error::Core(ssoflow_core::Error::Insecure));
    assert_eq!(err.class(), ssoflow_core::ErrorClass::Transport);
    assert!(started.elapsed() < Duration::from_millis(500));
}

#[test]
fn a_refused_connection_is_a_transport_error() {
    // Bind then drop: nothing listens on this port any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut buf = [0u8; 256];
    let err = Driver::default()
        .send(&get(&mut buf, &format!("http://127.0.0.1:{port}/")))
        .unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
}
