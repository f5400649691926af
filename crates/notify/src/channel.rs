//! Channel configuration: where and how a message is delivered. Built from
//! `sitrep-escalation`'s contact methods (what people and channels configure) plus the
//! delivery settings only this crate knows (SMTP relay, timeouts, Slack flavour).

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sitrep_escalation::{Contact, ContactMethod};

use crate::outcome::redact_url;

/// Default per-attempt timeout: long enough for a slow relay, short enough that a hung
/// receiver does not hold a page back from its fallback for long.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// One destination with its delivery settings.
#[derive(Clone, PartialEq, Eq)]
pub struct Channel {
    /// The channel id (the contact or channel id from the escalation config); breakers and
    /// counters are kept per id.
    pub id: String,
    /// How to deliver.
    pub kind: ChannelKind,
    /// The longest one attempt may take, connecting included.
    pub timeout: Duration,
}

/// How a channel delivers.
#[derive(Clone, PartialEq, Eq)]
pub enum ChannelKind {
    /// POST the generic JSON body.
    Webhook {
        /// The receiver's URL (may hold a secret token: never logged).
        url: String,
    },
    /// POST a Slack-compatible incoming-webhook body.
    Slack {
        /// The incoming-webhook URL (holds the token: never logged).
        url: String,
        /// `attachments` (Slack and Mattermost) or `blocks` (Slack).
        style: SlackStyle,
    },
    /// Send an email through an SMTP relay.
    Email {
        /// The recipient address.
        to: String,
        /// The relay.
        smtp: SmtpConfig,
    },
}

// Debug is written by hand so that a logged channel never shows a URL's token or an SMTP
// password.
impl fmt::Debug for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Channel")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl fmt::Debug for ChannelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Webhook { url } => f
                .debug_struct("Webhook")
                .field("url", &redact_url(url))
                .finish(),
            Self::Slack { url, style } => f
                .debug_struct("Slack")
                .field("url", &redact_url(url))
                .field("style", style)
                .finish(),
            Self::Email { to, smtp } => f
                .debug_struct("Email")
                .field("to", to)
                .field("smtp", smtp)
                .finish(),
        }
    }
}

impl ChannelKind {
    /// `webhook`, `slack` or `email`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Webhook { .. } => "webhook",
            Self::Slack { .. } => "slack",
            Self::Email { .. } => "email",
        }
    }
}

/// Which Slack payload to send.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlackStyle {
    /// Legacy `attachments`: rendered by Slack and Mattermost alike.
    #[default]
    Attachments,
    /// Block Kit `blocks` (Slack only; `text` is the fallback elsewhere).
    Blocks,
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpSecurity {
    /// Plain connection, upgraded with STARTTLS, which is required (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (SMTPS, port 465).
    Tls,
    /// No encryption: only for a relay on localhost or a trusted local network.
    Plain,
}

/// An SMTP relay.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// Relay host name (also the name its TLS certificate must carry).
    pub host: String,
    /// Port; defaults to 587 (STARTTLS), 465 (TLS) or 25 (plain).
    #[serde(default)]
    pub port: Option<u16>,
    /// Connection security.
    #[serde(default)]
    pub security: SmtpSecurity,
    /// User name, when the relay wants authentication.
    #[serde(default)]
    pub username: Option<String>,
    /// Password (never logged; see the Debug impl).
    #[serde(default, skip_serializing)]
    pub password: Option<String>,
    /// The sender address, e.g. `sitrep <sitrep@example.com>`.
    pub from: String,
}

impl fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port())
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("from", &self.from)
            .finish()
    }
}

impl SmtpConfig {
    /// The port in effect.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.security {
            SmtpSecurity::Starttls => 587,
            SmtpSecurity::Tls => 465,
            SmtpSecurity::Plain => 25,
        })
    }
}

/// Delivery settings that the escalation config does not carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelDefaults {
    /// Per-attempt timeout for every channel.
    pub timeout: Duration,
    /// Which Slack payload Slack-compatible webhooks get.
    pub slack_style: SlackStyle,
    /// The relay for email contacts; without one, email contacts cannot be built.
    pub smtp: Option<SmtpConfig>,
}

impl Default for ChannelDefaults {
    fn default() -> Self {
        Self {
            timeout: DEFAULT_TIMEOUT,
            slack_style: SlackStyle::default(),
            smtp: None,
        }
    }
}

/// A contact that cannot become a channel.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelError {
    /// An email contact, but no SMTP relay is configured.
    #[error("contact `{contact}` is an email address but no SMTP relay is configured")]
    NoSmtpRelay {
        /// The contact id.
        contact: String,
    },
}

