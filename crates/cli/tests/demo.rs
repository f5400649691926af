//! The README's first command, as a binary: `sitrep demo` prints a URL and a token that
//! log in, serves a live incident, and stops cleanly on Ctrl-C, deleting its data.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn sitrep_demo_serves_and_stops_cleanly() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sitrep"))
        .args(["demo", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let (mut url, mut token, mut data) = (String::new(), String::new(), String::new());
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut line = String::new();
    while (url.is_empty() || token.is_empty() || data.is_empty()) && Instant::now() < deadline {
        line.clear();
        if out.read_line(&mut line).unwrap() == 0 {
            break;
        }
        let l = line.trim();
        if let Some(u) = l.strip_prefix("Open") {
            url = u.trim().to_owned();
        } else if let Some(t) = l.strip_prefix("Log in with") {
            token = t.trim().to_owned();
        } else if let Some(d) = l.strip_prefix("sitrep incident list --data-dir") {
            data = d.trim().to_owned();
        }
    }
    assert!(
        url.starts_with("http://127.0.0.1:") && url.contains("/incidents/"),
        "{url:?}"
    );
    assert!(token.starts_with("sitrep_"), "{token:?}");

    // The token works against the API, and the incident is there.
    let base = url
        .split("/incidents")
        .next()
        .unwrap()
        .trim_start_matches("http://")
        .to_owned();
    let mut s = std::net::TcpStream::connect(&base).unwrap();
    write!(s, "GET /api/v1/incidents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n").unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(resp.contains("ShopfrontCheckoutErrors"), "{resp}");

    // Ctrl-C: a clean exit, and the temporary data is gone.
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let root = std::path::Path::new(&data).parent().unwrap();
    assert!(!root.exists(), "{} removed on exit", root.display());
}
