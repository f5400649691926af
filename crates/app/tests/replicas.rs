//! Two replicas, each with its own data dir, sharing one database and one S3-compatible
//! bucket (moto on loopback): output captured on one is read, paged and exported by the
//! other; an upload that fails while the bucket is unreachable becomes a durable job and
//! goes up later, so nothing captured is lost to the other replicas. The database is a
//! SQLite file, and a fresh PostgreSQL schema too when `SITREP_TEST_DATABASE_URL` is set
//! (the deployment docs/deploy.md describes for several replicas).

#[path = "support/fixtures.rs"]
mod fixtures;
#[path = "../../evidence/tests/support/moto.rs"]
mod moto;
#[path = "support/backends.rs"]
mod support;
use fixtures::fixtures;
use sitrep_app::Principal;

use std::sync::Arc;
use std::time::{Duration, Instant};

use sitrep_app::config::EvidenceConfig;
use sitrep_app::{App, Config, Mode, NewIncident, NullSink, RunRequest};
use sitrep_evidence::pack::{Limits, verify_pack};
use sitrep_ledger::Hash;

/// An endpoint nothing listens on: the bucket unreachable.
fn dead_endpoint() -> String {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    dead
}

/// What the replicas of one run share: the key files (and the SQLite file) under
/// `root/shared`, the database, and a bucket prefix of their own, so runs on different
/// backends never see each other's blobs.
struct Cluster {
    root: tempfile::TempDir,
    database: String,
    remote: String,
}

impl Cluster {
    /// `database`: a PostgreSQL URL, or `None` for a SQLite file under `root/shared`.
    fn new(label: &str, database: Option<&str>) -> Cluster {
        let root = tempfile::tempdir().unwrap();
        let shared = root.path().join("shared");
        std::fs::create_dir_all(&shared).unwrap();
        let database =
            database.map_or_else(|| sitrep_app::store::sqlite_url(&shared), str::to_owned);
        Cluster {
            root,
            database,
            remote: format!("s3://evidence/{label}"),
        }
    }

    fn evidence(&self, endpoint: &str) -> EvidenceConfig {
        EvidenceConfig {
            remote: Some(self.remote.clone()),
            endpoint: Some(endpoint.into()),
            region: Some("us-east-1".into()),
            allow_http: true,
            access_key_id: Some("test".into()),
            secret_access_key: Some("test-secret".into()),
            retention: None,
        }
    }

    /// A replica with its own data dir over the shared database.
    async fn replica(&self, name: &str, endpoint: &str) -> App {
        let data = self.root.path().join(name);
        std::fs::create_dir_all(&data).unwrap();
        let shared = self.root.path().join("shared");
        // Replicas sign as one log and accept each other's acknowledge links: they read
        // the same key files (a mounted secret; docs/deploy.md), made by whichever starts
        // first.
        let mut cfg = Config {
            data_dir: Some(data),
            database_url: Some(self.database.clone()),
            runbooks: Some(fixtures()),
            evidence: self.evidence(endpoint),
            ..Config::default()
        };
        cfg.keys.ledger = Some(shared.join("ledger.key"));
        cfg.keys.ack = Some(shared.join("ack.key"));
        App::open(cfg).await.expect("open replica")
    }
}

fn leaky(incident: &str) -> RunRequest {
    RunRequest {
        incident: incident.to_owned(),
        runbook: "local-service.md".into(),
        step: "leaky".into(),
        actor: Principal::asserted("ann"),
        set: Default::default(),
        confirmed: None,
        approval: None,
        mode: Mode::Interactive,
    }
}

