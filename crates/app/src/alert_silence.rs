//! Silencing one of an incident's alerts from the incident (matchers from its labels, the
//! `silence.created` event sealed on the incident's timeline), or any alerts matching
//! given matchers (`sitrep silence add`): a bounded duration from now either way.

use sitrep_alerts::{MatchOp, Matcher, Silence, Timestamp};

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
        let (starts_at, ends_at) = window(duration)?;
        check_comment(comment)?;
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

    /// Silences every alert matching all of `matchers` (`alertname="Noisy"`,
    /// `instance=~"db-.*"`) for `duration` from now (one minute to 14 days), recorded
    /// as `silence.created`. Other replicas put it in force at their next refresh
    /// (`silence_sync.rs`).
    ///
    /// # Errors
    /// No matchers, a matcher that does not parse, a duration out of bounds, a comment
    /// over 1 KiB, or a silence the regex budget refuses.
    pub async fn silence_matching(
        &self,
        matchers: &[String],
        duration: &str,
        comment: &str,
        actor: &Principal,
    ) -> Result<Silence, AppError> {
        actor.check()?;
        let (starts_at, ends_at) = window(duration)?;
        check_comment(comment)?;
        let matchers = matchers
            .iter()
            .map(|m| {
                sitrep_alerts::parse_matcher(m)
                    .map_err(|e| AppError::invalid("matchers", format!("{m}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let silence = Silence {
            id: uuid::Uuid::now_v7().to_string(),
            matchers,
            starts_at,
            ends_at,
            created_by: actor.name.clone(),
            comment: comment.trim().to_owned(),
        };
        self.create_silence(silence, actor).await
    }
}

/// From now for `duration` (one minute to 14 days).
fn window(duration: &str) -> Result<(Timestamp, Timestamp), AppError> {
    let secs = sitrep_runbook::duration::parse(duration)
        .and_then(|d| i64::try_from(d.as_secs()).ok())
        .filter(|s| (SILENCE_SECS.0..=SILENCE_SECS.1).contains(s))
        .ok_or_else(|| {
            AppError::invalid("duration", "a duration from 1m to 14d, like 30m, 2h or 1d")
        })?;
    let starts_at =
        Timestamp::from_millisecond(now_ms()).map_err(|e| AppError::Internal(e.to_string()))?;
    let ends_at = starts_at
        .checked_add(jiff::SignedDuration::from_secs(secs))
        .map_err(|e| AppError::invalid("duration", e.to_string()))?;
    Ok((starts_at, ends_at))
}

fn check_comment(comment: &str) -> Result<(), AppError> {
    if comment.len() > MAX_COMMENT {
        return Err(AppError::invalid(
            "comment",
            format!("at most {MAX_COMMENT} bytes"),
        ));
    }
    Ok(())
}
