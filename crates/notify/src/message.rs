//! The message a channel delivers, and how it is rendered for each channel: the generic
//! webhook's JSON, Slack-compatible attachments and blocks, an email's subject and text.
//!
//! Rendering is pure and bounded: diagnostics are cut to a few short lines and every
//! free-text field is capped, so one incident with a huge title cannot produce a payload a
//! receiver rejects (Slack refuses headers over 150 characters, for one).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

/// At most this many diagnostic lines are rendered; the rest are on the incident page.
pub const MAX_DIAGNOSTICS: usize = 5;
/// Diagnostic lines are cut to this many characters.
pub const MAX_DIAGNOSTIC_CHARS: usize = 200;
/// Titles are cut to this many characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// A digest lists at most this many entries by name and counts the rest.
pub const MAX_DIGEST_ENTRIES: usize = 20;

/// Why a message is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    /// Someone is paged: the incident needs an acknowledgement.
    Page,
    /// A reminder (acknowledgement overdue, status update due).
    Reminder,
    /// The incident is resolved.
    Resolved,
    /// A test message sent to check a channel's configuration.
    Test,
    /// Several messages held back by a contact's rate limit, sent as one.
    Digest,
}

impl MessageKind {
    /// `page`, `reminder`, `resolved`, `test` or `digest`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Page => "page",
            Self::Reminder => "reminder",
            Self::Resolved => "resolved",
            Self::Test => "test",
            Self::Digest => "digest",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Page => "Page",
            Self::Reminder => "Reminder",
            Self::Resolved => "Resolved",
            Self::Test => "Test",
            Self::Digest => "Digest",
        }
    }

    /// Urgency order used to pick a digest's kind: a digest holding a page is a page.
    fn urgency(self) -> u8 {
        match self {
            Self::Page => 4,
            Self::Reminder => 3,
            Self::Resolved => 2,
            Self::Digest => 1,
            Self::Test => 0,
        }
    }
}

/// One notification about one incident. Receivers de-duplicate by `delivery_id`: delivery
/// is at least once, so the same id may arrive twice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Stable id of this delivery (the escalation page or reminder id).
    pub delivery_id: String,
    /// Why it is sent.
    pub kind: MessageKind,
    /// The incident's id.
    pub incident_id: String,
    /// The incident's human number (`#42`).
    pub incident_number: u64,
    /// The incident's title.
    pub title: String,
    /// Severity name, e.g. `SEV1`.
    pub severity: String,
    /// Incident status, e.g. `triggered`.
    pub status: String,
    /// The service the incident is about.
    #[serde(default)]
    pub service: Option<String>,
    /// The runbook handling it (path or link).
    #[serde(default)]
    pub runbook: Option<String>,
    /// The first diagnostics, one short line each.
    #[serde(default)]
    pub diagnostics: Vec<String>,
    /// Where to acknowledge (a signed link, see [`crate::ack_token`]).
    #[serde(default)]
    pub ack_url: Option<String>,
    /// The incident page.
    #[serde(default)]
    pub incident_url: Option<String>,
    /// For a digest: the messages it bundles, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub digest: Vec<DigestEntry>,
}

/// One bundled message inside a digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestEntry {
    /// The bundled message's delivery id.
    pub delivery_id: String,
    /// Its kind.
    pub kind: MessageKind,
    /// Its incident id.
    pub incident_id: String,
    /// Its incident number.
    pub incident_number: u64,
    /// Its incident title.
    pub title: String,
    /// Its severity.
    pub severity: String,
    /// Its status.
    pub status: String,
    /// Its acknowledge link.
    #[serde(default)]
    pub ack_url: Option<String>,
    /// Its incident page.
    #[serde(default)]
    pub incident_url: Option<String>,
}

