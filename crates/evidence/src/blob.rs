//! The content-addressed blob store: evidence bytes by SHA-256, gzip-compressed on disk,
//! written atomically, always read back verified, deletable only when not on legal hold.

use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};
use sitrep_ledger::Hash;

/// Why a blob operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BlobError {
    /// A filesystem operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// No blob with this digest is stored (never stored, or deleted by retention).
    #[error("blob {0} is not in the store")]
    NotFound(Hash),
    /// The stored bytes no longer hash to their name: the file was damaged or altered.
    #[error("blob {expected} is corrupt: its content hashes to {actual} ({path})")]
    Corrupt {
        /// The digest the blob is stored under.
        expected: Hash,
        /// What its content hashes to now.
        actual: Hash,
        /// The file on disk.
        path: PathBuf,
    },
    /// The shared (remote) blob store failed or served bytes that do not match.
    #[error("remote blob store: {op}: {message}")]
    Remote {
        /// What was being done.
        op: &'static str,
        /// What went wrong (never credentials).
        message: String,
    },
    /// Retention may not delete a blob under legal hold.
    #[error("blob {0} is under legal hold and cannot be deleted")]
    LegalHold(Hash),
}

/// Where a stored blob is and how big it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredBlob {
    /// SHA-256 of the original bytes.
    pub sha256: Hash,
    /// Size of the original bytes.
    pub size: u64,
}

/// A directory of blobs named by the SHA-256 of their content.
///
/// Layout: `<root>/sha256/<first two hex digits>/<hex digest>` (gzip of the bytes) and
/// `<root>/holds/<hex digest>` (an empty marker: the blob is under legal hold).
#[derive(Debug, Clone)]
pub struct BlobStore {
    root: PathBuf,
}

fn io_err<'p>(op: &'static str, path: &'p Path) -> impl FnOnce(io::Error) -> BlobError + 'p {
    move |source| BlobError::Io {
        op,
        path: path.to_owned(),
        source,
    }
}

/// Makes a rename or creation in `dir` durable.
fn sync_dir(dir: &Path) -> Result<(), BlobError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("fsync directory", dir))
}

impl BlobStore {
    /// Opens (creating if needed) a blob store rooted at `root`.
    pub fn open(root: impl Into<PathBuf>) -> Result<BlobStore, BlobError> {
        let root = root.into();
        for sub in ["sha256", "holds"] {
            let dir = root.join(sub);
            fs::create_dir_all(&dir).map_err(io_err("create directory", &dir))?;
        }
        Ok(BlobStore { root })
    }

    fn path(&self, sha256: &Hash) -> PathBuf {
        let hex = sha256.to_hex();
        self.root.join("sha256").join(&hex[..2]).join(hex)
    }

    fn hold_path(&self, sha256: &Hash) -> PathBuf {
        self.root.join("holds").join(sha256.to_hex())
    }

    /// Stores `bytes`; storing the same bytes again is a no-op.
    pub fn put(&self, bytes: &[u8]) -> Result<StoredBlob, BlobError> {
        self.put_reader(bytes)
    }

