//! The data dir's permissions. It holds the signing keys, the database and every
//! step's output, so only its owner may enter it: created 0700, its database file
//! 0600 and its blob dir 0700, whatever the process umask (a library does not change
//! the process's umask; the `sitrep` binary sets 0077 itself).
//!
//! What is found on opening:
//!
//! - writable by others (`o+w`): refused. Anyone could have planted or swapped files;
//!   tightening now would not undo that, so a person must look.
//! - writable by its group and owned by someone else: refused, for the same reason.
//! - owned by us and open to group or others (older versions created it 0755): tightened
//!   to 0700, with a warning naming the old mode. Nothing in it is for anyone else, and
//!   refusing would stop every upgraded install.
//! - owned by someone else and readable by others: a warning (we cannot change it).
//!
//! The database file and the blob dir are tightened the same way when they are ours.

use std::fs::{DirBuilder, OpenOptions};
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, OpenOptionsExt as _};
use std::path::Path;

use crate::error::AppError;

/// Mode of the data dir and of the blob dir.
pub const DIR_MODE: u32 = 0o700;
/// Mode of files sitrep creates in the data dir.
pub const FILE_MODE: u32 = 0o600;

/// Creates the data dir (0700) or checks and tightens the one there is.
pub(crate) fn prepare(dir: &Path) -> Result<(), AppError> {
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| AppError::io(parent, e))?;
    }
    match DirBuilder::new().mode(DIR_MODE).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(AppError::io(dir, e)),
    }
    check_dir(dir, "the data dir")
}

/// The blob dir inside the data dir: created 0700, else checked like the data dir.
pub(crate) fn prepare_blobs(dir: &Path) -> Result<(), AppError> {
    match DirBuilder::new().mode(DIR_MODE).create(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => check_dir(dir, "the blob dir"),
        Err(e) => Err(AppError::io(dir, e)),
    }
}

/// The SQLite database file: created empty with mode 0600 before SQLite opens it (an
/// empty file is an empty database, and SQLite gives its WAL and shared-memory files
/// the database file's mode), or tightened to 0600 when it is ours and open to others.
pub(crate) fn prepare_db_file(path: &Path) -> Result<(), AppError> {
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path)
    {
        Ok(_) => return Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(AppError::io(path, e)),
    }
    for p in [
        path.to_owned(),
        suffixed(path, "-wal"),
        suffixed(path, "-shm"),
    ] {
        match std::fs::metadata(&p) {
            Ok(meta) if meta.uid() == euid() && meta.mode() & 0o077 != 0 => {
                tighten(&p, meta.mode(), FILE_MODE, "the database file")?;
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(AppError::io(&p, e)),
        }
    }
    Ok(())
}

fn suffixed(path: &Path, suffix: &str) -> std::path::PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    s.into()
}

/// What to do with a directory of `mode` (permission bits), owned by us or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// Closed to others already, or someone else's and closed to others.
    Fine,
    /// Ours and open to group or others: make it 0700.
    Tighten,
    /// Someone else's and readable by others: say so, go on.
    Warn,
    /// Writable by others, or by a group and someone else's: stop.
    Refuse(&'static str),
}

fn verdict(mode: u32, ours: bool) -> Verdict {
    if mode & 0o002 != 0 {
        Verdict::Refuse("anyone on this machine can write to it")
    } else if mode & 0o020 != 0 && !ours {
        Verdict::Refuse("its group can write to it and it belongs to another user")
    } else if ours && mode & 0o077 != 0 {
        Verdict::Tighten
    } else if mode & 0o007 != 0 {
        Verdict::Warn
    } else {
        Verdict::Fine
    }
}

fn check_dir(dir: &Path, what: &'static str) -> Result<(), AppError> {
    let meta = std::fs::metadata(dir).map_err(|e| AppError::io(dir, e))?;
    if !meta.is_dir() {
        return Err(AppError::io(
            dir,
            std::io::Error::other("exists and is not a directory"),
        ));
    }
    let mode = meta.mode() & 0o7777;
    match verdict(mode, meta.uid() == euid()) {
        Verdict::Fine => {}
        Verdict::Tighten => tighten(dir, mode, DIR_MODE, what)?,
        Verdict::Warn => tracing::warn!(
            path = %dir.display(),
            mode = format!("{mode:04o}"),
            "{what} can be read by other users and belongs to another user, so sitrep \
             cannot tighten it; make it 0700"
        ),
        Verdict::Refuse(why) => {
            return Err(AppError::UnsafeDir {
                path: dir.to_owned(),
                mode,
                what,
                why,
            });
        }
    }
    Ok(())
}

fn tighten(path: &Path, mode: u32, to: u32, what: &str) -> Result<(), AppError> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(to))
        .map_err(|e| AppError::io(path, e))?;
    tracing::warn!(
        path = %path.display(),
        from = format!("{:04o}", mode & 0o7777),
        to = format!("{to:04o}"),
        "{what} was open to other users (older sitrep versions made it so); tightened it"
    );
    Ok(())
}

fn euid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_over_owner_and_mode() {
        assert_eq!(verdict(0o700, true), Verdict::Fine);
        assert_eq!(verdict(0o750, false), Verdict::Fine);
        assert_eq!(verdict(0o755, true), Verdict::Tighten);
        assert_eq!(verdict(0o770, true), Verdict::Tighten);
        assert_eq!(verdict(0o755, false), Verdict::Warn);
        assert!(matches!(verdict(0o777, true), Verdict::Refuse(_)));
        assert!(matches!(verdict(0o1777, false), Verdict::Refuse(_)));
        assert!(matches!(verdict(0o770, false), Verdict::Refuse(_)));
        assert!(matches!(verdict(0o702, true), Verdict::Refuse(_)));
    }
}
