//! Identity, on SQLite and PostgreSQL: token names are unique ignoring case and never
//! one of sitrep's own actor names, and two-person control compares principal ids, so
//! two tokens (or a token and a name asserted on the command line) cannot pass for
//! each other by name.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use sitrep_app::config::ApprovalRule;
use sitrep_app::{
    AccessRole, App, AppError, Config, Mode, NewIncident, NullSink, Principal, RunRequest,
};

#[path = "support/fixtures.rs"]
mod fixtures;
#[path = "support/backends.rs"]
mod support;
use fixtures::fixtures;

async fn open(dir: &Path, url: Option<&str>) -> App {
    let mut cfg = Config {
        data_dir: Some(dir.join("data")),
        runbooks: Some(fixtures()),
        database_url: url.map(str::to_owned),
        ..Config::default()
    };
    cfg.policy.approvals = vec![ApprovalRule {
        level: "destructive".into(),
        severities: Vec::new(),
    }];
    App::open(cfg).await.expect("open app")
}

/// The fixture's destructive step, as `who` (a token's principal, or `None`: asserted).
fn wipe(incident: &str, marker: &Path, name: &str, id: Option<&str>) -> RunRequest {
    let mut set = BTreeMap::new();
    set.insert("marker".to_owned(), marker.display().to_string());
    RunRequest {
        incident: incident.to_owned(),
        runbook: "local-service.md".to_owned(),
        step: "wipe".to_owned(),
        actor: match id {
            Some(id) => Principal {
                id: id.to_owned(),
                name: name.to_owned(),
            },
            None => Principal::asserted(name),
        },
        set,
        confirmed: None,
        approval: None,
        mode: Mode::Interactive,
    }
}

fn invalid_name(e: &AppError, says: &str) -> bool {
    matches!(e, AppError::Invalid { field, message } if field == "name" && message.contains(says))
}

#[tokio::test(flavor = "multi_thread")]
async fn token_names_are_unique_and_not_sitreps_own() {
    let backends = support::backends().await;
    for (label, url) in &backends.list {
        eprintln!("token names on {label}");
        let dir = tempfile::tempdir().unwrap();
        let app = open(dir.path(), url.as_deref()).await;
        let alice = app
            .create_token("alice", AccessRole::Responder, &Principal::asserted("ops"))
            .await
            .unwrap();
        let e = app
            .create_token("ALICE", AccessRole::Admin, &Principal::asserted("ops"))
            .await
            .unwrap_err();
        assert!(invalid_name(&e, "is taken"), "{e}");
        assert!(
            e.to_string().contains(&alice.token.id),
            "names the token: {e}"
        );
        for reserved in ["auto-triage", "Sitrep", "escalation", "RETENTION", "cli"] {
            let e = app
                .create_token(reserved, AccessRole::Viewer, &Principal::asserted("ops"))
                .await
                .unwrap_err();
            assert!(invalid_name(&e, "reserved"), "{reserved}: {e}");
        }
        let e = app
            .create_token(
                "alerts:grafana",
                AccessRole::Viewer,
                &Principal::asserted("ops"),
            )
            .await
            .unwrap_err();
        assert!(invalid_name(&e, "`:`"), "{e}");
        // Revoking does not free the name: it stays the actor of alice's past events.
        app.revoke_token(&alice.token.id, &Principal::asserted("ops"))
            .await
            .unwrap();
        let e = app
            .create_token("Alice", AccessRole::Viewer, &Principal::asserted("ops"))
            .await
            .unwrap_err();
        assert!(invalid_name(&e, "revoked token"), "{e}");
        let names: Vec<String> = app
            .tokens()
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.name)
            .collect();
        assert_eq!(names, ["alice"]);
        // A session names its token by id as well as by name.
        let bob = app
            .create_token("bob", AccessRole::Commander, &Principal::asserted("ops"))
            .await
            .unwrap();
        let (cookie, _) = app
            .open_session(&bob.token, AccessRole::Commander, 60_000)
            .await
            .unwrap();
        let session = app.session(&cookie).await.unwrap().unwrap();
        assert_eq!(session.principal(), Principal::token(&bob.token));
        app.close().await;
    }
    backends.done().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_tokens_cannot_pass_for_each_other_by_name() {
    let backends = support::backends().await;
    for (label, url) in &backends.list {
        eprintln!("separation by id on {label}");
        separation_story(url.as_deref()).await;
    }
    backends.done().await;
}

