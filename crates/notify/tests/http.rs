//! Webhook and Slack channels against real HTTP receivers on loopback: payload shapes and
//! headers, every outcome class, Retry-After, timeouts, refused connections, the breaker
//! opening and probing, the fallback taking over, and every attempt in the report.

mod common;

use std::time::Duration;

use common::{Receiver, Reply, free_port, page};
use sitrep_notify::{
    Backoff, BreakerConfig, BreakerState, Channel, DeliveryResult, FallbackReason, Notifier,
    NotifierConfig, Outcome, OutcomeKind, Route, SlackStyle, unix_now_ms,
};

const SECRET_PATH: &str = "/services/T000/B000/SeCrEtToKeN";

fn notifier(threshold: u32) -> Notifier {
    Notifier::new(NotifierConfig {
        breaker: BreakerConfig {
            failure_threshold: threshold,
            cool_down: Duration::from_secs(60),
        },
        backoff: Backoff {
            base: Duration::from_secs(1),
            max: Duration::from_secs(600),
        },
        rng_seed: Some(7),
        ..NotifierConfig::default()
    })
    .unwrap()
}

#[tokio::test]
async fn webhook_posts_the_json_body_with_delivery_headers() {
    let rx = Receiver::start().await;
    let n = notifier(5);
    let a = n
        .send(&Channel::webhook("pager", rx.url("/hook")), &page())
        .await;
    assert_eq!(a.outcome, Outcome::Delivered);
    assert_eq!(a.channel, "pager");
    assert_eq!(a.attempt, 1);
    let reqs = rx.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.path, "/hook");
    let id = "inc-42:standard:c1:l0:rotation:primary:bob-email";
    assert_eq!(r.header("x-sitrep-delivery"), Some(id));
    assert_eq!(r.header("idempotency-key"), Some(id));
    assert_eq!(r.header("x-sitrep-event"), Some("page"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert!(
        r.header("user-agent")
            .unwrap()
            .starts_with("sitrep-notify/")
    );
    let b = &r.body;
    assert_eq!(b["version"], 1);
    assert_eq!(b["delivery_id"], id);
    assert_eq!(b["kind"], "page");
    assert_eq!(b["incident"]["id"], "inc-42");
    assert_eq!(b["incident"]["number"], 42);
    assert_eq!(b["incident"]["title"], "Checkout error rate above 5%");
    assert_eq!(b["incident"]["severity"], "SEV1");
    assert_eq!(b["incident"]["status"], "triggered");
    assert_eq!(b["incident"]["service"], "checkout-api");
    assert_eq!(b["incident"]["runbook"], "runbooks/checkout.md");
    assert_eq!(b["incident"]["url"], "https://sitrep.example/incidents/42");
    assert_eq!(b["ack_url"], "https://sitrep.example/ack/TOKEN");
    assert_eq!(
        b["diagnostics"],
        serde_json::json!(["error rate 7.2% (threshold 5%)", "p99 latency 2.1s"])
    );
    assert_eq!(
        b["subject"],
        "[SEV1] Page: #42 Checkout error rate above 5% (checkout-api)"
    );
}

#[tokio::test]
async fn slack_attachments_and_blocks_bodies() {
    let rx = Receiver::start().await;
    let n = notifier(5);
    let att = Channel::slack("ops", rx.url(SECRET_PATH), SlackStyle::Attachments);
    let blk = Channel::slack("ops-blocks", rx.url(SECRET_PATH), SlackStyle::Blocks);
    assert!(n.send(&att, &page()).await.outcome.is_delivered());
    assert!(n.send(&blk, &page()).await.outcome.is_delivered());
    let reqs = rx.requests();
    assert_eq!(reqs.len(), 2);
    for r in &reqs {
        assert_eq!(
            r.header("x-sitrep-delivery"),
            Some("inc-42:standard:c1:l0:rotation:primary:bob-email")
        );
        assert_eq!(
            r.body["text"],
            "[SEV1] Page: #42 Checkout error rate above 5% (checkout-api)"
        );
    }

    let a = &reqs[0].body["attachments"][0];
    assert!(reqs[0].body.get("blocks").is_none());
    assert_eq!(a["color"], "#d00000");
    assert_eq!(a["title"], "#42 Checkout error rate above 5%");
    assert_eq!(a["title_link"], "https://sitrep.example/incidents/42");
    let fields: Vec<(&str, &str)> = a["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["title"].as_str().unwrap(), f["value"].as_str().unwrap()))
        .collect();
    assert_eq!(
        fields,
        [
            ("Severity", "SEV1"),
            ("Status", "triggered"),
            ("Service", "checkout-api"),
            ("Runbook", "runbooks/checkout.md"),
        ]
    );
    let text = a["text"].as_str().unwrap();
    assert!(text.contains("error rate 7.2% (threshold 5%)"), "{text}");
    assert!(
        text.contains("<https://sitrep.example/ack/TOKEN|Acknowledge>"),
        "{text}"
    );

    let blocks = reqs[1].body["blocks"].as_array().unwrap();
    assert!(reqs[1].body.get("attachments").is_none());
    let types: Vec<&str> = blocks.iter().map(|b| b["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        ["header", "section", "section", "actions", "context"]
    );
    assert_eq!(
        blocks[0]["text"]["text"],
        "SEV1 page: #42 Checkout error rate above 5%"
    );
    let buttons = blocks[3]["elements"].as_array().unwrap();
    assert_eq!(buttons[0]["url"], "https://sitrep.example/ack/TOKEN");
    assert_eq!(buttons[0]["text"]["text"], "Acknowledge");
    assert_eq!(buttons[1]["url"], "https://sitrep.example/incidents/42");
}

#[tokio::test]
async fn status_codes_map_to_outcomes_with_safe_reasons() {
    let rx = Receiver::start().await;
    let n = notifier(100);
    let ch = Channel::slack("ops", rx.url(SECRET_PATH), SlackStyle::Attachments);
    rx.push([
        Reply::Status(500),
        Reply::Status(503),
        Reply::StatusBody(400, "invalid_payload".into()),
        Reply::Status(404),
        Reply::RetryAfter(429, "7".into()),
        // A body echoing the request path must not leak the token into the reason.
        Reply::StatusBody(403, format!("bad token in {SECRET_PATH}")),
        Reply::Status(302),
        Reply::Status(204),
    ]);
    let mut got = Vec::new();
    for _ in 0..8 {
        got.push(n.send(&ch, &page()).await.outcome);
    }
    assert_eq!(
        got,
        [
            Outcome::Retry {
                after: None,
                reason: "HTTP 500 Internal Server Error".into()
            },
            Outcome::Retry {
                after: None,
                reason: "HTTP 503 Service Unavailable".into()
            },
            Outcome::Permanent {
                reason: "HTTP 400 Bad Request: invalid_payload".into()
            },
            Outcome::Permanent {
                reason: "HTTP 404 Not Found".into()
            },
            Outcome::Retry {
                after: Some(Duration::from_secs(7)),
                reason: "HTTP 429 Too Many Requests: slow down".into()
            },
            Outcome::Permanent {
                reason: "HTTP 403 Forbidden".into()
            },
            Outcome::Permanent {
                reason: "HTTP 302 Found (redirects are not followed)".into()
            },
            Outcome::Delivered,
        ]
    );
}

#[tokio::test]
async fn retry_after_http_date_is_relative_to_now() {
    let rx = Receiver::start().await;
    let n = notifier(100);
    let at = std::time::SystemTime::now() + Duration::from_secs(30);
    rx.push([Reply::RetryAfter(503, httpdate::fmt_http_date(at))]);
    let a = n
        .send(&Channel::webhook("pager", rx.url("/hook")), &page())
        .await;
    let Outcome::Retry {
        after: Some(after), ..
    } = a.outcome
    else {
        panic!("{:?}", a.outcome)
    };
    // HTTP dates have whole seconds.
    assert!(
        after >= Duration::from_secs(28) && after <= Duration::from_secs(30),
        "{after:?}"
    );
}

#[tokio::test]
async fn a_hanging_receiver_times_out_and_is_retried() {
    let rx = Receiver::start().await;
    rx.push([Reply::Hang]);
    let n = notifier(100);
    let ch = Channel::webhook("pager", rx.url("/hook")).with_timeout(Duration::from_millis(300));
    let a = n.send(&ch, &page()).await;
    assert_eq!(
        a.outcome,
        Outcome::Retry {
            after: None,
            reason: "timed out after 300ms".into()
        }
    );
    assert!(
        a.duration >= Duration::from_millis(300) && a.duration < Duration::from_secs(3),
        "{:?}",
        a.duration
    );
    // The receiver recovers: the next attempt goes through.
    assert!(n.send(&ch, &page()).await.outcome.is_delivered());
}

#[tokio::test]
async fn a_refused_connection_is_retried_and_the_url_token_never_shows() {
    let port = free_port();
    let n = notifier(100);
    let url = format!("http://user:hunter2@127.0.0.1:{port}{SECRET_PATH}?token=abc");
    let a = n.send(&Channel::webhook("pager", url), &page()).await;
    let Outcome::Retry {
        after: None,
        reason,
    } = &a.outcome
    else {
        panic!("{:?}", a.outcome)
    };
    assert_eq!(
        reason,
        &format!("could not connect to http://127.0.0.1:{port}/…: connection refused")
    );
    let report = serde_json::to_string(&a).unwrap();
    for secret in ["SeCrEtToKeN", "hunter2", "token=abc", "services"] {
        assert!(!report.contains(secret), "{report}");
    }
}

#[tokio::test]
async fn an_invalid_url_is_permanent() {
    let n = notifier(100);
    let a = n
        .send(&Channel::webhook("pager", "not a url/SeCrEt"), &page())
        .await;
    assert_eq!(a.outcome.kind(), OutcomeKind::Permanent);
    assert!(!format!("{:?}", a.outcome).contains("SeCrEt"));
}

#[tokio::test]
async fn breaker_opens_after_n_failures_fallback_takes_over_then_half_open_probe_closes_it() {
    let primary_rx = Receiver::start().await;
    let fallback_rx = Receiver::start().await;
    primary_rx.set_default(Reply::Status(500));
    let n = notifier(3);
    let route = Route::to(Channel::slack(
        "ops-slack",
        primary_rx.url(SECRET_PATH),
        SlackStyle::Attachments,
    ))
    .with_fallback(Channel::webhook("ops-pager", fallback_rx.url("/fallback")));
    let t0 = 1_800_000_000_000u64;
    let msg = page();

    // Two failures: breaker still closed, no fallback, retry later with backoff.
    for pass in 0..2u32 {
        let r = n
            .deliver(&route, &msg, t0 + u64::from(pass) * 1000, pass)
            .await;
        assert_eq!(r.attempts.len(), 1, "{r:?}");
        assert_eq!(r.attempts[0].channel, "ops-slack");
        assert_eq!(r.attempts[0].attempt, pass + 1);
        assert_eq!(r.fallback, None);
        let after = r.retry_after().expect("retry later");
        assert!(after <= Duration::from_secs(1 << pass), "{after:?}");
    }
    assert_eq!(
        n.breaker_state("ops-slack"),
        BreakerState::Closed { failures: 2 }
    );
    assert_eq!(fallback_rx.count(), 0);

    // The third failure opens the breaker; the fallback takes over in the same pass.
    let r = n.deliver(&route, &msg, t0 + 2000, 2).await;
    assert_eq!(r.attempts.len(), 2);
    assert_eq!(r.attempts[0].channel, "ops-slack");
    assert_eq!(r.attempts[0].outcome.kind(), OutcomeKind::Retry);
    assert_eq!(r.attempts[1].channel, "ops-pager");
    assert_eq!(r.attempts[1].outcome, Outcome::Delivered);
    assert_eq!(r.attempts[1].attempt, 3);
    assert_eq!(r.fallback, Some(FallbackReason::PrimaryOpen));
    assert_eq!(
        r.result,
        DeliveryResult::Delivered {
            channel: "ops-pager".into()
        }
    );
    assert!(matches!(
        n.breaker_state("ops-slack"),
        BreakerState::Open { .. }
    ));

    // While open, the primary is not even tried: the fallback receives directly.
    let before = primary_rx.count();
    let r = n.deliver(&route, &msg, t0 + 30_000, 0).await;
    assert_eq!(primary_rx.count(), before, "open breaker sent anyway");
    assert_eq!(r.refused.len(), 1);
    assert_eq!(r.refused[0].channel, "ops-slack");
    assert_eq!(r.attempts.len(), 1);
    assert_eq!(r.attempts[0].channel, "ops-pager");
    assert!(r.delivered());
    assert_eq!(fallback_rx.count(), 2);
    let fb = &fallback_rx.requests()[1];
    assert_eq!(
        fb.header("x-sitrep-delivery"),
        Some("inc-42:standard:c1:l0:rotation:primary:bob-email")
    );

    // After the cool-down one probe goes to the primary; it still fails: open again.
    let r = n.deliver(&route, &msg, t0 + 2000 + 61_000, 0).await;
    assert_eq!(r.attempts[0].channel, "ops-slack");
    assert_eq!(r.attempts[0].outcome.kind(), OutcomeKind::Retry);
    assert_eq!(r.fallback, Some(FallbackReason::PrimaryOpen));
    assert!(r.delivered());
    assert!(matches!(
        n.breaker_state("ops-slack"),
        BreakerState::Open { .. }
    ));

    // The primary recovers; the next probe succeeds and closes the breaker.
    primary_rx.set_default(Reply::Ok);
    let r = n
        .deliver(&route, &msg, t0 + 2000 + 61_000 + 61_000, 0)
        .await;
    assert_eq!(r.attempts.len(), 1);
    assert_eq!(r.attempts[0].channel, "ops-slack");
    assert_eq!(r.attempts[0].outcome, Outcome::Delivered);
    assert_eq!(r.fallback, None);
    assert_eq!(
        n.breaker_state("ops-slack"),
        BreakerState::Closed { failures: 0 }
    );

    let m = n.metrics();
    let slack = m.notifications["ops-slack"];
    assert_eq!(
        (slack.delivered, slack.retry, slack.permanent, slack.refused),
        (1, 4, 0, 1)
    );
    let pager = m.notifications["ops-pager"];
    assert_eq!((pager.delivered, pager.retry), (3, 0));
    assert_eq!(
        m.breakers["ops-slack"],
        BreakerState::Closed { failures: 0 }
    );
    let json = serde_json::to_value(&m).unwrap();
    assert_eq!(json["breakers"]["ops-slack"]["state"], "closed");
}

#[tokio::test]
async fn open_breaker_without_fallback_waits_for_the_cool_down() {
    let rx = Receiver::start().await;
    rx.set_default(Reply::Status(502));
    let n = notifier(1);
    let route = Route::to(Channel::webhook("pager", rx.url("/hook")));
    let t0 = 1_800_000_000_000u64;
    let r = n.deliver(&route, &page(), t0, 0).await;
    assert!(matches!(r.result, DeliveryResult::RetryLater { .. }));
    let r = n.deliver(&route, &page(), t0 + 10_000, 1).await;
    assert!(r.attempts.is_empty());
    assert_eq!(r.refused.len(), 1);
    let DeliveryResult::RetryLater { after, reason } = &r.result else {
        panic!("{r:?}")
    };
    // The breaker opened at about t0 for 60 s: no point trying before t0 + 60 s.
    assert!(*after >= Duration::from_secs(49), "{after:?}");
    assert_eq!(reason, "pager: circuit breaker open");
}

#[tokio::test]
async fn permanent_failure_hands_over_to_the_fallback() {
    let primary_rx = Receiver::start().await;
    let fallback_rx = Receiver::start().await;
    primary_rx.set_default(Reply::StatusBody(404, "no_service".into()));
    let n = notifier(3);
    let route = Route::to(Channel::slack(
        "ops-slack",
        primary_rx.url(SECRET_PATH),
        SlackStyle::Blocks,
    ))
    .with_fallback(Channel::webhook("ops-pager", fallback_rx.url("/fallback")));
    let r = n.deliver(&route, &page(), unix_now_ms(), 0).await;
    assert_eq!(r.fallback, Some(FallbackReason::PrimaryPermanent));
    assert_eq!(
        r.attempts[0].outcome,
        Outcome::Permanent {
            reason: "HTTP 404 Not Found: no_service".into()
        }
    );
    assert!(r.delivered());
    assert_eq!(fallback_rx.count(), 1);
    // A permanent refusal shows the receiver is up: the breaker does not count it.
    assert_eq!(
        n.breaker_state("ops-slack"),
        BreakerState::Closed { failures: 0 }
    );
}

#[tokio::test]
async fn permanent_without_fallback_fails_and_transient_retries_then_recovers() {
    let rx = Receiver::start().await;
    let n = notifier(5);
    let route = Route::to(Channel::webhook("pager", rx.url("/hook")));
    rx.push([Reply::Status(400)]);
    let r = n.deliver(&route, &page(), unix_now_ms(), 0).await;
    assert_eq!(
        r.result,
        DeliveryResult::Failed {
            reason: "pager: HTTP 400 Bad Request".into()
        }
    );
    assert_eq!(r.retry_after(), None);

    // 429 asking for 120 s: the suggested wait honours it even though the backoff
    // window is 1 s.
    rx.push([Reply::RetryAfter(429, "120".into()), Reply::Status(500)]);
    let r = n.deliver(&route, &page(), unix_now_ms(), 0).await;
    assert_eq!(r.retry_after(), Some(Duration::from_secs(120)));
    let r = n.deliver(&route, &page(), unix_now_ms(), 1).await;
    assert!(r.retry_after().unwrap() <= Duration::from_secs(2));
    let r = n.deliver(&route, &page(), unix_now_ms(), 2).await;
    assert!(r.delivered());
    assert_eq!(r.attempts[0].attempt, 3);
    // Every pass reached the receiver with the same delivery id.
    let ids: Vec<_> = rx
        .requests()
        .iter()
        .map(|q| q.header("x-sitrep-delivery").unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 4);
    assert!(ids.iter().all(|i| i == &ids[0]));
}

#[tokio::test]
async fn reports_serialize_for_the_timeline() {
    let rx = Receiver::start().await;
    rx.push([Reply::RetryAfter(503, "2".into())]);
    let n = notifier(5);
    let route = Route::to(Channel::webhook("pager", rx.url("/hook")));
    let r = n.deliver(&route, &page(), unix_now_ms(), 0).await;
    let v = serde_json::to_value(&r).unwrap();
    assert_eq!(v["result"], "retry_later");
    assert_eq!(v["attempts"][0]["channel"], "pager");
    assert_eq!(v["attempts"][0]["outcome"], "retry");
    assert_eq!(v["attempts"][0]["after_ms"], 2000);
    assert_eq!(v["attempts"][0]["attempt"], 1);
    assert!(v["attempts"][0]["duration_ms"].is_u64());
    assert_eq!(
        v["reason"],
        "pager: HTTP 503 Service Unavailable: slow down"
    );
}
