//! Unattended runs under a real Landlock sandbox: writes outside the private directory
//! fail and leave nothing, protected paths cannot be read while the rest can, the
//! private directory works and is gone afterwards, and a sandbox that cannot be built
//! refuses to run. No test skips: a kernel without Landlock fails them (this machine and
//! CI have it), since passing there would claim a protection that does not exist.

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sitrep_executor::{
    GateRequest, Level, Mode, NullSink, Outcome, Policy, RunConfig, RunError, RunSpec, Sandbox,
    SandboxError, Values, authorize, bind, run, sandbox, scan_placeholders,
};

/// Runs `script` as auto-triage would: unattended, as a read step, sandboxed. The level
/// is the one the classifier would have claimed; these scripts are the ones it missed.
async fn try_sandboxed(script: &str, sb: Sandbox) -> Result<Outcome, RunError> {
    let placeholders = scan_placeholders(script);
    let spec = RunSpec {
        step_id: "diagnose".to_owned(),
        bound: bind(script, &placeholders, &Values::new(), &|_, _, _| Ok(())).expect("bind"),
        interpreter: None,
        timeout: Some(Duration::from_secs(20)),
        cwd: None,
        expect: None,
    };
    let req = GateRequest {
        level: Level::Read,
        mode: Mode::Automatic,
        severity: None,
        actor: "auto-triage",
        confirmed: None,
        approvals: &[],
        person_values: false,
    };
    let permit = authorize(spec, "triage.md", &req, &Policy::default()).expect("read runs");
    let cfg = RunConfig {
        sandbox: Some(sb),
        ..RunConfig::default()
    };
    run(&permit, &cfg, Arc::new(NullSink)).await
}

async fn sandboxed(script: &str, sb: Sandbox) -> Outcome {
    try_sandboxed(script, sb).await.expect("sandboxed run")
}

fn denied(out: &Outcome) -> bool {
    out.exit_code.is_some_and(|c| c != 0) && out.stderr.text.contains("Permission denied")
}

fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

#[tokio::test]
async fn writes_outside_the_private_dir_fail_and_leave_nothing_behind() {
    let dir = tempfile::tempdir().expect("temp");
    let kept = dir.path().join("kept");
    std::fs::write(&kept, "original").expect("write");
    let cases = [
        format!("touch {}", p(&dir.path().join("touched"))),
        format!("echo x > {}", p(&dir.path().join("redirected"))),
        format!("mkdir {}", p(&dir.path().join("made"))),
        format!("rm {}", p(&kept)),
        format!("truncate -s 0 {}", p(&kept)),
        format!("echo x >> {}", p(&kept)),
        "echo x > /dev/tty".to_owned(),
    ];
    for script in &cases {
        let out = sandboxed(script, Sandbox::default()).await;
        assert!(denied(&out), "{script}: {out:?}");
    }
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(left, ["kept"], "only the file that was there");
    assert_eq!(std::fs::read_to_string(&kept).expect("read"), "original");
}

#[tokio::test]
async fn protected_paths_are_unreadable_and_everything_else_is_readable() {
    let root = tempfile::tempdir().expect("temp");
    let data = root.path().join("data");
    std::fs::create_dir(&data).expect("mkdir");
    std::fs::write(data.join("incident.db"), "s3cret-data").expect("write");
    let key = root.path().join("signing.key");
    std::fs::write(&key, "s3cret-key").expect("write");
    std::fs::write(root.path().join("notes.txt"), "public notes").expect("write");
    // The data dir is named through a symlink, as a config file might.
    let alias = root.path().join("data-link");
    std::os::unix::fs::symlink(&data, &alias).expect("ln");
    let sb = Sandbox {
        deny: vec![alias, key.clone(), root.path().join("not-there-yet")],
        workdir_parent: None,
    };
    for script in [
        format!("cat {}", p(&data.join("incident.db"))),
        format!("cat {}", p(&key)),
        format!("ls {}", p(&data)),
        format!("cat {}/data-link/incident.db", p(root.path())),
    ] {
        let out = sandboxed(&script, sb.clone()).await;
        assert!(denied(&out), "{script}: {out:?}");
        assert!(!out.stdout.text.contains("s3cret"), "{script}: {out:?}");
    }
    let script = format!("cat /etc/hostname {}", p(&root.path().join("notes.txt")));
    let out = sandboxed(&script, sb).await;
    assert_eq!(out.exit_code, Some(0), "{out:?}");
    assert!(out.stdout.text.ends_with("public notes"), "{out:?}");
}

