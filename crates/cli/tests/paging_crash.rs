//! Crash test for paging: kill -9 the server while a page is pending (its receiver is
//! down), restart it, and the page is delivered: nothing lost across the crash. On the
//! data dir's SQLite file, and on a fresh PostgreSQL schema when
//! `SITREP_TEST_DATABASE_URL` is set: there the killed server held the connections and
//! the page's claimed job, and the restarted one reopens the same schema.

mod common;
mod postgres;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::stderr;

/// A webhook receiver on loopback: answers 503 until `up`, then 200; records
/// `(status answered, X-Sitrep-Delivery)` per request.
struct Receiver {
    url: String,
    up: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<(u16, String)>>>,
}

fn receiver() -> Receiver {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    let up = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (u, s) = (up.clone(), seen.clone());
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut len = 0usize;
            let mut delivery = String::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                if lower.starts_with("x-sitrep-delivery:") {
                    delivery = line["x-sitrep-delivery:".len()..].trim().to_owned();
                }
            }
            let mut body = vec![0u8; len];
            let _ = reader.read_exact(&mut body);
            let status = if u.load(Ordering::SeqCst) { 200 } else { 503 };
            s.lock().unwrap().push((status, delivery));
            let reason = if status == 200 {
                "OK"
            } else {
                "Service Unavailable"
            };
            let _ = write!(
                conn,
                "HTTP/1.1 {status} {reason}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
        }
    });
    Receiver { url, up, seen }
}

fn serve(config: &std::path::Path) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sitrep"))
        .args([
            "serve",
            "--config",
            config.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ])
        .env("SITREP_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("sitrep serving on"), "{line:?}");
    child
}

fn wait_for(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "{what} within {secs}s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Writes an escalation policy paging `rx` and a config over it into `dir`; the config
/// names `database_url` when given (otherwise the data dir's SQLite file is used).
fn write_config(dir: &Path, rx: &Receiver, database_url: Option<&str>) -> PathBuf {
    std::fs::write(
        dir.join("escalation.toml"),
        format!(
            "[[people]]\nid = \"oncall\"\nname = \"On Call\"\ncontacts = [{{ id = \"hook\", webhook = \"{}\" }}]\n\n\
             [[policies]]\nid = \"p\"\n[[policies.levels]]\ntargets = [\"person:oncall\"]\n\n\
             [[services]]\nid = \"local-svc\"\npolicy = \"p\"\n",
            rx.url
        ),
    )
    .unwrap();
    let database = database_url
        .map(|url| format!("database_url = \"{url}\"\n"))
        .unwrap_or_default();
    let config = dir.join("sitrep.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"data\"\n{database}runbooks = \"{}\"\nescalation = \"escalation.toml\"\n\n[notify]\nclaim_lock = \"2s\"\ntimeout = \"2s\"\n",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/app/runbooks")
        ),
    )
    .unwrap();
    config
}

/// The event types on incident 1's timeline, as `sitrep incident show` prints them.
fn timeline_types(cfg: &str) -> Vec<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_sitrep"))
        .args(["--json", "incident", "show", "1", "--config", cfg])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["record"]["type"].as_str().unwrap().to_owned())
        .collect()
}

/// Declares incident 1 on the service `write_config` routes to the receiver.
fn declare(cfg: &str) {
    let out = Command::new(env!("CARGO_BIN_EXE_sitrep"))
        .args([
            "incident",
            "declare",
            "checkout down",
            "--service",
            "local-svc",
            "--config",
            cfg,
            "--as",
            "ann",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

/// Serves until the first (failing, the receiver is down) delivery attempt, then kills
/// the server with SIGKILL; returns that attempt's delivery id.
fn crash_with_the_page_pending(config: &Path, rx: &Receiver) -> String {
    let mut server = serve(config);
    wait_for(15, "a first (failing) delivery attempt", || {
        !rx.seen.lock().unwrap().is_empty()
    });
    server.kill().unwrap(); // SIGKILL
    server.wait().unwrap();
    let first = rx.seen.lock().unwrap()[0].clone();
    assert_eq!(first.0, 503);
    assert!(
        !first.1.is_empty(),
        "the delivery id travels in X-Sitrep-Delivery"
    );
    first.1
}

/// The whole story on one database: declare, crash with the page pending, restart,
/// delivered exactly once and on the record.
fn page_survives_a_crash(dir: &Path, database_url: Option<&str>) {
    let rx = receiver();
    let config = write_config(dir, &rx, database_url);
    let cfg = config.to_str().unwrap();
    declare(cfg);
    let delivery = crash_with_the_page_pending(&config, &rx);

    // The receiver recovers; a new server process delivers the same page.
    rx.up.store(true, Ordering::SeqCst);
    let mut server = serve(&config);
    let delivered = |(s, d): &(u16, String)| *s == 200 && *d == delivery;
    wait_for(20, "the page delivered after the restart", || {
        rx.seen.lock().unwrap().iter().any(delivered)
    });
    let pid = nix::unistd::Pid::from_raw(i32::try_from(server.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    assert!(server.wait().unwrap().success());

    // Exactly one successful delivery of that page, and it is on the timeline.
    let seen = rx.seen.lock().unwrap().clone();
    assert_eq!(seen.iter().filter(|x| delivered(x)).count(), 1, "{seen:?}");
    let types = timeline_types(cfg);
    assert!(
        types.iter().any(|t| t == "page.attempt") && types.iter().any(|t| t == "page.delivered"),
        "{types:?}"
    );
}

#[test]
fn a_page_pending_at_a_crash_is_delivered_after_restart() {
    // Asked first, so CI without a PostgreSQL URL fails before the SQLite half runs.
    let postgres = postgres::postgres_url();
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    page_survives_a_crash(dir.path(), None);
    assert!(dir.path().join("data/sitrep.db").is_file());
    eprintln!(
        "sqlite: delivered after the crash ({:.2?})",
        started.elapsed()
    );
    let mut ran = vec!["sqlite"];
    if let Some(base) = postgres {
        let started = Instant::now();
        let schema = postgres::Schema::create(&base);
        let dir = tempfile::tempdir().unwrap();
        page_survives_a_crash(dir.path(), Some(&schema.url()));
        // The binaries kept the story in the schema, nothing in a file of the data dir.
        let delivered = "SELECT count(*) FROM ledger_entries WHERE event_type = 'page.delivered'";
        assert_eq!(schema.query_i64(delivered), 1);
        assert!(!dir.path().join("data/sitrep.db").exists());
        eprintln!(
            "postgres: delivered after the crash ({:.2?})",
            started.elapsed()
        );
        ran.push("postgres");
    }
    eprintln!("paging crash test ran on {ran:?}");
}
