//! tlog-tiles: paths, which tiles a tree has, and tile contents checked against
//! hashes computed independently from the entries.

use proptest::prelude::*;
use sitrep_ledger::{
    Error, Hash, MemoryStore, Tile, TileHashes, TileKind, append, leaf_hash, new_tiles, node_hash,
    prove_consistency, prove_inclusion, read_tile, tiles, tree_hash,
};

fn hashes(t: TileKind, index: u64, width: u16) -> Tile {
    Tile {
        kind: t,
        index,
        width,
    }
}

#[test]
fn paths_follow_the_spec() {
    let l0 = TileKind::Hashes { level: 0 };
    let cases = [
        (hashes(l0, 0, 256), "tile/0/000"),
        (hashes(l0, 5, 256), "tile/0/005"),
        (hashes(l0, 1000, 256), "tile/0/x001/000"),
        (hashes(l0, 1_234_067, 256), "tile/0/x001/x234/067"),
        (
            hashes(TileKind::Hashes { level: 3 }, 1_234_067, 112),
            "tile/3/x001/x234/067.p/112",
        ),
        (
            hashes(TileKind::Entries, 273, 112),
            "tile/entries/273.p/112",
        ),
        (
            hashes(TileKind::Entries, u64::MAX, 1),
            "tile/entries/x018/x446/x744/x073/x709/x551/615.p/1",
        ),
    ];
    for (tile, path) in cases {
        assert_eq!(tile.path(), path);
        assert_eq!(Tile::parse_path(path).unwrap(), tile, "{path}");
    }
    for bad in [
        "tile/0/1",
        "tile/0/0001",
        "tile/00/000",
        "tile/64/000",
        "tile/0/001/002",
        "tile/0/x000/001",
        "tile/0/x001/x002",
        "tile/0/000.p/0",
        "tile/0/000.p/256",
        "tile/0/000.p/01",
        "tile/0/000.p/",
        "tile/entries/",
        "tiles/0/000",
        "tile/0/x018/x446/x744/x073/x709/x551/616",
    ] {
        assert!(Tile::parse_path(bad).is_err(), "{bad}");
    }
}

#[test]
fn spec_example_tree_of_70000() {
    // c2sp.org/tlog-tiles: 273 full level-0 tiles, a partial one of width 112, one
    // full level-1 tile, a partial of width 17, and a partial level-2 tile of width 1.
    let all = tiles(70_000);
    let level = |l: u8| -> Vec<&Tile> {
        all.iter()
            .filter(|t| t.kind == TileKind::Hashes { level: l })
            .collect()
    };
    assert_eq!(level(0).len(), 274);
    assert_eq!(level(0).iter().filter(|t| !t.is_partial()).count(), 273);
    assert_eq!(level(0).last().unwrap().width, 112);
    assert_eq!(
        level(1).iter().map(|t| t.width).collect::<Vec<_>>(),
        vec![256, 17]
    );
    assert_eq!(
        level(2).iter().map(|t| t.width).collect::<Vec<_>>(),
        vec![1]
    );
    assert!(level(3).is_empty());
    // "A tree of size 256 will be represented by a full level 0 tile and a partial
    // level 1 tile of width 1."
    let t256: Vec<_> = tiles(256)
        .into_iter()
        .filter(|t| t.kind != TileKind::Entries)
        .collect();
    assert_eq!(
        t256,
        vec![
            hashes(TileKind::Hashes { level: 0 }, 0, 256),
            hashes(TileKind::Hashes { level: 1 }, 0, 1)
        ]
    );
    assert!(tiles(0).is_empty());
}

fn build(n: u64) -> (MemoryStore, Vec<Vec<u8>>) {
    let entries: Vec<Vec<u8>> = (0..n).map(|i| format!("entry {i}").into_bytes()).collect();
    let refs: Vec<&[u8]> = entries.iter().map(Vec::as_slice).collect();
    let mut store = MemoryStore::new();
    append(&mut store, &refs).unwrap();
    (store, entries)
}

/// Root of a perfect tree over `hashes` (a power-of-two count), hashed naively.
fn perfect_root(hashes: &[Hash]) -> Hash {
    if hashes.len() == 1 {
        return hashes[0];
    }
    let (l, r) = hashes.split_at(hashes.len() / 2);
    node_hash(&perfect_root(l), &perfect_root(r))
}

fn as_hashes(bytes: &[u8]) -> Vec<Hash> {
    assert_eq!(bytes.len() % 32, 0);
    bytes
        .chunks(32)
        .map(|c| Hash::from_slice(c).unwrap())
        .collect()
}

