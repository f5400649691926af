//! What the UI shows each role and each failure: a deep link survives logging in,
//! controls a role cannot use are hidden or disabled with the reason, and a wrong
//! address or a forbidden action answers a styled page (the API keeps its JSON).

mod common;

use common::{Server, start};
use serde_json::json;

async fn incident(s: &Server) -> i64 {
    let id = s
        .declare(json!({"title": "roles", "runbooks": ["local-service.md"]}))
        .await;
    let (_, inc) = s.get(&format!("/api/v1/incidents/{id}"), &s.viewer).await;
    inc["incident"]["number"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deep_link_survives_the_login() {
    let s = start().await;
    let n = incident(&s).await;
    let deep = format!("/incidents/{n}/postmortem");
    let r = s.http.get(s.u(&deep)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 303);
    let to = r.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(to, format!("/login?next=%2Fincidents%2F{n}%2Fpostmortem"));
    // The login page carries it into the form, and the login goes there.
    let page = s.http.get(s.u(&to)).send().await.unwrap().text().await;
    let page = page.unwrap();
    assert!(
        page.contains(&format!("name=\"next\" value=\"{deep}\"")),
        "{page}"
    );
    let r = s
        .http
        .post(s.u("/login"))
        .form(&[("token", s.viewer.as_str()), ("next", deep.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(r.headers()["location"], deep.as_str());
    // A query string comes along; an htmx fragment is no page to come back to.
    let r = s.http.get(s.u("/incidents?status=all")).send().await;
    let r = r.unwrap();
    assert_eq!(
        r.headers()["location"],
        "/login?next=%2Fincidents%3Fstatus%3Dall"
    );
    let r = s
        .http
        .get(s.u(&format!("/incidents/{n}/timeline")))
        .header("hx-request", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/login");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_sees_only_the_controls_it_can_use() {
    let s = start().await;
    let n = incident(&s).await;
    let path = format!("/incidents/{n}");
    let plan = format!("hx-get=\"/incidents/{n}/plan");

    let (viewer, _) = s.login(&s.viewer).await;
    let page = s.page(&viewer, &path).await;
    for absent in [
        "id=\"ack\"",
        "id=\"mitigate\"",
        &plan,
        "name=\"text\"",
        "/actions\"",
    ] {
        assert!(!page.contains(absent), "a viewer is offered {absent}");
    }
    assert!(page.contains("id=\"role-note\""), "{page}");
    assert!(page.contains("need the responder role"), "{page}");

    let (responder, _) = s.login(&s.responder).await;
    let page = s.page(&responder, &path).await;
    for present in ["id=\"ack\"", "id=\"mitigate\"", &plan, "name=\"text\""] {
        assert!(
            page.contains(present),
            "a responder is not offered {present}"
        );
    }
    assert!(!page.contains("id=\"role-note\""));
    // Resolve is shown, disabled, with the reason; no form posts it.
    assert!(
        page.contains("Resolving needs the commander role."),
        "{page}"
    );
    assert!(!page.contains(&format!("action=\"/incidents/{n}/resolve\"")));

    let (commander, _) = s.login(&s.commander).await;
    let page = s.page(&commander, &path).await;
    assert!(page.contains(&format!("action=\"/incidents/{n}/resolve\"")));
    assert!(!page.contains("Resolving needs the commander role."));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_answer_a_styled_page_and_the_api_keeps_json() {
    let s = start().await;
    let n = incident(&s).await;
    let (viewer, csrf) = s.login(&s.viewer).await;
    let styled = |page: &str, heading: &str| {
        assert!(
            page.contains(&format!("<h1 id=\"error-heading\">{heading}</h1>")),
            "{page}"
        );
        assert!(page.contains("href=\"/assets/sitrep.css\""), "{page}");
        assert!(page.contains("href=\"/incidents\""), "{page}");
    };

    let get = |path: &str, accept: &str| {
        s.http
            .get(s.u(path))
            .header("cookie", &viewer)
            .header("accept", accept)
            .send()
    };
    let r = get("/no-such-page", "text/html,*/*").await.unwrap();
    assert_eq!(r.status().as_u16(), 404);
    styled(&r.text().await.unwrap(), "Not found");
    let r = get("/incidents/99999", "text/html").await.unwrap();
    assert_eq!(r.status().as_u16(), 404);
    styled(&r.text().await.unwrap(), "Not found");
    let r = get("/api/v1/no-such-route", "application/json")
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "not_found", "{v}");

    // A viewer's acknowledge (a stale page, a hand-made post) is refused with the reason.
    let r = s
        .http
        .post(s.u(&format!("/incidents/{n}/ack")))
        .header("cookie", &viewer)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let page = r.text().await.unwrap();
    styled(&page, "Not allowed");
    assert!(page.contains("this needs the responder role"), "{page}");
    s.stop().await;
}
