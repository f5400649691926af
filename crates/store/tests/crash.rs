//! Durability: a process committing a burst of events is killed with SIGKILL mid-burst;
//! after reopening, every event it acknowledged is there and the ledger verifies. On
//! SQLite the killed process held the database file; on PostgreSQL (when
//! `SITREP_TEST_DATABASE_URL` is set, in a schema of its own) it held the connections,
//! and the server rolls back whatever it had in flight. The test re-executes its own
//! binary as the child (selected by an env var naming the database URL).

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use sitrep_ledger::Record;
use sitrep_store::{Backend, Change, Store, StoreOptions};

const CHILD_URL: &str = "SITREP_STORE_CRASH_CHILD_URL";
const TEST_NAME: &str = "kill9_mid_burst_loses_no_acknowledged_event";
const BURST: u64 = 10_000;
const TASKS: u64 = 16;
/// Acknowledgements the parent waits for before it kills the child.
const KILL_AFTER: usize = 1_000;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn record(task: u64, i: u64) -> Record {
    let mut r = Record::new("burst.event", 1_700_000_000_000 + i, "crash-test");
    r.payload = BTreeMap::from([
        ("task".to_string(), task.to_string()),
        ("i".to_string(), i.to_string()),
    ]);
    r
}

/// The child: commit the burst from several tasks (so commits are grouped) and print
/// each acknowledgement as soon as `commit` returns.
fn child(url: &str) {
    runtime().block_on(async {
        let mut opts = StoreOptions::new(url.to_owned(), common::signer(), common::ORIGIN);
        // Checkpoints during the burst too, so recovery also meets a signed prefix.
        opts.checkpoint_every = std::time::Duration::from_millis(50);
        let store = Store::open(opts).await.expect("child open");
        let mut handles = Vec::new();
        for task in 0..TASKS {
            let store = store.clone();
            handles.push(tokio::spawn(async move {
                for i in 0..BURST / TASKS {
                    let change = Change {
                        writes: vec![],
                        events: vec![record(task, i)],
                    };
                    let c = store.commit(change).await.expect("child commit");
                    // println! locks stdout and flushes at the newline.
                    println!("ack {} {task} {i}", c.indexes[0]);
                }
            }));
        }
        for h in handles {
            h.await.expect("child task");
        }
    });
}

/// Starts the child on `url`, kills it with SIGKILL after `KILL_AFTER`
/// acknowledgements, and returns every `(index, task, i)` it acknowledged.
fn burst_and_kill(url: &str) -> Vec<(u64, u64, u64)> {
    let mut proc = Command::new(std::env::current_exe().expect("current exe"))
        .args([TEST_NAME, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_URL, url)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn child");
    let stdout = proc.stdout.take().expect("child stdout");
    let mut acks: Vec<(u64, u64, u64)> = Vec::new();
    let mut killed = false;
    // Lines already in the pipe when the kill lands were acknowledged too: read to EOF.
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("read child");
        let Some(rest) = line.strip_prefix("ack ") else {
            continue;
        };
        let f: Vec<u64> = rest
            .split(' ')
            .map(|x| x.parse().expect("ack field"))
            .collect();
        acks.push((f[0], f[1], f[2]));
        if !killed && acks.len() >= KILL_AFTER {
            let pid = Pid::from_raw(i32::try_from(proc.id()).expect("pid"));
            kill(pid, Signal::SIGKILL).expect("kill -9");
            killed = true;
        }
    }
    let status = proc.wait().expect("wait child");
    assert!(
        killed,
        "the child ended before {KILL_AFTER} acknowledgements"
    );
    assert!(!status.success(), "the child was not killed: {status:?}");
    assert!(
        (acks.len() as u64) < BURST,
        "the child finished the whole burst before the kill; the test proved nothing"
    );
    acks
}

/// One crash on `db`: the burst is killed, then a fresh store in this process opens the
/// same database, finds every acknowledged event, verifies the ledger and appends on.
async fn crash_and_reopen(db: common::Db) {
    let started = std::time::Instant::now();
    let url = db.url.clone();
    let acks = tokio::task::spawn_blocking(move || burst_and_kill(&url))
        .await
        .expect("child run");
    let store = db.open().await;
    let size = store.tree_size().await.unwrap();
    let events = store.events(0, size).await.unwrap();
    for &(index, task, i) in &acks {
        let e = events
            .get(usize::try_from(index).unwrap())
            .unwrap_or_else(|| panic!("acknowledged event {index} lost (tree {size})"));
        assert_eq!(e.record, record(task, i), "event {index}");
    }
    let report = store.verify_ledger().await.unwrap();
    assert!(report.ok(), "{report:?}");
    // Whatever the dead writer had in flight is gone, not holding the ledger: the next
    // commit lands right after the last entry.
    let next = store
        .commit(Change {
            writes: vec![],
            events: vec![record(TASKS, 0)],
        })
        .await
        .expect("commit after the crash");
    assert_eq!((next.indexes[0], next.tree_size), (size, size + 1));
    eprintln!(
        "{:?}: killed after {} acknowledgements; reopened with {size} events, {} checkpoints verified ({:.2?})",
        db.backend,
        acks.len(),
        report.checkpoints_checked,
        started.elapsed()
    );
    store.close().await;
}

#[test]
fn kill9_mid_burst_loses_no_acknowledged_event() {
    if let Ok(url) = std::env::var(CHILD_URL) {
        child(&url);
        return;
    }
    let ran = runtime().block_on(common::on_each_backend(crash_and_reopen));
    eprintln!("crash test ran on {ran:?}");
    let mut want = vec![Backend::Sqlite];
    if common::postgres_url().is_some() {
        want.push(Backend::Postgres);
    }
    assert_eq!(ran, want, "the crash test ran on every configured backend");
}
