//! The alert round trip with Debian's real programs: the rule file sitrep makes from its
//! runbooks (`sitrep_runbook::prometheus_rules`, what `sitrep runbook rules` prints) is
//! loaded by `prometheus`, which scrapes a target this test serves, fires the rule and
//! sends the alert to `prometheus-alertmanager`, whose webhook posts it to sitrep's
//! Alertmanager receiver with the receiver token; sitrep opens an incident with the
//! runbook that declares the rule attached, and the alert's `runbook_url` opens that
//! runbook's page. Each hop that did not happen is named when the wait runs out.
//!
//! Needs `/usr/bin/prometheus` and `/usr/bin/prometheus-alertmanager` (`.ci/test`
//! installs them; `SITREP_TEST_PROMETHEUS` / `SITREP_TEST_ALERTMANAGER` override).

// Tests read fixture files and start programs.
#![allow(clippy::disallowed_methods)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const RUNBOOK: &str = "checkout/queue.md";
const ALERT: &str = "CheckoutQueueBacklog";
/// How long the whole chain may take: startup, a 1 s scrape and evaluation, Alertmanager
/// with no group wait. It takes a few seconds; the bound is for a loaded CI machine.
const WAIT: Duration = Duration::from_secs(90);

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/rules/runbooks")
}

/// A program started by the test, killed when dropped (also when the test panics).
struct Proc {
    name: &'static str,
    child: std::process::Child,
    log: PathBuf,
}

impl Proc {
    fn spawn(name: &'static str, bin: &str, args: &[String], log: PathBuf) -> Proc {
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(bin)
            .args(args)
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("{bin}: {e} (apt install prometheus prometheus-alertmanager)")
            });
        Proc { name, child, log }
    }

    /// The end of its log, for a failure message.
    fn tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let from = lines.len().saturating_sub(15);
        format!(
            "--- {} log (last lines) ---\n{}",
            self.name,
            lines[from..].join("\n")
        )
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free loopback port (bound, read, released: the program binds it next).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn bin(env: &str, default: &str) -> String {
    std::env::var(env).unwrap_or_else(|_| default.to_owned())
}

/// The scrape target: one gauge over the rule's threshold; counts the scrapes.
async fn serve_target(listener: tokio::net::TcpListener, scrapes: Arc<AtomicUsize>) {
    let body = "# TYPE checkout_queue_depth gauge\ncheckout_queue_depth 500\n";
    loop {
        let Ok((mut conn, _)) = listener.accept().await else {
            return;
        };
        scrapes.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(async move {
            let mut buf = vec![0u8; 8192];
            let mut read = 0;
            while read < buf.len() {
                match conn.read(&mut buf[read..]).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => read += n,
                }
                if buf[..read].windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
            let reply = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\n\
                 content-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = conn.write_all(reply.as_bytes()).await;
        });
    }
}

fn alertmanager_config(sitrep: &str) -> String {
    format!(
        "route:\n  receiver: sitrep\n  group_by: [alertname]\n  group_wait: 0s\n  \
         group_interval: 1s\n  repeat_interval: 1h\n\
         receivers:\n  - name: sitrep\n    webhook_configs:\n      \
         - url: {sitrep}/api/v1/alerts/alertmanager\n        send_resolved: true\n        \
         http_config:\n          authorization:\n            credentials: receiver-secret\n"
    )
}

fn prometheus_config(rules: &Path, am_port: u16, target_port: u16) -> String {
    format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
         rule_files: ['{}']\n\
         alerting:\n  alertmanagers:\n    - static_configs:\n        \
         - targets: ['127.0.0.1:{am_port}']\n\
         scrape_configs:\n  - job_name: checkout\n    static_configs:\n      \
         - targets: ['127.0.0.1:{target_port}']\n",
        rules.display()
    )
}

