//! Fuzz target: the server's TOML config never panics when loaded; every failure is an
//! error naming what is wrong.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = sitrep_app::Config::from_toml(text, std::path::Path::new("fuzz.toml")) {
        assert!(!e.to_string().is_empty());
    }
});
