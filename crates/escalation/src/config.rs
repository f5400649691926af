//! The escalation config: people, channels, rotations, policies, severities and which
//! policy a service uses, parsed from TOML text into typed values.
//!
//! Parsing checks shape (types, durations, time zones, id syntax); whether references
//! resolve is [`crate::lint`]'s job, so a config with a dangling name still loads and
//! lint can say everything that is wrong with it at once.

use std::collections::BTreeMap;
use std::fmt;

use jiff::civil::{Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Deserializer, Serialize};

/// Most times a policy may run again: a bound that keeps `due` cheap on any config.
pub const MAX_REPEAT: u32 = 100;

/// A whole escalation config. Build it with [`Config::from_toml`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Which default severity table applies: `sev` (SEV1-SEV4) or `priority` (P0-P3).
    #[serde(default)]
    pub severity_scheme: SeverityScheme,
    /// Policy for services not listed in `services`.
    #[serde(default, deserialize_with = "de_opt_id")]
    pub default_policy: Option<String>,
    /// People who can be paged.
    #[serde(default)]
    pub people: Vec<Person>,
    /// Shared destinations (a team room, a mailing list) paged without a person.
    #[serde(default)]
    pub channels: Vec<Channel>,
    /// On-call rotations.
    #[serde(default)]
    pub rotations: Vec<Rotation>,
    /// Escalation policies.
    #[serde(default)]
    pub policies: Vec<Policy>,
    /// Which policy each service uses.
    #[serde(default)]
    pub services: Vec<Service>,
    /// Per-severity settings given in the file; they replace the default of the same name.
    #[serde(default, rename = "severities")]
    pub severity_overrides: BTreeMap<String, SeveritySettings>,
    /// Webhook hosts allowed although they are loopback, link-local or a cloud metadata
    /// service (`allow_targets = ["127.0.0.1"]`); lint and loading warn on the others.
    #[serde(default)]
    pub allow_targets: Vec<String>,
}

/// The default severity table a config starts from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SeverityScheme {
    /// SEV1 (worst) to SEV4.
    #[default]
    Sev,
    /// P0 (worst) to P3, with the same settings as SEV1 to SEV4.
    Priority,
}

/// Acknowledgement target and status-update cadence of one severity.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SeveritySettings {
    /// Someone should acknowledge within this long of declaration.
    #[serde(default, deserialize_with = "de_opt_duration")]
    pub ack_target: Option<SignedDuration>,
    /// The commander should post a status update at least this often; none = never.
    #[serde(default, deserialize_with = "de_opt_duration")]
    pub update_every: Option<SignedDuration>,
    /// Remind the commander to post a final update when the incident resolves.
    #[serde(default)]
    pub update_on_resolve: bool,
    /// Remind the commander to escalate when the incident is still unresolved this long
    /// after declaration (a runbook's `Escalation: After 30 minutes`); none = never.
    #[serde(default, deserialize_with = "de_opt_duration")]
    pub escalate_after: Option<SignedDuration>,
}

/// A person and the ways to reach them; a page goes to every contact method.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Person {
    /// Unique id, referenced by rotations and policies.
    #[serde(deserialize_with = "de_id")]
    pub id: String,
    /// Display name.
    pub name: String,
    /// Contact methods, each with its own id.
    #[serde(default)]
    pub contacts: Vec<Contact>,
}

/// A shared destination paged as a whole.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "RawContact")]
pub struct Channel {
    /// The channel id, referenced by policies as `channel:ID`.
    pub id: String,
    /// Where to send; its id is the channel id.
    pub contact: Contact,
}

/// One way to reach someone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawContact")]
pub struct Contact {
    /// Unique among all contacts and channels; part of every page id.
    pub id: String,
    /// Where to send.
    #[serde(flatten)]
    pub method: ContactMethod,
}

/// Where a page is delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "to", rename_all = "snake_case")]
pub enum ContactMethod {
    /// An email address (SMTP).
    Email(String),
    /// A generic JSON webhook URL.
    Webhook(String),
    /// A Slack-compatible incoming-webhook URL.
    SlackWebhook(String),
}

