//! Parameter types and value checks: a value from an alert, an incident or a person is
//! data, never code, so it is checked against its parameter's declared type (or the
//! default rule) before anything binds it. Pure.

use std::net::{Ipv4Addr, Ipv6Addr};

use serde::{Serialize, Serializer};

/// Values longer than this (in bytes) are refused whatever the type.
pub const MAX_VALUE_BYTES: usize = 4096;

/// Values under the default rule (no declared type) are at most this many characters.
pub const MAX_DEFAULT_CHARS: usize = 256;

/// What a parameter's value must look like (front matter `params: NAME: {type: ...}`).
///
/// Serialised as in the front matter: `"hostname"`, `"k8s-name"`, `"int"`, `"duration"`,
/// `{"enum": [...]}`, `{"pattern": "..."}`, `{"path": {"roots": [...]}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ParamType {
    /// An RFC 1123 host name or an IPv4/IPv6 address, with an optional `:port`
    /// (Prometheus `instance` labels are `host:port`; IPv6 with a port is `[::1]:9090`).
    Hostname,
    /// A Kubernetes object name: an RFC 1123 subdomain (lowercase letters, digits, `-`
    /// and `.`, starting and ending with a letter or digit, at most 253 characters).
    K8sName,
    /// An optional `-` and 1 to 19 digits.
    Int,
    /// A duration such as `30s`, `5m`, `1h30m`: numbers with units, no spaces.
    Duration,
    /// Exactly one of these strings.
    Enum(Vec<String>),
    /// A full match of this regular expression.
    Pattern(ParamPattern),
    /// An absolute, normalised path under one of `roots`.
    Path {
        /// Absolute, normalised directories; a value must be one of them or below one.
        roots: Vec<String>,
    },
}

/// A compiled `pattern` type: matches only the whole value. Compared and serialised by
/// the pattern as written.
#[derive(Debug, Clone)]
pub struct ParamPattern {
    source: String,
    anchored: regex::Regex,
}

impl ParamPattern {
    /// Compiles `source` to match whole values only. The compiled size is bounded, so a
    /// runbook cannot make importing it slow; the `regex` crate matches in linear time.
    pub fn new(source: &str) -> Result<ParamPattern, String> {
        let anchored = regex::RegexBuilder::new(&format!("^(?:{source})$"))
            .size_limit(1 << 20)
            .dfa_size_limit(1 << 20)
            .build()
            // The error's last line says what is wrong; the lines above draw the pattern.
            .map_err(|e| {
                let text = e.to_string();
                let last = text.lines().rev().find(|l| !l.trim().is_empty());
                last.unwrap_or("invalid")
                    .trim()
                    .trim_start_matches("error: ")
                    .to_string()
            })?;
        Ok(ParamPattern {
            source: source.to_string(),
            anchored,
        })
    }

    /// The pattern as written in the front matter.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the whole of `value` matches.
    pub fn is_full_match(&self, value: &str) -> bool {
        self.anchored.is_match(value)
    }
}

impl PartialEq for ParamPattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for ParamPattern {}

impl Serialize for ParamPattern {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.source)
    }
}

