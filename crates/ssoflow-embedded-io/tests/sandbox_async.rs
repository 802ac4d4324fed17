//! End to end over TCP against the sandbox with the async driver (`tokio::net::TcpStream`
//! wrapped by `embedded_io_adapters::tokio_1::FromTokio`).
// The core's error carries a redacted body excerpt (no allocator to box it).
#![allow(clippy::result_large_err)]

mod scenarios;

use std::net::SocketAddr;
use std::time::Duration;

use embedded_io_adapters::tokio_1::FromTokio;
use scenarios::{Conn, TestClock};
use ssoflow_core::recipe::Recipe;
use ssoflow_core::session::Session;
use ssoflow_core::{Flow, Request};
use ssoflow_embedded_io::{DEFAULT_BUF, Driver, Error};
use ssoflow_sandbox::{Config, ParOrderingConfig, Sandbox, SandboxHandle};
use tokio::net::TcpStream;

/// Request ids and jitter: distinct bytes for every draw (a firmware reads its RNG).
fn entropy() -> impl FnMut() -> [u8; 16] {
    let mut n = 0u8;
    move || {
        n = n.wrapping_add(1);
        [n; 16]
    }
}

struct Async {
    driver: Driver<'static>,
    stream: FromTokio<TcpStream>,
    addr: SocketAddr,
    clock: TestClock,
}

async fn connect(addr: SocketAddr) -> FromTokio<TcpStream> {
    let s = TcpStream::connect(addr).await.unwrap();
    s.set_nodelay(true).unwrap();
    FromTokio::new(s)
}

/// A hung sandbox fails the test instead of hanging it.
async fn bounded<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), f)
        .await
        .expect("sandbox answered in time")
}

impl Async {
    async fn new(sb: &SandboxHandle) -> Self {
        let buf = Box::leak(vec![0u8; DEFAULT_BUF].into_boxed_slice());
        Async {
            driver: Driver::new(buf),
            stream: connect(sb.addr()).await,
            addr: sb.addr(),
            clock: TestClock::default(),
        }
    }
}

impl Conn for Async {
    async fn run<F: Flow>(&mut self, flow: F) -> Result<F::Output, Error> {
        bounded(
            self.driver
                .run_async(&mut self.stream, &mut self.clock, flow),
        )
        .await
    }

    async fn send_with<B>(&mut self, build: B) -> Result<(u16, Vec<u8>), Error>
    where
        B: for<'b> FnMut(&'b mut [u8]) -> Result<Request<'b>, ssoflow_core::Error>,
    {
        let v = bounded(self.driver.send_with_async(&mut self.stream, build)).await?;
        Ok((v.status(), v.body().to_vec()))
    }

    async fn authorized<R, B>(
        &mut self,
        session: &mut Session<R::Output, Error>,
        recipe: &R,
        key: &R::Key,
        build: B,
    ) -> Result<(u16, Vec<u8>), Error>
    where
        R: Recipe,
        B: for<'b> FnMut(&R::Output, &'b mut [u8]) -> Result<Request<'b>, ssoflow_core::Error>,
    {
        let v = bounded(self.driver.send_authorized_async(
            &mut self.stream,
            &mut self.clock,
            session,
            recipe,
            key,
            entropy(),
            build,
        ))
        .await?;
        Ok((v.status(), v.body().to_vec()))
    }

    fn clock(&self) -> &TestClock {
        &self.clock
    }

    async fn reconnect(&mut self) {
        self.stream = connect(self.addr).await;
        self.driver.reset();
    }

    fn reusable(&self) -> bool {
        self.driver.is_reusable()
    }
}

async fn sandbox() -> SandboxHandle {
    Sandbox::builder().test_hooks(true).start().await.unwrap()
}

#[tokio::test]
async fn par_sign_in() {
    let sb = sandbox().await;
    scenarios::par_sign_in(&mut Async::new(&sb).await, &sb, false).await;
}

#[tokio::test]
async fn par_sign_in_with_dlc_token() {
    let config = Config {
        par_ordering: ParOrderingConfig {
            punchh_linked: true,
            ..Default::default()
        },
        ..Default::default()
    };
    let sb = Sandbox::builder()
        .config(config)
        .test_hooks(true)
        .start()
        .await
        .unwrap();
    scenarios::par_sign_in(&mut Async::new(&sb).await, &sb, true).await;
}

#[tokio::test]
async fn par_protected_call_refreshes_on_401() {
    let sb = sandbox().await;
    scenarios::par_protected_call_refreshes_on_401(&mut Async::new(&sb).await, &sb).await;
}

#[tokio::test]
async fn punchh_sso() {
    let sb = sandbox().await;
    scenarios::punchh_sso(&mut Async::new(&sb).await, &sb).await;
}

#[tokio::test]
async fn stream_generate_session() {
    let sb = sandbox().await;
    scenarios::stream_generate_session(&mut Async::new(&sb).await, &sb).await;
}

#[tokio::test]
async fn pos_login_and_refresh() {
    let sb = sandbox().await;
    scenarios::pos_login_and_refresh(&mut Async::new(&sb).await, &sb).await;
}

#[tokio::test]
async fn oauth2_grants() {
    let sb = sandbox().await;
    scenarios::oauth2_grants(&mut Async::new(&sb).await, &sb).await;
}

#[tokio::test]
async fn faults_are_typed() {
    let sb = sandbox().await;
    scenarios::faults_are_typed(&mut Async::new(&sb).await, &sb).await;
}

#[tokio::test]
async fn sign_in_5xx_is_retried_after_backoff() {
    let sb = sandbox().await;
    scenarios::sign_in_5xx_is_retried_after_backoff(&mut Async::new(&sb).await, &sb).await;
}

#[tokio::test]
async fn sign_in_drop_returns_then_retries_after_reconnect() {
    let sb = sandbox().await;
    let c = &mut Async::new(&sb).await;
    scenarios::sign_in_drop_returns_then_retries_after_reconnect(c, &sb).await;
}

#[tokio::test]
async fn final_sign_in_failure_cools_down() {
    let sb = sandbox().await;
    scenarios::final_sign_in_failure_cools_down(&mut Async::new(&sb).await, &sb).await;
}
