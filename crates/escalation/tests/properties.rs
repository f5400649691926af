//! Properties of the engine over generated policies and rotations: nothing pages after
//! acknowledgement, levels fire in order at their delays, repeats stop where configured,
//! `due` is idempotent given the sent set and a sweeper never pages twice or forgets a
//! page, and daily/weekly hand-offs stay at local time across DST changes.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use proptest::prelude::*;
use sitrep_escalation::{Config, IncidentState, SignedDuration, Timestamp, due, simulate};

/// A generated policy: per level a delay in minutes and the people it pages.
#[derive(Debug, Clone)]
struct Gen {
    levels: Vec<(i64, Vec<usize>)>,
    repeat: u32,
    repeat_after: i64,
}

const PEOPLE: usize = 4;

fn gen_policy() -> impl Strategy<Value = Gen> {
    (
        prop::collection::vec((0i64..90, prop::collection::vec(0..PEOPLE, 1..3)), 1..5),
        0u32..4,
        0i64..60,
    )
        .prop_map(|(levels, repeat, repeat_after)| Gen {
            levels,
            repeat,
            repeat_after,
        })
}

/// The policy as TOML, with a `QUIET` severity that has no reminders, so only pages wake.
fn config(g: &Gen) -> Config {
    let mut t = String::from("default_policy = \"p\"\n[severities.QUIET]\n");
    for i in 0..PEOPLE {
        // Person i has i % 2 + 1 contact methods.
        let _ = writeln!(t, "[[people]]\nid = \"u{i}\"\nname = \"U{i}\"");
        let _ = writeln!(
            t,
            "contacts = [{{ id = \"u{i}-mail\", email = \"u{i}@example.com\" }}"
        );
        if i % 2 == 1 {
            let _ = writeln!(
                t,
                ", {{ id = \"u{i}-hook\", webhook = \"https://h.example/{i}\" }}"
            );
        }
        let _ = writeln!(t, "]");
    }
    let _ = writeln!(
        t,
        "[[policies]]\nid = \"p\"\nrepeat = {}\nrepeat_after = \"{}m\"",
        g.repeat, g.repeat_after
    );
    for (delay, who) in &g.levels {
        let targets: Vec<String> = who.iter().map(|i| format!("\"person:u{i}\"")).collect();
        let _ = writeln!(
            t,
            "[[policies.levels]]\ndelay = \"{delay}m\"\ntargets = [{}]",
            targets.join(", ")
        );
    }
    Config::from_toml(&t).expect("generated config parses")
}

/// The model: when each (cycle, level) fires, computed independently of the engine.
fn model_firings(g: &Gen, declared: Timestamp) -> Vec<(u32, usize, Timestamp)> {
    let mut out = Vec::new();
    let mut minutes = 0i64;
    for cycle in 0..=g.repeat {
        for (level, (delay, _)) in g.levels.iter().enumerate() {
            minutes += if cycle > 0 && level == 0 {
                g.repeat_after
            } else {
                *delay
            };
            let at = declared
                .checked_add(SignedDuration::from_mins(minutes))
                .expect("in range");
            out.push((cycle, level, at));
        }
    }
    out
}

fn base() -> Timestamp {
    "2026-11-23T10:00:00Z".parse().expect("timestamp")
}

fn at(m: i64) -> Timestamp {
    base()
        .checked_add(SignedDuration::from_mins(m))
        .expect("in range")
}

fn state(acked: Option<i64>) -> IncidentState {
    let mut st = IncidentState::declared("inc-1", "svc", "QUIET", base());
    st.acknowledged_at = acked.map(at);
    st
}

const FOREVER: SignedDuration = SignedDuration::from_hours(24 * 365);