#[tokio::test]
async fn the_private_dir_is_cwd_home_and_tmpdir_writable_and_removed_after() {
    let parent = tempfile::tempdir().expect("temp");
    let sb = Sandbox {
        deny: Vec::new(),
        workdir_parent: Some(parent.path().to_path_buf()),
    };
    // The step also locks itself out of a directory; the cleanup copes.
    let script = "pwd; printenv HOME; printenv TMPDIR; stat -c %a .
echo hello > note; cat note; mktemp >/dev/null; mkdir -p locked/in; chmod 0 locked";
    let out = sandboxed(script, sb).await;
    assert_eq!(out.exit_code, Some(0), "{out:?}");
    let lines: Vec<&str> = out.stdout.text.lines().collect();
    let [pwd, home, tmp, mode, hello] = lines[..] else {
        panic!("{out:?}")
    };
    assert!(Path::new(pwd).starts_with(parent.path()), "{pwd}");
    assert_eq!((home, tmp, mode, hello), (pwd, pwd, "700", "hello"));
    assert!(!Path::new(pwd).exists(), "the private dir is removed");
    assert_eq!(std::fs::read_dir(parent.path()).expect("list").count(), 0);
}

#[tokio::test]
async fn programs_run_with_no_new_privileges_and_tight_limits() {
    let script = "/usr/bin/env printf 'ok\\n'; grep NoNewPrivs /proc/self/status
ulimit -c; ulimit -Hn; ulimit -Hf";
    let out = sandboxed(script, Sandbox::default()).await;
    assert_eq!(out.exit_code, Some(0), "{out:?}");
    let fsize_blocks = sitrep_executor::sandbox::LIMIT_FSIZE / 1024;
    assert_eq!(
        out.stdout.text,
        format!("ok\nNoNewPrivs:\t1\n0\n1024\n{fsize_blocks}\n")
    );
    // A file may not outgrow the limit, not even in the private directory.
    let out = sandboxed(
        "head -c 65M /dev/zero > big; echo finished",
        Sandbox::default(),
    )
    .await;
    assert_ne!(out.exit_code, Some(0), "{out:?}");
    assert!(!out.stdout.text.contains("finished"), "{out:?}");
}

#[tokio::test]
async fn the_step_cannot_reach_into_the_executor_process() {
    // The executor holds protected files open (the database). Reopening one through
    // /proc/PID/fd fails: a sandboxed process fails the kernel's ptrace check on an
    // unsandboxed one, and the reopened path is protected anyway.
    let root = tempfile::tempdir().expect("temp");
    let db = root.path().join("incident.db");
    std::fs::write(&db, "s3cret-data").expect("write");
    let held = std::fs::File::open(&db).expect("open");
    let (me, fd) = (std::process::id(), held.as_raw_fd());
    let sb = Sandbox {
        deny: vec![root.path().to_path_buf()],
        workdir_parent: None,
    };
    let out = sandboxed(&format!("cat /proc/{me}/fd/{fd}"), sb).await;
    assert!(denied(&out), "{out:?}");
    assert!(!out.stdout.text.contains("s3cret"), "{out:?}");
    if sandbox::support().abi().is_some_and(|abi| abi >= 6) {
        // Signal scoping came with ABI 6; older kernels run sandboxed without it.
        let out = sandboxed(&format!("kill -0 {me}"), Sandbox::default()).await;
        assert_ne!(out.exit_code, Some(0), "{out:?}");
        assert!(out.stderr.text.contains("not permitted"), "{out:?}");
    }
}

#[tokio::test]
async fn a_sandbox_that_cannot_be_built_runs_nothing() {
    let dir = tempfile::tempdir().expect("temp");
    let marker = dir.path().join("ran");
    let script = format!("touch {}", p(&marker));
    let root = Sandbox {
        deny: vec![PathBuf::from("/")],
        workdir_parent: None,
    };
    let err = try_sandboxed(&script, root).await.expect_err("refused");
    assert!(
        matches!(err, RunError::Sandbox(SandboxError::DenyRoot(_))),
        "{err}"
    );
    let nowhere = Sandbox {
        deny: Vec::new(),
        workdir_parent: Some(dir.path().join("missing")),
    };
    let err = try_sandboxed(&script, nowhere).await.expect_err("refused");
    assert!(
        matches!(err, RunError::Sandbox(SandboxError::Workdir { .. })),
        "{err}"
    );
    assert!(!marker.exists(), "nothing ran unsandboxed");
}
