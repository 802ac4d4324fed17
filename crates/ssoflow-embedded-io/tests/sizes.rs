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
    let flows = [
        (
            "par_ordering::SignInFlow",
            size_of::<par_ordering::SignInFlow<'static>>(),
        ),
        (
            "par_ordering::SignIn(output)",
            size_of::<par_ordering::SignIn>(),
        ),
        (
            "session::Session<par_ordering::SignIn>",
            size_of::<Session<par_ordering::SignIn>>(),
        ),
        ("punchh::SsoFlow", size_of::<punchh::SsoFlow<'static>>()),
        (
            "pos_api::LoginFlow",
            size_of::<pos_api::LoginFlow<'static>>(),
        ),
        (
            "pos_api::RefreshFlow",
            size_of::<pos_api::RefreshFlow<'static>>(),
        ),
        ("session::Session<TokenSet>", size_of::<Session<TokenSet>>()),
        (
            "stream::GenerateSessionFlow",
            size_of::<stream::GenerateSessionFlow<'static>>(),
        ),
        ("oauth2::TokenFlow", size_of::<oauth2::TokenFlow<'static>>()),
        (
            "oauth2::DeviceToken",
            size_of::<oauth2::DeviceToken<'static>>(),
        ),
        (
            "oauth2::Revocation",
            size_of::<oauth2::Revocation<'static>>(),
        ),
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
    for (name, size) in flows {
        println!("size flow {name} {size}");
    }
    for (name, size) in driver {
        println!("size driver {name} {size}");
    }
    println!("size buffers driver-buffer {buffers}");
    let largest = flows.iter().map(|(_, s)| *s).max().unwrap_or(0);
    println!("size largest-flow-plus-buffers {}", largest + buffers);
    assert!(largest > 0);
}
