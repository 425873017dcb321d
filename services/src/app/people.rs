//! Reading about one person, as the pages and the API do it: who may, the read itself,
//! and the line in the security log that every read of a person's data leaves
//! (docs/decisions/0008).

use kurslogg_domain::StaffId;
use kurslogg_projections::history::{self, Scope};
use kurslogg_projections::views::participant::{self, ParticipantRecord};

use super::lists::ViewAt;
use super::{Actor, AppError, Kurslogg, StaffView};
use crate::auth::Origin;

impl Kurslogg {
    /// A staff member's details, for those who may see them; the read is logged.
    pub async fn staff_member_seen(
        &self,
        actor: &Actor,
        origin: &Origin,
        staff: StaffId,
    ) -> Result<StaffView, AppError> {
        self.ensure_may_see_staff(actor, staff).await?;
        let view = self.staff_member(staff).await?;
        self.note_person_read(actor, origin, staff, "staff member").await?;
        Ok(view)
    }

    /// A staff member's record (every offering, hours attended, completion, certificates),
    /// with their name, for those who may see it; the read is logged.
    pub async fn participant_record_seen(
        &self,
        actor: &Actor,
        origin: &Origin,
        staff: StaffId,
        at: ViewAt,
    ) -> Result<ParticipantRecord, AppError> {
        self.ensure_may_see_staff(actor, staff).await?;
        let db = match at {
            ViewAt::AsOf(as_of) => {
                history::views_as_of(&self.log.views(), as_of, &Scope::Staff(staff.to_string())).await?
            }
            other => self.views_at(other).await?.0,
        };
        let mut record = participant::participant_record(&db, &staff.to_string())
            .await?
            .ok_or_else(|| AppError::not_found("staff member"))?;
        record.name = self.staff_names(&[staff]).await?.remove(&staff);
        self.note_person_read(actor, origin, staff, "record").await?;
        Ok(record)
    }
}
