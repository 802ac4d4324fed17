//! Shared helpers: an in-process sandbox, its fault hook, and a tiny one-shot HTTP server.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread::JoinHandle;

use ssoflow_core::{Method, Request, RequestBuilder, oauth2};
use ssoflow_sandbox::{Sandbox, SandboxHandle};

/// A sandbox with test hooks on.
pub fn sandbox() -> SandboxHandle {
    Sandbox::builder()
        .test_hooks(true)
        .start_blocking()
        .expect("sandbox starts")
}

/// Queue a fault: `spec` is the JSON of `POST /__sandbox/faults`.
pub fn fault(sb: &SandboxHandle, spec: serde_json::Value) {
    let resp = ureq::post(format!("{}/__sandbox/faults", sb.base_url()))
        .header("content-type", "application/json")
        .send(spec.to_string())
        .expect("fault queued");
    assert_eq!(resp.status().as_u16(), 201);
}

/// Calls to `key` (`"POST /oauth2/token"`) so far.
pub fn calls(sb: &SandboxHandle, key: &str) -> u64 {
    sb.stats().get(key).copied().unwrap_or(0)
}

/// The sandbox's generic OAuth 2.0 client (Basic auth).
pub fn oauth_client(sb: &SandboxHandle) -> oauth2::Client {
    let c = &sb.credentials().oauth2;
    oauth2::Client::new(&format!("{}/token", c.base_url), &c.client_id)
        .expect("client")
        .with_secret(&c.client_secret)
        .expect("secret")
}

/// A `GET url` request written into `buf`.
pub fn get<'b>(buf: &'b mut [u8], url: &str) -> Request<'b> {
    RequestBuilder::new(buf, Method::Get, url, "")
        .finish()
        .expect("request fits")
}

/// A server on 127.0.0.1:0 that accepts one connection, reads the request head, then lets
/// `answer` write whatever it likes and closes. Returns the base URL and the request head.
pub fn serve_once<A>(answer: A) -> (String, JoinHandle<String>)
where
    A: FnOnce(&mut TcpStream) + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let handle = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        let head = read_head(&mut stream);
        answer(&mut stream);
        let _ = stream.flush();
        let _ = stream.shutdown(std::net::Shutdown::Both);
        head
    });
    (base, handle)
}

/// Read the request head (up to `\r\n\r\n`) and its `Content-Length` body (closing with unread
/// bytes would reset the connection); returns the head.
fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let len = head
        .to_ascii_lowercase()
        .lines()
        .find_map(|l| {
            l.strip_prefix("content-length:")
                .map(|v| v.trim().to_owned())
        })
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    let _ = stream.read_exact(&mut body);
    head
}

/// Write `bytes`, ignoring a client that went away.
pub fn write(stream: &mut TcpStream, bytes: &[u8]) {
    let _ = stream.write_all(bytes);
}
