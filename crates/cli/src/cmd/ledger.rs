//! `sitrep ledger` and `sitrep evidence`: the data dir's Merkle log (status, verify,
//! checkpoint, proofs) and incident evidence packs.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::anyhow;

use crate::cmd::appctx::{AppArgs, app_error, with_app};
use crate::output::emit;
use crate::{CliError, Ctx};

#[derive(Debug, clap::Subcommand)]
pub enum LedgerCmd {
    /// Size, latest checkpoint and the verifier key to pin.
    Status,
    /// Recompute every hash from the entries and check every checkpoint.
    Verify,
    /// Sign a checkpoint of the current tree now and print it.
    Checkpoint,
    /// An inclusion proof for one event, as a tlog-proof file.
    Proof {
        /// The event's ledger index (shown on the timeline as `#N`).
        index: u64,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum EvidenceCmd {
    /// Export an incident's events, outputs and proofs as a pack for `sitrep verify`.
    Export {
        /// Incident number or id.
        incident: String,
        /// The pack to write (`.tar.gz`).
        #[arg(long, short)]
        output: PathBuf,
    },
}

pub fn ledger(cmd: LedgerCmd, args: &AppArgs, ctx: &Ctx) -> Result<(), CliError> {
    let ctx = *ctx;
    with_app(args, move |app| async move {
        let store = app.store();
        match cmd {
            LedgerCmd::Status => {
                let s = app.ledger_status().await.map_err(app_error)?;
                if ctx.json {
                    return ctx.print_json(&s);
                }
                let cp = s.checkpoint.as_ref().map_or("none yet".to_owned(), |c| {
                    format!("size {} root {}", c.size, c.root)
                });
                emit(&format!(
                    "tree size   {}\ncheckpoint  {cp}\nverifier    {}\n",
                    s.tree_size, s.verifier_key
                ))
            }
            LedgerCmd::Verify => {
                let report = store
                    .verify_ledger()
                    .await
                    .map_err(|e| app_error(e.into()))?;
                // The store's report has no Serialize/Display; describe it here.
                let divergence = report.first_divergence.as_ref().map(
                    |d| serde_json::json!({ "kind": d.kind, "index": d.index, "detail": d.detail }),
                );
                if ctx.json {
                    ctx.print_json(&serde_json::json!({
                        "ok": report.ok(),
                        "tree_size": report.tree_size,
                        "entries_checked": report.entries_checked,
                        "hashes_checked": report.hashes_checked,
                        "checkpoints_checked": report.checkpoints_checked,
                        "first_divergence": divergence,
                    }))?;
                } else {
                    let verdict = match &report.first_divergence {
                        None => "ok".to_owned(),
                        Some(d) => format!("DIVERGED: {} {}: {}", d.kind, d.index, d.detail),
                    };
                    emit(&format!(
                        "ledger of {} entries: {} entries, {} hashes, {} checkpoints checked; {verdict}\n",
                        report.tree_size,
                        report.entries_checked,
                        report.hashes_checked,
                        report.checkpoints_checked
                    ))?;
                }
                if report.ok() {
                    Ok(())
                } else {
                    Err(CliError::CheckFailed("the ledger does not verify".into()))
                }
            }
            LedgerCmd::Checkpoint => {
                let cp = store
                    .checkpoint_now()
                    .await
                    .map_err(|e| app_error(e.into()))?;
                if ctx.json {
                    ctx.print_json(&cp)
                } else {
                    emit(&cp.signed_note)
                }
            }
            LedgerCmd::Proof { index } => {
                let cp = store
                    .checkpoint_now()
                    .await
                    .map_err(|e| app_error(e.into()))?;
                if index >= cp.size {
                    return Err(CliError::input(anyhow!(
                        "no event #{index}: the ledger has {} events",
                        cp.size
                    )));
                }
                let proof = store
                    .inclusion_proof(index, cp.size)
                    .await
                    .map_err(|e| app_error(e.into()))?;
                let p = sitrep_ledger::TlogProof {
                    extra: None,
                    index,
                    proof,
                    checkpoint: cp.signed_note.clone(),
                };
                if ctx.json {
                    ctx.print_json(&serde_json::json!({ "index": index, "tree_size": cp.size, "tlog_proof": p.to_text() }))
                } else {
                    emit(&p.to_text())
                }
            }
        }
    })
}

pub fn evidence(cmd: EvidenceCmd, args: &AppArgs, ctx: &Ctx) -> Result<(), CliError> {
    let ctx = *ctx;
    let EvidenceCmd::Export { incident, output } = cmd;
    with_app(args, move |app| async move {
        // Write to a temporary file beside the target and rename, so a failed export
        // never leaves a half pack that looks complete.
        let dir = output
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| {
            CliError::input(anyhow!(e).context(format!("cannot write in {}", dir.display())))
        })?;
        let summary = app
            .export_evidence(&incident, std::io::BufWriter::new(tmp.as_file_mut()))
            .await
            .map_err(app_error)?;
        tmp.as_file_mut()
            .flush()
            .and_then(|()| tmp.as_file().sync_all())
            .map_err(|e| CliError::internal(anyhow!(e)))?;
        tmp.persist(&output).map_err(|e| {
            CliError::internal(
                anyhow!(e.error).context(format!("cannot write {}", output.display())),
            )
        })?;
        let key = app.verifier().to_string();
        if ctx.json {
            ctx.print_json(&serde_json::json!({
                "pack": output, "records": summary.records, "blobs": summary.blobs,
                "blobs_missing": summary.blobs_missing, "verifier_key": key,
            }))
        } else {
            emit(&format!(
                "wrote {}: {} records, {} blobs ({} deleted by retention)\nverify with: sitrep verify {} --key '{}'\n",
                output.display(),
                summary.records,
                summary.blobs,
                summary.blobs_missing,
                output.display(),
                key
            ))
        }
    })
}
