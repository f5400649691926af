//! SQL query steps on PostgreSQL and MySQL: one connection per query, one statement with
//! bound parameters, inside a read-only transaction that is always rolled back, with a
//! server-side statement timeout and row and byte caps on what is kept.

use futures_util::TryStreamExt;
use sqlx::{Column, Connection, Row};

use super::{BoundQuery, Datasource, DatasourceKind, QueryError, QueryLimits, QueryResult};

/// Runs the bound query on the datasource's database.
pub(super) async fn run(
    ds: &Datasource,
    query: &BoundQuery,
    limits: &QueryLimits,
) -> Result<QueryResult, QueryError> {
    match ds.kind {
        DatasourceKind::Postgres => postgres(ds, query, limits).await,
        DatasourceKind::Mysql => mysql(ds, query, limits).await,
        DatasourceKind::Prometheus | DatasourceKind::Loki => Err(QueryError::Mismatch(format!(
            "datasource {} does not run SQL",
            ds.name
        ))),
    }
}

fn unreachable(ds: &Datasource) -> impl Fn(sqlx::Error) -> QueryError + '_ {
    move |e| QueryError::Unreachable {
        name: ds.name.clone(),
        url: super::shown_url(&ds.url),
        why: db_message(&e),
    }
}

fn refused(ds: &Datasource) -> impl Fn(sqlx::Error) -> QueryError + '_ {
    move |e| QueryError::Refused {
        name: ds.name.clone(),
        why: db_message(&e),
    }
}

/// The database's own message (never the connection string).
fn db_message(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(d) => match d.code() {
            Some(code) => format!("{} (SQLSTATE {code})", d.message()),
            None => d.message().to_owned(),
        },
        sqlx::Error::Io(io) => format!("I/O: {}", io.kind()),
        sqlx::Error::Tls(_) => "TLS failed".to_owned(),
        sqlx::Error::Configuration(_) => "the datasource URL is not valid".to_owned(),
        sqlx::Error::PoolTimedOut => "timed out".to_owned(),
        sqlx::Error::ColumnDecode { index, .. } => format!("column {index} could not be read"),
        _ => "the database connection failed".to_owned(),
    }
}

async fn postgres(
    ds: &Datasource,
    query: &BoundQuery,
    limits: &QueryLimits,
) -> Result<QueryResult, QueryError> {
    let mut conn = sqlx::PgConnection::connect(&ds.url)
        .await
        .map_err(unreachable(ds))?;
    let ms = limits.timeout.as_millis().max(1);
    // The first layer is the classifier in front of this; this is the second: whatever
    // the statement is, PostgreSQL refuses to write in this transaction.
    sqlx::raw_sql(&format!(
        "BEGIN; SET TRANSACTION READ ONLY; SET LOCAL statement_timeout = {ms}"
    ))
    .execute(&mut conn)
    .await
    .map_err(refused(ds))?;
    let mut q = sqlx::query(&query.text);
    for p in &query.params {
        q = q.bind(p.as_str());
    }
    let result = collect(q.fetch(&mut conn), limits, super::cells::pg_cell)
        .await
        .map_err(refused(ds));
    // Nothing is ever committed; a failed rollback only means the connection is gone.
    let _ = sqlx::raw_sql("ROLLBACK").execute(&mut conn).await;
    let _ = conn.close().await;
    result
}

async fn mysql(
    ds: &Datasource,
    query: &BoundQuery,
    limits: &QueryLimits,
) -> Result<QueryResult, QueryError> {
    let mut conn = sqlx::MySqlConnection::connect(&ds.url)
        .await
        .map_err(unreachable(ds))?;
    // MariaDB names its statement timeout max_statement_time (seconds), MySQL
    // max_execution_time (milliseconds, SELECT only); whichever the server knows.
    let secs = limits.timeout.as_secs().max(1);
    if sqlx::raw_sql(&format!("SET SESSION max_statement_time = {secs}"))
        .execute(&mut conn)
        .await
        .is_err()
    {
        let ms = limits.timeout.as_millis().max(1);
        sqlx::raw_sql(&format!("SET SESSION max_execution_time = {ms}"))
            .execute(&mut conn)
            .await
            .map_err(refused(ds))?;
    }
    sqlx::raw_sql("START TRANSACTION READ ONLY")
        .execute(&mut conn)
        .await
        .map_err(refused(ds))?;
    let mut q = sqlx::query(&query.text);
    for p in &query.params {
        q = q.bind(p.as_str());
    }
    let result = collect(q.fetch(&mut conn), limits, super::cells::mysql_cell)
        .await
        .map_err(refused(ds));
    let _ = sqlx::raw_sql("ROLLBACK").execute(&mut conn).await;
    let _ = conn.close().await;
    result
}

/// Reads rows until the stream ends or a cap is reached (then stops reading: the
/// rollback and close end the statement).
async fn collect<R: Row, S>(
    mut rows: S,
    limits: &QueryLimits,
    cell: fn(&R, usize) -> serde_json::Value,
) -> Result<QueryResult, sqlx::Error>
where
    S: futures_util::Stream<Item = Result<R, sqlx::Error>> + Unpin,
{
    let mut out: Option<QueryResult> = None;
    let mut used = 0;
    while let Some(row) = rows.try_next().await? {
        let table = out.get_or_insert_with(|| {
            QueryResult::table(row.columns().iter().map(|c| c.name().to_owned()).collect())
        });
        let cells = (0..row.len()).map(|i| cell(&row, i)).collect();
        if !table.push_row(cells, &mut used, limits) {
            break;
        }
    }
    Ok(out.unwrap_or_else(|| QueryResult::table(Vec::new())))
}
