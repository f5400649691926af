//! Fingerprints through the real parsers: the same label set listed in any key order in a
//! payload gets Prometheus's fingerprint, different label sets get different ones, and
//! known values from Prometheus and from a real Alertmanager are reproduced.

use std::collections::BTreeMap;

use proptest::prelude::*;
use sitrep_alerts::{
    Batch, Fingerprint, PayloadError, parse_alertmanager, parse_generic, parse_grafana,
};

type Pairs = Vec<(String, String)>;

/// Prometheus's `labelSetToFingerprint` written out again as the oracle: it sorts the
/// pairs itself instead of relying on the crate's `BTreeMap`, so a crate that hashed in
/// any other order (payload order, reverse, case-folded) disagrees with it.
fn prometheus_fingerprint(pairs: &[(String, String)]) -> u64 {
    let mut sorted: Vec<&(String, String)> = pairs.iter().collect();
    sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut h: u64 = 14_695_981_039_346_656_037;
    for (name, value) in sorted {
        for b in name
            .bytes()
            .chain([0xff])
            .chain(value.bytes())
            .chain([0xff])
        {
            h ^= u64::from(b);
            h = h.wrapping_mul(1_099_511_628_211);
        }
    }
    h
}

/// A JSON object listing the pairs in exactly the given order (serde_json's own maps
/// would sort the keys and hide the order from the parser).
fn label_object(pairs: &[(String, String)]) -> String {
    let json = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let fields: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}:{}", json(k), json(v)))
        .collect();
    format!("{{{}}}", fields.join(","))
}