proptest! {
    #[test]
    fn nothing_pages_at_or_after_acknowledgement(g in gen_policy(), ack in 0i64..800, extra in 0i64..800) {
        let cfg = config(&g);
        let st = state(Some(ack));
        let d = due(&cfg, &st, at(ack + extra)).expect("due");
        prop_assert!(d.pages.is_empty(), "{:?}", d.pages);
        prop_assert_eq!(d.next_wakeup, None);
    }

    #[test]
    fn levels_fire_in_order_at_their_delays(g in gen_policy()) {
        let cfg = config(&g);
        let pages = simulate(&cfg, "svc", "QUIET", base(), FOREVER).expect("simulate");
        let model = model_firings(&g, base());
        let mut last = (0u32, 0usize, base());
        for (t, p) in &pages {
            let expected = model
                .iter()
                .find(|(c, l, _)| *c == p.cycle && *l == p.level)
                .map(|(_, _, t)| *t);
            prop_assert_eq!(Some(*t), expected, "page {}", p.id);
            prop_assert!((p.cycle, p.level, *t) >= last, "out of order at {}", p.id);
            last = (p.cycle, p.level, *t);
        }
        // Every level of every cycle fired, each with every contact of its people once.
        for (c, l, _) in &model {
            let (_, who) = &g.levels[*l];
            let people: BTreeSet<usize> = who.iter().copied().collect();
            let contacts: usize = people.iter().map(|i| i % 2 + 1).sum();
            let n = pages.iter().filter(|(_, p)| p.cycle == *c && p.level == *l).count();
            prop_assert_eq!(n, contacts, "cycle {} level {}", c, l);
        }
        let ids: BTreeSet<&str> = pages.iter().map(|(_, p)| p.id.0.as_str()).collect();
        prop_assert_eq!(ids.len(), pages.len(), "page ids are unique");
    }

    #[test]
    fn repeats_stop_where_configured(g in gen_policy()) {
        let cfg = config(&g);
        let pages = simulate(&cfg, "svc", "QUIET", base(), FOREVER).expect("simulate");
        let cycles: BTreeSet<u32> = pages.iter().map(|(_, p)| p.cycle).collect();
        prop_assert_eq!(cycles, (0..=g.repeat).collect::<BTreeSet<u32>>());
        let end = model_firings(&g, base()).last().map(|f| f.2).expect("one firing");
        let d = due(&cfg, &state(None), end).expect("due");
        prop_assert_eq!(d.pages.len(), pages.len());
        prop_assert_eq!(d.next_wakeup, None, "nothing after the last repeat");
    }

    #[test]
    fn due_is_idempotent_given_the_sent_set(g in gen_policy(), now in 0i64..600, keep in prop::collection::vec(any::<bool>(), 64)) {
        let cfg = config(&g);
        let mut st = state(None);
        let first = due(&cfg, &st, at(now)).expect("due");
        prop_assert_eq!(&first, &due(&cfg, &st, at(now)).expect("due"));
        // Mark an arbitrary subset sent: exactly the rest comes back, in the same order.
        let mut rest = Vec::new();
        for (i, p) in first.pages.iter().enumerate() {
            if keep.get(i % keep.len()).copied().unwrap_or(false) {
                st.sent.insert(p.id.0.clone());
            } else {
                rest.push(p.id.clone());
            }
        }
        let again = due(&cfg, &st, at(now)).expect("due");
        let got: Vec<_> = again.pages.iter().map(|p| p.id.clone()).collect();
        prop_assert_eq!(got, rest);
        prop_assert_eq!(again.next_wakeup, first.next_wakeup);
    }

    #[test]
    fn a_sweeper_pages_each_page_once_and_forgets_none(
        g in gen_policy(),
        ack in prop::option::of(0i64..900),
        mut sweeps in prop::collection::vec(0i64..900, 1..12),
        follow_wakeups in any::<bool>(),
    ) {
        let cfg = config(&g);
        let mut st = state(ack);
        sweeps.sort_unstable();
        let mut delivered: Vec<(String, Timestamp)> = Vec::new();
        let mut times = vec![sweeps[0]];
        let mut i = 0;
        while let Some(&now) = times.last() {
            let d = due(&cfg, &st, at(now)).expect("due");
            for p in d.pages {
                prop_assert!(st.sent.insert(p.id.0.clone()), "paged twice: {}", p.id);
                delivered.push((p.id.0, p.due_at));
            }
            // Either sleep exactly until the next wake-up or wake at arbitrary times.
            let next = if follow_wakeups {
                d.next_wakeup.map(|w| w.duration_since(base()).as_mins())
            } else {
                i += 1;
                sweeps.get(i).copied()
            };
            match next {
                Some(n) => {
                    // A wake-up is always in the future, so following them terminates.
                    prop_assert!(n > now || !follow_wakeups, "wake-up {} not after {}", n, now);
                    times.push(n);
                }
                None => break,
            }
        }
        // Every page due by the last sweep that ran before the acknowledgement.
        let seen_until = times.iter().copied().filter(|t| ack.is_none_or(|a| *t < a)).max();
        let expected: BTreeSet<String> = match seen_until {
            Some(t) => simulate(&cfg, "svc", "QUIET", base(), FOREVER)
                .expect("simulate")
                .into_iter()
                .filter(|(due_at, _)| *due_at <= at(t))
                .map(|(_, p)| p.id.0.replacen("simulated:", "inc-1:", 1))
                .collect(),
            None => BTreeSet::new(),
        };
        for (id, due_at) in &delivered {
            prop_assert!(ack.is_none_or(|a| *due_at < at(a)), "{id} paged after ack");
        }
        let got: BTreeSet<String> = delivered.into_iter().map(|(id, _)| id).collect();
        if follow_wakeups && ack.is_none() {
            // Waking exactly when told, the sweeper ends having sent the whole policy.
            prop_assert_eq!(got.len(), simulate(&cfg, "svc", "QUIET", base(), FOREVER).expect("simulate").len());
        }
        prop_assert_eq!(got, expected);
    }
}

