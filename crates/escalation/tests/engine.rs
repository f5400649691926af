//! The engine on the example config: who is paged when, acknowledgement and resolution,
//! rotations resolved at firing time, overrides, reminders and wake-ups.

// Tests read fixtures from disk; the crate itself never does.
#![allow(clippy::disallowed_methods)]

use sitrep_escalation::{
    Config, EscalationError, IncidentState, ReminderKind, SignedDuration, Timestamp, due, simulate,
};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/escalation");

fn example() -> Config {
    let text = std::fs::read_to_string(format!("{DATA}/example.toml")).expect("fixture");
    Config::from_toml(&text).expect("example parses")
}

fn ts(s: &str) -> Timestamp {
    s.parse().expect("test timestamp")
}

fn mins(m: i64) -> SignedDuration {
    SignedDuration::from_mins(m)
}

#[test]
fn simulate_shows_every_page_of_every_cycle() {
    let cfg = example();
    let from = ts("2026-11-23T10:00:00Z");
    let pages = simulate(
        &cfg,
        "checkout-api",
        "SEV1",
        from,
        SignedDuration::from_hours(3),
    )
    .expect("simulates");
    let table: Vec<String> = pages
        .iter()
        .map(|(at, p)| {
            format!(
                "+{:>3}m c{} l{} {:<18} {:<6} {}",
                at.duration_since(from).as_mins(),
                p.cycle,
                p.level,
                p.target.to_string(),
                p.person.as_deref().unwrap_or("-"),
                p.id
            )
        })
        .collect();
    insta::assert_snapshot!(table.join("\n"));
}

#[test]
fn rotation_is_resolved_when_the_level_fires() {
    let cfg = example();
    // Declared Monday 08:50 Berlin: level 0 fires before the 09:00 hand-off (alice's first
    // week ends), the repeat 45 minutes later after it (bob's week begins).
    let from = ts("2026-11-09T08:50:00+01:00");
    let pages = simulate(&cfg, "checkout-api", "SEV1", from, mins(50)).expect("simulates");
    let level0: Vec<(u32, &str)> = pages
        .iter()
        .filter(|(_, p)| p.level == 0)
        .map(|(_, p)| (p.cycle, p.person.as_deref().unwrap_or("-")))
        .collect();
    assert_eq!(level0, [(0, "alice"), (0, "alice"), (1, "bob")]);
}

#[test]
fn override_replaces_the_scheduled_person() {
    let cfg = example();
    let r = cfg.rotation("primary").expect("primary");
    assert_eq!(r.on_call(ts("2026-11-20T12:59:59+01:00")), Some("alice"));
    assert_eq!(r.on_call(ts("2026-11-20T13:00:00+01:00")), Some("bob"));
    assert_eq!(
        r.on_call(ts("2026-11-21T00:00:00+01:00")),
        Some("alice"),
        "end is exclusive"
    );
    assert_eq!(r.scheduled(ts("2026-11-20T14:00:00+01:00")), Some("alice"));
}

#[test]
fn turns_extend_backwards_before_the_rotation_starts() {
    let cfg = example();
    let r = cfg.rotation("primary").expect("primary");
    // Alice's first week starts Monday 2 November 09:00 Berlin; the week before is bob's.
    assert_eq!(r.on_call(ts("2026-11-02T09:00:00+01:00")), Some("alice"));
    assert_eq!(r.on_call(ts("2026-11-02T08:59:59+01:00")), Some("bob"));
    assert_eq!(r.on_call(ts("2026-10-26T09:00:00+01:00")), Some("bob"));
    assert_eq!(r.on_call(ts("2026-10-26T08:59:59+01:00")), Some("alice"));
}

