//! Raw alert payloads on SQLite and PostgreSQL: retention deletes old ones (rejected
//! sooner than accepted) and keeps recent ones and the ledger; the byte cap evicts the
//! oldest, rejected first, never refuses an accepted payload and never lets a rejected
//! one push out an accepted one.

use sitrep_alerts::Source;
use sitrep_app::{App, Config, Ingestor};

const HOUR: i64 = 3600 * 1000;
const DAY: i64 = 24 * HOUR;
/// Every test payload's size in bytes.
const SIZE: usize = 200;

#[path = "support/backends.rs"]
mod support;

async fn open(dir: &tempfile::TempDir, url: Option<&str>, max_bytes: u64) -> App {
    let mut cfg = Config {
        data_dir: Some(dir.path().join("data")),
        database_url: url.map(str::to_owned),
        ..Config::default()
    };
    cfg.server.receivers.raw_max_bytes = max_bytes;
    App::open(cfg).await.unwrap()
}

/// A generic payload that parses, exactly `SIZE` bytes.
fn accepted(n: usize) -> Vec<u8> {
    let head = format!("{{\"alerts\":[{{\"labels\":{{\"alertname\":\"A{n}\",\"pad\":\"");
    let tail = "\"}}]}";
    let pad = "x".repeat(SIZE - head.len() - tail.len());
    format!("{head}{pad}{tail}").into_bytes()
}

/// A payload that does not parse, exactly `SIZE` bytes.
fn rejected() -> Vec<u8> {
    let mut body = b"{\"alerts\":".to_vec();
    body.resize(SIZE, b'!');
    body
}

async fn store(ing: &Ingestor, body: &[u8]) -> Option<String> {
    let stored = ing.store_raw(Source::Generic, body).await.unwrap();
    assert_eq!(stored.body.len(), SIZE);
    stored.id
}

#[tokio::test]
async fn retention_deletes_rejected_sooner_keeps_recent_and_the_ledger() {
    let backends = support::backends().await;
    for (label, url) in &backends.list {
        eprintln!("raw payload retention on {label}");
        let dir = tempfile::tempdir().unwrap();
        let app = open(&dir, url.as_deref(), 1 << 30).await;
        let ing = Ingestor::new(app.clone());
        let good = store(&ing, &accepted(1)).await.unwrap();
        let report = ing.ingest(Source::Generic, &good, &accepted(1)).await;
        assert_eq!(report.unwrap().opened.len(), 1);
        let bad = store(&ing, &rejected()).await.unwrap();
        let raw = app.store().raw_payload(&bad).await.unwrap().unwrap();
        assert!(raw.rejected);
        assert!(
            !app.store()
                .raw_payload(&good)
                .await
                .unwrap()
                .unwrap()
                .rejected
        );
        let tree = app.store().tree_size().await.unwrap();
        let now = sitrep_app::now_ms();

        // An hour on: both are recent.
        let s = app.sweep_raw_payloads(now + HOUR).await.unwrap();
        assert_eq!((s.accepted, s.rejected), (0, 0));
        // Two days on: the rejected one is past 24 h, the accepted one is kept.
        let s = app.sweep_raw_payloads(now + 2 * DAY).await.unwrap();
        assert_eq!((s.accepted, s.rejected), (0, 1));
        assert!(app.store().raw_payload(&bad).await.unwrap().is_none());
        assert!(app.store().raw_payload(&good).await.unwrap().is_some());
        // Eight days on: the accepted one is past 7 days.
        let s = app.sweep_raw_payloads(now + 8 * DAY).await.unwrap();
        assert_eq!((s.accepted, s.rejected), (1, 0));
        assert!(app.store().raw_payload(&good).await.unwrap().is_none());
        // Nothing on the ledger went, and the incident the payload opened stays.
        assert_eq!(app.store().tree_size().await.unwrap(), tree);
        assert_eq!(app.store().raw_payload_stats().await.unwrap().bytes, 0);
        app.close().await;
    }
    backends.done().await;
}

#[tokio::test]
async fn the_cap_evicts_the_oldest_rejected_first_and_never_refuses_an_accepted_payload() {
    let backends = support::backends().await;
    for (label, url) in &backends.list {
        eprintln!("raw payload cap on {label}");
        let dir = tempfile::tempdir().unwrap();
        // Room for five payloads.
        let app = open(&dir, url.as_deref(), 5 * SIZE as u64).await;
        let ing = Ingestor::new(app.clone());
        let mut ids = Vec::new();
        for n in 0..4 {
            ids.push(store(&ing, &accepted(n)).await.unwrap());
        }
        let old_bad = store(&ing, &rejected()).await.unwrap();
        let stats = app.store().raw_payload_stats().await.unwrap();
        assert_eq!((stats.accepted, stats.rejected, stats.bytes), (4, 1, 1000));

        // A new rejected payload takes the older rejected one's room.
        let new_bad = store(&ing, &rejected()).await.unwrap();
        assert!(app.store().raw_payload(&old_bad).await.unwrap().is_none());
        // An accepted one evicts rejected ones first, then the oldest accepted, to
        // 90% of the cap (900 bytes: four payloads).
        let fifth = store(&ing, &accepted(4)).await.unwrap();
        assert!(app.store().raw_payload(&new_bad).await.unwrap().is_none());
        assert!(app.store().raw_payload(&ids[0]).await.unwrap().is_none());
        for id in ids[1..].iter().chain([&fifth]) {
            assert!(app.store().raw_payload(id).await.unwrap().is_some(), "{id}");
        }
        let stats = app.store().raw_payload_stats().await.unwrap();
        assert_eq!((stats.accepted, stats.rejected, stats.bytes), (4, 0, 800));

        // One more accepted fits; then a rejected one would need an accepted one
        // evicted: it is not stored at all.
        store(&ing, &accepted(5)).await.unwrap();
        assert_eq!(store(&ing, &rejected()).await, None);
        let stats = app.store().raw_payload_stats().await.unwrap();
        assert_eq!((stats.accepted, stats.rejected, stats.bytes), (5, 0, 1000));
        app.close().await;
    }
    backends.done().await;
}
