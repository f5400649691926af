//! `sitrep ledger` and `sitrep evidence`: the data dir's Merkle log (status, verify,
//! checkpoint, proofs) and incident evidence packs.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::anyhow;

use crate::cmd::appctx::{AppArgs, app_error, runtime, with_app};
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
    /// Every key that signed this log, oldest first: the verifier keys auditors pin.
    Keys,
    /// Move the log to a new signing key. Stop every server on the log first (refused
    /// while one is up); the old key file is replaced (replicas need the new one before
    /// they start again).
    RotateKey {
        /// Rotate even though a server's serving lease is live (one that died without
        /// stopping holds it for up to 30 s).
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum EvidenceCmd {
    /// Export an incident's events, outputs and proofs as a pack for `sitrep verify`,
    /// sealed by an `evidence.exported` event (by `--as NAME`) that makes it complete.
    Export {
        /// Incident number or id.
        incident: String,
        /// The pack to write (`.tar.gz`).
        #[arg(long, short)]
        output: PathBuf,
    },
    /// Put a legal hold on an incident's evidence: retention keeps its bytes.
    Hold {
        /// Incident number or id.
        incident: String,
        /// Why (a case number, a request); recorded in the ledger.
        #[arg(long)]
        reason: String,
    },
    /// Release a legal hold; retention applies again.
    Release {
        /// Incident number or id.
        incident: String,
    },
    /// Output that failed to reach the shared bucket, per replica; `--abandon` gives up a
    /// lost replica's backlog (an `evidence.lost` event for each blob nobody else has).
    Uploads {
        /// The replica id (from this listing) whose data dir is gone for good.
        #[arg(long, value_name = "REPLICA")]
        abandon: Option<String>,
    },
    /// Delete the evidence bytes of incidents resolved longer ago than the retention
    /// (`[evidence] retention`, or --older-than); ledger records stay.
    Retain {
        /// Keep evidence this long after resolution instead of the configured time.
        #[arg(long, value_parser = humantime::parse_duration, value_name = "DURATION")]
        older_than: Option<std::time::Duration>,
        /// Say what would be deleted, delete nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

pub fn ledger(cmd: LedgerCmd, args: &AppArgs, ctx: &Ctx) -> Result<(), CliError> {
    let ctx = *ctx;
    if let LedgerCmd::RotateKey { force } = cmd {
        return rotate_key(args, ctx, force);
    }
    with_app(args, move |app| async move {
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
                let report = app.verify_ledger().await.map_err(app_error)?;
                // The tables are checked against the records only when the records
                // themselves hold.
                let drift = if report.ok() {
                    app.drift().await.map_err(app_error)?
                } else {
                    Vec::new()
                };
                print_verify(&ctx, &report, &drift)?;
                if !report.ok() {
                    Err(CliError::CheckFailed("the ledger does not verify".into()))
                } else if !drift.is_empty() {
                    Err(CliError::CheckFailed(format!(
                        "{} table value(s) differ from the sealed records",
                        drift.len()
                    )))
                } else {
                    Ok(())
                }
            }
            LedgerCmd::Keys => {
                let keys = app.key_history().await.map_err(app_error)?;
                if ctx.json {
                    return ctx.print_json(&keys);
                }
                let mut out = String::new();
                for k in &keys {
                    let since = match (k.since_index, &k.rotated_by) {
                        (Some(i), Some(by)) => format!("since entry {i}, rotated by {by}"),
                        _ => "the log's first key".to_owned(),
                    };
                    let current = if k.current { " (current)" } else { "" };
                    out.push_str(&format!("{}  {since}{current}\n", k.verifier_key));
                }
                emit(&out)
            }
            LedgerCmd::RotateKey { .. } => Ok(()),
            LedgerCmd::Checkpoint => {
                let cp = app.checkpoint_now().await.map_err(app_error)?;
                if ctx.json {
                    ctx.print_json(&cp)
                } else {
                    emit(&cp.signed_note)
                }
            }
            LedgerCmd::Proof { index } => {
                let inc = app.inclusion(index).await.map_err(app_error)?;
                let p = inc.tlog_proof();
                if ctx.json {
                    ctx.print_json(&serde_json::json!({ "index": index, "tree_size": inc.checkpoint.size, "tlog_proof": p.to_text() }))
                } else {
                    emit(&p.to_text())
                }
            }
        }
    })
}

pub fn evidence(cmd: EvidenceCmd, args: &AppArgs, ctx: &Ctx) -> Result<(), CliError> {
    let ctx = *ctx;
    let (incident, output) = match cmd {
        EvidenceCmd::Export { incident, output } => (incident, output),
        other => return retention(other, args, ctx),
    };
    // The export is sealed in the ledger under this name.
    let actor = args.actor()?;
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
            .export_evidence_as(
                &incident,
                &actor,
                std::io::BufWriter::new(tmp.as_file_mut()),
            )
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

/// `ledger rotate-key`: opens the log itself (twice: with the old key, then the new).
fn rotate_key(args: &AppArgs, ctx: Ctx, force: bool) -> Result<(), CliError> {
    let actor = args.actor()?;
    let cfg = args.config()?;
    let rotated = runtime()?
        .block_on(sitrep_app::rotate_ledger_key(cfg, &actor, force))
        .map_err(app_error)?;
    if ctx.json {
        return ctx.print_json(&rotated);
    }
    emit(&format!(
        "rotated the ledger key at entry {} (transition checkpoint at size {}, signed by both keys)\n\
         retired: {}\nnew:     {}\nkey file {} now holds the new key; the old one is deleted.\n\
         Give auditors the new verifier key too: `sitrep ledger keys` lists every key.\n",
        rotated.index,
        rotated.checkpoint_size,
        rotated.from,
        rotated.to,
        rotated.key_file.display()
    ))
}

/// `evidence hold|release|retain`.
fn retention(cmd: EvidenceCmd, args: &AppArgs, ctx: Ctx) -> Result<(), CliError> {
    let actor = args.actor();
    with_app(args, move |app| async move {
        match cmd {
            EvidenceCmd::Export { .. } => Ok(()),
            EvidenceCmd::Uploads {
                abandon: Some(replica),
            } => {
                let lost = app
                    .abandon_uploads(&replica, &actor?)
                    .await
                    .map_err(app_error)?;
                if ctx.json {
                    return ctx.print_json(&serde_json::json!({"replica": replica, "lost": lost}));
                }
                emit(&format!(
                    "abandoned the uploads of replica {replica}: {lost} blob(s) recorded as lost\n"
                ))
            }
            EvidenceCmd::Uploads { abandon: None } => {
                let backlog = app.upload_backlog().await.map_err(app_error)?;
                if ctx.json {
                    return ctx.print_json(&backlog);
                }
                let mut o = String::new();
                let now = sitrep_app::now_ms();
                for b in &backlog {
                    let who = if b.this_replica {
                        " (this replica)"
                    } else {
                        ""
                    };
                    o.push_str(&format!(
                        "replica {}{who}: {} blob(s) of {} incident(s) waiting, oldest {} min ago{}\n",
                        b.replica,
                        b.blobs,
                        b.incidents,
                        (now - b.oldest_ms).max(0) / 60_000,
                        b.last_error
                            .as_deref()
                            .map(|e| format!("; last error: {e}"))
                            .unwrap_or_default()
                    ));
                }
                if backlog.is_empty() {
                    o.push_str(if app.config().evidence.remote.is_some() {
                        "no upload waits: every captured output is in the shared bucket\n"
                    } else {
                        "no upload waits (no shared bucket is configured: [evidence] remote)\n"
                    });
                }
                emit(&o)
            }
            EvidenceCmd::Hold { incident, reason } => {
                let hold = app
                    .hold_evidence(&incident, &reason, &actor?)
                    .await
                    .map_err(app_error)?;
                if ctx.json {
                    return ctx.print_json(&hold);
                }
                emit(&format!(
                    "evidence of incident {incident} is held: {}\n",
                    hold.reason
                ))
            }
            EvidenceCmd::Release { incident } => {
                app.release_evidence(&incident, &actor?)
                    .await
                    .map_err(app_error)?;
                if ctx.json {
                    return ctx.print_json(&serde_json::json!({"released": incident}));
                }
                emit(&format!(
                    "evidence of incident {incident} is no longer held\n"
                ))
            }
            EvidenceCmd::Retain {
                older_than,
                dry_run,
            } => {
                let keep = older_than
                    .or(app.config().evidence.retention)
                    .ok_or_else(|| {
                        CliError::input(anyhow!(
                            "no retention: set [evidence] retention in the config or pass --older-than"
                        ))
                    })?;
                let keep_ms = i64::try_from(keep.as_millis()).unwrap_or(i64::MAX);
                let actor = actor.unwrap_or_else(|_| sitrep_app::Principal::sitrep("retention"));
                let report = app
                    .apply_retention(sitrep_app::now_ms(), keep_ms, dry_run, &actor)
                    .await
                    .map_err(app_error)?;
                if ctx.json {
                    return ctx.print_json(&report);
                }
                let verb = if dry_run { "would delete" } else { "deleted" };
                let mut o = String::new();
                for i in &report.incidents {
                    o.push_str(&format!(
                        "incident {}: {verb} {} blob(s)\n",
                        i.number,
                        i.blobs.len()
                    ));
                }
                if report.incidents.is_empty() {
                    o.push_str("no incident is past retention\n");
                }
                if report.shared_kept > 0 {
                    o.push_str(&format!(
                        "{} blob(s) kept: another incident still needs or holds them\n",
                        report.shared_kept
                    ));
                }
                emit(&o)
            }
        }
    })
}

/// `ledger verify`'s report: the re-hash, then every drift of the tables from the records.
fn print_verify(
    ctx: &Ctx,
    report: &sitrep_app::store::LedgerReport,
    drift: &[sitrep_app::replay::Drift],
) -> Result<(), CliError> {
    let divergence = report
        .first_divergence
        .as_ref()
        .map(|d| serde_json::json!({ "kind": d.kind, "index": d.index, "detail": d.detail }));
    if ctx.json {
        return ctx.print_json(&serde_json::json!({
            "ok": report.ok() && drift.is_empty(),
            "tree_size": report.tree_size,
            "entries_checked": report.entries_checked,
            "hashes_checked": report.hashes_checked,
            "checkpoints_checked": report.checkpoints_checked,
            "first_divergence": divergence,
            "drift": drift,
        }));
    }
    let mut out = format!(
        "tree size {}: {} entries re-hashed, {} stored hashes and {} checkpoints checked\n",
        report.tree_size, report.entries_checked, report.hashes_checked, report.checkpoints_checked
    );
    match &report.first_divergence {
        None => out.push_str("ledger OK\n"),
        Some(d) => out.push_str(&format!(
            "DIVERGED at {} {}: {}\n",
            d.kind, d.index, d.detail
        )),
    }
    if report.ok() && drift.is_empty() {
        out.push_str("tables match the records\n");
    }
    for d in drift {
        out.push_str(&format!(
            "DRIFT incident #{} {}: records say {:?}, table says {:?}\n",
            d.incident, d.field, d.recorded, d.table
        ));
    }
    emit(&out)
}
