//! The one error type of the use cases; the CLI and the HTTP layer each map it once.

use std::path::{Path, PathBuf};

use sitrep_store::StoreError;

/// What can go wrong in a use case. Variants are grouped by who must act: the caller
/// (bad input, not found, refused by a rule) or the operator (storage, keys).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    /// A value the caller gave is not acceptable; `field` names it.
    #[error("{field}: {message}")]
    Invalid {
        /// The argument or JSON field.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// No such thing.
    #[error("{what} {id} not found")]
    NotFound {
        /// `incident`, `runbook`, `step`, `checklist item`, ...
        what: &'static str,
        /// What was looked up.
        id: String,
    },
    /// The state machine does not allow it.
    #[error(transparent)]
    Transition(#[from] crate::lifecycle::TransitionError),
    /// Resolution needs these stand-down items ticked first.
    #[error("cannot resolve: {} stand-down item(s) not ticked: {}", .open.len(), .open.join("; "))]
    ChecklistOpen {
        /// The texts of the items still open.
        open: Vec<String>,
    },
    /// The step has placeholders no source could bind.
    #[error("unbound placeholder(s): {}", .names.join(", "))]
    Unbound {
        /// Every missing name.
        names: Vec<String>,
    },
    /// Values that may not be bound (from an alert, the incident or a person); nothing
    /// ran, and each refusal is on the incident's timeline.
    #[error("refused value(s): {}", .refusals.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    ValueRefused {
        /// Which placeholder, from which source, and the rule it broke.
        refusals: Vec<sitrep_executor::Refusal>,
    },
    /// The step needs its exact plan confirmed.
    #[error("confirmation needed: {}", .reasons.join("; "))]
    NeedsConfirmation {
        /// The exact command to confirm.
        display: String,
        /// The plan id to confirm it with.
        plan: String,
        /// Why.
        reasons: Vec<String>,
    },
    /// The step needs a second person.
    #[error("approval needed: {reason}")]
    NeedsApproval {
        /// Why.
        reason: String,
        /// The pending approval to ask a second person for (none when the run was only
        /// planned).
        approval: Option<Box<crate::approvals::Approval>>,
    },
    /// The person who asked for a run cannot be its second person.
    #[error("the person who asked for a run cannot approve it")]
    SelfApproval,
    /// Never in this mode.
    #[error("refused: {reason}")]
    Denied {
        /// Why.
        reason: String,
    },
    /// Escalating found every level of the incident's policy, repeats included,
    /// already paged: nothing is left to escalate to (page a person instead).
    #[error("no escalation level left after level {levels} (policy `{policy}`, repeats included)")]
    NoLevelLeft {
        /// The policy.
        policy: String,
        /// How many levels it has; counted from 1 as `page.escalated` counts them, the
        /// last one paged is level `levels`.
        levels: usize,
    },
    /// Someone else changed the incident at the same time, repeatedly.
    #[error("incident {id} is changing too fast; try again")]
    Busy {
        /// The incident.
        id: String,
    },
    /// The database or the ledger failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The blob store failed.
    #[error(transparent)]
    Blob(#[from] sitrep_evidence::BlobError),
    /// The evidence pack could not be written.
    #[error(transparent)]
    Pack(#[from] sitrep_evidence::pack::PackError),
    /// A directory sitrep keeps its data in is open to other users in a way that cannot
    /// be tightened safely (docs/incidents.md, "Where data lives").
    #[error(
        "{what} {} is mode {mode:04o}: {why}; refusing to use it. Check nobody changed \
         its files, then `chmod 700 {}`",
        .path.display(), .path.display()
    )]
    UnsafeDir {
        /// The directory.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
        /// Which directory (`the data dir`, `the blob dir`).
        what: &'static str,
        /// Who could write to it.
        why: &'static str,
    },
    /// The signing key is missing, unreadable or unsafe.
    #[error("ledger key: {0}")]
    Key(String),
    /// The configuration is not usable.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// A step could not be started.
    #[error(transparent)]
    Run(#[from] sitrep_executor::RunError),
    /// A query step's datasource failed or refused the query (the run is recorded).
    #[error(transparent)]
    Query(#[from] sitrep_executor::query::QueryError),
    /// A bug: a record we built does not encode, and similar.
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        AppError::Io {
            path: path.to_owned(),
            source,
        }
    }

    pub(crate) fn invalid(field: &str, message: impl Into<String>) -> Self {
        AppError::Invalid {
            field: field.to_owned(),
            message: message.into(),
        }
    }

    /// Which kind of failure this is: the one vocabulary every edge (HTTP, CLI) maps
    /// from, so the API, the UI and the CLI agree on what a failure means.
    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        match self {
            AppError::Invalid { .. } | AppError::Unbound { .. } | AppError::Config(_) => {
                ErrorKind::Invalid
            }
            AppError::NotFound { .. } => ErrorKind::NotFound,
            // The datasource refused the query (its syntax, a read-only violation): the
            // runbook's text is at fault. Anything else is the datasource being away.
            AppError::Query(
                sitrep_executor::query::QueryError::Refused { .. }
                | sitrep_executor::query::QueryError::Mismatch(_),
            ) => ErrorKind::Invalid,
            AppError::Query(_) => ErrorKind::Unavailable,
            AppError::ValueRefused { .. }
            | AppError::NeedsConfirmation { .. }
            | AppError::NeedsApproval { .. }
            | AppError::SelfApproval
            | AppError::Denied { .. } => ErrorKind::Refused,
            AppError::Transition(_)
            | AppError::ChecklistOpen { .. }
            | AppError::NoLevelLeft { .. }
            | AppError::Busy { .. }
            | AppError::Store(StoreError::Conflict { .. }) => ErrorKind::Conflict,
            // The blob directory read-only or full, the bucket down: faults that clear.
            AppError::Store(_)
            | AppError::Blob(
                sitrep_evidence::BlobError::Remote { .. } | sitrep_evidence::BlobError::Io { .. },
            ) => ErrorKind::Unavailable,
            AppError::Io { .. }
            | AppError::Blob(_)
            | AppError::Pack(_)
            | AppError::UnsafeDir { .. }
            | AppError::Key(_)
            | AppError::Run(_)
            | AppError::Internal(_) => ErrorKind::Internal,
        }
    }

    /// True when the caller can fix it (bad input, refused, not found, a conflict), false
    /// when the operator must (storage, keys, bugs).
    #[must_use]
    pub fn is_caller_error(&self) -> bool {
        self.kind().is_caller_error()
    }
}

/// The kinds of failure, by who must act and how. Each edge maps these once: HTTP to a
/// status, the CLI to an exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A value the caller gave is wrong or missing.
    Invalid,
    /// What the caller named does not exist.
    NotFound,
    /// A rule says no (or not yet: confirm, approve): the caller may not do this now.
    Refused,
    /// The state does not allow it, or changed underneath: look again and retry.
    Conflict,
    /// A dependency (the database, the blob store) is failing: retry later.
    Unavailable,
    /// The operator must act: files, keys, configuration on disk, a bug.
    Internal,
}

impl ErrorKind {
    /// True for the kinds the caller can do something about.
    #[must_use]
    pub fn is_caller_error(self) -> bool {
        matches!(
            self,
            ErrorKind::Invalid | ErrorKind::NotFound | ErrorKind::Refused | ErrorKind::Conflict
        )
    }
}

impl From<sitrep_ledger::RecordError> for AppError {
    fn from(e: sitrep_ledger::RecordError) -> Self {
        AppError::Internal(format!("record: {e}"))
    }
}
