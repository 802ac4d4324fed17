#![allow(missing_docs)] // criterion_group! generates undocumented items.
//! Core CPU per flow step (build the request + parse the answer), side by side with the same
//! parse into owned structs with `serde_json` (std, alloc). `scripts/bench-report` turns the
//! results into ratios in BENCHMARKS.md.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use serde::Deserialize;
use ssoflow_core::{
    AccessToken, Expiry, Flow, Instant, Response, Secret, Step, oauth2, par_ordering,
};

const SIGN_IN: &[u8] = include_bytes!("../tests/fixtures/par_sign_in_dlc.json");
const TOKEN: &[u8] = br#"{"access_token":"2YotnFZFEjr1zCsicMWpAA","token_type":"Bearer","expires_in":3600,"refresh_token":"tGzv3JOkF0XG5Qx2TlKWIA","scope":"orders"}"#;

fn run_once<F: Flow>(mut flow: F, status: u16, body: &[u8], buf: &mut [u8]) -> F::Output {
    let now = Instant::from_millis(1);
    loop {
        match flow.poll(now, buf).unwrap() {
            Step::Send(r) => {
                black_box(&r);
                flow.handle(now, Response::new(status, body)).unwrap();
            }
            Step::Done(out) => return out,
        }
    }
}

// The serde_json baseline: the same members, owned.
#[derive(Deserialize)]
#[allow(dead_code)]
struct Envelope<T> {
    status: String,
    code: i64,
    data: T,
}
#[derive(Deserialize)]
#[allow(dead_code)]
struct SignInData {
    customer_account: Account,
    token: Tok,
    dlc_access_token: Option<Tok>,
}
#[derive(Deserialize)]
#[allow(dead_code)]
struct Account {
    id: String,
    type_id: i64,
    reference_type: String,
    first_name: String,
    last_name: String,
    email: String,
    phone_number: String,
    locale: String,
    state: i64,
    optin_status_email: i64,
    optin_status_pn: i64,
    has_pending_email_change: bool,
    has_pending_phone_number_change: bool,
    is_social: bool,
    updated_at: String,
    created_at: String,
    confirmed: bool,
}
#[derive(Deserialize)]
#[allow(dead_code)]
struct Tok {
    value: String,
    ttl: Option<u64>,
}
#[derive(Deserialize)]
#[allow(dead_code)]
struct TokenResponse {
    access_token: String,
    token_type: Option<String>,
    expires_in: Option<u64>,
    refresh_token: Option<String>,
    scope: Option<String>,
}
#[derive(serde::Serialize)]
struct SignInBody<'a> {
    grant_type: &'a str,
    subject_token: &'a str,
    subject_token_type: &'a str,
}

const SUBJECT: &str = "test-1100-jane.doe@partech.com-Jane-Doe-+41767567126";

fn par_sign_in(c: &mut Criterion) {
    let config = par_ordering::Config::new(
        "https://api.example",
        "f3a90488ffee32c3acb6fcd0ca417cf6",
        "id",
        "secret",
    )
    .unwrap();
    let m2m = AccessToken {
        value: Secret::new("d4c129d3f4560c2b", "m2m").unwrap(),
        expiry: Expiry::Unknown,
    };
    let mut buf = vec![0u8; 8192];
    let mut g = c.benchmark_group("par_sign_in");
    g.bench_function("ssoflow", |b| {
        b.iter(|| {
            let ids = par_ordering::RequestIds::new([1; 16]);
            let flow = par_ordering::sign_in(&config, Some(m2m.clone()), SUBJECT, ids).unwrap();
            black_box(run_once(flow, 200, black_box(SIGN_IN), &mut buf))
        })
    });
    g.bench_function("serde_json", |b| {
        b.iter(|| {
            let body = serde_json::to_vec(&SignInBody {
                grant_type: "token_exchange",
                subject_token: black_box(SUBJECT),
                subject_token_type: "access_token",
            })
            .unwrap();
            black_box(body);
            let v: Envelope<SignInData> = serde_json::from_slice(black_box(SIGN_IN)).unwrap();
            black_box(v)
        })
    });
    g.finish();
}

fn oauth2_token(c: &mut Criterion) {
    let client = oauth2::Client::new("https://server.example.com/token", "s6BhdRkqt3")
        .unwrap()
        .with_secret("7Fjfp0ZBr1KtDRbnfVdmIw")
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let mut g = c.benchmark_group("oauth2_token");
    g.bench_function("ssoflow", |b| {
        b.iter(|| {
            let flow = oauth2::client_credentials(&client, Some("orders")).unwrap();
            black_box(run_once(flow, 200, black_box(TOKEN), &mut buf))
        })
    });
    g.bench_function("serde_json", |b| {
        b.iter(|| {
            let form = format!(
                "grant_type=client_credentials&scope={}",
                black_box("orders")
            );
            black_box(form);
            let v: TokenResponse = serde_json::from_slice(black_box(TOKEN)).unwrap();
            black_box(v)
        })
    });
    g.finish();
}

criterion_group!(benches, par_sign_in, oauth2_token);
criterion_main!(benches);
