//! C2SP tlog-checkpoint (`c2sp.org/tlog-checkpoint`): a log's origin, tree size and
//! root as note text, signed as a C2SP signed note.

use crate::hash::Hash;
use crate::note::{NoteError, Signer, Verifier, open_note, sign_note};

/// A text format (checkpoint, tlog-proof, tile path) that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed {format}: {reason}")]
pub struct FormatError {
    /// Which format: `checkpoint`, `tlog-proof` or `tile path`.
    pub format: &'static str,
    /// What is wrong.
    pub reason: String,
}

impl FormatError {
    pub(crate) fn new(format: &'static str, reason: impl Into<String>) -> Self {
        FormatError {
            format,
            reason: reason.into(),
        }
    }
}

/// Why a signed checkpoint was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The signed note is malformed or not signed by a trusted key.
    #[error(transparent)]
    Note(#[from] NoteError),
    /// The signed text is not a checkpoint.
    #[error(transparent)]
    Format(#[from] FormatError),
}

/// A log checkpoint: the tree head a log commits to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's identity, e.g. `sitrep.example.com/ledger`.
    pub origin: String,
    /// Number of leaves.
    pub size: u64,
    /// RFC 6962 root hash of the first `size` leaves.
    pub root: Hash,
    /// Optional extension lines (opaque, non-empty; C2SP does not recommend them).
    pub extensions: Vec<String>,
}

/// Parses a decimal without sign or leading zeros (except `0` itself).
pub(crate) fn parse_decimal(s: &str) -> Option<u64> {
    let canonical =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    if !canonical {
        return None;
    }
    s.parse().ok()
}

impl Checkpoint {
    /// A checkpoint without extension lines.
    pub fn new(origin: impl Into<String>, size: u64, root: Hash) -> Checkpoint {
        Checkpoint {
            origin: origin.into(),
            size,
            root,
            extensions: Vec::new(),
        }
    }

    /// The note text: origin, size, base64 root and extensions, one per line.
    #[must_use]
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            self.root.to_base64()
        );
        for e in &self.extensions {
            out.push_str(e);
            out.push('\n');
        }
        out
    }

    /// Parses checkpoint note text (without signatures).
    pub fn parse(text: &str) -> Result<Checkpoint, FormatError> {
        let err = |reason: &str| FormatError::new("checkpoint", reason);
        let body = text
            .strip_suffix('\n')
            .ok_or_else(|| err("text must end in a newline"))?;
        let mut lines = body.split('\n');
        let origin = lines
            .next()
            .filter(|l| !l.is_empty())
            .ok_or_else(|| err("empty origin line"))?;
        if origin.chars().any(char::is_control) {
            return Err(err("control character in origin"));
        }
        let size = lines
            .next()
            .and_then(parse_decimal)
            .ok_or_else(|| err("tree size must be a decimal without leading zeros"))?;
        let root = lines
            .next()
            .and_then(|l| Hash::from_base64(l).ok())
            .ok_or_else(|| err("root must be a base64 SHA-256 hash"))?;
        let extensions: Vec<String> = lines.map(str::to_owned).collect();
        if extensions
            .iter()
            .any(|e| e.is_empty() || e.chars().any(char::is_control))
        {
            return Err(err("extension lines must be non-empty text"));
        }
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }

    /// The checkpoint as a signed note, signed by every signer.
    pub fn sign(&self, signers: &[&Signer]) -> Result<String, CheckpointError> {
        // Re-parse our own text so a checkpoint that could not be read back (a
        // newline in the origin, say) is never signed.
        let text = self.to_text();
        if Checkpoint::parse(&text)? != *self {
            return Err(FormatError::new("checkpoint", "fields do not survive encoding").into());
        }
        Ok(sign_note(&text, signers)?)
    }

    /// Opens a signed checkpoint against trusted keys (see [`open_note`]) and parses it.
    pub fn open(signed: &str, trusted: &[Verifier]) -> Result<Checkpoint, CheckpointError> {
        let note = open_note(signed, trusted)?;
        Ok(Checkpoint::parse(&note.text)?)
    }
}