/// Declares an incident on `app` and runs the `leaky` step in it.
async fn incident_with_output(app: &App, title: &str) -> (String, sitrep_app::RunReport) {
    let inc = app
        .declare(
            NewIncident {
                title: title.into(),
                runbooks: vec!["local-service.md".into()],
                ..NewIncident::default()
            },
            &Principal::asserted("ann"),
        )
        .await
        .unwrap();
    let run = app
        .run_step(&leaky(&inc.id), Arc::new(NullSink))
        .await
        .unwrap();
    (inc.id, run)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_captured_on_one_replica_is_read_and_exported_by_another() {
    let m = moto::Moto::start("evidence");
    let backends = support::backends().await;
    for (label, url) in &backends.list {
        let started = Instant::now();
        let cluster = Cluster::new(label, url.as_deref());
        let (inc, sha) = read_paged_and_exported_elsewhere(&cluster, &m.endpoint()).await;
        let sha2 = upload_waits_while_the_bucket_is_down(&cluster, &inc).await;
        upload_later_then_retention(&cluster, &m.endpoint(), &inc, &sha, &sha2).await;
        eprintln!("replicas story on {label} ({:.2?})", started.elapsed());
    }
    backends.done().await;
}

/// Output captured on a is read from the bucket by b, b acknowledges by a's link, and c
/// exports a pack holding every blob. Returns the incident and a's stdout blob.
async fn read_paged_and_exported_elsewhere(cl: &Cluster, endpoint: &str) -> (String, Hash) {
    let a = cl.replica("a", endpoint).await;
    let (inc, run) = incident_with_output(&a, "replicas").await;
    let sha = Hash::from_hex(run.run.stdout_sha256.as_deref().unwrap()).unwrap();
    let on_a = a.blob(&sha).await.unwrap();
    assert!(String::from_utf8_lossy(&on_a).contains("[REDACTED:"));

    // Replica b never ran it, yet shows it: from the bucket, verified, then kept.
    let b = cl.replica("b", endpoint).await;
    assert_eq!(
        a.verifier().to_string(),
        b.verifier().to_string(),
        "one log, one key"
    );
    // A page's acknowledge link made on a works on b.
    let now = sitrep_app::now_ms();
    let token = sitrep_notify::ack_token::issue(
        &a.ack_key().unwrap(),
        &inc,
        u64::try_from(now).unwrap() + 60_000,
    );
    let acked = b
        .acknowledge_by_link(&token, now, &Default::default())
        .await
        .unwrap();
    assert_eq!(acked.status, "acknowledged");
    assert!(!b.blobs().contains(&sha));
    assert_eq!(b.blob(&sha).await.unwrap(), on_a);
    assert!(
        b.blobs().contains(&sha),
        "kept locally after the first read"
    );

    // An evidence pack written on a third replica holds every blob and verifies.
    let c = cl.replica("c", endpoint).await;
    let pack = cl.root.path().join("pack.tar.gz");
    let summary = c
        .export_evidence(&inc, std::fs::File::create(&pack).unwrap())
        .await
        .unwrap();
    assert_eq!(summary.blobs_missing, 0, "{summary:?}");
    let report = verify_pack(
        std::fs::File::open(&pack).unwrap(),
        &[c.verifier().clone()],
        Limits::default(),
    )
    .unwrap();
    assert!(report.ok(), "{report:?}");
    c.close().await;
    b.close().await;
    a.close().await;
    (inc, sha)
}

/// The bucket is unreachable: a's run is recorded all the same and its upload waits as
/// a durable job. Returns the new stdout blob.
async fn upload_waits_while_the_bucket_is_down(cl: &Cluster, inc: &str) -> Hash {
    let a = cl.replica("a", &dead_endpoint()).await;
    let mut again = leaky(inc);
    again.step = "chatty".into();
    let run = a.run_step(&again, Arc::new(NullSink)).await.unwrap();
    assert_eq!(run.run.status, "succeeded");
    let sha2 = Hash::from_hex(run.run.stdout_sha256.as_deref().unwrap()).unwrap();
    let jobs = a.store().jobs_for(inc).await.unwrap();
    let uploads: Vec<_> = jobs
        .iter()
        .filter(|j| j.kind.starts_with("blob.upload:") && j.state == "pending")
        .collect();
    // One per stream (stdout and the empty stderr).
    assert_eq!(uploads.len(), 2, "{jobs:?}");
    assert!(
        uploads.iter().any(|j| j.payload["sha256"] == sha2.to_hex()),
        "{jobs:?}"
    );
    a.close().await;
    sha2
}

/// Back with the bucket reachable, the replica that holds the bytes uploads them
/// (another replica's worker does not claim the job), and everyone can read them; then
/// retention on one replica deletes the bytes everywhere, the records stay.
async fn upload_later_then_retention(
    cl: &Cluster,
    endpoint: &str,
    inc: &str,
    sha: &Hash,
    sha2: &Hash,
) {
    let b = cl.replica("b", endpoint).await;
    assert_eq!(b.upload_pending("b-worker", 10).await.unwrap(), 0);
    let a = cl.replica("a", endpoint).await;
    // The job is due a few seconds after the failure.
    let deadline = Instant::now() + Duration::from_secs(30);
    while a.upload_pending("a-worker", 10).await.unwrap() == 0 {
        assert!(Instant::now() < deadline, "the upload was never retried");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(b.blob(sha2).await.unwrap(), a.blob(sha2).await.unwrap());

    // Retention on one replica deletes the bytes in the bucket too, and every other
    // replica drops its own copy at its next sweep; the records stay.
    a.resolve(inc, &Principal::asserted("ann"), Some("drill over"))
        .await
        .unwrap();
    let later = sitrep_app::now_ms() + 2 * 24 * 3600 * 1000;
    let day = 24 * 3600 * 1000;
    let r = a
        .apply_retention(later, day, false, &Principal::asserted("ops"))
        .await
        .unwrap();
    assert_eq!(r.incidents.len(), 1, "{r:?}");
    assert!(b.blobs().contains(sha), "b fetched it earlier");
    let r = b
        .apply_retention(later, day, false, &Principal::asserted("ops"))
        .await
        .unwrap();
    assert!(r.incidents.is_empty(), "already expired by a");
    assert!(r.local_copies_deleted >= 1, "{r:?}");
    assert!(!b.blobs().contains(sha));
    let d = cl.replica("d", endpoint).await;
    assert!(matches!(
        d.blob(sha).await,
        Err(sitrep_app::AppError::Blob(
            sitrep_evidence::BlobError::NotFound(_)
        ))
    ));
    d.close().await;
    a.close().await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_of_a_replica_lost_for_good_are_abandoned_on_the_record() {
    let m = moto::Moto::start("evidence");
    let backends = support::backends().await;
    for (label, url) in &backends.list {
        let started = Instant::now();
        let cluster = Cluster::new(label, url.as_deref());
        lost_replica_story(&cluster, &m.endpoint()).await;
        eprintln!("lost replica story on {label} ({:.2?})", started.elapsed());
    }
    backends.done().await;
}

async fn lost_replica_story(cl: &Cluster, endpoint: &str) {
    // Replica a captures output while the bucket is unreachable, then its disk dies.
    let a = cl.replica("a", &dead_endpoint()).await;
    let (inc, run) = incident_with_output(&a, "lost replica").await;
    let stdout = run.run.stdout_sha256.clone().unwrap();
    let a_id = a.replica().to_owned();
    a.close().await;
    std::fs::remove_dir_all(cl.root.path().join("a")).unwrap();

    // Another replica sees the backlog nobody will upload...
    let b = cl.replica("b", endpoint).await;
    let backlog = b.upload_backlog().await.unwrap();
    assert_eq!(backlog.len(), 1, "{backlog:?}");
    assert_eq!(
        (
            backlog[0].replica.as_str(),
            backlog[0].this_replica,
            backlog[0].blobs,
            backlog[0].incidents
        ),
        (a_id.as_str(), false, 2, 1),
        "stdout and stderr wait for a"
    );
    // ...cannot give up its own...
    let own = b
        .abandon_uploads(b.replica(), &Principal::asserted("ops"))
        .await
        .unwrap_err();
    assert!(own.to_string().contains("this replica"), "{own}");
    // ...and abandons a's on the record: the bucket never got the bytes.
    assert_eq!(
        b.abandon_uploads(&a_id, &Principal::asserted("ops"))
            .await
            .unwrap(),
        2
    );
    assert!(b.upload_backlog().await.unwrap().is_empty());
    let lost: Vec<_> = b
        .store()
        .timeline(&inc, None)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.record.event_type == "evidence.lost")
        .collect();
    assert_eq!(lost.len(), 2);
    assert!(lost.iter().any(|e| e.record.payload["sha256"] == stdout));
    assert!(
        lost.iter()
            .all(|e| e.record.payload["replica"] == a_id && e.record.actor == "ops")
    );
    let again = b
        .abandon_uploads(&a_id, &Principal::asserted("ops"))
        .await
        .unwrap_err();
    assert!(again.to_string().contains("no uploads wait"), "{again}");
    b.close().await;
}
