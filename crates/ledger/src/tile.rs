//! C2SP tlog-tiles (`c2sp.org/tlog-tiles`): which hash tiles and entry bundles a tree
//! has, their paths, and their bytes, so a log can be served as static files.
//!
//! A hash tile at level `L` holds up to 256 consecutive hashes of tree level `8 * L`
//! (level 0: leaf hashes); an entry bundle holds the matching entries, each prefixed
//! by its length as a big-endian `u16`. Both come straight from stored hashes and
//! entries: nothing is re-hashed. [`TileHashes`] goes the other way, for clients: it
//! serves stored hashes out of fetched tiles.

use crate::checkpoint::{FormatError, parse_decimal};
use crate::error::Error;
use crate::hash::{Hash, empty_root, node_hash};
use crate::store::{HashReader, LogStore, StorageError};
use crate::tree::{MAX_TREE_SIZE, read_exact, split_stored_hash_index, stored_hash_index};

/// Hashes (or entries) in a full tile.
pub const TILE_WIDTH: u16 = 256;

/// What a tile holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TileKind {
    /// Hashes of tree level `8 * level`.
    Hashes {
        /// The tile level (0 = leaf hashes).
        level: u8,
    },
    /// Log entries (an entry bundle), matching the level-0 hash tile of the same index.
    Entries,
}

/// One tile or entry bundle of a tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tile {
    /// Hash tile or entry bundle.
    pub kind: TileKind,
    /// Index of the tile within its level.
    pub index: u64,
    /// Number of hashes or entries, 1 to 256; below 256 the tile is partial.
    pub width: u16,
}

impl Tile {
    /// True for a partial tile (fewer than 256 hashes or entries).
    #[must_use]
    pub fn is_partial(&self) -> bool {
        self.width < TILE_WIDTH
    }

    /// The tile's path under the log's prefix, e.g. `tile/0/x001/x234/067.p/112`
    /// or `tile/entries/000`.
    #[must_use]
    pub fn path(&self) -> String {
        let mut out = match self.kind {
            TileKind::Hashes { level } => format!("tile/{level}/"),
            TileKind::Entries => "tile/entries/".to_owned(),
        };
        // Zero-padded 3-digit groups, all but the last prefixed with `x`.
        let mut groups = Vec::new();
        let mut n = self.index;
        loop {
            groups.push(n % 1000);
            n /= 1000;
            if n == 0 {
                break;
            }
        }
        for (i, g) in groups.iter().rev().enumerate() {
            if i + 1 < groups.len() {
                out.push_str(&format!("x{g:03}/"));
            } else {
                out.push_str(&format!("{g:03}"));
            }
        }
        if self.is_partial() {
            out.push_str(&format!(".p/{}", self.width));
        }
        out
    }

    /// Parses a tile path (the form [`Tile::path`] writes, and only that form).
    pub fn parse_path(path: &str) -> Result<Tile, FormatError> {
        let err = |reason: &str| FormatError::new("tile path", reason);
        let rest = path
            .strip_prefix("tile/")
            .ok_or_else(|| err("must start with tile/"))?;
        let (kind, rest) = match rest.strip_prefix("entries/") {
            Some(rest) => (TileKind::Entries, rest),
            None => {
                let (level, rest) = rest.split_once('/').ok_or_else(|| err("missing level"))?;
                let level = parse_decimal(level)
                    .filter(|&l| l <= 63)
                    .ok_or_else(|| err("level must be a decimal from 0 to 63"))?;
                (TileKind::Hashes { level: level as u8 }, rest)
            }
        };
        let (index_part, width) = match rest.split_once(".p/") {
            Some((index, width)) => {
                let w = parse_decimal(width)
                    .filter(|w| (1..u64::from(TILE_WIDTH)).contains(w))
                    .ok_or_else(|| err("partial width must be a decimal from 1 to 255"))?;
                (index, w as u16)
            }
            None => (rest, TILE_WIDTH),
        };
        let groups: Vec<&str> = index_part.split('/').collect();
        let mut index: u64 = 0;
        for (i, g) in groups.iter().enumerate() {
            let last = i + 1 == groups.len();
            let digits = if last {
                *g
            } else {
                g.strip_prefix('x')
                    .ok_or_else(|| err("index groups but the last start with x"))?
            };
            if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err("index groups must be 3 digits"));
            }
            if i == 0 && !last && digits == "000" {
                return Err(err("index has a leading zero group"));
            }
            let value: u64 = digits.parse().map_err(|_| err("bad index group"))?;
            index = index
                .checked_mul(1000)
                .and_then(|n| n.checked_add(value))
                .ok_or_else(|| err("index too large"))?;
        }
        Ok(Tile { kind, index, width })
    }

    /// Number of complete level-`8 * level` hashes in a tree of `size` leaves.
    fn level_count(size: u64, kind: TileKind) -> u64 {
        match kind {
            TileKind::Entries => size,
            TileKind::Hashes { level } => size.checked_shr(8 * u32::from(level)).unwrap_or(0),
        }
    }
}

/// Every tile and entry bundle of the tree of `size` leaves (full ones and the partial
/// rightmost ones), level by level, entry bundles last.
#[must_use]
pub fn tiles(size: u64) -> Vec<Tile> {
    new_tiles(0, size)
}

