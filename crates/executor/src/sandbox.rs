//! The Landlock sandbox for unattended runs: a read-only filesystem with protected paths
//! unreadable, one private writable directory per run, no new privileges, tight rlimits.
//!
//! Landlock only allows, so "everything except the data dir" is built as read rules on
//! every entry beside the way down to each protected path ([`read_grants`]). The ruleset
//! is built in the parent; the forked child only makes syscalls ([`install`]).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::fs::{OpenOptions, Permissions};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use landlock::{
    ABI, Access, AccessFs, BitFlags, CompatLevel, Compatible, PathBeneath, Ruleset, RulesetAttr,
    RulesetCreatedAttr, Scope, make_bitflags,
};
use nix::errno::Errno;
use nix::libc;
use nix::sys::resource::{Resource, getrlimit, setrlimit};
use serde::Serialize;
use tempfile::TempDir;
use tokio::process::Command;

/// The oldest Landlock ABI the sandbox accepts (Linux 6.2): before ABI 3 Landlock could
/// not deny `truncate(2)`, so a step could empty any file its user may write.
pub const MIN_ABI: u32 = 3;

/// `RLIMIT_FSIZE` in a sandbox: no file written may grow past 64 MiB (the process gets
/// SIGXFSZ), so a runaway step cannot fill the disk through its private directory.
pub const LIMIT_FSIZE: u64 = 64 << 20;

/// `RLIMIT_NOFILE` in a sandbox: plenty for diagnostics, bounded for a leaking loop.
pub const LIMIT_NOFILE: u64 = 1024;

/// Whether this kernel can sandbox unattended runs; see [`support`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "landlock", rename_all = "snake_case")]
pub enum Support {
    /// Landlock is enabled at this ABI version, [`MIN_ABI`] or newer.
    Ready {
        /// The kernel's Landlock ABI version.
        abi: u32,
    },
    /// Landlock is enabled, but older than [`MIN_ABI`].
    TooOld {
        /// The kernel's Landlock ABI version.
        abi: u32,
    },
    /// The kernel has Landlock, but it was not enabled at boot.
    Disabled,
    /// The kernel has no Landlock.
    Missing,
}

impl Support {
    /// The sandbox can be used.
    pub fn is_ready(self) -> bool {
        matches!(self, Self::Ready { .. })
    }
    /// The kernel's Landlock ABI version, when Landlock is enabled.
    pub fn abi(self) -> Option<u32> {
        match self {
            Self::Ready { abi } | Self::TooOld { abi } => Some(abi),
            Self::Disabled | Self::Missing => None,
        }
    }
}

impl fmt::Display for Support {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ready { abi } => write!(f, "Landlock ABI {abi}"),
            Self::TooOld { abi } => write!(
                f,
                "Landlock ABI {abi} is older than {MIN_ABI} (Linux 6.2), which the sandbox needs"
            ),
            Self::Disabled => f.write_str(
                "Landlock is built in but not enabled (add landlock to the lsm= boot parameter)",
            ),
            Self::Missing => f.write_str("the kernel has no Landlock (Linux 6.2 or newer needed)"),
        }
    }
}

/// Asks the kernel which Landlock ABI it has. Cheap: one syscall, nothing is created.
pub fn support() -> Support {
    match kernel_abi() {
        Ok(abi) if abi >= MIN_ABI => Support::Ready { abi },
        Ok(abi) => Support::TooOld { abi },
        Err(Errno::EOPNOTSUPP) => Support::Disabled,
        Err(_) => Support::Missing,
    }
}

/// `LANDLOCK_CREATE_RULESET_VERSION` from `<linux/landlock.h>`.
const CREATE_RULESET_VERSION: libc::c_ulong = 1;

#[allow(unsafe_code)]
fn kernel_abi() -> Result<u32, Errno> {
    // SAFETY: with a null attribute, size 0 and the VERSION flag the kernel only returns
    // the ABI version; it reads and writes no memory of ours and creates no descriptor.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            CREATE_RULESET_VERSION,
        )
    };
    if v < 0 {
        return Err(Errno::last());
    }
    Ok(u32::try_from(v).unwrap_or(u32::MAX))
}

