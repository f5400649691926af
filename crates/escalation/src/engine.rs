//! The engine: config + incident state + `now` -> pages and reminders due, with
//! deterministic ids so a sweeper can retry and restart without double-paging.

use std::collections::BTreeSet;
use std::fmt;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::config::{Config, Contact, Policy, SeveritySettings, Target};

/// What the engine needs to know about one incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentState {
    /// The incident id; the first part of every page and reminder id.
    pub id: String,
    /// The service it belongs to, which picks the policy.
    pub service: String,
    /// Its severity name, e.g. `SEV1`, which picks the ack target and update cadence.
    pub severity: String,
    /// When it was declared; the policy's clock starts here.
    pub declared_at: Timestamp,
    /// When someone acknowledged it; paging stops.
    pub acknowledged_at: Option<Timestamp>,
    /// When it resolved; paging and reminders stop.
    pub resolved_at: Option<Timestamp>,
    /// When the commander last posted a status update.
    pub last_update_at: Option<Timestamp>,
    /// The commander's person id, carried into reminders.
    pub commander: Option<String>,
    /// Ids of pages and reminders already delivered (or handed to delivery).
    pub sent: BTreeSet<String>,
    /// Settings for its severity that win over the config's: its runbook's severity
    /// scale, when the runbook has a row for this level. `None`: the config's.
    pub severity_settings: Option<SeveritySettings>,
}

impl IncidentState {
    /// A freshly declared incident: nothing acknowledged, updated or sent.
    pub fn declared(
        id: impl Into<String>,
        service: impl Into<String>,
        severity: impl Into<String>,
        declared_at: Timestamp,
    ) -> Self {
        Self {
            id: id.into(),
            service: service.into(),
            severity: severity.into(),
            declared_at,
            acknowledged_at: None,
            resolved_at: None,
            last_update_at: None,
            commander: None,
            sent: BTreeSet::new(),
            severity_settings: None,
        }
    }

    /// When paging stops: the first of acknowledgement and resolution.
    fn paging_stops(&self) -> Option<Timestamp> {
        match (self.acknowledged_at, self.resolved_at) {
            (Some(a), Some(r)) => Some(a.min(r)),
            (a, r) => a.or(r),
        }
    }
}

/// A page id: `incident:policy:cCYCLE:lLEVEL:KIND:TARGET:CONTACT`. Every part after the
/// incident id is a config id (no `:`), so the id is unambiguous read from the right.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PageId(pub String);

impl fmt::Display for PageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One message to one contact method, due at one instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page {
    /// Stable across calls: de-duplicate deliveries by it.
    pub id: PageId,
    /// The incident id.
    pub incident: String,
    /// The policy that paged.
    pub policy: String,
    /// 0 for the first run of the policy, 1 for the first repeat, ...
    pub cycle: u32,
    /// The level index within the policy, from 0.
    pub level: usize,
    /// When the level fired.
    pub due_at: Timestamp,
    /// The level target this page came from.
    pub target: Target,
    /// The person paged; `None` for a channel.
    pub person: Option<String>,
    /// Where to deliver.
    pub contact: Contact,
}

/// What a reminder asks of the commander.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReminderKind {
    /// The severity's update cadence elapsed since the last status update.
    StatusUpdate,
    /// Nobody acknowledged within the severity's acknowledgement target.
    AckOverdue,
    /// The incident resolved; post the final update.
    FinalUpdate,
    /// Still unresolved when the severity says to escalate (`escalate_after`).
    EscalateOverdue,
}

/// A nudge to the incident commander.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reminder {
    /// Stable across calls, like a page id.
    pub id: String,
    /// The incident id.
    pub incident: String,
    /// What to do.
    pub kind: ReminderKind,
    /// When it became due.
    pub due_at: Timestamp,
    /// The commander's person id, if the incident has one.
    pub commander: Option<String>,
}

/// Everything due for one incident at `now`, and when to look again.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Due {
    /// Pages due and not yet in the sent set, in firing order.
    pub pages: Vec<Page>,
    /// Reminders due and not yet sent.
    pub reminders: Vec<Reminder>,
    /// The earliest instant after `now` at which something new becomes due; `None` when
    /// nothing ever will (acknowledged and resolved, or the policy ran out).
    pub next_wakeup: Option<Timestamp>,
}

/// Why the engine cannot work on an incident.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EscalationError {
    /// No `services` entry names the service and there is no `default_policy`.
    #[error("service `{0}` has no escalation policy (and there is no default_policy)")]
    NoPolicy(String),
    /// The service names a policy the config does not define.
    #[error("service `{service}` uses policy `{policy}`, which is not defined")]
    UnknownPolicy {
        /// The service.
        service: String,
        /// The missing policy id.
        policy: String,
    },
    /// The incident's severity is not in the severity table.
    #[error("unknown severity `{severity}` (known: {known})")]
    UnknownSeverity {
        /// The severity given.
        severity: String,
        /// The known names, comma-separated.
        known: String,
    },
}

