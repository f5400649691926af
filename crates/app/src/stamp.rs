//! Who and when: the clock and the actor check every use case stamps a change with. A
//! leaf module (it imports nothing of the crate but the error), so the use-case modules
//! depend on it instead of on `app.rs` and on each other.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::AppError;

/// Unix time now in milliseconds.
#[must_use]
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// An actor name as the timeline records it: non-empty, at most 200 bytes, no control
/// characters.
pub(crate) fn check_actor(actor: &str) -> Result<(), AppError> {
    if actor.trim().is_empty() || actor.len() > 200 || actor.chars().any(char::is_control) {
        return Err(AppError::invalid(
            "actor",
            "must be a non-empty name of at most 200 bytes without control characters",
        ));
    }
    Ok(())
}
