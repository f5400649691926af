//! Query steps: fenced `promql`, `logql` and `sql` blocks that run against a configured
//! datasource instead of a shell. The model, the placeholder scan for query text, and the
//! datasource a block names (info-string attribute, else front matter). Pure.

use std::collections::BTreeMap;
use std::ops::Range;
use std::time::Duration;

use serde::{Serialize, Serializer};

use crate::model::{Placeholder, PlaceholderSyntax, Role, Runbook};

/// The language of a query step, from the block's tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum QueryLanguage {
    /// Prometheus' query language, run through the Prometheus HTTP API.
    Promql,
    /// Loki's query language, run through the Loki HTTP API.
    Logql,
    /// SQL, run through a PostgreSQL or MySQL datasource in a read-only transaction.
    Sql,
}

impl QueryLanguage {
    /// The language for a block tag (`promql`, `logql`, `sql`), if it is one.
    #[must_use]
    pub fn from_tag(tag: &str) -> Option<Self> {
        match tag {
            "promql" => Some(Self::Promql),
            "logql" => Some(Self::Logql),
            "sql" => Some(Self::Sql),
            _ => None,
        }
    }

    /// The tag, as written on a block.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Promql => "promql",
            Self::Logql => "logql",
            Self::Sql => "sql",
        }
    }
}

/// A fenced query block: a step that runs against a datasource.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueryStep {
    /// Stable id: the `name` attribute, else heading-path slug plus `query-N`.
    pub id: String,
    /// Title: enclosing list item text, else the text before the block, else heading.
    pub title: String,
    /// Innermost enclosing section.
    pub section: Option<usize>,
    /// Role inherited from the sections around it.
    pub role: Option<Role>,
    /// What it is written in.
    pub language: QueryLanguage,
    /// The datasource it runs against: the `datasource` attribute, else the front
    /// matter's `datasources: {promql: NAME}` or `datasource: NAME`; `None`: the one
    /// configured datasource of that kind.
    pub datasource: Option<String>,
    /// The query as written (placeholders unbound).
    pub query: String,
    /// For PromQL and LogQL: a range query over this window ending now (`range=1h`);
    /// `None` is an instant query.
    #[serde(serialize_with = "ser_duration")]
    pub range: Option<Duration>,
    /// The resolution of a range query (`step=1m`); `None`: the window over 60 points.
    #[serde(serialize_with = "ser_duration")]
    pub step: Option<Duration>,
    /// Values it needs: `<name>` or `${NAME}` in the query text.
    pub placeholders: Vec<Placeholder>,
    /// `read` for PromQL and LogQL; for SQL, the SQL classifier's level of the one
    /// statement a query step may hold (see `sitrep_risk::classify_sql_query`).
    pub level: sitrep_risk::Level,
    /// The rules behind `level` (SQL only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<sitrep_risk::Reason>,
    /// Other attributes from the info string (`timeout`, `name`...).
    pub attributes: crate::model::Attributes,
    /// The whole block including fences.
    pub span: Range<usize>,
    /// 1-based line of the opening fence.
    pub line: usize,
}

fn ser_duration<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&humantime::format_duration(*d).to_string()),
        None => s.serialize_none(),
    }
}

/// The risk of a query: PromQL and LogQL only read; SQL is what the SQL classifier says
/// of it as one statement.
#[must_use]
pub fn query_level(
    language: QueryLanguage,
    query: &str,
) -> (sitrep_risk::Level, Vec<sitrep_risk::Reason>) {
    match language {
        QueryLanguage::Promql | QueryLanguage::Logql => (sitrep_risk::Level::Read, Vec::new()),
        QueryLanguage::Sql => sitrep_risk::classify_sql_query(query),
    }
}

/// One placeholder occurrence in query text: name, syntax, byte range in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryPlaceholder {
    /// The name as written.
    pub name: String,
    /// `<name>` or `${NAME}`.
    pub syntax: PlaceholderSyntax,
    /// The whole placeholder, delimiters included.
    pub range: Range<usize>,
}

/// Every `<name>` and `${NAME}` in query text, in order. A name starts with a letter and
/// holds letters, digits, `_` and `-` (at most 64 bytes); bare `$NAME` is not a
/// placeholder here (regular expressions end in `$`, PostgreSQL numbers its own `$1`).
#[must_use]
pub fn scan_query_placeholders(text: &str) -> Vec<QueryPlaceholder> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let (open, close, syntax) = match bytes[i] {
            b'<' => (1, b'>', PlaceholderSyntax::Angle),
            b'$' if bytes.get(i + 1) == Some(&b'{') => (2, b'}', PlaceholderSyntax::Braced),
            _ => {
                i += 1;
                continue;
            }
        };
        let start = i + open;
        let mut end = start;
        while end < bytes.len()
            && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_' || bytes[end] == b'-')
        {
            end += 1;
        }
        let name_ok = end > start
            && end - start <= 64
            && bytes[start].is_ascii_alphabetic()
            && bytes.get(end) == Some(&close);
        if name_ok && let Some(name) = text.get(start..end) {
            out.push(QueryPlaceholder {
                name: name.to_owned(),
                syntax,
                range: i..end + 1,
            });
            i = end + 1;
        } else {
            i += 1;
        }
    }
    out
}

/// Fills each query's datasource from the front matter when its block named none:
/// `datasources: {promql: NAME, sql: NAME}` by language, else `datasource: NAME`.
pub(crate) fn apply_front_matter(rb: &mut Runbook) {
    let Some(fm) = rb.front_matter.as_ref() else {
        return;
    };
    let by_lang: BTreeMap<String, String> = fm
        .extra
        .get("datasources")
        .and_then(|v| v.as_object())
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.to_ascii_lowercase(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    let single = fm
        .extra
        .get("datasource")
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    for q in &mut rb.queries {
        if q.datasource.is_none() {
            q.datasource = by_lang
                .get(q.language.as_str())
                .cloned()
                .or_else(|| single.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_in_queries() {
        let found = scan_query_placeholders(
            r#"up{instance="<instance>", job="${JOB}"} and x<y> 1 < 2 and "$"#,
        );
        let names: Vec<&str> = found.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["instance", "JOB", "y"]);
        assert_eq!(found[1].syntax, PlaceholderSyntax::Braced);
        assert!(scan_query_placeholders("a <= b and c < 3 and ${} and <1x>").is_empty());
    }

    #[test]
    fn levels() {
        assert_eq!(
            query_level(QueryLanguage::Promql, "up").0,
            sitrep_risk::Level::Read
        );
        assert_eq!(
            query_level(QueryLanguage::Sql, "SELECT 1").0,
            sitrep_risk::Level::Read
        );
        assert!(query_level(QueryLanguage::Sql, "DELETE FROM t").0 > sitrep_risk::Level::Read);
    }
}
