//! Which sandbox unattended runs get: Landlock with the data dir, the key files and the
//! config unreadable, or a refusal where the kernel cannot enforce it (unless the config
//! opts in).

use std::path::PathBuf;

use sitrep_executor::sandbox::{Sandbox, Support, support};
use sitrep_executor::{Mode, RunConfig};

use crate::app::App;
use crate::error::AppError;

impl App {
    /// Whether this kernel can sandbox unattended runs (for startup and `/readyz`).
    #[must_use]
    pub fn sandbox_support(&self) -> Support {
        support()
    }

    /// Paths no unattended run may read: the data dir (database, blobs, keys), the
    /// ledger and acknowledge keys wherever they live, the config file and the
    /// configured extras.
    fn sandbox_deny(&self) -> Vec<PathBuf> {
        let cfg = &self.inner.config;
        let mut deny = vec![self.inner.data_dir.clone()];
        if let Some(k) = &cfg.keys.ledger {
            deny.push(k.clone());
            // A rotation's next key waits beside it.
            let mut next = k.clone().into_os_string();
            next.push(".next");
            deny.push(next.into());
        }
        deny.extend(cfg.keys.ack.iter().cloned());
        deny.extend(cfg.source.iter().cloned());
        deny.extend(cfg.executor.sandbox_deny.iter().cloned());
        deny
    }

    /// `base` made ready for a run in `mode`: an unattended run gets the sandbox, or
    /// is refused where the kernel has none and the config does not opt in.
    pub(crate) fn sandboxed(&self, mut base: RunConfig, mode: Mode) -> Result<RunConfig, AppError> {
        if mode != Mode::Automatic {
            return Ok(base);
        }
        match self.sandbox_support() {
            s if s.is_ready() => {
                base.sandbox = Some(Sandbox {
                    deny: self.sandbox_deny(),
                    workdir_parent: None,
                });
            }
            _ if self.inner.config.executor.unsandboxed_triage => {
                base.unsandboxed_unattended = true;
            }
            s => {
                return Err(AppError::Denied {
                    reason: format!(
                        "unattended runs need the sandbox and {s}; set executor.unsandboxed_triage = true to run them anyway"
                    ),
                });
            }
        }
        Ok(base)
    }
}