/// Sandboxing for one run, in [`crate::RunConfig::sandbox`].
///
/// The whole filesystem is readable and executable except `deny` (and whatever appears
/// after the run started in a directory on the way to a protected path); nothing is
/// writable except a private directory made for the run (mode 0700, the working
/// directory unless the step names one, `HOME` and `TMPDIR`, removed afterwards) and
/// `/dev/null`. The network is not restricted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sandbox {
    /// Paths the step may not read, write or execute: the data dir, key files. Symlinks
    /// are resolved; a path that does not exist yet stays protected when it appears.
    pub deny: Vec<PathBuf>,
    /// Where the private directory is made; the system temporary directory when unset.
    pub workdir_parent: Option<PathBuf>,
}

/// Why a sandbox could not be set up (the step is then not run at all) or cleaned up.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The kernel cannot enforce the sandbox.
    #[error("cannot sandbox: {0}")]
    Unsupported(Support),
    /// Denying `/` would leave nothing to run.
    #[error("cannot protect {0}: it is the root directory")]
    DenyRoot(PathBuf),
    /// A protected path could not be resolved.
    #[error("cannot resolve protected path {path}: {source}")]
    Resolve {
        /// The path as given.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// A protected path has `..` after a directory that does not exist, so what it
    /// names cannot be known.
    #[error("cannot resolve protected path {0}: `..` after a missing directory")]
    Unresolvable(PathBuf),
    /// A directory on the way to a protected path could not be listed or opened.
    #[error("cannot read {path} while building the sandbox: {source}")]
    Walk {
        /// The directory or entry.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// A directory on the way to a protected path was replaced while rules were built.
    #[error("{0} changed while building the sandbox")]
    Changed(PathBuf),
    /// The private directory could not be made.
    #[error("cannot make the private directory in {path}: {source}")]
    Workdir {
        /// The parent directory.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The kernel refused the ruleset.
    #[error("cannot build the Landlock ruleset: {0}")]
    Landlock(#[from] landlock::RulesetError),
    /// The current resource limits could not be read.
    #[error("cannot read resource limits: {0}")]
    Limits(Errno),
    /// The private directory could not be removed after the run.
    #[error("cannot remove the private directory {path}: {source}")]
    Cleanup {
        /// The private directory.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
}

/// Resource limits for the child, soft and hard alike so the step cannot raise them.
type Limits = [(Resource, u64); 3];

/// A sandbox ready for one process: its private directory, the ruleset descriptor and
/// the limits, all made in the parent.
#[derive(Debug)]
pub(crate) struct Prepared {
    workdir: TempDir,
    ruleset: OwnedFd,
    limits: Limits,
}

/// The private directory of a spawned sandboxed run, to remove when it ends.
#[derive(Debug)]
pub(crate) struct Workdir(TempDir);

impl Sandbox {
    /// Builds everything the child needs, so that the child itself only makes syscalls.
    pub(crate) fn prepare(&self) -> Result<Prepared, SandboxError> {
        let abi = match support() {
            Support::Ready { abi } => abi,
            other => return Err(SandboxError::Unsupported(other)),
        };
        let grants = read_grants(&self.deny)?;
        let workdir = make_workdir(self.workdir_parent.as_deref())?;
        let ruleset = build_ruleset(abi, grants, workdir.path())?;
        Ok(Prepared {
            workdir,
            ruleset,
            limits: limits()?,
        })
    }
}

impl Prepared {
    /// Points `cmd` at the private directory (as its cwd too when `set_cwd`) and makes
    /// its child enter the sandbox just before exec.
    pub(crate) fn apply(self, cmd: &mut Command, set_cwd: bool) -> Workdir {
        let dir = self.workdir.path();
        cmd.env("HOME", dir).env("TMPDIR", dir);
        if set_cwd {
            cmd.current_dir(dir);
        }
        install(cmd, self.ruleset, self.limits);
        Workdir(self.workdir)
    }
}

impl Workdir {
    /// Removes the private directory and all the run left in it.
    pub(crate) fn remove(self) -> Result<(), SandboxError> {
        let path = self.0.keep();
        remove_tree(&path).map_err(|source| SandboxError::Cleanup { path, source })
    }
}

#[allow(unsafe_code)]
fn install(cmd: &mut Command, ruleset: OwnedFd, limits: Limits) {
    // SAFETY: the hook runs in the child forked from a multi-threaded process, where only
    // async-signal-safe calls are sound: another thread may have held the allocator's
    // lock at fork, so allocating could deadlock. `enter` allocates nothing (the ruleset
    // and limits were made in the parent, errors are bare errnos) and only calls
    // setrlimit, prctl and landlock_restrict_self. The ruleset descriptor is
    // close-on-exec, so the step never holds it.
    unsafe {
        cmd.pre_exec(move || enter(&ruleset, &limits));
    }
}

/// Runs in the forked child: limits, no new privileges, then the Landlock domain.
fn enter(ruleset: &OwnedFd, limits: &Limits) -> io::Result<()> {
    for &(resource, value) in limits {
        setrlimit(resource, value, value)?;
    }
    // Landlock requires it of unprivileged callers; it also keeps setuid binaries
    // (sudo, su) from gaining anything.
    nix::sys::prctl::set_no_new_privs()?;
    restrict_self(ruleset)
}

/// landlock_restrict_self(2) directly: the landlock crate's `restrict_self` consumes a
/// `RulesetCreated` and tracks compatibility state, which is not ours to audit for
/// allocation between fork and exec; the syscall on a prepared descriptor is.
#[allow(unsafe_code)]
fn restrict_self(ruleset: &OwnedFd) -> io::Result<()> {
    // SAFETY: a plain syscall on a descriptor we own, with no pointers.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_landlock_restrict_self,
            libc::c_long::from(ruleset.as_raw_fd()),
            0 as libc::c_long,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::from(Errno::last()))
    }
}

/// The limits the child gets. Unprivileged processes may only lower a hard limit, so
/// never ask for more than this process has.
fn limits() -> Result<Limits, SandboxError> {
    let mut out = [
        (Resource::RLIMIT_CORE, 0),
        (Resource::RLIMIT_FSIZE, LIMIT_FSIZE),
        (Resource::RLIMIT_NOFILE, LIMIT_NOFILE),
    ];
    for (resource, value) in &mut out {
        let (_, hard) = getrlimit(*resource).map_err(SandboxError::Limits)?;
        *value = (*value).min(hard);
    }
    Ok(out)
}

fn make_workdir(parent: Option<&Path>) -> Result<TempDir, SandboxError> {
    let parent = parent.map_or_else(std::env::temp_dir, Path::to_path_buf);
    tempfile::Builder::new()
        .prefix("sitrep-run-")
        .permissions(Permissions::from_mode(0o700))
        .tempdir_in(&parent)
        .map_err(|source| SandboxError::Workdir {
            path: parent,
            source,
        })
}

/// Removes `path`; a step may have taken away its own permissions (`chmod 0 dir`), so
/// on failure they are given back and the removal retried once.
fn remove_tree(path: &Path) -> io::Result<()> {
    if std::fs::remove_dir_all(path).is_ok() {
        return Ok(());
    }
    let mut dirs = vec![path.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let _ = std::fs::set_permissions(&dir, Permissions::from_mode(0o700));
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                dirs.push(entry.path());
            }
        }
    }
    std::fs::remove_dir_all(path)
}

