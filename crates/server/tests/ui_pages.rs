//! What the UI's pages say about runbook steps, as a logged-in browser gets them.

mod common;

use common::start_with;
use serde_json::json;

/// Steps with nothing to name them but their section heading would all read
/// "Diagnosis"; the runbook and incident pages add each one's first command.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steps_sharing_a_heading_are_told_apart_by_their_first_command() {
    let s = start_with(|_| {}).await;
    let (cookie, _) = s.login(&s.viewer).await;
    let id = s
        .declare(json!({"title": "titles", "runbooks": ["local-service.md"]}))
        .await;
    let (_, inc) = s.get(&format!("/api/v1/incidents/{id}"), &s.viewer).await;
    let n = inc["incident"]["number"].as_i64().unwrap();
    for path in [
        "/runbooks/local-service.md".to_owned(),
        format!("/incidents/{n}"),
    ] {
        let page = s.page(&cookie, &path).await;
        for title in [
            "<strong>Diagnosis: sleep 30</strong>",
            "<strong>Diagnosis: seq 1 200000</strong>",
            // Escaped as HTML.
            "<strong>Resolution: rm -rf &#34;&#60;marker&#62;&#34;</strong>",
        ] {
            assert!(page.contains(title), "{path}: no {title} in {page}");
        }
        assert!(!page.contains("<strong>Diagnosis</strong>"), "{path}");
    }
    s.stop().await;
}

/// Runs the step over the API, confirming the exact command when asked; returns the run.
async fn run_step(s: &common::Server, id: &str, step: &str) -> serde_json::Value {
    let runs = format!("/api/v1/incidents/{id}/runs");
    let mut body = json!({"runbook": "checks.md", "step": step});
    let (st, v) = s.post(&runs, &s.responder, body.clone()).await;
    if st == 428 {
        body["confirmed"] = v["error"]["plan"].clone();
        let (st, v) = s.post(&runs, &s.responder, body).await;
        assert_eq!(st, 200, "{step}: {v}");
        return v["run"].clone();
    }
    assert_eq!(st, 200, "{step}: {v}");
    v["run"].clone()
}

/// The row of run `run` in the incident page's runs table.
fn row<'a>(page: &'a str, run: &str) -> &'a str {
    let at = page
        .find(&format!("id=\"run-{run}\""))
        .unwrap_or_else(|| panic!("no row for run {run}"));
    let start = page[..at].rfind("<tr").unwrap();
    &page[start..at + page[at..].find("</tr>").unwrap()]
}

/// "Succeeded" is not "exit 0": a run whose output fails the runbook's `expect` is red
/// and says why; a run without a check shows its exit code; stderr and the absence of
/// any output are said on the run's page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_show_their_verdict_apart_from_the_exit_code() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/ui/runbooks");
    let s = start_with(move |c| c.runbooks = Some(dir)).await;
    let (cookie, _) = s.login(&s.viewer).await;
    let id = s
        .declare(json!({"title": "checkout", "severity": "SEV2", "runbooks": ["checks.md"]}))
        .await;
    let mut runs = std::collections::BTreeMap::new();
    for step in ["healthy", "unavailable", "plain", "broken", "quiet"] {
        let run = run_step(&s, &id, step).await;
        runs.insert(step, run["id"].as_str().unwrap().to_owned());
    }
    let (_, inc) = s.get(&format!("/api/v1/incidents/{id}"), &s.viewer).await;
    let n = inc["incident"]["number"].as_i64().unwrap();
    let page = s.page(&cookie, &format!("/incidents/{n}")).await;

    let healthy = row(&page, &runs["healthy"]);
    assert!(healthy.contains("<tr class=\"run-ok\""), "{healthy}");
    assert!(healthy.contains("class=\"check pass\">pass: "), "{healthy}");
    // Exit 0, but the output said 503: failed, in red, with the check that failed.
    let unavailable = row(&page, &runs["unavailable"]);
    assert!(
        unavailable.contains("<tr class=\"run-failed\""),
        "{unavailable}"
    );
    assert!(
        unavailable.contains("class=\"check fail\">fail: "),
        "{unavailable}"
    );
    assert!(!unavailable.contains("exit 0"), "{unavailable}");
    let plain = row(&page, &runs["plain"]);
    assert!(plain.contains("class=\"check \">exit 0</span>"), "{plain}");
    let broken = row(&page, &runs["broken"]);
    assert!(broken.contains("<tr class=\"run-failed\""), "{broken}");
    assert!(
        broken.contains("class=\"check fail\">exit 3</span>"),
        "{broken}"
    );

    let page = s.page(&cookie, &format!("/runs/{}", runs["broken"])).await;
    assert!(
        page.contains("id=\"stderr\">disk full on /var"),
        "stderr shown: {page}"
    );
    assert!(page.contains("id=\"stdout-empty\""), "{page}");
    let page = s.page(&cookie, &format!("/runs/{}", runs["quiet"])).await;
    assert!(page.contains("id=\"no-output\""), "{page}");
    assert!(
        !page.contains("class=\"output"),
        "no empty output box: {page}"
    );
    s.stop().await;
}

