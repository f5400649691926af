//! `sitrep demo`: a live server on a temporary data dir with a simulated failing
//! service, two alerts and their auto-triage, until Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::anyhow;
use sitrep_demo::{Demo, DemoOptions};

use crate::cmd::appctx::runtime;
use crate::output::emit;
use crate::{CliError, Ctx};

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Where the server listens. Default: 127.0.0.1:8080, or a free port if that is taken.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Keep the demo's data in this directory instead of a temporary one.
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,
}

pub fn run(args: DemoArgs, ctx: &Ctx) -> Result<(), CliError> {
    if let Some(addr) = args.listen {
        if !addr.ip().is_loopback() {
            return Err(CliError::input(anyhow!(
                "the demo listens on loopback only; {addr} is not a loopback address"
            )));
        }
    }
    let ctx = *ctx;
    runtime()?.block_on(async move {
        let quiet = ctx.json;
        let opts = DemoOptions {
            listen: args.listen,
            data_dir: args.keep,
        };
        let demo = Demo::start(opts, |line| {
            if !quiet {
                eprintln!("  {line}");
            }
        })
        .await
        .map_err(|e| CliError::internal(anyhow!(e).context("the demo could not start")))?;
        if ctx.json {
            ctx.print_json(&serde_json::json!({
                "url": demo.url, "token": demo.token, "incidents": demo.incidents,
                "data_dir": demo.data_dir, "ready_ms": demo.ready_in.as_millis() as u64,
            }))?;
        } else {
            emit(&sitrep_demo::instructions(&demo))?;
        }
        crate::cmd::appctx::shutdown_signal().await;
        if !quiet {
            eprintln!("  stopping...");
        }
        demo.stop()
            .await
            .map_err(|e| CliError::internal(anyhow!(e).context("stopping the demo")))
    })
}
