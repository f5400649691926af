//! Real HTTP receivers on loopback for the tests and the benchmark: an axum server on
//! 127.0.0.1:0 that records every request and answers from a script (200, 500, 429 with
//! Retry-After, 400, hang...), then with a default reply.

#![allow(dead_code)] // each test binary uses a different part

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use sitrep_notify::{Message, MessageKind};

/// How the receiver answers one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// 200 with an `ok` body.
    Ok,
    /// This status, empty body.
    Status(u16),
    /// This status with this body.
    StatusBody(u16, String),
    /// This status with a `Retry-After` header.
    RetryAfter(u16, String),
    /// Never answer (the client's timeout must fire).
    Hang,
}

/// One request the receiver saw.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: serde_json::Value,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

#[derive(Default)]
struct Inner {
    script: VecDeque<Reply>,
    default: Option<Reply>,
    requests: Vec<Received>,
    record: bool,
}

/// A running receiver; it stops with the test's runtime.
#[derive(Clone)]
pub struct Receiver {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

impl Receiver {
    /// Starts a receiver that answers 200 unless told otherwise.
    pub async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner {
            record: true,
            ..Inner::default()
        }));
        let app = Router::new().fallback(handle).with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { addr, inner }
    }

    /// A URL on this receiver with a secret-looking path.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Answers the next requests with these replies, in order.
    pub fn push(&self, replies: impl IntoIterator<Item = Reply>) {
        self.inner.lock().unwrap().script.extend(replies);
    }

    /// Answers with this once the script is used up.
    pub fn set_default(&self, reply: Reply) {
        self.inner.lock().unwrap().default = Some(reply);
    }

    /// Stops keeping request bodies (the benchmark sends many).
    pub fn stop_recording(&self) {
        self.inner.lock().unwrap().record = false;
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Received> {
        self.inner.lock().unwrap().requests.clone()
    }

    pub fn count(&self) -> usize {
        self.inner.lock().unwrap().requests.len()
    }
}

async fn handle(
    State(inner): State<Arc<Mutex<Inner>>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let reply = {
        let mut g = inner.lock().unwrap();
        let body = if g.record {
            serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null)
        } else {
            serde_json::Value::Null
        };
        g.requests.push(Received {
            path: uri.path().to_string(),
            headers,
            body,
        });
        g.script
            .pop_front()
            .or_else(|| g.default.clone())
            .unwrap_or(Reply::Ok)
    };
    let code = |c: u16| StatusCode::from_u16(c).unwrap();
    match reply {
        Reply::Ok => (StatusCode::OK, "ok").into_response(),
        Reply::Status(c) => code(c).into_response(),
        Reply::StatusBody(c, b) => (code(c), b).into_response(),
        Reply::RetryAfter(c, v) => (code(c), [("retry-after", v)], "slow down").into_response(),
        Reply::Hang => {
            tokio::time::sleep(Duration::from_secs(60)).await;
            StatusCode::OK.into_response()
        }
    }
}

/// A page like the escalation sweeper sends.
pub fn page() -> Message {
    Message {
        delivery_id: "inc-42:standard:c1:l0:rotation:primary:bob-email".into(),
        kind: MessageKind::Page,
        incident_id: "inc-42".into(),
        incident_number: 42,
        title: "Checkout error rate above 5%".into(),
        severity: "SEV1".into(),
        status: "triggered".into(),
        service: Some("checkout-api".into()),
        runbook: Some("runbooks/checkout.md".into()),
        diagnostics: vec![
            "error rate 7.2% (threshold 5%)".into(),
            "p99 latency 2.1s".into(),
        ],
        ack_url: Some("https://sitrep.example/ack/TOKEN".into()),
        incident_url: Some("https://sitrep.example/incidents/42".into()),
        digest: Vec::new(),
    }
}

/// A port nothing listens on (bound, then released).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}
