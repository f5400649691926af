//! A pack's completeness: its last record is the `evidence.exported` record an export
//! sealed, and the incident chain (`prev` links) and the export's count account for
//! every record before it; every absent blob is one the incident recorded as gone.

use std::collections::{BTreeMap, BTreeSet};

use sitrep_ledger::{Hash, Link, RECORD_VERSION_UNLINKED, Record};

use super::text::sanitize;
use super::{EXPORTED, ManifestBlob, VerifyReport};
use crate::pack::verify::Export;

/// The record type every incident starts with.
const DECLARED: &str = "incident.declared";
/// Records that say a blob's bytes are gone (retention; a lost replica).
const BLOB_GONE: [&str; 2] = ["evidence.expired", "evidence.lost"];

/// Checks completeness over the records that verified (by leaf index).
pub(super) fn check(
    verified: &BTreeMap<u64, (Record, Hash)>,
    blobs: &BTreeMap<Hash, ManifestBlob>,
    report: &mut VerifyReport,
) {
    let Some(export) = export_of(verified, report) else {
        return;
    };
    let incident = report.incident.clone().unwrap_or_default();
    for (index, (record, _)) in verified {
        if record.incident.as_deref() != Some(incident.as_str()) {
            report.fail(
                format!("record {index}"),
                format!(
                    "belongs to incident {:?}, not {incident:?}",
                    record.incident.as_deref().map(sanitize)
                ),
            );
        }
    }
    let visited = walk(verified, &export, &incident, report);
    for index in verified.keys() {
        let legacy = report.unlinked_from.is_some_and(|u| *index <= u);
        if !visited.contains(index) && !legacy {
            report.fail(
                format!("record {index}"),
                "is not on the incident's chain back from the export record",
            );
        }
    }
    let have = verified.len() as u64 - 1;
    if export.records != have {
        let detail = match export.records.checked_sub(have) {
            Some(missing) => format!("{missing} missing"),
            None => format!("{} more than it counts", have - export.records),
        };
        report.fail(
            "pack",
            format!(
                "the export record counts {} records of the incident before it, the pack has \
                 {have}: {detail}",
                export.records
            ),
        );
    }
    check_absent_blobs(verified, blobs, report);
    report.export = Some(export);
}

/// The pack's last record, which must be the export record sealing it.
fn export_of(
    verified: &BTreeMap<u64, (Record, Hash)>,
    report: &mut VerifyReport,
) -> Option<Export> {
    let Some((&index, (record, _))) = verified.iter().next_back() else {
        report.fail("pack", "no record verified");
        return None;
    };
    if record.event_type != EXPORTED {
        report.fail(
            "pack",
            format!(
                "its last record ({index}) is {}, not {EXPORTED}: nothing sealed says the pack is \
                 complete (records dropped from the end?)",
                sanitize(&record.event_type)
            ),
        );
        return None;
    }
    let number = |key: &str| record.payload.get(key).and_then(|v| v.parse::<u64>().ok());
    let subject = format!("record {index}");
    let (Some(incident), Some(head), Some(records), Some(prev)) = (
        record.incident.as_deref(),
        number("head"),
        number("records"),
        record.prev,
    ) else {
        report.fail(
            subject,
            "an export record must name its incident, head record, count and link",
        );
        return None;
    };
    if head != prev.index {
        report.fail(
            subject,
            format!("names head record {head} but links to {}", prev.index),
        );
    }
    report.incident = Some(incident.to_owned());
    Some(Export {
        index,
        time_ms: record.time_ms,
        actor: record.actor.clone(),
        records,
    })
}

/// Walks the chain from the export record back to the declaration, naming every record
/// a link names that the pack lacks. Returns the records reached.
fn walk(
    verified: &BTreeMap<u64, (Record, Hash)>,
    export: &Export,
    incident: &str,
    report: &mut VerifyReport,
) -> BTreeSet<u64> {
    let mut visited = BTreeSet::from([export.index]);
    let mut next = verified[&export.index].0.prev.map(|l| (export.index, l));
    while let Some((from, link)) = next.take() {
        let subject = format!("record {}", link.index);
        if link.index >= from || visited.contains(&link.index) {
            report.fail(format!("record {from}"), "links forward or in a loop");
            break;
        }
        let Some((record, hash)) = verified.get(&link.index) else {
            report.fail(
                subject,
                format!(
                    "missing: record {from} links to it as the previous record of incident {:?}",
                    sanitize(incident)
                ),
            );
            // Go on from the nearest record below the gap; the count says how many
            // records the gap hides.
            next = verified
                .range(..link.index)
                .next_back()
                .map(|(&i, (_, h))| (link.index, Link { index: i, hash: *h }));
            continue;
        };
        if *hash != link.hash {
            report.fail(subject, format!("is not the record {from} links to"));
            break;
        }
        visited.insert(link.index);
        if record.v == RECORD_VERSION_UNLINKED {
            // Written before chains: the links end here; the count still covers the rest.
            report.unlinked_from = Some(link.index);
            break;
        }
        match record.prev {
            Some(prev) => next = Some((link.index, prev)),
            None if record.event_type == DECLARED => {}
            None => report.fail(
                subject,
                format!(
                    "starts the incident's chain but is {}, not {DECLARED}",
                    sanitize(&record.event_type)
                ),
            ),
        }
    }
    visited
}

/// An absent blob must be one a record of the incident says is gone.
fn check_absent_blobs(
    verified: &BTreeMap<u64, (Record, Hash)>,
    blobs: &BTreeMap<Hash, ManifestBlob>,
    report: &mut VerifyReport,
) {
    let gone: BTreeSet<&str> = verified
        .values()
        .filter(|(r, _)| BLOB_GONE.contains(&r.event_type.as_str()))
        .filter_map(|(r, _)| r.payload.get("sha256"))
        .flat_map(|list| list.split_whitespace())
        .collect();
    for blob in blobs.values().filter(|b| !b.present) {
        let hex = blob.sha256.to_hex();
        if !gone.contains(hex.as_str()) {
            report.fail(
                format!("blob {hex}"),
                "missing: no evidence.expired or evidence.lost record of the incident names it",
            );
        }
    }
}
