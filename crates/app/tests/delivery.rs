//! One delivery, one commit, on SQLite and PostgreSQL: an incident is never visible
//! without the alerts that opened it, a delivery whose ingestion fails leaves nothing
//! but its raw payload (kept as rejected), and a retry of it is then accepted.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use sitrep_alerts::Source;
use sitrep_app::receive::Received;
use sitrep_app::{App, Config, Ingestor};
use sitrep_store::IncidentFilter;

#[path = "support/backends.rs"]
mod support;

async fn open(dir: &tempfile::TempDir, url: Option<&str>) -> App {
    let cfg = Config {
        data_dir: Some(dir.path().join("data")),
        database_url: url.map(str::to_owned),
        ..Config::default()
    };
    App::open(cfg).await.unwrap()
}

/// A generic payload: one alert per name, each name its own group.
fn payload(names: &[&str]) -> Vec<u8> {
    let alerts: Vec<_> = names
        .iter()
        .map(|n| serde_json::json!({"labels": {"alertname": n, "instance": "a"}}))
        .collect();
    serde_json::to_vec(&serde_json::json!({ "alerts": alerts })).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_delivery_leaves_only_its_payload_marked_rejected() {
    let backends = support::backends().await;
    for (label, url) in &backends.list {
        eprintln!("failed delivery on {label}");
        let dir = tempfile::tempdir().unwrap();
        let app = open(&dir, url.as_deref()).await;
        let ing = Ingestor::new(app.clone());
        // The second group's incident cannot be declared (a blank alert name makes a
        // blank title); the first group's incident must not be committed without it.
        let body = payload(&["DiskFull", "   "]);
        let Received::Malformed { payload_id, error } = ing.receive(Source::Generic, &body).await
        else {
            panic!("{label}: a delivery whose ingestion is invalid is malformed");
        };
        assert!(error.to_string().contains("title"), "{label}: {error}");
        let id = payload_id.expect("the payload is kept");
        let raw = app.store().raw_payload(&id).await.unwrap().unwrap();
        assert!(raw.rejected, "{label}: kept as rejected");
        let all = app.incidents(&IncidentFilter::default()).await.unwrap();
        assert!(all.is_empty(), "{label}: no incident without its alerts");
        assert_eq!(
            app.store().tree_size().await.unwrap(),
            0,
            "{label}: no event"
        );

        // The same alerts without the bad one: accepted, incident with its alert.
        let Received::Accepted(report) =
            ing.receive(Source::Generic, &payload(&["DiskFull"])).await
        else {
            panic!("{label}: a good delivery is accepted");
        };
        assert_eq!(report.opened.len(), 1);
        let view = app.view(&report.opened[0]).await.unwrap();
        assert_eq!(view.alerts.len(), 1, "{label}");
        let raw = app.store().raw_payload(&report.payload_id).await.unwrap();
        assert!(!raw.unwrap().rejected, "{label}: the accepted copy");
        app.close().await;
    }
    backends.done().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incidents_appear_with_their_alerts_and_one_delivery_is_one_commit() {
    let backends = support::backends().await;
    for (label, url) in &backends.list {
        eprintln!("incidents with alerts on {label}");
        let dir = tempfile::tempdir().unwrap();
        let app = open(&dir, url.as_deref()).await;
        let ing = Arc::new(Ingestor::new(app.clone()));
        // A reader looks at every visible incident's alerts while deliveries open them.
        let stop = Arc::new(AtomicBool::new(false));
        let watcher = {
            let (app, stop) = (app.clone(), stop.clone());
            tokio::spawn(async move {
                let mut looks = 0u32;
                while !stop.load(Ordering::SeqCst) || looks == 0 {
                    for i in app.incidents(&IncidentFilter::default()).await.unwrap() {
                        let view = app.view(&i.id).await.unwrap();
                        assert!(!view.alerts.is_empty(), "incident {} without alerts", i.id);
                    }
                    looks += 1;
                }
                looks
            })
        };
        let mut tasks = Vec::new();
        for d in 0..20 {
            let ing = ing.clone();
            tasks.push(tokio::spawn(async move {
                let names = [format!("A{d}"), format!("B{d}"), format!("C{d}")];
                let names: Vec<&str> = names.iter().map(String::as_str).collect();
                ing.receive(Source::Generic, &payload(&names)).await
            }));
        }
        for t in tasks {
            let Received::Accepted(report) = t.await.unwrap() else {
                panic!("{label}: accepted");
            };
            assert_eq!((report.groups, report.opened.len()), (3, 3), "{label}");
        }
        stop.store(true, Ordering::SeqCst);
        assert!(watcher.await.unwrap() > 0);
        // Each incident: declared, then its alert firing, next to each other in the
        // ledger (one change holds them all).
        for i in app.incidents(&IncidentFilter::default()).await.unwrap() {
            let tl = app.timeline(&i.id, None).await.unwrap();
            let kinds: Vec<&str> = tl.iter().map(|e| e.record.event_type.as_str()).collect();
            assert_eq!(kinds, ["incident.declared", "alert.firing"], "{label}");
            assert_eq!(tl[1].index, tl[0].index + 1, "{label}: in one change");
        }
        assert_eq!(app.store().tree_size().await.unwrap(), 120, "{label}");
        app.close().await;
    }
    backends.done().await;
}