impl ContactMethod {
    /// `email`, `webhook` or `slack_webhook`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Email(_) => "email",
            Self::Webhook(_) => "webhook",
            Self::SlackWebhook(_) => "slack_webhook",
        }
    }

    /// The address or URL.
    pub fn address(&self) -> &str {
        match self {
            Self::Email(s) | Self::Webhook(s) | Self::SlackWebhook(s) => s,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawContact {
    #[serde(deserialize_with = "de_id")]
    id: String,
    email: Option<String>,
    webhook: Option<String>,
    slack_webhook: Option<String>,
}

impl TryFrom<RawContact> for Contact {
    type Error = String;
    fn try_from(r: RawContact) -> Result<Self, String> {
        let method = match (r.email, r.webhook, r.slack_webhook) {
            (Some(e), None, None) if e.contains('@') => ContactMethod::Email(e),
            (Some(e), None, None) => return Err(format!("`{e}` is not an email address")),
            (None, Some(u), None) => ContactMethod::Webhook(check_url(u)?),
            (None, None, Some(u)) => ContactMethod::SlackWebhook(check_url(u)?),
            _ => {
                return Err(format!(
                    "contact `{}` needs exactly one of `email`, `webhook`, `slack_webhook`",
                    r.id
                ));
            }
        };
        Ok(Self { id: r.id, method })
    }
}

impl TryFrom<RawContact> for Channel {
    type Error = String;
    fn try_from(r: RawContact) -> Result<Self, String> {
        let contact = Contact::try_from(r)?;
        Ok(Self {
            id: contact.id.clone(),
            contact,
        })
    }
}

fn check_url(u: String) -> Result<String, String> {
    if u.starts_with("https://") || u.starts_with("http://") {
        Ok(u)
    } else {
        Err(format!("`{u}` is not an http(s) URL"))
    }
}

/// An on-call rotation: participants take turns, handing off at a local time.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rotation {
    /// Unique id, referenced by policies as `rotation:ID`.
    #[serde(deserialize_with = "de_id")]
    pub id: String,
    /// Person ids in turn order; the first is on call from `start`.
    #[serde(default)]
    pub participants: Vec<String>,
    /// How often the turn passes on.
    pub handoff: Handoff,
    /// Local wall-clock time of the hand-off, e.g. `09:00`.
    #[serde(deserialize_with = "de_time")]
    pub handoff_time: Time,
    /// For weekly rotations: the hand-off day; defaults to the weekday of `start`.
    #[serde(default, deserialize_with = "de_opt_weekday")]
    pub handoff_weekday: Option<Weekday>,
    /// The IANA time zone the hand-off time is in.
    #[serde(deserialize_with = "de_tz")]
    pub time_zone: Zone,
    /// When the first participant's first turn begins.
    #[serde(deserialize_with = "de_timestamp")]
    pub start: Timestamp,
    /// Temporary replacements; a later override wins over an earlier one.
    #[serde(default)]
    pub overrides: Vec<Override>,
}

/// A time zone with the name it was configured by.
#[derive(Debug, Clone)]
pub struct Zone {
    /// The IANA name, e.g. `Europe/Berlin`.
    pub name: String,
    /// The zone's rules, from the tzdb compiled into the binary.
    pub tz: TimeZone,
}

/// How often a rotation hands off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Handoff {
    /// Every day at `handoff_time`.
    Daily,
    /// Every week on `handoff_weekday` at `handoff_time`.
    Weekly,
}

/// `person` is on call instead of the scheduled participant during `[start, end)`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Override {
    /// First instant covered.
    #[serde(deserialize_with = "de_timestamp")]
    pub start: Timestamp,
    /// First instant no longer covered.
    #[serde(deserialize_with = "de_timestamp")]
    pub end: Timestamp,
    /// Who is on call instead.
    pub person: String,
}

/// An escalation policy: ordered levels, run again `repeat` times if nobody acknowledges.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Unique id, referenced by services.
    #[serde(deserialize_with = "de_id")]
    pub id: String,
    /// Levels in the order they fire.
    #[serde(default)]
    pub levels: Vec<Level>,
    /// How many more times the whole policy runs after its last level.
    #[serde(default, deserialize_with = "de_repeat")]
    pub repeat: u32,
    /// Wait after the last level before a repeat's first level (instead of that level's
    /// own delay, which counts from declaration).
    #[serde(default = "default_repeat_after", deserialize_with = "de_duration")]
    pub repeat_after: SignedDuration,
}

fn default_repeat_after() -> SignedDuration {
    SignedDuration::from_mins(30)
}

/// One level of a policy.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Level {
    /// Wait after the previous level fired (after declaration for the first level).
    #[serde(default, deserialize_with = "de_duration")]
    pub delay: SignedDuration,
    /// Who is paged when the level fires.
    #[serde(default)]
    pub targets: Vec<Target>,
}

