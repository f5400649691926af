//! sitrep's configuration: one TOML file plus `SITREP_*` environment overrides.
//!
//! Every field has a default, so no file at all is a valid configuration (the demo and a
//! first `sitrep incident declare` need none). Unknown keys are errors that name the key
//! and its line, because a misspelt setting silently ignored is a 3 a.m. surprise.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer};
use sitrep_escalation::SeverityScheme;

use crate::payloads::Rate;

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The file this config was loaded from (it may hold secrets: unattended runs
    /// cannot read it).
    #[serde(skip)]
    pub source: Option<PathBuf>,
    /// Where the SQLite database, blobs and the ledger key live.
    #[serde(default)]
    pub data_dir: Option<PathBuf>,
    /// A `postgres://` URL to use instead of the SQLite file in `data_dir`.
    #[serde(default)]
    pub database_url: Option<String>,
    /// The runbook directory.
    #[serde(default)]
    pub runbooks: Option<PathBuf>,
    /// The checkpoint origin line: names this log (e.g. `sitrep.example.com/ledger`).
    /// Used when the data dir's key is created; afterwards the key's name is the origin.
    #[serde(default = "default_origin")]
    pub origin: String,
    /// `sev` (SEV1-SEV4) or `priority` (P0-P3); the escalation file may refine the table.
    #[serde(default)]
    pub severity_scheme: SeverityScheme,
    /// The escalation policy file (people, rotations, policies), if paging is wanted.
    #[serde(default)]
    pub escalation: Option<PathBuf>,
    /// Site risk rules for every runbook (`[[risk]] match = "stella evidence verify"
    /// level = "read"`), e.g. for a team's own CLIs in runbooks imported unchanged.
    #[serde(default)]
    pub risk: Vec<sitrep_risk::CustomRule>,
    /// How steps run.
    #[serde(default)]
    pub executor: ExecutorConfig,
    /// Who must approve what.
    #[serde(default)]
    pub policy: PolicyConfig,
    /// Alert routing (`[[alerts.route]]`, `[alerts.default]`).
    #[serde(default)]
    pub alerts: sitrep_alerts::RoutingConfig,
    /// The HTTP server.
    #[serde(default)]
    pub server: ServerConfig,
    /// How pages are delivered.
    #[serde(default)]
    pub notify: NotifyConfig,
    /// Where evidence bytes are kept besides the data dir.
    #[serde(default)]
    pub evidence: EvidenceConfig,
    /// Key files outside the data dir (a secret every replica mounts).
    #[serde(default)]
    pub keys: KeysConfig,
    /// The ledger's startup check.
    #[serde(default)]
    pub ledger: LedgerConfig,
    /// Database timeouts (faults answer fast).
    #[serde(default)]
    pub store: crate::tuning::StoreConfig,
    /// Bounds on unattended runs.
    #[serde(default)]
    pub unattended: crate::tuning::UnattendedConfig,
    /// Where query steps run (`[datasources.NAME]`).
    #[serde(default)]
    pub datasources: crate::datasources::DatasourcesConfig,
}

/// `[ledger]`: how the startup check re-hashes the signed ledger (docs/store.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerConfig {
    /// Above this many signed entries the re-hash runs in the background: the server
    /// serves at once, `/readyz` says `degraded` and nothing is signed until it passes.
    #[serde(default = "default_verify_in_background_above")]
    pub verify_in_background_above: u64,
}

impl Default for LedgerConfig {
    fn default() -> Self {
        LedgerConfig {
            verify_in_background_above: default_verify_in_background_above(),
        }
    }
}

fn default_verify_in_background_above() -> u64 {
    1_000_000
}

/// Where the keys are, when not in the data dir: replicas with their own data dirs
/// must sign as one log and accept each other's acknowledge links, so they read the same
/// files (a mounted secret). A missing file is created (mode 0600) as in the data dir.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeysConfig {
    /// The ledger signing key (`sitrep key generate` writes one); default
    /// `<data_dir>/ledger.key`.
    #[serde(default)]
    pub ledger: Option<PathBuf>,
    /// The acknowledge-link secret; default `<data_dir>/ack.key`.
    #[serde(default)]
    pub ack: Option<PathBuf>,
}

