//! `GET /api/v1/incidents/{id}/events`: one incident's timeline as Server-Sent Events,
//! live, with a bounded queue per subscriber.
//!
//! ```text
//!  live feed (broadcast ring) ─► follow task ─► Queue (≤ buffer_bytes, ≤ SLOTS frames)
//!                                   │                 └─► response body ─► hyper ─► client
//!                                   ├─ queue full   → final `reconnect` event, dropped
//!                                   ├─ ring overrun → final `reconnect` event, dropped
//!                                   └─ credential gone (Ticket) → final `end` event
//! ```
//!
//! The follow task never waits on its client, so one slow reader slows nobody else,
//! and what it holds is its own queue. Frames are shared bytes (`Bytes`), so a queue of
//! the same event for a thousand subscribers holds one copy of it.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio::sync::{Notify, broadcast, mpsc};

use crate::ServerState;
use crate::auth::Viewer;
use crate::error::{ApiError, ApiQuery, ApiResult};
use crate::live::{LiveMsg, event_msg, frame};
use crate::streams::{Ended, Ticket, credential};

/// Most frames queued for one subscriber (besides its byte budget); one more slot is
/// kept for the final event.
const SLOTS: usize = 64;
/// How long the replay of missed events waits for a client to read before giving up.
const STALL: Duration = Duration::from_secs(30);
/// A comment line this often keeps proxies from closing a quiet stream.
const KEEPALIVE: Duration = Duration::from_secs(15);

/// `?after=N`: replay the incident's events after ledger index N first.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// Replay events with an index above this.
    #[serde(default)]
    pub after: Option<u64>,
}

/// What a subscriber has queued and not yet handed to hyper.
struct Queue {
    tx: mpsc::Sender<Bytes>,
    queued: Arc<AtomicUsize>,
    drained: Arc<Notify>,
    budget: usize,
}

enum Push {
    Sent,
    Full,
    Gone,
}

impl Queue {
    /// Room for `n` more bytes: always when nothing is queued (so one event larger than
    /// the budget still reaches a client that reads), else within the budget; and a
    /// free slot beyond the one kept for the final event.
    fn fits(&self, n: usize) -> bool {
        let q = self.queued.load(Ordering::Acquire);
        self.tx.capacity() > 1 && (q == 0 || q.saturating_add(n) <= self.budget)
    }

    fn try_push(&self, frame: Bytes) -> Push {
        if self.tx.is_closed() {
            return Push::Gone;
        }
        if !self.fits(frame.len()) {
            return Push::Full;
        }
        let n = frame.len();
        self.queued.fetch_add(n, Ordering::AcqRel);
        match self.tx.try_send(frame) {
            Ok(()) => Push::Sent,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.queued.fetch_sub(n, Ordering::AcqRel);
                Push::Full
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Push::Gone,
        }
    }

    /// Like `try_push`, but waits up to [`STALL`] for the client to read (the replay of
    /// missed events, which a reading client should get in full).
    async fn push_waiting(&self, frame: Bytes) -> Push {
        loop {
            match self.try_push(frame.clone()) {
                Push::Full => {}
                done => return done,
            }
            tokio::select! {
                () = self.drained.notified() => {}
                () = tokio::time::sleep(STALL) => return Push::Full,
                () = self.tx.closed() => return Push::Gone,
            }
        }
    }

    /// The last frame: uses the slot kept for it, outside the byte budget.
    fn finish(&self, frame: Bytes) {
        let _ = self.tx.try_send(frame);
    }
}

fn reconnect(sent: Option<u64>, reason: &str) -> Bytes {
    let data = serde_json::json!({ "reason": reason, "last_event_id": sent });
    frame(None, "reconnect", &data.to_string())
}

fn ended(why: Ended) -> Bytes {
    frame(
        None,
        "end",
        &serde_json::json!({ "reason": why.reason() }).to_string(),
    )
}

