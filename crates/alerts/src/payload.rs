//! Webhook payload parsers: Alertmanager v4, Grafana v1 and generic JSON into a [`Batch`].

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::de::{self, DeserializeOwned};
use serde::{Deserialize, Deserializer};

use crate::fingerprint::Fingerprint;
use crate::model::{Alert, Batch, Labels, Source, Status};

/// Most alerts accepted in one payload (Alertmanager's default `max_alerts` is unbounded;
/// a storm is summarised by `truncatedAlerts`, so this is generous).
pub const MAX_ALERTS: usize = 10_000;
/// Most labels on one alert.
pub const MAX_LABELS: usize = 128;
/// Longest label name or value, in bytes.
pub const MAX_LABEL_BYTES: usize = 4_096;
/// Longest annotation value, in bytes (descriptions can be long; names obey the label cap).
pub const MAX_ANNOTATION_BYTES: usize = 65_536;

/// Why a payload was refused. Every variant names the offending field path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// Not JSON, or JSON of the wrong shape.
    #[error("{path}: {message} (line {line}, column {column})")]
    Json {
        /// Field path like `alerts[2].labels`, or `.` for the document itself.
        path: String,
        /// What was wrong, from the JSON parser.
        message: String,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
    },
    /// The `version` field is not the one this parser reads.
    #[error("version: expected {expected:?}, found {found:?}")]
    Version {
        /// The supported version.
        expected: &'static str,
        /// What the payload said.
        found: String,
    },
    /// More alerts than [`MAX_ALERTS`].
    #[error("alerts: {count} alerts, at most {MAX_ALERTS} accepted")]
    TooManyAlerts {
        /// How many the payload held.
        count: usize,
    },
    /// More labels than [`MAX_LABELS`] on one alert.
    #[error("{path}: {count} labels, at most {MAX_LABELS} accepted")]
    TooManyLabels {
        /// Field path like `alerts[0].labels`.
        path: String,
        /// How many it held.
        count: usize,
    },
    /// A name or value longer than its cap.
    #[error("{path}: {len} bytes, at most {max} accepted")]
    TooLong {
        /// Field path like `alerts[0].labels.instance`.
        path: String,
        /// Its length.
        len: usize,
        /// The cap.
        max: usize,
    },
    /// Alertmanager's `fingerprint` is not 1 to 16 hex digits.
    #[error("{path}: {message}")]
    Fingerprint {
        /// Field path like `alerts[0].fingerprint`.
        path: String,
        /// What was wrong.
        message: String,
    },
    /// A generic alert without labels cannot be identified or routed.
    #[error("{path}: at least one label is required")]
    NoLabels {
        /// Field path like `alerts[0].labels`.
        path: String,
    },
}

/// A timestamp field: RFC 3339; Go's zero time (year 1) means "not set".
#[derive(Debug, Default, Clone, Copy)]
struct WireTime(Option<Timestamp>);

impl<'de> Deserialize<'de> for WireTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Option::<String>::deserialize(d)?;
        let Some(s) = s.filter(|s| !s.is_empty()) else {
            return Ok(WireTime(None));
        };
        let ts: Timestamp = s
            .parse()
            .map_err(|e| de::Error::custom(format!("not an RFC 3339 timestamp: {e}")))?;
        // 0001-01-01T00:00:00Z is Go's time.Time{}; Alertmanager sends it for "no end".
        const GO_ZERO_SECONDS: i64 = -62_135_596_800;
        Ok(WireTime((ts.as_second() > GO_ZERO_SECONDS).then_some(ts)))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireAlert {
    status: Status,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default)]
    starts_at: WireTime,
    #[serde(default)]
    ends_at: WireTime,
    #[serde(default, rename = "generatorURL")]
    generator_url: Option<String>,
    #[serde(default)]
    fingerprint: Option<String>,
}

/// Alertmanager webhook v4 and Grafana v1 share this shape; unknown fields are ignored.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireGroup {
    version: String,
    #[serde(default)]
    group_key: Option<String>,
    #[serde(default)]
    receiver: Option<String>,
    #[serde(default)]
    common_labels: BTreeMap<String, String>,
    alerts: Vec<WireAlert>,
}

#[derive(Deserialize)]
struct GenericPayload {
    #[serde(default, alias = "groupKey")]
    group_key: Option<String>,
    #[serde(default)]
    receiver: Option<String>,
    alerts: Vec<GenericAlert>,
}

#[derive(Deserialize)]
struct GenericAlert {
    #[serde(default = "firing")]
    status: Status,
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default, alias = "startsAt")]
    starts_at: WireTime,
    #[serde(default, alias = "endsAt")]
    ends_at: WireTime,
    #[serde(default, alias = "generatorURL")]
    generator_url: Option<String>,
}

fn firing() -> Status {
    Status::Firing
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, PayloadError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        PayloadError::Json {
            path,
            // serde_json appends " at line L column C"; we report those separately.
            message: strip_position(&inner.to_string()),
            line: inner.line(),
            column: inner.column(),
        }
    })?;
    // Trailing garbage after the document is malformed input too.
    de.end().map_err(|e| PayloadError::Json {
        path: ".".to_owned(),
        message: strip_position(&e.to_string()),
        line: e.line(),
        column: e.column(),
    })?;
    Ok(value)
}

fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg.get(..i).unwrap_or(msg).to_owned(),
        None => msg.to_owned(),
    }
}

