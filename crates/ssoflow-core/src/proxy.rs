//! Which requests go through a proxy: the one rule every std driver applies, so that
//! `ssoflow-ureq` and `ssoflow-tokio` route the same URL the same way.
//!
//! - A proxy is only ever a *tunnel* (HTTP `CONNECT`) for `https://` URLs: the proxy learns the
//!   host and port, never a request line, a header or a body (credentials travel inside TLS).
//!   `http://` URLs — which [`check_url`](crate::http::check_url) allows only to loopback — never
//!   go through a proxy.
//! - A proxy from the environment (`HTTPS_PROXY`, …) is never used for a loopback host
//!   (`localhost`, `*.localhost`, `127.0.0.0/8`, `::1`) nor for a host `NO_PROXY` matches.
//! - A proxy the program configured explicitly tunnels every `https://` URL, loopback included.

use crate::http::{is_loopback_authority, split_url};

/// Where the proxy in force came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// `HTTPS_PROXY` / `https_proxy` (or `ALL_PROXY`): loopback and `NO_PROXY` hosts go direct.
    Environment,
    /// Given by the program (a builder option): every `https://` URL uses it.
    Explicit,
}

/// Whether a request to `url` goes through the proxy configured from `source`, with `no_proxy`
/// the value of `NO_PROXY` (empty when unset; ignored for an explicit proxy).
pub fn uses_proxy(url: &str, source: Source, no_proxy: &str) -> bool {
    let Some((scheme, authority, _)) = split_url(url) else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("https") {
        return false;
    }
    match source {
        Source::Explicit => true,
        Source::Environment => {
            let host = host_of(authority);
            !(is_loopback_authority(authority)
                || ends_with_label(host, "localhost")
                || no_proxy_matches(no_proxy, host))
        }
    }
}

/// Whether `host` (no port, no brackets) matches the `NO_PROXY` list `no_proxy`.
///
/// Entries are separated by commas or spaces and compared without regard to case: `*` matches
/// every host; `example.com`, `.example.com` and `*.example.com` all match `example.com` and
/// every name below it; an IP address matches itself (`[::1]` or `::1`). Ports in entries are
/// ignored; CIDR ranges are not supported.
pub fn no_proxy_matches(no_proxy: &str, host: &str) -> bool {
    let host = host.trim_end_matches('.');
    no_proxy
        .split([',', ' ', '\t'])
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .any(|entry| {
            if entry == "*" {
                return true;
            }
            let entry = entry_host(entry);
            let entry = entry
                .strip_prefix("*.")
                .or_else(|| entry.strip_prefix('.'))
                .unwrap_or(entry);
            !entry.is_empty() && ends_with_label(host, entry)
        })
}

/// `host` is `suffix` or a name below it (`a.example.com` for `example.com`).
fn ends_with_label(host: &str, suffix: &str) -> bool {
    if host.eq_ignore_ascii_case(suffix) {
        return true;
    }
    let (h, s) = (host.as_bytes(), suffix.as_bytes());
    h.len() > s.len()
        && h.get(h.len() - s.len() - 1) == Some(&b'.')
        && h.get(h.len() - s.len()..)
            .is_some_and(|tail| tail.eq_ignore_ascii_case(s))
}

/// The host of an authority: no port, no IPv6 brackets.
fn host_of(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    authority.split(':').next().unwrap_or(authority)
}

/// A `NO_PROXY` entry's host: `[::1]:443` → `::1`, `example.com:443` → `example.com`, `::1` as is.
fn entry_host(entry: &str) -> &str {
    if entry.starts_with('[') {
        return host_of(entry);
    }
    if entry.bytes().filter(|&b| b == b':').count() > 1 {
        return entry; // a bare IPv6 address
    }
    host_of(entry)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Source::{Environment as Env, Explicit};

    #[test]
    fn only_https_is_ever_proxied() {
        assert!(uses_proxy("https://auth.example/token", Env, ""));
        assert!(!uses_proxy("http://127.0.0.1:1/token", Explicit, ""));
        assert!(!uses_proxy("http://auth.example/token", Env, ""));
        assert!(!uses_proxy("not a url", Explicit, ""));
    }

    #[test]
    fn loopback_is_never_proxied_from_the_environment() {
        for url in [
            "https://localhost/t",
            "https://LOCALHOST:8443/t",
            "https://a.localhost/t",
            "https://127.0.0.1:9/t",
            "https://127.1.2.3/t",
            "https://[::1]:443/t",
        ] {
            assert!(!uses_proxy(url, Env, ""), "{url}");
            assert!(uses_proxy(url, Explicit, "*"), "explicit: {url}");
        }
        assert!(uses_proxy("https://localhost.example/t", Env, ""));
    }

    #[test]
    fn no_proxy_entries() {
        let list = "internal.example, .corp.example,*.lan ,10.0.0.1, [fd00::1]:443";
        for host in [
            "internal.example",
            "a.internal.example",
            "corp.example",
            "x.y.corp.example",
            "printer.LAN",
            "10.0.0.1",
            "fd00::1",
        ] {
            assert!(no_proxy_matches(list, host), "{host}");
        }
        for host in ["notinternal.example", "example", "10.0.0.10", "lan.example"] {
            assert!(!no_proxy_matches(list, host), "{host}");
        }
        assert!(no_proxy_matches("*", "anything.example"));
        assert!(!no_proxy_matches("", "anything.example"));
        assert!(!uses_proxy("https://a.internal.example:8443/t", Env, list));
        assert!(uses_proxy(
            "https://a.internal.example:8443/t",
            Explicit,
            list
        ));
    }
}
