//! The outbox: letters waiting to be sent, sent, or failed. The notices projection (and
//! the scheduler, for reminders) write rows; the dispatcher reads what is due and records
//! each delivery attempt. Every update names the row's `generation`, so an attempt that
//! overlaps a resend request cannot mark the resend done.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::db::{Db, Param, Record, ViewTx};
use crate::enrolment::timestamp as stamp;

/// Namespace of notice ids (UUID v5 of the cause and recipient).
const NOTICE_NAMESPACE: Uuid = Uuid::from_u128(0x6b75_7273_6c6f_6767_6e6f_7469_6365_7331);

/// The stable id of the letter of `kind` caused by `cause` (an event position, an
/// offering, a package and day, ...) to `recipient`.
pub fn notice_id(kind: &str, cause: &str, recipient: &str) -> String {
    Uuid::new_v5(&NOTICE_NAMESPACE, format!("{kind}/{cause}/{recipient}").as_bytes()).to_string()
}

/// One letter to be written into the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct NewNotice {
    /// Stable id.
    pub notice_id: String,
    /// One of [`kind`].
    pub kind: &'static str,
    /// Staff id of the recipient.
    pub recipient: String,
    /// The offering concerned.
    pub offering_id: Option<String>,
    /// The package concerned.
    pub package_id: Option<String>,
    /// The municipality concerned.
    pub municipality: Option<String>,
    /// Ids and codes the letter needs beyond the above.
    pub details: Value,
    /// The causing event's position.
    pub caused_by: Option<i64>,
    /// When it was written (RFC 3339): the causing event's time, or now.
    pub created_at: String,
}

/// Writes `notice` into the outbox unless it is there already; true when it was new.
pub async fn enqueue(tx: &mut ViewTx, notice: &NewNotice) -> Result<bool, sqlx::Error> {
    let written = tx
        .execute(
            &format!(
                "INSERT INTO outbox ({NEW_LETTER}, status) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending') \
                 ON CONFLICT (notice_id) DO NOTHING"
            ),
            &[
                notice.notice_id.clone().into(),
                notice.kind.into(),
                notice.recipient.clone().into(),
                notice.offering_id.clone().into(),
                notice.package_id.clone().into(),
                notice.municipality.clone().into(),
                notice.details.to_string().into(),
                notice.caused_by.map_or(Param::NullInt, Param::Int),
                notice.created_at.clone().into(),
            ],
        )
        .await?;
    Ok(written > 0)
}

/// What a letter is written with, in [`enqueue`]'s order; the rest of its row is its
/// delivery.
const NEW_LETTER: &str =
    "notice_id, kind, recipient, offering_id, package_id, municipality, details, caused_by, created_at";

/// Copies into `into` the letters of `from` (a rebuild's scratch database) caused by
/// events after position `after`, as [`enqueue`] would write them: letters `into` has
/// already stay as they are.
pub(crate) async fn copy_letters(from: &Db, into: &mut ViewTx, after: i64) -> Result<(), sqlx::Error> {
    let letters = from
        .fetch(
            &format!("SELECT {NEW_LETTER} FROM outbox WHERE caused_by > $1 ORDER BY caused_by, notice_id"),
            &[Param::Int(after)],
        )
        .await?;
    let mut rows = Vec::with_capacity(letters.len() * 9);
    for letter in &letters {
        rows.extend([
            letter.text(0).into(),
            letter.text(1).into(),
            letter.text(2).into(),
            letter.opt_text(3).into(),
            letter.opt_text(4).into(),
            letter.opt_text(5).into(),
            letter.text(6).into(),
            letter.opt_int(7).map_or(Param::NullInt, Param::Int),
            letter.text(8).into(),
        ]);
    }
    // `WHERE true`: so that SQLite does not read the `ON CONFLICT` as a join's.
    let sql = format!(
        "INSERT INTO outbox ({NEW_LETTER}, status) SELECT r.*, 'pending' FROM ({{rows}}) AS r WHERE true \
         ON CONFLICT (notice_id) DO NOTHING"
    );
    into.execute_rows(&sql, 9, &rows).await?;
    Ok(())
}