/// Evidence bytes: always in the data dir's blob store; with `remote`, also in a shared
/// S3-compatible bucket, so replicas (each with its own data dir) read each other's.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceConfig {
    /// `s3://bucket[/prefix]`.
    #[serde(default)]
    pub remote: Option<String>,
    /// An S3-compatible endpoint URL (MinIO, Ceph, R2...); AWS when absent.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// The bucket's region.
    #[serde(default)]
    pub region: Option<String>,
    /// Allow a plain-HTTP endpoint (tests, a bucket on the same host).
    #[serde(default)]
    pub allow_http: bool,
    /// Access key id; `AWS_ACCESS_KEY_ID` when absent.
    #[serde(default)]
    pub access_key_id: Option<String>,
    /// Secret access key; `AWS_SECRET_ACCESS_KEY` when absent.
    #[serde(default)]
    pub secret_access_key: Option<String>,
    /// How long after an incident resolves its evidence bytes are kept (`"400d"`);
    /// kept forever when absent. Ledger records are always kept; a legal hold wins.
    #[serde(default, deserialize_with = "de_opt_duration")]
    pub retention: Option<Duration>,
}

// By hand, so the secret never reaches a log line.
impl std::fmt::Debug for EvidenceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvidenceConfig")
            .field("remote", &self.remote)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("allow_http", &self.allow_http)
            .field("access_key_id", &self.access_key_id)
            .field("retention", &self.retention)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

/// How pages are delivered (the people and contacts are in the escalation file).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    /// The SMTP relay for email contacts.
    #[serde(default)]
    pub smtp: Option<sitrep_notify::SmtpConfig>,
    /// `attachments` (Slack and Mattermost) or `blocks`.
    #[serde(default)]
    pub slack_style: sitrep_notify::SlackStyle,
    /// Timeout of one delivery attempt.
    #[serde(default = "default_notify_timeout", deserialize_with = "de_duration")]
    pub timeout: Duration,
    /// An escalation channel id that takes a page while the primary's breaker is open
    /// or after it refused the page permanently.
    #[serde(default)]
    pub fallback: Option<String>,
    /// How long a claimed page stays with its worker before another may deliver it
    /// (after a crash, the page goes out again this long after the claim).
    #[serde(default = "default_claim_lock", deserialize_with = "de_duration")]
    pub claim_lock: Duration,
    /// At most `burst` messages to one contact per `per`; more are held (as durable
    /// jobs) and sent as one digest.
    #[serde(default)]
    pub rate_limit: ContactRateLimit,
}

/// `{ burst = 5, per = "10m" }`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactRateLimit {
    /// Messages allowed in one window (0: no limit).
    pub burst: u32,
    /// The window.
    #[serde(deserialize_with = "de_duration")]
    pub per: Duration,
}

impl Default for ContactRateLimit {
    fn default() -> Self {
        ContactRateLimit {
            burst: 5,
            per: Duration::from_secs(600),
        }
    }
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            smtp: None,
            slack_style: sitrep_notify::SlackStyle::default(),
            timeout: default_notify_timeout(),
            fallback: None,
            claim_lock: default_claim_lock(),
            rate_limit: ContactRateLimit::default(),
        }
    }
}

impl NotifyConfig {
    /// What channels built from escalation contacts get.
    #[must_use]
    pub fn channel_defaults(&self) -> sitrep_notify::ChannelDefaults {
        sitrep_notify::ChannelDefaults {
            timeout: self.timeout,
            slack_style: self.slack_style,
            smtp: self.smtp.clone(),
        }
    }
}

fn default_claim_lock() -> Duration {
    Duration::from_secs(60)
}

fn default_notify_timeout() -> Duration {
    Duration::from_secs(10)
}

/// How steps run.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecutorConfig {
    /// Timeout of a step that sets none.
    #[serde(default = "default_timeout", deserialize_with = "de_duration")]
    pub default_timeout: Duration,
    /// Bytes of output kept per stream (half head, half tail).
    #[serde(default = "default_capture")]
    pub capture_bytes: usize,
    /// Read steps run together in a section run or auto-triage.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Literal values to redact from every output and record (e.g. a known password);
    /// each at least `Redactor::MIN_LITERAL_CHARS` characters.
    #[serde(default, deserialize_with = "de_redact")]
    pub redact: Vec<String>,
    /// Extra environment for every run (e.g. `KUBECONFIG`).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// More paths unattended runs may not read, beside the data dir, the key files and
    /// the config file (e.g. a secrets directory).
    #[serde(default)]
    pub sandbox_deny: Vec<PathBuf>,
    /// Run unattended diagnostics without the Landlock sandbox where the kernel has
    /// none. Off by default: such runs are refused instead.
    #[serde(default)]
    pub unsandboxed_triage: bool,
}

