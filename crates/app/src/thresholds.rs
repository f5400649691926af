//! Thresholds as checks: every thresholds row of an incident's runbooks that has a
//! PromQL expression is evaluated on Prometheus and judged normal, warning or critical;
//! the outcome is sealed (`thresholds.checked`). A stand-down item saying "all
//! thresholds normal" is ticked only when a check finds them so.

use std::collections::BTreeMap;

use serde::Serialize;
use sitrep_executor::query::{self, QueryLimits};
use sitrep_runbook::{QueryLanguage, Runbook, TableData, Threshold, ThresholdStatus};
use sitrep_store::Incident;

use crate::app::App;
use crate::error::AppError;
use crate::events;
use crate::identity::Principal;
use crate::plan::param_defaults;
use crate::stamp::now_ms;

/// One evaluated thresholds row.
#[derive(Debug, Clone, Serialize)]
pub struct ThresholdCheck {
    /// The runbook it is from.
    pub runbook: String,
    /// The metric cell.
    pub metric: String,
    /// The expression evaluated.
    pub query: String,
    /// The worst status over the series that came back.
    pub status: ThresholdStatus,
    /// The value that decided it, as Prometheus wrote it.
    pub value: Option<String>,
    /// Why there is no value (the datasource failed, nothing came back).
    pub error: Option<String>,
}

/// Whether a checklist item's text asks for every threshold to be normal.
#[must_use]
pub fn is_thresholds_gate(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    t.contains("threshold") && t.contains("normal")
}

/// The datasource a runbook names for PromQL in its front matter, if any.
fn promql_datasource(rb: &Runbook) -> Option<String> {
    let extra = &rb.front_matter.as_ref()?.extra;
    extra
        .get("datasources")
        .and_then(|d| d.get("promql"))
        .or_else(|| extra.get("datasource"))
        .and_then(|v| v.as_str())
        .map(str::to_owned)
}

impl App {
    /// Evaluates every thresholds row with an expression in the incident's runbooks, and
    /// seals the outcome. A row whose query fails is `unknown` with the error.
    pub async fn check_thresholds(
        &self,
        id: &str,
        actor: &Principal,
    ) -> Result<Vec<ThresholdCheck>, AppError> {
        actor.check()?;
        let incident = self.incident(id).await?;
        let library = self.library();
        let mut out = Vec::new();
        for path in &incident.runbooks {
            let Some(entry) = library.get(path) else {
                continue;
            };
            let rows = entry.runbook.tables.iter().flat_map(|t| match &t.data {
                TableData::Thresholds(rows) => rows.as_slice(),
                _ => &[],
            });
            for row in rows {
                let Some(q) = &row.query else { continue };
                let check = match self.evaluate(&incident, &entry.runbook, row, q).await {
                    Ok((status, value)) => (status, value, None),
                    Err(e) => (
                        ThresholdStatus::Unknown,
                        None,
                        Some(self.redact(&e.to_string())),
                    ),
                };
                out.push(ThresholdCheck {
                    runbook: entry.path.clone(),
                    metric: row.metric.clone(),
                    query: q.clone(),
                    status: check.0,
                    value: check.1,
                    error: check.2,
                });
            }
        }
        let all_normal = !out.is_empty() && out.iter().all(|c| c.status == ThresholdStatus::Normal);
        let lines: Vec<String> = out
            .iter()
            .map(|c| {
                format!(
                    "{}: {} ({})",
                    c.metric,
                    c.status.as_str(),
                    c.value
                        .as_deref()
                        .or(c.error.as_deref())
                        .unwrap_or("no value")
                )
            })
            .collect();
        let rec = events::record(
            events::THRESHOLDS,
            &incident.id,
            now_ms(),
            actor,
            [
                ("checks", out.len().to_string()),
                ("all_normal", all_normal.to_string()),
                ("results", self.redact(&lines.join("\n"))),
            ],
        );
        self.seal(vec![rec]).await?;
        Ok(out)
    }

    /// One row: the instant query's samples judged, the worst one kept.
    async fn evaluate(
        &self,
        incident: &Incident,
        rb: &Runbook,
        row: &Threshold,
        expr: &str,
    ) -> Result<(ThresholdStatus, Option<String>), AppError> {
        let name = promql_datasource(rb);
        let (name, cfg) = self
            .inner
            .config
            .datasources
            .resolve(name.as_deref(), QueryLanguage::Promql)?;
        let ds = cfg.open(&name)?;
        let values = self
            .values(incident, &BTreeMap::new(), param_defaults(rb))
            .await?;
        let mut bound = BTreeMap::new();
        for p in sitrep_runbook::scan_query_placeholders(expr) {
            if let Some(found) = values.lookup(&p.name) {
                crate::plan::check_value(rb, &p.name, found.value, found.trust)
                    .map_err(|rule| AppError::invalid(&p.name, rule))?;
                bound.insert(p.name.clone(), found.value.to_owned());
            }
        }
        let bound = query::bind_query(ds.kind, expr, &bound)
            .map_err(|e| AppError::invalid("threshold", e.to_string()))?;
        let limits = QueryLimits {
            max_rows: 100,
            ..cfg.limits()
        };
        let now_s = now_ms() as f64 / 1000.0;
        let result = query::run_query(&ds, &bound, None, now_s, &limits).await?;
        let at = result.columns.iter().position(|c| c == "value");
        let mut worst: Option<(ThresholdStatus, String)> = None;
        for r in &result.rows {
            let Some(v) = at.and_then(|i| r.get(i)).and_then(|v| v.as_str()) else {
                continue;
            };
            let status = v
                .parse::<f64>()
                .map_or(ThresholdStatus::Unknown, |n| row.judge(n));
            if worst.as_ref().is_none_or(|(s, _)| status > *s) {
                worst = Some((status, v.to_owned()));
            }
        }
        Ok(match worst {
            Some((s, v)) => (s, Some(v)),
            None => (ThresholdStatus::Unknown, None),
        })
    }

    /// The gate for a stand-down item saying "all thresholds normal": a fresh check
    /// (sealed) must find every threshold normal.
    pub(crate) async fn thresholds_gate(
        &self,
        id: &str,
        actor: &Principal,
    ) -> Result<(), AppError> {
        let checks = self.check_thresholds(id, actor).await?;
        if checks.is_empty() {
            return Err(AppError::Denied {
                reason:
                    "no thresholds row of this incident's runbooks has a PromQL expression to check"
                        .into(),
            });
        }
        let off: Vec<String> = checks
            .iter()
            .filter(|c| c.status != ThresholdStatus::Normal)
            .map(|c| format!("{} is {}", c.metric, c.status.as_str()))
            .collect();
        if off.is_empty() {
            Ok(())
        } else {
            Err(AppError::Denied {
                reason: format!("not all thresholds are normal: {}", off.join(", ")),
            })
        }
    }
}
