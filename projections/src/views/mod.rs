//! Reads of the views: each answers one question from the tables the projections keep,
//! on either backend, with the same SQL. Any of them can run on a database built by
//! [`crate::history`] to answer "as of" an earlier moment.

pub mod audit_trail;
pub mod costs;
pub mod deadline;
pub mod participant;
pub mod roster;
pub mod statistics;
pub mod supervisor;

use crate::db::Db;
use crate::runner::ProjectionError;

/// The position a view reflects: the named projection's checkpoint.
pub async fn position(db: &Db, projection: &str) -> Result<i64, ProjectionError> {
    let sql = "SELECT position FROM projection_checkpoints WHERE name = $1";
    Ok(db.read_int(sql, &[projection.into()]).await?.unwrap_or(0))
}

/// An event a projection could not apply, recorded and passed over
/// (`projection_failures`, docs/decisions/0010).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct FailedEvent {
    /// The event's log position.
    pub position: i64,
    /// Its type.
    pub event_type: String,
    /// Why it could not be applied.
    pub reason: String,
    /// When the runner gave up on it (RFC 3339).
    pub failed_at: String,
}

/// How many events `projection` could not apply, and the latest `limit` of them.
pub async fn failures(db: &Db, projection: &str, limit: i64) -> Result<(i64, Vec<FailedEvent>), ProjectionError> {
    let count =
        db.read_int("SELECT count(*) FROM projection_failures WHERE projection = $1", &[projection.into()]).await?;
    let rows = db
        .fetch(
            "SELECT position, event_type, reason, failed_at FROM projection_failures WHERE projection = $1 \
             ORDER BY position DESC LIMIT $2",
            &[projection.into(), crate::db::Param::Int(limit)],
        )
        .await?;
    let latest = rows
        .iter()
        .map(|r| FailedEvent { position: r.int(0), event_type: r.text(1), reason: r.text(2), failed_at: r.text(3) })
        .collect();
    Ok((count.unwrap_or(0), latest))
}

/// A JSON array of text stored in a column, as a list.
pub(crate) fn text_list(json: &str) -> Vec<String> {
    serde_json::from_str(json).unwrap_or_default()
}
