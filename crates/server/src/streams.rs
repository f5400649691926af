//! Who holds live streams: admission against caps per principal and overall
//! (`[server.streams]`), and ending the streams of a credential that no longer opens
//! anything (a revoked token, a session logged out or expired).
//!
//! Every open stream holds a [`Ticket`]; dropping it frees the slot. A revocation or
//! logout on this server ends the matching streams at once; [`recheck`] catches those
//! made on another replica (or by the CLI) within `recheck`, asking the store once per
//! distinct credential, not once per stream.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, PoisonError};

use sitrep_app::limits::StreamsConfig;
use tokio::sync::oneshot;

use crate::ServerState;
use crate::auth::{Caller, Via};
use crate::error::ApiError;

/// The credential a stream was opened with, kept to check it again later.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Credential {
    /// A bearer token's secret.
    Token(String),
    /// A session cookie's value.
    Session(String),
}

/// Why a stream was ended from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Its token was revoked.
    Revoked,
    /// Its session was logged out or expired.
    LoggedOut,
}

impl Ended {
    /// The reason sent in the stream's final event.
    #[must_use]
    pub fn reason(self) -> &'static str {
        match self {
            Ended::Revoked => "the token was revoked",
            Ended::LoggedOut => "the session ended",
        }
    }

    /// The metric label.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Ended::Revoked => "revoked",
            Ended::LoggedOut => "logged_out",
        }
    }
}

struct Entry {
    principal: String,
    credential: Credential,
    end: Option<oneshot::Sender<Ended>>,
}

#[derive(Default)]
struct Registry {
    next: u64,
    open: HashMap<u64, Entry>,
    per_principal: HashMap<String, usize>,
}

/// The open streams of this server.
pub struct Streams {
    limits: StreamsConfig,
    reg: Mutex<Registry>,
}

/// A stream's slot: freed when dropped. `ended` fires when its credential stops working.
pub struct Ticket {
    state: ServerState,
    id: u64,
    /// Fires with the reason when the stream must end.
    pub ended: oneshot::Receiver<Ended>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.state.streams().remove(self.id);
    }
}

impl Streams {
    /// No streams yet, under `limits`.
    #[must_use]
    pub fn new(limits: StreamsConfig) -> Streams {
        Streams {
            limits,
            reg: Mutex::new(Registry::default()),
        }
    }

    /// The limits in force.
    #[must_use]
    pub fn limits(&self) -> &StreamsConfig {
        &self.limits
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.reg.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Streams open now.
    #[must_use]
    pub fn open_count(&self) -> usize {
        self.lock().open.len()
    }

    /// Admits a stream for `caller` or refuses it 429 naming the cap it hit.
    pub fn admit(
        &self,
        state: &ServerState,
        caller: &Caller,
        credential: Credential,
    ) -> Result<Ticket, ApiError> {
        let mut reg = self.lock();
        let mine = reg.per_principal.get(&caller.id).copied().unwrap_or(0);
        if mine >= self.limits.per_principal {
            return Err(ApiError::too_many(format!(
                "{} already holds {mine} live streams, the most one token may \
                 ([server.streams] per_principal); close one first",
                caller.name
            )));
        }
        if reg.open.len() >= self.limits.total {
            return Err(ApiError::too_many(format!(
                "the server holds {} live streams, its limit ([server.streams] total); \
                 try again later",
                reg.open.len()
            )));
        }
        let (tx, rx) = oneshot::channel();
        reg.next += 1;
        let id = reg.next;
        reg.open.insert(
            id,
            Entry {
                principal: caller.id.clone(),
                credential,
                end: Some(tx),
            },
        );
        *reg.per_principal.entry(caller.id.clone()).or_default() += 1;
        Ok(Ticket {
            state: state.clone(),
            id,
            ended: rx,
        })
    }

    fn remove(&self, id: u64) {
        let mut reg = self.lock();
        if let Some(e) = reg.open.remove(&id) {
            if let Some(n) = reg.per_principal.get_mut(&e.principal) {
                *n -= 1;
                if *n == 0 {
                    reg.per_principal.remove(&e.principal);
                }
            }
        }
    }

    fn end_where(&self, why: Ended, pred: impl Fn(&Entry) -> bool) -> usize {
        let mut reg = self.lock();
        let mut n = 0;
        for e in reg.open.values_mut().filter(|e| pred(e)) {
            if let Some(tx) = e.end.take() {
                let _ = tx.send(why);
                n += 1;
            }
        }
        n
    }

    /// Ends every stream of the token with id `token_id` (it was revoked), its browser
    /// sessions' included; returns how many.
    pub fn end_principal(&self, token_id: &str) -> usize {
        self.end_where(Ended::Revoked, |e| e.principal == token_id)
    }

    /// Ends the streams opened with session cookie `cookie` (it logged out).
    pub fn end_session(&self, cookie: &str) -> usize {
        self.end_where(
            Ended::LoggedOut,
            |e| matches!(&e.credential, Credential::Session(c) if c == cookie),
        )
    }

    fn credentials(&self) -> HashSet<Credential> {
        self.lock()
            .open
            .values()
            .filter(|e| e.end.is_some())
            .map(|e| e.credential.clone())
            .collect()
    }
}

/// The credential a caller came with, from the request's headers.
#[must_use]
pub fn credential(caller: &Caller, headers: &axum::http::HeaderMap) -> Option<Credential> {
    match caller.via {
        Via::Token => {
            let value = headers.get(axum::http::header::AUTHORIZATION)?;
            let (_, secret) = value.to_str().ok()?.split_once(' ')?;
            Some(Credential::Token(secret.trim().to_owned()))
        }
        Via::Session { .. } => crate::auth::cookie(headers, crate::auth::SESSION_COOKIE)
            .map(|c| Credential::Session(c.to_owned())),
    }
}

/// Checks every open stream's credential every `recheck` until shutdown, ending the
/// streams of those that no longer open anything. A store error ends nothing.
pub async fn recheck(state: ServerState) {
    let every = state.streams().limits().recheck;
    let mut closing = state.closing_signal();
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = closing.wait_for(|c| *c) => return,
        }
        for cred in state.streams().credentials() {
            let (valid, why) = match &cred {
                Credential::Token(s) => (
                    state.app().authenticate(s).await.map(|t| t.is_some()),
                    Ended::Revoked,
                ),
                Credential::Session(c) => (
                    state.app().session(c).await.map(|s| s.is_some()),
                    Ended::LoggedOut,
                ),
            };
            match valid {
                Ok(true) => {}
                Ok(false) => {
                    let n = state.streams().end_where(why, |e| e.credential == cred);
                    tracing::info!(streams = n, reason = why.reason(), "live streams ended");
                }
                Err(e) => tracing::warn!(error = %e, "live streams: cannot check a credential"),
            }
        }
    }
}
