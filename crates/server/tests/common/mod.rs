//! Test harness: a real server on 127.0.0.1:0 over a temporary data dir (SQLite) with
//! the test runbooks, tokens for every role, and a reqwest client; request helpers (API,
//! pages, forms), a webhook receiver and a paging clock the test steps.

#![allow(dead_code)]

use sitrep_app::Principal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;

use serde_json::Value;
use sitrep_app::{AccessRole, App, Config};
use sitrep_server::ServerState;
use sitrep_server::paging::Clock;

pub struct Server {
    pub url: String,
    pub state: ServerState,
    pub dir: tempfile::TempDir,
    pub viewer: String,
    pub responder: String,
    pub commander: String,
    pub commander2: String,
    pub admin: String,
    pub http: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

pub fn runbooks_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/app/runbooks")
}

/// Starts a server; `tweak` adjusts the configuration first.
pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = Config {
        data_dir: Some(dir.path().join("data")),
        runbooks: Some(runbooks_dir()),
        ..Config::default()
    };
    cfg.server.receivers.token = Some("receiver-secret".into());
    cfg.server.receivers.basic = Some("grafana:hunter2".into());
    tweak(&mut cfg);
    let app = App::open(cfg).await.unwrap();
    let mut secrets = Vec::new();
    for (name, role) in [
        ("vera", AccessRole::Viewer),
        ("rita", AccessRole::Responder),
        ("carl", AccessRole::Commander),
        ("cleo", AccessRole::Commander),
        ("ada", AccessRole::Admin),
    ] {
        secrets.push(
            app.create_token(name, role, &Principal::asserted("test"))
                .await
                .unwrap()
                .secret,
        );
    }
    let state = ServerState::new(app).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(sitrep_server::serve(listener, state.clone(), async move {
        let _ = rx.await;
    }));
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Server {
        url,
        state,
        dir,
        viewer: secrets[0].clone(),
        responder: secrets[1].clone(),
        commander: secrets[2].clone(),
        commander2: secrets[3].clone(),
        admin: secrets[4].clone(),
        http,
        stop: Some(tx),
        task: Some(task),
    }
}

/// A policy where destructive steps need a second person (for `start_with`).
pub fn destructive_needs_approval(c: &mut Config) {
    c.policy.approvals = vec![sitrep_app::config::ApprovalRule {
        level: "destructive".into(),
        severities: Vec::new(),
    }];
}

pub async fn start() -> Server {
    start_with(|_| {}).await
}

