//! What the driver costs over raw ureq: client-credentials token fetches against the sandbox's
//! `/oauth2/token`, through `Driver::run(oauth2::client_credentials(..))` and through the same
//! request made by hand with ureq (same agent settings, same headers and form body, answer parsed
//! with serde_json), interleaved one by one so both see the same machine and server state.
//!
//! `cargo bench -p ssoflow-ureq --bench overhead` (`OVERHEAD_N` sets the count, default 2000).

#![allow(clippy::result_large_err)] // the core's errors carry a body excerpt inline

mod latency;

use ssoflow_core::oauth2;
use ssoflow_ureq::{Config, Driver};

fn main() {
    let latency::Setup {
        n,
        sandbox: _sandbox,
        client,
    } = latency::setup("OVERHEAD_N");
    let token_url = client.token_url();
    let driver = Driver::new(Config::default());

    // The raw side: its own agent with the driver's settings, and the very bytes the core sends.
    let raw = Driver::new(Config::default());
    let mut buf = vec![0u8; 4096];
    let (headers, body) = {
        let mut flow = oauth2::client_credentials(&client, None).expect("flow");
        match ssoflow_core::Flow::poll(&mut flow, ssoflow_core::Instant::from_millis(0), &mut buf) {
            Ok(ssoflow_core::Step::Send(r)) => (
                r.headers()
                    .iter()
                    .map(|h| (h.name.to_owned(), h.value.to_vec()))
                    .collect::<Vec<_>>(),
                r.body.to_vec(),
            ),
            other => panic!("unexpected first step: {other:?}"),
        }
    };
    let raw_fetch = || -> String {
        let mut req = ureq::http::Request::builder().method("POST").uri(token_url);
        for (name, value) in &headers {
            req = req.header(name.as_str(), value.as_slice());
        }
        let req = req.body(body.as_slice()).expect("request");
        let mut resp = raw.agent().run(req).expect("raw request");
        assert_eq!(resp.status().as_u16(), 200);
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(64 * 1024)
            .read_to_vec()
            .expect("raw body");
        let v: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
        v["access_token"].as_str().expect("access_token").to_owned()
    };
    let driver_fetch = || {
        let flow = oauth2::client_credentials(&client, None).expect("flow");
        driver.run(flow).expect("driver request")
    };

    let results = latency::interleaved(n, driver_fetch, raw_fetch);
    println!("client-credentials token fetches against the sandbox, n = {n} each, interleaved");
    latency::print(
        ["ssoflow-ureq Driver::run", "raw ureq + serde_json"],
        "overhead ratio (driver / raw)",
        "",
        results,
    );
}
