//! HTTP request and response views, and the builder that writes a request into a caller buffer.

use core::fmt;
use core::ops::Range;

use crate::{Error, form, json};

/// Most headers any flow sends.
pub const MAX_HEADERS: usize = 10;

/// HTTP method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Method {
    /// `GET`
    Get,
    /// `POST`
    Post,
}

impl Method {
    /// The method's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

/// One header: a name and its raw value.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    /// Header name as written (compare case-insensitively).
    pub name: &'a str,
    /// Raw value bytes.
    pub value: &'a [u8],
}

/// What the builder wrote is not where it recorded it: a bug in the builder.
const INTERNAL_WRITE: Error = Error::Internal {
    what: "a request part outside what was written",
};

/// Header names whose values are credentials: never printed or logged, by the core or any
/// driver (the one list every driver's redaction uses). `application` is PAR Ordering's
/// application key.
pub const SECRET_HEADERS: [&str; 7] = [
    "authorization",
    "application",
    "proxy-authorization",
    "dlc-authorization",
    "x-pch-digest",
    "cookie",
    "set-cookie",
];

/// Whether a header's value is a credential (its name is in [`SECRET_HEADERS`], any case).
pub fn is_secret_header(name: &str) -> bool {
    SECRET_HEADERS.iter().any(|h| name.eq_ignore_ascii_case(h))
}

impl fmt::Debug for Header<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if is_secret_header(self.name) {
            write!(f, "{}: ***", self.name)
        } else {
            let v = core::str::from_utf8(self.value).unwrap_or("<binary>");
            write!(f, "{}: {v}", self.name)
        }
    }
}

/// An HTTP request a flow wants sent. It borrows the buffer passed to `poll`.
///
/// `Debug` redacts credential headers and prints only the body's length.
#[derive(Clone)]
pub struct Request<'b> {
    /// Method.
    pub method: Method,
    /// Absolute URL (`https://…`, or `http://` to a loopback host).
    pub url: &'b str,
    headers: heapless::Vec<Header<'b>, MAX_HEADERS>,
    /// Body bytes (empty for none).
    pub body: &'b [u8],
}

impl<'b> Request<'b> {
    /// Every header to send, in order.
    pub fn headers(&self) -> &[Header<'b>] {
        &self.headers
    }

    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'b [u8]> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    }

    /// The URL's host and port (`example.com:8443`).
    pub fn authority(&self) -> &'b str {
        split_url(self.url).map(|(_, a, _)| a).unwrap_or("")
    }

    /// The URL's path and query (`/oauth/token?x=1`), `/` when empty.
    pub fn path_and_query(&self) -> &'b str {
        match split_url(self.url) {
            Some((_, _, p)) if !p.is_empty() => p,
            _ => "/",
        }
    }
}

impl fmt::Debug for Request<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("url", &UrlWithoutQuery(self.url))
            .field("headers", &self.headers)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// A URL as `Debug` shows it: the query (which may carry a one-time login token or a code)
/// replaced by `?***`.
pub(crate) struct UrlWithoutQuery<'a>(pub(crate) &'a str);

impl fmt::Debug for UrlWithoutQuery<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.split_once('?') {
            Some((path, _)) => write!(f, "\"{path}?***\""),
            None => fmt::Debug::fmt(self.0, f),
        }
    }
}

/// An HTTP response handed back to a flow.
#[derive(Clone, Copy)]
pub struct Response<'a> {
    /// Status code.
    pub status: u16,
    /// Response headers (may be empty: no flow needs them to succeed).
    pub headers: &'a [Header<'a>],
    /// The complete body.
    pub body: &'a [u8],
}

impl<'a> Response<'a> {
    /// A response with no headers.
    pub fn new(status: u16, body: &'a [u8]) -> Self {
        Response {
            status,
            headers: &[],
            body,
        }
    }

    /// The same response with headers.
    pub fn with_headers(self, headers: &'a [Header<'a>]) -> Self {
        Response { headers, ..self }
    }

    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    }

    /// `Retry-After` in seconds, when given as a number of seconds.
    pub fn retry_after_secs(&self) -> Option<u64> {
        parse_retry_after(self.header("retry-after")?)
    }
}