impl Message {
    /// Bundles messages held by a rate limit into one. The digest's id is derived from the
    /// bundled ids, so re-sending the same bundle carries the same id. Its incident fields
    /// are those of the most urgent bundled message (the oldest among equals).
    ///
    /// # Panics
    /// Never: an empty slice gives an empty digest about no incident.
    pub fn digest(contact: &str, messages: &[Message]) -> Message {
        let mut h = Sha256::new();
        h.update(contact.as_bytes());
        for m in messages {
            h.update([0u8]);
            h.update(m.delivery_id.as_bytes());
        }
        let id = format!("digest:{contact}:{}", &hex::encode(h.finalize())[..16]);
        // The most urgent message leads; `max_by_key` keeps the last maximum, so reverse
        // to keep the oldest.
        let lead = messages
            .iter()
            .rev()
            .max_by_key(|m| m.kind.urgency())
            .cloned();
        let entries: Vec<DigestEntry> = messages
            .iter()
            .flat_map(|m| {
                // A digest of digests (a retried bundle held again) flattens.
                if m.digest.is_empty() {
                    vec![DigestEntry::from(m)]
                } else {
                    m.digest.clone()
                }
            })
            .collect();
        let n = entries.len();
        let lead = lead.unwrap_or_else(|| Message {
            delivery_id: String::new(),
            kind: MessageKind::Digest,
            incident_id: String::new(),
            incident_number: 0,
            title: String::new(),
            severity: String::new(),
            status: String::new(),
            service: None,
            runbook: None,
            diagnostics: Vec::new(),
            ack_url: None,
            incident_url: None,
            digest: Vec::new(),
        });
        Message {
            delivery_id: id,
            kind: MessageKind::Digest,
            title: format!("{n} notifications held back by the rate limit"),
            diagnostics: Vec::new(),
            digest: entries,
            ..lead
        }
    }

    /// The diagnostics as rendered: at most [`MAX_DIAGNOSTICS`] lines, each one line of at
    /// most [`MAX_DIAGNOSTIC_CHARS`] characters.
    pub fn short_diagnostics(&self) -> Vec<String> {
        self.diagnostics
            .iter()
            .take(MAX_DIAGNOSTICS)
            .map(|l| one_line(l, MAX_DIAGNOSTIC_CHARS))
            .collect()
    }

    fn headline(&self) -> String {
        let title = one_line(&self.title, MAX_TITLE_CHARS);
        if self.kind == MessageKind::Digest {
            return title;
        }
        format!("#{} {title}", self.incident_number)
    }

    /// The email subject (and chat fallback text): severity, kind, number, title, service.
    /// One line, no control characters.
    pub fn subject(&self) -> String {
        let mut s = format!(
            "[{}] {}: {}",
            one_line(&self.severity, 32),
            self.kind.label(),
            self.headline()
        );
        if let Some(svc) = &self.service {
            s.push_str(&format!(" ({})", one_line(svc, 64)));
        }
        s
    }

    /// The plain-text body used by email: every field on its own line, links last.
    pub fn text(&self) -> String {
        let mut t = String::new();
        t.push_str(&format!(
            "{} {}: {}\n\n",
            one_line(&self.severity, 32),
            self.kind.as_str(),
            self.headline()
        ));
        t.push_str(&format!("Status:   {}\n", one_line(&self.status, 64)));
        if let Some(s) = &self.service {
            t.push_str(&format!("Service:  {}\n", one_line(s, 128)));
        }
        if let Some(r) = &self.runbook {
            t.push_str(&format!("Runbook:  {}\n", one_line(r, 256)));
        }
        let diags = self.short_diagnostics();
        if !diags.is_empty() {
            t.push_str("\nDiagnostics:\n");
            for d in &diags {
                t.push_str(&format!("  {d}\n"));
            }
        }
        if !self.digest.is_empty() {
            t.push_str("\nBundled notifications:\n");
            for e in self.digest.iter().take(MAX_DIGEST_ENTRIES) {
                t.push_str(&format!("  {}\n", e.line()));
                if let Some(u) = &e.ack_url {
                    t.push_str(&format!("    acknowledge: {u}\n"));
                }
            }
            if self.digest.len() > MAX_DIGEST_ENTRIES {
                t.push_str(&format!(
                    "  ... and {} more\n",
                    self.digest.len() - MAX_DIGEST_ENTRIES
                ));
            }
        }
        t.push('\n');
        if let Some(u) = &self.ack_url {
            t.push_str(&format!("Acknowledge: {u}\n"));
        }
        if let Some(u) = &self.incident_url {
            t.push_str(&format!("Incident:    {u}\n"));
        }
        t.push_str(&format!(
            "\n-- \nsitrep delivery {}\n",
            one_line(&self.delivery_id, 256)
        ));
        t
    }

