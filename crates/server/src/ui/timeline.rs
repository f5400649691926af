//! The incident timeline fragment: the incident's sealed events, newest first.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse};

use sitrep_app::store::Event;

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

/// The timeline fragment of `events` (oldest first), and the newest ledger index in it.
pub(super) fn timeline_html(mut events: Vec<Event>) -> Result<(String, u64), UiError> {
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
    let events = st.app().timeline(&n, None).await?;
    Ok(Html(timeline_html(events)?.0).into_response())
}
