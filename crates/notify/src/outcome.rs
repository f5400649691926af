//! What one delivery attempt came to, and the pure rules that classify HTTP and SMTP
//! answers into delivered, retry later, or give up.
//!
//! Reasons are short, human and safe to put on a timeline: they never contain a webhook
//! URL's path or query (where Slack and friends keep their tokens) nor credentials.

use std::time::{Duration, UNIX_EPOCH};

use serde::{Serialize, Serializer};

/// The result of one attempt on one channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// The receiver accepted the message (HTTP 2xx, SMTP 250).
    Delivered,
    /// Try again later: 429, 5xx, a timeout, a connection error, SMTP 4xx.
    Retry {
        /// How long the receiver asked us to wait (`Retry-After`), if it did.
        #[serde(rename = "after_ms", serialize_with = "opt_ms")]
        after: Option<Duration>,
        /// What went wrong, for people.
        reason: String,
    },
    /// Retrying will not help: other 4xx, SMTP 5xx, a bad address.
    Permanent {
        /// What went wrong, for people.
        reason: String,
    },
}

impl Outcome {
    /// The outcome without its details, for counters.
    pub fn kind(&self) -> OutcomeKind {
        match self {
            Self::Delivered => OutcomeKind::Delivered,
            Self::Retry { .. } => OutcomeKind::Retry,
            Self::Permanent { .. } => OutcomeKind::Permanent,
        }
    }

    /// Whether the message arrived.
    pub fn is_delivered(&self) -> bool {
        matches!(self, Self::Delivered)
    }

    pub(crate) fn retry(reason: impl Into<String>) -> Self {
        Self::Retry {
            after: None,
            reason: reason.into(),
        }
    }

    pub(crate) fn permanent(reason: impl Into<String>) -> Self {
        Self::Permanent {
            reason: reason.into(),
        }
    }
}

/// [`Outcome`] without details.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeKind {
    /// Delivered.
    Delivered,
    /// Retry later.
    Retry,
    /// Given up.
    Permanent,
}

/// One attempt on one channel, as the timeline shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attempt {
    /// The channel id.
    pub channel: String,
    /// What happened.
    #[serde(flatten)]
    pub outcome: Outcome,
    /// How long the attempt took.
    #[serde(rename = "duration_ms", serialize_with = "ms")]
    pub duration: Duration,
    /// 1 for the first attempt of this delivery on this channel, 2 for the next pass...
    pub attempt: u32,
}

fn ms<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn opt_ms<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => ms(d, s),
        None => s.serialize_none(),
    }
}

/// Classifies an HTTP status: 2xx delivered; 408, 429 and 5xx retry (with `Retry-After`
/// honoured); everything else, redirects included, is permanent (a webhook that redirects
/// is misconfigured, and following it would send the payload somewhere unreviewed).
pub fn classify_http(status: u16, retry_after: Option<&str>, now_ms: u64) -> Outcome {
    let reason = http_reason(status);
    match status {
        200..=299 => Outcome::Delivered,
        408 | 429 | 500..=599 => Outcome::Retry {
            after: retry_after.and_then(|v| parse_retry_after(v, now_ms)),
            reason,
        },
        300..=399 => Outcome::permanent(format!("{reason} (redirects are not followed)")),
        _ => Outcome::permanent(reason),
    }
}

fn http_reason(status: u16) -> String {
    let text = reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason());
    match text {
        Some(t) => format!("HTTP {status} {t}"),
        None => format!("HTTP {status}"),
    }
}

/// Longest `Retry-After` taken at face value; a receiver asking for more is capped here
/// (and again by the backoff's maximum), so a bogus header cannot park a page for years.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// Parses a `Retry-After` value: delay-seconds or an HTTP-date, relative to `now_ms`
/// (milliseconds since the Unix epoch). A date in the past means "now" (zero).
pub fn parse_retry_after(value: &str, now_ms: u64) -> Option<Duration> {
    let v = value.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        // Very long digit strings overflow u64: they are "a very long time", not garbage.
        let secs = v.parse::<u64>().unwrap_or(u64::MAX);
        return Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    let at_ms = at.duration_since(UNIX_EPOCH).ok()?.as_millis();
    let at_ms = u64::try_from(at_ms).unwrap_or(u64::MAX);
    Some(Duration::from_millis(at_ms.saturating_sub(now_ms)).min(MAX_RETRY_AFTER))
}

