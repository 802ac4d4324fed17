//! A stub token endpoint for throughput benches: one thread, HTTP/1.1 keep-alive, every request
//! answered with the same RFC 6749 §5.1 token response. Shared by this crate's `overhead` bench
//! and ssoflow-tokio's `cache` bench (included there by path).
//!
//! It does as little as an HTTP server can (find the end of the head, read `Content-Length`
//! bytes of body, write one fixed answer), so that the client, not the server, is what limits
//! throughput, and every client under test costs it exactly the same work. It checks nothing:
//! it is no OAuth server. It can keep the raw bytes of the requests it gets (see
//! [`Stub::capture`]), so a bench can show that two clients sent the very same request.
#![allow(dead_code)] // each bench uses a part

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The answer's body: RFC 6749 §5.1 (client credentials: no refresh token, §4.4.3).
pub const TOKEN_BODY: &str =
    r#"{"access_token":"2YotnFZFEjr1zCsicMWpAA","token_type":"Bearer","expires_in":3600}"#;

/// Name of the stub's thread (for its CPU time in `/proc/self/task/*/stat`).
pub const THREAD: &str = "stub-server";

/// What the threads share.
#[derive(Default)]
struct Shared {
    served: AtomicU64,
    capturing: AtomicBool,
    captured: Mutex<Vec<Vec<u8>>>,
}

/// A running stub; stops (and its thread ends) when dropped.
pub struct Stub {
    /// `http://127.0.0.1:<port>/oauth2/token`.
    pub url: String,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Stub {
    /// Start on `127.0.0.1`, port 0, on a thread of its own (pinned to `cpu` when given, where
    /// the OS lets it).
    pub fn start(cpu: Option<usize>) -> Stub {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the stub");
        listener.set_nonblocking(true).expect("nonblocking");
        let url = format!(
            "http://{}/oauth2/token",
            listener.local_addr().expect("address")
        );
        let shared = Arc::new(Shared::default());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(THREAD.into())
            .spawn({
                let shared = shared.clone();
                move || {
                    if let Some(cpu) = cpu {
                        pin_to(cpu);
                    }
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_io()
                        .build()
                        .expect("stub runtime");
                    rt.block_on(async move {
                        let listener =
                            tokio::net::TcpListener::from_std(listener).expect("listener");
                        tokio::spawn(async move {
                            while let Ok((socket, _)) = listener.accept().await {
                                tokio::spawn(serve(socket, shared.clone()));
                            }
                        });
                        let _ = stopped.await;
                    });
                }
            })
            .expect("stub thread");
        Stub {
            url,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Requests answered so far.
    pub fn served(&self) -> u64 {
        self.shared.served.load(Ordering::Relaxed)
    }

    /// The raw bytes (head and body) of every request answered while `f` runs.
    pub fn capture<R>(&self, f: impl FnOnce() -> R) -> (R, Vec<Vec<u8>>) {
        self.shared.capturing.store(true, Ordering::SeqCst);
        let r = f();
        self.shared.capturing.store(false, Ordering::SeqCst);
        let captured = std::mem::take(&mut *self.shared.captured.lock().expect("lock"));
        (r, captured)
    }
}

impl Drop for Stub {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The whole answer, head and body.
fn answer() -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncache-control: no-store\r\n\
         pragma: no-cache\r\ncontent-length: {}\r\n\r\n{TOKEN_BODY}",
        TOKEN_BODY.len()
    )
    .into_bytes()
}

/// Answer every request on one connection until the client closes it.
async fn serve(mut socket: tokio::net::TcpStream, shared: Arc<Shared>) {
    let _ = socket.set_nodelay(true);
    let answer = answer();
    let mut buf: Vec<u8> = Vec::with_capacity(8192);
    let mut out: Vec<u8> = Vec::with_capacity(answer.len() * 4);
    loop {
        // Answer every complete request in the buffer (pipelined ones in one write).
        let mut start = 0;
        while let Some(len) = request_len(&buf[start..]) {
            if shared.capturing.load(Ordering::Relaxed) {
                let request = buf[start..start + len].to_vec();
                shared.captured.lock().expect("lock").push(request);
            }
            start += len;
            out.extend_from_slice(&answer);
            shared.served.fetch_add(1, Ordering::Relaxed);
        }
        buf.drain(..start);
        if !out.is_empty() {
            if socket.write_all(&out).await.is_err() {
                return;
            }
            out.clear();
        }
        if buf.capacity() - buf.len() < 4096 {
            buf.reserve(4096);
        }
        match socket.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// Length of the first request in `buf` (head and `Content-Length` body), if it is all there.
fn request_len(buf: &[u8]) -> Option<usize> {
    let head = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let mut body = 0;
    for line in buf[..head].split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = &line[..colon];
        assert!(
            !name.eq_ignore_ascii_case(b"transfer-encoding"),
            "the stub reads Content-Length bodies only"
        );
        if name.eq_ignore_ascii_case(b"content-length") {
            body = std::str::from_utf8(&line[colon + 1..])
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .expect("Content-Length");
        }
    }
    (buf.len() >= head + body).then_some(head + body)
}

/// Keep the calling thread on `cpu` (best effort: nothing happens where the OS refuses).
pub fn pin_to(cpu: usize) {
    let mut set = nix::sched::CpuSet::new();
    if set.set(cpu).is_ok() {
        let _ = nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set);
    }
}

/// Whether the client and the stub can each have a CPU of their own (at least two CPUs).
pub fn can_pin() -> bool {
    std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2)
}

/// CPU seconds used so far by this process's threads whose name starts with `prefix` (see
/// [`threads_sched`]).
pub fn threads_cpu(prefix: &str) -> f64 {
    threads_sched(prefix).0
}

/// Seconds this process's threads whose name starts with `prefix` have so far spent on a CPU,
/// and waiting for one while runnable (other load on the machine), from
/// `/proc/self/task/*/schedstat` (nanoseconds), or the CPU time alone from `stat` (clock
/// ticks) where there is no `schedstat`; zeroes where neither exists.
pub fn threads_sched(prefix: &str) -> (f64, f64) {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return (0.0, 0.0);
    };
    let (mut run, mut wait) = (0.0, 0.0);
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        if !stat[open + 1..close].starts_with(prefix) {
            continue;
        }
        if let Ok(sched) = std::fs::read_to_string(task.path().join("schedstat")) {
            let mut ns = sched
                .split_whitespace()
                .map(|v| v.parse::<u64>().unwrap_or(0));
            run += ns.next().unwrap_or(0) as f64 / 1e9;
            wait += ns.next().unwrap_or(0) as f64 / 1e9;
            continue;
        }
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        // utime and stime: fields 14 and 15 of stat, 12 and 13 after the command.
        for i in [11, 12] {
            run += fields
                .get(i)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0) as f64
                / 100.0;
        }
    }
    (run, wait)
}

/// Median, minimum and maximum of `v`.
pub fn spread(v: &[f64]) -> (f64, f64, f64) {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    if s.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    let mid = s.len() / 2;
    let median = if s.len() % 2 == 1 {
        s[mid]
    } else {
        (s[mid - 1] + s[mid]) / 2.0
    };
    (median, s[0], s[s.len() - 1])
}
