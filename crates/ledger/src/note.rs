//! C2SP signed notes (`c2sp.org/signed-note`) with Ed25519 keys: key strings, signing,
//! and opening a note against a set of trusted verifier keys.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use rand_core::CryptoRngCore;
use sha2::{Digest, Sha256};

/// Signature type byte of Ed25519 in signed notes.
const ALG_ED25519: u8 = 0x01;

/// Most signature lines a note may carry; C2SP requires accepting at least 16.
pub const MAX_SIGNATURES: usize = 100;

/// Why a key string or a signed note was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoteError {
    /// A key name that is empty or contains a space or `+`.
    #[error("invalid key name {0:?}: must be non-empty, without spaces or '+'")]
    InvalidKeyName(String),
    /// A verifier or signer key string that does not parse or is inconsistent.
    #[error("malformed key: {0}")]
    MalformedKey(&'static str),
    /// Text that is not a well-formed signed note.
    #[error("malformed note: {0}")]
    Malformed(&'static str),
    /// More than [`MAX_SIGNATURES`] signature lines.
    #[error("note has more than {MAX_SIGNATURES} signatures")]
    TooManySignatures,
    /// A signature by a trusted key that does not verify: the note was altered.
    #[error("invalid signature for key {name}+{key_id:08x}")]
    InvalidSignature {
        /// The key's name.
        name: String,
        /// The key's id.
        key_id: u32,
    },
    /// Two different trusted keys share a name and key id.
    #[error("ambiguous key {name}+{key_id:08x}")]
    AmbiguousKey {
        /// The key's name.
        name: String,
        /// The key's id.
        key_id: u32,
    },
    /// No signature by any trusted key.
    #[error("note has no signature from a trusted key")]
    NoVerifiedSignature,
}

/// A key name is non-empty and has no Unicode space and no `+` (C2SP signed-note).
fn check_name(name: &str) -> Result<(), NoteError> {
    if name.is_empty()
        || name.contains('+')
        || name.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(NoteError::InvalidKeyName(name.to_owned()));
    }
    Ok(())
}

/// Key id = first 4 bytes (big-endian) of SHA-256(name || 0x0A || 0x01 || public key).
fn key_id(name: &str, public: &[u8; 32]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', ALG_ED25519]);
    h.update(public);
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// Parses `<hex8>+<base64(0x01 || 32 bytes)>` (the tail of both key strings).
fn parse_id_and_key(id_hex: &str, key_b64: &str) -> Result<(u32, [u8; 32]), NoteError> {
    if id_hex.len() != 8
        || !id_hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(NoteError::MalformedKey(
            "key id must be 8 lower-case hex digits",
        ));
    }
    let id = u32::from_str_radix(id_hex, 16).map_err(|_| NoteError::MalformedKey("bad key id"))?;
    let raw = BASE64
        .decode(key_b64)
        .map_err(|_| NoteError::MalformedKey("key is not standard base64"))?;
    match raw.split_first() {
        Some((&ALG_ED25519, key)) => {
            let key = <[u8; 32]>::try_from(key)
                .map_err(|_| NoteError::MalformedKey("Ed25519 key must be 32 bytes"))?;
            Ok((id, key))
        }
        Some(_) => Err(NoteError::MalformedKey(
            "unsupported key type (only Ed25519, 0x01)",
        )),
        None => Err(NoteError::MalformedKey("empty key")),
    }
}

/// A trusted public key: `<name>+<hex key id>+<base64(0x01 || Ed25519 public key)>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Verifier {
    name: String,
    key_id: u32,
    key: VerifyingKey,
}

impl Verifier {
    /// A verifier for an Ed25519 public key under `name`.
    pub fn new(name: &str, key: &[u8; 32]) -> Result<Verifier, NoteError> {
        check_name(name)?;
        let key = VerifyingKey::from_bytes(key)
            .map_err(|_| NoteError::MalformedKey("not an Ed25519 public key"))?;
        Ok(Verifier {
            name: name.to_owned(),
            key_id: key_id(name, key.as_bytes()),
            key,
        })
    }

    /// Parses a verifier key string, checking that its key id matches name and key.
    pub fn parse(s: &str) -> Result<Verifier, NoteError> {
        // The key's base64 may itself contain '+', so split off two fields only.
        let mut parts = s.splitn(3, '+');
        let (Some(name), Some(id), Some(key), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(NoteError::MalformedKey("want <name>+<key id>+<key>"));
        };
        check_name(name)?;
        let (id, key) = parse_id_and_key(id, key)?;
        let v = Verifier::new(name, &key)?;
        if v.key_id != id {
            return Err(NoteError::MalformedKey(
                "key id does not match name and key",
            ));
        }
        Ok(v)
    }

