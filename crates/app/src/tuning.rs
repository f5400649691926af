//! The `[store]` and `[unattended]` config sections: the timeouts that turn a fault
//! (disk full, database unreachable) into a fast refusal, and the bounds on unattended
//! runs during an alert storm (docs/store.md, docs/deploy.md).

use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// `[store]`: how long callers wait on the database before they are refused.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// Longest wait for a database connection; a database that is down answers 503
    /// after this instead of hanging the caller.
    #[serde(default = "two_seconds", deserialize_with = "de_duration")]
    pub acquire_timeout: Duration,
    /// Longest wait for a commit; the receiver or API answers 503 with `Retry-After`.
    #[serde(default = "two_seconds", deserialize_with = "de_duration")]
    pub commit_timeout: Duration,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            acquire_timeout: two_seconds(),
            commit_timeout: two_seconds(),
        }
    }
}

fn two_seconds() -> Duration {
    Duration::from_secs(2)
}

/// `[unattended]`: the global bound on runs nobody started by hand (auto-triage).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnattendedConfig {
    /// Most unattended step runs at once over the whole server; 0 means twice the
    /// number of cores. The rest wait in a durable queue.
    #[serde(default)]
    pub max_concurrent: usize,
    /// The same step with the same bound values, asked for by auto-triage within this
    /// window, runs once and is shared with every incident that asked.
    #[serde(default = "sixty_seconds", deserialize_with = "de_duration")]
    pub coalesce_window: Duration,
}

impl Default for UnattendedConfig {
    fn default() -> Self {
        UnattendedConfig {
            max_concurrent: 0,
            coalesce_window: sixty_seconds(),
        }
    }
}

impl UnattendedConfig {
    /// The cap in effect: `max_concurrent`, or twice the cores when it is 0.
    #[must_use]
    pub fn cap(&self) -> usize {
        if self.max_concurrent > 0 {
            return self.max_concurrent;
        }
        std::thread::available_parallelism().map_or(2, |n| n.get() * 2)
    }
}

fn sixty_seconds() -> Duration {
    Duration::from_secs(60)
}

fn de_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    humantime::parse_duration(&s)
        .map_err(|e| serde::de::Error::custom(format!("bad duration {s:?}: {e}")))
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use crate::Config;

    #[test]
    fn sections_parse_with_defaults_and_refuse_unknown_keys() {
        let c = Config::from_toml("", Path::new("x.toml")).unwrap();
        assert_eq!(c.store.commit_timeout, Duration::from_secs(2));
        assert_eq!(c.store.acquire_timeout, Duration::from_secs(2));
        assert_eq!(c.unattended.coalesce_window, Duration::from_secs(60));
        assert!(c.unattended.cap() >= 2);
        let text = "[store]\ncommit_timeout = \"500ms\"\n[unattended]\nmax_concurrent = 3\ncoalesce_window = \"0s\"\n";
        let c = Config::from_toml(text, Path::new("x.toml")).unwrap();
        assert_eq!(c.store.commit_timeout, Duration::from_millis(500));
        assert_eq!(c.unattended.cap(), 3);
        assert!(c.unattended.coalesce_window.is_zero());
        let err = Config::from_toml("[store]\ncommit = \"1s\"\n", Path::new("x.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("commit"), "{err}");
    }
}
