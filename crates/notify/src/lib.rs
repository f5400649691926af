//! Notification channels that never lose a page: a generic JSON webhook, Slack-compatible
//! incoming webhooks and email over SMTP, with retries, a circuit breaker per channel, a
//! fallback channel, per-contact rate limits that bundle instead of dropping, and signed
//! acknowledge links.
//!
//! ```text
//!   Message ──► Notifier::deliver(route, message, now, pass) ──► DeliveryReport
//!                 │  breaker(primary) ─► send ─► Outcome ─► breaker.record
//!                 │  fallback_reason ─► breaker(fallback) ─► send ─► ...
//!                 └► backoff.delay(pass, Retry-After, rng) ─► RetryLater { after }
//! ```
//!
//! Pure policy (no clock, no I/O; `now_ms` and the RNG are arguments): [`backoff`],
//! [`breaker`], [`fallback`], [`ratelimit`], [`ack_token`], the classification in
//! [`outcome`] and the rendering in [`message`]. I/O: [`Notifier`] (reqwest and lettre
//! over rustls with the ring provider).
//!
//! Delivery is at least once: the caller's durable job queue calls [`Notifier::deliver`]
//! again after [`DeliveryReport::retry_after`] until it is delivered or failed; receivers
//! de-duplicate by [`Message::delivery_id`] (sent as `X-Sitrep-Delivery`).
//!
//! Semantics and payload shapes: `docs/notify.md`.

#![warn(missing_docs)]

pub mod ack_token;
pub mod backoff;
pub mod breaker;
mod channel;
pub mod fallback;
pub mod message;
mod notifier;
pub mod outcome;
pub mod ratelimit;

pub use ack_token::AckTokenError;
pub use backoff::Backoff;
pub use breaker::{Breaker, BreakerConfig, BreakerState, Permit};
pub use channel::{
    Channel, ChannelDefaults, ChannelError, ChannelKind, DEFAULT_TIMEOUT, Route, SlackStyle,
    SmtpConfig, SmtpSecurity,
};
pub use fallback::FallbackReason;
pub use message::{DigestEntry, Message, MessageKind};
pub use notifier::{
    DELIVERY_HEADER, DeliveryReport, DeliveryResult, MetricsSnapshot, Notifier, NotifierConfig,
    NotifyError, OutcomeCounts, Refused, unix_now_ms,
};
pub use outcome::{Attempt, Outcome, OutcomeKind};
pub use ratelimit::{Admission, RateLimit, RateLimiter};
