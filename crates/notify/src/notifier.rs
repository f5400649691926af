//! The I/O side: one HTTP client and a pool of SMTP transports shared by every delivery,
//! the breakers per channel, and the counters.
//!
//! [`Notifier::send`] makes one attempt on one channel. [`Notifier::deliver`] makes one
//! pass over a route (the primary, then maybe the fallback) and says when to try again;
//! the durable retry schedule is the caller's job queue, so a restart loses nothing.

use std::collections::{BTreeMap, HashMap};
use std::error::Error as _;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lettre::message::Mailbox;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use crate::backoff::Backoff;
use crate::breaker::{Breaker, BreakerConfig, BreakerState};
use crate::channel::{Channel, ChannelKind, Route, SlackStyle, SmtpConfig, SmtpSecurity};
use crate::fallback::{FallbackReason, fallback_reason};
use crate::message::{Message, one_line};
use crate::outcome::{
    Attempt, Outcome, OutcomeKind, classify_http, classify_smtp, human, redact_url,
};

/// The delivery id header every HTTP channel sends; receivers de-duplicate by it.
pub const DELIVERY_HEADER: &str = "X-Sitrep-Delivery";

/// How much of a failed response body is read to explain the failure.
const MAX_ERROR_BODY: usize = 4096;

/// Notifier settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifierConfig {
    /// Breaker settings, the same for every channel.
    pub breaker: BreakerConfig,
    /// Backoff for the retry delay a report suggests.
    pub backoff: Backoff,
    /// The HTTP `User-Agent`.
    pub user_agent: String,
    /// Seed for the jitter RNG; `None` seeds from the OS (tests pin it).
    pub rng_seed: Option<u64>,
}

impl Default for NotifierConfig {
    fn default() -> Self {
        Self {
            breaker: BreakerConfig::default(),
            backoff: Backoff::default(),
            user_agent: concat!("sitrep-notify/", env!("CARGO_PKG_VERSION")).to_string(),
            rng_seed: None,
        }
    }
}

/// A notifier that cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The HTTP client could not be set up (TLS initialisation).
    #[error("cannot set up the HTTP client: {0}")]
    HttpClient(String),
}

/// Counts per channel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct OutcomeCounts {
    /// Attempts that delivered.
    pub delivered: u64,
    /// Attempts to retry later.
    pub retry: u64,
    /// Attempts refused permanently.
    pub permanent: u64,
    /// Sends the channel's open breaker refused (no attempt made).
    pub refused: u64,
}

/// The counters and breaker states at one moment, as plain data for `/metrics`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MetricsSnapshot {
    /// Outcome counts per channel id.
    pub notifications: BTreeMap<String, OutcomeCounts>,
    /// Breaker state per channel id.
    pub breakers: BTreeMap<String, BreakerState>,
}

/// A channel that was not tried because its breaker is open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refused {
    /// The channel id.
    pub channel: String,
    /// When the breaker lets a probe through.
    pub until_ms: u64,
}

/// How a delivery pass ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum DeliveryResult {
    /// The message arrived on `channel`.
    Delivered {
        /// The channel that took it.
        channel: String,
    },
    /// Nothing took it; try the whole route again after `after`.
    RetryLater {
        /// The suggested wait (backoff with jitter, `Retry-After` honoured).
        #[serde(rename = "after_ms", serialize_with = "ser_ms")]
        after: Duration,
        /// The last reason, for people.
        reason: String,
    },
    /// Every channel refused it permanently: retrying will not help.
    Failed {
        /// The last reason, for people.
        reason: String,
    },
}

fn ser_ms<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Everything one pass did, for the incident's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveryReport {
    /// The message's delivery id.
    pub delivery_id: String,
    /// Every attempt, in order.
    pub attempts: Vec<Attempt>,
    /// Channels skipped because their breaker is open.
    pub refused: Vec<Refused>,
    /// Why the fallback was used, if it was.
    pub fallback: Option<FallbackReason>,
    /// The outcome of the pass.
    #[serde(flatten)]
    pub result: DeliveryResult,
}

impl DeliveryReport {
    /// Whether the message arrived somewhere.
    pub fn delivered(&self) -> bool {
        matches!(self.result, DeliveryResult::Delivered { .. })
    }

    /// The suggested wait before the next pass, if one is needed.
    pub fn retry_after(&self) -> Option<Duration> {
        match self.result {
            DeliveryResult::RetryLater { after, .. } => Some(after),
            _ => None,
        }
    }
}

