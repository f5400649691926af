//! The typed values every parser produces: alerts and the batch they arrived in.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::fingerprint::Fingerprint;

/// Label or annotation names to values, ordered by name (the order fingerprints use).
pub type Labels = BTreeMap<String, String>;

/// Where a payload came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Prometheus Alertmanager webhook, version 4.
    Alertmanager,
    /// Grafana unified alerting webhook, version 1.
    Grafana,
    /// sitrep's generic JSON format.
    Generic,
}

/// Whether an alert is firing or resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The condition holds.
    Firing,
    /// The condition no longer holds.
    Resolved,
}

/// One alert as sent by its source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// The payload format it came in.
    pub source: Source,
    /// Alertmanager's own fingerprint, else [`Fingerprint::of_labels`].
    pub fingerprint: Fingerprint,
    /// Firing or resolved.
    pub status: Status,
    /// Identifying labels.
    pub labels: Labels,
    /// Descriptive annotations (summary, description, runbook_url, ...).
    pub annotations: Labels,
    /// When the alert started firing, if the source said.
    pub starts_at: Option<Timestamp>,
    /// When it resolved; `None` for Go's zero time `0001-01-01T00:00:00Z` or absent.
    pub ends_at: Option<Timestamp>,
    /// Link back to the rule or graph that produced it.
    pub generator_url: Option<String>,
}

/// One webhook delivery: a snapshot of one group of alerts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    /// The payload format.
    pub source: Source,
    /// The sender's group key (Alertmanager and Grafana `groupKey`), if any.
    pub group_key: Option<String>,
    /// The sender's receiver name, if any.
    pub receiver: Option<String>,
    /// Labels common to every alert of the batch.
    pub common_labels: Labels,
    /// The alerts, in payload order.
    pub alerts: Vec<Alert>,
}
