//! Config fixtures: the examples load, and every invalid fixture fails with a key path and
//! a line (snapshot of all the messages, so their wording is reviewed).

// Tests read fixtures from disk; the crate itself never does.
#![allow(clippy::disallowed_methods)]

use std::fmt::Write as _;

use sitrep_escalation::{Config, ContactMethod, Handoff, Target};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/escalation");

fn read(name: &str) -> String {
    std::fs::read_to_string(format!("{DATA}/{name}")).expect("fixture exists")
}

#[test]
fn example_loads_with_every_kind_of_value() {
    let cfg = Config::from_toml(&read("example.toml")).expect("example parses");
    assert_eq!(cfg.people.len(), 4);
    let alice = cfg.person("alice").expect("alice");
    assert_eq!(alice.contacts.len(), 2);
    assert!(matches!(
        alice.contacts[1].method,
        ContactMethod::SlackWebhook(_)
    ));
    let primary = cfg.rotation("primary").expect("primary");
    assert_eq!(primary.handoff, Handoff::Weekly);
    assert_eq!(primary.time_zone.name, "Europe/Berlin");
    assert_eq!(primary.overrides.len(), 1);
    // A TOML date-time and a quoted RFC 3339 string are both accepted.
    assert_eq!(primary.start.to_string(), "2026-11-02T08:00:00Z");
    assert_eq!(
        cfg.rotation("secondary")
            .expect("secondary")
            .start
            .to_string(),
        "2026-11-01T14:00:00Z"
    );
    let standard = cfg.policy("standard").expect("standard");
    assert_eq!(standard.repeat, 2);
    assert_eq!(
        standard.levels[1].targets[1],
        Target::Channel("ops-room".into())
    );
    assert_eq!(cfg.policy_id_for("checkout-api"), Some("standard"));
    assert_eq!(
        cfg.policy_id_for("search"),
        Some("standard"),
        "default_policy"
    );
    assert_eq!(cfg.policy_id_for("reporting"), Some("quiet"));
    let sevs = cfg.severities();
    assert_eq!(sevs.len(), 4);
    assert_eq!(sevs["SEV4"].update_every, None);
    assert_eq!(sevs["SEV2"].update_every.map(|d| d.as_mins()), Some(30));
}

#[test]
fn priority_scheme_gives_p0_to_p3() {
    let cfg = Config::from_toml(
        "severity_scheme = \"priority\"\n[severities.P3]\nupdate_every = \"2h\"\n",
    )
    .expect("parses");
    let sevs = cfg.severities();
    let names: Vec<&str> = sevs.keys().map(String::as_str).collect();
    assert_eq!(names, ["P0", "P1", "P2", "P3"]);
    assert_eq!(sevs["P0"].update_every.map(|d| d.as_mins()), Some(15));
    assert_eq!(sevs["P3"].update_every.map(|d| d.as_mins()), Some(120));
    assert_eq!(
        sevs["P3"].ack_target, None,
        "a file entry replaces the default whole"
    );
}

#[test]
fn invalid_fixtures_name_path_and_line() {
    let mut names: Vec<String> = std::fs::read_dir(format!("{DATA}/invalid"))
        .expect("invalid fixtures")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 8);
    let mut out = String::new();
    for name in names {
        let err = Config::from_toml(&read(&format!("invalid/{name}")))
            .expect_err("an invalid fixture must not parse");
        assert!(err.line.is_some(), "{name}: no line in {err:?}");
        if name != "syntax.toml" {
            assert!(!err.path.is_empty(), "{name}: no key path in {err:?}");
        }
        writeln!(out, "{name}: {err}").expect("write to a String");
    }
    insta::assert_snapshot!(out);
}