/// A daily or weekly rotation of `n` people at 09:00 local from 2026-01-05 (a Monday).
fn rotation(tz: &str, n: usize, weekly: bool) -> Config {
    let people: String = (0..n)
        .map(|i| format!("[[people]]\nid = \"r{i}\"\nname = \"R{i}\"\ncontacts = [{{ id = \"r{i}-m\", email = \"r{i}@example.com\" }}]\n"))
        .collect();
    let names: Vec<String> = (0..n).map(|i| format!("\"r{i}\"")).collect();
    let start = Date::constant(2026, 1, 5)
        .to_datetime(Time::constant(9, 0, 0, 0))
        .to_zoned(TimeZone::get(tz).expect("tz"))
        .expect("zoned")
        .timestamp();
    let text = format!(
        "{people}[[rotations]]\nid = \"rot\"\nparticipants = [{}]\nhandoff = \"{}\"\nhandoff_time = \"09:00\"\ntime_zone = \"{tz}\"\nstart = \"{start}\"\n",
        names.join(", "),
        if weekly { "weekly" } else { "daily" }
    );
    Config::from_toml(&text).expect("rotation config parses")
}

/// 2026 DST changes: Berlin 29 March / 25 October, New York 8 March / 1 November.
const TRANSITIONS: [(&str, Date); 4] = [
    ("Europe/Berlin", Date::constant(2026, 3, 29)),
    ("Europe/Berlin", Date::constant(2026, 10, 25)),
    ("America/New_York", Date::constant(2026, 3, 8)),
    ("America/New_York", Date::constant(2026, 11, 1)),
];

fn local(tz: &str, d: Date, minute_of_day: i64) -> Timestamp {
    let t = Time::constant(0, 0, 0, 0)
        .checked_add(SignedDuration::from_mins(minute_of_day))
        .expect("within a day");
    DateTime::from_parts(d, t)
        .to_zoned(TimeZone::get(tz).expect("tz"))
        .expect("zoned")
        .timestamp()
}

