//! Fault injection on real components (issue 20; docs/deploy.md, degradation): a full
//! disk, an unreachable PostgreSQL, a read-only blob directory. For each fault: no 2xx
//! for anything unstored, every acknowledged alert present afterwards, the ledger
//! verifies, ingestion is back within 5 s of the fault clearing without a restart, and
//! `/readyz` is 503 during the fault and 200 after.
//!
//! Faults that need root (mounting a tmpfs) are set up where the tests run as root;
//! elsewhere they are skipped with a message, except under `CI=true`, where a fault
//! that cannot be set up fails the test.

mod common;
mod faultkit;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::Server;
use faultkit::{
    PgSchema, Posted, ReadOnly, Tmpfs, fill, generic_alert, post_alert, readyz, recovery,
};

/// Ingestion must be back within this long after a fault clears.
const RECOVERY_GOAL: Duration = Duration::from_secs(5);
/// A refusal must come within the commit timeout (2 s) plus slack for a busy machine.
const REFUSAL_BOUND: Duration = Duration::from_secs(4);

fn high_rate(c: &mut sitrep_app::Config) {
    c.server.receivers.burst = 100_000;
}

/// Every acknowledged alert is in its incident, and the ledger verifies.
async fn assert_nothing_lost(s: &Server, acked: &[Posted]) {
    for p in acked {
        let (st, inc) = s
            .get(&format!("/api/v1/incidents/{}", p.incident), &s.viewer)
            .await;
        assert_eq!(st, 200, "{inc}");
        let names: Vec<&str> = inc["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|a| a["labels"]["alertname"].as_str())
            .collect();
        assert!(names.contains(&p.name.as_str()), "{} lost: {inc}", p.name);
    }
    let report = s.state.app().store().verify_ledger().await.unwrap();
    assert!(report.ok(), "{:?}", report.first_divergence);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_refused_fast_and_recovers_without_a_restart() {
    let Some(disk) = Tmpfs::mount("disk-full", 6) else {
        return;
    };
    let data = disk.path().join("data");
    let s = common::start_with(|c| {
        high_rate(c);
        c.data_dir = Some(data.clone());
    })
    .await;
    let mut acked = Vec::new();
    let (st, v) = post_alert(&s, &generic_alert("Before")).await;
    assert_eq!(st, 202, "{v}");
    acked.push(Posted::from_report("Before", &v));
    fill(disk.path(), 192 * 1024);

    // Post until the disk refuses; every answer is 202 (then stored) or a fast 503.
    let mut refused = 0;
    for n in 0..2000 {
        let name = format!("Full{n}");
        let started = Instant::now();
        let (st, v) = post_alert(&s, &generic_alert(&name)).await;
        assert!(
            started.elapsed() < REFUSAL_BOUND,
            "{st} after {:?}",
            started.elapsed()
        );
        match st {
            202 => acked.push(Posted::from_report(&name, &v)),
            503 => {
                assert_eq!(v["error"]["code"], "unavailable", "{v}");
                refused += 1;
                if refused >= 20 {
                    break;
                }
            }
            other => panic!("{other}: {v}"),
        }
    }
    assert!(refused >= 20, "the full disk never refused a write");
    let (ready, body) = readyz(&s).await;
    assert_eq!(ready, 503, "not ready while writes fail: {body}");
    assert_eq!(body["checks"]["writer"]["ok"], false, "{body}");

    // The operator grows the volume, as in the issue: no restart.
    disk.resize(40);
    let took = recovery(&s, "AfterGrow", &mut acked).await;
    eprintln!("disk full: ingestion back {took:?} after the volume grew");
    assert!(took < RECOVERY_GOAL, "ingestion came back after {took:?}");
    let (ready, body) = readyz(&s).await;
    assert_eq!(ready, 200, "ready again once writes work: {body}");
    assert_nothing_lost(&s, &acked).await;
    let metrics = s.http.get(s.u("/metrics")).send().await.unwrap();
    let text = metrics.text().await.unwrap();
    assert!(
        text.lines().any(|l| l
            .starts_with("sitrep_subsystem_failures_total{subsystem=\"writer\"}")
            && !l.ends_with(" 0")),
        "{text}"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_unreachable_mid_storm_is_refused_fast_and_recovers() {
    let Some(pg) = PgSchema::create().await else {
        return;
    };
    let url = pg.url.clone();
    let s = common::start_with(|c| {
        high_rate(c);
        c.database_url = Some(url.clone());
    })
    .await;
    let stop = Arc::new(AtomicBool::new(false));
    let storm = {
        let (http, base, stop) = (s.http.clone(), s.url.clone(), stop.clone());
        tokio::spawn(async move { faultkit::storm(http, base, "Pg", 3, stop).await })
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    pg.proxy.cut();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let started = Instant::now();
    let (ready, body) = readyz(&s).await;
    assert_eq!(
        ready, 503,
        "not ready while the database is unreachable: {body}"
    );
    assert!(
        started.elapsed() < REFUSAL_BOUND,
        "/readyz took {:?}",
        started.elapsed()
    );

    pg.proxy.restore();
    let mut acked = Vec::new();
    let took = recovery(&s, "PgBack", &mut acked).await;
    eprintln!("postgres: ingestion back {took:?} after the database was reachable again");
    assert!(took < RECOVERY_GOAL, "ingestion came back after {took:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::SeqCst);
    let deliveries = storm.await.unwrap();
    let refused = deliveries.iter().filter(|d| d.status == 503).count();
    assert!(refused > 0, "the outage refused nothing");
    for d in &deliveries {
        assert!(matches!(d.status, 202 | 503), "{}: {}", d.status, d.report);
        assert!(
            d.took < REFUSAL_BOUND,
            "{} answered {} after {:?}",
            d.name,
            d.status,
            d.took
        );
        if d.status == 202 {
            acked.push(Posted::from_report(&d.name, &d.report));
        }
    }
    let slowest = deliveries.iter().map(|d| d.took).max().unwrap_or_default();
    eprintln!(
        "postgres: {} deliveries, {refused} refused, slowest answer {slowest:?}",
        deliveries.len()
    );
    let (ready, body) = readyz(&s).await;
    assert_eq!(ready, 200, "ready again: {body}");
    assert_nothing_lost(&s, &acked).await;
    s.stop().await;
    pg.done().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_blob_directory_is_refused_and_recovers() {
    let s = common::start_with(high_rate).await;
    let id = s
        .declare(serde_json::json!({"title": "blobs", "runbooks": ["local-service.md"]}))
        .await;
    let run = serde_json::json!({"runbook": "local-service.md", "step": "leaky"});
    let path = format!("/api/v1/incidents/{id}/runs");
    let blobs = s.state.app().data_dir().join("blobs");
    let Some(mut ro) = ReadOnly::make("blob-read-only", &blobs) else {
        return;
    };
    let (ready, body) = readyz(&s).await;
    assert_eq!(
        ready, 503,
        "not ready while blobs cannot be written: {body}"
    );
    assert_eq!(body["checks"]["blob_store"]["ok"], false, "{body}");
    // A run whose output cannot be kept is a 503 with Retry-After, and is recorded as an
    // error (not left running); alerts are still taken (they need no blob).
    let r = s
        .http
        .post(s.u(&path))
        .bearer_auth(&s.responder)
        .json(&run)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 503);
    assert!(r.headers().contains_key("retry-after"));
    let (st, v) = post_alert(&s, &generic_alert("DuringReadOnly")).await;
    assert_eq!(st, 202, "{v}");
    let acked = vec![Posted::from_report("DuringReadOnly", &v)];

    ro.restore();
    let cleared = Instant::now();
    let (st, v) = s.post(&path, &s.responder, run.clone()).await;
    let took = cleared.elapsed();
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["run"]["status"], "succeeded", "{v}");
    eprintln!("blob dir: a run stored its output {took:?} after the directory was writable");
    assert!(took < RECOVERY_GOAL);
    let (ready, body) = readyz(&s).await;
    assert_eq!(ready, 200, "ready again: {body}");
    let statuses: Vec<String> = s
        .timeline(&id)
        .await
        .iter()
        .filter(|e| e["record"]["type"] == "step.run")
        .map(|e| {
            e["record"]["payload"]["status"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        })
        .collect();
    assert_eq!(statuses, ["error", "succeeded"]);
    let text = s
        .http
        .get(s.u("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("sitrep_subsystem_failures_total{subsystem=\"blob_store\"} 1"),
        "{text}"
    );
    assert_nothing_lost(&s, &acked).await;
    s.stop().await;
}

/// No page twice, none skipped: escalation page ids are deterministic, so a clock
/// stepped back an hour re-sends nothing and fires nothing early, and stepped forward
/// fires the level that became due, once. A clock step is no failure: `/readyz` stays
/// ready throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clock_step_during_escalation_pages_once() {
    use common::{Stepped, receiver};
    use faultkit::clock::{policy, two_passes};
    let (url, got) = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("escalation.toml");
    std::fs::write(&path, policy(&url)).unwrap();
    let s = common::start_with(|c| {
        high_rate(c);
        c.escalation = Some(path.clone());
    })
    .await;
    let clock = Arc::new(Stepped::default());
    s.state.set_paging_clock(clock.clone());
    let body = common::alertmanager(
        "{}:{alertname=\"LocalServiceDown\"}",
        &[("LocalServiceDown", "web-1", "firing")],
    );
    let (st, v) = s.alert("alertmanager", &body).await;
    assert_eq!(st, 202, "{v}");
    let acked = vec![Posted::from_report("LocalServiceDown", &v)];
    s.until(30, || async {
        (!got.deliveries("oncall").is_empty()).then_some(())
    })
    .await;

    const HOUR: i64 = 3_600_000;
    clock.step(-HOUR);
    two_passes(&s).await;
    assert_eq!(
        got.deliveries("oncall").len(),
        1,
        "stepped back: nothing is sent again"
    );
    assert!(
        got.deliveries("boss").is_empty(),
        "stepped back: nothing fires early"
    );
    assert_eq!(readyz(&s).await.0, 200);

    clock.step(2 * HOUR);
    s.until(30, || async {
        (!got.deliveries("boss").is_empty()).then_some(())
    })
    .await;
    two_passes(&s).await;
    let boss = got.deliveries("boss");
    let mut unique = boss.clone();
    unique.dedup();
    assert_eq!(
        (boss.len(), unique.len()),
        (1, 1),
        "level 1 fires once: {boss:?}"
    );
    assert_eq!(got.deliveries("oncall").len(), 1);
    assert_eq!(readyz(&s).await.0, 200);
    assert_nothing_lost(&s, &acked).await;
    s.stop().await;
}
