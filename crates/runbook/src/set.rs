//! A directory of runbooks, given as `(path, text)` pairs: links between files and alerts
//! handled twice are checked here, without touching a filesystem.

use std::collections::BTreeMap;

use crate::diag::{Diagnostic, LineIndex, Severity};
use crate::model::{LinkTarget, Runbook};

/// One runbook of a set.
#[derive(Debug, Clone)]
pub struct SetEntry {
    /// Path as given, with `.` and `..` folded and `/` separators.
    pub path: String,
    /// The model.
    pub runbook: Runbook,
    /// Import diagnostics, lint findings and directory-level findings, by position.
    pub diagnostics: Vec<Diagnostic>,
}

/// Runbooks of one directory, parsed and linted together.
#[derive(Debug, Clone, Default)]
pub struct RunbookSet {
    /// In the order given.
    pub entries: Vec<SetEntry>,
}

impl RunbookSet {
    /// Parses and lints every source, then runs the directory-level checks.
    pub fn from_sources<I, P, T>(sources: I) -> Self
    where
        I: IntoIterator<Item = (P, T)>,
        P: Into<String>,
        T: AsRef<str>,
    {
        Self::from_sources_with_rules(sources, &[])
    }

    /// [`RunbookSet::from_sources`] with a site's risk rules (see
    /// [`crate::parse_with_rules`]).
    pub fn from_sources_with_rules<I, P, T>(
        sources: I,
        site_rules: &[sitrep_risk::CustomRule],
    ) -> Self
    where
        I: IntoIterator<Item = (P, T)>,
        P: Into<String>,
        T: AsRef<str>,
    {
        let mut texts = Vec::new();
        let mut entries = Vec::new();
        for (path, text) in sources {
            let text = text.as_ref();
            let (runbook, mut diagnostics) = crate::parse_with_rules(text, site_rules);
            diagnostics.extend(crate::lint(&runbook, text));
            entries.push(SetEntry {
                path: normalize(&path.into()),
                runbook,
                diagnostics,
            });
            texts.push(text.to_string());
        }
        let mut set = Self { entries };
        set.check_links(&texts);
        set.check_alerts(&texts);
        for e in &mut set.entries {
            e.diagnostics.sort_by_key(|d| (d.span.start, d.code));
        }
        set
    }

    /// The entry for `path` (compared after folding `.` and `..`).
    pub fn get(&self, path: &str) -> Option<&SetEntry> {
        let path = normalize(path);
        self.entries.iter().find(|e| e.path == path)
    }

    /// The runbooks handling an alert, by path.
    pub fn handlers(&self, alert: &str) -> Vec<&str> {
        self.entries
            .iter()
            .filter(|e| e.runbook.alerts_handled().iter().any(|a| a == alert))
            .map(|e| e.path.as_str())
            .collect()
    }

    fn check_links(&mut self, texts: &[String]) {
        let mut found = Vec::new();
        for (i, e) in self.entries.iter().enumerate() {
            for link in &e.runbook.links {
                let LinkTarget::File { path, anchor } = &link.target else {
                    continue;
                };
                if !path.ends_with(".md") && !path.ends_with(".markdown") {
                    continue;
                }
                let target = resolve(&e.path, path);
                let msg = match self.get(&target) {
                    None => Some(format!(
                        "link to `{path}`: no runbook `{target}` in this directory"
                    )),
                    Some(t) => anchor
                        .as_deref()
                        .filter(|a| !a.is_empty() && t.runbook.section_by_anchor(a).is_none())
                        .map(|a| {
                            format!(
                                "link to `{path}#{a}`: `{target}` has no heading with that anchor"
                            )
                        }),
                };
                if let Some(m) = msg {
                    found.push((i, link.span.clone(), m));
                }
            }
        }
        for (i, span, msg) in found {
            if let (Some(e), Some(t)) = (self.entries.get_mut(i), texts.get(i)) {
                e.diagnostics.push(LineIndex::new(t).diag(
                    "broken-link",
                    Severity::Error,
                    span,
                    msg,
                ));
            }
        }
    }

    fn check_alerts(&mut self, texts: &[String]) {
        let mut by_alert: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, e) in self.entries.iter().enumerate() {
            for a in e.runbook.alerts_handled() {
                by_alert.entry(a).or_default().push(i);
            }
        }
        for (alert, owners) in by_alert {
            if owners.len() < 2 {
                continue;
            }
            let paths: Vec<String> = owners
                .iter()
                .filter_map(|&i| self.entries.get(i))
                .map(|e| e.path.clone())
                .collect();
            for &i in &owners {
                let (Some(e), Some(t)) = (self.entries.get_mut(i), texts.get(i)) else {
                    continue;
                };
                // At the rule's `alert:` line when a rule of this file names it (where
                // `sitrep runbook rules` points too), else at the front matter.
                let rule = e.runbook.alert_rules.iter().find(|r| r.name == alert);
                let span = match rule {
                    Some(r) => {
                        let at = crate::promrules::rule_start(t, r);
                        at..at
                    }
                    None => e
                        .runbook
                        .front_matter
                        .as_ref()
                        .map_or(0..0, |f| f.span.clone()),
                };
                let others: Vec<&str> = paths
                    .iter()
                    .filter(|p| **p != e.path)
                    .map(String::as_str)
                    .collect();
                e.diagnostics.push(LineIndex::new(t).diag(
                    "duplicate-alert-handler",
                    Severity::Warning,
                    span.start..span.start,
                    format!("alert `{alert}` is also handled by {}: routing needs exactly one runbook per alert", others.join(", ")),
                ));
            }
        }
    }
}

/// `dir/of/from` + relative `link`, normalized.
fn resolve(from: &str, link: &str) -> String {
    let dir = from.rsplit_once('/').map_or("", |(d, _)| d);
    if dir.is_empty() {
        normalize(link)
    } else {
        normalize(&format!("{dir}/{link}"))
    }
}

/// Folds `.` and `..` and repeated `/`; keeps a leading `/` and leading `..`s.
fn normalize(path: &str) -> String {
    let path = path.replace('\\', "/");
    let mut parts: Vec<&str> = Vec::new();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." if parts.last().is_some_and(|l| *l != "..") => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    if path.starts_with('/') {
        format!("/{joined}")
    } else {
        joined
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_relative_to_the_linking_file() {
        assert_eq!(resolve("db/disk.md", "../net/dns.md"), "net/dns.md");
        assert_eq!(resolve("disk.md", "./dns.md"), "dns.md");
        assert_eq!(resolve("a/b.md", "c/d.md"), "a/c/d.md");
        assert_eq!(resolve("/x/a/../b/c.md", "d.md"), "/x/b/d.md");
        assert_eq!(normalize("./a//b/../c.md"), "a/c.md");
    }
}
