//! Canonical, versioned leaf records: what one event of an incident puts in the log.
//!
//! The encoding is canonical JSON (see docs/ledger-format.md): fixed field order, no
//! whitespace, no floats, optional fields omitted when absent, payload keys sorted.
//! Each record has exactly one encoding; [`Record::decode`] rejects every other byte
//! string, so a leaf hash identifies a record.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::hash::{Hash, leaf_hash};
use crate::note::Verifier;

/// The record format version this crate writes: 2, where an incident's records are
/// chained (`prev`). Version 1 records (no `prev` field) still decode.
pub const RECORD_VERSION: u32 = 2;

/// The version before incident chains: still read, never written by a chaining writer.
pub const RECORD_VERSION_UNLINKED: u32 = 1;

/// The event type of a key rotation record: the log moves from the verifier key in its
/// payload's `from` to the one in `to` (see docs/ledger-format.md, "Key rotation").
pub const KEY_ROTATED: &str = "ledger.key_rotated";

/// Largest encoded record in bytes; it keeps every record inside a tlog-tiles entry
/// bundle, whose entries carry a 16-bit length.
pub const MAX_RECORD_LEN: usize = 65_535;

/// Longest `actor_id` in bytes (a `cli:` prefix on a 200-byte name fits).
pub const MAX_ACTOR_ID_LEN: usize = 256;

/// One event of an incident, as sealed into the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// Format version, [`RECORD_VERSION`].
    pub v: u32,
    /// Event type, e.g. `incident.declared`, `step.run`, `evidence.captured`:
    /// lower-case ASCII letters, digits, `.`, `_` and `-`, starting with a letter.
    #[serde(rename = "type")]
    pub event_type: String,
    /// When the event happened, Unix time in milliseconds (passed in by the caller).
    pub time_ms: u64,
    /// Who caused the event (a user, `system`, a service account): the name people read.
    pub actor: String,
    /// The id of who caused it, which tells two actors of the same name apart: an API
    /// token's id, `cli:NAME` for a name asserted on the command line, `sitrep:NAME` for
    /// sitrep's own actors. Absent from records sealed before ids were recorded, whose
    /// canonical bytes therefore stay what they were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_id: Option<String>,
    /// The incident the event belongs to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident: Option<String>,
    /// The previous record of the same incident (version 2 only). A version-2 incident
    /// record without it is its incident's first record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev: Option<Link>,
    /// The captured artifact's digest and metadata, for evidence events; never its bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
    /// Small free-form string attributes (sorted by key in the encoding).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub payload: BTreeMap<String, String>,
}

/// What a record says about a piece of evidence held in the blob store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    /// SHA-256 of the artifact's bytes (lower-case hex in the encoding).
    pub sha256: Hash,
    /// The artifact's size in bytes.
    pub size: u64,
    /// Its media type, e.g. `text/plain`.
    pub media_type: String,
}

/// A record's reference to an earlier leaf: its index and RFC 6962 leaf hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    /// The earlier record's leaf index.
    pub index: u64,
    /// Its leaf hash (lower-case hex in the encoding).
    pub hash: Hash,
}

