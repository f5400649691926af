//! Fuzz target: `verify_pack` on any archive never panics and stays within its limits.
//! The input is the tar stream (gzipped here, so the fuzzer explores the archive, the
//! manifest and the records rather than gzip headers); input that already is gzip is
//! also given as is.
#![no_main]

use std::io::Write as _;

use libfuzzer_sys::fuzz_target;
use sitrep_evidence::pack::{Limits, verify_pack};
use sitrep_ledger::{Signer, Verifier};

/// The one key the target trusts, made once (deriving it per input would dominate).
fn trusted() -> &'static [Verifier] {
    static TRUSTED: std::sync::OnceLock<Vec<Verifier>> = std::sync::OnceLock::new();
    TRUSTED.get_or_init(|| {
        let signer = Signer::from_seed("sitrep.local/ledger", &[7; 32]).expect("a valid signer");
        vec![signer.verifier()]
    })
}

fuzz_target!(|data: &[u8]| {
    let trusted = trusted();
    if data.starts_with(&[0x1f, 0x8b]) {
        let _ = verify_pack(data, trusted, Limits::default());
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).expect("in memory");
    let packed = gz.finish().expect("in memory");
    let _ = verify_pack(packed.as_slice(), trusted, Limits::default());
});
