//! Alert fingerprints: Prometheus's `LabelSet.Fingerprint` (FNV-1a 64 over sorted labels).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::model::Labels;

/// FNV-1a 64 offset basis and prime, as in Go's `hash/fnv` and Prometheus's `model/fnv.go`.
const OFFSET64: u64 = 14_695_981_039_346_656_037;
const PRIME64: u64 = 1_099_511_628_211;
/// Prometheus's `model.SeparatorByte`: never valid UTF-8, so `a=bc` and `ab=c` differ.
const SEPARATOR: u8 = 0xff;

/// The identity of an alert: a 64-bit hash of its label set, shown as 16 lower-case hex
/// digits exactly like Alertmanager's `fingerprint` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fingerprint(pub u64);

impl Fingerprint {
    /// Prometheus's `labelSetToFingerprint`: for each label in name order, hash the name,
    /// the separator, the value and the separator. The empty set hashes to the offset basis.
    pub fn of_labels(labels: &Labels) -> Self {
        // BTreeMap iterates in byte order of names, which is Go's sort order for strings.
        let mut h = OFFSET64;
        for (name, value) in labels {
            h = add(h, name.as_bytes());
            h = add(h, &[SEPARATOR]);
            h = add(h, value.as_bytes());
            h = add(h, &[SEPARATOR]);
        }
        Fingerprint(h)
    }
}

fn add(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(PRIME64);
    }
    h
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// A fingerprint string that is not 1 to 16 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("fingerprint {0:?} is not 1 to 16 hex digits")]
pub struct FingerprintParseError(String);

impl FromStr for Fingerprint {
    type Err = FingerprintParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // from_str_radix alone would accept a leading '+'.
        if s.is_empty() || s.len() > 16 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(FingerprintParseError(s.chars().take(40).collect()));
        }
        u64::from_str_radix(s, 16)
            .map(Fingerprint)
            .map_err(|_| FingerprintParseError(s.to_owned()))
    }
}

impl Serialize for Fingerprint {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Fingerprint {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// Values from Prometheus common/model `signature_test.go` (`TestLabelsToSignature`,
    /// `TestMetricToFingerprint`).
    #[test]
    fn matches_prometheus_known_values() {
        assert_eq!(
            Fingerprint::of_labels(&labels(&[])).0,
            14_695_981_039_346_656_037
        );
        assert_eq!(
            Fingerprint::of_labels(&labels(&[
                ("name", "garland, briggs"),
                ("fear", "love is not enough"),
            ]))
            .0,
            5_799_056_148_416_392_346
        );
    }

    #[test]
    fn renders_like_alertmanager() {
        assert_eq!(Fingerprint(0x1a30).to_string(), "0000000000001a30");
        assert_eq!(
            "1a30ba71cca2921f"
                .parse::<Fingerprint>()
                .map(|f| f.to_string())
                .ok()
                .as_deref(),
            Some("1a30ba71cca2921f")
        );
        assert!("+1".parse::<Fingerprint>().is_err());
        assert!("".parse::<Fingerprint>().is_err());
        assert!("00000000000000000".parse::<Fingerprint>().is_err());
    }
}
