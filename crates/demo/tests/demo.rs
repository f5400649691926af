//! `sitrep demo` does what the README promises: within seconds there are live incidents
//! whose diagnosis steps ran against the failing simulated service.

use sitrep_demo::{Demo, DemoOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_user_sees_live_triaged_incidents() {
    let opts = DemoOptions {
        listen: Some("127.0.0.1:0".parse().unwrap()),
        data_dir: None,
    };
    let demo = Demo::start(opts, |_| {}).await.unwrap();
    assert_eq!(demo.incidents.len(), 2, "one incident per alert group");
    let app = demo.app();
    let inc = app.incident(&demo.incidents[0].to_string()).await.unwrap();
    let runs = app.store().runs_for(&inc.id).await.unwrap();
    assert!(!runs.is_empty(), "auto-triage ran");
    assert!(
        runs.iter().all(|r| r.risk == "read"),
        "only read steps run unattended"
    );
    // The diagnosis really talked to the failing shop: readiness says 503.
    let view = app.view(&inc.id).await.unwrap();
    let readiness = view.runs.iter().find(|r| r.step_id == "readiness");
    if let Some(r) = readiness {
        let sha = sitrep_ledger_hash(r.stdout_sha256.as_deref().unwrap());
        let out = String::from_utf8(app.blobs().get(&sha).unwrap()).unwrap();
        assert!(out.contains("HTTP 503"), "{out}");
    } else {
        // Both incidents opened; the checkout one must have run its readiness check.
        let other = app.incident(&demo.incidents[1].to_string()).await.unwrap();
        let runs = app.store().runs_for(&other.id).await.unwrap();
        assert!(runs.iter().any(|r| r.step_id == "readiness"), "{runs:?}");
    }
    // The UI answers and asks for a login.
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/incidents", demo.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    let text = sitrep_demo::instructions(&demo);
    assert!(text.contains(&demo.token));
    demo.stop().await.unwrap();
}

fn sitrep_ledger_hash(hex: &str) -> sitrep_ledger::Hash {
    sitrep_ledger::Hash::from_hex(hex).unwrap()
}
