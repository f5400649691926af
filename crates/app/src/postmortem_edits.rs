//! Writing the post-mortem's headed blanks (impact, root cause, lessons): each edit is a
//! sealed `postmortem.edited` record, and the post-mortem shows the last one per blank
//! (it is rendered from the replayed records, never from a table).

use sitrep_store::{Change, Event};

use crate::app::App;
use crate::error::AppError;
use crate::events;
use crate::identity::Principal;
use crate::postmortem::BLANKS;
use crate::stamp::now_ms;

/// Longest text one blank takes, in bytes (refused, not cut: a person wrote it).
pub const MAX_BLANK: usize = 8 << 10;

impl App {
    /// Writes the post-mortem blank `section` (a key of `postmortem::BLANKS`) of
    /// incident `id`: redacted, at most [`MAX_BLANK`] bytes; empty text clears it.
    ///
    /// # Errors
    /// An unknown incident or section, text over the bound.
    pub async fn edit_postmortem(
        &self,
        id: &str,
        section: &str,
        text: &str,
        actor: &Principal,
    ) -> Result<Event, AppError> {
        actor.check()?;
        if !BLANKS.iter().any(|b| b.0 == section) {
            let keys: Vec<&str> = BLANKS.iter().map(|b| b.0).collect();
            return Err(AppError::invalid(
                "section",
                format!("unknown section {section:?} (one of {})", keys.join(", ")),
            ));
        }
        if text.len() > MAX_BLANK {
            return Err(AppError::invalid(
                "text",
                format!("{} bytes; at most {MAX_BLANK}", text.len()),
            ));
        }
        let text = self.redact(text.trim_end()).replace("\r\n", "\n");
        let incident = self.incident(id).await?;
        let rec = events::record(
            events::POSTMORTEM_EDITED,
            &incident.id,
            now_ms(),
            actor,
            [("section", section.to_owned()), ("text", text)],
        );
        let committed = self
            .store()
            .commit(Change {
                writes: Vec::new(),
                events: vec![rec.clone()],
            })
            .await?;
        Ok(Event {
            index: committed.indexes.first().copied().unwrap_or_default(),
            record: rec,
        })
    }

    /// The post-mortem blanks of incident `id` as last written (from its sealed records),
    /// in `BLANKS` order: (key, heading, text, empty when never written).
    ///
    /// # Errors
    /// An unknown incident, or the store.
    pub async fn postmortem_blanks(
        &self,
        id: &str,
    ) -> Result<Vec<(&'static str, &'static str, String)>, AppError> {
        let incident = self.incident(id).await?;
        let timeline = crate::replay::own_events(
            &incident.id,
            self.store().timeline(&incident.id, None).await?,
        );
        let r = crate::replay::replay(&timeline);
        Ok(BLANKS
            .iter()
            .map(|(key, heading, _)| {
                let text = r
                    .written
                    .get(*key)
                    .map(|w| w.text.clone())
                    .unwrap_or_default();
                (*key, *heading, text)
            })
            .collect())
    }
}
