//! `sitrep silence add|list|remove` on a real data dir: the `--json` shapes scripts read,
//! bad input named with exit 2, the sealed `silence.created` / `silence.removed` events,
//! and a silence the CLI made muting in a server's ingestor over the same database once
//! it refreshes (as `sitrep serve` does every five seconds).

mod common;

use common::{Env, stderr};
use serde_json::Value;

#[test]
fn a_silence_is_added_listed_and_removed_on_the_record() {
    let env = Env::new();
    let made = env.json(&[
        "silence",
        "add",
        "--match",
        "alertname=\"Noisy\"",
        "--match",
        "instance=~\"db-.*\"",
        "--for",
        "2h",
        "--comment",
        "flapping since the deploy",
    ]);
    let id = made["id"].as_str().unwrap().to_owned();
    let mut shown = made.clone();
    for (field, stand_in) in [
        ("id", "[id]"),
        ("starts_at", "[time]"),
        ("ends_at", "[time]"),
    ] {
        shown[field] = Value::from(stand_in);
    }
    insta::assert_json_snapshot!("silence_add", shown);
    let listed = env.json(&["silence", "list"]);
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    assert_eq!(listed[0]["id"], Value::from(id.clone()));

    let removed = env.json(&["silence", "remove", &id]);
    assert_eq!(removed["removed"], Value::from(id.clone()));
    assert_eq!(env.json(&["silence", "list"]), serde_json::json!([]));
    let again = env.run(&["silence", "remove", &id]);
    assert_eq!(again.status.code(), Some(2), "{}", stderr(&again));

    let kinds = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let app = open(&env).await;
        let events = app
            .sealed(0, app.ledger_size().await.unwrap())
            .await
            .unwrap();
        app.close().await;
        events
            .into_iter()
            .map(|e| (e.record.event_type, e.record.actor))
            .filter(|(t, _)| t.starts_with("silence."))
            .collect::<Vec<_>>()
    });
    assert_eq!(
        kinds,
        [
            ("silence.created".to_owned(), "ann".to_owned()),
            ("silence.removed".to_owned(), "ann".to_owned())
        ]
    );
}

/// The app over the test's data dir, as a server beside the CLI opens it.
async fn open(env: &Env) -> sitrep_app::App {
    let cfg = sitrep_app::Config {
        data_dir: Some(env.dir.path().join("data")),
        ..sitrep_app::Config::default()
    };
    sitrep_app::App::open(cfg).await.unwrap()
}

#[test]
fn bad_matchers_and_durations_are_named() {
    let env = Env::new();
    for (args, field) in [
        (["--match", "alertname=Noisy\"", "--for", "2h"], "matchers"),
        (
            ["--match", "alertname=\"Noisy\"", "--for", "30d"],
            "duration",
        ),
        (
            ["--match", "alertname=\"Noisy\"", "--for", "soon"],
            "duration",
        ),
    ] {
        let mut a = vec!["--json", "silence", "add"];
        a.extend_from_slice(&args);
        let o = env.run(&a);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(field), "{args:?}: {}", stderr(&o));
    }
    assert_eq!(env.json(&["silence", "list"]), serde_json::json!([]));
}

#[test]
fn a_silence_from_the_cli_mutes_in_a_server_after_its_refresh() {
    let env = Env::new();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        // The CLI opens the data dir for its command; a server's app is open beside it.
        let app = open(&env).await;
        let ing = sitrep_app::Ingestor::load(app.clone()).await.unwrap();
        let out = env.run(&[
            "silence",
            "add",
            "--match",
            "alertname=\"Noisy\"",
            "--for",
            "1h",
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(ing.silences().is_empty(), "not before the refresh");
        assert!(ing.refresh_silences().await.unwrap());
        let body = br#"{"alerts":[{"labels":{"alertname":"Noisy"}}]}"#;
        match ing.receive(sitrep_alerts::Source::Generic, body).await {
            sitrep_app::receive::Received::Accepted(r) => assert_eq!(r.silenced, 1),
            other => panic!("{other:?}"),
        }
        app.close().await;
    });
}
