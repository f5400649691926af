//! The severity scale incidents use: names in order (worst first) with their
//! acknowledgement targets and update cadence, from the escalation config's table, and
//! the settings an incident's runbook gives its level, which win over the config's.

use std::collections::BTreeMap;

use serde::Serialize;
use sitrep_escalation::{SeverityScheme, SeveritySettings, SignedDuration, default_severities};

/// An ordered severity scale (SEV1-SEV4 by default, P0-P3 as an alternative).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeverityScale {
    levels: Vec<(String, SeveritySettings)>,
}

/// A severity name the scale does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown severity {given:?}; this scale has {}", .known.join(", "))]
pub struct UnknownSeverity {
    /// What was given.
    pub given: String,
    /// The scale's names, worst first.
    pub known: Vec<String>,
}

impl SeverityScale {
    /// The default table of `scheme`.
    #[must_use]
    pub fn new(scheme: SeverityScheme) -> Self {
        Self::from_table(default_severities(scheme))
    }

    /// A scale from a table (e.g. `escalation::Config::severities()`); names sort worst
    /// first as the defaults do (`SEV1` < `SEV2`, `P0` < `P1`).
    #[must_use]
    pub fn from_table(table: BTreeMap<String, SeveritySettings>) -> Self {
        let mut levels: Vec<_> = table.into_iter().collect();
        levels.sort_by_key(|a| natural_key(&a.0));
        SeverityScale { levels }
    }

    /// Names, worst first.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.levels.iter().map(|(n, _)| n.as_str())
    }

    /// The least severe level: what an incident gets when nobody says.
    #[must_use]
    pub fn lowest(&self) -> &str {
        self.levels.last().map_or("SEV4", |(n, _)| n.as_str())
    }

    /// Settings of a level.
    #[must_use]
    pub fn settings(&self, name: &str) -> Option<&SeveritySettings> {
        self.levels.iter().find(|(n, _)| n == name).map(|(_, s)| s)
    }

    /// The canonical name for what a person typed: `sev1`, `SEV-1`, `Sev 1` and, on a
    /// SEV scale, `1` all mean `SEV1`.
    pub fn normalize(&self, given: &str) -> Result<String, UnknownSeverity> {
        let squash = |s: &str| -> String {
            s.chars()
                .filter(|c| !matches!(c, '-' | '_' | ' '))
                .flat_map(char::to_uppercase)
                .collect()
        };
        let g = squash(given);
        let found = self.levels.iter().map(|(n, _)| n).find(|n| {
            let n2 = squash(n);
            n2 == g
                || (g.chars().all(|c| c.is_ascii_digit())
                    && !g.is_empty()
                    && n2.ends_with(&g)
                    && n2[..n2.len() - g.len()]
                        .chars()
                        .all(|c| c.is_ascii_alphabetic()))
        });
        found.cloned().ok_or_else(|| UnknownSeverity {
            given: given.to_owned(),
            known: self.names().map(str::to_owned).collect(),
        })
    }

    /// Position of a level, 0 = worst; unknown names sort last.
    #[must_use]
    pub fn rank(&self, name: &str) -> usize {
        self.levels
            .iter()
            .position(|(n, _)| n == name)
            .unwrap_or(self.levels.len())
    }
}

impl Default for SeverityScale {
    fn default() -> Self {
        Self::new(SeverityScheme::Sev)
    }
}

/// The settings an incident's runbook scale gives its severity: the first runbook (in
/// attachment order) with a severity row naming the level wins, and each value it states
/// (response time as the acknowledgement target, `escalate_after`, `update_every`) wins
/// over `config`'s settings for the level, which fill in the rest. `None` when no
/// runbook has a row for the level: the config's settings hold unchanged.
#[must_use]
pub fn runbook_settings<'a>(
    runbooks: impl IntoIterator<Item = &'a sitrep_runbook::Runbook>,
    severity: &str,
    config: Option<&SeveritySettings>,
) -> Option<SeveritySettings> {
    let want = squash(severity);
    let row = runbooks.into_iter().find_map(|rb| {
        rb.severity_levels()
            .find(|l| l.name().is_some_and(|n| squash(&n) == want))
    })?;
    let signed = |d: Option<std::time::Duration>| d.and_then(|d| SignedDuration::try_from(d).ok());
    let mut out = config.cloned().unwrap_or(SeveritySettings {
        ack_target: None,
        update_every: None,
        update_on_resolve: false,
        escalate_after: None,
    });
    out.ack_target = signed(row.response).or(out.ack_target);
    out.update_every = signed(row.update_every).or(out.update_every);
    out.escalate_after = signed(row.escalate_after).or(out.escalate_after);
    Some(out)
}

