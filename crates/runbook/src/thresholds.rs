//! Thresholds as checks: a thresholds row's cells (`< 300ms`, `70-85%`, `> 2s`) read as
//! conditions on a number, and a value judged normal, warning or critical. Durations are
//! taken in seconds and sizes in bytes (Prometheus' base units); `%` and bare numbers
//! are compared as written. Pure.

use serde::Serialize;

use crate::model::{Runbook, TableData, Threshold};

/// What a value is, by a thresholds row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ThresholdStatus {
    /// Inside the normal band (or below warning when the row has no normal cell).
    Normal,
    /// No cell's condition holds, or no value came back.
    Unknown,
    /// The warning cell's condition holds.
    Warning,
    /// The critical cell's condition holds.
    Critical,
}

impl ThresholdStatus {
    /// The lowercase name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Normal => "normal",
            Self::Unknown => "unknown",
            Self::Warning => "warning",
            Self::Critical => "critical",
        }
    }
}

/// How an operator word builds its condition.
type MakeCondition = fn(f64) -> Condition;

/// A condition a cell states.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Condition {
    /// `< x` (`below x`)
    Below(f64),
    /// `<= x`
    AtMost(f64),
    /// `> x` (`above x`)
    Above(f64),
    /// `>= x`
    AtLeast(f64),
    /// `a-b`, `a to b`: inclusive.
    Between(f64, f64),
    /// `x`
    Equal(f64),
}

impl Condition {
    /// Reads a cell; `None` when it states no condition on a number.
    #[must_use]
    pub fn parse(cell: &str) -> Option<Self> {
        let t = cell.trim().trim_matches('`').trim().to_ascii_lowercase();
        let ops: [(&str, MakeCondition); 10] = [
            ("<=", Condition::AtMost),
            (">=", Condition::AtLeast),
            ("≤", Condition::AtMost),
            ("≥", Condition::AtLeast),
            ("<", Condition::Below),
            (">", Condition::Above),
            ("below ", Condition::Below),
            ("under ", Condition::Below),
            ("above ", Condition::Above),
            ("over ", Condition::Above),
        ];
        for (op, make) in ops {
            if let Some(rest) = t.strip_prefix(op) {
                return number(rest).map(make);
            }
        }
        for sep in [" to ", "–", "-"] {
            if let Some((a, b)) = t.split_once(sep)
                && !a.trim().is_empty()
            {
                let (a, b) = (number(a)?, number(b)?);
                // `70-85%`, `100-300ms`: a unit written once applies to both ends.
                let (a_text, b_text) = t.split_once(sep).unwrap_or((&t, ""));
                let a = if unit_of(a_text).is_empty() {
                    a * unit_scale(unit_of(b_text))
                } else {
                    a
                };
                return Some(Condition::Between(a.min(b), a.max(b)));
            }
        }
        number(&t).map(Condition::Equal)
    }

    /// Whether `v` satisfies it.
    #[must_use]
    pub fn holds(self, v: f64) -> bool {
        match self {
            Self::Below(x) => v < x,
            Self::AtMost(x) => v <= x,
            Self::Above(x) => v > x,
            Self::AtLeast(x) => v >= x,
            Self::Between(a, b) => (a..=b).contains(&v),
            Self::Equal(x) => (v - x).abs() <= f64::EPSILON * x.abs().max(1.0),
        }
    }
}

/// The unit letters a number ends with (`300ms` -> `ms`).
fn unit_of(t: &str) -> &str {
    let t = t.trim();
    let end = t
        .rfind(|c: char| c.is_ascii_digit() || c == '.')
        .map_or(0, |i| i + 1);
    t.get(end..).unwrap_or("").trim()
}

fn unit_scale(unit: &str) -> f64 {
    match unit {
        "ms" => 1e-3,
        "us" | "µs" => 1e-6,
        "m" | "min" | "mins" | "minutes" => 60.0,
        "h" | "hours" => 3600.0,
        "kb" | "k" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "kib" => 1024.0,
        "mib" => 1_048_576.0,
        "gib" => 1_073_741_824.0,
        _ => 1.0,
    }
}

