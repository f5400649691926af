//! The incident state machine: which status changes are allowed, as a pure function.
//!
//! triggered → acknowledged → mitigated → resolved, with shortcuts forward (a responder may
//! mitigate or resolve without acknowledging first) and `reopen` from resolved back to
//! triggered. Everything else is an [`TransitionError`] naming both ends.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where an incident is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Declared (by a person or an alert); nobody has acknowledged it yet.
    Triggered,
    /// Someone owns it; escalation stops.
    Acknowledged,
    /// The impact is over; the cause may not be fixed yet.
    Mitigated,
    /// Closed: the stand-down checklist held (or was overridden with a reason).
    Resolved,
}

impl Status {
    /// Every status, in lifecycle order.
    pub const ALL: [Status; 4] = [
        Status::Triggered,
        Status::Acknowledged,
        Status::Mitigated,
        Status::Resolved,
    ];

    /// The statuses of an incident not yet resolved: the one list every "open" filter
    /// uses (the API's `status=open`, the CLI's default, metrics, paging).
    pub const OPEN: [Status; 3] = [Status::Triggered, Status::Acknowledged, Status::Mitigated];

    /// Stored names of `statuses`, for store filters.
    #[must_use]
    pub fn names(statuses: &[Status]) -> Vec<String> {
        statuses.iter().map(|s| s.as_str().to_owned()).collect()
    }

    /// The stored name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Triggered => "triggered",
            Status::Acknowledged => "acknowledged",
            Status::Mitigated => "mitigated",
            Status::Resolved => "resolved",
        }
    }

    /// True until the incident is resolved.
    #[must_use]
    pub fn is_open(self) -> bool {
        self != Status::Resolved
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A status name that is not one of ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown incident status {0:?} (expected triggered, acknowledged, mitigated or resolved)")]
pub struct UnknownStatus(pub String);

impl FromStr for Status {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Status::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

/// A change a person asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Take ownership; stops paging.
    Acknowledge,
    /// The impact has ended.
    Mitigate,
    /// Close the incident.
    Resolve,
    /// Open a resolved incident again.
    Reopen,
}

impl Action {
    /// The verb, as the CLI spells it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Acknowledge => "acknowledge",
            Action::Mitigate => "mitigate",
            Action::Resolve => "resolve",
            Action::Reopen => "reopen",
        }
    }
}

/// A status change that is not allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot {action} an incident that is {from}{hint}", action = .action.as_str(), hint = hint(*.action, *.from))]
pub struct TransitionError {
    /// What was asked.
    pub action: Action,
    /// The status it was asked in.
    pub from: Status,
}

fn hint(action: Action, from: Status) -> &'static str {
    match (action, from) {
        (Action::Reopen, _) => " (only resolved incidents can be reopened)",
        (_, Status::Resolved) => " (reopen it first)",
        (Action::Acknowledge, _) => " (it is already acknowledged)",
        (Action::Mitigate, Status::Mitigated) => " (it is already mitigated)",
        _ => "",
    }
}

/// The status `action` leads to from `from`, or why it is not allowed.
pub fn transition(from: Status, action: Action) -> Result<Status, TransitionError> {
    use Status::*;
    let to = match (action, from) {
        (Action::Acknowledge, Triggered) => Acknowledged,
        (Action::Mitigate, Triggered | Acknowledged) => Mitigated,
        (Action::Resolve, Triggered | Acknowledged | Mitigated) => Resolved,
        (Action::Reopen, Resolved) => Triggered,
        _ => return Err(TransitionError { action, from }),
    };
    Ok(to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_happy_path_walks_forward() {
        let mut s = Status::Triggered;
        for a in [Action::Acknowledge, Action::Mitigate, Action::Resolve] {
            s = transition(s, a).unwrap();
        }
        assert_eq!(s, Status::Resolved);
        assert_eq!(transition(s, Action::Reopen).unwrap(), Status::Triggered);
    }

    #[test]
    fn every_refusal_says_why() {
        let mut refused = 0;
        for from in Status::ALL {
            for action in [
                Action::Acknowledge,
                Action::Mitigate,
                Action::Resolve,
                Action::Reopen,
            ] {
                if let Err(e) = transition(from, action) {
                    refused += 1;
                    let msg = e.to_string();
                    assert!(
                        msg.contains(action.as_str()) && msg.contains(from.as_str()),
                        "{msg}"
                    );
                }
            }
        }
        // 16 pairs, 7 allowed.
        assert_eq!(refused, 9);
        assert_eq!(
            transition(Status::Resolved, Action::Acknowledge)
                .unwrap_err()
                .to_string(),
            "cannot acknowledge an incident that is resolved (reopen it first)"
        );
    }

    #[test]
    fn status_names_roundtrip() {
        for s in Status::ALL {
            assert_eq!(s.as_str().parse::<Status>().unwrap(), s);
        }
        assert!("open".parse::<Status>().is_err());
    }
}
