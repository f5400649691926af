//! Two-person control in the web UI, over real browser sessions (cookies and CSRF
//! tokens) without a browser: a held run shows its stored request, a commander approves
//! it on the incident page, and the requester's same run then goes through.

mod common;

use common::start_with;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_run_is_approved_on_the_incident_page_and_then_runs() {
    let s = start_with(common::destructive_needs_approval).await;
    let id = s
        .declare(json!({"title": "approve in the UI", "runbooks": ["local-service.md"]}))
        .await;
    let (_, inc) = s.get(&format!("/api/v1/incidents/{id}"), &s.viewer).await;
    let n = inc["incident"]["number"].as_i64().unwrap();
    let marker = s.dir.path().join("ui-wipe");
    std::fs::write(&marker, "x").unwrap();
    let marker_s = marker.display().to_string();
    let (_, plan) = s
        .post(
            &format!("/api/v1/incidents/{id}/plan"),
            &s.responder,
            json!({"runbook": "local-service.md", "step": "wipe", "set": {"marker": marker_s}}),
        )
        .await;
    let display = plan["id"].as_str().unwrap().to_owned();

    let (rita, rita_csrf) = s.login(&s.responder).await;
    let (carl, carl_csrf) = s.login(&s.commander).await;
    let run = |cookie: String, csrf: String| {
        let http = s.http.clone();
        let url = s.u(&format!("/incidents/{n}/run"));
        let display = display.clone();
        let marker_s = marker_s.clone();
        async move {
            let r = http
                .post(url)
                .header("cookie", cookie)
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("runbook", "local-service.md"),
                    ("step", "wipe"),
                    ("set.marker", marker_s.as_str()),
                    ("confirmed", display.as_str()),
                ])
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 200);
            r.text().await.unwrap()
        }
    };

    // The run is held, and says what happens next.
    let held = run(rita.clone(), rita_csrf.clone()).await;
    assert!(held.contains(r#"id="approval-needed""#), "{held}");
    assert!(held.contains("Nothing ran"), "{held}");
    assert!(marker.exists());

    // The requester (a responder) sees the request but no button; a commander does.
    let own = s.page(&rita, &format!("/incidents/{n}")).await;
    assert!(own.contains(r#"<h2 id="approvals">"#), "{own}");
    assert!(!own.contains("Approve this command"));
    let theirs = s.page(&carl, &format!("/incidents/{n}")).await;
    let at = theirs
        .find("data-approval=\"")
        .expect("an approve button for the commander");
    let rest = &theirs[at + "data-approval=\"".len()..];
    let approval = &rest[..rest.find('"').unwrap()];

    // Without the CSRF token the form is refused; with it, approved.
    let approve = s.u(&format!("/incidents/{n}/approvals/{approval}/approve"));
    let r = s
        .http
        .post(&approve)
        .header("cookie", &carl)
        .form(&[("csrf", "wrong")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    // The requester, a responder, cannot approve: refused as the API refuses (403), with
    // the rule's sentence.
    let r = s
        .http
        .post(&approve)
        .header("cookie", &rita)
        .form(&[("csrf", rita_csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let body = r.text().await.unwrap();
    assert!(body.contains("needs the commander role"), "{body}");
    let r = s
        .http
        .post(&approve)
        .header("cookie", &carl)
        .form(&[("csrf", carl_csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    let after = s.page(&carl, &format!("/incidents/{n}")).await;
    assert!(after.contains("approved by carl"), "{after}");
    assert!(!after.contains("Approve this command"));

    // The same run again goes through, recorded with its approver.
    let done = run(rita, rita_csrf).await;
    assert!(done.contains("approved by carl"), "{done}");
    assert!(!marker.exists());
    let tl = s.timeline(&id).await;
    let kinds = common::types(&tl);
    for k in ["approval.requested", "approval.granted", "step.run"] {
        assert!(kinds.iter().any(|t| t == k), "{k} missing from {kinds:?}");
    }
    s.stop().await;
}
