//! Post-incident deadlines: checklist items under a heading or pseudo-heading that states
//! a deadline relative to resolution ("Immediate (within 1 hour of resolution)", "Short
//! term (within 24 hours)" in a post-incident section) carry `due`, a duration after
//! resolution. They are follow-up work, so they never gate resolving.

use std::time::Duration;

use crate::model::{Role, Runbook};
use crate::text;

/// Sets `due` (and clears `gate`) on every checklist item with a deadline above it.
pub(crate) fn apply(rb: &mut Runbook) {
    for i in 0..rb.checklist.len() {
        let due = rb
            .checklist
            .get(i)
            .and_then(|c| c.section)
            .and_then(|s| due_for(rb, s));
        if let (Some(d), Some(item)) = (due, rb.checklist.get_mut(i)) {
            item.due = Some(d);
            item.gate = false;
        }
    }
}

/// The innermost deadline among `section` and its ancestors, when it is relative to
/// resolution: it says so, or a section around it is a post-incident one.
fn due_for(rb: &Runbook, section: usize) -> Option<Duration> {
    let chain = chain(rb, section);
    let (d, explicit) = chain
        .iter()
        .filter_map(|&s| rb.sections.get(s))
        .find_map(|s| deadline(&s.heading))?;
    let post_incident = chain.iter().filter_map(|&s| rb.sections.get(s)).any(|s| {
        matches!(
            s.role,
            Some(Role::StandDown | Role::PostMortem | Role::Prevention)
        ) || {
            let h = s.heading.to_lowercase();
            [
                "post-incident",
                "post incident",
                "follow-up",
                "follow up",
                "after the incident",
                "action items",
            ]
            .iter()
            .any(|w| h.contains(w))
        }
    });
    (explicit || post_incident).then_some(d)
}

/// `section`, its parent, and so on up (bounded by the number of sections).
fn chain(rb: &Runbook, section: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut cur = Some(section);
    while let Some(s) = cur {
        if out.len() > rb.sections.len() {
            break;
        }
        out.push(s);
        cur = rb.sections.get(s).and_then(|x| x.parent);
    }
    out
}

/// "within 24 hours" in a heading: the duration, and whether it names resolution.
fn deadline(heading: &str) -> Option<(Duration, bool)> {
    let lower = heading.to_lowercase();
    let at = lower.find("within ")?;
    let d = text::first_duration(lower.get(at + "within ".len()..)?)?;
    let explicit = ["resolution", "resolv", "after the incident"]
        .iter()
        .any(|w| lower.contains(w));
    Some((d, explicit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_in_headings() {
        let h = Duration::from_secs(3600);
        assert_eq!(
            deadline("Immediate (within 1 hour of resolution)"),
            Some((h, true))
        );
        assert_eq!(
            deadline("Short term (within 24 hours)"),
            Some((24 * h, false))
        );
        assert_eq!(deadline("Long term"), None);
        assert_eq!(deadline("Respond within reason"), None);
    }
}
