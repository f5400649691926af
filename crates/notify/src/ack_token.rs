//! Signed acknowledge links: a token that names an incident and an expiry, so a person can
//! acknowledge from an email or chat message without logging in, and nobody can forge one
//! for another incident or use one after it expires.
//!
//! Token: `base64url(payload) "." base64url(HMAC-SHA256(key, DOMAIN || payload))`, no
//! padding, where `payload = expires_ms (8 bytes, big-endian) || incident_id (UTF-8)`.
//! The domain string keeps a MAC made for another purpose with the same key from ever
//! verifying as an ack token. Verification checks the MAC (constant time) before looking
//! at the expiry, so a forged token learns nothing about what would be accepted.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Separates ack-token MACs from any other MAC made with the same key.
const DOMAIN: &[u8] = b"sitrep-ack-v1\0";

/// Longest incident id a token carries; keeps links short and parsing bounded.
pub const MAX_INCIDENT_ID_BYTES: usize = 256;

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AckTokenError {
    /// Not a token at all: wrong shape, bad base64, wrong lengths.
    #[error("the acknowledge link is malformed")]
    Malformed,
    /// Well formed but not signed with our key (tampered, or for another server).
    #[error("the acknowledge link is not valid (forged or altered)")]
    Forged,
    /// Genuine, but past its expiry.
    #[error("the acknowledge link expired")]
    Expired {
        /// When it expired, milliseconds since the Unix epoch.
        expired_at_ms: u64,
    },
}

fn mac(secret_key: &[u8], payload: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length (longer ones are hashed), so this cannot fail.
    let mut m = <HmacSha256 as Mac>::new_from_slice(secret_key).expect("HMAC takes any key length");
    m.update(DOMAIN);
    m.update(payload);
    m
}

/// Issues a token for `incident_id` valid until `expires_ms` (milliseconds since the Unix
/// epoch). Use a random key of at least 32 bytes, kept in the server's secrets. Incident
/// ids longer than [`MAX_INCIDENT_ID_BYTES`] produce a token `verify` refuses as malformed.
pub fn issue(secret_key: &[u8], incident_id: &str, expires_ms: u64) -> String {
    let mut payload = Vec::with_capacity(8 + incident_id.len());
    payload.extend_from_slice(&expires_ms.to_be_bytes());
    payload.extend_from_slice(incident_id.as_bytes());
    let tag = mac(secret_key, &payload).finalize().into_bytes();
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(&payload),
        URL_SAFE_NO_PAD.encode(tag)
    )
}

/// Verifies a token at `now_ms` and returns the incident id it was issued for. A token is
/// valid strictly before its expiry.
pub fn verify(secret_key: &[u8], token: &str, now_ms: u64) -> Result<String, AckTokenError> {
    // Bound the work before decoding anything: a token is at most a few hundred bytes.
    if token.len() > 2 * (8 + MAX_INCIDENT_ID_BYTES) + 64 {
        return Err(AckTokenError::Malformed);
    }
    let (p, t) = token.split_once('.').ok_or(AckTokenError::Malformed)?;
    let payload = URL_SAFE_NO_PAD
        .decode(p)
        .map_err(|_| AckTokenError::Malformed)?;
    let tag = URL_SAFE_NO_PAD
        .decode(t)
        .map_err(|_| AckTokenError::Malformed)?;
    if payload.len() < 8 || payload.len() > 8 + MAX_INCIDENT_ID_BYTES || tag.len() != 32 {
        return Err(AckTokenError::Malformed);
    }
    // `verify_slice` compares in constant time.
    mac(secret_key, &payload)
        .verify_slice(&tag)
        .map_err(|_| AckTokenError::Forged)?;
    let (exp, id) = payload.split_at(8);
    let mut exp_bytes = [0u8; 8];
    exp_bytes.copy_from_slice(exp);
    let expires_ms = u64::from_be_bytes(exp_bytes);
    // Signed by us but not UTF-8 cannot come from `issue`; call it malformed, not forged.
    let id = String::from_utf8(id.to_vec()).map_err(|_| AckTokenError::Malformed)?;
    if now_ms >= expires_ms {
        return Err(AckTokenError::Expired {
            expired_at_ms: expires_ms,
        });
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn roundtrip() {
        let t = issue(KEY, "inc-42", 1_000);
        assert!(
            t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')),
            "URL-safe: {t}"
        );
        assert_eq!(verify(KEY, &t, 999).as_deref(), Ok("inc-42"));
        assert_eq!(verify(KEY, &t, 0).as_deref(), Ok("inc-42"));
    }

    #[test]
    fn expired() {
        let t = issue(KEY, "inc-42", 1_000);
        assert_eq!(
            verify(KEY, &t, 1_000),
            Err(AckTokenError::Expired {
                expired_at_ms: 1_000
            })
        );
        assert!(matches!(
            verify(KEY, &t, u64::MAX),
            Err(AckTokenError::Expired { .. })
        ));
    }

    #[test]
    fn wrong_key_is_forged() {
        let t = issue(KEY, "inc-42", 1_000);
        assert_eq!(
            verify(b"another key of 32 bytes.........", &t, 0),
            Err(AckTokenError::Forged)
        );
    }

    #[test]
    fn tampering_anywhere_is_refused() {
        let t = issue(KEY, "inc-42", 1_000);
        // Another incident's payload with this token's tag.
        let other = issue(KEY, "inc-43", 1_000);
        let (p_other, _) = other.split_once('.').unwrap();
        let (_, tag) = t.split_once('.').unwrap();
        assert_eq!(
            verify(KEY, &format!("{p_other}.{tag}"), 0),
            Err(AckTokenError::Forged)
        );
        // A later expiry with the old tag.
        let longer = issue(KEY, "inc-42", 9_999_999);
        let (p_longer, _) = longer.split_once('.').unwrap();
        assert_eq!(
            verify(KEY, &format!("{p_longer}.{tag}"), 0),
            Err(AckTokenError::Forged)
        );
        // Every single-character change is refused (forged or malformed, never accepted).
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";
        for i in 0..t.len() {
            for &c in alphabet {
                let mut b = t.clone().into_bytes();
                if b[i] == c {
                    continue;
                }
                b[i] = c;
                let s = String::from_utf8(b).unwrap();
                assert!(verify(KEY, &s, 0).is_err(), "accepted {s}");
            }
        }
    }

    #[test]
    fn malformed_shapes() {
        for bad in ["", ".", "abc", "abc.def", "!!!.###", "AAAA.AAAA"] {
            assert_eq!(verify(KEY, bad, 0), Err(AckTokenError::Malformed), "{bad}");
        }
        assert_eq!(
            verify(KEY, &"A".repeat(10_000), 0),
            Err(AckTokenError::Malformed)
        );
    }
}
