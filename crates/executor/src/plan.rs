//! The plan id: one hash naming exactly what a run will execute, for confirmations,
//! approvals and the ledger.

use serde::Serialize;
use sha2::{Digest, Sha256};
use sitrep_risk::Level;

use crate::run::RunSpec;

/// The canonical form that is hashed; field order is the encoding.
#[derive(Serialize)]
struct Canonical<'a> {
    v: u8,
    runbook: &'a str,
    step: &'a str,
    interpreter: Option<&'a str>,
    cwd: Option<&'a str>,
    timeout_ms: Option<u64>,
    level: Level,
    script: &'a str,
    /// `(variable, value, placeholder, source)`; secret values are left out: the id is
    /// public (sealed in the ledger, in evidence packs) and must not let anyone guess
    /// a secret offline.
    env: Vec<(&'a str, &'a str, &'a str, &'a str)>,
}

/// `sha256:<hex>` over the canonical JSON of everything that decides what a run of
/// `spec` (from `runbook`) does, and the level it is judged at.
pub fn plan_id(spec: &RunSpec, runbook: &str, level: Level) -> String {
    let bound = &spec.bound;
    let env = bound
        .env
        .iter()
        .zip(&bound.bindings)
        .map(|((var, value), b)| {
            let value = if b.secret { "[secret]" } else { value.as_str() };
            (var.as_str(), value, b.name.as_str(), b.source.as_str())
        })
        .collect();
    let c = Canonical {
        v: 1,
        runbook,
        step: &spec.step_id,
        interpreter: spec.interpreter.as_deref(),
        cwd: spec.cwd.as_deref().and_then(|p| p.to_str()),
        timeout_ms: spec
            .timeout
            .map(|t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX)),
        level,
        script: &bound.script,
        env,
    };
    // Serialising plain strings and numbers cannot fail.
    let bytes = serde_json::to_vec(&c).unwrap_or_default();
    format!("sha256:{}", hex::encode(Sha256::digest(&bytes)))
}
