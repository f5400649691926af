//! Property tests: parsers never panic, fingerprints ignore label order, matchers
//! round-trip through Display, and applying a delivery twice equals applying it once.

use std::collections::BTreeMap;

use proptest::prelude::*;
use sitrep_alerts::{
    Alert, Fingerprint, MatchOp, Matcher, Source, Status, Timestamp, apply, diff,
    parse_alertmanager, parse_generic, parse_grafana, parse_matcher, parse_matchers,
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
    fn fingerprint_ignores_label_order(pairs in proptest::collection::vec(("[a-z_]{1,8}", ".{0,8}"), 0..8)) {
        let forward: BTreeMap<String, String> = pairs.iter().cloned().collect();
        // Last duplicate name wins in `forward`; keep that when inserting in reverse.
        let mut backward = BTreeMap::new();
        for (k, v) in pairs.iter().rev() {
            backward.entry(k.clone()).or_insert_with(|| v.clone());
        }
        // Insertion order differs, the set is the same: so is the fingerprint.
        let reinserted: BTreeMap<String, String> = forward.iter().rev().map(|(k, v)| (k.clone(), v.clone())).collect();
        prop_assert_eq!(Fingerprint::of_labels(&forward), Fingerprint::of_labels(&reinserted));
        prop_assert_eq!(Fingerprint::of_labels(&forward), Fingerprint::of_labels(&backward));
        let shown = Fingerprint::of_labels(&forward).to_string();
        prop_assert_eq!(shown.len(), 16);
        prop_assert_eq!(shown.parse::<Fingerprint>().ok(), Some(Fingerprint::of_labels(&forward)));
    }

    #[test]
    fn matcher_display_round_trips(
        name in "[a-zA-Z_][a-zA-Z0-9_]{0,10}|\"[^\"\\\\]{1,6}\"",
        op in prop_oneof![Just(MatchOp::Equal), Just(MatchOp::NotEqual), Just(MatchOp::Regex), Just(MatchOp::NotRegex)],
        value in "[ -~\n\t]{0,12}",
    ) {
        let name = name.trim_matches('"');
        // Only values that are valid regexes can build regex matchers.
        if let Ok(m) = Matcher::new(name, op, &value) {
            let text = m.to_string();
            let parsed = parse_matcher(&text);
            prop_assert_eq!(parsed.as_ref(), Ok(&m), "{}", text);
            let list = format!("{{{m}, {m}}}");
            prop_assert_eq!(parse_matchers(&list), Ok(vec![m.clone(), m]));
        }
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
}
