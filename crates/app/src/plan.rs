//! Planning a run: values from their sources, checked; bound once; judged on the bound
//! command; frozen into a plan id that confirmations and approvals name.

use std::collections::BTreeMap;

use serde::{Serialize, Serializer};
use sitrep_executor::{
    BindError, Binding, Decision, Expect, GateRequest, Level, Placeholder, Policy, Refusal,
    RunSpec, Trust, Values, bind, gate, plan_id, scan_placeholders,
};
use sitrep_risk::{Classifier, ScriptRisk};
use sitrep_runbook::{Role, Runbook, Step};
use sitrep_store::Incident;

use crate::app::App;
use crate::error::AppError;
use crate::runs::RunRequest;

/// What would run: the bound command, its risk and what the gate says.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The plan id: a hash of exactly what would run (command, values and their
    /// sources, settings, level). A confirmation names it; so does an approval.
    pub id: String,
    /// Runbook path.
    pub runbook: String,
    /// Step id.
    pub step_id: String,
    /// Step title.
    pub title: String,
    /// The role of the step's section.
    pub role: Option<Role>,
    /// Risk level judged: the higher of the step text's and the bound command's.
    pub risk: Level,
    /// Why: one line per command that is not read.
    pub reasons: Vec<String>,
    /// The exact command that would run, values shell-quoted (empty when unbound).
    pub display: String,
    /// Where each value came from.
    pub bindings: Vec<Binding>,
    /// Where the plan stands: unbound, refused, or judged by the gate.
    pub state: PlanState,
}

/// Where a plan stands. Exactly one holds, so nobody reads a gate decision for a
/// command that was never bound.
#[derive(Debug, Clone)]
pub enum PlanState {
    /// Placeholders no source could bind: nothing runs until they are set.
    Unbound(Vec<String>),
    /// Values refused by their rule: nothing runs while there are any.
    Refused(Vec<Refusal>),
    /// Bound; the gate's decision for the bound command.
    Gated(Decision),
}

impl Plan {
    /// Placeholders no source could bind (empty unless unbound).
    #[must_use]
    pub fn missing(&self) -> &[String] {
        match &self.state {
            PlanState::Unbound(names) => names,
            _ => &[],
        }
    }

    /// Values refused by their rule (empty unless refused).
    #[must_use]
    pub fn refused(&self) -> &[Refusal] {
        match &self.state {
            PlanState::Refused(r) => r,
            _ => &[],
        }
    }

    /// The gate's decision, once the command is bound.
    #[must_use]
    pub fn decision(&self) -> Option<&Decision> {
        match &self.state {
            PlanState::Gated(d) => Some(d),
            _ => None,
        }
    }
}

/// The wire form keeps the three fields (`missing`, `refused`, `decision`) API and CLI
/// users already read.
impl Serialize for Plan {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Wire<'a> {
            id: &'a str,
            runbook: &'a str,
            step_id: &'a str,
            title: &'a str,
            role: Option<&'a Role>,
            risk: &'a Level,
            reasons: &'a [String],
            display: &'a str,
            bindings: &'a [Binding],
            missing: &'a [String],
            refused: &'a [Refusal],
            decision: Option<&'a Decision>,
        }
        Wire {
            id: &self.id,
            runbook: &self.runbook,
            step_id: &self.step_id,
            title: &self.title,
            role: self.role.as_ref(),
            risk: &self.risk,
            reasons: &self.reasons,
            display: &self.display,
            bindings: &self.bindings,
            missing: self.missing(),
            refused: self.refused(),
            decision: self.decision(),
        }
        .serialize(s)
    }
}

/// A plan together with the one run spec it froze.
pub(crate) struct Frozen {
    pub(crate) plan: Plan,
    pub(crate) spec: Option<RunSpec>,
}

/// The placeholders a step needs, secret ones marked.
fn placeholders_of(step: &Step) -> Vec<Placeholder> {
    scan_placeholders(&step.script)
        .into_iter()
        .map(|p| {
            if is_secret_name(&p.name) {
                p.secret()
            } else {
                p
            }
        })
        .collect()
}

/// The runbook's `params` defaults, as a binding source.
pub(crate) fn param_defaults(rb: &Runbook) -> BTreeMap<String, String> {
    rb.front_matter
        .as_ref()
        .map(|f| {
            f.params
                .iter()
                .filter_map(|(k, p)| p.default.clone().map(|d| (k.clone(), d)))
                .collect()
        })
        .unwrap_or_default()
}