    /// The key name (for a log: its origin).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id.
    #[must_use]
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The Ed25519 public key bytes.
    #[must_use]
    pub fn public_key(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        let Ok(sig) = Signature::from_slice(sig) else {
            return false;
        };
        self.key.verify_strict(msg, &sig).is_ok()
    }
}

impl fmt::Display for Verifier {
    /// The verifier key string.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut raw = [0u8; 33];
        raw[0] = ALG_ED25519;
        raw[1..].copy_from_slice(self.key.as_bytes());
        write!(
            f,
            "{}+{:08x}+{}",
            self.name,
            self.key_id,
            BASE64.encode(raw)
        )
    }
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Verifier({self})")
    }
}

impl FromStr for Verifier {
    type Err = NoteError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Verifier::parse(s)
    }
}

/// A private signing key: `PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 || seed)>`.
///
/// `Debug` never prints the secret.
#[derive(Clone)]
pub struct Signer {
    name: String,
    key_id: u32,
    key: SigningKey,
}

impl Signer {
    /// A new random key under `name`, from the caller's RNG.
    pub fn generate<R: CryptoRngCore + ?Sized>(
        name: &str,
        rng: &mut R,
    ) -> Result<Signer, NoteError> {
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        Signer::from_seed(name, &seed)
    }

    /// The key with Ed25519 seed (private key) `seed` under `name`.
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<Signer, NoteError> {
        check_name(name)?;
        let key = SigningKey::from_bytes(seed);
        Ok(Signer {
            name: name.to_owned(),
            key_id: key_id(name, key.verifying_key().as_bytes()),
            key,
        })
    }

    /// Parses a signer key string, checking that its key id matches name and key.
    pub fn parse(s: &str) -> Result<Signer, NoteError> {
        let rest = s
            .strip_prefix("PRIVATE+KEY+")
            .ok_or(NoteError::MalformedKey(
                "signer key must start with PRIVATE+KEY+",
            ))?;
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(id), Some(key), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(NoteError::MalformedKey(
                "want PRIVATE+KEY+<name>+<key id>+<key>",
            ));
        };
        check_name(name)?;
        let (id, seed) = parse_id_and_key(id, key)?;
        let signer = Signer::from_seed(name, &seed)?;
        if signer.key_id != id {
            return Err(NoteError::MalformedKey(
                "key id does not match name and key",
            ));
        }
        Ok(signer)
    }

    /// The secret key string, to store with owner-only permissions.
    #[must_use]
    pub fn to_key_string(&self) -> String {
        let mut raw = [0u8; 33];
        raw[0] = ALG_ED25519;
        raw[1..].copy_from_slice(self.key.as_bytes());
        format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            self.key_id,
            BASE64.encode(raw)
        )
    }

    /// The matching public verifier key.
    #[must_use]
    pub fn verifier(&self) -> Verifier {
        Verifier {
            name: self.name.clone(),
            key_id: self.key_id,
            key: self.key.verifying_key(),
        }
    }

    /// The key name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id.
    #[must_use]
    pub fn key_id(&self) -> u32 {
        self.key_id
    }
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signer({}+{:08x}, <secret>)", self.name, self.key_id)
    }
}

/// One signature line of a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    /// The signing key's name.
    pub name: String,
    /// The signing key's id.
    pub key_id: u32,
    /// The signature bytes (without the key id).
    pub signature: Vec<u8>,
}

/// A note split into its text and signature lines, not yet verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The signed text, ending in a newline.
    pub text: String,
    /// The signature lines, in order.
    pub signatures: Vec<NoteSignature>,
}

/// A note whose text is vouched for by at least one trusted key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedNote {
    /// The signed text, ending in a newline.
    pub text: String,
    /// Signatures by trusted keys, all verified (duplicates removed).
    pub verified: Vec<NoteSignature>,
    /// Signatures by keys not in the trusted set, ignored as C2SP requires.
    pub unverified: Vec<NoteSignature>,
}

/// Checks the note-wide character rules: no control characters but newline.
fn check_chars(s: &str) -> Result<(), NoteError> {
    if s.chars().any(|c| c.is_control() && c != '\n') {
        return Err(NoteError::Malformed("control character"));
    }
    Ok(())
}

