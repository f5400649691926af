//! The data dir's modes, with real files: a new one is 0700 with its database 0600 and
//! its blob dir 0700; one an older version left 0755 (database 0644) is tightened on
//! opening; one anybody can write to is refused, naming the path and the mode, and left
//! as it was for a person to look at.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use sitrep_app::{App, AppError, Config};

fn config(data: &Path) -> Config {
    Config {
        data_dir: Some(data.to_owned()),
        ..Config::default()
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_data_dir_is_for_its_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("nested").join("data");
    let app = App::open(config(&data)).await.unwrap();
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("sitrep.db")), 0o600);
    assert_eq!(mode(&data.join("blobs")), 0o700);
    assert_eq!(mode(&data.join("ledger.key")), 0o600);
    let wal = data.join("sitrep.db-wal");
    if wal.exists() {
        assert_eq!(mode(&wal), 0o600, "SQLite copies the database file's mode");
    }
    app.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_data_dir_left_open_by_an_older_version_is_tightened() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    App::open(config(&data)).await.unwrap().close().await;
    // What older versions left behind, created under a 022 umask.
    chmod(&data, 0o755);
    chmod(&data.join("sitrep.db"), 0o644);
    chmod(&data.join("blobs"), 0o755);
    let app = App::open(config(&data)).await.unwrap();
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("sitrep.db")), 0o600);
    assert_eq!(mode(&data.join("blobs")), 0o700);
    app.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_data_dir_anybody_can_write_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    App::open(config(&data)).await.unwrap().close().await;
    chmod(&data, 0o777);
    let e = App::open(config(&data)).await.err().expect("refused");
    assert!(matches!(e, AppError::UnsafeDir { mode: 0o777, .. }), "{e}");
    let text = e.to_string();
    assert!(
        text.contains(&data.display().to_string()),
        "names the path: {text}"
    );
    assert!(text.contains("0777"), "names the mode: {text}");
    assert!(!e.is_caller_error(), "the operator must act");
    assert_eq!(mode(&data), 0o777, "left as found");

    // The blob dir is held to the same rule.
    chmod(&data, 0o700);
    chmod(&data.join("blobs"), 0o777);
    let e = App::open(config(&data)).await.err().expect("refused");
    assert!(e.to_string().contains("blob dir"), "{e}");
}
