//! Throughput of the pure ingest path for one Alertmanager delivery: parse, route every
//! alert through 20 routes, take its group key, check it against 50 active silences, diff
//! the delivery against the group's known alerts and apply the changes.
//!
//! Before timing, one untimed pass checks that the work described in docs/benchmarks.md is
//! the work done (how many routes match, how many alerts are silenced, how many changes of
//! each kind), and the bench exits non-zero otherwise: a bench whose silences had expired
//! once measured an early return instead of matching.

// A benchmark measures time; the no-clock rule (clippy.toml) is for the library.
#![allow(clippy::disallowed_types)]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use sitrep_alerts::{
    Alert, Batch, ChangeKind, Fingerprint, Route, RoutingConfig, Silence, Timestamp, apply, diff,
    group_key, parse_alertmanager, parse_matchers, route, silenced_by,
};

const ROUTES: usize = 20;
const SILENCES: usize = 50;

/// A delivery of `n` firing alerts of one group. Odd-numbered alerts carry `round` in an
/// annotation, so two consecutive rounds differ in half the alerts (`updated`) and repeat
/// the other half (`unchanged`), like a group whose descriptions quote a changing value.
fn payload(n: usize, round: usize) -> Vec<u8> {
    let alerts: Vec<String> = (0..n)
        .map(|i| {
            let note = if i % 2 == 1 { round } else { 0 };
            format!(
                r#"{{"status":"firing","labels":{{"alertname":"HighLatency","cluster":"eu1","instance":"api-{i}:9100","job":"api","namespace":"checkout","severity":"critical"}},"annotations":{{"summary":"p99 above 1s","description":"p99 {note} ms"}},"startsAt":"2026-11-22T19:41:07.512Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prometheus:9090/graph"}}"#
            )
        })
        .collect();
    format!(
        r#"{{"version":"4","groupKey":"{{}}:{{alertname=\"HighLatency\"}}","receiver":"sitrep","status":"firing","commonLabels":{{}},"alerts":[{}]}}"#,
        alerts.join(",")
    )
    .into_bytes()
}

fn matchers(text: &str) -> Vec<sitrep_alerts::Matcher> {
    // A typo here would silently make a route or silence match everything or nothing.
    parse_matchers(text).unwrap_or_else(|e| panic!("bench matcher {text}: {e}"))
}