/// `GET /api/v1/incidents/{id}/events`: the incident's timeline as Server-Sent Events,
/// live. `Last-Event-ID` (or `?after=`) replays what a reconnecting client missed.
/// Refused 429 over `[server.streams]` caps.
pub async fn incident_events(
    State(state): State<ServerState>,
    Viewer(caller): Viewer,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<EventsQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let cred = credential(&caller, &headers)
        .ok_or_else(|| ApiError::unauthorized("a live stream needs a token or a session"))?;
    let incident = state.app().incident(&id).await?;
    let ticket = state.streams().admit(&state, &caller, cred)?;
    let after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .or(q.after);
    // Subscribe before reading the backlog so nothing committed in between is missed;
    // the index check drops what the backlog already sent.
    let rx = state.live().subscribe();
    let (tx, out) = mpsc::channel::<Bytes>(SLOTS + 1);
    let queued = Arc::new(AtomicUsize::new(0));
    let drained = Arc::new(Notify::new());
    let queue = Queue {
        tx,
        queued: queued.clone(),
        drained: drained.clone(),
        budget: state.streams().limits().buffer_bytes,
    };
    tokio::spawn(follow(state, incident.id, after, queue, rx, ticket));
    let body = body(out, queued, drained);
    Ok((
        [
            (CONTENT_TYPE, HeaderValue::from_static("text/event-stream")),
            (CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response())
}

/// The response body: queued frames as hyper asks for them, and a keep-alive comment
/// when the stream is quiet. Ends when the follow task drops its sender.
fn body(out: mpsc::Receiver<Bytes>, queued: Arc<AtomicUsize>, drained: Arc<Notify>) -> Body {
    let tick = tokio::time::interval_at(tokio::time::Instant::now() + KEEPALIVE, KEEPALIVE);
    let stream = futures_util::stream::unfold(
        (out, queued, drained, tick),
        |(mut out, queued, drained, mut tick)| async move {
            let item = tokio::select! {
                f = out.recv() => {
                    let f = f?;
                    queued.fetch_sub(f.len(), Ordering::AcqRel);
                    drained.notify_one();
                    f
                }
                _ = tick.tick() => Bytes::from_static(b":\n\n"),
            };
            Some((Ok::<_, Infallible>(item), (out, queued, drained, tick)))
        },
    );
    Body::from_stream(stream)
}

/// Feeds one subscriber until its client goes, it falls behind, its credential ends
/// or the server shuts down. Holding `ticket` holds its slot under the caps.
async fn follow(
    state: ServerState,
    id: String,
    after: Option<u64>,
    queue: Queue,
    mut rx: broadcast::Receiver<LiveMsg>,
    mut ticket: Ticket,
) {
    let mut closing = state.closing_signal();
    let mut sent: Option<u64> = None;
    if let Some(after) = after {
        let replay = replay(&state, &id, after, &queue, &mut sent);
        let done = tokio::select! {
            d = replay => d,
            _ = closing.wait_for(|c| *c) => return,
        };
        if !done {
            return;
        }
    }
    loop {
        let msg = tokio::select! {
            m = rx.recv() => m,
            why = &mut ticket.ended => {
                if let Ok(why) = why {
                    state.metrics().stream_dropped(why.label());
                    queue.finish(ended(why));
                }
                return;
            }
            _ = closing.wait_for(|c| *c) => return,
            () = queue.tx.closed() => return,
        };
        let msg = match msg {
            Ok(m) => m,
            Err(broadcast::error::RecvError::Lagged(_)) => {
                state.metrics().stream_dropped("lagged");
                queue.finish(reconnect(sent, "the server fell behind"));
                return;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        if msg.incident.as_deref() != Some(id.as_str())
            || msg.index.zip(sent).is_some_and(|(i, s)| i <= s)
        {
            continue;
        }
        match queue.try_push(msg.frame) {
            Push::Sent => sent = msg.index.or(sent),
            Push::Full => {
                state.metrics().stream_dropped("slow");
                queue.finish(reconnect(sent, "the client did not keep up"));
                return;
            }
            Push::Gone => return,
        }
    }
}

/// Replays the incident's events after `after`; false when the stream is over.
async fn replay(
    state: &ServerState,
    id: &str,
    after: u64,
    queue: &Queue,
    sent: &mut Option<u64>,
) -> bool {
    let backlog = match state.app().timeline(id, Some(after)).await {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(incident = %id, error = %e, "live stream: cannot replay");
            queue.finish(reconnect(*sent, "the server could not replay the timeline"));
            return false;
        }
    };
    for e in backlog {
        match queue.push_waiting(event_msg(&e).frame).await {
            Push::Sent => *sent = Some(e.index),
            Push::Full => {
                state.metrics().stream_dropped("slow");
                queue.finish(reconnect(*sent, "the client did not keep up"));
                return false;
            }
            Push::Gone => return false,
        }
    }
    true
}
