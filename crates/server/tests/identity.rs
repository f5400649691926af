//! Who acted, by id: every event a request writes through the API is sealed with the
//! caller's token id as well as its name (`actor_id`), read back from the ledger
//! records themselves, on SQLite and PostgreSQL.

mod common;

use std::collections::BTreeSet;

use serde_json::{Value, json};

#[path = "../../app/tests/support/backends.rs"]
mod backends;

/// A DELETE with `token`, its status.
async fn delete(s: &common::Server, path: &str, token: &str) -> u16 {
    s.http
        .delete(s.u(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// A POST that must answer `want`; its body.
async fn ok(s: &common::Server, path: &str, token: &str, body: Value, want: u16) -> Value {
    let (st, v) = s.post(path, token, body).await;
    assert_eq!(st, want, "POST {path}: {v}");
    v
}

/// Every mutating API call, each as the token that may make it: carl (commander) runs
/// the incident, cleo approves, rita ticks and adds actions, ada administers, vera
/// exports.
async fn drive(s: &common::Server) -> String {
    let id = s
        .declare(json!({"title": "ids", "severity": "sev2", "runbooks": ["local-service.md"]}))
        .await;
    let i = format!("/api/v1/incidents/{id}");
    let (c, r) = (&s.commander, &s.responder);
    ok(s, &format!("{i}/acknowledge"), c, json!({}), 200).await;
    ok(
        s,
        &format!("{i}/severity"),
        c,
        json!({"severity": "sev1"}),
        200,
    )
    .await;
    let role = json!({"role": "scribe", "person": "rita"});
    ok(s, &format!("{i}/roles"), c, role, 200).await;
    ok(s, &format!("{i}/notes"), c, json!({"text": "looking"}), 201).await;
    let marker = s.dir.path().join("to-wipe");
    std::fs::write(&marker, "x").unwrap();
    let mut wipe =
        json!({"runbook": "local-service.md", "step": "wipe", "set": {"marker": marker}});
    let plan = ok(s, &format!("{i}/plan"), c, wipe.clone(), 200).await;
    wipe["confirmed"] = plan["id"].clone();
    let held = ok(s, &format!("{i}/runs"), c, wipe.clone(), 403).await;
    let aid = held["error"]["approval"]["id"].as_str().unwrap().to_owned();
    let approve = format!("{i}/approvals/{aid}/approve");
    ok(s, &approve, &s.commander2, json!({}), 200).await;
    wipe["approval"] = json!(aid);
    ok(s, &format!("{i}/runs"), c, wipe, 200).await;
    for item in ["1", "2"] {
        ok(s, &format!("{i}/checklist/{item}/tick"), r, json!({}), 200).await;
    }
    ok(s, &format!("{i}/checklist/2/untick"), r, json!({}), 200).await;
    ok(s, &format!("{i}/checklist/2/tick"), r, json!({}), 200).await;
    let action = json!({"title": "alert on queue depth"});
    ok(s, &format!("{i}/actions"), r, action, 201).await;
    ok(s, &format!("{i}/actions/1/done"), r, json!({}), 200).await;
    ok(s, &format!("{i}/mitigate"), r, json!({}), 200).await;
    ok(
        s,
        &format!("{i}/evidence/hold"),
        c,
        json!({"reason": "case 7"}),
        201,
    )
    .await;
    assert_eq!(delete(s, &format!("{i}/evidence/hold"), c).await, 204);
    ok(s, &format!("{i}/resolve"), c, json!({}), 200).await;
    ok(s, &format!("{i}/reopen"), c, json!({"reason": "back"}), 200).await;
    let (st, _) = s.get(&format!("{i}/evidence"), &s.viewer).await;
    assert_eq!(st, 200, "evidence export");
    let token = json!({"name": "tess", "role": "viewer"});
    let t = ok(s, "/api/v1/tokens", &s.admin, token, 201).await;
    let tid = t["token"]["id"].as_str().unwrap();
    assert_eq!(
        delete(s, &format!("/api/v1/tokens/{tid}"), &s.admin).await,
        200
    );
    let silence = json!({"matchers": ["alertname=\"Noisy\""], "duration": "1h"});
    let sil = ok(s, "/api/v1/silences", c, silence, 201).await;
    let sid = sil["id"].as_str().unwrap();
    assert_eq!(
        delete(s, &format!("/api/v1/silences/{sid}"), &s.admin).await,
        204
    );
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_written_through_the_api_names_the_callers_token_id() {
    let backends = backends::backends().await;
    for (label, url) in &backends.list {
        eprintln!("actor ids on {label}");
        let url = url.clone();
        let s = common::start_with(|c| {
            common::destructive_needs_approval(c);
            c.database_url = url;
        })
        .await;
        let app = s.state.app().clone();
        let before = app.ledger_status().await.unwrap().tree_size;
        drive(&s).await;
        let ids: std::collections::BTreeMap<String, String> = app
            .tokens()
            .await
            .unwrap()
            .into_iter()
            .map(|t| (t.name, t.id))
            .collect();
        let after = app.ledger_status().await.unwrap().tree_size;
        let mut seen = BTreeSet::new();
        for e in app.sealed(before, after).await.unwrap() {
            let r = &e.record;
            let want = match ids.get(&r.actor) {
                Some(id) => id.clone(),
                // Not a token's: only sitrep's own may be.
                None => {
                    let id = r.actor_id.as_deref().unwrap_or("(none)");
                    assert!(id.starts_with("sitrep:"), "{label}: #{}: {r:?}", e.index);
                    continue;
                }
            };
            assert_eq!(
                r.actor_id.as_ref(),
                Some(&want),
                "{label}: #{}: {r:?}",
                e.index
            );
            seen.insert(r.event_type.clone());
        }
        let expected = [
            "incident.declared",
            "incident.acknowledged",
            "incident.severity-changed",
            "incident.role-assigned",
            "incident.note",
            "step.run",
            "evidence.captured",
            "approval.requested",
            "approval.granted",
            "checklist.ticked",
            "checklist.unticked",
            "action.added",
            "action.done",
            "incident.mitigated",
            "evidence.held",
            "evidence.released",
            "incident.resolved",
            "incident.reopened",
            "evidence.exported",
            "token.created",
            "token.revoked",
            "silence.created",
            "silence.removed",
        ];
        let missing: Vec<_> = expected.iter().filter(|t| !seen.contains(**t)).collect();
        assert!(
            missing.is_empty(),
            "{label}: no record of {missing:?}; saw {seen:?}"
        );
        s.stop().await;
    }
    backends.done().await;
}

/// A token and a name asserted on the command line may read the same on the timeline;
/// their ids tell them apart, and neither uses the other's approval.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_and_a_cli_name_alike_are_different_actors() {
    let s = common::start_with(common::destructive_needs_approval).await;
    let app = s.state.app().clone();
    let id = s
        .declare(json!({"title": "twins", "runbooks": ["local-service.md"]}))
        .await;
    // "carl" through the API (his token), then "carl" asserted on the command line.
    let i = format!("/api/v1/incidents/{id}");
    ok(
        &s,
        &format!("{i}/notes"),
        &s.commander,
        json!({"text": "api"}),
        201,
    )
    .await;
    let cli = sitrep_app::Principal::asserted("carl");
    app.note(&id, "cli", &cli).await.unwrap();
    let tl = s.timeline(&id).await;
    let notes: Vec<(&str, &str)> = tl
        .iter()
        .filter(|e| e["record"]["type"] == "incident.note")
        .map(|e| {
            (
                e["record"]["actor"].as_str().unwrap(),
                e["record"]["actor_id"].as_str().unwrap(),
            )
        })
        .collect();
    let carl = app
        .tokens()
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.name == "carl")
        .unwrap();
    assert_eq!(notes, [("carl", carl.id.as_str()), ("carl", "cli:carl")]);
    s.stop().await;
}