impl fmt::Debug for Response<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body", &crate::Excerpt::of(self.body))
            .finish()
    }
}

/// A `Retry-After` value in seconds, when it is a number of seconds (RFC 9110 §10.2.3; the
/// HTTP-date form is not read: without a wall clock the core cannot use it). The one parser
/// every driver uses.
///
/// Exactly `str::trim` then `u64::from_str` (an optional `+`, ASCII digits, no overflow), by
/// hand: those two pull the standard library's Unicode whitespace table and integer parser
/// into a firmware image.
pub fn parse_retry_after(value: &[u8]) -> Option<u64> {
    let v = core::str::from_utf8(value).ok()?;
    let v = v.trim_matches(is_white_space);
    let digits = v.strip_prefix('+').unwrap_or(v);
    if digits.is_empty() {
        return None;
    }
    digits.bytes().try_fold(0u64, |n, b| {
        if !b.is_ascii_digit() {
            return None;
        }
        n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    })
}

/// `char::is_whitespace` (the Unicode `White_Space` property, 25 code points) without the
/// standard library's lookup table.
pub(crate) fn is_white_space(c: char) -> bool {
    matches!(
        c,
        '\u{9}'..='\u{d}'
            | ' '
            | '\u{85}'
            | '\u{a0}'
            | '\u{1680}'
            | '\u{2000}'..='\u{200a}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202f}'
            | '\u{205f}'
            | '\u{3000}'
    )
}

/// Split `scheme://authority/path?query` into its three parts.
///
/// By hand, over bytes: `str::split_once` with a string pattern pulls in the two-way searcher
/// (firmware flash) for a three-byte needle.
pub(crate) fn split_url(url: &str) -> Option<(&str, &str, &str)> {
    let colon = url.as_bytes().windows(3).position(|w| w == b"://")?;
    let scheme = url.get(..colon)?;
    let rest = url.get(colon + 3..)?;
    let end = rest
        .bytes()
        .position(|b| matches!(b, b'/' | b'?' | b'#'))
        .unwrap_or(rest.len());
    let (authority, path) = rest.split_at_checked(end)?;
    Some((scheme, authority, path))
}

/// Check that `url` is usable for sending credentials: `https://`, or `http://` only to a
/// loopback host (127.0.0.0/8, `[::1]`, `localhost`). Control characters and spaces are refused.
pub fn check_url(url: &str) -> Result<(), Error> {
    if url.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(Error::InvalidInput { what: "url" });
    }
    let (scheme, authority, path) = split_url(url).ok_or(Error::InvalidInput { what: "url" })?;
    // No userinfo; no fragment; a query only after a path (else `base + path` would give a
    // request target like `?x=1/p`).
    // Byte scans, not `str::contains`: that is `memchr`, which nothing else needs (flash).
    if authority.is_empty()
        || authority.bytes().any(|b| b == b'@')
        || url.bytes().any(|b| b == b'#')
        || path.starts_with('?')
    {
        return Err(Error::InvalidInput { what: "url" });
    }
    if scheme.eq_ignore_ascii_case("https") {
        return Ok(());
    }
    if !scheme.eq_ignore_ascii_case("http") {
        return Err(Error::InvalidInput { what: "url" });
    }
    if is_loopback_authority(authority) {
        Ok(())
    } else {
        Err(Error::Insecure)
    }
}

/// Whether `host[:port]` names this machine.
pub fn is_loopback_authority(authority: &str) -> bool {
    let bytes = authority.as_bytes();
    let host: &[u8] = match bytes.split_first() {
        Some((b'[', rest)) => rest.split(|&b| b == b']').next().unwrap_or(&[]),
        _ => bytes.split(|&b| b == b':').next().unwrap_or(&[]),
    };
    if host.eq_ignore_ascii_case(b"localhost") || host == b"::1" {
        return true;
    }
    let mut parts = host.split(|&b| b == b'.');
    let first = parts.next().and_then(parse_u8);
    let rest_ok = parts.clone().count() == 3 && parts.all(|p| parse_u8(p).is_some());
    first == Some(127) && rest_ok
}