/// Every access right the sandbox handles. Anything not handled is allowed by Landlock:
/// network rights, abstract and path unix sockets (ABI 9) stay unrestricted on purpose.
fn handled(abi: u32) -> BitFlags<AccessFs> {
    let mut all = AccessFs::from_all(ABI::V3);
    if abi >= 5 {
        // Device ioctls can change state; only /dev/null and the private directory get
        // them.
        all |= AccessFs::IoctlDev;
    }
    all
}

fn build_ruleset(abi: u32, grants: Vec<Grant>, workdir: &Path) -> Result<OwnedFd, SandboxError> {
    let read = make_bitflags!(AccessFs::{Execute | ReadFile | ReadDir});
    let read_file = make_bitflags!(AccessFs::{Execute | ReadFile});
    let all = handled(abi);
    let dev_null = all & make_bitflags!(AccessFs::{ReadFile | WriteFile | Truncate | IoctlDev});
    // Hard requirement: we ask only for what the kernel said it has, so anything the
    // crate would otherwise drop silently is an error instead.
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::HardRequirement)
        .handle_access(all)?;
    if abi >= 6 {
        // Signals only reach processes inside the sandbox: a read step kills nothing.
        ruleset = ruleset.scope(Scope::Signal)?;
    }
    let mut created = ruleset.create()?;
    for g in grants {
        let access = if g.dir { read } else { read_file };
        created = created.add_rule(PathBeneath::new(g.fd, access))?;
    }
    let open = |p: &Path| open_nofollow(p).map_err(|source| walk_err(p, source));
    created = created.add_rule(PathBeneath::new(open(workdir)?, all))?;
    created = created.add_rule(PathBeneath::new(open(Path::new("/dev/null"))?, dev_null))?;
    Option::<OwnedFd>::from(created).ok_or(SandboxError::Unsupported(Support::Missing))
}

