//! Ledger endpoints: status, key history, checkpoint on demand, inclusion and
//! consistency proofs.

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use sitrep_app::LedgerStatus;
use sitrep_app::store::{Event, KeyEpoch, StoredCheckpoint};

use crate::ServerState;
use crate::auth::{Responder, Viewer};
use crate::error::{ApiQuery, ApiResult};

/// Size, latest checkpoint and the verifier key to pin.
pub async fn status(
    State(state): State<ServerState>,
    Viewer(_): Viewer,
) -> ApiResult<Json<LedgerStatus>> {
    Ok(Json(state.app().ledger_status().await?))
}

/// Every key that signed the log, oldest first: the verifier keys an auditor pins.
pub async fn keys(
    State(state): State<ServerState>,
    Viewer(_): Viewer,
) -> ApiResult<Json<Vec<KeyEpoch>>> {
    Ok(Json(state.app().key_history().await?))
}

/// Signs a checkpoint of the current tree (returns the latest when nothing changed).
pub async fn checkpoint(
    State(state): State<ServerState>,
    Responder(_): Responder,
) -> ApiResult<Json<StoredCheckpoint>> {
    Ok(Json(state.app().checkpoint_now().await?))
}

/// An inclusion proof answer.
#[derive(Debug, Serialize)]
pub struct InclusionProof {
    /// The event's ledger index.
    pub index: u64,
    /// The tree size the proof is for (the checkpoint's).
    pub tree_size: u64,
    /// The event itself.
    pub event: Option<Event>,
    /// Sibling hashes, leaf to root, hex.
    pub proof: Vec<String>,
    /// The signed checkpoint the proof leads to.
    pub checkpoint: String,
    /// The same as a C2SP tlog-proof file, for `sitrep verify`-style tools.
    pub tlog_proof: String,
}

/// Proves that event `index` is in the log, up to the latest checkpoint (one is signed
/// now when the latest does not cover the event yet).
pub async fn inclusion(
    State(state): State<ServerState>,
    Viewer(_): Viewer,
    Path(index): Path<u64>,
) -> ApiResult<Json<InclusionProof>> {
    let inc = state.app().inclusion(index).await?;
    let tlog = inc.tlog_proof();
    Ok(Json(InclusionProof {
        index,
        tree_size: inc.checkpoint.size,
        proof: inc.proof.iter().map(sitrep_ledger::Hash::to_hex).collect(),
        event: inc.event,
        checkpoint: inc.checkpoint.signed_note,
        tlog_proof: tlog.to_text(),
    }))
}

/// `consistency` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyQuery {
    /// The older tree size.
    pub old: u64,
    /// The newer tree size (default: the latest checkpoint's).
    #[serde(default)]
    pub new: Option<u64>,
}

/// A consistency proof answer.
#[derive(Debug, Serialize)]
pub struct ConsistencyProof {
    /// Older size.
    pub old: u64,
    /// Newer size.
    pub new: u64,
    /// Proof hashes, hex.
    pub proof: Vec<String>,
    /// Root at `old`, hex.
    pub old_root: String,
    /// Root at `new`, hex.
    pub new_root: String,
}

/// Proves the tree at `new` extends the tree at `old`.
pub async fn consistency(
    State(state): State<ServerState>,
    Viewer(_): Viewer,
    ApiQuery(q): ApiQuery<ConsistencyQuery>,
) -> ApiResult<Json<ConsistencyProof>> {
    let c = state.app().consistency(q.old, q.new).await?;
    Ok(Json(ConsistencyProof {
        old: c.old,
        new: c.new,
        proof: c.proof.iter().map(sitrep_ledger::Hash::to_hex).collect(),
        old_root: c.old_root.to_hex(),
        new_root: c.new_root.to_hex(),
    }))
}