impl Server {
    pub fn u(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    pub async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        let r = self
            .http
            .get(self.u(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        let r = self
            .http
            .post(self.u(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Posts raw bytes to a receiver with the configured receiver token.
    pub async fn alert(&self, source: &str, body: &str) -> (u16, Value) {
        let r = self
            .http
            .post(self.u(&format!("/api/v1/alerts/{source}")))
            .bearer_auth("receiver-secret")
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// A GET's body as text, with `token` as bearer when given; anything but 200 fails
    /// the test.
    pub async fn text(&self, path: &str, token: Option<&str>) -> String {
        let mut req = self.http.get(self.u(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "{path}");
        r.text().await.unwrap()
    }

    /// A form post as a logged-in browser (`cookie` from [`Server::login`]), with the
    /// session's CSRF token when given: (status, `location` header or "").
    pub async fn form(
        &self,
        cookie: &str,
        csrf: Option<&str>,
        path: &str,
        fields: &[(&str, &str)],
    ) -> (u16, String) {
        let r = self.form_post(cookie, csrf, path, fields, false).await;
        let to = r
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (r.status().as_u16(), to)
    }

    /// The same form posted by htmx from the page (`HX-Request: true`): (status, the
    /// fragment it answers).
    pub async fn htmx(
        &self,
        cookie: &str,
        csrf: Option<&str>,
        path: &str,
        fields: &[(&str, &str)],
    ) -> (u16, String) {
        let r = self.form_post(cookie, csrf, path, fields, true).await;
        (r.status().as_u16(), r.text().await.unwrap())
    }

    async fn form_post(
        &self,
        cookie: &str,
        csrf: Option<&str>,
        path: &str,
        fields: &[(&str, &str)],
        htmx: bool,
    ) -> reqwest::Response {
        let mut body: Vec<(&str, &str)> = csrf.map(|c| ("csrf", c)).into_iter().collect();
        body.extend_from_slice(fields);
        let mut req = self.http.post(self.u(path)).header("cookie", cookie);
        if htmx {
            req = req.header("HX-Request", "true");
        }
        req.form(&body).send().await.unwrap()
    }

    /// A UI page's HTML, as a logged-in browser (`cookie` from [`Server::login`]) gets it;
    /// anything but 200 fails the test.
    pub async fn page(&self, cookie: &str, path: &str) -> String {
        let r = self
            .http
            .get(self.u(path))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{path}");
        r.text().await.unwrap()
    }

    /// Logs a browser in with `token`: the session cookie (`name=value`) and its CSRF
    /// token.
    pub async fn login(&self, token: &str) -> (String, String) {
        let r = self
            .http
            .post(self.u("/login"))
            .form(&[("token", token)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 303, "login");
        let set = r.headers()["set-cookie"].to_str().unwrap().to_owned();
        let cookie = set.split(';').next().unwrap().to_owned();
        let me: Value = self
            .http
            .get(self.u("/api/v1/whoami"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (cookie, me["csrf"].as_str().unwrap_or_default().to_owned())
    }

    /// Declares an incident as the responder; returns its id.
    pub async fn declare(&self, body: Value) -> String {
        let (s, v) = self.post("/api/v1/incidents", &self.responder, body).await;
        assert_eq!(s, 201, "{v}");
        v["id"].as_str().unwrap().to_owned()
    }

    pub async fn timeline(&self, id: &str) -> Vec<Value> {
        let (s, v) = self
            .get(&format!("/api/v1/incidents/{id}/timeline"), &self.viewer)
            .await;
        assert_eq!(s, 200, "{v}");
        v.as_array().unwrap().clone()
    }

    pub async fn incidents(&self) -> Vec<Value> {
        let (s, v) = self.get("/api/v1/incidents", &self.viewer).await;
        assert_eq!(s, 200, "{v}");
        v.as_array().unwrap().clone()
    }

    /// Polls `f` until it returns Some, for at most `secs` seconds.
    pub async fn until<T, F, Fut>(&self, secs: u64, mut f: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(v) = f().await {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "condition not met within {secs}s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the server gracefully and closes its app; returns the temporary directory,
    /// so a test can look at the data after the stop (it is deleted when dropped).
    pub async fn stop(mut self) -> tempfile::TempDir {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(10), t)
                .await
                .expect("graceful shutdown within 10s")
                .unwrap()
                .unwrap();
        }
        self.state.app().close().await;
        std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap())
    }
}

/// Event types of a timeline.
pub fn types(timeline: &[Value]) -> Vec<String> {
    timeline
        .iter()
        .map(|e| e["record"]["type"].as_str().unwrap_or("").to_owned())
        .collect()
}

/// An Alertmanager v4 payload.
pub fn alertmanager(group_key: &str, alerts: &[(&str, &str, &str)]) -> String {
    let alerts: Vec<Value> = alerts
        .iter()
        .map(|(name, instance, status)| {
            serde_json::json!({
                "status": status,
                "labels": {"alertname": name, "instance": instance},
                "annotations": {"summary": format!("{name} on {instance}")},
                "startsAt": "2026-11-22T10:00:00Z",
                "endsAt": if *status == "resolved" { "2026-11-22T10:05:00Z" } else { "0001-01-01T00:00:00Z" },
                "generatorURL": "http://prometheus/graph",
            })
        })
        .collect();
    serde_json::json!({
        "version": "4",
        "groupKey": group_key,
        "status": "firing",
        "receiver": "sitrep",
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager",
        "truncatedAlerts": 0,
        "alerts": alerts,
    })
    .to_string()
}

/// Replaces ids, times and other run-specific values so JSON shapes snapshot stably.
pub fn redact(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                let volatile = k == "id"
                    || k == "actor_id"
                    || k == "incident_id"
                    || k == "incident"
                    || k.ends_with("_ms")
                    || k == "number"
                    || k == "index"
                    || k == "fingerprint";
                if volatile && !x.is_null() && !x.is_object() {
                    *x = Value::String("[redacted]".into());
                } else {
                    redact(x);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(redact),
        _ => {}
    }
}

/// What a webhook receiver on loopback got, in order: who (`/hook/WHO`) and the JSON
/// body, with its `X-Sitrep-Delivery` header as `_delivery_header`.
#[derive(Clone, Default)]
pub struct Received(pub Arc<Mutex<Vec<(String, serde_json::Value)>>>);

impl Received {
    /// The `X-Sitrep-Delivery` ids of what `who` got, in order.
    pub fn deliveries(&self, who: &str) -> Vec<String> {
        self.to(who)
            .iter()
            .map(|v| v["_delivery_header"].as_str().unwrap_or("").to_owned())
            .collect()
    }

    /// The bodies `who` got, in order.
    pub fn to(&self, who: &str) -> Vec<Value> {
        let got = self.0.lock().unwrap();
        got.iter()
            .filter(|(w, _)| w == who)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

/// A webhook receiver on loopback (`/hook/{who}`): its base URL and what it got.
pub async fn receiver() -> (String, Received) {
    let got = Received::default();
    let g = got.clone();
    let app = axum::Router::new().route(
        "/hook/{who}",
        axum::routing::post(
            move |axum::extract::Path(who): axum::extract::Path<String>,
                  headers: HeaderMap,
                  body: axum::body::Bytes| {
                let g = g.clone();
                async move {
                    let mut v: serde_json::Value =
                        serde_json::from_slice(&body).unwrap_or_default();
                    v["_delivery_header"] = headers
                        .get("x-sitrep-delivery")
                        .and_then(|h| h.to_str().ok())
                        .unwrap_or("")
                        .into();
                    g.0.lock().unwrap().push((who, v));
                    "ok"
                }
            },
        ),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await });
    (url, got)
}

/// The paging loop's clock in a test: wall time plus an offset the test steps, forward
/// or back, so the sweeper sees minutes pass at once (`ServerState::set_paging_clock`).
#[derive(Default)]
pub struct Stepped(AtomicI64);

impl Clock for Stepped {
    fn now_ms(&self) -> i64 {
        sitrep_app::now_ms() + self.0.load(Ordering::SeqCst)
    }
}

impl Stepped {
    /// Steps the clock by `by_ms` (negative: back).
    pub fn step(&self, by_ms: i64) {
        self.0.fetch_add(by_ms, Ordering::SeqCst);
    }

    /// Moves the clock `by` forward; returns the earliest reading from now on.
    pub fn advance(&self, by: Duration) -> i64 {
        self.step(i64::try_from(by.as_millis()).unwrap());
        self.now_ms()
    }
}
