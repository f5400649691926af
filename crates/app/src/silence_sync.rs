//! Silences made elsewhere reach this server: another replica's API, or `sitrep alert
//! silence` on the same database. The stored set is re-read every few seconds
//! ([`SILENCE_REFRESH`]) and becomes the API-made set in force, beside the configured
//! ones; a silence removed elsewhere stops muting here as soon.
//!
//! A refresh never undoes a change made here meanwhile: silences made or removed on
//! this server bump a counter, and a refresh that saw the counter move while it read
//! the store drops its result (the next one sees the change in the store).

use std::sync::atomic::Ordering;
use std::time::Duration;

use sitrep_alerts::Silence;
use tokio::sync::watch;

use crate::error::AppError;
use crate::ingest::{Ingestor, SkippedSilence};

/// How often a serving replica re-reads the stored silences: a silence made on another
/// replica mutes here within this long.
pub const SILENCE_REFRESH: Duration = Duration::from_secs(5);

impl Ingestor {
    pub(crate) fn silence_edited(&self) {
        self.silence_edits.fetch_add(1, Ordering::AcqRel);
    }

    /// Re-reads the stored silences and puts them in force beside the configured ones.
    /// A stored silence that does not parse, is over one silence's caps or would pass
    /// the regex budget is skipped as at start ([`Ingestor::skipped_silences`]).
    /// Returns whether the set in force was replaced (false: a silence was made or
    /// removed here while the store was read; the next refresh replaces it).
    pub async fn refresh_silences(&self) -> Result<bool, AppError> {
        let edits = self.silence_edits.load(Ordering::Acquire);
        let stored = self.app().store().silences().await?;
        Ok(self.adopt_stored(edits, stored))
    }

    /// Puts the `stored` silences in force beside the configured ones, unless a silence
    /// was made or removed here since `edits` was read (then returns false).
    pub(crate) fn adopt_stored(&self, edits: u64, stored: Vec<(String, String)>) -> bool {
        // A stored silence never changes after it is made (ids are unique), so one read
        // before is not parsed again: parsing compiles its regexes, which the budget
        // lets cost seconds, not something to redo every few seconds. One that parsed
        // but was over the budget is kept parsed and tried again: removing other
        // silences may have made room for it.
        let (known, skipped_before) = (self.silences(), self.skipped_silences());
        let mut all: Vec<Silence> = self.app().config().server.silences.clone();
        let mut skipped = Vec::new();
        for (id, body) in stored {
            if all.iter().any(|x| x.id == id) {
                continue;
            }
            let before = skipped_before.iter().find(|k| k.id == id);
            let parsed = match (known.iter().find(|s| s.id == id), before) {
                (Some(s), _) => s.clone(),
                (None, Some(k)) => match &k.over_budget {
                    Some(s) => s.clone(),
                    None => {
                        skipped.push(k.clone());
                        continue;
                    }
                },
                (None, None) => match serde_json::from_str::<Silence>(&body) {
                    Ok(s) => s,
                    Err(e) => {
                        let reason = format!("does not parse: {e}");
                        tracing::warn!(silence = %id, %reason, "stored silence skipped");
                        skipped.push(SkippedSilence {
                            id,
                            reason,
                            over_budget: None,
                        });
                        continue;
                    }
                },
            };
            match self.fits(&all, &parsed) {
                Ok(()) => all.push(parsed),
                Err(reason) => {
                    // Over one silence's own caps ("too costly") it never fits; over
                    // the server's budget it may, later.
                    let retry = (!reason.starts_with("too costly")).then_some(parsed);
                    if before.is_none() {
                        tracing::warn!(silence = %id, %reason, "stored silence skipped");
                    }
                    skipped.push(SkippedSilence {
                        id,
                        reason,
                        over_budget: retry,
                    });
                }
            }
        }
        self.replace_silences(edits, all, skipped)
    }

    /// Re-reads the stored silences every `every` until `closing` turns true; a failed
    /// read keeps the set in force and is logged.
    pub async fn follow_silences(&self, mut closing: watch::Receiver<bool>, every: Duration) {
        loop {
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                _ = closing.wait_for(|c| *c) => return,
            }
            if let Err(e) = self.refresh_silences().await {
                tracing::warn!(error = %e, "silences: cannot re-read the stored set");
            }
        }
    }
}

impl Ingestor {
    fn replace_silences(
        &self,
        edits: u64,
        all: Vec<Silence>,
        skipped: Vec<SkippedSilence>,
    ) -> bool {
        let mut current = self.silences_mut();
        if self.silence_edits.load(Ordering::Acquire) != edits {
            return false;
        }
        *current = all;
        drop(current);
        *self.skipped_mut() = skipped;
        true
    }
}
