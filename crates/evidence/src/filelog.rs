//! The durable file log: an append-only implementation of the ledger's `LogStore` in two
//! files, with one fsynced write per batch (group commit) and torn-tail recovery on open.
//!
//! Files in the log's directory:
//! - `entries`: records `[length: u32 BE][bytes][check: first 8 bytes of SHA-256 of
//!   length || bytes]`, back to back;
//! - `hashes`: the stored hashes (32 bytes each) in the ledger's stored-hash layout.
//!
//! `append` writes the whole batch of entries with one write and fsyncs it, then the
//! hashes likewise; the batch is durable when the call returns. A crash can therefore
//! leave a torn last record, or entries whose hashes were not written; neither was ever
//! acknowledged, so recovery cuts them. Damage anywhere else is a refusal to open.

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Read, Write};
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use sitrep_ledger::{Hash, HashReader, LogStore, MAX_RECORD_LEN, StorageError, stored_hash_count};

const HEADER: u64 = 4;
const CHECK: u64 = 8;

/// Why a file log could not be opened or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileLogError {
    /// A filesystem operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A record before the tail is damaged: not a crash artifact, so nothing is cut.
    #[error(
        "{path}: entry {index} at byte {offset} is damaged ({reason}); the log was not opened. \
         Compare the file with a backup or an exported evidence pack before repairing it"
    )]
    Corrupt {
        /// The entries file.
        path: PathBuf,
        /// The entry's index.
        index: u64,
        /// Its byte offset in the file.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
}

/// What [`FileLog::open`] cut away: a crash's unacknowledged tail.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Bytes cut from the end of `entries` (a torn record, or unhashed entries).
    pub entries_bytes_cut: u64,
    /// Entries dropped because their hashes were never written.
    pub entries_dropped: u64,
    /// Bytes cut from the end of `hashes`.
    pub hashes_bytes_cut: u64,
}

impl Recovery {
    /// Whether anything was cut.
    pub fn is_clean(&self) -> bool {
        *self == Recovery::default()
    }
}

/// A durable, append-only [`LogStore`] in a directory.
#[derive(Debug)]
pub struct FileLog {
    entries_path: PathBuf,
    hashes_path: PathBuf,
    entries: File,
    hashes: File,
    /// End offset of each entry's record in `entries`.
    ends: Vec<u64>,
    hash_count: u64,
}

fn io_err<'p>(op: &'static str, path: &'p Path) -> impl FnOnce(io::Error) -> FileLogError + 'p {
    move |source| FileLogError::Io {
        op,
        path: path.to_owned(),
        source,
    }
}

fn check(len_and_bytes: &[u8]) -> [u8; 8] {
    let d = Sha256::digest(len_and_bytes);
    let mut c = [0u8; 8];
    c.copy_from_slice(&d[..8]);
    c
}

/// Scans `entries`, returning record end offsets of the good prefix. A damaged record is
/// a torn tail only when nothing follows it.
fn scan(path: &Path, file: &File) -> Result<Vec<u64>, FileLogError> {
    let file_len = file.metadata().map_err(io_err("stat", path))?.len();
    let mut reader = BufReader::new(file.try_clone().map_err(io_err("open", path))?);
    let mut ends = Vec::new();
    let mut offset = 0u64;
    let mut record = Vec::new();
    loop {
        let remaining = file_len - offset;
        if remaining < HEADER {
            break; // Nothing, or a torn length.
        }
        let mut len_buf = [0u8; 4];
        reader
            .read_exact(&mut len_buf)
            .map_err(io_err("read", path))?;
        let len = u64::from(u32::from_be_bytes(len_buf));
        let corrupt = |reason: String| FileLogError::Corrupt {
            path: path.to_owned(),
            index: ends.len() as u64,
            offset,
            reason,
        };
        // A length no record can have is damage, not a tear: a torn write leaves a
        // prefix of a valid record, and valid lengths are bounded.
        if len > MAX_RECORD_LEN as u64 {
            return Err(corrupt(format!("length {len} exceeds {MAX_RECORD_LEN}")));
        }
        if remaining < HEADER + len + CHECK {
            break; // Torn body or check.
        }
        record.clear();
        record.extend_from_slice(&len_buf);
        record.resize(4 + len as usize, 0);
        reader
            .read_exact(&mut record[4..])
            .map_err(io_err("read", path))?;
        let mut stored = [0u8; 8];
        reader
            .read_exact(&mut stored)
            .map_err(io_err("read", path))?;
        let end = offset + HEADER + len + CHECK;
        if check(&record) != stored {
            if end == file_len {
                break; // The last record was not fully persisted.
            }
            return Err(corrupt("checksum mismatch".into()));
        }
        ends.push(end);
        offset = end;
    }
    Ok(ends)
}

impl FileLog {
    /// Opens (creating if needed) the log in `dir`, cutting a crash's unacknowledged tail
    /// and reporting what was cut.
    pub fn open(dir: impl AsRef<Path>) -> Result<(FileLog, Recovery), FileLogError> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(io_err("create directory", dir))?;
        let entries_path = dir.join("entries");
        let hashes_path = dir.join("hashes");
        let open = |p: &Path| {
            OpenOptions::new()
                .read(true)
                .append(true)
                .create(true)
                .open(p)
                .map_err(io_err("open", p))
        };
        let entries = open(&entries_path)?;
        let hashes = open(&hashes_path)?;
        let mut recovery = Recovery::default();

        let mut ends = scan(&entries_path, &entries)?;
        let entries_len = entries
            .metadata()
            .map_err(io_err("stat", &entries_path))?
            .len();
        let hashes_len = hashes
            .metadata()
            .map_err(io_err("stat", &hashes_path))?
            .len();
        let whole_hashes = hashes_len / 32;

