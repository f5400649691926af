//! Alert receivers over real HTTP: each format, malformed payloads, idempotent repeats,
//! grouping, resolutions, receiver auth, a storm, and auto-triage on the timeline.

mod common;

use common::{alertmanager, start, types};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alertmanager_opens_one_incident_and_repeats_change_nothing() {
    let s = start().await;
    let body = alertmanager(
        "{}:{alertname=\"LocalServiceDown\"}",
        &[
            ("LocalServiceDown", "web-1", "firing"),
            ("LocalServiceDown", "web-2", "firing"),
        ],
    );
    let (st, v) = s.alert("alertmanager", &body).await;
    assert_eq!(st, 202, "{v}");
    assert_eq!(v["opened"].as_array().unwrap().len(), 1);
    assert_eq!(v["changed"], 2);
    let id = v["opened"][0].as_str().unwrap().to_owned();

    let (st, inc) = s.get(&format!("/api/v1/incidents/{id}"), &s.viewer).await;
    assert_eq!(st, 200);
    // Runbook found by the alert name, severity and service from its front matter.
    assert_eq!(inc["incident"]["runbooks"], json!(["local-service.md"]));
    assert_eq!(inc["incident"]["severity"], "SEV2");
    assert_eq!(inc["incident"]["service"], "local-svc");
    assert_eq!(inc["alerts"].as_array().unwrap().len(), 2);
    assert!(
        inc["incident"]["title"]
            .as_str()
            .unwrap()
            .starts_with("LocalServiceDown")
    );

    // The same delivery again (Alertmanager re-sends its snapshot): nothing new.
    let (st, v) = s.alert("alertmanager", &body).await;
    assert_eq!(st, 202, "{v}");
    assert_eq!(v["changed"], 0);
    assert_eq!(v["unchanged"], 2);
    assert!(v["opened"].as_array().unwrap().is_empty());
    // The delivery's two new alerts are one sealed record that lists both.
    let timeline = s.timeline(&id).await;
    let firing: Vec<_> = timeline
        .iter()
        .filter(|e| e["record"]["type"] == "alert.firing")
        .collect();
    assert_eq!(firing.len(), 1, "{firing:?}");
    let p = &firing[0]["record"]["payload"];
    assert_eq!(p["alerts"], "2");
    assert_eq!(p["alertname"], "LocalServiceDown");
    let labels = [&p["alert.00.labels"], &p["alert.01.labels"]];
    assert!(
        labels.iter().any(|l| l.as_str().unwrap().contains("web-1")),
        "{p}"
    );
    assert!(
        labels.iter().any(|l| l.as_str().unwrap().contains("web-2")),
        "{p}"
    );
    assert_eq!(s.incidents().await.len(), 1);
    let page = s
        .text(
            &format!("/api/v1/incidents/{id}/postmortem"),
            Some(&s.viewer),
        )
        .await;
    assert!(page.contains("LocalServiceDown (2 alerts)"), "{page}");

    // Resolution is noted on the same incident, once.
    let resolved = alertmanager(
        "{}:{alertname=\"LocalServiceDown\"}",
        &[("LocalServiceDown", "web-1", "resolved")],
    );
    for _ in 0..2 {
        let (st, _) = s.alert("alertmanager", &resolved).await;
        assert_eq!(st, 202);
    }
    let tl = types(&s.timeline(&id).await);
    assert_eq!(
        tl.iter().filter(|t| *t == "alert.resolved").count(),
        1,
        "{tl:?}"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grafana_and_generic_are_accepted() {
    let s = start().await;
    let grafana = json!({
        "version": "1",
        "groupKey": "{}/{}:{alertname=\"HighLatency\"}",
        "status": "firing",
        "receiver": "sitrep",
        "alerts": [{
            "status": "firing",
            "labels": {"alertname": "HighLatency", "severity": "SEV1"},
            "annotations": {"summary": "p99 above 2s"},
            "startsAt": "2026-11-22T10:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "fingerprint": "abc"
        }]
    });
    // Grafana's contact point sends basic auth.
    let r = s
        .http
        .post(s.u("/api/v1/alerts/grafana"))
        .basic_auth("grafana", Some("hunter2"))
        .body(grafana.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 202);
    let v: serde_json::Value = r.json().await.unwrap();
    let id = v["opened"][0].as_str().unwrap().to_owned();
    let (_, inc) = s.get(&format!("/api/v1/incidents/{id}"), &s.viewer).await;
    // Severity from the `severity` label; title from alertname and summary.
    assert_eq!(inc["incident"]["severity"], "SEV1");
    assert_eq!(inc["incident"]["title"], "HighLatency: p99 above 2s");

    let generic = json!({"alerts": [{"labels": {"alertname": "QueueBacklog", "queue": "mail"}}]});
    let (st, v) = s.alert("generic", &generic.to_string()).await;
    assert_eq!(st, 202, "{v}");
    assert_eq!(v["opened"].as_array().unwrap().len(), 1);
    assert_eq!(s.incidents().await.len(), 2);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_payloads_are_400_naming_the_field() {
    let s = start().await;
    let cases = [
        ("alertmanager", r#"{"version":"3","alerts":[]}"#, "version"),
        (
            "alertmanager",
            r#"{"version":"4","alerts":[{"status":"burning","labels":{}}]}"#,
            "alerts[0].status",
        ),
        (
            "grafana",
            r#"{"version":"1","alerts":[{"status":"firing","labels":{"a":1}}]}"#,
            "alerts[0].labels.a",
        ),
        (
            "generic",
            r#"{"alerts":[{"labels":{}}]}"#,
            "alerts[0].labels",
        ),
        ("generic", "not json", "."),
    ];
    for (source, body, field) in cases {
        let (st, v) = s.alert(source, body).await;
        assert_eq!(st, 400, "{source} {body}: {v}");
        assert_eq!(v["error"]["field"], field, "{source} {body}: {v}");
        assert_eq!(v["error"]["code"], "invalid");
        // The raw payload was stored before it was refused.
        assert!(v["error"]["payload_id"].is_string(), "{v}");
    }
    assert!(s.incidents().await.is_empty());
    assert_eq!(
        s.state
            .metrics()
            .alerts_received("alertmanager", "malformed"),
        2
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receivers_need_their_credentials() {
    let s = start().await;
    let body = json!({"alerts": [{"labels": {"alertname": "X"}}]}).to_string();
    let post = |auth: Option<(&str, &str)>| {
        let mut r = s
            .http
            .post(s.u("/api/v1/alerts/generic"))
            .body(body.clone());
        match auth {
            Some(("bearer", t)) => r = r.bearer_auth(t),
            Some((user, pass)) => r = r.basic_auth(user, Some(pass)),
            None => {}
        }
        async move { r.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(post(None).await, 401);
    assert_eq!(post(Some(("bearer", "wrong"))).await, 401);
    assert_eq!(post(Some(("grafana", "wrong"))).await, 401);
    // An API token below responder may read but not send alerts.
    assert_eq!(post(Some(("bearer", s.viewer.as_str()))).await, 403);
    assert_eq!(post(Some(("bearer", s.responder.as_str()))).await, 202);
    assert_eq!(post(Some(("bearer", "receiver-secret"))).await, 202);
    assert_eq!(post(Some(("grafana", "hunter2"))).await, 202);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_without_a_group_key_group_by_alertname() {
    let s = start().await;
    for i in 0..3 {
        let body =
            json!({"alerts": [{"labels": {"alertname": "DiskFull", "host": format!("db-{i}")}}]});
        let (st, v) = s.alert("generic", &body.to_string()).await;
        assert_eq!(st, 202, "{v}");
    }
    let incidents = s.incidents().await;
    assert_eq!(incidents.len(), 1);
    let id = incidents[0]["id"].as_str().unwrap();
    let (_, inc) = s.get(&format!("/api/v1/incidents/{id}"), &s.viewer).await;
    assert_eq!(inc["alerts"].as_array().unwrap().len(), 3);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_storm_of_ten_thousand_alerts_opens_one_incident() {
    let s = start().await;
    let mut tasks = Vec::new();
    // 20 concurrent deliveries of 500 distinct alerts each, all in one group.
    for batch in 0..20 {
        let alerts: Vec<_> = (0..500)
            .map(|i| json!({"labels": {"alertname": "Storm", "pod": format!("p-{batch}-{i}")}}))
            .collect();
        let body = json!({ "alerts": alerts }).to_string();
        let http = s.http.clone();
        let url = s.u("/api/v1/alerts/generic");
        tasks.push(tokio::spawn(async move {
            let r = http
                .post(url)
                .bearer_auth("receiver-secret")
                .body(body)
                .send()
                .await
                .unwrap();
            r.status().as_u16()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 202);
    }
    let incidents = s.incidents().await;
    assert_eq!(incidents.len(), 1, "{incidents:?}");
    let id = incidents[0]["id"].as_str().unwrap();
    let (_, inc) = s.get(&format!("/api/v1/incidents/{id}"), &s.viewer).await;
    assert_eq!(inc["alerts"].as_array().unwrap().len(), 10_000);
    // Sealed as lists of at most 32 alerts: every alert is in exactly one record.
    let timeline = s.timeline(id).await;
    let listed: Vec<usize> = timeline
        .iter()
        .filter(|e| e["record"]["type"] == "alert.firing")
        .map(|e| {
            e["record"]["payload"]["alerts"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert_eq!(listed.iter().sum::<usize>(), 10_000);
    assert!(listed.iter().all(|&n| n <= 32), "{listed:?}");
    assert_eq!(listed.len(), 20 * 500_usize.div_ceil(32));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_triage_results_reach_the_timeline() {
    let s = start().await;
    let body = alertmanager(
        "{}:{alertname=\"LocalServiceDown\"}",
        &[("LocalServiceDown", "web-7", "firing")],
    );
    let (st, v) = s.alert("alertmanager", &body).await;
    assert_eq!(st, 202, "{v}");
    let id = v["opened"][0].as_str().unwrap().to_owned();
    // greet (bound from the alert's instance label), leaky, chatty and slow (1 s
    // timeout) run unattended; poll until all four are recorded.
    let runs = s
        .until(20, || async {
            let tl = s.timeline(&id).await;
            let runs: Vec<_> = tl
                .into_iter()
                .filter(|e| {
                    e["record"]["type"] == "step.run" && e["record"]["actor"] == "auto-triage"
                })
                .collect();
            (runs.len() >= 4).then_some(runs)
        })
        .await;
    let greet = runs
        .iter()
        .find(|e| e["record"]["payload"]["step"] == "greet")
        .expect("greet ran");
    let payload = &greet["record"]["payload"];
    assert_eq!(payload["status"], "succeeded", "{greet}");
    assert!(
        payload["bound"]
            .as_str()
            .unwrap()
            .contains("instance=web-7 (alert label)"),
        "{greet}"
    );
    // Its captured output, redacted, by run id.
    let run = payload["run"].as_str().unwrap();
    let r = s
        .http
        .get(s.u(&format!("/api/v1/incidents/{id}/runs/{run}/output/stdout")))
        .bearer_auth(&s.viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.text().await.unwrap(), "checking web-7 with hello\n");
    let leaky = runs
        .iter()
        .find(|e| e["record"]["payload"]["step"] == "leaky")
        .expect("leaky ran");
    let run = leaky["record"]["payload"]["run"].as_str().unwrap();
    let r = s
        .http
        .get(s.u(&format!("/api/v1/incidents/{id}/runs/{run}/output/stdout")))
        .bearer_auth(&s.viewer)
        .send()
        .await
        .unwrap();
    let text = r.text().await.unwrap();
    assert!(!text.contains("hunter2secret"), "{text}");
    assert!(
        !text.contains("abcdefghijklmnopqrstuvwxyz0123456789"),
        "{text}"
    );
    let (st, v) = s
        .get(
            &format!("/api/v1/incidents/{id}/runs/{run}/output/stdin"),
            &s.viewer,
        )
        .await;
    assert_eq!(st, 400, "{v}");
    assert_eq!(v["error"]["field"], "stream");
    // Nothing but read steps ran: the resolution section's steps are not touched.
    let (_, inc) = s.get(&format!("/api/v1/incidents/{id}"), &s.viewer).await;
    for r in inc["runs"].as_array().unwrap() {
        assert_eq!(r["risk"], "read", "{r}");
        assert_eq!(r["actor"], "auto-triage");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unavailable_store_is_503() {
    let s = start().await;
    s.state.app().close().await;
    let (st, v) = s
        .alert(
            "generic",
            &json!({"alerts": [{"labels": {"alertname": "X"}}]}).to_string(),
        )
        .await;
    assert_eq!(st, 503, "{v}");
    assert_eq!(v["error"]["code"], "unavailable");
    assert_eq!(
        s.state.metrics().alerts_received("generic", "unavailable"),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silences_mute_matching_alerts() {
    let s = start().await;
    let body = json!({"matchers": ["alertname=\"Noisy\""], "duration": "1h", "comment": "known"});
    assert_eq!(
        s.post("/api/v1/silences", &s.responder, body.clone())
            .await
            .0,
        403
    );
    let (st, silence) = s.post("/api/v1/silences", &s.commander, body).await;
    assert_eq!(st, 201, "{silence}");
    assert_eq!(silence["created_by"], "carl");
    let (st, v) = s
        .alert("generic", &json!({"alerts": [{"labels": {"alertname": "Noisy"}}, {"labels": {"alertname": "Real"}}]}).to_string())
        .await;
    assert_eq!(st, 202, "{v}");
    assert_eq!(v["silenced"], 1);
    let incidents = s.incidents().await;
    assert_eq!(incidents.len(), 1);
    assert!(incidents[0]["title"].as_str().unwrap().starts_with("Real"));
    // Removed: the alert opens its incident.
    let sid = silence["id"].as_str().unwrap();
    let r = s
        .http
        .delete(s.u(&format!("/api/v1/silences/{sid}")))
        .bearer_auth(&s.commander)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let (_, v) = s
        .alert(
            "generic",
            &json!({"alerts": [{"labels": {"alertname": "Noisy"}}]}).to_string(),
        )
        .await;
    assert_eq!(v["silenced"], 0);
    assert_eq!(s.incidents().await.len(), 2);
    let (st, v) = s
        .post(
            "/api/v1/silences",
            &s.commander,
            json!({"matchers": ["alertname=~\"(\""], "duration": "1h"}),
        )
        .await;
    assert_eq!(st, 400, "{v}");
    assert_eq!(v["error"]["field"], "matchers[0]");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_in_alerts_never_reach_the_database() {
    let s = start().await;
    let body = serde_json::json!({
        "version": "4",
        "groupKey": "{}:{alertname=\"LocalServiceDown\"}",
        "status": "firing",
        "receiver": "sitrep",
        "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
        "externalURL": "http://alertmanager",
        "alerts": [{
            "status": "firing",
            "labels": {"alertname": "LocalServiceDown", "instance": "web-1"},
            "annotations": {
                "summary": "db at postgres://app:hunter2secret@db.internal:5432/app is down",
                "debug": "curl -H 'Authorization: Bearer abcdefghijklmnopqrstuvwxyz0123456789'",
            },
            "startsAt": "2026-11-22T10:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
        }],
    })
    .to_string();
    let (st, v) = s.alert("alertmanager", &body).await;
    assert_eq!(st, 202, "{v}");
    let id = v["opened"][0].as_str().unwrap().to_owned();
    // The alert is ingested (redacted values still parse) and opened its incident.
    let (_, inc) = s.get(&format!("/api/v1/incidents/{id}"), &s.viewer).await;
    let summary = inc["alerts"][0]["annotations"]["summary"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(summary.starts_with("db at postgres://app:"), "{summary}");
    assert!(!summary.contains("hunter2secret"), "{summary}");
    // The raw payload as stored is redacted too.
    let raw = s
        .state
        .app()
        .store()
        .raw_payload(v["payload_id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    let raw = String::from_utf8(raw.body).unwrap();
    assert!(
        !raw.contains("hunter2secret") && !raw.contains("abcdefghijklmnopqrstuvwxyz0123456789"),
        "{raw}"
    );
    // And nothing in the database files holds either secret.
    s.state.app().close().await;
    for entry in std::fs::read_dir(s.dir.path().join("data")).unwrap() {
        let p = entry.unwrap().path();
        if p.is_file() {
            let hay = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
            assert!(
                !hay.contains("hunter2secret"),
                "{} holds a secret",
                p.display()
            );
            assert!(
                !hay.contains("abcdefghijklmnopqrstuvwxyz0123456789"),
                "{} holds a token",
                p.display()
            );
        }
    }
}
