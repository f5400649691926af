//! Timeline event types and the ledger records that carry them.
//!
//! Every change to an incident is one of these records, sealed in the ledger in the same
//! transaction as the change. Types are stable strings (docs/incidents.md lists them);
//! payload values are redacted before a record is built.

use std::collections::BTreeMap;

use sitrep_ledger::Record;

use crate::identity::Principal;

/// Largest note or reason kept, in bytes; longer text is cut with a marker so a record
/// always fits the ledger's 64 KiB limit.
pub const MAX_TEXT: usize = 16 << 10;

pub const DECLARED: &str = "incident.declared";
pub const ACKNOWLEDGED: &str = "incident.acknowledged";
pub const MITIGATED: &str = "incident.mitigated";
pub const RESOLVED: &str = "incident.resolved";
pub const REOPENED: &str = "incident.reopened";
pub const SEVERITY: &str = "incident.severity-changed";
pub const ROLE: &str = "incident.role-assigned";
pub const NOTE: &str = "incident.note";
pub const RUNBOOK: &str = "incident.runbook-attached";
pub const ALERT_FIRING: &str = "alert.firing";
pub const ALERT_RESOLVED: &str = "alert.resolved";
pub const STEP_RUN: &str = "step.run";
pub const STEP_REFUSED: &str = "step.refused";
pub const STEP_SKIPPED: &str = "step.skipped";
/// An unattended run waits for a slot under the global cap.
pub const STEP_QUEUED: &str = "step.queued";
/// A run its process never finished (crash): see `interrupted.rs`.
pub const STEP_INTERRUPTED: &str = "step.interrupted";
pub const EVIDENCE: &str = "evidence.captured";
/// Thresholds evaluated against Prometheus (`crate::thresholds`).
pub const THRESHOLDS: &str = "thresholds.checked";
pub const APPROVAL_REQUESTED: &str = "approval.requested";
pub const APPROVAL_GRANTED: &str = "approval.granted";
pub const EVIDENCE_HELD: &str = "evidence.held";
pub const EVIDENCE_RELEASED: &str = "evidence.released";
pub const EVIDENCE_EXPIRED: &str = "evidence.expired";
pub const EVIDENCE_LOST: &str = "evidence.lost";
pub const CHECK: &str = "checklist.ticked";
pub const UNCHECK: &str = "checklist.unticked";
pub const ACTION_ADDED: &str = "action.added";
pub const ACTION_DONE: &str = "action.done";
/// A post-mortem blank (impact, root cause, lessons) written or rewritten.
pub const POSTMORTEM_EDITED: &str = "postmortem.edited";
/// Someone paged the next level of the escalation policy by hand.
pub const PAGE_ESCALATED: &str = "page.escalated";
/// Someone paged a person by hand (adding a responder).
pub const PAGE_REQUESTED: &str = "page.requested";

/// A record of `kind` for `incident` at `time_ms` by `actor` (its name and id) with
/// `payload`.
pub fn record(
    kind: &str,
    incident: &str,
    time_ms: i64,
    actor: &Principal,
    payload: impl IntoIterator<Item = (&'static str, String)>,
) -> Record {
    let mut r = unattached(kind, time_ms, actor);
    r.incident = Some(incident.to_owned());
    r.payload = payload
        .into_iter()
        .map(|(k, v)| (k.to_owned(), cut(&v, MAX_TEXT)))
        .collect::<BTreeMap<_, _>>();
    r
}

/// A record of `kind` at `time_ms` by `actor` (its name and id) that belongs to no
/// incident yet.
pub fn unattached(kind: &str, time_ms: i64, actor: &Principal) -> Record {
    Record::new(
        kind,
        u64::try_from(time_ms).unwrap_or(0),
        actor.name.as_str(),
    )
    .by_id(actor.id.as_str())
}

/// `text` cut to at most `max` bytes on a char boundary, with a marker when cut.
#[must_use]
pub fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max.saturating_sub(32);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}[... {} bytes cut]", &text[..end], text.len() - end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_text_still_makes_a_valid_record() {
        let note = "é".repeat(100_000);
        let r = record(NOTE, "i", 1, &Principal::asserted("ann"), [("text", note)]);
        assert!(r.encode().is_ok());
        assert!(r.payload["text"].ends_with("bytes cut]"));
    }
}
