//! Output context shared by every command: human text by default, JSON with `--json`.

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
        let s = serde_json::to_string_pretty(value).map_err(CliError::internal)?;
        println!("{s}");
        Ok(())
    }
}
