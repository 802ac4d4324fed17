//! The ordering application's `POST /customer-info` endpoint for PAR Ordering's SSO, as an axum
//! router over `ssoflow_core::par_ordering`'s wire format.
//!
//! PAR Ordering calls it while a customer signs in, to register the customer and sync their
//! details. The endpoint has to be reachable by PAR Ordering, so in practice by anyone: it
//! answers only a caller who proves, with the customer's own identity-provider access token
//! (seed 000: "access_token … should be available to share when making calls"), that it may read
//! *that* customer. Authentication is therefore a required argument: a [`Verifier`] receives the
//! bearer token and the requested id and returns the token's customer, or a [`Refusal`].
//!
//! What the router answers, checked in this order:
//!
//! | status | when | body (`application/json`) |
//! |---|---|---|
//! | 429 + `Retry-After` | the caller's [`RateLimit`] is spent (if one is set) | `{"error":"rate_limited",…}` |
//! | 401 + `WWW-Authenticate: Bearer` | no `Authorization`, several, another scheme, or not a `b64token` | [`UNAUTHORIZED_BODY`] |
//! | 413 | body over [`CUSTOMER_INFO_BODY_LIMIT`] | `{"error":"invalid_request",…}` |
//! | 400 | body not `{"customer_account_uuid":"…"}` | `{"error":"invalid_request",…}` |
//! | 401 | the verifier refuses (bad token, unknown customer) or returns another customer | [`UNAUTHORIZED_BODY`] |
//! | 503 | the verifier cannot decide now ([`Refusal::Unavailable`]) | `{"error":"temporarily_unavailable",…}` |
//! | 200 | the token's customer is the one asked about | `{"customer_account_uuid":…,"first_name":…,…}` |
//!
//! Every 401 is the same bytes (status, headers, body), so a caller cannot tell an unknown id
//! from a bad token; the verified customer's id is compared with the requested one in constant
//! time. The token is never logged (its `Debug` is `***`).
//!
//! ```no_run
//! use ssoflow_customer_info::{BearerToken, Customer, CustomerInfoEndpoint, RateLimit, Refusal};
//! use std::{net::SocketAddr, time::Duration};
//!
//! # async fn idp_userinfo(_t: &str) -> Option<Customer> { None }
//! # async fn run() -> std::io::Result<()> {
//! // Ask your identity provider whose token this is; never trust the id alone.
//! let verify = |token: BearerToken, _asked: String| async move {
//!     idp_userinfo(token.expose()).await.ok_or(Refusal::Unauthorized)
//! };
//! let app = CustomerInfoEndpoint::new(verify)
//!     .rate_limit(RateLimit::per_peer(60, Duration::from_secs(60)))
//!     .router();
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:8080").await?;
//! axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await
//! # }
//! ```
#![forbid(unsafe_code)]

mod limit;
mod token;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use ssoflow_core::par_ordering::{
    CustomerInfo, parse_customer_info_request, serve_customer_info, write_customer_info,
};
use subtle::ConstantTimeEq;

pub use limit::RateLimit;
pub use token::BearerToken;

/// Largest `/customer-info` request body accepted (16 KiB); larger is 413.
pub const CUSTOMER_INFO_BODY_LIMIT: usize = 16 * 1024;

/// The body of every 401 (with `WWW-Authenticate: Bearer realm="customer-info"`), whatever the
/// reason: missing or malformed `Authorization`, a bad token, another customer's token, an
/// unknown customer.
pub const UNAUTHORIZED_BODY: &str = r#"{"error":"invalid_token","error_description":"the bearer token does not grant this customer's details"}"#;

/// What the application knows about a customer: the five fields PAR Ordering asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Customer {
    /// The identity provider's id of the customer the token belongs to. The endpoint answers
    /// only if it equals the id PAR Ordering asked about.
    pub customer_account_uuid: String,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// Email.
    pub email: String,
    /// Phone number.
    pub phone_number: String,
}

/// Why a [`Verifier`] does not return a customer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// The token is not valid, or the customer is unknown: the same 401 as every other refusal.
    Unauthorized,
    /// The verifier cannot decide now (its identity provider is down): 503, so PAR Ordering does
    /// not take a passing outage for a bad token. Do not return it for one id and not another.
    Unavailable,
}

/// Decides whose bearer token a `/customer-info` call carries.
///
/// Return the customer the token belongs to (introspect it, ask the identity provider's
/// userinfo, or look it up in your sessions), or [`Refusal::Unauthorized`] for a token you cannot
/// verify and for a customer you do not know. `customer_account_uuid` is the id PAR Ordering
/// asks about, a hint for the lookup: the endpoint itself compares it with the returned
/// customer's id, in constant time, and answers 401 when they differ. Take the same time for an
/// unknown customer as for a bad token where you can.
///
/// Any `Fn(BearerToken, String) -> impl Future<Output = Result<Customer, Refusal>>` is one.
pub trait Verifier: Send + Sync + 'static {
    /// The customer `token` belongs to, or why not.
    fn verify(
        &self,
        token: BearerToken,
        customer_account_uuid: String,
    ) -> impl Future<Output = Result<Customer, Refusal>> + Send;
}

