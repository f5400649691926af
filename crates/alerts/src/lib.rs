//! Alert handling without I/O: webhook payloads to typed alerts, fingerprints, matchers,
//! routing, grouping, silences and snapshot diffs.
//!
//! ```text
//!   bytes ──► parse_alertmanager | parse_grafana | parse_generic ──► Batch { alerts }
//!   alert labels ──► route(&RoutingConfig) ──► Routing ──► group_key(..) ──► GroupKey
//!   known alerts of a group + batch ──► diff(..) ──► changes ──► apply(..)
//!   alert + silences + now ──► silenced_by(..)
//! ```
//!
//! The crate is pure: no clock (`now` is an argument), no files, no network, no
//! environment. Payload size limits are the caller's; alert and label counts are capped
//! here. Formats and semantics: `docs/alerts.md`.

#![warn(missing_docs)]

mod diff;
mod fingerprint;
mod matcher;
mod model;
mod payload;
mod route;
mod silence;

pub use diff::{Change, ChangeKind, apply, diff};
pub use fingerprint::{Fingerprint, FingerprintParseError};
pub use jiff::Timestamp;
pub use matcher::{
    MAX_REGEX_BYTES, MatchOp, Matcher, MatcherError, REGEX_CACHE_BYTES, parse_matcher,
    parse_matchers,
};
pub use model::{Alert, Batch, Labels, Source, Status};
pub use payload::{
    MAX_ALERTS, MAX_ANNOTATION_BYTES, MAX_LABEL_BYTES, MAX_LABELS, PayloadError,
    parse_alertmanager, parse_generic, parse_grafana,
};
pub use route::{DefaultRoute, GroupKey, Route, Routing, RoutingConfig, group_key, route};
pub use silence::{
    MAX_SILENCE_MATCHERS, MAX_SILENCE_REGEX_BYTES, MAX_SILENCE_REGEXES, RegexCost, Silence,
    capped_matchers, is_silenced, silenced_by,
};