/// One decimal part of a dotted IPv4 address, 0–255, written canonically: digits only, no sign,
/// no leading zero. A leading zero means octal to WHATWG URL parsers (browsers, the `url`
/// crate): `http://0127.0.0.1` is 87.0.0.1 to them, so it must not pass as loopback here.
fn parse_u8(digits: &[u8]) -> Option<u8> {
    if digits.is_empty() || (digits.len() > 1 && digits.first() == Some(&b'0')) {
        return None;
    }
    digits.iter().try_fold(0u8, |acc, &c| {
        let d = c.checked_sub(b'0').filter(|d| *d < 10)?;
        acc.checked_mul(10)?.checked_add(d)
    })
}

/// `s` without trailing `/`s (by bytes: `/` is ASCII, so any cut is a character boundary).
pub(crate) fn trim_slashes(s: &str) -> &str {
    let keep = s.len() - s.bytes().rev().take_while(|&b| b == b'/').count();
    s.get(..keep).unwrap_or(s)
}

/// Writes a request into a caller buffer, then hands out a [`Request`] view of it.
///
/// Writes past the end of the buffer are counted, not stored, so [`finish`](Self::finish) can
/// report the exact size required.
pub struct RequestBuilder<'b> {
    buf: &'b mut [u8],
    len: usize,
    method: Method,
    url: Range<usize>,
    headers: heapless::Vec<(&'static str, Value), MAX_HEADERS>,
    body: Range<usize>,
    too_many_headers: bool,
}

/// A header value: a constant, or bytes written into the buffer.
enum Value {
    Static(&'static str),
    Written(Range<usize>),
}

impl<'b> RequestBuilder<'b> {
    /// Start a request to `base` + `path` (for example `https://api.example` + `/oauth/token`).
    /// Every request says `Accept: application/json`.
    pub fn new(buf: &'b mut [u8], method: Method, base: &str, path: &str) -> Self {
        let mut rb = RequestBuilder {
            buf,
            len: 0,
            method,
            url: 0..0,
            headers: heapless::Vec::new(),
            body: 0..0,
            too_many_headers: false,
        };
        let start = rb.len;
        rb.put(trim_slashes(base).as_bytes());
        rb.put(path.as_bytes());
        rb.url = start..rb.len;
        rb.static_header("Accept", "application/json");
        rb
    }

    /// Append raw bytes.
    pub fn put(&mut self, bytes: &[u8]) {
        let end = self.len + bytes.len();
        if let Some(dst) = self.buf.get_mut(self.len..end) {
            dst.copy_from_slice(bytes);
        }
        self.len = end;
    }

    /// Append text.
    pub fn put_str(&mut self, s: &str) {
        self.put(s.as_bytes());
    }

    /// Append `key=value` form-encoded (with a leading `&` unless `first`).
    pub fn put_query_pair(&mut self, key: &str, value: &str, first: bool) {
        if !first {
            self.put(b"&");
        }
        form::encode(key, &mut |p: &str| self.put_str(p));
        self.put(b"=");
        form::encode(value, &mut |p: &str| self.put_str(p));
    }

    /// Extend the URL with a query string: `pairs` are form-encoded.
    pub fn query(&mut self, pairs: &[(&str, &str)]) {
        // The URL must be contiguous: only call right after `new`.
        if self.url.end != self.len {
            self.too_many_headers = true;
            return;
        }
        for (i, (k, v)) in pairs.iter().enumerate() {
            self.put(if i == 0 { b"?" } else { b"&" });
            self.put_query_pair(k, v, true);
        }
        self.url.end = self.len;
    }

    /// Add a header whose value is the concatenation of `parts`.
    pub fn header_parts(&mut self, name: &'static str, parts: &[&str]) {
        let start = self.len;
        for p in parts {
            self.put_str(p);
        }
        self.push_header(name, start);
    }

    /// Add a header.
    pub fn header(&mut self, name: &'static str, value: &str) {
        self.header_parts(name, &[value]);
    }

