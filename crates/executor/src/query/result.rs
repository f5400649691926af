//! A query's result as kept in evidence: a table (SQL rows, an instant vector, log lines)
//! or series (a range query), capped in rows and bytes.

use std::collections::BTreeMap;

use serde::Serialize;

/// What a query gave.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct QueryResult {
    /// `table` (columns and rows), `series` (a range query's series) or `scalar`.
    pub kind: &'static str,
    /// Column names of a table.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<String>,
    /// Rows of a table, cells as JSON values (`null` for SQL NULL).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rows: Vec<Vec<serde_json::Value>>,
    /// Series of a range query.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub series: Vec<Series>,
    /// True when rows, series or points were left out to stay within the limits.
    pub truncated: bool,
}

/// One series of a range query: its labels and `[seconds, "value"]` points, values as the
/// datasource wrote them (`"NaN"` and `"+Inf"` included).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Series {
    /// Label set.
    pub labels: BTreeMap<String, String>,
    /// Points in time order.
    pub points: Vec<(f64, String)>,
}

impl QueryResult {
    /// An empty table with these columns.
    pub(crate) fn table(columns: Vec<String>) -> Self {
        Self {
            kind: "table",
            columns,
            ..Self::default()
        }
    }

    /// Adds a row unless a limit is reached (then marks the result truncated). `used`
    /// counts the bytes kept so far.
    pub(crate) fn push_row(
        &mut self,
        row: Vec<serde_json::Value>,
        used: &mut usize,
        limits: &super::QueryLimits,
    ) -> bool {
        let size = serde_json::to_string(&row).map_or(usize::MAX, |s| s.len());
        if self.rows.len() >= limits.max_rows || used.saturating_add(size) > limits.max_bytes {
            self.truncated = true;
            return false;
        }
        *used += size;
        self.rows.push(row);
        true
    }

    /// Adds a series, cutting its points to what the byte limit leaves.
    pub(crate) fn push_series(
        &mut self,
        mut s: Series,
        used: &mut usize,
        limits: &super::QueryLimits,
    ) -> bool {
        if self.series.len() >= limits.max_rows {
            self.truncated = true;
            return false;
        }
        let head = serde_json::to_string(&s.labels).map_or(usize::MAX, |t| t.len());
        let mut size = head;
        let mut keep = 0;
        for (_, v) in &s.points {
            let p = 24 + v.len();
            if used.saturating_add(size + p) > limits.max_bytes {
                break;
            }
            size += p;
            keep += 1;
        }
        if keep < s.points.len() {
            s.points.truncate(keep);
            self.truncated = true;
        }
        if used.saturating_add(head) > limits.max_bytes {
            return false;
        }
        *used += size;
        self.series.push(s);
        !self.truncated
    }
}
