//! What may be logged about a request: the URL without credential query values, header names
//! with credential values blanked.

use ssoflow_core::Header;

/// Query keys whose values are credentials (exact names).
const SECRET_KEYS: [&str; 6] = ["code", "state", "password", "assertion", "session", "jwt"];
/// Parts of query keys whose values are credentials (`*token*`, `*secret*`, `*key*`).
const SECRET_KEY_PARTS: [&str; 3] = ["token", "secret", "key"];

/// Whether a header's value is a credential: the core's one list.
pub use ssoflow_core::http::is_secret_header;

fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    SECRET_KEYS.contains(&key.as_str()) || SECRET_KEY_PARTS.iter().any(|p| key.contains(p))
}

/// `url` with the values of credential-looking query parameters (`code`, `state`, `*token*`,
/// `*secret*`, `password`, …) replaced by `***`, and any fragment dropped.
///
/// ```
/// assert_eq!(
///     ssoflow_ureq::redact_url("https://x.example/sso?code=abc&lang=en"),
///     "https://x.example/sso?code=***&lang=en"
/// );
/// ```
pub fn redact_url(url: &str) -> String {
    let url = url.split('#').next().unwrap_or("");
    let Some((base, query)) = url.split_once('?') else {
        return url.to_owned();
    };
    let mut out = String::with_capacity(url.len());
    out.push_str(base);
    out.push('?');
    for (i, pair) in query.split('&').enumerate() {
        if i > 0 {
            out.push('&');
        }
        match pair.split_once('=') {
            Some((k, _)) if is_secret_key(k) => {
                out.push_str(k);
                out.push_str("=***");
            }
            _ => out.push_str(pair),
        }
    }
    out
}

/// `Name: value, …` for logging, credential values (`Authorization`, `DLC-Authorization`,
/// `x-pch-digest`, cookies) written as `***`.
pub fn redact_headers(headers: &[Header<'_>]) -> String {
    let mut out = String::new();
    for (i, h) in headers.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(h.name);
        out.push_str(": ");
        if is_secret_header(h.name) {
            out.push_str("***");
        } else {
            match std::str::from_utf8(h.value) {
                Ok(v) if v.bytes().all(|b| (0x20..0x7f).contains(&b)) => out.push_str(v),
                _ => out.push_str("<binary>"),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(redact_url("https://a/b"), "https://a/b");
        assert_eq!(
            redact_url("http://127.0.0.1/redirect/sso?code=tok%2B1#frag"),
            "http://127.0.0.1/redirect/sso?code=***"
        );
        assert_eq!(
            redact_url("https://a/x?client_id=c&access_token=t&Client_Secret=s&x"),
            "https://a/x?client_id=c&access_token=***&Client_Secret=***&x"
        );
    }

    #[test]
    fn headers() {
        let h = [
            Header {
                name: "Accept",
                value: b"application/json",
            },
            Header {
                name: "Authorization",
                value: b"Bearer SECRET",
            },
            Header {
                name: "x-pch-digest",
                value: b"abcdef",
            },
        ];
        let s = redact_headers(&h);
        assert_eq!(
            s,
            "Accept: application/json, Authorization: ***, x-pch-digest: ***"
        );
    }
}
