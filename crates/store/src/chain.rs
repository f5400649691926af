//! Incident chains: the group-commit writer, the one place that knows leaf indexes,
//! links each incident record to the incident's previous leaf (index and leaf hash).

use std::borrow::Cow;
use std::collections::HashMap;

use sitrep_ledger::{Hash, Link, RECORD_VERSION, Record, leaf_hash};
use sqlx::AnyConnection;

use crate::error::StoreError;
use crate::rows::{to_i64, to_u64};
use crate::writer::EncodedEvent;

/// Incidents whose last leaf the writer remembers; past this the memory is dropped and
/// refilled from the database one row per incident.
const MAX_CACHED_HEADS: usize = 4096;

/// Each incident's last leaf (index, leaf hash), as of the writer's last commit.
#[derive(Default)]
pub(crate) struct Heads(HashMap<String, (u64, Hash)>);

impl Heads {
    pub(crate) fn clear(&mut self) {
        self.0.clear();
    }

    /// Takes a committed batch's heads; stays bounded.
    pub(crate) fn extend(&mut self, batch: HashMap<String, (u64, Hash)>) {
        if self.0.len() + batch.len() > MAX_CACHED_HEADS {
            self.0.clear();
        }
        self.0.extend(batch);
    }
}

/// Validates and encodes a record for the writer. A current-version incident record
/// is returned to be linked there (its size checked with the longest link there is,
/// so linking cannot fail on size); any other is encoded as it is.
pub(crate) fn prepare(record: &Record) -> Result<(Vec<u8>, Option<Record>), StoreError> {
    if record.incident.is_none() || record.v != RECORD_VERSION {
        return Ok((record.encode()?, None));
    }
    let mut r = record.clone();
    r.prev = Some(Link {
        index: u64::MAX,
        hash: Hash([0xff; 32]),
    });
    r.encode()?;
    r.prev = None;
    Ok((Vec::new(), Some(r)))
}

/// The entry bytes of `events`, appended from leaf `old` on: incident records linked
/// to their incident's previous leaf. Returns them with the batch's new heads, which
/// the caller keeps only once the batch committed.
pub(crate) async fn link<'e>(
    conn: &mut AnyConnection,
    old: u64,
    events: &[&'e EncodedEvent],
    known: &Heads,
) -> Result<(Vec<Cow<'e, [u8]>>, HashMap<String, (u64, Hash)>), StoreError> {
    let mut batch: HashMap<String, (u64, Hash)> = HashMap::new();
    let mut out = Vec::with_capacity(events.len());
    for (index, e) in (old..).zip(events) {
        let Some(incident) = &e.incident else {
            out.push(Cow::Borrowed(e.bytes.as_slice()));
            continue;
        };
        let bytes = match &e.record {
            None => Cow::Borrowed(e.bytes.as_slice()),
            Some(record) => {
                let prev = match batch.get(incident).or_else(|| known.0.get(incident)) {
                    Some(&head) => Some(head),
                    None => last_leaf(conn, incident, old).await?,
                };
                let mut r = record.clone();
                r.prev = prev.map(|(index, hash)| Link { index, hash });
                Cow::Owned(r.encode()?)
            }
        };
        batch.insert(incident.clone(), (index, leaf_hash(&bytes)));
        out.push(bytes);
    }
    Ok((out, batch))
}

/// The incident's last leaf below `old` (the writer holds the head lock).
async fn last_leaf(
    conn: &mut AnyConnection,
    incident: &str,
    old: u64,
) -> Result<Option<(u64, Hash)>, StoreError> {
    let row: Option<(i64, Vec<u8>)> = sqlx::query_as(
        "SELECT leaf_index, record FROM ledger_entries WHERE incident_id = $1 \
         AND leaf_index < $2 ORDER BY leaf_index DESC LIMIT 1",
    )
    .bind(incident)
    .bind(to_i64(old)?)
    .fetch_optional(conn)
    .await?;
    row.map(|(index, bytes)| Ok((to_u64(index, "leaf index")?, leaf_hash(&bytes))))
        .transpose()
}
