//! A circuit breaker per channel: closed, open after N consecutive failures, half-open
//! for one probe after a cool-down, closed again when the probe succeeds.
//!
//! Pure: every method takes `now_ms` (milliseconds since the Unix epoch), so transitions
//! are property-testable and a breaker never reads a clock. A failure here means "the
//! receiver is unavailable" (a retryable outcome); a permanent rejection proves the
//! receiver is up and counts as a success for the breaker, while the message itself goes
//! to the fallback.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Breaker settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakerConfig {
    /// Consecutive failures that open the breaker (0 is treated as 1).
    pub failure_threshold: u32,
    /// How long the breaker stays open before one probe is let through.
    pub cool_down: Duration,
}

impl Default for BreakerConfig {
    /// Five failures in a row, one minute of rest.
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            cool_down: Duration::from_secs(60),
        }
    }
}

/// Where a breaker is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum BreakerState {
    /// Requests flow; `failures` consecutive failures so far.
    Closed {
        /// Consecutive failures since the last success.
        failures: u32,
    },
    /// Requests are refused until `until_ms`.
    Open {
        /// When the cool-down ends and a probe may go.
        until_ms: u64,
    },
    /// One probe is in flight since `probe_since_ms`; others are refused.
    HalfOpen {
        /// When the probe was let through.
        probe_since_ms: u64,
    },
}

impl BreakerState {
    /// `closed`, `open` or `half_open`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Closed { .. } => "closed",
            Self::Open { .. } => "open",
            Self::HalfOpen { .. } => "half_open",
        }
    }
}

/// What the breaker says about sending now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permit {
    /// Closed: go ahead.
    Allowed,
    /// Half-open: this request is the probe; its result decides.
    Probe,
    /// Open (or a probe is in flight): do not send before `retry_at_ms`.
    Refused {
        /// When asking again may get a permit.
        retry_at_ms: u64,
    },
}

impl Permit {
    /// Whether the request may go.
    pub fn allows(self) -> bool {
        !matches!(self, Self::Refused { .. })
    }
}

/// One channel's breaker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Breaker {
    config: BreakerConfig,
    state: BreakerState,
}

impl Breaker {
    /// A closed breaker.
    pub fn new(config: BreakerConfig) -> Self {
        Self {
            config,
            state: BreakerState::Closed { failures: 0 },
        }
    }

    /// The current state (as of the last call; `check` moves open to half-open).
    pub fn state(&self) -> BreakerState {
        self.state
    }

    fn cool_down_ms(&self) -> u64 {
        u64::try_from(self.config.cool_down.as_millis()).unwrap_or(u64::MAX)
    }

    /// Asks to send at `now_ms`. An open breaker whose cool-down has passed turns
    /// half-open and lets exactly this request through as the probe. A probe that never
    /// reported back (its caller was cancelled) is replaced after another cool-down, so a
    /// lost probe cannot keep the channel shut forever.
    pub fn check(&mut self, now_ms: u64) -> Permit {
        match self.state {
            BreakerState::Closed { .. } => Permit::Allowed,
            BreakerState::Open { until_ms } if now_ms >= until_ms => {
                self.state = BreakerState::HalfOpen {
                    probe_since_ms: now_ms,
                };
                Permit::Probe
            }
            BreakerState::Open { until_ms } => Permit::Refused {
                retry_at_ms: until_ms,
            },
            BreakerState::HalfOpen { probe_since_ms } => {
                let stale_at = probe_since_ms.saturating_add(self.cool_down_ms());
                if now_ms >= stale_at {
                    self.state = BreakerState::HalfOpen {
                        probe_since_ms: now_ms,
                    };
                    Permit::Probe
                } else {
                    Permit::Refused {
                        retry_at_ms: stale_at,
                    }
                }
            }
        }
    }

    /// Records the result of a request that was permitted. Results arriving while the
    /// breaker is open belong to requests started before it opened and are ignored: they
    /// say nothing about the receiver after the cool-down began.
    pub fn record(&mut self, success: bool, now_ms: u64) {
        let threshold = self.config.failure_threshold.max(1);
        let open = BreakerState::Open {
            until_ms: now_ms.saturating_add(self.cool_down_ms()),
        };
        self.state = match (self.state, success) {
            (BreakerState::Closed { .. }, true) => BreakerState::Closed { failures: 0 },
            (BreakerState::Closed { failures }, false) => {
                let failures = failures.saturating_add(1);
                if failures >= threshold {
                    open
                } else {
                    BreakerState::Closed { failures }
                }
            }
            (BreakerState::HalfOpen { .. }, true) => BreakerState::Closed { failures: 0 },
            (BreakerState::HalfOpen { .. }, false) => open,
            (s @ BreakerState::Open { .. }, _) => s,
        };
    }

    /// Whether the breaker refuses requests at `now_ms` (without changing state).
    pub fn is_open_at(&self, now_ms: u64) -> bool {
        match self.state {
            BreakerState::Closed { .. } => false,
            BreakerState::Open { until_ms } => now_ms < until_ms,
            BreakerState::HalfOpen { .. } => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_probes_after_cool_down() {
        let mut b = Breaker::new(BreakerConfig {
            failure_threshold: 3,
            cool_down: Duration::from_secs(10),
        });
        for t in 0..3 {
            assert_eq!(b.check(t), Permit::Allowed);
            b.record(false, t);
        }
        assert_eq!(b.state(), BreakerState::Open { until_ms: 10_002 });
        assert_eq!(
            b.check(5_000),
            Permit::Refused {
                retry_at_ms: 10_002
            }
        );
        assert_eq!(b.check(10_002), Permit::Probe);
        assert!(!b.check(10_003).allows(), "one probe at a time");
        b.record(false, 10_004);
        assert_eq!(b.state(), BreakerState::Open { until_ms: 20_004 });
        assert_eq!(b.check(20_004), Permit::Probe);
        b.record(true, 20_005);
        assert_eq!(b.state(), BreakerState::Closed { failures: 0 });
    }

    #[test]
    fn a_success_resets_the_count() {
        let mut b = Breaker::new(BreakerConfig {
            failure_threshold: 2,
            cool_down: Duration::from_secs(1),
        });
        b.record(false, 0);
        b.record(true, 1);
        b.record(false, 2);
        assert_eq!(b.state(), BreakerState::Closed { failures: 1 });
    }
}
