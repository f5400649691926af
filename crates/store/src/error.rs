//! The store's error type, and URL redaction for messages that name a database.

/// What to do when the ledger does not match its checkpoints; part of every ledger
/// refusal so the operator reading a log line knows the next step.
pub const HOW_TO_INVESTIGATE: &str = "run `sitrep ledger verify` to find the first \
divergent entry; compare the stored checkpoints with one exported earlier (an evidence \
pack, a witness, a copy kept elsewhere); if rows were lost or altered, restore the \
database from a backup taken before the divergence. Do not run on it until then: new \
events would be sealed onto a log that can no longer be proven";

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database could not be reached or opened. `url` has its password redacted.
    #[error("cannot connect to {url}: {source}")]
    Connect {
        /// The connection URL, password replaced by `***`.
        url: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// A URL that names no supported database.
    #[error("unsupported database URL {url}: use sqlite://... or postgres://...")]
    UnsupportedUrl {
        /// The URL, password redacted.
        url: String,
    },
    /// Running the embedded migrations failed.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database reported an error.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// An optimistic-concurrency or uniqueness conflict: the row changed since it was
    /// read, or a unique key (an open incident for the group, an id) is taken.
    #[error("conflict on {what} {id}: it changed or exists already; re-read and retry")]
    Conflict {
        /// What kind of row (`incident`, `job`, ...).
        what: &'static str,
        /// Its id or key.
        id: String,
    },
    /// A write fenced by a lease whose holder or epoch is no longer current.
    #[error("lease {lease} is no longer held at this epoch; the write was refused")]
    Fenced {
        /// The lease's name.
        lease: String,
    },
    /// A row the operation needs does not exist.
    #[error("{what} {id} not found")]
    NotFound {
        /// What kind of row.
        what: &'static str,
        /// Its id or key.
        id: String,
    },
    /// The stored tree is smaller than a signed checkpoint: leaves were deleted.
    #[error(
        "the ledger regressed: a signed checkpoint covers {checkpoint_size} entries but the \
         database holds {tree_size}; refusing to run. To investigate: {HOW_TO_INVESTIGATE}"
    )]
    LedgerRegressed {
        /// Size of the latest signed checkpoint.
        checkpoint_size: u64,
        /// Size of the stored tree.
        tree_size: u64,
    },
    /// The stored ledger does not hash to what was signed or recorded.
    #[error(
        "the ledger diverged at tree size {size}: expected root {expected_root}, the stored \
         hashes give {actual_root} ({detail}); refusing to run. To investigate: \
         {how_to_investigate}"
    )]
    LedgerDiverged {
        /// The tree size at which the roots differ.
        size: u64,
        /// The root that was signed (or recomputed from the entries), hex.
        expected_root: String,
        /// The root the stored hashes give, hex.
        actual_root: String,
        /// Which check failed, naming the entry or checkpoint.
        detail: String,
        /// What an operator should do next.
        how_to_investigate: &'static str,
    },
    /// Signing is held because the background re-hash of the signed ledger (see
    /// docs/store.md, "The startup check") has not finished yet.
    #[error(
        "the ledger is still being verified ({checked} of {size} signed entries re-hashed); \
         no checkpoint is signed until it is"
    )]
    LedgerUnverified {
        /// Entries re-hashed so far.
        checked: u64,
        /// Entries the latest checkpoint covers.
        size: u64,
    },
    /// A stored checkpoint that does not open with the configured key or is not for
    /// this log.
    #[error(
        "stored checkpoint at size {size} is not valid for this log: {reason}; refusing to \
         run. To investigate: {HOW_TO_INVESTIGATE}"
    )]
    BadCheckpoint {
        /// The checkpoint's size column.
        size: u64,
        /// Why it was rejected.
        reason: String,
    },
    /// This store's signing key was retired by a key rotation: it must not sign.
    #[error(
        "the ledger key {key} is retired: {detail}. Start with the log's current key (a \
         rotation that stopped half-way finishes on the next start when the new key is \
         beside the old one)"
    )]
    RetiredKey {
        /// The retired verifier key.
        key: String,
        /// How the store knows.
        detail: String,
    },
    /// A key rotation that cannot be done.
    #[error("cannot rotate the ledger key: {0}")]
    KeyRotation(String),
    /// An event record that cannot be encoded.
    #[error("invalid event record: {0}")]
    BadRecord(#[from] sitrep_ledger::RecordError),
    /// A stored row that cannot be read back (not a canonical record, bad JSON, a hash
    /// of the wrong length).
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// Reading the ledger for the startup re-hash failed outside the driver (the
    /// native SQLite reader); retried in the background, fails `open` in the foreground.
    #[error("reading the ledger failed: {0}")]
    LedgerRead(String),
    /// A ledger computation failed (a size out of range, a missing stored hash).
    #[error("ledger: {0}")]
    Ledger(#[from] sitrep_ledger::Error),
    /// Signing a checkpoint failed.
    #[error("signing a checkpoint failed: {0}")]
    Signing(#[from] sitrep_ledger::CheckpointError),
    /// The group commit this change was part of failed on the database as a whole
    /// (connection lost, I/O error at COMMIT). Nothing was acknowledged; when COMMIT
    /// itself failed the change may or may not be stored, so re-read before retrying.
    #[error("group commit failed: {reason}")]
    CommitFailed {
        /// The underlying error, as text (one failure answers every change of the batch).
        reason: String,
    },
    /// A tree size beyond the stored tree.
    #[error("tree size {size} is beyond the stored tree of {tree_size} entries")]
    SizeOutOfRange {
        /// The size asked for.
        size: u64,
        /// The stored tree size.
        tree_size: u64,
    },
    /// The store was closed; nothing was written.
    #[error("the store is closed")]
    Closed,
    /// The database did not answer in time (unreachable, or its disk stalled). Nothing
    /// was acknowledged; a change handed to the writer may still commit later, so
    /// re-read before retrying anything that is not idempotent.
    #[error("the database did not answer within {after:?} ({what})")]
    TimedOut {
        /// What was waited for.
        what: &'static str,
        /// How long.
        after: std::time::Duration,
    },
}

impl StoreError {
    /// True for errors that belong to one change of a group commit (so the batch is
    /// retried change by change) rather than to the database as a whole.
    pub(crate) fn is_change_specific(&self) -> bool {
        !self.is_fault()
            && matches!(
                self,
                StoreError::Conflict { .. }
                    | StoreError::Fenced { .. }
                    | StoreError::NotFound { .. }
                    | StoreError::BadRecord(_)
                    | StoreError::Corrupt(_)
                    | StoreError::Database(sqlx::Error::Database(_))
            )
    }
}

/// `url` with the password (if any) replaced by `***`, for error messages and logs:
/// the userinfo password and a `password=` query parameter.
#[must_use]
pub fn redact_url(url: &str) -> String {
    let url = redact_userinfo(url);
    let Some(q) = url.find('?') else {
        return url;
    };
    let (base, query) = url.split_at(q + 1);
    let params: Vec<String> = query
        .split('&')
        .map(|p| match p.split_once('=') {
            Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
            _ => p.to_owned(),
        })
        .collect();
    format!("{base}{}", params.join("&"))
}

fn redact_userinfo(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let rest_start = scheme_end + 3;
    let rest = &url[rest_start..];
    // The authority ends at the first '/', '?' or '#'; userinfo ends at its last '@'.
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return url.to_owned();
    };
    let userinfo = &authority[..at];
    let Some(colon) = userinfo.find(':') else {
        return url.to_owned();
    };
    format!(
        "{}{}:***{}",
        &url[..rest_start],
        &userinfo[..colon],
        &rest[at..]
    )
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://u:s3cr@t@db:5432/x?sslmode=require"),
            "postgres://u:***@db:5432/x?sslmode=require"
        );
        assert_eq!(redact_url("postgres://u@db/x"), "postgres://u@db/x");
        assert_eq!(
            redact_url("postgres://db/x?user=a@b"),
            "postgres://db/x?user=a@b"
        );
        assert_eq!(redact_url("sqlite:///tmp/a.db"), "sqlite:///tmp/a.db");
        assert_eq!(redact_url("not a url"), "not a url");
        assert_eq!(
            redact_url("postgres://db/x?user=u&password=pw&sslmode=require"),
            "postgres://db/x?user=u&password=***&sslmode=require"
        );
    }
}
