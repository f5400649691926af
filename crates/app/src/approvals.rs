//! Second-person approvals for gated runs: requested by a run the policy holds back,
//! granted by someone else, used up by exactly one run.
//!
//! Approvals are stored (they survive a restart and every replica sees them) and sealed
//! in the ledger: `approval.requested` and `approval.granted`, and the run's own
//! `step.run` names the approval it used. What is stored is what the approver could
//! see: the runbook, the step, the command as displayed and the values, with secret
//! values masked and everything redacted. A repeat of the same run (same step, same
//! shown command and values, same requester) finds the pending approval instead of
//! asking again, and once it is granted uses it, with or without naming its id; a run
//! presenting an approval must match it the same way.
//!
//! People are compared as principals ([`Principal`]): the requester and each approver
//! are stored with their id (a token's id through the server, `cli:NAME` from the CLI)
//! as well as their name. Someone else means another id *and* another name, and only
//! the requester's own id may use the approval. Approvals stored before ids were kept
//! (they live 30 minutes) read as `cli:NAME`, which is what the names alone proved.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sitrep_store::{ApprovalRow, Change, Incident, StoreError, Write};

use crate::app::App;
use crate::error::AppError;
use crate::events;
use crate::identity::Principal;
use crate::stamp::now_ms;

/// How long an approval request stays valid, granted or not.
pub const APPROVAL_TTL_MS: i64 = 30 * 60 * 1000;
/// Most open approvals one incident may have; more is refused rather than stored.
pub const MAX_OPEN_PER_INCIDENT: usize = 100;
/// What a secret value is shown (and stored) as.
const SECRET_MASK: &str = "[secret]";

/// A run waiting for, or given, a second person's approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    /// Its id, to approve and to name in the run request.
    pub id: String,
    /// Incident id.
    pub incident_id: String,
    /// Runbook path.
    pub runbook: String,
    /// Step id.
    pub step: String,
    /// The values given for the run, secret ones masked, all redacted.
    pub set: BTreeMap<String, String>,
    /// The exact command as shown to the requester and the approver (redacted).
    pub display: String,
    /// The plan id of exactly what was approved (command, values, sources, settings).
    #[serde(default)]
    pub plan: String,
    /// Why the policy asks for an approval.
    pub reason: String,
    /// Who asked to run it (the name).
    pub requested_by: String,
    /// Who asked to run it (the principal id).
    #[serde(default)]
    pub requested_by_id: String,
    /// Who approved it so far (names).
    pub approvers: Vec<String>,
    /// Who approved it so far (principal ids, in the order of `approvers`).
    #[serde(default)]
    pub approver_ids: Vec<String>,
    /// Unix ms when it was requested.
    pub requested_ms: i64,
    /// Unix ms after which it can no longer be granted or used.
    pub expires_ms: i64,
    /// The run that used it up, if one did.
    #[serde(default)]
    pub used_by_run: Option<String>,
}

/// The part of a run request an approval is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Subject {
    pub(crate) incident_id: String,
    pub(crate) runbook: String,
    pub(crate) step: String,
    pub(crate) set: BTreeMap<String, String>,
    pub(crate) display: String,
    pub(crate) plan: String,
    pub(crate) requested_by: Principal,
}

impl Approval {
    fn from_row(row: &ApprovalRow) -> Result<Approval, AppError> {
        let mut a: Approval = serde_json::from_str(&row.body).map_err(|e| {
            AppError::Internal(format!("stored approval {} does not parse: {e}", row.id))
        })?;
        // The row's columns are the truth for what the store itself maintains.
        a.id.clone_from(&row.id);
        a.incident_id.clone_from(&row.incident_id);
        a.used_by_run.clone_from(&row.used_run);
        // Stored before principal ids were: the names were all there was.
        if a.requested_by_id.is_empty() {
            a.requested_by_id = Principal::asserted(&a.requested_by).id;
        }
        for name in a.approvers.iter().skip(a.approver_ids.len()) {
            a.approver_ids.push(Principal::asserted(name).id);
        }
        Ok(a)
    }

    /// The requester as a principal.
    #[must_use]
    pub fn requester(&self) -> Principal {
        Principal {
            id: self.requested_by_id.clone(),
            name: self.requested_by.clone(),
        }
    }

