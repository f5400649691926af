//! A token bucket per contact that bundles what is over the limit into one digest instead
//! of dropping it: an incident storm wakes someone with a few messages, and every page
//! still reaches them.
//!
//! Pure: `now_ms` is an argument. The limiter is plain data (serde), so the caller can
//! persist held messages with its job queue; nothing here is lost by design, and nothing
//! is durable by itself.
//!
//! Order is kept per contact: once something is held, later messages queue behind it
//! instead of overtaking it with a fresh token.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::message::Message;

/// The limit: up to `burst` messages at once, then one every `refill_every`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimit {
    /// Bucket size (0 is treated as 1).
    pub burst: u32,
    /// One token comes back this often (zero means no limit).
    pub refill_every: Duration,
}

impl Default for RateLimit {
    /// Five at once, then one a minute.
    fn default() -> Self {
        Self {
            burst: 5,
            refill_every: Duration::from_secs(60),
        }
    }
}

/// What happened to an offered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Within the limit: send it now.
    Send(Box<Message>),
    /// Over the limit: held, and released as (part of) a digest by [`RateLimiter::release`].
    Held {
        /// How many messages this contact has waiting, this one included.
        waiting: usize,
        /// When the next token arrives.
        release_at_ms: u64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Bucket {
    tokens: u32,
    /// When `tokens` was last brought up to date.
    refilled_ms: u64,
    held: Vec<Message>,
}

/// Token buckets for all contacts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimiter {
    limit: RateLimit,
    buckets: BTreeMap<String, Bucket>,
}

impl RateLimiter {
    /// An empty limiter: every contact starts with a full bucket.
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            buckets: BTreeMap::new(),
        }
    }

    fn burst(&self) -> u32 {
        self.limit.burst.max(1)
    }

    fn interval_ms(&self) -> u64 {
        u64::try_from(self.limit.refill_every.as_millis()).unwrap_or(u64::MAX)
    }

    /// Offers a message for `contact` at `now_ms`: sent now if a token is free and nothing
    /// is waiting ahead of it, held otherwise.
    pub fn offer(&mut self, contact: &str, message: Message, now_ms: u64) -> Admission {
        let burst = self.burst();
        let interval = self.interval_ms();
        let bucket = self
            .buckets
            .entry(contact.to_string())
            .or_insert_with(|| Bucket {
                tokens: burst,
                refilled_ms: now_ms,
                held: Vec::new(),
            });
        refill(bucket, burst, interval, now_ms);
        if bucket.held.is_empty() && bucket.tokens > 0 {
            bucket.tokens -= 1;
            return Admission::Send(Box::new(message));
        }
        bucket.held.push(message);
        Admission::Held {
            waiting: bucket.held.len(),
            release_at_ms: next_token_ms(bucket, interval),
        }
    }

    /// Takes one token per contact that has messages waiting and a token free at `now_ms`,
    /// and returns what to send: a single waiting message as itself, several as one
    /// [`Message::digest`]. Call it at [`RateLimiter::next_release_ms`].
    pub fn release(&mut self, now_ms: u64) -> Vec<(String, Message)> {
        let burst = self.burst();
        let interval = self.interval_ms();
        let mut out = Vec::new();
        for (contact, bucket) in &mut self.buckets {
            refill(bucket, burst, interval, now_ms);
            if bucket.held.is_empty() || bucket.tokens == 0 {
                continue;
            }
            bucket.tokens -= 1;
            let mut held = std::mem::take(&mut bucket.held);
            // One waiting message goes as itself; several become one digest.
            let single = if held.len() == 1 { held.pop() } else { None };
            let msg = single.unwrap_or_else(|| Message::digest(contact, &held));
            out.push((contact.clone(), msg));
        }
        // Contacts with full buckets and nothing held carry no information: forget them so
        // the limiter's size follows active contacts, not every contact ever seen.
        self.buckets
            .retain(|_, b| !(b.held.is_empty() && b.tokens >= burst));
        out
    }

    /// The earliest instant at which [`RateLimiter::release`] will return something.
    pub fn next_release_ms(&self) -> Option<u64> {
        let interval = self.interval_ms();
        self.buckets
            .values()
            .filter(|b| !b.held.is_empty())
            .map(|b| next_token_ms(b, interval))
            .min()
    }

    /// How many messages are waiting for `contact`.
    pub fn waiting(&self, contact: &str) -> usize {
        self.buckets.get(contact).map_or(0, |b| b.held.len())
    }

    /// How many messages are waiting in total.
    pub fn waiting_total(&self) -> usize {
        self.buckets.values().map(|b| b.held.len()).sum()
    }
}

