//! The embedded store: SQLite in WAL mode under the data dir.

/// Implemented by the store helper.
pub struct SqliteStore {}
