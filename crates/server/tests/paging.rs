//! Paging end to end over loopback: an alert opens an incident, the escalation sweeper
//! enqueues the first level's page, the delivery worker posts it to a real webhook
//! receiver, and acknowledging stops the next level from ever firing.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::HeaderMap;
use common::{alertmanager, start_with};

#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<(String, serde_json::Value)>>>);

async fn receiver() -> (String, Received) {
    let got = Received::default();
    let g = got.clone();
    let app = axum::Router::new().route(
        "/hook/{who}",
        axum::routing::post(
            move |axum::extract::Path(who): axum::extract::Path<String>,
                  headers: HeaderMap,
                  body: axum::body::Bytes| {
                let g = g.clone();
                async move {
                    let mut v: serde_json::Value =
                        serde_json::from_slice(&body).unwrap_or_default();
                    v["_delivery_header"] = headers
                        .get("x-sitrep-delivery")
                        .and_then(|h| h.to_str().ok())
                        .unwrap_or("")
                        .into();
                    g.0.lock().unwrap().push((who, v));
                    "ok"
                }
            },
        ),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await });
    (url, got)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_of_pages_to_one_person_arrives_bundled() {
    let (hook, got) = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("escalation.toml");
    std::fs::write(
        &policy,
        format!(
            "[[people]]\nid = \"oncall\"\nname = \"On Call\"\ncontacts = [{{ id = \"oncall-hook\", webhook = \"{hook}/hook/oncall\" }}]\n\n\
             [[policies]]\nid = \"p\"\n[[policies.levels]]\ntargets = [\"person:oncall\"]\n\n\
             [[services]]\nid = \"local-svc\"\npolicy = \"p\"\n"
        ),
    )
    .unwrap();
    let s = start_with(|c| c.escalation = Some(policy.clone())).await;
    let mut ids = Vec::new();
    for n in 0..6 {
        let new = sitrep_app::NewIncident {
            title: format!("storm {n}"),
            service: Some("local-svc".into()),
            ..sitrep_app::NewIncident::default()
        };
        ids.push(s.state.app().declare(new, "ann").await.unwrap().id);
    }
    // Every incident's page is delivered...
    for id in &ids {
        s.until(10, || {
            let s = &s;
            let id = id.clone();
            async move {
                let t = s.timeline(&id).await;
                common::types(&t)
                    .iter()
                    .any(|t| t == "page.delivered")
                    .then_some(())
            }
        })
        .await;
    }
    // ...in fewer requests than pages: one digest per pass for the same person.
    let bodies: Vec<serde_json::Value> = got
        .0
        .lock()
        .unwrap()
        .iter()
        .map(|(_, v)| v.clone())
        .collect();
    assert!(bodies.len() <= 2, "{} requests for 6 pages", bodies.len());
    let digest = bodies
        .iter()
        .find(|b| b["kind"] == "digest")
        .expect("a digest");
    assert!(digest["digest"].as_array().unwrap().len() >= 3, "{digest}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_on_call_is_paged_and_acknowledging_stops_escalation() {
    let (hook, got) = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("escalation.toml");
    std::fs::write(
        &policy,
        format!(
            r#"
[[people]]
id = "oncall"
name = "On Call"
contacts = [{{ id = "oncall-hook", webhook = "{hook}/hook/oncall" }}]

[[people]]
id = "boss"
name = "The Boss"
contacts = [{{ id = "boss-hook", webhook = "{hook}/hook/boss" }}]

[[policies]]
id = "local"
[[policies.levels]]
delay = "0m"
targets = ["person:oncall"]
[[policies.levels]]
delay = "3s"
targets = ["person:boss"]

[[services]]
id = "local-svc"
policy = "local"
"#
        ),
    )
    .unwrap();
    let s = start_with(|c| {
        c.escalation = Some(policy.clone());
        c.server.base_url = Some("http://sitrep.test".into());
    })
    .await;
    let body = alertmanager(
        "{}:{alertname=\"LocalServiceDown\"}",
        &[("LocalServiceDown", "web-1", "firing")],
    );
    let (st, v) = s.alert("alertmanager", &body).await;
    assert_eq!(st, 202, "{v}");
    let id = v["opened"][0].as_str().unwrap().to_owned();

    // Level 0 pages the on-call within a few sweeps.
    let page = s
        .until(10, || {
            let got = got.clone();
            async move {
                got.0
                    .lock()
                    .unwrap()
                    .iter()
                    .find(|(w, _)| w == "oncall")
                    .map(|(_, v)| v.clone())
            }
        })
        .await;
    let text = page.to_string();
    assert!(text.contains("LocalServiceDown"), "{text}");
    assert!(
        text.contains("http://sitrep.test/ack/"),
        "the page carries an acknowledge link: {text}"
    );
    assert!(
        page["_delivery_header"].as_str().unwrap().starts_with(&id),
        "{page}"
    );

    // The delivery is on the timeline.
    s.until(5, || {
        let s = &s;
        let id = id.clone();
        async move {
            let t = s.timeline(&id).await;
            common::types(&t)
                .iter()
                .any(|t| t == "page.delivered")
                .then_some(())
        }
    })
    .await;

    // The on-call acknowledges from the page's link, before level 1 (3 s) fires.
    let link = text
        .split("http://sitrep.test")
        .nth(1)
        .and_then(|rest| rest.split(['"', ' ', '\\', ')']).next())
        .unwrap()
        .to_owned();
    assert!(link.starts_with("/ack/"), "{link}");
    let page = s.http.get(s.u(&link)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(
        s.get(&format!("/api/v1/incidents/{id}"), &s.viewer).await.1["incident"]["status"],
        "triggered",
        "a GET changes nothing"
    );
    let r = s.http.post(s.u(&link)).send().await.unwrap();
    let html = r.text().await.unwrap();
    assert!(html.contains("acknowledged. Escalation stopped."), "{html}");
    assert_eq!(
        s.get(&format!("/api/v1/incidents/{id}"), &s.viewer).await.1["incident"]["status"],
        "acknowledged"
    );
    // A forged link does nothing.
    let last = if link.ends_with('x') { 'y' } else { 'x' };
    let forged = format!("{}{last}", &link[..link.len() - 1]);
    let r = s.http.post(s.u(&forged)).send().await.unwrap();
    assert_eq!(r.status(), 403);
    tokio::time::sleep(Duration::from_secs(4)).await;
    let who: Vec<String> = got
        .0
        .lock()
        .unwrap()
        .iter()
        .map(|(w, _)| w.clone())
        .collect();
    assert_eq!(
        who,
        ["oncall"],
        "exactly one page, none after the acknowledgement"
    );

    let m = s
        .http
        .get(s.u("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        m.contains("sitrep_pages_total{outcome=\"delivered\"} 1"),
        "{m}"
    );
    s.stop().await;
}
