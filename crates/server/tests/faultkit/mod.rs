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
