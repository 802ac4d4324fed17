//! What the std drivers share about the connection: trusted roots, TLS error messages a user
//! can act on, and the proxy taken from the environment — one copy, so ssoflow-ureq and
//! ssoflow-tokio apply the same rules and say the same things. No protocol knowledge.

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// Root certificates and the platform store, as builder options take them.
///
/// The default trust is Mozilla's roots (webpki); extra roots are *added* to them, and so is
/// the platform's store when asked for. The platform's store is read with
/// `rustls-native-certs` rather than used through `rustls-platform-verifier`: it yields plain
/// root certificates, so webpki roots, the platform's and extra ones combine into one store that
/// both std drivers build the same way (the platform verifier replaces the verifier and, through
/// ureq, cannot take extra roots). On Linux it reads the same files OpenSSL does
/// (`SSL_CERT_FILE`, `SSL_CERT_DIR`, the distribution's bundle). Verification is never switched
/// off: there is no option for it.
#[derive(Clone, Debug, Default)]
pub struct Roots {
    /// Extra trusted roots (DER).
    pub extra: Vec<CertificateDer<'static>>,
    /// Also trust the platform's store.
    pub platform: bool,
}

impl Roots {
    /// Add every certificate of `pem`; none, or an unreadable one, is an error.
    pub fn add_pem(&mut self, pem: &[u8]) -> Result<(), &'static str> {
        let before = self.extra.len();
        for cert in CertificateDer::pem_slice_iter(pem) {
            self.extra.push(cert.map_err(|_| "root certificate (PEM)")?);
        }
        if self.extra.len() == before {
            return Err("root certificate (PEM): no certificate found");
        }
        Ok(())
    }

    /// The platform's roots (empty if it has none or they cannot be read).
    pub fn platform_certs() -> Vec<CertificateDer<'static>> {
        let found = rustls_native_certs::load_native_certs();
        if !found.errors.is_empty() {
            tracing::debug!(
                errors = found.errors.len(),
                "some platform roots could not be read"
            );
        }
        found.certs
    }
}

/// The certificate problem behind a transport error, if it was one, in words a user can act on.
pub fn tls_problem(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut current = Some(e);
    while let Some(err) = current {
        if let Some(r) = err.downcast_ref::<rustls::Error>() {
            return Some(describe_tls(r));
        }
        // An io::Error's `source` skips the error it wraps (itself maybe an io::Error
        // wrapping the rustls one): look inside.
        if let Some(inner) = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            if let Some(found) = tls_problem(inner) {
                return Some(found);
            }
        }
        current = err.source();
    }
    None
}

/// A rustls error in words: the certificate problem named first.
pub fn describe_tls(e: &rustls::Error) -> String {
    use rustls::CertificateError as C;
    let rustls::Error::InvalidCertificate(c) = e else {
        return format!("tls: {e}");
    };
    let what = match c {
        C::Expired | C::ExpiredContext { .. } => "certificate expired".to_owned(),
        C::NotValidYet | C::NotValidYetContext { .. } => "certificate not valid yet".to_owned(),
        C::NotValidForName => "certificate not valid for name".to_owned(),
        C::NotValidForNameContext {
            expected,
            presented,
        } => format!(
            "certificate not valid for name {} (it is for {})",
            expected.to_str(),
            presented.join(", ")
        ),
        C::UnknownIssuer => {
            "certificate has an unknown issuer (no trusted root signed it)".to_owned()
        }
        C::Revoked => "certificate revoked".to_owned(),
        C::BadSignature => "certificate has a bad signature".to_owned(),
        C::InvalidPurpose | C::InvalidPurposeContext { .. } => {
            "certificate not valid for a TLS server".to_owned()
        }
        other => format!("invalid certificate: {other:?}"),
    };
    format!("tls: {what}")
}

/// The proxy in force for a driver: its URL, where it came from, and `NO_PROXY`.
#[derive(Clone)]
pub struct ProxyRoute {
    /// `http://[user:pass@]host:port` of the CONNECT proxy.
    pub url: String,
    /// Whether it came from the environment or was given explicitly.
    pub source: ssoflow_core::proxy::Source,
    /// The `NO_PROXY` list in force (empty when none).
    pub no_proxy: String,
}

/// How a driver finds its proxy.
#[derive(Clone, Default)]
pub enum ProxyChoice {
    /// `HTTPS_PROXY` / `https_proxy`, else `ALL_PROXY` / `all_proxy`; `NO_PROXY` / `no_proxy`.
    #[default]
    Environment,
    /// This proxy for every `https://` URL, loopback included.
    Explicit(String),
    /// No proxy at all.
    Off,
}

