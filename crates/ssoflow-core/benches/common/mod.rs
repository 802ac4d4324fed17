//! The workloads both bench harnesses run: one flow step per provider (build the request, parse
//! the seed's answer), through ssoflow and through the usual std stack — the same request bytes
//! built with `format!` / `serde_json` / the `base64`, `hmac` and `sha2` crates, and the same
//! members parsed into owned structs with `serde_json`.
//!
//! Both sides do the work the protocol requires, and only that: the PAR `X-Request-ID` (a UUID v4
//! from SHA-256 of a seed and a counter on both sides), the Punchh `x-pch-digest` (HMAC-SHA1 on both
//! sides), HTTP Basic credentials (Base64 on both sides). The baseline keeps the same members the
//! core keeps and lets serde skip the rest, as `#[derive(Deserialize)]` does by default.

#![allow(dead_code)] // each harness uses a subset
#![allow(clippy::result_large_err)] // the core's errors carry a body excerpt inline

use std::hint::black_box;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Digest;
use ssoflow_core::{
    AccessToken, Expiry, Flow, Instant, Response, Secret, Step, oauth2, par_ordering, pos_api,
    punchh,
};

/// Seed 000: the PAR sign-in answer with a DLC token.
pub const PAR_SIGN_IN: &[u8] =
    include_bytes!("../../tests/fixtures/seeds/000_sign_in_response_dlc.json");
/// Seed 001: the Punchh SSO answer with its 40-member user.
pub const PUNCHH_SSO: &[u8] = include_bytes!("../../tests/fixtures/seeds/001_sso_response.json");
/// RFC 6749 §5.1's example answer, with a scope.
pub const OAUTH_TOKEN: &[u8] = br#"{"access_token":"2YotnFZFEjr1zCsicMWpAA","token_type":"Bearer","expires_in":3600,"refresh_token":"tGzv3JOkF0XG5Qx2TlKWIA","scope":"orders"}"#;
/// Seed 004's token answer (HTTP 201).
pub const POS_TOKENS: &[u8] = br#"{"access_token":"3f2c6f8e-2b1a-4c3d-9e8f-0a1b2c3d4e5f","expires_in":3600,"refresh_token":"r-1","token_type":"Bearer"}"#;

pub const PAR_SUBJECT: &str = "test-1100-jane.doe@partech.com-Jane-Doe-+41767567126";
const PAR_BASE: &str = "https://api-public-playground.menu.app";
const PAR_APP_KEY: &str = "f3a90488ffee32c3acb6fcd0ca417cf6";
const PAR_M2M: &str = "d4c129d3f4560c2beaa3a1a3b15bb771a7038a4bbb680a3912c9ea284d07b291";
const OAUTH_URL: &str = "https://server.example.com/token";
const OAUTH_ID: &str = "s6BhdRkqt3";
const OAUTH_SECRET: &str = "7Fjfp0ZBr1KtDRbnfVdmIw";
const PUNCHH_BASE: &str = "https://sandbox.punchh.com";
const PUNCHH_CLIENT: &str = "CLIENT_GOES_HERE";
const PUNCHH_SECRET: &str = "SECRET_GOES_HERE";
const PUNCHH_SECURITY_TOKEN: &str = "SECURITY_TOKEN_GOES_HERE";
const POS_BASE: &str = "https://pos.example";
const POS_ID: &str = "pos-admin-client";
const POS_SECRET: &str = "pos-secret";
const POS_USER: &str = "admin@pos.example";
const POS_PASSWORD: &str = "correct horse battery staple";