/// One letter in the outbox.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct OutboxRow {
    /// Stable id.
    pub notice_id: String,
    /// Kind of letter.
    pub kind: String,
    /// Staff id of the recipient.
    pub recipient: String,
    /// The offering concerned.
    pub offering_id: Option<String>,
    /// The package concerned.
    pub package_id: Option<String>,
    /// The municipality concerned.
    pub municipality: Option<String>,
    /// Ids and codes the letter needs.
    #[schema(value_type = Object)]
    pub details: Value,
    /// Log position of the causing event.
    pub caused_by: Option<i64>,
    /// When it was written.
    pub created_at: String,
    /// `pending`, `sent` or `failed`.
    pub status: String,
    /// Delivery attempts so far (of this generation).
    pub attempts: i64,
    /// When the next attempt is due, if it waits (pending only).
    pub next_attempt_at: Option<String>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When it was sent.
    pub sent_at: Option<String>,
    /// Times it was resent on request.
    pub generation: i64,
    /// The sent message's Message-ID.
    pub message_id: Option<String>,
}

impl OutboxRow {
    /// The staff members the letter is about, by id (`details.staff`; may include its
    /// recipient).
    pub fn staff(&self) -> Vec<String> {
        let ids = self.details.get("staff").and_then(serde_json::Value::as_array);
        ids.into_iter().flatten().filter_map(serde_json::Value::as_str).map(str::to_string).collect()
    }
}

const COLUMNS: &str = "notice_id, kind, recipient, offering_id, package_id, municipality, details, caused_by, \
                       created_at, status, attempts, next_attempt_at, last_error, sent_at, generation, message_id";

fn row(r: &Record) -> OutboxRow {
    OutboxRow {
        notice_id: r.text(0),
        kind: r.text(1),
        recipient: r.text(2),
        offering_id: r.opt_text(3),
        package_id: r.opt_text(4),
        municipality: r.opt_text(5),
        details: serde_json::from_str(&r.text(6)).unwrap_or(Value::Null),
        caused_by: r.opt_int(7),
        created_at: r.text(8),
        status: r.text(9),
        attempts: r.int(10),
        next_attempt_at: r.opt_text(11),
        last_error: r.opt_text(12),
        sent_at: r.opt_text(13),
        generation: r.int(14),
        message_id: r.opt_text(15),
    }
}

/// Pending letters whose attempt is due at `now`, oldest first.
pub async fn due(db: &Db, now: DateTime<Utc>, limit: i64) -> Result<Vec<OutboxRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM outbox WHERE status = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= $1) \
         ORDER BY created_at, notice_id LIMIT $2"
    );
    Ok(db.fetch(&sql, &[stamp(now).into(), Param::Int(limit)]).await?.iter().map(row).collect())
}

/// One letter.
pub async fn get(db: &Db, notice_id: &str) -> Result<Option<OutboxRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM outbox WHERE notice_id = $1");
    Ok(db.fetch(&sql, &[notice_id.into()]).await?.first().map(row))
}

/// Which letters to list.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only this status.
    pub status: Option<String>,
    /// Only this kind.
    pub kind: Option<String>,
    /// Only about this offering.
    pub offering: Option<String>,
    /// Only to this recipient.
    pub recipient: Option<String>,
    /// After this (created_at, notice_id) in listing order.
    pub after: Option<(String, String)>,
}

/// Letters in the order they were written, `limit` at a time. Each filter left out
/// (NULL) lets every row through.
pub async fn list(db: &Db, filter: &Filter, limit: i64) -> Result<Vec<OutboxRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM outbox \
         WHERE ($1 IS NULL OR status = $1) AND ($2 IS NULL OR kind = $2) \
         AND ($3 IS NULL OR offering_id = $3) AND ($4 IS NULL OR recipient = $4) \
         AND ($5 IS NULL OR created_at > $5 OR (created_at = $5 AND notice_id > $6)) \
         ORDER BY created_at, notice_id LIMIT $7"
    );
    let (after_created, after_id) = filter.after.clone().unzip();
    let params = [
        Param::from(filter.status.clone()),
        Param::from(filter.kind.clone()),
        Param::from(filter.offering.clone()),
        Param::from(filter.recipient.clone()),
        Param::from(after_created),
        Param::from(after_id),
        Param::Int(limit),
    ];
    Ok(db.fetch(&sql, &params).await?.iter().map(row).collect())
}