/// Something a level pages: written `person:ID`, `rotation:ID` or `channel:ID`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    /// Every contact method of one person.
    Person(String),
    /// Every contact method of whoever is on call when the level fires.
    Rotation(String),
    /// A shared channel.
    Channel(String),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Person(id) => write!(f, "person:{id}"),
            Self::Rotation(id) => write!(f, "rotation:{id}"),
            Self::Channel(id) => write!(f, "channel:{id}"),
        }
    }
}

impl std::str::FromStr for Target {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}` is not a target: write person:ID, rotation:ID or channel:ID");
        let (kind, id) = s.split_once(':').ok_or_else(bad)?;
        check_id(id).map_err(|_| bad())?;
        let id = id.to_string();
        match kind {
            "person" => Ok(Self::Person(id)),
            "rotation" => Ok(Self::Rotation(id)),
            "channel" => Ok(Self::Channel(id)),
            _ => Err(bad()),
        }
    }
}

impl<'de> Deserialize<'de> for Target {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for Target {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Which policy a service's incidents use.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// The service name incidents carry.
    pub id: String,
    /// The policy id; none means the config's `default_policy`.
    #[serde(default, deserialize_with = "de_opt_id")]
    pub policy: Option<String>,
}

/// A config that could not be read, with where in the file the problem is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct ConfigError {
    /// The key path, e.g. `policies[0].levels[1].delay`; empty for syntax errors.
    pub path: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column (in characters), when known.
    pub column: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl ConfigError {
    fn render(&self) -> String {
        let mut s = String::new();
        if let Some(l) = self.line {
            s.push_str(&format!("line {l}"));
            if let Some(c) = self.column {
                s.push_str(&format!(", column {c}"));
            }
            s.push_str(": ");
        }
        if !self.path.is_empty() && self.path != "." {
            s.push_str(&format!("`{}`: ", self.path));
        }
        s.push_str(&self.message);
        s
    }
}

impl Config {
    /// Parses a config from TOML text. Errors name the key path and the line.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let de =
            toml::Deserializer::parse(text).map_err(|e| toml_error(text, &e, String::new()))?;
        serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            toml_error(text, e.inner(), path)
        })
    }

    /// The effective severity table: the scheme's defaults with the file's entries on top.
    pub fn severities(&self) -> BTreeMap<String, SeveritySettings> {
        let mut out = default_severities(self.severity_scheme);
        for (k, v) in &self.severity_overrides {
            out.insert(k.clone(), v.clone());
        }
        out
    }

    /// The effective settings of one severity, without building the whole table.
    pub fn severity(&self, name: &str) -> Option<SeveritySettings> {
        if let Some(s) = self.severity_overrides.get(name) {
            return Some(s.clone());
        }
        default_severity(self.severity_scheme, name)
    }

    /// The person with this id.
    pub fn person(&self, id: &str) -> Option<&Person> {
        self.people.iter().find(|p| p.id == id)
    }

    /// The rotation with this id.
    pub fn rotation(&self, id: &str) -> Option<&Rotation> {
        self.rotations.iter().find(|r| r.id == id)
    }

    /// The channel with this id.
    pub fn channel(&self, id: &str) -> Option<&Channel> {
        self.channels.iter().find(|c| c.id == id)
    }

    /// The policy with this id.
    pub fn policy(&self, id: &str) -> Option<&Policy> {
        self.policies.iter().find(|p| p.id == id)
    }

    /// The policy id a service's incidents use, if any.
    pub fn policy_id_for(&self, service: &str) -> Option<&str> {
        match self.services.iter().find(|s| s.id == service) {
            Some(s) => s.policy.as_deref().or(self.default_policy.as_deref()),
            None => self.default_policy.as_deref(),
        }
    }
}

/// SEV1-SEV4 (or P0-P3): acknowledge within 5, 15, 30, 60 minutes; updates every 15, 30
/// and 60 minutes and on resolution for the first three; the lowest has no cadence.
pub fn default_severities(scheme: SeverityScheme) -> BTreeMap<String, SeveritySettings> {
    default_names(scheme)
        .into_iter()
        .filter_map(|name| Some((name.to_string(), default_severity(scheme, name)?)))
        .collect()
}

/// (ack target, update cadence, final update) in minutes, worst severity first.
const DEFAULTS: [(i64, Option<i64>, bool); 4] = [
    (5, Some(15), true),
    (15, Some(30), true),
    (30, Some(60), true),
    (60, None, false),
];

fn default_names(scheme: SeverityScheme) -> [&'static str; 4] {
    match scheme {
        SeverityScheme::Sev => ["SEV1", "SEV2", "SEV3", "SEV4"],
        SeverityScheme::Priority => ["P0", "P1", "P2", "P3"],
    }
}

/// One default entry, without building the table (`due` looks one up per call).
fn default_severity(scheme: SeverityScheme, name: &str) -> Option<SeveritySettings> {
    let i = default_names(scheme).iter().position(|n| *n == name)?;
    let (ack, every, on_resolve) = DEFAULTS.get(i)?;
    Some(SeveritySettings {
        ack_target: Some(SignedDuration::from_mins(*ack)),
        update_every: every.map(SignedDuration::from_mins),
        update_on_resolve: *on_resolve,
        escalate_after: None,
    })
}

fn toml_error(text: &str, e: &toml::de::Error, path: String) -> ConfigError {
    let (line, column) = match e.span() {
        Some(span) => {
            let before = text.get(..span.start).unwrap_or(text);
            let line = before.matches('\n').count() + 1;
            let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            (Some(line), Some(col))
        }
        None => (None, None),
    };
    ConfigError {
        path,
        line,
        column,
        message: e.message().trim().to_string(),
    }
}

/// Ids become parts of page ids, so they are restricted to a safe alphabet (no `:`).
pub(crate) fn check_id(s: &str) -> Result<(), String> {
    if !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        Ok(())
    } else {
        Err(format!(
            "`{s}` is not a valid id: use 1-128 letters, digits, `-`, `_` or `.`"
        ))
    }
}

fn de_id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    check_id(&s).map_err(serde::de::Error::custom)?;
    Ok(s)
}

fn de_opt_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    de_id(d).map(Some)
}

fn parse_duration(s: &str) -> Result<SignedDuration, String> {
    let d: SignedDuration = s
        .parse()
        .map_err(|_| format!("`{s}` is not a duration (write e.g. `90s`, `5m`, `1h 30m`)"))?;
    if d.is_negative() {
        return Err(format!("`{s}` is negative"));
    }
    Ok(d)
}

fn de_duration<'de, D: Deserializer<'de>>(d: D) -> Result<SignedDuration, D::Error> {
    let s = String::deserialize(d)?;
    parse_duration(&s).map_err(serde::de::Error::custom)
}

fn de_opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SignedDuration>, D::Error> {
    let s = String::deserialize(d)?;
    if s == "none" {
        return Ok(None);
    }
    parse_duration(&s)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

fn de_repeat<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let n = u32::deserialize(d)?;
    if n > MAX_REPEAT {
        return Err(serde::de::Error::custom(format!(
            "repeat {n} is more than {MAX_REPEAT}"
        )));
    }
    Ok(n)
}

fn de_time<'de, D: Deserializer<'de>>(d: D) -> Result<Time, D::Error> {
    let s = String::deserialize(d)?;
    s.parse().map_err(|e| {
        serde::de::Error::custom(format!("`{s}` is not a time of day like 09:00: {e}"))
    })
}

fn de_opt_weekday<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Weekday>, D::Error> {
    let s = String::deserialize(d)?;
    let w = match s.to_ascii_lowercase().as_str() {
        "monday" | "mon" => Weekday::Monday,
        "tuesday" | "tue" => Weekday::Tuesday,
        "wednesday" | "wed" => Weekday::Wednesday,
        "thursday" | "thu" => Weekday::Thursday,
        "friday" | "fri" => Weekday::Friday,
        "saturday" | "sat" => Weekday::Saturday,
        "sunday" | "sun" => Weekday::Sunday,
        _ => {
            return Err(serde::de::Error::custom(format!(
                "`{s}` is not a weekday (monday ... sunday)"
            )));
        }
    };
    Ok(Some(w))
}

fn de_tz<'de, D: Deserializer<'de>>(d: D) -> Result<Zone, D::Error> {
    let name = String::deserialize(d)?;
    let tz = TimeZone::get(&name).map_err(|_| {
        serde::de::Error::custom(format!(
            "`{name}` is not an IANA time zone (e.g. Europe/Berlin, UTC)"
        ))
    })?;
    Ok(Zone { name, tz })
}

/// Accepts a TOML offset date-time (`start = 2026-03-01T09:00:00+01:00`) or the same
/// as a string; a date-time without an offset is ambiguous and rejected.
fn de_timestamp<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Text(String),
        Toml(toml::value::Datetime),
    }
    let s = match Raw::deserialize(d)? {
        Raw::Text(s) => s,
        Raw::Toml(dt) => dt.to_string(),
    };
    s.parse().map_err(|_| {
        serde::de::Error::custom(format!(
            "`{s}` is not an instant: write an RFC 3339 time with an offset, e.g. 2026-03-01T09:00:00+01:00"
        ))
    })
}