async fn separation_story(url: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("to-wipe");
    std::fs::write(&marker, "x").unwrap();
    let app = open(dir.path(), url).await;
    let alice = app
        .create_token("alice", AccessRole::Commander, &Principal::asserted("ops"))
        .await
        .unwrap()
        .token;
    let bob = app
        .create_token("bob", AccessRole::Commander, &Principal::asserted("ops"))
        .await
        .unwrap()
        .token;
    let inc = app
        .declare(
            NewIncident {
                title: "who is who".into(),
                runbooks: vec!["local-service.md".into()],
                ..NewIncident::default()
            },
            &Principal::asserted("alice"),
        )
        .await
        .unwrap();
    let id = inc.id.clone();
    let mut req = wipe(&id, &marker, "alice", Some(&alice.id));
    req.confirmed = Some(app.plan(&req).await.unwrap().id);
    let pending = match app.run_step(&req, Arc::new(NullSink)).await.unwrap_err() {
        AppError::NeedsApproval {
            approval: Some(a), ..
        } => a,
        e => panic!("expected an approval request, got {e}"),
    };
    assert_eq!(pending.requested_by_id, alice.id);

    // Alice's own id under another name, or her name under another id: not a second
    // person either way.
    let renamed = Principal {
        id: alice.id.clone(),
        name: "mallory".into(),
    };
    let e = app.approve(&id, &pending.id, &renamed).await.unwrap_err();
    assert!(matches!(e, AppError::SelfApproval), "{e}");
    let e = app
        .approve(&id, &pending.id, &Principal::asserted("ALICE"))
        .await
        .unwrap_err();
    assert!(matches!(e, AppError::SelfApproval), "{e}");

    let granted = app
        .approve(&id, &pending.id, &Principal::token(&bob))
        .await
        .unwrap();
    assert_eq!(granted.approver_ids, std::slice::from_ref(&bob.id));
    assert!(granted.is_granted());

    // Only alice's token may use it: her name asserted on the command line, or bob's
    // token calling itself alice, is another requester.
    for (name, principal) in [("alice", None), ("alice", Some(bob.id.as_str()))] {
        let mut other = wipe(&id, &marker, name, principal);
        other.confirmed = req.confirmed.clone();
        other.approval = Some(pending.id.clone());
        let e = app.run_step(&other, Arc::new(NullSink)).await.unwrap_err();
        assert!(
            e.to_string().contains("another run"),
            "{name} {principal:?}: {e}"
        );
    }
    assert!(marker.exists(), "nothing ran yet");

    req.approval = Some(pending.id.clone());
    let report = app.run_step(&req, Arc::new(NullSink)).await.unwrap();
    assert_eq!(report.run.approver.as_deref(), Some("bob"));
    assert!(!marker.exists(), "the approved run ran");
    let timeline = app.timeline(&id, None).await.unwrap();
    let payload = |kind: &str| {
        timeline
            .iter()
            .find(|e| e.record.event_type == kind)
            .unwrap_or_else(|| panic!("no {kind}"))
            .record
            .payload
            .clone()
    };
    assert_eq!(payload("approval.requested")["principal"], alice.id);
    assert_eq!(payload("approval.granted")["principal"], bob.id);
    assert_eq!(payload("approval.granted")["requested_by_id"], alice.id);
    assert_eq!(payload("step.run")["principal"], alice.id);
    app.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn logging_in_again_and_again_ends_only_ones_own_oldest_sessions() {
    let backends = support::backends().await;
    for (label, url) in &backends.list {
        eprintln!("sessions per principal on {label}");
        let dir = tempfile::tempdir().unwrap();
        let app = open(dir.path(), url.as_deref()).await;
        let admin = app
            .create_token("ada", AccessRole::Admin, &Principal::asserted("ops"))
            .await
            .unwrap();
        let viewer = app
            .create_token("vera", AccessRole::Viewer, &Principal::asserted("ops"))
            .await
            .unwrap();
        let (admins, _) = app
            .open_session(&admin.token, AccessRole::Admin, 60_000)
            .await
            .unwrap();
        let cap = sitrep_app::tokens::MAX_SESSIONS as usize;
        let mut viewers = Vec::new();
        for _ in 0..cap + 10 {
            let (cookie, _) = app
                .open_session(&viewer.token, AccessRole::Viewer, 60_000)
                .await
                .unwrap();
            viewers.push(cookie);
            // Sessions are ordered by creation time in ms.
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        let who = app.session(&admins).await.unwrap().expect("admin stays");
        assert_eq!(who.name, "ada");
        for (i, cookie) in viewers.iter().enumerate() {
            let live = app.session(cookie).await.unwrap().is_some();
            assert_eq!(live, i >= 10, "viewer session {i} on {label}");
        }
        assert_eq!(app.live_sessions().await.unwrap(), cap as u64 + 1);
        app.close().await;
    }
    backends.done().await;
}
