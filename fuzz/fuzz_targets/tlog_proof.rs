//! Fuzz target: tlog-proof files never panic when parsed, and one that parses prints back
//! to text that parses to the same proof.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sitrep_ledger::TlogProof;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(p) = TlogProof::parse(text) {
        assert_eq!(TlogProof::parse(&p.to_text()).ok(), Some(p), "tlog-proof round trip");
    }
});