/// Why a value was refused, in words a responder understands. Never contains the value
/// itself beyond one offending character: values are untrusted and may end up in logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueRefusal {
    /// Nothing to bind.
    #[error("empty")]
    Empty,
    /// Over [`MAX_VALUE_BYTES`] bytes.
    #[error("longer than {MAX_VALUE_BYTES} bytes")]
    TooManyBytes,
    /// Over [`MAX_DEFAULT_CHARS`] characters (default rule).
    #[error("longer than {MAX_DEFAULT_CHARS} characters")]
    TooLong,
    /// A NUL byte.
    #[error("contains a NUL byte")]
    Nul,
    /// A line feed or carriage return.
    #[error("contains a line break")]
    LineBreak,
    /// Would read as an option (default rule).
    #[error("starts with '-'")]
    LeadingDash,
    /// `..` anywhere (default rule).
    #[error("contains '..'")]
    DotDot,
    /// A character the default rule does not allow.
    #[error(
        "contains {0:?}: without a declared type only letters, digits and ._:@=+,- are allowed"
    )]
    Character(char),
    /// Not a host name, address or `host:port`.
    #[error("not a hostname (a host name, an IPv4 or IPv6 address, optionally with :port)")]
    NotHostname,
    /// Not a Kubernetes object name.
    #[error(
        "not a Kubernetes name (lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters)"
    )]
    NotK8sName,
    /// Not an integer.
    #[error("not an integer (an optional '-' and 1 to 19 digits)")]
    NotInt,
    /// Not a duration.
    #[error("not a duration (like 30s, 5m, 1h30m)")]
    NotDuration,
    /// Not one of the enum's values.
    #[error("not one of {0}")]
    NotAllowed(String),
    /// The pattern does not match the whole value.
    #[error("does not match the pattern {0}")]
    NoMatch(String),
    /// A path that does not start with `/`.
    #[error("not an absolute path")]
    NotAbsolute,
    /// A path with `//`, a `.` or `..` component, or a trailing `/`.
    #[error("not a normalised path ({0})")]
    NotNormalised(&'static str),
    /// A path outside every root.
    #[error("outside the declared roots {0}")]
    OutsideRoots(String),
}

/// Checks one value against its parameter's type, or the default rule when `ty` is
/// `None`: letters, digits and `._:@=+,-` only, 1 to 256 characters, not starting with
/// `-`, no `..`. Every type also refuses empty values, NUL, line breaks and values over
/// 4096 bytes. Pure and linear in the value's length.
pub fn check_value(ty: Option<&ParamType>, value: &str) -> Result<(), ValueRefusal> {
    if value.is_empty() {
        return Err(ValueRefusal::Empty);
    }
    if value.len() > MAX_VALUE_BYTES {
        return Err(ValueRefusal::TooManyBytes);
    }
    if value.contains('\0') {
        return Err(ValueRefusal::Nul);
    }
    if value.contains(['\n', '\r']) {
        return Err(ValueRefusal::LineBreak);
    }
    match ty {
        None => default_rule(value),
        Some(ParamType::Hostname) => hostname(value),
        Some(ParamType::K8sName) => k8s_name(value),
        Some(ParamType::Int) => int(value),
        Some(ParamType::Duration) => duration(value),
        Some(ParamType::Enum(values)) => match values.iter().any(|v| v == value) {
            true => Ok(()),
            false => Err(ValueRefusal::NotAllowed(values.join(", "))),
        },
        Some(ParamType::Pattern(p)) => match p.is_full_match(value) {
            true => Ok(()),
            false => Err(ValueRefusal::NoMatch(p.as_str().to_string())),
        },
        Some(ParamType::Path { roots }) => path(roots, value),
    }
}

/// [`check_value`], then the rule for where the value lands: a value starting with `-`
/// would be read as an option, so it is refused unless the command has a `--` before the
/// placeholder ([`Placeholder::after_double_dash`](crate::Placeholder)).
pub fn check_argument(
    ty: Option<&ParamType>,
    value: &str,
    after_double_dash: bool,
) -> Result<(), ValueRefusal> {
    check_value(ty, value)?;
    if value.starts_with('-') && !after_double_dash {
        return Err(ValueRefusal::LeadingDash);
    }
    Ok(())
}

fn default_rule(value: &str) -> Result<(), ValueRefusal> {
    if value.chars().count() > MAX_DEFAULT_CHARS {
        return Err(ValueRefusal::TooLong);
    }
    if value.starts_with('-') {
        return Err(ValueRefusal::LeadingDash);
    }
    if let Some(c) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "._:@=+,-".contains(*c)))
    {
        return Err(ValueRefusal::Character(c));
    }
    if value.contains("..") {
        return Err(ValueRefusal::DotDot);
    }
    Ok(())
}

