//! `sitrep incident|run|checklist|action|postmortem|ledger|evidence` on a real data dir:
//! what an on-call engineer types, what they see, and the exit codes scripts rely on.

mod common;

use common::{Env, fixture_runbooks, stderr, stdout};

#[test]
fn an_incident_from_declaration_to_a_verified_evidence_pack() {
    let env = Env::new();
    let inc = env.json(&[
        "incident",
        "declare",
        "local service down",
        "--service",
        "local-svc",
        "-s",
        "2",
    ]);
    assert_eq!(inc["number"], 1);
    assert_eq!(inc["severity"], "SEV2");
    assert_eq!(inc["status"], "triggered");

    let list = env.json(&["incident", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 1);

    // A dry run shows the bound command and its risk, and runs nothing.
    let plan = env.json(&[
        "run",
        "1",
        "local-service.md",
        "mark",
        "--set",
        "marker=/nonexistent/x",
        "--dry-run",
    ]);
    assert_eq!(plan["risk"], "write");
    assert_eq!(
        plan["display"].as_str().unwrap().trim(),
        "touch \"/nonexistent/x\""
    );
    assert_eq!(plan["decision"]["decision"], "needs_confirmation");

    // Without a terminal or --yes a write step refuses: exit 1, nothing ran.
    let marker = env.dir.path().join("marker");
    let set = format!("marker={}", marker.display());
    let o = env.run(&["run", "1", "local-service.md", "mark", "--set", &set]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("confirm with --yes"), "{}", stderr(&o));
    assert!(!marker.exists());
    let o = env.run(&[
        "run",
        "1",
        "local-service.md",
        "mark",
        "--set",
        &set,
        "--yes",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(marker.exists());

    // An unbound placeholder is bad input and names the placeholder.
    let o = env.run(&["run", "1", "local-service.md", "greet"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("unbound placeholder(s): instance"),
        "{}",
        stderr(&o)
    );

    // A failing step (the timeout) is a failed check: exit 1.
    let o = env.run(&["run", "1", "local-service.md", "slow"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));

    // Lifecycle, with the checklist gating resolution.
    assert!(env.run(&["incident", "ack", "1"]).status.success());
    let o = env.run(&["incident", "ack", "1"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("cannot acknowledge an incident that is acknowledged"));
    let o = env.run(&["incident", "resolve", "1"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("2 stand-down item(s) not ticked"),
        "{}",
        stderr(&o)
    );
    // The library says what is wrong; the CLI adds which of its flags helps.
    assert!(
        stderr(&o).contains(
            "\nhint: tick them with `sitrep checklist tick`, or resolve with --force REASON"
        ),
        "{}",
        stderr(&o)
    );
    let o = env.run(&["--json", "incident", "resolve", "1"]);
    let err: serde_json::Value = serde_json::from_str(stderr(&o).trim()).expect("a JSON error");
    assert_eq!(err["error"]["kind"], "check_failed");
    assert!(
        err["error"]["hint"]
            .as_str()
            .unwrap_or("")
            .contains("--force REASON")
    );
    assert!(env.run(&["checklist", "tick", "1", "1"]).status.success());
    assert!(
        env.run(&["checklist", "tick", "1", "status page"])
            .status
            .success()
    );
    assert!(
        env.run(&[
            "action",
            "add",
            "1",
            "Page on readiness",
            "--owner",
            "dave",
            "--due",
            "2026-12-01"
        ])
        .status
        .success()
    );
    let done = env.json(&["incident", "resolve", "1"]);
    assert_eq!(done["status"], "resolved");

    let pm = env.run(&["postmortem", "1"]);
    let md = stdout(&pm);
    assert!(
        md.contains("# Post-mortem: local service down (incident #1)"),
        "{md}"
    );
    assert!(
        md.contains("| `local-service.md` `mark` | write | ann | succeeded | 0 |"),
        "{md}"
    );
    assert!(
        // Due 2026-12-01 and still open: overdue when the post-mortem is rendered.
        md.contains("| **overdue** | Page on readiness | dave | 2026-12-01 |"),
        "{md}"
    );

    // The evidence pack verifies offline against the key the export names.
    let pack = env.dir.path().join("pack.tar.gz");
    let out = env.json(&["evidence", "export", "1", "-o", pack.to_str().unwrap()]);
    let key = out["verifier_key"].as_str().unwrap().to_owned();
    let o = env.run(&["verify", pack.to_str().unwrap(), "--key", &key]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let verify = env.json(&["ledger", "verify"]);
    assert_eq!(verify["ok"], true);
    assert_eq!(verify["drift"], serde_json::json!([]));

    // A row edited behind sitrep's back is drift: `ledger verify` names it and fails.
    let db = env.dir.path().join("data/sitrep.db");
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        sqlx::query("UPDATE incidents SET title = 'nothing happened'")
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    });
    let o = env.run(&["ledger", "verify"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("DRIFT incident #1 title: records say \"local service down\", table says \"nothing happened\""),
        "{}",
        stdout(&o)
    );
}

#[test]
fn unknown_things_are_bad_input() {
    let env = Env::new();
    let o = env.run(&["incident", "show", "7"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stderr(&o).trim(), "error: incident 7 not found");
    let o = env.run(&["incident", "declare", "x", "--severity", "critical"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("unknown severity \"critical\"; this scale has SEV1, SEV2, SEV3, SEV4")
    );
    let o = env.run(&[
        "--json",
        "incident",
        "declare",
        "x",
        "--runbook",
        "missing.md",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err: serde_json::Value = serde_json::from_slice(&o.stderr).unwrap();
    assert_eq!(err["error"]["message"], "runbook missing.md not found");
}

#[test]
fn two_person_control_on_the_cli() {
    let env = Env::new();
    let runbooks = fixture_runbooks();
    let config = env.dir.path().join("sitrep.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\nrunbooks = {:?}\n\n[policy]\napprovals = [{{ level = \"destructive\" }}]\n",
            env.dir.path().join("data").display().to_string(),
            runbooks.display().to_string()
        ),
    )
    .unwrap();
    let cfg = config.to_str().unwrap();
    env.json(&["incident", "declare", "wipe it", "--config", cfg]);
    let marker = env.dir.path().join("to-wipe");
    std::fs::write(&marker, "x").unwrap();
    let set = format!("marker={}", marker.display());
    let wipe = [
        "run",
        "1",
        "local-service.md",
        "wipe",
        "--set",
        &set,
        "--yes",
        "--config",
        cfg,
    ];

    // Held: exit 1, nothing ran, and it says how to go on.
    let o = env.run(&wipe);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("sitrep approval grant 1"),
        "{}",
        stderr(&o)
    );
    assert!(marker.exists());
    let open = env.json(&["approval", "list", "1", "--config", cfg]);
    let id = open[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(open[0]["requested_by"], "ann");

    // The requester cannot approve; someone else can.
    let o = env.run(&["approval", "grant", "1", &id, "--config", cfg]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("cannot approve"), "{}", stderr(&o));
    let granted = env.json(&[
        "approval", "grant", "1", &id, "--as", "cleo", "--config", cfg,
    ]);
    assert_eq!(granted["approvers"], serde_json::json!(["cleo"]));

    // The same command again runs, once.
    let run = env.json(&wipe);
    assert_eq!(run[0]["run"]["approver"], "cleo");
    assert!(!marker.exists());
    let open = env.json(&["approval", "list", "1", "--config", cfg]);
    assert_eq!(open, serde_json::json!([]));
}

#[test]
fn a_dry_run_needs_no_name() {
    let env = Env::new();
    env.json(&["incident", "declare", "who am i"]);
    let o = env
        .command()
        .args([
            "--json",
            "run",
            "1",
            "local-service.md",
            "mark",
            "--set",
            "marker=/x",
            "--dry-run",
        ])
        .env_remove("SITREP_ACTOR")
        .env_remove("USER")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let plan: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(plan["risk"], "write");
}

#[test]
fn evidence_retention_with_a_legal_hold() {
    let env = Env::new();
    env.json(&["incident", "declare", "old drill"]);
    env.json(&[
        "run",
        "1",
        "local-service.md",
        "greet",
        "--set",
        "instance=db-7",
        // A value typed by a person: they confirm the command it makes.
        "--yes",
    ]);
    env.json(&["incident", "resolve", "1", "--force", "drill over"]);

    // Without a configured retention or --older-than there is nothing to apply.
    let o = env.run(&["evidence", "retain"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--older-than"), "{}", stderr(&o));

    // Held: kept.
    let o = env.run(&["evidence", "hold", "1", "--reason", "case 114"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = env.json(&["evidence", "retain", "--older-than", "0s"]);
    assert_eq!(r["incidents"], serde_json::json!([]));

    // Released: a dry run names the blobs, the real run deletes them.
    let o = env.run(&["evidence", "release", "1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let dry = env.json(&["evidence", "retain", "--older-than", "0s", "--dry-run"]);
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["incidents"][0]["number"], 1);
    let done = env.json(&["evidence", "retain", "--older-than", "0s"]);
    let deleted = done["incidents"][0]["blobs"].as_array().unwrap().len();
    assert!(deleted >= 1, "{done}");
    let o = env.run(&["evidence", "retain", "--older-than", "0s"]);
    assert!(
        stdout(&o).contains("no incident is past retention"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn the_ledger_key_rotates_and_auditors_get_every_key() {
    let env = Env::new();
    env.json(&["incident", "declare", "disk full", "-s", "3"]);
    let before = env.json(&["ledger", "status"])["verifier_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let rotated = env.json(&["ledger", "rotate-key", "--as", "root"]);
    assert_eq!(rotated["from"], before.as_str());
    let after = env.json(&["ledger", "status"])["verifier_key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(rotated["to"], after.as_str());
    assert_ne!(before, after);

    let keys = env.json(&["ledger", "keys"]);
    let listed: Vec<(&str, bool)> = keys
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["verifier_key"].as_str().unwrap(), k["current"] == true))
        .collect();
    assert_eq!(listed, [(before.as_str(), false), (after.as_str(), true)]);
    assert_eq!(env.json(&["ledger", "verify"])["ok"], true);

    // The human listing says which key is current and who rotated to it.
    let o = env.run(&["ledger", "keys"]);
    assert!(
        stdout(&o).contains(&format!(
            "{after}  since entry 1, rotated by root (current)"
        )),
        "{}",
        stdout(&o)
    );
    // A pack made now verifies with the new key, which the export names.
    let pack = env.dir.path().join("pack.tar.gz");
    let out = env.json(&["evidence", "export", "1", "-o", pack.to_str().unwrap()]);
    assert_eq!(out["verifier_key"], after.as_str());
    let o = env.run(&["verify", pack.to_str().unwrap(), "--key", &after]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    // An auditor who pinned the old key follows the rotation the pack carries.
    let o = env.run(&["verify", pack.to_str().unwrap(), "--key", &before]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains(&format!("key rotation: trusting {after}")),
        "{}",
        stdout(&o)
    );
}

#[test]
fn the_list_takes_open_all_statuses_and_a_search() {
    let env = Env::new();
    env.json(&["incident", "declare", "checkout 503s", "--service", "shop"]);
    env.json(&["incident", "declare", "disk filling", "--service", "db"]);
    env.json(&["incident", "declare", "old checkout blip"]);
    env.json(&["incident", "resolve", "3"]);
    let numbers = |args: &[&str]| -> Vec<i64> {
        let mut a = vec!["incident", "list"];
        a.extend_from_slice(args);
        let v = env.json(&a);
        v.as_array()
            .unwrap()
            .iter()
            .map(|i| i["number"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(numbers(&[]), [2, 1], "open by default");
    assert_eq!(numbers(&["--status", "open"]), [2, 1]);
    assert_eq!(numbers(&["--status", "all"]), [3, 2, 1]);
    assert_eq!(numbers(&["--status", "resolved"]), [3]);
    assert_eq!(
        numbers(&["--status", "resolved", "--status", "triggered"]),
        [3, 2, 1]
    );
    assert_eq!(
        numbers(&["--status", "all", "--search", "CHECKOUT"]),
        [3, 1]
    );
    assert_eq!(numbers(&["--search", "checkout shop"]), [1]);
    assert_eq!(numbers(&["--status", "all", "--limit", "1"]), [3]);

    let o = env.run(&["incident", "list", "--status", "closed"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("unknown status \"closed\" (open, all,"),
        "{}",
        stderr(&o)
    );
}
