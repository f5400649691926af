//! The keys a log is signed with: this store's signer, and the chain of earlier keys read
//! from the log's own `ledger.key_rotated` records.
//!
//! Trust starts at the signer the store was opened with. Each rotation record names the
//! key it retires and its successor; following the chain back from the signer gives the
//! keys that signed older checkpoints. A checkpoint whose tree contains a rotation record
//! must carry the new key's signature (or a later key's): one signed by the retired key
//! alone is a forgery, perhaps with a stolen key. A key the records name after the signer
//! is never trusted: it means the signer was retired, and the store neither opens nor
//! signs with it.

use std::sync::atomic::{AtomicBool, Ordering};

use sitrep_ledger::{Checkpoint, Hash, Record, Signer, Verifier, open_note};
use sqlx::{AnyConnection, Row as _};

use crate::error::StoreError;
use crate::model::{KeyEpoch, StoredCheckpoint};
use crate::rows::to_u64;

/// What signs and checks checkpoints for one log.
pub(crate) struct LogKeys {
    pub signer: Signer,
    pub origin: String,
    /// The signer's verifier (also the last of `history`).
    current: Verifier,
    /// Keys that signed this log, oldest first, ending with the signer's verifier.
    history: Vec<Verifier>,
    /// For each key of `history`, the leaf index of the rotation record that introduced
    /// it (none for the first): a checkpoint covering that record must carry its
    /// signature or a later key's.
    since: Vec<Option<u64>>,
    /// The key the log rotated to from the signer's, which is then retired.
    successor: Option<Verifier>,
    /// Set once this store rotated its own key: it must sign nothing more.
    retired: AtomicBool,
}

/// The log's rotation records in order: (leaf index, record).
pub(crate) async fn rotation_records(
    conn: &mut AnyConnection,
) -> Result<Vec<(u64, Record)>, StoreError> {
    // The partial index ledger_entries_key_rotations serves exactly this predicate.
    let rows = sqlx::query(
        "SELECT leaf_index, record FROM ledger_entries WHERE event_type = 'ledger.key_rotated' \
         ORDER BY leaf_index",
    )
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            let index = to_u64(row.try_get("leaf_index")?, "leaf index")?;
            let bytes: Vec<u8> = row.try_get("record")?;
            let record = Record::decode(&bytes)
                .map_err(|e| StoreError::Corrupt(format!("ledger entry {index}: {e}")))?;
            Ok((index, record))
        })
        .collect()
}

/// The `from` and `to` keys of a rotation record at `index`.
fn rotation_keys(index: u64, record: &Record) -> Result<(Verifier, Verifier), StoreError> {
    record
        .rotation_keys()
        .map_err(|e| StoreError::Corrupt(format!("key rotation at ledger entry {index}: {e}")))
}

/// A key of the chain with the rotation record (leaf index, record) that introduced it.
type Link<'r> = (Verifier, Option<&'r (u64, Record)>);

/// The chain of keys the rotation records name, oldest first, each with the record that
/// introduced it (none for the first). Fails on a broken chain or a key used twice.
fn chain(records: &[(u64, Record)]) -> Result<Vec<Link<'_>>, StoreError> {
    let mut chain: Vec<Link<'_>> = Vec::new();
    for entry in records {
        let (from, to) = rotation_keys(entry.0, &entry.1)?;
        match chain.last() {
            None => chain.push((from, None)),
            Some((last, _)) if *last == from => {}
            Some((last, _)) => {
                return Err(StoreError::Corrupt(format!(
                    "key rotation at ledger entry {} retires key {from}, but the log's key \
                     then was {last}",
                    entry.0
                )));
            }
        }
        if chain.iter().any(|(k, _)| same_id(k, &to)) {
            return Err(StoreError::Corrupt(format!(
                "key rotation at ledger entry {} rotates to key {to}, which the log used \
                 before",
                entry.0
            )));
        }
        chain.push((to, Some(entry)));
    }
    Ok(chain)
}

/// Same name and key id: a note signature cannot tell the two apart.
fn same_id(a: &Verifier, b: &Verifier) -> bool {
    a.name() == b.name() && a.key_id() == b.key_id()
}

impl LogKeys {
    /// The keys for `signer` on the log in `conn`: its history from the rotation records.
    pub(crate) async fn load(
        conn: &mut AnyConnection,
        signer: Signer,
        origin: String,
    ) -> Result<LogKeys, StoreError> {
        let records = rotation_records(conn).await?;
        let chain = chain(&records)?;
        let current = signer.verifier();
        let (history, since, successor) = match chain.iter().position(|(k, _)| *k == current) {
            Some(p) => (
                chain[..=p].iter().map(|(k, _)| k.clone()).collect(),
                chain[..=p]
                    .iter()
                    .map(|(_, r)| r.map(|(i, _)| *i))
                    .collect(),
                chain.get(p + 1).map(|(k, _)| k.clone()),
            ),
            // A key no record names: either the log never rotated, or this is not its
            // key (opening its checkpoints will say so).
            None => (vec![current.clone()], vec![None], None),
        };
        Ok(LogKeys {
            current,
            signer,
            origin,
            history,
            since,
            successor,
            retired: AtomicBool::new(false),
        })
    }

    /// This store's verifier key.
    pub(crate) fn verifier(&self) -> &Verifier {
        &self.current
    }

    /// Marks this store's key retired (it rotated): later signing is refused.
    pub(crate) fn retire(&self) {
        self.retired.store(true, Ordering::SeqCst);
    }

