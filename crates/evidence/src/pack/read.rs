//! Reading a pack's archive within fixed bounds: a cap on the bytes decompressed, the
//! member names a pack can have, and nothing after the archive's end.

use std::io::{self, BufRead, Read};

use sitrep_ledger::Hash;

/// What a member's name says it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Member {
    Manifest,
    Checkpoint,
    /// `keys/<index>.{json,tlog-proof,consistency}`.
    Key(u64),
    /// `records/<index>.json`.
    Record(u64),
    /// `proofs/<index>.tlog-proof`.
    Proof(u64),
    /// `blobs/<sha256 hex>`.
    Blob(Hash),
    /// Nothing a pack contains.
    Unknown,
}

/// A decimal index with no sign and no leading zero, as the writer names files.
fn index(text: &str) -> Option<u64> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    canonical.then(|| text.parse().ok()).flatten()
}

impl Member {
    pub(crate) fn of(name: &str) -> Member {
        let key = |rest: &str| {
            ["json", "tlog-proof", "consistency"]
                .iter()
                .find_map(|ext| rest.strip_suffix(ext)?.strip_suffix('.'))
                .and_then(index)
        };
        match name {
            "manifest.json" => Member::Manifest,
            "checkpoint" => Member::Checkpoint,
            _ => {
                if let Some(rest) = name.strip_prefix("keys/") {
                    key(rest).map_or(Member::Unknown, Member::Key)
                } else if let Some(rest) = name.strip_prefix("records/") {
                    rest.strip_suffix(".json")
                        .and_then(index)
                        .map_or(Member::Unknown, Member::Record)
                } else if let Some(rest) = name.strip_prefix("proofs/") {
                    rest.strip_suffix(".tlog-proof")
                        .and_then(index)
                        .map_or(Member::Unknown, Member::Proof)
                } else if let Some(hex) = name.strip_prefix("blobs/") {
                    Hash::from_hex(hex).map_or(Member::Unknown, Member::Blob)
                } else {
                    Member::Unknown
                }
            }
        }
    }
}

/// A reader that fails once more than `limit` bytes came through: the decompressed
/// stream, so a gzip bomb costs at most `limit` bytes of work, never of memory.
pub(crate) struct Bounded<R> {
    inner: R,
    left: u64,
    /// Set when the limit was hit.
    pub(crate) exceeded: bool,
}

impl<R: Read> Bounded<R> {
    pub(crate) fn new(inner: R, limit: u64) -> Self {
        Bounded {
            inner,
            left: limit,
            exceeded: false,
        }
    }

    pub(crate) fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            // At the limit: fine if the stream ends here, an error if it goes on.
            let mut probe = [0u8; 1];
            if self.inner.read(&mut probe)? == 0 {
                return Ok(0);
            }
            self.exceeded = true;
            return Err(io::Error::other("decompressed size limit reached"));
        }
        let max = usize::try_from(self.left)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let n = self.inner.read(&mut buf[..max])?;
        self.left -= n as u64;
        Ok(n)
    }
}

/// Most zero bytes accepted after the end marker (tar pads archives with zero blocks
/// to its record size, 10 KiB by default; this leaves room for larger records).
const MAX_END_PADDING: u64 = 1 << 20;

/// After the tar end marker: only zero padding, then the end of the gzip stream.
/// Anything else could be a member other tools list and we never verified. Returns
/// what is wrong, if anything.
pub(crate) fn check_padding(tar_rest: &mut impl Read) -> io::Result<Option<String>> {
    let mut buf = [0u8; 8192];
    let mut seen = 0u64;
    loop {
        let n = tar_rest.read(&mut buf)?;
        if n == 0 {
            return Ok(None);
        }
        if let Some(at) = buf[..n].iter().position(|&b| b != 0) {
            return Ok(Some(format!(
                "data after the archive's end marker (a non-zero byte after {} bytes of padding)",
                seen + at as u64
            )));
        }
        seen += n as u64;
        if seen > MAX_END_PADDING {
            return Ok(Some(format!(
                "more than {MAX_END_PADDING} bytes after the archive's end marker"
            )));
        }
    }
}

/// After the gzip stream: the end of the file (no second gzip member, no appended data).
pub(crate) fn check_eof(mut file_rest: impl BufRead) -> io::Result<Option<String>> {
    Ok((!file_rest.fill_buf()?.is_empty()).then(|| "data after the end of the gzip stream".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_writers_names_are_members() {
        let h = Hash::digest(b"x");
        assert_eq!(Member::of("records/12.json"), Member::Record(12));
        assert_eq!(Member::of("proofs/0.tlog-proof"), Member::Proof(0));
        assert_eq!(Member::of("keys/7.consistency"), Member::Key(7));
        assert_eq!(
            Member::of(&format!("blobs/{}", h.to_hex())),
            Member::Blob(h)
        );
        for bad in [
            "records/012.json",
            "records/+1.json",
            "records/1.json/",
            "./manifest.json",
            "blobs/ABC",
            "keys/1.txt",
            "proofs/1",
        ] {
            assert_eq!(Member::of(bad), Member::Unknown, "{bad}");
        }
    }

    #[test]
    fn the_bounded_reader_stops_at_its_limit() {
        let mut r = Bounded::new(&[1u8; 10][..], 4);
        let mut out = Vec::new();
        assert!(r.read_to_end(&mut out).is_err());
        assert!(r.exceeded);
        let mut r = Bounded::new(&[1u8; 4][..], 4);
        assert_eq!(r.read_to_end(&mut out).unwrap(), 4);
        assert!(!r.exceeded);
    }
}
