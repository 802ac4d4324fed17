//! End to end over TCP against the sandbox with the blocking driver (`std::net::TcpStream`
//! wrapped by `embedded_io_adapters::std::FromStd`).
// The core's error carries a redacted body excerpt (no allocator to box it).
#![allow(clippy::result_large_err)]

mod common;
mod scenarios;

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use embedded_io_adapters::std::FromStd;
use scenarios::{Conn, TestClock};
use ssoflow_core::recipe::Recipe;
use ssoflow_core::session::Session;
use ssoflow_core::{Flow, Request};
use ssoflow_embedded_io::{DEFAULT_BUF, Driver, Error};
use ssoflow_sandbox::{Config, ParOrderingConfig, Sandbox, SandboxHandle};

/// Request ids and jitter: distinct bytes for every draw (a firmware reads its RNG).
fn entropy() -> impl FnMut() -> [u8; 16] {
    let mut n = 0u8;
    move || {
        n = n.wrapping_add(1);
        [n; 16]
    }
}

struct Blocking {
    driver: Driver<'static>,
    stream: FromStd<TcpStream>,
    addr: SocketAddr,
    clock: TestClock,
}

fn connect(addr: SocketAddr) -> FromStd<TcpStream> {
    let s = TcpStream::connect(addr).unwrap();
    // A hung sandbox fails the test instead of hanging it.
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.set_nodelay(true).unwrap();
    FromStd::new(s)
}

impl Blocking {
    fn new(sb: &SandboxHandle) -> Self {
        let buf = Box::leak(vec![0u8; DEFAULT_BUF].into_boxed_slice());
        Blocking {
            driver: Driver::new(buf),
            stream: connect(sb.addr()),
            addr: sb.addr(),
            clock: TestClock::default(),
        }
    }
}

impl Conn for Blocking {
    async fn run<F: Flow>(&mut self, flow: F) -> Result<F::Output, Error> {
        self.driver.run(&mut self.stream, &mut self.clock, flow)
    }

    async fn send_with<B>(&mut self, build: B) -> Result<(u16, Vec<u8>), Error>
    where
        B: for<'b> FnMut(&'b mut [u8]) -> Result<Request<'b>, ssoflow_core::Error>,
    {
        let v = self.driver.send_with(&mut self.stream, build)?;
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
        let v = self.driver.send_authorized(
            &mut self.stream,
            &mut self.clock,
            session,
            recipe,
            key,
            entropy(),
            build,
        )?;
        Ok((v.status(), v.body().to_vec()))
    }

    fn clock(&self) -> &TestClock {
        &self.clock
    }

    async fn reconnect(&mut self) {
        self.stream = connect(self.addr);
        self.driver.reset();
    }

    fn reusable(&self) -> bool {
        self.driver.is_reusable()
    }
}

fn sandbox() -> SandboxHandle {
    Sandbox::builder()
        .test_hooks(true)
        .start_blocking()
        .unwrap()
}

fn with_conn(sb: &SandboxHandle, f: impl AsyncFnOnce(&mut Blocking)) {
    let mut c = Blocking::new(sb);
    common::block_on(f(&mut c));
}

#[test]
fn par_sign_in() {
    let sb = sandbox();
    with_conn(&sb, async |c| scenarios::par_sign_in(c, &sb, false).await);
}

#[test]
fn par_sign_in_with_dlc_token() {
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
        .start_blocking()
        .unwrap();
    with_conn(&sb, async |c| scenarios::par_sign_in(c, &sb, true).await);
}

#[test]
fn par_protected_call_refreshes_on_401() {
    let sb = sandbox();
    with_conn(&sb, async |c| {
        scenarios::par_protected_call_refreshes_on_401(c, &sb).await
    });
}

#[test]
fn punchh_sso() {
    let sb = sandbox();
    with_conn(&sb, async |c| scenarios::punchh_sso(c, &sb).await);
}

#[test]
fn stream_generate_session() {
    let sb = sandbox();
    with_conn(&sb, async |c| {
        scenarios::stream_generate_session(c, &sb).await
    });
}

#[test]
fn pos_login_and_refresh() {
    let sb = sandbox();
    with_conn(&sb, async |c| {
        scenarios::pos_login_and_refresh(c, &sb).await
    });
}

#[test]
fn oauth2_grants() {
    let sb = sandbox();
    with_conn(&sb, async |c| scenarios::oauth2_grants(c, &sb).await);
}

#[test]
fn faults_are_typed() {
    let sb = sandbox();
    with_conn(&sb, async |c| scenarios::faults_are_typed(c, &sb).await);
}

#[test]
fn sign_in_5xx_is_retried_after_backoff() {
    let sb = sandbox();
    with_conn(&sb, async |c| {
        scenarios::sign_in_5xx_is_retried_after_backoff(c, &sb).await
    });
}

#[test]
fn sign_in_drop_returns_then_retries_after_reconnect() {
    let sb = sandbox();
    with_conn(&sb, async |c| {
        scenarios::sign_in_drop_returns_then_retries_after_reconnect(c, &sb).await
    });
}

#[test]
fn final_sign_in_failure_cools_down() {
    let sb = sandbox();
    with_conn(&sb, async |c| {
        scenarios::final_sign_in_failure_cools_down(c, &sb).await
    });
}