/// Names that carry secrets: their values are passed to the process but never shown.
pub(crate) fn is_secret_name(name: &str) -> bool {
    let up = name.to_ascii_uppercase();
    [
        "PASSWORD",
        "PASSWD",
        "SECRET",
        "TOKEN",
        "API_KEY",
        "APIKEY",
        "PRIVATE_KEY",
        "CREDENTIAL",
    ]
    .iter()
    .any(|s| up.contains(s))
}

/// The check every value not from the runbook passes: the declared type when the
/// runbook declares one, else, for values from outside, the conservative default rule.
/// A person's untyped value is theirs to confirm (the gate sees to that).
pub(crate) fn check_value(
    rb: &Runbook,
    name: &str,
    value: &str,
    trust: Trust,
) -> Result<(), String> {
    let declared = rb.front_matter.as_ref().and_then(|f| {
        f.params
            .iter()
            .find(|(k, _)| k.as_str() == name)
            .or_else(|| f.params.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
            .and_then(|(_, p)| p.ty.as_ref())
    });
    // Redaction masks a secret's literal; a very short one would show where it sits.
    if is_secret_name(name) && value.chars().count() < sitrep_executor::Redactor::MIN_LITERAL_CHARS
    {
        return Err(format!(
            "a secret shorter than {} characters cannot be kept out of the output",
            sitrep_executor::Redactor::MIN_LITERAL_CHARS
        ));
    }
    match (declared, trust) {
        (None, Trust::Person) => Ok(()),
        (ty, _) => sitrep_runbook::check_value(ty, value).map_err(|e| e.to_string()),
    }
}

/// The classifier the library judged the runbook with: the config's site rules, then
/// the runbook's own `risk:` rules (as `sitrep_runbook::parse_with_rules` merges them).
fn classifier_of(site: &[sitrep_risk::CustomRule], rb: &Runbook) -> Classifier {
    let own = rb.front_matter.as_ref().map(|f| f.risk.as_slice());
    let rules: Vec<_> = site
        .iter()
        .chain(own.unwrap_or_default())
        .cloned()
        .collect();
    if rules.is_empty() {
        Classifier::builtin()
    } else {
        Classifier::with_custom(&rules)
    }
}

/// One line per command that is not read, saying why.
fn reasons_of(risk: &ScriptRisk, out: &mut Vec<String>) {
    for c in risk.commands.iter().filter(|c| c.level != Level::Read) {
        let why: Vec<_> = c
            .reasons
            .iter()
            .map(|r| format!("{} ({})", r.rule, r.level))
            .collect();
        let why = if why.is_empty() {
            "no rule knows it".to_owned()
        } else {
            why.join(", ")
        };
        let line = format!("`{}` is {}: {why}", c.text, c.level);
        if !out.contains(&line) {
            out.push(line);
        }
    }
}

/// What the gate is asked about `plan` (the same when planning and when running).
pub(crate) fn gate_request<'a>(
    incident: &'a Incident,
    req: &'a RunRequest,
    plan: &Plan,
    approvers: &'a [String],
) -> GateRequest<'a> {
    GateRequest {
        level: plan.risk,
        mode: req.mode,
        severity: Some(&incident.severity),
        actor: &req.actor.name,
        confirmed: req.confirmed.as_deref(),
        approvals: approvers,
        person_values: plan.bindings.iter().any(|b| b.trust == Trust::Person),
    }
}

/// The run spec a step's bound script runs as.
fn spec_of(step: &Step, bound: sitrep_executor::BoundScript) -> RunSpec {
    let expect = step.attributes.expect.as_ref().and_then(|e| {
        let mut m = serde_json::Map::new();
        if let Some(x) = e.exit_code {
            m.insert("exit".into(), x.into());
        }
        if let Some(c) = &e.contains {
            m.insert("contains".into(), c.clone().into());
        }
        Expect::from_json(&serde_json::Value::Object(m)).ok()
    });
    RunSpec {
        step_id: step.id.clone(),
        bound,
        interpreter: step.attributes.interpreter.clone(),
        timeout: step.attributes.timeout,
        cwd: step.attributes.cwd.clone().map(Into::into),
        expect,
    }
}

