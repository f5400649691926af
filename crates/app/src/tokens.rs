//! API tokens: create (the secret is shown once), list, revoke, and authenticate a
//! presented secret; and browser sessions opened with a token. Only the SHA-256 of a
//! secret or a session cookie is stored, so a copy of the database does not hand out
//! access.
//!
//! Roles are ordered, `viewer < responder < commander < admin`: a route names the least
//! role it needs and every higher role passes.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use rand::RngCore as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use sitrep_ledger::Record;
use sitrep_store::{ApiToken, Change, SessionRow, StoreError};

use crate::app::App;
use crate::error::AppError;
use crate::identity::{Principal, check_token_name, same_name};
use crate::stamp::now_ms;

/// Every secret starts with this, so a leaked one is easy to recognise (and to scan for).
pub const TOKEN_PREFIX: &str = "sitrep_";

/// Timeline type of a token creation (a ledger record with no incident).
pub const TOKEN_CREATED: &str = "token.created";
/// Timeline type of a token revocation.
pub const TOKEN_REVOKED: &str = "token.revoked";

/// What a token may do. Ordered: a higher role may do everything a lower one may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccessRole {
    /// Reads everything.
    Viewer,
    /// Works incidents: declare, acknowledge, note, run steps, tick checklists.
    Responder,
    /// Leads incidents: severity, roles, resolve, reopen, approvals.
    Commander,
    /// Manages tokens and the server.
    Admin,
}

impl AccessRole {
    /// Every role, lowest first.
    pub const ALL: [AccessRole; 4] = [
        AccessRole::Viewer,
        AccessRole::Responder,
        AccessRole::Commander,
        AccessRole::Admin,
    ];

    /// The stored name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            AccessRole::Viewer => "viewer",
            AccessRole::Responder => "responder",
            AccessRole::Commander => "commander",
            AccessRole::Admin => "admin",
        }
    }
}

impl fmt::Display for AccessRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is not one of ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?} (expected viewer, responder, commander or admin)")]
pub struct UnknownRole(pub String);