/// One single-alert payload per parser, the labels listed in the given order. The
/// Alertmanager one has no `fingerprint` field, so the crate must compute it; the Grafana
/// one carries Grafana's own hash, which must be ignored.
fn parse_all(pairs: &[(String, String)]) -> Vec<Result<Batch, PayloadError>> {
    let labels = label_object(pairs);
    let am = format!(r#"{{"version":"4","alerts":[{{"status":"firing","labels":{labels}}}]}}"#);
    let grafana = format!(
        r#"{{"version":"1","alerts":[{{"status":"firing","labels":{labels},"fingerprint":"5348272cf8d78ae3"}}]}}"#
    );
    let generic = format!(r#"{{"alerts":[{{"labels":{labels}}}]}}"#);
    vec![
        parse_alertmanager(am.as_bytes()),
        parse_grafana(grafana.as_bytes()),
        parse_generic(generic.as_bytes()),
    ]
}

/// The fingerprint every parser gave the single alert, after checking each kept the labels.
fn fingerprints(pairs: &[(String, String)]) -> Result<Vec<u64>, String> {
    let want: BTreeMap<String, String> = pairs.iter().cloned().collect();
    parse_all(pairs)
        .into_iter()
        .map(|batch| {
            let batch = batch.map_err(|e| e.to_string())?;
            match batch.alerts.as_slice() {
                [a] if a.labels == want => Ok(a.fingerprint.0),
                other => Err(format!("expected one alert with {want:?}, got {other:?}")),
            }
        })
        .collect()
}

/// Distinct label names (as a label set has) in two orders: a shuffle and descending
/// byte order, so with two or more labels at least one order is not the sorted one.
fn arb_orders() -> impl Strategy<Value = (Pairs, Pairs)> {
    proptest::collection::btree_map("[a-zA-Z_][a-zA-Z0-9_]{0,6}", "\\PC{0,8}", 1..8).prop_flat_map(
        |set| {
            let pairs: Pairs = set.into_iter().collect();
            let descending: Pairs = pairs.iter().rev().cloned().collect();
            (Just(pairs).prop_shuffle(), Just(descending))
        },
    )
}

proptest! {
    #[test]
    fn every_parser_gives_prometheus_fingerprint_whatever_the_key_order(
        (shuffled, descending) in arb_orders(),
    ) {
        let want = prometheus_fingerprint(&shuffled);
        let all = [fingerprints(&shuffled), fingerprints(&descending)];
        for got in all {
            let got = got.map_err(TestCaseError::fail)?;
            prop_assert_eq!(got, vec![want; 3], "{:?}", descending);
        }
        let shown = Fingerprint(want).to_string();
        prop_assert_eq!(shown.len(), 16);
        prop_assert_eq!(shown.parse::<Fingerprint>().ok(), Some(Fingerprint(want)));
    }

    /// Changing a value, dropping a label, or moving the name/value boundary is another
    /// alert: its fingerprint must differ, or two alerts would share one incident row.
    #[test]
    fn different_label_sets_get_different_fingerprints(
        set in proptest::collection::btree_map("[a-z_]{1,6}", "[a-z0-9]{1,6}", 1..6),
        pick in any::<prop::sample::Index>(),
        extra in "[a-z]{1,3}",
    ) {
        let of = |m: &BTreeMap<String, String>| Fingerprint::of_labels(m);
        let (name, value) = set.iter().nth(pick.index(set.len())).map(|(k, v)| (k.clone(), v.clone())).unwrap_or_default();
        let mut changed = set.clone();
        changed.insert(name.clone(), format!("{value}{extra}"));
        prop_assert_ne!(of(&changed), of(&set), "value changed");
        let mut dropped = set.clone();
        dropped.remove(&name);
        prop_assert_ne!(of(&dropped), of(&set), "label dropped");
        // {a="bc"} and {ab="c"} hash the same bytes but for the separator.
        let (head, tail) = value.split_at(1);
        let shifted_name = format!("{name}{head}");
        prop_assume!(!set.contains_key(&shifted_name));
        let mut shifted = set.clone();
        shifted.remove(&name);
        shifted.insert(shifted_name, tail.to_owned());
        prop_assert_ne!(of(&shifted), of(&set), "name/value boundary moved");
    }
}

fn pairs(list: &[(&str, &str)]) -> Pairs {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Prometheus common/model `signature_test.go` (`TestLabelsToSignature`): the pairs are
/// listed name before fear, i.e. not in sorted order, in the payloads.
#[test]
fn prometheus_signature_test_values_through_every_parser() {
    let two = pairs(&[("name", "garland, briggs"), ("fear", "love is not enough")]);
    assert_eq!(fingerprints(&two), Ok(vec![5_799_056_148_416_392_346; 3]));
    let empty = parse_alertmanager(br#"{"version":"4","alerts":[{"status":"firing"}]}"#);
    let fp = empty.map(|b| b.alerts.first().map(|a| a.fingerprint.0));
    assert_eq!(fp, Ok(Some(14_695_981_039_346_656_037)), "empty set");
}

/// A fingerprint a real Alertmanager sent: the webhook payload in
/// github.com/liamkelly15-maker/pythonwebhook, docker/alert-manager-webhook/testsuites/
/// testcurl7.sh. Fed here in reverse order (Alertmanager itself sends them sorted).
#[test]
fn real_alertmanager_fingerprint_through_every_parser() {
    let mut labels = pairs(&[
        ("alertname", "Deployment"),
        ("app_kubernetes_io_instance", "eric-oss-common-base"),
        ("app_kubernetes_io_managed_by", "Helm"),
        ("app_kubernetes_io_name", "eric-pm-kube-state-metrics"),
        ("app_kubernetes_io_version", "2.1.0_10"),
        ("chart", "eric-pm-kube-state-metrics-2.1.0_10"),
        ("deployment", "eric-log-transformer"),
        ("instance", "192.168.69.53:8080"),
        ("job", "eric-pm-kube-state-metrics"),
        ("kubernetes_name", "eric-pm-kube-state-metrics"),
        ("kubernetes_namespace", "eric-eo-cm-ci406"),
        ("namespace", "eric-eo-cm-ci406"),
        ("severity", "Warning"),
    ]);
    labels.reverse();
    let want: Fingerprint = "fbab788ec4c1018b".parse().expect("hex");
    assert_eq!(fingerprints(&labels), Ok(vec![want.0; 3]));
}
