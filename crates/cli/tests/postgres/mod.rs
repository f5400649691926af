//! The databases a CLI test points the `sitrep` binary at: the data dir's SQLite file
//! always, and a fresh PostgreSQL schema too when `SITREP_TEST_DATABASE_URL` is set, so
//! runs never see each other's rows and can run in parallel.

// Each test binary compiles this module and uses only some of it.
#![allow(dead_code)]

/// A schema created for one run on the server `SITREP_TEST_DATABASE_URL` names; dropped
/// (with everything in it) when this is dropped.
pub struct Schema {
    base: String,
    name: String,
}

#[path = "../../../../tests/support/postgres_url.rs"]
mod pg;
pub use pg::postgres_url;

/// Runs one statement on `url` from a throwaway runtime (CLI tests are synchronous).
fn execute(url: &str, sql: &str) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(url)
            .await
            .map_err(|e| format!("connect to PostgreSQL: {e}"))?;
        let done = sqlx::query(sql).execute(&pool).await;
        pool.close().await;
        done.map(drop).map_err(|e| format!("{sql}: {e}"))
    })
}

impl Schema {
    /// Creates a fresh schema on `base`.
    pub fn create(base: &str) -> Schema {
        let name = format!("sitrep_cli_{}", uuid::Uuid::now_v7().simple());
        execute(base, &format!("CREATE SCHEMA {name}")).unwrap_or_else(|e| panic!("{e}"));
        Schema {
            base: base.to_owned(),
            name,
        }
    }

    /// The single integer `sql` returns in this schema (a count, typically).
    pub fn query_i64(&self, sql: &str) -> i64 {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            sqlx::any::install_default_drivers();
            let pool = sqlx::AnyPool::connect(&self.url())
                .await
                .expect("connect to PostgreSQL");
            let v: i64 = sqlx::query_scalar(sql)
                .fetch_one(&pool)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            pool.close().await;
            v
        })
    }

    /// A database URL whose every connection works in this schema only.
    pub fn url(&self) -> String {
        let sep = if self.base.contains('?') { '&' } else { '?' };
        format!("{}{sep}options=-c%20search_path%3D{}", self.base, self.name)
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let dropped = execute(&self.base, &format!("DROP SCHEMA {} CASCADE", self.name));
        match dropped {
            Ok(()) => {}
            // A second panic while a failed test unwinds would abort and hide its message.
            Err(e) if std::thread::panicking() => eprintln!("{e}"),
            Err(e) => panic!("{e}"),
        }
    }
}
