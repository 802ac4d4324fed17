//! Prints `size_of` of every flow, its output and the session (host, 64-bit; a 32-bit MCU's are
//! slightly smaller), and checks they stay within the firmware budget. The README records them.

use std::mem::size_of;

use ssoflow_core::session::Session;
use ssoflow_core::{Error, TokenSet, oauth2, par_ordering, pos_api, punchh, stream};

#[test]
fn flow_sizes() {
    let rows: &[(&str, usize)] = &[
        (
            "oauth2::TokenFlow (every OAuth 2.0 grant)",
            size_of::<oauth2::TokenFlow<'static>>(),
        ),
        (
            "par_ordering::M2mRequest flow",
            size_of::<ssoflow_core::OneShot<par_ordering::M2mRequest<'static>>>(),
        ),
        (
            "par_ordering::SignInFlow",
            size_of::<par_ordering::SignInFlow<'static>>(),
        ),
        ("punchh::SsoFlow", size_of::<punchh::SsoFlow<'static>>()),
        (
            "punchh::CodeForTokenFlow",
            size_of::<punchh::CodeForTokenFlow<'static>>(),
        ),
        (
            "punchh::UserInfoFlow",
            size_of::<punchh::UserInfoFlow<'static>>(),
        ),
        (
            "stream::GenerateSessionFlow",
            size_of::<stream::GenerateSessionFlow<'static>>(),
        ),
        (
            "stream::RedeemFlow",
            size_of::<stream::RedeemFlow<'static>>(),
        ),
        (
            "pos_api::CreateAccountFlow",
            size_of::<pos_api::CreateAccountFlow<'static>>(),
        ),
        (
            "pos_api::LoginFlow",
            size_of::<pos_api::LoginFlow<'static>>(),
        ),
        (
            "pos_api::RefreshFlow",
            size_of::<pos_api::RefreshFlow<'static>>(),
        ),
        (
            "oauth2::DeviceAuthorizationFlow",
            size_of::<oauth2::DeviceAuthorizationFlow<'static>>(),
        ),
        (
            "oauth2::DeviceToken (device polling)",
            size_of::<oauth2::DeviceToken<'static>>(),
        ),
        (
            "oauth2::Revocation",
            size_of::<oauth2::Revocation<'static>>(),
        ),
        (
            "output oauth2::DeviceAuthorization",
            size_of::<oauth2::DeviceAuthorization>(),
        ),
        ("output TokenSet", size_of::<TokenSet>()),
        (
            "output par_ordering::SignIn",
            size_of::<par_ordering::SignIn>(),
        ),
        ("output punchh::SsoLogin", size_of::<punchh::SsoLogin>()),
        (
            "output stream::StreamSession",
            size_of::<stream::StreamSession>(),
        ),
        (
            "session::Session<par_ordering::SignIn>",
            size_of::<Session<par_ordering::SignIn>>(),
        ),
        ("session::Session<TokenSet>", size_of::<Session<TokenSet>>()),
        ("Error", size_of::<Error>()),
    ];
    for (name, size) in rows {
        println!("size {name:<45} {size:>6} B");
    }
    let largest = rows.iter().map(|(_, s)| *s).max().unwrap_or(0);
    println!("size largest                                        {largest:>6} B");
    // Firmware budget: the largest flow state plus a 5 KiB driver buffer stays within 12 KiB.
    assert!(
        largest + 5 * 1024 <= 12 * 1024,
        "largest flow state {largest} B is over budget"
    );
}
