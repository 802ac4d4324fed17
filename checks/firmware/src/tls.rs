//! Firmware size check, full set + embedded-tls: every flow of `src/main.rs`, but over an
//! embedded-tls 0.19 `TlsConnection` (TLS 1.3, `TLS_AES_128_GCM_SHA256`, P-256 key exchange)
//! opened by `ssoflow_embedded_io::tls::open`, the server certificate verified against a CA by
//! `tls::CaVerified` (embedded-tls's `rustpki` verifier: chain, name, validity dates by a clock,
//! handshake signature), on a Cortex-M4F target. Built by `scripts/size-report` with
//! `--features embedded-tls --bin ssoflow-firmware-tls-check`; not run (the dummy stream speaks
//! no TLS), only measured.
//!
//! The TLS record buffers (16 640 + 4 096 B), the connection's state and the verifier's copy of
//! the server's chain live on the stack here, as the driver's buffer does in `src/main.rs`: the
//! static-RAM figure leaves them out; `scripts/size-report` prints them beside it.
#![no_std]
#![no_main]
// `unsafe` is denied everywhere but the one `no_mangle` entry point.
#![deny(unsafe_code)]
#![allow(unused_imports)]

mod dummy;
mod flows;

use core::hint::black_box;

use dummy::{CANNED, Dummy};
use ssoflow_embedded_io::tls::embedded_tls::blocking::TlsConnection;
use ssoflow_embedded_io::tls::rand_core::{self, CryptoRng, RngCore};
use ssoflow_embedded_io::tls::{
    self, CaVerified, READ_RECORD_BUF, Suite, TlsClock, TlsConfig, WRITE_RECORD_BUF,
};
use ssoflow_embedded_io::{DEFAULT_BUF, Driver};

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {
        core::hint::spin_loop();
    }
}

/// The random source: a firmware reads its hardware RNG here (opaque to the optimiser).
struct HardwareRng(u32);

impl RngCore for HardwareRng {
    fn next_u32(&mut self) -> u32 {
        self.0 = black_box(self.0.wrapping_mul(1_664_525).wrapping_add(1_013_904_223));
        self.0
    }
    fn next_u64(&mut self) -> u64 {
        rand_core::impls::next_u64_via_u32(self)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        rand_core::impls::fill_bytes_via_next(self, dest)
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for HardwareRng {}

/// The wall clock for the certificate's validity dates: an RTC set by SNTP on a firmware.
struct Rtc;

impl TlsClock for Rtc {
    fn now() -> Option<u64> {
        black_box(Some(1_800_000_000))
    }
}

/// The trusted CA certificate (DER): a firmware embeds its own with `include_bytes!`; opaque
/// here so that the verifier's parsing is kept.
static CA_DER: [u8; 512] = [0x30; 512];

#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub extern "C" fn _start() -> ! {
    let mut buf = [0u8; DEFAULT_BUF];
    let mut driver = Driver::new(&mut buf);
    let mut record_read = [0u8; READ_RECORD_BUF];
    let mut record_write = [0u8; WRITE_RECORD_BUF];
    let mut rng = HardwareRng(black_box(7));
    let config = TlsConfig::new().with_server_name(black_box("api.example.com"));
    loop {
        let io = Dummy {
            canned: CANNED,
            pos: 0,
        };
        let mut tls: TlsConnection<'_, Dummy, Suite> =
            TlsConnection::new(io, &mut record_read, &mut record_write);
        let mut trust = CaVerified::<_, Rtc>::with_clock(black_box(&CA_DER[..]), &mut rng);
        if tls::open(&mut tls, &config, &mut trust).is_ok() {
            flows::all(&mut driver, &mut tls);
        }
        driver.reset();
        black_box(&mut tls);
    }
}