/// Sends messages. Cheap to clone; clones share the client, transports, breakers and
/// counters.
#[derive(Clone)]
pub struct Notifier {
    inner: Arc<Inner>,
}

struct Inner {
    config: NotifierConfig,
    http: reqwest::Client,
    /// One pooled transport per relay and timeout, so connections are reused.
    smtp: Mutex<HashMap<(SmtpConfig, Duration), AsyncSmtpTransport<Tokio1Executor>>>,
    state: Mutex<State>,
}

struct State {
    breakers: HashMap<String, Breaker>,
    counts: BTreeMap<String, OutcomeCounts>,
    rng: StdRng,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// Locks a mutex, recovering from poisoning: the guarded data are counters and breaker
/// states, which stay meaningful even if a holder panicked.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Milliseconds since the Unix epoch by the system clock, for callers without their own.
pub fn unix_now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Notifier {
    /// A notifier with its own HTTP client (rustls, no proxy from the environment, no
    /// redirects).
    pub fn new(config: NotifierConfig) -> Result<Self, NotifyError> {
        let http = reqwest::Client::builder()
            .user_agent(config.user_agent.clone())
            // A webhook that redirects is misconfigured; following it would post the
            // payload to a URL nobody reviewed.
            .redirect(reqwest::redirect::Policy::none())
            // Proxies come from sitrep's config, not from whatever the environment says.
            .no_proxy()
            .pool_max_idle_per_host(64)
            .build()
            .map_err(|e| NotifyError::HttpClient(one_line(&e.to_string(), 200)))?;
        let rng = match config.rng_seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_entropy(),
        };
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                http,
                smtp: Mutex::new(HashMap::new()),
                state: Mutex::new(State {
                    breakers: HashMap::new(),
                    counts: BTreeMap::new(),
                    rng,
                }),
            }),
        })
    }

    /// The settings in force.
    pub fn config(&self) -> &NotifierConfig {
        &self.inner.config
    }

    /// One attempt to deliver `message` on `channel`, within the channel's timeout. Does
    /// not consult or change the breaker (see [`Notifier::deliver`]); `attempt` is 1.
    pub async fn send(&self, channel: &Channel, message: &Message) -> Attempt {
        let attempt = self.send_at(channel, message, unix_now_ms()).await;
        self.count(&channel.id, &attempt.outcome);
        attempt
    }

    fn count(&self, channel: &str, outcome: &Outcome) {
        let mut st = lock(&self.inner.state);
        let c = st.counts.entry(channel.to_string()).or_default();
        match outcome.kind() {
            OutcomeKind::Delivered => c.delivered += 1,
            OutcomeKind::Retry => c.retry += 1,
            OutcomeKind::Permanent => c.permanent += 1,
        }
    }

    async fn send_at(&self, channel: &Channel, message: &Message, now_ms: u64) -> Attempt {
        let started = Instant::now();
        // The outer timeout bounds everything (DNS, TLS, SMTP dialogue), whatever the
        // client libraries do with their own timeouts.
        let outcome =
            match tokio::time::timeout(channel.timeout, self.send_inner(channel, message, now_ms))
                .await
            {
                Ok(o) => o,
                Err(_) => Outcome::retry(format!("timed out after {}", human(channel.timeout))),
            };
        Attempt {
            channel: channel.id.clone(),
            outcome,
            duration: started.elapsed(),
            attempt: 1,
        }
    }

    async fn send_inner(&self, channel: &Channel, message: &Message, now_ms: u64) -> Outcome {
        match &channel.kind {
            ChannelKind::Webhook { url } => {
                let body = message.webhook_json();
                self.post(channel, url, &body, message, true, now_ms).await
            }
            ChannelKind::Slack { url, style } => {
                let body = match style {
                    SlackStyle::Attachments => message.slack_attachments_json(),
                    SlackStyle::Blocks => message.slack_blocks_json(),
                };
                self.post(channel, url, &body, message, false, now_ms).await
            }
            ChannelKind::Email { to, smtp } => self.mail(channel, to, smtp, message).await,
        }
    }

    async fn post(
        &self,
        channel: &Channel,
        url: &str,
        body: &serde_json::Value,
        message: &Message,
        idempotency_key: bool,
        now_ms: u64,
    ) -> Outcome {
        let Ok(id) = reqwest::header::HeaderValue::from_str(&message.delivery_id) else {
            return Outcome::permanent("the delivery id is not a valid HTTP header value");
        };
        let bytes = match serde_json::to_vec(body) {
            Ok(b) => b,
            Err(_) => return Outcome::permanent("the message could not be encoded as JSON"),
        };
        let mut req = self
            .inner
            .http
            .post(url)
            .timeout(channel.timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(DELIVERY_HEADER, id.clone())
            .header("X-Sitrep-Event", message.kind.as_str())
            .body(bytes);
        if idempotency_key {
            req = req.header("Idempotency-Key", id);
        }
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => return classify_reqwest_error(&e, channel.timeout, url),
        };
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut outcome = classify_http(status, retry_after.as_deref(), now_ms);
        // Read (a bounded part of) the body either way: it lets the connection be reused,
        // and on failure receivers explain themselves there (Slack: `invalid_payload`).
        let text = read_capped(resp, MAX_ERROR_BODY).await;
        if let Outcome::Retry { reason, .. } | Outcome::Permanent { reason } = &mut outcome {
            if let Some(snippet) = safe_snippet(&text, url) {
                reason.push_str(": ");
                reason.push_str(&snippet);
            }
        }
        outcome
    }

    fn smtp_transport(
        &self,
        smtp: &SmtpConfig,
        timeout: Duration,
    ) -> Result<AsyncSmtpTransport<Tokio1Executor>, Outcome> {
        let key = (smtp.clone(), timeout);
        if let Some(t) = lock(&self.inner.smtp).get(&key) {
            return Ok(t.clone());
        }
        let builder = match smtp.security {
            SmtpSecurity::Plain => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
            }
            SmtpSecurity::Starttls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host).map_err(|_| {
                    Outcome::permanent(format!("invalid SMTP relay host `{}`", smtp.host))
                })?
            }
            SmtpSecurity::Tls => {
                AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host).map_err(|_| {
                    Outcome::permanent(format!("invalid SMTP relay host `{}`", smtp.host))
                })?
            }
        };
        let mut builder = builder.port(smtp.port()).timeout(Some(timeout));
        if let Some(user) = &smtp.username {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                smtp.password.clone().unwrap_or_default(),
            ));
        }
        let transport = builder.build();
        lock(&self.inner.smtp).insert(key, transport.clone());
        Ok(transport)
    }

    async fn mail(
        &self,
        channel: &Channel,
        to: &str,
        smtp: &SmtpConfig,
        message: &Message,
    ) -> Outcome {
        let email = match build_email(message, &smtp.from, to) {
            Ok(e) => e,
            Err(o) => return o,
        };
        let transport = match self.smtp_transport(smtp, channel.timeout) {
            Ok(t) => t,
            Err(o) => return o,
        };
        match transport.send(email).await {
            Ok(_) => Outcome::Delivered,
            Err(e) => classify_lettre_error(&e, smtp, channel.timeout),
        }
    }

    /// One pass over `route` at `now_ms` (milliseconds since the Unix epoch): the primary
    /// if its breaker allows, then the fallback if the primary's breaker is open or it
    /// refused the message permanently. `pass` is how many passes the caller already made
    /// for this delivery id (0 the first time): it numbers the attempts and sets the
    /// backoff. Every attempt and every refusal is in the report.
    pub async fn deliver(
        &self,
        route: &Route,
        message: &Message,
        now_ms: u64,
        pass: u32,
    ) -> DeliveryReport {
        let started = Instant::now();
        let mut report = DeliveryReport {
            delivery_id: message.delivery_id.clone(),
            attempts: Vec::new(),
            refused: Vec::new(),
            fallback: None,
            result: DeliveryResult::Failed {
                reason: String::new(),
            },
        };
        let primary = self
            .try_channel(&route.primary, message, now_ms, started, pass, &mut report)
            .await;
        let open_after = self.breaker_open(&route.primary.id, elapsed_now(now_ms, started));
        let reason = fallback_reason(primary.as_ref(), open_after);
        if let (Some(reason), Some(fb)) = (reason, &route.fallback) {
            report.fallback = Some(reason);
            self.try_channel(fb, message, now_ms, started, pass, &mut report)
                .await;
        }
        report.result = self.result(&report, now_ms, pass);
        report
    }

    /// Asks the channel's breaker, attempts if allowed, records the result; `None` when the
    /// breaker refused.
    async fn try_channel(
        &self,
        channel: &Channel,
        message: &Message,
        now_ms: u64,
        started: Instant,
        pass: u32,
        report: &mut DeliveryReport,
    ) -> Option<Outcome> {
        let at = elapsed_now(now_ms, started);
        let permit = {
            let mut st = lock(&self.inner.state);
            let cfg = self.inner.config.breaker;
            st.breakers
                .entry(channel.id.clone())
                .or_insert_with(|| Breaker::new(cfg))
                .check(at)
        };
        if let crate::breaker::Permit::Refused { retry_at_ms } = permit {
            lock(&self.inner.state)
                .counts
                .entry(channel.id.clone())
                .or_default()
                .refused += 1;
            report.refused.push(Refused {
                channel: channel.id.clone(),
                until_ms: retry_at_ms,
            });
            return None;
        }
        let mut attempt = self.send_at(channel, message, at).await;
        attempt.attempt = pass.saturating_add(1);
        {
            let mut st = lock(&self.inner.state);
            let cfg = self.inner.config.breaker;
            let ok = !matches!(attempt.outcome, Outcome::Retry { .. });
            st.breakers
                .entry(channel.id.clone())
                .or_insert_with(|| Breaker::new(cfg))
                .record(ok, elapsed_now(now_ms, started));
        }
        self.count(&channel.id, &attempt.outcome);
        let outcome = attempt.outcome.clone();
        report.attempts.push(attempt);
        Some(outcome)
    }

    fn breaker_open(&self, channel: &str, now_ms: u64) -> bool {
        lock(&self.inner.state)
            .breakers
            .get(channel)
            .is_some_and(|b| b.is_open_at(now_ms))
    }

    fn result(&self, report: &DeliveryReport, now_ms: u64, pass: u32) -> DeliveryResult {
        if let Some(a) = report.attempts.iter().find(|a| a.outcome.is_delivered()) {
            return DeliveryResult::Delivered {
                channel: a.channel.clone(),
            };
        }
        // The longest wait anyone asked for: a receiver's Retry-After, or an open breaker's
        // cool-down (retrying before it ends would only be refused again).
        let mut wait: Option<Duration> = None;
        let mut transient_reason: Option<String> = None;
        for a in &report.attempts {
            if let Outcome::Retry { after, reason } = &a.outcome {
                wait = wait.max(*after);
                transient_reason = Some(format!("{}: {reason}", a.channel));
            }
        }
        for r in &report.refused {
            let d = Duration::from_millis(r.until_ms.saturating_sub(now_ms));
            wait = Some(wait.map_or(d, |w| w.max(d)));
            transient_reason.get_or_insert_with(|| format!("{}: circuit breaker open", r.channel));
        }
        let last_reason = || {
            report
                .attempts
                .last()
                .map(|a| match &a.outcome {
                    Outcome::Permanent { reason } | Outcome::Retry { reason, .. } => {
                        format!("{}: {reason}", a.channel)
                    }
                    Outcome::Delivered => String::new(),
                })
                .unwrap_or_default()
        };
        match transient_reason {
            None => DeliveryResult::Failed {
                reason: last_reason(),
            },
            Some(reason) => {
                let after = {
                    let mut st = lock(&self.inner.state);
                    self.inner.config.backoff.delay(pass, wait, &mut st.rng)
                };
                DeliveryResult::RetryLater { after, reason }
            }
        }
    }

    /// The counters and breaker states now.
    pub fn metrics(&self) -> MetricsSnapshot {
        let st = lock(&self.inner.state);
        MetricsSnapshot {
            notifications: st.counts.clone(),
            breakers: st
                .breakers
                .iter()
                .map(|(k, b)| (k.clone(), b.state()))
                .collect(),
        }
    }

    /// One channel's breaker state (closed for a channel never used).
    pub fn breaker_state(&self, channel: &str) -> BreakerState {
        lock(&self.inner.state)
            .breakers
            .get(channel)
            .map_or(BreakerState::Closed { failures: 0 }, Breaker::state)
    }
}