/// 18 routes for other alerts (regexes and `!=`, every other one with `continue`) that do
/// not match, so each alert is tried against all of them, then `critical` (continue) and
/// `api` that do: both are consulted, as in a config with team routes before the catch-alls.
fn routing() -> RoutingConfig {
    let mut routes: Vec<Route> = (0..ROUTES - 2)
        .map(|i| {
            let text = if i % 3 == 0 {
                format!(r#"{{alertname=~"Disk{i}.*|Memory{i}.*", job!="batch"}}"#)
            } else {
                format!(r#"{{namespace=~"team-{i}|team-{i}-.*", severity!="info"}}"#)
            };
            route_of(&format!("r{i}"), &text, i % 2 == 0)
        })
        .collect();
    routes.push(route_of("critical", r#"{severity="critical"}"#, true));
    routes.push(route_of(
        "api",
        r#"{alertname=~"High.*", job=~"api|web"}"#,
        false,
    ));
    RoutingConfig {
        routes,
        default: Default::default(),
    }
}

fn route_of(id: &str, text: &str, continue_matching: bool) -> Route {
    Route {
        id: id.to_owned(),
        matchers: matchers(text),
        service: Some(format!("svc-{id}")),
        runbook: None,
        severity: Some("SEV2".into()),
        group_by: None,
        continue_matching,
    }
}

/// 50 silences all in force at `now`. 48 do not match: half differ at their first matcher
/// (another alertname), half only at a later regex on `instance`. The last two match
/// instances ending in 7 and in 3, i.e. 20% of the alerts, after every other was tried.
fn silences() -> Vec<Silence> {
    (0..SILENCES)
        .map(|i| {
            let text = match i {
                _ if i == SILENCES - 2 => {
                    r#"{alertname="HighLatency", instance=~"api-\d*7:9100"}"#.to_owned()
                }
                _ if i == SILENCES - 1 => r#"{cluster="eu1", instance=~"api-\d*3:.*"}"#.to_owned(),
                _ if i % 2 == 0 => format!(r#"{{alertname=~"Disk{i}|Cert.*", cluster="eu1"}}"#),
                _ => format!(r#"{{alertname="HighLatency", job="api", instance=~"db-{i}:\d+"}}"#),
            };
            Silence {
                id: format!("s{i}"),
                matchers: matchers(&text),
                starts_at: at("2026-11-22T19:00:00Z"),
                ends_at: at("2026-11-22T21:00:00Z"),
                created_by: "bench".into(),
                comment: String::new(),
            }
        })
        .collect()
}

/// The bench's clock: silences run from 19:00 to 21:00, the deliveries arrive at 20:00.
fn at(text: &str) -> Timestamp {
    text.parse()
        .unwrap_or_else(|e| panic!("bench time {text}: {e}"))
}

struct Setup {
    config: RoutingConfig,
    silences: Vec<Silence>,
    now: Timestamp,
}

/// The timed work for one delivery; `None` if the payload does not parse.
fn ingest(s: &Setup, known: &mut BTreeMap<Fingerprint, Alert>, body: &[u8]) -> Option<Batch> {
    let batch = parse_alertmanager(body).ok()?;
    for a in &batch.alerts {
        let r = route(&s.config, &a.labels);
        black_box(group_key(&batch, a, &r));
        black_box(silenced_by(a, &s.silences, s.now));
    }
    let changes = diff(known, &batch.alerts);
    apply(known, &changes);
    black_box(changes);
    Some(batch)
}

/// Untimed: checks what one steady-state delivery of `n` alerts does; prints it.
fn check(s: &Setup, n: usize) -> Result<(), String> {
    let bodies = [payload(n, 1), payload(n, 2)];
    let mut known = BTreeMap::new();
    let [first, second] = bodies.map(|b| parse_alertmanager(&b));
    let (first, batch) = (
        first.map_err(|e| e.to_string())?,
        second.map_err(|e| e.to_string())?,
    );
    let initial = diff(&known, &first.alerts);
    apply(&mut known, &initial);
    let muted = batch
        .alerts
        .iter()
        .filter(|a| silenced_by(a, &s.silences, s.now).is_some())
        .count();
    let routed = batch.alerts.iter().map(|a| route(&s.config, &a.labels));
    let all_two = routed.clone().all(|r| r.matched == ["critical", "api"]);
    let changes = diff(&known, &batch.alerts);
    let count = |k| changes.iter().filter(|c| c.kind == k).count();
    let (updated, unchanged) = (count(ChangeKind::Updated), count(ChangeKind::Unchanged));
    println!(
        "n={n}: routes matched per alert [critical, api]: {all_two}; silenced {muted}/{n}; \
         updated {updated}, unchanged {unchanged}"
    );
    let want_muted = (0..n).filter(|i| i % 10 == 7 || i % 10 == 3).count();
    if !all_two || muted != want_muted || updated != n / 2 || unchanged != n - n / 2 {
        return Err(format!(
            "n={n}: the bench does not do what docs/benchmarks.md says"
        ));
    }
    Ok(())
}

/// Mean time per delivery over `iters` deliveries alternating between two rounds, after
/// `iters / 10` deliveries of warm-up.
fn time(s: &Setup, n: usize, iters: usize) -> Option<Duration> {
    let bodies = [payload(n, 1), payload(n, 2)];
    let mut known = BTreeMap::new();
    for i in 0..iters / 10 {
        ingest(s, &mut known, bodies.get(i % 2)?)?;
    }
    let start = Instant::now();
    for i in 0..iters {
        ingest(s, &mut known, bodies.get(i % 2)?)?;
    }
    Some(start.elapsed() / u32::try_from(iters).ok()?)
}

/// Mean time per alert of each stage alone, over the alerts of a 100-alert delivery, so
/// the table can say where the time goes.
fn stages(s: &Setup) -> Option<()> {
    let body = payload(100, 1);
    let batch = parse_alertmanager(&body).ok()?;
    let per_alert = |f: &dyn Fn()| {
        let start = Instant::now();
        for _ in 0..2_000 {
            f();
        }
        start.elapsed() / (2_000 * 100)
    };
    let parse = per_alert(&|| {
        black_box(parse_alertmanager(black_box(&body)).ok());
    });
    let routes = per_alert(&|| {
        for a in &batch.alerts {
            black_box(route(&s.config, &a.labels));
        }
    });
    let silences = per_alert(&|| {
        for a in &batch.alerts {
            black_box(silenced_by(a, &s.silences, s.now));
        }
    });
    println!(
        "per alert, stages alone (100-alert delivery): parse {parse:.2?}, route through {ROUTES} routes {routes:.2?}, check {SILENCES} silences {silences:.2?}"
    );
    Some(())
}

fn main() -> ExitCode {
    let s = Setup {
        config: routing(),
        silences: silences(),
        now: at("2026-11-22T20:00:00Z"),
    };
    let sizes = [(10usize, 20_000usize), (100, 2_000), (1_000, 200)];
    for (n, _) in sizes {
        if let Err(e) = check(&s, n) {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    }
    println!("| payload | alerts | iterations | per payload | per alert | alerts/s |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (n, iters) in sizes {
        let Some(per) = time(&s, n, iters) else {
            eprintln!("payload of {n} alerts did not parse");
            return ExitCode::FAILURE;
        };
        let per_alert = per / u32::try_from(n).unwrap_or(u32::MAX);
        let rate = (n as f64) / per.as_secs_f64();
        println!("| Alertmanager v4 | {n} | {iters} | {per:.1?} | {per_alert:.2?} | {rate:.0} |");
    }
    if stages(&s).is_none() {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
