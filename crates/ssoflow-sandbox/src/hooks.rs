//! Test hooks: the sandbox clock, injected faults and per-endpoint call counts.
//!
//! The HTTP side lives under `/__sandbox/` and is routed only when test hooks are enabled:
//! - `POST /__sandbox/clock/advance` `{"seconds":N}` → 200 `{"offset_seconds":N,"now":EPOCH}`
//! - `POST /__sandbox/faults` `{"path","count","kind","ms","status","retry_after"}` → 201 `{"queued":{..}}`
//! - `DELETE /__sandbox/faults` → 200 `{"cleared":N}`
//! - `GET /__sandbox/stats` → 200 `{"calls":{"POST /oauth2/token":3,..}}`
//! - `POST /__sandbox/stats/reset` → 200 `{"calls":{}}`

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::state::{AppState, lock};
use crate::util::{json_response, parse_json};

/// Wall-clock time plus an offset that only ever grows; every expiry in the sandbox is measured on it.
#[derive(Debug, Default)]
pub(crate) struct Clock {
    offset_ms: AtomicU64,
}

impl Clock {
    /// Moves sandbox time forward.
    pub(crate) fn advance(&self, d: Duration) {
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        // fetch_update with saturating add: never wraps, never panics.
        let _ = self
            .offset_ms
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |o| {
                Some(o.saturating_add(ms))
            });
    }

    /// The total offset, in milliseconds.
    pub(crate) fn offset_ms(&self) -> u64 {
        self.offset_ms.load(Ordering::SeqCst)
    }

    /// Sandbox "now" in milliseconds since the Unix epoch.
    pub(crate) fn now_ms(&self) -> u64 {
        let real = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        real.saturating_add(self.offset_ms())
    }

    /// Sandbox "now" in whole seconds since the Unix epoch.
    pub(crate) fn now_s(&self) -> u64 {
        self.now_ms() / 1000
    }

    /// The instant `ttl_s` seconds from now, in milliseconds.
    pub(crate) fn expiry(&self, ttl_s: u64) -> u64 {
        self.now_ms().saturating_add(ttl_s.saturating_mul(1000))
    }
}

/// What an injected fault does to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FaultKind {
    /// Wait this many milliseconds, then handle the request normally.
    Delay(u64),
    /// Answer this status (with `Retry-After` when given) and a JSON error, without handling.
    Status {
        status: u16,
        retry_after: Option<u64>,
    },
    /// Close the connection without writing any response.
    Drop,
    /// Handle normally, then send the headers with the full Content-Length but only half the body.
    Truncate,
    /// Answer the vendor's own 401, without handling.
    Unauthorized,
}

#[derive(Debug)]
struct Fault {
    path: String,
    remaining: u64,
    kind: FaultKind,
}

/// Queued faults (first in, first out per path) and call counts.
#[derive(Debug, Default)]
pub(crate) struct Hooks {
    faults: Mutex<Vec<Fault>>,
    stats: Mutex<BTreeMap<String, u64>>,
}

/// Distinct method+path keys kept before further new keys are lumped together (bounds memory).
const MAX_STAT_KEYS: usize = 4096;
const OTHER_KEY: &str = "* (other paths)";

impl Hooks {
    /// Counts one request.
    pub(crate) fn count(&self, method: &str, path: &str) {
        let key = format!("{method} {path}");
        let mut stats = lock(&self.stats);
        if let Some(n) = stats.get_mut(&key) {
            *n = n.saturating_add(1);
        } else if stats.len() < MAX_STAT_KEYS {
            stats.insert(key, 1);
        } else {
            let n = stats.entry(OTHER_KEY.to_owned()).or_insert(0);
            *n = n.saturating_add(1);
        }
    }

    /// A copy of the call counts.
    pub(crate) fn stats(&self) -> BTreeMap<String, u64> {
        lock(&self.stats).clone()
    }

    fn reset_stats(&self) {
        lock(&self.stats).clear();
    }

    fn push_fault(&self, path: String, count: u64, kind: FaultKind) {
        lock(&self.faults).push(Fault {
            path,
            remaining: count,
            kind,
        });
    }

    fn clear_faults(&self) -> usize {
        let mut faults = lock(&self.faults);
        let n = faults.len();
        faults.clear();
        n
    }

    /// Takes the next fault queued for `path`, if any.
    pub(crate) fn take_fault(&self, path: &str) -> Option<FaultKind> {
        let mut faults = lock(&self.faults);
        if faults.is_empty() {
            return None;
        }
        let i = faults.iter().position(|f| f.path == path)?;
        let fault = faults.get_mut(i)?;
        fault.remaining = fault.remaining.saturating_sub(1);
        let kind = fault.kind.clone();
        if fault.remaining == 0 {
            faults.remove(i);
        }
        Some(kind)
    }
}