    /// Fails when this store's key may no longer sign.
    pub(crate) fn check_may_sign(&self) -> Result<(), StoreError> {
        if self.retired.load(Ordering::SeqCst) {
            return Err(StoreError::RetiredKey {
                key: self.verifier().to_string(),
                detail: "this store rotated its key; reopen it with the new one".into(),
            });
        }
        if let Some(next) = &self.successor {
            return Err(StoreError::RetiredKey {
                key: self.verifier().to_string(),
                detail: format!("the log rotated to key {next}"),
            });
        }
        Ok(())
    }

    /// Fails (and retires this store's key) when a rotation record below `size` retires
    /// it: another process rotated the log since this store opened. Read just before
    /// signing a tree of `size`, this keeps a retired key from signing past its
    /// rotation, whoever still holds it.
    pub(crate) async fn check_not_rotated(
        &self,
        conn: &mut AnyConnection,
        size: u64,
    ) -> Result<(), StoreError> {
        for (index, record) in rotation_records(conn).await? {
            if index >= size {
                break;
            }
            let (from, to) = rotation_keys(index, &record)?;
            if from == *self.verifier() {
                self.retire();
                return Err(StoreError::RetiredKey {
                    key: from.to_string(),
                    detail: format!("ledger entry {index} rotated the log to key {to}"),
                });
            }
        }
        Ok(())
    }

    /// Whether `next` may succeed this store's key: same name, a distinct key id.
    pub(crate) fn check_successor(&self, next: &Verifier) -> Result<(), StoreError> {
        self.check_may_sign()?;
        if next.name() != self.signer.name() {
            return Err(StoreError::KeyRotation(format!(
                "the new key is named {:?}; this log's key is named {:?}",
                next.name(),
                self.signer.name()
            )));
        }
        if self.history.iter().any(|k| same_id(k, next)) {
            return Err(StoreError::KeyRotation(format!(
                "key id {:08x} was used by this log before; generate another key",
                next.key_id()
            )));
        }
        Ok(())
    }

    /// Whether `previous` is the key this store's key replaced (for the transition
    /// checkpoint both sign).
    pub(crate) fn check_predecessor(&self, previous: &Verifier) -> Result<(), StoreError> {
        let n = self.history.len();
        if n < 2 || self.history[n - 2] != *previous {
            return Err(StoreError::KeyRotation(format!(
                "key {previous} is not the key this log rotated from to {}",
                self.verifier()
            )));
        }
        Ok(())
    }

    /// Opens a stored checkpoint against the key history and checks that it is this
    /// log's and agrees with its own size and root columns.
    pub(crate) fn open(&self, c: &StoredCheckpoint) -> Result<Hash, StoreError> {
        let bad = |reason: String| StoreError::BadCheckpoint {
            size: c.size,
            reason,
        };
        // A retired signer never gets here: `check_may_sign` refuses it at open, and
        // `check_not_rotated` before it signs.
        let note = open_note(&c.signed_note, &self.history).map_err(|e| {
            let keys: Vec<String> = self.history.iter().map(ToString::to_string).collect();
            bad(format!(
                "{e} (checked with {}; was the signing key changed?)",
                keys.join(", ")
            ))
        })?;
        let generation = note
            .verified
            .iter()
            .filter_map(|s| {
                self.history
                    .iter()
                    .position(|k| k.name() == s.name && k.key_id() == s.key_id)
            })
            .max()
            .unwrap_or(0);
        // Once a rotation record is in the tree, only its new key (or a later one) may
        // sign: a checkpoint by the retired key alone is a forgery, perhaps with a stolen
        // key, or a replica that kept running through the rotation.
        let required = self
            .since
            .iter()
            .rposition(|since| since.is_some_and(|i| i < c.size))
            .unwrap_or(0);
        if generation < required {
            return Err(bad(format!(
                "signed only by the retired key {}, but it covers the rotation to {} at ledger \
                 entry {}: a retired key signed after the rotation",
                self.key_of(generation),
                self.key_of(required),
                self.since[required].unwrap_or_default()
            )));
        }
        let opened = Checkpoint::parse(&note.text).map_err(|e| bad(e.to_string()))?;
        if opened.origin != self.origin {
            return Err(bad(format!(
                "origin {:?}, this log is {:?}",
                opened.origin, self.origin
            )));
        }
        if opened.size != c.size || opened.root.to_hex() != c.root {
            return Err(bad(format!(
                "signed size {} and root {} differ from the row's {} and {}",
                opened.size, opened.root, c.size, c.root
            )));
        }
        Ok(opened.root)
    }

    /// The key of a generation, for messages.
    fn key_of(&self, generation: usize) -> String {
        self.history
            .get(generation)
            .map_or_else(|| format!("#{generation}"), ToString::to_string)
    }
}

/// Every key the log has used, oldest first, from its rotation records; a log that never
/// rotated has one key, `current`.
pub(crate) async fn key_history(
    conn: &mut AnyConnection,
    current: &Verifier,
) -> Result<Vec<KeyEpoch>, StoreError> {
    let records = rotation_records(conn).await?;
    let chain = chain(&records)?;
    if chain.is_empty() {
        return Ok(vec![KeyEpoch {
            verifier_key: current.to_string(),
            key_id: format!("{:08x}", current.key_id()),
            since_index: None,
            rotated_by: None,
            rotated_ms: None,
            current: true,
        }]);
    }
    Ok(chain
        .into_iter()
        .map(|(k, entry)| KeyEpoch {
            verifier_key: k.to_string(),
            key_id: format!("{:08x}", k.key_id()),
            since_index: entry.map(|(i, _)| *i),
            rotated_by: entry.map(|(_, r)| r.actor.clone()),
            rotated_ms: entry.map(|(_, r)| r.time_ms),
            current: k == *current,
        })
        .collect())
}
