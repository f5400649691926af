//! The durable append-only file log (being written).
