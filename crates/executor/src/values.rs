//! Where placeholder values come from, and how far each source is trusted.

use std::collections::BTreeMap;

use serde::Serialize;

/// How far a value source is trusted; the caller's check decides what each level means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Trust {
    /// The runbook's own text (its `params` defaults): as trusted as the commands.
    Runbook,
    /// A person who is running the step (`--set`, a prompt): checked, and the run needs
    /// that person's confirmation even for a read step.
    Person,
    /// Anything from outside: alert labels and annotations, incident fields an alert
    /// wrote. Checked against the declared type or the conservative default rule.
    Outside,
}

/// Layered value sources, highest priority first (e.g. `--set`, incident, alert, defaults).
#[derive(Debug, Clone, Default)]
pub struct Values {
    sources: Vec<(String, Trust, BTreeMap<String, String>)>,
}

/// A value found for a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found<'a> {
    /// The value.
    pub value: &'a str,
    /// The source's name.
    pub source: &'a str,
    /// The source's trust.
    pub trust: Trust,
}

impl Values {
    /// No sources.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a source with lower priority than every source added before it.
    pub fn with_source(
        mut self,
        name: &str,
        trust: Trust,
        values: BTreeMap<String, String>,
    ) -> Self {
        self.sources.push((name.to_owned(), trust, values));
        self
    }

    /// The value for `name` and where it came from. An exact name wins in every source
    /// before a case-insensitive match is tried (`$NAMESPACE` finds `namespace`).
    pub fn lookup(&self, name: &str) -> Option<Found<'_>> {
        let exact = self
            .sources
            .iter()
            .find_map(|(src, trust, vals)| vals.get(name).map(|v| found(src, *trust, v)));
        exact.or_else(|| {
            self.sources.iter().find_map(|(src, trust, vals)| {
                vals.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| found(src, *trust, v))
            })
        })
    }
}

fn found<'a>(source: &'a str, trust: Trust, value: &'a str) -> Found<'a> {
    Found {
        value,
        source,
        trust,
    }
}
