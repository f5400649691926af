//! Key rotations in a pack: a rotation a trusted key signed (with both keys on its
//! transition checkpoint, tied to the pack's checkpoint by proofs) adds its new key.

use std::collections::BTreeMap;

use sitrep_ledger::{Checkpoint, Hash, TlogProof, Verifier};

use super::{Manifest, PackTransition, VerifyReport, check_transition, key_paths};

/// Follows the pack's key rotations in order: a rotation whose retiring key is trusted
/// (pinned, or learned from an earlier rotation) must have proofs that tie it to the
/// pack's checkpoint, and adds its successor to `trusted`.
pub(super) fn follow_rotations(
    manifest: &Manifest,
    files: &mut BTreeMap<String, Vec<u8>>,
    claimed: &Checkpoint,
    trusted: &mut Vec<Verifier>,
    report: &mut VerifyReport,
) {
    let mut last = None;
    for m in &manifest.key_transitions {
        let subject = format!("key rotation {}", m.index);
        if last.is_some_and(|l| l >= m.index) {
            report.fail(&subject, "not after the previous rotation");
        }
        last = Some(m.index);
        let [record, proof, consistency] = key_paths(m.index).map(|p| files.remove(&p));
        let (Some(record), Some(proof), Some(consistency)) = (record, proof, consistency) else {
            report.fail(&subject, "its record, proof or consistency file is missing");
            continue;
        };
        // Only a rotation from a key you trust, to one you do not yet, can add trust;
        // the others are nothing to you (the pack's checkpoint fails if trust never
        // reaches its signer).
        let known = |key: &str| trusted.iter().any(|k| k.to_string() == key);
        if known(&m.to) || !known(&m.from) {
            continue;
        }
        let parsed = std::str::from_utf8(&proof)
            .map_err(|_| "proof is not UTF-8".to_owned())
            .and_then(|t| TlogProof::parse(t).map_err(|e| format!("proof is malformed: {e}")));
        let hashes: Result<Vec<Hash>, String> = std::str::from_utf8(&consistency)
            .map_err(|_| "consistency proof is not UTF-8".to_owned())
            .and_then(|t| {
                t.lines()
                    .map(|l| Hash::from_base64(l).map_err(|e| format!("consistency proof: {e}")))
                    .collect()
            });
        let checked = parsed.and_then(|inclusion| {
            let t = PackTransition {
                index: m.index,
                record,
                inclusion,
                consistency: hashes?,
            };
            check_transition(&t, &claimed.origin, claimed.size, &claimed.root)
        });
        match checked {
            Ok((entry, to)) if entry == *m => {
                report.keys_followed.push(to.to_string());
                trusted.push(to);
            }
            Ok(_) => report.fail(&subject, "the manifest differs from the rotation's record"),
            Err(e) => report.fail(&subject, e),
        }
    }
}