/// When one level of one cycle fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Firing {
    /// 0 for the first run, then one per repeat.
    pub cycle: u32,
    /// Level index.
    pub level: usize,
    /// The instant it fires.
    pub at: Timestamp,
}

impl Policy {
    /// Every level firing from declaration onward, in time order: cycle 0 levels at their
    /// cumulative delays, then each repeat `repeat_after` after the previous cycle's last
    /// level. Ends early if an instant would overflow the representable range.
    pub fn firings(&self, declared_at: Timestamp) -> impl Iterator<Item = Firing> + '_ {
        let mut prev: Option<Timestamp> = None;
        (0..=self.repeat)
            .flat_map(move |cycle| (0..self.levels.len()).map(move |level| (cycle, level)))
            .map_while(move |(cycle, level)| {
                let delay = match (cycle, level) {
                    (0, 0) => self.levels.first()?.delay,
                    (_, 0) => self.repeat_after,
                    (_, l) => self.levels.get(l)?.delay,
                };
                let at = prev.unwrap_or(declared_at).checked_add(delay).ok()?;
                prev = Some(at);
                Some(Firing { cycle, level, at })
            })
    }
}

impl Config {
    fn resolve(&self, st: &IncidentState) -> Result<(&Policy, SeveritySettings), EscalationError> {
        let pid = self
            .policy_id_for(&st.service)
            .ok_or_else(|| EscalationError::NoPolicy(st.service.clone()))?;
        let policy = self
            .policy(pid)
            .ok_or_else(|| EscalationError::UnknownPolicy {
                service: st.service.clone(),
                policy: pid.to_string(),
            })?;
        let sev = st
            .severity_settings
            .clone()
            .or_else(|| self.severity(&st.severity))
            .ok_or_else(|| EscalationError::UnknownSeverity {
                severity: st.severity.clone(),
                known: self.severities().into_keys().collect::<Vec<_>>().join(", "),
            })?;
        Ok((policy, sev))
    }

    /// The pages one firing sends: each target expanded to contact methods (a rotation
    /// to whoever is on call at the firing instant), a contact paged once per level.
    pub(crate) fn pages_for(&self, incident: &str, policy: &Policy, f: Firing) -> Vec<Page> {
        let Some(level) = policy.levels.get(f.level) else {
            return Vec::new();
        };
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for target in &level.targets {
            let (person, contacts): (Option<&str>, Vec<&Contact>) = match target {
                Target::Person(id) => match self.person(id) {
                    Some(p) => (Some(&p.id), p.contacts.iter().collect()),
                    None => continue,
                },
                Target::Rotation(id) => {
                    match self
                        .rotation(id)
                        .and_then(|r| r.on_call(f.at))
                        .and_then(|pid| self.person(pid))
                    {
                        Some(p) => (Some(&p.id), p.contacts.iter().collect()),
                        None => continue,
                    }
                }
                Target::Channel(id) => match self.channel(id) {
                    Some(c) => (None, vec![&c.contact]),
                    None => continue,
                },
            };
            for contact in contacts {
                if !seen.insert(contact.id.as_str()) {
                    continue;
                }
                let (kind, tid) = match target {
                    Target::Person(t) => ("person", t),
                    Target::Rotation(t) => ("rotation", t),
                    Target::Channel(t) => ("channel", t),
                };
                out.push(Page {
                    id: PageId(format!(
                        "{incident}:{}:c{}:l{}:{kind}:{tid}:{}",
                        policy.id, f.cycle, f.level, contact.id
                    )),
                    incident: incident.to_string(),
                    policy: policy.id.clone(),
                    cycle: f.cycle,
                    level: f.level,
                    due_at: f.at,
                    target: target.clone(),
                    person: person.map(str::to_string),
                    contact: contact.clone(),
                });
            }
        }
        out
    }
}

