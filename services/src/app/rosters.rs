//! An offering's roster as a reader may see it: everyone for the course office, auditors
//! and the offering's trainers; a coordinator's own municipality; a supervisor's own
//! staff. Those who record attendance (its trainers, the course office) also read back
//! the notes kept with it, each read in the security log.

use std::collections::HashMap;

use kurslogg_domain::{OfferingId, StaffId};
use kurslogg_projections::history::{self, Scope};
use kurslogg_projections::views::roster::{self, RosterView};

use super::lists::ViewAt;
use super::{Actor, AppError, Kurslogg};
use crate::auth::Origin;

impl Kurslogg {
    /// The roster of `offering` within `actor`'s reach, as the views stand at `at`.
    pub async fn roster_seen(
        &self,
        actor: &Actor,
        origin: &Origin,
        offering: OfferingId,
        at: ViewAt,
    ) -> Result<RosterView, AppError> {
        let reach = self.roster_reach(actor, offering).await?;
        let db = match at {
            ViewAt::AsOf(as_of) => {
                history::views_as_of(&self.log.views(), as_of, &Scope::Offering(offering.to_string())).await?
            }
            other => self.views_at(other).await?.0,
        };
        let mut roster =
            roster::roster(&db, &offering.to_string()).await?.ok_or_else(|| AppError::not_found("course offering"))?;
        let people = roster.entries.iter().map(|e| (e.staff_id.as_str(), e.municipality.as_str())).collect::<Vec<_>>();
        let kept = self.within_reach(&reach, &people).await?;
        roster.entries.retain(|e| kept.contains(&e.staff_id));
        if actor.is_course_office() || self.teaches(actor, offering).await? {
            self.with_attendance_notes(actor, origin, offering, &mut roster).await?;
        }
        Ok(roster)
    }

    /// Puts the notes kept with attendance into `roster`, per person and session, for
    /// those who record attendance (the offering's trainers, the course office).
    pub async fn with_attendance_notes(
        &self,
        actor: &Actor,
        origin: &Origin,
        offering: OfferingId,
        roster: &mut RosterView,
    ) -> Result<(), AppError> {
        let people: Vec<StaffId> = roster.entries.iter().filter_map(|e| e.staff_id.parse().ok()).collect();
        let notes = self.attendance_notes(offering, &people).await?;
        let sessions = roster.sessions.len();
        for entry in &mut roster.entries {
            entry.notes = vec![None; sessions];
            let Some(theirs) = entry.staff_id.parse().ok().and_then(|id: StaffId| notes.get(&id)) else { continue };
            for (session, note) in theirs {
                if let Some(slot) = entry.notes.get_mut(*session) {
                    *slot = Some(note.clone());
                }
            }
        }
        let read: Vec<StaffId> = notes.keys().copied().collect();
        if !read.is_empty() {
            self.note_people_read(actor, origin, &read, "attendance notes").await?;
        }
        Ok(())
    }

    /// The names of the people on `roster`, by staff id (the erased have none).
    pub async fn roster_names(&self, roster: &RosterView) -> Result<HashMap<String, String>, AppError> {
        let ids: Vec<StaffId> = roster.entries.iter().filter_map(|e| e.staff_id.parse().ok()).collect();
        Ok(self.staff_names(&ids).await?.into_iter().map(|(id, name)| (id.to_string(), name)).collect())
    }
}
