//! Reads of the views: each answers one question from the tables the projections keep,
//! on either backend, with the same SQL. Any of them can run on a database built by
//! [`crate::history`] to answer "as of" an earlier moment.

pub mod audit_trail;
pub mod catalogue;
pub mod competence;
pub mod costs;
pub mod deadline;
pub mod packages;
pub mod participant;
pub mod registrations;
pub mod roster;
pub mod staff;
pub mod statistics;
pub mod supervisor;

use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Europe::Stockholm;

use crate::db::{Db, Param};
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

/// A stored timestamp (RFC 3339), as an instant.
pub(crate) fn instant(stored: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(stored).ok().map(|t| t.with_timezone(&Utc))
}

/// A stored timestamp in Swedish wall-clock time (Europe/Stockholm, summer time included),
/// as RFC 3339 with its offset, e.g. `2027-09-01T08:00:00+02:00`; "" if it is not one.
pub fn stockholm(stored: &str) -> String {
    instant(stored).map(|t| t.with_timezone(&Stockholm).to_rfc3339_opts(SecondsFormat::Secs, false)).unwrap_or_default()
}

/// Calendar days from `from`'s day to `to`'s day, both in Swedish time: 0 on the same
/// day, negative when `to` is on an earlier day.
pub fn stockholm_days_between(from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
    let day = |t: DateTime<Utc>| t.with_timezone(&Stockholm).date_naive();
    (day(to) - day(from)).num_days()
}

/// The conditions of a list's `WHERE`, with their parameters numbered in order.
#[derive(Debug, Default)]
pub(crate) struct Conditions {
    sql: Vec<String>,
    /// The parameters, `$1` first.
    pub params: Vec<Param>,
}

impl Conditions {
    /// Adds `condition`, whose `{}` stands for `value`.
    pub fn push(&mut self, condition: &str, value: impl Into<Param>) {
        self.params.push(value.into());
        self.sql.push(condition.replace("{}", &format!("${}", self.params.len())));
    }

    /// ` WHERE a AND b`, or nothing when there is no condition.
    pub fn where_clause(&self) -> String {
        if self.sql.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.sql.join(" AND "))
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::{stockholm, stockholm_days_between};

    #[test]
    fn days_are_counted_as_calendar_days_in_sweden_summer_and_winter() {
        let at = |y, mo, d, h, mi| Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap();
        // 23:59 on 15 June in Stockholm (summer time, UTC+2).
        let deadline = at(2027, 6, 15, 21, 59);
        assert_eq!(stockholm_days_between(at(2027, 6, 14, 21, 59), deadline), 1);
        assert_eq!(stockholm_days_between(at(2027, 6, 14, 22, 0), deadline), 0, "already 15 June in Sweden");
        assert_eq!(stockholm_days_between(at(2027, 6, 15, 22, 0), deadline), -1, "16 June in Sweden");
        // 00:30 on 16 December in Stockholm (winter time, UTC+1) is 15 December in UTC.
        assert_eq!(stockholm_days_between(at(2027, 12, 15, 12, 0), at(2027, 12, 15, 23, 30)), 1);
        assert_eq!(stockholm("2027-12-15T23:30:00.000Z"), "2027-12-16T00:30:00+01:00");
        assert_eq!(stockholm("2027-06-15T21:59:00.000Z"), "2027-06-15T23:59:00+02:00");
        assert_eq!(stockholm("not a time"), "");
    }
}
