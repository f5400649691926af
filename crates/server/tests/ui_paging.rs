//! Paging from the incident page and the on-call page: a responder escalates to the next
//! level and pages a person (delivered to a real webhook receiver, also after the
//! acknowledgement), a commander silences an alert from the incident's alerts, anyone
//! adds action items by role, and `/oncall` shows the rotation. Each action is a sealed
//! event on the incident's timeline; a role that cannot act is told why.

mod common;

use common::{Received, Server, alertmanager, receiver, start_with};
use serde_json::{Value, json};

fn config(hook: &str) -> String {
    format!(
        r#"
[[people]]
id = "oncall"
name = "Olive Oncall"
contacts = [{{ id = "oncall-hook", webhook = "{hook}/hook/oncall" }}]

[[people]]
id = "boss"
name = "Bea Boss"
contacts = [{{ id = "boss-hook", webhook = "{hook}/hook/boss" }}]

[[people]]
id = "dba"
name = "Dee Dba"
contacts = [{{ id = "dba-hook", webhook = "{hook}/hook/dba" }}]

[[rotations]]
id = "primary"
participants = ["oncall", "dba"]
handoff = "weekly"
handoff_time = "09:00"
time_zone = "Europe/Berlin"
start = "2026-01-05T08:00:00Z"
overrides = [{{ start = "2099-01-01T00:00:00Z", end = "2099-01-02T00:00:00Z", person = "boss" }}]

[[policies]]
id = "local"
[[policies.levels]]
delay = "0m"
targets = ["rotation:primary"]
[[policies.levels]]
delay = "30m"
targets = ["person:boss"]

[[services]]
id = "local-svc"
policy = "local"
"#
    )
}

async fn with_paging() -> (Server, Received) {
    let (hook, got) = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.keep().join("escalation.toml");
    std::fs::write(&path, config(&hook)).unwrap();
    let s = start_with(move |c| c.escalation = Some(path)).await;
    (s, got)
}