/// Approval and stand-down policy.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// Which risk levels need a second person at which severities.
    #[serde(default)]
    pub approvals: Vec<ApprovalRule>,
    /// Checklist items every incident must tick before it resolves, beside its runbooks'.
    #[serde(default)]
    pub stand_down: Vec<String>,
}

/// `{ level = "destructive", severities = ["SEV1", "SEV2"] }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalRule {
    /// `write`, `unknown` or `destructive`.
    pub level: String,
    /// Severities at which it applies; empty = all.
    #[serde(default)]
    pub severities: Vec<String>,
}

/// The HTTP server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// The URL people reach the server at, for links in pages and the post-mortem.
    #[serde(default)]
    pub base_url: Option<String>,
    /// How alert senders authenticate (`[server.receivers]`).
    #[serde(default)]
    pub receivers: ReceiversConfig,
    /// Largest JSON API request body, in bytes.
    #[serde(default = "default_api_body")]
    pub api_body_limit: usize,
    /// Largest alert webhook body, in bytes.
    #[serde(default = "default_receiver_body")]
    pub receiver_body_limit: usize,
    /// Longest a request may take before it is answered 408 (streams excepted).
    #[serde(default = "default_request_timeout", deserialize_with = "de_duration")]
    pub request_timeout: Duration,
    /// How long a browser session lasts after login.
    #[serde(default = "default_session_ttl", deserialize_with = "de_duration")]
    pub session_ttl: Duration,
    /// Longest a new connection may take to send its first request line and headers;
    /// a client that stalls is disconnected, so half-sent requests cannot hold sockets.
    #[serde(default = "default_header_timeout", deserialize_with = "de_duration")]
    pub header_timeout: Duration,
    /// Longest pause while a request body is being received (the wait restarts with
    /// each piece that arrives).
    #[serde(default = "default_body_timeout", deserialize_with = "de_duration")]
    pub body_timeout: Duration,
    /// Longest a kept-alive connection may wait after a response for the next request's
    /// headers to arrive in full; then it is closed. Never applies while a response
    /// (such as a live stream) is being written.
    #[serde(default = "default_idle_timeout", deserialize_with = "de_duration")]
    pub idle_timeout: Duration,
    /// Most connections open at once; beyond it new ones are answered 503 and closed at
    /// once. Keep it well below the process's file-descriptor limit (`ulimit -n`).
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Most connections open at once from one client IP address (behind a reverse proxy
    /// every client shares the proxy's address: raise it to `max_connections` there).
    #[serde(default = "default_max_connections_per_ip")]
    pub max_connections_per_ip: usize,
    /// Silences from configuration (`[[server.silences]]`), beside those made through
    /// the API.
    #[serde(default)]
    pub silences: Vec<sitrep_alerts::Silence>,
    /// Live streams: caps and buffers (`[server.streams]`, `limits.rs`).
    #[serde(default)]
    pub streams: crate::limits::StreamsConfig,
    /// Failed logins and bearer tokens per client address (`[server.guessing]`).
    #[serde(default)]
    pub guessing: crate::limits::GuessingConfig,
    /// What all silences' regexes may cost together (`[server.regex_budget]`).
    #[serde(default)]
    pub regex_budget: crate::limits::RegexBudgetConfig,
}

/// Credentials alert senders present instead of an API token. Either works; with
/// neither set, receivers accept only API tokens of role responder or above. Then the
/// limits on what they may send and what is kept (docs/alerts.md, "Receiver limits";
/// defaults, `Default` and `Debug` in `payloads.rs`).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiversConfig {
    /// A bearer token (`Authorization: Bearer ...`), as Alertmanager's
    /// `http_config.authorization` sends it. At least 16 random-looking characters.
    #[serde(default, deserialize_with = "crate::limits::de_secret")]
    pub token: Option<String>,
    /// `user:password` for HTTP basic auth, as Grafana's webhook contact point sends it;
    /// the password needs at least 16 random-looking characters.
    #[serde(default, deserialize_with = "crate::limits::de_basic")]
    pub basic: Option<String>,
    /// Sustained deliveries per receiver and credential, per process (`"100/s"`).
    #[serde(default = "crate::payloads::default_receiver_rate")]
    pub rate: Rate,
    /// Deliveries per receiver and credential allowed at once; 0 turns the limit off.
    #[serde(default = "crate::payloads::default_receiver_burst")]
    pub burst: u32,
    /// How long accepted raw payloads are kept.
    #[serde(
        default = "crate::payloads::default_raw_keep",
        deserialize_with = "de_duration"
    )]
    pub raw_keep: Duration,
    /// How long raw payloads answered 4xx are kept.
    #[serde(
        default = "crate::payloads::default_raw_keep_rejected",
        deserialize_with = "de_duration"
    )]
    pub raw_keep_rejected: Duration,
    /// Most bytes raw payloads may hold; past it the oldest go, rejected ones first.
    #[serde(default = "crate::payloads::default_raw_max_bytes")]
    pub raw_max_bytes: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            source: None,
            data_dir: None,
            database_url: None,
            runbooks: None,
            origin: default_origin(),
            severity_scheme: SeverityScheme::default(),
            escalation: None,
            risk: Vec::new(),
            executor: ExecutorConfig::default(),
            policy: PolicyConfig::default(),
            alerts: sitrep_alerts::RoutingConfig::default(),
            server: ServerConfig::default(),
            notify: NotifyConfig::default(),
            evidence: EvidenceConfig::default(),
            keys: KeysConfig::default(),
            ledger: LedgerConfig::default(),
            store: crate::tuning::StoreConfig::default(),
            unattended: crate::tuning::UnattendedConfig::default(),
            datasources: crate::datasources::DatasourcesConfig::default(),
        }
    }
}

