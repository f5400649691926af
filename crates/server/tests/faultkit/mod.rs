//! Helpers of the fault-injection suite (`tests/faults.rs`): a size-limited tmpfs to
//! fill and grow, a ballast to fill it with, and alert posting that records what was
//! acknowledged.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::Server;

pub mod clock;
pub mod proxy;

/// Whether a fault that cannot be set up fails the test (CI) or skips it.
pub fn required() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Skips (outside CI) or fails (under CI) a test whose fault cannot be set up.
pub fn unavailable(fault: &str, why: &str) {
    assert!(
        !required(),
        "CI=true: fault {fault} cannot be set up: {why}"
    );
    eprintln!("skipping fault {fault}: {why} (under CI=true this fails)");
}

/// A tmpfs of a given size mounted on a temporary directory, unmounted on drop.
pub struct Tmpfs {
    _dir: tempfile::TempDir,
    mnt: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `mb` MiB, or `None` (after [`unavailable`]) when this process
    /// may not mount.
    pub fn mount(fault: &str, mb: u32) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let mnt = dir.path().join("mnt");
        std::fs::create_dir(&mnt).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mb}m"), "tmpfs"])
            .arg(&mnt)
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Tmpfs { _dir: dir, mnt }),
            Ok(o) => {
                unavailable(fault, &String::from_utf8_lossy(&o.stderr));
                None
            }
            Err(e) => {
                unavailable(fault, &format!("cannot run mount: {e}"));
                None
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.mnt
    }

    /// Grows (or shrinks) the mounted filesystem in place, as an operator would.
    pub fn resize(&self, mb: u32) {
        let st = Command::new("mount")
            .args(["-o", &format!("remount,size={mb}m")])
            .arg(&self.mnt)
            .status()
            .unwrap();
        assert!(st.success(), "remount {}", self.mnt.display());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazy: the server under test may still hold files open while it shuts down.
        let _ = Command::new("umount").arg("-l").arg(&self.mnt).status();
    }
}

/// Fills the filesystem at `dir` with a ballast file, then gives back `leave` bytes.
pub fn fill(dir: &Path, leave: u64) {
    let path = dir.join("ballast");
    let mut f = std::fs::File::create(&path).unwrap();
    let chunk = vec![0xa5u8; 64 * 1024];
    let mut written = 0u64;
    while f.write_all(&chunk).is_ok() {
        written += chunk.len() as u64;
    }
    // A short write may have left part of the last chunk.
    let len = std::fs::metadata(&path).unwrap().len().max(written);
    f.set_len(len.saturating_sub(leave)).unwrap();
    f.sync_all().unwrap();
}

/// A generic-webhook payload with one alert of its own group, big enough (2 KiB of
/// annotation) to fill a small disk in a few hundred posts.
pub fn generic_alert(name: &str) -> String {
    json!({"alerts": [{
        "labels": {"alertname": name, "service": "faults"},
        "annotations": {"summary": "x".repeat(2048)},
    }]})
    .to_string()
}

/// Posts to the generic receiver; a connection error is a failure of the test.
pub async fn post_alert(s: &Server, body: &str) -> (u16, Value) {
    s.alert("generic", body).await
}

/// An acknowledged alert and the incident it went into.
pub struct Posted {
    pub name: String,
    pub incident: String,
}

impl Posted {
    /// From a 202 ingest report (`opened` names the incident of a new group).
    pub fn from_report(name: &str, report: &Value) -> Posted {
        let incident = report["opened"][0]
            .as_str()
            .or_else(|| report["updated"][0].as_str())
            .unwrap_or_else(|| panic!("no incident in {report}"))
            .to_owned();
        Posted {
            name: name.to_owned(),
            incident,
        }
    }
}

