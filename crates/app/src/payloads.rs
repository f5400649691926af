//! Limits on what alert receivers take: the `[server.receivers]` rate and raw payload
//! settings' defaults, and the cap on the bytes raw payloads may hold (docs/alerts.md,
//! "Receiver limits").
//!
//! The cap is kept with a running tally instead of summing the table per delivery
//! (that would read every row at a thousand deliveries a second). The tally is read
//! from the database at first use, again after each `1/16` of the cap this process
//! added (so other replicas' payloads and the retention sweep's deletions are seen),
//! and before any eviction. Several replicas on one database can therefore overshoot
//! the cap by up to `1/16` of it each before one of them notices.

use std::time::Duration;

use serde::{Deserialize, Deserializer};
use sitrep_store::{Store, StoreError};

use crate::config::ReceiversConfig;

/// `"20/s"`: deliveries per period, for `[server.receivers] rate`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Deliveries allowed per `per`.
    pub count: u32,
    /// The period.
    pub per: Duration,
}

impl Rate {
    /// Deliveries per second.
    #[must_use]
    pub fn per_second(self) -> f64 {
        f64::from(self.count) / self.per.as_secs_f64()
    }
}

impl std::str::FromStr for Rate {
    type Err = String;

    /// `N/s`, `N/m` or `N/h`, N at least 1.
    fn from_str(s: &str) -> Result<Rate, String> {
        let bad = || format!("bad rate {s:?}: write N/s, N/m or N/h with N at least 1");
        let (n, unit) = s.trim().split_once('/').ok_or_else(bad)?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        let per = match unit.trim() {
            "s" => Duration::from_secs(1),
            "m" => Duration::from_secs(60),
            "h" => Duration::from_secs(3600),
            _ => return Err(bad()),
        };
        if count == 0 {
            return Err(bad());
        }
        Ok(Rate { count, per })
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Rate, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

impl Default for ReceiversConfig {
    fn default() -> Self {
        ReceiversConfig {
            token: None,
            basic: None,
            rate: default_receiver_rate(),
            burst: default_receiver_burst(),
            raw_keep: default_raw_keep(),
            raw_keep_rejected: default_raw_keep_rejected(),
            raw_max_bytes: default_raw_max_bytes(),
        }
    }
}

// By hand, so the receiver credentials never reach a log line.
impl std::fmt::Debug for ReceiversConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = |s: &Option<String>| s.as_ref().map(|_| "[redacted]");
        f.debug_struct("ReceiversConfig")
            .field("token", &shown(&self.token))
            .field("basic", &shown(&self.basic))
            .field("rate", &self.rate)
            .field("burst", &self.burst)
            .field("raw_keep", &self.raw_keep)
            .field("raw_keep_rejected", &self.raw_keep_rejected)
            .field("raw_max_bytes", &self.raw_max_bytes)
            .finish()
    }
}

// Why these: docs/alerts.md, "Receiver limits".
pub(crate) fn default_receiver_rate() -> Rate {
    Rate {
        count: 100,
        per: Duration::from_secs(1),
    }
}
pub(crate) fn default_receiver_burst() -> u32 {
    1000
}
pub(crate) fn default_raw_keep() -> Duration {
    Duration::from_secs(7 * 24 * 3600)
}
pub(crate) fn default_raw_keep_rejected() -> Duration {
    Duration::from_secs(24 * 3600)
}
pub(crate) fn default_raw_max_bytes() -> u64 {
    1 << 30
}

/// The running tally of raw payload bytes against the cap.
pub(crate) struct RawBudget {
    max: u64,
    tally: tokio::sync::Mutex<Tally>,
}

#[derive(Default)]
struct Tally {
    /// Bytes stored, as last read plus what this process added since.
    bytes: Option<u64>,
    /// Bytes this process added since the last read.
    added: u64,
}

impl RawBudget {
    pub(crate) fn new(max: u64) -> RawBudget {
        RawBudget {
            max,
            tally: tokio::sync::Mutex::new(Tally::default()),
        }
    }

    /// Makes room for a new payload of `size` bytes and counts it; false when it is a
    /// rejected payload that does not fit (it is then not stored). An accepted payload
    /// always fits: the oldest rejected, then the oldest accepted payloads are evicted,
    /// down to 90% of the cap so that eviction is not paid on every delivery.
    pub(crate) async fn admit(
        &self,
        store: &Store,
        size: u64,
        rejected: bool,
    ) -> Result<bool, StoreError> {
        let mut t = self.tally.lock().await;
        if t.bytes.is_none() || t.added > self.max / 16 {
            t.read(store).await?;
        }
        if t.fits(size, self.max) {
            t.add(size);
            return Ok(true);
        }
        // Over the cap: look again first (others may have deleted), then evict.
        let now = t.read(store).await?;
        if !t.fits(size, self.max) {
            let need = if rejected {
                (now + size).saturating_sub(self.max)
            } else {
                (now + size).saturating_sub(self.max - self.max / 10)
            };
            let freed = store.evict_raw_payloads(need, rejected).await?;
            t.bytes = Some(now.saturating_sub(freed));
            tracing::info!(freed, rejected, "raw payload cap reached: oldest evicted");
            if rejected && !t.fits(size, self.max) {
                return Ok(false);
            }
        }
        t.add(size);
        Ok(true)
    }
}

impl Tally {
    async fn read(&mut self, store: &Store) -> Result<u64, StoreError> {
        let bytes = store.raw_payload_stats().await?.bytes;
        self.bytes = Some(bytes);
        self.added = 0;
        Ok(bytes)
    }

    fn fits(&self, size: u64, max: u64) -> bool {
        self.bytes.unwrap_or(0).saturating_add(size) <= max
    }

    fn add(&mut self, size: u64) {
        self.bytes = Some(self.bytes.unwrap_or(0).saturating_add(size));
        self.added = self.added.saturating_add(size);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_and_bad_ones_say_how_to_write_them() {
        let r: Rate = "20/s".parse().unwrap();
        assert!((r.per_second() - 20.0).abs() < f64::EPSILON);
        let r: Rate = "600/m".parse().unwrap();
        assert!((r.per_second() - 10.0).abs() < f64::EPSILON);
        assert_eq!(
            "36/h".parse::<Rate>().unwrap().per,
            Duration::from_secs(3600)
        );
        for bad in ["20", "0/s", "x/s", "20/d", "-1/s"] {
            let e = bad.parse::<Rate>().unwrap_err();
            assert!(e.contains("N/s, N/m or N/h"), "{bad}: {e}");
        }
    }
}