    /// Stores everything `reader` yields, hashing and compressing as it streams, so a
    /// large file is never held in memory. The blob appears atomically: a crash leaves
    /// either no blob or the whole blob, never a partial one under its name.
    pub fn put_reader(&self, mut reader: impl Read) -> Result<StoredBlob, BlobError> {
        let tmp_dir = self.root.join("sha256");
        let tmp = tempfile::NamedTempFile::new_in(&tmp_dir)
            .map_err(io_err("create temporary file in", &tmp_dir))?;
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut gz = GzEncoder::new(BufWriter::new(tmp), Compression::fast());
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_err("read input for", &tmp_dir)(e)),
            };
            let chunk = &buf[..n];
            hasher.update(chunk);
            size += n as u64;
            gz.write_all(chunk).map_err(io_err("write", &tmp_dir))?;
        }
        let tmp = gz
            .finish()
            .and_then(|w| w.into_inner().map_err(io::IntoInnerError::into_error))
            .map_err(io_err("write", &tmp_dir))?;
        let sha256 = Hash(hasher.finalize().into());
        let path = self.path(&sha256);
        if path.exists() {
            return Ok(StoredBlob { sha256, size });
        }
        tmp.as_file()
            .sync_all()
            .map_err(io_err("fsync", tmp.path()))?;
        let dir = path.parent().unwrap_or(&tmp_dir).to_owned();
        fs::create_dir_all(&dir).map_err(io_err("create directory", &dir))?;
        tmp.persist(&path)
            .map_err(|e| io_err("rename into", &path)(e.error))?;
        sync_dir(&dir)?;
        sync_dir(&tmp_dir)?;
        Ok(StoredBlob { sha256, size })
    }

    /// Whether a blob with this digest is stored.
    pub fn contains(&self, sha256: &Hash) -> bool {
        self.path(sha256).is_file()
    }

    /// Reads a blob back, verifying that its content still hashes to its name.
    pub fn get(&self, sha256: &Hash) -> Result<Vec<u8>, BlobError> {
        let mut out = Vec::new();
        self.copy_to(sha256, &mut out)?;
        Ok(out)
    }

    /// Streams a blob into `out`, verifying its hash at the end. On [`BlobError::Corrupt`]
    /// the bytes already written must be discarded by the caller.
    pub fn copy_to(&self, sha256: &Hash, out: &mut impl Write) -> Result<u64, BlobError> {
        let path = self.path(sha256);
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(BlobError::NotFound(*sha256));
            }
            Err(e) => return Err(io_err("open", &path)(e)),
        };
        let mut gz = GzDecoder::new(BufReader::new(file));
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = match gz.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // A damaged gzip stream is corruption of the blob, not an I/O failure.
                Err(e)
                    if e.kind() == io::ErrorKind::InvalidInput
                        || e.kind() == io::ErrorKind::InvalidData
                        || e.kind() == io::ErrorKind::UnexpectedEof =>
                {
                    return Err(BlobError::Corrupt {
                        expected: *sha256,
                        actual: Hash(hasher.finalize().into()),
                        path,
                    });
                }
                Err(e) => return Err(io_err("read", &path)(e)),
            };
            hasher.update(&buf[..n]);
            size += n as u64;
            out.write_all(&buf[..n])
                .map_err(io_err("copy out of", &path))?;
        }
        let actual = Hash(hasher.finalize().into());
        if actual != *sha256 {
            return Err(BlobError::Corrupt {
                expected: *sha256,
                actual,
                path,
            });
        }
        Ok(size)
    }

    /// Puts a blob under legal hold: [`BlobStore::delete`] refuses it until released.
    pub fn hold(&self, sha256: &Hash) -> Result<(), BlobError> {
        if !self.contains(sha256) {
            return Err(BlobError::NotFound(*sha256));
        }
        let path = self.hold_path(sha256);
        File::create(&path)
            .and_then(|f| f.sync_all())
            .map_err(io_err("create hold marker", &path))?;
        sync_dir(&self.root.join("holds"))
    }

    /// Releases a legal hold (a no-op when there is none).
    pub fn release(&self, sha256: &Hash) -> Result<(), BlobError> {
        let path = self.hold_path(sha256);
        match fs::remove_file(&path) {
            Ok(()) => sync_dir(&self.root.join("holds")),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err("remove hold marker", &path)(e)),
        }
    }

    /// Whether a blob is under legal hold.
    pub fn is_held(&self, sha256: &Hash) -> bool {
        self.hold_path(sha256).exists()
    }

    /// Deletes a blob for retention. The ledger leaf that names it is never touched: the
    /// record still proves the blob existed and what it hashed to.
    pub fn delete(&self, sha256: &Hash) -> Result<(), BlobError> {
        if self.is_held(sha256) {
            return Err(BlobError::LegalHold(*sha256));
        }
        let path = self.path(sha256);
        match fs::remove_file(&path) {
            Ok(()) => sync_dir(path.parent().unwrap_or(&self.root)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(BlobError::NotFound(*sha256)),
            Err(e) => Err(io_err("delete", &path)(e)),
        }
    }
}
