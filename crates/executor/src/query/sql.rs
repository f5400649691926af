//! SQL query steps on PostgreSQL and MySQL: one connection per query, one statement with
//! bound parameters, inside a read-only transaction that is always rolled back, with a
//! server-side statement timeout and row and byte caps on what is kept. The statement is
//! prepared first: its columns name an empty result, and on PostgreSQL its inferred
//! parameter types say how each value binds ([`super::pg_params`]).

use futures_util::TryStreamExt;
use sqlx::{Column, Connection, Either, Executor, Row, Statement};

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
    let setup = format!("BEGIN; SET TRANSACTION READ ONLY; SET LOCAL statement_timeout = {ms}");
    conn.execute(setup.as_str()).await.map_err(refused(ds))?;
    let (args, columns) = match pg_prepare(&mut conn, ds, query).await {
        Ok(planned) => planned,
        Err(e) => {
            end(conn).await;
            return Err(e);
        }
    };
    // Not persistent: the statement is parsed again with the types bound (the inferred
    // ones, or text for a type not converted), never run from the cached inference.
    let q = sqlx::query_with(&query.text, args).persistent(false);
    read_and_roll_back(conn, ds, q, columns, limits, super::cells::pg_cell).await
}

/// Prepares the statement (PostgreSQL infers each parameter's type when none is given)
/// and converts each value to its type: the arguments and the result's column names.
async fn pg_prepare(
    conn: &mut sqlx::PgConnection,
    ds: &Datasource,
    query: &BoundQuery,
) -> Result<(sqlx::postgres::PgArguments, Vec<String>), QueryError> {
    let stmt = (&mut *conn)
        .prepare(query.text.as_str())
        .await
        .map_err(refused(ds))?;
    let types = match stmt.parameters() {
        Some(Either::Left(types)) => types.to_vec(),
        _ => Vec::new(),
    };
    let columns = names(stmt.columns());
    drop(stmt);
    conn.clear_cached_statements().await.map_err(refused(ds))?;
    let args = super::pg_params::arguments(&types, &query.params, &query.names).map_err(|why| {
        QueryError::Refused {
            name: ds.name.clone(),
            why,
        }
    })?;
    Ok((args, columns))
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
    let mariadb = format!("SET SESSION max_statement_time = {secs}");
    if conn.execute(mariadb.as_str()).await.is_err() {
        let ms = limits.timeout.as_millis().max(1);
        let mysql = format!("SET SESSION max_execution_time = {ms}");
        conn.execute(mysql.as_str()).await.map_err(refused(ds))?;
    }
    conn.execute("START TRANSACTION READ ONLY")
        .await
        .map_err(refused(ds))?;
    // MySQL and MariaDB convert a text parameter to the column's type themselves: every
    // value binds as text; the prepared statement only names the columns.
    let columns = match (&mut conn).prepare(query.text.as_str()).await {
        Ok(stmt) => names(stmt.columns()),
        Err(e) => {
            end(conn).await;
            return Err(refused(ds)(e));
        }
    };
    let mut q = sqlx::query(&query.text);
    for p in &query.params {
        q = q.bind(p.as_str());
    }
    read_and_roll_back(conn, ds, q, columns, limits, super::cells::mysql_cell).await
}

/// The column names, in order.
fn names<C: Column>(columns: &[C]) -> Vec<String> {
    columns.iter().map(|c| c.name().to_owned()).collect()
}

/// Closes the connection after a failure before the statement ran: the server rolls
/// back the open transaction. (No ROLLBACK here: a generic executor call in this
/// helper makes the query future not `Send`.)
async fn end<C: Connection>(conn: C) {
    let _ = conn.close().await;
}

/// Runs the statement inside the transaction the caller began on `conn`, keeping rows
/// (through the backend's `cell` converter) up to the caps, then rolls back and closes.
/// `columns`: the prepared statement's, for a result without rows.
async fn read_and_roll_back<'q, DB, C>(
    mut conn: C,
    ds: &Datasource,
    q: sqlx::query::Query<'q, DB, DB::Arguments<'q>>,
    columns: Vec<String>,
    limits: &QueryLimits,
    cell: fn(&DB::Row, usize) -> serde_json::Value,
) -> Result<QueryResult, QueryError>
where
    DB: sqlx::Database,
    C: Connection<Database = DB>,
    for<'c> &'c mut C: Executor<'c, Database = DB>,
    DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
{
    let mut table = None;
    let mut used = 0;
    let mut rows = q.fetch(&mut conn);
    let read: Result<(), sqlx::Error> = loop {
        match rows.try_next().await {
            Ok(Some(row)) => {
                if !keep(&mut table, &mut used, &row, limits, cell) {
                    break Ok(());
                }
            }
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    drop(rows);
    // Nothing is ever committed; a failed rollback only means the connection is gone.
    let _ = conn.execute("ROLLBACK").await;
    let _ = conn.close().await;
    read.map(|()| table.unwrap_or_else(|| QueryResult::table(columns)))
        .map_err(refused(ds))
}

/// Adds a row to the table (made from the first row's columns); false once a cap is
/// reached (then reading stops: the rollback and close end the statement).
fn keep<R: Row>(
    table: &mut Option<QueryResult>,
    used: &mut usize,
    row: &R,
    limits: &QueryLimits,
    cell: fn(&R, usize) -> serde_json::Value,
) -> bool {
    let table = table.get_or_insert_with(|| {
        QueryResult::table(row.columns().iter().map(|c| c.name().to_owned()).collect())
    });
    let cells = (0..row.len()).map(|i| cell(row, i)).collect();
    table.push_row(cells, used, limits)
}
