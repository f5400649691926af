//! SHA-256 hashes and the RFC 6962 leaf and node hash functions.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha2::{Digest, Sha256};

/// A SHA-256 hash: a Merkle tree node, a leaf hash, a root or an artifact digest.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Hash(pub [u8; 32]);

/// A string or byte slice that is not a well-formed 32-byte hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a SHA-256 hash: {reason}")]
pub struct HashParseError {
    reason: &'static str,
}

impl Hash {
    /// Length of a hash in bytes.
    pub const LEN: usize = 32;

    /// SHA-256 of `data` (a plain digest, not a Merkle leaf hash).
    #[must_use]
    pub fn digest(data: &[u8]) -> Hash {
        Hash(Sha256::digest(data).into())
    }

    /// The hash bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// A hash from exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Hash, HashParseError> {
        <[u8; 32]>::try_from(bytes)
            .map(Hash)
            .map_err(|_| HashParseError {
                reason: "length is not 32 bytes",
            })
    }

    /// Lower-case hex, 64 characters.
    #[must_use]
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 hex digits. Upper-case digits are rejected so that every hash has
    /// exactly one text form (records compare encodings byte for byte).
    pub fn from_hex(s: &str) -> Result<Hash, HashParseError> {
        if s.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(HashParseError {
                reason: "hex must be lower case",
            });
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|_| HashParseError {
            reason: "not 64 hex digits",
        })?;
        Ok(Hash(out))
    }

    /// Standard base64 with padding (RFC 4648 section 4), as checkpoints and proofs use.
    #[must_use]
    pub fn to_base64(&self) -> String {
        BASE64.encode(self.0)
    }

    /// Parses standard padded base64 of exactly 32 bytes, rejecting non-canonical
    /// encodings (stray trailing bits), so a hash has exactly one text form.
    pub fn from_base64(s: &str) -> Result<Hash, HashParseError> {
        let bytes = BASE64.decode(s).map_err(|_| HashParseError {
            reason: "not canonical standard base64",
        })?;
        Hash::from_slice(&bytes)
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

impl fmt::Display for Hash {
    /// Lower-case hex.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl AsRef<[u8]> for Hash {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// RFC 6962 leaf hash: SHA-256(0x00 || data).
#[must_use]
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(data);
    Hash(h.finalize().into())
}

/// RFC 6962 interior node hash: SHA-256(0x01 || left || right).
#[must_use]
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    // One contiguous buffer: a single `update` lets sha2 run whole blocks.
    let mut buf = [0u8; 65];
    buf[0] = 0x01;
    buf[1..33].copy_from_slice(&left.0);
    buf[33..].copy_from_slice(&right.0);
    Hash(Sha256::digest(buf).into())
}

/// Root of the empty tree: SHA-256 of the empty string (RFC 6962 section 2.1).
#[must_use]
pub fn empty_root() -> Hash {
    Hash::digest(b"")
}