/// A read rule to add: an `O_PATH` descriptor of the entry itself, and its kind.
#[derive(Debug)]
struct Grant {
    fd: OwnedFd,
    dir: bool,
}

/// The protected paths as a tree of names from `/`.
#[derive(Debug, Default)]
struct Node {
    denied: bool,
    children: BTreeMap<OsString, Node>,
}

/// Read rules for everything except `deny`: from `/` down, every entry beside the way
/// to a protected path is allowed whole; directories on the way get no rule of their
/// own (they stay traversable, not listable), and protected paths get none.
fn read_grants(deny: &[PathBuf]) -> Result<Vec<Grant>, SandboxError> {
    let mut root = Node::default();
    for path in deny {
        let target = target(path)?;
        if target.parent().is_none() {
            return Err(SandboxError::DenyRoot(path.clone()));
        }
        let mut node = &mut root;
        for name in target.components().skip(1) {
            if node.denied {
                break;
            }
            node = node
                .children
                .entry(name.as_os_str().to_owned())
                .or_default();
        }
        node.denied = true;
    }
    let mut out = Vec::new();
    if root.children.is_empty() {
        let fd = open_nofollow(Path::new("/")).map_err(|e| walk_err(Path::new("/"), e))?;
        out.push(Grant { fd, dir: true });
    } else {
        walk(Path::new("/"), &root, &mut out)?;
    }
    Ok(out)
}

fn walk(dir: &Path, node: &Node, out: &mut Vec<Grant>) -> Result<(), SandboxError> {
    for entry in std::fs::read_dir(dir).map_err(|e| walk_err(dir, e))? {
        let name = entry.map_err(|e| walk_err(dir, e))?.file_name();
        let path = dir.join(&name);
        let child = node.children.get(&name);
        if child.is_some_and(|c| c.denied) {
            continue;
        }
        let fd = match open_nofollow(&path) {
            Ok(fd) => fd,
            // Gone since the listing: nothing to allow.
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(walk_err(&path, e)),
        };
        let kind = std::fs::File::from(fd.try_clone().map_err(|e| walk_err(&path, e))?)
            .metadata()
            .map_err(|e| walk_err(&path, e))?
            .file_type();
        match child {
            // The way to a protected path is made of real directories (it was
            // canonicalized); anything else means it was swapped since.
            Some(c) if kind.is_dir() => walk(&path, c, out)?,
            Some(_) => return Err(SandboxError::Changed(path)),
            // A symlink's target is judged where it lives; a rule on the link itself
            // would be useless, and following it could allow a protected directory.
            None if kind.is_symlink() => {}
            None => out.push(Grant {
                fd,
                dir: kind.is_dir(),
            }),
        }
    }
    Ok(())
}

/// Opens the entry itself (a symlink stays a symlink) for use as a rule's anchor.
fn open_nofollow(path: &Path) -> io::Result<OwnedFd> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_NOFOLLOW)
        .open(path)?;
    Ok(OwnedFd::from(file))
}

