//! What the UI's pages say about runbook steps, as a logged-in browser gets them.

mod common;

use common::start_with;
use serde_json::json;

/// Steps with nothing to name them but their section heading would all read
/// "Diagnosis"; the runbook and incident pages add each one's first command.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steps_sharing_a_heading_are_told_apart_by_their_first_command() {
    let s = start_with(|_| {}).await;
    let (cookie, _) = s.login(&s.viewer).await;
    let id = s
        .declare(json!({"title": "titles", "runbooks": ["local-service.md"]}))
        .await;
    let (_, inc) = s.get(&format!("/api/v1/incidents/{id}"), &s.viewer).await;
    let n = inc["incident"]["number"].as_i64().unwrap();
    for path in [
        "/runbooks/local-service.md".to_owned(),
        format!("/incidents/{n}"),
    ] {
        let page = s.page(&cookie, &path).await;
        for title in [
            "<strong>Diagnosis: sleep 30</strong>",
            "<strong>Diagnosis: seq 1 200000</strong>",
            // Escaped as HTML.
            "<strong>Resolution: rm -rf &#34;&#60;marker&#62;&#34;</strong>",
        ] {
            assert!(page.contains(title), "{path}: no {title} in {page}");
        }
        assert!(!page.contains("<strong>Diagnosis</strong>"), "{path}");
    }
    s.stop().await;
}
