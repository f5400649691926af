//! An alert storm (issue 20): 1,000 alert groups for one runbook with two read steps.
//! Unattended runs stay at the global cap, the server answers `/healthz` within 100 ms
//! throughout, the step with the same bound values for every group runs once and is
//! shared with every incident ("shared_with"), and every incident gets both results.

mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

const GROUPS: usize = 1000;
const CAP: usize = 4;

fn storm_runbooks() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/faults/runbooks")
}

/// A control: a trivial HTTP server on a runtime and OS thread of its own, probed
/// alongside `/healthz`. Its latency is what the machine adds (other processes, the
/// storm's own shells); sitrep must answer within 100 ms on top of that.
fn control_server() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}/healthz", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::from_std(listener).unwrap();
            let app = axum::Router::new().route("/healthz", axum::routing::get(|| async { "ok" }));
            let _ = axum::serve(l, app).await;
        });
    });
    url
}

/// Sorted latencies of GET `url` every 50 ms until `stop`.
async fn probe(http: reqwest::Client, url: String, stop: Arc<AtomicBool>) -> Vec<Duration> {
    let mut took = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        let t = Instant::now();
        let st = http.get(&url).send().await.unwrap().status();
        assert_eq!(st, 200);
        took.push(t.elapsed());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    took.sort();
    took
}

fn p99(took: &[Duration]) -> Duration {
    took[took.len() * 99 / 100]
}

