//! Helpers shared by the CLI integration tests: run the real `sitrep` binary and read
//! what it printed.

// Each test binary compiles this module and uses only some of it.
#![allow(dead_code)]

use std::process::{Command, Output};

/// Runs `sitrep` with `args` and waits for it.
pub fn sitrep(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sitrep"))
        .args(args)
        .output()
        .expect("the sitrep binary runs")
}

/// Standard output as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
