//! Silences: matchers plus a `[starts_at, ends_at)` window; `now` is passed in.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::matcher::Matcher;
use crate::model::Alert;

/// A silence: alerts matching every matcher are muted while `starts_at <= now < ends_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Silence {
    /// Stable id, recorded on the timeline when it mutes an alert.
    pub id: String,
    /// All must match. A silence without matchers mutes nothing (Alertmanager refuses it).
    pub matchers: Vec<Matcher>,
    /// First instant muted.
    pub starts_at: Timestamp,
    /// First instant no longer muted.
    pub ends_at: Timestamp,
    /// Who created it.
    pub created_by: String,
    /// Why.
    #[serde(default)]
    pub comment: String,
}

impl Silence {
    /// Whether the silence is in force at `now` and mutes `alert`.
    pub fn mutes(&self, alert: &Alert, now: Timestamp) -> bool {
        !self.matchers.is_empty()
            && self.starts_at <= now
            && now < self.ends_at
            && Matcher::all(&self.matchers, &alert.labels)
    }
}

/// The first silence muting `alert` at `now`, if any.
pub fn silenced_by<'a>(
    alert: &Alert,
    silences: &'a [Silence],
    now: Timestamp,
) -> Option<&'a Silence> {
    silences.iter().find(|s| s.mutes(alert, now))
}

/// Whether any silence mutes `alert` at `now`.
pub fn is_silenced(alert: &Alert, silences: &[Silence], now: Timestamp) -> bool {
    silenced_by(alert, silences, now).is_some()
}
