//! Firmware size check: the embedded-io driver with PAR sign-in + session, Punchh SSO, POS
//! ROPC + refresh and Stream generate-session, over a dummy stream, on a Cortex-M4F target.
//!
//! Nothing here talks to a network: `Dummy` answers every read with canned bytes hidden behind
//! `black_box`, so the optimiser must keep every parser and flow path. The entry point is a
//! bare `_start` (no vector table, no runtime crate) to keep the build fast; a real firmware's
//! `cortex-m-rt` adds a few hundred bytes. `src/tls.rs` is the same over embedded-tls.
#![no_std]
#![no_main]
// `unsafe` is denied everywhere but the one `no_mangle` entry point.
#![deny(unsafe_code)]
#![allow(unused_imports)]

mod dummy;
mod flows;

use core::hint::black_box;

use dummy::{CANNED, Dummy};
use ssoflow_embedded_io::{DEFAULT_BUF, Driver};

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {
        core::hint::spin_loop();
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
        flows::all(&mut driver, &mut io);
        driver.reset();
        black_box(&mut io);
    }
}
