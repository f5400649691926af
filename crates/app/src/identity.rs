//! Who acts: a principal is an id that tells callers apart plus the name the timeline
//! shows. Names are for people; ids are what two-person control compares.
//!
//! - Through the server a caller is an API token: its id is the token's id (a UUID), its
//!   name the token's name. Token names are unique ignoring case and may not be one of
//!   sitrep's own actor names ([`RESERVED_NAMES`]) nor contain `:`, so no token can pass
//!   for another token or for sitrep itself.
//! - The CLI works on the data dir with its full authority and its `--as NAME` is
//!   asserted by the operator, not proven: its id is `cli:NAME`.
//! - sitrep's own actors (auto-triage, the interrupted-run sweep, alert sources as
//!   `alerts:SOURCE`...) are `sitrep:NAME`; an acknowledge link used by nobody logged in
//!   is `link:ack-link`.
//!
//! Every ledger record names its actor's id (`actor_id`) as well as its name: the use
//! cases take a [`Principal`], never a bare name, so the id cannot be left out.

use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// Every actor name sitrep itself writes on the timeline, refused as token names
/// (ignoring case): a token called `auto-triage` would make its runs look unattended.
/// Where each is written: auto-triage runs (`ingest.rs`), `sitrep` the interrupted-run
/// sweep (`interrupted.rs`), `escalation` pages and reminders (`paging.rs`),
/// `ack-link` an acknowledge link used by nobody logged in (`paging.rs`),
/// `retention` the server's and `sitrep evidence expire`'s sweeps, `cli` what
/// `sitrep token` records when nobody is named, `demo` the demo's. `system` and `root`
/// are kept for what people would take for sitrep. Namespaced actors (`alerts:grafana`)
/// are kept out by refusing `:` in token names.
pub const RESERVED_NAMES: [&str; 9] = [
    crate::ingest::AUTO_TRIAGE_ACTOR,
    ACK_LINK,
    "sitrep",
    "escalation",
    "retention",
    "cli",
    "demo",
    "system",
    "root",
];

/// The actor name of an acknowledge link used by nobody logged in.
pub const ACK_LINK: &str = "ack-link";

/// Who acts: an id that separates callers and the name the timeline shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// A token's id through the server; `cli:NAME` from the CLI; `sitrep:NAME` for
    /// sitrep's own actors.
    pub id: String,
    /// The actor name on the timeline.
    pub name: String,
}

impl Principal {
    /// The holder of an API token.
    #[must_use]
    pub fn token(token: &sitrep_store::ApiToken) -> Principal {
        Principal {
            id: token.id.clone(),
            name: token.name.clone(),
        }
    }

    /// A name asserted on the command line (`--as`), which works on the data dir with
    /// its full authority.
    #[must_use]
    pub fn asserted(name: &str) -> Principal {
        Principal {
            id: format!("cli:{name}"),
            name: name.to_owned(),
        }
    }

    /// One of sitrep's own actors (auto-triage, the sweeps, an alert source): id
    /// `sitrep:NAME`.
    #[must_use]
    pub fn sitrep(name: &str) -> Principal {
        Principal {
            id: format!("sitrep:{name}"),
            name: name.to_owned(),
        }
    }

    /// Whoever used an acknowledge link without being logged in: the link's signature
    /// is all that is known of them. Id `link:ack-link`.
    #[must_use]
    pub fn ack_link() -> Principal {
        Principal {
            id: format!("link:{ACK_LINK}"),
            name: ACK_LINK.to_owned(),
        }
    }

    /// Refuses a principal the timeline could not record: a name that breaks the actor
    /// rules, or an id that is empty, longer than the ledger allows or has control
    /// characters.
    pub fn check(&self) -> Result<(), AppError> {
        crate::stamp::check_actor(&self.name)?;
        if self.id.trim().is_empty()
            || self.id.len() > sitrep_ledger::MAX_ACTOR_ID_LEN
            || self.id.chars().any(char::is_control)
        {
            return Err(AppError::invalid(
                "actor",
                "the actor's id must be non-empty, at most 256 bytes, without control characters",
            ));
        }
        Ok(())
    }

    /// True when `other` is someone else by both measures: a different id and a
    /// different name (ignoring case). Either alone would let one person pass for two:
    /// the same token under another CLI name, or one name asserted twice.
    #[must_use]
    pub fn is_other_than(&self, other: &Principal) -> bool {
        self.id != other.id && !same_name(&self.name, &other.name)
    }
}

/// Names compared the way token names are kept unique: ignoring case.
#[must_use]
pub fn same_name(a: &str, b: &str) -> bool {
    a == b || a.to_lowercase() == b.to_lowercase()
}

/// Refuses a token name that is empty, too long, has control characters or `:`, or is
/// one of [`RESERVED_NAMES`].
pub(crate) fn check_token_name(name: &str) -> Result<(), AppError> {
    // The name is the actor of every request made with the token: the actor rules hold.
    crate::stamp::check_actor(name).map_err(|_| {
        AppError::invalid(
            "name",
            "must be a non-empty name of at most 200 bytes without control characters",
        )
    })?;
    if name.contains(':') {
        return Err(AppError::invalid(
            "name",
            format!("{name:?}: `:` is kept for sitrep's own actors (alerts:grafana, cli:NAME)"),
        ));
    }
    if let Some(r) = RESERVED_NAMES.iter().find(|r| same_name(r, name)) {
        return Err(AppError::invalid(
            "name",
            format!(
                "{name:?} is reserved: sitrep records its own actions as {r:?} \
                 (reserved: {})",
                RESERVED_NAMES.join(", ")
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_names_and_colons_are_refused_in_any_case() {
        for bad in [
            "auto-triage",
            "Auto-Triage",
            "SITREP",
            "escalation",
            "retention",
            "cli",
        ] {
            let e = check_token_name(bad).unwrap_err().to_string();
            assert!(e.contains("reserved"), "{bad}: {e}");
        }
        assert!(check_token_name("alerts:grafana").is_err());
        assert!(check_token_name("cli:alice").is_err());
        assert!(check_token_name("  ").is_err());
        check_token_name("alice").unwrap();
        check_token_name("sitrep-bot").unwrap();
    }

    #[test]
    fn separation_needs_both_another_id_and_another_name() {
        let alice = Principal::asserted("alice");
        assert!(!alice.is_other_than(&Principal::asserted("ALICE")));
        let token_alice = Principal {
            id: "0190-a".into(),
            name: "alice".into(),
        };
        assert!(!token_alice.is_other_than(&alice));
        let renamed = Principal {
            id: "0190-a".into(),
            name: "bob".into(),
        };
        assert!(!token_alice.is_other_than(&renamed));
        assert!(token_alice.is_other_than(&Principal::asserted("bob")));
    }
}
