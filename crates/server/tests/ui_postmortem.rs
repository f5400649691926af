//! The post-mortem's blanks written in the page: a responder saves the impact, it is
//! sealed as a `postmortem.edited` event and shown (escaped) in the rendered page and in
//! the Markdown download; a viewer is told why not, a post without the CSRF token is
//! refused, and text over the bound or an unknown blank comes back with the reason.

mod common;

use common::start;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_responder_writes_the_impact_and_it_is_sealed_and_downloaded() {
    let s = start().await;
    let id = s.declare(json!({"title": "checkout down"})).await;
    let (_, inc) = s.get(&format!("/api/v1/incidents/{id}"), &s.viewer).await;
    let n = inc["incident"]["number"].as_i64().unwrap();
    let page = format!("/incidents/{n}/postmortem");
    let impact_blank = format!("{page}/impact");
    let (vera, vera_csrf) = s.login(&s.viewer).await;
    let html = s.page(&vera, &page).await;
    assert!(html.contains("id=\"blanks-note\""), "{html}");
    assert!(!html.contains("id=\"blank-impact\""), "{html}");
    let (st, _) = s
        .form(&vera, Some(&vera_csrf), &impact_blank, &[("text", "x")])
        .await;
    assert_eq!(st, 403);

    let (rita, rita_csrf) = s.login(&s.responder).await;
    let html = s.page(&rita, &page).await;
    assert!(html.contains("To be written: who was affected"), "{html}");
    assert!(html.contains("id=\"blank-root_cause\""), "{html}");
    // Without the session's CSRF token nothing is written.
    let (st, _) = s
        .form(&rita, None, &impact_blank, &[("text", "forged")])
        .await;
    assert_eq!(st, 403);

    let impact = "Checkout failed for 12 min <script>alert(1)</script>";
    let r = s
        .form(&rita, Some(&rita_csrf), &impact_blank, &[("text", impact)])
        .await;
    assert_eq!(r, (303, format!("{page}#blank-impact")));
    let html = s.page(&rita, &page).await;
    assert!(
        html.contains("<p>Checkout failed for 12 min &lt;script&gt;alert(1)&lt;/script&gt;</p>"),
        "rendered, escaped: {html}"
    );
    assert!(!html.contains("<script>alert(1)"), "{html}");
    assert!(html.contains("Written by rita"), "{html}");
    assert!(
        html.contains("maxlength=\"8192\">Checkout failed for 12 min &"),
        "the box holds the text: {html}"
    );

    // Sealed on the timeline, and in the download.
    let t = s.timeline(&id).await;
    let e = t
        .iter()
        .find(|e| e["record"]["type"] == "postmortem.edited")
        .expect("a postmortem.edited event");
    assert_eq!(e["record"]["actor"], "rita");
    assert_eq!(e["record"]["payload"]["section"], "impact");
    let script = include_str!("../assets/sitrep.js");
    assert!(
        script.contains("\"postmortem.edited\""),
        "the open incident page follows it"
    );
    let md = s.page(&rita, &format!("{page}.md")).await;
    assert!(md.contains(&format!("## Impact\n\n{impact}\n")), "{md}");
    assert!(md.contains("**postmortem.edited** by rita: impact"), "{md}");

    // Refused with the reason: too long, or no such blank.
    let long = "x".repeat(9000);
    let (_, to) = s
        .form(&rita, Some(&rita_csrf), &impact_blank, &[("text", &long)])
        .await;
    assert!(to.starts_with(&format!("{page}?flash=")), "{to}");
    let summary = format!("{page}/summary");
    let (_, to) = s
        .form(&rita, Some(&rita_csrf), &summary, &[("text", "x")])
        .await;
    assert!(to.contains("unknown+section"), "{to}");

    // The API writes the same blanks; an empty text clears one.
    let (st, v) = s
        .post(
            &format!("/api/v1/incidents/{id}/postmortem/root_cause"),
            &s.responder,
            json!({"text": "Pool exhausted by a retry storm."}),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    let (st, _) = s
        .post(
            &format!("/api/v1/incidents/{id}/postmortem/impact"),
            &s.responder,
            json!({"text": ""}),
        )
        .await;
    assert_eq!(st, 201);
    let md = s
        .text(
            &format!("/api/v1/incidents/{id}/postmortem"),
            Some(&s.viewer),
        )
        .await;
    assert!(
        md.contains("## Root cause\n\nPool exhausted by a retry storm.\n"),
        "{md}"
    );
    assert!(md.contains("## Impact\n\n_To be written:"), "cleared: {md}");
    s.stop().await;
}
