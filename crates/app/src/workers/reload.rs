//! Runbook hot reload: the runbook directory is polled every few seconds (file paths,
//! sizes and modification times) and re-read when anything changed. A bad runbook
//! never stops the server: its lint errors are logged and the rest keeps working; a
//! directory that cannot be read keeps the last good library.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use sitrep_runbook::Severity;

use super::Workers;

/// What the poll compares: every runbook file's path, size and mtime, sorted.
type Snapshot = Vec<(PathBuf, u64, Option<SystemTime>)>;

/// Told the outcome of every reload: `None` when it worked, else why it failed.
pub type ReloadHook = Arc<dyn Fn(Option<String>) + Send + Sync>;

/// The files the library reads (the same walker), each with its size and mtime.
fn snapshot(root: &Path) -> std::io::Result<Snapshot> {
    crate::library::runbook_files(root)?
        .into_iter()
        .map(|path| {
            // Not following links, as the walker does not.
            let meta = std::fs::symlink_metadata(&path)?;
            Ok((path, meta.len(), meta.modified().ok()))
        })
        .collect()
}

impl Workers {
    /// Polls the configured runbook directory every `every` until closing.
    pub async fn watch_runbooks(self, every: Duration, reloaded: ReloadHook) {
        let Some(root) = self.app.config().runbooks.clone() else {
            return;
        };
        let mut closing = self.closing.clone();
        let r = root.clone();
        let mut last = tokio::task::spawn_blocking(move || snapshot(&r).ok())
            .await
            .ok()
            .flatten();
        // The library was read when the app opened, before this first snapshot: a file
        // changed in between would be in the snapshot and never in the library. Reading
        // it once more now closes that gap (a test writing right after start found it).
        self.reload_runbooks(&reloaded).await;
        loop {
            if !Workers::nap(&mut closing, every).await {
                return;
            }
            let r = root.clone();
            let now = tokio::task::spawn_blocking(move || snapshot(&r).ok())
                .await
                .ok()
                .flatten();
            if now == last {
                continue;
            }
            last = now;
            self.reload_runbooks(&reloaded).await;
        }
    }

    /// Re-reads the runbook directory now, logging lint errors.
    pub async fn reload_runbooks(&self, reloaded: &ReloadHook) {
        let app = self.app.clone();
        match tokio::task::spawn_blocking(move || app.reload_library()).await {
            Ok(Ok(lib)) => {
                reloaded(None);
                let mut errors = 0;
                for entry in lib.entries() {
                    for d in entry
                        .diagnostics
                        .iter()
                        .filter(|d| d.severity == Severity::Error)
                    {
                        errors += 1;
                        tracing::warn!(runbook = %entry.path, line = d.line, code = d.code, "{}", d.message);
                    }
                }
                for (path, why) in &lib.unreadable {
                    tracing::warn!(runbook = %path, "unreadable: {why}");
                }
                tracing::info!(
                    runbooks = lib.entries().len(),
                    lint_errors = errors,
                    "runbooks reloaded"
                );
            }
            Ok(Err(e)) => {
                tracing::error!(error = %e, "runbook reload failed; keeping the last good runbooks");
                reloaded(Some(e.to_string()));
            }
            Err(e) => {
                tracing::error!(error = %e, "runbook reload task failed");
                reloaded(Some(e.to_string()));
            }
        }
    }
}
