//! Guessing credentials: failed logins and failed bearer tokens (API and receivers) per
//! client address (`[server.guessing]`). Each failure takes a token from the address's
//! bucket; with none left the next attempt is answered 429 with `Retry-After` before the
//! credential is even looked at, so guessing runs at `refill` per address at most. Every
//! failure is logged (never the credential) and counted in
//! `sitrep_auth_failures_total{kind,outcome}`.

use std::net::IpAddr;

use sitrep_app::limits::GuessingConfig;
use sitrep_app::payloads::Rate;

use crate::ServerState;
use crate::error::{ApiError, ApiResult};
use crate::ratelimit::Limiter;

/// The failed-credential limiter.
pub struct Guessing {
    limiter: Limiter,
}

/// The bucket of a client (`unknown` when the request did not come through the accept
/// loop, as in router tests).
fn key(ip: Option<IpAddr>) -> String {
    ip.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
}

impl Guessing {
    /// `burst` failures per address, one more forgiven every `refill`.
    #[must_use]
    pub fn new(cfg: &GuessingConfig) -> Guessing {
        let per = cfg.refill.max(std::time::Duration::from_millis(1));
        Guessing {
            limiter: Limiter::new(Rate { count: 1, per }, cfg.burst),
        }
    }

    /// The limiter (tests set its clock).
    #[must_use]
    pub fn limiter(&self) -> &Limiter {
        &self.limiter
    }

    /// 429 when `ip` used up its failures of `kind` (`login`, `bearer`).
    pub fn check(
        &self,
        state: &ServerState,
        kind: &'static str,
        ip: Option<IpAddr>,
    ) -> ApiResult<()> {
        let Err(wait) = self.limiter.peek(&key(ip)) else {
            return Ok(());
        };
        state.metrics().auth_failure(kind, "limited");
        tracing::warn!(client = %key(ip), kind, retry_after = wait, "too many failed credentials: refused");
        Err(ApiError::too_many(format!(
            "too many failed credentials from this address; retry after {wait} s"
        ))
        .with("retry_after", wait))
    }

    /// Records a failed credential of `kind` from `ip`.
    pub fn failed(&self, state: &ServerState, kind: &'static str, ip: Option<IpAddr>) {
        let _ = self.limiter.take(&key(ip));
        state.metrics().auth_failure(kind, "failed");
        tracing::warn!(client = %key(ip), kind, "failed credential");
    }
}
