//! Small text helpers: anchors and slugs, section roles from heading wording, durations
//! as people write them.

use std::time::Duration;

use crate::model::Role;

/// GitHub's heading anchor: lowercase, punctuation dropped, spaces to hyphens.
pub(crate) fn anchor(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.trim().chars() {
        if c.is_alphanumeric() || c == '-' || c == '_' {
            out.extend(c.to_lowercase());
        } else if c == ' ' {
            out.push('-');
        }
    }
    out
}

/// A compact slug for step ids: lowercase words joined by single hyphens.
pub(crate) fn slug(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut dash = false;
    for c in text.chars() {
        if c.is_alphanumeric() {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.extend(c.to_lowercase());
        } else {
            dash = true;
        }
    }
    out
}

/// Heading words with numbering (`1.`, `SP-001:`, `Step 2:`) and parentheticals removed,
/// lowercase, single spaces. One allocation: this runs for every heading.
fn heading_words(heading: &str) -> String {
    let mut s = String::with_capacity(heading.len());
    let mut depth = 0u32;
    for c in heading.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ if depth > 0 => {}
            c if c.is_alphanumeric() => {
                if c.is_ascii() {
                    s.push(c.to_ascii_lowercase());
                } else {
                    s.extend(c.to_lowercase());
                }
            }
            _ => {
                if !s.is_empty() && !s.ends_with(' ') {
                    s.push(' ');
                }
            }
        }
    }
    let t = s.trim_end();
    // Drop a leading id such as "1", "step 2", "inc 001", "sp 004".
    let mut words = t.splitn(3, ' ');
    let (a, b) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let digits = |w: &str| !w.is_empty() && w.bytes().all(|c| c.is_ascii_digit());
    let skip = if digits(a) {
        a.len()
    } else if a.len() <= 4 && digits(b) {
        a.len() + 1 + b.len()
    } else {
        0
    };
    t.get(skip..).unwrap_or("").trim_start().to_string()
}

/// Phrases per role. A phrase matches the whole heading, its start or its end; a leading
/// `=` means whole heading only (single words too common to match as a prefix).
const ROLES: &[(Role, &[&str])] = &[
    (
        Role::StandDown,
        &[
            "stand down checklist",
            "stand down",
            "standdown",
            "post incident checklist",
            "resolution checklist",
            "closing checklist",
            "close out checklist",
        ],
    ),
    (
        Role::PostMortem,
        &[
            "post mortem template",
            "post mortem",
            "postmortem",
            "post incident review",
            "retrospective",
        ],
    ),
    (
        Role::Evidence,
        &[
            "evidence collection",
            "evidence capture",
            "collect evidence",
            "capture evidence",
            "=evidence",
        ],
    ),
    (
        Role::Escalation,
        &[
            "escalation criteria",
            "escalation path",
            "escalation",
            "when to escalate",
            "escalate",
        ],
    ),
    (Role::Symptoms, &["symptoms", "symptom", "signs"]),
    (
        Role::Diagnosis,
        &[
            "diagnosis",
            "diagnose",
            "diagnostics",
            "investigation",
            "investigate",
            "triage",
            "first 5 minutes",
            "first five minutes",
            "initial checks",
        ],
    ),
    (
        Role::Verification,
        &["verification", "verify", "validation", "post checks"],
    ),
    (Role::Prevention, &["prevention", "prevent"]),
    (
        Role::Resolution,
        &[
            "resolution steps",
            "resolution",
            "resolve",
            "recovery",
            "mitigation",
            "mitigate",
            "=response",
            "immediate actions",
            "immediate action",
            "=immediate",
            "remediation",
            "fixes",
            "=fix",
            "workaround",
            "rollback",
        ],
    ),
];

/// The role a heading names, if any.
pub(crate) fn role_of(heading: &str) -> Option<Role> {
    let h = heading_words(heading);
    if h.is_empty() {
        return None;
    }
    let hb = h.as_bytes();
    let (first, last) = (hb.first().copied(), hb.last().copied());
    for (role, phrases) in ROLES {
        for p in *phrases {
            let (exact, p) = match p.strip_prefix('=') {
                Some(e) => (true, e),
                None => (false, *p),
            };
            let pb = p.as_bytes();
            // Cheap filter before comparing: a match shares the first or the last byte.
            if pb.first().copied() != first && pb.last().copied() != last {
                continue;
            }
            let hit = h == p
                || (!exact
                    && (h.strip_prefix(p).is_some_and(|r| r.starts_with(' '))
                        || h.strip_suffix(p).is_some_and(|r| r.ends_with(' '))));
            if hit {
                return Some(*role);
            }
        }
    }
    None
}

