//! What an acknowledge link says beyond its signature: the incident, when it was sent
//! (which escalation cycle) and for which page; and what its use records. Pure.
//!
//! The signed subject is `incident \n issued_ms \n page_id`, at most
//! [`sitrep_notify::ack_token::MAX_INCIDENT_ID_BYTES`] bytes (a long page id is cut). A
//! subject without line breaks is a link from before this format: its issue time is
//! unknown, so any reopen makes it stale.

use sitrep_store::Event;

use crate::identity::Principal;

/// Who used a link, as the server saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkVisit {
    /// The logged-in person who pressed the button, if any (else the actor is
    /// [`Principal::ack_link`]).
    pub actor: Option<Principal>,
    /// The client's address.
    pub client: Option<String>,
    /// The client's `User-Agent`.
    pub user_agent: Option<String>,
}

/// A verified link's subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The incident id.
    pub incident: String,
    /// When it was issued (ms); none for an old-format link.
    pub issued_ms: Option<i64>,
    /// The page it was sent with, if known.
    pub page_id: Option<String>,
}

/// Longest user agent kept on the timeline.
const MAX_USER_AGENT: usize = 200;

/// The subject to sign for a link to `incident`'s page `page_id`, issued at `now_ms`.
#[must_use]
pub fn subject(incident: &str, now_ms: i64, page_id: &str) -> String {
    let head = format!("{incident}\n{now_ms}\n");
    let room = sitrep_notify::ack_token::MAX_INCIDENT_ID_BYTES.saturating_sub(head.len());
    let mut end = page_id.len().min(room);
    while !page_id.is_char_boundary(end) {
        end -= 1;
    }
    format!("{head}{}", &page_id[..end])
}

impl Link {
    /// Reads a verified subject (either format).
    #[must_use]
    pub fn parse(subject: &str) -> Link {
        let mut parts = subject.splitn(3, '\n');
        let incident = parts.next().unwrap_or_default().to_owned();
        let issued_ms = parts.next().and_then(|t| t.parse().ok());
        let page_id = parts.next().filter(|p| !p.is_empty()).map(str::to_owned);
        Link {
            incident,
            issued_ms,
            page_id,
        }
    }

    /// When the incident was reopened after this link was sent (the link is stale),
    /// from its timeline.
    #[must_use]
    pub fn stale_after(&self, timeline: &[Event]) -> Option<u64> {
        timeline
            .iter()
            .filter(|e| e.record.event_type == crate::events::REOPENED)
            .map(|e| e.record.time_ms)
            .filter(|t| {
                self.issued_ms
                    .is_none_or(|issued| i64::try_from(*t).unwrap_or(i64::MAX) >= issued)
            })
            .max()
    }

    /// What the acknowledgement records about the link and its use.
    #[must_use]
    pub fn payload(&self, visit: &LinkVisit) -> Vec<(&'static str, String)> {
        let mut out = vec![("via", "ack-link".to_owned())];
        if let Some(p) = &self.page_id {
            out.push(("page_id", p.clone()));
        }
        if let Some(c) = &visit.client {
            out.push(("client", c.clone()));
        }
        if let Some(ua) = &visit.user_agent {
            let clean: String = ua.chars().filter(|c| !c.is_control()).collect();
            out.push(("user_agent", crate::events::cut(&clean, MAX_USER_AGENT)));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_round_trip_and_stay_within_the_token_limit() {
        let s = subject("inc-1", 1_000, "inc-1:local:c0:l0:person:oncall:hook");
        let l = Link::parse(&s);
        assert_eq!(l.incident, "inc-1");
        assert_eq!(l.issued_ms, Some(1_000));
        assert_eq!(
            l.page_id.as_deref(),
            Some("inc-1:local:c0:l0:person:oncall:hook")
        );
        let long = subject("inc-1", 1_000, &"é".repeat(400));
        assert!(long.len() <= sitrep_notify::ack_token::MAX_INCIDENT_ID_BYTES);
        let old = Link::parse("0190-abc");
        assert_eq!((old.incident.as_str(), old.issued_ms), ("0190-abc", None));
    }
}
