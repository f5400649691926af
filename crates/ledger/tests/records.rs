//! Canonical record encoding: fixtures under tests/data/ledger/records (valid ones
//! round-trip byte for byte, invalid ones are rejected) and a round-trip property.

// Tests read their fixtures from disk; the library itself stays pure.
#![allow(clippy::disallowed_methods)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use proptest::prelude::*;
use sitrep_ledger::{Evidence, Hash, Link, MAX_RECORD_LEN, Record, RecordError, leaf_hash};

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/data/ledger/records"
);

fn files(dir: &str) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(Path::new(FIXTURES).join(dir))
        .expect("fixture directory")
        .map(|e| {
            let path = e.expect("entry").path();
            let name = path
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned();
            (name, std::fs::read(&path).expect("read fixture"))
        })
        .collect();
    out.sort();
    out
}

#[test]
fn record_fixtures() {
    let mut report = String::new();
    let valid = files("valid");
    let invalid = files("invalid");
    assert!(valid.len() >= 4 && invalid.len() >= 20, "fixtures missing");
    for (name, bytes) in &valid {
        let record = Record::decode(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            &record.encode().unwrap(),
            bytes,
            "{name} does not round-trip"
        );
        assert_eq!(record.leaf_hash().unwrap(), leaf_hash(bytes));
        writeln!(report, "valid/{name}: leaf {}", record.leaf_hash().unwrap()).unwrap();
    }
    for (name, bytes) in &invalid {
        match Record::decode(bytes) {
            Ok(r) => panic!("invalid/{name} was accepted: {r:?}"),
            Err(e) => writeln!(report, "invalid/{name}: {e}").unwrap(),
        }
    }
    insta::assert_snapshot!(report);
}

#[test]
fn encoding_rejects_invalid_fields_and_oversize_records() {
    let mut r = Record::new("incident.declared", 1, "alice");
    r.payload.insert("blob".into(), "x".repeat(MAX_RECORD_LEN));
    assert!(matches!(r.encode(), Err(RecordError::TooLarge { .. })));
    let mut r = Record::new("incident.declared", 1, "alice");
    r.incident = Some(String::new());
    assert!(matches!(
        r.encode(),
        Err(RecordError::InvalidField {
            field: "incident",
            ..
        })
    ));
    assert!(matches!(
        Record::new("", 1, "a").encode(),
        Err(RecordError::InvalidField { field: "type", .. })
    ));
    assert!(matches!(
        Record::decode(&vec![b' '; MAX_RECORD_LEN + 1]),
        Err(RecordError::TooLarge { .. })
    ));
}

/// A record sealed before actor ids keeps its bytes (and so its leaf hash); one that
/// names its actor's id carries it right after the name.
#[test]
fn actor_id_is_optional_and_placed_after_the_name() {
    let old = Record::new("incident.acknowledged", 1, "alice");
    let bytes = old.encode().unwrap();
    assert_eq!(
        bytes,
        br#"{"v":2,"type":"incident.acknowledged","time_ms":1,"actor":"alice"}"#
    );
    assert_eq!(Record::decode(&bytes).unwrap().actor_id, None);
    let new = old.clone().by_id("cli:alice");
    let bytes = new.encode().unwrap();
    assert_eq!(
        bytes,
        br#"{"v":2,"type":"incident.acknowledged","time_ms":1,"actor":"alice","actor_id":"cli:alice"}"#
    );
    assert_eq!(Record::decode(&bytes).unwrap(), new);
    assert_ne!(new.leaf_hash().unwrap(), old.leaf_hash().unwrap());
    assert!(matches!(
        old.clone().by_id("x".repeat(257)).encode(),
        Err(RecordError::InvalidField {
            field: "actor_id",
            ..
        })
    ));
}

fn text() -> impl Strategy<Value = String> {
    // Mostly printable, with quotes, backslashes, control characters and non-ASCII.
    prop::string::string_regex("[a-zA-Z0-9 \"\\\\\n\t\u{1}\u{7f}é✓\u{2028}-]{1,12}").expect("regex")
}

fn record() -> impl Strategy<Value = Record> {
    (
        "[a-z][a-z0-9._-]{0,20}",
        any::<u64>(),
        text(),
        prop::option::of(text()),
        prop::option::of((
            any::<[u8; 32]>(),
            any::<u64>(),
            "[a-z]{1,8}/[a-z0-9.+-]{1,12}",
        )),
        prop::collection::btree_map(text(), text(), 0..4),
        prop::option::of((any::<u64>(), any::<[u8; 32]>())),
        prop::option::of("[a-z0-9:-]{1,40}"),
    )
        .prop_map(
            |(event_type, time_ms, actor, incident, evidence, payload, prev, actor_id)| Record {
                actor_id,
                // A link is only valid on an incident's record.
                prev: prev.filter(|_| incident.is_some()).map(|(index, h)| Link {
                    index,
                    hash: Hash(h),
                }),
                incident,
                evidence: evidence.map(|(h, size, media_type)| Evidence {
                    sha256: Hash(h),
                    size,
                    media_type,
                }),
                payload: payload.into_iter().collect::<BTreeMap<_, _>>(),
                ..Record::new(event_type, time_ms, actor)
            },
        )
}

/// A key rotation record names both keys, survives its encoding, and is told apart from
/// any other record and from a payload that names no key.
#[test]
fn a_key_rotation_record_names_its_two_keys() {
    use sitrep_ledger::{KEY_ROTATED, Signer};
    let from = Signer::from_seed("example.org/log", &[1; 32])
        .unwrap()
        .verifier();
    let to = Signer::from_seed("example.org/log", &[2; 32])
        .unwrap()
        .verifier();
    let r = Record::key_rotation(&from, &to, 7, "root");
    assert_eq!(r.event_type, KEY_ROTATED);
    let back = Record::decode(&r.encode().unwrap()).unwrap();
    assert_eq!(back.rotation_keys().unwrap(), (from.clone(), to));

    let mut broken = r.clone();
    broken.payload.insert("to".into(), "not a key".into());
    assert!(matches!(
        broken.rotation_keys(),
        Err(RecordError::InvalidField { field: "to", .. })
    ));
    let note = Record::new("incident.note", 7, "root");
    assert!(matches!(
        note.rotation_keys(),
        Err(RecordError::InvalidField { field: "type", .. })
    ));
}

proptest! {
    #[test]
    fn every_record_round_trips_through_its_one_encoding(r in record()) {
        let bytes = r.encode().unwrap();
        prop_assert_eq!(Record::decode(&bytes).unwrap(), r.clone());
        // Pretty-printed JSON of the same record is not the encoding and is refused.
        let pretty = serde_json::to_vec_pretty(&r).unwrap();
        prop_assert!(matches!(Record::decode(&pretty), Err(RecordError::NonCanonical)));
    }

    #[test]
    fn decode_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = Record::decode(&bytes);
    }
}
