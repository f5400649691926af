//! Paging by hand: the next level of an incident's policy now, or one person now; and a
//! rotation's coming hand-offs and overrides for the on-call page. Pure, like the engine:
//! `now` is an argument.

use std::collections::BTreeSet;

use jiff::Timestamp;

use crate::config::{Config, Override, Rotation, Target};
use crate::engine::{EscalationError, Firing, IncidentState, Page, PageId};

/// Why a hand-made page cannot go out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManualError {
    /// The incident's policy could not be found (see [`EscalationError`]).
    #[error(transparent)]
    Policy(#[from] EscalationError),
    /// Every level of the policy, repeats included, has fired or been escalated to.
    /// `levels` is how many levels it has: counted from 1, as the `page.escalated`
    /// record counts them, the last one is level `levels`.
    #[error("no escalation level left after level {levels} (policy `{policy}`, repeats included)")]
    NoLevelLeft {
        /// The policy.
        policy: String,
        /// How many levels it has.
        levels: usize,
    },
    /// The person is not in the config.
    #[error("`{0}` is not a person in the escalation config")]
    UnknownPerson(String),
    /// The person has no contact method.
    #[error("`{0}` has no contact method to page")]
    NoContact(String),
}

/// The pages of escalating `st` now: the first level firing of its policy that is still
/// ahead of `now` and not yet sent, with a rotation resolved to whoever is on call `now`.
///
/// The page ids are the engine's ids for that firing, so once they are in the sent set
/// the sweeper never sends that level again when its time comes, and the next
/// escalation goes one level further. Levels that page nobody are skipped.
///
/// # Errors
/// The policy cannot be found, or it has no level left.
pub fn escalate_now(
    cfg: &Config,
    st: &IncidentState,
    now: Timestamp,
) -> Result<Vec<Page>, ManualError> {
    let pid = cfg
        .policy_id_for(&st.service)
        .ok_or_else(|| EscalationError::NoPolicy(st.service.clone()))?;
    let policy = cfg
        .policy(pid)
        .ok_or_else(|| EscalationError::UnknownPolicy {
            service: st.service.clone(),
            policy: pid.to_owned(),
        })?;
    for f in policy.firings(st.declared_at).filter(|f| f.at > now) {
        let pages = cfg.pages_for(&st.id, policy, Firing { at: now, ..f });
        if !pages.is_empty() && pages.iter().any(|p| !st.sent.contains(&p.id.0)) {
            return Ok(pages
                .into_iter()
                .filter(|p| !st.sent.contains(&p.id.0))
                .collect());
        }
    }
    Err(ManualError::NoLevelLeft {
        policy: policy.id.clone(),
        levels: policy.levels.len(),
    })
}

/// Pages to every contact method of `person` now, for `incident`. `tag` makes the ids
/// of this request unique (the caller's request id): paging the same person twice is
/// two pages, and one request retried is one.
///
/// # Errors
/// An unknown person, or one without a contact method.
pub fn page_person(
    cfg: &Config,
    incident: &str,
    person: &str,
    tag: &str,
    now: Timestamp,
) -> Result<Vec<Page>, ManualError> {
    let p = cfg
        .person(person)
        .ok_or_else(|| ManualError::UnknownPerson(person.to_owned()))?;
    if p.contacts.is_empty() {
        return Err(ManualError::NoContact(person.to_owned()));
    }
    let mut seen = BTreeSet::new();
    Ok(p.contacts
        .iter()
        .filter(|c| seen.insert(c.id.as_str()))
        .map(|c| Page {
            id: PageId(format!("{incident}:manual:{tag}:person:{}:{}", p.id, c.id)),
            incident: incident.to_owned(),
            policy: "manual".to_owned(),
            cycle: 0,
            level: 0,
            due_at: now,
            target: Target::Person(p.id.clone()),
            person: Some(p.id.clone()),
            contact: c.clone(),
        })
        .collect())
}

/// One coming change of who is scheduled in a rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handover {
    /// When the turn passes.
    pub at: Timestamp,
    /// Who is scheduled from then (overrides aside).
    pub to: String,
}

impl Rotation {
    /// The next `n` hand-offs strictly after `at`, each with who takes the turn (the
    /// schedule; overrides are [`Rotation::overrides_after`]). Empty for an empty rotation.
    #[must_use]
    pub fn handovers(&self, at: Timestamp, n: usize) -> Vec<Handover> {
        let mut out = Vec::new();
        let mut t = at;
        while out.len() < n {
            let Some(h) = self.next_handoff(t) else { break };
            let Some(to) = self.scheduled(h) else { break };
            out.push(Handover {
                at: h,
                to: to.to_owned(),
            });
            t = h;
        }
        out
    }

