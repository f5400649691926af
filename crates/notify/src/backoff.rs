//! Exponential backoff with full jitter, honouring `Retry-After`, never above a maximum.
//!
//! Pure: the random source is an argument, so properties can be checked with a seeded RNG.
//! Full jitter (a uniform draw in `[0, min(max, base * 2^retry)]`) spreads retries of many
//! failed deliveries over the window instead of synchronising them into waves that hit a
//! recovering receiver at the same instant.

use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};

/// Backoff settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backoff {
    /// The window of the first retry.
    pub base: Duration,
    /// No delay is ever longer than this, `Retry-After` included.
    pub max: Duration,
}

impl Default for Backoff {
    /// 5 s doubling up to 10 min: a page retried this way reaches its receiver within
    /// seconds of a short outage and does not hammer a long one.
    fn default() -> Self {
        Self {
            base: Duration::from_secs(5),
            max: Duration::from_secs(600),
        }
    }
}

impl Backoff {
    /// The upper end of the jitter window before retry number `retry` (0 for the first
    /// retry): `min(max, base * 2^retry)`.
    pub fn ceiling(&self, retry: u32) -> Duration {
        let base = self.base.as_millis();
        // 2^retry overflows quickly; anything past 2^63 is "more than max" anyway.
        let factor = 1u128.checked_shl(retry.min(63)).unwrap_or(u128::MAX);
        let ms = base.saturating_mul(factor);
        let max = self.max.as_millis();
        Duration::from_millis(u64::try_from(ms.min(max)).unwrap_or(u64::MAX))
    }

    /// The delay before retry number `retry`: a uniform draw in `[0, ceiling(retry)]`,
    /// raised to `retry_after` when the receiver asked for longer, and capped at `max`.
    pub fn delay<R: Rng + ?Sized>(
        &self,
        retry: u32,
        retry_after: Option<Duration>,
        rng: &mut R,
    ) -> Duration {
        let ceiling = u64::try_from(self.ceiling(retry).as_millis()).unwrap_or(u64::MAX);
        let jittered = Duration::from_millis(rng.gen_range(0..=ceiling));
        let wanted = match retry_after {
            Some(ra) => jittered.max(ra),
            None => jittered,
        };
        wanted.min(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn ceiling_doubles_then_caps() {
        let b = Backoff {
            base: Duration::from_secs(1),
            max: Duration::from_secs(10),
        };
        let c: Vec<u64> = (0..6).map(|r| b.ceiling(r).as_secs()).collect();
        assert_eq!(c, [1, 2, 4, 8, 10, 10]);
        assert_eq!(b.ceiling(u32::MAX), Duration::from_secs(10));
    }

    #[test]
    fn retry_after_raises_the_delay_but_max_wins() {
        let b = Backoff {
            base: Duration::from_millis(10),
            max: Duration::from_secs(60),
        };
        let mut rng = StdRng::seed_from_u64(1);
        assert_eq!(
            b.delay(0, Some(Duration::from_secs(3)), &mut rng),
            Duration::from_secs(3)
        );
        assert_eq!(
            b.delay(0, Some(Duration::from_secs(3600)), &mut rng),
            Duration::from_secs(60)
        );
    }
}