    /// The generic webhook body (`version` 1). Field names are stable API.
    pub fn webhook_json(&self) -> Value {
        json!({
            "version": 1,
            "delivery_id": self.delivery_id,
            "kind": self.kind,
            "incident": {
                "id": self.incident_id,
                "number": self.incident_number,
                "title": self.title,
                "severity": self.severity,
                "status": self.status,
                "service": self.service,
                "runbook": self.runbook,
                "url": self.incident_url,
            },
            "diagnostics": self.short_diagnostics(),
            "ack_url": self.ack_url,
            "subject": self.subject(),
            "digest": self.digest,
        })
    }

    /// A Slack-compatible incoming-webhook body using `attachments`, which Slack and
    /// Mattermost both render (Mattermost ignores `blocks`).
    pub fn slack_attachments_json(&self) -> Value {
        let mut fields = vec![
            json!({"title": "Severity", "value": slack_escape(&self.severity), "short": true}),
            json!({"title": "Status", "value": slack_escape(&self.status), "short": true}),
        ];
        if let Some(s) = &self.service {
            fields.push(json!({"title": "Service", "value": slack_escape(s), "short": true}));
        }
        if let Some(r) = &self.runbook {
            fields.push(json!({"title": "Runbook", "value": slack_escape(r), "short": true}));
        }
        let mut text = String::new();
        let diags = self.short_diagnostics();
        if !diags.is_empty() {
            text.push_str("```\n");
            for d in &diags {
                text.push_str(&slack_escape(d));
                text.push('\n');
            }
            text.push_str("```\n");
        }
        for e in self.digest.iter().take(MAX_DIGEST_ENTRIES) {
            text.push_str(&format!("• {}\n", slack_escape(&e.line())));
        }
        if self.digest.len() > MAX_DIGEST_ENTRIES {
            text.push_str(&format!(
                "… and {} more\n",
                self.digest.len() - MAX_DIGEST_ENTRIES
            ));
        }
        if let Some(u) = &self.ack_url {
            text.push_str(&format!("<{}|Acknowledge>", slack_link(u)));
        }
        let mut att = json!({
            "fallback": self.subject(),
            "color": self.color(),
            "title": self.headline(),
            "text": text.trim_end(),
            "fields": fields,
            "footer": format!("sitrep · {} · delivery {}", self.kind.as_str(), self.delivery_id),
        });
        if let Some(u) = &self.incident_url {
            att["title_link"] = json!(u);
        }
        json!({ "text": slack_escape(&self.subject()), "attachments": [att] })
    }