/// `now_ms` advanced by the real time this pass has taken, so breaker timestamps stay
/// ordered within a pass while the pass's start stays the caller's clock.
fn elapsed_now(now_ms: u64, started: Instant) -> u64 {
    now_ms.saturating_add(u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX))
}

async fn read_capped(mut resp: reqwest::Response, cap: usize) -> Vec<u8> {
    let mut out = Vec::new();
    while out.len() < cap {
        match resp.chunk().await {
            Ok(Some(c)) => out.extend_from_slice(&c),
            _ => break,
        }
    }
    out.truncate(cap);
    out
}

/// A short, single-line excerpt of a receiver's error body, or nothing if it could leak
/// the webhook URL (some receivers echo the request) or is not short plain text.
fn safe_snippet(body: &[u8], url: &str) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let line = one_line(text, 80);
    if line.is_empty() || line.contains("://") {
        return None;
    }
    let path = reqwest::Url::parse(url).ok().map(|u| u.path().to_string());
    if let Some(p) = path.filter(|p| p.len() > 1) {
        if line.contains(p.trim_start_matches('/')) {
            return None;
        }
    }
    Some(line)
}

/// Maps a transport error to an outcome without ever printing the error itself: reqwest's
/// messages contain the full URL, token included.
fn classify_reqwest_error(e: &reqwest::Error, timeout: Duration, url: &str) -> Outcome {
    let target = redact_url(url);
    if e.is_timeout() {
        return Outcome::retry(format!("timed out after {}", human(timeout)));
    }
    if e.is_builder() {
        return Outcome::permanent(format!("invalid webhook URL {target}"));
    }
    let cause = io_cause(e).unwrap_or_else(|| "transport error".to_string());
    if e.is_connect() {
        return Outcome::retry(format!("could not connect to {target}: {cause}"));
    }
    Outcome::retry(format!("request to {target} failed: {cause}"))
}

