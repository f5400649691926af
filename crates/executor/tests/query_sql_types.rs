//! SQL query steps bind each value by the type its parameter has (PostgreSQL infers it
//! from the statement), refuse a value that is not of that type before anything runs, and
//! name the columns of an empty result; on real PostgreSQL and MariaDB.

use std::collections::BTreeMap;

use serde_json::json;
use sqlx::Connection;

use sitrep_executor::query::{
    Datasource, DatasourceKind, QueryError, QueryLimits, QueryResult, bind_query, run_query,
};

mod support;

fn pg_url() -> String {
    std::env::var("SITREP_TEST_DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres"))
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn mysql_url() -> String {
    std::env::var("SITREP_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into())
}

fn ds(kind: DatasourceKind, url: String) -> Datasource {
    Datasource {
        name: format!("test-{}", kind.as_str()),
        kind,
        url,
        bearer_token: None,
    }
}

/// Binds `values` (name, value) into `sql` and runs it on `ds`.
async fn run(
    ds: &Datasource,
    sql: &str,
    values: &[(&str, &str)],
) -> Result<QueryResult, QueryError> {
    let values: BTreeMap<String, String> = values
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let bound = bind_query(ds.kind, sql, &values).unwrap();
    run_query(ds, &bound, None, 0.0, &QueryLimits::default()).await
}

/// The rows as JSON, to compare with `json!`.
fn rows(r: &QueryResult) -> serde_json::Value {
    serde_json::to_value(&r.rows).unwrap()
}

// One implicit transaction; the lock keeps the tests' setups (run in parallel) apart.
const PG_SETUP: &str = "
    SELECT pg_advisory_xact_lock(7419);
    CREATE TABLE IF NOT EXISTS sitrep_sqltypes_orders (
        id int4 PRIMARY KEY, big int8, small int2, ref text, amount numeric(10,2),
        ratio float8, paid bool, placed date, at timestamptz, seen timestamp, uid uuid);
    CREATE SEQUENCE IF NOT EXISTS sitrep_sqltypes_seq;
    DELETE FROM sitrep_sqltypes_orders;
    INSERT INTO sitrep_sqltypes_orders VALUES
        (1, 5000000000, 7, 'O''Brien \"quoted\" \\ ; --', 12.50, 0.25, true, '2026-12-07',
         '2026-12-07T13:00:00Z', '2026-12-07 13:00:00', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'),
        (2, 6, 8, 'plain', 99.99, 1.5, false, '2026-12-08',
         '2026-12-08T00:00:00Z', '2026-12-08 00:00:00', 'b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12');";

/// The PostgreSQL datasource with the orders table in place, or None (skipped).
async fn pg() -> Option<Datasource> {
    let Ok(mut admin) = sqlx::PgConnection::connect(&pg_url()).await else {
        support::skip("PostgreSQL is not reachable");
        return None;
    };
    sqlx::raw_sql(PG_SETUP).execute(&mut admin).await.unwrap();
    Some(ds(DatasourceKind::Postgres, pg_url()))
}

#[tokio::test]
async fn postgres_int_parameter_binds_an_int_and_finds_the_row() {
    let Some(ds) = pg().await else { return };
    let q = "SELECT id, ref FROM sitrep_sqltypes_orders WHERE id = <order_id>";
    let r = run(&ds, q, &[("order_id", "2")]).await.unwrap();
    assert_eq!(r.columns, ["id", "ref"]);
    assert_eq!(rows(&r), json!([[2, "plain"]]));
    // int8 and int2 too, and the same placeholder twice is one parameter.
    let q = "SELECT id FROM sitrep_sqltypes_orders WHERE big = <big> AND small = <small> AND id = <small> - 6";
    let r = run(&ds, q, &[("big", "5000000000"), ("small", "7")])
        .await
        .unwrap();
    assert_eq!(rows(&r), json!([[1]]));
}

#[tokio::test]
async fn postgres_hostile_value_for_an_int_parameter_is_refused_and_nothing_runs() {
    let Some(ds) = pg().await else { return };
    // nextval() fails in the read-only transaction: were the statement run, the error
    // would be SQLSTATE 25006, not the conversion error.
    let q = "SELECT nextval('sitrep_sqltypes_seq'), id FROM sitrep_sqltypes_orders WHERE id = <order_id>";
    let ran = run(&ds, q, &[("order_id", "1")]).await.unwrap_err();
    assert!(ran.to_string().contains("25006"), "{ran}");
    for hostile in [
        "1; DROP TABLE sitrep_sqltypes_orders",
        "1 OR 1=1",
        "abc",
        "",
        "1.5",
    ] {
        let e = run(&ds, q, &[("order_id", hostile)]).await.unwrap_err();
        let text = e.to_string();
        assert!(matches!(e, QueryError::Refused { .. }), "{text}");
        assert!(
            text.contains("parameter $1 (<order_id>) expects int4"),
            "{text}"
        );
        assert!(text.contains("not a whole number"), "{text}");
        assert!(text.contains("nothing was run"), "{text}");
        assert!(!text.contains(hostile) || hostile.is_empty(), "{text}");
        assert!(!text.contains("25006"), "{text}");
    }
    let too_big = run(&ds, q, &[("order_id", "2147483648")])
        .await
        .unwrap_err();
    assert!(too_big.to_string().contains("expects int4"), "{too_big}");
    let r = run(&ds, "SELECT count(*) AS n FROM sitrep_sqltypes_orders", &[])
        .await
        .unwrap();
    assert_eq!(rows(&r), json!([[2]]));
}

#[tokio::test]
async fn postgres_text_parameter_binds_text_with_quotes_intact() {
    let Some(ds) = pg().await else { return };
    let value = "O'Brien \"quoted\" \\ ; --";
    let q = "SELECT id, <ref> AS echoed FROM sitrep_sqltypes_orders WHERE ref = <ref>";
    let r = run(&ds, q, &[("ref", value)]).await.unwrap();
    assert_eq!(rows(&r), json!([[1, value]]));
    // A text value that looks like SQL is still one value: it matches nothing.
    let r = run(&ds, q, &[("ref", "x' OR '1'='1")]).await.unwrap();
    assert!(r.rows.is_empty(), "{r:?}");
}

#[tokio::test]
async fn postgres_numeric_bool_date_time_uuid_float_parameters_bind_by_type() {
    let Some(ds) = pg().await else { return };
    let q = "SELECT id FROM sitrep_sqltypes_orders WHERE amount = <amount> AND paid = <paid>
             AND placed = <placed> AND at = <at> AND seen = <seen> AND uid = <uid> AND ratio = <ratio>";
    let one = [
        ("amount", "12.5"),
        ("paid", "true"),
        ("placed", "2026-12-07"),
        ("at", "2026-12-07T14:00:00+01:00"),
        ("seen", "2026-12-07T13:00:00"),
        ("uid", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
        ("ratio", "0.25"),
    ];
    assert_eq!(rows(&run(&ds, q, &one).await.unwrap()), json!([[1]]));
    for (name, bad, expects) in [
        ("amount", "12,50", "numeric"),
        ("paid", "maybe", "bool"),
        ("placed", "07/12/2026", "date"),
        ("at", "yesterday", "timestamptz"),
        ("seen", "13:00", "timestamp"),
        ("uid", "not-a-uuid", "uuid"),
        ("ratio", "a quarter", "float8"),
    ] {
        let mut values = one.to_vec();
        values.retain(|(n, _)| *n != name);
        values.push((name, bad));
        let e = run(&ds, q, &values).await.unwrap_err().to_string();
        assert!(
            e.contains(&format!("(<{name}>) expects {expects}: its value is not")),
            "{e}"
        );
        assert!(!e.contains(bad), "the value is never shown: {e}");
    }
    // NUMERIC goes over the wire exactly, whatever its size and scale.
    let q = "SELECT CAST(<n> AS numeric)::text AS t";
    for (value, shown) in [
        ("123.4500", "123.4500"),
        ("-0.00001234", "-0.00001234"),
        ("+10000", "10000"),
        ("0", "0"),
        ("-0.0", "0.0"),
        (".5", "0.5"),
        (
            "98765432109876543210.0123456789",
            "98765432109876543210.0123456789",
        ),
    ] {
        let r = run(&ds, q, &[("n", value)]).await.unwrap();
        assert_eq!(rows(&r), json!([[shown]]), "{value}");
    }
}

#[tokio::test]
async fn postgres_other_types_still_bind_as_text() {
    let Some(ds) = pg().await else { return };
    // `$1::inet` infers inet, which is not converted here: the value goes as text and
    // PostgreSQL casts it, as before.
    let r = run(
        &ds,
        "SELECT CAST(<addr> AS inet)::text AS a",
        &[("addr", "10.0.0.1")],
    )
    .await
    .unwrap();
    assert_eq!(rows(&r), json!([["10.0.0.1/32"]]));
    let r = run(&ds, "SELECT <anything> AS v", &[("anything", "42")])
        .await
        .unwrap();
    assert_eq!(rows(&r), json!([["42"]]));
}

#[tokio::test]
async fn postgres_empty_result_lists_its_columns() {
    let Some(ds) = pg().await else { return };
    let q = "SELECT id, ref AS reference, amount * 2 FROM sitrep_sqltypes_orders WHERE id = <id>";
    let r = run(&ds, q, &[("id", "999")]).await.unwrap();
    assert_eq!(r.columns, ["id", "reference", "?column?"]);
    assert!(r.rows.is_empty());
    assert_eq!(
        serde_json::to_value(&r).unwrap()["columns"],
        serde_json::json!(["id", "reference", "?column?"])
    );
}

#[tokio::test]
async fn mariadb_int_column_with_a_text_bound_value_works_and_empty_lists_columns() {
    let ds = ds(DatasourceKind::Mysql, mysql_url());
    let Ok(mut admin) = sqlx::MySqlConnection::connect(&mysql_url()).await else {
        support::skip("MariaDB is not reachable");
        return;
    };
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS sitrep_sqltypes_orders (id int PRIMARY KEY, ref varchar(64));
         DELETE FROM sitrep_sqltypes_orders;
         INSERT INTO sitrep_sqltypes_orders VALUES (1, 'a'), (2, 'O''Brien');",
    )
    .execute(&mut admin)
    .await
    .unwrap();
    let q = "SELECT id, ref FROM sitrep_sqltypes_orders WHERE id = <order_id>";
    let r = run(&ds, q, &[("order_id", "2")]).await.unwrap();
    assert_eq!(r.columns, ["id", "ref"]);
    assert_eq!(rows(&r), json!([[2, "O'Brien"]]));
    // MariaDB reads a text value as the number it starts with: still one value, never SQL.
    let r = run(&ds, q, &[("order_id", "1 OR 1=1")]).await.unwrap();
    assert_eq!(rows(&r), json!([[1, "a"]]));
    let r = run(&ds, q, &[("order_id", "999")]).await.unwrap();
    assert_eq!(r.columns, ["id", "ref"]);
    assert!(r.rows.is_empty());
}

#[tokio::test]
async fn other_reading_statements_still_prepare_and_run() {
    if let Some(pg) = pg().await {
        let r = run(&pg, "SHOW statement_timeout", &[]).await.unwrap();
        assert_eq!(r.columns, ["statement_timeout"]);
        let q = "EXPLAIN SELECT id FROM sitrep_sqltypes_orders WHERE id = <id>";
        let r = run(&pg, q, &[("id", "1")]).await.unwrap();
        assert_eq!(r.columns, ["QUERY PLAN"]);
        assert!(!r.rows.is_empty());
        let r = run(&pg, "VALUES (<n>::int + 1)", &[("n", "41")])
            .await
            .unwrap();
        assert_eq!(rows(&r), json!([[42]]));
    }
    let my = ds(DatasourceKind::Mysql, mysql_url());
    // (MariaDB cannot take a parameter in SHOW ... LIKE ?: a literal here.)
    match run(&my, "SHOW VARIABLES LIKE 'max_statement_time'", &[]).await {
        Ok(r) => assert_eq!(r.columns, ["Variable_name", "Value"]),
        Err(QueryError::Unreachable { .. }) => {
            support::skip("MariaDB is not reachable");
            return;
        }
        Err(e) => panic!("{e}"),
    }
    let r = run(&my, "DESCRIBE information_schema.tables", &[]).await;
    assert!(r.is_ok_and(|r| r.columns.contains(&"Field".to_owned())));
}
