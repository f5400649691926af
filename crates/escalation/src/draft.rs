//! A first escalation config drafted from an escalation path a runbook writes down
//! (`1. **Team lead** (P0, P1): after 15 minutes`): one person and one policy level per
//! step, as TOML text a team edits (contacts to fill in) before `sitrep escalation lint`.

use std::fmt::Write as _;
use std::time::Duration;

/// One step of an escalation path as written: who, for which severities, after how long.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathStep {
    /// The role or person (`Team lead`).
    pub role: String,
    /// Severities it is for, as written (`P0, P1`); kept as a comment.
    pub scope: Option<String>,
    /// How long after declaration this step is reached, when the runbook says.
    pub after: Option<Duration>,
    /// An email address, when the runbook gives one: the person's contact.
    pub email: Option<String>,
    /// Anything else the runbook says about the step (phone, channel), as comments.
    pub notes: Vec<String>,
}

/// Delay between levels when the runbook states none.
pub const DEFAULT_STEP_DELAY: Duration = Duration::from_secs(15 * 60);

/// TOML for a config with one `[[people]]` entry per step and one policy `policy_id`
/// whose levels page them in order, for `service` when given. A step's `after` counts
/// from declaration, so each level's `delay` is the difference to the previous step's
/// (`DEFAULT_STEP_DELAY` where the runbook says nothing; level 0 at once). The output
/// parses with [`Config::from_toml`](crate::Config::from_toml); people without an email
/// have no contact yet, which `lint` reports until someone adds one.
#[must_use]
pub fn draft_toml(policy_id: &str, service: Option<&str>, steps: &[PathStep]) -> String {
    let mut out = String::from(
        "# Drafted from a runbook's escalation path: add each person's contacts, then run\n\
         # `sitrep escalation lint --config FILE`. See docs/escalation.md.\n",
    );
    let mut ids: Vec<String> = Vec::new();
    for step in steps {
        let base = id_of(&step.role);
        let mut id = base.clone();
        let mut n = 2;
        while ids.contains(&id) {
            id = format!("{base}-{n}");
            n += 1;
        }
        let _ = write!(
            out,
            "\n[[people]]\nid = {}\nname = {}\n",
            quote(&id),
            quote(&step.role)
        );
        if let Some(s) = &step.scope {
            let _ = writeln!(out, "# scope: {}", one_line(s));
        }
        for note in &step.notes {
            let _ = writeln!(out, "# {}", one_line(note));
        }
        match &step.email {
            Some(e) => {
                let _ = writeln!(
                    out,
                    "contacts = [{{ id = {}, email = {} }}]",
                    quote(&format!("{id}-email")),
                    quote(e)
                );
            }
            None => out.push_str("contacts = []  # add { id, email | webhook | slack_webhook }\n"),
        }
        ids.push(id);
    }
    let _ = write!(out, "\n[[policies]]\nid = {}\n", quote(policy_id));
    let mut prev: Option<Duration> = None;
    for (i, (step, id)) in steps.iter().zip(&ids).enumerate() {
        let delay = match (i, step.after, prev) {
            (0, Some(a), _) => a,
            (0, None, _) => Duration::ZERO,
            (_, Some(a), Some(p)) if a >= p => a - p,
            (_, Some(a), None) => a,
            _ => DEFAULT_STEP_DELAY,
        };
        if step.after.is_some() {
            prev = step.after;
        } else {
            prev = Some(prev.unwrap_or_default() + delay);
        }
        let _ = write!(
            out,
            "[[policies.levels]]\ndelay = {}\ntargets = [{}]\n",
            quote(&format!("{}m", delay.as_secs().div_ceil(60))),
            quote(&format!("person:{id}"))
        );
    }
    if let Some(s) = service {
        let _ = write!(
            out,
            "\n[[services]]\nid = {}\npolicy = {}\n",
            quote(s),
            quote(policy_id)
        );
    }
    out
}

/// A config id from a role: lower-case letters and digits, runs of anything else as `-`.
fn id_of(role: &str) -> String {
    let mut id = String::new();
    for c in role.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            id.push(c);
        } else if !id.ends_with('-') && !id.is_empty() {
            id.push('-');
        }
    }
    let id: String = id.trim_end_matches('-').chars().take(64).collect();
    if id.is_empty() { "step".to_owned() } else { id }
}

/// A TOML basic string.
fn quote(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Config, Target};

    #[test]
    fn a_path_becomes_a_policy_that_parses() {
        let steps = [
            PathStep {
                role: "On-call engineer".into(),
                scope: Some("P0, P1, P2".into()),
                ..PathStep::default()
            },
            PathStep {
                role: "Team lead".into(),
                after: Some(Duration::from_secs(15 * 60)),
                email: Some("lead@example.com".into()),
                notes: vec!["#payments-leads\nafter 15 minutes".into()],
                ..PathStep::default()
            },
            PathStep {
                role: "Engineering \"manager\"".into(),
                after: Some(Duration::from_secs(45 * 60)),
                ..PathStep::default()
            },
            PathStep {
                role: "Team lead".into(),
                ..PathStep::default()
            },
        ];
        let text = draft_toml("payments", Some("payments-api"), &steps);
        let cfg = Config::from_toml(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let policy = cfg.policy("payments").expect("policy");
        let delays: Vec<i64> = policy.levels.iter().map(|l| l.delay.as_mins()).collect();
        assert_eq!(delays, [0, 15, 30, 15], "{text}");
        let targets: Vec<String> = policy
            .levels
            .iter()
            .flat_map(|l| l.targets.iter().map(Target::to_string))
            .collect();
        assert_eq!(
            targets,
            [
                "person:on-call-engineer",
                "person:team-lead",
                "person:engineering-manager",
                "person:team-lead-2"
            ]
        );
        assert_eq!(cfg.person("team-lead").expect("lead").contacts.len(), 1);
        assert_eq!(cfg.policy_id_for("payments-api"), Some("payments"));
        assert!(text.contains("# scope: P0, P1, P2"), "{text}");
        assert!(
            text.contains("# #payments-leads after 15 minutes"),
            "{text}"
        );
    }
}
