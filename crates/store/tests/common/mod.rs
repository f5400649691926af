//! Helpers shared by the store's integration tests: keys, records, and one fresh
//! database per run on SQLite (a tempdir) and, when `SITREP_TEST_DATABASE_URL` is set,
//! on PostgreSQL (a schema created for the run and dropped after it).

#![allow(dead_code)]

use std::future::Future;
use std::sync::Arc;

use sitrep_ledger::{Record, Signer};
use sitrep_store::{Backend, Store, StoreOptions, sqlite_url};
use sqlx::AnyPool;

pub const ORIGIN: &str = "sitrep.test/ledger";

pub fn signer() -> Signer {
    Signer::from_seed("sitrep-test", &[7; 32]).expect("signer")
}

/// A fresh database for one run.
#[derive(Clone)]
pub struct Db {
    pub url: String,
    pub backend: Backend,
    _dir: Option<Arc<tempfile::TempDir>>,
}

impl Db {
    pub fn options(&self) -> StoreOptions {
        let mut o = StoreOptions::new(self.url.clone(), signer(), ORIGIN);
        // Tests sign checkpoints when they want them.
        o.checkpoint_every = std::time::Duration::from_secs(3600);
        o
    }

    pub async fn open(&self) -> Store {
        Store::open(self.options()).await.expect("open store")
    }

    /// A plain pool on the same database, for looking behind the store's back.
    pub async fn raw(&self) -> AnyPool {
        sqlx::any::install_default_drivers();
        AnyPool::connect(&self.url).await.expect("raw pool")
    }
}

#[path = "../../../../tests/support/postgres_url.rs"]
mod pg;
pub use pg::postgres_url;

/// Runs `f` on a fresh SQLite database, then on a fresh PostgreSQL schema when
/// [`postgres_url`] names a server. Returns the backends it ran on.
pub async fn on_each_backend<F, Fut>(f: F) -> Vec<Backend>
where
    F: Fn(Db) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut ran = Vec::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db {
        url: sqlite_url(dir.path()),
        backend: Backend::Sqlite,
        _dir: Some(Arc::new(dir)),
    };
    if let Err(e) = tokio::spawn(f(db)).await {
        std::panic::resume_unwind(e.into_panic());
    }
    ran.push(Backend::Sqlite);

    if let Some(base) = postgres_url() {
        sqlx::any::install_default_drivers();
        let admin = AnyPool::connect(&base)
            .await
            .expect("connect to PostgreSQL");
        let schema = format!("sitrep_test_{}", uuid::Uuid::now_v7().simple());
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&admin)
            .await
            .expect("create schema");
        let sep = if base.contains('?') { '&' } else { '?' };
        let db = Db {
            url: format!("{base}{sep}options=-c%20search_path%3D{schema}"),
            backend: Backend::Postgres,
            _dir: None,
        };
        let result = tokio::spawn(f(db)).await;
        sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
            .execute(&admin)
            .await
            .expect("drop schema");
        admin.close().await;
        if let Err(e) = result {
            std::panic::resume_unwind(e.into_panic());
        }
        ran.push(Backend::Postgres);
    }
    ran
}

/// An event record of `incident`.
pub fn event(event_type: &str, incident: &str, time_ms: u64, actor: &str) -> Record {
    let mut r = Record::new(event_type, time_ms, actor);
    r.incident = Some(incident.to_owned());
    r
}
