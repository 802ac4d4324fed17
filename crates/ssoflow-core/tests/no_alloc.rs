//! Proves the core allocates nothing: a counting global allocator (allocation-counter) around
//! full flow runs.

use ssoflow_core::{
    Flow, Instant, Response, Step, oauth2, par_ordering, pos_api, punchh, session, stream,
};

const M2M: &[u8] = include_bytes!("fixtures/seeds/000_m2m_response.json");
const SIGN_IN: &[u8] = include_bytes!("fixtures/seeds/000_sign_in_response_dlc.json");
const TOKEN: &[u8] = br#"{"access_token":"2YotnFZFEjr1zCsicMWpAA","token_type":"Bearer","expires_in":3600,"refresh_token":"tGzv3JOkF0XG5Qx2TlKWIA"}"#;
const PUNCHH_SSO: &[u8] = include_bytes!("fixtures/seeds/001_sso_response.json");
const PUNCHH_TOKEN: &[u8] = include_bytes!("fixtures/seeds/002_oauth_token_response.json");
const STREAM_SESSION_TOKEN: &[u8] =
    br#"{"sso_login_token":"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.sig"}"#;
const STREAM_REDEEMED: &[u8] = br#"{"session":"sess-123","user":{"email":"sarah.manager@restaurantchain.com","full_name":"Sarah Johnson","role":"manager"},"organization":{"id":"5b0b2b0e-9a52-4b6e-9d7e-3f7f3c1c2a10","provider_org_id":"restaurant_chain_abc_123"}}"#;
const POS_CREATED: &[u8] = br#"{"id":"6a1e3f0c-8d4b-4e2a-9c7f-5b3d1a0e9f8c","user_name":"admin@pos.example","created_at":"2024-01-01T00:00:00Z"}"#;
const POS_TOKENS: &[u8] = br#"{"access_token":"3f2c6f8e-2b1a-4c3d-9e8f-0a1b2c3d4e5f","expires_in":3600,"refresh_token":"r-1","token_type":"Bearer"}"#;
const POS_ADMIN: &[u8] =
    br#"{"id":"6a1e3f0c-8d4b-4e2a-9c7f-5b3d1a0e9f8c","user_name":"admin@pos.example"}"#;

fn run<F: Flow>(mut flow: F, answers: &[(u16, &[u8])], buf: &mut [u8]) -> F::Output {
    let mut answers = answers.iter();
    let mut out = None;
    loop {
        match flow.poll(Instant::from_millis(1), buf).unwrap() {
            Step::Send(_) => {
                let (status, body) = answers.next().unwrap();
                flow.handle(
                    Instant::from_millis(2),
                    Response::new(*status, body),
                    &mut out,
                )
                .unwrap();
            }
            Step::Done => return out.take().unwrap(),
        }
    }
}

#[test]
fn full_flows_allocate_nothing() {
    // Everything set up (and the test harness's own allocations done) before counting.
    let mut buf = [0u8; 8192];
    let client = oauth2::Client::new("https://server.example.com/token", "s6BhdRkqt3")
        .unwrap()
        .with_secret("7Fjfp0ZBr1KtDRbnfVdmIw")
        .unwrap();
    let par = par_ordering::ParConfig::new("https://api.example", "key", "id", "secret").unwrap();
    let mut outputs = None;
    let info = allocation_counter::measure(|| {
        let t = run(
            oauth2::client_credentials(&client, Some("orders")).unwrap(),
            &[(200, TOKEN)],
            &mut buf,
        );
        let r = run(
            oauth2::refresh(&client, "r1", None).unwrap(),
            &[(200, TOKEN)],
            &mut buf,
        );
        let p = run(
            oauth2::password(&client, "johndoe", "A3ddj3w", None).unwrap(),
            &[(200, TOKEN)],
            &mut buf,
        );
        let ids = par_ordering::RequestIds::new([9; 16]);
        let s = run(
            par_ordering::sign_in(&par, None, "test-1-a@b.c-A-B-+1", ids).unwrap(),
            &[(200, M2M), (200, SIGN_IN)],
            &mut buf,
        );
        let mut session = session::Session::new(1000);
        let _ = session.access(Instant::from_millis(3), None);
        let generation = session.signed_in(Instant::from_millis(3), s);
        let mut call = session::Call::new();
        let verdict = call.on_status(&mut session, generation, 401).unwrap();
        outputs = Some((t, r, p, verdict));
    });
    assert_eq!(info.count_total, 0, "the core allocated: {info:?}");
    let (t, r, p, verdict) = outputs.unwrap();
    assert_eq!(t.access.value.expose(), "2YotnFZFEjr1zCsicMWpAA");
    assert!(r.refresh.is_some() && p.refresh.is_some());
    assert_eq!(verdict, session::Verdict::Retry);
}

