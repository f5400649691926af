//! The web UI (owned by the lead; filled in later).

pub fn routes() -> axum::Router<crate::ServerState> {
    axum::Router::new()
}