/// `300ms` -> 0.3, `85%` -> 85, `2 GiB` -> bytes; `None` for anything else.
fn number(t: &str) -> Option<f64> {
    let t = t.trim();
    let end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
        .unwrap_or(t.len());
    let n: f64 = t.get(..end)?.parse().ok()?;
    let unit = t.get(end..)?.trim();
    let known = [
        "", "%", "ms", "us", "µs", "s", "sec", "seconds", "m", "min", "mins", "minutes", "h",
        "hours", "kb", "k", "mb", "gb", "kib", "mib", "gib", "b", "bytes",
    ];
    known
        .contains(&unit)
        .then(|| n * unit_scale(unit))
        .filter(|n| n.is_finite())
}

impl Threshold {
    /// What `value` is by this row: critical, else warning, else normal when its normal
    /// cell holds (or it has none); `Unknown` when no cell holds.
    #[must_use]
    pub fn judge(&self, value: f64) -> ThresholdStatus {
        let holds = |c: &Option<String>| {
            c.as_deref()
                .and_then(Condition::parse)
                .map(|c| c.holds(value))
        };
        if value.is_nan() {
            return ThresholdStatus::Unknown;
        }
        match (
            holds(&self.critical),
            holds(&self.warning),
            holds(&self.normal),
        ) {
            (Some(true), _, _) => ThresholdStatus::Critical,
            (_, Some(true), _) => ThresholdStatus::Warning,
            (_, _, Some(true)) => ThresholdStatus::Normal,
            (_, _, Some(false)) => ThresholdStatus::Unknown,
            (None, None, None) => ThresholdStatus::Unknown,
            _ => ThresholdStatus::Normal,
        }
    }
}

/// Fills each thresholds row's `query` from front matter `metrics: {NAME: EXPR}` where
/// the table has no query column for it (names match without backticks, any case).
pub(crate) fn apply_front_matter(rb: &mut Runbook) {
    let Some(metrics) = rb
        .front_matter
        .as_ref()
        .and_then(|f| f.extra.get("metrics"))
        .and_then(|v| v.as_object())
        .cloned()
    else {
        return;
    };
    let key = |s: &str| s.trim().trim_matches('`').trim().to_lowercase();
    for t in &mut rb.tables {
        let TableData::Thresholds(rows) = &mut t.data else {
            continue;
        };
        for row in rows.iter_mut().filter(|r| r.query.is_none()) {
            row.query = metrics
                .iter()
                .find(|(k, _)| key(k) == key(&row.metric))
                .and_then(|(_, v)| v.as_str())
                .map(str::to_owned);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(normal: Option<&str>, warning: &str, critical: &str) -> Threshold {
        Threshold {
            metric: "m".into(),
            normal: normal.map(Into::into),
            warning: Some(warning.into()),
            critical: Some(critical.into()),
            query: None,
        }
    }

    #[test]
    fn cells_read_as_conditions() {
        assert_eq!(Condition::parse("< 300ms"), Some(Condition::Below(0.3)));
        assert_eq!(Condition::parse("> 2s"), Some(Condition::Above(2.0)));
        assert_eq!(Condition::parse(">= 95%"), Some(Condition::AtLeast(95.0)));
        assert_eq!(
            Condition::parse("70-85%"),
            Some(Condition::Between(70.0, 85.0))
        );
        assert_eq!(
            Condition::parse("10 to 50"),
            Some(Condition::Between(10.0, 50.0))
        );
        assert_eq!(
            Condition::parse("100-300ms"),
            Some(Condition::Between(0.1, 0.3))
        );
        assert_eq!(Condition::parse("`0`"), Some(Condition::Equal(0.0)));
        assert_eq!(
            Condition::parse("above 1 GiB"),
            Some(Condition::Above(1_073_741_824.0))
        );
        for none in ["", "high", "see dashboard", "> lots"] {
            assert_eq!(Condition::parse(none), None, "{none}");
        }
    }

    #[test]
    fn values_are_judged_worst_first() {
        let r = row(Some("< 300ms"), "> 1s", "> 2s");
        assert_eq!(r.judge(0.2), ThresholdStatus::Normal);
        assert_eq!(r.judge(1.5), ThresholdStatus::Warning);
        assert_eq!(r.judge(2.5), ThresholdStatus::Critical);
        assert_eq!(
            r.judge(0.5),
            ThresholdStatus::Unknown,
            "between normal and warning"
        );
        assert_eq!(r.judge(f64::NAN), ThresholdStatus::Unknown);
        let r = row(None, "10-50", "> 50");
        assert_eq!(r.judge(3.0), ThresholdStatus::Normal);
        assert_eq!(r.judge(42.0), ThresholdStatus::Warning);
    }
}
