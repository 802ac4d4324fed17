//! One scenario on every driver: ureq (blocking), tokio (reqwest), embedded-io blocking and async
//! (over plain TCP), and `http_compat` (the `http` crate's types, sent by a minimal HTTP/1.1
//! client written here). Include it with `#[path = "common/drivers.rs"] mod drivers;`.
#![allow(dead_code)]

use std::io::{Read as _, Write as _};
use std::net::TcpStream;

use ssoflow::{Error as CoreError, Flow, Instant, PacedFlow, Request};
#[path = "tcp.rs"]
mod tcp;
pub use tcp::{AsyncTcp, BlockingTcp, READ_TIMEOUT};

/// A driver under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Drv {
    /// `ssoflow-ureq`.
    Ureq,
    /// `ssoflow-tokio` (reqwest).
    Tokio,
    /// `ssoflow-embedded-io`, blocking, over a `std::net::TcpStream`.
    EmbBlocking,
    /// `ssoflow-embedded-io`, async, over a `tokio::net::TcpStream`.
    EmbAsync,
    /// `ssoflow::http_compat` with a raw HTTP/1.1 client.
    HttpCompat,
}

/// Every driver, in a fixed order.
pub const DRIVERS: [Drv; 5] = [
    Drv::Ureq,
    Drv::Tokio,
    Drv::EmbBlocking,
    Drv::EmbAsync,
    Drv::HttpCompat,
];

/// A driver's failure: the core's own error, or the driver's (as text).
#[derive(Debug)]
pub enum DrvError {
    /// The flow refused (the typed error every driver passes through).
    Core(CoreError),
    /// Transport, timeout, …: what the driver said.
    Other(String),
}

impl DrvError {
    /// The core error, or a panic naming what came instead.
    pub fn core(self) -> CoreError {
        match self {
            DrvError::Core(e) => e,
            DrvError::Other(e) => panic!("expected a core error, got {e}"),
        }
    }
}

fn ureq_err(e: ssoflow_ureq::Error) -> DrvError {
    match e {
        ssoflow_ureq::Error::Core(e) | ssoflow_ureq::Error::RetryAfter { error: e, .. } => {
            DrvError::Core(e)
        }
        other => DrvError::Other(format!("{other:?}")),
    }
}

fn tokio_err(e: ssoflow_tokio::Error) -> DrvError {
    match e {
        ssoflow_tokio::Error::Core(e) | ssoflow_tokio::Error::RetryAfter { error: e, .. } => {
            DrvError::Core(e)
        }
        other => DrvError::Other(format!("{other:?}")),
    }
}

