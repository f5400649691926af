//! `lint`: everything in a config that would make a page go nowhere, late or twice:
//! dangling references, people nobody can reach, empty rotations, unreachable levels.

use std::collections::BTreeSet;
use std::fmt;

use jiff::SignedDuration;
use serde::Serialize;

use crate::config::{Config, Handoff, Target};

/// A level that first fires later than this after declaration is reported unreachable:
/// an incident nobody acknowledged for a day is not one paging will save.
pub const LINT_HORIZON: SignedDuration = SignedDuration::from_hours(24);

/// How bad a finding is. Errors fail `sitrep escalation lint`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingLevel {
    /// Suspicious but workable.
    Warning,
    /// A page would be lost or never sent.
    Error,
}

impl fmt::Display for FindingLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Warning => "warning",
            Self::Error => "error",
        })
    }
}

/// One problem in a config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Error or warning.
    pub level: FindingLevel,
    /// Stable kebab-case code, documented in docs/escalation.md.
    pub code: &'static str,
    /// Where: a key path such as `policies[0].levels[2]`.
    pub path: String,
    /// What is wrong, for a person.
    pub message: String,
}

/// Every finding in `cfg`, in config order.
pub fn lint(cfg: &Config) -> Vec<Finding> {
    let mut l = Lint::default();
    duplicates(cfg, &mut l);
    people(cfg, &mut l);
    rotations(cfg, &mut l);
    policies(cfg, &mut l);
    services(cfg, &mut l);
    l.0.extend(outbound_targets(cfg));
    l.0
}

/// Warnings for webhook targets that are loopback, link-local or a cloud metadata
/// service, unless their host is in `allow_targets` (also logged when a server loads
/// the config).
pub fn outbound_targets(cfg: &Config) -> Vec<Finding> {
    let mut l = Lint::default();
    let contacts = cfg
        .people
        .iter()
        .enumerate()
        .flat_map(|(i, p)| {
            p.contacts
                .iter()
                .enumerate()
                .map(move |(j, c)| (format!("people[{i}].contacts[{j}]"), c))
        })
        .chain(
            cfg.channels
                .iter()
                .enumerate()
                .map(|(i, c)| (format!("channels[{i}]"), &c.contact)),
        );
    for (path, c) in contacts {
        if matches!(c.method, crate::config::ContactMethod::Email(_)) {
            continue;
        }
        let Some(host) = crate::targets::url_host(c.method.address()) else {
            continue;
        };
        let allowed = cfg
            .allow_targets
            .iter()
            .any(|a| a.trim_matches(['[', ']']).eq_ignore_ascii_case(&host));
        if let (Some(risky), false) = (crate::targets::classify(&host), allowed) {
            l.warn(
                risky.code(),
                path,
                format!(
                    "contact `{}` sends pages to {host}, {}; if that is meant, add \
                     allow_targets = [\"{host}\"]",
                    c.id,
                    risky.what()
                ),
            );
        }
    }
    l.0
}

#[derive(Default)]
struct Lint(Vec<Finding>);

impl Lint {
    fn error(&mut self, code: &'static str, path: String, message: String) {
        self.push(FindingLevel::Error, code, path, message);
    }
    fn warn(&mut self, code: &'static str, path: String, message: String) {
        self.push(FindingLevel::Warning, code, path, message);
    }
    fn push(&mut self, level: FindingLevel, code: &'static str, path: String, message: String) {
        self.0.push(Finding {
            level,
            code,
            path,
            message,
        });
    }
}

fn duplicates(cfg: &Config, l: &mut Lint) {
    let mut check = |what: &str, ids: Vec<(String, &str)>| {
        let mut seen = BTreeSet::new();
        for (path, id) in ids {
            if !seen.insert(id) {
                l.error(
                    "duplicate-id",
                    path,
                    format!("{what} id `{id}` is defined more than once"),
                );
            }
        }
    };
    let idx = |name: &str, i: usize| format!("{name}[{i}]");
    check(
        "person",
        cfg.people
            .iter()
            .enumerate()
            .map(|(i, p)| (idx("people", i), p.id.as_str()))
            .collect(),
    );
    check(
        "rotation",
        cfg.rotations
            .iter()
            .enumerate()
            .map(|(i, r)| (idx("rotations", i), r.id.as_str()))
            .collect(),
    );
    check(
        "policy",
        cfg.policies
            .iter()
            .enumerate()
            .map(|(i, p)| (idx("policies", i), p.id.as_str()))
            .collect(),
    );
    check(
        "service",
        cfg.services
            .iter()
            .enumerate()
            .map(|(i, s)| (idx("services", i), s.id.as_str()))
            .collect(),
    );
    // Contact ids are part of page ids, so they must be unique across people and channels.
    let contacts = cfg
        .people
        .iter()
        .enumerate()
        .flat_map(|(i, p)| {
            p.contacts
                .iter()
                .enumerate()
                .map(move |(j, c)| (format!("people[{i}].contacts[{j}]"), c.id.as_str()))
        })
        .chain(
            cfg.channels
                .iter()
                .enumerate()
                .map(|(i, c)| (idx("channels", i), c.id.as_str())),
        )
        .collect();
    check("contact or channel", contacts);
}

fn people(cfg: &Config, l: &mut Lint) {
    for (i, p) in cfg.people.iter().enumerate() {
        if p.contacts.is_empty() {
            l.error(
                "no-contact",
                format!("people[{i}]"),
                format!("`{}` has no contact method; pages to them go nowhere", p.id),
            );
        }
    }
}

