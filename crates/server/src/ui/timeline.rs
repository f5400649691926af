//! The incident timeline fragment: the incident's sealed events, newest first.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse};

use super::{Page, UiError, user, utc};
use crate::ServerState;
use crate::auth::Caller;

struct EventView {
    time: String,
    kind: String,
    actor: String,
    detail: String,
}

#[derive(Template)]
#[template(path = "timeline.html")]
struct TimelineTpl {
    events: Vec<EventView>,
}

/// The timeline fragment, and the newest ledger index in it.
pub(super) async fn timeline_html(st: &ServerState, id: &str) -> Result<(String, u64), UiError> {
    let mut events = st.app().timeline(id, None).await?;
    let last = events.last().map_or(0, |e| e.index);
    events.reverse();
    let events = events
        .into_iter()
        .map(|e| {
            let r = e.record;
            let detail = r
                .payload
                .iter()
                .filter(|(k, _)| {
                    !k.ends_with("sha256") && !matches!(k.as_str(), "bound" | "run" | "started_ms")
                })
                .map(|(k, v)| format!("{k}: {}", v.lines().next().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(" · ");
            EventView {
                time: utc(i64::try_from(r.time_ms).unwrap_or(0))[11..].to_owned(),
                kind: r.event_type,
                actor: r.actor,
                detail,
            }
        })
        .collect();
    Ok((TimelineTpl { events }.render()?, last))
}

pub(super) async fn timeline_fragment(
    State(st): State<ServerState>,
    c: Option<Caller>,
    Path(n): Path<String>,
) -> Page {
    user(c)?;
    let inc = st.app().incident(&n).await?;
    Ok(Html(timeline_html(&st, &inc.id).await?.0).into_response())
}
