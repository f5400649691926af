//! The risk gate: a pure decision on whether a step may run now, and what is missing.

use serde::Serialize;
use sitrep_risk::Level;

/// Who is asking for the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A person at a terminal.
    Interactive,
    /// Unattended (e.g. an alert-triggered diagnosis run): read steps only.
    Automatic,
}

/// Which levels need a second person, at which incident severities.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Policy {
    /// `(level, severities)`: a step at `level` during an incident of one of `severities`
    /// needs an approval. An empty severity list means "at every severity".
    pub approvals: Vec<(Level, Vec<String>)>,
}

impl Policy {
    fn needs_approval(&self, level: Level, severity: Option<&str>) -> bool {
        self.approvals.iter().any(|(l, sevs)| {
            *l == level
                && (sevs.is_empty()
                    || severity.is_some_and(|s| sevs.iter().any(|x| x.eq_ignore_ascii_case(s))))
        })
    }
}

/// Everything the gate looks at.
#[derive(Debug, Clone)]
pub struct GateRequest<'a> {
    /// The step's risk level.
    pub level: Level,
    /// Interactive or unattended.
    pub mode: Mode,
    /// The incident's severity, when the run belongs to one.
    pub severity: Option<&'a str>,
    /// The person running the step.
    pub actor: &'a str,
    /// The exact text that will be shown and recorded (`BoundScript::display`).
    pub display: &'a str,
    /// The text the actor confirmed, if any; must equal `display` byte for byte.
    pub confirmed: Option<&'a str>,
    /// People who approved this exact run.
    pub approvals: &'a [String],
}

/// The gate's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// Run it.
    Allow,
    /// Show `display` and ask the actor to confirm it; `reasons` say why.
    NeedsConfirmation {
        /// Why a confirmation is needed.
        reasons: Vec<String>,
    },
    /// A second person (not the actor) must approve.
    NeedsApproval {
        /// Why an approval is needed.
        reason: String,
    },
    /// Never in this mode.
    Deny {
        /// Why.
        reason: String,
    },
}

/// Decides whether a step may run. Read steps always run; anything else needs the actor
/// to confirm the exact display text, and, where `policy` says so, an approval from
/// someone other than the actor. Unattended runs may only read.
pub fn gate(req: &GateRequest<'_>, policy: &Policy) -> Decision {
    let level = req.level.as_str();
    if req.level == Level::Read {
        return Decision::Allow;
    }
    if req.mode == Mode::Automatic {
        return Decision::Deny {
            reason: format!("unattended runs only run read steps; this step is {level}"),
        };
    }
    if req.confirmed != Some(req.display) {
        let mut reasons = vec![format!("this step is {level}: confirm the exact command")];
        if req.level == Level::Unknown {
            reasons.push(
                "no rule knows this command, so it is treated as possibly destructive".into(),
            );
        }
        if req.confirmed.is_some() {
            reasons.push("the confirmed text differs from the command that would run".into());
        }
        return Decision::NeedsConfirmation { reasons };
    }
    if policy.needs_approval(req.level, req.severity) {
        let others = req
            .approvals
            .iter()
            .filter(|a| a.as_str() != req.actor)
            .count();
        if others == 0 {
            let sev = req
                .severity
                .map_or(String::new(), |s| format!(" during a {s} incident"));
            let own = if req.approvals.iter().any(|a| a == req.actor) {
                "; the actor cannot approve their own run"
            } else {
                ""
            };
            return Decision::NeedsApproval {
                reason: format!("{level} steps{sev} need a second person's approval{own}"),
            };
        }
    }
    Decision::Allow
}
