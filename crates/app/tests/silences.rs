//! Silences made through the API are durable and audited: they survive a restart, and
//! their creation and removal are ledger events.

#[path = "support/secrets.rs"]
mod secrets;

use sitrep_alerts::Silence;
use sitrep_app::Principal;
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
    ing.create_silence(silence.clone(), &Principal::asserted("carl"))
        .await
        .unwrap();
    let again = ing
        .create_silence(silence, &Principal::asserted("carl"))
        .await
        .unwrap_err();
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
    assert!(
        ing.delete_silence("s-1", &Principal::asserted("cleo"))
            .await
            .unwrap()
    );
    assert!(
        !ing.delete_silence("s-1", &Principal::asserted("cleo"))
            .await
            .unwrap(),
        "gone"
    );
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

fn two_regexes(id: &str) -> Silence {
    serde_json::from_value(serde_json::json!({
        "id": id,
        "matchers": [format!("alertname=~\"{id}.*\""), "instance!~\"db-[0-9]+\""],
        "starts_at": "2026-11-22T00:00:00Z",
        "ends_at": "2026-11-23T00:00:00Z",
        "created_by": "carl",
    }))
    .unwrap()
}

async fn open_with_budget(dir: &std::path::Path, max_regexes: usize) -> App {
    let mut cfg = Config {
        data_dir: Some(dir.join("data")),
        ..Config::default()
    };
    cfg.server.regex_budget.max_regexes = max_regexes;
    App::open(cfg).await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_regex_budget_refuses_new_silences_and_skips_stored_ones_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let app = open_with_budget(dir.path(), 4).await;
    let ing = Ingestor::load(app.clone()).await.unwrap();
    ing.create_silence(two_regexes("a"), &Principal::asserted("carl"))
        .await
        .unwrap();
    ing.create_silence(two_regexes("b"), &Principal::asserted("carl"))
        .await
        .unwrap();
    let e = ing
        .create_silence(two_regexes("c"), &Principal::asserted("carl"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("max_regexes"), "{e}");
    // A hostile body stored behind the API's back (an older build, a restore): 1,000
    // `\w{20}` matchers, which once took 12 s and 1.2 GB at every start.
    let probe: Vec<String> = (0..1000)
        .map(|i| format!("l{i}=~\"\\\\w{{20}}\""))
        .collect();
    let hostile = format!(
        "{{\"id\":\"h\",\"matchers\":{},\"starts_at\":\"2026-11-22T00:00:00Z\",\
         \"ends_at\":\"2026-11-23T00:00:00Z\",\"created_by\":\"x\"}}",
        serde_json::to_string(&probe).unwrap()
    );
    app.store()
        .commit(sitrep_app::store::Change {
            writes: vec![sitrep_app::store::Write::PutSilence {
                id: "h".into(),
                body: hostile,
                created_ms: sitrep_app::now_ms(),
            }],
            events: Vec::new(),
        })
        .await
        .unwrap();
    app.close().await;

    // Restarted with a smaller budget: one of a, b no longer fits; neither that nor the
    // hostile one stops the start.
    let app = open_with_budget(dir.path(), 3).await;
    let started = std::time::Instant::now();
    let ing = Ingestor::load(app.clone()).await.unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(ing.silences().len(), 1);
    let skipped = ing.skipped_silences();
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    let why = |id: &str| {
        skipped
            .iter()
            .find(|s| s.id == id)
            .map(|s| s.reason.clone())
            .unwrap_or_default()
    };
    assert!(why("h").contains("compiles to more than"), "{skipped:?}");
    let over = if why("a").is_empty() {
        why("b")
    } else {
        why("a")
    };
    assert!(over.contains("max_regexes"), "{skipped:?}");

    // Removing the silence in force makes room: the next refresh puts the skipped one
    // in force without a restart; the hostile one stays skipped.
    let in_force = ing.silences()[0].id.clone();
    let waiting = if in_force == "a" { "b" } else { "a" };
    assert!(
        ing.delete_silence(&in_force, &Principal::asserted("carl"))
            .await
            .unwrap()
    );
    assert!(ing.refresh_silences().await.unwrap());
    let ids: Vec<String> = ing.silences().into_iter().map(|s| s.id).collect();
    assert_eq!(ids, [waiting]);
    let skipped: Vec<String> = ing.skipped_silences().into_iter().map(|s| s.id).collect();
    assert_eq!(skipped, ["h"]);
    app.close().await;
}
