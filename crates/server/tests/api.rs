//! The JSON API over real HTTP: shapes (snapshots), errors naming fields, body limits,
//! the confirmation and approval flows, checklist-gated resolve, ledger proofs,
//! post-mortem, evidence pack, runbooks, and the live SSE feed.

mod common;

use std::time::Duration;

use common::{redact, start, start_with, types};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incident_shapes_are_stable() {
    let s = start().await;
    let id = s
        .declare(json!({"title": "checkout down", "severity": "sev2", "runbooks": ["local-service.md"], "commander": "carl"}))
        .await;
    let (st, mut v) = s.get(&format!("/api/v1/incidents/{id}"), &s.viewer).await;
    assert_eq!(st, 200);
    redact(&mut v);
    insta::assert_json_snapshot!("incident_view", v);
    let (_, mut tl) = s
        .get(&format!("/api/v1/incidents/{id}/timeline"), &s.viewer)
        .await;
    redact(&mut tl);
    insta::assert_json_snapshot!("timeline_declared", tl);

    // The error shape, with the display to confirm and the reasons.
    let body = json!({"runbook": "local-service.md", "step": "wipe", "set": {"marker": "/nonexistent/sitrep-marker"}});
    let (st, mut v) = s
        .post(&format!("/api/v1/incidents/{id}/runs"), &s.responder, body)
        .await;
    assert_eq!(st, 428);
    redact(&mut v);
    insta::assert_json_snapshot!("confirmation_needed", v);

    // An ingest report.
    let (st, mut v) = s
        .alert(
            "generic",
            &json!({"alerts": [{"labels": {"alertname": "Shape", "a": "1"}}, {"labels": {"alertname": "Shape", "a": "2"}}]}).to_string(),
        )
        .await;
    assert_eq!(st, 202);
    v["payload_id"] = json!("[redacted]");
    v["opened"] = json!(["[redacted]"]);
    insta::assert_json_snapshot!("ingest_report", v);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_name_the_field_and_bodies_are_bounded() {
    let s = start().await;
    let (st, v) = s
        .post("/api/v1/incidents", &s.responder, json!({"title": 5}))
        .await;
    assert_eq!(st, 400);
    assert_eq!(v["error"]["field"], "title");
    let (st, v) = s
        .post(
            "/api/v1/incidents",
            &s.responder,
            json!({"title": "x", "sevrity": "SEV1"}),
        )
        .await;
    assert_eq!(st, 400);
    assert!(
        v["error"]["message"].as_str().unwrap().contains("sevrity"),
        "{v}"
    );
    let (st, v) = s
        .post(
            "/api/v1/incidents",
            &s.responder,
            json!({"title": "x", "severity": "SEV9"}),
        )
        .await;
    assert_eq!(st, 400);
    assert_eq!(v["error"]["field"], "severity");
    let (st, v) = s.get("/api/v1/incidents?status=sleeping", &s.viewer).await;
    assert_eq!(st, 400);
    assert_eq!(v["error"]["field"], "status");
    let (st, v) = s.get("/api/v1/incidents/999", &s.viewer).await;
    assert_eq!(st, 404);
    assert_eq!(v["error"]["code"], "not_found");

    // The API takes at most 1 MiB.
    let id = s.declare(json!({"title": "big notes"})).await;
    let big = "x".repeat(2 << 20);
    let (st, v) = s
        .post(
            &format!("/api/v1/incidents/{id}/notes"),
            &s.responder,
            json!({"text": big}),
        )
        .await;
    assert_eq!(st, 413, "{v}");
    assert_eq!(v["error"]["code"], "payload_too_large");
    // Receivers take up to 4 MiB, not more.
    let r = s
        .http
        .post(s.u("/api/v1/alerts/generic"))
        .bearer_auth("receiver-secret")
        .body("x".repeat(5 << 20))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 413);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_steps_need_the_exact_command_confirmed() {
    let s = start().await;
    let id = s
        .declare(json!({"title": "confirm me", "runbooks": ["local-service.md"]}))
        .await;
    let marker = s.dir.path().join("marker");
    let body = json!({"runbook": "local-service.md", "step": "mark", "set": {"marker": marker}});
    let (st, plan) = s
        .post(
            &format!("/api/v1/incidents/{id}/plan"),
            &s.responder,
            body.clone(),
        )
        .await;
    assert_eq!(st, 200, "{plan}");
    assert_eq!(plan["risk"], "write");
    assert_eq!(plan["decision"]["decision"], "needs_confirmation");
    let display = plan["display"].as_str().unwrap().to_owned();
    let plan_id = plan["id"].as_str().unwrap().to_owned();

    let runs = format!("/api/v1/incidents/{id}/runs");
    let (st, v) = s.post(&runs, &s.responder, body.clone()).await;
    assert_eq!(st, 428, "{v}");
    assert_eq!(v["error"]["code"], "confirmation_needed");
    assert_eq!(v["error"]["display"], display.as_str());
    assert_eq!(v["error"]["plan"], plan_id.as_str());
    assert!(!v["error"]["reasons"].as_array().unwrap().is_empty());
    assert!(!marker.exists());

    let mut wrong = body.clone();
    // The displayed text is no confirmation, nor is another plan's id.
    wrong["confirmed"] = json!(display);
    assert_eq!(s.post(&runs, &s.responder, wrong.clone()).await.0, 428);
    wrong["confirmed"] = json!("sha256:0000");
    assert_eq!(s.post(&runs, &s.responder, wrong).await.0, 428);

    let mut ok = body.clone();
    ok["confirmed"] = json!(plan_id);
    let (st, v) = s.post(&runs, &s.responder, ok).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["run"]["status"], "succeeded");
    assert_eq!(v["run"]["actor"], "rita");
    assert!(marker.exists());
    // Viewers cannot run anything.
    assert_eq!(s.post(&runs, &s.viewer, body).await.0, 403);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destructive_steps_need_a_second_commander() {
    let s = start_with(common::destructive_needs_approval).await;
    let id = s
        .declare(json!({"title": "approve me", "runbooks": ["local-service.md"]}))
        .await;
    let marker = s.dir.path().join("to-wipe");
    std::fs::write(&marker, "x").unwrap();
    let mut body =
        json!({"runbook": "local-service.md", "step": "wipe", "set": {"marker": marker}});
    let (_, plan) = s
        .post(
            &format!("/api/v1/incidents/{id}/plan"),
            &s.commander,
            body.clone(),
        )
        .await;
    body["confirmed"] = plan["id"].clone();
    let runs = format!("/api/v1/incidents/{id}/runs");
    let (st, v) = s.post(&runs, &s.commander, body.clone()).await;
    assert_eq!(st, 403, "{v}");
    assert_eq!(v["error"]["code"], "approval_needed");
    let aid = v["error"]["approval"]["id"].as_str().unwrap().to_owned();
    assert!(marker.exists());

    // The requester cannot approve their own run; a responder cannot approve at all.
    let approve = format!("/api/v1/incidents/{id}/approvals/{aid}/approve");
    assert_eq!(s.post(&approve, &s.commander, json!({})).await.0, 403);
    assert_eq!(s.post(&approve, &s.responder, json!({})).await.0, 403);
    let (st, v) = s.post(&approve, &s.commander2, json!({})).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["approvers"], json!(["cleo"]));

    body["approval"] = json!(aid);
    let (st, v) = s.post(&runs, &s.commander, body.clone()).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["run"]["approver"], "cleo");
    assert!(!marker.exists());
    // Used up.
    let (st, v) = s.post(&runs, &s.commander, body).await;
    assert_eq!(st, 400, "{v}");
    assert_eq!(v["error"]["field"], "approval");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolve_waits_for_the_checklist_and_the_record_is_provable() {
    let s = start().await;
    let id = s
        .declare(json!({"title": "stand down", "runbooks": ["local-service.md"]}))
        .await;
    let (st, items) = s
        .get(&format!("/api/v1/incidents/{id}/checklist"), &s.viewer)
        .await;
    assert_eq!(st, 200);
    assert_eq!(items.as_array().unwrap().len(), 2);
    let resolve = format!("/api/v1/incidents/{id}/resolve");
    let (st, v) = s.post(&resolve, &s.commander, json!({})).await;
    assert_eq!(st, 409, "{v}");
    assert_eq!(v["error"]["code"], "checklist_open");
    assert_eq!(v["error"]["open"].as_array().unwrap().len(), 2);
    for item in ["1", "2"] {
        let (st, v) = s
            .post(
                &format!("/api/v1/incidents/{id}/checklist/{item}/tick"),
                &s.responder,
                json!({}),
            )
            .await;
        assert_eq!(st, 200, "{v}");
        assert_eq!(v["checked"], true);
    }
    let (st, v) = s
        .post(
            &format!("/api/v1/incidents/{id}/actions"),
            &s.responder,
            json!({"title": "add an alert on queue depth", "owner": "rita"}),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    let (st, v) = s
        .post(
            &format!("/api/v1/incidents/{id}/actions/1/done"),
            &s.responder,
            json!({}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["status"], "done");
    let (st, v) = s.post(&resolve, &s.commander, json!({})).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["status"], "resolved");
    // Resolving twice is a transition error.
    assert_eq!(s.post(&resolve, &s.commander, json!({})).await.0, 409);
    let (st, v) = s
        .post(
            &format!("/api/v1/incidents/{id}/reopen"),
            &s.commander,
            json!({}),
        )
        .await;
    assert_eq!(st, 400);
    assert_eq!(v["error"]["field"], "reason");

    // Post-mortem as Markdown.
    let r = s
        .http
        .get(s.u(&format!("/api/v1/incidents/{id}/postmortem")))
        .bearer_auth(&s.viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/markdown")
    );
    assert!(r.text().await.unwrap().contains("stand down"));

    // Evidence pack: gzip bytes.
    let r = s
        .http
        .get(s.u(&format!("/api/v1/incidents/{id}/evidence")))
        .bearer_auth(&s.viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-type"], "application/gzip");
    let bytes = r.bytes().await.unwrap();
    assert_eq!(&bytes[..2], &[0x1f, 0x8b]);

    // Every event has an inclusion proof that verifies against its checkpoint.
    let (st, status) = s.get("/api/v1/ledger", &s.viewer).await;
    assert_eq!(st, 200);
    let key = status["verifier_key"].as_str().unwrap().to_owned();
    let verifier = sitrep_ledger::Verifier::parse(&key).unwrap();
    // A log that never rotated has one key, the one it signs with.
    let (st, keys) = s.get("/api/v1/ledger/keys", &s.viewer).await;
    assert_eq!(st, 200, "{keys}");
    assert_eq!(keys[0]["verifier_key"], key.as_str());
    assert_eq!(
        (keys[0]["current"].as_bool(), keys.as_array().map(Vec::len)),
        (Some(true), Some(1))
    );
    for e in s.timeline(&id).await {
        let index = e["index"].as_u64().unwrap();
        let (st, p) = s
            .get(&format!("/api/v1/ledger/inclusion/{index}"), &s.viewer)
            .await;
        assert_eq!(st, 200, "{p}");
        assert_eq!(p["event"]["index"], index);
        let proof = sitrep_ledger::TlogProof::parse(p["tlog_proof"].as_str().unwrap()).unwrap();
        let record: sitrep_ledger::Record =
            serde_json::from_value(p["event"]["record"].clone()).unwrap();
        proof
            .verify(
                &record.leaf_hash().unwrap(),
                "sitrep.local/ledger",
                std::slice::from_ref(&verifier),
            )
            .unwrap();
    }
    let (st, c) = s.get("/api/v1/ledger/consistency?old=1", &s.viewer).await;
    assert_eq!(st, 200, "{c}");
    assert_eq!(c["old"], 1);
    let (st, v) = s.get("/api/v1/ledger/consistency?old=x", &s.viewer).await;
    assert_eq!(st, 400);
    assert_eq!(v["error"]["field"], "old");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runbooks_list_and_show_with_diagnostics() {
    let s = start().await;
    let (st, v) = s.get("/api/v1/runbooks", &s.viewer).await;
    assert_eq!(st, 200);
    let rb = &v["runbooks"][0];
    assert_eq!(rb["path"], "local-service.md");
    assert_eq!(rb["service"], "local-svc");
    assert_eq!(rb["steps"], 6);
    let (st, v) = s.get("/api/v1/runbooks/local-service.md", &s.viewer).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["runbook"]["steps"].as_array().unwrap().len(), 6);
    assert!(v["diagnostics"].is_array());
    assert_eq!(s.get("/api/v1/runbooks/nope.md", &s.viewer).await.0, 404);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_delivers_new_events() {
    let s = start().await;
    let id = s.declare(json!({"title": "live"})).await;
    let mut r = s
        .http
        .get(s.u(&format!("/api/v1/incidents/{id}/events?after=0")))
        .bearer_auth(&s.viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let (st, _) = s
        .post(
            &format!("/api/v1/incidents/{id}/notes"),
            &s.responder,
            json!({"text": "hello stream"}),
        )
        .await;
    assert_eq!(st, 201);
    let mut seen = String::new();
    let found = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(chunk) = r.chunk().await.unwrap() {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if seen.contains("event: incident.note") && seen.contains("hello stream") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(found, Ok(true), "{seen}");
    // Replay with ?after: the declaration (index 5, after the five token events) too.
    assert!(seen.contains("event: incident.declared"), "{seen}");
    // Shutdown ends open streams instead of waiting on them (stop() asserts it
    // finishes within 10 s), and the client sees the end of the stream.
    s.stop().await;
    let end = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match r.chunk().await {
                Ok(Some(_)) => continue,
                _ => return,
            }
        }
    })
    .await;
    assert!(end.is_ok(), "the stream did not end at shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_and_metrics() {
    let s = start().await;
    let (st, v) = s.get("/healthz", "").await;
    assert_eq!((st, v["status"].clone()), (200, json!("ok")));
    let (st, v) = s.get("/startupz", "").await;
    assert_eq!((st, v["status"].clone()), (200, json!("started")));
    let (st, v) = s.get("/readyz", "").await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["status"], "ready");
    for (name, required) in [
        ("database", true),
        ("ledger", true),
        ("blob_store", true),
        ("runbooks", false),
    ] {
        assert_eq!(v["checks"][name]["ok"], true, "{name}: {v}");
        assert_eq!(v["checks"][name]["required"], required, "{name}");
    }
    assert!(
        v["checks"]["runbooks"]["detail"]
            .as_str()
            .unwrap()
            .starts_with("1 runbooks"),
        "{v}"
    );

    let (st, _) = s
        .alert(
            "generic",
            &json!({"alerts": [{"labels": {"alertname": "M", "severity": "SEV3"}}]}).to_string(),
        )
        .await;
    assert_eq!(st, 202);
    let text = s.text("/metrics", None).await;
    for needle in [
        "sitrep_alerts_received_total{source=\"generic\",outcome=\"accepted\"} 1",
        "sitrep_incidents_open{severity=\"SEV3\"} 1",
        "sitrep_incidents_open{severity=\"SEV1\"} 0",
        "sitrep_ledger_size ",
        "# TYPE sitrep_http_request_duration_seconds histogram",
        "sitrep_http_request_duration_seconds_count{route=\"/api/v1/alerts/generic\",method=\"POST\",status=\"202\"} 1",
        "# TYPE sitrep_step_runs_total counter",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }

    // Shutting down makes readiness fail before the listener closes.
    s.state.app().store().checkpoint_now().await.unwrap();
    let t = s.text("/metrics", None).await;
    assert!(t.contains("sitrep_ledger_checkpoint_age_seconds "), "{t}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commander_puts_and_releases_a_legal_hold() {
    let s = start().await;
    let id = s
        .declare(json!({"title": "hold me", "runbooks": ["local-service.md"]}))
        .await;
    let hold = format!("/api/v1/incidents/{id}/evidence/hold");
    assert_eq!(s.get(&hold, &s.viewer).await.0, 404);
    let body = json!({"reason": "case 114"});
    assert_eq!(s.post(&hold, &s.responder, body.clone()).await.0, 403);
    let (st, v) = s.post(&hold, &s.commander, body.clone()).await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["held_by"], "carl");
    let (st, v) = s.get(&hold, &s.viewer).await;
    assert_eq!((st, v["reason"].as_str()), (200, Some("case 114")));
    // The incident page says so, next to the evidence download.
    let (cookie, _) = s.login(&s.viewer).await;
    let page = s.page(&cookie, &format!("/incidents/{id}")).await;
    assert!(
        page.contains("Evidence under legal hold (case 114, by carl)"),
        "{page}"
    );
    let (st, v) = s.post(&hold, &s.commander, body).await;
    assert_eq!(st, 400, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already held")
    );
    let (st, v) = s.post(&hold, &s.commander, json!({"reason": " "})).await;
    assert_eq!((st, v["error"]["field"].as_str()), (400, Some("reason")));
    let release = || s.http.delete(s.u(&hold)).bearer_auth(&s.commander).send();
    assert_eq!(release().await.unwrap().status().as_u16(), 204);
    assert_eq!(release().await.unwrap().status().as_u16(), 400);
    assert_eq!(s.get(&hold, &s.viewer).await.0, 404);
    let kinds = types(&s.timeline(&id).await);
    assert!(kinds.contains(&"evidence.held".to_owned()), "{kinds:?}");
    assert!(kinds.contains(&"evidence.released".to_owned()), "{kinds:?}");
    s.stop().await;
}
