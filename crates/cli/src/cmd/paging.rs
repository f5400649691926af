//! `sitrep incident escalate|page`: paging by hand from the command line, as the incident
//! page and the API do (`App::escalate_now`, `App::page_person`). The pages are durable
//! jobs sealed with their event; a running `sitrep serve` delivers them.

use sitrep_app::oncall::Paged;
use sitrep_app::{App, Principal};

use crate::cmd::appctx::app_error;
use crate::output::emit;
use crate::{CliError, Ctx};

/// Pages the next level of the incident's escalation policy now.
pub async fn escalate(
    app: &App,
    incident: &str,
    actor: &Principal,
    ctx: Ctx,
) -> Result<(), CliError> {
    let p = app.escalate_now(incident, actor).await.map_err(app_error)?;
    let what = match p.level {
        Some(l) => format!("escalated to level {l}"),
        None => "escalated".to_owned(),
    };
    say(&p, &what, ctx)
}

/// Pages one person of the escalation config now, on every contact method.
pub async fn page(
    app: &App,
    incident: &str,
    person: &str,
    actor: &Principal,
    ctx: Ctx,
) -> Result<(), CliError> {
    let p = app
        .page_person(incident, person, actor)
        .await
        .map_err(app_error)?;
    say(&p, "paged", ctx)
}

/// `escalated to level 2: boss (2 pages queued; a running `sitrep serve` delivers them)`
fn say(p: &Paged, what: &str, ctx: Ctx) -> Result<(), CliError> {
    if ctx.json {
        return ctx.print_json(p);
    }
    let s = if p.pages == 1 { "" } else { "s" };
    emit(&format!(
        "{what}: {} ({} page{s} queued; a running `sitrep serve` delivers them)\n",
        p.to.join(", "),
        p.pages
    ))
}
