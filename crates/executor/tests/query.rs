//! Query steps against real components: Debian's `prometheus` scraping a target this test
//! serves, PostgreSQL (127.0.0.1:5432, db `test`) and MariaDB (127.0.0.1:3306, root, db
//! `test`); the Loki client against response bodies shaped after Loki's API docs (Loki
//! is not packaged here).

use std::collections::BTreeMap;

use sqlx::Connection;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sitrep_executor::query::{
    Datasource, DatasourceKind, QueryError, QueryLimits, Window, bind_query, parse_loki, run_query,
};

mod support;

fn now_s() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn vals(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn ds(kind: DatasourceKind, url: &str) -> Datasource {
    Datasource {
        name: format!("test-{}", kind.as_str()),
        kind,
        url: url.to_owned(),
        bearer_token: Some("secret-token".into()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promql_against_debian_prometheus() {
    let Some(prom) = support::Prometheus::start(
        "sitrep_test_queue_depth{queue=\"orders\"} 42\nsitrep_test_queue_depth{queue=\"mail\"} 7\n",
    )
    .await
    else {
        support::skip("/usr/bin/prometheus is not installed (apt-get install -y prometheus)");
        return;
    };
    let ds = ds(DatasourceKind::Prometheus, &prom.url);
    let limits = QueryLimits::default();

    // An instant query with a bound label value.
    let q = r#"sitrep_test_queue_depth{queue="<queue>"}"#;
    let bound = bind_query(DatasourceKind::Prometheus, q, &vals(&[("queue", "orders")])).unwrap();
    let r = run_query(&ds, &bound, None, now_s(), &limits)
        .await
        .unwrap();
    assert_eq!(r.kind, "table");
    let value_col = r.columns.iter().position(|c| c == "value").unwrap();
    assert_eq!(r.rows.len(), 1, "{r:?}");
    assert_eq!(r.rows[0][value_col], "42");

    // A hostile alert label value cannot widen the query: it is one escaped label value,
    // so it matches no series instead of every series.
    for hostile in [
        r#"orders"} or sitrep_test_queue_depth{queue=~".+"#,
        r#"x"} or vector(1) #"#,
        ".*",
    ] {
        let bound =
            bind_query(DatasourceKind::Prometheus, q, &vals(&[("queue", hostile)])).unwrap();
        let r = run_query(&ds, &bound, None, now_s(), &limits)
            .await
            .unwrap();
        assert!(
            r.rows.is_empty(),
            "{hostile}: {:?} from {}",
            r.rows,
            bound.text
        );
    }
    let regex = r#"sitrep_test_queue_depth{queue=~"<queue>"}"#;
    let bound = bind_query(DatasourceKind::Prometheus, regex, &vals(&[("queue", ".*")])).unwrap();
    let r = run_query(&ds, &bound, None, now_s(), &limits)
        .await
        .unwrap();
    assert!(
        r.rows.is_empty(),
        "a regex value is matched literally: {:?}",
        r.rows
    );

    // A range query gives series with points.
    let bound = bind_query(
        DatasourceKind::Prometheus,
        "sitrep_test_queue_depth",
        &vals(&[]),
    )
    .unwrap();
    let w = Window::ending_at(
        now_s(),
        Duration::from_secs(60),
        Some(Duration::from_secs(1)),
    );
    let r = run_query(&ds, &bound, Some(w), now_s(), &limits)
        .await
        .unwrap();
    assert_eq!(r.kind, "series");
    assert_eq!(r.series.len(), 2);
    assert!(r.series.iter().all(|s| !s.points.is_empty()));

    // Caps: one series kept, and the result says it was cut.
    let small = QueryLimits {
        max_rows: 1,
        ..limits
    };
    let r = run_query(&ds, &bound, None, now_s(), &small).await.unwrap();
    assert_eq!(r.rows.len(), 1);
    assert!(r.truncated);

    // Prometheus' own error comes back as a refusal naming it.
    let bad = bind_query(DatasourceKind::Prometheus, "sum(", &vals(&[])).unwrap();
    let e = run_query(&ds, &bad, None, now_s(), &limits)
        .await
        .unwrap_err();
    assert!(
        matches!(e, QueryError::Refused { ref why, .. } if why.contains("bad_data")),
        "{e}"
    );
}

#[test]
fn loki_bodies_from_the_api_docs() {
    let limits = QueryLimits::default();
    let body = include_bytes!("../../../tests/data/query/loki-query-range-streams.json");
    let r = parse_loki(body, &limits).unwrap();
    assert_eq!(r.columns, ["time", "labels", "line"]);
    let lines: Vec<&str> = r.rows.iter().map(|row| row[2].as_str().unwrap()).collect();
    // Newest first across streams.
    assert_eq!(lines, ["foo", "baz \"quoted\"", "bar"]);
    assert_eq!(
        r.rows[1][1],
        r#"{filename="/var/log/myproject.log", job="varlogs", level="warn"}"#
    );

    let body = include_bytes!("../../../tests/data/query/loki-query-range-matrix.json");
    let r = parse_loki(body, &limits).unwrap();
    assert_eq!(r.kind, "series");
    assert_eq!(r.series.len(), 2);
    assert_eq!(
        r.series[0].points[2],
        (1_588_889_223.0, "658.8516666666667".into())
    );

    let body = include_bytes!("../../../tests/data/query/loki-query-vector.json");
    let r = parse_loki(body, &limits).unwrap();
    assert_eq!(r.columns, ["level", "value"]);
    assert_eq!(r.rows.len(), 3);

    let cut = QueryLimits {
        max_rows: 2,
        ..limits
    };
    let body = include_bytes!("../../../tests/data/query/loki-query-range-streams.json");
    let r = parse_loki(body, &cut).unwrap();
    assert_eq!(r.rows.len(), 2);
    assert!(r.truncated);
    assert!(parse_loki(b"parse error", &limits).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loki_over_http_sends_the_bound_query_and_token() {
    let body = include_str!("../../../tests/data/query/loki-query-range-streams.json");
    let server = support::OneShot::serve("200 OK", body).await;
    let ds = ds(DatasourceKind::Loki, &server.url);
    let q = r#"{job="varlogs", pod="${POD}"} |= "error""#;
    let bound = bind_query(DatasourceKind::Loki, q, &vals(&[("POD", r#"a"}"#)])).unwrap();
    let w = Window::ending_at(1_569_266_500.0, Duration::from_secs(900), None);
    let r = run_query(&ds, &bound, Some(w), now_s(), &QueryLimits::default())
        .await
        .unwrap();
    assert_eq!(r.rows.len(), 3);
    let request = server.request().await;
    assert!(
        request.starts_with("GET /loki/api/v1/query_range?query="),
        "{request}"
    );
    assert!(request.contains("pod%3D%22a%5C%22%7D%22"), "{request}");
    assert!(request.contains("start=1569265600000000000"), "{request}");
    assert!(request.contains("step=15s"), "{request}");
    assert!(
        request
            .to_ascii_lowercase()
            .contains("authorization: bearer secret-token")
    );

    let server = support::OneShot::serve("400 Bad Request", "parse error at line 1").await;
    let ds2 = Datasource {
        url: server.url.clone(),
        ..ds
    };
    let e = run_query(&ds2, &bound, None, now_s(), &QueryLimits::default())
        .await
        .unwrap_err();
    assert!(
        matches!(e, QueryError::Refused { ref why, .. } if why.contains("parse error")),
        "{e}"
    );
}

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

#[tokio::test]
async fn sql_on_postgres_binds_values_and_cannot_write() {
    let ds = ds(DatasourceKind::Postgres, &pg_url());
    let limits = QueryLimits::default();
    let setup = bind_query(
        DatasourceKind::Postgres,
        "SELECT 1 AS one, 'x'::text AS two, 2.50::numeric AS three, NULL::int AS four, now() AS five",
        &vals(&[]),
    )
    .unwrap();
    let r = match run_query(&ds, &setup, None, now_s(), &limits).await {
        Ok(r) => r,
        Err(QueryError::Unreachable { .. }) => {
            support::skip("PostgreSQL is not reachable");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    assert_eq!(r.columns, ["one", "two", "three", "four", "five"]);
    assert_eq!(
        r.rows[0][..4],
        [1.into(), "x".into(), "2.50".into(), serde_json::Value::Null]
    );
    assert!(r.rows[0][4].as_str().is_some_and(|t| t.contains('T')));

    // A hostile value is one parameter: it matches nothing and runs nothing.
    let q = "SELECT count(*) AS n FROM pg_class WHERE relname = '<name>'";
    for (value, n) in [
        ("pg_class", 1),
        ("x' OR '1'='1", 0),
        ("'; DROP TABLE x; --", 0),
    ] {
        let b = bind_query(DatasourceKind::Postgres, q, &vals(&[("name", value)])).unwrap();
        let r = run_query(&ds, &b, None, now_s(), &limits).await.unwrap();
        assert_eq!(r.rows[0][0], n, "{value}");
    }

    // The second layer: a write that got past the classifier fails in the read-only
    // transaction (SQLSTATE 25006), and nothing is written.
    let b = bind_query(
        DatasourceKind::Postgres,
        "CREATE TABLE sitrep_query_ro (x int)",
        &vals(&[]),
    )
    .unwrap();
    let e = run_query(&ds, &b, None, now_s(), &limits)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("25006"), "{e}");
    let exists = bind_query(
        DatasourceKind::Postgres,
        "SELECT count(*) FROM pg_tables WHERE tablename = 'sitrep_query_ro'",
        &vals(&[]),
    )
    .unwrap();
    let r = run_query(&ds, &exists, None, now_s(), &limits)
        .await
        .unwrap();
    assert_eq!(r.rows[0][0], 0);

    // The row cap and the statement timeout.
    let many = bind_query(
        DatasourceKind::Postgres,
        "SELECT g FROM generate_series(1, 5000) g",
        &vals(&[]),
    )
    .unwrap();
    let r = run_query(&ds, &many, None, now_s(), &limits).await.unwrap();
    assert_eq!(r.rows.len(), 1000);
    assert!(r.truncated);
    let slow = bind_query(DatasourceKind::Postgres, "SELECT pg_sleep(5)", &vals(&[])).unwrap();
    let quick = QueryLimits {
        timeout: Duration::from_millis(300),
        ..limits
    };
    assert!(run_query(&ds, &slow, None, now_s(), &quick).await.is_err());
}

#[tokio::test]
async fn sql_on_mariadb_binds_values_and_cannot_write() {
    let ds = ds(DatasourceKind::Mysql, &mysql_url());
    let limits = QueryLimits::default();
    let probe = bind_query(
        DatasourceKind::Mysql,
        "SELECT 1 AS one, 'x' AS two, CAST(2.5 AS DECIMAL(5,2)) AS three, NULL AS four",
        &vals(&[]),
    )
    .unwrap();
    let r = match run_query(&ds, &probe, None, now_s(), &limits).await {
        Ok(r) => r,
        Err(QueryError::Unreachable { .. }) => {
            support::skip("MariaDB is not reachable");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    assert_eq!(
        r.rows[0],
        [1.into(), "x".into(), "2.50".into(), serde_json::Value::Null]
    );

    let q = "SELECT count(*) AS n FROM information_schema.tables WHERE table_name = <name>";
    for (value, n) in [("TABLES", 1), ("x' OR '1'='1", 0)] {
        let b = bind_query(DatasourceKind::Mysql, q, &vals(&[("name", value)])).unwrap();
        let r = run_query(&ds, &b, None, now_s(), &limits).await.unwrap();
        assert_eq!(r.rows[0][0], n, "{value}");
    }

    // The second layer: START TRANSACTION READ ONLY refuses a write (error 1792) to a
    // table that exists, and nothing is written. (DDL commits implicitly in MySQL and is
    // not stopped by a read-only transaction: only the classifier keeps it out.)
    let mut admin = sqlx::MySqlConnection::connect(&mysql_url()).await.unwrap();
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS sitrep_query_ro (x int); DELETE FROM sitrep_query_ro",
    )
    .execute(&mut admin)
    .await
    .unwrap();
    let insert = bind_query(
        DatasourceKind::Mysql,
        "INSERT INTO sitrep_query_ro (x) VALUES (<x>)",
        &vals(&[("x", "1")]),
    )
    .unwrap();
    let e = run_query(&ds, &insert, None, now_s(), &limits)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("READ ONLY"), "{e}");
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM sitrep_query_ro")
        .fetch_one(&mut admin)
        .await
        .unwrap();
    assert_eq!(n, 0);
}