/// The header answers "how bad, how long, who has it" at a glance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_header_says_severity_ages_commander_and_acknowledgement() {
    let s = start_with(|_| {}).await;
    let (cookie, _) = s.login(&s.viewer).await;
    let id = s
        .declare(json!({"title": "header", "severity": "SEV1", "service": "web"}))
        .await;
    let (_, inc) = s.get(&format!("/api/v1/incidents/{id}"), &s.viewer).await;
    let n = inc["incident"]["number"].as_i64().unwrap();
    let path = format!("/incidents/{n}");
    let page = s.page(&cookie, &path).await;
    for want in [
        "class=\"sev sev-0\" id=\"severity\">SEV1<",
        "declared <time data-ago=",
        "no update posted yet",
        "<span class=\"muted\">none assigned</span>",
        "<span class=\"muted\">not acknowledged</span>",
        "service <strong>web</strong>",
        "<span class=\"muted\">no alerts</span>",
    ] {
        assert!(page.contains(want), "no {want} in the header");
    }
    let (st, v) = s
        .post(
            &format!("/api/v1/incidents/{id}/acknowledge"),
            &s.responder,
            json!({}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let (st, v) = s
        .post(
            &format!("/api/v1/incidents/{id}/roles"),
            &s.commander,
            json!({"role": "commander", "person": "carl"}),
        )
        .await;
    assert!(st < 300, "{v}");
    let (st, v) = s
        .post(
            &format!("/api/v1/incidents/{id}/notes"),
            &s.responder,
            json!({"text": "rolling back"}),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    let page = s.page(&cookie, &path).await;
    for want in [
        "acknowledged by <strong>rita</strong> <time data-ago=",
        "commander <strong>carl</strong>",
        "last update <time data-ago=",
    ] {
        assert!(page.contains(want), "no {want} in the header");
    }
    s.stop().await;
}

/// While a step runs, the page says so (with the seconds the script counts from its
/// start) and its Run button waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_step_shows_it_and_cannot_be_started_twice() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/ui/runbooks");
    let s = start_with(move |c| c.runbooks = Some(dir)).await;
    let (cookie, _) = s.login(&s.responder).await;
    let id = s
        .declare(json!({"title": "slow", "runbooks": ["checks.md"]}))
        .await;
    let (_, inc) = s.get(&format!("/api/v1/incidents/{id}"), &s.viewer).await;
    let path = format!("/incidents/{}", inc["incident"]["number"]);
    let runs = format!("/api/v1/incidents/{id}/runs");
    let (http, url, token) = (s.http.clone(), s.u(&runs), s.responder.clone());
    let slow = tokio::spawn(async move {
        let body = json!({"runbook": "checks.md", "step": "slow"});
        http.post(url).bearer_auth(token).json(&body).send().await
    });
    let page = s
        .until(5, || async {
            let page = s.page(&cookie, &path).await;
            page.contains("<tr class=\"run-running\"").then_some(page)
        })
        .await;
    assert!(page.contains("data-elapsed-since="), "{page}");
    assert!(
        page.contains("<button type=\"button\" disabled data-step=\"slow\""),
        "{page}"
    );
    assert!(page.contains("running now"), "{page}");
    assert_eq!(slow.await.unwrap().unwrap().status().as_u16(), 200);
    let page = s.page(&cookie, &path).await;
    assert!(!page.contains("run-running"), "{page}");
    s.stop().await;
}

/// Every page links the favicon, which is served as SVG with the other assets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_favicon_is_served_and_linked() {
    let s = start_with(|_| {}).await;
    let login = s.http.get(s.u("/login")).send().await.unwrap();
    let login = login.text().await.unwrap();
    assert!(
        login.contains("<link rel=\"icon\" href=\"/assets/favicon.svg\""),
        "{login}"
    );
    let r = s.http.get(s.u("/assets/favicon.svg")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-type"], "image/svg+xml");
    assert!(r.text().await.unwrap().starts_with("<svg "));
    s.stop().await;
}

/// The post-mortem page is rendered Markdown, and what people typed into the incident
/// (a title, a note) stays text in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_postmortem_is_rendered_and_typed_html_stays_text() {
    let s = start_with(|_| {}).await;
    let (cookie, _) = s.login(&s.viewer).await;
    let id = s
        .declare(json!({"title": "checkout <img src=x onerror=alert(1)>"}))
        .await;
    let (st, v) = s
        .post(
            &format!("/api/v1/incidents/{id}/notes"),
            &s.responder,
            json!({"text": "<script>alert(2)</script> rolled back"}),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    let (_, inc) = s.get(&format!("/api/v1/incidents/{id}"), &s.viewer).await;
    let n = inc["incident"]["number"].as_i64().unwrap();
    let page = s.page(&cookie, &format!("/incidents/{n}/postmortem")).await;
    assert!(page.contains("<h2>Timeline (UTC)</h2>"), "{page}");
    assert!(!page.contains("<pre id=\"postmortem-text\""), "{page}");
    assert!(!page.contains("<img src=x"), "{page}");
    assert!(!page.contains("<script>alert"), "{page}");
    assert!(page.contains("&lt;script&gt;alert(2)"), "{page}");
    s.stop().await;
}

/// A commander changes the severity and assigns a role from the page; a responder is
/// told these need the commander role, and a forged post is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commander_changes_severity_and_assigns_roles_from_the_page() {
    let s = start_with(|_| {}).await;
    let id = s
        .declare(json!({"title": "manage", "severity": "SEV3"}))
        .await;
    let (_, inc) = s.get(&format!("/api/v1/incidents/{id}"), &s.viewer).await;
    let n = inc["incident"]["number"].as_i64().unwrap();
    let path = format!("/incidents/{n}");
    let form = |cookie: &str, csrf: &str, action: &str, fields: &[(&str, &str)]| {
        let mut body = vec![("csrf", csrf.to_owned())];
        body.extend(fields.iter().map(|(k, v)| (*k, (*v).to_owned())));
        s.http
            .post(s.u(&format!("{path}/{action}")))
            .header("cookie", cookie)
            .form(&body)
            .send()
    };

    let (rita, rita_csrf) = s.login(&s.responder).await;
    let page = s.page(&rita, &path).await;
    assert!(page.contains("id=\"manage-note\""), "{page}");
    assert!(!page.contains("id=\"set-severity\""), "{page}");
    let r = form(&rita, &rita_csrf, "severity", &[("severity", "SEV1")]);
    assert_eq!(r.await.unwrap().status().as_u16(), 403);

    let (carl, carl_csrf) = s.login(&s.commander).await;
    let r = form(&carl, &carl_csrf, "severity", &[("severity", "SEV1")]);
    let r = r.await.unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(r.headers()["location"], path.as_str());
    let r = form(
        &carl,
        &carl_csrf,
        "roles",
        &[("role", "scribe"), ("person", "sam")],
    );
    assert_eq!(r.await.unwrap().status().as_u16(), 303);
    let page = s.page(&carl, &path).await;
    assert!(page.contains("id=\"severity\">SEV1<"), "{page}");
    assert!(page.contains("scribe <strong>sam</strong>"), "{page}");
    assert!(
        page.contains("changed the severity from SEV3 to SEV1"),
        "{page}"
    );
    // A severity not on the scale comes back with the reason.
    let r = form(&carl, &carl_csrf, "severity", &[("severity", "SEV9")]);
    let r = r.await.unwrap();
    let to = r.headers()["location"].to_str().unwrap();
    assert!(to.starts_with(&format!("{path}?flash=")), "{to}");
    s.stop().await;
}

/// A pasted console transcript: the runbook page shows the command as the step, the
/// output the runbook printed under it as its example (with the line an `expect` check
/// could look for), and blocks that are not shell as references, never as steps.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transcript_shows_its_example_output_and_reference_blocks() {
    let fixtures =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/runbooks");
    let s = start_with(move |c| c.runbooks = Some(fixtures)).await;
    let (cookie, _) = s.login(&s.viewer).await;
    let page = s.page(&cookie, "/runbooks/25-transcripts.md").await;
    assert!(page.contains("<pre>kubectl get pods -n web"), "{page}");
    assert!(
        page.contains("Example output, as the runbook shows it"),
        "{page}"
    );
    assert!(page.contains("api-1   1/1     Running"), "{page}");
    assert!(
        page.contains("could look for <code>NAME    READY   STATUS</code>"),
        "{page}"
    );
    let page = s.page(&cookie, "/runbooks/27-untagged-not-shell.md").await;
    assert!(page.contains("<h2>Reference blocks</h2>"), "{page}");
    assert!(page.contains("never run as commands"), "{page}");
    s.stop().await;
}
