//! Live streams (SSE) are bounded: caps per principal and overall, a slow subscriber is
//! dropped with a final `reconnect` event, and a stream ends when its token is revoked
//! or its session logged out (issue 21, point 3). Memory under 1,000 non-reading
//! streams is measured in `streams_memory.rs`.

mod common;

use sitrep_app::Principal;
use std::time::Duration;

use serde_json::{Value, json};
use sitrep_app::Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use common::Server;

async fn open(s: &Server, id: &str, token: &str) -> reqwest::Response {
    s.http
        .get(s.u(&format!("/api/v1/incidents/{id}/events")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

/// Reads a stream until it ends (or `secs` pass); returns everything it sent.
async fn read_to_end(mut r: reqwest::Response, secs: u64) -> String {
    let mut seen = String::new();
    let ended = tokio::time::timeout(Duration::from_secs(secs), async {
        while let Ok(Some(chunk)) = r.chunk().await {
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await;
    assert!(ended.is_ok(), "the stream did not end: {seen}");
    seen
}

async fn token_id(s: &Server, name: &str) -> String {
    let (st, v) = s.get("/api/v1/tokens", &s.admin).await;
    assert_eq!(st, 200, "{v}");
    v.as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_are_capped_per_principal_and_overall() {
    let s = common::start_with(|c: &mut Config| {
        c.server.streams.per_principal = 2;
        c.server.streams.total = 3;
    })
    .await;
    let id = s.declare(json!({"title": "caps"})).await;
    let a = open(&s, &id, &s.viewer).await;
    let _b = open(&s, &id, &s.viewer).await;
    assert_eq!((a.status().as_u16(), _b.status().as_u16()), (200, 200));
    let third = open(&s, &id, &s.viewer).await;
    assert_eq!(third.status().as_u16(), 429);
    let v: Value = third.json().await.unwrap();
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("per_principal"),
        "{v}"
    );
    // Another principal still gets one: the viewer's streams never starve others...
    let _c = open(&s, &id, &s.responder).await;
    assert_eq!(_c.status().as_u16(), 200);
    // ...until the server-wide cap.
    let over = open(&s, &id, &s.commander).await;
    assert_eq!(over.status().as_u16(), 429);
    let v: Value = over.json().await.unwrap();
    assert!(
        v["error"]["message"].as_str().unwrap().contains("total"),
        "{v}"
    );
    // A closed stream gives its slot back.
    drop(a);
    let again = s
        .until(10, || async {
            let r = open(&s, &id, &s.viewer).await;
            (r.status().as_u16() == 200).then_some(r)
        })
        .await;
    drop(again);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_ends_its_streams_with_a_final_event() {
    let s = common::start().await;
    let id = s.declare(json!({"title": "revoke"})).await;
    let r = open(&s, &id, &s.viewer).await;
    assert_eq!(r.status().as_u16(), 200);
    let vera = token_id(&s, "vera").await;
    let gone = s
        .http
        .delete(s.u(&format!("/api/v1/tokens/{vera}")))
        .bearer_auth(&s.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status().as_u16(), 200);
    let seen = read_to_end(r, 10).await;
    assert!(seen.contains("event: end"), "{seen}");
    assert!(seen.contains("revoked"), "{seen}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_elsewhere_ends_streams_at_the_next_recheck() {
    let s = common::start_with(|c: &mut Config| {
        c.server.streams.recheck = Duration::from_millis(200);
    })
    .await;
    let id = s.declare(json!({"title": "elsewhere"})).await;
    let r = open(&s, &id, &s.viewer).await;
    assert_eq!(r.status().as_u16(), 200);
    // As another replica or the CLI would: straight in the store, this server not told.
    let vera = token_id(&s, "vera").await;
    s.state
        .app()
        .revoke_token(&vera, &Principal::asserted("ada"))
        .await
        .unwrap();
    let seen = read_to_end(r, 10).await;
    assert!(seen.contains("event: end"), "{seen}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logging_out_ends_the_sessions_streams() {
    let s = common::start().await;
    let id = s.declare(json!({"title": "logout"})).await;
    let (cookie, csrf) = s.login(&s.viewer).await;
    let r = s
        .http
        .get(s.u(&format!("/api/v1/incidents/{id}/events")))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let out = s
        .http
        .post(s.u("/logout"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status().as_u16(), 303);
    let seen = read_to_end(r, 10).await;
    assert!(seen.contains("event: end"), "{seen}");
    assert!(seen.contains("the session ended"), "{seen}");
    s.stop().await;
}

/// Notes of about 16 KiB, `n` of them, four at a time.
pub async fn burst(s: &Server, id: &str, n: usize) {
    let text = "x".repeat(16_000);
    let path = format!("/api/v1/incidents/{id}/notes");
    for chunk in (0..n).collect::<Vec<_>>().chunks(4) {
        let posts = chunk
            .iter()
            .map(|i| s.post(&path, &s.responder, json!({"text": format!("{i} {text}")})));
        for (st, v) in futures_util::future::join_all(posts).await {
            assert_eq!(st, 201, "{v}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_does_not_read_is_dropped_with_a_reconnect_event() {
    let s = common::start_with(|c: &mut Config| {
        c.server.streams.buffer_bytes = 32 << 10;
    })
    .await;
    let id = s.declare(json!({"title": "slow"})).await;
    // A client with a small receive buffer that reads nothing for now.
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let mut tcp = sock
        .connect(s.url.trim_start_matches("http://").parse().unwrap())
        .await
        .unwrap();
    let req = format!(
        "GET /api/v1/incidents/{id}/events HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\n\r\n",
        s.viewer
    );
    tcp.write_all(req.as_bytes()).await.unwrap();
    // Until the server gives up on it (past the kernel's socket buffers, hyper's and
    // its own queue), while a reading subscriber keeps up.
    let mut reader = open(&s, &id, &s.commander).await;
    let read = tokio::spawn(async move {
        let mut n = 0usize;
        while let Ok(Some(chunk)) = reader.chunk().await {
            n += chunk.len();
        }
        n
    });
    let mut sent = 0;
    while s.state.metrics().streams_dropped("slow") == 0 {
        assert!(sent < 2000, "never dropped after {sent} notes");
        burst(&s, &id, 20).await;
        sent += 20;
    }
    // The reader stays.
    s.until(10, || async {
        (s.state.streams().open_count() == 1).then_some(())
    })
    .await;
    assert!(!read.is_finished());
    // Reading now, the slow client finds the final event, then the end.
    let mut all = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), tcp.read_to_end(&mut all))
        .await
        .expect("the dropped stream ends")
        .unwrap();
    let text = String::from_utf8_lossy(&all);
    let last = text.rfind("event: ").unwrap();
    assert!(
        text[last..].starts_with("event: reconnect"),
        "{}",
        &text[last..]
    );
    assert!(
        text[last..].contains("did not keep up"),
        "{}",
        &text[last..]
    );
    s.stop().await;
    assert!(read.await.unwrap() > 16_000 * sent / 2);
}