fn check_text(text: &str) -> Result<(), NoteError> {
    check_chars(text)?;
    if text.is_empty() || !text.ends_with('\n') {
        return Err(NoteError::Malformed(
            "text must be non-empty and end in a newline",
        ));
    }
    Ok(())
}

impl Note {
    /// Splits a signed note into text and signatures (syntax only, nothing verified).
    pub fn parse(msg: &str) -> Result<Note, NoteError> {
        check_chars(msg)?;
        // The text ends at the last blank line; signatures follow it.
        let split = msg
            .rfind("\n\n")
            .ok_or(NoteError::Malformed("no blank line before signatures"))?;
        let (text, sigs) = (&msg[..=split], &msg[split + 2..]);
        check_text(text)?;
        if sigs.is_empty() || !sigs.ends_with('\n') {
            return Err(NoteError::Malformed(
                "signature block must be non-empty and end in a newline",
            ));
        }
        let mut signatures = Vec::new();
        for line in sigs[..sigs.len() - 1].split('\n') {
            if signatures.len() == MAX_SIGNATURES {
                return Err(NoteError::TooManySignatures);
            }
            signatures.push(parse_signature_line(line)?);
        }
        Ok(Note {
            text: text.to_owned(),
            signatures,
        })
    }

    /// The note with its signature lines, as text.
    #[must_use]
    pub fn to_text(&self) -> String {
        let mut out = self.text.clone();
        out.push('\n');
        for s in &self.signatures {
            let mut raw = s.key_id.to_be_bytes().to_vec();
            raw.extend_from_slice(&s.signature);
            out.push_str(&format!("\u{2014} {} {}\n", s.name, BASE64.encode(raw)));
        }
        out
    }
}

fn parse_signature_line(line: &str) -> Result<NoteSignature, NoteError> {
    let rest = line.strip_prefix("\u{2014} ").ok_or(NoteError::Malformed(
        "signature line must start with an em dash and a space",
    ))?;
    let (name, b64) = rest.split_once(' ').ok_or(NoteError::Malformed(
        "signature line must be: em dash, name, signature",
    ))?;
    check_name(name).map_err(|_| NoteError::Malformed("bad key name in signature line"))?;
    let raw = BASE64
        .decode(b64)
        .map_err(|_| NoteError::Malformed("signature is not standard base64"))?;
    // Four bytes of key id and at least one byte of signature.
    let (id, sig) = raw
        .split_first_chunk::<4>()
        .filter(|(_, sig)| !sig.is_empty())
        .ok_or(NoteError::Malformed("signature too short"))?;
    Ok(NoteSignature {
        name: name.to_owned(),
        key_id: u32::from_be_bytes(*id),
        signature: sig.to_vec(),
    })
}

/// Signs `text` (non-empty, ending in a newline) with every signer and returns the
/// signed note.
pub fn sign_note(text: &str, signers: &[&Signer]) -> Result<String, NoteError> {
    check_text(text)?;
    let signatures = signers
        .iter()
        .map(|s| {
            use ed25519_dalek::Signer as _;
            NoteSignature {
                name: s.name.clone(),
                key_id: s.key_id,
                signature: s.key.sign(text.as_bytes()).to_bytes().to_vec(),
            }
        })
        .collect();
    Ok(Note {
        text: text.to_owned(),
        signatures,
    }
    .to_text())
}

/// Opens a signed note: every signature by a trusted key must verify, signatures by
/// other keys are ignored, and at least one trusted signature is required.
pub fn open_note(msg: &str, trusted: &[Verifier]) -> Result<OpenedNote, NoteError> {
    let note = Note::parse(msg)?;
    let mut verified: Vec<NoteSignature> = Vec::new();
    let mut unverified: Vec<NoteSignature> = Vec::new();
    for sig in note.signatures {
        let mut matching = trusted
            .iter()
            .filter(|v| v.name == sig.name && v.key_id == sig.key_id);
        let Some(v) = matching.next() else {
            if !unverified.contains(&sig) {
                unverified.push(sig);
            }
            continue;
        };
        if matching.any(|other| other.key != v.key) {
            return Err(NoteError::AmbiguousKey {
                name: sig.name,
                key_id: sig.key_id,
            });
        }
        if !v.verify(note.text.as_bytes(), &sig.signature) {
            return Err(NoteError::InvalidSignature {
                name: sig.name,
                key_id: sig.key_id,
            });
        }
        if !verified.contains(&sig) {
            verified.push(sig);
        }
    }
    if verified.is_empty() {
        return Err(NoteError::NoVerifiedSignature);
    }
    Ok(OpenedNote {
        text: note.text,
        verified,
        unverified,
    })
}