fn hostname(value: &str) -> Result<(), ValueRefusal> {
    let host = split_port(value).ok_or(ValueRefusal::NotHostname)?;
    let ok = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        // Brackets only make sense around an IPv6 address, and only with a port.
        Some(inner) => host.len() < value.len() && inner.parse::<Ipv6Addr>().is_ok(),
        None => {
            host.parse::<Ipv4Addr>().is_ok()
                || host.parse::<Ipv6Addr>().is_ok()
                || is_host_name(host)
        }
    };
    ok.then_some(()).ok_or(ValueRefusal::NotHostname)
}

/// The value without a valid `:port` suffix. An unbracketed IPv6 address has colons of
/// its own, so a port is only split off when exactly one colon is present or the host
/// is bracketed.
fn split_port(value: &str) -> Option<&str> {
    let (host, port) = if value.starts_with('[') {
        match value.rsplit_once("]:") {
            Some((h, p)) => (value.get(..h.len() + 1)?, Some(p)),
            None => (value, None),
        }
    } else if value.matches(':').count() == 1 {
        let (h, p) = value.split_once(':')?;
        (h, Some(p))
    } else {
        (value, None)
    };
    match port {
        None => Some(host),
        Some(p) => {
            let digits = !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit());
            let n: u32 = if digits { p.parse().ok()? } else { 0 };
            (1..=65535).contains(&n).then_some(host)
        }
    }
}

/// RFC 1123: dot-separated labels of letters, digits and inner `-`, each 1 to 63
/// characters, 253 in all.
fn is_host_name(host: &str) -> bool {
    host.len() <= 253
        && host.split('.').all(|label| {
            let b = label.as_bytes();
            (1..=63).contains(&b.len())
                && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
                && b.first() != Some(&b'-')
                && b.last() != Some(&b'-')
        })
}

/// Kubernetes' `IsDNS1123Subdomain`: at most 253 characters of dot-separated labels
/// of lowercase letters, digits and inner `-`.
fn k8s_name(value: &str) -> Result<(), ValueRefusal> {
    let ok = value.len() <= 253
        && value.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b.iter()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
                && b.first() != Some(&b'-')
                && b.last() != Some(&b'-')
        });
    ok.then_some(()).ok_or(ValueRefusal::NotK8sName)
}

fn int(value: &str) -> Result<(), ValueRefusal> {
    let digits = value.strip_prefix('-').unwrap_or(value);
    let ok = (1..=19).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit());
    ok.then_some(()).ok_or(ValueRefusal::NotInt)
}

/// Numbers followed by units, no spaces (`1h30m`), as humantime reads them.
fn duration(value: &str) -> Result<(), ValueRefusal> {
    let b = value.as_bytes();
    let shape = b.first().is_some_and(u8::is_ascii_digit)
        && b.last().is_some_and(u8::is_ascii_alphabetic)
        && b.iter().all(u8::is_ascii_alphanumeric);
    let ok = shape && humantime::parse_duration(value).is_ok();
    ok.then_some(()).ok_or(ValueRefusal::NotDuration)
}

fn path(roots: &[String], value: &str) -> Result<(), ValueRefusal> {
    if !value.starts_with('/') {
        return Err(ValueRefusal::NotAbsolute);
    }
    normalised(value).map_err(ValueRefusal::NotNormalised)?;
    if roots.iter().any(|r| is_under(value, r)) {
        Ok(())
    } else {
        Err(ValueRefusal::OutsideRoots(roots.join(", ")))
    }
}

/// Why an absolute path is not normalised, if it is not: `/` alone is normalised.
pub(crate) fn normalised(path: &str) -> Result<(), &'static str> {
    if path == "/" {
        return Ok(());
    }
    if path.contains("//") {
        return Err("contains '//'");
    }
    if path.ends_with('/') {
        return Err("ends with '/'");
    }
    for part in path.split('/').skip(1) {
        match part {
            "." => return Err("has a '.' component"),
            ".." => return Err("has a '..' component"),
            _ => {}
        }
    }
    Ok(())
}

/// Component-wise prefix: `/var/log` holds `/var/log/x`, not `/var/logs`.
fn is_under(path: &str, root: &str) -> bool {
    root == "/"
        || path == root
        || path
            .strip_prefix(root)
            .is_some_and(|rest| rest.starts_with('/'))
}
