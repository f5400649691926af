//! Properties of the pure policy pieces, with the clock and the RNG as arguments: backoff
//! bounds, breaker transitions, the fallback decision, and the rate limiter never losing a
//! message.

use std::collections::BTreeMap;
use std::time::Duration;

use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use sitrep_notify::fallback::fallback_reason;
use sitrep_notify::{
    Admission, Backoff, Breaker, BreakerConfig, BreakerState, FallbackReason, Message, MessageKind,
    Outcome, Permit, RateLimit, RateLimiter,
};

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        // Failures print their minimal input; nothing is written into the source tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// A delay is never above `max`, never below what the receiver asked for (up to `max`),
    /// and without Retry-After never above the window `min(max, base * 2^retry)`.
    #[test]
    fn backoff_stays_in_bounds(
        base_ms in 0u64..100_000,
        max_ms in 0u64..10_000_000,
        retry in 0u32..200,
        retry_after_ms in proptest::option::of(0u64..100_000_000),
        seed in any::<u64>(),
    ) {
        let b = Backoff { base: Duration::from_millis(base_ms), max: Duration::from_millis(max_ms) };
        let mut rng = StdRng::seed_from_u64(seed);
        let ra = retry_after_ms.map(Duration::from_millis);
        let d = b.delay(retry, ra, &mut rng);
        prop_assert!(d <= b.max);
        if let Some(ra) = ra {
            prop_assert!(d >= ra.min(b.max));
        } else {
            prop_assert!(d <= b.ceiling(retry));
        }
        // The window only grows with the retry number, up to max.
        prop_assert!(b.ceiling(retry) <= b.ceiling(retry.saturating_add(1)));
        prop_assert!(b.ceiling(retry) <= b.max);
        let expect = u128::from(base_ms).saturating_mul(1u128 << retry.min(100)).min(u128::from(max_ms));
        prop_assert_eq!(b.ceiling(retry).as_millis(), expect);
    }

    /// Full jitter actually spreads: over many draws the delays are not all equal (unless
    /// the window is empty).
    #[test]
    fn backoff_jitters(seed in any::<u64>(), retry in 0u32..10) {
        let b = Backoff { base: Duration::from_millis(100), max: Duration::from_secs(600) };
        let mut rng = StdRng::seed_from_u64(seed);
        let ds: Vec<Duration> = (0..50).map(|_| b.delay(retry, None, &mut rng)).collect();
        prop_assert!(ds.iter().any(|d| *d != ds[0]));
    }

    /// Breaker transitions under any sequence of requests (sequential: each permitted
    /// request reports before the next starts), checked against the rules:
    /// closed lets everything through and opens exactly at the N-th consecutive failure;
    /// open refuses until the cool-down ends; then exactly one probe, whose success closes
    /// and whose failure re-opens for another cool-down.
    #[test]
    fn breaker_transitions(
        threshold in 1u32..6,
        cool_ms in 1u64..10_000,
        steps in proptest::collection::vec((0u64..4_000, any::<bool>()), 1..200),
    ) {
        let mut b = Breaker::new(BreakerConfig { failure_threshold: threshold, cool_down: Duration::from_millis(cool_ms) });
        let mut now = 0u64;
        let mut consecutive = 0u32;
        for (dt, ok) in steps {
            now += dt;
            let before = b.state();
            let permit = b.check(now);
            match before {
                BreakerState::Closed { failures } => {
                    prop_assert_eq!(permit, Permit::Allowed);
                    prop_assert_eq!(failures, consecutive);
                    prop_assert!(failures < threshold);
                }
                BreakerState::Open { until_ms } if now < until_ms => {
                    prop_assert_eq!(permit, Permit::Refused { retry_at_ms: until_ms });
                    prop_assert_eq!(b.state(), before);
                    continue;
                }
                BreakerState::Open { .. } => {
                    prop_assert_eq!(permit, Permit::Probe);
                    prop_assert_eq!(b.state(), BreakerState::HalfOpen { probe_since_ms: now });
                    // A second request while the probe is out is refused.
                    prop_assert!(!b.clone().check(now).allows());
                }
                BreakerState::HalfOpen { .. } => {
                    prop_assert!(false, "sequential use never leaves a probe unreported");
                }
            }
            b.record(ok, now);
            match (permit, ok) {
                (Permit::Probe, true) | (Permit::Allowed, true) => {
                    consecutive = 0;
                    prop_assert_eq!(b.state(), BreakerState::Closed { failures: 0 });
                }
                (Permit::Probe, false) => {
                    consecutive = 0;
                    prop_assert_eq!(b.state(), BreakerState::Open { until_ms: now + cool_ms });
                }
                (Permit::Allowed, false) => {
                    consecutive += 1;
                    if consecutive >= threshold {
                        consecutive = 0;
                        prop_assert_eq!(b.state(), BreakerState::Open { until_ms: now + cool_ms });
                    } else {
                        prop_assert_eq!(b.state(), BreakerState::Closed { failures: consecutive });
                    }
                }
                (Permit::Refused { .. }, _) => unreachable!(),
            }
        }
    }

    /// With concurrent requests (permits taken, results reported in any order), at most
    /// one probe is out per cool-down, and an open breaker never lets a request through
    /// before its cool-down ends.
    #[test]
    fn breaker_one_probe_at_a_time(
        cool_ms in 1u64..1_000,
        ops in proptest::collection::vec((0u64..300, 0u8..3, any::<bool>()), 1..300),
    ) {
        let mut b = Breaker::new(BreakerConfig { failure_threshold: 2, cool_down: Duration::from_millis(cool_ms) });
        let mut now = 0u64;
        let mut out: Vec<(Permit, bool)> = Vec::new();
        let mut last_probe: Option<u64> = None;
        for (dt, op, ok) in ops {
            now += dt;
            if op == 0 || out.is_empty() {
                let before = b.state();
                let p = b.check(now);
                if let BreakerState::Open { until_ms } = before {
                    prop_assert_eq!(p.allows(), now >= until_ms);
                }
                if p == Permit::Probe {
                    if let Some(prev) = last_probe {
                        // A new probe only once the previous one reported or went stale.
                        let reported = !matches!(before, BreakerState::HalfOpen { .. });
                        prop_assert!(reported || now >= prev + cool_ms);
                    }
                    last_probe = Some(now);
                }
                if p.allows() {
                    out.push((p, ok));
                }
            } else {
                let i = usize::from(op) % out.len();
                let (_, ok) = out.swap_remove(i);
                b.record(ok, now);
            }
        }
    }

    /// The fallback takes over exactly when the primary was refused by its breaker, failed
    /// permanently, or failed while its breaker is (now) open.
    #[test]
    fn fallback_decision(kind in 0u8..4, open_after in any::<bool>()) {
        let primary = match kind {
            0 => None,
            1 => Some(Outcome::Delivered),
            2 => Some(Outcome::Retry { after: None, reason: "x".into() }),
            _ => Some(Outcome::Permanent { reason: "x".into() }),
        };
        let got = fallback_reason(primary.as_ref(), open_after);
        let want = match (kind, open_after) {
            (0, _) => Some(FallbackReason::PrimaryOpen),
            (1, _) => None,
            (2, true) => Some(FallbackReason::PrimaryOpen),
            (2, false) => None,
            _ => Some(FallbackReason::PrimaryPermanent),
        };
        prop_assert_eq!(got, want);
    }

    /// Every offered message comes out exactly once, sent at once or inside exactly one
    /// release (alone or in a digest), per contact in the order offered; and no contact
    /// gets more sends than its bucket allows over the elapsed time.
    #[test]
    fn rate_limiter_never_loses_a_message(
        burst in 1u32..5,
        interval_ms in 1u64..5_000,
        events in proptest::collection::vec((0u64..3_000, 0u8..3, any::<bool>()), 1..300),
    ) {
        let mut rl = RateLimiter::new(RateLimit { burst, refill_every: Duration::from_millis(interval_ms) });
        let mut now = 0u64;
        let mut offered: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut received: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut sends: BTreeMap<String, u64> = BTreeMap::new();
        let mut first: BTreeMap<String, u64> = BTreeMap::new();
        let collect = |contact: &str, m: &Message, received: &mut BTreeMap<String, Vec<String>>| {
            let ids: Vec<String> = if m.kind == MessageKind::Digest {
                m.digest.iter().map(|e| e.delivery_id.clone()).collect()
            } else {
                vec![m.delivery_id.clone()]
            };
            received.entry(contact.to_string()).or_default().extend(ids);
        };
        for (n, (dt, who, release)) in events.into_iter().enumerate() {
            now += dt;
            let contact = format!("c{who}");
            if release {
                for (c, m) in rl.release(now) {
                    *sends.entry(c.clone()).or_default() += 1;
                    collect(&c, &m, &mut received);
                }
            } else {
                let id = format!("m{n}");
                first.entry(contact.clone()).or_insert(now);
                offered.entry(contact.clone()).or_default().push(id.clone());
                if let Admission::Send(m) = rl.offer(&contact, msg(&id), now) {
                    *sends.entry(contact.clone()).or_default() += 1;
                    collect(&contact, &m, &mut received);
                }
            }
            for (c, count) in &sends {
                let since = now - first[c];
                prop_assert!(*count <= u64::from(burst) + since / interval_ms + 1,
                    "{} sent {} in {} ms", c, count, since);
            }
        }
        // Drain: everything still held comes out by the time the last token arrives.
        while let Some(at) = rl.next_release_ms() {
            now = now.max(at);
            let out = rl.release(now);
            prop_assert!(!out.is_empty(), "next_release_ms promised a release at {}", at);
            for (c, m) in out {
                collect(&c, &m, &mut received);
            }
        }
        prop_assert_eq!(rl.waiting_total(), 0);
        prop_assert_eq!(received, offered);
    }
}

fn msg(id: &str) -> Message {
    Message {
        delivery_id: id.into(),
        kind: MessageKind::Page,
        incident_id: "inc-1".into(),
        incident_number: 1,
        title: "t".into(),
        severity: "SEV2".into(),
        status: "triggered".into(),
        service: None,
        runbook: None,
        diagnostics: vec![],
        ack_url: None,
        incident_url: None,
        digest: vec![],
    }
}