fn group(n: usize) -> String {
    common::alertmanager(
        &format!("{{}}:{{alertname=\"StormAlert\",instance=\"host-{n}\"}}"),
        &[("StormAlert", &format!("host-{n}"), "firing")],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_of_a_thousand_groups_stays_at_the_cap() {
    let s = common::start_with(|c| {
        c.runbooks = Some(storm_runbooks());
        c.server.receivers.burst = 100_000;
        c.unattended.max_concurrent = CAP;
    })
    .await;
    // /healthz and the control are probed every 50 ms for as long as the storm lasts.
    let stop = Arc::new(AtomicBool::new(false));
    let health = tokio::spawn(probe(s.http.clone(), s.u("/healthz"), stop.clone()));
    let control = tokio::spawn(probe(
        reqwest::Client::new(),
        control_server(),
        stop.clone(),
    ));
    let started = Instant::now();
    // Eight senders at once, as several Alertmanagers would.
    let senders: Vec<_> = (0..8)
        .map(|w| {
            let (http, url) = (s.http.clone(), s.u("/api/v1/alerts/alertmanager"));
            tokio::spawn(async move {
                let mut out = Vec::new();
                for n in (w..GROUPS).step_by(8) {
                    let r = http
                        .post(&url)
                        .bearer_auth("receiver-secret")
                        .header("content-type", "application/json")
                        .body(group(n))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status().as_u16(), 202);
                    let v: Value = r.json().await.unwrap();
                    out.push((n, v["opened"][0].as_str().unwrap().to_owned()));
                }
                out
            })
        })
        .collect();
    let mut incidents = Vec::with_capacity(GROUPS);
    for t in senders {
        incidents.extend(t.await.unwrap());
    }
    incidents.sort();
    let posted = started.elapsed();
    // Every incident gets both results: its own host check, and the shared one.
    for (n, id) in &incidents {
        let runs = s
            .until(300, || async {
                let tl = s.timeline(id).await;
                let runs: Vec<Value> = tl
                    .into_iter()
                    .filter(|e| e["record"]["type"] == "step.run")
                    .collect();
                (runs.len() >= 2).then_some(runs)
            })
            .await;
        let step = |name: &str| {
            runs.iter()
                .find(|e| e["record"]["payload"]["step"] == name)
                .unwrap_or_else(|| panic!("{name} of {id}: {runs:?}"))["record"]["payload"]
                .clone()
        };
        let host = step("host");
        assert_eq!(host["status"], "succeeded", "{host}");
        assert!(
            host["bound"]
                .as_str()
                .unwrap()
                .contains(&format!("host-{n}")),
            "{host}"
        );
        assert_eq!(step("cluster")["status"], "succeeded");
    }
    let done = started.elapsed();
    stop.store(true, Ordering::SeqCst);
    let took = health.await.unwrap();
    let base = control.await.unwrap();
    let slowest = took.last().copied().unwrap_or_default();
    let (p99, base_p99) = (p99(&took), p99(&base));
    let over = took
        .iter()
        .filter(|t| **t >= Duration::from_millis(100))
        .count();
    eprintln!(
        "storm: /healthz {} probes, median {:?}, p99 {p99:?}, max {slowest:?}, {over} at 100 ms \
         or more; control p99 {base_p99:?}, max {:?}",
        took.len(),
        took[took.len() / 2],
        base.last().copied().unwrap_or_default(),
    );
    let stats = s.state.app().unattended_stats();
    eprintln!(
        "storm: {GROUPS} groups posted in {posted:?}, all results in {done:?}; \
         slowest /healthz {slowest:?}; {stats:?}"
    );
    assert_eq!(stats.cap, CAP);
    assert!(stats.peak <= CAP, "{stats:?}");
    assert_eq!(stats.peak, CAP, "the storm reaches the cap: {stats:?}");
    // The 99th percentile, not the maximum, and beyond what the machine adds to a
    // trivial server (the control): on a shared CI machine the OS parks processes for
    // longer than 100 ms now and then (docs/benchmarks.md has numbers).
    assert!(
        p99 < base_p99 + Duration::from_millis(100),
        "/healthz p99 {p99:?}, control p99 {base_p99:?}"
    );
    // The cluster step's plan is the same for every group: it ran far fewer times than
    // there are incidents, and the rest were shared.
    assert!(stats.shared >= GROUPS - 10, "{stats:?}");
    // Which incident ran the shared step first depends on the order ingestion and the
    // triage workers happened to take; any other incident's cluster run is shared with
    // the one that ran it, and says so on its timeline.
    let mut follower = None;
    for (_, id) in incidents.iter().take(20) {
        let tl = s.timeline(id).await;
        let cluster = tl
            .iter()
            .find(|e| {
                e["record"]["type"] == "step.run" && e["record"]["payload"]["step"] == "cluster"
            })
            .cloned()
            .unwrap_or_else(|| panic!("incident {id} has no cluster result"));
        if cluster["record"]["payload"]["shared_with"].is_string() {
            follower = Some(cluster);
            break;
        }
    }
    let cluster = follower.expect("one of the first 20 incidents shares the cluster run");
    assert!(
        cluster["record"]["payload"]["shared_with"]
            .as_str()
            .is_some_and(|w| w.starts_with('#')),
        "{cluster}"
    );
    let mut queued = 0;
    for (_, id) in &incidents {
        let tl = s.timeline(id).await;
        queued += tl
            .iter()
            .filter(|e| e["record"]["type"] == "step.queued")
            .count();
    }
    eprintln!("storm: {queued} step.queued events");
    assert!(queued > 0, "runs past the cap wait, and say so");
    s.stop().await;
}

/// Auto-triage is asked for durably, with the alerts: a request the process never got
/// to run (it stopped right after acknowledging the alert) runs after the restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_triage_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = sitrep_app::Config {
        data_dir: Some(data.clone()),
        runbooks: Some(storm_runbooks()),
        ..sitrep_app::Config::default()
    };
    // Ingested by an app with no server running: nothing triages it yet.
    let app = sitrep_app::App::open(cfg).await.unwrap();
    let ingestor = sitrep_app::Ingestor::load(app.clone()).await.unwrap();
    let source = sitrep_alerts::Source::Alertmanager;
    let batch = sitrep_app::ingest::parse(source, group(7).as_bytes()).unwrap();
    let report = ingestor
        .ingest_batch(source, "payload-7", &batch)
        .await
        .unwrap();
    let id = report.opened[0].clone();
    let jobs = app.store().jobs_for(&id).await.unwrap();
    assert!(
        jobs.iter()
            .any(|j| j.kind == sitrep_app::TRIAGE_JOB && j.state == "pending"),
        "{jobs:?}"
    );
    app.close().await;

    let s = common::start_with(|c| {
        c.data_dir = Some(data.clone());
        c.runbooks = Some(storm_runbooks());
    })
    .await;
    let steps = s
        .until(60, || async {
            let tl = s.timeline(&id).await;
            let steps: Vec<String> = tl
                .iter()
                .filter(|e| e["record"]["type"] == "step.run")
                .map(|e| {
                    e["record"]["payload"]["step"]
                        .as_str()
                        .unwrap_or("")
                        .to_owned()
                })
                .collect();
            (steps.len() >= 2).then_some(steps)
        })
        .await;
    let mut steps = steps;
    steps.sort();
    assert_eq!(steps, ["cluster", "host"]);
    let jobs = s
        .until(10, || async {
            let jobs = s.state.app().store().jobs_for(&id).await.unwrap();
            jobs.iter()
                .any(|j| j.kind == sitrep_app::TRIAGE_JOB && j.state == "done")
                .then_some(jobs)
        })
        .await;
    assert_eq!(
        jobs.iter()
            .filter(|j| j.kind == sitrep_app::TRIAGE_JOB)
            .count(),
        1
    );
    s.stop().await;
}
