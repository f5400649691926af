//! Acknowledge links (issue 21, point 6): the page's form works for a logged-in browser
//! (and acknowledges as that person), a link opened from a mail without the session's
//! CSRF token still works as the link, a link from before a reopen is stale and says
//! so, and the timeline records the link's page, the client's address and user agent.

mod common;

use sitrep_app::Principal;
use std::time::Duration;

use serde_json::{Value, json};
use sitrep_app::Config;

use common::Server;

const UA: &str = "sitrep-test-browser/1.0";

async fn start() -> Server {
    common::start_with(|c: &mut Config| {
        c.server.base_url = Some("http://sitrep.test".into());
    })
    .await
}

/// The path of a fresh link for incident `id`'s page `page`.
fn link(s: &Server, id: &str, page: &str) -> String {
    let url = s
        .state
        .app()
        .ack_url(id, page, sitrep_app::now_ms())
        .unwrap()
        .unwrap();
    url.trim_start_matches("http://sitrep.test").to_owned()
}

async fn press(s: &Server, path: &str, cookie: Option<&str>, csrf: Option<&str>) -> (u16, String) {
    let mut form = Vec::new();
    if let Some(c) = csrf {
        form.push(("csrf", c));
    }
    let mut req = s.http.post(s.u(path)).header("user-agent", UA).form(&form);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

fn acknowledged(timeline: &[Value]) -> Vec<Value> {
    timeline
        .iter()
        .filter(|e| e["record"]["type"] == "incident.acknowledged")
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logged_in_browser_acknowledges_as_itself_and_the_visit_is_recorded() {
    let s = start().await;
    let id = s.declare(json!({"title": "logged in"})).await;
    let path = link(&s, &id, "page-42");
    let (cookie, csrf) = s.login(&s.viewer).await;
    // The page opened with the session carries its CSRF token in the form.
    let html = s.page(&cookie, &path).await;
    assert!(
        html.contains(&format!("name=\"csrf\" value=\"{csrf}\"")),
        "{html}"
    );
    let (st, html) = press(&s, &path, Some(&cookie), Some(&csrf)).await;
    assert_eq!(st, 200, "{html}");
    assert!(html.contains("acknowledged. Escalation stopped."), "{html}");
    let acks = acknowledged(&s.timeline(&id).await);
    assert_eq!(acks.len(), 1);
    let r = &acks[0]["record"];
    assert_eq!(r["actor"], "vera", "{r}");
    assert_eq!(r["payload"]["via"], "ack-link", "{r}");
    assert_eq!(r["payload"]["page_id"], "page-42", "{r}");
    assert_eq!(r["payload"]["client"], "127.0.0.1", "{r}");
    assert_eq!(r["payload"]["user_agent"], UA, "{r}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_without_the_csrf_token_acknowledges_as_the_link() {
    let s = start().await;
    let id = s.declare(json!({"title": "from a mail"})).await;
    let path = link(&s, &id, "page-7");
    let (cookie, _) = s.login(&s.viewer).await;
    // Opened from a mail the SameSite cookie was not sent with the GET, so the form
    // had no token; the POST carries the cookie. The signed link still works...
    let (st, html) = press(&s, &path, Some(&cookie), None).await;
    assert_eq!(st, 200, "{html}");
    let acks = acknowledged(&s.timeline(&id).await);
    // ...as the link, not as the session it could not prove.
    assert_eq!(acks[0]["record"]["actor"], "ack-link");
    // Other mutations with that cookie and no token are still refused.
    let r = s
        .http
        .post(s.u(&format!("/api/v1/incidents/{id}/notes")))
        .header("cookie", &cookie)
        .json(&json!({"text": "no token"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_from_before_a_reopen_is_stale() {
    let s = start().await;
    let id = s.declare(json!({"title": "reopened"})).await;
    let old = link(&s, &id, "page-1");
    let (st, _) = press(&s, &old, None, None).await;
    assert_eq!(st, 200);
    let app = s.state.app();
    app.resolve(&id, &Principal::asserted("carl"), Some("done for the test"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    app.reopen(&id, &Principal::asserted("carl"), "it came back")
        .await
        .unwrap();
    let (st, html) = press(&s, &old, None, None).await;
    assert_eq!(st, 403, "{html}");
    assert!(html.contains("stale"), "{html}");
    let status = |v: Value| v["incident"]["status"].clone();
    let (_, v) = s.get(&format!("/api/v1/incidents/{id}"), &s.viewer).await;
    assert_eq!(status(v), "triggered", "the stale link changed nothing");
    // The new cycle's link works.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let fresh = link(&s, &id, "page-2");
    let (st, html) = press(&s, &fresh, None, None).await;
    assert_eq!(st, 200, "{html}");
    let (_, v) = s.get(&format!("/api/v1/incidents/{id}"), &s.viewer).await;
    assert_eq!(status(v), "acknowledged");
    s.stop().await;
}