impl Channel {
    /// The channel for an escalation contact (a person's contact or a shared channel's).
    pub fn from_contact(
        contact: &Contact,
        defaults: &ChannelDefaults,
    ) -> Result<Self, ChannelError> {
        let kind = match &contact.method {
            ContactMethod::Webhook(url) => ChannelKind::Webhook { url: url.clone() },
            ContactMethod::SlackWebhook(url) => ChannelKind::Slack {
                url: url.clone(),
                style: defaults.slack_style,
            },
            ContactMethod::Email(to) => ChannelKind::Email {
                to: to.clone(),
                smtp: defaults
                    .smtp
                    .clone()
                    .ok_or_else(|| ChannelError::NoSmtpRelay {
                        contact: contact.id.clone(),
                    })?,
            },
        };
        Ok(Self {
            id: contact.id.clone(),
            kind,
            timeout: defaults.timeout,
        })
    }

    /// The channel for an escalation config's shared channel.
    pub fn from_escalation_channel(
        channel: &sitrep_escalation::Channel,
        defaults: &ChannelDefaults,
    ) -> Result<Self, ChannelError> {
        Self::from_contact(&channel.contact, defaults)
    }

    /// A generic webhook channel.
    pub fn webhook(id: impl Into<String>, url: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            kind: ChannelKind::Webhook { url: url.into() },
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// A Slack-compatible webhook channel.
    pub fn slack(id: impl Into<String>, url: impl Into<String>, style: SlackStyle) -> Self {
        Self {
            id: id.into(),
            kind: ChannelKind::Slack {
                url: url.into(),
                style,
            },
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// An email channel.
    pub fn email(id: impl Into<String>, to: impl Into<String>, smtp: SmtpConfig) -> Self {
        Self {
            id: id.into(),
            kind: ChannelKind::Email {
                to: to.into(),
                smtp,
            },
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// The same channel with another timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// Where one message goes: a primary channel and, optionally, the channel that takes over
/// while the primary's breaker is open or after it refused the message permanently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Tried first.
    pub primary: Channel,
    /// Tried when the primary cannot take the message.
    pub fallback: Option<Channel>,
}

impl Route {
    /// A route without fallback.
    pub fn to(primary: Channel) -> Self {
        Self {
            primary,
            fallback: None,
        }
    }

    /// The same route with a fallback.
    pub fn with_fallback(mut self, fallback: Channel) -> Self {
        self.fallback = Some(fallback);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_secrets() {
        let smtp = SmtpConfig {
            host: "smtp.example".into(),
            port: None,
            security: SmtpSecurity::Starttls,
            username: Some("sitrep".into()),
            password: Some("hunter2".into()),
            from: "sitrep@example.com".into(),
        };
        let chans = [
            Channel::slack(
                "s",
                "https://hooks.slack.com/services/T/B/SECRETTOKEN",
                SlackStyle::Blocks,
            ),
            Channel::webhook("w", "https://pager.example/hook?token=SECRETTOKEN"),
            Channel::email("e", "bob@example.com", smtp),
        ];
        for c in chans {
            let d = format!("{c:?}");
            assert!(!d.contains("SECRETTOKEN") && !d.contains("hunter2"), "{d}");
        }
    }

    #[test]
    fn from_escalation_contacts() {
        let cfg = sitrep_escalation::Config::from_toml(
            r#"
            [[people]]
            id = "alice"
            name = "Alice"
            contacts = [
              { id = "alice-email", email = "alice@example.com" },
              { id = "alice-slack", slack_webhook = "https://hooks.slack.example/T/B/x" },
            ]
            [[channels]]
            id = "ops"
            webhook = "https://pager.example/hooks/ops"
            "#,
        )
        .unwrap();
        let alice = cfg.person("alice").unwrap();
        let no_smtp = ChannelDefaults::default();
        assert_eq!(
            Channel::from_contact(&alice.contacts[0], &no_smtp),
            Err(ChannelError::NoSmtpRelay {
                contact: "alice-email".into()
            })
        );
        let slack = Channel::from_contact(&alice.contacts[1], &no_smtp).unwrap();
        assert_eq!(slack.id, "alice-slack");
        assert_eq!(slack.kind.name(), "slack");
        let ops = Channel::from_escalation_channel(cfg.channel("ops").unwrap(), &no_smtp).unwrap();
        assert_eq!(
            ops.kind,
            ChannelKind::Webhook {
                url: "https://pager.example/hooks/ops".into()
            }
        );
    }
}
