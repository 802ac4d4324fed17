//! Test helpers: drive a flow with canned responses and record its transcript.

use std::format;
use std::string::String;
use std::vec::Vec;

use crate::{Error, Flow, Instant, Response, Step};

/// Drive `flow` with `responses` in order; return its output and the transcript of steps.
pub fn drive<F: Flow>(
    mut flow: F,
    responses: &[(u16, &[u8])],
) -> (Result<F::Output, Error>, Vec<String>) {
    drive_at(&mut flow, responses, Instant::from_millis(0))
}

/// [`drive`] with a given clock and a borrowed flow.
pub fn drive_at<F: Flow>(
    flow: &mut F,
    responses: &[(u16, &[u8])],
    now: Instant,
) -> (Result<F::Output, Error>, Vec<String>) {
    let mut transcript = Vec::new();
    let mut next = responses.iter();
    let mut buf = std::vec![0u8; 16 * 1024];
    let mut out = None;
    for _ in 0..32 {
        match flow.poll(now, &mut buf) {
            Ok(Step::Send(r)) => {
                transcript.push(format!("send {} {}", r.method.as_str(), r.url));
                let Some((status, body)) = next.next() else {
                    transcript.push(String::from("out of responses"));
                    return (Err(Error::State), transcript);
                };
                transcript.push(format!("handle {status}"));
                if let Err(e) = flow.handle(now, Response::new(*status, body), &mut out) {
                    assert!(out.is_none(), "a failed handle left an output");
                    transcript.push(format!("error {}", e.kind()));
                    return (Err(e), transcript);
                }
            }
            Ok(Step::Done) => {
                transcript.push(String::from("done"));
                return (crate::take_output(&mut out), transcript);
            }
            Err(e) => {
                transcript.push(format!("error {}", e.kind()));
                return (Err(e), transcript);
            }
        }
    }
    panic!("flow did not finish in 32 steps: {transcript:?}");
}

/// Render a request as text (method URL, headers, blank line, body).
pub fn render(r: &crate::Request<'_>) -> String {
    let mut s = format!("{} {}\n", r.method.as_str(), r.url);
    for h in r.headers() {
        s.push_str(&format!(
            "{}: {}\n",
            h.name,
            std::str::from_utf8(h.value).unwrap()
        ));
    }
    s.push('\n');
    s.push_str(std::str::from_utf8(r.body).unwrap());
    s
}

/// Assert the first request `flow` sends is exactly `expected`.
pub fn golden<F: Flow>(flow: &mut F, expected: &str) {
    let mut buf = [0u8; 8192];
    match flow.poll(Instant::from_millis(0), &mut buf).unwrap() {
        Step::Send(r) => assert_eq!(render(&r), expected),
        Step::Done => panic!("expected a request"),
    }
}

/// Poll/handle `flow` with `responses`; it must be done (or failed) within four polls, and a
/// failed `handle` must leave no output.
pub fn terminates<F: Flow>(mut flow: F, responses: &[(u16, Vec<u8>)]) {
    let mut next = responses.iter();
    let mut buf = std::vec![0u8; 16 * 1024];
    let mut out = None;
    for _ in 0..4 {
        match flow.poll(Instant::from_millis(0), &mut buf) {
            Ok(Step::Send(_)) => {
                let Some((status, body)) = next.next() else {
                    return;
                };
                if flow
                    .handle(
                        Instant::from_millis(0),
                        Response::new(*status, body),
                        &mut out,
                    )
                    .is_err()
                {
                    assert!(out.is_none(), "a failed handle left an output");
                    return;
                }
            }
            Ok(Step::Done) => {
                assert!(out.is_some(), "done without an output");
                return;
            }
            Err(_) => return,
        }
    }
    panic!("flow did not finish within 4 steps");
}
