//! The databases an app story runs on: SQLite always, and a fresh PostgreSQL schema too
//! when `SITREP_TEST_DATABASE_URL` is set (`.ci/run` sets it).

/// `(label, database URL)` pairs (`None`: the data dir's SQLite file), and the
/// PostgreSQL schema to drop when done.
pub struct Backends {
    pub list: Vec<(&'static str, Option<String>)>,
    cleanup: Option<(sqlx::AnyPool, String)>,
}

#[path = "../../../../tests/support/postgres_url.rs"]
mod pg;
pub use pg::postgres_url;

pub async fn backends() -> Backends {
    let mut list = vec![("sqlite", None)];
    let Some(base) = postgres_url() else {
        eprintln!("backends: sqlite (SITREP_TEST_DATABASE_URL is unset)");
        return Backends {
            list,
            cleanup: None,
        };
    };
    sqlx::any::install_default_drivers();
    let admin = sqlx::AnyPool::connect(&base)
        .await
        .expect("connect to PostgreSQL");
    let schema = format!("sitrep_app_{}", uuid::Uuid::now_v7().simple());
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&admin)
        .await
        .expect("create schema");
    let sep = if base.contains('?') { '&' } else { '?' };
    list.push((
        "postgres",
        Some(format!("{base}{sep}options=-c%20search_path%3D{schema}")),
    ));
    eprintln!("backends: sqlite, postgres (schema {schema})");
    Backends {
        list,
        cleanup: Some((admin, schema)),
    }
}

impl Backends {
    /// Drops the PostgreSQL schema, if one was made.
    pub async fn done(self) {
        if let Some((admin, schema)) = self.cleanup {
            sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
                .execute(&admin)
                .await
                .expect("drop schema");
        }
    }
}