/// The runbook directory as the server's library names it: paths relative to it.
fn sources(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "md") {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                out.push((rel, std::fs::read_to_string(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

async fn get_json(http: &reqwest::Client, url: &str) -> Value {
    match http.get(url).send().await {
        Ok(r) => r.json().await.unwrap_or(Value::Null),
        Err(_) => Value::Null,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_from_a_runbook_fires_through_prometheus_and_alertmanager_into_an_incident() {
    let s = common::start_with(|c| c.runbooks = Some(fixtures())).await;
    let tmp = tempfile::tempdir().unwrap();

    // The rule file, exactly as `sitrep runbook rules` makes it, linking to this server.
    let made = sitrep_runbook::prometheus_rules(sources(&fixtures()), &s.url).unwrap();
    assert_eq!(made.problems, vec![]);
    let rules = tmp.path().join("sitrep-rules.yml");
    std::fs::write(&rules, made.file.to_yaml()).unwrap();

    let target = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target_port = target.local_addr().unwrap().port();
    let scrapes = Arc::new(AtomicUsize::new(0));
    let serving = tokio::spawn(serve_target(target, scrapes.clone()));

    let am_port = free_port();
    std::fs::write(tmp.path().join("am.yml"), alertmanager_config(&s.url)).unwrap();
    let am = Proc::spawn(
        "prometheus-alertmanager",
        &bin(
            "SITREP_TEST_ALERTMANAGER",
            "/usr/bin/prometheus-alertmanager",
        ),
        &[
            format!("--config.file={}", tmp.path().join("am.yml").display()),
            format!("--storage.path={}", tmp.path().join("am-data").display()),
            format!("--web.listen-address=127.0.0.1:{am_port}"),
            // One instance, no gossip port to collide with anything.
            "--cluster.listen-address=".to_owned(),
        ],
        tmp.path().join("am.log"),
    );

    let prom_port = free_port();
    let prom_cfg = tmp.path().join("prometheus.yml");
    std::fs::write(&prom_cfg, prometheus_config(&rules, am_port, target_port)).unwrap();
    let prom = Proc::spawn(
        "prometheus",
        &bin("SITREP_TEST_PROMETHEUS", "/usr/bin/prometheus"),
        &[
            format!("--config.file={}", prom_cfg.display()),
            format!(
                "--storage.tsdb.path={}",
                tmp.path().join("prom-data").display()
            ),
            format!("--web.listen-address=127.0.0.1:{prom_port}"),
        ],
        tmp.path().join("prometheus.log"),
    );

    let started = Instant::now();
    let incident = loop {
        if let Some(inc) = incident_with_runbook(&s).await {
            break inc;
        }
        if started.elapsed() > WAIT {
            let hop = missing_hop(&s, &scrapes, prom_port, am_port).await;
            panic!(
                "no incident with {RUNBOOK} after {WAIT:?}: {hop}\n{}\n{}",
                prom.tail(),
                am.tail()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    eprintln!("alert round trip: {:?}", started.elapsed());
    check_incident(&s, &incident).await;

    drop(prom);
    drop(am);
    serving.abort();
    s.stop().await;
}

/// The incident sitrep opened for the alert, once it has the runbook and the alert.
async fn incident_with_runbook(s: &common::Server) -> Option<Value> {
    for inc in s.incidents().await {
        let id = inc["id"].as_str()?;
        let (_, v) = s.get(&format!("/api/v1/incidents/{id}"), &s.viewer).await;
        // The incident is committed before its alerts are: wait for both.
        let has_alert = v["alerts"].as_array().is_some_and(|a| !a.is_empty());
        if v["incident"]["runbooks"] == serde_json::json!([RUNBOOK]) && has_alert {
            return Some(v);
        }
    }
    None
}

/// What a user relies on: the incident names the alert, has the runbook's severity and
/// service, and the `runbook_url` Prometheus sent opens the runbook's page in sitrep.
async fn check_incident(s: &common::Server, v: &Value) {
    let inc = &v["incident"];
    let title = inc["title"].as_str().unwrap_or_default();
    assert!(title.starts_with(ALERT), "{v}");
    assert!(
        title.contains("holds 500 orders"),
        "summary template expanded: {v}"
    );
    assert_eq!(inc["severity"], "SEV2", "{v}");
    assert_eq!(inc["service"], "checkout", "{v}");
    let alert = &v["alerts"][0];
    assert_eq!(alert["labels"]["alertname"], ALERT, "{v}");
    let url = alert["annotations"]["runbook_url"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(url, format!("{}/runbooks/{RUNBOOK}", s.url), "{v}");
    // The link a responder clicks in the notification opens the runbook's page.
    let (cookie, _) = s.login(&s.viewer).await;
    let page = s.page(&cookie, &url[s.url.len()..]).await;
    assert!(page.contains("Checkout queue backlog"), "{page}");
}

/// The first hop of the chain that did not happen, for the failure message.
async fn missing_hop(
    s: &common::Server,
    scrapes: &AtomicUsize,
    prom_port: u16,
    am_port: u16,
) -> String {
    let http = reqwest::Client::new();
    if scrapes.load(Ordering::SeqCst) == 0 {
        return "Prometheus never scraped the test's target".to_owned();
    }
    let rules = get_json(&http, &format!("http://127.0.0.1:{prom_port}/api/v1/rules")).await;
    let alerts = get_json(
        &http,
        &format!("http://127.0.0.1:{prom_port}/api/v1/alerts"),
    )
    .await;
    if !format!("{alerts}").contains(ALERT) {
        return format!("Prometheus scraped but {ALERT} did not fire; its rules: {rules}");
    }
    let am = get_json(&http, &format!("http://127.0.0.1:{am_port}/api/v2/alerts")).await;
    if !format!("{am}").contains(ALERT) {
        return format!("Prometheus fired {ALERT} but Alertmanager never got it: {alerts}");
    }
    let metrics = s.state.metrics();
    let accepted = metrics.alerts_received("alertmanager", "accepted");
    if accepted == 0 {
        return format!(
            "Alertmanager holds {ALERT} but sitrep's receiver accepted nothing \
             (malformed: {}, unauthorized: see the Alertmanager log)",
            metrics.alerts_received("alertmanager", "malformed")
        );
    }
    format!(
        "sitrep accepted {accepted} deliveries but no incident has {RUNBOOK}: {:?}",
        s.incidents().await
    )
}
