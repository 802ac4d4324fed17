//! A tiny HTTP `CONNECT` proxy for tests: std threads, one per connection, on `127.0.0.1:0`.
//!
//! Every tunnel goes to `127.0.0.1` on the port asked for, whatever the host (so a test can
//! reach the sandbox under a name that does not resolve, e.g. `sandbox.test`). It counts the
//! `CONNECT`s, keeps their request heads, and keeps every byte it relays (up to 1 MiB) so a test
//! can check that no credential ever crossed it in the clear. Anything but `CONNECT` is answered
//! `405`.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the proxy saw.
#[derive(Debug, Default)]
struct Seen {
    /// The head of every `CONNECT` request (request line and headers).
    connects: Vec<String>,
    /// Requests that were not `CONNECT` (their request line).
    refused: Vec<String>,
    /// Every relayed byte, both ways (capped).
    relayed: Vec<u8>,
}

const RELAY_CAP: usize = 1024 * 1024;

/// A running test proxy; stops accepting when dropped.
#[derive(Debug)]
pub struct ConnectProxy {
    addr: SocketAddr,
    seen: Arc<Mutex<Seen>>,
    stop: Arc<AtomicBool>,
}

impl ConnectProxy {
    /// Listen on `127.0.0.1:0` and serve on a background thread.
    pub fn start() -> io::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let addr = listener.local_addr()?;
        let seen = Arc::new(Mutex::new(Seen::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen2, stop2) = (seen.clone(), stop.clone());
        std::thread::Builder::new()
            .name("connect-proxy".into())
            .spawn(move || {
                for stream in listener.incoming() {
                    if stop2.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let seen = seen2.clone();
                    let _ = std::thread::Builder::new()
                        .name("connect-proxy-conn".into())
                        .spawn(move || {
                            let _ = handle(stream, &seen);
                        });
                }
            })?;
        Ok(ConnectProxy { addr, seen, stop })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// How many `CONNECT`s it has tunnelled.
    pub fn connects(&self) -> usize {
        self.lock().connects.len()
    }

    /// The head of each `CONNECT` request, in order.
    pub fn connect_heads(&self) -> Vec<String> {
        self.lock().connects.clone()
    }

    /// Request lines of requests that were not `CONNECT` (refused with 405).
    pub fn refused(&self) -> Vec<String> {
        self.lock().refused.clone()
    }

    /// Whether `needle` appears anywhere in what crossed the proxy: request heads or tunnelled
    /// bytes.
    pub fn saw(&self, needle: &str) -> bool {
        let seen = self.lock();
        let n = needle.as_bytes();
        seen.connects
            .iter()
            .chain(&seen.refused)
            .any(|h| h.contains(needle))
            || (!n.is_empty() && seen.relayed.windows(n.len()).any(|w| w == n))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for ConnectProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
    }
}

/// Read one request head, tunnel a `CONNECT`, refuse anything else.
fn handle(mut client: TcpStream, seen: &Mutex<Seen>) -> io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 16 * 1024 || client.read(&mut byte)? == 0 {
            return Ok(());
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let line = head.lines().next().unwrap_or_default().to_owned();
    let mut parts = line.split(' ');
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let port = target
        .rsplit(':')
        .next()
        .and_then(|p| p.parse::<u16>().ok());
    let (true, Some(port)) = (method == "CONNECT", port) else {
        lock(seen).refused.push(line);
        client.write_all(
            b"HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        )?;
        return Ok(());
    };
    lock(seen).connects.push(head);
    let upstream = match TcpStream::connect((Ipv4Addr::LOCALHOST, port)) {
        Ok(s) => s,
        Err(_) => {
            client.write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")?;
            return Ok(());
        }
    };
    client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")?;
    client.set_read_timeout(Some(Duration::from_secs(30)))?;
    upstream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let (c2, u2) = (client.try_clone()?, upstream.try_clone()?);
    std::thread::scope(|s| {
        s.spawn(|| relay(c2, u2, seen));
        relay(upstream, client, seen);
    });
    Ok(())
}

/// Copy `from` → `to` until either side closes, keeping the bytes.
fn relay(mut from: TcpStream, mut to: TcpStream, seen: &Mutex<Seen>) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let chunk = &buf[..n];
                {
                    let mut seen = lock(seen);
                    let room = RELAY_CAP.saturating_sub(seen.relayed.len());
                    let keep = &chunk[..n.min(room)];
                    seen.relayed.extend_from_slice(keep);
                }
                if to.write_all(chunk).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
    let _ = from.shutdown(Shutdown::Read);
}

fn lock(seen: &Mutex<Seen>) -> std::sync::MutexGuard<'_, Seen> {
    seen.lock().unwrap_or_else(|p| p.into_inner())
}