fn rotations(cfg: &Config, l: &mut Lint) {
    for (i, r) in cfg.rotations.iter().enumerate() {
        let path = format!("rotations[{i}]");
        if r.participants.is_empty() {
            l.error(
                "empty-rotation",
                path.clone(),
                format!(
                    "rotation `{}` has no participants; nobody is ever on call",
                    r.id
                ),
            );
        }
        for (j, p) in r.participants.iter().enumerate() {
            if cfg.person(p).is_none() {
                l.error(
                    "unknown-person",
                    format!("{path}.participants[{j}]"),
                    format!("rotation `{}` names `{p}`, who is not in `people`", r.id),
                );
            }
        }
        if r.handoff == Handoff::Daily && r.handoff_weekday.is_some() {
            l.warn(
                "weekday-ignored",
                format!("{path}.handoff_weekday"),
                format!(
                    "rotation `{}` hands off daily; handoff_weekday has no effect",
                    r.id
                ),
            );
        }
        for (j, o) in r.overrides.iter().enumerate() {
            let op = format!("{path}.overrides[{j}]");
            if cfg.person(&o.person).is_none() {
                l.error(
                    "unknown-person",
                    op.clone(),
                    format!("override names `{}`, who is not in `people`", o.person),
                );
            }
            if o.end <= o.start {
                l.error(
                    "empty-override",
                    op,
                    format!(
                        "override ends ({}) at or before it starts ({})",
                        o.end, o.start
                    ),
                );
            } else if o.end <= r.start {
                l.warn(
                    "override-outside-rotation",
                    op,
                    format!(
                        "override ends ({}) before rotation `{}` starts ({}); it never applies",
                        o.end, r.id, r.start
                    ),
                );
            }
        }
    }
}

fn policies(cfg: &Config, l: &mut Lint) {
    for (i, p) in cfg.policies.iter().enumerate() {
        let path = format!("policies[{i}]");
        if p.levels.is_empty() {
            l.error(
                "empty-policy",
                path.clone(),
                format!("policy `{}` has no levels; it pages nobody", p.id),
            );
        }
        let mut elapsed = SignedDuration::ZERO;
        let mut previous: Option<BTreeSet<&Target>> = None;
        for (j, level) in p.levels.iter().enumerate() {
            let lp = format!("{path}.levels[{j}]");
            let reached_before = elapsed <= LINT_HORIZON;
            elapsed = elapsed
                .checked_add(level.delay)
                .unwrap_or(SignedDuration::MAX);
            if reached_before && elapsed > LINT_HORIZON {
                l.error(
                    "unreachable-level",
                    lp.clone(),
                    format!(
                        "level {j} of `{}` first fires {} after declaration, beyond the {}h lint horizon; it and every later level are unreachable",
                        p.id,
                        human(elapsed),
                        LINT_HORIZON.as_hours()
                    ),
                );
            }
            if level.targets.is_empty() {
                l.error(
                    "empty-level",
                    lp.clone(),
                    format!("level {j} of `{}` has no targets", p.id),
                );
            }
            let targets: BTreeSet<&Target> = level.targets.iter().collect();
            if previous.as_ref() == Some(&targets) && !targets.is_empty() {
                l.warn(
                    "duplicate-level",
                    lp.clone(),
                    format!(
                        "level {j} of `{}` pages the same targets as level {}; escalating adds nobody",
                        p.id,
                        j.saturating_sub(1)
                    ),
                );
            }
            for (k, t) in level.targets.iter().enumerate() {
                let tp = format!("{lp}.targets[{k}]");
                let (code, missing) = match t {
                    Target::Person(id) => ("unknown-person", cfg.person(id).is_none()),
                    Target::Rotation(id) => ("unknown-rotation", cfg.rotation(id).is_none()),
                    Target::Channel(id) => ("unknown-channel", cfg.channel(id).is_none()),
                };
                if missing {
                    l.error(code, tp, format!("`{t}` does not exist"));
                }
            }
            previous = Some(targets);
        }
        let all_zero = p.levels.iter().all(|lv| lv.delay.is_zero());
        if p.repeat > 0 && p.repeat_after.is_zero() && all_zero && !p.levels.is_empty() {
            l.warn(
                "instant-repeat",
                format!("{path}.repeat_after"),
                format!(
                    "policy `{}` repeats {} times with no delay anywhere: every repeat pages at once",
                    p.id, p.repeat
                ),
            );
        }
    }
}

fn services(cfg: &Config, l: &mut Lint) {
    if let Some(d) = &cfg.default_policy
        && cfg.policy(d).is_none()
    {
        l.error(
            "unknown-policy",
            "default_policy".into(),
            format!("default policy `{d}` is not defined"),
        );
    }
    for (i, s) in cfg.services.iter().enumerate() {
        let path = format!("services[{i}]");
        match s.policy.as_deref().or(cfg.default_policy.as_deref()) {
            None => l.error(
                "service-without-policy",
                path,
                format!(
                    "service `{}` has no policy and there is no default_policy; its incidents page nobody",
                    s.id
                ),
            ),
            Some(p) => {
                if s.policy.is_some() && cfg.policy(p).is_none() {
                    l.error(
                        "unknown-policy",
                        format!("{path}.policy"),
                        format!("service `{}` uses policy `{p}`, which is not defined", s.id),
                    );
                }
            }
        }
    }
}

/// `90m` -> `1h 30m`, for messages.
pub(crate) fn human(d: SignedDuration) -> String {
    let mut s = d.as_secs();
    if s == 0 {
        return "0s".into();
    }
    let mut parts = Vec::new();
    for (unit, n) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if s >= n {
            parts.push(format!("{}{unit}", s / n));
            s %= n;
        }
    }
    parts.join(" ")
}
