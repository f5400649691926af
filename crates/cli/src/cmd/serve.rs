//! `sitrep serve`: the HTTP server (API, receivers, UI, probes, metrics) over the data
//! dir, until SIGTERM or Ctrl-C, then a graceful stop (requests in flight finish, a
//! final checkpoint is signed).

use std::time::Instant;

use anyhow::{Context as _, anyhow};
use sitrep_app::App;
use sitrep_server::ServerState;

use crate::cmd::appctx::{AppArgs, app_error, runtime};
use crate::output::emit;
use crate::{CliError, Ctx};

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on, e.g. `0.0.0.0:8080` (default: `server.listen` of the config,
    /// `$SITREP_LISTEN`, else 127.0.0.1:8080). Port 0 picks a free port.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
}

/// Logs go to stderr; `SITREP_LOG` picks the level (error, warn, info, debug, trace).
fn init_logging() {
    let level = std::env::var("SITREP_LOG")
        .ok()
        .and_then(|l| l.parse::<tracing::Level>().ok())
        .unwrap_or(tracing::Level::INFO);
    let _ = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

pub fn run(args: ServeArgs, app_args: &AppArgs, ctx: &Ctx) -> Result<(), CliError> {
    let ctx = *ctx;
    let mut cfg = app_args.config()?;
    if let Some(l) = args.listen {
        cfg.server.listen = l;
    }
    init_logging();
    runtime()?.block_on(async move {
        let started = Instant::now();
        let listen = cfg.server.listen.clone();
        let app = App::open(cfg).await.map_err(app_error)?;
        let result = serve(app.clone(), &listen, started, ctx).await;
        app.close().await;
        result
    })
}

async fn serve(app: App, listen: &str, started: Instant, ctx: Ctx) -> Result<(), CliError> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))
        .map_err(CliError::Input)?;
    let addr = listener
        .local_addr()
        .map_err(|e| CliError::internal(anyhow!(e)))?;
    let state = ServerState::new(app.clone()).await.map_err(app_error)?;
    let url = format!("http://{addr}");
    let ready_ms = started.elapsed().as_millis();
    if ctx.json {
        ctx.print_json(&serde_json::json!({ "url": url, "ready_ms": ready_ms }))?;
    } else {
        emit(&format!("sitrep serving on {url}\n"))?;
    }
    tracing::info!(%url, ready_ms, runbooks = app.library().entries().len(), "serving");
    sitrep_server::serve(listener, state, crate::cmd::appctx::shutdown_signal())
        .await
        .map_err(|e| CliError::internal(anyhow!(e).context("the server failed")))?;
    tracing::info!("stopped");
    Ok(())
}