fn walk_err(path: &Path, source: io::Error) -> SandboxError {
    SandboxError::Walk {
        path: path.to_path_buf(),
        source,
    }
}

/// What a protected path names, without symlinks: the path itself when it exists, else
/// its deepest existing ancestor plus the first missing name (nothing deeper can exist
/// before that name does, and it appears in a directory that has no rule of its own).
fn target(path: &Path) -> Result<PathBuf, SandboxError> {
    let resolve = |source| SandboxError::Resolve {
        path: path.to_path_buf(),
        source,
    };
    let abs = std::path::absolute(path).map_err(resolve)?;
    let parts: Vec<Component<'_>> = abs.components().collect();
    for keep in (1..=parts.len()).rev() {
        let prefix: PathBuf = parts.iter().take(keep).collect();
        match std::fs::canonicalize(&prefix) {
            Ok(canon) => {
                let rest = parts.get(keep..).unwrap_or(&[]);
                if rest.contains(&Component::ParentDir) {
                    return Err(SandboxError::Unresolvable(path.to_path_buf()));
                }
                return Ok(match rest.first() {
                    Some(first) => canon.join(first),
                    None => canon,
                });
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(resolve(e)),
        }
    }
    Err(resolve(io::Error::from(io::ErrorKind::NotFound)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn granted(deny: &[PathBuf]) -> Vec<PathBuf> {
        let mut paths: Vec<PathBuf> = read_grants(deny)
            .expect("grants")
            .into_iter()
            .map(|g| {
                std::fs::read_link(format!("/proc/self/fd/{}", g.fd.as_raw_fd())).expect("link")
            })
            .collect();
        paths.sort();
        paths
    }

    #[test]
    fn siblings_on_the_way_are_allowed_the_protected_path_and_symlinks_are_not() {
        let dir = tempfile::tempdir().expect("temp");
        let base = dir.path().canonicalize().expect("canon");
        for d in ["data/keys", "data/db", "other"] {
            std::fs::create_dir_all(base.join(d)).expect("mkdir");
        }
        std::fs::write(base.join("file"), "x").expect("write");
        std::os::unix::fs::symlink(base.join("data/keys"), base.join("link")).expect("ln");
        let got = granted(&[base.join("data/keys")]);
        assert!(got.contains(&base.join("data/db")), "{got:?}");
        assert!(got.contains(&base.join("other")), "{got:?}");
        assert!(got.contains(&base.join("file")), "{got:?}");
        for never in ["data/keys", "link"] {
            assert!(
                !got.iter().any(|p| p.starts_with(base.join(never))),
                "{never}: {got:?}"
            );
        }
        for way_down in [&base.join("data"), &base] {
            assert!(!got.contains(way_down), "no rule of its own: {way_down:?}");
        }
        assert!(got.contains(&PathBuf::from("/etc")), "{got:?}");
    }

    #[test]
    fn symlinked_missing_and_nested_protected_paths_resolve() {
        let dir = tempfile::tempdir().expect("temp");
        let base = dir.path().canonicalize().expect("canon");
        std::fs::create_dir_all(base.join("real/inner")).expect("mkdir");
        std::os::unix::fs::symlink(base.join("real"), base.join("alias")).expect("ln");
        assert_eq!(target(&base.join("alias")).expect("t"), base.join("real"));
        assert_eq!(
            target(&base.join("nope/deeper")).expect("t"),
            base.join("nope")
        );
        assert!(matches!(
            target(&base.join("nope/../real")),
            Err(SandboxError::Unresolvable(_))
        ));
        let got = granted(&[base.join("real/inner"), base.join("real")]);
        assert!(
            !got.iter().any(|p| p.starts_with(base.join("real"))),
            "{got:?}"
        );
        assert!(matches!(
            read_grants(&[PathBuf::from("/")]),
            Err(SandboxError::DenyRoot(_))
        ));
    }

    #[test]
    fn support_reports_this_kernels_landlock() {
        // This machine and CI run kernels with Landlock; a missing one must fail here.
        let s = support();
        assert!(s.is_ready(), "{s}");
        assert!(s.abi().is_some_and(|abi| abi >= MIN_ABI), "{s}");
    }
}
