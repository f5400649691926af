//! Rotating the ledger key: the log moves to a new key and stays verifiable from its first
//! entry; packs exported before verify with the old key, packs after with the new one or
//! with the old one through the rotation they carry;
//! the old key file is gone; a rotation that stopped half-way finishes at the next start.

use sitrep_app::Principal;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use sitrep_app::{App, AppError, Config, KEY_FILE, NewIncident, rotate_ledger_key};
use sitrep_evidence::pack::{Limits, verify_pack};
use sitrep_ledger::{Signer, Verifier};
use sitrep_store::StoreError;

#[path = "support/backends.rs"]
mod support;

fn config(data_dir: &Path, url: Option<&str>) -> Config {
    Config {
        data_dir: Some(data_dir.to_path_buf()),
        database_url: url.map(str::to_owned),
        ..Config::default()
    }
}

async fn pack(app: &App, incident: &str) -> Vec<u8> {
    let mut out = Vec::new();
    app.export_evidence(incident, &mut out).await.unwrap();
    out
}

fn verifies(pack: &[u8], keys: &[&Verifier]) -> bool {
    let keys: Vec<Verifier> = keys.iter().map(|k| (*k).clone()).collect();
    verify_pack(pack, &keys, Limits::default()).unwrap().ok()
}

fn next_file(data: &Path) -> PathBuf {
    data.join(format!("{KEY_FILE}.next"))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_ledger_key_rotates_and_every_pack_still_verifies() {
    let backends = support::backends().await;
    for (label, url) in &backends.list {
        eprintln!("key rotation on {label}");
        rotation_story(url.as_deref()).await;
    }
    backends.done().await;
}

async fn rotation_story(url: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let app = App::open(config(&data, url)).await.unwrap();
    let old = app.verifier().clone();
    let inc = app
        .declare(
            NewIncident {
                title: "disk full".into(),
                ..NewIncident::default()
            },
            &Principal::asserted("ann"),
        )
        .await
        .unwrap();
    let before = pack(&app, &inc.id).await;
    app.close().await;

    let rotated = rotate_ledger_key(config(&data, url), &Principal::asserted("root"), false)
        .await
        .unwrap();
    assert_eq!(rotated.from, old.to_string());
    assert_ne!(rotated.to, rotated.from);
    assert!(
        !next_file(&data).exists(),
        "the waiting key took the old one's place"
    );
    let key_text = std::fs::read_to_string(data.join(KEY_FILE)).unwrap();
    let new = Signer::parse(key_text.trim()).unwrap().verifier();
    assert_eq!(new.to_string(), rotated.to);
    let mode = std::fs::metadata(data.join(KEY_FILE))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    let app = App::open(config(&data, url)).await.unwrap();
    assert_eq!(app.verifier(), &new);
    let history = app.store().key_history().await.unwrap();
    let keys: Vec<&str> = history.iter().map(|k| k.verifier_key.as_str()).collect();
    assert_eq!(keys, [rotated.from.as_str(), rotated.to.as_str()]);
    assert_eq!(history[1].rotated_by.as_deref(), Some("root"));
    assert_eq!(history[1].since_index, Some(rotated.index));
    let report = app.store().verify_ledger().await.unwrap();
    assert!(report.ok(), "{report:?}");

    // The incident goes on under the new key.
    app.note(&inc.id, "cleared /var/log", &Principal::asserted("ann"))
        .await
        .unwrap();
    let after = pack(&app, &inc.id).await;
    assert!(
        verifies(&before, &[&old]),
        "a pack made before verifies with the old key"
    );
    assert!(verifies(&after, &[&new]));
    // A key pinned before the rotation follows it: the pack carries the rotation
    // record and the transition checkpoint both keys signed.
    let report = verify_pack(&after[..], std::slice::from_ref(&old), Limits::default()).unwrap();
    assert!(report.ok(), "{:?}", report.failures);
    assert_eq!(report.keys_followed, [new.to_string()]);
    let stranger = Signer::generate(old.name(), &mut rand::rngs::OsRng)
        .unwrap()
        .verifier();
    assert!(!verifies(&after, &[&stranger]));
    app.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotation_that_stopped_half_way_finishes_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let app = App::open(config(&data, None)).await.unwrap();
    let old = app.verifier().clone();
    // A crash right after the record: the next key waits beside the old one.
    let next = Signer::generate(old.name(), &mut rand::rngs::OsRng).unwrap();
    std::fs::write(next_file(&data), format!("{}\n", next.to_key_string())).unwrap();
    std::fs::set_permissions(next_file(&data), std::fs::Permissions::from_mode(0o600)).unwrap();
    app.store()
        .record_key_rotation(&next.verifier(), "root", "cli:root", 1)
        .await
        .unwrap();
    app.close().await;

    let app = App::open(config(&data, None)).await.unwrap();
    assert_eq!(app.verifier(), &next.verifier());
    assert!(!next_file(&data).exists());
    let transition = app.store().latest_checkpoint().await.unwrap().unwrap();
    for key in [&old, &next.verifier()] {
        sitrep_ledger::open_note(&transition.signed_note, std::slice::from_ref(key))
            .expect("the transition checkpoint carries both signatures");
    }
    assert!(app.store().verify_ledger().await.unwrap().ok());
    app.close().await;

    // Without the next key, the retired one is refused, naming what to do.
    let retired = Signer::generate(old.name(), &mut rand::rngs::OsRng).unwrap();
    let app = App::open(config(&data, None)).await.unwrap();
    app.store()
        .record_key_rotation(&retired.verifier(), "root", "cli:root", 2)
        .await
        .unwrap();
    app.close().await;
    let Err(e) = App::open(config(&data, None)).await else {
        panic!("a retired key opened the log");
    };
    assert!(
        matches!(e, AppError::Store(StoreError::RetiredKey { .. })),
        "{e}"
    );
    assert!(e.to_string().contains("retired"), "{e}");
}
