//! Step-run queries and the conditional end of a run, for the sweep that marks runs a
//! crash left `running` (`sitrep_app`'s interrupted-run sweep).

use sqlx::AnyConnection;

use crate::error::StoreError;
use crate::model::StepRun;
use crate::rows;
use crate::store::Store;

impl Store {
    /// Up to `limit` runs still `running` that started before `started_before_ms`,
    /// oldest first.
    pub async fn running_runs(
        &self,
        started_before_ms: i64,
        limit: u32,
    ) -> Result<Vec<StepRun>, StoreError> {
        let sql = format!(
            "SELECT {} FROM step_runs WHERE status = 'running' AND started_ms < $1 \
             ORDER BY started_ms, id LIMIT $2",
            rows::RUN_COLS
        );
        sqlx::query(&sql)
            .bind(started_before_ms)
            .bind(i64::from(limit))
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(rows::run)
            .collect()
    }
}

/// Applies `Write::EndRun`: the status moves only from `running`, inside the commit's
/// transaction, so of two replicas ending one run exactly one succeeds and seals its
/// events; the other's whole change fails with `Conflict`.
pub(crate) async fn end_run(
    tx: &mut AnyConnection,
    id: &str,
    status: &str,
    ended_ms: i64,
) -> Result<(), StoreError> {
    let r = sqlx::query(
        "UPDATE step_runs SET status = $1, ended_ms = $2 WHERE id = $3 AND status = 'running'",
    )
    .bind(status)
    .bind(ended_ms)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    if r.rows_affected() != 1 {
        return Err(StoreError::Conflict {
            what: "run",
            id: id.to_owned(),
        });
    }
    Ok(())
}
