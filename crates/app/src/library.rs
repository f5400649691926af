//! The runbook library: every Markdown file under the runbook directory, parsed and
//! linted together. Loading never fails on a bad runbook: its diagnostics say what is
//! wrong, and the rest of the library still works.

use std::path::{Path, PathBuf};

use sitrep_runbook::{RunbookSet, SetEntry};

use crate::error::AppError;

/// Largest runbook file read; bigger files are reported, not loaded.
pub const MAX_RUNBOOK_BYTES: u64 = 4 << 20;

/// A loaded runbook directory.
#[derive(Debug, Clone, Default)]
pub struct Library {
    root: Option<PathBuf>,
    set: RunbookSet,
    /// Files not read, and why (links, devices, too big, not UTF-8, I/O errors).
    pub unreadable: Vec<(String, String)>,
}

impl Library {
    /// An empty library (no runbook directory configured).
    #[must_use]
    pub fn empty() -> Self {
        Library::default()
    }

    /// Reads every `*.md`, `*.markdown` and `*.txt` file under `root` (recursively, skipping hidden
    /// directories), in path order so ids and output are stable.
    pub fn load(root: &Path, site_rules: &[sitrep_risk::CustomRule]) -> Result<Library, AppError> {
        let mut files: Vec<String> = runbook_files(root)
            .map_err(|e| AppError::io(root, e))?
            .iter()
            .filter_map(|p| p.strip_prefix(root).ok())
            .map(|rel| rel.to_string_lossy().replace('\\', "/"))
            .collect();
        files.sort();
        let mut sources = Vec::new();
        let mut unreadable = Vec::new();
        for rel in files {
            let path = root.join(&rel);
            match read_runbook(Some(root), &path) {
                Ok(text) => sources.push((rel, text)),
                Err(msg) => unreadable.push((rel, msg)),
            }
        }
        Ok(Library {
            root: Some(root.to_owned()),
            set: RunbookSet::from_sources_with_rules(sources, site_rules),
            unreadable,
        })
    }

    /// Builds a library from in-memory sources (tests, the demo).
    pub fn from_sources<P: Into<String>, T: AsRef<str>>(
        sources: impl IntoIterator<Item = (P, T)>,
    ) -> Library {
        Library {
            root: None,
            set: RunbookSet::from_sources(sources),
            unreadable: Vec::new(),
        }
    }

    /// The directory it was loaded from.
    #[must_use]
    pub fn root(&self) -> Option<&Path> {
        self.root.as_deref()
    }

    /// Every runbook, in path order.
    pub fn entries(&self) -> &[SetEntry] {
        &self.set.entries
    }

    /// The runbook at `path` (relative to the directory), or one whose file name or
    /// front-matter service matches when no path does.
    #[must_use]
    pub fn get(&self, path: &str) -> Option<&SetEntry> {
        self.set.get(path).or_else(|| {
            let stem = path.trim_end_matches(".md");
            self.set.entries.iter().find(|e| {
                let file = e.path.rsplit('/').next().unwrap_or(&e.path);
                file.trim_end_matches(".md") == stem
            })
        })
    }

    /// The runbooks handling an alert name, by path.
    #[must_use]
    pub fn handlers(&self, alert: &str) -> Vec<&str> {
        self.set.handlers(alert)
    }

    /// The runbooks of a service (front matter `service:`), by path.
    #[must_use]
    pub fn for_service(&self, service: &str) -> Vec<&str> {
        self.set
            .entries
            .iter()
            .filter(|e| {
                e.runbook
                    .front_matter
                    .as_ref()
                    .and_then(|f| f.service.as_deref())
                    == Some(service)
            })
            .map(|e| e.path.as_str())
            .collect()
    }
}

/// Reads one runbook file. Under a runbook directory (`root`), only a regular file with
/// one link whose real path is inside `root` is read: a symbolic or hard link could
/// serve any file on the system (`/etc/passwd` became a runbook title). Always: a
/// regular file (not a device or FIFO) of at most [`MAX_RUNBOOK_BYTES`], UTF-8. The
/// error says why, for lint and the library's `unreadable` list.
pub fn read_runbook(root: Option<&Path>, path: &Path) -> Result<String, String> {
    use std::io::Read as _;
    use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
    let mut open = std::fs::OpenOptions::new();
    open.read(true);
    if let Some(root) = root {
        let link = std::fs::symlink_metadata(path).map_err(|e| e.to_string())?;
        if link.file_type().is_symlink() {
            return Err(
                "a symbolic link: only regular files inside the runbook directory \
                        are read"
                    .to_owned(),
            );
        }
        let real = std::fs::canonicalize(path).map_err(|e| e.to_string())?;
        let real_root = std::fs::canonicalize(root).map_err(|e| e.to_string())?;
        if !real.starts_with(&real_root) {
            return Err(format!(
                "its real path {} is outside the runbook directory",
                real.display()
            ));
        }
        // Not following a link swapped in since the check above.
        open.custom_flags(nix::libc::O_NOFOLLOW);
    }
    let file = open.open(path).map_err(|e| e.to_string())?;
    let meta = file.metadata().map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file".to_owned());
    }
    if root.is_some() && meta.nlink() > 1 {
        return Err(format!(
            "has {} hard links: only files with one link are read (a hard link can be any \
             file on the same file system)",
            meta.nlink()
        ));
    }
    if meta.len() > MAX_RUNBOOK_BYTES {
        return Err(format!(
            "{} bytes, more than the limit of {MAX_RUNBOOK_BYTES}",
            meta.len()
        ));
    }
    let mut bytes = Vec::new();
    file.take(MAX_RUNBOOK_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > MAX_RUNBOOK_BYTES {
        return Err(format!("more than the limit of {MAX_RUNBOOK_BYTES} bytes"));
    }
    String::from_utf8(bytes)
        .map_err(|e| format!("not UTF-8 (byte {})", e.utf8_error().valid_up_to()))
}

/// The one runbook-directory walker (the library, its watcher and `sitrep runbook lint`
/// use it): runbook-named entries under `root` (`*.md`, `*.markdown`, `*.txt`),
/// recursively, hidden ones skipped, sorted. A link to a directory is not followed;
/// everything else that is not a directory is listed, links and devices included, so
/// that reading it can say why it is skipped.
pub fn runbook_files(root: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') {
                continue;
            }
            if entry.file_type()?.is_dir() {
                stack.push(entry.path());
            } else if sitrep_runbook::is_runbook_file_name(&name) {
                out.push(entry.path());
            }
        }
    }
    out.sort();
    Ok(out)
}
