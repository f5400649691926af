//! The one CLI error type: every command returns it, and `main` maps it to a message on
//! stderr (or a JSON object with `--json`) and an exit code, once.

use std::process::ExitCode;

use crate::Ctx;

/// Exit codes are part of the interface (scripts and CI rely on them); see README.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The command ran and its check did not pass: lint errors, a failed verification.
    /// The findings were already printed; exit 1.
    #[error("{0}")]
    CheckFailed(String),
    /// The input the user gave is wrong: a missing file, a malformed key. Exit 2.
    #[error("{0:#}")]
    Input(anyhow::Error),
    /// Something failed that is not the user's input: I/O, an internal error. Exit 3.
    #[error("{0:#}")]
    Internal(anyhow::Error),
    /// Any of the above, with a line on what to type next.
    #[error("{inner}")]
    Hinted {
        /// The error.
        inner: Box<CliError>,
        /// What to do about it (`pass --set NAME=VALUE`).
        hint: String,
    },
}

impl CliError {
    /// Wraps a bad-input error with context.
    pub fn input(e: impl Into<anyhow::Error>) -> Self {
        Self::Input(e.into())
    }

    /// Wraps an internal or I/O error with context.
    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        Self::Internal(e.into())
    }

    /// Adds a hint on what to do next.
    #[must_use]
    pub fn with_hint(self, hint: impl Into<String>) -> Self {
        Self::Hinted {
            inner: Box::new(self),
            hint: hint.into(),
        }
    }

    fn code(&self) -> u8 {
        match self {
            Self::CheckFailed(_) => 1,
            Self::Input(_) => 2,
            Self::Internal(_) => 3,
            Self::Hinted { inner, .. } => inner.code(),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Self::CheckFailed(_) => "check_failed",
            Self::Input(_) => "input",
            Self::Internal(_) => "internal",
            Self::Hinted { inner, .. } => inner.kind(),
        }
    }

    fn hint(&self) -> Option<&str> {
        match self {
            Self::Hinted { hint, .. } => Some(hint),
            _ => None,
        }
    }

    /// Prints the error for a person or a program and returns the exit code.
    pub fn report(&self, ctx: &Ctx) -> ExitCode {
        if ctx.json {
            let mut v = serde_json::json!({ "kind": self.kind(), "message": self.to_string() });
            if let Some(hint) = self.hint() {
                v["hint"] = hint.into();
            }
            eprintln!("{}", serde_json::json!({ "error": v }));
        } else {
            eprintln!("error: {self}");
            if let Some(hint) = self.hint() {
                eprintln!("hint: {hint}");
            }
        }
        ExitCode::from(self.code())
    }
}
