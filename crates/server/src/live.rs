//! The live feed: every ledger event the server commits, broadcast to SSE subscribers,
//! plus step output as it is produced.
//!
//! The feed follows the ledger rather than the handlers: a tail task reads new entries
//! when a handler pokes it (right after a commit) and at least every second, so events
//! committed by background work (auto-triage) or another process on the same database
//! reach subscribers too, in ledger order and exactly once per server.
//!
//! Memory is bounded whatever subscribers do. An event is framed once, as SSE bytes
//! every subscriber shares; the broadcast ring holds at most [`CHANNEL`] of them; each
//! subscriber queues at most `[server.streams] buffer_bytes` it has not read, and one
//! that falls behind is sent a final `reconnect` event and dropped (it reconnects with
//! `Last-Event-ID` and the store replays what it missed). A stream also ends, with a
//! final `end` event, when its token is revoked or its session ends (`streams.rs`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::body::Bytes;
use sitrep_app::store::Event;
use sitrep_app::{Outcome, RunSink, Stream as OutStream};
use tokio::sync::{Notify, broadcast};

use crate::ServerState;

/// Messages the shared broadcast ring holds; a subscriber task that falls this far
/// behind (it never waits on its client, so only a starved one can) is told to
/// reconnect.
pub const CHANNEL: usize = 1024;
/// Most events read from the store per tail pass.
const TAIL_BATCH: u64 = 1000;

/// One message of the feed: an SSE frame, encoded once and shared by every subscriber.
#[derive(Debug, Clone)]
pub struct LiveMsg {
    /// The incident it belongs to (none: not for incident streams).
    pub incident: Option<String>,
    /// The ledger index of a committed event; none for step output, which is not part
    /// of the ledger.
    pub index: Option<u64>,
    /// The whole frame (`id:`, `event:`, `data:` lines and the blank line).
    pub frame: Bytes,
}

/// The SSE frame of one event: `event` and `data` never hold a line break (JSON is
/// written compact and the type is cleaned), so each is one line.
#[must_use]
pub fn frame(id: Option<u64>, event: &str, data: &str) -> Bytes {
    let event: String = event
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut out = String::with_capacity(data.len() + event.len() + 40);
    if let Some(id) = id {
        out.push_str(&format!("id: {id}\n"));
    }
    out.push_str(&format!("event: {event}\ndata: {data}\n\n"));
    Bytes::from(out)
}

/// The frame of a committed ledger event.
#[must_use]
pub fn event_msg(e: &Event) -> LiveMsg {
    let data = serde_json::to_string(e).unwrap_or_else(|_| "null".to_owned());
    LiveMsg {
        incident: e.record.incident.clone(),
        index: Some(e.index),
        frame: frame(Some(e.index), &e.record.event_type, &data),
    }
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

async fn pump(state: &ServerState) -> Result<(), sitrep_app::AppError> {
    let app = state.app();
    let size = app.ledger_size().await?;
    let live = state.live();
    if live.tx.receiver_count() == 0 {
        // Nobody listens: skip reading and framing. A subscriber that arrives later
        // gets what it missed from the store (`Last-Event-ID` replay reads the
        // timeline after subscribing), and one without it asked for "from now on".
        live.next.fetch_max(size, Ordering::AcqRel);
        return Ok(());
    }
    let mut next = live.next.load(Ordering::Acquire);
    while next < size {
        let end = size.min(next + TAIL_BATCH);
        let events = app.sealed(next, end).await?;
        for e in events {
            next = next.max(e.index + 1);
            live.send(event_msg(&e));
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
            let stream = if stream == OutStream::Stderr {
                "stderr"
            } else {
                "stdout"
            };
            let data = serde_json::json!({
                "step": step_id,
                "stream": stream,
                "text": String::from_utf8_lossy(bytes),
            });
            self.state.live().send(LiveMsg {
                incident: Some(incident.clone()),
                index: None,
                frame: frame(None, "output", &data.to_string()),
            });
        }
    }
    fn finished(&self, _: &str, _: &Outcome) {
        self.state.changed();
    }
}