    /// A Slack incoming-webhook body using Block Kit (header, fields, diagnostics, link
    /// buttons, context), with `text` as the notification fallback.
    pub fn slack_blocks_json(&self) -> Value {
        let header = format!(
            "{} {}: {}",
            one_line(&self.severity, 32),
            self.kind.as_str(),
            self.headline()
        );
        let mut fields = vec![
            json!({"type": "mrkdwn", "text": format!("*Severity*\n{}", slack_escape(&self.severity))}),
            json!({"type": "mrkdwn", "text": format!("*Status*\n{}", slack_escape(&self.status))}),
        ];
        if let Some(s) = &self.service {
            fields
                .push(json!({"type": "mrkdwn", "text": format!("*Service*\n{}", slack_escape(s))}));
        }
        if let Some(r) = &self.runbook {
            fields
                .push(json!({"type": "mrkdwn", "text": format!("*Runbook*\n{}", slack_escape(r))}));
        }
        let mut blocks = vec![
            // Slack rejects header text over 150 characters.
            json!({"type": "header", "text": {"type": "plain_text", "text": cut(&header, 150)}}),
            json!({"type": "section", "fields": fields}),
        ];
        let diags = self.short_diagnostics();
        if !diags.is_empty() {
            let body: Vec<String> = diags.iter().map(|d| slack_escape(d)).collect();
            blocks.push(json!({"type": "section", "text": {"type": "mrkdwn",
                "text": format!("```\n{}\n```", body.join("\n"))}}));
        }
        if !self.digest.is_empty() {
            let mut lines: Vec<String> = self
                .digest
                .iter()
                .take(MAX_DIGEST_ENTRIES)
                .map(|e| format!("• {}", slack_escape(&e.line())))
                .collect();
            if self.digest.len() > MAX_DIGEST_ENTRIES {
                lines.push(format!(
                    "… and {} more",
                    self.digest.len() - MAX_DIGEST_ENTRIES
                ));
            }
            blocks.push(
                json!({"type": "section", "text": {"type": "mrkdwn", "text": lines.join("\n")}}),
            );
        }
        let mut buttons = Vec::new();
        if let Some(u) = &self.ack_url {
            buttons.push(
                json!({"type": "button", "action_id": "acknowledge", "style": "primary",
                "text": {"type": "plain_text", "text": "Acknowledge"}, "url": u}),
            );
        }
        if let Some(u) = &self.incident_url {
            buttons.push(json!({"type": "button", "action_id": "open_incident",
                "text": {"type": "plain_text", "text": "Open incident"}, "url": u}));
        }
        if !buttons.is_empty() {
            blocks.push(json!({"type": "actions", "elements": buttons}));
        }
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn",
            "text": format!("sitrep · delivery `{}`", slack_escape(&self.delivery_id))}]}));
        json!({ "text": slack_escape(&self.subject()), "blocks": blocks })
    }

    /// Attachment colour: red for pages, amber for reminders, green when resolved.
    fn color(&self) -> &'static str {
        match self.kind {
            MessageKind::Page | MessageKind::Digest => "#d00000",
            MessageKind::Reminder => "#daa038",
            MessageKind::Resolved => "#2eb886",
            MessageKind::Test => "#439fe0",
        }
    }
}

impl From<&Message> for DigestEntry {
    fn from(m: &Message) -> Self {
        Self {
            delivery_id: m.delivery_id.clone(),
            kind: m.kind,
            incident_id: m.incident_id.clone(),
            incident_number: m.incident_number,
            title: m.title.clone(),
            severity: m.severity.clone(),
            status: m.status.clone(),
            ack_url: m.ack_url.clone(),
            incident_url: m.incident_url.clone(),
        }
    }
}

impl DigestEntry {
    fn line(&self) -> String {
        format!(
            "{} {} #{} {} ({})",
            one_line(&self.severity, 32),
            self.kind.as_str(),
            self.incident_number,
            one_line(&self.title, MAX_TITLE_CHARS),
            one_line(&self.status, 32)
        )
    }
}

