//! Running one step: process group, clean environment, timeout, capped redacted output.

use std::collections::VecDeque;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;
use tokio::sync::mpsc;

use crate::bind::BoundScript;
use crate::expect::{Expect, Verdict};
use crate::gate::Permit;
use crate::redact::Redactor;
use crate::sandbox::{Sandbox, SandboxError};

/// Which output stream a chunk came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// Receives a run as it happens. Output is already redacted, in whole lines.
pub trait RunSink: Send + Sync {
    /// The process was spawned.
    fn started(&self, step_id: &str, display: &str, pid: u32);
    /// Redacted output, one or more complete lines (or a cut piece of a very long line).
    fn output(&self, step_id: &str, stream: Stream, bytes: &[u8]);
    /// The run ended (also after a timeout).
    fn finished(&self, step_id: &str, outcome: &Outcome);
}

/// A sink that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NullSink;

impl RunSink for NullSink {
    fn started(&self, _: &str, _: &str, _: u32) {}
    fn output(&self, _: &str, _: Stream, _: &[u8]) {}
    fn finished(&self, _: &str, _: &Outcome) {}
}

/// Limits that apply to every run.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Timeout when the step does not set one.
    pub default_timeout: Duration,
    /// Time between SIGTERM and SIGKILL to the process group.
    pub grace: Duration,
    /// Bytes kept per stream (half head, half tail).
    pub capture_cap: usize,
    /// Longest line redacted as a unit before it is cut.
    pub max_line: usize,
    /// Extra environment for every run (e.g. `KUBECONFIG`).
    pub extra_env: Vec<(String, String)>,
    /// Run under Landlock (unattended runs); `None` runs unsandboxed.
    pub sandbox: Option<Sandbox>,
    /// An unattended permit runs only inside `sandbox`, unless this is set: the
    /// operator's opt-in where the kernel has no Landlock.
    pub unsandboxed_unattended: bool,
}

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            default_timeout: Duration::from_secs(300),
            grace: Duration::from_secs(5),
            capture_cap: 1 << 20,
            max_line: 64 << 10,
            extra_env: Vec::new(),
            sandbox: None,
            unsandboxed_unattended: false,
        }
    }
}

/// One step to run.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// Reported to the sink with every event.
    pub step_id: String,
    /// The bound script.
    pub bound: BoundScript,
    /// `bash` unless the step names another interpreter (`sh`, `zsh`...).
    pub interpreter: Option<String>,
    /// The step's own timeout.
    pub timeout: Option<Duration>,
    /// Working directory; the executor's own when unset.
    pub cwd: Option<PathBuf>,
    /// The step's expectation.
    pub expect: Option<Expect>,
}

/// Captured output of one stream: the head and the tail, and how much was cut between.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Captured {
    /// Head, a `[... N bytes cut ...]` marker when something was cut, then the tail.
    pub text: String,
    /// Bytes the process wrote (after redaction).
    pub total_bytes: u64,
    /// Bytes dropped from the middle.
    pub cut_bytes: u64,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// The step id.
    pub step_id: String,
    /// The command as displayed and confirmed.
    pub display: String,
    /// Exit code, when the process exited.
    pub exit_code: Option<i32>,
    /// Signal number, when it was killed.
    pub signal: Option<i32>,
    /// The timeout fired and the group was killed.
    pub timed_out: bool,
    /// Spawn time.
    pub started_at: SystemTime,
    /// End time.
    pub ended_at: SystemTime,
    /// Wall time.
    pub duration: Duration,
    /// Redacted, capped standard output.
    pub stdout: Captured,
    /// Redacted, capped standard error.
    pub stderr: Captured,
    /// The verdict against the step's `expect`.
    pub verdict: Verdict,
}

