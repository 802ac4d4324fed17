//! Helpers shared by the end-to-end tests: starting a sandbox, a plain HTTP client, seed fixtures.
#![allow(dead_code)]

use reqwest::header::HeaderMap;
use serde_json::Value;
use ssoflow_sandbox::{Config, Sandbox, SandboxHandle};

/// A sandbox with test hooks on and the demo defaults.
pub async fn sandbox() -> SandboxHandle {
    sandbox_with(Config::default()).await
}

/// A sandbox with test hooks on and `config`.
pub async fn sandbox_with(config: Config) -> SandboxHandle {
    Sandbox::builder()
        .config(config)
        .test_hooks(true)
        .start()
        .await
        .expect("sandbox starts")
}

/// An HTTP client that does not follow redirects.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client builds")
}

/// Status, headers and JSON body of a response; asserts the JSON content type.
pub async fn json_of(resp: reqwest::Response) -> (u16, HeaderMap, Value) {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let text = resp.text().await.expect("body");
    assert!(
        ct.starts_with("application/json"),
        "status {status}: content-type {ct:?}, body {text}"
    );
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    (status, headers, body)
}

/// Sends `req` and returns status, headers and JSON body.
pub async fn send(req: reqwest::RequestBuilder) -> (u16, HeaderMap, Value) {
    json_of(req.send().await.expect("request sent")).await
}

/// A seed's example payload from `tests/fixtures/`.
pub fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("fixture exists");
    serde_json::from_str(&text).expect("fixture is JSON")
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Asserts `actual` has exactly the keys of `expected`, recursively, with the same JSON types.
pub fn assert_same_shape(actual: &Value, expected: &Value) {
    assert_shape_at("$", actual, expected);
}

fn assert_shape_at(at: &str, actual: &Value, expected: &Value) {
    assert_eq!(kind(actual), kind(expected), "type of {at}: {actual}");
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => {
            let mut ak: Vec<_> = a.keys().collect();
            let mut ek: Vec<_> = e.keys().collect();
            ak.sort();
            ek.sort();
            assert_eq!(ak, ek, "keys of {at}");
            for (k, ev) in e {
                assert_shape_at(&format!("{at}.{k}"), &a[k], ev);
            }
        }
        (Value::Array(a), Value::Array(e)) => {
            if let (Some(a0), Some(e0)) = (a.first(), e.first()) {
                assert_shape_at(&format!("{at}[0]"), a0, e0);
            }
        }
        _ => {}
    }
}

/// Headers every PAR Ordering call carries.
pub fn par_headers(req: reqwest::RequestBuilder, application_key: &str) -> reqwest::RequestBuilder {
    req.header("X-Request-ID", "69da3547-204b-4093-a225-54e084c24215")
        .header("Application", application_key)
        .header("Api-Version", "4.38.0")
        .header("X-Ordering-API", "true")
        .header("Accept", "application/json")
}

/// A signed Punchh request: `x-pch-digest` (with the signing secret), `Accept` and
/// `Content-Type: application/json` (even without a body), a User-Agent.
pub fn punchh_signed(
    client: &reqwest::Client,
    method: reqwest::Method,
    sandbox: &SandboxHandle,
    uri: &str,
    body: &str,
) -> reqwest::RequestBuilder {
    let creds = &sandbox.credentials().punchh;
    let digest = ssoflow_sandbox::punchh_digest(&creds.signing_secret, uri, body.as_bytes());
    let mut req = client
        .request(method, format!("{}{uri}", creds.base_url))
        .header("x-pch-digest", digest)
        .header("Accept", "application/json")
        .header("Content-Type", "application/json")
        .header(
            "User-Agent",
            "Punchh/OnlineOrder/1.0/Web/BrowserVersion/OS_Type",
        );
    if !body.is_empty() {
        req = req.body(body.to_owned());
    }
    req
}

/// Value of query parameter `name` in a URL.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8(out).expect("utf-8")
}