    fn push_header(&mut self, name: &'static str, start: usize) {
        if self
            .headers
            .push((name, Value::Written(start..self.len)))
            .is_err()
        {
            self.too_many_headers = true;
        }
    }

    /// Add a header with a constant value (takes no buffer space).
    pub fn static_header(&mut self, name: &'static str, value: &'static str) {
        if self.headers.push((name, Value::Static(value))).is_err() {
            self.too_many_headers = true;
        }
    }

    /// `Authorization: Bearer <token>`.
    pub fn bearer(&mut self, token: &str) {
        self.header_parts("Authorization", &["Bearer ", token]);
    }

    /// `Authorization: Basic base64(id ":" secret)`. With `form_encode`, id and secret are first
    /// form-encoded as RFC 6749 §2.3.1 says; without, they are sent raw (what some servers expect).
    pub fn basic_auth(&mut self, id: &str, secret: &str, form_encode: bool) {
        let start = self.len;
        self.put(b"Basic ");
        let mut b64 = Base64Sink::new();
        b64.feed_credential(id, form_encode, self);
        b64.feed(b":", self);
        b64.feed_credential(secret, form_encode, self);
        b64.finish(self);
        self.push_header("Authorization", start);
    }

    /// Write a JSON object body (`Content-Type: application/json`) with string members.
    pub fn json_body(&mut self, members: &[(&str, &str)]) {
        self.static_header("Content-Type", "application/json");
        let start = self.len;
        self.put(b"{");
        for (i, (k, v)) in members.iter().enumerate() {
            if i > 0 {
                self.put(b",");
            }
            json::write_string(k, &mut |b: &[u8]| self.put(b));
            self.put(b":");
            json::write_string(v, &mut |b: &[u8]| self.put(b));
        }
        self.put(b"}");
        self.body = start..self.len;
    }

    /// Write a body of your own with its `Content-Type` (e.g. for calls the core has no flow for).
    pub fn raw_body(&mut self, content_type: &'static str, bytes: &[u8]) {
        self.static_header("Content-Type", content_type);
        let start = self.len;
        self.put(bytes);
        self.body = start..self.len;
    }

    /// Write a form body (`Content-Type: application/x-www-form-urlencoded`).
    pub fn form_body(&mut self, pairs: &[(&str, &str)]) {
        self.form_body_parts(pairs, &[]);
    }

    /// [`form_body`](Self::form_body) with the pairs of `first` then those of `then`.
    pub(crate) fn form_body_parts(&mut self, first: &[(&str, &str)], then: &[(&str, &str)]) {
        self.static_header("Content-Type", "application/x-www-form-urlencoded");
        let start = self.len;
        for (i, (k, v)) in first.iter().chain(then).enumerate() {
            self.put_query_pair(k, v, i == 0);
        }
        self.body = start..self.len;
    }

    /// The URL's path and query as written so far (for signing).
    pub fn written_url(&self) -> &[u8] {
        self.buf.get(self.url.clone()).unwrap_or(&[])
    }

    /// The body as written so far (for signing). Empty when it did not fit.
    pub fn written_body(&self) -> &[u8] {
        self.buf.get(self.body.clone()).unwrap_or(&[])
    }

    /// Finish: the request view, or `BufferTooSmall { required }`.
    #[inline(always)]
    pub fn finish(mut self) -> Result<Request<'b>, Error> {
        self.finish_in_place()
    }