fn emb_err(e: ssoflow_embedded_io::Error) -> DrvError {
    match e {
        ssoflow_embedded_io::Error::Core(e)
        | ssoflow_embedded_io::Error::RetryAfter { error: e, .. } => DrvError::Core(e),
        other => DrvError::Other(format!("{other:?}")),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn clock() -> impl FnMut() -> Instant {
    let origin = std::time::Instant::now();
    move || Instant::from_millis(u64::try_from(origin.elapsed().as_millis()).unwrap_or(u64::MAX))
}

/// A firmware-style clock for the embedded driver whose waits sleep (a thread sleep, a tokio
/// sleep) instead of spinning, as a firmware's delay or timer would.
pub struct SleepClock(std::time::Instant);

impl SleepClock {
    /// A clock starting at 0 now.
    pub fn new() -> Self {
        SleepClock(std::time::Instant::now())
    }
}

impl ssoflow_embedded_io::Clock for SleepClock {
    fn now(&mut self) -> Instant {
        Instant::from_millis(u64::try_from(self.0.elapsed().as_millis()).unwrap_or(u64::MAX))
    }

    fn wait_until(&mut self, until: Instant) {
        std::thread::sleep(std::time::Duration::from_millis(
            until.millis_since(self.now()),
        ));
    }

    async fn wait_until_async(&mut self, until: Instant) {
        tokio::time::sleep(std::time::Duration::from_millis(
            until.millis_since(self.now()),
        ))
        .await;
    }
}

/// `host:port` of an `http://` URL.
fn authority(url: &str) -> &str {
    let rest = url.strip_prefix("http://").expect("an http:// sandbox URL");
    rest.split(['/', '?']).next().unwrap_or(rest)
}

impl Drv {
    /// Run `flow` to its output on this driver; `addr` is the sandbox (the embedded-io drivers
    /// connect there, the others follow the request URLs).
    pub fn run<F: Flow>(self, addr: std::net::SocketAddr, flow: F) -> Result<F::Output, DrvError> {
        match self {
            Drv::Ureq => ssoflow_ureq::Driver::default().run(flow).map_err(ureq_err),
            Drv::Tokio => {
                let d = ssoflow_tokio::Driver::new().map_err(tokio_err)?;
                runtime().block_on(d.run(flow)).map_err(tokio_err)
            }
            Drv::EmbBlocking => {
                let mut stream = BlockingTcp::connect(addr);
                let mut buf = vec![0u8; ssoflow_embedded_io::DEFAULT_BUF];
                ssoflow_embedded_io::Driver::new(&mut buf)
                    .run(&mut stream, &mut clock(), flow)
                    .map_err(emb_err)
            }
            Drv::EmbAsync => runtime().block_on(async move {
                let mut stream = AsyncTcp::connect(addr).await;
                let mut buf = vec![0u8; ssoflow_embedded_io::DEFAULT_BUF];
                ssoflow_embedded_io::Driver::new(&mut buf)
                    .run_async(&mut stream, &mut clock(), flow)
                    .await
                    .map_err(emb_err)
            }),
            Drv::HttpCompat => {
                let mut now = clock();
                ssoflow::http_compat::run(flow, move || now().as_millis(), raw_send).map_err(|e| {
                    match e {
                        ssoflow::http_compat::RunError::Flow(e) => DrvError::Core(e),
                        other => DrvError::Other(other.to_string()),
                    }
                })
            }
        }
    }

    /// Run a paced flow (device-flow polling, a revocation) on this driver, each waiting with
    /// its own timer: a thread sleep (ureq, http_compat), a tokio sleep, the embedded
    /// [`ssoflow_embedded_io::Clock`]'s waits (here a thread sleep and a tokio sleep).
    pub fn run_paced<F: PacedFlow>(
        self,
        addr: std::net::SocketAddr,
        flow: F,
    ) -> Result<F::Output, DrvError> {
        match self {
            Drv::Ureq => ssoflow_ureq::Driver::default()
                .run_paced(flow)
                .map_err(ureq_err),
            Drv::Tokio => {
                let d = ssoflow_tokio::Driver::new().map_err(tokio_err)?;
                runtime().block_on(d.run_paced(flow)).map_err(tokio_err)
            }
            Drv::EmbBlocking => {
                let mut stream = BlockingTcp::connect(addr);
                let mut buf = vec![0u8; ssoflow_embedded_io::DEFAULT_BUF];
                ssoflow_embedded_io::Driver::new(&mut buf)
                    .run_paced(&mut stream, &mut SleepClock::new(), flow)
                    .map_err(emb_err)
            }
            Drv::EmbAsync => runtime().block_on(async move {
                let mut stream = AsyncTcp::connect(addr).await;
                let mut buf = vec![0u8; ssoflow_embedded_io::DEFAULT_BUF];
                ssoflow_embedded_io::Driver::new(&mut buf)
                    .run_paced_async(&mut stream, &mut SleepClock::new(), flow)
                    .await
                    .map_err(emb_err)
            }),
            Drv::HttpCompat => {
                let mut now = clock();
                ssoflow::http_compat::run_paced(
                    flow,
                    move || now().as_millis(),
                    |ms| std::thread::sleep(std::time::Duration::from_millis(ms)),
                    raw_send,
                )
                .map_err(|e| match e {
                    ssoflow::http_compat::RunError::Flow(e) => DrvError::Core(e),
                    other => DrvError::Other(other.to_string()),
                })
            }
        }
    }

    /// Send one request on this driver; the status and body of the answer.
    pub fn send(
        self,
        addr: std::net::SocketAddr,
        request: &Request<'_>,
    ) -> Result<(u16, Vec<u8>), DrvError> {
        match self {
            Drv::Ureq => {
                let r = ssoflow_ureq::Driver::default()
                    .send(request)
                    .map_err(ureq_err)?;
                Ok((r.status, r.body))
            }
            Drv::Tokio => {
                let d = ssoflow_tokio::Driver::new().map_err(tokio_err)?;
                let owned = ssoflow_tokio::OwnedRequest::from_core(request).map_err(tokio_err)?;
                let r = runtime().block_on(d.send(owned)).map_err(tokio_err)?;
                Ok((r.status, r.body.to_vec()))
            }
            Drv::EmbBlocking => {
                let mut stream = BlockingTcp::connect(addr);
                let mut buf = vec![0u8; ssoflow_embedded_io::DEFAULT_BUF];
                let mut d = ssoflow_embedded_io::Driver::new(&mut buf);
                let v = d.send(&mut stream, request).map_err(emb_err)?;
                Ok((v.status(), v.body().to_vec()))
            }
            Drv::EmbAsync => runtime().block_on(async move {
                let mut stream = AsyncTcp::connect(addr).await;
                let mut buf = vec![0u8; ssoflow_embedded_io::DEFAULT_BUF];
                let mut d = ssoflow_embedded_io::Driver::new(&mut buf);
                let v = d.send_async(&mut stream, request).await.map_err(emb_err)?;
                Ok((v.status(), v.body().to_vec()))
            }),
            Drv::HttpCompat => {
                let http = ssoflow::http_compat::to_http(request)
                    .map_err(|e| DrvError::Other(e.to_string()))?;
                let r = raw_send(http).map_err(|e| DrvError::Other(e.to_string()))?;
                Ok((r.status().as_u16(), r.into_body()))
            }
        }
    }
}

/// A minimal HTTP/1.1 client for `http_compat`: one connection per request
/// (`Connection: close`), the answer read to its end (the sandbox sends `Content-Length`).
pub fn raw_send(request: http::Request<Vec<u8>>) -> std::io::Result<http::Response<Vec<u8>>> {
    let url = request.uri().to_string();
    let host = authority(&url).to_owned();
    let path = request
        .uri()
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_owned();
    let mut tcp = TcpStream::connect(&host)?;
    tcp.set_read_timeout(Some(READ_TIMEOUT))?;
    let mut head = format!(
        "{} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
        request.method(),
        request.body().len()
    );
    for (name, value) in request.headers() {
        let value = value
            .to_str()
            .map_err(|_| std::io::Error::other("a header value is not text"))?;
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    tcp.write_all(head.as_bytes())?;
    tcp.write_all(request.body())?;
    let mut out = Vec::new();
    tcp.read_to_end(&mut out)?;
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no end of head"))?;
    let head = String::from_utf8_lossy(&out[..split]).into_owned();
    let body = out[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status"))?;
    let mut builder = http::Response::builder().status(status);
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("transfer-encoding") {
                return Err(std::io::Error::other("chunked answers are not read here"));
            }
            builder = builder.header(name.trim(), value.trim());
        }
    }
    builder.body(body).map_err(std::io::Error::other)
}
