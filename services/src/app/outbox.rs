//! The outbox as the course office and auditors read it: a page of letters with their
//! status, attempts and the reason of a failure, and one letter. The API's `/outbox`
//! and the course office's pages (`/kansli/brev`) both read through here.

use std::collections::HashMap;

use kurslogg_domain::StaffId;
use kurslogg_projections::outbox::{self, Filter, OutboxRow};

use super::{Actor, AppError, Kurslogg};
use crate::store::StoreError;

/// A page of the outbox, oldest first.
#[derive(Debug)]
pub struct OutboxRows {
    /// The letters.
    pub rows: Vec<OutboxRow>,
    /// The id to continue after; `None` on the last page.
    pub next_after: Option<String>,
}

/// Where a page of the outbox starts.
#[derive(Debug, Clone, Copy)]
pub struct OutboxPaging<'a> {
    /// The last letter of the page before.
    pub after: Option<&'a str>,
    /// Letters per page.
    pub limit: i64,
    /// Only letters to this recipient may be `after`: another's is no such letter.
    pub recipient: Option<&'a str>,
}

/// Why a page of the outbox could not be read as asked.
#[derive(Debug)]
pub enum OutboxRefusal {
    /// `after` names no letter (of the recipient asked for).
    UnknownAfter,
    /// The views could not be read.
    App(AppError),
}

impl From<sqlx::Error> for OutboxRefusal {
    fn from(e: sqlx::Error) -> Self {
        OutboxRefusal::App(AppError::Store(StoreError::Database(e)))
    }
}

impl Kurslogg {
    /// A page of the letters `filter` picks, for the course office and auditors.
    pub async fn outbox(
        &self,
        actor: &Actor,
        filter: Filter,
        paging: OutboxPaging<'_>,
    ) -> Result<OutboxRows, OutboxRefusal> {
        self.ensure_sees_everything(actor, "läsa utkorgen").map_err(OutboxRefusal::App)?;
        self.outbox_rows(filter, paging).await
    }

    /// A page of the letters `filter` picks, whoever asks (the caller checked access).
    pub async fn outbox_rows(&self, mut filter: Filter, paging: OutboxPaging<'_>) -> Result<OutboxRows, OutboxRefusal> {
        let db = self.log.views();
        if let Some(id) = paging.after {
            let notice = outbox::get(&db, id).await?;
            let notice = notice.filter(|n| paging.recipient.is_none_or(|r| r == n.recipient));
            let notice = notice.ok_or(OutboxRefusal::UnknownAfter)?;
            filter.after = Some((notice.created_at, notice.notice_id));
        }
        let limit = paging.limit.max(1);
        let mut rows = outbox::list(&db, &filter, limit + 1).await?;
        let more = rows.len() as i64 > limit;
        rows.truncate(usize::try_from(limit).unwrap_or(0));
        let next_after = more.then(|| rows.last().map(|r| r.notice_id.clone())).flatten();
        Ok(OutboxRows { rows, next_after })
    }

    /// One letter of the outbox, for the course office and auditors.
    pub async fn outbox_letter(&self, actor: &Actor, notice_id: &str) -> Result<OutboxRow, AppError> {
        self.ensure_sees_everything(actor, "läsa utkorgen")?;
        outbox::get(&self.log.views(), notice_id)
            .await
            .map_err(|e| AppError::Store(StoreError::Database(e)))?
            .ok_or_else(|| AppError::not_found("notice"))
    }

    /// The names of the recipients of `rows`, by staff id as the outbox keeps it (the
    /// erased and the unknown are left out).
    pub async fn recipient_names(&self, rows: &[OutboxRow]) -> Result<HashMap<String, String>, AppError> {
        let ids: Vec<StaffId> = rows.iter().filter_map(|r| r.recipient.parse().ok()).collect();
        Ok(self.staff_names(&ids).await?.into_iter().map(|(id, name)| (id.to_string(), name)).collect())
    }
}

impl Kurslogg {
    /// Waits (up to 5 s) until the outbox includes what the event at `position` asked of
    /// it (a resend request): a page after a resend shows the letter pending again.
    pub async fn wait_for_outbox(&self, position: i64) -> Result<(), AppError> {
        let limit = std::time::Duration::from_secs(5);
        if crate::views::wait_for(&self.log.views(), kurslogg_projections::notices::Notices, position, limit).await? {
            Ok(())
        } else {
            Err(AppError::ViewsBehind(position))
        }
    }
}

impl Kurslogg {
    /// One letter of the outbox written out, for the course office and auditors: its
    /// recipient and the people it names are read, and each read is in the security log.
    pub async fn outbox_letter_read(
        &self,
        actor: &Actor,
        origin: &crate::auth::Origin,
        notice_id: &str,
    ) -> Result<super::ReadLetter, AppError> {
        let notice = self.outbox_letter(actor, notice_id).await?;
        let written = self.written_letter(&notice).await?;
        let mut named: Vec<StaffId> = notice.staff().iter().filter_map(|s| s.parse().ok()).collect();
        named.extend(notice.recipient.parse::<StaffId>().ok());
        named.sort();
        named.dedup();
        self.note_people_read(actor, origin, &named, "letter in the outbox").await?;
        Ok(super::ReadLetter { notice, written })
    }
}
