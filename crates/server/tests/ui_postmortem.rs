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
    let post = |cookie: &str, csrf: Option<&str>, section: &str, text: &str| {
        let mut body = vec![("text", text.to_owned())];
        if let Some(c) = csrf {
            body.push(("csrf", c.to_owned()));
        }
        s.http
            .post(s.u(&format!("{page}/{section}")))
            .header("cookie", cookie)
            .form(&body)
            .send()
    };
    let location = |r: &reqwest::Response| {
        r.headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };

    let (vera, vera_csrf) = s.login(&s.viewer).await;
    let html = s.page(&vera, &page).await;
    assert!(html.contains("id=\"blanks-note\""), "{html}");
    assert!(!html.contains("id=\"blank-impact\""), "{html}");
    let r = post(&vera, Some(&vera_csrf), "impact", "x").await.unwrap();
    assert_eq!(r.status().as_u16(), 403);

    let (rita, rita_csrf) = s.login(&s.responder).await;
    let html = s.page(&rita, &page).await;
    assert!(html.contains("To be written: who was affected"), "{html}");
    assert!(html.contains("id=\"blank-root_cause\""), "{html}");
    // Without the session's CSRF token nothing is written.
    let r = post(&rita, None, "impact", "forged").await.unwrap();
    assert_eq!(r.status().as_u16(), 403);

    let impact = "Checkout failed for 12 min <script>alert(1)</script>";
    let r = post(&rita, Some(&rita_csrf), "impact", impact)
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(location(&r), format!("{page}#blank-impact"));
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
    let md = s
        .http
        .get(s.u(&format!("{page}.md")))
        .header("cookie", &rita)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(md.contains(&format!("## Impact\n\n{impact}\n")), "{md}");
    assert!(md.contains("**postmortem.edited** by rita: impact"), "{md}");

    // Refused with the reason: too long, or no such blank.
    let long = "x".repeat(9000);
    let r = post(&rita, Some(&rita_csrf), "impact", &long)
        .await
        .unwrap();
    assert!(
        location(&r).starts_with(&format!("{page}?flash=")),
        "{}",
        location(&r)
    );
    let r = post(&rita, Some(&rita_csrf), "summary", "x").await.unwrap();
    assert!(location(&r).contains("unknown+section"), "{}", location(&r));

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
        .http
        .get(s.u(&format!("/api/v1/incidents/{id}/postmortem")))
        .bearer_auth(&s.viewer)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        md.contains("## Root cause\n\nPool exhausted by a retry storm.\n"),
        "{md}"
    );
    assert!(md.contains("## Impact\n\n_To be written:"), "cleared: {md}");
    s.stop().await;
}