/// Run a flow to its end, answering every request with `status` / `body`: the loop every
/// driver has (`match flow.poll(..) { Ok(Step::Done) => return take_output(&mut out), .. }`).
pub fn run_once<F: Flow>(mut flow: F, status: u16, body: &[u8], buf: &mut [u8]) -> F::Output {
    let now = Instant::from_millis(1);
    let mut out = None;
    loop {
        match flow.poll(now, buf) {
            Ok(Step::Send(r)) => {
                black_box(&r);
                if let Err(e) = flow.handle(now, Response::new(status, body), &mut out) {
                    panic!("handle: {e:?}");
                }
            }
            Ok(Step::Done) => return ssoflow_core::take_output(&mut out).expect("output"),
            Err(e) => panic!("poll: {e:?}"),
        }
    }
}

/// Everything the ssoflow side is configured with once, outside the timed loop.
pub struct Setup {
    pub par: par_ordering::ParConfig,
    pub par_m2m: AccessToken,
    pub oauth: oauth2::Client,
    pub punchh: punchh::PunchhConfig,
    pub pos: pos_api::PosConfig,
    pub buf: Vec<u8>,
}

impl Setup {
    pub fn new() -> Self {
        Setup {
            par: par_ordering::ParConfig::new(PAR_BASE, PAR_APP_KEY, "client-id", "client-secret")
                .expect("par config"),
            par_m2m: AccessToken {
                value: Secret::new(PAR_M2M, "m2m").expect("m2m"),
                expiry: Expiry::Unknown,
            },
            oauth: oauth2::Client::new(OAUTH_URL, OAUTH_ID)
                .and_then(|c| c.with_secret(OAUTH_SECRET))
                .expect("oauth client"),
            punchh: punchh::PunchhConfig::new(PUNCHH_BASE, PUNCHH_CLIENT, PUNCHH_SECRET)
                .expect("punchh config"),
            pos: pos_api::PosConfig::new(POS_BASE, POS_ID, POS_SECRET).expect("pos config"),
            buf: vec![0u8; 8192],
        }
    }

    /// PAR sign-in with a cached M2M token: one request, one answer.
    pub fn par_sign_in(&mut self) -> par_ordering::SignIn {
        let ids = par_ordering::RequestIds::new([1; 16]);
        let flow = par_ordering::sign_in(&self.par, Some(self.par_m2m.clone()), PAR_SUBJECT, ids)
            .expect("flow");
        run_once(flow, 200, black_box(PAR_SIGN_IN), &mut self.buf)
    }

    /// Punchh SSO (signed with HMAC-SHA1).
    pub fn punchh_sso(&mut self) -> punchh::SsoLogin {
        let flow = punchh::sso(&self.punchh, black_box(PUNCHH_SECURITY_TOKEN)).expect("flow");
        run_once(flow, 200, black_box(PUNCHH_SSO), &mut self.buf)
    }

    /// OAuth 2.0 client credentials.
    pub fn oauth2_token(&mut self) -> ssoflow_core::TokenSet {
        let flow =
            oauth2::client_credentials(&self.oauth, Some(black_box("orders"))).expect("flow");
        run_once(flow, 200, black_box(OAUTH_TOKEN), &mut self.buf)
    }

    /// POS API ROPC login (201).
    pub fn pos_login(&mut self) -> ssoflow_core::TokenSet {
        let flow =
            pos_api::login(&self.pos, black_box(POS_USER), black_box(POS_PASSWORD)).expect("flow");
        run_once(flow, 201, black_box(POS_TOKENS), &mut self.buf)
    }
}

impl Default for Setup {
    fn default() -> Self {
        Self::new()
    }
}

// ---------------------------------------------------------------------------------------------
// The baseline: what an application does with std, serde_json and the RustCrypto crates.