/// The innermost I/O error kind in an error chain, e.g. `connection refused`.
fn io_cause(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut found = None;
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            // An I/O error wrapping another (rustls's handshake errors arrive this way)
            // says more with it; these texts come from the TLS stack, never from the URL.
            found = Some(match io.get_ref() {
                Some(inner) => one_line(&format!("{}: {inner}", io.kind()), 120),
                None => io.kind().to_string(),
            });
        }
        cur = err.source();
    }
    found
}

fn classify_lettre_error(
    e: &lettre::transport::smtp::Error,
    smtp: &SmtpConfig,
    timeout: Duration,
) -> Outcome {
    let relay = format!("{}:{}", smtp.host, smtp.port());
    if let Some(code) = e.status() {
        // The server's own text; it never holds our password (AUTH sends it, the server
        // does not echo it), but strip it anyway in case a relay does.
        let mut text = e.source().map(|s| s.to_string()).unwrap_or_default();
        if let Some(pw) = smtp.password.as_deref().filter(|p| !p.is_empty()) {
            text = text.replace(pw, "<redacted>");
        }
        return classify_smtp(u16::from(code), &text);
    }
    if e.is_timeout() {
        return Outcome::retry(format!("timed out after {}", human(timeout)));
    }
    if e.is_tls() {
        return Outcome::retry(format!("TLS with SMTP relay {relay} failed"));
    }
    if e.is_client() {
        // lettre's client errors are its own fixed texts (e.g. the relay does not offer
        // STARTTLS), which say what to fix and hold no secret.
        let what = e
            .source()
            .map(|s| one_line(&s.to_string(), 120))
            .unwrap_or_else(|| "client error".to_string());
        return Outcome::permanent(format!("SMTP relay {relay}: {what}"));
    }
    let cause = io_cause(e).unwrap_or_else(|| "connection error".to_string());
    Outcome::retry(format!("could not talk to SMTP relay {relay}: {cause}"))
}

/// The email for a message. Address errors are permanent: retrying a bad address fails
/// the same way.
fn build_email(message: &Message, from: &str, to: &str) -> Result<lettre::Message, Outcome> {
    let from: Mailbox = from
        .parse()
        .map_err(|_| Outcome::permanent("invalid sender address"))?;
    let to: Mailbox = to.parse().map_err(|_| {
        Outcome::permanent(format!("invalid recipient address `{}`", one_line(to, 100)))
    })?;
    // A Message-ID derived from the delivery id lets mail clients thread and de-duplicate
    // a message delivered twice; the hash keeps it within Message-ID syntax.
    let digest = hex::encode(Sha256::digest(message.delivery_id.as_bytes()));
    let domain = from.email.domain().to_string();
    lettre::Message::builder()
        .from(from)
        .to(to)
        .subject(message.subject())
        .message_id(Some(format!("<sitrep.{}@{domain}>", &digest[..32])))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("X-Sitrep-Delivery"),
            one_line(&message.delivery_id, 200),
        ))
        .header(ContentType::TEXT_PLAIN)
        .body(message.text())
        .map_err(|_| Outcome::permanent("the email could not be built"))
}