        // Entries are fsynced before their hashes are written, so a crash can only tear
        // a record that no stored hash covers yet. A "tear" the hashes already cover is
        // damage (say, a length field pointing past the end): refuse, never cut
        // acknowledged entries.
        let good_end = ends.last().copied().unwrap_or(0);
        let scanned = ends.len() as u64;
        if entries_len > good_end && stored_hash_count(scanned + 1) <= whole_hashes {
            return Err(FileLogError::Corrupt {
                path: entries_path,
                index: scanned,
                offset: good_end,
                reason: "the record is unreadable but its hashes were written, so it had been \
                         acknowledged: not a torn write"
                    .into(),
            });
        }

        // Keep the largest prefix of entries whose stored hashes are all present.
        let mut n = ends.len() as u64;
        while n > 0 && stored_hash_count(n) > whole_hashes {
            n -= 1;
        }
        recovery.entries_dropped = ends.len() as u64 - n;
        ends.truncate(n as usize);
        let keep_entries = ends.last().copied().unwrap_or(0);
        let keep_hashes = stored_hash_count(n) * 32;
        recovery.entries_bytes_cut = entries_len - keep_entries;
        recovery.hashes_bytes_cut = hashes_len - keep_hashes;

        if recovery.entries_bytes_cut > 0 {
            entries
                .set_len(keep_entries)
                .and_then(|()| entries.sync_all())
                .map_err(io_err("truncate", &entries_path))?;
        }
        if recovery.hashes_bytes_cut > 0 {
            hashes
                .set_len(keep_hashes)
                .and_then(|()| hashes.sync_all())
                .map_err(io_err("truncate", &hashes_path))?;
        }
        Ok((
            FileLog {
                entries_path,
                hashes_path,
                entries,
                hashes,
                ends,
                hash_count: stored_hash_count(n),
            },
            recovery,
        ))
    }

    fn entry(&self, index: u64) -> Result<Vec<u8>, StorageError> {
        let i = usize::try_from(index).map_err(StorageError::new)?;
        let end = *self
            .ends
            .get(i)
            .ok_or_else(|| StorageError::new(format!("entry {index} does not exist")))?;
        let start = match i.checked_sub(1) {
            Some(p) => self.ends[p],
            None => 0,
        };
        let mut record = vec![0u8; (end - start) as usize];
        self.entries
            .read_exact_at(&mut record, start)
            .map_err(StorageError::new)?;
        let body_end = record.len() - CHECK as usize;
        if check(&record[..body_end]) != record[body_end..] {
            return Err(StorageError::new(format!(
                "{}: entry {index} at byte {start} fails its checksum",
                self.entries_path.display()
            )));
        }
        Ok(record[HEADER as usize..body_end].to_vec())
    }
}

impl HashReader for FileLog {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, StorageError> {
        indexes
            .iter()
            .map(|&i| {
                if i >= self.hash_count {
                    return Err(StorageError::new(format!(
                        "stored hash {i} does not exist (log holds {})",
                        self.hash_count
                    )));
                }
                let mut h = [0u8; 32];
                self.hashes
                    .read_exact_at(&mut h, i * 32)
                    .map_err(StorageError::new)?;
                Ok(Hash(h))
            })
            .collect()
    }
}

impl LogStore for FileLog {
    fn tree_size(&self) -> Result<u64, StorageError> {
        Ok(self.ends.len() as u64)
    }

    fn read_entries(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, StorageError> {
        if start > end || end > self.ends.len() as u64 {
            return Err(StorageError::new(format!(
                "entries {start}..{end} out of range (log holds {})",
                self.ends.len()
            )));
        }
        (start..end).map(|i| self.entry(i)).collect()
    }

    fn append(&mut self, entries: &[&[u8]], hashes: &[Hash]) -> Result<(), StorageError> {
        let mut buf = Vec::new();
        let mut new_ends = Vec::with_capacity(entries.len());
        let mut offset = self.ends.last().copied().unwrap_or(0);
        for e in entries {
            if e.len() > MAX_RECORD_LEN {
                return Err(StorageError::new(format!(
                    "entry of {} bytes exceeds {MAX_RECORD_LEN}",
                    e.len()
                )));
            }
            let start = buf.len();
            buf.extend_from_slice(&(e.len() as u32).to_be_bytes());
            buf.extend_from_slice(e);
            let c = check(&buf[start..]);
            buf.extend_from_slice(&c);
            offset += (buf.len() - start) as u64;
            new_ends.push(offset);
        }
        let hash_bytes: Vec<u8> = hashes.iter().flat_map(|h| h.0).collect();
        let old_entries = self.ends.last().copied().unwrap_or(0);
        let old_hashes = self.hash_count * 32;
        // Entries first, durable, then hashes: after a crash, hashes never describe
        // entries that are not on disk, and open() cuts entries without hashes.
        let write = (|| -> io::Result<()> {
            self.entries.write_all(&buf)?;
            self.entries.sync_data()?;
            self.hashes.write_all(&hash_bytes)?;
            self.hashes.sync_data()
        })();
        if let Err(e) = write {
            // All or nothing: put both files back as they were (best effort; open()
            // would cut the same tail after a crash).
            let _ = self.entries.set_len(old_entries);
            let _ = self.hashes.set_len(old_hashes);
            return Err(StorageError::new(format!(
                "appending to {} / {}: {e}",
                self.entries_path.display(),
                self.hashes_path.display()
            )));
        }
        self.ends.extend(new_ends);
        self.hash_count += hashes.len() as u64;
        Ok(())
    }
}
