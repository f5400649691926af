//! The incident timeline as the on-call engineer reads it: sentences, a run's output by
//! its first and last lines, evidence folded into its run, notes standing out.

mod common;

use common::start_with;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_timeline_reads_as_sentences_with_the_output_inline() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/ui/runbooks");
    let s = start_with(move |c| c.runbooks = Some(dir)).await;
    let (cookie, _) = s.login(&s.viewer).await;
    let id = s
        .declare(json!({"title": "timeline", "severity": "SEV2", "runbooks": ["checks.md"]}))
        .await;
    let runs = format!("/api/v1/incidents/{id}/runs");
    for step in ["many", "unavailable", "plain"] {
        let (st, v) = s
            .post(
                &runs,
                &s.responder,
                json!({"runbook": "checks.md", "step": step}),
            )
            .await;
        assert_eq!(st, 200, "{step}: {v}");
    }
    let (st, v) = s
        .post(
            &format!("/api/v1/incidents/{id}/notes"),
            &s.responder,
            json!({"text": "rolled back the deploy"}),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    let (_, inc) = s.get(&format!("/api/v1/incidents/{id}"), &s.viewer).await;
    let n = inc["incident"]["number"].as_i64().unwrap();
    let tl = s.page(&cookie, &format!("/incidents/{n}/timeline")).await;

    // Newest first: the note, then the runs in reverse order, then the declaration.
    let at = |what: &str| tl.find(what).unwrap_or_else(|| panic!("no {what} in {tl}"));
    let note = at("<blockquote class=\"t-note-text\">rolled back the deploy</blockquote>");
    let plain = at("<strong>rita</strong> ran plain (read) · exit 0 · ");
    let unavailable = at("ran unavailable (read) · fail: ");
    let many = at("ran many (read) · exit 0 · ");
    let declared = at("declared the incident at SEV2");
    assert!(note < plain && plain < unavailable && unavailable < many && many < declared);
    assert!(
        tl.contains("<li class=\"t-note\" data-kind=\"note\">"),
        "{tl}"
    );
    assert!(
        tl.contains("<li class=\"t-run t-fail\" data-kind=\"run\">"),
        "{tl}"
    );
    // The output by its ends, the rest one click away; no evidence lines of their own.
    assert!(
        tl.contains("<pre class=\"t-peek\">1\n2\n… 46 more line(s) …\n49\n50</pre>"),
        "{tl}"
    );
    assert!(tl.contains("<summary>More output</summary>"), "{tl}");
    assert!(tl.contains("<pre class=\"t-peek\">HTTP 503 Service Unavailable</pre>"));
    assert!(
        !tl.contains("evidence"),
        "evidence is folded into its run: {tl}"
    );
    assert!(!tl.contains("sha256"), "{tl}");
    // UTC in the markup and on hover; the page's script shows local time.
    assert!(tl.contains(" UTC\" data-local>"), "{tl}");
    s.stop().await;
}