impl Default for ExecutorConfig {
    fn default() -> Self {
        ExecutorConfig {
            default_timeout: default_timeout(),
            capture_bytes: default_capture(),
            concurrency: default_concurrency(),
            redact: Vec::new(),
            env: BTreeMap::new(),
            sandbox_deny: Vec::new(),
            unsandboxed_triage: false,
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: default_listen(),
            base_url: None,
            receivers: ReceiversConfig::default(),
            api_body_limit: default_api_body(),
            receiver_body_limit: default_receiver_body(),
            request_timeout: default_request_timeout(),
            session_ttl: default_session_ttl(),
            header_timeout: default_header_timeout(),
            body_timeout: default_body_timeout(),
            idle_timeout: default_idle_timeout(),
            max_connections: default_max_connections(),
            max_connections_per_ip: default_max_connections_per_ip(),
            silences: Vec::new(),
            streams: crate::limits::StreamsConfig::default(),
            guessing: crate::limits::GuessingConfig::default(),
            regex_budget: crate::limits::RegexBudgetConfig::default(),
        }
    }
}

fn default_origin() -> String {
    "sitrep.local/ledger".to_owned()
}
fn default_timeout() -> Duration {
    Duration::from_secs(300)
}
fn default_capture() -> usize {
    1 << 20
}
fn default_concurrency() -> usize {
    4
}
fn default_listen() -> String {
    "127.0.0.1:8080".to_owned()
}

fn default_api_body() -> usize {
    1 << 20
}
fn default_receiver_body() -> usize {
    4 << 20
}
fn default_request_timeout() -> Duration {
    Duration::from_secs(60)
}
fn default_header_timeout() -> Duration {
    Duration::from_secs(5)
}
fn default_body_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_idle_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_max_connections() -> usize {
    512
}
fn default_max_connections_per_ip() -> usize {
    64
}
fn default_session_ttl() -> Duration {
    Duration::from_secs(12 * 3600)
}

fn de_opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    de_duration(d).map(Some)
}

fn de_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    humantime::parse_duration(&s)
        .map_err(|e| serde::de::Error::custom(format!("bad duration {s:?}: {e}")))
}

/// `[executor] redact`: a literal shorter than the redactor's minimum would be masked
/// inside every word holding it, and the masks would show where (so what) it is.
fn de_redact<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let min = sitrep_executor::Redactor::MIN_LITERAL_CHARS;
    let values = Vec::<String>::deserialize(d)?;
    if let Some(i) = values.iter().position(|v| v.chars().count() < min) {
        // Never the value itself: it is a secret.
        return Err(serde::de::Error::custom(format!(
            "entry {} is shorter than {min} characters; a literal that short would be \
             masked inside every word containing it, revealing where it sits: remove it \
             or give the whole secret",
            i + 1
        )));
    }
    Ok(values)
}

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not valid configuration.
    #[error("{path}:{line}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line of the problem (1 when unknown).
        line: usize,
        /// What is wrong, naming the key.
        message: String,
    },
    /// An environment override has a bad value.
    #[error("environment variable {name}: {message}")]
    Env {
        /// The variable.
        name: &'static str,
        /// What is wrong.
        message: String,
    },
}

