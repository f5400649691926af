//! Output shared by every command: human text by default, JSON with `--json`, written to
//! stdout in one piece so a reader that closes the pipe early (`| head`) is not an error.

use std::io::Write as _;

use serde::Serialize;

use crate::CliError;

/// What every command needs to know about how to talk to the user.
#[derive(Debug, Clone, Copy)]
pub struct Ctx {
    /// `--json` was given: print one JSON document on stdout, nothing else.
    pub json: bool,
}

impl Ctx {
    /// Prints `value` as pretty JSON on stdout.
    pub fn print_json<T: Serialize + ?Sized>(&self, value: &T) -> Result<(), CliError> {
        let mut s = serde_json::to_string_pretty(value).map_err(CliError::internal)?;
        s.push('\n');
        emit(&s)
    }
}

/// Writes `text` to stdout. A closed pipe ends output quietly; any other write failure
/// is an internal error.
pub fn emit(text: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(CliError::internal(
            anyhow::Error::new(e).context("cannot write to standard output"),
        )),
        _ => Ok(()),
    }
}