/// Collapses control characters (newlines included) to spaces and cuts to `max` chars, so
/// a field can never break a header line or a one-line layout.
pub(crate) fn one_line(s: &str, max: usize) -> String {
    let flat: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    cut(flat.trim(), max)
}

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Slack's mrkdwn treats `&`, `<` and `>` as control characters; escaping them keeps user
/// text (a title with `<script>`, a diagnostic with `a > b`) from becoming links or mentions.
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A URL inside `<url|text>` must not contain `|` or `>`, which would end the link early.
fn slack_link(u: &str) -> String {
    u.replace('|', "%7C")
        .replace('>', "%3E")
        .replace('<', "%3C")
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> Message {
        Message {
            delivery_id: "inc-42:standard:c1:l0:rotation:primary:bob-email".into(),
            kind: MessageKind::Page,
            incident_id: "inc-42".into(),
            incident_number: 42,
            title: "Checkout error rate above 5%".into(),
            severity: "SEV1".into(),
            status: "triggered".into(),
            service: Some("checkout-api".into()),
            runbook: Some("runbooks/checkout.md".into()),
            diagnostics: vec!["error rate 7.2%".into(), "p99 2.1s".into()],
            ack_url: Some("https://sitrep.example/ack/abc".into()),
            incident_url: Some("https://sitrep.example/incidents/42".into()),
            digest: Vec::new(),
        }
    }

    #[test]
    fn subject_is_one_line_with_severity_kind_number_and_service() {
        let mut m = sample();
        m.title = "two\nlines\r\n".into();
        assert_eq!(m.subject(), "[SEV1] Page: #42 two lines (checkout-api)");
    }

    #[test]
    fn diagnostics_are_capped() {
        let mut m = sample();
        m.diagnostics = (0..20).map(|i| format!("{i}{}", "x".repeat(500))).collect();
        let d = m.short_diagnostics();
        assert_eq!(d.len(), MAX_DIAGNOSTICS);
        assert!(d.iter().all(|l| l.chars().count() == MAX_DIAGNOSTIC_CHARS));
    }

    #[test]
    fn slack_text_is_escaped() {
        let mut m = sample();
        m.title = "<!channel> & friends".into();
        let v = m.slack_attachments_json();
        let t = v["text"].as_str().unwrap();
        assert!(t.contains("&lt;!channel&gt; &amp; friends"), "{t}");
    }

    #[test]
    fn digest_id_depends_on_contents_and_lead_is_most_urgent() {
        let a = sample();
        let mut b = sample();
        b.delivery_id = "inc-7:reminder".into();
        b.kind = MessageKind::Reminder;
        b.incident_number = 7;
        let d1 = Message::digest("bob-email", &[b.clone(), a.clone()]);
        let d2 = Message::digest("bob-email", &[b.clone(), a.clone()]);
        let d3 = Message::digest("bob-email", std::slice::from_ref(&a));
        assert_eq!(d1.delivery_id, d2.delivery_id);
        assert_ne!(d1.delivery_id, d3.delivery_id);
        assert_eq!(d1.incident_number, 42);
        assert_eq!(d1.digest.len(), 2);
        assert_eq!(d1.digest[0].delivery_id, "inc-7:reminder");
        assert!(d1.text().contains("#7"));
    }

    #[test]
    fn digests_list_their_entries_in_every_rendering() {
        let mut b = sample();
        b.delivery_id = "inc-7:reminder".into();
        b.incident_number = 7;
        b.title = "Disk <full>".into();
        let d = Message::digest("bob-email", &[sample(), b]);
        assert_eq!(
            d.subject(),
            "[SEV1] Digest: 2 notifications held back by the rate limit (checkout-api)"
        );
        let att = d.slack_attachments_json();
        let text = att["attachments"][0]["text"].as_str().unwrap();
        assert!(
            text.contains("• SEV1 page #42 Checkout error rate above 5% (triggered)"),
            "{text}"
        );
        assert!(
            text.contains("• SEV1 page #7 Disk &lt;full&gt; (triggered)"),
            "{text}"
        );
        let blocks = d.slack_blocks_json();
        assert!(blocks.to_string().contains("#7 Disk &lt;full&gt;"));
        let json = d.webhook_json();
        assert_eq!(json["kind"], "digest");
        assert_eq!(json["digest"][1]["delivery_id"], "inc-7:reminder");
        assert_eq!(json["digest"][1]["incident_number"], 7);
    }
}
