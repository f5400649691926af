//! Runbook hot reload: the runbook directory is polled every few seconds (file paths,
//! sizes and modification times) and re-read when anything changed. A bad runbook
//! never stops the server: its lint errors are logged and the rest keeps working; a
//! directory that cannot be read keeps the last good library.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use sitrep_runbook::Severity;

use crate::ServerState;

/// What the poll compares: every file's path, size and mtime, sorted.
type Snapshot = Vec<(PathBuf, u64, Option<SystemTime>)>;

fn snapshot(root: &Path) -> std::io::Result<Snapshot> {
    let mut out = Vec::new();
    walk(root, &mut out)?;
    out.sort();
    Ok(out)
}

fn walk(dir: &Path, out: &mut Snapshot) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let meta = entry.metadata()?;
        if meta.is_dir() {
            walk(&entry.path(), out)?;
        } else {
            out.push((entry.path(), meta.len(), meta.modified().ok()));
        }
    }
    Ok(())
}

/// Polls the configured runbook directory every `every` until shutdown.
pub async fn watch_runbooks(state: ServerState, every: Duration) {
    let Some(root) = state.app().config().runbooks.clone() else {
        return;
    };
    let mut closing = state.closing_signal();
    let r = root.clone();
    let mut last = tokio::task::spawn_blocking(move || snapshot(&r).ok())
        .await
        .ok()
        .flatten();
    // The library was read when the app opened, before this first snapshot: a file
    // changed in between would be in the snapshot and never in the library. Reading it
    // once more now closes that gap (a test writing right after start found it).
    reload(&state).await;
    loop {
        if !crate::nap(&mut closing, every).await {
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
        reload(&state).await;
    }
}

/// Re-reads the runbook directory now, logging lint errors.
pub async fn reload(state: &ServerState) {
    let app = state.app().clone();
    match tokio::task::spawn_blocking(move || app.reload_library()).await {
        Ok(Ok(lib)) => {
            state.set_runbook_error(None);
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
            state.set_runbook_error(Some(e.to_string()));
        }
        Err(e) => {
            tracing::error!(error = %e, "runbook reload task failed");
            state.set_runbook_error(Some(e.to_string()));
        }
    }
}
