//! The `sitrep` binary: parses arguments, dispatches to one module per command group,
//! and maps every error to a message and an exit code in exactly one place.

mod cmd;
mod error;
mod output;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

pub use error::CliError;
pub use output::Ctx;

/// Runbooks that run. Incidents you can prove.
#[derive(Debug, Parser)]
#[command(name = "sitrep", version, about, long_about = None)]
struct Cli {
    /// Print machine-readable JSON instead of human output.
    #[arg(long, global = true)]
    json: bool,

    #[command(flatten)]
    app: cmd::appctx::AppArgs,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Declare and work incidents: acknowledge, assign, note, severity, resolve.
    #[command(subcommand)]
    Incident(cmd::incident::IncidentCmd),
    /// Run a runbook step (or a section's read steps) inside an incident.
    Run(cmd::run::RunArgs),
    /// An incident's stand-down checklist.
    #[command(subcommand)]
    Checklist(cmd::checklist::ChecklistCmd),
    /// An incident's action items.
    #[command(subcommand)]
    Action(cmd::checklist::ActionCmd),
    /// Write an incident's post-mortem (Markdown) from its record.
    Postmortem(cmd::checklist::PostmortemArgs),
    /// The tamper-evident log: status, verify, checkpoint, proofs.
    #[command(subcommand)]
    Ledger(cmd::ledger::LedgerCmd),
    /// Serve the HTTP API, alert receivers and web UI until SIGTERM or Ctrl-C.
    Serve(cmd::serve::ServeArgs),
    /// API tokens: create (secret shown once), list, revoke.
    #[command(subcommand)]
    Token(cmd::token::TokenCmd),
    /// Export an incident's evidence pack.
    #[command(subcommand)]
    Evidence(cmd::ledger::EvidenceCmd),
    /// Import, lint and inspect Markdown runbooks.
    #[command(subcommand)]
    Runbook(cmd::runbook::RunbookCmd),
    /// Classify the risk of a shell command (read, write, unknown, destructive).
    Risk(cmd::risk::RiskArgs),
    /// Signing keys for ledger checkpoints.
    #[command(subcommand)]
    Key(cmd::key::KeyCmd),
    /// Verify an evidence pack offline against a pinned verifier key.
    Verify(cmd::verify::VerifyArgs),
    /// Simulate and lint escalation policies (rotations, levels, repeats).
    #[command(subcommand)]
    Escalation(cmd::escalation::EscalationCmd),
    /// Print shell completions to standard output.
    Completions {
        /// The shell to generate completions for.
        shell: clap_complete::Shell,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let ctx = Ctx { json: cli.json };
    let result = match cli.command {
        Command::Incident(c) => cmd::incident::run(c, &cli.app, &ctx),
        Command::Run(a) => cmd::run::run(a, &cli.app, &ctx),
        Command::Checklist(c) => cmd::checklist::checklist(c, &cli.app, &ctx),
        Command::Action(c) => cmd::checklist::action(c, &cli.app, &ctx),
        Command::Postmortem(a) => cmd::checklist::postmortem(a, &cli.app, &ctx),
        Command::Ledger(c) => cmd::ledger::ledger(c, &cli.app, &ctx),
        Command::Serve(a) => cmd::serve::run(a, &cli.app, &ctx),
        Command::Token(c) => cmd::token::run(c, &cli.app, &ctx),
        Command::Evidence(c) => cmd::ledger::evidence(c, &cli.app, &ctx),
        Command::Runbook(c) => cmd::runbook::run(c, &ctx),
        Command::Risk(a) => cmd::risk::run(a, &ctx),
        Command::Key(c) => cmd::key::run(c, &ctx),
        Command::Verify(a) => cmd::verify::run(a, &ctx),
        Command::Escalation(c) => cmd::escalation::run(c, &ctx),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "sitrep", &mut std::io::stdout());
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => e.report(&ctx),
    }
}
