//! Prints `size_of` of every flow state, the session and the driver's pieces, for
//! `scripts/size-report` (run with `--nocapture`). Host (64-bit) sizes: a 32-bit MCU's are a
//! little smaller (pointers and `usize` halve).
// The core's error carries a redacted body excerpt (no allocator to box it).
#![allow(clippy::result_large_err)]

use std::mem::size_of;

use ssoflow_core::session::Session;
use ssoflow_core::{TokenSet, oauth2, par_ordering, pos_api, punchh, stream};
use ssoflow_embedded_io::{DEFAULT_BUF, Driver, ResponseParser, ResponseView};

#[test]
fn sizes() {
    // Each flow with the output slot its caller owns while it runs (a flow keeps no output of
    // its own): what running it takes besides the driver's buffer.
    let flows = [
        (
            "par_ordering::SignInFlow",
            size_of::<par_ordering::SignInFlow<'static>>(),
            size_of::<Option<par_ordering::SignIn>>(),
        ),
        (
            "punchh::SsoFlow",
            size_of::<punchh::SsoFlow<'static>>(),
            size_of::<Option<punchh::SsoLogin>>(),
        ),
        (
            "pos_api::LoginFlow",
            size_of::<pos_api::LoginFlow<'static>>(),
            size_of::<Option<TokenSet>>(),
        ),
        (
            "pos_api::RefreshFlow",
            size_of::<pos_api::RefreshFlow<'static>>(),
            size_of::<Option<TokenSet>>(),
        ),
        (
            "stream::GenerateSessionFlow",
            size_of::<stream::GenerateSessionFlow<'static>>(),
            size_of::<Option<stream::SsoLoginToken>>(),
        ),
        (
            "oauth2::TokenFlow",
            size_of::<oauth2::TokenFlow<'static>>(),
            size_of::<Option<TokenSet>>(),
        ),
        (
            "oauth2::DeviceToken",
            size_of::<oauth2::DeviceToken<'static>>(),
            size_of::<Option<TokenSet>>(),
        ),
        (
            "oauth2::Revocation",
            size_of::<oauth2::Revocation<'static>>(),
            size_of::<Option<()>>(),
        ),
    ];
    // What a session keeps between sign-ins (its current output), beside a running sign-in.
    let sessions = [
        (
            "session::Session<par_ordering::SignIn>",
            size_of::<Session<par_ordering::SignIn>>(),
        ),
        ("session::Session<TokenSet>", size_of::<Session<TokenSet>>()),
    ];
    let driver = [
        ("embedded_io::Driver", size_of::<Driver<'static>>()),
        (
            "embedded_io::ResponseView",
            size_of::<ResponseView<'static>>(),
        ),
        ("embedded_io::ResponseParser", size_of::<ResponseParser>()),
        (
            "embedded_io::Error",
            size_of::<ssoflow_embedded_io::Error>(),
        ),
    ];
    let buffers = DEFAULT_BUF;
    for (name, flow, output) in flows {
        println!("size flow {name} {flow}");
        println!("size output {name}(output-slot) {output}");
    }
    for (name, size) in sessions {
        println!("size session {name} {size}");
    }
    for (name, size) in driver {
        println!("size driver {name} {size}");
    }
    println!("size buffers driver-buffer {buffers}");
    let largest = flows.iter().map(|(_, f, o)| f + o).max().unwrap_or(0);
    println!("size largest-flow-plus-buffers {}", largest + buffers);
    assert!(largest > 0);
}

/// With the `embedded-tls` feature: what one HTTPS connection adds (`scripts/size-report`
/// prints it beside the "full set + embedded-tls" firmware line).
#[cfg(feature = "embedded-tls")]
#[test]
fn tls_sizes() {
    use ssoflow_embedded_io::tls::embedded_tls::blocking::TlsConnection;
    use ssoflow_embedded_io::tls::rand_core::{self, CryptoRng, RngCore};
    use ssoflow_embedded_io::tls::{CaVerified, READ_RECORD_BUF, Suite, WRITE_RECORD_BUF};

    /// Stands for the TCP socket (a zero-sized handle, as most embedded stacks' are not).
    struct Socket;
    impl embedded_io::ErrorType for Socket {
        type Error = embedded_io::ErrorKind;
    }
    impl embedded_io::Read for Socket {
        fn read(&mut self, _: &mut [u8]) -> Result<usize, Self::Error> {
            Ok(0)
        }
    }
    impl embedded_io::Write for Socket {
        fn write(&mut self, b: &[u8]) -> Result<usize, Self::Error> {
            Ok(b.len())
        }
        fn flush(&mut self) -> Result<(), Self::Error> {
            Ok(())
        }
    }
    /// Stands for the hardware RNG.
    struct Rng;
    impl RngCore for Rng {
        fn next_u32(&mut self) -> u32 {
            4
        }
        fn next_u64(&mut self) -> u64 {
            4
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            dest.fill(4);
        }
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
            dest.fill(4);
            Ok(())
        }
    }
    impl CryptoRng for Rng {}

    let connection = size_of::<TlsConnection<'static, Socket, Suite>>();
    let provider = size_of::<CaVerified<'static, Rng>>();
    let records = READ_RECORD_BUF + WRITE_RECORD_BUF;
    println!("size tls record-buffers {records}");
    println!("size tls connection-state {connection}");
    println!("size tls provider-state {provider}");
    println!(
        "size tls total-with-driver-buffer {}",
        records + connection + provider + DEFAULT_BUF
    );
    assert!(connection > 0 && provider > MAX_CHAIN_MIN);
}

/// The provider keeps a copy of the server's chain: it is at least this big.
#[cfg(feature = "embedded-tls")]
const MAX_CHAIN_MIN: usize = ssoflow_embedded_io::tls::MAX_CERT_CHAIN;