/// Why a step could not be run at all.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The interpreter could not be started.
    #[error("cannot start {interpreter}: {source}")]
    Spawn {
        /// The interpreter.
        interpreter: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// Waiting for the process failed.
    #[error("waiting for the step failed: {0}")]
    Wait(std::io::Error),
    /// A batch may only hold read steps.
    #[error("step {0} is not a read step; batches run read steps only")]
    NotRead(String),
    /// An unattended run was asked for without a sandbox (and without the opt-in).
    #[error("unattended runs run sandboxed; no sandbox was given and the config does not opt out")]
    Unsandboxed,
    /// The sandbox could not be set up (the step did not run) or removed.
    #[error("sandbox: {0}")]
    Sandbox(#[from] SandboxError),
}

/// Keeps the first and last `cap / 2` bytes; counts the rest.
struct Capture {
    head: Vec<u8>,
    tail: VecDeque<u8>,
    half: usize,
    total: u64,
    cut: u64,
}

impl Capture {
    fn new(cap: usize) -> Self {
        Self {
            head: Vec::new(),
            tail: VecDeque::new(),
            half: cap / 2,
            total: 0,
            cut: 0,
        }
    }
    fn push(&mut self, mut bytes: &[u8]) {
        self.total += bytes.len() as u64;
        let room = self.half.saturating_sub(self.head.len());
        let (h, rest) = bytes.split_at(room.min(bytes.len()));
        self.head.extend_from_slice(h);
        bytes = rest;
        if bytes.len() >= self.half {
            // The chunk alone fills the tail: drop the old tail and the chunk's front.
            self.cut += self.tail.len() as u64 + (bytes.len() - self.half) as u64;
            self.tail.clear();
            bytes = bytes.get(bytes.len() - self.half..).unwrap_or(&[]);
        }
        self.tail.extend(bytes);
        let over = self.tail.len().saturating_sub(self.half);
        self.tail.drain(..over);
        self.cut += over as u64;
    }
    fn finish(self) -> Captured {
        let mut text = String::from_utf8_lossy(&self.head).into_owned();
        if self.cut > 0 {
            if !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(&format!("[... {} bytes cut ...]\n", self.cut));
        }
        let tail: Vec<u8> = self.tail.into_iter().collect();
        text.push_str(&String::from_utf8_lossy(&tail));
        Captured {
            text,
            total_bytes: self.total,
            cut_bytes: self.cut,
        }
    }
}

async fn pump<R: AsyncRead + Unpin>(
    mut reader: R,
    stream: Stream,
    mut redactor: crate::redact::StreamRedactor,
    tx: mpsc::Sender<(Stream, Vec<u8>)>,
) {
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = match reader.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let out = redactor.push(buf.get(..n).unwrap_or(&[]));
        if !out.is_empty() && tx.send((stream, out)).await.is_err() {
            return;
        }
    }
    let out = redactor.finish();
    if !out.is_empty() {
        let _ = tx.send((stream, out)).await;
    }
}

fn signal_group(pgid: Option<Pid>, sig: Signal) {
    if let Some(pgid) = pgid {
        // ESRCH means the group is already gone, which is what we want.
        let _ = killpg(pgid, sig);
    }
}

