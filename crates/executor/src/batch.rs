//! Running many read steps at once, with a bound on how many run together.

use std::sync::Arc;

use sitrep_risk::Level;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::gate::Permit;
use crate::run::{Outcome, RunConfig, RunError, RunSink, run};

/// Runs `steps` with at most `limit` (at least 1) at a time, each reporting to `sink`
/// under its step id. Every permit must be for a read step: otherwise nothing is
/// spawned. Results come back in the order of `steps`.
pub async fn run_batch(
    steps: Vec<Permit>,
    limit: usize,
    cfg: RunConfig,
    sink: Arc<dyn RunSink>,
) -> Result<Vec<Result<Outcome, RunError>>, RunError> {
    if let Some(p) = steps.iter().find(|p| p.level() != Level::Read) {
        return Err(RunError::NotRead(p.spec().step_id.clone()));
    }
    let permits = Arc::new(Semaphore::new(limit.max(1)));
    let cfg = Arc::new(cfg);
    let mut set = JoinSet::new();
    let count = steps.len();
    for (i, permit) in steps.into_iter().enumerate() {
        let (permits, cfg, sink) = (permits.clone(), cfg.clone(), sink.clone());
        set.spawn(async move {
            // The semaphore is never closed, so acquiring only waits.
            let _permit = permits.acquire_owned().await;
            (i, run(&permit, &cfg, sink).await)
        });
    }
    let mut results: Vec<Option<Result<Outcome, RunError>>> = (0..count).map(|_| None).collect();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((i, res)) => {
                if let Some(slot) = results.get_mut(i) {
                    *slot = Some(res);
                }
            }
            Err(e) => return Err(RunError::Wait(std::io::Error::other(e.to_string()))),
        }
    }
    Ok(results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(RunError::Wait(std::io::Error::other("task lost")))))
        .collect())
}
