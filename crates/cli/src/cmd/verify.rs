//! `sitrep verify PACK --key VERIFIER-KEY`: check an evidence pack fully offline against
//! a key the user pins, and say exactly what failed.

use std::path::PathBuf;

use anyhow::Context as _;
use sitrep_evidence::pack::text::sanitize;
use sitrep_evidence::pack::{Limits, VerifyReport, verify_pack};
use sitrep_ledger::Verifier;

use crate::output::emit;
use crate::{CliError, Ctx};

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The evidence pack (`.tar.gz`) to verify.
    pub pack: PathBuf,
    /// A trusted verifier key (`name+keyid+base64`), or `@FILE` to read it from a file.
    /// Repeat for several keys. Keys inside the pack are never trusted.
    #[arg(long = "key", required = true, value_name = "VERIFIER-KEY")]
    pub keys: Vec<String>,
}

fn parse_key(arg: &str) -> Result<Verifier, CliError> {
    let text = match arg.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read key file {path}"))
            .map_err(CliError::Input)?,
        None => arg.to_owned(),
    };
    Verifier::parse(text.trim())
        .with_context(|| format!("{arg} is not a verifier key (expected name+keyid+base64)"))
        .map_err(CliError::Input)
}

pub fn run(args: VerifyArgs, ctx: &Ctx) -> Result<(), CliError> {
    let keys = args
        .keys
        .iter()
        .map(|k| parse_key(k))
        .collect::<Result<Vec<_>, _>>()?;
    let file = std::fs::File::open(&args.pack)
        .with_context(|| format!("cannot open {}", args.pack.display()))
        .map_err(CliError::Input)?;
    let report = verify_pack(std::io::BufReader::new(file), &keys, Limits::default())
        .with_context(|| format!("{} is not a readable evidence pack", args.pack.display()))
        .map_err(CliError::Input)?;

    if ctx.json {
        ctx.print_json(&serde_json::json!({ "ok": report.ok(), "report": report }))?;
    } else {
        emit(&human(&report))?;
    }
    if report.ok() {
        Ok(())
    } else {
        Err(CliError::CheckFailed(format!(
            "{}: {} failure(s)",
            args.pack.display(),
            report.failures.len()
        )))
    }
}

/// The report for a terminal. Everything that came from the pack goes through
/// `sanitize`, so no escape sequence in it reaches the terminal.
fn human(report: &VerifyReport) -> String {
    let mut out = String::new();
    for k in &report.keys_followed {
        out.push_str(&format!(
            "key rotation: trusting {}, which a key you pinned signed in\n",
            sanitize(k)
        ));
    }
    if let (Some(origin), Some(size)) = (&report.origin, report.tree_size) {
        out.push_str(&format!(
            "checkpoint: {}, tree size {size}, signature OK\n",
            sanitize(origin)
        ));
    }
    if let (Some(incident), Some(export)) = (&report.incident, &report.export) {
        out.push_str(&format!(
            "incident {}: export record {} (at {} ms by {}) counts {} records before it{}\n",
            sanitize(incident),
            export.index,
            export.time_ms,
            sanitize(&export.actor),
            export.records,
            // Complete only when nothing failed.
            if report.ok() {
                "; the pack is complete up to it"
            } else {
                ""
            }
        ));
    }
    if let Some(index) = report.unlinked_from {
        out.push_str(&format!(
            "note: records up to {index} predate incident chains; the export's count covers them\n"
        ));
    }
    out.push_str(&format!(
        "records verified: {}\nblobs verified: {}\n",
        report.records_verified, report.blobs_verified
    ));
    for b in &report.blobs_deleted {
        out.push_str(&format!(
            "note: blob {} was deleted (retention or a lost replica, as the incident records); \
             its record still proves its hash\n",
            b.to_hex()
        ));
    }
    for f in &report.failures {
        out.push_str(&format!(
            "FAILED {}: {}\n",
            sanitize(&f.subject),
            sanitize(&f.message)
        ));
    }
    if report.failures_omitted > 0 {
        out.push_str(&format!(
            "FAILED and {} more failure(s) not shown\n",
            report.failures_omitted
        ));
    }
    out.push_str(if report.ok() {
        "OK\n"
    } else {
        "NOT VERIFIED\n"
    });
    out
}
