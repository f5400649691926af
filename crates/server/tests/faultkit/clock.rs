//! For the clock-step fault: waiting for paging passes, and the escalation policy it
//! pages by (the stepped clock and the webhook receiver are `common`'s).

use std::time::Duration;

use crate::common::Server;

/// Waits until two more paging passes finished: the second started after this call,
/// so it read the clock as it is now (whichever way it was stepped).
pub async fn two_passes(s: &Server) {
    let mut passes = s.state.paging_passes();
    passes.borrow_and_update();
    for _ in 0..2 {
        tokio::time::timeout(Duration::from_secs(30), passes.changed())
            .await
            .expect("a paging pass within 30 s")
            .expect("the paging loop runs");
    }
}

/// An escalation policy (`tests/data/escalation/local-svc.toml`): the on-call at once,
/// the boss after 30 minutes, webhooks under `hook`.
pub fn policy(hook: &str) -> String {
    include_str!("../../../../tests/data/escalation/local-svc.toml").replace("HOOK", hook)
}
