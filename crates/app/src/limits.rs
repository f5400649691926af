//! The server's limits against abuse that live in configuration: live streams
//! (`[server.streams]`) and guessing of credentials (`[server.guessing]`), plus the
//! strength check for operator-chosen receiver secrets. Kept apart from `config.rs` so
//! that file stays a list of sections.

use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// `[server.streams]`: live event streams (SSE). The defaults keep a 2-core server with
/// a few hundred MB to spare alive under a viewer who opens streams and never reads.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StreamsConfig {
    /// Most streams one principal (an API token, with all its browser sessions) holds
    /// open at once; beyond it a new stream is answered 429.
    pub per_principal: usize,
    /// Most streams open on this server at once; beyond it a new stream is 429.
    pub total: usize,
    /// Bytes of events queued for one subscriber that has not read them; a subscriber
    /// over it is sent a final `reconnect` event and dropped.
    pub buffer_bytes: usize,
    /// How often open streams' credentials are checked again (a token revoked or a
    /// session ended on another replica ends its streams within this time).
    #[serde(deserialize_with = "de_duration")]
    pub recheck: Duration,
}

impl Default for StreamsConfig {
    fn default() -> Self {
        StreamsConfig {
            per_principal: 16,
            total: 256,
            buffer_bytes: 64 << 10,
            recheck: Duration::from_secs(10),
        }
    }
}

/// `[server.guessing]`: failed logins and failed bearer tokens per client address.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GuessingConfig {
    /// Failures one client address may make in a burst before it is refused 429.
    pub burst: u32,
    /// How often one more failure is forgiven (the bucket's refill interval).
    #[serde(deserialize_with = "de_duration")]
    pub refill: Duration,
}

impl Default for GuessingConfig {
    fn default() -> Self {
        GuessingConfig {
            burst: 10,
            refill: Duration::from_secs(6),
        }
    }
}

/// `[server.regex_budget]`: what all silences' regex matchers (configured and stored)
/// may cost together on this server. One silence's own caps are fixed (docs/alerts.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegexBudgetConfig {
    /// Most regex matchers over all silences.
    pub max_regexes: usize,
    /// Most compiled regex bytes over all silences.
    pub max_bytes: usize,
}

impl Default for RegexBudgetConfig {
    fn default() -> Self {
        RegexBudgetConfig {
            max_regexes: 512,
            max_bytes: 32 << 20,
        }
    }
}

fn de_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    humantime::parse_duration(&s)
        .map_err(|e| serde::de::Error::custom(format!("bad duration {s:?}: {e}")))
}

/// Fewest characters an operator-chosen receiver secret may have.
pub const MIN_SECRET_CHARS: usize = 16;

/// Why `secret` is too weak to guard a receiver, or `None`. "Random-looking" is judged
/// cheaply: at least [`MIN_SECRET_CHARS`] characters, at least 8 distinct ones, and no
/// single character making up half of it (so `aaaaaaaaaaaaaaaa` and `abababab...` fail).
#[must_use]
pub fn weak_secret(secret: &str) -> Option<String> {
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() < MIN_SECRET_CHARS {
        return Some(format!(
            "is {} characters; use at least {MIN_SECRET_CHARS} random ones \
             (for example `openssl rand -base64 24`)",
            chars.len()
        ));
    }
    let mut distinct = chars.clone();
    distinct.sort_unstable();
    distinct.dedup();
    let most = distinct
        .iter()
        .map(|c| chars.iter().filter(|x| *x == c).count())
        .max()
        .unwrap_or(0);
    if distinct.len() < 8 || most * 2 >= chars.len() {
        return Some(
            "does not look random (too few distinct characters); use a generated secret \
             (for example `openssl rand -base64 24`)"
                .to_owned(),
        );
    }
    None
}

/// Deserializes an optional receiver secret, refusing a weak one (the value is never
/// shown: it is a secret).
pub(crate) fn de_secret<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let s = String::deserialize(d)?;
    match weak_secret(&s) {
        Some(why) => Err(serde::de::Error::custom(format!("the secret {why}"))),
        None => Ok(Some(s)),
    }
}

/// Like [`de_secret`] for `user:password`: the password part is judged.
pub(crate) fn de_basic<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let s = String::deserialize(d)?;
    let Some((_, password)) = s.split_once(':') else {
        return Err(serde::de::Error::custom("must be user:password"));
    };
    match weak_secret(password) {
        Some(why) => Err(serde::de::Error::custom(format!("the password {why}"))),
        None => Ok(Some(s)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_or_repetitive_secrets_are_weak() {
        assert!(weak_secret("hunter2").unwrap().contains("7 characters"));
        assert!(weak_secret("receiver-secret").is_some()); // 15
        assert!(
            weak_secret("aaaaaaaaaaaaaaaaaaaa")
                .unwrap()
                .contains("random")
        );
        assert!(weak_secret("abababababababababab").is_some());
        assert!(weak_secret("1111111111111111abcdefgh").is_some());
        assert_eq!(weak_secret("q9X2-vL7pR4sT8mZ"), None);
        assert_eq!(weak_secret("3fJ0bq8Yw1ZkP6cN9rUe2A"), None);
    }
}
