//! The web UI end to end in a real browser: headless Debian Chromium driven by
//! playwright-core (tests/e2e/e2e.mjs) against a real server on loopback. Logs in, opens
//! the incident an alert declared, runs a read step, confirms a write step, ticks the
//! checklist, resolves and downloads the post-mortem. Screenshots of every stage are
//! saved under the target directory's `e2e-screenshots/`; with `SITREP_SCREENSHOTS=1`
//! the pages test copies its page shots into `docs/img/ui/`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{alertmanager, start};

fn e2e_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e")
}

/// Says exactly what is missing, instead of skipping: `.ci/run` installs all of it.
fn preflight() {
    let node = Command::new("node").arg("--version").output();
    assert!(
        node.is_ok_and(|o| o.status.success()),
        "node is needed for the UI end-to-end test (Debian: apt-get install nodejs)"
    );
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "{chromium} is missing: apt-get install chromium (or set CHROMIUM)"
    );
    assert!(
        e2e_dir().join("node_modules/playwright-core").is_dir(),
        "playwright-core is missing: (cd crates/server/tests/e2e && npm ci)"
    );
}

/// Where the browser tests save their screenshots.
fn shots_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("e2e-screenshots")
}

/// Runs a browser script with node; fails the test with its output unless it exits 0
/// and prints `done`. Returns its standard output.
async fn browser(script: &str, args: &[&std::ffi::OsStr], done: &str) -> String {
    let out = tokio::process::Command::new("node")
        .arg(e2e_dir().join(script))
        .args(args)
        .current_dir(e2e_dir())
        .output()
        .await
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains(done),
        "browser test {script} failed (screenshots in {}):\n{stdout}\n{stderr}",
        shots_dir().display()
    );
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_responder_works_an_incident_in_the_browser() {
    preflight();
    let s = start().await;
    let body = alertmanager(
        "{}:{alertname=\"LocalServiceDown\"}",
        &[("LocalServiceDown", "web-1", "firing")],
    );
    let (st, v) = s.alert("alertmanager", &body).await;
    assert_eq!(st, 202, "{v}");

    let shots = shots_dir();
    let marker = s.dir.path().join("marker");
    browser(
        "e2e.mjs",
        &[
            s.url.as_ref(),
            s.commander.as_ref(),
            shots.as_os_str(),
            marker.as_os_str(),
        ],
        "e2e ok",
    )
    .await;
    assert!(marker.exists(), "the confirmed write step ran");
    // The pack the browser downloaded verifies offline against the server's key.
    let pack = std::fs::read(shots.join("evidence.tar.gz")).expect("evidence pack saved");
    let key = s.state.app().verifier().clone();
    let report = sitrep_app::evidence::verify_pack(
        &pack[..],
        &[key],
        sitrep_app::evidence::Limits::default(),
    )
    .expect("a readable pack");
    assert!(report.ok(), "{report:?}");
    assert!(report.records_verified > 5, "{report:?}");
    for shot in [
        "01-login",
        "03-incident-after-triage",
        "05-write-confirm-dialog",
        "07-resolved",
        "09-phone",
    ] {
        assert!(
            shots.join(format!("{shot}.png")).is_file(),
            "screenshot {shot} saved"
        );
    }

    // What the browser did is on the record.
    let incidents = s.incidents().await;
    let inc = incidents.iter().find(|i| {
        i["title"]
            .as_str()
            .unwrap_or("")
            .starts_with("LocalServiceDown")
    });
    let id = inc.map(|i| i["id"].as_str().unwrap().to_owned());
    let (_, all) = s.get("/api/v1/incidents?status=resolved", &s.viewer).await;
    let id = id
        .or_else(|| all[0]["id"].as_str().map(str::to_owned))
        .expect("the incident");
    let timeline = s.timeline(&id).await;
    let types = common::types(&timeline);
    for want in [
        "incident.declared",
        "step.run",
        "checklist.ticked",
        "incident.resolved",
    ] {
        assert!(
            types.iter().any(|t| t == want),
            "{want} missing from {types:?}"
        );
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_people_approve_a_destructive_step_in_the_browser() {
    preflight();
    let s = common::start_with(common::destructive_needs_approval).await;
    let id = s
        .declare(serde_json::json!({"title": "two people", "runbooks": ["local-service.md"]}))
        .await;
    let (_, inc) = s.get(&format!("/api/v1/incidents/{id}"), &s.viewer).await;
    let number = inc["incident"]["number"].to_string();
    let marker = s.dir.path().join("to-wipe");
    std::fs::write(&marker, "x").unwrap();
    browser(
        "approve.mjs",
        &[
            s.url.as_ref(),
            number.as_ref(),
            s.responder.as_ref(),
            s.commander.as_ref(),
            shots_dir().as_os_str(),
            marker.as_os_str(),
        ],
        "approve ok",
    )
    .await;
    assert!(!marker.exists(), "the approved step ran");
    let run = s.state.app().view(&id).await.unwrap().runs;
    assert_eq!(run.len(), 1, "exactly one run: the held one did not run");
    assert_eq!(run[0].approver.as_deref(), Some("carl"));
    s.stop().await;
}

/// Every page at 1366 and 390 px: nothing wider than the screen, 44 px tap targets, the
/// run dialog on screen. The incident carries what once widened the page: a title and a
/// note with long unbroken words, a run with output.
/// Who is on call for the pages test: a rotation with an override, and people to page;
/// no policy, so nothing is paged on its own (service `web` has none).
const ON_CALL: &str = r#"
[[people]]
id = "olive"
name = "Olive Oncall"
contacts = [{ id = "olive-mail", email = "olive@example.com" }]

[[people]]
id = "dee"
name = "Dee Dba"
contacts = [{ id = "dee-mail", email = "dee@example.com" }]

[[rotations]]
id = "primary"
participants = ["olive", "dee"]
handoff = "weekly"
handoff_time = "09:00"
time_zone = "Europe/Berlin"
start = "2026-01-05T08:00:00Z"
overrides = [{ start = "2099-01-01T00:00:00Z", end = "2099-01-02T00:00:00Z", person = "dee" }]
"#;

/// The pages docs/ui.md shows: the pages test's `page-NAME-desktop|phone.png`, copied to
/// `docs/img/ui/NAME-1366|390.png` when `SITREP_SCREENSHOTS=1`.
const PUBLISHED: [&str; 13] = [
    "login",
    "incidents",
    "incident",
    "run-dialog",
    "query-dialog",
    "run-error",
    "run",
    "postmortem",
    "oncall",
    "runbooks",
    "runbook",
    "ledger",
    "live-ack",
];

fn publish_screenshots() {
    if std::env::var("SITREP_SCREENSHOTS").as_deref() != Ok("1") {
        return;
    }
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/img/ui");
    std::fs::create_dir_all(&docs).unwrap();
    let copy = |from: String, to: String| {
        std::fs::copy(shots_dir().join(&from), docs.join(to))
            .unwrap_or_else(|e| panic!("{from}: {e}"));
    };
    for page in PUBLISHED {
        copy(
            format!("page-{page}-desktop.png"),
            format!("{page}-1366.png"),
        );
        copy(format!("page-{page}-phone.png"), format!("{page}-390.png"));
    }
    copy(
        "page-incident-dark.png".into(),
        "incident-dark-1366.png".into(),
    );
}

/// A runbook with one SQL query step, for the query dialog in the pages test.
const ORDERS: &str = "# Orders\n\n## Diagnosis\n\nThe catalog's own table:\n\n```sql {name=tables}\nSELECT relname, relnatts FROM pg_class WHERE relname = 'pg_class'\n```\n";

/// The test runbooks plus `orders.md`, in a directory of their own.
fn with_query_runbook() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let local = common::runbooks_dir().join("local-service.md");
    std::fs::copy(local, dir.path().join("local-service.md")).unwrap();
    std::fs::write(dir.path().join("orders.md"), ORDERS).unwrap();
    dir
}

/// Real PostgreSQL (`SITREP_TEST_DATABASE_URL`, else the local test database) as the
/// one SQL datasource.
fn orders_db() -> sitrep_app::datasources::DatasourcesConfig {
    use sitrep_app::datasources::{DatasourceConfig, DatasourceKind, DatasourcesConfig};
    let url = std::env::var("SITREP_TEST_DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres"))
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".into());
    let source = DatasourceConfig {
        kind: DatasourceKind::Postgres,
        url: Some(url),
        url_env: None,
        token_env: None,
        token_file: None,
        timeout: None,
        max_rows: None,
        max_bytes: None,
    };
    DatasourcesConfig([("orders-db".to_owned(), source)].into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_fits_a_phone_and_a_desktop() {
    preflight();
    let escalation = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(escalation.path(), ON_CALL).unwrap();
    let path = escalation.path().to_owned();
    let runbooks = with_query_runbook();
    let dir = runbooks.path().to_owned();
    let s = common::start_with(move |c| {
        c.escalation = Some(path);
        c.runbooks = Some(dir);
        c.datasources = orders_db();
    })
    .await;
    let long = "x".repeat(180);
    let id = s
        .declare(serde_json::json!({
            "title": format!("checkout 503s {long}"),
            "service": "web",
            "runbooks": ["local-service.md", "orders.md"],
        }))
        .await;
    let (st, v) = s
        .post(
            &format!("/api/v1/incidents/{id}/notes"),
            &s.responder,
            serde_json::json!({"text": format!("saw /api/v1/{long}/checkout fail")}),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    // A typed value needs the exact command confirmed: the second post confirms it.
    let runs = format!("/api/v1/incidents/{id}/runs");
    let mut body = serde_json::json!({"runbook": "local-service.md", "step": "greet", "set": {"instance": "web-1"}});
    let (st, v) = s.post(&runs, &s.responder, body.clone()).await;
    assert_eq!(st, 428, "{v}");
    body["confirmed"] = v["error"]["plan"].clone();
    let (st, run) = s.post(&runs, &s.responder, body).await;
    assert_eq!(st, 200, "{run}");
    let (_, inc) = s.get(&format!("/api/v1/incidents/{id}"), &s.viewer).await;
    let number = inc["incident"]["number"].to_string();
    let run_id = run["run"]["id"].as_str().expect("a run id").to_owned();
    let out = browser(
        "pages.mjs",
        &[
            s.url.as_ref(),
            number.as_ref(),
            run_id.as_ref(),
            s.commander.as_ref(),
            shots_dir().as_os_str(),
        ],
        "pages ok",
    )
    .await;
    // The latencies the script measured (shown with --nocapture).
    for line in out.lines().filter(|l| l.starts_with("measured:")) {
        println!("{line}");
    }
    for page in [
        "incident",
        "ledger",
        "run-dialog",
        "query-dialog",
        "oncall",
        "postmortem",
    ] {
        for width in ["desktop", "phone"] {
            let shot = shots_dir().join(format!("page-{page}-{width}.png"));
            assert!(shot.is_file(), "{} saved", shot.display());
        }
    }
    publish_screenshots();
    s.stop().await;
}
