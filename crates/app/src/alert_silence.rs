//! Silencing one of an incident's alerts from the incident: matchers from its labels, a
//! bounded duration, the `silence.created` event sealed on the incident's timeline.

use sitrep_alerts::{MatchOp, Matcher, Silence};

use crate::error::AppError;
use crate::identity::Principal;
use crate::ingest::Ingestor;
use crate::stamp::now_ms;

/// The shortest and longest silence made this way, in seconds.
pub const SILENCE_SECS: (i64, i64) = (60, 14 * 24 * 3600);
/// Longest comment kept, in bytes.
const MAX_COMMENT: usize = 1024;

impl Ingestor {
    /// Silences the alert `fingerprint` of incident `id` for `duration` (`30m`, `2h`,
    /// `1d`; one minute to 14 days): a silence matching every label of the alert, sealed
    /// on the incident's timeline as `silence.created`.
    ///
    /// # Errors
    /// An unknown incident or alert, a duration out of bounds, or a silence the store
    /// or the regex budget refuses.
    pub async fn silence_alert(
        &self,
        id: &str,
        fingerprint: &str,
        duration: &str,
        comment: &str,
        actor: &Principal,
    ) -> Result<Silence, AppError> {
        actor.check()?;
        let secs = sitrep_runbook::duration::parse(duration)
            .and_then(|d| i64::try_from(d.as_secs()).ok())
            .filter(|s| (SILENCE_SECS.0..=SILENCE_SECS.1).contains(s))
            .ok_or_else(|| {
                AppError::invalid("duration", "a duration from 1m to 14d, like 30m, 2h or 1d")
            })?;
        if comment.len() > MAX_COMMENT {
            return Err(AppError::invalid(
                "comment",
                format!("at most {MAX_COMMENT} bytes"),
            ));
        }
        let app = self.app();
        let inc = app.incident(id).await?;
        let alert = app
            .store()
            .alerts_for(&inc.id)
            .await?
            .into_iter()
            .find(|a| a.fingerprint == fingerprint)
            .ok_or_else(|| AppError::NotFound {
                what: "alert",
                id: fingerprint.to_owned(),
            })?;
        let matchers = alert
            .labels
            .iter()
            .map(|(k, v)| Matcher::new(k, MatchOp::Equal, v))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| AppError::invalid("matchers", e.to_string()))?;
        let now = now_ms();
        let starts_at = sitrep_alerts::Timestamp::from_millisecond(now)
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let ends_at = starts_at
            .checked_add(jiff::SignedDuration::from_secs(secs))
            .map_err(|e| AppError::invalid("duration", e.to_string()))?;
        let comment = if comment.trim().is_empty() {
            format!("from incident #{}", inc.number)
        } else {
            format!("{} (incident #{})", comment.trim(), inc.number)
        };
        let silence = Silence {
            id: uuid::Uuid::now_v7().to_string(),
            matchers,
            starts_at,
            ends_at,
            created_by: actor.name.clone(),
            comment,
        };
        self.create_silence_for(silence, actor, Some(&inc.id)).await
    }
}
