//! The monotonic clock every flow and cache of one driver shares.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use ssoflow_core::Instant;

/// The process-wide origin: `Instant` 0 is the first time any clock was read.
fn origin() -> std::time::Instant {
    static ORIGIN: OnceLock<std::time::Instant> = OnceLock::new();
    *ORIGIN.get_or_init(std::time::Instant::now)
}

/// Milliseconds on the process's monotonic clock, plus an offset that only grows.
///
/// Token expiries are computed by flows with this clock (via the [`Driver`](crate::Driver)) and
/// checked by the [`TokenCache`](crate::TokenCache) with it, so both must share one `Clock`
/// (clones share the offset). [`Clock::advance`] exists for tests and simulations: move it
/// together with an emulator's clock to expire tokens instantly instead of sleeping.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicU64>,
}

impl Clock {
    /// A clock with no offset.
    pub fn new() -> Self {
        Self::default()
    }

    /// Now, in milliseconds since the process-wide origin (plus the offset).
    pub fn now(&self) -> Instant {
        let real = u64::try_from(origin().elapsed().as_millis()).unwrap_or(u64::MAX);
        Instant::from_millis(real.saturating_add(self.offset_ms.load(Ordering::Relaxed)))
    }

    /// Move this clock (and every clone of it) forward by `d`.
    pub fn advance(&self, d: Duration) {
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let _ = self
            .offset_ms
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |o| {
                Some(o.saturating_add(ms))
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advances_all_clones() {
        let a = Clock::new();
        let b = a.clone();
        let before = b.now();
        a.advance(Duration::from_secs(60));
        assert!(b.now().millis_since(before) >= 60_000);
        assert!(Clock::new().now() < b.now());
    }
}