impl ProxyChoice {
    /// The route in force, reading the environment when that is the choice.
    pub fn resolve(&self) -> Result<Option<ProxyRoute>, &'static str> {
        self.resolve_with(&|name| std::env::var(name).ok())
    }

    /// [`resolve`](Self::resolve) with `var` as the environment (tests cannot set the real one:
    /// `set_var` is unsafe).
    pub fn resolve_with(
        &self,
        var: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<ProxyRoute>, &'static str> {
        use ssoflow_core::proxy::Source;
        let (url, source) = match self {
            ProxyChoice::Off => return Ok(None),
            ProxyChoice::Explicit(url) => (url.clone(), Source::Explicit),
            ProxyChoice::Environment => {
                match env_first(
                    var,
                    &["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"],
                ) {
                    Some(url) => (url, Source::Environment),
                    None => return Ok(None),
                }
            }
        };
        let url = if url.contains("://") {
            url
        } else {
            format!("http://{url}")
        };
        if !url
            .get(..7)
            .is_some_and(|s| s.eq_ignore_ascii_case("http://"))
        {
            return Err("proxy url: only http:// proxies (CONNECT) are supported");
        }
        let no_proxy = env_first(var, &["no_proxy", "NO_PROXY"]).unwrap_or_default();
        Ok(Some(ProxyRoute {
            url,
            source,
            no_proxy,
        }))
    }
}

impl ProxyRoute {
    /// Whether a request to `url` goes through this proxy ([`ssoflow_core::proxy::uses_proxy`]).
    pub fn applies(&self, url: &str) -> bool {
        ssoflow_core::proxy::uses_proxy(url, self.source, &self.no_proxy)
    }
}

/// The first of `names` set (not blank) in `var`.
fn env_first(var: &dyn Fn(&str) -> Option<String>, names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|n| var(n).filter(|v| !v.trim().is_empty()))
        .map(|v| v.trim().to_owned())
}

/// `url` without its `user:password@` (proxy credentials are never printed).
fn redact_proxy(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}***@{}", &url[..scheme + 3], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

impl std::fmt::Debug for ProxyRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyRoute")
            .field("url", &redact_proxy(&self.url))
            .field("source", &self.source)
            .field("no_proxy", &self.no_proxy)
            .finish()
    }
}

impl std::fmt::Debug for ProxyChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProxyChoice::Environment => f.write_str("Environment"),
            ProxyChoice::Explicit(url) => write!(f, "Explicit({:?})", redact_proxy(url)),
            ProxyChoice::Off => f.write_str("Off"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names_and_values_as_the_http_crate_has_them() {
        assert_eq!(header_name("Accept").unwrap().0, "accept");
        assert_eq!(
            header_name("Authorization").unwrap(),
            (http::header::AUTHORIZATION, true)
        );
        assert_eq!(
            header_name("X-Pch-Digest").unwrap(),
            ("x-pch-digest".parse().unwrap(), true)
        );
        assert_eq!(
            header_name("X-Request-ID").unwrap(),
            ("x-request-id".parse().unwrap(), false)
        );
        assert!(header_name("bad name").is_err());
        assert_eq!(
            constant_value(b"application/json").unwrap(),
            "application/json"
        );
        assert!(constant_value(b"application/jsonx").is_none());
    }

    #[test]
    fn proxy_credentials_are_never_printed() {
        let choice = ProxyChoice::Explicit("http://user:hunter2@proxy.example:3128".into());
        let route = choice.resolve_with(&|_| None).unwrap().unwrap();
        let printed = format!("{choice:?} {route:?}");
        assert!(
            !printed.contains("hunter2") && !printed.contains("user"),
            "{printed}"
        );
        assert!(printed.contains("proxy.example:3128"), "{printed}");
    }
}

/// A header name the core wrote, as the `http` crate has it, and whether its value is a
/// credential (`ssoflow_core::http::is_secret_header`). The names the core writes are matched
/// as it spells them (a length switch and a compare) and come out as `http`'s constants; others
/// are parsed.
#[allow(clippy::result_large_err)] // the core's error, as every caller returns it
pub fn header_name(name: &str) -> Result<(http::HeaderName, bool), ssoflow_core::Error> {
    use http::header;
    Ok(match name {
        "Accept" => (header::ACCEPT, false),
        "Authorization" => (header::AUTHORIZATION, true),
        "Content-Type" => (header::CONTENT_TYPE, false),
        _ => {
            let parsed = header::HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                ssoflow_core::Error::InvalidInput {
                    what: "header name",
                }
            })?;
            (parsed, ssoflow_core::http::is_secret_header(name))
        }
    })
}

/// The constant header values the core writes, as `http` constants (no copy, no check).
pub fn constant_value(value: &[u8]) -> Option<http::HeaderValue> {
    use http::HeaderValue;
    static JSON: HeaderValue = HeaderValue::from_static("application/json");
    static FORM: HeaderValue = HeaderValue::from_static("application/x-www-form-urlencoded");
    match value {
        b"application/json" => Some(JSON.clone()),
        b"application/x-www-form-urlencoded" => Some(FORM.clone()),
        _ => None,
    }
}

