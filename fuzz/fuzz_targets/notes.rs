//! Fuzz target: signed notes and checkpoints never panic when parsed or opened, and a
//! checkpoint or note that parses prints back to text that parses to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sitrep_ledger::{Checkpoint, Note, Signer, Verifier, open_note};

/// The one key the target trusts, made once (deriving it per input would dominate).
fn trusted() -> &'static [Verifier] {
    static TRUSTED: std::sync::OnceLock<Vec<Verifier>> = std::sync::OnceLock::new();
    TRUSTED.get_or_init(|| {
        let signer = Signer::from_seed("fuzz.example/log", &[7; 32]).expect("a valid signer");
        vec![signer.verifier()]
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let trusted = trusted();
    let _ = open_note(text, trusted);
    let _ = Checkpoint::open(text, trusted);
    if let Ok(note) = Note::parse(text) {
        assert_eq!(Note::parse(&note.to_text()).ok(), Some(note), "note round trip");
    }
    if let Ok(cp) = Checkpoint::parse(text) {
        assert_eq!(Checkpoint::parse(&cp.to_text()).ok(), Some(cp), "checkpoint round trip");
    }
});