/// A request as an owned value: URL, the headers whose values are computed, and the body.
pub struct OwnedRequest {
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

#[derive(Deserialize)]
pub struct Envelope<T> {
    pub status: String,
    pub code: i64,
    pub data: T,
}
#[derive(Deserialize)]
pub struct SignInData {
    pub customer_account: Account,
    pub token: Tok,
    pub dlc_access_token: Option<Tok>,
}
#[derive(Deserialize)]
pub struct Account {
    pub id: String,
    pub type_id: i64,
    pub reference_type: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub phone_number: String,
    pub locale: String,
    pub state: i64,
    pub optin_status_email: i64,
    pub optin_status_pn: i64,
    pub has_pending_email_change: bool,
    pub has_pending_phone_number_change: bool,
    pub is_social: bool,
    pub updated_at: String,
    pub created_at: String,
    pub confirmed: bool,
}
#[derive(Deserialize)]
pub struct Tok {
    pub value: String,
    pub ttl: Option<u64>,
}
#[derive(Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: Option<String>,
    pub expires_in: Option<u64>,
    pub refresh_token: Option<String>,
    pub scope: Option<String>,
}
#[derive(Deserialize)]
pub struct SsoResponse {
    pub token: SsoToken,
    pub user: PunchhUser,
}
#[derive(Deserialize)]
pub struct SsoToken {
    pub access_token: String,
}
/// The members `punchh::User` keeps; serde skips the other 34.
#[derive(Deserialize)]
pub struct PunchhUser {
    pub id: u64,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
    pub authentication_token: Option<String>,
}
#[derive(Serialize)]
struct SignInBody<'a> {
    grant_type: &'a str,
    subject_token: &'a str,
    subject_token_type: &'a str,
}
#[derive(Serialize)]
struct SsoBody<'a> {
    client: &'a str,
    security_token: &'a str,
}
#[derive(Serialize)]
struct PosLoginBody<'a> {
    user_name: &'a str,
    password: &'a str,
}

/// `X-Request-ID` the way the core makes it: UUID v4 bits over SHA-256(seed ‖ counter).
fn request_id(seed: [u8; 16], counter: u64) -> String {
    let mut h = sha2::Sha256::new();
    h.update(seed);
    h.update(counter.to_le_bytes());
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let mut out = String::with_capacity(36);
    for (i, x) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        push_hex(&mut out, *x);
    }
    out
}

fn push_hex(out: &mut String, b: u8) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    out.push(DIGITS[usize::from(b >> 4)] as char);
    out.push(DIGITS[usize::from(b & 0xf)] as char);
}

fn basic(id: &str, secret: &str) -> String {
    // base64 is built without `alloc` here (the core's no_std build): encode into a Vec by hand.
    let raw = format!("{id}:{secret}");
    let mut out = vec![0u8; raw.len().div_ceil(3) * 4];
    let n = STANDARD.encode_slice(raw, &mut out).expect("base64");
    out.truncate(n);
    format!("Basic {}", String::from_utf8(out).expect("ascii"))
}

pub fn par_sign_in_baseline() -> (OwnedRequest, Envelope<SignInData>) {
    let body = serde_json::to_vec(&SignInBody {
        grant_type: "token_exchange",
        subject_token: black_box(PAR_SUBJECT),
        subject_token_type: "access_token",
    })
    .expect("json");
    let req = OwnedRequest {
        url: format!("{PAR_BASE}/api/sts/users/sign-in"),
        headers: vec![
            ("X-Request-ID", request_id([1; 16], 0)),
            ("Application", PAR_APP_KEY.to_owned()),
            ("Api-Version", "4.38.0".to_owned()),
            ("Authorization", format!("Bearer {PAR_M2M}")),
        ],
        body,
    };
    let v: Envelope<SignInData> = serde_json::from_slice(black_box(PAR_SIGN_IN)).expect("parse");
    (req, v)
}