/// Everything due for `st` at `now`: pages of every level that has fired and is not in
/// `st.sent`, reminders likewise, and the next instant anything new becomes due.
///
/// Nothing pages once the incident is acknowledged or resolved at or before `now`. The
/// result depends only on the arguments, so calling it again with the same sent set
/// returns the same items (a sweeper that crashed before recording a delivery sends it
/// again: at least once, de-duplicated by id).
pub fn due(cfg: &Config, st: &IncidentState, now: Timestamp) -> Result<Due, EscalationError> {
    let (policy, sev) = cfg.resolve(st)?;
    let mut out = Due::default();
    let mut wake = Wakeup(None);
    let stops = st.paging_stops();
    if stops.is_none_or(|s| s > now) {
        for f in policy.firings(st.declared_at) {
            if f.at > now {
                if stops.is_none_or(|s| f.at < s) {
                    wake.at(f.at);
                }
                break;
            }
            out.pages.extend(
                cfg.pages_for(&st.id, policy, f)
                    .into_iter()
                    .filter(|p| !st.sent.contains(&p.id.0)),
            );
        }
    }
    reminders(st, &sev, now, &mut out.reminders, &mut wake);
    out.next_wakeup = wake.0;
    Ok(out)
}

/// The earliest of several candidate instants.
struct Wakeup(Option<Timestamp>);

impl Wakeup {
    fn at(&mut self, t: Timestamp) {
        self.0 = Some(self.0.map_or(t, |w| w.min(t)));
    }
}

fn reminders(
    st: &IncidentState,
    sev: &SeveritySettings,
    now: Timestamp,
    out: &mut Vec<Reminder>,
    wake: &mut Wakeup,
) {
    let resolved = st.resolved_at.filter(|r| *r <= now);
    let mut push = |id: String, kind, due_at| {
        if !st.sent.contains(&id) {
            out.push(Reminder {
                id,
                incident: st.id.clone(),
                kind,
                due_at,
                commander: st.commander.clone(),
            });
        }
    };
    // Acknowledgement target missed: once, while still unacknowledged and unresolved.
    if let Some(target) = sev.ack_target
        && let Ok(at) = st.declared_at.checked_add(target)
        && st.acknowledged_at.is_none_or(|a| a > at)
        && st.resolved_at.is_none_or(|r| r > at)
    {
        if at <= now {
            if st.paging_stops().is_none_or(|s| s > now) {
                push(
                    format!("{}:ack-overdue", st.id),
                    ReminderKind::AckOverdue,
                    at,
                );
            }
        } else {
            wake.at(at);
        }
    }
    // Escalation due: once, when still unresolved `escalate_after` after declaration.
    if let Some(after) = sev.escalate_after
        && let Ok(at) = st.declared_at.checked_add(after)
        && st.resolved_at.is_none_or(|r| r > at)
    {
        if at <= now {
            push(
                format!("{}:escalate-overdue", st.id),
                ReminderKind::EscalateOverdue,
                at,
            );
        } else {
            wake.at(at);
        }
    }
    // Status updates: the latest cadence point since the last update, until resolution.
    if let Some(every) = sev.update_every.filter(|e| e.is_positive()) {
        let last = st
            .last_update_at
            .unwrap_or(st.declared_at)
            .max(st.declared_at);
        // Whole cadences since the last update, exact to the nanosecond.
        let k = now.duration_since(last).as_nanos() / every.as_nanos().max(1);
        let k = i64::try_from(k).unwrap_or(i64::MAX);
        let point = |k: i64| -> Option<Timestamp> {
            let span = every.checked_mul(i32::try_from(k).ok()?)?;
            last.checked_add(span).ok()
        };
        if k >= 1
            && let Some(at) = point(k)
            && resolved.is_none_or(|r| at < r)
        {
            push(
                format!("{}:update:{}:{k}", st.id, last.as_second()),
                ReminderKind::StatusUpdate,
                at,
            );
        }
        if resolved.is_none()
            && let Some(next) = point(k.max(0) + 1)
            && st.resolved_at.is_none_or(|r| next < r)
        {
            wake.at(next);
        }
    }
    // Final update on resolution, unless one was posted at or after it.
    if sev.update_on_resolve
        && let Some(r) = st.resolved_at
        && st.last_update_at.is_none_or(|u| u < r)
    {
        if r <= now {
            push(
                format!("{}:final-update", st.id),
                ReminderKind::FinalUpdate,
                r,
            );
        } else {
            wake.at(r);
        }
    }
}

/// Who would be paged when, for an incident of `service` at `severity` declared at `from`
/// that nobody acknowledges, up to `from + horizon`.
pub fn simulate(
    cfg: &Config,
    service: &str,
    severity: &str,
    from: Timestamp,
    horizon: SignedDuration,
) -> Result<Vec<(Timestamp, Page)>, EscalationError> {
    let st = IncidentState::declared("simulated", service, severity, from);
    let (policy, _) = cfg.resolve(&st)?;
    let end = from.checked_add(horizon).unwrap_or(Timestamp::MAX);
    Ok(policy
        .firings(from)
        .take_while(|f| f.at <= end)
        .flat_map(|f| cfg.pages_for(&st.id, policy, f))
        .map(|p| (p.due_at, p))
        .collect())
}