impl Config {
    /// Parses TOML text; `path` names it in errors.
    pub fn from_toml(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let de = toml::Deserializer::parse(text).map_err(|e| parse_error(text, path, &e, ""))?;
        serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            parse_error(text, path, e.inner(), &key)
        })
    }

    /// Reads the file at `path`; relative paths inside it are taken from its directory.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut cfg = Config::from_toml(&text, path)?;
        cfg.source = Some(std::path::absolute(path).unwrap_or_else(|_| path.to_owned()));
        let base = path.parent().unwrap_or(Path::new("."));
        for p in [
            &mut cfg.data_dir,
            &mut cfg.runbooks,
            &mut cfg.escalation,
            &mut cfg.keys.ledger,
            &mut cfg.keys.ack,
        ]
        .into_iter()
        .flatten()
        {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        for p in &mut cfg.executor.sandbox_deny {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        Ok(cfg)
    }

    /// Applies `SITREP_DATA_DIR`, `SITREP_DATABASE_URL`, `SITREP_RUNBOOKS`,
    /// `SITREP_ESCALATION`, `SITREP_LISTEN` and `SITREP_BASE_URL` from `env` (a lookup
    /// function, so tests need not touch the process environment).
    pub fn apply_env(&mut self, env: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        let non_empty = |name: &'static str| -> Result<Option<String>, ConfigError> {
            match env(name) {
                Some(v) if v.trim().is_empty() => Err(ConfigError::Env {
                    name,
                    message: "is set but empty".into(),
                }),
                other => Ok(other),
            }
        };
        if let Some(v) = non_empty("SITREP_DATA_DIR")? {
            self.data_dir = Some(v.into());
        }
        if let Some(v) = non_empty("SITREP_DATABASE_URL")? {
            self.database_url = Some(v);
        }
        if let Some(v) = non_empty("SITREP_RUNBOOKS")? {
            self.runbooks = Some(v.into());
        }
        if let Some(v) = non_empty("SITREP_ESCALATION")? {
            self.escalation = Some(v.into());
        }
        if let Some(v) = non_empty("SITREP_LISTEN")? {
            self.server.listen = v;
        }
        if let Some(v) = non_empty("SITREP_BASE_URL")? {
            self.server.base_url = Some(v);
        }
        Ok(())
    }
}

