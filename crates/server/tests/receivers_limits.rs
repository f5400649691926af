//! Receiver limits over real HTTP: the per-receiver, per-credential rate limit answers
//! 429 with `Retry-After` once the burst is spent, stores nothing then, and refills with
//! a clock the test drives; rejected payloads are stored as rejected.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::start_with;
use serde_json::json;
use sitrep_server::ratelimit::ManualClock;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_burst_a_credential_gets_429_with_retry_after_and_nothing_is_stored() {
    let s = start_with(|c| {
        c.server.receivers.rate = "1/s".parse().unwrap();
        c.server.receivers.burst = 3;
    })
    .await;
    let clock = Arc::new(ManualClock::default());
    s.state.receiver_limiter().set_clock(clock.clone());
    let body = json!({"alerts": [{"labels": {"alertname": "Limited"}}]}).to_string();
    let post = |source: &str, token: &str| {
        let r = s
            .http
            .post(s.u(&format!("/api/v1/alerts/{source}")))
            .bearer_auth(token)
            .body(body.clone());
        async move { r.send().await.unwrap() }
    };
    for _ in 0..3 {
        assert_eq!(post("generic", "receiver-secret").await.status(), 202);
    }
    let stored = s.state.app().store().raw_payload_stats().await.unwrap();
    assert_eq!(stored.accepted, 3);

    let refused = post("generic", "receiver-secret").await;
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["retry-after"], "1");
    let v: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(v["error"]["code"], "rate_limited", "{v}");
    assert_eq!(
        s.state.app().store().raw_payload_stats().await.unwrap(),
        stored,
        "a refused delivery stores nothing"
    );
    assert_eq!(
        s.state.metrics().alerts_received("generic", "rate_limited"),
        1
    );

    // Another credential, and the same credential at another receiver, have their own
    // buckets.
    assert_eq!(post("generic", &s.responder).await.status(), 202);
    let grafana =
        json!({"version": "1", "alerts": [{"status": "firing", "labels": {"alertname": "L"}}]});
    let r = s
        .http
        .post(s.u("/api/v1/alerts/grafana"))
        .bearer_auth("receiver-secret")
        .body(grafana.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);

    // Half a second refills half a token: still refused. A whole second: one more.
    clock.advance(Duration::from_millis(500));
    assert_eq!(post("generic", "receiver-secret").await.status(), 429);
    clock.advance(Duration::from_millis(500));
    assert_eq!(post("generic", "receiver-secret").await.status(), 202);
    assert_eq!(post("generic", "receiver-secret").await.status(), 429);
    // Refilling stops at the burst.
    clock.advance(Duration::from_secs(3600));
    for _ in 0..3 {
        assert_eq!(post("generic", "receiver-secret").await.status(), 202);
    }
    assert_eq!(post("generic", "receiver-secret").await.status(), 429);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_payload_is_stored_as_rejected() {
    let s = start_with(|_| {}).await;
    let (st, v) = s.alert("generic", "not json").await;
    assert_eq!(st, 400, "{v}");
    let id = v["error"]["payload_id"].as_str().unwrap();
    let raw = s
        .state
        .app()
        .store()
        .raw_payload(id)
        .await
        .unwrap()
        .unwrap();
    assert!(raw.rejected);
    assert_eq!(raw.body, b"not json");
    let (st, v) = s
        .alert(
            "generic",
            &json!({"alerts": [{"labels": {"alertname": "Ok"}}]}).to_string(),
        )
        .await;
    assert_eq!(st, 202, "{v}");
    let id = v["payload_id"].as_str().unwrap();
    let raw = s
        .state
        .app()
        .store()
        .raw_payload(id)
        .await
        .unwrap()
        .unwrap();
    assert!(!raw.rejected);
    s.stop().await;
}