/// The tiles and entry bundles that appear or change when the tree grows from `old`
/// to `new` leaves: what to write after publishing a checkpoint for `new`.
#[must_use]
pub fn new_tiles(old: u64, new: u64) -> Vec<Tile> {
    let mut out = Vec::new();
    let kinds = (0u8..8)
        .map(|level| TileKind::Hashes { level })
        .chain([TileKind::Entries]);
    for kind in kinds {
        let (have, want) = (Tile::level_count(old, kind), Tile::level_count(new, kind));
        if want <= have {
            continue;
        }
        let width = u64::from(TILE_WIDTH);
        // The tile holding the first new hash, through the one holding the last.
        for index in have / width..want.div_ceil(width) {
            let w = (want - index * width).min(width);
            out.push(Tile {
                kind,
                index,
                width: w as u16,
            });
        }
    }
    out
}

/// The bytes of `tile` in the tree of `size` leaves held by `store`: 32-byte hashes
/// back to back for a hash tile; `u16` big-endian length-prefixed entries for an
/// entry bundle.
pub fn read_tile<S: LogStore + ?Sized>(
    store: &S,
    size: u64,
    tile: &Tile,
) -> Result<Vec<u8>, Error> {
    let out_of_range = || Error::TileOutOfRange {
        path: tile.path(),
        size,
    };
    if size > MAX_TREE_SIZE {
        return Err(Error::TreeTooLarge { size });
    }
    if tile.width == 0 || tile.width > TILE_WIDTH {
        return Err(out_of_range());
    }
    let start = tile
        .index
        .checked_mul(u64::from(TILE_WIDTH))
        .ok_or_else(out_of_range)?;
    let end = start
        .checked_add(u64::from(tile.width))
        .ok_or_else(out_of_range)?;
    if end > Tile::level_count(size, tile.kind) {
        return Err(out_of_range());
    }
    match tile.kind {
        TileKind::Hashes { level } => {
            let tree_level = level
                .checked_mul(8)
                .filter(|&l| l < 63)
                .ok_or_else(out_of_range)?;
            let indexes: Vec<u64> = (start..end)
                .map(|n| stored_hash_index(tree_level, n))
                .collect();
            let hashes = read_exact(store, &indexes)?;
            Ok(hashes.iter().flat_map(|h| h.0).collect())
        }
        TileKind::Entries => {
            let entries = store.read_entries(start, end)?;
            if entries.len() as u64 != end - start {
                return Err(Error::ShortRead {
                    want: (end - start) as usize,
                    got: entries.len(),
                });
            }
            let mut out = Vec::new();
            for (index, e) in (start..).zip(&entries) {
                let len = u16::try_from(e.len()).map_err(|_| Error::EntryTooLong {
                    index,
                    len: e.len(),
                })?;
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(e);
            }
            Ok(out)
        }
    }
}

/// Stored hashes served from fetched hash tiles: a client holding the tiles of a tree
/// builds roots and proofs with the same functions the log uses ([`crate::tree_hash`],
/// [`crate::prove_inclusion`], ...), then verifies them against a signed checkpoint.
///
/// The tiles themselves are not trusted: anything built from them is only as good as
/// its verification against a checkpoint root.
#[derive(Debug, Clone, Default)]
pub struct TileHashes {
    /// (tile level, tile index) to the widest version of that tile seen.
    tiles: std::collections::BTreeMap<(u8, u64), Vec<Hash>>,
}

impl TileHashes {
    /// An empty set.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a hash tile's bytes (as served at `tile.path()`). Entry bundles are refused.
    pub fn insert(&mut self, tile: &Tile, bytes: &[u8]) -> Result<(), FormatError> {
        let err = |reason: &str| FormatError::new("tile", reason);
        let TileKind::Hashes { level } = tile.kind else {
            return Err(err("an entry bundle holds no hashes"));
        };
        if level > 7 || tile.width == 0 || tile.width > TILE_WIDTH {
            return Err(err("tile out of range"));
        }
        if bytes.len() != usize::from(tile.width) * Hash::LEN {
            return Err(err("length is not 32 bytes per hash of the tile's width"));
        }
        let hashes: Vec<Hash> = bytes
            .chunks_exact(Hash::LEN)
            .map(|c| Hash::from_slice(c).map_err(|_| err("bad hash")))
            .collect::<Result<_, _>>()?;
        let slot = self.tiles.entry((level, tile.index)).or_default();
        // A wider version of a tile extends a narrower one; keep the widest.
        if hashes.len() > slot.len() {
            *slot = hashes;
        }
        Ok(())
    }
}

impl HashReader for TileHashes {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, StorageError> {
        indexes
            .iter()
            .map(|&index| {
                // Stored hash (level, n) is the root of 2^(level % 8) consecutive hashes
                // of tile level level / 8.
                let (level, n) = split_stored_hash_index(index);
                let (tile_level, height) = (level / 8, level % 8);
                let missing = || StorageError::new(format!("no tile holds stored hash {index}"));
                let first = n.checked_shl(u32::from(height)).ok_or_else(missing)?;
                let width = u64::from(TILE_WIDTH);
                let pos = usize::try_from(first % width).map_err(|_| missing())?;
                let count = 1usize << height;
                let tile = self
                    .tiles
                    .get(&(tile_level, first / width))
                    .ok_or_else(missing)?;
                let span = tile.get(pos..pos + count).ok_or_else(missing)?;
                Ok(perfect_root(span))
            })
            .collect()
    }
}

/// Root of a perfect subtree over `hashes` (a power-of-two count).
fn perfect_root(hashes: &[Hash]) -> Hash {
    let mut level: Vec<Hash> = hashes.to_vec();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|p| match p {
                [l, r] => node_hash(l, r),
                [only] => *only,
                // chunks(2) yields one or two hashes; this arm cannot be reached.
                _ => empty_root(),
            })
            .collect();
    }
    level.first().copied().unwrap_or_else(empty_root)
}
