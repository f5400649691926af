//! One synthetic 100-step runbook, parsed with risk: the per-runbook cost a person waits
//! for when one file is opened or hot-reloaded. Goal: under 5 ms on one core.
//! Run with `cargo bench -p sitrep-runbook --bench steps`.

// A benchmark measures time; the library itself stays clock-free (clippy.toml).
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::{Duration, Instant};

const ROUNDS: usize = 200;

/// Step bodies in rotation: plain commands, placeholders passed as arguments (the common
/// case), and placeholders inside text a second parser reads (`sh -c`, ssh, awk).
const BODIES: &[&str] = &[
    "kubectl -n checkout get pods -o wide",
    "kubectl -n \"$NAMESPACE\" logs deploy/\"$DEPLOYMENT\" --since=15m | grep -i error",
    "curl -sS \"http://<instance>/readyz\"",
    "df -h /var/lib/postgresql && du -xh /var/log 2>/dev/null | sort -rh | head -20",
    "psql -h \"$PRIMARY\" -c \"SELECT client_addr, state FROM pg_stat_replication;\"",
    "ssh \"$HOST\" \"journalctl -u $UNIT --since '10 min ago'\"",
    "systemctl status nginx --no-pager",
    "sh -c \"tail -n 50 /var/log/app/$LOGFILE\"",
    "awk '{ print $1 }' /var/log/nginx/access.log | sort | uniq -c | sort -rn | head",
    "journalctl -u \"$UNIT\" --since -15m --no-pager | tail -100",
];

fn runbook() -> String {
    let mut s = String::from(
        "---\nservice: bench\nparams:\n  NAMESPACE: {type: k8s-name, default: checkout}\n  \
         DEPLOYMENT: {type: k8s-name}\n  instance: {type: hostname}\n  PRIMARY: {type: hostname}\n  \
         HOST: {type: hostname}\n  UNIT: {type: pattern, pattern: '[a-z0-9@._-]+'}\n  \
         LOGFILE: {type: pattern, pattern: '[a-z0-9._-]+'}\n---\n\n# Bench runbook\n",
    );
    for section in 0..10 {
        let _ = write!(s, "\n## Section {section}\n");
        for i in 0..10 {
            let body = BODIES[(section * 10 + i) % BODIES.len()];
            let _ = write!(
                s,
                "\nStep {i} of section {section}:\n\n```bash {{\"name\":\"s{section}-{i}\"}}\n# check {i}\n{body}\n```\n"
            );
        }
    }
    s
}

fn main() {
    let text = runbook();
    let (rb, _) = sitrep_runbook::parse(&text);
    assert_eq!(rb.steps.len(), 100);
    let mut best = Duration::MAX;
    for _ in 0..ROUNDS {
        let start = Instant::now();
        black_box(sitrep_runbook::parse(black_box(&text)));
        best = best.min(start.elapsed());
    }
    let with_placeholders = rb
        .steps
        .iter()
        .filter(|s| !s.placeholders.is_empty())
        .count();
    println!(
        "100-step runbook ({} bytes, {with_placeholders} steps with placeholders): parse with risk, best of {ROUNDS}: {:.3} ms (goal < 5 ms: {})",
        text.len(),
        best.as_secs_f64() * 1e3,
        if best < Duration::from_millis(5) {
            "met"
        } else {
            "NOT met"
        }
    );
}
