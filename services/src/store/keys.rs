//! The personal keys (docs/decisions/0007): one per staff member, in `personal_keys`
//! beside the log. Created before the event that first needs it, so the append stays
//! the command's one atomic write; deleted to erase the person.

use std::collections::HashMap;

use kurslogg_domain::StaffId;
use sqlx::Row;

use super::log::{EventLog, Pools};
use super::StoreError;
use crate::personal::PersonalKey;

/// Staff whose log records an erasure while their key is still there: an erasure whose
/// process stopped between appending the event and deleting the key.
const KEYS_OF_THE_ERASED: &str = "SELECT k.staff_id FROM personal_keys k WHERE EXISTS \
     (SELECT 1 FROM events e WHERE e.aggregate_type = 'staff' AND e.aggregate_id = k.staff_id \
      AND e.event_type = 'StaffMemberErased')";

fn stored_key(staff: StaffId, bytes: &[u8]) -> Result<PersonalKey, StoreError> {
    PersonalKey::from_bytes(bytes).ok_or_else(|| StoreError::Corrupt(format!("the personal key of {staff} is damaged")))
}

impl EventLog {
    /// The key of `staff`, created first if they have none. Concurrent callers get the
    /// same key: the first insert wins and everyone reads what it wrote.
    pub async fn ensure_personal_key(&self, staff: StaffId) -> Result<PersonalKey, StoreError> {
        let candidate = PersonalKey::generate();
        let id = staff.to_string();
        // A new member's key is written and that is all; only a key already there is read.
        let insert = "INSERT INTO personal_keys (staff_id, key) VALUES ($1, $2) ON CONFLICT (staff_id) DO NOTHING \
                      RETURNING staff_id";
        let inserted = match &self.pools {
            Pools::Postgres(pool) => {
                sqlx::query(insert).bind(&id).bind(candidate.as_bytes()).fetch_optional(pool).await?.is_some()
            }
            Pools::Sqlite { write, .. } => {
                sqlx::query(insert).bind(&id).bind(candidate.as_bytes()).fetch_optional(write).await?.is_some()
            }
        };
        if inserted {
            return Ok(candidate);
        }
        self.personal_key(staff).await?.ok_or_else(|| {
            StoreError::Corrupt(format!("the personal key of {staff} vanished as it was written (erased meanwhile?)"))
        })
    }

    /// The key of `staff`; `None` once they are erased (or if they never had one).
    pub async fn personal_key(&self, staff: StaffId) -> Result<Option<PersonalKey>, StoreError> {
        let id = staff.to_string();
        let row = match &self.pools {
            Pools::Postgres(pool) => sqlx::query("SELECT key FROM personal_keys WHERE staff_id = $1")
                .bind(&id)
                .fetch_optional(pool)
                .await?
                .map(|r| r.get::<Vec<u8>, _>(0)),
            // A reader sees every commit made before its query starts (WAL): a key
            // written or deleted a moment ago is seen as it is now.
            Pools::Sqlite { read, .. } => sqlx::query("SELECT key FROM personal_keys WHERE staff_id = ?")
                .bind(&id)
                .fetch_optional(read)
                .await?
                .map(|r| r.get::<Vec<u8>, _>(0)),
        };
        row.map(|bytes| stored_key(staff, &bytes)).transpose()
    }

    /// The keys of `staff` that exist, in one query.
    pub async fn personal_keys(&self, staff: &[StaffId]) -> Result<HashMap<StaffId, PersonalKey>, StoreError> {
        if staff.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<String> = staff.iter().map(ToString::to_string).collect();
        let rows: Vec<(String, Vec<u8>)> = match &self.pools {
            Pools::Postgres(pool) => sqlx::query("SELECT staff_id, key FROM personal_keys WHERE staff_id = ANY($1)")
                .bind(&ids)
                .fetch_all(pool)
                .await?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect(),
            Pools::Sqlite { read, .. } => {
                // SQLite has no arrays: a JSON array of the ids serves as one.
                let ids = serde_json::to_string(&ids).expect("strings serialise");
                sqlx::query(
                    "SELECT staff_id, key FROM personal_keys WHERE staff_id IN (SELECT value FROM json_each(?))",
                )
                .bind(ids)
                .fetch_all(read)
                .await?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect()
            }
        };
        let mut keys = HashMap::with_capacity(rows.len());
        for (id, bytes) in rows {
            let Ok(staff) = id.parse::<StaffId>() else { continue };
            keys.insert(staff, stored_key(staff, &bytes)?);
        }
        Ok(keys)
    }

    /// Deletes the key of `staff` (their sealed data can never be opened again) and, in
    /// the same transaction, asks the dispatcher to delete the files of letters they were
    /// sent. True if there was a key.
    pub async fn destroy_personal_key(&self, staff: StaffId) -> Result<bool, StoreError> {
        let id = staff.to_string();
        let deleted = match &self.pools {
            Pools::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                let deleted =
                    sqlx::query("DELETE FROM personal_keys WHERE staff_id = $1").bind(&id).execute(&mut *tx).await?;
                sqlx::query("INSERT INTO letter_files_to_delete (staff_id) VALUES ($1) ON CONFLICT DO NOTHING")
                    .bind(&id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                deleted.rows_affected()
            }
            Pools::Sqlite { write, .. } => {
                let mut tx = write.begin().await?;
                let deleted =
                    sqlx::query("DELETE FROM personal_keys WHERE staff_id = ?").bind(&id).execute(&mut *tx).await?;
                sqlx::query("INSERT INTO letter_files_to_delete (staff_id) VALUES (?) ON CONFLICT DO NOTHING")
                    .bind(&id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                deleted.rows_affected()
            }
        };
        Ok(deleted > 0)
    }

    /// Staff erased in the log whose key is still there (see [`KEYS_OF_THE_ERASED`]).
    pub async fn keys_left_by_erasures(&self) -> Result<Vec<StaffId>, StoreError> {
        let ids: Vec<String> = match &self.pools {
            Pools::Postgres(pool) => sqlx::query_scalar(KEYS_OF_THE_ERASED).fetch_all(pool).await?,
            Pools::Sqlite { read, .. } => sqlx::query_scalar(KEYS_OF_THE_ERASED).fetch_all(read).await?,
        };
        Ok(ids.iter().filter_map(|id| id.parse().ok()).collect())
    }

    /// Erased staff whose letter files are still to be deleted, at most `limit`.
    pub async fn letter_files_to_delete(&self, limit: i64) -> Result<Vec<String>, StoreError> {
        Ok(match &self.pools {
            Pools::Postgres(pool) => {
                sqlx::query_scalar("SELECT staff_id FROM letter_files_to_delete ORDER BY staff_id LIMIT $1")
                    .bind(limit)
                    .fetch_all(pool)
                    .await?
            }
            Pools::Sqlite { read, .. } => {
                sqlx::query_scalar("SELECT staff_id FROM letter_files_to_delete ORDER BY staff_id LIMIT ?")
                    .bind(limit)
                    .fetch_all(read)
                    .await?
            }
        })
    }

    /// Records that the letter files of `staff` are deleted.
    pub async fn letter_files_deleted(&self, staff: &str) -> Result<(), StoreError> {
        match &self.pools {
            Pools::Postgres(pool) => {
                sqlx::query("DELETE FROM letter_files_to_delete WHERE staff_id = $1").bind(staff).execute(pool).await?;
            }
            Pools::Sqlite { write, .. } => {
                sqlx::query("DELETE FROM letter_files_to_delete WHERE staff_id = ?").bind(staff).execute(write).await?;
            }
        }
        Ok(())
    }
}
