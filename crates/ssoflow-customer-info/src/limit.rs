//! A per-caller request limit (token bucket per caller key), checked before anything else.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use lru::LruCache;

type KeyFn = dyn Fn(&Parts) -> Option<String> + Send + Sync;

/// How many callers' buckets are kept by default; the least recently seen is forgotten first.
const DEFAULT_MAX_CALLERS: usize = 10_000;

/// At most `requests` calls per `per` from each caller, answered 429 with `Retry-After` beyond
/// that; allowance refills continuously (a token bucket of `requests`).
///
/// Who "a caller" is comes from a key function over the request's head:
/// [`per_peer`](Self::per_peer) keys by the peer's IP address, [`keyed_by`](Self::keyed_by) by
/// anything else (say a trusted proxy's client-address header). Requests without a key share one
/// bucket. A bearer token is a poor key: an attacker guessing tokens sends a new one each time.
pub struct RateLimit {
    requests: u32,
    per: Duration,
    key: Box<KeyFn>,
    buckets: Mutex<LruCache<String, Bucket>>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimit {
    /// Keyed by the peer's IP address (an IPv6 peer by its /64): serve the router with
    /// `into_make_service_with_connect_info::<SocketAddr>()`, otherwise every request lacks a
    /// key and all callers share one bucket.
    pub fn per_peer(requests: u32, per: Duration) -> Self {
        Self::keyed_by(requests, per, |parts| {
            let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>()?.0.ip();
            Some(match peer {
                IpAddr::V4(v4) => v4.to_string(),
                IpAddr::V6(v6) => {
                    let s = v6.segments();
                    format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
                }
            })
        })
    }

    /// Keyed by `key` over the request's head (`None`: the shared bucket of unkeyed requests).
    pub fn keyed_by(
        requests: u32,
        per: Duration,
        key: impl Fn(&Parts) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        RateLimit {
            requests: requests.max(1),
            per,
            key: Box::new(key),
            buckets: Mutex::new(LruCache::new(
                NonZeroUsize::new(DEFAULT_MAX_CALLERS).unwrap_or(NonZeroUsize::MIN),
            )),
        }
    }

    /// Keep at most `callers` buckets (default 10 000); a forgotten caller starts afresh.
    pub fn max_callers(self, callers: NonZeroUsize) -> Self {
        RateLimit {
            buckets: Mutex::new(LruCache::new(callers)),
            ..self
        }
    }

    /// Take one request from the caller's bucket; `Err(wait)` when it is empty.
    pub(crate) fn check(&self, parts: &Parts) -> Result<(), Duration> {
        if self.per.is_zero() {
            return Ok(());
        }
        let key = (self.key)(parts).unwrap_or_default();
        let capacity = f64::from(self.requests);
        let rate = capacity / self.per.as_secs_f64();
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let bucket = buckets.get_or_insert_mut(key, || Bucket {
            tokens: capacity,
            at: now,
        });
        let refilled = now.saturating_duration_since(bucket.at).as_secs_f64() * rate;
        bucket.tokens = (bucket.tokens + refilled).min(capacity);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / rate))
        }
    }
}

impl core::fmt::Debug for RateLimit {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RateLimit")
            .field("requests", &self.requests)
            .field("per", &self.per)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn parts(peer: &str) -> Parts {
        let mut request = Request::new(());
        let addr: SocketAddr = peer.parse().unwrap();
        request.extensions_mut().insert(ConnectInfo(addr));
        request.into_parts().0
    }

    #[test]
    fn each_peer_has_its_own_bucket() {
        let limit = RateLimit::per_peer(2, Duration::from_secs(3600));
        let a = parts("192.0.2.1:1000");
        assert!(limit.check(&a).is_ok());
        assert!(
            limit.check(&parts("192.0.2.1:2000")).is_ok(),
            "same IP, other port"
        );
        let wait = limit.check(&a).unwrap_err();
        assert!(
            wait > Duration::from_secs(1700) && wait <= Duration::from_secs(1800),
            "{wait:?}"
        );
        assert!(limit.check(&parts("192.0.2.2:1000")).is_ok());
        // One IPv6 /64 is one caller.
        assert!(limit.check(&parts("[2001:db8::1]:1")).is_ok());
        assert!(limit.check(&parts("[2001:db8::2]:1")).is_ok());
        assert!(limit.check(&parts("[2001:db8::3]:1")).is_err());
    }

    #[test]
    fn refills_over_time_and_forgets_the_least_recent_caller() {
        let limit = RateLimit::per_peer(1, Duration::from_millis(20))
            .max_callers(NonZeroUsize::new(1).unwrap());
        let a = parts("192.0.2.1:1");
        assert!(limit.check(&a).is_ok());
        assert!(limit.check(&a).is_err());
        std::thread::sleep(Duration::from_millis(30));
        assert!(limit.check(&a).is_ok());
        assert!(limit.check(&parts("192.0.2.9:1")).is_ok());
        assert!(limit.check(&a).is_ok(), "forgotten, so afresh");
    }
}