/// The `/__sandbox/` routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/__sandbox/clock/advance", post(advance_clock))
        .route("/__sandbox/faults", post(add_fault).delete(clear_faults))
        .route("/__sandbox/stats", get(stats))
        .route("/__sandbox/stats/reset", post(reset_stats))
}

fn hook_error(status: StatusCode, message: &str) -> Response {
    json_response(
        status,
        &json!({"error": "invalid_request", "message": message}),
    )
}

async fn advance_clock(State(app): State<AppState>, body: Bytes) -> Response {
    let Ok(v) = parse_json(&body) else {
        return hook_error(StatusCode::BAD_REQUEST, "body is not valid JSON");
    };
    let Some(seconds) = v.get("seconds").and_then(Value::as_u64) else {
        return hook_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "\"seconds\" must be a non-negative integer",
        );
    };
    app.clock.advance(Duration::from_secs(seconds));
    json_response(
        StatusCode::OK,
        &json!({"offset_seconds": app.clock.offset_ms() / 1000, "now": app.clock.now_s()}),
    )
}

async fn add_fault(State(app): State<AppState>, body: Bytes) -> Response {
    let Ok(v) = parse_json(&body) else {
        return hook_error(StatusCode::BAD_REQUEST, "body is not valid JSON");
    };
    let unprocessable = |m: &str| hook_error(StatusCode::UNPROCESSABLE_ENTITY, m);
    let Some(path) = v.get("path").and_then(Value::as_str) else {
        return unprocessable("\"path\" (e.g. \"/oauth2/token\") is required");
    };
    if !path.starts_with('/') {
        return unprocessable("\"path\" must start with '/'");
    }
    let count = match v.get("count") {
        None => 1,
        Some(c) => match c.as_u64() {
            Some(n) if n > 0 => n,
            _ => return unprocessable("\"count\" must be a positive integer"),
        },
    };
    let opt_u64 = |k: &str| v.get(k).and_then(Value::as_u64);
    let kind = match v.get("kind").and_then(Value::as_str) {
        Some("delay") => FaultKind::Delay(opt_u64("ms").unwrap_or(0).min(600_000)),
        Some("status") => {
            let status = opt_u64("status").unwrap_or(500);
            if !(400..=599).contains(&status) {
                return unprocessable("\"status\" must be between 400 and 599");
            }
            FaultKind::Status {
                status: u16::try_from(status).unwrap_or(500),
                retry_after: opt_u64("retry_after"),
            }
        }
        Some("drop") => FaultKind::Drop,
        Some("truncate") => FaultKind::Truncate,
        Some("unauthorized") => FaultKind::Unauthorized,
        _ => {
            return unprocessable(
                "\"kind\" must be one of delay, status, drop, truncate, unauthorized",
            );
        }
    };
    app.hooks.push_fault(path.to_owned(), count, kind);
    json_response(StatusCode::CREATED, &json!({"queued": v}))
}

async fn clear_faults(State(app): State<AppState>) -> Response {
    let n = app.hooks.clear_faults();
    json_response(StatusCode::OK, &json!({"cleared": n}))
}

async fn stats(State(app): State<AppState>) -> Response {
    json_response(StatusCode::OK, &json!({"calls": app.hooks.stats()}))
}

async fn reset_stats(State(app): State<AppState>) -> Response {
    app.hooks.reset_stats();
    json_response(StatusCode::OK, &json!({"calls": {}}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_are_consumed_in_order() {
        let h = Hooks::default();
        h.push_fault("/a".into(), 2, FaultKind::Drop);
        h.push_fault("/a".into(), 1, FaultKind::Truncate);
        assert_eq!(h.take_fault("/b"), None);
        assert_eq!(h.take_fault("/a"), Some(FaultKind::Drop));
        assert_eq!(h.take_fault("/a"), Some(FaultKind::Drop));
        assert_eq!(h.take_fault("/a"), Some(FaultKind::Truncate));
        assert_eq!(h.take_fault("/a"), None);
    }

    #[test]
    fn clock_only_moves_forward() {
        let c = Clock::default();
        let before = c.now_s();
        c.advance(Duration::from_secs(3600));
        assert!(c.now_s() >= before + 3600);
        c.advance(Duration::MAX);
        assert_eq!(c.offset_ms(), u64::MAX);
        assert_eq!(c.now_ms(), u64::MAX);
    }
}
