//! Drive any flow with any HTTP client through the `http` crate's types.
//!
//! ```
//! use ssoflow::{http_compat, oauth2};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let client = oauth2::Client::new("https://auth.example/token", "my-client")?.with_secret("s3cret")?;
//! let flow = oauth2::client_credentials(&client, None)?;
//! // Your client (hyper, reqwest, isahc, …) goes in the closure; here a canned answer.
//! let token = http_compat::run(flow, || 0, |request: http::Request<Vec<u8>>| {
//!     assert_eq!(request.uri(), "https://auth.example/token");
//!     let body = br#"{"access_token":"tok","token_type":"Bearer","expires_in":60}"#.to_vec();
//!     Ok::<_, std::io::Error>(http::Response::builder().status(200).body(body).unwrap())
//! })?;
//! assert_eq!(token.access.value.expose(), "tok");
//! # Ok(()) }
//! ```

use ssoflow_core::{
    Flow, Header, Instant, Method, NeverWaits, Paced, PacedFlow, Request, Response,
};

/// A failure while driving a flow: the flow's own error, or your client's.
#[derive(Debug)]
pub enum RunError<E> {
    /// The flow refused (provider error, malformed answer, …).
    Flow(ssoflow_core::Error),
    /// The HTTP client failed.
    Client(E),
    /// The request could not be expressed as an `http::Request` (invalid header bytes).
    Http(http::Error),
}

impl<E: std::fmt::Display> std::fmt::Display for RunError<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Flow(e) => write!(f, "{e}"),
            RunError::Client(e) => write!(f, "http client: {e}"),
            RunError::Http(e) => write!(f, "request: {e}"),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for RunError<E> {}

/// Convert a core request to an `http::Request` (the body copied). Credential headers (the
/// core's [`SECRET_HEADERS`](ssoflow_core::http::SECRET_HEADERS)) are marked sensitive, so the
/// `http` crate's `Debug` prints `Sensitive` in their place.
pub fn to_http(request: &Request<'_>) -> Result<http::Request<Vec<u8>>, http::Error> {
    let method = match request.method {
        Method::Get => http::Method::GET,
        Method::Post => http::Method::POST,
    };
    let mut builder = http::Request::builder().method(method).uri(request.url);
    for h in request.headers() {
        let mut value = http::HeaderValue::from_bytes(h.value)?;
        value.set_sensitive(ssoflow_core::http::is_secret_header(h.name));
        builder = builder.header(h.name, value);
    }
    builder.body(request.body.to_vec())
}

/// Hand an `http::Response` to `f` as a core [`Response`].
pub fn with_response<B: AsRef<[u8]>, T>(
    response: &http::Response<B>,
    f: impl FnOnce(Response<'_>) -> T,
) -> T {
    let headers: Vec<Header<'_>> = response
        .headers()
        .iter()
        .map(|(n, v)| Header {
            name: n.as_str(),
            value: v.as_bytes(),
        })
        .collect();
    f(Response::new(response.status().as_u16(), response.body().as_ref()).with_headers(&headers))
}

/// Run `flow` to its output: `now` gives your monotonic clock in ms, `send` performs one request.
pub fn run<F: Flow, E>(
    mut flow: F,
    now: impl FnMut() -> u64,
    send: impl FnMut(http::Request<Vec<u8>>) -> Result<http::Response<Vec<u8>>, E>,
) -> Result<F::Output, RunError<E>> {
    run_paced(NeverWaits(&mut flow), now, |_| {}, send)
}

/// Run a flow that waits between its requests (device-flow polling, a revocation retrying a
/// 503) to its output: like [`run`], and `sleep(ms)` waits that long with your timer before
/// the flow is polled again.
pub fn run_paced<F: PacedFlow, E>(
    mut flow: F,
    mut now: impl FnMut() -> u64,
    mut sleep: impl FnMut(u64),
    mut send: impl FnMut(http::Request<Vec<u8>>) -> Result<http::Response<Vec<u8>>, E>,
) -> Result<F::Output, RunError<E>> {
    let mut buf = vec![0u8; 8 * 1024];
    let mut limit = usize::MAX; // grown once per request at most (`Error::room_needed`)
    let mut out = None; // the output's slot: the last answer is read straight into it
    loop {
        let at = Instant::from_millis(now());
        let room = buf.len();
        let needed = match flow.poll(at, &mut buf) {
            Ok(Paced::Send(request)) => {
                let request = to_http(&request).map_err(RunError::Http)?;
                let response = send(request).map_err(RunError::Client)?;
                with_response(&response, |r| {
                    flow.handle(Instant::from_millis(now()), r, &mut out)
                })
                .map_err(RunError::Flow)?;
                limit = usize::MAX;
                continue;
            }
            Ok(Paced::Wait { until }) => {
                sleep(until.millis_since(at));
                continue;
            }
            Ok(Paced::Done) => return ssoflow_core::take_output(&mut out).map_err(RunError::Flow),
            Err(e) => e.room_needed(room, limit).map_err(RunError::Flow)?,
        };
        buf.resize(needed, 0);
        limit = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ssoflow_core::{Step, oauth2};

    /// A flow that asks for more room every time it is polled.
    struct Greedy<'a>(&'a std::cell::Cell<usize>);

    impl Flow for Greedy<'_> {
        type Output = ();
        fn poll<'b>(
            &mut self,
            _: Instant,
            buf: &'b mut [u8],
        ) -> Result<Step<'b>, ssoflow_core::Error> {
            self.0.set(self.0.get() + 1);
            Err(ssoflow_core::Error::BufferTooSmall {
                required: buf.len() + 1,
            })
        }
        fn handle(
            &mut self,
            _: Instant,
            _: Response<'_>,
            _: &mut Option<()>,
        ) -> Result<(), ssoflow_core::Error> {
            Err(ssoflow_core::Error::State)
        }
    }

    #[test]
    fn a_flow_asking_for_ever_more_room_is_grown_once_then_refused() {
        let polls = std::cell::Cell::new(0);
        let result = run(
            Greedy(&polls),
            || 0,
            |_| -> Result<http::Response<Vec<u8>>, ()> { panic!("nothing is sent") },
        );
        assert!(
            matches!(
                result,
                Err(RunError::Flow(ssoflow_core::Error::BufferTooSmall {
                    required: 8194
                }))
            ),
            "{result:?}"
        );
        assert_eq!(polls.get(), 2, "grown once, then the error");
    }

    #[test]
    fn credential_headers_are_sensitive_and_never_printed() {
        let client = oauth2::Client::new("https://auth.example/token", "my-client")
            .unwrap()
            .with_secret("Zq9-client-secret")
            .unwrap();
        let mut flow = oauth2::client_credentials(&client, None).unwrap();
        let mut buf = [0u8; 2048];
        let Ok(Step::Send(request)) = flow.poll(Instant::from_millis(0), &mut buf) else {
            panic!("the flow sends first");
        };
        let authorization = String::from_utf8_lossy(request.header("authorization").unwrap());
        let converted = to_http(&request).unwrap();
        assert!(converted.headers()["authorization"].is_sensitive());
        assert!(!converted.headers()["accept"].is_sensitive());
        let printed = format!("{converted:?}{converted:#?}");
        assert!(!printed.contains(authorization.as_ref()), "{printed}");
        assert!(!printed.contains("Zq9"), "{printed}");
    }
}