fn parse_error(text: &str, path: &Path, e: &toml::de::Error, key: &str) -> ConfigError {
    let line = e.span().map_or(1, |s| {
        text[..s.start.min(text.len())].matches('\n').count() + 1
    });
    let msg = e.message().trim_end().to_owned();
    let message = if key.is_empty() || key == "." {
        msg
    } else {
        format!("{key}: {msg}")
    };
    ConfigError::Parse {
        path: path.to_owned(),
        line,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_all_defaults() {
        let c = Config::from_toml("", Path::new("sitrep.toml")).unwrap();
        assert_eq!(c.origin, "sitrep.local/ledger");
        assert_eq!(c.executor.default_timeout, Duration::from_secs(300));
        assert_eq!(c.server.listen, "127.0.0.1:8080");
    }

    #[test]
    fn unknown_keys_are_named_with_their_line() {
        let text = "origin = \"x\"\n[executor]\ndefault_timout = \"5s\"\n";
        let e = Config::from_toml(text, Path::new("sitrep.toml")).unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("sitrep.toml:3: "), "{msg}");
        assert!(msg.contains("default_timout"), "{msg}");
    }

    #[test]
    fn the_evidence_bucket_parses_and_its_secret_never_prints() {
        let text = "[evidence]\nremote = \"s3://ev/prod\"\nendpoint = \"http://127.0.0.1:9000\"\n\
                    allow_http = true\naccess_key_id = \"AKIA1\"\nsecret_access_key = \"s3cr3t-value\"\n";
        let c = Config::from_toml(text, Path::new("c.toml")).unwrap();
        assert_eq!(c.evidence.remote.as_deref(), Some("s3://ev/prod"));
        assert!(c.evidence.allow_http);
        let shown = format!("{c:?}");
        assert!(!shown.contains("s3cr3t-value"), "{shown}");
        assert!(shown.contains("AKIA1"));
        let e =
            Config::from_toml("[evidence]\nremot = \"s3://x\"\n", Path::new("c.toml")).unwrap_err();
        assert!(e.to_string().starts_with("c.toml:2: "), "{e}");
    }

    #[test]
    fn key_paths_are_taken_from_the_config_files_directory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sitrep.toml");
        std::fs::write(
            &path,
            "[keys]\nledger = \"secrets/ledger.key\"\nack = \"/run/secrets/ack.key\"\n",
        )
        .unwrap();
        let c = Config::load(&path).unwrap();
        assert_eq!(c.keys.ledger, Some(dir.path().join("secrets/ledger.key")));
        assert_eq!(c.keys.ack, Some(PathBuf::from("/run/secrets/ack.key")));
    }

    #[test]
    fn a_short_redact_literal_is_refused_without_showing_it() {
        let text = "[executor]\nredact = [\"hunter2hunter2\", \"x\"]\n";
        let e = Config::from_toml(text, Path::new("c.toml")).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.starts_with("c.toml:2: executor.redact: entry 2 is shorter"),
            "{msg}"
        );
        assert!(!msg.contains("hunter2") && !msg.contains("\"x\""), "{msg}");
        let ok = Config::from_toml("[executor]\nredact = [\"abcd\"]\n", Path::new("c.toml"));
        assert_eq!(ok.unwrap().executor.redact, ["abcd"]);
    }

    #[test]
    fn bad_duration_is_an_error() {
        let e = Config::from_toml(
            "[executor]\ndefault_timeout = \"soon\"\n",
            Path::new("c.toml"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("bad duration \"soon\""), "{e}");
    }

    #[test]
    fn server_receivers_limits_and_silences_parse() {
        let text = r#"
[server]
request_timeout = "30s"
api_body_limit = 1000
[server.receivers]
token = "q9X2-vL7pR4sT8mZ"
basic = "u:3fJ0bq8Yw1ZkP6cN9rUe2A"
[[server.silences]]
id = "m"
matchers = ['cluster="eu1"', 'alertname=~"Db.*"']
starts_at = "2026-11-22T22:00:00Z"
ends_at = "2026-11-23T02:00:00Z"
created_by = "ops"
"#;
        let c = Config::from_toml(text, Path::new("c.toml")).unwrap();
        assert_eq!(c.server.request_timeout, Duration::from_secs(30));
        assert_eq!(c.server.api_body_limit, 1000);
        assert_eq!(c.server.receiver_body_limit, 4 << 20);
        assert_eq!(
            c.server.receivers.basic.as_deref(),
            Some("u:3fJ0bq8Yw1ZkP6cN9rUe2A")
        );
        assert_eq!(c.server.silences[0].matchers.len(), 2);
        assert_eq!(c.server.receivers.burst, 1000);
        assert_eq!(c.server.receivers.raw_max_bytes, 1 << 30);
        assert!(!format!("{c:?}").contains("3fJ0bq8Yw1ZkP6cN9rUe2A"));
        let limits = "[server.receivers]\nrate = \"30/m\"\nburst = 0\nraw_keep = \"2d\"\n\
                      raw_keep_rejected = \"1h\"\nraw_max_bytes = 4096\n";
        let r = Config::from_toml(limits, Path::new("c.toml"))
            .unwrap()
            .server
            .receivers;
        assert_eq!((r.rate.count, r.burst, r.raw_max_bytes), (30, 0, 4096));
        assert_eq!(r.raw_keep_rejected, Duration::from_secs(3600));
        let e = Config::from_toml("[server.receivers]\nrate = \"5\"\n", Path::new("c.toml"))
            .unwrap_err();
        assert!(e.to_string().contains("server.receivers.rate"), "{e}");
        let e = Config::from_toml("[server.receivers]\ntokn = \"x\"\n", Path::new("c.toml"))
            .unwrap_err();
        assert!(e.to_string().contains("tokn"), "{e}");
        // Weak receiver secrets are a config error naming the key, never the value.
        for bad in ["token = \"hunter2\"", "basic = \"grafana:hunter2hunter2\""] {
            let e = Config::from_toml(&format!("[server.receivers]\n{bad}\n"), Path::new("c.toml"))
                .unwrap_err()
                .to_string();
            assert!(e.contains("server.receivers."), "{e}");
            assert!(!e.contains("hunter2"), "{e}");
        }
    }

    #[test]
    fn env_overrides_win_and_empty_values_are_refused() {
        let mut c = Config::default();
        c.apply_env(|k| (k == "SITREP_LISTEN").then(|| "0.0.0.0:9".to_owned()))
            .unwrap();
        assert_eq!(c.server.listen, "0.0.0.0:9");
        let e = c
            .apply_env(|k| (k == "SITREP_DATA_DIR").then(String::new))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "environment variable SITREP_DATA_DIR: is set but empty"
        );
    }
}