/// Zero `buf` in a way the optimizer keeps: `fill` compiles to one `memset`, and `black_box`
/// makes the zeroes observable, so the stores are not dropped as dead before a free. (The
/// `zeroize` crate's volatile byte-by-byte writes cost ~1 µs per 4 KiB, the memset ~50 ns,
/// on every request.)
pub fn wipe(buf: &mut [u8]) {
    buf.fill(0);
    std::hint::black_box(&*buf);
}

/// The buffer a std driver writes requests into. Requests carry credentials (a Basic
/// `Authorization`, a password or refresh token in the body), so it is wiped before it grows
/// (a reallocation would leave the old bytes in freed memory) and when it is dropped.
///
/// Each thread keeps the last buffer dropped on it (wiped, up to [`KEPT_REQUEST_BUF`] bytes)
/// for its next `RequestBuf`: a fresh zeroed allocation per sign-in cost a `calloc`'s zeroing,
/// the allocator's slow path for blocks past its per-thread cache and a `free` on every run,
/// on top of the wipe (~6 % of the client's CPU in ssoflow-tokio's loopback benchmark). An
/// async driver writes a request, copies it out and drops the buffer before any `.await`, so
/// one buffer per thread serves every task on it.
pub struct RequestBuf(Vec<u8>);

/// Largest buffer a thread keeps for its next [`RequestBuf`]; a bigger one is freed.
pub const KEPT_REQUEST_BUF: usize = 64 * 1024;

std::thread_local! {
    /// This thread's kept buffer: every byte of its length is zero.
    static KEPT: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

impl RequestBuf {
    /// A zeroed buffer of `len` bytes (this thread's kept one when it is free).
    pub fn new(len: usize) -> Self {
        // (`try_with`: a thread being torn down gets a fresh buffer rather than a panic.)
        let mut buf = KEPT.try_with(std::cell::Cell::take).unwrap_or_default();
        if buf.len() >= len {
            // All zeroes already: cutting it writes nothing.
            buf.truncate(len);
        } else {
            buf.resize(len, 0);
        }
        RequestBuf(buf)
    }

    /// Grow to `len` bytes when that is more than now, wiping what it held first.
    pub fn grow(&mut self, len: usize) {
        if len > self.0.len() {
            wipe(&mut self.0);
            self.0.resize(len, 0);
        }
    }

    /// The bytes to write into.
    pub fn bytes(&mut self) -> &mut [u8] {
        &mut self.0
    }

    /// Its length.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether it has no room at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Drop for RequestBuf {
    fn drop(&mut self) {
        wipe(&mut self.0);
        if self.0.capacity() <= KEPT_REQUEST_BUF {
            let buf = std::mem::take(&mut self.0);
            let _ = KEPT.try_with(|kept| kept.set(buf));
        }
    }
}

impl std::fmt::Debug for RequestBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RequestBuf({} bytes)", self.0.len())
    }
}

#[cfg(test)]
mod wipe_tests {
    use super::*;

    #[test]
    fn a_grown_request_buffer_starts_from_zeroes_and_wipe_zeroes() {
        let mut buf = RequestBuf::new(4);
        buf.bytes().copy_from_slice(b"pass");
        buf.grow(8);
        assert_eq!(buf.bytes(), &[0u8; 8]);
        buf.bytes()[..4].copy_from_slice(b"pass");
        wipe(buf.bytes());
        assert_eq!(buf.bytes(), &[0u8; 8]);
        buf.grow(2);
        assert_eq!(buf.len(), 8);
    }

    #[test]
    fn a_thread_reuses_its_wiped_request_buffer() {
        let mut first = RequestBuf::new(64);
        first.bytes().fill(b'p');
        let ptr = first.bytes().as_ptr();
        // Lent out: a second one on this thread is a buffer of its own.
        let second = RequestBuf::new(64);
        assert_ne!(second.bytes_ptr(), ptr);
        drop(second);
        drop(first);
        // Given back (the last one back is kept), wiped, at the length asked for.
        let mut again = RequestBuf::new(32);
        assert_eq!(again.bytes().as_ptr(), ptr);
        assert_eq!(again.bytes(), &[0u8; 32]);
        again.bytes().fill(b'p');
        drop(again);
        let mut longer = RequestBuf::new(96);
        assert_eq!(longer.bytes(), &[0u8; 96]);
        // A buffer grown past what a thread keeps is freed after use.
        longer.grow(KEPT_REQUEST_BUF + 1);
        drop(longer);
        assert!(RequestBuf::new(8).0.capacity() <= KEPT_REQUEST_BUF);
    }

    impl RequestBuf {
        fn bytes_ptr(&self) -> *const u8 {
            self.0.as_ptr()
        }
    }
}
