//! The live feed: every ledger event the server commits, broadcast to SSE subscribers,
//! plus step output as it is produced.
//!
//! The feed follows the ledger rather than the handlers: a tail task reads new entries
//! when a handler pokes it (right after a commit) and at least every second, so events
//! committed by background work (auto-triage) or another process on the same database
//! reach subscribers too, in ledger order and exactly once per server.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::Stream;
use serde::Deserialize;
use sitrep_app::store::Event;
use sitrep_app::{Outcome, RunSink, Stream as OutStream};
use tokio::sync::{Notify, broadcast, mpsc};

use crate::ServerState;
use crate::auth::Viewer;
use crate::error::{ApiQuery, ApiResult};

/// Messages buffered per subscriber before it counts as lagging (it then re-reads the
/// timeline, so nothing is lost).
const CHANNEL: usize = 4096;
/// Most events read from the store per tail pass.
const TAIL_BATCH: u64 = 1000;

/// One message of the feed.
#[derive(Debug, Clone)]
pub enum LiveMsg {
    /// A committed ledger event.
    Event(Arc<Event>),
    /// A piece of a running step's (redacted) output; not part of the ledger.
    Output {
        /// The incident the run belongs to.
        incident: String,
        /// The step id.
        step: String,
        /// `stdout` or `stderr`.
        stream: &'static str,
        /// The text.
        text: String,
    },
}

/// The broadcaster.
pub struct Live {
    tx: broadcast::Sender<LiveMsg>,
    notify: Notify,
    next: AtomicU64,
}

impl Live {
    /// A feed that starts after ledger index `size - 1`.
    #[must_use]
    pub fn new(size: u64) -> Live {
        let (tx, _) = broadcast::channel(CHANNEL);
        Live {
            tx,
            notify: Notify::new(),
            next: AtomicU64::new(size),
        }
    }

    /// A new subscription to everything from now on.
    #[must_use]
    pub fn subscribe(&self) -> broadcast::Receiver<LiveMsg> {
        self.tx.subscribe()
    }

    /// Wakes the tail task (after a commit).
    pub fn poke(&self) {
        self.notify.notify_one();
    }

    /// Sends a message to every subscriber (none listening is fine).
    pub fn send(&self, msg: LiveMsg) {
        let _ = self.tx.send(msg);
    }

    /// The next ledger index the feed will broadcast.
    #[must_use]
    pub fn next_index(&self) -> u64 {
        self.next.load(Ordering::Acquire)
    }
}

/// The tail task: broadcasts new ledger entries until shutdown.
pub async fn tail(state: ServerState) {
    let mut closing = state.closing_signal();
    loop {
        tokio::select! {
            () = state.live().notify.notified() => {}
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = closing.wait_for(|c| *c) => return,
        }
        if let Err(e) = pump(&state).await {
            tracing::warn!(error = %e, "live feed: cannot read new ledger entries");
        }
    }
}

async fn pump(state: &ServerState) -> Result<(), sitrep_app::store::StoreError> {
    let store = state.app().store();
    let size = store.tree_size().await?;
    let live = state.live();
    let mut next = live.next.load(Ordering::Acquire);
    while next < size {
        let end = size.min(next + TAIL_BATCH);
        let events = store.events(next, end).await?;
        for e in events {
            next = next.max(e.index + 1);
            live.send(LiveMsg::Event(Arc::new(e)));
        }
        // Entries are contiguous; an empty answer would loop forever.
        next = next.max(end);
        live.next.store(next, Ordering::Release);
    }
    Ok(())
}

/// A run sink that forwards output lines to the feed and wakes it when a step ends.
pub struct LiveSink {
    state: ServerState,
    incident: Option<String>,
}

impl LiveSink {
    /// A sink not tied to an incident's subscribers (output is not forwarded).
    #[must_use]
    pub fn new(state: ServerState) -> LiveSink {
        LiveSink {
            state,
            incident: None,
        }
    }

    /// A sink forwarding output to subscribers of `incident`.
    #[must_use]
    pub fn for_incident(state: ServerState, incident: String) -> LiveSink {
        LiveSink {
            state,
            incident: Some(incident),
        }
    }
}

impl RunSink for LiveSink {
    fn started(&self, _: &str, _: &str, _: u32) {}
    fn output(&self, step_id: &str, stream: OutStream, bytes: &[u8]) {
        if let Some(incident) = &self.incident {
            self.state.live().send(LiveMsg::Output {
                incident: incident.clone(),
                step: step_id.to_owned(),
                stream: if stream == OutStream::Stderr {
                    "stderr"
                } else {
                    "stdout"
                },
                text: String::from_utf8_lossy(bytes).into_owned(),
            });
        }
    }
    fn finished(&self, _: &str, _: &Outcome) {
        self.state.changed();
    }
}

/// `?after=N`: replay the incident's events after ledger index N first.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// Replay events with an index above this.
    #[serde(default)]
    pub after: Option<u64>,
}

fn sse_event(e: &Event) -> SseEvent {
    SseEvent::default()
        .id(e.index.to_string())
        .event(e.record.event_type.clone())
        .json_data(e)
        .unwrap_or_else(|_| SseEvent::default().comment("unencodable event"))
}

/// `GET /api/v1/incidents/{id}/events`: the incident's timeline as Server-Sent Events,
/// live. `Last-Event-ID` (or `?after=`) replays what a reconnecting client missed.
pub async fn incident_events(
    State(state): State<ServerState>,
    Viewer(_): Viewer,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<EventsQuery>,
    headers: HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    let incident = state.app().incident(&id).await?;
    let after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .or(q.after);
    // Subscribe before reading the backlog so nothing committed in between is missed;
    // the index check below drops what the backlog already sent.
    let mut rx = state.live().subscribe();
    let (tx, out) = mpsc::channel::<SseEvent>(256);
    let mut closing = state.closing_signal();
    let store = state.app().store().clone();
    tokio::spawn(async move {
        let id = incident.id;
        let mut sent: Option<u64> = None;
        if let Some(after) = after {
            if let Ok(backlog) = store.timeline(&id, Some(after)).await {
                for e in backlog {
                    sent = Some(e.index);
                    if tx.send(sse_event(&e)).await.is_err() {
                        return;
                    }
                }
            }
        }
        loop {
            let msg = tokio::select! {
                m = rx.recv() => m,
                _ = closing.wait_for(|c| *c) => return,
                () = tx.closed() => return,
            };
            let ev = match msg {
                Ok(LiveMsg::Event(e)) => {
                    if e.record.incident.as_deref() != Some(id.as_str())
                        || sent.is_some_and(|s| e.index <= s)
                    {
                        continue;
                    }
                    sent = Some(e.index);
                    sse_event(&e)
                }
                Ok(LiveMsg::Output {
                    incident,
                    step,
                    stream,
                    text,
                }) => {
                    if incident != id {
                        continue;
                    }
                    SseEvent::default().event("output").data(
                        serde_json::json!({ "step": step, "stream": stream, "text": text })
                            .to_string(),
                    )
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    // Too slow to keep up: re-read what was missed from the store.
                    match store.timeline(&id, sent).await {
                        Ok(missed) => {
                            for e in missed {
                                sent = Some(e.index);
                                if tx.send(sse_event(&e)).await.is_err() {
                                    return;
                                }
                            }
                        }
                        Err(_) => return,
                    }
                    continue;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            };
            if tx.send(ev).await.is_err() {
                return;
            }
        }
    });
    let stream = futures_util::stream::unfold(out, |mut out| async move {
        out.recv().await.map(|e| (Ok(e), out))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
