//! When a route's fallback channel takes over from its primary.
//!
//! Pure decision over what the primary's breaker said and what the primary attempt
//! returned: the fallback is used while the primary's breaker is open (including when
//! this very failure opened it) and after a permanent failure, which retrying the primary
//! would only repeat. A merely transient failure with the breaker still closed is retried
//! on the primary later: one flaky request should not move pages to another medium.

use serde::Serialize;

use crate::outcome::Outcome;

/// Why the fallback channel was used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FallbackReason {
    /// The primary's breaker is open: the primary was not tried (or this failure opened it).
    PrimaryOpen,
    /// The primary refused the message permanently.
    PrimaryPermanent,
}

/// Decides whether the fallback takes over. `primary` is the primary attempt's outcome
/// (`None` when the breaker refused to let it go); `breaker_open_after` is whether the
/// primary's breaker is open after recording that outcome.
pub fn fallback_reason(
    primary: Option<&Outcome>,
    breaker_open_after: bool,
) -> Option<FallbackReason> {
    match primary {
        None => Some(FallbackReason::PrimaryOpen),
        Some(Outcome::Delivered) => None,
        Some(Outcome::Permanent { .. }) => Some(FallbackReason::PrimaryPermanent),
        Some(Outcome::Retry { .. }) if breaker_open_after => Some(FallbackReason::PrimaryOpen),
        Some(Outcome::Retry { .. }) => None,
    }
}