    /// The approvers as principals.
    fn approver_principals(&self) -> impl Iterator<Item = Principal> + '_ {
        self.approver_ids
            .iter()
            .zip(&self.approvers)
            .map(|(id, name)| Principal {
                id: id.clone(),
                name: name.clone(),
            })
    }

    /// The names of the approvers who are someone other than the requester (another
    /// id and another name): what the gate counts and `step.run` names.
    #[must_use]
    pub fn separate_approvers(&self) -> Vec<String> {
        let requester = self.requester();
        self.approver_principals()
            .filter(|p| p.is_other_than(&requester))
            .map(|p| p.name)
            .collect()
    }

    fn is_for(&self, s: &Subject) -> bool {
        self.incident_id == s.incident_id
            && self.runbook == s.runbook
            && self.step == s.step
            && self.set == s.set
            && self.display == s.display
            && self.plan == s.plan
            && self.requested_by_id == s.requested_by.id
            && self.requested_by == s.requested_by.name
    }

    /// True when someone other than the requester (another id and another name)
    /// approved it.
    #[must_use]
    pub fn is_granted(&self) -> bool {
        !self.separate_approvers().is_empty()
    }
}

impl App {
    /// What an approval must match: `set` as stored (secret values masked, redacted).
    pub(crate) fn approval_subject(
        &self,
        incident: &Incident,
        runbook: &str,
        step: &sitrep_runbook::Step,
        req: &crate::RunRequest,
        plan: &crate::Plan,
    ) -> Subject {
        let set = req
            .set
            .iter()
            .map(|(k, v)| {
                let shown = if crate::plan::is_secret_name(k) {
                    SECRET_MASK.to_owned()
                } else {
                    self.redact(v)
                };
                (k.clone(), shown)
            })
            .collect();
        Subject {
            incident_id: incident.id.clone(),
            runbook: runbook.to_owned(),
            step: step.id.clone(),
            set,
            display: plan.display.clone(),
            plan: plan.id.clone(),
            requested_by: req.actor.clone(),
        }
    }

    /// The open approval for exactly this run, or a new one (stored, with an
    /// `approval.requested` event).
    pub(crate) async fn request_approval(
        &self,
        subject: Subject,
        reason: &str,
    ) -> Result<Approval, AppError> {
        let now = now_ms();
        let open = self
            .inner
            .store
            .open_approvals(&subject.incident_id, now)
            .await?;
        for row in &open {
            let a = Approval::from_row(row)?;
            if a.is_for(&subject) {
                return Ok(a);
            }
        }
        if open.len() >= MAX_OPEN_PER_INCIDENT {
            return Err(AppError::invalid(
                "approval",
                format!(
                    "incident has {MAX_OPEN_PER_INCIDENT} open approval requests; \
                     use or let some expire first"
                ),
            ));
        }
        let a = Approval {
            id: uuid::Uuid::now_v7().to_string(),
            incident_id: subject.incident_id,
            runbook: subject.runbook,
            step: subject.step,
            set: subject.set,
            display: subject.display,
            plan: subject.plan,
            reason: self.redact(reason),
            requested_by: subject.requested_by.name,
            requested_by_id: subject.requested_by.id,
            approvers: Vec::new(),
            approver_ids: Vec::new(),
            requested_ms: now,
            expires_ms: now + APPROVAL_TTL_MS,
            used_by_run: None,
        };
        let rec = events::record(
            events::APPROVAL_REQUESTED,
            &a.incident_id,
            now,
            &a.requester(),
            [
                ("approval", a.id.clone()),
                ("runbook", a.runbook.clone()),
                ("step", a.step.clone()),
                ("command", a.display.clone()),
                ("plan", a.plan.clone()),
                ("reason", a.reason.clone()),
                ("principal", a.requested_by_id.clone()),
            ],
        );
        self.inner
            .store
            .commit(Change {
                writes: vec![Write::InsertApproval(ApprovalRow {
                    id: a.id.clone(),
                    incident_id: a.incident_id.clone(),
                    body: to_body(&a)?,
                    requested_ms: a.requested_ms,
                    expires_ms: a.expires_ms,
                    used_run: None,
                    version: 1,
                })],
                events: vec![rec],
            })
            .await?;
        Ok(a)
    }

