//! Proves the core allocates nothing: a counting global allocator (allocation-counter) around
//! full flow runs.

use ssoflow_core::{Flow, Instant, Response, Step, oauth2, par_ordering, session};

const M2M: &[u8] = include_bytes!("fixtures/par_m2m.json");
const SIGN_IN: &[u8] = include_bytes!("fixtures/par_sign_in_dlc.json");
const TOKEN: &[u8] = br#"{"access_token":"2YotnFZFEjr1zCsicMWpAA","token_type":"Bearer","expires_in":3600,"refresh_token":"tGzv3JOkF0XG5Qx2TlKWIA"}"#;

fn run<F: Flow>(mut flow: F, answers: &[(u16, &[u8])], buf: &mut [u8]) -> F::Output {
    let mut answers = answers.iter();
    loop {
        match flow.poll(Instant::from_millis(1), buf).unwrap() {
            Step::Send(_) => {
                let (status, body) = answers.next().unwrap();
                flow.handle(Instant::from_millis(2), Response::new(*status, body))
                    .unwrap();
            }
            Step::Done(out) => return out,
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
    let par = par_ordering::Config::new("https://api.example", "key", "id", "secret").unwrap();
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
        let _ = session.access(Instant::from_millis(3));
        let generation = session.signed_in(s);
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
fn the_counter_counts() {
    let info = allocation_counter::measure(|| {
        std::hint::black_box(vec![1u8; 16]);
    });
    assert!(info.count_total >= 1);
}