#[test]
fn acknowledgement_stops_pages_but_not_update_reminders() {
    let cfg = example();
    let declared = ts("2026-11-23T10:00:00Z");
    let mut st = IncidentState::declared("inc-7", "checkout-api", "SEV1", declared);
    st.commander = Some("alice".into());
    let d = due(&cfg, &st, declared.checked_add(mins(12)).expect("in range")).expect("due");
    let who: Vec<&str> = d.pages.iter().map(|p| p.contact.id.as_str()).collect();
    // Week 3 of the weekly rotation is bob's; day 22 of the daily one is dan's.
    assert_eq!(who, ["bob-email", "dan-email", "ops-room"]);
    let kinds: Vec<ReminderKind> = d.reminders.iter().map(|r| r.kind).collect();
    assert_eq!(kinds, [ReminderKind::AckOverdue], "5m ack target missed");
    assert_eq!(
        d.next_wakeup,
        Some(declared.checked_add(mins(15)).expect("in range"))
    );

    st.acknowledged_at = Some(declared.checked_add(mins(13)).expect("in range"));
    let later = declared.checked_add(mins(40)).expect("in range");
    let d = due(&cfg, &st, later).expect("due");
    assert!(d.pages.is_empty(), "{:?}", d.pages);
    let r: Vec<(ReminderKind, i64)> = d
        .reminders
        .iter()
        .map(|r| (r.kind, r.due_at.duration_since(declared).as_mins()))
        .collect();
    assert_eq!(
        r,
        [(ReminderKind::StatusUpdate, 30)],
        "latest cadence point only"
    );
    assert_eq!(
        d.next_wakeup,
        Some(declared.checked_add(mins(45)).expect("in range"))
    );
    assert_eq!(d.reminders[0].commander.as_deref(), Some("alice"));

    // An update resets the cadence; resolution asks for a final update and ends it all.
    st.last_update_at = Some(declared.checked_add(mins(35)).expect("in range"));
    let d = due(&cfg, &st, later).expect("due");
    assert!(d.reminders.is_empty());
    assert_eq!(
        d.next_wakeup,
        Some(declared.checked_add(mins(50)).expect("in range"))
    );
    st.resolved_at = Some(declared.checked_add(mins(41)).expect("in range"));
    let d = due(&cfg, &st, declared.checked_add(mins(60)).expect("in range")).expect("due");
    let kinds: Vec<ReminderKind> = d.reminders.iter().map(|r| r.kind).collect();
    assert_eq!(kinds, [ReminderKind::FinalUpdate]);
    assert_eq!(d.next_wakeup, None);
}

#[test]
fn sev4_has_no_cadence_and_unknown_names_are_errors() {
    let cfg = example();
    let declared = ts("2026-11-23T10:00:00Z");
    let mut st = IncidentState::declared("inc-8", "reporting", "SEV4", declared);
    st.acknowledged_at = Some(declared);
    let d = due(
        &cfg,
        &st,
        declared.checked_add(mins(600)).expect("in range"),
    )
    .expect("due");
    assert!(d.pages.is_empty() && d.reminders.is_empty());
    assert_eq!(d.next_wakeup, None);

    st.severity = "SEV9".into();
    assert!(matches!(
        due(&cfg, &st, declared),
        Err(EscalationError::UnknownSeverity { .. })
    ));
    let cfg = Config::from_toml("[[services]]\nid = \"a\"\npolicy = \"gone\"\n").expect("parses");
    let st = IncidentState::declared("i", "a", "SEV1", declared);
    assert!(matches!(
        due(&cfg, &st, declared),
        Err(EscalationError::UnknownPolicy { .. })
    ));
    let st = IncidentState::declared("i", "b", "SEV1", declared);
    assert_eq!(
        due(&cfg, &st, declared),
        Err(EscalationError::NoPolicy("b".into()))
    );
}

#[test]
fn runbook_settings_win_over_the_config_and_escalation_is_reminded_once() {
    let cfg = example();
    let declared = ts("2026-11-23T10:00:00Z");
    let mut st = IncidentState::declared("inc-9", "checkout-api", "SEV2", declared);
    st.acknowledged_at = Some(declared.checked_add(mins(1)).expect("in range"));
    // The runbook's SEV2: updates every 20 minutes (the config says 30), escalate after 25.
    st.severity_settings = Some(sitrep_escalation::SeveritySettings {
        ack_target: Some(mins(10)),
        update_every: Some(mins(20)),
        update_on_resolve: true,
        escalate_after: Some(mins(25)),
    });
    let at = |m| declared.checked_add(mins(m)).expect("in range");
    let kinds = |st: &IncidentState, m| -> Vec<(ReminderKind, i64)> {
        due(&cfg, st, at(m))
            .expect("due")
            .reminders
            .iter()
            .map(|r| (r.kind, r.due_at.duration_since(declared).as_mins()))
            .collect()
    };
    assert_eq!(kinds(&st, 21), [(ReminderKind::StatusUpdate, 20)]);
    assert_eq!(
        due(&cfg, &st, at(21)).expect("due").next_wakeup,
        Some(at(25)),
        "wakes for the escalation"
    );
    assert_eq!(
        kinds(&st, 26),
        [
            (ReminderKind::EscalateOverdue, 25),
            (ReminderKind::StatusUpdate, 20)
        ]
    );
    st.sent.insert("inc-9:escalate-overdue".into());
    assert_eq!(kinds(&st, 26), [(ReminderKind::StatusUpdate, 20)], "once");
    // Resolved before the escalation point: no escalation reminder.
    st.sent.clear();
    st.resolved_at = Some(at(24));
    assert!(
        !kinds(&st, 30)
            .iter()
            .any(|(k, _)| *k == ReminderKind::EscalateOverdue),
        "resolved in time"
    );
    // Without runbook settings the config's SEV2 (30m cadence, no escalation) holds.
    st.resolved_at = None;
    st.severity_settings = None;
    assert_eq!(kinds(&st, 26), []);
    assert_eq!(kinds(&st, 31), [(ReminderKind::StatusUpdate, 30)]);
}
