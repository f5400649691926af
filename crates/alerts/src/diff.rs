//! Snapshot diffs: what a new batch changes about the known alerts of a group, such that
//! repeats and duplicates change nothing and older snapshots never resurrect alerts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::fingerprint::Fingerprint;
use crate::model::{Alert, Status};

/// What one incoming alert means for the known state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// A fingerprint not known before (firing or, rarely, already resolved).
    New,
    /// Known as resolved (or as an earlier firing episode), now firing again.
    Refired,
    /// Same episode, different annotations, labels or times.
    Updated,
    /// Known as firing, now resolved.
    Resolved,
    /// Identical to what is known: a repeat or duplicate delivery.
    Unchanged,
    /// Older than what is known (out-of-order delivery); ignored.
    Stale,
}

impl ChangeKind {
    /// Whether applying this change alters the known state.
    pub fn changes_state(self) -> bool {
        !matches!(self, ChangeKind::Unchanged | ChangeKind::Stale)
    }
}

/// One incoming alert and what it means.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// Which alert.
    pub fingerprint: Fingerprint,
    /// What it means.
    pub kind: ChangeKind,
    /// The incoming alert (the state after applying, unless unchanged or stale).
    pub alert: Alert,
}

/// Whether `incoming` is older than `known` (the same fingerprint).
///
/// The rule, also in `docs/alerts.md`: an episode is identified by `starts_at`. A later
/// `starts_at` is a newer episode, an earlier one is stale. Within one episode, resolved
/// is newer than firing, and between two resolutions the later `ends_at` wins. When either
/// side lacks `starts_at` the order is unknown and the later delivery wins.
fn is_stale(incoming: &Alert, known: &Alert) -> bool {
    let (Some(a), Some(b)) = (incoming.starts_at, known.starts_at) else {
        return false;
    };
    if a != b {
        return a < b;
    }
    match (incoming.status, known.status) {
        (Status::Firing, Status::Resolved) => true,
        (Status::Resolved, Status::Resolved) => match (incoming.ends_at, known.ends_at) {
            (Some(x), Some(y)) => x < y,
            _ => false,
        },
        _ => false,
    }
}

fn classify(incoming: &Alert, known: Option<&Alert>) -> ChangeKind {
    let Some(known) = known else {
        return ChangeKind::New;
    };
    if incoming == known {
        return ChangeKind::Unchanged;
    }
    if is_stale(incoming, known) {
        return ChangeKind::Stale;
    }
    let new_episode = match (incoming.starts_at, known.starts_at) {
        (Some(a), Some(b)) => a > b,
        _ => false,
    };
    match (known.status, incoming.status) {
        (Status::Resolved, Status::Firing) => ChangeKind::Refired,
        (Status::Firing, Status::Firing) if new_episode => ChangeKind::Refired,
        (Status::Firing, Status::Resolved) => ChangeKind::Resolved,
        _ => ChangeKind::Updated,
    }
}

/// What `alerts` (one delivery) changes about `known` (the alerts of the group, by
/// fingerprint). Pure: `known` is not modified; see [`apply`].
///
/// Alerts of `known` absent from the delivery are left alone: a snapshot may be
/// truncated, and Alertmanager stops sending an alert once its resolution was delivered.
/// Duplicates within one delivery are collapsed first (the newest by the staleness rule
/// wins, ties to the later one), so the result has one change per fingerprint, in order
/// of first appearance.
pub fn diff(known: &BTreeMap<Fingerprint, Alert>, alerts: &[Alert]) -> Vec<Change> {
    let mut order: Vec<Fingerprint> = Vec::new();
    let mut newest: BTreeMap<Fingerprint, &Alert> = BTreeMap::new();
    for a in alerts {
        match newest.get(&a.fingerprint) {
            None => {
                order.push(a.fingerprint);
                newest.insert(a.fingerprint, a);
            }
            Some(prev) if !is_stale(a, prev) => {
                newest.insert(a.fingerprint, a);
            }
            Some(_) => {}
        }
    }
    order
        .into_iter()
        .filter_map(|fp| newest.get(&fp).map(|a| (fp, *a)))
        .map(|(fingerprint, a)| Change {
            fingerprint,
            kind: classify(a, known.get(&fingerprint)),
            alert: a.clone(),
        })
        .collect()
}

/// Applies changes from [`diff`] to the known alerts.
pub fn apply(known: &mut BTreeMap<Fingerprint, Alert>, changes: &[Change]) {
    for c in changes {
        if c.kind.changes_state() {
            known.insert(c.fingerprint, c.alert.clone());
        }
    }
}
