//! Routing config (ordered routes of matchers that set service, runbook, severity and
//! grouping) and group keys: one incident per group, not one per alert.

use serde::{Deserialize, Serialize};

use crate::matcher::Matcher;
use crate::model::{Alert, Batch, Labels};

/// The group_by value meaning "every alert is its own group", as in Alertmanager.
const EVERY_ALERT: &str = "...";

/// Routing configuration, e.g. the `[alerts]` table of the server's TOML file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingConfig {
    /// Tried in order; the first match wins unless it says `continue = true`.
    #[serde(default, rename = "route")]
    pub routes: Vec<Route>,
    /// What applies when no route sets a field.
    #[serde(default)]
    pub default: DefaultRoute,
}

/// One route: matchers and what they set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// Stable name, part of group keys; renaming a route starts new groups.
    pub id: String,
    /// All must match; an empty list matches every alert.
    #[serde(default)]
    pub matchers: Vec<Matcher>,
    /// Service the alert belongs to.
    #[serde(default)]
    pub service: Option<String>,
    /// Runbook (path or id) that handles it.
    #[serde(default)]
    pub runbook: Option<String>,
    /// Incident severity, e.g. `SEV2`.
    #[serde(default)]
    pub severity: Option<String>,
    /// Labels whose values form the group; `["..."]` puts every alert alone.
    #[serde(default)]
    pub group_by: Option<Vec<String>>,
    /// Keep trying later routes to fill fields this one leaves unset.
    #[serde(default, rename = "continue")]
    pub continue_matching: bool,
}

/// Fallbacks for fields no matching route set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefaultRoute {
    /// Fallback service.
    #[serde(default)]
    pub service: Option<String>,
    /// Fallback runbook.
    #[serde(default)]
    pub runbook: Option<String>,
    /// Fallback severity.
    #[serde(default)]
    pub severity: Option<String>,
    /// Fallback grouping; defaults to `["alertname"]`.
    #[serde(default = "default_group_by")]
    pub group_by: Vec<String>,
}

impl Default for DefaultRoute {
    fn default() -> Self {
        DefaultRoute {
            service: None,
            runbook: None,
            severity: None,
            group_by: default_group_by(),
        }
    }
}

fn default_group_by() -> Vec<String> {
    vec!["alertname".to_owned()]
}

/// What routing decided for one alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Routing {
    /// Ids of the routes that matched and were consulted, in order; empty means default.
    pub matched: Vec<String>,
    /// The route whose id is part of the group key: the first match, else `default`.
    pub route_id: String,
    /// Chosen service.
    pub service: Option<String>,
    /// Chosen runbook.
    pub runbook: Option<String>,
    /// Chosen severity.
    pub severity: Option<String>,
    /// Labels grouping alerts into one incident.
    pub group_by: Vec<String>,
}

/// Routes one alert by its labels. Routes are tried in order; each field takes its value
/// from the first matching route that sets it; matching stops at the first match without
/// `continue = true`; fields still unset come from the default.
pub fn route(config: &RoutingConfig, labels: &Labels) -> Routing {
    let mut out = Routing {
        matched: Vec::new(),
        route_id: "default".to_owned(),
        service: None,
        runbook: None,
        severity: None,
        group_by: Vec::new(),
    };
    let mut group_by = None;
    for r in &config.routes {
        if !Matcher::all(&r.matchers, labels) {
            continue;
        }
        if out.matched.is_empty() {
            out.route_id.clone_from(&r.id);
        }
        out.matched.push(r.id.clone());
        fill(&mut out.service, &r.service);
        fill(&mut out.runbook, &r.runbook);
        fill(&mut out.severity, &r.severity);
        fill(&mut group_by, &r.group_by);
        if !r.continue_matching {
            break;
        }
    }
    let d = &config.default;
    fill(&mut out.service, &d.service);
    fill(&mut out.runbook, &d.runbook);
    fill(&mut out.severity, &d.severity);
    out.group_by = group_by.unwrap_or_else(|| d.group_by.clone());
    out
}

fn fill<T: Clone>(slot: &mut Option<T>, from: &Option<T>) {
    if slot.is_none() {
        slot.clone_from(from);
    }
}

/// The identity of the group an alert belongs to: one open incident per key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct GroupKey(pub String);

/// The group of one alert of a batch. When the sender grouped already (Alertmanager or
/// Grafana `groupKey`), that key wins, prefixed by the source so the two cannot collide:
/// `alertmanager|{}:{alertname="X"}`. Otherwise it is the route id and the alert's values
/// of the route's `group_by` labels, Alertmanager-style (missing labels are left out):
/// `route:db|{alertname="DiskFull",cluster="eu1"}`; `group_by = ["..."]` makes the alert's
/// fingerprint the group: `route:db|fp:1a30ba71cca2921f`.
pub fn group_key(batch: &Batch, alert: &Alert, routing: &Routing) -> GroupKey {
    if let Some(k) = &batch.group_key {
        let source = match batch.source {
            crate::model::Source::Alertmanager => "alertmanager",
            crate::model::Source::Grafana => "grafana",
            crate::model::Source::Generic => "generic",
        };
        return GroupKey(format!("{source}|{k}"));
    }
    if routing.group_by.iter().any(|l| l == EVERY_ALERT) {
        return GroupKey(format!(
            "route:{}|fp:{}",
            routing.route_id, alert.fingerprint
        ));
    }
    let mut names: Vec<&str> = routing.group_by.iter().map(String::as_str).collect();
    names.sort_unstable();
    names.dedup();
    let parts: Vec<String> = names
        .into_iter()
        .filter_map(|n| alert.labels.get(n).map(|v| format!("{n}={v:?}")))
        .collect();
    GroupKey(format!(
        "route:{}|{{{}}}",
        routing.route_id,
        parts.join(",")
    ))
}
