//! A paging clock the test steps, and a webhook receiver that records deliveries, for
//! the clock-step fault.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sitrep_server::paging::Clock;

use crate::common::Server;

/// Wall time plus an offset the test steps, forward or back.
#[derive(Default)]
pub struct Stepped(AtomicI64);

impl Clock for Stepped {
    fn now_ms(&self) -> i64 {
        sitrep_app::now_ms() + self.0.load(Ordering::SeqCst)
    }
}

impl Stepped {
    pub fn step(&self, by_ms: i64) {
        self.0.fetch_add(by_ms, Ordering::SeqCst);
    }
}

/// Waits until two more paging passes finished: the second started after this call,
/// so it read the clock as it is now (whichever way it was stepped).
pub async fn two_passes(s: &Server) {
    let mut passes = s.state.paging_passes();
    passes.borrow_and_update();
    for _ in 0..2 {
        tokio::time::timeout(Duration::from_secs(30), passes.changed())
            .await
            .expect("a paging pass within 30 s")
            .expect("the paging loop runs");
    }
}

/// Deliveries: (who, the `x-sitrep-delivery` id).
#[derive(Clone, Default)]
pub struct Hook(pub Arc<Mutex<Vec<(String, String)>>>);

impl Hook {
    pub fn to(&self, who: &str) -> Vec<String> {
        let got = self.0.lock().unwrap();
        got.iter()
            .filter(|(w, _)| w == who)
            .map(|(_, d)| d.clone())
            .collect()
    }
}

/// A webhook receiver on loopback: its base URL and what it got.
pub async fn hook() -> (String, Hook) {
    let got = Hook::default();
    let g = got.clone();
    let app = axum::Router::new().route(
        "/hook/{who}",
        axum::routing::post(
            move |axum::extract::Path(who): axum::extract::Path<String>,
                  headers: axum::http::HeaderMap| {
                let g = g.clone();
                async move {
                    let id = headers
                        .get("x-sitrep-delivery")
                        .and_then(|h| h.to_str().ok())
                        .unwrap_or("")
                        .to_owned();
                    g.0.lock().unwrap().push((who, id));
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

/// An escalation policy: the on-call at once, the boss after 30 minutes.
pub fn policy(hook: &str) -> String {
    format!(
        r#"
[[people]]
id = "oncall"
name = "On Call"
contacts = [{{ id = "oncall-hook", webhook = "{hook}/hook/oncall" }}]

[[people]]
id = "boss"
name = "The Boss"
contacts = [{{ id = "boss-hook", webhook = "{hook}/hook/boss" }}]

[[policies]]
id = "local"
[[policies.levels]]
delay = "0m"
targets = ["person:oncall"]
[[policies.levels]]
delay = "30m"
targets = ["person:boss"]

[[services]]
id = "local-svc"
policy = "local"
"#
    )
}