impl<F, Fut> Verifier for F
where
    F: Fn(BearerToken, String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Customer, Refusal>> + Send,
{
    fn verify(
        &self,
        token: BearerToken,
        customer_account_uuid: String,
    ) -> impl Future<Output = Result<Customer, Refusal>> + Send {
        self(token, customer_account_uuid)
    }
}

/// The `/customer-info` endpoint being configured: a verifier and an optional per-caller limit.
#[derive(Debug)]
pub struct CustomerInfoEndpoint<V> {
    verifier: V,
    limit: Option<RateLimit>,
}

impl<V: Verifier> CustomerInfoEndpoint<V> {
    /// An endpoint answering only calls `verifier` accepts, with no rate limit.
    pub fn new(verifier: V) -> Self {
        CustomerInfoEndpoint {
            verifier,
            limit: None,
        }
    }

    /// Limit each caller's calls (checked before anything else; 429 past it).
    pub fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.limit = Some(limit);
        self
    }

    /// The router serving `POST /customer-info`; merge it into your app's router.
    pub fn router(self) -> Router {
        let endpoint = Arc::new(self);
        Router::new()
            .route(
                "/customer-info",
                post(move |request: Request| {
                    let endpoint = endpoint.clone();
                    async move { endpoint.serve(request).await }
                }),
            )
            .layer(DefaultBodyLimit::max(CUSTOMER_INFO_BODY_LIMIT))
    }

    async fn serve(&self, request: Request) -> Response {
        let (parts, body) = request.into_parts();
        if let Some(Err(wait)) = self.limit.as_ref().map(|limit| limit.check(&parts)) {
            tracing::debug!("customer-info: rate limited");
            return too_many(wait);
        }
        let Some(token) = BearerToken::from_headers(&parts.headers) else {
            tracing::debug!("customer-info: no bearer token");
            return unauthorized();
        };
        let body = match Bytes::from_request(Request::from_parts(parts, body), &()).await {
            Ok(body) => body,
            Err(rejection) => {
                let status = rejection.status();
                tracing::debug!(status = status.as_u16(), "customer-info: body refused");
                let what = if status == StatusCode::PAYLOAD_TOO_LARGE {
                    r#"{"error":"invalid_request","error_description":"body too large"}"#
                } else {
                    r#"{"error":"invalid_request","error_description":"body unreadable"}"#
                };
                return json(status, what.as_bytes().to_vec());
            }
        };
        let Ok(request) = parse_customer_info_request(&body) else {
            // The core writes the 400 answer.
            let mut out = [0u8; 256];
            let (status, answer) = serve_customer_info(&body, &mut out, |_| None);
            return json(status_code(status), answer.to_vec());
        };
        let asked = request.customer_account_uuid.as_str();
        let customer = match self.verifier.verify(token, asked.to_owned()).await {
            Ok(customer) => customer,
            Err(Refusal::Unauthorized) => {
                tracing::debug!("customer-info: the verifier refused the token");
                return unauthorized();
            }
            Err(Refusal::Unavailable) => {
                tracing::debug!("customer-info: the verifier is unavailable");
                return json(
                    StatusCode::SERVICE_UNAVAILABLE,
                    br#"{"error":"temporarily_unavailable","error_description":"try again later"}"#
                        .to_vec(),
                );
            }
        };
        let same: bool = customer
            .customer_account_uuid
            .as_bytes()
            .ct_eq(asked.as_bytes())
            .into();
        if !same {
            tracing::debug!("customer-info: the token is another customer's");
            return unauthorized();
        }
        let info = CustomerInfo {
            customer_account_uuid: asked,
            first_name: &customer.first_name,
            last_name: &customer.last_name,
            email: &customer.email,
            phone_number: &customer.phone_number,
        };
        // Worst case every byte is escaped as `\u00XX`.
        let fields = asked.len()
            + info.first_name.len()
            + info.last_name.len()
            + info.email.len()
            + info.phone_number.len();
        let mut out = vec![0u8; fields * 6 + 256];
        match write_customer_info(&info, &mut out) {
            Ok(answer) => {
                tracing::debug!("customer-info: answered 200");
                json(StatusCode::OK, answer.to_vec())
            }
            Err(_) => json(
                StatusCode::INTERNAL_SERVER_ERROR,
                br#"{"error":"server_error","error_description":"answer too large"}"#.to_vec(),
            ),
        }
    }
}

/// The router serving `POST /customer-info` to callers `verifier` accepts, without a rate limit
/// (see [`CustomerInfoEndpoint`] to add one).
pub fn customer_info_router<V: Verifier>(verifier: V) -> Router {
    CustomerInfoEndpoint::new(verifier).router()
}

fn status_code(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn json(status: StatusCode, body: Vec<u8>) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

fn unauthorized() -> Response {
    let mut response = json(
        StatusCode::UNAUTHORIZED,
        UNAUTHORIZED_BODY.as_bytes().to_vec(),
    );
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(r#"Bearer realm="customer-info""#),
    );
    response
}

fn too_many(wait: Duration) -> Response {
    let mut response = json(
        StatusCode::TOO_MANY_REQUESTS,
        br#"{"error":"rate_limited","error_description":"too many calls from this caller"}"#
            .to_vec(),
    );
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
    response
}
