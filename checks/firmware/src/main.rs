//! Firmware size check: the embedded-io driver with PAR sign-in + session, Punchh SSO, POS
//! ROPC + refresh and Stream generate-session, over a dummy stream, on a Cortex-M4F target.
//!
//! Nothing here talks to a network: `Dummy` answers every read with canned bytes hidden behind
//! `black_box`, so the optimiser must keep every parser and flow path. The entry point is a
//! bare `_start` (no vector table, no runtime crate) to keep the build fast; a real firmware's
//! `cortex-m-rt` adds a few hundred bytes.
#![no_std]
#![no_main]
// `unsafe` is denied everywhere but the one `no_mangle` entry point.
#![deny(unsafe_code)]
#![allow(unused_imports)]

use core::hint::black_box;

use embedded_io::{ErrorKind, ErrorType, Read, Write};
use ssoflow_core::session::{Policy, Session};
use ssoflow_core::{Instant, Method, TokenSet};
use ssoflow_embedded_io::{DEFAULT_BUF, Driver, Error};

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {
        core::hint::spin_loop();
    }
}

/// A token answer, chunked, after a 100 Continue: exercises every parser path.
const CANNED: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n\
HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n\
4d;x=y\r\n{\"access_token\":\"a\",\"token_type\":\"Bearer\",\"expires_in\":60,\"refresh_token\":\"r\"}\r\n\
0\r\n\r\n";

/// A stream that answers with canned bytes and swallows writes.
struct Dummy {
    canned: &'static [u8],
    pos: usize,
}

impl ErrorType for Dummy {
    type Error = ErrorKind;
}

impl Read for Dummy {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        let src = black_box(self.canned);
        let rest = src.get(self.pos..).unwrap_or(&[]);
        let n = rest.len().min(buf.len()).min(black_box(64));
        if let (Some(dst), Some(src)) = (buf.get_mut(..n), rest.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.pos = if self.pos + n >= src.len() {
            0
        } else {
            self.pos + n
        };
        Ok(n)
    }
}

impl Write for Dummy {
    fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        Ok(black_box(buf).len())
    }

    fn flush(&mut self) -> Result<(), ErrorKind> {
        Ok(())
    }
}

fn now() -> Instant {
    Instant::from_millis(black_box(0))
}

fn report<T>(r: Result<T, Error>) {
    match r {
        Ok(v) => {
            black_box(&v);
        }
        Err(e) => {
            black_box(e.kind());
        }
    }
}

#[cfg(feature = "par")]
fn par(driver: &mut Driver<'_>, stream: &mut Dummy) {
    use ssoflow_core::par_ordering::{self, RequestIds};
    let Ok(config) = par_ordering::Config::new(
        black_box("https://api-public-playground.menu.app"),
        black_box("f3a90488ffee32c3acb6fcd0ca417cf6"),
        black_box("client-id"),
        black_box("client-secret"),
    ) else {
        return;
    };
    let subject = black_box("subject-token");
    let recipe = par_ordering::CustomerSignIn::<str>::new(&config);
    let mut session = Session::<par_ordering::SignIn, Error>::with_policy(Policy::DEFAULT);
    let mut seed = black_box([7u8; 16]);
    let mut call_ids = RequestIds::new(black_box([9u8; 16]));
    let mut clock = now;
    let r = driver.send_authorized(
        stream,
        &mut clock,
        &mut session,
        &recipe,
        subject,
        || {
            // A firmware reads its hardware RNG here.
            seed[0] = seed[0].wrapping_add(1);
            seed
        },
        |t: &par_ordering::SignIn, buf: &mut [u8]| {
            config.protected_request(
                buf,
                Method::Get,
                "/api/customers/me",
                t.menu_token.value.expose(),
                &mut call_ids,
            )
        },
    );
    report(r.map(|v| v.status()));
}

#[cfg(feature = "punchh")]
fn punchh(driver: &mut Driver<'_>, stream: &mut Dummy) {
    use ssoflow_core::punchh;
    let Ok(config) = punchh::Config::new(
        black_box("https://sandbox.punchh.com"),
        black_box("business-key"),
        black_box("business-secret"),
    ) else {
        return;
    };
    if let Ok(flow) = punchh::sso(&config, black_box("security-token")) {
        report(driver.run(stream, &mut now, flow));
    }
}

#[cfg(feature = "pos")]
fn pos(driver: &mut Driver<'_>, stream: &mut Dummy) {
    use ssoflow_core::pos_api;
    let Ok(config) = pos_api::Config::new(
        black_box("https://pos.example"),
        black_box("client-id"),
        black_box("client-secret"),
    ) else {
        return;
    };
    let Ok(flow) = pos_api::login(&config, black_box("admin"), black_box("password")) else {
        return;
    };
    let tokens: Result<TokenSet, Error> = driver.run(stream, &mut now, flow);
    if let Ok(Some(r)) = tokens.as_ref().map(|t| t.refresh.as_ref()) {
        if let Ok(flow) = pos_api::refresh(&config, r.expose()) {
            report(driver.run(stream, &mut now, flow));
        }
    }
    report(tokens);
}

#[cfg(feature = "stream")]
fn stream_flow(driver: &mut Driver<'_>, io: &mut Dummy) {
    use ssoflow_core::stream;
    let Ok(config) = stream::Config::new(
        black_box("https://api.stream.example"),
        black_box("https://orders.brand.example"),
        black_box("client-id"),
        black_box("client-secret"),
    ) else {
        return;
    };
    let Ok(flow) = stream::api_token(&config) else {
        return;
    };
    let Ok(api) = driver.run(io, &mut now, flow) else {
        return;
    };
    let who = stream::SessionRequest {
        provider_org_id: black_box("org-1"),
        role: stream::Role::parse(black_box("manager")).unwrap_or(stream::Role::Owner),
        email: black_box("owner@example.com"),
        full_name: black_box("Owner"),
        phone_number: black_box("+41 76 000 00 00"),
    };
    if let Ok(flow) = stream::generate_session(&config, api.access.value.expose(), &who) {
        report(driver.run(io, &mut now, flow).map(|_token| ()));
    }
}

#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub extern "C" fn _start() -> ! {
    let mut buf = [0u8; DEFAULT_BUF];
    let mut driver = Driver::new(&mut buf);
    let mut io = Dummy {
        canned: CANNED,
        pos: 0,
    };
    loop {
        #[cfg(feature = "par")]
        par(&mut driver, &mut io);
        #[cfg(feature = "punchh")]
        punchh(&mut driver, &mut io);
        #[cfg(feature = "pos")]
        pos(&mut driver, &mut io);
        #[cfg(feature = "stream")]
        stream_flow(&mut driver, &mut io);
        driver.reset();
        black_box(&mut io);
    }
}
