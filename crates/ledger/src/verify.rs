//! Verification of inclusion and consistency proofs, exactly as RFC 9162 sections
//! 2.1.3.2 and 2.1.4.2 specify (no tree recomputation, no storage access).

use crate::hash::{Hash, node_hash};

/// Why a proof was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The leaf index is not below the tree size.
    #[error("leaf {index} is not in a tree of size {size}")]
    IndexOutOfRange {
        /// The leaf index.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// The proof has more hashes than the path to the root.
    #[error("proof has too many hashes")]
    ProofTooLong,
    /// The proof has fewer hashes than the path to the root.
    #[error("proof has too few hashes")]
    ProofTooShort,
    /// The proof does not lead to the expected root.
    #[error("proof does not lead to the expected root hash")]
    RootMismatch,
    /// The proof does not lead to the expected older root.
    #[error("proof does not lead to the expected older root hash")]
    OldRootMismatch,
    /// The sizes of a consistency proof are out of order or the older tree is empty.
    #[error("no consistency proof from tree size {old} to {new}: need 0 < old <= new")]
    BadSizes {
        /// The older tree size.
        old: u64,
        /// The newer tree size.
        new: u64,
    },
    /// Two trees of the same size must have the same root and an empty proof.
    #[error("trees of equal size {size} differ or come with a non-empty proof")]
    EqualSizesMismatch {
        /// The common size.
        size: u64,
    },
}

/// Verifies that `leaf` (a leaf hash) is leaf `index` of the tree of `size` leaves
/// with root `root`, given the inclusion proof `proof` (RFC 9162 section 2.1.3.2).
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), VerifyError> {
    // Step 1.
    if index >= size {
        return Err(VerifyError::IndexOutOfRange { index, size });
    }
    // Steps 2 and 3.
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf;
    // Step 4.
    for p in proof {
        if sn == 0 {
            return Err(VerifyError::ProofTooLong);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    // Step 5.
    if sn != 0 {
        return Err(VerifyError::ProofTooShort);
    }
    if r != *root {
        return Err(VerifyError::RootMismatch);
    }
    Ok(())
}

/// Verifies that the tree of `old` leaves with root `old_root` is a prefix of the tree
/// of `new` leaves with root `new_root`, given the consistency proof `proof`
/// (RFC 9162 section 2.1.4.2).
///
/// RFC 9162 defines the check for `0 < old < new`. For `old == new` the proof must be
/// empty and the roots equal. `old == 0` is rejected: an empty tree proves nothing,
/// and RFC 9162 requires a non-empty first tree.
pub fn verify_consistency(
    old: u64,
    new: u64,
    proof: &[Hash],
    old_root: &Hash,
    new_root: &Hash,
) -> Result<(), VerifyError> {
    if old == 0 || old > new {
        return Err(VerifyError::BadSizes { old, new });
    }
    if old == new {
        if proof.is_empty() && old_root == new_root {
            return Ok(());
        }
        return Err(VerifyError::EqualSizesMismatch { size: old });
    }
    // Step 1.
    let Some((first, rest)) = proof.split_first() else {
        return Err(VerifyError::ProofTooShort);
    };
    // Step 2: when `old` is a power of two its root is a node of the new tree and is
    // not repeated in the proof; iterate as if it had been prepended.
    let (start, rest): (&Hash, &[Hash]) = if old.is_power_of_two() {
        (old_root, proof)
    } else {
        (first, rest)
    };
    // Step 3.
    let (mut fn_, mut sn) = (old - 1, new - 1);
    // Step 4.
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    // Step 5.
    let (mut fr, mut sr) = (*start, *start);
    // Step 6.
    for c in rest {
        if sn == 0 {
            return Err(VerifyError::ProofTooLong);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    // Step 7.
    if sn != 0 {
        return Err(VerifyError::ProofTooShort);
    }
    if fr != *old_root {
        return Err(VerifyError::OldRootMismatch);
    }
    if sr != *new_root {
        return Err(VerifyError::RootMismatch);
    }
    Ok(())
}