/// Classifies an SMTP reply code: 2xx delivered, 4xx transient (retry), 5xx permanent.
pub fn classify_smtp(code: u16, text: &str) -> Outcome {
    let text = crate::message::one_line(text, 120);
    let reason = if text.is_empty() {
        format!("SMTP {code}")
    } else {
        format!("SMTP {code} {text}")
    };
    match code {
        200..=399 => Outcome::Delivered,
        400..=499 => Outcome::retry(reason),
        _ => Outcome::permanent(reason),
    }
}

/// A URL reduced to `scheme://host[:port]/…`: webhook URLs carry their secret in the path
/// or query, so nothing past the host is ever shown.
pub fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => {
            let host = u.host_str().unwrap_or("?");
            match u.port() {
                Some(p) => format!("{}://{host}:{p}/…", u.scheme()),
                None => format!("{}://{host}/…", u.scheme()),
            }
        }
        Err(_) => "(unparsable URL)".to_string(),
    }
}

/// Formats a duration for a reason: `300ms`, `5s`, `2m`.
pub(crate) fn human(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 || ms % 1000 != 0 {
        format!("{ms}ms")
    } else if ms % 60_000 == 0 {
        format!("{}m", ms / 60_000)
    } else {
        format!("{}s", ms / 1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_classes() {
        assert_eq!(classify_http(200, None, 0), Outcome::Delivered);
        assert_eq!(classify_http(204, None, 0), Outcome::Delivered);
        assert_eq!(classify_http(500, None, 0).kind(), OutcomeKind::Retry);
        assert_eq!(classify_http(503, None, 0).kind(), OutcomeKind::Retry);
        assert_eq!(classify_http(429, None, 0).kind(), OutcomeKind::Retry);
        assert_eq!(classify_http(400, None, 0).kind(), OutcomeKind::Permanent);
        assert_eq!(classify_http(404, None, 0).kind(), OutcomeKind::Permanent);
        assert_eq!(classify_http(301, None, 0).kind(), OutcomeKind::Permanent);
        assert_eq!(
            classify_http(400, None, 0),
            Outcome::permanent("HTTP 400 Bad Request")
        );
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        assert_eq!(parse_retry_after("7", 0), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(" 0 ", 0), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("99999999999999999999999", 0),
            Some(MAX_RETRY_AFTER)
        );
        // 1994-11-06T08:49:37Z is 784111777 s after the epoch.
        let date = "Sun, 06 Nov 1994 08:49:37 GMT";
        let now = 784_111_777_000 - 30_000;
        assert_eq!(parse_retry_after(date, now), Some(Duration::from_secs(30)));
        assert_eq!(
            parse_retry_after(date, now + 90_000),
            Some(Duration::ZERO),
            "a date in the past means now"
        );
        assert_eq!(parse_retry_after("soon", 0), None);
        assert_eq!(parse_retry_after("-5", 0), None);
        assert_eq!(
            classify_http(429, Some("3"), 0),
            Outcome::Retry {
                after: Some(Duration::from_secs(3)),
                reason: "HTTP 429 Too Many Requests".into()
            }
        );
    }

    #[test]
    fn smtp_classes() {
        assert_eq!(classify_smtp(451, "try later").kind(), OutcomeKind::Retry);
        assert_eq!(
            classify_smtp(550, "no such user"),
            Outcome::permanent("SMTP 550 no such user")
        );
    }

    #[test]
    fn urls_are_redacted_to_scheme_and_host() {
        assert_eq!(
            redact_url("https://hooks.slack.com/services/T0/B0/SECRET?x=1"),
            "https://hooks.slack.com/…"
        );
        assert_eq!(
            redact_url("http://user:pw@127.0.0.1:8080/hook/TOKEN"),
            "http://127.0.0.1:8080/…"
        );
        assert_eq!(redact_url("not a url SECRET"), "(unparsable URL)");
    }

    #[test]
    fn attempt_serializes_flat_with_millis() {
        let a = Attempt {
            channel: "ops".into(),
            outcome: Outcome::Retry {
                after: Some(Duration::from_secs(2)),
                reason: "HTTP 503 Service Unavailable".into(),
            },
            duration: Duration::from_millis(15),
            attempt: 2,
        };
        let v = serde_json::to_value(&a).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"channel": "ops", "outcome": "retry", "after_ms": 2000,
                "reason": "HTTP 503 Service Unavailable", "duration_ms": 15, "attempt": 2})
        );
    }
}