fn last<'a>(timeline: &'a [Value], kind: &str) -> &'a Value {
    timeline
        .iter()
        .rev()
        .find(|e| e["record"]["type"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {timeline:?}"))
}

/// Every event type on `timeline` is one the open incident page refreshes on (the
/// script's `LIVE_KINDS`), so an action's event shows without a reload.
fn all_live(timeline: &[Value]) {
    let script = include_str!("../assets/sitrep.js");
    let kinds = script
        .split("var LIVE_KINDS = [")
        .nth(1)
        .and_then(|r| r.split("];").next())
        .expect("LIVE_KINDS in sitrep.js");
    for t in common::types(timeline) {
        assert!(
            kinds.contains(&format!("\"{t}\"")),
            "{t} is not live on the page"
        );
    }
}

/// Waits until `who`'s hook got `n` posts.
async fn posts(s: &Server, got: &Received, who: &str, n: usize) {
    s.until(20, || {
        let c = got.to(who).len();
        async move { (c >= n).then_some(()) }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_responder_escalates_and_pages_a_person_from_the_page() {
    let (s, got) = with_paging().await;
    let id = s
        .declare(json!({"title": "checkout down", "service": "local-svc"}))
        .await;
    let (_, inc) = s.get(&format!("/api/v1/incidents/{id}"), &s.viewer).await;
    let path = format!("/incidents/{}", inc["incident"]["number"]);

    // A viewer is told why, and a post is refused.
    let vera = s.login(&s.viewer).await;
    let page = s.page(&vera.0, &path).await;
    assert!(
        page.contains("Paging and escalating need the responder role"),
        "{page}"
    );
    assert!(!page.contains("id=\"escalate\""), "{page}");
    assert_eq!(
        s.form(&vera.0, Some(&vera.1), &format!("{path}/escalate"), &[])
            .await
            .0,
        403
    );

    // The responder escalates: the next level (boss) is paged now, not in 30 minutes.
    let rita = s.login(&s.responder).await;
    let page = s.page(&rita.0, &path).await;
    assert!(page.contains("id=\"escalate\""), "{page}");
    assert!(
        page.contains("<option value=\"dba\">Dee Dba</option>"),
        "{page}"
    );
    assert_eq!(
        s.form(&rita.0, Some(&rita.1), &format!("{path}/escalate"), &[])
            .await,
        (303, path.clone())
    );
    let t = s.timeline(&id).await;
    let e = &last(&t, "page.escalated")["record"];
    assert_eq!(e["actor"], "rita");
    assert_eq!(e["payload"]["to"], "boss");
    assert_eq!(e["payload"]["level"], "2");
    posts(&s, &got, "boss", 1).await;
    // Nothing is left to escalate to: the page says so.
    let (st, to) = s
        .form(&rita.0, Some(&rita.1), &format!("{path}/escalate"), &[])
        .await;
    assert_eq!(st, 303);
    assert!(
        to.contains("flash=") && to.contains("no+escalation+level+left+after+level+2"),
        "{to}"
    );
    // The API answers 409 Conflict: the incident's state, not the caller's role, is why.
    let (st, v) = s
        .post(
            &format!("/api/v1/incidents/{id}/escalate"),
            &s.responder,
            json!({}),
        )
        .await;
    assert_eq!(st, 409, "{v}");
    assert_eq!(v["error"]["code"], "no_level_left");
    assert_eq!(v["error"]["levels"], 2);
    assert_eq!(
        v["error"]["message"],
        "no escalation level left after level 2 (policy `local`, repeats included)"
    );

    // Acknowledged, the policy stops; a person paged by hand is still reached.
    let (st, _) = s
        .post(
            &format!("/api/v1/incidents/{id}/acknowledge"),
            &s.responder,
            json!({}),
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(
        s.form(
            &rita.0,
            Some(&rita.1),
            &format!("{path}/page"),
            &[("person", "dba")]
        )
        .await,
        (303, path.clone())
    );
    posts(&s, &got, "dba", 1).await;
    let page = s.page(&rita.0, &path).await;
    // The header names them as the escalation config does; the timeline keeps the id.
    assert!(
        page.contains("responders paged <strong>Dee Dba</strong>"),
        "{page}"
    );
    assert!(page.contains("paged dba"), "the timeline says it: {page}");

    // An incident without a service has no policy to escalate in: the button says why.
    let other = s.declare(json!({"title": "no service"})).await;
    let (_, o) = s
        .get(&format!("/api/v1/incidents/{other}"), &s.viewer)
        .await;
    let page = s
        .page(&rita.0, &format!("/incidents/{}", o["incident"]["number"]))
        .await;
    assert!(!page.contains("id=\"escalate\""), "{page}");
    assert!(page.contains("Escalating needs a service"), "{page}");
    let (st, v) = s
        .post(
            &format!("/api/v1/incidents/{other}/escalate"),
            &s.responder,
            json!({}),
        )
        .await;
    assert_eq!(st, 403, "refused: {v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no service"),
        "{v}"
    );

    // The API: the same actions, refused with the reason.
    let (st, v) = s
        .post(
            &format!("/api/v1/incidents/{id}/page"),
            &s.responder,
            json!({"person": "zed"}),
        )
        .await;
    assert_eq!(st, 400, "{v}");
    assert_eq!(v["error"]["field"], "person");
    let (st, _) = s
        .post(
            &format!("/api/v1/incidents/{id}/escalate"),
            &s.viewer,
            json!({}),
        )
        .await;
    assert_eq!(st, 403);
    let (st, v) = s
        .post(
            &format!("/api/v1/incidents/{id}/page"),
            &s.commander,
            json!({"person": "boss"}),
        )
        .await;
    assert_eq!(st, 202, "{v}");
    assert_eq!(v["to"], json!(["boss"]));
    posts(&s, &got, "boss", 2).await;
    all_live(&s.timeline(&id).await);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commander_silences_an_alert_and_a_responder_adds_an_action_item() {
    let (s, _got) = with_paging().await;
    let body = alertmanager(
        "{}:{alertname=\"LocalServiceDown\"}",
        &[("LocalServiceDown", "web-1", "firing")],
    );
    let (st, v) = s.alert("alertmanager", &body).await;
    assert_eq!(st, 202, "{v}");
    let inc = s
        .until(20, || async { s.incidents().await.first().cloned() })
        .await;
    let id = inc["id"].as_str().unwrap().to_owned();
    let path = format!("/incidents/{}", inc["number"]);
    let alerts = s
        .until(20, || async {
            let (_, v) = s.get(&format!("/api/v1/incidents/{id}"), &s.viewer).await;
            let a = v["alerts"].as_array().cloned().unwrap_or_default();
            (!a.is_empty()).then_some(a)
        })
        .await;
    let fp = alerts[0]["fingerprint"].as_str().unwrap().to_owned();
    let silence = format!("{path}/alerts/{fp}/silence");

    let rita = s.login(&s.responder).await;
    let page = s.page(&rita.0, &path).await;
    assert!(
        page.contains("Silencing an alert needs the commander role"),
        "{page}"
    );
    assert!(!page.contains(&format!("data-silence=\"{fp}\"")), "{page}");
    assert_eq!(
        s.form(&rita.0, Some(&rita.1), &silence, &[("duration", "1h")])
            .await
            .0,
        403
    );

    let carl = s.login(&s.commander).await;
    let page = s.page(&carl.0, &path).await;
    assert!(page.contains(&format!("data-silence=\"{fp}\"")), "{page}");
    let (st, to) = s
        .form(&carl.0, Some(&carl.1), &silence, &[("duration", "0s")])
        .await;
    assert_eq!(st, 303);
    assert!(
        to.contains("flash="),
        "a duration out of bounds says so: {to}"
    );
    let done = s.form(
        &carl.0,
        Some(&carl.1),
        &silence,
        &[("duration", "4h"), ("comment", "known, deploying")],
    );
    assert_eq!(done.await, (303, path.clone()));
    let t = s.timeline(&id).await;
    let e = &last(&t, "silence.created")["record"];
    assert_eq!(e["actor"], "carl");
    assert_eq!(e["incident"], id.as_str(), "on the incident's timeline");
    let matchers = e["payload"]["matchers"].as_str().unwrap();
    assert!(
        matchers.contains("alertname=\"LocalServiceDown\""),
        "{matchers}"
    );
    assert!(matchers.contains("instance=\"web-1\""), "{matchers}");
    let (_, all) = s.get("/api/v1/silences", &s.viewer).await;
    let ours = all
        .as_array()
        .unwrap()
        .iter()
        .find(|x| {
            x["comment"]
                .as_str()
                .unwrap_or("")
                .contains("known, deploying")
        })
        .expect("the silence is in force");
    assert!(
        ours["comment"]
            .as_str()
            .unwrap()
            .ends_with(&format!("(incident #{})", inc["number"]))
    );

    // Action items: a viewer is told why; a responder adds one, sealed.
    let vera = s.login(&s.viewer).await;
    let page = s.page(&vera.0, &path).await;
    assert!(
        page.contains("Adding action items needs the responder role"),
        "{page}"
    );
    let actions = format!("{path}/actions");
    let fields = [("title", "Alert on pool saturation"), ("owner", "dee")];
    assert_eq!(
        s.form(&rita.0, Some(&rita.1), &actions, &fields).await,
        (303, path.clone())
    );
    let t = s.timeline(&id).await;
    assert_eq!(
        last(&t, "action.added")["record"]["payload"]["owner"],
        "dee"
    );
    let page = s.page(&rita.0, &path).await;
    assert!(page.contains("Alert on pool saturation"), "{page}");
    all_live(&s.timeline(&id).await);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_on_call_page_shows_who_is_on_call_and_what_comes_next() {
    let (s, _got) = with_paging().await;
    let vera = s.login(&s.viewer).await;
    let page = s.page(&vera.0, "/oncall").await;
    let (_, v) = s.get("/api/v1/oncall", &s.viewer).await;
    let r = &v[0];
    assert_eq!(r["id"], "primary");
    let name = r["on_call"][0].as_str().unwrap();
    assert!(["Olive Oncall", "Dee Dba"].contains(&name), "{v}");
    assert!(
        page.contains(&format!(
            "on call now <strong class=\"on-call\">{name}</strong>"
        )),
        "{page}"
    );
    // Weekly hand-offs alternate; the override far ahead is listed.
    let h = r["handovers"].as_array().unwrap();
    assert_eq!(h.len(), 3, "{v}");
    assert_ne!(h[0][1], h[1][1]);
    let week = h[1][0].as_i64().unwrap() - h[0][0].as_i64().unwrap();
    assert!(
        (week - 7 * 86_400_000).abs() <= 3_600_000,
        "a week, give or take DST: {week}"
    );
    assert!(page.contains("Next hand-offs"), "{page}");
    assert!(page.contains("<strong>Bea Boss</strong> <span class=\"small\">2099-01-01 00:00:00 to 2099-01-02 00:00:00 UTC"), "{page}");
    s.stop().await;

    // Without an escalation config the page says so.
    let s = common::start().await;
    let vera = s.login(&s.viewer).await;
    let page = s.page(&vera.0, "/oncall").await;
    assert!(page.contains("Paging is not configured"), "{page}");
    s.stop().await;
}
