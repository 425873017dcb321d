//! Keeps this instance's cached aggregates fresh when other instances write to the same
//! log: commands decide on cached state, and facts for rules are read from the cache, so
//! an instance must learn when another one appended (a staff member paused elsewhere
//! must not be registered here).
//!
//! The follower tails the log's (aggregate, sequence) pairs and marks cached aggregates
//! that are behind; they catch up on next use. It reads gap-safely like the projections:
//! everything at or below the fenced high-water mark is final, and what lies above it is
//! read again on the next round (marking twice is harmless).

use std::sync::Arc;
use std::time::Duration;

use kurslogg_projections::feed::high_water_mark;
use kurslogg_projections::Param;

use super::Kurslogg;

impl Kurslogg {
    /// Follows the log every `every` until the task is dropped.
    pub async fn follow_log(self: Arc<Self>, every: Duration) {
        let mut final_up_to = high_water_mark(&self.log.views()).await.unwrap_or(0);
        loop {
            tokio::time::sleep(every).await;
            match self.follow_once(final_up_to).await {
                Ok(mark) => final_up_to = mark,
                Err(e) => tracing::warn!(error = %e, "could not follow the log; caches may lag"),
            }
        }
    }

    /// Marks every cached aggregate with events after position `after`; returns the
    /// position up to which the log has been followed for good (pass it next time).
    pub async fn follow_once(&self, after: i64) -> Result<i64, sqlx::Error> {
        let db = &self.log.views();
        let mark = high_water_mark(db).await?;
        let position = db.log_position();
        let sql = format!(
            "SELECT aggregate_type, aggregate_id, max(sequence) FROM events WHERE {position} > $1 \
             GROUP BY aggregate_type, aggregate_id"
        );
        for row in db.fetch(&sql, &[Param::Int(after)]).await? {
            let (id, sequence) = (row.text(1), usize::try_from(row.int(2)).unwrap_or(0));
            match row.text(0).as_str() {
                "course" => self.courses.appended(&id, sequence),
                "package" => self.packages.appended(&id, sequence),
                "offering" => self.offerings.appended(&id, sequence),
                "municipality" => self.municipalities.appended(&id, sequence),
                "staff" => self.staff.appended(&id, sequence),
                "competence_plan" => self.plans.appended(&id, sequence),
                _ => {}
            }
        }
        // The mark was read before the rows: everything up to it was in that read.
        Ok(mark.max(after))
    }
}
