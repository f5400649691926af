//! Helpers shared by the CLI integration tests: run the real `sitrep` binary (in a
//! temporary data dir: [`Env`]) and read what it printed.

// Each test binary compiles this module and uses only some of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Runs `sitrep` with `args` and waits for it.
pub fn sitrep(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sitrep"))
        .args(args)
        .output()
        .expect("the sitrep binary runs")
}

/// Standard output as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `tests/data/app/runbooks`: the runbooks most CLI stories run.
pub fn fixture_runbooks() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/app/runbooks")
}

/// A temporary directory holding a data dir, and the environment `sitrep` runs with
/// there: actor `ann`, nothing from the caller's `SITREP_*` variables or stdin.
pub struct Env {
    /// The temporary directory (`data/` is the data dir).
    pub dir: tempfile::TempDir,
    runbooks: PathBuf,
    config: Option<PathBuf>,
}

impl Env {
    /// On the fixture runbooks, with no config file.
    pub fn new() -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
            runbooks: fixture_runbooks(),
            config: None,
        }
    }

    /// With `config(dir)` as `sitrep.toml` and an empty `runbooks/` directory, both in
    /// the temporary directory `dir` (the test puts its runbooks, and any file the config
    /// names, there).
    pub fn configured(config: impl FnOnce(&Path) -> String) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let runbooks = dir.path().join("runbooks");
        std::fs::create_dir_all(&runbooks).unwrap();
        let file = dir.path().join("sitrep.toml");
        std::fs::write(&file, config(dir.path())).unwrap();
        Env {
            dir,
            runbooks,
            config: Some(file),
        }
    }

    /// The runbook directory `sitrep` reads.
    pub fn runbooks(&self) -> &Path {
        &self.runbooks
    }

    /// `sitrep` with this environment and no arguments yet.
    pub fn command(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_sitrep"));
        c.env("SITREP_DATA_DIR", self.dir.path().join("data"))
            .env("SITREP_RUNBOOKS", &self.runbooks)
            .env("SITREP_ACTOR", "ann")
            .env_remove("SITREP_DATABASE_URL")
            .stdin(Stdio::null());
        match &self.config {
            Some(file) => c.env("SITREP_CONFIG", file),
            None => c.env_remove("SITREP_CONFIG"),
        };
        c
    }

    /// Runs `sitrep args` and waits for it.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("sitrep runs")
    }

    /// Runs `sitrep --json args`, which must succeed, and parses what it printed.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut a = vec!["--json"];
        a.extend_from_slice(args);
        let o = self.run(&a);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", stdout(&o)))
    }
}
