//! Silences made through the API are durable and audited: they survive a restart, and
//! their creation and removal are ledger events.

#[path = "support/secrets.rs"]
mod secrets;

use sitrep_alerts::Silence;
use sitrep_app::ingest::Ingestor;
use sitrep_app::{App, Config};

async fn open(dir: &std::path::Path) -> App {
    App::open(Config {
        data_dir: Some(dir.join("data")),
        ..Config::default()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_silence_survives_a_restart_and_is_on_the_record() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path()).await;
    let ing = Ingestor::load(app.clone()).await.unwrap();
    let silence: Silence = serde_json::from_value(serde_json::json!({
        "id": "s-1",
        "matchers": ["alertname=\"Noisy\""],
        "starts_at": "2026-11-22T00:00:00Z",
        "ends_at": "2026-11-23T00:00:00Z",
        "created_by": "carl",
        "comment": "known flapping; token=abc123secret",
    }))
    .unwrap();
    ing.create_silence(silence.clone()).await.unwrap();
    let again = ing.create_silence(silence).await.unwrap_err();
    assert!(again.to_string().contains("exists"), "{again}");
    app.close().await;

    let app = open(dir.path()).await;
    let ing = Ingestor::load(app.clone()).await.unwrap();
    assert_eq!(
        ing.silences()
            .iter()
            .map(|s| s.id.as_str())
            .collect::<Vec<_>>(),
        ["s-1"]
    );
    assert!(ing.delete_silence("s-1", "cleo").await.unwrap());
    assert!(!ing.delete_silence("s-1", "cleo").await.unwrap(), "gone");
    let size = app.store().tree_size().await.unwrap();
    let events = app.store().events(0, size).await.unwrap();
    let kinds: Vec<(&str, &str)> = events
        .iter()
        .map(|e| (e.record.event_type.as_str(), e.record.actor.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [("silence.created", "carl"), ("silence.removed", "cleo")]
    );
    let comment = &events[0].record.payload["comment"];
    assert!(!comment.contains("abc123secret"), "{comment}");
    app.close().await;

    let app = open(dir.path()).await;
    assert!(
        Ingestor::load(app.clone())
            .await
            .unwrap()
            .silences()
            .is_empty()
    );
    app.close().await;
    secrets::assert_no_file_holds(&dir.path().join("data"), "abc123secret");
}