#[test]
fn punchh_stream_and_pos_flows_allocate_nothing() {
    let mut buf = [0u8; 8192];
    let mut url_buf = [0u8; stream::MAX_REDIRECT_URL_LEN];
    let punchh = punchh::PunchhConfig::new(
        "https://sandbox.punchh.com",
        "CLIENT_GOES_HERE",
        "SECRET_GOES_HERE",
    )
    .unwrap();
    let stream_cfg = stream::StreamConfig::new(
        "https://api.stream.example",
        "https://orders.brand.example",
        "stream-client",
        "stream-secret",
    )
    .unwrap();
    let pos =
        pos_api::PosConfig::new("https://pos.example", "pos-admin-client", "pos-secret").unwrap();
    let who = stream::SessionRequest {
        provider_org_id: "restaurant_chain_abc_123",
        role: stream::Role::Manager,
        email: "sarah.manager@restaurantchain.com",
        full_name: "Sarah Johnson",
        phone_number: "+1-555-123-4567",
    };
    let mut outputs = None;
    let info = allocation_counter::measure(|| {
        // Punchh: SSO (HMAC-SHA1 signed), user information, authorization code for tokens.
        let login = run(
            punchh::sso(&punchh, "SECURITY_TOKEN_GOES_HERE").unwrap(),
            &[(200, PUNCHH_SSO)],
            &mut buf,
        );
        let user = run(
            punchh::user_info(&punchh, login.access_token.value.expose()).unwrap(),
            &[(200, user_body(PUNCHH_SSO))],
            &mut buf,
        );
        let code = run(
            punchh::code_for_token(&punchh, "CODE", "https://app.example/cb").unwrap(),
            &[(200, PUNCHH_TOKEN)],
            &mut buf,
        );
        // Stream: API token, generate-session, the one-time redirect URL, redeem.
        let api = run(
            stream::api_token(&stream_cfg).unwrap(),
            &[(200, TOKEN)],
            &mut buf,
        );
        let token = run(
            stream::generate_session(&stream_cfg, api.access.value.expose(), &who).unwrap(),
            &[(200, STREAM_SESSION_TOKEN)],
            &mut buf,
        );
        let url = token.into_redirect_url(&stream_cfg, &mut url_buf).unwrap();
        let redeemed = run(
            stream::redeem(url).unwrap(),
            &[(200, STREAM_REDEEMED)],
            &mut buf,
        );
        // POS API: create account, ROPC login, refresh, the protected call and its answer.
        let account = run(
            pos_api::create_account(&pos, "admin@pos.example", "pw").unwrap(),
            &[(201, POS_CREATED)],
            &mut buf,
        );
        let tokens = run(
            pos_api::login(&pos, "admin@pos.example", "pw").unwrap(),
            &[(201, POS_TOKENS)],
            &mut buf,
        );
        let refresh = tokens.refresh.as_ref().unwrap().expose();
        let rotated = run(
            pos_api::refresh(&pos, refresh).unwrap(),
            &[(201, POS_TOKENS)],
            &mut buf,
        );
        let _ = pos_api::admin_request(&pos, rotated.access.value.expose(), &mut buf).unwrap();
        let admin = pos_api::read_admin(Response::new(200, POS_ADMIN)).unwrap();
        outputs = Some((login, user, code, redeemed, account, rotated, admin));
    });
    assert_eq!(info.count_total, 0, "the core allocated: {info:?}");
    let (login, user, code, redeemed, account, rotated, admin) = outputs.unwrap();
    assert_eq!(login.user.id, 111_111_111);
    assert_eq!(user.email, "test@example.com");
    assert!(!code.access.value.is_empty());
    assert_eq!(redeemed.session.expose(), "sess-123");
    assert_eq!(account.user_name, "admin@pos.example");
    assert_eq!(rotated.refresh.unwrap().expose(), "r-1");
    assert_eq!(admin.id, account.id);
}

/// The seed's `user` object on its own, as `/api/auth/users` answers.
fn user_body(sso: &'static [u8]) -> &'static [u8] {
    let start = sso.windows(8).position(|w| w == b"\"user\": ").unwrap() + 8;
    let end = sso.iter().rposition(|&b| b == b'}').unwrap();
    &sso[start..end]
}

#[test]
fn the_counter_counts() {
    let info = allocation_counter::measure(|| {
        std::hint::black_box(vec![1u8; 16]);
    });
    assert!(info.count_total >= 1);
}

// The benchmarks' workloads (`benches/common`), counted: what one flow step allocates through
// ssoflow and through the serde_json baseline. `scripts/bench-report` prints the counts.
#[path = "../benches/common/mod.rs"]
mod common;

#[test]
fn allocations_per_step_ssoflow_vs_baseline() {
    let mut setup = common::Setup::new();
    type Workload = (&'static str, fn(&mut common::Setup), fn());
    let mut rows: Vec<(&str, u64, u64)> = Vec::new();
    let workloads: [Workload; 4] = [
        (
            "par_sign_in",
            |s| drop(s.par_sign_in()),
            || drop(common::par_sign_in_baseline()),
        ),
        (
            "punchh_sso",
            |s| drop(s.punchh_sso()),
            || drop(common::punchh_sso_baseline()),
        ),
        (
            "oauth2_token",
            |s| drop(s.oauth2_token()),
            || drop(common::oauth2_token_baseline()),
        ),
        (
            "pos_login",
            |s| drop(s.pos_login()),
            || drop(common::pos_login_baseline()),
        ),
    ];
    for (name, ours, theirs) in workloads {
        // One untimed call each first: lazy statics and first-use allocations do not count.
        ours(&mut setup);
        theirs();
        let ssoflow = allocation_counter::measure(|| ours(&mut setup)).count_total;
        let serde = allocation_counter::measure(theirs).count_total;
        rows.push((name, ssoflow, serde));
    }
    for (name, ssoflow, serde) in &rows {
        println!("allocs-per-step {name} ssoflow={ssoflow} serde_json={serde}");
        assert_eq!(*ssoflow, 0, "{name}: ssoflow allocated");
        assert!(
            *serde > 0,
            "{name}: the baseline should allocate (is the counter on?)"
        );
    }
}