impl App {
    /// Values for a step of `incident`: `--set` (a person), then the incident's fields,
    /// then its firing alerts' labels and annotations (all from outside), then the
    /// runbook's `params` defaults.
    pub(crate) async fn values(
        &self,
        incident: &Incident,
        set: &BTreeMap<String, String>,
        params: BTreeMap<String, String>,
    ) -> Result<Values, AppError> {
        let mut inc = BTreeMap::new();
        inc.insert("incident".to_owned(), incident.id.clone());
        inc.insert("incident_id".to_owned(), incident.id.clone());
        inc.insert("incident_number".to_owned(), incident.number.to_string());
        inc.insert("severity".to_owned(), incident.severity.clone());
        inc.insert("title".to_owned(), incident.title.clone());
        if let Some(s) = &incident.service {
            inc.insert("service".to_owned(), s.clone());
        }
        let alerts = self.inner.store.alerts_for(&incident.id).await?;
        let mut labels = BTreeMap::new();
        let mut annotations = BTreeMap::new();
        // Firing alerts first, newest first: their values describe the problem now.
        let mut ordered: Vec<_> = alerts.iter().collect();
        ordered.sort_by_key(|a| (a.status != "firing", -a.updated_ms));
        for a in ordered {
            for (k, v) in &a.labels {
                labels.entry(k.clone()).or_insert_with(|| v.clone());
            }
            for (k, v) in &a.annotations {
                annotations.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        Ok(Values::new()
            .with_source("--set", Trust::Person, set.clone())
            .with_source("incident", Trust::Outside, inc)
            .with_source("alert label", Trust::Outside, labels)
            .with_source("alert annotation", Trust::Outside, annotations)
            .with_source("runbook params", Trust::Runbook, params))
    }

    /// Binds once, judges the bound command, freezes the plan and asks the gate, with
    /// `approvers` from a granted approval for exactly this plan.
    pub(crate) async fn freeze(
        &self,
        incident: &Incident,
        (path, rb, step): (&str, &Runbook, &Step),
        req: &RunRequest,
        approvers: &[String],
    ) -> Result<Frozen, AppError> {
        let mut plan = Plan {
            id: String::new(),
            runbook: path.to_owned(),
            step_id: step.id.clone(),
            title: step.title.clone(),
            role: step.role,
            risk: step.risk.level,
            reasons: Vec::new(),
            display: String::new(),
            bindings: Vec::new(),
            state: PlanState::Unbound(Vec::new()),
        };
        reasons_of(&step.risk, &mut plan.reasons);
        let values = self.values(incident, &req.set, param_defaults(rb)).await?;
        let check = |name: &str, value: &str, trust: Trust| check_value(rb, name, value, trust);
        let bound = match bind(&step.script, &placeholders_of(step), &values, &check) {
            Ok(b) => b,
            Err(BindError::Unbound(names)) => {
                plan.state = PlanState::Unbound(names);
                return Ok(Frozen { plan, spec: None });
            }
            Err(BindError::Refused(r)) => {
                plan.state = PlanState::Refused(r);
                return Ok(Frozen { plan, spec: None });
            }
            Err(e) => return Err(AppError::invalid("step", e.to_string())),
        };
        // Judged on what runs: where the values land (re-parsed text, a command name)
        // and the command as the tool reads it, values in place.
        let classifier = classifier_of(&self.inner.config.risk, rb);
        for view in [&bound.marked, &bound.display] {
            let risk = classifier.classify(view);
            plan.risk = plan.risk.max(risk.level);
            reasons_of(&risk, &mut plan.reasons);
        }
        plan.display = self.redact(&bound.display);
        plan.bindings.clone_from(&bound.bindings);
        let spec = spec_of(step, bound);
        plan.id = plan_id(&spec, path, plan.risk);
        let decision = gate(
            &gate_request(incident, req, &plan, approvers),
            &plan.id,
            &self.policy(),
        );
        plan.state = PlanState::Gated(decision);
        Ok(Frozen {
            plan,
            spec: Some(spec),
        })
    }

    pub(crate) fn policy(&self) -> Policy {
        Policy {
            approvals: self
                .inner
                .config
                .policy
                .approvals
                .iter()
                .filter_map(|r| Some((Level::parse(&r.level)?, r.severities.clone())))
                .collect(),
        }
    }
}
