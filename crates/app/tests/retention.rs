//! Evidence retention: output bytes of incidents resolved long enough ago are deleted,
//! their ledger records stay and still verify; a legal hold keeps them; a blob another
//! incident still needs is kept; every hold, release and expiry is on the record.

use sitrep_app::Principal;
use std::sync::Arc;

use sitrep_app::{App, AppError, Config, Mode, NewIncident, NullSink, RunRequest};
use sitrep_evidence::BlobError;
use sitrep_evidence::pack::{Limits, verify_pack};
use sitrep_ledger::Hash;

const DAY: i64 = 24 * 3600 * 1000;

#[path = "support/fixtures.rs"]
mod fixtures;
#[path = "support/backends.rs"]
mod support;
use fixtures::fixtures;

fn step(incident: &str, name: &str, instance: &str) -> RunRequest {
    RunRequest {
        incident: incident.to_owned(),
        runbook: "local-service.md".into(),
        step: name.into(),
        actor: Principal::asserted("ann"),
        set: [("instance".to_owned(), instance.to_owned())].into(),
        confirmed: None,
        approval: None,
        mode: Mode::Interactive,
    }
}

/// `req` confirmed by its plan id, as the person who typed its values would.
async fn confirmed(app: &App, mut req: RunRequest) -> RunRequest {
    req.confirmed = Some(app.plan(&req).await.unwrap().id);
    req
}

/// Declares an incident and runs `leaky` (the same output in every incident) and
/// `greet` (output unique to `instance`); returns the incident id and the unique blob.
async fn incident(app: &App, instance: &str) -> (String, Hash) {
    let inc = app
        .declare(
            NewIncident {
                title: format!("{instance} down"),
                runbooks: vec!["local-service.md".into()],
                ..NewIncident::default()
            },
            &Principal::asserted("ann"),
        )
        .await
        .unwrap();
    app.run_step(
        &confirmed(app, step(&inc.id, "leaky", instance)).await,
        Arc::new(NullSink),
    )
    .await
    .unwrap();
    let run = app
        .run_step(
            &confirmed(app, step(&inc.id, "greet", instance)).await,
            Arc::new(NullSink),
        )
        .await
        .unwrap();
    let unique = Hash::from_hex(run.run.stdout_sha256.as_deref().unwrap()).unwrap();
    (inc.id, unique)
}

async fn gone(app: &App, h: &Hash) -> bool {
    matches!(
        app.blob(h).await,
        Err(AppError::Blob(BlobError::NotFound(_)))
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn retention_deletes_old_bytes_keeps_held_and_shared_ones_and_says_so() {
    let backends = support::backends().await;
    for (label, url) in &backends.list {
        eprintln!("retention on {label}");
        retention_story(url.as_deref()).await;
    }
    backends.done().await;
}

async fn retention_story(url: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let app = App::open(Config {
        data_dir: Some(dir.path().join("data")),
        runbooks: Some(fixtures()),
        database_url: url.map(str::to_owned),
        ..Config::default()
    })
    .await
    .unwrap();
    let (a, a_out) = incident(&app, "alpha").await;
    let (b, b_out) = incident(&app, "bravo").await;
    let (c, c_out) = incident(&app, "charlie").await;
    let leaky = Hash::from_hex(
        app.view(&a).await.unwrap().runs[0]
            .stdout_sha256
            .as_deref()
            .unwrap(),
    )
    .unwrap();
    for id in [&a, &b] {
        app.resolve(id, &Principal::asserted("ann"), Some("drill over"))
            .await
            .unwrap();
    }
    app.hold_evidence(&a, "case 2026-114: preserve", &Principal::asserted("lena"))
        .await
        .unwrap();
    let again = app
        .hold_evidence(&a, "twice", &Principal::asserted("lena"))
        .await
        .unwrap_err();
    assert!(again.to_string().contains("already held"), "{again}");

    let later = sitrep_app::now_ms() + 10 * DAY;
    // Dry run: says what would go, deletes nothing.
    let dry = app
        .apply_retention(later, DAY, true, &Principal::asserted("ops"))
        .await
        .unwrap();
    assert_eq!(dry.incidents.len(), 1, "{dry:?}");
    assert_eq!(dry.incidents[0].id, b);
    assert_eq!(dry.incidents[0].blobs, [b_out.to_hex()]);
    assert!(!gone(&app, &b_out).await);

    // B's own output goes; what open incident C shares with it stays; held A keeps all.
    let done = app
        .apply_retention(later, DAY, false, &Principal::asserted("ops"))
        .await
        .unwrap();
    assert_eq!(done.incidents.len(), 1);
    assert!(done.shared_kept >= 1, "{done:?}");
    assert!(gone(&app, &b_out).await);
    assert!(!gone(&app, &leaky).await);
    assert!(!gone(&app, &a_out).await);
    // Not yet old enough: nothing happens.
    let early = app
        .apply_retention(
            sitrep_app::now_ms(),
            DAY,
            false,
            &Principal::asserted("ops"),
        )
        .await
        .unwrap();
    assert!(early.incidents.is_empty());
    // Once expired, never again.
    let twice = app
        .apply_retention(later, DAY, false, &Principal::asserted("ops"))
        .await
        .unwrap();
    assert!(twice.incidents.is_empty(), "{twice:?}");
    let err = app
        .hold_evidence(&b, "too late", &Principal::asserted("lena"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("already deleted"), "{err}");

    // B's pack still verifies: every record, with one blob deleted by retention.
    let mut pack = Vec::new();
    let summary = app.export_evidence(&b, &mut pack).await.unwrap();
    assert_eq!(summary.blobs_missing, 1, "{summary:?}");
    let report = verify_pack(&pack[..], &[app.verifier().clone()], Limits::default()).unwrap();
    assert!(report.ok(), "{report:?}");

    // Released, A's own output goes at the next sweep; when C resolves and ages too,
    // the output every incident shared goes last.
    app.release_evidence(&a, &Principal::asserted("lena"))
        .await
        .unwrap();
    let err = app
        .release_evidence(&a, &Principal::asserted("lena"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not held"), "{err}");
    app.apply_retention(later, DAY, false, &Principal::asserted("ops"))
        .await
        .unwrap();
    assert!(gone(&app, &a_out).await);
    assert!(!gone(&app, &leaky).await, "C still needs it");
    app.resolve(&c, &Principal::asserted("ann"), Some("drill over"))
        .await
        .unwrap();
    let last = app
        .apply_retention(later, DAY, false, &Principal::asserted("ops"))
        .await
        .unwrap();
    assert_eq!(last.incidents.len(), 1);
    assert!(gone(&app, &c_out).await);
    assert!(gone(&app, &leaky).await);

    // On the record.
    let kinds = |id: String| {
        let app = app.clone();
        async move {
            app.timeline(&id, None)
                .await
                .unwrap()
                .into_iter()
                .map(|e| (e.record.event_type, e.record.actor))
                .filter(|(k, _)| k.starts_with("evidence.") && k != "evidence.captured")
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        kinds(a.clone()).await,
        [
            ("evidence.held".to_owned(), "lena".to_owned()),
            ("evidence.released".to_owned(), "lena".to_owned()),
            ("evidence.expired".to_owned(), "ops".to_owned()),
        ]
    );
    let b_events = app.timeline(&b, None).await.unwrap();
    let expired = b_events
        .iter()
        .find(|e| e.record.event_type == "evidence.expired")
        .unwrap();
    assert_eq!(expired.record.payload["sha256"], b_out.to_hex());
    app.close().await;
}
