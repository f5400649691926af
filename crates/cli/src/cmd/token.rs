//! `sitrep token create|list|revoke`: API tokens, managed on the data dir directly (no
//! server needed, which is how the first admin token is made).

use anyhow::anyhow;
use serde::Serialize;
use sitrep_app::AccessRole;
use sitrep_app::store::ApiToken;

use crate::cmd::appctx::{AppArgs, app_error, with_app};
use crate::output::emit;
use crate::{CliError, Ctx};

#[derive(Debug, clap::Subcommand)]
pub enum TokenCmd {
    /// Create a token; its secret is printed once and never stored.
    Create {
        /// Name recorded as the actor of everything done with the token: unique
        /// ignoring case (revoked tokens included), without `:`, and none of sitrep's
        /// own actor names (auto-triage, sitrep, escalation, retention, cli, demo,
        /// system, root).
        name: String,
        /// viewer, responder, commander or admin.
        #[arg(long, default_value = "viewer")]
        role: String,
    },
    /// List tokens (never their secrets).
    List,
    /// Revoke a token by id (or a unique id prefix); it stops working at once.
    Revoke {
        /// Token id.
        id: String,
    },
}

/// A token as shown: no hash.
#[derive(Serialize)]
struct Shown {
    id: String,
    name: String,
    role: String,
    created_ms: i64,
    revoked_ms: Option<i64>,
}

impl From<ApiToken> for Shown {
    fn from(t: ApiToken) -> Self {
        Shown {
            id: t.id,
            name: t.name,
            role: t.role,
            created_ms: t.created_ms,
            revoked_ms: t.revoked_ms,
        }
    }
}

pub fn run(cmd: TokenCmd, args: &AppArgs, ctx: &Ctx) -> Result<(), CliError> {
    let ctx = *ctx;
    // Bootstrap has nobody to name yet: fall back to "cli" rather than refusing.
    let actor = args
        .actor()
        .unwrap_or_else(|_| sitrep_app::Principal::sitrep("cli"));
    let role = match &cmd {
        TokenCmd::Create { role, .. } => Some(
            role.parse::<AccessRole>()
                .map_err(|e| CliError::input(anyhow!(e)))?,
        ),
        _ => None,
    };
    with_app(args, move |app| async move {
        match cmd {
            TokenCmd::Create { name, .. } => {
                let role = role.unwrap_or(AccessRole::Viewer);
                let c = app
                    .create_token(&name, role, &actor)
                    .await
                    .map_err(app_error)?;
                if ctx.json {
                    ctx.print_json(&serde_json::json!({
                        "token": Shown::from(c.token), "secret": c.secret,
                    }))
                } else {
                    emit(&format!(
                        "created token {} ({}) id {}\n{}\nThe secret is shown once; store it now.\n",
                        c.token.name, c.token.role, c.token.id, c.secret
                    ))
                }
            }
            TokenCmd::List => {
                let all: Vec<Shown> = app
                    .tokens()
                    .await
                    .map_err(app_error)?
                    .into_iter()
                    .map(Shown::from)
                    .collect();
                if ctx.json {
                    return ctx.print_json(&all);
                }
                let mut out = String::new();
                for t in &all {
                    let state = if t.revoked_ms.is_some() {
                        "revoked"
                    } else {
                        "active"
                    };
                    out.push_str(&format!(
                        "{}  {:<10} {:<8} {}\n",
                        t.id, t.role, state, t.name
                    ));
                }
                if all.is_empty() {
                    out.push_str(
                        "no tokens; create one with `sitrep token create NAME --role admin`\n",
                    );
                }
                emit(&out)
            }
            TokenCmd::Revoke { id } => {
                let t = app.revoke_token(&id, &actor).await.map_err(app_error)?;
                if ctx.json {
                    ctx.print_json(&Shown::from(t))
                } else {
                    emit(&format!("revoked token {} ({})\n", t.id, t.name))
                }
            }
        }
    })
}
