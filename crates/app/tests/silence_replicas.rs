//! A silence made on one replica mutes on the others after their next refresh, and one
//! removed there stops muting, on a shared SQLite file and on PostgreSQL; a stored
//! silence that does not parse is skipped by the refresh, not fatal.

use sitrep_alerts::{Silence, Source};
use sitrep_app::receive::Received;
use sitrep_app::{App, Config, Ingestor, Principal};

#[path = "support/backends.rs"]
mod support;

/// Replica `name` over `database` (a shared SQLite file under `root/shared` when
/// `None`), signing with the shared ledger key as replicas do (docs/deploy.md).
async fn replica(root: &std::path::Path, name: &str, database: Option<&str>) -> App {
    let shared = root.join("shared");
    std::fs::create_dir_all(&shared).unwrap();
    let url = database.map_or_else(|| sitrep_app::store::sqlite_url(&shared), str::to_owned);
    let mut cfg = Config {
        data_dir: Some(root.join(name)),
        database_url: Some(url),
        ..Config::default()
    };
    cfg.keys.ledger = Some(shared.join("ledger.key"));
    App::open(cfg).await.expect("open replica")
}

fn silence(id: &str) -> Silence {
    serde_json::from_value(serde_json::json!({
        "id": id,
        "matchers": ["alertname=\"Noisy\""],
        "starts_at": "2026-01-01T00:00:00Z",
        "ends_at": "2099-01-01T00:00:00Z",
        "created_by": "ann",
        "comment": "flapping",
    }))
    .unwrap()
}

/// How many alerts of one `Noisy` delivery `ing` muted.
async fn muted(ing: &Ingestor, n: u32) -> usize {
    let body =
        serde_json::json!({"alerts": [{"labels": {"alertname": "Noisy", "n": n.to_string()}}]});
    match ing
        .receive(Source::Generic, body.to_string().as_bytes())
        .await
    {
        Received::Accepted(report) => report.silenced,
        other => panic!("delivery not accepted: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silence_made_on_one_replica_mutes_on_another_after_a_refresh() {
    let backends = support::backends().await;
    for (label, url) in &backends.list {
        eprintln!("silences across replicas on {label}");
        let root = tempfile::tempdir().unwrap();
        let a = Ingestor::load(replica(root.path(), "a", url.as_deref()).await)
            .await
            .unwrap();
        let b = Ingestor::load(replica(root.path(), "b", url.as_deref()).await)
            .await
            .unwrap();
        a.create_silence(silence("s-1"), &Principal::asserted("ann"))
            .await
            .unwrap();
        assert_eq!(muted(&a, 1).await, 1, "{label}: A mutes at once");
        assert_eq!(muted(&b, 2).await, 0, "{label}: B has not re-read yet");
        assert!(b.refresh_silences().await.unwrap(), "{label}");
        assert_eq!(muted(&b, 3).await, 1, "{label}: B mutes after its refresh");

        assert!(
            a.delete_silence("s-1", &Principal::asserted("ann"))
                .await
                .unwrap()
        );
        assert!(b.refresh_silences().await.unwrap(), "{label}");
        assert_eq!(
            muted(&b, 4).await,
            0,
            "{label}: removed on A, B stops muting"
        );
        assert!(b.silences().is_empty(), "{label}");
        a.app().close().await;
        b.app().close().await;
    }
    backends.done().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_keeps_a_silence_made_here_and_skips_a_bad_stored_one() {
    let root = tempfile::tempdir().unwrap();
    let ing = Ingestor::load(replica(root.path(), "a", None).await)
        .await
        .unwrap();
    ing.create_silence(silence("s-2"), &Principal::asserted("ann"))
        .await
        .unwrap();
    // A row another version (or a hand edit) left that no longer parses.
    ing.app()
        .store()
        .commit(sitrep_app::store::Change {
            writes: vec![sitrep_app::store::Write::PutSilence {
                id: "s-bad".into(),
                body: "{not json".into(),
                created_ms: 1,
            }],
            events: Vec::new(),
        })
        .await
        .unwrap();
    assert!(ing.refresh_silences().await.unwrap());
    let ids: Vec<String> = ing.silences().into_iter().map(|s| s.id).collect();
    assert_eq!(ids, ["s-2"]);
    let skipped = ing.skipped_silences();
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0].id, "s-bad");
    assert!(skipped[0].reason.contains("does not parse"), "{skipped:?}");
    assert_eq!(muted(&ing, 1).await, 1);
}