    /// The incident's approvals that can still be granted or used, oldest first.
    pub async fn approvals(&self, incident: &str) -> Result<Vec<Approval>, AppError> {
        let incident = self.incident(incident).await?;
        self.inner
            .store
            .open_approvals(&incident.id, now_ms())
            .await?
            .iter()
            .map(Approval::from_row)
            .collect()
    }

    /// Approves a pending run as `approver`, who must be someone other than the
    /// requester: another principal id and another name (the caller checks the
    /// approver's role). Approving twice is harmless.
    pub async fn approve(
        &self,
        incident: &str,
        approval: &str,
        approver: &Principal,
    ) -> Result<Approval, AppError> {
        approver.check()?;
        let incident = self.incident(incident).await?;
        for _ in 0..8 {
            let row = self
                .open_approval(&incident, approval)
                .await?
                .ok_or_else(|| AppError::NotFound {
                    what: "open approval",
                    id: approval.to_owned(),
                })?;
            let mut a = Approval::from_row(&row)?;
            if !approver.is_other_than(&a.requester()) {
                return Err(AppError::SelfApproval);
            }
            if a.approver_ids.contains(&approver.id) {
                return Ok(a);
            }
            a.approvers.push(approver.name.clone());
            a.approver_ids.push(approver.id.clone());
            let rec = events::record(
                events::APPROVAL_GRANTED,
                &incident.id,
                now_ms(),
                approver,
                [
                    ("approval", a.id.clone()),
                    ("runbook", a.runbook.clone()),
                    ("step", a.step.clone()),
                    ("requested_by", a.requested_by.clone()),
                    ("requested_by_id", a.requested_by_id.clone()),
                    ("principal", approver.id.clone()),
                ],
            );
            let change = Change {
                writes: vec![Write::UpdateApproval {
                    id: a.id.clone(),
                    body: to_body(&a)?,
                    expected_version: row.version,
                }],
                events: vec![rec],
            };
            match self.inner.store.commit(change).await {
                Ok(_) => return Ok(a),
                // Someone approved or used it meanwhile: read it again.
                Err(StoreError::Conflict { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Err(AppError::Busy { id: incident.id })
    }

    /// The approval a run presents, checked against the run: open, granted by someone
    /// else, and for exactly this run.
    pub(crate) async fn approval_for_run(
        &self,
        incident: &Incident,
        id: &str,
        subject: &Subject,
    ) -> Result<Approval, AppError> {
        let row = self.open_approval(incident, id).await?.ok_or_else(|| {
            AppError::invalid(
                "approval",
                format!("no open approval {id} (expired, used or never requested)"),
            )
        })?;
        let a = Approval::from_row(&row)?;
        if !a.is_for(subject) {
            return Err(AppError::invalid(
                "approval",
                "the approval is for another run (step, values, command or requester differ)",
            ));
        }
        if !a.is_granted() {
            return Err(AppError::invalid(
                "approval",
                "nobody has approved this run yet",
            ));
        }
        Ok(a)
    }

    /// The open approval for exactly this run, if someone other than the requester
    /// granted it.
    pub(crate) async fn granted_approval(
        &self,
        subject: &Subject,
    ) -> Result<Option<Approval>, AppError> {
        for row in self
            .inner
            .store
            .open_approvals(&subject.incident_id, now_ms())
            .await?
        {
            let a = Approval::from_row(&row)?;
            if a.is_for(subject) && a.is_granted() {
                return Ok(Some(a));
            }
        }
        Ok(None)
    }

    /// An approval of `incident` that is neither used nor expired.
    async fn open_approval(
        &self,
        incident: &Incident,
        id: &str,
    ) -> Result<Option<ApprovalRow>, AppError> {
        let row = self.inner.store.approval(id).await?;
        Ok(row.filter(|r| {
            r.incident_id == incident.id && r.used_run.is_none() && r.expires_ms > now_ms()
        }))
    }
}

fn to_body(a: &Approval) -> Result<String, AppError> {
    serde_json::to_string(a).map_err(|e| AppError::Internal(e.to_string()))
}
