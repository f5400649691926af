//! Fuzz target: ledger records (read from packs and databases) never panic when decoded,
//! and a record that decodes has exactly the bytes it was decoded from as its encoding.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sitrep_ledger::Record;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = Record::decode(data) {
        assert_eq!(r.encode().expect("a decoded record encodes"), data, "one encoding");
    }
});
