//! Small helpers shared by the vendor modules: JSON answers, header parsing, random values, time format.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use rand::RngCore;
use serde_json::Value;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// A JSON answer with `Content-Type: application/json`.
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body.to_string(),
    )
        .into_response()
}

/// Parses a request body as JSON (any value); an error means "malformed" (answer 400).
pub(crate) fn parse_json(body: &[u8]) -> Result<Value, serde_json::Error> {
    serde_json::from_slice(body)
}

/// A non-empty string member of a JSON object.
pub(crate) fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// A header's value as text, when present and visible ASCII.
pub(crate) fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive).
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = header_str(headers, "authorization")?.trim();
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Credentials of an `Authorization: Basic` header, `None` when absent or not Basic.
///
/// `form_decode` applies the RFC 6749 §2.3.1 form-decoding to id and secret (OAuth token endpoints).
pub(crate) fn basic_auth(headers: &HeaderMap, form_decode: bool) -> Option<(String, String)> {
    let value = header_str(headers, "authorization")?.trim();
    let (scheme, b64) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = STANDARD.decode(b64.trim()).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (id, secret) = text.split_once(':')?;
    if form_decode {
        Some((form_decode_component(id)?, form_decode_component(secret)?))
    } else {
        Some((id.to_owned(), secret.to_owned()))
    }
}

/// Decodes one `application/x-www-form-urlencoded` component (`+` is a space).
fn form_decode_component(s: &str) -> Option<String> {
    let spaced = s.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

/// Whether the request's `Content-Type` media type is `mime` (parameters such as charset ignored).
pub(crate) fn content_type_is(headers: &HeaderMap, mime: &str) -> bool {
    header_str(headers, "content-type").is_some_and(|ct| {
        ct.split(';')
            .next()
            .is_some_and(|m| m.trim().eq_ignore_ascii_case(mime))
    })
}

/// Whether raw (not form-decoded) Basic credentials equal `id` and `secret`, compared in constant time.
pub(crate) fn basic_matches(headers: &HeaderMap, id: &str, secret: &str) -> bool {
    basic_auth(headers, false).is_some_and(|(i, s)| ct_eq(&i, id) & ct_eq(&s, secret))
}

/// Whether the header says `Authorization: Basic …` (even if undecodable).
pub(crate) fn has_basic_scheme(headers: &HeaderMap) -> bool {
    header_str(headers, "authorization")
        .and_then(|v| v.trim().split(' ').next())
        .is_some_and(|s| s.eq_ignore_ascii_case("basic"))
}

/// Constant-time string equality (length may leak, contents do not).
pub(crate) fn ct_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// `n` random bytes.
pub(crate) fn random_bytes(n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    rand::rng().fill_bytes(&mut buf);
    buf
}

/// Lowercase hex of `n` random bytes (`2n` characters).
pub(crate) fn random_hex(n: usize) -> String {
    hex(&random_bytes(n))
}

/// An opaque URL-safe token of 32 random bytes.
pub(crate) fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes(32))
}

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// A JWT-shaped token (`HS256`) carrying `claims`, signed with `key`.
pub(crate) fn mint_jwt(claims: &Value, key: &[u8]) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"HS256"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signing_input = format!("{header}.{payload}");
    let sig = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(signing_input.as_bytes());
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => random_bytes(32),
    };
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

/// The claims of a JWT-shaped token (middle part, base64url JSON object), without verifying it.
pub(crate) fn jwt_claims(token: &str) -> Option<Value> {
    let mut parts = token.split('.');
    let (_, payload, _) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let raw = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let v: Value = serde_json::from_slice(&raw).ok()?;
    v.is_object().then_some(v)
}

/// Everything but RFC 3986 unreserved characters gets percent-encoded.
const QUERY_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `base` with `params` appended to its query (percent-encoded); a fragment in `base` is dropped.
pub(crate) fn append_query(base: &str, params: &[(&str, &str)]) -> String {
    let base = base.split('#').next().unwrap_or(base);
    let mut url = base.to_owned();
    let mut sep = if base.contains('?') { '&' } else { '?' };
    if base.ends_with('?') || base.ends_with('&') {
        sep = '\0';
    }
    for (k, v) in params {
        if sep != '\0' {
            url.push(sep);
        }
        url.push_str(&utf8_percent_encode(k, QUERY_COMPONENT).to_string());
        url.push('=');
        url.push_str(&utf8_percent_encode(v, QUERY_COMPONENT).to_string());
        sep = '&';
    }
    url
}

/// Civil date and time (UTC) of a Unix timestamp in seconds.
fn civil(epoch_s: u64) -> (i64, u32, u32, u32, u32, u32) {
    let secs = i64::try_from(epoch_s).unwrap_or(i64::MAX / 2);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let small = |x: i64| u32::try_from(x).unwrap_or(0);
    (
        y,
        small(m),
        small(d),
        small(rem / 3600),
        small(rem % 3600 / 60),
        small(rem % 60),
    )
}

/// `YYYY-MM-DD hh:mm:ss` (PAR Ordering's timestamp format), UTC.
pub(crate) fn format_sql_time(epoch_s: u64) -> String {
    let (y, mo, d, h, mi, s) = civil(epoch_s);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")
}

/// ISO-8601 `YYYY-MM-DDThh:mm:ssZ`, UTC.
pub(crate) fn format_iso_time(epoch_s: u64) -> String {
    let (y, mo, d, h, mi, s) = civil(epoch_s);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_formats() {
        assert_eq!(format_sql_time(0), "1970-01-01 00:00:00");
        assert_eq!(format_sql_time(1_695_195_527), "2023-09-20 07:38:47");
        assert_eq!(format_iso_time(1_439_905_986), "2015-08-18T13:53:06Z");
        assert_eq!(format_iso_time(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn basic_auth_form_decoding() {
        let mut h = HeaderMap::new();
        let creds = STANDARD.encode("my%20client:p%3Ass+word");
        h.insert(
            "authorization",
            HeaderValue::from_str(&format!("Basic {creds}")).expect("ascii"),
        );
        assert_eq!(
            basic_auth(&h, true),
            Some(("my client".into(), "p:ss word".into()))
        );
        assert_eq!(
            basic_auth(&h, false),
            Some(("my%20client".into(), "p%3Ass+word".into()))
        );
    }

    #[test]
    fn jwt_round_trip() {
        let t = mint_jwt(&serde_json::json!({"sub": "abc"}), b"k");
        assert_eq!(t.split('.').count(), 3);
        assert_eq!(
            jwt_claims(&t).and_then(|c| c.get("sub").cloned()),
            Some(serde_json::json!("abc"))
        );
        assert_eq!(jwt_claims("not-a-jwt"), None);
        assert_eq!(jwt_claims("a.!!!.c"), None);
    }

    #[test]
    fn query_appending() {
        assert_eq!(
            append_query(
                "https://a.example/cb",
                &[("code", "x y"), ("state", "s&t=")]
            ),
            "https://a.example/cb?code=x%20y&state=s%26t%3D"
        );
        assert_eq!(
            append_query("https://a.example/cb?v=1#frag", &[("code", "c")]),
            "https://a.example/cb?v=1&code=c"
        );
    }
}
