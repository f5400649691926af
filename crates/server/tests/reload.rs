//! The runbook directory is reloaded when files change; a bad file never stops the
//! server, it is reported.

mod common;

use common::{runbooks_dir, start_with};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runbooks_reload_when_files_change() {
    let books = tempfile::tempdir().unwrap();
    std::fs::copy(
        runbooks_dir().join("local-service.md"),
        books.path().join("local-service.md"),
    )
    .unwrap();
    let root = books.path().to_owned();
    let s = start_with(move |c| c.runbooks = Some(root)).await;
    let count = || async {
        let (_, v) = s.get("/api/v1/runbooks", &s.viewer).await;
        v["runbooks"].as_array().map_or(0, Vec::len)
    };
    assert_eq!(count().await, 1);

    std::fs::write(
        books.path().join("db.md"),
        "---\nservice: db\nalerts: [DbDown]\n---\n# DB down\n\n## Diagnosis\n\n```bash\npg_isready\n```\n",
    )
    .unwrap();
    s.until(10, || async { (count().await == 2).then_some(()) })
        .await;

    // A file that is not UTF-8: reported, the rest keeps working, readiness holds
    // (runbooks are optional).
    std::fs::write(books.path().join("broken.md"), [0xff, 0xfe, 0x00]).unwrap();
    let detail = s
        .until(10, || async {
            let (st, v) = s.get("/readyz", "").await;
            let d = v["checks"]["runbooks"]["detail"].as_str()?.to_owned();
            (st == 200 && d.contains("1 unreadable")).then_some(d)
        })
        .await;
    assert!(detail.starts_with("2 runbooks"), "{detail}");
    let (_, v) = s.get("/api/v1/runbooks", &s.viewer).await;
    assert_eq!(v["unreadable"][0][0], "broken.md");
    // An incident for the new runbook's alert gets it attached.
    let (st, v) = s
        .alert(
            "generic",
            &serde_json::json!({"alerts": [{"labels": {"alertname": "DbDown"}}]}).to_string(),
        )
        .await;
    assert_eq!(st, 202, "{v}");
    let id = v["opened"][0].as_str().unwrap();
    let (_, inc) = s.get(&format!("/api/v1/incidents/{id}"), &s.viewer).await;
    assert_eq!(inc["incident"]["runbooks"], serde_json::json!(["db.md"]));
    assert_eq!(inc["incident"]["service"], "db");
    s.stop().await;
}
