//! Paging end to end over loopback: an alert opens an incident, the escalation sweeper
//! enqueues the first level's page, the delivery worker posts it to a real webhook
//! receiver, and acknowledging stops the next level from ever firing.
//!
//! Time is injected, not slept: the sweeper reads a clock the test moves past a level's
//! delay, and the test waits for the sweeper's pass at that time (or for a request to
//! arrive), with timeouts that only matter when something is broken.

mod common;

use sitrep_app::Principal;
use std::sync::Arc;
use std::time::Duration;

use common::{Received, Server, Stepped, alertmanager, receiver, start_with};
use sitrep_server::paging::Clock;

/// Waits until a whole paging pass (sweep, then delivery) started at `t` or later: what
/// is due at `t` has then been enqueued and sent.
async fn a_pass_at(s: &Server, t: i64) {
    let mut passes = s.state.paging_passes();
    tokio::time::timeout(Duration::from_secs(30), passes.wait_for(|&p| p >= t))
        .await
        .expect("a paging pass within 30 s")
        .expect("the paging loop runs");
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
        ids.push(
            s.state
                .app()
                .declare(new, &Principal::asserted("ann"))
                .await
                .unwrap()
                .id,
        );
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

/// Acknowledges incident `id` from the link in a page's `text`, as the on-call would; a
/// GET only shows the form, and a forged link is refused.
async fn acknowledge_by_link(s: &Server, text: &str, id: &str) {
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
delay = "5m"
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
    let clock = Arc::new(Stepped::default());
    s.state.set_paging_clock(clock.clone());
    let body = alertmanager(
        "{}:{alertname=\"LocalServiceDown\"}",
        &[("LocalServiceDown", "web-1", "firing")],
    );
    let (st, v) = s.alert("alertmanager", &body).await;
    assert_eq!(st, 202, "{v}");
    let id = v["opened"][0].as_str().unwrap().to_owned();

    // Level 0 pages the on-call within a few sweeps.
    let page = s
        .until(30, || {
            let first = got.to("oncall").into_iter().next();
            async move { first }
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
    s.until(30, || {
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

    // The on-call acknowledges from the page's link, before level 1 (5 min) fires.
    acknowledge_by_link(&s, &text, &id).await;
    // Ten minutes on, level 1 would page the boss had the acknowledgement not stopped it.
    let later = clock.advance(Duration::from_secs(600));
    a_pass_at(&s, later).await;
    // A control incident nobody acknowledges pages the boss at that time: without it the
    // test would also pass if the moved clock never reached the sweeper.
    let control = sitrep_app::NewIncident {
        title: "control".into(),
        service: Some("local-svc".into()),
        ..sitrep_app::NewIncident::default()
    };
    let control = s
        .state
        .app()
        .declare(control, &Principal::asserted("ann"))
        .await
        .unwrap()
        .id;
    let pages = |got: &Received| -> Vec<(String, String)> {
        let mut v: Vec<_> = got
            .0
            .lock()
            .unwrap()
            .iter()
            .map(|(w, v)| {
                let d = v["_delivery_header"].as_str().unwrap_or("");
                let inc = [&id, &control]
                    .into_iter()
                    .find(|i| d.starts_with(i.as_str()));
                (
                    w.clone(),
                    inc.map_or_else(|| format!("other: {d}"), |i| i.to_string()),
                )
            })
            .collect();
        v.sort();
        v
    };
    s.until(30, || {
        let paged = !got.to("boss").is_empty();
        async move { paged.then_some(()) }
    })
    .await;
    // Once a later pass starts, the one that paged the boss is over: all it sent is in.
    a_pass_at(&s, clock.now_ms()).await;
    let mut want = vec![
        ("boss".to_owned(), control.clone()),
        ("oncall".to_owned(), control.clone()),
        ("oncall".to_owned(), id.clone()),
    ];
    want.sort();
    assert_eq!(
        pages(&got),
        want,
        "the acknowledged incident paged once, never after the acknowledgement"
    );

    let m = s.text("/metrics", None).await;
    assert!(
        m.contains("sitrep_pages_total{outcome=\"delivered\"} 3"),
        "{m}"
    );
    s.stop().await;
}
