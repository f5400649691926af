//! The risk gate: a pure decision on whether a step may run now, and the permit that
//! is the only way to run one.

use serde::Serialize;
use sitrep_risk::Level;

use crate::plan::plan_id;
use crate::run::RunSpec;

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
    /// The level judged: the higher of the step text's risk and the bound command's.
    pub level: Level,
    /// Interactive or unattended.
    pub mode: Mode,
    /// The incident's severity, when the run belongs to one.
    pub severity: Option<&'a str>,
    /// The person running the step.
    pub actor: &'a str,
    /// The plan id the actor confirmed, if any; must equal the run's plan id.
    pub confirmed: Option<&'a str>,
    /// People who approved this exact plan.
    pub approvals: &'a [String],
    /// A person supplied some of the values: they confirm the command they make.
    pub person_values: bool,
}

/// The gate's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// Run it.
    Allow,
    /// Show the command and ask the actor to confirm its plan id; `reasons` say why.
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

/// Decides whether the run with plan id `plan` may run. Read steps run, unless a person
/// typed values into them; anything else needs the actor to confirm the exact plan,
/// and, where `policy` says so, an approval from someone other than the actor.
/// Unattended runs may only read, with no values from a person.
pub fn gate(req: &GateRequest<'_>, plan: &str, policy: &Policy) -> Decision {
    let level = req.level.as_str();
    if req.level == Level::Read && !req.person_values {
        return Decision::Allow;
    }
    if req.mode == Mode::Automatic {
        let reason = if req.level == Level::Read {
            "unattended runs take no values from a person".to_owned()
        } else {
            format!("unattended runs only run read steps; this step is {level}")
        };
        return Decision::Deny { reason };
    }
    if req.confirmed != Some(plan) {
        let mut reasons = if req.level == Level::Read {
            vec!["values typed by a person: confirm the exact command they make".to_owned()]
        } else {
            vec![format!("this step is {level}: confirm the exact command")]
        };
        if req.level == Level::Unknown {
            reasons.push(
                "no rule proves this command safe, so it is treated as possibly destructive".into(),
            );
        }
        if req.confirmed.is_some() {
            reasons.push("the confirmed plan differs from the command that would run".into());
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

/// Leave to run exactly one frozen plan. Only [`authorize`] makes one, so whatever
/// reaches [`crate::run`] has passed the gate, and an unattended permit is always for
/// a read step.
#[derive(Debug)]
pub struct Permit {
    spec: RunSpec,
    plan: String,
    level: Level,
    mode: Mode,
}

impl Permit {
    /// What will run: the bound script and its settings, as the gate saw them.
    pub fn spec(&self) -> &RunSpec {
        &self.spec
    }
    /// The plan id the gate allowed.
    pub fn plan(&self) -> &str {
        &self.plan
    }
    /// The level the gate judged.
    pub fn level(&self) -> Level {
        self.level
    }
    /// Interactive or unattended.
    pub fn mode(&self) -> Mode {
        self.mode
    }
}

/// Freezes `spec` (of a step in `runbook`) into its plan id and asks the gate: a
/// [`Permit`] to run exactly that, or the gate's refusal.
pub fn authorize(
    spec: RunSpec,
    runbook: &str,
    req: &GateRequest<'_>,
    policy: &Policy,
) -> Result<Permit, Decision> {
    let plan = plan_id(&spec, runbook, req.level);
    match gate(req, &plan, policy) {
        Decision::Allow => Ok(Permit {
            spec,
            plan,
            level: req.level,
            mode: req.mode,
        }),
        refused => Err(refused),
    }
}