fn check_map(path: &str, map: &Labels, value_max: usize) -> Result<(), PayloadError> {
    if map.len() > MAX_LABELS {
        return Err(PayloadError::TooManyLabels {
            path: path.to_owned(),
            count: map.len(),
        });
    }
    for (name, value) in map {
        let field = format!("{path}.{name}");
        if name.len() > MAX_LABEL_BYTES {
            let shown: String = name.chars().take(32).collect();
            return Err(PayloadError::TooLong {
                path: format!("{path}.{shown}…"),
                len: name.len(),
                max: MAX_LABEL_BYTES,
            });
        }
        if value.len() > value_max {
            return Err(PayloadError::TooLong {
                path: field,
                len: value.len(),
                max: value_max,
            });
        }
    }
    Ok(())
}

fn check_alert(i: usize, labels: &Labels, annotations: &Labels) -> Result<(), PayloadError> {
    check_map(&format!("alerts[{i}].labels"), labels, MAX_LABEL_BYTES)?;
    check_map(
        &format!("alerts[{i}].annotations"),
        annotations,
        MAX_ANNOTATION_BYTES,
    )
}

fn group(
    bytes: &[u8],
    source: Source,
    expected: &'static str,
    trust_fingerprint: bool,
) -> Result<Batch, PayloadError> {
    let wire: WireGroup = decode(bytes)?;
    if wire.version != expected {
        return Err(PayloadError::Version {
            expected,
            found: wire.version,
        });
    }
    if wire.alerts.len() > MAX_ALERTS {
        return Err(PayloadError::TooManyAlerts {
            count: wire.alerts.len(),
        });
    }
    check_map("commonLabels", &wire.common_labels, MAX_LABEL_BYTES)?;
    let mut alerts = Vec::with_capacity(wire.alerts.len());
    for (i, a) in wire.alerts.into_iter().enumerate() {
        check_alert(i, &a.labels, &a.annotations)?;
        let sent = match a.fingerprint.as_deref() {
            Some(fp) if trust_fingerprint && !fp.is_empty() => Some(
                fp.parse::<Fingerprint>()
                    .map_err(|e| PayloadError::Fingerprint {
                        path: format!("alerts[{i}].fingerprint"),
                        message: e.to_string(),
                    })?,
            ),
            _ => None,
        };
        alerts.push(Alert {
            source,
            fingerprint: sent.unwrap_or_else(|| Fingerprint::of_labels(&a.labels)),
            status: a.status,
            labels: a.labels,
            annotations: a.annotations,
            starts_at: a.starts_at.0,
            ends_at: a.ends_at.0,
            generator_url: a.generator_url.filter(|u| !u.is_empty()),
        });
    }
    Ok(Batch {
        source,
        group_key: wire.group_key.filter(|k| !k.is_empty()),
        receiver: wire.receiver.filter(|r| !r.is_empty()),
        common_labels: wire.common_labels,
        alerts,
    })
}

/// Parses an Alertmanager webhook (version `"4"`). Each alert keeps Alertmanager's own
/// `fingerprint`; alerts without one get [`Fingerprint::of_labels`], which is the same value.
pub fn parse_alertmanager(bytes: &[u8]) -> Result<Batch, PayloadError> {
    group(bytes, Source::Alertmanager, "4", true)
}

/// Parses a Grafana unified alerting webhook (version `"1"`). Grafana's `fingerprint` is
/// its own hash and ignored: alerts get [`Fingerprint::of_labels`] so that the same label
/// set has the same identity whichever source sent it.
pub fn parse_grafana(bytes: &[u8]) -> Result<Batch, PayloadError> {
    group(bytes, Source::Grafana, "1", false)
}

/// Parses sitrep's generic JSON: `{"alerts": [{"labels": {...}, ...}]}` (see
/// `docs/alerts.md`). `status` defaults to firing; at least one label is required.
pub fn parse_generic(bytes: &[u8]) -> Result<Batch, PayloadError> {
    let wire: GenericPayload = decode(bytes)?;
    if wire.alerts.len() > MAX_ALERTS {
        return Err(PayloadError::TooManyAlerts {
            count: wire.alerts.len(),
        });
    }
    let mut alerts = Vec::with_capacity(wire.alerts.len());
    for (i, a) in wire.alerts.into_iter().enumerate() {
        if a.labels.is_empty() {
            return Err(PayloadError::NoLabels {
                path: format!("alerts[{i}].labels"),
            });
        }
        check_alert(i, &a.labels, &a.annotations)?;
        alerts.push(Alert {
            source: Source::Generic,
            fingerprint: Fingerprint::of_labels(&a.labels),
            status: a.status,
            labels: a.labels,
            annotations: a.annotations,
            starts_at: a.starts_at.0,
            ends_at: a.ends_at.0,
            generator_url: a.generator_url.filter(|u| !u.is_empty()),
        });
    }
    let common_labels = common(&alerts);
    Ok(Batch {
        source: Source::Generic,
        group_key: wire.group_key.filter(|k| !k.is_empty()),
        receiver: wire.receiver.filter(|r| !r.is_empty()),
        common_labels,
        alerts,
    })
}

/// Labels with the same value on every alert (what Alertmanager calls commonLabels).
fn common(alerts: &[Alert]) -> Labels {
    let mut iter = alerts.iter();
    let Some(first) = iter.next() else {
        return Labels::new();
    };
    let mut out = first.labels.clone();
    for a in iter {
        out.retain(|k, v| a.labels.get(k) == Some(v));
    }
    out
}
