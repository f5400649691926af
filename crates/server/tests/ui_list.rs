//! The incident list: search, the status, severity and age filters, the age,
//! commander and acknowledged columns, and overdue action items (also on the incident
//! page).

mod common;

use common::start;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_searches_filters_and_shows_who_has_it() {
    let s = start().await;
    let (cookie, _) = s.login(&s.viewer).await;
    let checkout = s
        .declare(json!({"title": "Checkout 503s", "severity": "SEV1", "service": "shop"}))
        .await;
    s.declare(json!({"title": "Disk filling", "severity": "SEV3", "service": "db"}))
        .await;
    let old = s
        .declare(json!({"title": "Old checkout blip", "severity": "SEV3"}))
        .await;
    let post = |path: String, token: String, body: serde_json::Value| {
        let s = &s;
        async move {
            let (st, v) = s.post(&path, &token, body).await;
            assert!(st < 300, "{path}: {v}");
        }
    };
    post(
        format!("/api/v1/incidents/{checkout}/acknowledge"),
        s.responder.clone(),
        json!({}),
    )
    .await;
    post(
        format!("/api/v1/incidents/{checkout}/roles"),
        s.commander.clone(),
        json!({"role": "commander", "person": "carl"}),
    )
    .await;
    post(
        format!("/api/v1/incidents/{old}/resolve"),
        s.commander.clone(),
        json!({}),
    )
    .await;

    // The titles a page lists (in this fixed order, whatever the page's).
    let titles = |page: &str| {
        ["Checkout 503s", "Disk filling", "Old checkout blip"]
            .into_iter()
            .filter(|t| page.contains(&format!(">{t}</a>")))
            .collect::<Vec<_>>()
    };
    let page = s.page(&cookie, "/incidents").await;
    assert_eq!(
        titles(&page),
        ["Checkout 503s", "Disk filling"],
        "open only"
    );
    // Who has it and how soon it was acknowledged; the one nobody has says so.
    assert!(page.contains("<td class=\"wide-only\">carl</td>"), "{page}");
    assert!(
        page.contains("after 0 s") || page.contains("after 1 s"),
        "{page}"
    );
    assert!(page.contains("not yet"), "{page}");
    assert!(page.contains("<time data-ago="), "{page}");

    let page = s.page(&cookie, "/incidents?status=all&q=checkout").await;
    assert_eq!(titles(&page), ["Checkout 503s", "Old checkout blip"]);
    let page = s
        .page(&cookie, "/incidents?status=all&q=CHECKOUT+shop")
        .await;
    assert_eq!(titles(&page), ["Checkout 503s"]);
    let page = s.page(&cookie, "/incidents?status=all&severity=SEV3").await;
    assert_eq!(titles(&page), ["Disk filling", "Old checkout blip"]);
    let page = s.page(&cookie, "/incidents?status=resolved").await;
    assert_eq!(titles(&page), ["Old checkout blip"]);
    let page = s.page(&cookie, "/incidents?status=all&age=1h").await;
    assert_eq!(titles(&page).len(), 3, "all declared within the hour");
    assert!(page.contains("<option value=\"1h\" selected>"), "{page}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overdue_action_items_show_in_the_list_and_on_the_incident_page() {
    let s = start().await;
    let (cookie, _) = s.login(&s.viewer).await;
    let late = s
        .declare(json!({"title": "Late follow-up", "severity": "SEV3"}))
        .await;
    let fine = s
        .declare(json!({"title": "On time", "severity": "SEV3"}))
        .await;
    let now = sitrep_app::now_ms();
    for (id, title, due) in [
        (&late, "Write the timeline", now - 60_000),
        (&late, "Rebuild the replica", now + 3_600_000),
        (&fine, "Hold the review", now + 3_600_000),
    ] {
        let (st, v) = s
            .post(
                &format!("/api/v1/incidents/{id}/actions"),
                &s.responder,
                json!({"title": title, "due_ms": due}),
            )
            .await;
        assert!(st < 300, "{v}");
    }
    let page = s.page(&cookie, "/incidents").await;
    assert!(
        page.contains("data-overdue=\"1\">1 overdue</span>"),
        "{page}"
    );
    assert_eq!(
        page.matches("data-overdue=").count(),
        1,
        "only the late one: {page}"
    );
    let number = |p: &str, title: &str| -> String {
        let at = p.find(&format!(">{title}</a>")).expect("listed");
        let href = p[..at].rfind("/incidents/").expect("link");
        p[href + "/incidents/".len()..at]
            .trim_end_matches('"')
            .to_owned()
    };
    let n = number(&page, "Late follow-up");
    let inc = s.page(&cookie, &format!("/incidents/{n}")).await;
    let list = &inc[inc.find("id=\"live-action-items\"").expect("action items")..];
    let item = |title: &str| {
        let at = list.find(title).expect("item shown");
        list[at..].split("</li>").next().unwrap_or("").to_owned()
    };
    assert!(item("Write the timeline").contains("overdue"), "{inc}");
    assert!(!item("Rebuild the replica").contains("overdue"), "{inc}");
}