    /// [`finish`](Self::finish) through a reference, what the crate's request writers call: a
    /// call taking the builder by value has the caller copy it (its header table, 0.2 KiB)
    /// onto its stack first. The builder is spent: its buffer goes to the request.
    #[inline(never)]
    pub(crate) fn finish_in_place(&mut self) -> Result<Request<'b>, Error> {
        if self.too_many_headers {
            return Err(Error::Internal {
                what: "more headers than a request holds",
            });
        }
        if self.len > self.buf.len() {
            return Err(Error::BufferTooSmall { required: self.len });
        }
        let buf: &'b mut [u8] = core::mem::take(&mut self.buf);
        let buf: &'b [u8] = buf;
        let url = buf
            .get(self.url.clone())
            .and_then(|u| core::str::from_utf8(u).ok())
            .ok_or(INTERNAL_WRITE)?;
        let mut headers = heapless::Vec::new();
        for (name, value) in &self.headers {
            let value = match value {
                Value::Static(v) => v.as_bytes(),
                Value::Written(range) => buf.get(range.clone()).ok_or(INTERNAL_WRITE)?,
            };
            headers
                .push(Header { name, value })
                .map_err(|_| INTERNAL_WRITE)?;
        }
        let body = buf.get(self.body.clone()).ok_or(INTERNAL_WRITE)?;
        Ok(Request {
            method: self.method,
            url,
            headers,
            body,
        })
    }
}

/// Streams bytes into Base64 (standard alphabet, `=`-padded) three at a time, so nothing needs
/// to be contiguous; output is staged in a small buffer and written in pieces.
struct Base64Sink {
    carry: [u8; 3],
    n: usize,
    out: [u8; 48],
    len: usize,
}

impl Base64Sink {
    fn new() -> Self {
        Base64Sink {
            carry: [0; 3],
            n: 0,
            out: [0; 48],
            len: 0,
        }
    }

    fn feed(&mut self, mut bytes: &[u8], rb: &mut RequestBuilder<'_>) {
        // Top up a partial group, then whole groups straight from `bytes`, then keep the rest.
        while self.n > 0 {
            let Some((&b, rest)) = bytes.split_first() else {
                return;
            };
            self.push(b);
            bytes = rest;
            if self.n == 3 {
                self.quad(rb);
            }
        }
        let mut groups = bytes.chunks_exact(3);
        for group in &mut groups {
            self.carry.copy_from_slice(group);
            self.n = 3;
            self.quad(rb);
        }
        for &b in groups.remainder() {
            self.push(b);
        }
    }

    fn push(&mut self, b: u8) {
        if let Some(slot) = self.carry.get_mut(self.n) {
            *slot = b;
            self.n += 1;
        }
    }

    fn feed_credential(&mut self, s: &str, form_encode: bool, rb: &mut RequestBuilder<'_>) {
        if form_encode {
            form::encode(s, &mut |p: &str| self.feed(p.as_bytes(), rb));
        } else {
            self.feed(s.as_bytes(), rb);
        }
    }

    /// Encode the 1 to 3 bytes carried as 4 characters (`=`-padded), by table: the `base64`
    /// crate's engine costs more per call than these few lines do per byte.
    fn quad(&mut self, rb: &mut RequestBuilder<'_>) {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let [a, b, c] = self.carry;
        let (b, c) = match self.n {
            1 => (0, 0),
            2 => (b, 0),
            _ => (b, c),
        };
        let v = u32::from(a) << 16 | u32::from(b) << 8 | u32::from(c);
        let sextet = |shift: u32| {
            let i = usize::try_from((v >> shift) & 0x3f).unwrap_or(0);
            ALPHABET.get(i).copied().unwrap_or(b'A')
        };
        let third = if self.n < 2 { b'=' } else { sextet(6) };
        let fourth = if self.n < 3 { b'=' } else { sextet(0) };
        if let Some(dst) = self.out.get_mut(self.len..self.len + 4) {
            dst.copy_from_slice(&[sextet(18), sextet(12), third, fourth]);
        }
        self.len += 4;
        self.n = 0;
        if self.len == self.out.len() {
            self.flush(rb);
        }
    }

    fn flush(&mut self, rb: &mut RequestBuilder<'_>) {
        rb.put(self.out.get(..self.len).unwrap_or(&[]));
        self.len = 0;
    }

