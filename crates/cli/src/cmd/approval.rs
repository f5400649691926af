//! `sitrep approval list|grant`: the second person for runs that policy holds back.
//!
//! Like every incident command on a data dir, the actor (`--as`) is asserted by whoever
//! has the data dir; the server's API enforces roles and identities with tokens.

use std::fmt::Write as _;

use crate::cmd::appctx::{AppArgs, app_error, no_actor, with_app};
use crate::output::emit;
use crate::{CliError, Ctx};

#[derive(Debug, clap::Subcommand)]
pub enum ApprovalCmd {
    /// Open approval requests of an incident (pending or granted, not yet used).
    List {
        /// Incident number or id.
        incident: String,
    },
    /// Approve a requested run as `--as NAME` (not the person who asked for it).
    Grant {
        /// Incident number or id.
        incident: String,
        /// Approval id (from the refused run or `sitrep approval list`).
        approval: String,
    },
}

pub fn run(cmd: ApprovalCmd, args: &AppArgs, ctx: &Ctx) -> Result<(), CliError> {
    let ctx = *ctx;
    let actor = args.actor().ok();
    with_app(args, move |app| async move {
        match cmd {
            ApprovalCmd::Grant { incident, approval } => {
                let actor = actor.ok_or_else(no_actor)?;
                let a = app
                    .approve(&incident, &approval, &actor)
                    .await
                    .map_err(app_error)?;
                if ctx.json {
                    return ctx.print_json(&a);
                }
                emit(&format!(
                    "approved {}: {} may now run step {} of {} with --approval {}\n",
                    a.id, a.requested_by, a.step, a.runbook, a.id
                ))
            }
            ApprovalCmd::List { incident } => {
                let all = app.approvals(&incident).await.map_err(app_error)?;
                if ctx.json {
                    return ctx.print_json(&all);
                }
                let mut o = String::new();
                for a in &all {
                    let state = if a.is_granted() {
                        format!("approved by {}", a.approvers.join(", "))
                    } else {
                        "pending".to_owned()
                    };
                    let _ = writeln!(
                        o,
                        "{}  {} asks to run {} / {} ({state})\n    $ {}\n    why: {}",
                        a.id,
                        a.requested_by,
                        a.runbook,
                        a.step,
                        a.display.lines().next().unwrap_or(""),
                        a.reason
                    );
                }
                if all.is_empty() {
                    o.push_str("no open approval requests\n");
                }
                emit(&o)
            }
        }
    })
}
