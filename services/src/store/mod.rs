//! Storage: the event log on SQLite (the embedded default) or PostgreSQL, and the
//! command executor that runs cqrs-es aggregates against it.
//!
//! Reads of whole streams go through sqlite-es / postgres-es (`PersistedEventRepository`),
//! whose table layout the migrations keep. Appends are Kurslogg's own: one statement per
//! command (all its events, plus the idempotency record when there is one), because the
//! stock path costs several round trips per command (see docs/decisions/0001).

mod executor;
mod keys;
mod log;

pub use executor::{Aggregates, Basis, CommandError, Committed, Metadata, Respond};
pub use log::{
    append_postgres_events, AppendError, Backend, EventLog, LogOptions, NewEvent, PeopleOnOffering, Seen,
    StoredResponse, POSITION_PLACEHOLDER,
};

/// Storage trouble the caller cannot fix (maps to 503).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database said no or could not be reached.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// A migration failed.
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored event could not be read back.
    #[error("stored event unreadable: {0}")]
    Corrupt(String),
    /// cqrs-es persistence layer error.
    #[error("event repository: {0}")]
    Persistence(String),
}

impl From<cqrs_es::persist::PersistenceError> for StoreError {
    fn from(e: cqrs_es::persist::PersistenceError) -> Self {
        Self::Persistence(e.to_string())
    }
}