impl FromStr for AccessRole {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AccessRole::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

/// A token just created: the stored row and the secret, which exists nowhere else.
#[derive(Debug, Clone, Serialize)]
pub struct CreatedToken {
    /// The stored row (holds only the secret's hash).
    pub token: ApiToken,
    /// `sitrep_` + 32 random bytes, base64url without padding. Shown once.
    pub secret: String,
}

/// Lower-case hex SHA-256 of a presented secret, the form tokens are looked up by.
#[must_use]
pub fn secret_sha256(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A fresh secret: 256 bits from the OS, so guessing is hopeless.
fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// A name another token (`taken`, perhaps revoked) has, ignoring case.
fn name_taken(name: &str, taken: &ApiToken) -> AppError {
    let state = if taken.revoked_ms.is_some() {
        "revoked "
    } else {
        ""
    };
    AppError::invalid(
        "name",
        format!(
            "{name:?} is taken: {state}token {} is named {:?} (names are unique ignoring \
             case, revoked tokens included, so the timeline's actor names one token)",
            taken.id, taken.name
        ),
    )
}

fn token_record(kind: &str, actor: &Principal, token: &ApiToken, now: i64) -> Record {
    let mut r = crate::events::unattached(kind, now, actor);
    // Never the secret or its hash: the id and name are enough to audit who had access.
    r.payload.insert("token".to_owned(), token.id.clone());
    r.payload.insert("name".to_owned(), token.name.clone());
    r.payload.insert("role".to_owned(), token.role.clone());
    r
}

impl App {
    /// Creates a token for `name` with `role`; the returned secret is never stored.
    pub async fn create_token(
        &self,
        name: &str,
        role: AccessRole,
        actor: &Principal,
    ) -> Result<CreatedToken, AppError> {
        actor.check()?;
        let name = name.trim();
        check_token_name(name)?;
        // Checked here for a clear answer (and with Unicode case folding); the store's
        // unique index on lower(name) settles two creations racing.
        if let Some(t) = self
            .inner
            .store
            .tokens()
            .await?
            .into_iter()
            .find(|t| same_name(&t.name, name))
        {
            return Err(name_taken(name, &t));
        }
        let secret = new_secret();
        let now = now_ms();
        let token = ApiToken {
            id: uuid::Uuid::now_v7().to_string(),
            name: name.to_owned(),
            role: role.as_str().to_owned(),
            secret_sha256: secret_sha256(&secret),
            created_ms: now,
            revoked_ms: None,
        };
        self.inner
            .store
            .put_token(&token)
            .await
            .map_err(|e| match e {
                StoreError::Conflict {
                    what: "token name", ..
                } => name_taken(name, &token),
                e => e.into(),
            })?;
        self.inner
            .store
            .commit(Change {
                writes: Vec::new(),
                events: vec![token_record(TOKEN_CREATED, actor, &token, now)],
            })
            .await?;
        Ok(CreatedToken { token, secret })
    }

    /// Every token, revoked ones included (their rows stay for the audit trail).
    pub async fn tokens(&self) -> Result<Vec<ApiToken>, AppError> {
        Ok(self.inner.store.tokens().await?)
    }

    /// Revokes the token `id` (or a unique id prefix); it stops working at once.
    pub async fn revoke_token(&self, id: &str, actor: &Principal) -> Result<ApiToken, AppError> {
        actor.check()?;
        let id = id.trim();
        let all = self.inner.store.tokens().await?;
        let hits: Vec<&ApiToken> = all
            .iter()
            .filter(|t| !id.is_empty() && (t.id == id || t.id.starts_with(id)))
            .collect();
        let token = match hits.as_slice() {
            [one] => (*one).clone(),
            [] => {
                return Err(AppError::NotFound {
                    what: "token",
                    id: id.to_owned(),
                });
            }
            many => {
                return Err(AppError::invalid(
                    "id",
                    format!("{id:?} matches {} tokens; give more of the id", many.len()),
                ));
            }
        };
        if token.revoked_ms.is_some() {
            return Ok(token);
        }
        let now = now_ms();
        self.inner.store.revoke_token(&token.id, now).await?;
        self.inner
            .store
            .commit(Change {
                writes: Vec::new(),
                events: vec![token_record(TOKEN_REVOKED, actor, &token, now)],
            })
            .await?;
        Ok(ApiToken {
            revoked_ms: Some(now),
            ..token
        })
    }

    /// The live token whose secret is `secret`, with its role; `None` for an unknown,
    /// revoked or malformed secret (callers answer 401 without saying which).
    pub async fn authenticate(
        &self,
        secret: &str,
    ) -> Result<Option<(ApiToken, AccessRole)>, AppError> {
        if !secret.starts_with(TOKEN_PREFIX) || secret.len() > 200 {
            return Ok(None);
        }
        let Some(token) = self
            .inner
            .store
            .token_by_secret_sha256(&secret_sha256(secret))
            .await?
        else {
            return Ok(None);
        };
        if token.revoked_ms.is_some() {
            return Ok(None);
        }
        // A row with a role this build does not know grants nothing.
        let Ok(role) = token.role.parse::<AccessRole>() else {
            return Ok(None);
        };
        Ok(Some((token, role)))
    }
}

impl Session {
    /// Who is calling: the session's token.
    #[must_use]
    pub fn principal(&self) -> Principal {
        Principal {
            id: self.token_id.clone(),
            name: self.name.clone(),
        }
    }
}

/// Most live browser sessions per principal (token); opening one beyond it ends that
/// token's oldest session, never someone else's. The total is bounded by the tokens an
/// admin made times this.
pub const MAX_SESSIONS: u32 = 50;

/// A live browser session (stored, so a restart or another replica keeps it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The token's name: who is calling.
    pub name: String,
    /// The token's id: what two-person control compares.
    pub token_id: String,
    /// The token's role.
    pub role: AccessRole,
    /// The session's CSRF token, which every mutating request must carry.
    pub csrf: String,
    /// Unix ms when it ends.
    pub expires_ms: i64,
}

/// 32 random bytes, URL-safe base64: session cookies and CSRF tokens.
fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl App {
    /// Opens a browser session for an authenticated token, lasting `ttl_ms`; returns the
    /// cookie value (shown once, stored only hashed) and the session.
    pub async fn open_session(
        &self,
        token: &ApiToken,
        role: AccessRole,
        ttl_ms: i64,
    ) -> Result<(String, Session), AppError> {
        let cookie = random_secret();
        let now = now_ms();
        let session = Session {
            name: token.name.clone(),
            token_id: token.id.clone(),
            role,
            csrf: random_secret(),
            expires_ms: now.saturating_add(ttl_ms),
        };
        self.inner
            .store
            .put_session(
                &SessionRow {
                    id_sha256: secret_sha256(&cookie),
                    name: session.name.clone(),
                    role: role.as_str().to_owned(),
                    token_sha256: token.secret_sha256.clone(),
                    csrf: session.csrf.clone(),
                    created_ms: now,
                    expires_ms: session.expires_ms,
                },
                MAX_SESSIONS,
                now,
            )
            .await?;
        Ok((cookie, session))
    }

    /// The live session a cookie opens: none when it is unknown, expired, or its token
    /// was revoked meanwhile (which also ends the session).
    pub async fn session(&self, cookie: &str) -> Result<Option<Session>, AppError> {
        if cookie.is_empty() || cookie.len() > 200 {
            return Ok(None);
        }
        let id = secret_sha256(cookie);
        let Some(row) = self.inner.store.session(&id, now_ms()).await? else {
            return Ok(None);
        };
        let live = self
            .inner
            .store
            .token_by_secret_sha256(&row.token_sha256)
            .await?;
        let (Some(token), Ok(role)) = (live, row.role.parse::<AccessRole>()) else {
            self.inner.store.delete_session(&id).await?;
            return Ok(None);
        };
        // The token's row, not the session's copy, names the caller: a token renamed
        // since (migration 0009 renames duplicates) is shown as it is now.
        Ok(Some(Session {
            name: token.name,
            token_id: token.id,
            role,
            csrf: row.csrf,
            expires_ms: row.expires_ms,
        }))
    }

    /// Ends the session a cookie opens; false when there was none.
    pub async fn close_session(&self, cookie: &str) -> Result<bool, AppError> {
        Ok(self
            .inner
            .store
            .delete_session(&secret_sha256(cookie))
            .await?)
    }

    /// Deletes expired sessions; returns how many.
    pub async fn sweep_sessions(&self) -> Result<u64, AppError> {
        Ok(self.inner.store.sweep_sessions(now_ms()).await?)
    }

    /// Sessions live now.
    pub async fn live_sessions(&self) -> Result<u64, AppError> {
        Ok(self.inner.store.live_sessions(now_ms()).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_and_parse() {
        assert!(AccessRole::Viewer < AccessRole::Responder);
        assert!(AccessRole::Responder < AccessRole::Commander);
        assert!(AccessRole::Commander < AccessRole::Admin);
        assert_eq!("Commander".parse::<AccessRole>(), Ok(AccessRole::Commander));
        assert!("root".parse::<AccessRole>().is_err());
    }

    #[test]
    fn secrets_are_prefixed_random_and_hash_to_hex() {
        let a = new_secret();
        let b = new_secret();
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX));
        // 32 bytes in base64url without padding is 43 characters.
        assert_eq!(a.len(), TOKEN_PREFIX.len() + 43);
        assert!(!a.contains('=') && !a.contains('+') && !a.contains('/'));
        let h = secret_sha256(&a);
        assert_eq!(h.len(), 64);
        assert!(
            h.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_eq!(
            secret_sha256("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
