//! `sitrep silence add|list|remove`: silences on the data dir's database, as the API's
//! `/api/v1/silences` makes them. A running `sitrep serve` (every replica) puts a change
//! in force within five seconds (`silence_sync.rs` in the app crate).

use serde::Serialize;
use sitrep_alerts::Silence;
use sitrep_app::Ingestor;

use crate::cmd::appctx::{AppArgs, app_error, with_app};
use crate::output::emit;
use crate::{CliError, Ctx};

#[derive(Debug, clap::Subcommand)]
pub enum SilenceCmd {
    /// Mute every alert matching all the matchers, from now for a while.
    Add {
        /// A matcher, as in Alertmanager: `alertname="Noisy"`, `instance=~"db-.*"`,
        /// `env!="prod"`. Repeat for more; all must match.
        #[arg(long = "match", value_name = "MATCHER", required = true)]
        matchers: Vec<String>,
        /// How long: one minute to 14 days (`30m`, `2h`, `1d`).
        #[arg(long = "for", value_name = "DURATION")]
        duration: String,
        /// Why (recorded with the silence).
        #[arg(long, default_value = "")]
        comment: String,
    },
    /// List silences: configured and stored, expired ones included.
    List,
    /// Remove a stored silence by id (configured ones live in the config file).
    Remove {
        /// Silence id.
        id: String,
    },
}

/// A silence as shown.
#[derive(Serialize)]
struct Shown {
    id: String,
    matchers: Vec<String>,
    starts_at: String,
    ends_at: String,
    created_by: String,
    comment: String,
}

impl From<&Silence> for Shown {
    fn from(s: &Silence) -> Self {
        Shown {
            id: s.id.clone(),
            matchers: s.matchers.iter().map(ToString::to_string).collect(),
            starts_at: s.starts_at.to_string(),
            ends_at: s.ends_at.to_string(),
            created_by: s.created_by.clone(),
            comment: s.comment.clone(),
        }
    }
}

pub fn run(cmd: SilenceCmd, args: &AppArgs, ctx: &Ctx) -> Result<(), CliError> {
    let ctx = *ctx;
    let actor = match &cmd {
        SilenceCmd::List => None,
        _ => Some(args.actor()?),
    };
    with_app(args, move |app| async move {
        let ing = Ingestor::load(app).await.map_err(app_error)?;
        match (cmd, actor) {
            (SilenceCmd::List, _) => list(&ing, ctx),
            (
                SilenceCmd::Add {
                    matchers,
                    duration,
                    comment,
                },
                Some(actor),
            ) => {
                let s = ing
                    .silence_matching(&matchers, &duration, &comment, &actor)
                    .await
                    .map_err(app_error)?;
                show(&s, "silenced", ctx)
            }
            (SilenceCmd::Remove { id }, Some(actor)) => {
                if ing.delete_silence(&id, &actor).await.map_err(app_error)? {
                    if ctx.json {
                        return ctx.print_json(&serde_json::json!({ "removed": id }));
                    }
                    emit(&format!("removed silence {id}\n"))
                } else {
                    Err(app_error(sitrep_app::AppError::NotFound {
                        what: "silence",
                        id,
                    }))
                }
            }
            (_, None) => Err(crate::cmd::appctx::no_actor()),
        }
    })
}

fn show(s: &Silence, what: &str, ctx: Ctx) -> Result<(), CliError> {
    if ctx.json {
        return ctx.print_json(&Shown::from(s));
    }
    emit(&format!(
        "{what} {} until {}: {}\n",
        s.id,
        s.ends_at,
        Shown::from(s).matchers.join(", ")
    ))
}

fn list(ing: &Ingestor, ctx: Ctx) -> Result<(), CliError> {
    let all: Vec<Shown> = ing.silences().iter().map(Shown::from).collect();
    if ctx.json {
        return ctx.print_json(&all);
    }
    let mut out = String::new();
    for s in &all {
        out.push_str(&format!(
            "{}  until {}  {}  by {}\n",
            s.id,
            s.ends_at,
            s.matchers.join(", "),
            s.created_by
        ));
    }
    if all.is_empty() {
        out.push_str(
            "no silences; add one with `sitrep silence add --match 'alertname=\"X\"' --for 2h`\n",
        );
    }
    emit(&out)
}
