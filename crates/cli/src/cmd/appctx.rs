//! Opening the application for commands that work on incidents: global options, the
//! async runtime, and mapping `AppError` to `CliError` in one place.

use std::path::PathBuf;

use anyhow::anyhow;
use sitrep_app::{App, AppError, Config, ErrorKind};

use crate::CliError;

/// Where the data lives; shared by every incident command (also from `SITREP_*`).
#[derive(Debug, Clone, clap::Args)]
pub struct AppArgs {
    /// The configuration file (TOML). Default: none, every setting at its default.
    #[arg(
        id = "app_config",
        long = "config",
        global = true,
        env = "SITREP_CONFIG",
        value_name = "FILE"
    )]
    pub config: Option<PathBuf>,
    /// The data dir (SQLite database, blobs, ledger key).
    /// Default: `$XDG_DATA_HOME/sitrep` or `~/.local/share/sitrep`.
    #[arg(
        id = "app_data_dir",
        long = "data-dir",
        global = true,
        value_name = "DIR"
    )]
    pub data_dir: Option<PathBuf>,
    /// The runbook directory.
    #[arg(
        id = "app_runbooks",
        long = "runbooks",
        global = true,
        value_name = "DIR"
    )]
    pub runbooks: Option<PathBuf>,
    /// Who you are, as recorded on the timeline. Default: `$SITREP_ACTOR`, else `$USER`.
    #[arg(id = "app_actor", long = "as", global = true, value_name = "NAME")]
    pub actor: Option<String>,
}

impl AppArgs {
    /// The configuration: the file, then environment overrides, then flags.
    pub fn config(&self) -> Result<Config, CliError> {
        let mut cfg = match &self.config {
            Some(path) => Config::load(path).map_err(CliError::input)?,
            None => Config::default(),
        };
        cfg.apply_env(|k| std::env::var(k).ok())
            .map_err(CliError::input)?;
        if let Some(d) = &self.data_dir {
            cfg.data_dir = Some(d.clone());
        }
        if let Some(r) = &self.runbooks {
            cfg.runbooks = Some(r.clone());
        }
        Ok(cfg)
    }

    /// Who acts: the name given (`--as`, `SITREP_ACTOR`, `USER`), asserted by the
    /// operator, so its principal id is `cli:NAME`.
    pub fn actor(&self) -> Result<sitrep_app::Principal, CliError> {
        self.actor
            .clone()
            .or_else(|| std::env::var("SITREP_ACTOR").ok())
            .or_else(|| std::env::var("USER").ok())
            .filter(|a| !a.trim().is_empty())
            .map(|name| sitrep_app::Principal::asserted(&name))
            .ok_or_else(no_actor)
    }
}

/// The error when no actor name is known.
pub fn no_actor() -> CliError {
    CliError::input(anyhow!("who are you? pass --as NAME or set SITREP_ACTOR"))
}

/// A multi-threaded runtime for one command.
pub fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::internal(anyhow!(e).context("cannot start the async runtime")))
}

/// Opens the app, runs `f`, and closes the app (flushing a final checkpoint) whatever
/// `f` returned.
pub fn with_app<T, F, Fut>(args: &AppArgs, f: F) -> Result<T, CliError>
where
    F: FnOnce(App) -> Fut,
    Fut: std::future::Future<Output = Result<T, CliError>>,
{
    let cfg = args.config()?;
    runtime()?.block_on(async move {
        let app = App::open(cfg).await.map_err(app_error)?;
        let result = f(app.clone()).await;
        app.close().await;
        result
    })
}

/// The one mapping from use-case errors to exit codes, by [`ErrorKind`]: what the caller
/// named wrongly is bad input (2), a rule's refusal or a conflicting state is a failed
/// check (1), the rest is internal (3). The CLI's own hint (which flag to use) is added
/// here, not in the library's message, which HTTP users read too.
pub fn app_error(e: AppError) -> CliError {
    let hint = cli_hint(&e);
    let err = match e.kind() {
        ErrorKind::Refused | ErrorKind::Conflict => CliError::CheckFailed(e.to_string()),
        ErrorKind::Invalid | ErrorKind::NotFound => CliError::Input(anyhow!(e)),
        ErrorKind::Unavailable | ErrorKind::Internal => CliError::Internal(anyhow!(e)),
    };
    match hint {
        Some(hint) => err.with_hint(hint),
        None => err,
    }
}

/// What to type next, for the failures a flag of this CLI answers.
fn cli_hint(e: &AppError) -> Option<String> {
    Some(match e {
        AppError::ChecklistOpen { .. } => {
            "tick them with `sitrep checklist tick`, or resolve with --force REASON".into()
        }
        AppError::Unbound { .. } => "pass --set NAME=VALUE for each".into(),
        AppError::NeedsConfirmation { plan, .. } => {
            format!("check the command above, then rerun with --yes (plan {plan})")
        }
        AppError::Busy { .. } => "run the command again".into(),
        AppError::NoLevelLeft { .. } => {
            "page someone directly: `sitrep incident page INCIDENT PERSON`".into()
        }
        _ => return None,
    })
}

/// Resolves on SIGTERM or Ctrl-C (SIGINT).
pub async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            // Without a SIGTERM handler, Ctrl-C still works.
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = term => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
