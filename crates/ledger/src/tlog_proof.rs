//! C2SP tlog-proof files (`c2sp.org/tlog-proof@v1`): an entry's index, its inclusion
//! proof and the signed checkpoint it leads to, verifiable offline.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::checkpoint::{Checkpoint, CheckpointError, FormatError, parse_decimal};
use crate::hash::Hash;
use crate::note::Verifier;
use crate::verify::{VerifyError, verify_inclusion};

const HEADER: &str = "c2sp.org/tlog-proof@v1";

/// A tlog-proof file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogProof {
    /// Optional opaque extra data; not authenticated, never to be trusted.
    pub extra: Option<Vec<u8>>,
    /// The entry's index in the log.
    pub index: u64,
    /// The inclusion proof, from the leaf's sibling up to a child of the root.
    pub proof: Vec<Hash>,
    /// The signed checkpoint, verbatim (a signed note).
    pub checkpoint: String,
}

/// Why a tlog-proof did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlogProofError {
    /// The checkpoint is malformed or not signed by a trusted key.
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
    /// The checkpoint comes from a different log than expected.
    #[error("checkpoint origin is {found:?}, expected {expected:?}")]
    WrongOrigin {
        /// The origin the caller pinned.
        expected: String,
        /// The origin in the checkpoint.
        found: String,
    },
    /// The inclusion proof does not lead to the checkpoint's root.
    #[error("inclusion proof: {0}")]
    Inclusion(#[from] VerifyError),
}

impl TlogProof {
    /// The file's text.
    #[must_use]
    pub fn to_text(&self) -> String {
        let mut out = format!("{HEADER}\n");
        if let Some(extra) = &self.extra {
            out.push_str(&format!("extra {}\n", BASE64.encode(extra)));
        }
        out.push_str(&format!("index {}\n", self.index));
        for h in &self.proof {
            out.push_str(&h.to_base64());
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&self.checkpoint);
        out
    }

    /// Parses a tlog-proof file (syntax only; see [`TlogProof::verify`]).
    pub fn parse(text: &str) -> Result<TlogProof, FormatError> {
        let err = |reason: &str| FormatError::new("tlog-proof", reason);
        let mut rest = text;
        let mut next_line = |what: &str| -> Result<&str, FormatError> {
            let (line, tail) = rest
                .split_once('\n')
                .ok_or_else(|| err(&format!("missing {what}")))?;
            rest = tail;
            Ok(line)
        };
        if next_line("header")? != HEADER {
            return Err(err("first line must be c2sp.org/tlog-proof@v1"));
        }
        let mut line = next_line("index line")?;
        let extra = match line.strip_prefix("extra ") {
            Some(b64) => {
                let bytes = BASE64
                    .decode(b64)
                    .map_err(|_| err("extra is not standard base64"))?;
                line = next_line("index line")?;
                Some(bytes)
            }
            None => None,
        };
        let index = line
            .strip_prefix("index ")
            .and_then(parse_decimal)
            .ok_or_else(|| err("expected 'index N' with N a decimal without leading zeros"))?;
        let mut proof = Vec::new();
        loop {
            let line = next_line("blank line before the checkpoint")?;
            if line.is_empty() {
                break;
            }
            // A proof longer than 64 hashes cannot belong to any tree under 2^64.
            if proof.len() == 64 {
                return Err(err("more than 64 proof hashes"));
            }
            proof.push(
                Hash::from_base64(line)
                    .map_err(|_| err("proof line is not a base64 SHA-256 hash"))?,
            );
        }
        if rest.is_empty() {
            return Err(err("missing checkpoint"));
        }
        Ok(TlogProof {
            extra,
            index,
            proof,
            checkpoint: rest.to_owned(),
        })
    }

    /// Verifies that `leaf` (an RFC 6962 leaf hash) is entry `index` of the log whose
    /// checkpoint is signed by one of the `trusted` keys and has origin `origin`.
    /// Returns the verified checkpoint.
    pub fn verify(
        &self,
        leaf: &Hash,
        origin: &str,
        trusted: &[Verifier],
    ) -> Result<Checkpoint, TlogProofError> {
        let checkpoint = Checkpoint::open(&self.checkpoint, trusted)?;
        if checkpoint.origin != origin {
            return Err(TlogProofError::WrongOrigin {
                expected: origin.to_owned(),
                found: checkpoint.origin,
            });
        }
        verify_inclusion(
            leaf,
            self.index,
            checkpoint.size,
            &self.proof,
            &checkpoint.root,
        )?;
        Ok(checkpoint)
    }
}