fn squash(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, '-' | '_' | ' '))
        .flat_map(char::to_uppercase)
        .collect()
}

/// Sorts `SEV10` after `SEV9`: the letters, then the number.
fn natural_key(name: &str) -> (String, u64, String) {
    let split = name
        .find(|c: char| c.is_ascii_digit())
        .unwrap_or(name.len());
    let (alpha, rest) = name.split_at(split);
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let num = digits.parse().unwrap_or(u64::MAX);
    (alpha.to_owned(), num, rest[digits.len()..].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_worst_first_with_targets() {
        let s = SeverityScale::default();
        assert_eq!(
            s.names().collect::<Vec<_>>(),
            ["SEV1", "SEV2", "SEV3", "SEV4"]
        );
        assert_eq!(s.lowest(), "SEV4");
        let sev1 = s.settings("SEV1").unwrap();
        assert_eq!(sev1.update_every.unwrap().as_secs(), 15 * 60);
        let p = SeverityScale::new(SeverityScheme::Priority);
        assert_eq!(p.names().collect::<Vec<_>>(), ["P0", "P1", "P2", "P3"]);
    }

    #[test]
    fn a_runbook_scale_wins_over_the_config_per_value() {
        let (prose, _) = sitrep_runbook::parse(
            "# X\n\n## Severity levels\n\n### SEV2 - High\n- **Response Time**: 10 minutes\n\
             - **Escalation**: After 45 minutes to the manager\n\n### SEV3 - Medium\n\
             - **Communication**: every 2 hours\n",
        );
        let (table, _) = sitrep_runbook::parse(
            "# Y\n\n| Level | Response time | Updates |\n|---|---|---|\n| SEV2 | 1 minute | 5m |\n",
        );
        let (none, _) = sitrep_runbook::parse("# Z\n\nNo scale here.\n");
        let config = SeverityScale::default();
        let sev2 = config.settings("SEV2");
        let mins = |m| Some(SignedDuration::from_mins(m));

        let s = runbook_settings([&none, &prose, &table], "SEV2", sev2).unwrap();
        assert_eq!(s.ack_target, mins(10), "the runbook's response time");
        assert_eq!(s.escalate_after, mins(45));
        assert_eq!(
            s.update_every,
            mins(30),
            "the config's cadence: the runbook says none"
        );
        assert!(s.update_on_resolve);

        let s = runbook_settings([&table, &prose], "sev-2", sev2).unwrap();
        assert_eq!(
            (s.ack_target, s.update_every),
            (mins(1), mins(5)),
            "first runbook wins"
        );

        let s = runbook_settings([&prose], "SEV3", config.settings("SEV3")).unwrap();
        assert_eq!((s.ack_target, s.update_every), (mins(30), mins(120)));
        assert_eq!(
            runbook_settings([&prose], "SEV1", config.settings("SEV1")),
            None
        );
        assert_eq!(runbook_settings([&none], "SEV2", sev2), None);
    }

    #[test]
    fn normalizes_what_people_type() {
        let s = SeverityScale::default();
        for g in ["sev1", "SEV-1", "Sev 1", "1", "SEV1"] {
            assert_eq!(s.normalize(g).unwrap(), "SEV1", "{g}");
        }
        let e = s.normalize("critical").unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown severity \"critical\"; this scale has SEV1, SEV2, SEV3, SEV4"
        );
        assert!(s.normalize("").is_err());
        assert!(s.normalize("5").is_err());
        let p = SeverityScale::new(SeverityScheme::Priority);
        assert_eq!(p.normalize("p0").unwrap(), "P0");
        assert_eq!(p.normalize("0").unwrap(), "P0");
    }
}
