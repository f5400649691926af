//! Escalation benchmarks: a sweeper tick over 10,000 open incidents (`due` for each, first
//! with nothing sent, then in steady state with every due page recorded), rotation lookups
//! years after the rotation started, `simulate`, and config parsing. Plain `Instant`
//! loops printing a table; run with `cargo bench -p sitrep-escalation`.

// Benchmarks time things; the library itself never reads the clock.
#![allow(clippy::disallowed_types)]

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::{Duration, Instant};

use sitrep_escalation::{Config, IncidentState, SignedDuration, Timestamp, due, simulate};

const INCIDENTS: usize = 10_000;
const PEOPLE: usize = 60;

/// 60 people with two contacts each, 6 weekly/daily rotations in different zones, 12
/// policies of 3 levels (rotation, rotation + channel, person) repeated twice, 40 services.
fn config_text() -> String {
    let mut t = String::from("default_policy = \"p0\"\n");
    for i in 0..PEOPLE {
        let _ = writeln!(
            t,
            "[[people]]\nid = \"u{i}\"\nname = \"User {i}\"\ncontacts = [{{ id = \"u{i}-mail\", email = \"u{i}@example.com\" }}, {{ id = \"u{i}-hook\", webhook = \"https://h.example/{i}\" }}]"
        );
    }
    let _ = writeln!(
        t,
        "[[channels]]\nid = \"room\"\nslack_webhook = \"https://hooks.example/room\""
    );
    let zones = [
        "Europe/Berlin",
        "America/New_York",
        "Asia/Tokyo",
        "UTC",
        "Australia/Sydney",
        "America/Los_Angeles",
    ];
    for (r, tz) in zones.iter().enumerate() {
        let members: Vec<String> = (0..8)
            .map(|k| format!("\"u{}\"", (r * 8 + k) % PEOPLE))
            .collect();
        let _ = writeln!(
            t,
            "[[rotations]]\nid = \"r{r}\"\nparticipants = [{}]\nhandoff = \"{}\"\nhandoff_time = \"09:00\"\ntime_zone = \"{tz}\"\nstart = 2020-01-06T09:00:00Z\noverrides = [{{ start = 2026-11-23T00:00:00Z, end = 2026-11-24T00:00:00Z, person = \"u{r}\" }}]",
            members.join(", "),
            if r % 2 == 0 { "weekly" } else { "daily" }
        );
    }
    for p in 0..12 {
        let _ = writeln!(
            t,
            "[[policies]]\nid = \"p{p}\"\nrepeat = 2\nrepeat_after = \"20m\"\n[[policies.levels]]\ntargets = [\"rotation:r{}\"]\n[[policies.levels]]\ndelay = \"10m\"\ntargets = [\"rotation:r{}\", \"channel:room\"]\n[[policies.levels]]\ndelay = \"15m\"\ntargets = [\"person:u{}\"]",
            p % 6,
            (p + 1) % 6,
            p
        );
    }
    for s in 0..40 {
        let _ = writeln!(t, "[[services]]\nid = \"svc{s}\"\npolicy = \"p{}\"", s % 12);
    }
    t
}

fn row(name: &str, ops: usize, elapsed: Duration, note: &str) {
    let per_op = elapsed.as_secs_f64() / ops as f64;
    println!(
        "{name:<46} {ops:>9} {:>10.2} us/op {:>12.0} op/s  {note}",
        per_op * 1e6,
        1.0 / per_op
    );
}

fn main() {
    println!(
        "{:<46} {:>9} {:>16} {:>17}",
        "benchmark", "ops", "time", "rate"
    );
    let text = config_text();
    let n = 200;
    let t = Instant::now();
    for _ in 0..n {
        black_box(Config::from_toml(black_box(&text)).expect("bench config parses"));
    }
    row(
        &format!("parse config ({} KiB)", text.len() / 1024),
        n,
        t.elapsed(),
        "",
    );
    let cfg = Config::from_toml(&text).expect("bench config parses");

    // 10,000 incidents declared over the last 3 hours, a third acknowledged.
    let now: Timestamp = "2026-11-23T12:00:00Z".parse().expect("timestamp");
    let mut incidents: Vec<IncidentState> = (0..INCIDENTS)
        .map(|i| {
            let ago = SignedDuration::from_secs((i as i64 * 7919) % (3 * 3600));
            let declared = now.checked_sub(ago).expect("in range");
            let sev = ["SEV1", "SEV2", "SEV3", "SEV4"][i % 4];
            let mut st = IncidentState::declared(
                format!("inc-{i}"),
                format!("svc{}", i % 40),
                sev,
                declared,
            );
            if i % 3 == 0 {
                st.acknowledged_at = declared.checked_add(SignedDuration::from_mins(3)).ok();
            }
            st.commander = Some(format!("u{}", i % PEOPLE));
            st
        })
        .collect();

    let t = Instant::now();
    let mut pages = 0;
    let mut reminders = 0;
    let mut results = Vec::with_capacity(INCIDENTS);
    for st in &incidents {
        let d = due(&cfg, st, now).expect("due");
        pages += d.pages.len();
        reminders += d.reminders.len();
        results.push(d);
    }
    row(
        "due(), 10k incidents, nothing sent yet",
        INCIDENTS,
        t.elapsed(),
        &format!(
            "({pages} pages, {reminders} reminders; one tick {:.0} ms)",
            t.elapsed().as_secs_f64() * 1e3
        ),
    );
    for (st, d) in incidents.iter_mut().zip(&results) {
        st.sent.extend(d.pages.iter().map(|p| p.id.0.clone()));
        st.sent.extend(d.reminders.iter().map(|r| r.id.clone()));
    }
    let t = Instant::now();
    let mut left = 0;
    for st in &incidents {
        left += black_box(due(&cfg, st, now).expect("due")).pages.len();
    }
    assert_eq!(left, 0, "everything due was recorded as sent");
    row(
        "due(), 10k incidents, steady state (all sent)",
        INCIDENTS,
        t.elapsed(),
        &format!("(one tick {:.0} ms)", t.elapsed().as_secs_f64() * 1e3),
    );

    let rot = cfg.rotation("r0").expect("rotation");
    let n = 1_000_000;
    let t = Instant::now();
    for i in 0..n {
        let at = now
            .checked_add(SignedDuration::from_secs(i as i64 * 61))
            .expect("in range");
        black_box(rot.on_call(black_box(at)));
    }
    row("rotation on_call, ~7 years after start", n, t.elapsed(), "");

    let n = 10_000;
    let sim =
        || simulate(&cfg, "svc3", "SEV1", now, SignedDuration::from_hours(4)).expect("simulate");
    let count = sim().len();
    let t = Instant::now();
    for _ in 0..n {
        black_box(sim());
    }
    row(
        &format!("simulate 4h, 3 cycles ({count} pages)"),
        n,
        t.elapsed(),
        "",
    );
}
