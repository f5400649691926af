//! Throughput of the pure ingest path: parse an Alertmanager payload of 10 alerts, route
//! and group each alert, check silences, diff against the group and apply.

// A benchmark measures time; the no-clock rule (clippy.toml) is for the library.
#![allow(clippy::disallowed_types)]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Instant;

use sitrep_alerts::{
    Fingerprint, RoutingConfig, Silence, Timestamp, apply, diff, group_key, parse_alertmanager,
    parse_matchers, route, silenced_by,
};

fn payload(n: usize, round: usize) -> Vec<u8> {
    let alerts: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"status":"firing","labels":{{"alertname":"HighLatency","cluster":"eu1","instance":"api-{i}:9100","job":"api","severity":"critical"}},"annotations":{{"summary":"p99 above 1s","description":"round {round}"}},"startsAt":"2026-11-22T19:41:07.512Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prometheus:9090/graph"}}"#
            )
        })
        .collect();
    format!(
        r#"{{"version":"4","groupKey":"{{}}:{{alertname=\"HighLatency\"}}","receiver":"sitrep","status":"firing","commonLabels":{{}},"alerts":[{}]}}"#,
        alerts.join(",")
    )
    .into_bytes()
}

fn main() {
    let config: RoutingConfig = RoutingConfig {
        routes: (0..20)
            .map(|i| sitrep_alerts::Route {
                id: format!("r{i}"),
                matchers: parse_matchers(&format!(
                    r#"{{alertname=~"Rule{i}|HighLatency", job!="batch"}}"#
                ))
                .unwrap_or_default(),
                service: Some(format!("svc{i}")),
                runbook: None,
                severity: Some("SEV2".into()),
                group_by: None,
                continue_matching: i % 2 == 0,
            })
            .collect(),
        default: Default::default(),
    };
    let now: Timestamp = "2026-11-22T20:00:00Z".parse().unwrap_or_default();
    let silences: Vec<Silence> = (0..50)
        .map(|i| Silence {
            id: format!("s{i}"),
            matchers: parse_matchers(&format!(r#"instance="other-{i}:9100""#)).unwrap_or_default(),
            starts_at: now,
            ends_at: now,
            created_by: "bench".into(),
            comment: String::new(),
        })
        .collect();
    println!("| payload | alerts | iterations | per payload | alerts/s |");
    println!("|---|---:|---:|---:|---:|");
    for (n, iters) in [(10usize, 20_000usize), (100, 2_000), (1_000, 200)] {
        let bodies = [payload(n, 0), payload(n, 1)];
        let mut known: BTreeMap<Fingerprint, sitrep_alerts::Alert> = BTreeMap::new();
        let start = Instant::now();
        for i in 0..iters {
            let body = bodies.get(i % 2).map(Vec::as_slice).unwrap_or_default();
            let Ok(batch) = parse_alertmanager(body) else {
                return;
            };
            for a in &batch.alerts {
                let r = route(&config, &a.labels);
                black_box(group_key(&batch, a, &r));
                black_box(silenced_by(a, &silences, now));
            }
            let changes = diff(&known, &batch.alerts);
            apply(&mut known, &changes);
        }
        let per = start.elapsed() / u32::try_from(iters).unwrap_or(u32::MAX);
        let rate = (n as f64) / per.as_secs_f64();
        println!("| Alertmanager v4 | {n} | {iters} | {per:.1?} | {rate:.0} |");
    }
}