/// Runs the one plan `permit` allows: `INTERPRETER --noprofile --norc -euo pipefail -c SCRIPT` (bash; other
/// interpreters get `-eu -c`) in a new process group, with PATH, HOME, LANG, the
/// configured extras and the bound values as the whole environment, stdin closed.
/// On timeout the group gets SIGTERM, then SIGKILL after the grace period; when the
/// main process ends, whatever it left behind in its group is killed too.
pub async fn run(
    permit: &Permit,
    cfg: &RunConfig,
    sink: Arc<dyn RunSink>,
) -> Result<Outcome, RunError> {
    let spec = permit.spec();
    if permit.mode() == crate::Mode::Automatic
        && cfg.sandbox.is_none()
        && !cfg.unsandboxed_unattended
    {
        return Err(RunError::Unsandboxed);
    }
    let interpreter = spec
        .interpreter
        .clone()
        .unwrap_or_else(|| "bash".to_owned());
    let mut cmd = Command::new(&interpreter);
    if interpreter == "bash" || interpreter.ends_with("/bash") {
        cmd.args(["--noprofile", "--norc", "-euo", "pipefail"]);
    } else {
        cmd.arg("-eu");
    }
    cmd.arg("-c").arg(&spec.bound.script);
    cmd.env_clear();
    for key in ["PATH", "HOME", "LANG"] {
        if let Some(v) = std::env::var_os(key) {
            cmd.env(key, v);
        }
    }
    cmd.envs(cfg.extra_env.iter().map(|(k, v)| (k, v)));
    cmd.envs(spec.bound.env.iter().map(|(k, v)| (k, v)));
    if let Some(dir) = &spec.cwd {
        cmd.current_dir(dir);
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.process_group(0).kill_on_drop(true);
    // Set up before spawning: a sandbox that cannot be built fails the run, never runs it bare.
    let workdir = match &cfg.sandbox {
        Some(sandbox) => Some(sandbox.prepare()?.apply(&mut cmd, spec.cwd.is_none())),
        None => None,
    };

    let redactor = Redactor::new(&spec.bound.secret_values());
    let display = redactor.redact_text(&spec.bound.display);

    let started_at = SystemTime::now();
    let clock = Instant::now();
    let mut child = cmd.spawn().map_err(|source| RunError::Spawn {
        interpreter: interpreter.clone(),
        source,
    })?;
    let pid = child.id().unwrap_or(0);
    let pgid = i32::try_from(pid)
        .ok()
        .filter(|p| *p > 0)
        .map(Pid::from_raw);
    sink.started(&spec.step_id, &display, pid);

    let (tx, mut rx) = mpsc::channel(16);
    if let Some(out) = child.stdout.take() {
        tokio::spawn(pump(
            out,
            Stream::Stdout,
            redactor.stream(cfg.max_line),
            tx.clone(),
        ));
    }
    if let Some(err) = child.stderr.take() {
        tokio::spawn(pump(
            err,
            Stream::Stderr,
            redactor.stream(cfg.max_line),
            tx.clone(),
        ));
    }
    drop(tx);

    let timeout = spec.timeout.unwrap_or(cfg.default_timeout);
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    let mut kill_at: Option<Instant> = None;
    let mut timed_out = false;
    let mut status = None;
    let mut streams_open = true;
    let (mut out_cap, mut err_cap) = (Capture::new(cfg.capture_cap), Capture::new(cfg.capture_cap));

    while status.is_none() || streams_open {
        let grace_left = kill_at.map(|t| t.saturating_duration_since(Instant::now()));
        tokio::select! {
            msg = rx.recv(), if streams_open => match msg {
                Some((stream, bytes)) => {
                    sink.output(&spec.step_id, stream, &bytes);
                    match stream {
                        Stream::Stdout => out_cap.push(&bytes),
                        Stream::Stderr => err_cap.push(&bytes),
                    }
                }
                None => streams_open = false,
            },
            res = child.wait(), if status.is_none() => {
                status = Some(res.map_err(RunError::Wait)?);
                // Leftovers (`cmd &`) would hold the pipes open and outlive the step.
                signal_group(pgid, Signal::SIGKILL);
            },
            () = &mut deadline, if !timed_out => {
                timed_out = true;
                signal_group(pgid, Signal::SIGTERM);
                kill_at = Some(Instant::now() + cfg.grace);
            },
            () = tokio::time::sleep(grace_left.unwrap_or_default()), if grace_left.is_some() => {
                signal_group(pgid, Signal::SIGKILL);
                kill_at = None;
            },
        }
    }
    let status = status.ok_or_else(|| RunError::Wait(std::io::Error::other("no exit status")))?;
    if let Some(dir) = workdir {
        dir.remove()?;
    }
    let (stdout, stderr) = (out_cap.finish(), err_cap.finish());
    let verdict = match &spec.expect {
        Some(e) => e.verdict(status.code(), &format!("{}{}", stdout.text, stderr.text)),
        None => Verdict::None,
    };
    let outcome = Outcome {
        step_id: spec.step_id.clone(),
        display,
        exit_code: status.code(),
        signal: status.signal(),
        timed_out,
        started_at,
        ended_at: SystemTime::now(),
        duration: clock.elapsed(),
        stdout,
        stderr,
        verdict,
    };
    sink.finished(&spec.step_id, &outcome);
    Ok(outcome)
}