/// Why a record cannot be encoded or decoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// Not JSON of the record's shape (or unknown fields, wrong types, floats).
    #[error("not a record: {0}")]
    Malformed(#[from] serde_json::Error),
    /// Well-formed but not the one canonical encoding of the record it describes.
    #[error("record is not canonically encoded")]
    NonCanonical,
    /// A version this crate does not know.
    #[error("unsupported record version {0}")]
    UnsupportedVersion(u32),
    /// A field whose value is not allowed.
    #[error("invalid record field {field}: {reason}")]
    InvalidField {
        /// The field's name in the encoding.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The encoding would exceed [`MAX_RECORD_LEN`].
    #[error("record is {len} bytes, more than the maximum of {MAX_RECORD_LEN}")]
    TooLarge {
        /// The encoded length.
        len: usize,
    },
}

impl Record {
    /// A current-version record with no incident, link, evidence or payload.
    pub fn new(event_type: impl Into<String>, time_ms: u64, actor: impl Into<String>) -> Record {
        Record {
            v: RECORD_VERSION,
            event_type: event_type.into(),
            time_ms,
            actor: actor.into(),
            actor_id: None,
            incident: None,
            prev: None,
            evidence: None,
            payload: BTreeMap::new(),
        }
    }

    /// The same record, naming who caused it by id as well as by name.
    #[must_use]
    pub fn by_id(mut self, actor_id: impl Into<String>) -> Record {
        self.actor_id = Some(actor_id.into());
        self
    }

    /// A key rotation record: the log's signing key moves from `from` to `to`.
    pub fn key_rotation(from: &Verifier, to: &Verifier, time_ms: u64, actor: &str) -> Record {
        let mut r = Record::new(KEY_ROTATED, time_ms, actor);
        r.payload.insert("from".into(), from.to_string());
        r.payload.insert("to".into(), to.to_string());
        r
    }

    /// The retired and the new key of a key rotation record; an error for any other
    /// record or a payload that does not name two verifier keys.
    pub fn rotation_keys(&self) -> Result<(Verifier, Verifier), RecordError> {
        if self.event_type != KEY_ROTATED {
            return Err(RecordError::InvalidField {
                field: "type",
                reason: "not a key rotation",
            });
        }
        let key = |field: &'static str| {
            self.payload
                .get(field)
                .and_then(|text| Verifier::parse(text).ok())
                .ok_or(RecordError::InvalidField {
                    field,
                    reason: "not a verifier key",
                })
        };
        Ok((key("from")?, key("to")?))
    }

    /// The canonical encoding: the bytes that become the log entry.
    pub fn encode(&self) -> Result<Vec<u8>, RecordError> {
        self.validate()?;
        // serde_json writes struct fields in declaration order, maps (BTreeMap) in key
        // order, no whitespace, and escapes only what JSON requires: with the field
        // checks above that is a single byte string per record.
        let bytes = serde_json::to_vec(self)?;
        if bytes.len() > MAX_RECORD_LEN {
            return Err(RecordError::TooLarge { len: bytes.len() });
        }
        Ok(bytes)
    }

    /// Decodes a canonical encoding; any other byte string is rejected.
    pub fn decode(bytes: &[u8]) -> Result<Record, RecordError> {
        if bytes.len() > MAX_RECORD_LEN {
            return Err(RecordError::TooLarge { len: bytes.len() });
        }
        let record: Record = serde_json::from_slice(bytes)?;
        if record.encode()? != bytes {
            return Err(RecordError::NonCanonical);
        }
        Ok(record)
    }

    /// The RFC 6962 leaf hash of the canonical encoding.
    pub fn leaf_hash(&self) -> Result<Hash, RecordError> {
        Ok(leaf_hash(&self.encode()?))
    }

    fn validate(&self) -> Result<(), RecordError> {
        if self.v != RECORD_VERSION && self.v != RECORD_VERSION_UNLINKED {
            return Err(RecordError::UnsupportedVersion(self.v));
        }
        if self.prev.is_some() && (self.v == RECORD_VERSION_UNLINKED || self.incident.is_none()) {
            return Err(RecordError::InvalidField {
                field: "prev",
                reason: "only a version-2 record of an incident links to a previous one",
            });
        }
        let t = self.event_type.as_bytes();
        let well_formed = t.first().is_some_and(u8::is_ascii_lowercase)
            && t.iter().all(|&b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
            });
        if !well_formed {
            return Err(RecordError::InvalidField {
                field: "type",
                reason: "must be lower-case ASCII letters, digits, '.', '_' or '-', starting with a letter",
            });
        }
        if self.actor.is_empty() {
            return Err(RecordError::InvalidField {
                field: "actor",
                reason: "must not be empty",
            });
        }
        if let Some(id) = &self.actor_id
            && (id.is_empty() || id.len() > MAX_ACTOR_ID_LEN || id.chars().any(char::is_control))
        {
            return Err(RecordError::InvalidField {
                field: "actor_id",
                reason: "must be non-empty, at most 256 bytes, without control characters",
            });
        }
        if self.incident.as_deref() == Some("") {
            return Err(RecordError::InvalidField {
                field: "incident",
                reason: "must not be empty when present",
            });
        }
        if let Some(e) = &self.evidence
            && e.media_type.is_empty()
        {
            return Err(RecordError::InvalidField {
                field: "evidence.media_type",
                reason: "must not be empty",
            });
        }
        Ok(())
    }
}

impl Serialize for Hash {
    /// Lower-case hex.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Hash {
    /// Exactly 64 lower-case hex digits.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Hash, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Hash::from_hex(&s).map_err(serde::de::Error::custom)
    }
}
