//! Data-driven tests over `tests/data/alerts/`: every payload parsed (or refused) and
//! routed, and diff scenarios replayed delivery by delivery, all snapshot-tested.

// Tests read fixtures from disk; the no-I/O rule (clippy.toml) is for the library.
#![allow(clippy::disallowed_methods)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sitrep_alerts::{
    Alert, Batch, Fingerprint, PayloadError, RoutingConfig, Silence, Timestamp, apply, diff,
    group_key, parse_alertmanager, parse_generic, parse_grafana, route, silenced_by,
};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/alerts");

#[derive(Debug, Deserialize)]
struct TestConfig {
    #[serde(flatten)]
    routing: RoutingConfig,
    #[serde(default)]
    silence: Vec<Silence>,
}

fn config() -> TestConfig {
    let text = std::fs::read_to_string(Path::new(DATA).join("routing.toml")).expect("routing.toml");
    toml::from_str(&text).expect("routing.toml parses")
}

fn parse_file(path: &Path) -> Result<Batch, PayloadError> {
    let bytes = std::fs::read(path).expect("fixture readable");
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    if name.starts_with("alertmanager-") {
        parse_alertmanager(&bytes)
    } else if name.starts_with("grafana-") {
        parse_grafana(&bytes)
    } else if name.starts_with("generic-") {
        parse_generic(&bytes)
    } else {
        panic!("fixture {name} does not start with its source")
    }
}

fn payloads() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(Path::new(DATA).join("payloads"))
        .expect("payloads dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    v.sort();
    assert!(v.len() >= 10, "fixtures missing");
    v
}

#[test]
fn payloads_parse_or_fail_as_snapshotted() {
    for path in payloads() {
        let name = path
            .file_stem()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let result = parse_file(&path);
        // Fixtures say in their name whether they are meant to parse.
        let good = [
            "-firing",
            "-one-resolved",
            "-refired",
            "-all-resolved",
            "-mixed",
            "-two",
        ]
        .iter()
        .any(|s| name.ends_with(s));
        assert_eq!(result.is_ok(), good, "{name}: {result:?}");
        match result {
            Ok(batch) => insta::assert_json_snapshot!(format!("parse-{name}"), batch),
            Err(e) => insta::assert_snapshot!(format!("parse-{name}"), e.to_string()),
        }
    }
}

#[test]
fn routing_grouping_and_silences() {
    let cfg = config();
    let now: Timestamp = "2026-11-22T20:30:00Z".parse().expect("now");
    let mut out = String::new();
    for path in payloads() {
        let Ok(batch) = parse_file(&path) else {
            continue;
        };
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        writeln!(out, "== {name}").ok();
        for a in &batch.alerts {
            let r = route(&cfg.routing, &a.labels);
            let key = group_key(&batch, a, &r);
            let silenced = silenced_by(a, &cfg.silence, now).map_or("-", |s| s.id.as_str());
            writeln!(
                out,
                "{} {:<24} matched={:?} service={:?} runbook={:?} severity={:?}\n    group={} silenced={}",
                a.fingerprint,
                a.labels.get("alertname").map_or("", String::as_str),
                r.matched,
                r.service,
                r.runbook,
                r.severity,
                key.0,
                silenced
            )
            .ok();
        }
    }
    insta::assert_snapshot!("routing", out);
}

#[test]
fn diff_scenarios() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(Path::new(DATA).join("diff"))
        .expect("diff dir")
        .map(|e| e.expect("dir entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty());
    for file in files {
        let script = std::fs::read_to_string(&file).expect("scenario");
        let mut known: BTreeMap<Fingerprint, Alert> = BTreeMap::new();
        let mut out = String::new();
        for line in script
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let batch = parse_file(&Path::new(DATA).join("payloads").join(line))
                .expect("scenario payload parses");
            let changes = diff(&known, &batch.alerts);
            writeln!(out, "== {line}").ok();
            for c in &changes {
                writeln!(
                    out,
                    "{} {:?} -> {:?} ({})",
                    c.fingerprint,
                    c.kind,
                    c.alert.status,
                    c.alert.labels.get("pod").map_or("", String::as_str)
                )
                .ok();
            }
            apply(&mut known, &changes);
            // Replaying the same delivery right away must change nothing.
            assert!(
                diff(&known, &batch.alerts)
                    .iter()
                    .all(|c| !c.kind.changes_state()),
                "{line} not idempotent"
            );
        }
        writeln!(out, "== final").ok();
        for (fp, a) in &known {
            writeln!(
                out,
                "{fp} {:?} starts={:?} ends={:?}",
                a.status, a.starts_at, a.ends_at
            )
            .ok();
        }
        let name = file
            .file_stem()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        insta::assert_snapshot!(format!("diff-{name}"), out);
    }
}

#[test]
fn alertmanager_fingerprints_equal_computed_ones() {
    // The parser keeps the `fingerprint` Alertmanager sent; it must equal the one computed
    // from the labels, or the same alert would get two identities depending on whether the
    // field was present. The fixtures' values are written in the file, so a change to the
    // hash turns this red; values from a real Alertmanager are in tests/fingerprints.rs.
    let batch =
        parse_file(&Path::new(DATA).join("payloads/alertmanager-firing.json")).expect("parses");
    for a in &batch.alerts {
        assert_eq!(a.fingerprint, Fingerprint::of_labels(&a.labels));
    }
}

#[test]
fn docs_toml_examples_load() {
    // docs/alerts.md shows routing and silence config; every TOML block in it must load.
    let docs =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/alerts.md"))
            .expect("docs/alerts.md");
    let mut blocks = 0;
    for block in docs.split("```toml\n").skip(1) {
        let text = block.split("```").next().unwrap_or_default();
        let cfg: Result<TestConfig, _> = toml::from_str(text);
        assert!(cfg.is_ok(), "docs example does not load: {cfg:?}\n{text}");
        blocks += 1;
    }
    assert!(blocks >= 2, "docs lost their TOML examples");
}