#[test]
fn tile_contents_match_independent_hashes() {
    let size = 256 * 256 + 256 * 3 + 7;
    let (store, entries) = build(size);
    for tile in tiles(size) {
        let bytes = read_tile(&store, size, &tile).unwrap();
        let start = (tile.index * 256) as usize;
        match tile.kind {
            TileKind::Entries => {
                // Each entry, u16 length-prefixed, in order.
                let mut rest = bytes.as_slice();
                for e in &entries[start..start + usize::from(tile.width)] {
                    let (len, tail) = rest.split_at(2);
                    assert_eq!(usize::from(u16::from_be_bytes([len[0], len[1]])), e.len());
                    assert_eq!(&tail[..e.len()], e.as_slice());
                    rest = &tail[e.len()..];
                }
                assert!(rest.is_empty());
            }
            TileKind::Hashes { level: 0 } => {
                let want: Vec<Hash> = entries[start..start + usize::from(tile.width)]
                    .iter()
                    .map(|e| leaf_hash(e))
                    .collect();
                assert_eq!(as_hashes(&bytes), want);
            }
            TileKind::Hashes { level } => {
                // Hash i of a level-L tile is the root of full level-(L-1) tile
                // (index * 256 + i).
                let below = TileKind::Hashes { level: level - 1 };
                for (i, h) in as_hashes(&bytes).iter().enumerate() {
                    let child = Tile {
                        kind: below,
                        index: tile.index * 256 + i as u64,
                        width: 256,
                    };
                    let child_hashes = as_hashes(&read_tile(&store, size, &child).unwrap());
                    assert_eq!(*h, perfect_root(&child_hashes));
                }
            }
        }
    }
    // The first full level-1 tile covers 65,536 leaves: its root is the tree root there.
    let l1 = as_hashes(
        &read_tile(&store, size, &hashes(TileKind::Hashes { level: 1 }, 0, 256)).unwrap(),
    );
    assert_eq!(perfect_root(&l1), tree_hash(65_536, &store).unwrap());
}

#[test]
fn tiles_beyond_the_tree_are_refused() {
    let (store, _) = build(300);
    let l0 = TileKind::Hashes { level: 0 };
    assert!(read_tile(&store, 300, &hashes(l0, 1, 44)).is_ok());
    for tile in [
        hashes(l0, 1, 45),
        hashes(l0, 2, 1),
        hashes(TileKind::Hashes { level: 1 }, 0, 2),
        hashes(l0, u64::MAX, 255),
    ] {
        assert!(
            matches!(
                read_tile(&store, 300, &tile),
                Err(Error::TileOutOfRange { .. })
            ),
            "{tile:?}"
        );
    }
    // An entry too long for a bundle's u16 length is an error, not a truncation.
    let mut store = MemoryStore::new();
    append(&mut store, &[vec![0u8; 70_000].as_slice()]).unwrap();
    assert!(matches!(
        read_tile(&store, 1, &hashes(TileKind::Entries, 0, 1)),
        Err(Error::EntryTooLong { .. })
    ));
}

proptest! {
    #[test]
    fn new_tiles_are_exactly_the_tiles_that_changed(old in 0u64..140_000, grow in 0u64..140_000) {
        let new = old + grow;
        let before = tiles(old);
        let after = tiles(new);
        let mut want: Vec<Tile> = after.into_iter().filter(|t| !before.contains(t)).collect();
        let mut got = new_tiles(old, new);
        want.sort();
        got.sort();
        prop_assert_eq!(got, want);
    }
}

#[test]
fn tiles_alone_rebuild_every_root_and_proof() {
    // A client that fetched the hash tiles of a tree gets the same roots and proofs as
    // the log's own store, for every smaller tree too.
    let size = 256 * 256 + 256 * 2 + 77;
    let (store, _) = build(size);
    let mut fetched = TileHashes::new();
    for tile in tiles(size) {
        if tile.kind != TileKind::Entries {
            fetched
                .insert(&tile, &read_tile(&store, size, &tile).unwrap())
                .unwrap();
        }
    }
    for m in [
        1,
        2,
        3,
        255,
        256,
        257,
        65_535,
        65_536,
        65_537,
        size - 1,
        size,
    ] {
        assert_eq!(
            tree_hash(m, &fetched).unwrap(),
            tree_hash(m, &store).unwrap(),
            "root {m}"
        );
        let i = m / 3;
        assert_eq!(
            prove_inclusion(m, i, &fetched).unwrap(),
            prove_inclusion(m, i, &store).unwrap()
        );
        assert_eq!(
            prove_consistency(m, size, &fetched).unwrap(),
            prove_consistency(m, size, &store).unwrap()
        );
    }
    // A narrower copy of a tile never replaces a wider one; a missing tile is an error.
    let l0 = TileKind::Hashes { level: 0 };
    let narrow = hashes(l0, 0, 3);
    fetched
        .insert(&narrow, &read_tile(&store, size, &narrow).unwrap())
        .unwrap();
    assert_eq!(
        tree_hash(size, &fetched).unwrap(),
        tree_hash(size, &store).unwrap()
    );
    assert!(matches!(
        tree_hash(size + 256, &fetched),
        Err(Error::Storage(_))
    ));
    // Wrong lengths and entry bundles are refused.
    assert!(fetched.insert(&hashes(l0, 0, 2), &[0u8; 63]).is_err());
    assert!(
        fetched
            .insert(&hashes(TileKind::Entries, 0, 1), &[0u8; 32])
            .is_err()
    );
}
