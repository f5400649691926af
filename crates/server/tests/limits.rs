//! Connection limits (issue 14): stalled clients are cut by the header, body and idle
//! timeouts, the overall and per-address caps refuse at once instead of queueing, and
//! probes and existing clients keep answering meanwhile. Every client is on loopback;
//! Linux routes all of 127.0.0.0/8 there, so distinct source addresses stand for
//! distinct clients.

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use serde_json::json;
use sitrep_app::Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// Longest any single wait in these tests may take; reached only when a test fails.
const PATIENCE: Duration = Duration::from_secs(20);

fn addr(s: &common::Server) -> SocketAddr {
    s.url.trim_start_matches("http://").parse().unwrap()
}

fn lo(a: u8, b: u8, c: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, a, b, c))
}

/// A TCP connection to `to` from source address `from`.
async fn connect(from: IpAddr, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(from, 0)).unwrap();
    socket.connect(to).await.unwrap()
}

/// A client that sends half a request line and then nothing.
async fn stalled(from: IpAddr, to: SocketAddr) -> TcpStream {
    let mut tcp = connect(from, to).await;
    tcp.write_all(b"GET /heal").await.unwrap();
    tcp
}

/// Reads until the server closes the connection; returns what it sent and when it
/// closed. A reset counts as closed too. Fails after [`PATIENCE`].
async fn until_closed(mut tcp: TcpStream) -> (Vec<u8>, Instant) {
    let mut got = Vec::new();
    let read = tokio::time::timeout(PATIENCE, async {
        let mut buf = [0u8; 4096];
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return,
                Err(e) => panic!("read: {e}"),
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "the server kept the connection open past {PATIENCE:?}"
    );
    (got, Instant::now())
}

/// An HTTP client whose connections come from `from`.
fn client_from(from: IpAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(from)
        .timeout(PATIENCE)
        .build()
        .unwrap()
}

async fn healthz(http: &reqwest::Client, s: &common::Server) -> u16 {
    http.get(s.u("/healthz"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_clients_are_cut_at_the_header_timeout_and_healthz_still_answers() {
    const STALLED: usize = 500;
    let header = Duration::from_secs(3);
    let s = common::start_with(|c: &mut Config| {
        c.server.header_timeout = header;
        c.server.max_connections = 1000;
        c.server.max_connections_per_ip = 16;
    })
    .await;
    let to = addr(&s);
    let healthy = client_from(lo(0, 0, 2));
    assert_eq!(healthz(&healthy, &s).await, 200);

    // 500 clients from 32 addresses (16 each, the per-address cap), each watched from
    // the moment it is open so its close is timed when it happens.
    let mut watched = Vec::new();
    for i in 0..STALLED {
        let from = lo(0, 1, u8::try_from(i / 16 + 1).unwrap());
        // Timed from before the connection exists, so no server timer can start earlier.
        let opened = Instant::now();
        let tcp = stalled(from, to).await;
        watched.push(tokio::spawn(async move {
            let (got, closed) = until_closed(tcp).await;
            (got, closed - opened)
        }));
    }
    let asked = Instant::now();
    assert_eq!(healthz(&healthy, &s).await, 200, "a kept-alive client");
    assert_eq!(
        healthz(&client_from(lo(0, 0, 3)), &s).await,
        200,
        "a new client"
    );
    let answered = Instant::now();

    let mut waits = Vec::new();
    for w in watched {
        let (got, waited) = w.await.unwrap();
        assert!(
            got.is_empty(),
            "a stalled client was refused, not held: {got:?}"
        );
        assert!(
            waited >= header,
            "cut before the header timeout: {waited:?}"
        );
        waits.push(waited);
    }
    let (first, last) = (waits.iter().min().unwrap(), waits.iter().max().unwrap());
    assert!(
        *last < header + Duration::from_secs(5),
        "stalled clients closed late: {last:?}"
    );
    // Both probes answered while all 500 stalled clients were still connected.
    assert!(
        answered < asked + *first,
        "healthz took {:.3}s",
        secs(answered - asked)
    );
    println!(
        "{STALLED} stalled clients held, closed {:.2}-{:.2}s after opening (header_timeout {}s); \
         two /healthz answered in {:.3}s meanwhile",
        secs(*first),
        secs(*last),
        header.as_secs(),
        secs(answered - asked)
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_address_cap_refuses_extra_connections_at_once() {
    let s = common::start_with(|c: &mut Config| {
        c.server.header_timeout = Duration::from_secs(60);
        c.server.max_connections_per_ip = 8;
    })
    .await;
    let to = addr(&s);
    let crowd = lo(0, 0, 1);
    let mut held = Vec::new();
    for _ in 0..8 {
        held.push(stalled(crowd, to).await);
    }
    // The server accepts in order, so the ninth finds the first eight counted.
    let started = Instant::now();
    let (got, closed) = until_closed(connect(crowd, to).await).await;
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 503 "), "{text}");
    println!(
        "ninth connection from one address answered 503 and closed in {:.3}s",
        secs(closed - started)
    );
    assert_eq!(
        healthz(&client_from(lo(0, 0, 2)), &s).await,
        200,
        "another address"
    );

    // A closed connection gives its slot back: the address may connect again.
    drop(held.pop());
    let again = client_from(crowd);
    s.until(20, || async {
        let r = again.get(s.u("/healthz")).send().await;
        r.is_ok_and(|r| r.status().as_u16() == 200).then_some(())
    })
    .await;
    drop(held);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overall_cap_refuses_new_connections_while_existing_ones_keep_working() {
    let s = common::start_with(|c: &mut Config| {
        c.server.header_timeout = Duration::from_secs(60);
        c.server.idle_timeout = Duration::from_secs(60);
        c.server.max_connections = 20;
        c.server.max_connections_per_ip = 1000;
    })
    .await;
    let to = addr(&s);
    let healthy = client_from(lo(0, 0, 2));
    assert_eq!(healthz(&healthy, &s).await, 200);
    let mut held = Vec::new();
    for _ in 0..19 {
        held.push(stalled(lo(0, 0, 1), to).await);
    }
    // The 21st connection, from an address with none open yet.
    let (got, _) = until_closed(connect(lo(0, 0, 3), to).await).await;
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 503 "), "{text}");
    // The client connected before the cap filled keeps its connection and is served.
    assert_eq!(healthz(&healthy, &s).await, 200);
    drop(held);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_request_body_is_cut_at_the_body_timeout() {
    let body = Duration::from_secs(1);
    let s = common::start_with(|c: &mut Config| {
        c.server.body_timeout = body;
        c.server.request_timeout = Duration::from_secs(60);
    })
    .await;
    let mut tcp = connect(lo(0, 0, 1), addr(&s)).await;
    let head = format!(
        "POST /api/v1/incidents HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\n\
         content-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"title\":",
        s.responder
    );
    let sent = Instant::now();
    tcp.write_all(head.as_bytes()).await.unwrap();
    let (got, closed) = until_closed(tcp).await;
    let text = String::from_utf8_lossy(&got);
    // Answered long before request_timeout (60 s), and never as a success.
    assert!(text.starts_with("HTTP/1.1 4"), "{text}");
    assert!(closed - sent >= body, "{:?}", closed - sent);
    println!(
        "body stalled: {} after {:.2}s",
        text.lines().next().unwrap_or_default(),
        secs(closed - sent)
    );
    assert!(s.incidents().await.is_empty(), "nothing was declared");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_kept_alive_connection_is_closed_at_the_idle_timeout() {
    let idle = Duration::from_secs(1);
    let s = common::start_with(|c: &mut Config| {
        c.server.header_timeout = Duration::from_secs(60);
        c.server.idle_timeout = idle;
    })
    .await;
    let mut tcp = connect(lo(0, 0, 1), addr(&s)).await;
    let sent = Instant::now();
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let (got, closed) = until_closed(tcp).await;
    let text = String::from_utf8_lossy(&got).to_lowercase();
    assert!(text.starts_with("http/1.1 200 "), "{text}");
    assert!(
        !text.contains("connection: close"),
        "kept alive first: {text}"
    );
    assert!(closed - sent >= idle, "{:?}", closed - sent);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_stream_outlasts_the_header_and_idle_timeouts() {
    let s = common::start_with(|c: &mut Config| {
        c.server.header_timeout = Duration::from_secs(1);
        c.server.idle_timeout = Duration::from_secs(1);
    })
    .await;
    let id = s.declare(json!({"title": "live"})).await;
    let mut stream = client_from(lo(0, 0, 2))
        .get(s.u(&format!("/api/v1/incidents/{id}/events")))
        .bearer_auth(&s.viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status().as_u16(), 200);
    // A clock made of the server's own timeout: once this stalled client is cut, more
    // than both timeouts have passed since the stream began.
    until_closed(stalled(lo(0, 0, 1), addr(&s)).await).await;
    let fresh = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let posted = fresh
        .post(s.u(&format!("/api/v1/incidents/{id}/notes")))
        .bearer_auth(&s.responder)
        .json(&json!({"text": "still streaming"}))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status().as_u16(), 201);
    let mut seen = String::new();
    let found = tokio::time::timeout(PATIENCE, async {
        while let Some(chunk) = stream.chunk().await.unwrap() {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if seen.contains("still streaming") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(found, Ok(true), "{seen}");
    s.stop().await;
}
