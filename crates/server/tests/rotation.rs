//! A key rotation done while a server still runs with the old key (the procedure says to
//! stop it first): the server stops signing and says so on `/readyz`, rather than seal
//! anything with a retired key.

mod common;

use common::start_with;
use serde_json::json;
use sitrep_app::Principal;
use sitrep_app::{App, Config, rotate_ledger_key};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_left_running_through_a_rotation_stops_signing_and_is_not_ready() {
    let s = start_with(|_| {}).await;
    let id = s.declare(json!({"title": "disk full"})).await;
    let (st, _) = s.get("/readyz", "").await;
    assert_eq!(st, 200);

    let config = Config {
        data_dir: Some(s.dir.path().join("data")),
        ..Config::default()
    };
    // Refused while the server is up...
    let Err(refused) = rotate_ledger_key(config.clone(), &Principal::asserted("root"), false).await
    else {
        panic!("a rotation ran beside a live server");
    };
    assert!(refused.to_string().contains("a server is up"), "{refused}");
    // ...unless forced (the server here keeps running on purpose).
    let rotated = rotate_ledger_key(config, &Principal::asserted("root"), true)
        .await
        .unwrap();

    // The server commits new events still, but will not sign them with its retired key.
    let (st, v) = s
        .post(
            &format!("/api/v1/incidents/{id}/notes"),
            &s.responder,
            json!({"text": "still here"}),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    let detail = s
        .until(20, || async {
            let (st, v) = s.get("/readyz", "").await;
            let d = v["checks"]["ledger"]["detail"].as_str()?.to_owned();
            (st == 503 && d.starts_with("cannot sign checkpoints")).then_some(d)
        })
        .await;
    assert!(detail.contains("rotated"), "{detail}");
    // The ledger page lists both keys and who rotated.
    let (cookie, _) = s.login(&s.viewer).await;
    let page = s.page(&cookie, "/ledger").await;
    assert!(page.contains("Key history"), "{page}");
    for key in [&rotated.from, &rotated.to] {
        assert!(page.contains(key.as_str()), "{key} not on {page}");
    }
    assert!(page.contains("rotated by root"), "{page}");
    // Nothing the retired key signed came after the transition.
    let latest = s
        .state
        .app()
        .store()
        .latest_checkpoint()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(latest.size, rotated.checkpoint_size);
    let serving = s
        .state
        .app()
        .serving_replicas(sitrep_app::now_ms())
        .await
        .unwrap();
    assert_eq!(serving.len(), 1, "{serving:?}");
    // A stopped server gives its serving lease up at once.
    let kept = s.stop().await;
    let again = App::open(Config {
        data_dir: Some(kept.path().join("data")),
        ..Config::default()
    })
    .await
    .unwrap();
    assert!(
        again
            .serving_replicas(sitrep_app::now_ms())
            .await
            .unwrap()
            .is_empty()
    );
    again.close().await;
}