    fn finish(mut self, rb: &mut RequestBuilder<'_>) {
        if self.n > 0 {
            self.quad(rb);
        }
        self.flush(rb);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::format;

    /// The standard library's reading, which `parse_retry_after` does by hand.
    fn std_retry_after(value: &[u8]) -> Option<u64> {
        core::str::from_utf8(value).ok()?.trim().parse().ok()
    }

    #[test]
    fn retry_after_is_trim_then_parse() {
        for v in [
            "",
            " ",
            "0",
            "120",
            " 120 ",
            "\t7\r\n",
            "+5",
            "++5",
            "-5",
            "-0",
            "+",
            "5+",
            "1 2",
            "18446744073709551615",
            "18446744073709551616",
            "00042",
            "\u{a0}9\u{3000}",
            "\u{2028}9",
            "\u{200b}9",
            "9\u{85}",
            "3.5",
            "Wed, 21 Oct 2015 07:28:00 GMT",
            "\u{ff11}",
            "\u{1680}+1\u{205f}",
        ] {
            assert_eq!(
                parse_retry_after(v.as_bytes()),
                std_retry_after(v.as_bytes()),
                "{v:?}"
            );
        }
        assert_eq!(parse_retry_after(b"\xff1"), None);
        assert_eq!(parse_retry_after(b" 30 "), Some(30));
    }

    proptest! {
        #[test]
        fn retry_after_matches_std(v in "[ \t\n+\\-0-9a\u{a0}\u{85}\u{2000}-\u{200c}\u{3000}]{0,24}") {
            prop_assert_eq!(parse_retry_after(v.as_bytes()), std_retry_after(v.as_bytes()));
        }

        #[test]
        fn retry_after_matches_std_on_bytes(v in proptest::collection::vec(any::<u8>(), 0..24)) {
            prop_assert_eq!(parse_retry_after(&v), std_retry_after(&v));
        }
    }

    #[test]
    fn basic_auth_vectors() {
        let mut buf = [0u8; 256];
        let mut rb = RequestBuilder::new(&mut buf, Method::Post, "https://a.example", "/t");
        rb.basic_auth("s6BhdRkqt3", "7Fjfp0ZBr1KtDRbnfVdmIw", true);
        let r = rb.finish().unwrap();
        assert_eq!(
            r.header("authorization").unwrap(),
            b"Basic czZCaGRSa3F0Mzo3RmpmcDBaQnIxS3REUmJuZlZkbUl3"
        );

        let mut buf = [0u8; 256];
        let mut rb = RequestBuilder::new(&mut buf, Method::Post, "https://a.example", "/t");
        rb.basic_auth("my client:id", "p@ss w/rd+é", true);
        let r = rb.finish().unwrap();
        assert_eq!(
            r.header("Authorization").unwrap(),
            b"Basic bXkrY2xpZW50JTNBaWQ6cCU0MHNzK3clMkZyZCUyQiVDMyVBOQ==".as_slice()
        );
    }

    #[test]
    fn basic_auth_matches_the_base64_crate_for_every_padding() {
        use base64::Engine;
        for len in 0..12 {
            let secret: std::string::String = "abcdefghijk".chars().take(len).collect();
            let mut buf = [0u8; 256];
            let mut rb = RequestBuilder::new(&mut buf, Method::Post, "https://a.example", "/t");
            rb.basic_auth("id", &secret, false);
            let r = rb.finish().unwrap();
            let mut b64 = [0u8; 64];
            let n = base64::engine::general_purpose::STANDARD
                .encode_slice(std::format!("id:{secret}"), &mut b64)
                .unwrap();
            let want = std::format!("Basic {}", core::str::from_utf8(&b64[..n]).unwrap());
            assert_eq!(r.header("authorization").unwrap(), want.as_bytes(), "{len}");
        }
    }

    #[test]
    fn too_small_reports_required_size() {
        let mut big = [0u8; 512];
        let mut rb = RequestBuilder::new(&mut big, Method::Post, "https://a.example", "/t");
        rb.json_body(&[("a", "b")]);
        let need = rb.finish().unwrap();
        let needed = need.url.len() + need.body.len();
        let mut small = [0u8; 20];
        let mut rb = RequestBuilder::new(&mut small, Method::Post, "https://a.example", "/t");
        rb.json_body(&[("a", "b")]);
        assert_eq!(
            rb.finish().unwrap_err(),
            Error::BufferTooSmall { required: needed }
        );
        let mut exact = std::vec![0u8; needed];
        let mut rb = RequestBuilder::new(&mut exact, Method::Post, "https://a.example", "/t");
        rb.json_body(&[("a", "b")]);
        assert!(rb.finish().is_ok());
    }

    #[test]
    fn debug_redacts_credentials() {
        let mut buf = [0u8; 256];
        let mut rb = RequestBuilder::new(&mut buf, Method::Post, "https://a.example", "/t");
        rb.bearer("tok-SECRET");
        rb.json_body(&[("password", "pw-SECRET")]);
        let s = format!("{:?}", rb.finish().unwrap());
        assert!(!s.contains("SECRET"), "{s}");
        assert!(s.contains("Authorization: ***"));
    }

    #[test]
    fn url_rules() {
        assert_eq!(
            check_url("https://a.example?x=1"),
            Err(Error::InvalidInput { what: "url" })
        );
        assert_eq!(
            check_url("https://a.example/p#frag"),
            Err(Error::InvalidInput { what: "url" })
        );
        assert_eq!(check_url("https://a.example/token?tenant=x"), Ok(()));
        assert_eq!(check_url("https://api.example/x"), Ok(()));
        assert_eq!(check_url("http://127.0.0.1:8080/x"), Ok(()));
        assert_eq!(check_url("http://127.9.0.1/x"), Ok(()));
        assert_eq!(check_url("http://localhost:1/x"), Ok(()));
        assert_eq!(check_url("http://[::1]:80/x"), Ok(()));
        assert_eq!(check_url("http://api.example/x"), Err(Error::Insecure));
        assert_eq!(
            check_url("http://127.0.0.1.evil.example/x"),
            Err(Error::Insecure)
        );
        assert_eq!(
            check_url("http://localhost.evil.example/"),
            Err(Error::Insecure)
        );
        assert_eq!(
            check_url("http://user@127.0.0.1/"),
            Err(Error::InvalidInput { what: "url" })
        );
        assert_eq!(
            check_url("ftp://x/"),
            Err(Error::InvalidInput { what: "url" })
        );
        assert_eq!(
            check_url("https://a b/"),
            Err(Error::InvalidInput { what: "url" })
        );
    }

    #[test]
    fn loopback_hosts_are_canonical_dotted_decimal() {
        let yes = [
            "127.0.0.1",
            "127.0.0.1:80",
            "127.255.255.255",
            "127.0.0.0",
            "[::1]:8080",
            "[::1",
            "LOCALHOST:1",
            "localhost",
        ];
        let no = [
            "127.256.0.1",
            "127.0.0",
            "127.0.0.1.1",
            "127.+0.0.1",
            "127.+.0.1",
            "127.-0.0.1",
            "+127.0.0.1",
            // Octal to WHATWG parsers: 0127 is 87, 01 is 1 but written ambiguously.
            "0127.0.0.1",
            "127.0.0.01",
            "0x7f.0.0.1",
            "127..0.1",
            "",
            "localhost.",
            "128.0.0.1",
            "127.0.0.1e",
            "١٢٧.0.0.1",
            // A bare IPv6 address has no brackets: its first `:` ends the host.
            "::1",
        ];
        for a in yes {
            assert!(is_loopback_authority(a), "{a}");
        }
        for a in no {
            assert!(!is_loopback_authority(a), "{a}");
        }
        assert_eq!(check_url("http://0127.0.0.1:88/"), Err(Error::Insecure));
        assert_eq!(trim_slashes("https://a/b//"), "https://a/b");
        assert_eq!(trim_slashes("///"), "");
        assert_eq!(trim_slashes("é/"), "é");
    }

    #[test]
    fn query_and_path() {
        let mut buf = [0u8; 256];
        let mut rb = RequestBuilder::new(&mut buf, Method::Get, "https://a.example/base/", "/p");
        rb.query(&[("a b", "c&d"), ("e", "")]);
        let r = rb.finish().unwrap();
        assert_eq!(r.url, "https://a.example/base/p?a+b=c%26d&e=");
        assert_eq!(r.path_and_query(), "/base/p?a+b=c%26d&e=");
        assert_eq!(r.authority(), "a.example");
    }
}
