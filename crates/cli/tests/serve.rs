//! `sitrep token` on a data dir and `sitrep serve` end to end: the printed URL answers,
//! a bootstrap token authenticates, and SIGTERM stops the server cleanly.

mod common;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{sitrep, stdout};

/// A minimal HTTP/1.1 GET; returns the status code and the body.
fn get(addr: &str, path: &str, token: Option<&str>) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    (status, body)
}

#[test]
fn token_bootstrap_and_serve_until_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let runbooks = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/app/runbooks");

    let out = sitrep(&[
        "--json",
        "token",
        "--data-dir",
        data,
        "create",
        "ops",
        "--role",
        "admin",
    ]);
    assert!(out.status.success(), "{out:?}");
    let created: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("sitrep_"));
    let bad = sitrep(&["token", "create", "x", "--role", "root", "--data-dir", data]);
    assert_eq!(bad.status.code(), Some(2));

    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sitrep"))
        .args([
            "serve",
            "--data-dir",
            data,
            "--runbooks",
            runbooks,
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
    let url = line
        .trim()
        .strip_prefix("sitrep serving on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    assert!(started.elapsed() < Duration::from_secs(20));

    assert_eq!(get(&url, "/healthz", None).0, 200);
    assert_eq!(get(&url, "/api/v1/whoami", None).0, 401);
    let (status, body) = get(&url, "/api/v1/whoami", Some(&secret));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"name\":\"ops\""), "{body}");
    let (status, body) = get(&url, "/api/v1/runbooks", Some(&secret));
    assert_eq!(status, 200);
    assert!(body.contains("local-service.md"), "{body}");

    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "no exit within 15s of SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");

    // The data dir is free again: token list and revoke work on it directly.
    let out = sitrep(&["--json", "token", "list", "--data-dir", data]);
    assert!(out.status.success(), "{out:?}");
    let list: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(list[0]["name"], "ops");
    assert!(!stdout(&out).contains(&secret));
    let id = list[0]["id"].as_str().unwrap();
    let out = sitrep(&["token", "revoke", id, "--data-dir", data]);
    assert!(out.status.success(), "{out:?}");
    let out = sitrep(&["--json", "token", "list", "--data-dir", data]);
    let list: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(list[0]["revoked_ms"].is_i64());
}
