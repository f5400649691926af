//! The PostgreSQL server the story tests run on, shared by every crate's test helpers
//! (included with `#[path]`): `SITREP_TEST_DATABASE_URL`, required under CI.

/// The PostgreSQL server to test on, if any. Under CI (`CI=true`) it is required, so a
/// green run never hides a skipped PostgreSQL half.
pub fn postgres_url() -> Option<String> {
    match std::env::var("SITREP_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true but SITREP_TEST_DATABASE_URL is unset: the PostgreSQL half would be skipped"
            );
            None
        }
    }
}