/// Adds the tokens earned since `refilled_ms`. Time going backwards earns nothing (and
/// does not move the mark), so a clock step cannot mint tokens.
fn refill(b: &mut Bucket, burst: u32, interval_ms: u64, now_ms: u64) {
    if interval_ms == 0 {
        b.tokens = burst;
        b.refilled_ms = now_ms;
        return;
    }
    if now_ms <= b.refilled_ms {
        return;
    }
    let earned = (now_ms - b.refilled_ms) / interval_ms;
    let room = u64::from(burst.saturating_sub(b.tokens));
    if earned >= room {
        b.tokens = burst;
        b.refilled_ms = now_ms;
    } else {
        // `earned < room <= u32::MAX`, so this fits.
        b.tokens += u32::try_from(earned).unwrap_or(0);
        b.refilled_ms += earned * interval_ms;
    }
}

fn next_token_ms(b: &Bucket, interval_ms: u64) -> u64 {
    if b.tokens > 0 {
        b.refilled_ms
    } else {
        b.refilled_ms.saturating_add(interval_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::MessageKind;

    fn msg(id: &str) -> Message {
        Message {
            delivery_id: id.into(),
            kind: MessageKind::Page,
            incident_id: "inc-1".into(),
            incident_number: 1,
            title: "t".into(),
            severity: "SEV2".into(),
            status: "triggered".into(),
            service: None,
            runbook: None,
            diagnostics: vec![],
            ack_url: None,
            incident_url: None,
            digest: vec![],
        }
    }

    #[test]
    fn over_the_limit_is_bundled_not_dropped() {
        let mut rl = RateLimiter::new(RateLimit {
            burst: 2,
            refill_every: Duration::from_secs(60),
        });
        assert!(matches!(rl.offer("bob", msg("a"), 0), Admission::Send(_)));
        assert!(matches!(rl.offer("bob", msg("b"), 1), Admission::Send(_)));
        assert_eq!(
            rl.offer("bob", msg("c"), 2),
            Admission::Held {
                waiting: 1,
                release_at_ms: 60_000
            }
        );
        assert!(matches!(
            rl.offer("bob", msg("d"), 3),
            Admission::Held { waiting: 2, .. }
        ));
        // Another contact has its own bucket.
        assert!(matches!(rl.offer("amy", msg("e"), 3), Admission::Send(_)));
        assert!(rl.release(59_999).is_empty());
        assert_eq!(rl.next_release_ms(), Some(60_000));
        let out = rl.release(60_000);
        assert_eq!(out.len(), 1);
        let (contact, digest) = &out[0];
        assert_eq!(contact, "bob");
        assert_eq!(digest.kind, MessageKind::Digest);
        let ids: Vec<_> = digest
            .digest
            .iter()
            .map(|e| e.delivery_id.as_str())
            .collect();
        assert_eq!(ids, ["c", "d"]);
        assert_eq!(rl.waiting_total(), 0);
    }

    #[test]
    fn idle_contacts_are_forgotten_once_their_bucket_is_full() {
        let mut rl = RateLimiter::new(RateLimit {
            burst: 2,
            refill_every: Duration::from_secs(1),
        });
        for (i, c) in ["a", "b", "c"].iter().enumerate() {
            assert!(matches!(
                rl.offer(c, msg(&i.to_string()), 0),
                Admission::Send(_)
            ));
        }
        assert_eq!(rl.buckets.len(), 3);
        rl.release(500);
        assert_eq!(rl.buckets.len(), 3, "buckets not yet full are kept");
        rl.release(1_000);
        assert!(rl.buckets.is_empty());
    }
}
