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

/// A JSON array of text stored in a column, as a list.
pub(crate) fn text_list(json: &str) -> Vec<String> {
    serde_json::from_str(json).unwrap_or_default()
}
