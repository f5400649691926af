//! The regex budget at the API (issue 21, point 4): the probe's `POST /silences` of
//! 1,000 `\w{20}` matchers (12.8 s and 1.16 GB before) is refused at once with a message
//! naming the field and the limit, and so is one regex matcher past one silence's cap.

mod common;

use std::time::{Duration, Instant};

use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn costly_silences_are_refused_at_the_api() {
    let s = common::start().await;
    let probe: Vec<String> = (0..1000).map(|i| format!(r#"l{i}=~"\w{{20}}""#)).collect();
    let started = Instant::now();
    let (st, v) = s
        .post(
            "/api/v1/silences",
            &s.commander,
            json!({"matchers": probe, "duration": "1h"}),
        )
        .await;
    assert_eq!(st, 400, "{v}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains("compiles to more than 256 KiB"), "{v}");
    assert!(
        v["error"]["field"]
            .as_str()
            .unwrap()
            .starts_with("matchers"),
        "{v}"
    );
    let many: Vec<String> = (0..17).map(|i| format!(r#"l{i}=~"v.*""#)).collect();
    let (st, v) = s
        .post(
            "/api/v1/silences",
            &s.commander,
            json!({"matchers": many, "duration": "1h"}),
        )
        .await;
    assert_eq!(st, 400, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("17 regex matchers; a silence may have at most 16"),
        "{v}"
    );
    let (st, v) = s
        .post(
            "/api/v1/silences",
            &s.commander,
            json!({"matchers": [r#"alertname=~"Db.*""#], "duration": "1h"}),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    s.stop().await;
}
