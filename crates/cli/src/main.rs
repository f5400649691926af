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

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// A live demo: server, a failing simulated service, alerts and auto-triage.
    Demo(cmd::demo::DemoArgs),
    /// Declare and work incidents: acknowledge, assign, note, severity, resolve.
    Incident {
        #[command(flatten)]
        app: cmd::appctx::AppArgs,
        #[command(subcommand)]
        cmd: cmd::incident::IncidentCmd,
    },
    /// Run a runbook step (or a section's read steps) inside an incident.
    Run {
        #[command(flatten)]
        app: cmd::appctx::AppArgs,
        #[command(flatten)]
        args: cmd::run::RunArgs,
    },
    /// Run a runbook's query step (promql, logql, sql) inside an incident.
    Query {
        #[command(flatten)]
        app: cmd::appctx::AppArgs,
        #[command(flatten)]
        args: cmd::query::QueryArgs,
    },
    /// Check an incident's thresholds rows against Prometheus (sealed on its timeline).
    Thresholds {
        #[command(flatten)]
        app: cmd::appctx::AppArgs,
        #[command(flatten)]
        args: cmd::query::ThresholdsArgs,
    },
    /// An incident's stand-down checklist.
    Checklist {
        #[command(flatten)]
        app: cmd::appctx::AppArgs,
        #[command(subcommand)]
        cmd: cmd::checklist::ChecklistCmd,
    },
    /// Approvals for runs that policy holds for a second person.
    Approval {
        #[command(flatten)]
        app: cmd::appctx::AppArgs,
        #[command(subcommand)]
        cmd: cmd::approval::ApprovalCmd,
    },
    /// An incident's action items.
    Action {
        #[command(flatten)]
        app: cmd::appctx::AppArgs,
        #[command(subcommand)]
        cmd: cmd::checklist::ActionCmd,
    },
    /// Write an incident's post-mortem (Markdown) from its record.
    Postmortem {
        #[command(flatten)]
        app: cmd::appctx::AppArgs,
        #[command(flatten)]
        args: cmd::checklist::PostmortemArgs,
    },
    /// The tamper-evident log: status, verify, checkpoint, proofs.
    Ledger {
        #[command(flatten)]
        app: cmd::appctx::AppArgs,
        #[command(subcommand)]
        cmd: cmd::ledger::LedgerCmd,
    },
    /// Serve the HTTP API, alert receivers and web UI until SIGTERM or Ctrl-C.
    Serve {
        #[command(flatten)]
        app: cmd::appctx::AppArgs,
        #[command(flatten)]
        args: cmd::serve::ServeArgs,
    },
    /// API tokens: create (secret shown once), list, revoke.
    Token {
        #[command(flatten)]
        app: cmd::appctx::AppArgs,
        #[command(subcommand)]
        cmd: cmd::token::TokenCmd,
    },
    /// Silences: mute alerts matching given labels for a while (add, list, remove).
    Silence {
        #[command(flatten)]
        app: cmd::appctx::AppArgs,
        #[command(subcommand)]
        cmd: cmd::silence::SilenceCmd,
    },
    /// Export an incident's evidence pack.
    Evidence {
        #[command(flatten)]
        app: cmd::appctx::AppArgs,
        #[command(subcommand)]
        cmd: cmd::ledger::EvidenceCmd,
    },
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
    // Everything sitrep writes (the data dir, its database and WAL, keys, blobs, packs,
    // post-mortems) is for its owner only; the app also sets those modes explicitly, and
    // this covers files its dependencies create. Set here, in the binary, because a
    // library must not change a process-wide setting under its host.
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    let cli = Cli::parse();
    let ctx = Ctx { json: cli.json };
    let result = match cli.command {
        Command::Demo(a) => cmd::demo::run(a, &ctx),
        Command::Incident { app, cmd } => cmd::incident::run(cmd, &app, &ctx),
        Command::Run { app, args } => cmd::run::run(args, &app, &ctx),
        Command::Query { app, args } => cmd::query::query(args, &app, &ctx),
        Command::Thresholds { app, args } => cmd::query::thresholds(args, &app, &ctx),
        Command::Checklist { app, cmd } => cmd::checklist::checklist(cmd, &app, &ctx),
        Command::Action { app, cmd } => cmd::checklist::action(cmd, &app, &ctx),
        Command::Approval { app, cmd } => cmd::approval::run(cmd, &app, &ctx),
        Command::Postmortem { app, args } => cmd::checklist::postmortem(args, &app, &ctx),
        Command::Ledger { app, cmd } => cmd::ledger::ledger(cmd, &app, &ctx),
        Command::Evidence { app, cmd } => cmd::ledger::evidence(cmd, &app, &ctx),
        Command::Serve { app, args } => cmd::serve::run(args, &app, &ctx),
        Command::Token { app, cmd } => cmd::token::run(cmd, &app, &ctx),
        Command::Silence { app, cmd } => cmd::silence::run(cmd, &app, &ctx),
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

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_is_consistent() {
        // Catches clashing ids and flags between global and subcommand arguments.
        <super::Cli as clap::CommandFactory>::command().debug_assert();
    }
}
