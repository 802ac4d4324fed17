//! Links every public flow of `ssoflow-core` into a `#![no_std]` binary with only libc.
#![no_std]
#![no_main]

use core::hint::black_box;
use ssoflow_core::{Flow, Instant, Response, Step, oauth2, par_ordering, session};

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {}
}

/// Drive `flow` with one canned answer repeated; returns the number of requests sent.
fn drive<F: Flow>(mut flow: F, status: u16, body: &[u8]) -> usize {
    let mut buf = [0u8; 4096];
    let mut sent = 0;
    let now = Instant::from_millis(black_box(0));
    let mut out = None;
    for _ in 0..8 {
        match flow.poll(now, &mut buf) {
            Ok(Step::Send(r)) => {
                sent += r.body.len() + r.url.len();
                if flow
                    .handle(now, Response::new(status, black_box(body)), &mut out)
                    .is_err()
                {
                    break;
                }
            }
            Ok(Step::Done) => {
                black_box(&out);
                break;
            }
            Err(e) => {
                black_box(&e);
                break;
            }
        }
    }
    sent
}

const TOKEN: &[u8] = br#"{"access_token":"a","token_type":"Bearer","expires_in":60,"refresh_token":"r"}"#;

#[unsafe(no_mangle)]
extern "C" fn main(_argc: i32, _argv: *const *const u8) -> i32 {
    let mut n = 0;
    if let Ok(c) = oauth2::Client::new("https://a.example/token", "id") {
        if let Ok(c) = c.with_secret("s") {
            if let Ok(f) = oauth2::client_credentials(&c, None) {
                n += drive(f, 200, TOKEN);
            }
            if let Ok(f) = oauth2::password(&c, "u", "p", None) {
                n += drive(f, 200, TOKEN);
            }
            if let Ok(f) = oauth2::refresh(&c, "r", None) {
                n += drive(f, 200, TOKEN);
            }
            if let Ok(f) = oauth2::token_exchange(&c, "s", oauth2::ACCESS_TOKEN_TYPE, None, None) {
                n += drive(f, 200, TOKEN);
            }
            let auth = oauth2::Authorization::from_entropy(&[black_box(1); 48]);
            let mut buf = [0u8; 512];
            if let Ok(url) = oauth2::authorize_url(&c, "https://a.example/auth", "https://b.example/cb", None, &auth, &mut buf) {
                n += url.len();
            }
            if let Ok(cb) = oauth2::parse_callback(black_box("/cb?code=x&state=y"), &auth.state) {
                if let Ok(f) = oauth2::authorization_code(&c, cb.code.expose(), "https://b.example/cb", Some(&auth.pkce)) {
                    n += drive(f, 200, TOKEN);
                }
            }
        }
    }
    if let Ok(cfg) = par_ordering::ParConfig::new("https://p.example", "key", "id", "secret") {
        let mut ids = par_ordering::RequestIds::new([black_box(3); 16]);
        n += drive(par_ordering::m2m_token(&cfg, &mut ids), 200, b"{}");
        if let Ok(f) = par_ordering::sign_in(&cfg, None, "subject", ids) {
            n += drive(f, 401, b"{}");
        }
        let mut out = [0u8; 512];
        let (status, body) = par_ordering::serve_customer_info(black_box(b"{}"), &mut out, |_| None);
        n += usize::from(status) + body.len();
    }
    let mut s: session::Session<ssoflow_core::AccessToken> = session::Session::new(1000);
    let now = Instant::from_millis(black_box(5));
    if let session::Access::SignIn { .. } = s.access(now, None) {
        let _ = s.sign_in_failed(now, ssoflow_core::Error::Unauthorized, black_box(7));
    }
    black_box(n) as i32 & 0
}