proptest! {
    #[test]
    fn daily_handoff_stays_at_nine_local_across_dst(
        which in 0usize..4,
        day in -6i64..7,
        minute in 0i64..1440,
        n in 2usize..6,
    ) {
        let (tz, change) = TRANSITIONS[which];
        let cfg = rotation(tz, n, false);
        let r = cfg.rotation("rot").expect("rotation");
        let d = change.checked_add(jiff::Span::new().days(day)).expect("date");
        let days = Date::constant(2026, 1, 5).until(d).expect("span").get_days();
        // Before 09:00 local it is still the previous day's turn.
        let turn = i64::from(days) - i64::from(minute < 9 * 60);
        let want = format!("r{}", turn.rem_euclid(n as i64));
        let t = local(tz, d, minute);
        prop_assert_eq!(r.on_call(t), Some(want.as_str()), "{} {} +{}m", tz, d, minute);
        // The next hand-off is at 09:00 local, today or tomorrow.
        let next = r.next_handoff(t).expect("next hand-off");
        let z = next.to_zoned(TimeZone::get(tz).expect("tz"));
        prop_assert_eq!(z.time(), Time::constant(9, 0, 0, 0));
        let expect_date = if minute < 9 * 60 { d } else { d.tomorrow().expect("date") };
        prop_assert_eq!(z.date(), expect_date);
    }

    #[test]
    fn weekly_handoff_stays_on_monday_nine_local_across_dst(
        which in 0usize..4,
        day in -15i64..15,
        minute in 0i64..1440,
        n in 2usize..5,
    ) {
        let (tz, change) = TRANSITIONS[which];
        let cfg = rotation(tz, n, true);
        let r = cfg.rotation("rot").expect("rotation");
        let d = change.checked_add(jiff::Span::new().days(day)).expect("date");
        let days = i64::from(Date::constant(2026, 1, 5).until(d).expect("span").get_days());
        // Mondays before 09:00 still belong to the week before.
        let monday_morning = d.weekday() == jiff::civil::Weekday::Monday && minute < 9 * 60;
        let turn = days.div_euclid(7) - i64::from(monday_morning);
        let want = format!("r{}", turn.rem_euclid(n as i64));
        prop_assert_eq!(r.on_call(local(tz, d, minute)), Some(want.as_str()), "{} {} +{}m", tz, d, minute);
    }
}

#[test]
fn a_handoff_time_skipped_by_dst_happens_just_after_the_gap() {
    // 02:30 does not exist in Berlin on 29 March 2026: the hand-off happens at 03:30 CEST.
    let text = "[[rotations]]\nid = \"r\"\nparticipants = [\"a\", \"b\"]\nhandoff = \"daily\"\nhandoff_time = \"02:30\"\ntime_zone = \"Europe/Berlin\"\nstart = 2026-03-27T02:30:00+01:00\n";
    let cfg = Config::from_toml(text).expect("parses");
    let r = cfg.rotation("r").expect("rotation");
    let before: Timestamp = "2026-03-29T03:29:59+02:00".parse().expect("ts");
    let after: Timestamp = "2026-03-29T03:30:00+02:00".parse().expect("ts");
    assert_eq!(
        r.on_call(before),
        Some("b"),
        "day 1 is b's turn until the hand-off"
    );
    assert_eq!(r.on_call(after), Some("a"));
    assert_eq!(r.next_handoff(before), Some(after));
}

proptest! {
    #[test]
    fn a_status_update_reminder_is_due_once_per_missed_cadence(
        sev in 1usize..5,
        last in prop::option::of(0i64..300),
        now in -60i64..600,
        resolved in prop::option::of(0i64..700),
    ) {
        let cfg = Config::from_toml("default_policy = \"p\"\n[[policies]]\nid = \"p\"\n[[policies.levels]]\ntargets = [\"channel:none\"]\n")
            .expect("parses");
        let every = [15i64, 30, 60][..].get(sev - 1).copied();
        let mut st = IncidentState::declared("i", "svc", format!("SEV{sev}"), base());
        st.last_update_at = last.map(at);
        st.resolved_at = resolved.map(at);
        let d = due(&cfg, &st, at(now)).expect("due");
        let updates: Vec<Timestamp> = d
            .reminders
            .iter()
            .filter(|r| r.kind == sitrep_escalation::ReminderKind::StatusUpdate)
            .map(|r| r.due_at)
            .collect();
        let from = last.unwrap_or(0);
        match every {
            // SEV4 has no cadence.
            None => prop_assert!(updates.is_empty()),
            Some(e) => {
                let k = (now - from).div_euclid(e);
                let point = from + k * e;
                let live = resolved.is_none_or(|r| r > now || point < r);
                if k >= 1 && live {
                    prop_assert_eq!(updates, vec![at(point)], "latest missed point only");
                } else {
                    prop_assert!(updates.is_empty(), "{:?}", updates);
                }
            }
        }
        // Reminders and wake-ups are never in the past or the future respectively.
        prop_assert!(d.reminders.iter().all(|r| r.due_at <= at(now)));
        prop_assert!(d.next_wakeup.is_none_or(|w| w > at(now)));
    }
}
