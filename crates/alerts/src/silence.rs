//! Silences: matchers plus a `[starts_at, ends_at)` window; `now` is passed in.
//!
//! What one silence may cost is capped while it is parsed ([`MAX_SILENCE_MATCHERS`],
//! [`MAX_SILENCE_REGEXES`], [`MAX_SILENCE_REGEX_BYTES`], each regex at most
//! [`crate::MAX_REGEX_BYTES`]), so even a stored silence read at start can never cost
//! more than that; the budget over all silences is the caller's ([`RegexCost`]).

use jiff::Timestamp;
use serde::de::{Error as _, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::matcher::Matcher;
use crate::model::Alert;

/// A silence: alerts matching every matcher are muted while `starts_at <= now < ends_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Silence {
    /// Stable id, recorded on the timeline when it mutes an alert.
    pub id: String,
    /// All must match. A silence without matchers mutes nothing (Alertmanager refuses it).
    #[serde(deserialize_with = "capped_matchers")]
    pub matchers: Vec<Matcher>,
    /// First instant muted.
    pub starts_at: Timestamp,
    /// First instant no longer muted.
    pub ends_at: Timestamp,
    /// Who created it.
    pub created_by: String,
    /// Why.
    #[serde(default)]
    pub comment: String,
}

/// Most matchers one silence may have.
pub const MAX_SILENCE_MATCHERS: usize = 64;
/// Most regex matchers (`=~`, `!~`) one silence may have.
pub const MAX_SILENCE_REGEXES: usize = 16;
/// Most compiled regex bytes one silence may hold.
pub const MAX_SILENCE_REGEX_BYTES: usize = 2 << 20;

/// What regex matchers cost: how many, and their compiled bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RegexCost {
    /// Regex matchers.
    pub regexes: usize,
    /// Compiled bytes.
    pub bytes: usize,
}

impl RegexCost {
    /// The cost of `matchers`.
    pub fn of(matchers: &[Matcher]) -> RegexCost {
        matchers
            .iter()
            .fold(RegexCost::default(), |c, m| RegexCost {
                regexes: c.regexes + usize::from(m.is_regex()),
                bytes: c.bytes + m.regex_bytes(),
            })
    }

    /// Both costs added.
    #[must_use]
    pub fn plus(self, other: RegexCost) -> RegexCost {
        RegexCost {
            regexes: self.regexes + other.regexes,
            bytes: self.bytes + other.bytes,
        }
    }

    /// Why this is over one silence's caps, or `None`.
    pub fn over_silence_caps(&self, matchers: usize) -> Option<String> {
        if matchers > MAX_SILENCE_MATCHERS {
            Some(format!(
                "{matchers} matchers; a silence may have at most {MAX_SILENCE_MATCHERS}"
            ))
        } else if self.regexes > MAX_SILENCE_REGEXES {
            Some(format!(
                "{} regex matchers; a silence may have at most {MAX_SILENCE_REGEXES}",
                self.regexes
            ))
        } else if self.bytes > MAX_SILENCE_REGEX_BYTES {
            Some(format!(
                "its regexes compile to {} KiB; a silence may hold at most {} KiB",
                self.bytes >> 10,
                MAX_SILENCE_REGEX_BYTES >> 10
            ))
        } else {
            None
        }
    }
}

/// Deserializes a silence's matchers, refused as soon as one silence's caps are passed:
/// at most `MAX_SILENCE_REGEXES + 1` regexes are ever compiled for one silence. For
/// every body that carries a silence's matchers (`deserialize_with`).
pub fn capped_matchers<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Matcher>, D::Error> {
    struct Capped;
    impl<'de> Visitor<'de> for Capped {
        type Value = Vec<Matcher>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a list of matchers such as [\"alertname=~\\\"Db.*\\\"\"]")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out: Vec<Matcher> = Vec::new();
            while let Some(m) = seq.next_element::<Matcher>()? {
                out.push(m);
                if let Some(why) = RegexCost::of(&out).over_silence_caps(out.len()) {
                    return Err(A::Error::custom(format!("too costly: {why}")));
                }
            }
            Ok(out)
        }
    }
    d.deserialize_seq(Capped)
}

impl Silence {
    /// What its regex matchers cost.
    pub fn regex_cost(&self) -> RegexCost {
        RegexCost::of(&self.matchers)
    }

    /// Whether the silence is in force at `now` and mutes `alert`.
    pub fn mutes(&self, alert: &Alert, now: Timestamp) -> bool {
        !self.matchers.is_empty()
            && self.starts_at <= now
            && now < self.ends_at
            && Matcher::all(&self.matchers, &alert.labels)
    }
}

/// The first silence muting `alert` at `now`, if any.
pub fn silenced_by<'a>(
    alert: &Alert,
    silences: &'a [Silence],
    now: Timestamp,
) -> Option<&'a Silence> {
    silences.iter().find(|s| s.mutes(alert, now))
}

/// Whether any silence mutes `alert` at `now`.
pub fn is_silenced(alert: &Alert, silences: &[Silence], now: Timestamp) -> bool {
    silenced_by(alert, silences, now).is_some()
}