/// A duration as people write it in runbooks: `30s`, `15 minutes`, `< 5 min`,
/// `within 1 hour`; `Immediate` is zero.
pub(crate) fn duration(text: &str) -> Option<Duration> {
    let t = text.trim().trim_end_matches('.').to_lowercase();
    if matches!(t.as_str(), "immediate" | "immediately" | "now" | "0") {
        return Some(Duration::ZERO);
    }
    let t = t
        .trim_start_matches(['<', '≤', '~', ' '])
        .trim_start_matches("within ")
        .trim();
    humantime::parse_duration(t).ok()
}

/// The first duration written inside a phrase: `After 30 minutes to Engineering Manager`
/// and `Updates every 30 minutes` say `30m`, `Immediate page` says zero. `None` when no
/// number with a unit is in it.
pub(crate) fn first_duration(text: &str) -> Option<Duration> {
    let words: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '(' | ')'))
        .filter(|w| !w.is_empty())
        .take(64)
        .collect();
    if words
        .first()
        .is_some_and(|w| matches!(w.to_lowercase().as_str(), "immediate" | "immediately"))
    {
        return Some(Duration::ZERO);
    }
    for (i, w) in words.iter().enumerate() {
        let w = w.trim_start_matches(['<', '≤', '~']);
        let lower = w.trim_end_matches(['.', ':']).to_lowercase();
        // `every hour`, `hourly`: one of the unit.
        let one = match lower.as_str() {
            "hourly" => Some("hour"),
            "daily" => Some("day"),
            "every" | "an" | "a" | "per" | "each" => words
                .get(i + 1)
                .map(|u| u.trim_end_matches(['.', ':']))
                .filter(|u| matches!(*u, "minute" | "hour" | "day" | "week")),
            _ => None,
        };
        if let Some(unit) = one {
            return duration(&format!("1 {unit}"));
        }
        if !w.starts_with(|c: char| c.is_ascii_digit()) {
            continue;
        }
        let unit = words.get(i + 1).map(|u| u.trim_end_matches(['.', ':']));
        let found = unit
            .and_then(|u| duration(&format!("{w} {u}")))
            .or_else(|| duration(w.trim_end_matches(['.', ':'])));
        if found.is_some() {
            return found;
        }
    }
    None
}

/// True for the languages (info-string words) that mean "a shell step".
pub(crate) fn is_shell_lang(lang: &str) -> bool {
    matches!(
        lang,
        "" | "bash" | "sh" | "shell" | "zsh" | "console" | "shell-session" | "shellsession"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_from_headings() {
        assert_eq!(role_of("Diagnosis"), Some(Role::Diagnosis));
        assert_eq!(role_of("First 5 minutes"), Some(Role::Diagnosis));
        assert_eq!(role_of("INC-004: Storage Full"), None);
        assert_eq!(role_of("Immediate Actions:"), Some(Role::Resolution));
        assert_eq!(role_of("Immediate (< 5 min)"), Some(Role::Resolution));
        assert_eq!(role_of("Stand-down checklist"), Some(Role::StandDown));
        assert_eq!(role_of("Post-Incident Checklist"), Some(Role::StandDown));
        assert_eq!(role_of("Post-mortem template"), Some(Role::PostMortem));
        assert_eq!(role_of("Evidence Locker Operations Runbook"), None);
        assert_eq!(role_of("Incident Response Playbook"), None);
        assert_eq!(role_of("Escalation Path"), Some(Role::Escalation));
        assert_eq!(role_of("2. Evidence capture"), Some(Role::Evidence));
    }

    #[test]
    fn durations_people_write() {
        assert_eq!(duration("Immediate"), Some(Duration::ZERO));
        assert_eq!(duration("15 minutes"), Some(Duration::from_secs(900)));
        assert_eq!(duration("1 hour"), Some(Duration::from_secs(3600)));
        assert_eq!(duration("< 5 min"), Some(Duration::from_secs(300)));
        assert_eq!(duration("next business day"), None);
        let m30 = Some(Duration::from_secs(1800));
        assert_eq!(
            first_duration("After 30 minutes to Engineering Manager"),
            m30
        );
        assert_eq!(first_duration("Updates every 30 minutes"), m30);
        assert_eq!(first_duration("every 30m, in #incidents"), m30);
        assert_eq!(
            first_duration("Immediate page to on-call"),
            Some(Duration::ZERO)
        );
        assert_eq!(first_duration("to the VP, 2 people"), None);
        assert_eq!(first_duration("next business day"), None);
        let h1 = Some(Duration::from_secs(3600));
        assert_eq!(first_duration("every hour"), h1);
        assert_eq!(first_duration("Hourly, on the status page"), h1);
    }

    #[test]
    fn anchors_match_github() {
        assert_eq!(anchor("Incident: Storage Full"), "incident-storage-full");
        assert_eq!(
            anchor("SP-001: Daily Integrity Check"),
            "sp-001-daily-integrity-check"
        );
        assert_eq!(slug("Incident: Storage Full"), "incident-storage-full");
    }
}
