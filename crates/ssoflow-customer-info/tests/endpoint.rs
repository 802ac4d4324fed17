//! The authenticated `/customer-info` endpoint: every refusal and its status, one 401 for all
//! of them (no enumeration oracle), the answer to the token's own customer, and the per-caller
//! rate limit over real connections.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{HeaderMap, Request};
use serde_json::{Value, json};
use ssoflow_customer_info::{
    BearerToken, Customer, CustomerInfoEndpoint, RateLimit, Refusal, UNAUTHORIZED_BODY,
    customer_info_router,
};
use tower::ServiceExt;

const JOHN: &str = "1df3d3b3-d2b6-4126-93f2-1fdbd419268b";
const JANE: &str = "7c2e9a40-3b1d-4f6a-8e25-9d0b1c4f5a66";
const JOHN_TOKEN: &str = "idp-at-john-7f3a";
const JANE_TOKEN: &str = "idp-at-jane-91bc";
/// A token the identity provider answers "I cannot say now" about.
const FLAKY_TOKEN: &str = "idp-at-flaky";

fn customer(id: &str, first: &str, email: &str) -> Customer {
    Customer {
        customer_account_uuid: id.into(),
        first_name: first.into(),
        last_name: "Doe".into(),
        email: email.into(),
        phone_number: "+23533674523".into(),
    }
}

/// The app's identity provider: which customer each access token belongs to.
fn verifier(
    calls: Arc<AtomicUsize>,
) -> impl Fn(BearerToken, String) -> std::future::Ready<Result<Customer, Refusal>> + Send + Sync + 'static
{
    let tokens = HashMap::from([
        (JOHN_TOKEN, customer(JOHN, "John", "john.doe@mail.com")),
        (JANE_TOKEN, customer(JANE, "Jane", "jane.doe@mail.com")),
    ]);
    move |token: BearerToken, _asked: String| {
        calls.fetch_add(1, Ordering::SeqCst);
        std::future::ready(if token.ct_eq(FLAKY_TOKEN) {
            Err(Refusal::Unavailable)
        } else {
            tokens
                .get(token.expose())
                .cloned()
                .ok_or(Refusal::Unauthorized)
        })
    }
}

fn router() -> (Router, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    (customer_info_router(verifier(calls.clone())), calls)
}

struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

async fn call(router: &Router, authorization: Option<&str>, body: impl Into<Body>) -> Answer {
    let mut request = Request::post("/customer-info").header("content-type", "application/json");
    if let Some(a) = authorization {
        request = request.header("authorization", a);
    }
    let response = router
        .clone()
        .oneshot(request.body(body.into()).unwrap())
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    let body = to_bytes(body, usize::MAX).await.unwrap().to_vec();
    assert_eq!(parts.headers["content-type"], "application/json");
    assert_eq!(parts.headers["cache-control"], "no-store");
    Answer {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body,
    }
}

fn ask(id: &str) -> String {
    json!({ "customer_account_uuid": id }).to_string()
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

#[tokio::test]
async fn the_tokens_own_customer_is_answered() {
    let (router, _) = router();
    let a = call(&router, Some(&bearer(JOHN_TOKEN)), ask(JOHN)).await;
    assert_eq!(a.status, 200);
    assert_eq!(
        a.json(),
        json!({"customer_account_uuid": JOHN, "first_name": "John", "last_name": "Doe",
               "email": "john.doe@mail.com", "phone_number": "+23533674523"})
    );
    let a = call(&router, Some(&format!("bearer  {JANE_TOKEN}")), ask(JANE)).await;
    assert_eq!(
        (a.status, a.json()["email"].clone()),
        (200, json!("jane.doe@mail.com"))
    );
}

/// Before: the router answered anyone who posted an id (200 with name, email, phone; 404 for
/// an unknown id). Now every way of not holding the customer's token is the same 401.
#[tokio::test]
async fn without_the_customers_token_every_refusal_is_the_same_401() {
    let (router, calls) = router();
    let cases: [(&str, Option<String>, String); 9] = [
        ("no Authorization", None, ask(JOHN)),
        (
            "another scheme",
            Some("Basic am9objpwdw==".into()),
            ask(JOHN),
        ),
        ("bearer without token", Some("Bearer".into()), ask(JOHN)),
        ("malformed token", Some("Bearer a b".into()), ask(JOHN)),
        (
            "bad token, known id",
            Some(bearer("idp-at-guess")),
            ask(JOHN),
        ),
        (
            "bad token, unknown id",
            Some(bearer("idp-at-guess")),
            ask("nobody"),
        ),
        (
            "another customer's token",
            Some(bearer(JANE_TOKEN)),
            ask(JOHN),
        ),
        (
            "valid token, unknown id",
            Some(bearer(JOHN_TOKEN)),
            ask("nobody"),
        ),
        (
            "id differs in case",
            Some(bearer(JOHN_TOKEN)),
            ask(&JOHN.to_uppercase()),
        ),
    ];
    let mut first: Option<Answer> = None;
    for (what, authorization, body) in cases {
        let a = call(&router, authorization.as_deref(), body).await;
        assert_eq!(a.status, 401, "{what}");
        assert_eq!(a.body, UNAUTHORIZED_BODY.as_bytes(), "{what}");
        assert_eq!(
            a.headers["www-authenticate"], r#"Bearer realm="customer-info""#,
            "{what}"
        );
        match &first {
            None => first = Some(a),
            Some(f) => {
                // Byte-identical: status, every header, body.
                assert_eq!(
                    (a.status, &a.headers, &a.body),
                    (f.status, &f.headers, &f.body),
                    "{what}"
                );
            }
        }
    }
    // The four calls without a usable Authorization never reached the verifier.
    assert_eq!(calls.load(Ordering::SeqCst), 5);
}

#[tokio::test]
async fn bad_bodies_are_400_and_oversized_413() {
    let (router, calls) = router();
    for bad in [
        &b"{"[..],
        b"[]",
        br#"{"customer_account_uuid":7}"#,
        b"",
        br#"{"customer_account_uuid":""}"#,
    ] {
        let a = call(&router, Some(&bearer(JOHN_TOKEN)), bad.to_vec()).await;
        assert_eq!(
            (a.status, a.json()["error"].clone()),
            (400, json!("invalid_request")),
            "{bad:?}"
        );
    }
    let mut big = br#"{"customer_account_uuid":""#.to_vec();
    big.resize(17 * 1024, b'x');
    big.extend_from_slice(br#""}"#);
    let a = call(&router, Some(&bearer(JOHN_TOKEN)), big.clone()).await;
    assert_eq!(
        (a.status, a.json()["error"].clone()),
        (413, json!("invalid_request"))
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "bad bodies never reach the verifier"
    );
    // Without a token, a bad body is the same 401 as everything else.
    let a = call(&router, None, big).await;
    assert_eq!(
        (a.status, a.body.as_slice()),
        (401, UNAUTHORIZED_BODY.as_bytes())
    );
}

#[tokio::test]
async fn an_unavailable_identity_provider_is_503_not_401() {
    let (router, _) = router();
    let a = call(&router, Some(&bearer(FLAKY_TOKEN)), ask(JOHN)).await;
    assert_eq!(
        (a.status, a.json()["error"].clone()),
        (503, json!("temporarily_unavailable"))
    );
}

/// Serve `router` on 127.0.0.1:0 with the peer's address available; the endpoint's URL.
async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap()
    });
    format!("http://{addr}/customer-info")
}