pub fn punchh_sso_baseline() -> (OwnedRequest, SsoResponse) {
    let body = serde_json::to_vec(&SsoBody {
        client: PUNCHH_CLIENT,
        security_token: black_box(PUNCHH_SECURITY_TOKEN),
    })
    .expect("json");
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(PUNCHH_SECRET.as_bytes()).expect("key");
    mac.update(b"/api/auth/sso");
    mac.update(&body);
    let mut digest = String::with_capacity(40);
    for x in mac.finalize().into_bytes() {
        push_hex(&mut digest, x);
    }
    let req = OwnedRequest {
        url: format!("{PUNCHH_BASE}/api/auth/sso"),
        headers: vec![
            ("User-Agent", punchh::DEFAULT_USER_AGENT.to_owned()),
            ("x-pch-digest", digest),
        ],
        body,
    };
    let v: SsoResponse = serde_json::from_slice(black_box(PUNCHH_SSO)).expect("parse");
    (req, v)
}

pub fn oauth2_token_baseline() -> (OwnedRequest, TokenResponse) {
    let req = OwnedRequest {
        url: OAUTH_URL.to_owned(),
        headers: vec![("Authorization", basic(OAUTH_ID, OAUTH_SECRET))],
        body: format!(
            "grant_type=client_credentials&scope={}",
            black_box("orders")
        )
        .into_bytes(),
    };
    let v: TokenResponse = serde_json::from_slice(black_box(OAUTH_TOKEN)).expect("parse");
    (req, v)
}

pub fn pos_login_baseline() -> (OwnedRequest, TokenResponse) {
    let body = serde_json::to_vec(&PosLoginBody {
        user_name: black_box(POS_USER),
        password: black_box(POS_PASSWORD),
    })
    .expect("json");
    let req = OwnedRequest {
        url: format!("{POS_BASE}/auth/token"),
        headers: vec![("Authorization", basic(POS_ID, POS_SECRET))],
        body,
    };
    let v: TokenResponse = serde_json::from_slice(black_box(POS_TOKENS)).expect("parse");
    (req, v)
}

/// The `x-pch-digest` the usual way: the RustCrypto `hmac` crate, hex into a `String`.
pub fn digest_baseline(sha256: bool, secret: &str, uri: &str, body: &[u8]) -> String {
    fn hex(bytes: &[u8]) -> String {
        let mut out = String::with_capacity(bytes.len() * 2);
        for &b in bytes {
            push_hex(&mut out, b);
        }
        out
    }
    if sha256 {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("key");
        mac.update(uri.as_bytes());
        mac.update(body);
        hex(&mac.finalize().into_bytes())
    } else {
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).expect("key");
        mac.update(uri.as_bytes());
        mac.update(body);
        hex(&mac.finalize().into_bytes())
    }
}

/// 1 KiB of JSON-ish body for the digest benchmarks.
pub fn digest_input() -> Vec<u8> {
    (0..1024u32).map(|i| b'a' + (i % 26) as u8).collect()
}

/// Check once, outside any timing, that both sides read the same values.
pub fn check_equivalence(setup: &mut Setup) {
    let s = setup.par_sign_in();
    let (_, b) = par_sign_in_baseline();
    assert_eq!(s.customer.email, b.data.customer_account.email.as_str());
    assert_eq!(s.menu_token.value.expose(), b.data.token.value);
    assert_eq!(
        s.dlc_token.as_ref().map(|t| t.value.expose()),
        b.data.dlc_access_token.as_ref().map(|t| t.value.as_str())
    );
    let s = setup.punchh_sso();
    let (_, b) = punchh_sso_baseline();
    assert_eq!(s.access_token.value.expose(), b.token.access_token);
    assert_eq!(s.user.id, b.user.id);
    assert_eq!(Some(s.user.email.as_str()), b.user.email.as_deref());
    let s = setup.oauth2_token();
    let (_, b) = oauth2_token_baseline();
    assert_eq!(s.access.value.expose(), b.access_token);
    assert_eq!(s.scope.as_deref(), b.scope.as_deref());
    let s = setup.pos_login();
    let (_, b) = pos_login_baseline();
    assert_eq!(s.access.value.expose(), b.access_token);
    assert_eq!(
        s.refresh.as_ref().map(|r| r.expose()),
        b.refresh_token.as_deref()
    );
}
