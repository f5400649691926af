//! Property tests: parsers never panic, applying a delivery twice equals applying it once,
//! an older snapshot never resurrects a resolved alert, and silences mute only inside
//! their window. Fingerprints are in `tests/fingerprints.rs`, matchers in
//! `tests/matchers.rs`.

use std::collections::BTreeMap;

use proptest::prelude::*;
use sitrep_alerts::{
    Alert, Fingerprint, Silence, Source, Status, Timestamp, apply, diff, parse_alertmanager,
    parse_generic, parse_grafana, parse_matcher, parse_matchers, silenced_by,
};

fn alert(
    labels: BTreeMap<String, String>,
    status: Status,
    starts: Option<i64>,
    ends: Option<i64>,
    note: u8,
) -> Alert {
    let ts = |s: i64| Timestamp::from_second(1_700_000_000 + s).ok();
    Alert {
        source: Source::Generic,
        fingerprint: Fingerprint::of_labels(&labels),
        status,
        labels,
        annotations: [("note".to_owned(), note.to_string())]
            .into_iter()
            .collect(),
        starts_at: starts.and_then(ts),
        ends_at: ends.and_then(ts),
        generator_url: None,
    }
}

/// Few label sets and times, so deliveries collide with the state and each other.
fn arb_alert() -> impl Strategy<Value = Alert> {
    (
        0u8..4,
        prop_oneof![Just(Status::Firing), Just(Status::Resolved)],
        proptest::option::of(0i64..4),
        proptest::option::of(0i64..4),
        0u8..3,
    )
        .prop_map(|(id, status, starts, ends, note)| {
            let labels = [("alertname".to_owned(), format!("A{id}"))]
                .into_iter()
                .collect();
            alert(labels, status, starts, ends, note)
        })
}

fn state_from(alerts: Vec<Alert>) -> BTreeMap<Fingerprint, Alert> {
    alerts.into_iter().map(|a| (a.fingerprint, a)).collect()
}

/// A silence of `alertname="A<id>"` from `starts` for `len` seconds (offsets as in `alert`).
fn silence(id: u8, starts: i64, len: i64) -> Silence {
    let ts = |s: i64| Timestamp::from_second(1_700_000_000 + s).unwrap_or_default();
    let matchers = parse_matchers(&format!(r#"alertname="A{id}""#)).unwrap_or_default();
    assert_eq!(matchers.len(), 1, "test matcher parses");
    Silence {
        id: format!("s{id}"),
        matchers,
        starts_at: ts(starts),
        ends_at: ts(starts + len),
        created_by: "test".into(),
        comment: String::new(),
    }
}

proptest! {
    #[test]
    fn parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_alertmanager(&bytes);
        let _ = parse_grafana(&bytes);
        let _ = parse_generic(&bytes);
    }

    #[test]
    fn parsers_never_panic_on_jsonish(text in r#"[\{\}\[\]":,0-9a-zA-Z ]{0,200}"#) {
        let framed = format!(r#"{{"version":"4","alerts":[{text}]}}"#);
        let _ = parse_alertmanager(framed.as_bytes());
        let _ = parse_generic(framed.as_bytes());
    }

    #[test]
    fn matcher_parse_never_panics(text in ".{0,64}") {
        let _ = parse_matchers(&text);
        let _ = parse_matcher(&text);
    }

    #[test]
    fn applying_a_delivery_twice_equals_once(
        known in proptest::collection::vec(arb_alert(), 0..5),
        batch in proptest::collection::vec(arb_alert(), 0..6),
    ) {
        let mut once = state_from(known);
        let first = diff(&once, &batch);
        apply(&mut once, &first);
        let mut twice = once.clone();
        let again = diff(&twice, &batch);
        prop_assert!(again.iter().all(|c| !c.kind.changes_state()), "{:?}", again);
        apply(&mut twice, &again);
        prop_assert_eq!(once, twice);
    }

    #[test]
    fn resolved_is_never_resurrected_by_its_own_episode(
        id in 0u8..4, starts in 0i64..4, ends in 0i64..4, note in 0u8..3,
    ) {
        let labels: BTreeMap<String, String> = [("alertname".to_owned(), format!("A{id}"))].into_iter().collect();
        let resolved = alert(labels.clone(), Status::Resolved, Some(starts), Some(ends), note);
        let old_firing = alert(labels, Status::Firing, Some(starts), None, note);
        let mut state = state_from(vec![resolved.clone()]);
        let changes = diff(&state, &[old_firing]);
        apply(&mut state, &changes);
        prop_assert_eq!(state.get(&resolved.fingerprint), Some(&resolved));
    }

    /// The window is half-open, `starts_at <= now < ends_at`, the matchers must match,
    /// and a silence without matchers mutes nothing: an operator relies on all three.
    #[test]
    fn silences_mute_matching_alerts_only_inside_their_window(
        alert_id in 0u8..3, silence_id in 0u8..3, starts in 0i64..20, len in 1i64..20,
        at in -5i64..45,
    ) {
        let labels: BTreeMap<String, String> = [("alertname".to_owned(), format!("A{alert_id}"))].into_iter().collect();
        let a = alert(labels, Status::Firing, Some(0), None, 0);
        let s = silence(silence_id, starts, len);
        let now = Timestamp::from_second(1_700_000_000 + at).unwrap_or_default();
        let inside = starts <= at && at < starts + len;
        let muted = silenced_by(&a, std::slice::from_ref(&s), now).map(|s| s.id.as_str());
        let expected = (inside && alert_id == silence_id).then_some(s.id.as_str());
        prop_assert_eq!(muted, expected);
        let empty = Silence { matchers: vec![], ..s.clone() };
        prop_assert!(silenced_by(&a, &[empty], now).is_none(), "no matchers mutes nothing");
    }
}