async fn post(url: &str, headers: &[(&'static str, &str)]) -> (u16, Option<String>) {
    let driver = ssoflow_tokio::Driver::new().unwrap();
    let mut request = ssoflow_tokio::OwnedRequest::new(http::Method::POST, url);
    for (k, v) in headers {
        request
            .headers
            .insert(*k, http::HeaderValue::from_str(v).unwrap());
    }
    request.body = ask(JOHN).into_bytes().into();
    let r = driver.send(request).await.unwrap();
    let retry = r
        .header("retry-after")
        .map(|v| String::from_utf8_lossy(v).into_owned());
    (r.status, retry)
}

#[tokio::test]
async fn each_peer_is_limited_before_its_token_is_looked_at() {
    let calls = Arc::new(AtomicUsize::new(0));
    let url = serve(
        CustomerInfoEndpoint::new(verifier(calls.clone()))
            .rate_limit(RateLimit::per_peer(2, Duration::from_secs(60)))
            .router(),
    )
    .await;
    let john = bearer(JOHN_TOKEN);
    assert_eq!(post(&url, &[("authorization", &john)]).await.0, 200);
    assert_eq!(
        post(&url, &[("authorization", "Bearer guess")]).await.0,
        401
    );
    // The third call from 127.0.0.1 in a minute: refused, whatever its token.
    let (status, retry) = post(&url, &[("authorization", &john)]).await;
    assert_eq!(status, 429);
    let retry: u64 = retry.expect("Retry-After").parse().unwrap();
    assert!((1..=30).contains(&retry), "{retry}");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn callers_keyed_by_a_trusted_header_have_their_own_allowance() {
    let calls = Arc::new(AtomicUsize::new(0));
    let limit = RateLimit::keyed_by(1, Duration::from_secs(60), |parts| {
        let v = parts.headers.get("x-forwarded-for")?;
        v.to_str().ok().map(str::to_owned)
    });
    let url = serve(
        CustomerInfoEndpoint::new(verifier(calls))
            .rate_limit(limit)
            .router(),
    )
    .await;
    let john = bearer(JOHN_TOKEN);
    let from = |ip| [("authorization", john.as_str()), ("x-forwarded-for", ip)];
    assert_eq!(post(&url, &from("198.51.100.1")).await.0, 200);
    assert_eq!(post(&url, &from("198.51.100.1")).await.0, 429);
    assert_eq!(post(&url, &from("198.51.100.2")).await.0, 200);
    // Unkeyed requests share one allowance.
    assert_eq!(post(&url, &[("authorization", &john)]).await.0, 200);
    assert_eq!(post(&url, &[("authorization", &john)]).await.0, 429);
}

/// Collects log lines for [`the_token_is_never_logged`].
#[derive(Clone, Default)]
struct Logs(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn the_token_is_never_logged() {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let (router, _) = router();
    for (token, id) in [
        (JOHN_TOKEN, JOHN),
        (JANE_TOKEN, JOHN),
        ("idp-at-guess", JOHN),
    ] {
        call(&router, Some(&bearer(token)), ask(id)).await;
    }
    call(&router, Some(&format!("Basic {JOHN_TOKEN}")), ask(JOHN)).await;
    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("customer-info"), "the endpoint logs: {logs}");
    for secret in [JOHN_TOKEN, JANE_TOKEN, "idp-at-guess"] {
        assert!(!logs.contains(secret), "{secret} in the logs:\n{logs}");
    }
}