    /// Overrides still in force or to come at `at`, by start.
    #[must_use]
    pub fn overrides_after(&self, at: Timestamp) -> Vec<&Override> {
        let mut v: Vec<&Override> = self.overrides.iter().filter(|o| o.end > at).collect();
        v.sort_by_key(|o| o.start);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CFG: &str = r#"
default_policy = "web"

[[people]]
id = "ann"
name = "Ann"
contacts = [{ id = "ann-mail", email = "ann@example.com" }]

[[people]]
id = "bob"
name = "Bob"
contacts = [{ id = "bob-mail", email = "bob@example.com" }, { id = "bob-hook", webhook = "https://hooks.example.com/bob" }]

[[people]]
id = "cy"
name = "Cy"

[[rotations]]
id = "primary"
participants = ["ann", "bob"]
handoff = "daily"
handoff_time = "09:00"
time_zone = "Europe/Berlin"
start = "2026-03-01T08:00:00Z"
overrides = [{ start = "2026-03-10T00:00:00Z", end = "2026-03-11T00:00:00Z", person = "ann" }]

[[policies]]
id = "web"
levels = [
  { delay = "0m", targets = ["rotation:primary"] },
  { delay = "10m", targets = ["person:bob"] },
  { delay = "10m", targets = [] },
  { delay = "10m", targets = ["person:ann"] },
]
"#;

    fn cfg() -> Config {
        Config::from_toml(CFG).unwrap()
    }

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn escalating_takes_the_next_level_ahead_and_then_the_one_after() {
        let cfg = cfg();
        let declared = t("2026-03-02T10:00:00Z");
        let mut st = IncidentState::declared("inc", "shop", "SEV2", declared);
        let now = t("2026-03-02T10:01:00Z");
        // Level 0 fired at declaration; the next ahead is level 1 (bob, two contacts).
        let pages = escalate_now(&cfg, &st, now).unwrap();
        let ids: Vec<&str> = pages.iter().map(|p| p.id.0.as_str()).collect();
        assert_eq!(
            ids,
            [
                "inc:web:c0:l1:person:bob:bob-mail",
                "inc:web:c0:l1:person:bob:bob-hook"
            ]
        );
        assert!(pages.iter().all(|p| p.due_at == now && p.level == 1));
        // Once sent, the engine's sweep never sends level 1 again when its time comes...
        st.sent.extend(ids.iter().map(|s| (*s).to_owned()));
        let later = crate::due(&cfg, &st, t("2026-03-02T10:15:00Z")).unwrap();
        assert!(later.pages.iter().all(|p| p.level != 1), "{later:?}");
        // ...and escalating again skips the empty level 2 for level 3.
        let pages = escalate_now(&cfg, &st, now).unwrap();
        assert_eq!(pages.len(), 1);
        assert_eq!(pages[0].id.0, "inc:web:c0:l3:person:ann:ann-mail");
        st.sent.insert(pages[0].id.0.clone());
        let err = escalate_now(&cfg, &st, now).unwrap_err();
        assert_eq!(
            err,
            ManualError::NoLevelLeft {
                policy: "web".into(),
                levels: 4
            }
        );
        assert_eq!(
            err.to_string(),
            "no escalation level left after level 4 (policy `web`, repeats included)"
        );
    }

    #[test]
    fn a_rotation_level_pages_whoever_is_on_call_now() {
        let cfg = cfg();
        // Level 0 is ahead of `now` when the incident is declared after it.
        let st = IncidentState::declared("inc", "shop", "SEV2", t("2026-03-10T12:00:00Z"));
        let pages = escalate_now(&cfg, &st, t("2026-03-10T11:00:00Z")).unwrap();
        assert_eq!(pages[0].level, 0);
        let r = cfg.rotation("primary").unwrap();
        assert_eq!(r.scheduled(t("2026-03-10T11:00:00Z")), Some("bob"));
        assert_eq!(pages[0].person.as_deref(), Some("ann"), "the override");
    }

    #[test]
    fn paging_a_person_reaches_each_contact_once_per_request() {
        let cfg = cfg();
        let now = t("2026-03-02T10:00:00Z");
        let pages = page_person(&cfg, "inc", "bob", "r1", now).unwrap();
        let ids: Vec<&str> = pages.iter().map(|p| p.id.0.as_str()).collect();
        assert_eq!(
            ids,
            [
                "inc:manual:r1:person:bob:bob-mail",
                "inc:manual:r1:person:bob:bob-hook"
            ]
        );
        assert_eq!(
            page_person(&cfg, "inc", "zed", "r1", now).unwrap_err(),
            ManualError::UnknownPerson("zed".into())
        );
        assert_eq!(
            page_person(&cfg, "inc", "cy", "r1", now).unwrap_err(),
            ManualError::NoContact("cy".into())
        );
    }

    #[test]
    fn handovers_name_who_takes_the_turn_across_dst() {
        let cfg = cfg();
        let r = cfg.rotation("primary").unwrap();
        // Berlin moves to summer time on 2026-03-29: 09:00 local is 08:00 UTC before, 07:00 after.
        let h = r.handovers(t("2026-03-28T12:00:00Z"), 3);
        let got: Vec<(String, &str)> = h
            .iter()
            .map(|h| (h.at.to_string(), h.to.as_str()))
            .collect();
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].0, "2026-03-29T07:00:00Z");
        assert_eq!(got[1].0, "2026-03-30T07:00:00Z");
        assert_ne!(got[0].1, got[1].1, "turns alternate");
        assert_eq!(got[0].1, got[2].1);
        assert_eq!(Some(got[0].1), r.scheduled(h[0].at));
        assert_eq!(r.on_call(t("2026-03-10T12:00:00Z")), Some("ann"));
        assert_eq!(r.overrides_after(t("2026-03-09T00:00:00Z")).len(), 1);
        assert!(r.overrides_after(t("2026-03-11T00:00:00Z")).is_empty());
    }
}