/// Posts new alerts until one is acknowledged and returns how long that took; every
/// other answer must be a 503 (nothing unstored is acknowledged).
pub async fn recovery(s: &Server, prefix: &str, acked: &mut Vec<Posted>) -> Duration {
    let cleared = Instant::now();
    for n in 0.. {
        let name = format!("{prefix}{n}");
        let (st, v) = post_alert(s, &generic_alert(&name)).await;
        match st {
            202 => {
                acked.push(Posted::from_report(&name, &v));
                return cleared.elapsed();
            }
            503 => {}
            other => panic!("{other} while recovering: {v}"),
        }
        assert!(
            cleared.elapsed() < Duration::from_secs(30),
            "no recovery within 30 s: {v}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    unreachable!()
}

/// `/readyz`'s status and body.
pub async fn readyz(s: &Server) -> (u16, Value) {
    let r = s.http.get(s.u("/readyz")).send().await.unwrap();
    let st = r.status().as_u16();
    (st, r.json().await.unwrap_or(Value::Null))
}

#[path = "../../../../tests/support/postgres_url.rs"]
mod pg;

/// A fresh PostgreSQL schema reached through a [`proxy::Proxy`]: the URL sitrep uses,
/// the proxy, and the admin pool that drops the schema in [`PgSchema::done`].
pub struct PgSchema {
    pub url: String,
    pub proxy: proxy::Proxy,
    admin: sqlx::AnyPool,
    schema: String,
}

impl PgSchema {
    /// `None` (after [`unavailable`]) when no PostgreSQL is configured.
    pub async fn create() -> Option<PgSchema> {
        let Some(base) = pg::postgres_url() else {
            unavailable("postgres", "SITREP_TEST_DATABASE_URL is unset");
            return None;
        };
        sqlx::any::install_default_drivers();
        let admin = sqlx::AnyPool::connect(&base)
            .await
            .expect("connect to PostgreSQL");
        let schema = format!("sitrep_faults_{}", uuid::Uuid::now_v7().simple());
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&admin)
            .await
            .expect("create schema");
        // postgres://user[:pw]@host:port/db[?...]: swap host:port for the proxy's.
        let (scheme, rest) = base.split_once("://").expect("a URL");
        let (userinfo, hostpath) = match rest.rsplit_once('@') {
            Some((u, h)) => (format!("{u}@"), h),
            None => (String::new(), rest),
        };
        let (hostport, path) = hostpath.split_once('/').unwrap_or((hostpath, ""));
        let upstream = if hostport.contains(':') {
            hostport.to_owned()
        } else {
            format!("{hostport}:5432")
        };
        let proxy = proxy::Proxy::start(upstream).await;
        let sep = if path.contains('?') { '&' } else { '?' };
        let url = format!(
            "{scheme}://{userinfo}{}/{path}{sep}options=-c%20search_path%3D{schema}",
            proxy.addr
        );
        Some(PgSchema {
            url,
            proxy,
            admin,
            schema,
        })
    }

    pub async fn done(self) {
        sqlx::query(&format!("DROP SCHEMA {} CASCADE", self.schema))
            .execute(&self.admin)
            .await
            .expect("drop schema");
    }
}

/// What one storm delivery got.
pub struct Delivery {
    pub name: String,
    pub status: u16,
    pub took: Duration,
    pub report: Value,
}

/// Posts new alerts from `workers` tasks until `stop` is set; returns every answer.
pub async fn storm(
    http: reqwest::Client,
    base: String,
    prefix: &str,
    workers: usize,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Vec<Delivery> {
    let tasks: Vec<_> = (0..workers)
        .map(|w| {
            let (http, stop) = (http.clone(), stop.clone());
            let url = format!("{base}/api/v1/alerts/generic");
            let prefix = format!("{prefix}w{w}n");
            tokio::spawn(async move {
                let mut out = Vec::new();
                for n in 0.. {
                    if stop.load(std::sync::atomic::Ordering::SeqCst) {
                        break;
                    }
                    let name = format!("{prefix}{n}");
                    let started = Instant::now();
                    let r = http
                        .post(&url)
                        .bearer_auth("receiver-secret")
                        .header("content-type", "application/json")
                        .body(generic_alert(&name))
                        .send()
                        .await
                        .expect("the server answers");
                    let status = r.status().as_u16();
                    let report = r.json().await.unwrap_or(Value::Null);
                    out.push(Delivery {
                        name,
                        status,
                        took: started.elapsed(),
                        report,
                    });
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                out
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all
}

/// A directory made read-only in place (a read-only bind mount over itself, which also
/// binds root), writable again on [`ReadOnly::restore`] or drop.
pub struct ReadOnly {
    dir: PathBuf,
    mounted: bool,
}

impl ReadOnly {
    /// `None` (after [`unavailable`]) when this process may not mount.
    pub fn make(fault: &str, dir: &Path) -> Option<ReadOnly> {
        let run = |args: &[&str]| -> Result<(), String> {
            let o = Command::new("mount")
                .args(args)
                .arg(dir)
                .arg(dir)
                .output()
                .map_err(|e| format!("cannot run mount: {e}"))?;
            if o.status.success() {
                Ok(())
            } else {
                Err(String::from_utf8_lossy(&o.stderr).into_owned())
            }
        };
        if let Err(e) = run(&["--bind"]) {
            unavailable(fault, &e);
            return None;
        }
        let ro = ReadOnly {
            dir: dir.to_owned(),
            mounted: true,
        };
        // `remount` takes the mount point once.
        let o = Command::new("mount")
            .args(["-o", "remount,bind,ro"])
            .arg(dir)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        Some(ro)
    }

    pub fn restore(&mut self) {
        if std::mem::take(&mut self.mounted) {
            let st = Command::new("umount").arg(&self.dir).status().unwrap();
            assert!(st.success(), "umount {}", self.dir.display());
        }
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        if self.mounted {
            let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        }
    }
}
