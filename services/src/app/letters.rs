//! A person's own letters, written out as they were sent (a supervisor's after-course
//! summaries, a coordinator's receipts, a participant's promotions), for the person
//! themselves, the course office and auditors. Each read is in the security log, and so
//! is every other person a letter names (a summary names its participants).

use std::collections::BTreeSet;

use kurslogg_domain::StaffId;
use kurslogg_projections::outbox::{self, Filter, OutboxRow};

use super::{Actor, AppError, Kurslogg};
use crate::auth::Origin;
use crate::mail::letters::Rendered;
use crate::store::StoreError;

/// A letter with what it says, or why it can no longer be written out (its person was
/// erased, say).
#[derive(Debug)]
pub struct ReadLetter {
    /// The letter as the outbox keeps it: kind, when, status.
    pub notice: OutboxRow,
    /// Subject, HTML and text, as sent.
    pub written: Result<Rendered, String>,
}

impl Kurslogg {
    /// The newest `limit` letters to `staff` of `kind` (or of every kind), newest first.
    pub async fn letters_to(
        &self,
        actor: &Actor,
        origin: &Origin,
        staff: StaffId,
        kind: Option<&str>,
        limit: i64,
    ) -> Result<Vec<ReadLetter>, AppError> {
        self.ensure_may_read_letters_to(actor, staff).await?;
        let filter = Filter { kind: kind.map(str::to_string), recipient: Some(staff.to_string()), ..Filter::default() };
        let mut rows = outbox::list(&self.log.views(), &filter, 100_000)
            .await
            .map_err(|e| AppError::Store(StoreError::Database(e)))?;
        rows.reverse();
        rows.truncate(limit.max(0) as usize);
        self.written_out(actor, origin, staff, rows).await
    }

    /// One letter to `staff`, if there is one with that id.
    pub async fn letter_to(
        &self,
        actor: &Actor,
        origin: &Origin,
        staff: StaffId,
        notice_id: &str,
    ) -> Result<ReadLetter, AppError> {
        self.ensure_may_read_letters_to(actor, staff).await?;
        let notice = outbox::get(&self.log.views(), notice_id)
            .await
            .map_err(|e| AppError::Store(StoreError::Database(e)))?
            .filter(|n| n.recipient == staff.to_string())
            .ok_or_else(|| AppError::not_found("letter"))?;
        let mut letters = self.written_out(actor, origin, staff, vec![notice]).await?;
        letters.pop().ok_or_else(|| AppError::not_found("letter"))
    }

    async fn written_out(
        &self,
        actor: &Actor,
        origin: &Origin,
        staff: StaffId,
        rows: Vec<OutboxRow>,
    ) -> Result<Vec<ReadLetter>, AppError> {
        let mut named = BTreeSet::new();
        let mut letters = Vec::with_capacity(rows.len());
        for notice in rows {
            named.extend(notice.staff().iter().filter_map(|s| s.parse::<StaffId>().ok()).filter(|s| *s != staff));
            let written = self.written_letter(&notice).await?;
            letters.push(ReadLetter { notice, written });
        }
        self.note_person_read(actor, origin, staff, "letters").await?;
        let named: Vec<StaffId> = named.into_iter().collect();
        self.note_people_read(actor, origin, &named, "letters to another person").await?;
        Ok(letters)
    }
}
