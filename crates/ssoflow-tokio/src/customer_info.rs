//! The ordering application's `POST /customer-info` endpoint (PAR Ordering calls it to register
//! and sync customers), as an axum router over the core's `serve_customer_info`.

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::extract::rejection::BytesRejection;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use ssoflow_core::par_ordering::{
    CustomerDetails, parse_customer_info_request, serve_customer_info,
};

/// Largest `/customer-info` request body accepted (16 KiB); larger is 413.
pub const CUSTOMER_INFO_BODY_LIMIT: usize = 16 * 1024;

/// What the application knows about a customer: the five fields PAR Ordering asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Customer {
    /// The identity provider's id of the customer. The answer always carries the id PAR
    /// Ordering asked about (the core writes it), so this is for the application's own use.
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

/// A router serving `POST /customer-info` from `lookup` (the customer's id → the customer).
///
/// Answers 200 with the customer, 400 `{"error":"invalid_request",…}` for a body that is not
/// `{"customer_account_uuid":"…"}`, 404 `{"error":"not_found",…}` for an unknown customer, and
/// 413 (JSON too) past [`CUSTOMER_INFO_BODY_LIMIT`]. Merge it into your app's router; put your
/// authentication of PAR Ordering's call in front of it as a layer.
pub fn customer_info_router<L, Fut>(lookup: L) -> Router
where
    L: Fn(String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Option<Customer>> + Send + 'static,
{
    let lookup = Arc::new(lookup);
    Router::new()
        .route(
            "/customer-info",
            post(move |body: Result<Bytes, BytesRejection>| {
                let lookup = lookup.clone();
                async move { serve(body, |id| lookup(id)).await }
            }),
        )
        .layer(DefaultBodyLimit::max(CUSTOMER_INFO_BODY_LIMIT))
}

fn json(status: u16, body: Vec<u8>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn serve<Fut>(
    body: Result<Bytes, BytesRejection>,
    lookup: impl FnOnce(String) -> Fut,
) -> Response
where
    Fut: Future<Output = Option<Customer>>,
{
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            let status = rejection.status();
            tracing::debug!(status = status.as_u16(), "customer-info: body refused");
            let what = if status == StatusCode::PAYLOAD_TOO_LARGE {
                r#"{"error":"invalid_request","error_description":"body too large"}"#
            } else {
                r#"{"error":"invalid_request","error_description":"body unreadable"}"#
            };
            return json(status.as_u16(), what.as_bytes().to_vec());
        }
    };
    let customer = match parse_customer_info_request(&body) {
        // The core writes the 400 answer.
        Err(_) => None,
        Ok(request) => lookup(request.customer_account_uuid.as_str().to_owned()).await,
    };
    let c = customer.as_ref();
    // Worst case every byte is escaped as `\u00XX`.
    let fields = c.map_or(0, |c| {
        c.first_name.len() + c.last_name.len() + c.email.len() + c.phone_number.len()
    });
    let mut out = vec![0u8; (fields + body.len()) * 6 + 256];
    let (status, answer) = serve_customer_info(&body, &mut out, |_| {
        c.map(|c| CustomerDetails {
            first_name: &c.first_name,
            last_name: &c.last_name,
            email: &c.email,
            phone_number: &c.phone_number,
        })
    });
    tracing::debug!(status, "customer-info answered");
    json(status, answer.to_vec())
}
