//! Placeholder; the ingest benchmark is written below.
fn main() {}
