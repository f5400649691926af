//! The fixture runbooks the app's stories run, and an app opened on them.

use std::path::{Path, PathBuf};

use sitrep_app::{App, Config};

/// `tests/data/app/runbooks`.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/app/runbooks")
}

/// A config with its data dir in `dir`, the fixture runbooks, and `database_url` (SQLite
/// in the data dir when `None`; blobs and key stay in `dir` either way).
pub fn config(dir: &Path, database_url: Option<&str>) -> Config {
    Config {
        data_dir: Some(dir.join("data")),
        runbooks: Some(fixtures()),
        database_url: database_url.map(str::to_owned),
        ..Config::default()
    }
}

/// The app on [`config`].
#[allow(dead_code)]
pub async fn open_on(dir: &Path, database_url: Option<&str>) -> App {
    App::open(config(dir, database_url))
        .await
        .expect("open app")
}
