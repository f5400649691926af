//! Token buckets: the alert receivers' rate limit, one per receiver and credential
//! (`[server.receivers] rate` and `burst`; docs/alerts.md, "Rate limit"), and the
//! failed-credential limit per client address (`guessing.rs`).
//!
//! A bucket holds up to `burst` tokens and refills at `rate`; a delivery takes one, and
//! with none left it is answered 429 with `Retry-After` before its body is read, so
//! nothing is stored. Buckets live in this process: with several replicas behind a
//! load balancer each replica allows the full rate.
//!
//! Time comes from a [`Clock`], so tests drive it instead of sleeping.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use sitrep_app::payloads::Rate;

/// Buckets kept before full ones (idle senders) are forgotten.
const MAX_BUCKETS: usize = 4096;

/// Where the limiter reads the time: a monotonic offset from any fixed start.
pub trait Clock: Send + Sync {
    /// Time since the clock's start.
    fn now(&self) -> Duration;
}

/// The process's monotonic clock.
pub struct SystemClock(Instant);

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock(Instant::now())
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        self.0.elapsed()
    }
}

/// A clock that moves only when told (tests).
#[derive(Default)]
pub struct ManualClock(Mutex<Duration>);

impl ManualClock {
    /// Moves the clock forward by `d`.
    pub fn advance(&self, d: Duration) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) += d;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One key's tokens at one moment.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Duration,
}

impl Bucket {
    /// Refills for the time since the last look, then takes one token, or says how long
    /// until one is there.
    fn take(&mut self, now: Duration, per_second: f64, burst: f64) -> Result<(), Duration> {
        let elapsed = now.saturating_sub(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * per_second).min(burst);
        self.at = self.at.max(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / per_second))
        }
    }

    /// Whether `take` would succeed now, without taking.
    fn peek(&self, now: Duration, per_second: f64, burst: f64) -> Result<(), Duration> {
        let mut copy = *self;
        copy.take(now, per_second, burst)
    }

    fn is_full(&self, now: Duration, per_second: f64, burst: f64) -> bool {
        self.tokens + now.saturating_sub(self.at).as_secs_f64() * per_second >= burst
    }
}

/// Token buckets by key; see the module docs.
pub struct Limiter {
    per_second: f64,
    burst: f64,
    clock: RwLock<Arc<dyn Clock>>,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl Limiter {
    /// `burst` tokens per key refilled at `rate`; `burst` 0 allows everything.
    #[must_use]
    pub fn new(rate: Rate, burst: u32) -> Limiter {
        Limiter {
            per_second: rate.per_second(),
            burst: f64::from(burst),
            clock: RwLock::new(Arc::new(SystemClock::default())),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Reads time from `clock` from now on (tests drive a [`ManualClock`]).
    pub fn set_clock(&self, clock: Arc<dyn Clock>) {
        *self.clock.write().unwrap_or_else(PoisonError::into_inner) = clock;
    }

    /// Takes one token for `key`; with none left, the whole seconds to wait (at least
    /// 1, as `Retry-After` wants).
    pub fn take(&self, key: &str) -> Result<(), u64> {
        if self.burst < 1.0 {
            return Ok(());
        }
        let now = self
            .clock
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .now();
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(key) {
            // A full bucket is the same as no bucket: forgetting it changes nothing.
            buckets.retain(|_, b| !b.is_full(now, self.per_second, self.burst));
        }
        let bucket = buckets.entry(key.to_owned()).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        bucket
            .take(now, self.per_second, self.burst)
            .map_err(|wait| wait.as_secs_f64().ceil().max(1.0) as u64)
    }
}

impl Limiter {
    /// Whether `key` has a token left, without taking it; with none, the whole seconds
    /// to wait (at least 1).
    pub fn peek(&self, key: &str) -> Result<(), u64> {
        if self.burst < 1.0 {
            return Ok(());
        }
        let now = self
            .clock
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .now();
        let buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        match buckets.get(key) {
            None => Ok(()),
            Some(b) => b
                .peek(now, self.per_second, self.burst)
                .map_err(|wait| wait.as_secs_f64().ceil().max(1.0) as u64),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(rate: &str, burst: u32) -> (Limiter, Arc<ManualClock>) {
        let l = Limiter::new(rate.parse().unwrap(), burst);
        let clock = Arc::new(ManualClock::default());
        l.set_clock(clock.clone());
        (l, clock)
    }

    #[test]
    fn a_burst_then_the_rate_with_the_wait_rounded_up() {
        let (l, clock) = limiter("2/s", 3);
        for _ in 0..3 {
            assert_eq!(l.take("a"), Ok(()));
        }
        assert_eq!(l.take("a"), Err(1));
        // Another key has its own bucket.
        assert_eq!(l.take("b"), Ok(()));
        clock.advance(Duration::from_millis(500));
        assert_eq!(l.take("a"), Ok(()));
        assert_eq!(l.take("a"), Err(1));
        // Refill never passes the burst.
        clock.advance(Duration::from_secs(3600));
        for _ in 0..3 {
            assert_eq!(l.take("a"), Ok(()));
        }
        assert_eq!(l.take("a"), Err(1));
    }

    #[test]
    fn peeking_takes_nothing() {
        let (l, _) = limiter("1/m", 2);
        assert_eq!(l.peek("a"), Ok(()));
        assert_eq!(l.take("a"), Ok(()));
        assert_eq!(l.peek("a"), Ok(()));
        assert_eq!(l.peek("a"), Ok(()));
        assert_eq!(l.take("a"), Ok(()));
        assert_eq!(l.peek("a"), Err(60));
    }

    #[test]
    fn a_slow_rate_asks_for_the_whole_wait() {
        let (l, clock) = limiter("6/m", 1);
        assert_eq!(l.take("a"), Ok(()));
        assert_eq!(l.take("a"), Err(10));
        clock.advance(Duration::from_millis(2500));
        assert_eq!(l.take("a"), Err(8));
        clock.advance(Duration::from_millis(7500));
        assert_eq!(l.take("a"), Ok(()));
    }

    #[test]
    fn burst_zero_is_no_limit_and_idle_buckets_are_forgotten() {
        let (l, _) = limiter("1/h", 0);
        for _ in 0..10_000 {
            assert_eq!(l.take("a"), Ok(()));
        }
        let (l, clock) = limiter("1/s", 1);
        for i in 0..MAX_BUCKETS {
            assert_eq!(l.take(&i.to_string()), Ok(()));
        }
        clock.advance(Duration::from_secs(1));
        assert_eq!(l.take("new"), Ok(()));
        assert_eq!(l.buckets.lock().unwrap().len(), 1);
    }
}