/// How the outbox stands, for `/readyz`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct OutboxCounts {
    /// Letters waiting to be sent (or tried again).
    pub pending: i64,
    /// Letters that failed for good, each with its reason (`GET /outbox?status=failed`).
    pub failed: i64,
    /// When the oldest pending letter was written: a dispatcher that has stopped shows
    /// here as a time that only gets older.
    pub oldest_pending: Option<String>,
}

/// The outbox's letters counted by status.
pub async fn counts(db: &Db) -> Result<OutboxCounts, sqlx::Error> {
    let rows = db
        .fetch(
            "SELECT status, count(*), min(created_at) FROM outbox WHERE status IN ('pending', 'failed') GROUP BY status",
            &[],
        )
        .await?;
    let mut counts = OutboxCounts::default();
    for row in rows {
        match row.text(0).as_str() {
            "pending" => {
                counts.pending = row.int(1);
                counts.oldest_pending = row.opt_text(2);
            }
            _ => counts.failed = row.int(1),
        }
    }
    Ok(counts)
}

/// Letters to others than `staff` that may name them, `limit` at a time after notice id
/// `after`, for forgetting an erased person in the letters kept as files: those listing
/// them (`details.staff`: summaries, promotions, cancellations) and the receipts and
/// allocation results of their municipality.
pub async fn naming(
    db: &Db,
    staff: &str,
    municipality: &str,
    after: &str,
    limit: i64,
) -> Result<Vec<OutboxRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM outbox WHERE recipient <> $1 AND notice_id > $2 \
         AND (details LIKE $3 OR (kind IN ('registration_receipt', 'allocation_result') AND municipality = $4)) \
         ORDER BY notice_id LIMIT $5"
    );
    let params = [
        Param::from(staff),
        Param::from(after),
        Param::from(format!("%\"{staff}\"%")),
        Param::from(municipality),
        Param::Int(limit),
    ];
    Ok(db.fetch(&sql, &params).await?.iter().map(row).collect())
}

/// Records a delivery: sent as `message_id` at `at`. False when the row had moved on
/// (resent meanwhile), in which case the resend is still pending.
pub async fn mark_sent(db: &Db, notice: &OutboxRow, message_id: &str, at: DateTime<Utc>) -> Result<bool, sqlx::Error> {
    update(
        db,
        "UPDATE outbox SET status = 'sent', sent_at = $1, message_id = $2, attempts = attempts + 1, last_error = NULL \
         WHERE notice_id = $3 AND generation = $4 AND status = 'pending'",
        vec![stamp(at).into(), message_id.into(), notice.notice_id.clone().into(), Param::Int(notice.generation)],
    )
    .await
}

/// Records a failed attempt to be tried again at `next`.
pub async fn mark_retry(db: &Db, notice: &OutboxRow, error: &str, next: DateTime<Utc>) -> Result<bool, sqlx::Error> {
    update(
        db,
        "UPDATE outbox SET attempts = attempts + 1, last_error = $1, next_attempt_at = $2 \
         WHERE notice_id = $3 AND generation = $4 AND status = 'pending'",
        vec![error.into(), stamp(next).into(), notice.notice_id.clone().into(), Param::Int(notice.generation)],
    )
    .await
}

/// Records a permanent failure: the letter is not tried again unless resent on request.
pub async fn mark_failed(db: &Db, notice: &OutboxRow, error: &str) -> Result<bool, sqlx::Error> {
    update(
        db,
        "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = $1 \
         WHERE notice_id = $2 AND generation = $3 AND status = 'pending'",
        vec![error.into(), notice.notice_id.clone().into(), Param::Int(notice.generation)],
    )
    .await
}

/// Makes a letter due at once as generation `generation` (the notice stream's sequence
/// of the resend request, applied by the notices projection inside its transaction).
/// Applying the same request again (a rebuild) changes nothing.
pub async fn requeue(tx: &mut ViewTx, notice_id: &str, generation: i64) -> Result<u64, sqlx::Error> {
    tx.execute(
        "UPDATE outbox SET status = 'pending', generation = $1, attempts = 0, last_error = NULL, \
         next_attempt_at = NULL WHERE notice_id = $2 AND generation < $1",
        &[Param::Int(generation), notice_id.into()],
    )
    .await
}

async fn update(db: &Db, sql: &str, params: Vec<Param>) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    let changed = tx.execute(sql, &params).await?;
    tx.commit().await?;
    Ok(changed > 0)
}
