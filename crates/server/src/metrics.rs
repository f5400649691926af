//! Prometheus metrics in the text exposition format, written by hand (a few counters
//! and one histogram do not need a library).
//!
//! Counters live in memory and start at zero with the process; gauges that describe
//! stored state (open incidents, ledger size, checkpoint age) are read from the store
//! at scrape time, so they are right even after a restart or a change by another process.

use sitrep_app::lifecycle::Status;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sitrep_app::store::IncidentFilter;

use crate::ServerState;

/// Upper bounds of the request duration buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Debug, Clone, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

/// The in-memory counters and histograms.
#[derive(Debug, Default)]
pub struct Metrics {
    alerts: Mutex<BTreeMap<(String, String), u64>>,
    runs: Mutex<BTreeMap<(String, String), u64>>,
    http: Mutex<BTreeMap<(String, String, String), Histogram>>,
    pages: Mutex<BTreeMap<&'static str, u64>>,
    notify: Mutex<sitrep_app::notify::MetricsSnapshot>,
    streams_dropped: Mutex<BTreeMap<&'static str, u64>>,
    auth_failures: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A label value escaped as the text format requires.
fn esc(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    /// One webhook delivery of `source` ended with `outcome` (`accepted`, `malformed`,
    /// `unauthorized`, `too_large`, `unavailable`).
    pub fn alert_received(&self, source: &str, outcome: &str) {
        *lock(&self.alerts)
            .entry((source.to_owned(), outcome.to_owned()))
            .or_default() += 1;
    }

    /// One step run of `risk` ended with `outcome` (the run's status).
    pub fn step_run(&self, risk: &str, outcome: &str) {
        *lock(&self.runs)
            .entry((risk.to_owned(), outcome.to_owned()))
            .or_default() += 1;
    }

    /// One HTTP request on `route` answered `status` after `seconds`.
    pub fn http_request(&self, route: &str, method: &str, status: u16, seconds: f64) {
        let mut map = lock(&self.http);
        let h = map
            .entry((route.to_owned(), method.to_owned(), status.to_string()))
            .or_default();
        for (i, le) in BUCKETS.iter().enumerate() {
            if seconds <= *le {
                h.counts[i] += 1;
            }
        }
        h.sum += seconds;
        h.count += 1;
    }

    /// One delivery pass of the paging loop, and the notifier's counters after it.
    pub fn pages(
        &self,
        r: &sitrep_app::paging::DeliverReport,
        notify: sitrep_app::notify::MetricsSnapshot,
    ) {
        let mut m = lock(&self.pages);
        for (k, n) in [
            ("delivered", r.delivered),
            ("retrying", r.retrying),
            ("failed", r.failed),
            ("cancelled", r.cancelled),
        ] {
            *m.entry(k).or_default() += n as u64;
        }
        *lock(&self.notify) = notify;
    }

    /// A live stream was ended by the server for `reason` (`slow`, `lagged`,
    /// `revoked`, `logged_out`).
    pub fn stream_dropped(&self, reason: &'static str) {
        *lock(&self.streams_dropped).entry(reason).or_default() += 1;
    }

    /// How many live streams the server ended for `reason` (for tests).
    #[must_use]
    pub fn streams_dropped(&self, reason: &str) -> u64 {
        lock(&self.streams_dropped)
            .get(reason)
            .copied()
            .unwrap_or(0)
    }

    /// A failed credential of `kind` (`login`, `bearer`) was `outcome` (`failed`: a
    /// wrong one; `limited`: refused 429 without checking, too many failures).
    pub fn auth_failure(&self, kind: &'static str, outcome: &'static str) {
        *lock(&self.auth_failures)
            .entry((kind, outcome))
            .or_default() += 1;
    }

    /// The counter of failed credentials (for tests).
    #[must_use]
    pub fn auth_failures(&self, kind: &'static str, outcome: &'static str) -> u64 {
        lock(&self.auth_failures)
            .get(&(kind, outcome))
            .copied()
            .unwrap_or(0)
    }

    fn render_guards(&self, state: &ServerState, out: &mut String) {
        out.push_str("# HELP sitrep_live_streams_open Live event streams open now.\n");
        out.push_str("# TYPE sitrep_live_streams_open gauge\n");
        let _ = writeln!(
            out,
            "sitrep_live_streams_open {}",
            state.streams().open_count()
        );
        out.push_str(
            "# HELP sitrep_live_streams_dropped_total Live streams the server ended, by reason.\n",
        );
        out.push_str("# TYPE sitrep_live_streams_dropped_total counter\n");
        for (reason, n) in lock(&self.streams_dropped).iter() {
            let _ = writeln!(
                out,
                "sitrep_live_streams_dropped_total{{reason=\"{reason}\"}} {n}"
            );
        }
        out.push_str(
            "# HELP sitrep_silences_skipped Stored silences not in force: skipped at start or at the last refresh (see the log).\n",
        );
        out.push_str("# TYPE sitrep_silences_skipped gauge\n");
        let skipped = state.ingestor().skipped_silences().len();
        let _ = writeln!(out, "sitrep_silences_skipped {skipped}");
        out.push_str("# HELP sitrep_auth_failures_total Wrong logins and bearer tokens, and those refused for too many failures, per kind.\n");
        out.push_str("# TYPE sitrep_auth_failures_total counter\n");
        for ((kind, outcome), n) in lock(&self.auth_failures).iter() {
            let _ = writeln!(
                out,
                "sitrep_auth_failures_total{{kind=\"{kind}\",outcome=\"{outcome}\"}} {n}"
            );
        }
    }

    /// The counter of alerts received (for tests).
    #[must_use]
    pub fn alerts_received(&self, source: &str, outcome: &str) -> u64 {
        lock(&self.alerts)
            .get(&(source.to_owned(), outcome.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    /// Renders every metric; store-backed gauges are read now.
    pub async fn render(&self, state: &ServerState) -> String {
        let mut out = String::new();
        out.push_str("# HELP sitrep_alerts_received_total Webhook deliveries received, by source and outcome.\n");
        out.push_str("# TYPE sitrep_alerts_received_total counter\n");
        for ((source, outcome), n) in lock(&self.alerts).iter() {
            let _ = writeln!(
                out,
                "sitrep_alerts_received_total{{source=\"{}\",outcome=\"{}\"}} {n}",
                esc(source),
                esc(outcome)
            );
        }
        out.push_str("# HELP sitrep_step_runs_total Step runs by risk level and outcome.\n");
        out.push_str("# TYPE sitrep_step_runs_total counter\n");
        for ((risk, outcome), n) in lock(&self.runs).iter() {
            let _ = writeln!(
                out,
                "sitrep_step_runs_total{{risk=\"{}\",outcome=\"{}\"}} {n}",
                esc(risk),
                esc(outcome)
            );
        }
        out.push_str("# HELP sitrep_pages_total Page and reminder jobs handled by the paging loop, by outcome.\n");
        out.push_str("# TYPE sitrep_pages_total counter\n");
        for (outcome, n) in lock(&self.pages).iter() {
            let _ = writeln!(out, "sitrep_pages_total{{outcome=\"{outcome}\"}} {n}");
        }
        {
            let notify = lock(&self.notify);
            out.push_str(
                "# HELP sitrep_notifications_total Delivery attempts by channel and outcome.\n",
            );
            out.push_str("# TYPE sitrep_notifications_total counter\n");
            for (channel, c) in &notify.notifications {
                for (outcome, n) in [
                    ("delivered", c.delivered),
                    ("retry", c.retry),
                    ("permanent", c.permanent),
                    ("refused", c.refused),
                ] {
                    let _ = writeln!(
                        out,
                        "sitrep_notifications_total{{channel=\"{}\",outcome=\"{outcome}\"}} {n}",
                        esc(channel)
                    );
                }
            }
            out.push_str(
                "# HELP sitrep_notify_breaker_open 1 while a channel's circuit breaker is open.\n",
            );
            out.push_str("# TYPE sitrep_notify_breaker_open gauge\n");
            for (channel, b) in &notify.breakers {
                let open = u8::from(matches!(b, sitrep_app::notify::BreakerState::Open { .. }));
                let _ = writeln!(
                    out,
                    "sitrep_notify_breaker_open{{channel=\"{}\"}} {open}",
                    esc(channel)
                );
            }
        }
        self.render_guards(state, &mut out);
        out.push_str("# HELP sitrep_incidents_open Incidents not resolved, by severity.\n");
        out.push_str("# TYPE sitrep_incidents_open gauge\n");
        let filter = IncidentFilter {
            statuses: Status::names(&Status::OPEN),
            limit: 100_000,
            ..IncidentFilter::default()
        };
        let mut by_sev: BTreeMap<String, u64> = state
            .app()
            .scale()
            .names()
            .map(|s| (s.to_owned(), 0))
            .collect();
        if let Ok(open) = state.app().incidents(&filter).await {
            for i in open {
                *by_sev.entry(i.severity).or_default() += 1;
            }
        }
        for (sev, n) in &by_sev {
            let _ = writeln!(
                out,
                "sitrep_incidents_open{{severity=\"{}\"}} {n}",
                esc(sev)
            );
        }
        // Time to acknowledge, over the most recent incidents (the store keeps the times;
        // recomputing keeps the metric right across restarts and replicas).
        let recent = IncidentFilter {
            limit: 10_000,
            ..IncidentFilter::default()
        };
        if let Ok(all) = state.app().incidents(&recent).await {
            const ACK_BUCKETS: [f64; 8] = [
                60.0, 300.0, 900.0, 1800.0, 3600.0, 14400.0, 43200.0, 86400.0,
            ];
            let acks: Vec<f64> = all
                .iter()
                .filter_map(|i| {
                    i.acknowledged_ms
                        .map(|a| (a - i.created_ms).max(0) as f64 / 1000.0)
                })
                .collect();
            out.push_str("# HELP sitrep_time_to_acknowledge_seconds Declaration to acknowledgement, over the latest 10,000 incidents.\n");
            out.push_str("# TYPE sitrep_time_to_acknowledge_seconds histogram\n");
            for le in ACK_BUCKETS {
                let n = acks.iter().filter(|s| **s <= le).count();
                let _ = writeln!(
                    out,
                    "sitrep_time_to_acknowledge_seconds_bucket{{le=\"{le}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "sitrep_time_to_acknowledge_seconds_bucket{{le=\"+Inf\"}} {}",
                acks.len()
            );
            let _ = writeln!(
                out,
                "sitrep_time_to_acknowledge_seconds_sum {:.3}",
                acks.iter().sum::<f64>()
            );
            let _ = writeln!(
                out,
                "sitrep_time_to_acknowledge_seconds_count {}",
                acks.len()
            );
        }
        subsystems(&mut out, state);
        out.push_str("# HELP sitrep_ledger_size Entries in the ledger.\n");
        out.push_str("# TYPE sitrep_ledger_size gauge\n");
        if let Ok(size) = state.app().ledger_size().await {
            let _ = writeln!(out, "sitrep_ledger_size {size}");
        }
        out.push_str(
            "# HELP sitrep_ledger_checkpoint_age_seconds Seconds since the latest signed checkpoint.\n",
        );
        out.push_str("# TYPE sitrep_ledger_checkpoint_age_seconds gauge\n");
        if let Ok(Some(cp)) = state.app().latest_checkpoint().await {
            let age = (sitrep_app::now_ms() - cp.created_ms).max(0) as f64 / 1000.0;
            let _ = writeln!(out, "sitrep_ledger_checkpoint_age_seconds {age:.3}");
        }
        out.push_str(
            "# HELP sitrep_http_request_duration_seconds HTTP request duration by route, method and status.\n",
        );
        out.push_str("# TYPE sitrep_http_request_duration_seconds histogram\n");
        for ((route, method, status), h) in lock(&self.http).iter() {
            let labels = format!(
                "route=\"{}\",method=\"{}\",status=\"{}\"",
                esc(route),
                esc(method),
                esc(status)
            );
            for (i, le) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "sitrep_http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                out,
                "sitrep_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "sitrep_http_request_duration_seconds_sum{{{labels}}} {:.6}",
                h.sum
            );
            let _ = writeln!(
                out,
                "sitrep_http_request_duration_seconds_count{{{labels}}} {}",
                h.count
            );
        }
        out
    }
}

/// Middleware: times every routed request under its route template (`/api/v1/
/// incidents/{id}`), never the raw path, so ids do not explode the label space.
pub async fn track(State(state): State<ServerState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().as_str().to_owned();
    let start = Instant::now();
    let resp = next.run(req).await;
    state.metrics().http_request(
        &route,
        &method,
        resp.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    resp
}

/// Failures per subsystem since the process started, and whether each one's last
/// attempt worked (from the outcomes the store and the app keep, no database read).
fn subsystems(out: &mut String, state: &ServerState) {
    let app = state.app();
    let outcomes = [
        ("writer", app.writer_outcome()),
        ("signer", app.signer_outcome()),
        ("blob_store", state.app().blob_outcome()),
    ];
    out.push_str("# HELP sitrep_subsystem_failures_total Failed attempts by subsystem (writer: group commits, signer: checkpoints, blob_store: blob writes).\n");
    out.push_str("# TYPE sitrep_subsystem_failures_total counter\n");
    for (name, o) in &outcomes {
        let _ = writeln!(
            out,
            "sitrep_subsystem_failures_total{{subsystem=\"{name}\"}} {}",
            o.failures
        );
    }
    out.push_str(
        "# HELP sitrep_subsystem_up Whether the subsystem's last attempt succeeded (1) or failed (0).\n",
    );
    out.push_str("# TYPE sitrep_subsystem_up gauge\n");
    for (name, o) in &outcomes {
        let _ = writeln!(
            out,
            "sitrep_subsystem_up{{subsystem=\"{name}\"}} {}",
            u8::from(o.ok())
        );
    }
}

/// `GET /metrics`.
pub async fn metrics(State(state): State<ServerState>) -> Response {
    let body = state.metrics().render(&state).await;
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::default();
        m.http_request("/x", "GET", 200, 0.003);
        m.http_request("/x", "GET", 200, 0.2);
        let map = lock(&m.http);
        let h = &map[&("/x".to_owned(), "GET".to_owned(), "200".to_owned())];
        assert_eq!(h.count, 2);
        assert_eq!(h.counts[0], 0); // <= 1 ms
        assert_eq!(h.counts[2], 1); // <= 5 ms
        assert_eq!(h.counts[BUCKETS.len() - 1], 2);
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(esc("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
