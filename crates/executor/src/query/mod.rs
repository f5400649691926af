//! Query steps: PromQL and LogQL through the Prometheus and Loki HTTP APIs, SQL through
//! sqlx on PostgreSQL or MySQL inside a read-only transaction. Values are bound as data
//! ([`bind_query`]), results are capped in rows and bytes and come back as JSON-ready
//! [`QueryResult`]s. Nothing here decides whether a query may run: the caller's gate does.

mod bind;
mod cells;
mod http;
mod pg_params;
mod result;
mod sql;

use std::fmt;
use std::time::Duration;

use serde::Serialize;

pub use bind::{BindQueryError, BoundQuery, bind_query};
pub use http::{Parsed, parse_loki, parse_prometheus};
pub use result::{QueryResult, Series};

/// What a datasource speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DatasourceKind {
    /// The Prometheus HTTP API (`/api/v1/query`, `/api/v1/query_range`): PromQL.
    Prometheus,
    /// The Loki HTTP API (`/loki/api/v1/query`, `/loki/api/v1/query_range`): LogQL.
    Loki,
    /// PostgreSQL through sqlx: SQL.
    Postgres,
    /// MySQL or MariaDB through sqlx: SQL.
    Mysql,
}

impl DatasourceKind {
    /// The config name (`prometheus`, `loki`, `postgres`, `mysql`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Prometheus => "prometheus",
            Self::Loki => "loki",
            Self::Postgres => "postgres",
            Self::Mysql => "mysql",
        }
    }

    /// The query language it runs (`promql`, `logql`, `sql`).
    #[must_use]
    pub fn language(self) -> &'static str {
        match self {
            Self::Prometheus => "promql",
            Self::Loki => "logql",
            Self::Postgres | Self::Mysql => "sql",
        }
    }
}

/// Where to send a query. The URL of a SQL datasource may hold a password and the bearer
/// token is a secret: neither is ever shown (`Debug` prints the kind and host only).
#[derive(Clone)]
pub struct Datasource {
    /// Its name in the config.
    pub name: String,
    /// What it speaks.
    pub kind: DatasourceKind,
    /// Base URL (`http://prometheus:9090`) or database URL (`postgres://...`).
    pub url: String,
    /// Bearer token for the HTTP APIs, read by the caller from the environment or a file.
    pub bearer_token: Option<String>,
}

impl fmt::Debug for Datasource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Datasource")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("url", &shown_url(&self.url))
            .field(
                "bearer_token",
                &self.bearer_token.as_ref().map(|_| "[REDACTED]"),
            )
            .finish()
    }
}

/// `scheme://host/…`: a URL as errors and logs may show it (no user, password, path).
#[must_use]
pub fn shown_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or("");
    format!("{scheme}://{host}/…")
}

/// How much a query may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryLimits {
    /// The whole query (connect, run, read) ends after this long.
    pub timeout: Duration,
    /// Rows (or series) kept; more are cut and the result says `truncated`.
    pub max_rows: usize,
    /// Bytes of result kept (JSON), and the most an HTTP response body may be (4x this).
    pub max_bytes: usize,
}

impl Default for QueryLimits {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            max_rows: 1000,
            max_bytes: 1 << 20,
        }
    }
}

/// A range query's window, in seconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Window {
    /// First instant.
    pub start: f64,
    /// Last instant.
    pub end: f64,
    /// Resolution.
    pub step: Duration,
}

impl Window {
    /// The window of `range` ending at `now_s`, at `step` (default: 60 points, at least 1s).
    #[must_use]
    pub fn ending_at(now_s: f64, range: Duration, step: Option<Duration>) -> Self {
        let step = step.unwrap_or(range / 60).max(Duration::from_secs(1));
        Self {
            start: now_s - range.as_secs_f64(),
            end: now_s,
            step,
        }
    }
}

/// Why a query could not give a result.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The datasource could not be reached or answered with a transport error.
    #[error("datasource {name} ({url}) could not be reached: {why}")]
    Unreachable {
        /// Datasource name.
        name: String,
        /// Its URL as shown (`scheme://host/…`).
        url: String,
        /// What failed.
        why: String,
    },
    /// The datasource refused or failed the query (bad syntax, a read-only violation).
    #[error("datasource {name} refused the query: {why}")]
    Refused {
        /// Datasource name.
        name: String,
        /// Its message.
        why: String,
    },
    /// The datasource answered something that is not its API's response.
    #[error("datasource {name} answered something unreadable: {why}")]
    BadResponse {
        /// Datasource name.
        name: String,
        /// What was wrong.
        why: String,
    },
    /// The query took longer than its limit.
    #[error("the query on {name} took longer than {timeout:?}")]
    TimedOut {
        /// Datasource name.
        name: String,
        /// The limit.
        timeout: Duration,
    },
    /// A query of a language this datasource does not speak, or a window SQL cannot use.
    #[error("{0}")]
    Mismatch(String),
}

/// Runs a bound query on a datasource within `limits`. It does not judge the query: SQL
/// runs inside a read-only transaction whatever it says, and the caller's gate runs only
/// what the SQL classifier called read (both layers are tested).
/// `window`: a range query (PromQL and
/// LogQL only); `now_s`: the instant of an instant query, seconds since the epoch.
pub async fn run_query(
    ds: &Datasource,
    query: &BoundQuery,
    window: Option<Window>,
    now_s: f64,
    limits: &QueryLimits,
) -> Result<QueryResult, QueryError> {
    if query.kind != ds.kind {
        return Err(QueryError::Mismatch(format!(
            "a query bound for {} cannot run on {} datasource {}",
            query.kind.as_str(),
            ds.kind.as_str(),
            ds.name
        )));
    }
    let work = async {
        match ds.kind {
            DatasourceKind::Prometheus | DatasourceKind::Loki => {
                http::run(ds, &query.text, window, now_s, limits).await
            }
            DatasourceKind::Postgres | DatasourceKind::Mysql => {
                if window.is_some() {
                    return Err(QueryError::Mismatch(
                        "a SQL query has no range window".into(),
                    ));
                }
                sql::run(ds, query, limits).await
            }
        }
    };
    match tokio::time::timeout(limits.timeout, work).await {
        Ok(r) => r,
        Err(_) => Err(QueryError::TimedOut {
            name: ds.name.clone(),
            timeout: limits.timeout,
        }),
    }
}

#[cfg(test)]
mod send_tests {
    /// The query future must be `Send`: the server spawns auto-triage onto its runtime.
    #[allow(dead_code)]
    fn run_query_is_send(ds: super::Datasource, q: super::BoundQuery, l: super::QueryLimits) {
        fn spawnable<F: std::future::Future + Send + 'static>(_: F) {}
        spawnable(async move {
            let _ = super::run_query(&ds, &q, None, 0.0, &l).await;
        });
    }
}
