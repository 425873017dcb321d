//! Who may see what (issue 6). Writes check their rule where they run (`writes.rs`);
//! reads ask here first. The rules, as DOMAIN.md and the issue give them:
//!
//! - the **course office** and **auditors** see everything (auditors only read);
//! - a **coordinator** sees their own municipality's staff, registrations and costs;
//! - a **supervisor** sees the staff who name them as supervisor (and themselves);
//! - a **trainer** sees the rosters of the offerings assigned to them;
//! - a **participant** sees their own record;
//! - the letters sent to a person are read by that person (whatever their role), the
//!   course office and auditors only.
//!
//! A person outside the reader's reach is answered "not found", never "forbidden", so
//! that whether someone exists does not leak across municipalities. A whole kind of read
//! the role never has (a participant asking for the audit trail) is "forbidden".

use std::collections::HashSet;

use kurslogg_domain::{MunicipalityId, OfferingId, StaffId};

use super::{Actor, AppError, Kurslogg, Role};
use crate::auth::{Event, Origin};

/// Whose people a reader may see in a list of many (a roster, cost lines).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// Everyone.
    Everyone,
    /// People of this municipality.
    Municipality(MunicipalityId),
    /// People supervised by this staff member.
    SupervisedBy(StaffId),
}

/// `what` is said in Swedish, as "får inte …" continues it ("läsa utkorgen").
fn forbidden(actor: &Actor, what: &str) -> AppError {
    AppError::Forbidden(kurslogg_domain::swedish::may_not(actor.role.in_swedish(), what))
}

impl Kurslogg {
    /// Only these roles (plus the system) may do `what`.
    pub fn ensure_role(&self, actor: &Actor, roles: &[Role], what: &str) -> Result<(), AppError> {
        if actor.role == Role::System || roles.contains(&actor.role) {
            Ok(())
        } else {
            Err(forbidden(actor, what))
        }
    }

    /// Reads of everything (the audit trail, the outbox): the course office and auditors.
    pub fn ensure_sees_everything(&self, actor: &Actor, what: &str) -> Result<(), AppError> {
        if actor.sees_everything() {
            Ok(())
        } else {
            Err(forbidden(actor, what))
        }
    }

    /// A municipality's own pages (its role holders, its costs): the course office,
    /// auditors and its coordinators.
    pub fn ensure_may_see_municipality(&self, actor: &Actor, municipality: &MunicipalityId) -> Result<(), AppError> {
        if actor.sees_everything() {
            return Ok(());
        }
        if actor.role == Role::Coordinator {
            if actor.municipality.as_ref() == Some(municipality) {
                return Ok(());
            }
            return Err(AppError::Forbidden(kurslogg_domain::swedish::coordinator_of_only(municipality.as_str())));
        }
        Err(forbidden(actor, "läsa en kommuns sidor"))
    }

    /// Whose people `actor` may see in lists, or forbidden for a role that sees none.
    pub fn reach(&self, actor: &Actor, what: &str) -> Result<Reach, AppError> {
        match (actor.role, &actor.municipality, actor.staff) {
            _ if actor.sees_everything() => Ok(Reach::Everyone),
            (Role::Coordinator, Some(m), _) => Ok(Reach::Municipality(m.clone())),
            (Role::Supervisor, _, Some(s)) => Ok(Reach::SupervisedBy(s)),
            _ => Err(forbidden(actor, what)),
        }
    }

    /// A staff member's details, registrations, record and calendar: the course office,
    /// auditors, their municipality's coordinators, their supervisor and themselves.
    /// Anyone else is told there is no such person.
    pub async fn ensure_may_see_staff(&self, actor: &Actor, staff: StaffId) -> Result<(), AppError> {
        if actor.sees_everything() {
            return Ok(());
        }
        if actor.staff == Some(staff) {
            return Ok(());
        }
        let facts = self
            .staff
            .inspect(&staff.to_string(), |m| (m.municipality.clone(), m.profile.as_ref().and_then(|p| p.supervisor)))
            .await?;
        let allowed = match (actor.role, facts) {
            (Role::Coordinator, Some((municipality, _))) => {
                municipality.is_some() && municipality == actor.municipality
            }
            (Role::Supervisor, Some((_, supervisor))) => supervisor.is_some() && supervisor == actor.staff,
            _ => false,
        };
        if allowed {
            Ok(())
        } else {
            Err(AppError::not_found("staff member"))
        }
    }

    /// A supervisor's overview: the course office, auditors, the supervisor themselves
    /// and their municipality's coordinators.
    pub async fn ensure_may_see_supervised(&self, actor: &Actor, supervisor: StaffId) -> Result<(), AppError> {
        if actor.role == Role::Supervisor && actor.staff != Some(supervisor) {
            return Err(AppError::not_found("staff member"));
        }
        if actor.role == Role::Participant {
            return Err(forbidden(actor, "läsa en arbetsledares översikt"));
        }
        self.ensure_may_see_staff(actor, supervisor).await
    }

    /// The letters sent to a staff member (`GET /staff/{id}/letters`): the person
    /// themselves, the course office and auditors. Narrower than
    /// [`ensure_may_see_staff`](Self::ensure_may_see_staff) on purpose: a letter says
    /// more than its recipient's record (a supervisor's summary names their staff and
    /// how each did; a receipt names the municipality's people), so it is read by whom
    /// it was written to and by those who answer for the outbox, not by everyone who may
    /// see the recipient. Anyone else, the recipient's coordinator and supervisor
    /// included, and anyone asking about a person that does not exist, is told there is
    /// no such staff member.
    pub async fn ensure_may_read_letters_to(&self, actor: &Actor, staff: StaffId) -> Result<(), AppError> {
        if !actor.sees_everything() && actor.staff != Some(staff) {
            return Err(AppError::not_found("staff member"));
        }
        if self.staff.inspect(&staff.to_string(), |_| ()).await?.is_none() {
            return Err(AppError::not_found("staff member"));
        }
        Ok(())
    }

    /// Whether `actor` is a trainer assigned to `offering`.
    pub async fn teaches(&self, actor: &Actor, offering: OfferingId) -> Result<bool, AppError> {
        if actor.role != Role::Trainer {
            return Ok(false);
        }
        Ok(self.offerings.inspect(&offering.to_string(), |o| o.trainers.contains(&actor.id)).await?.unwrap_or(false))
    }

    /// Whose people `actor` may see on an offering's roster: everyone for the course
    /// office, auditors and its trainers; a coordinator's municipality; a supervisor's staff.
    pub async fn roster_reach(&self, actor: &Actor, offering: OfferingId) -> Result<Reach, AppError> {
        if self.teaches(actor, offering).await? {
            return Ok(Reach::Everyone);
        }
        if actor.role == Role::Trainer {
            return Err(AppError::Forbidden(kurslogg_domain::swedish::TRAINERS_OWN_ROSTERS.into()));
        }
        self.reach(actor, "läsa deltagarlistor")
    }
}

impl Kurslogg {
    /// The staff ids among `people` (staff id, municipality) within `reach`. A
    /// supervisor's reach follows who names them as supervisor now.
    pub async fn within_reach(&self, reach: &Reach, people: &[(&str, &str)]) -> Result<HashSet<String>, AppError> {
        let mut kept = HashSet::new();
        for &(staff, municipality) in people {
            let within = match reach {
                Reach::SupervisedBy(supervisor) => {
                    let current = self.staff.inspect(staff, |m| m.profile.as_ref().and_then(|p| p.supervisor)).await?;
                    current.flatten() == Some(*supervisor)
                }
                Reach::Municipality(m) => m.as_str() == municipality,
                Reach::Everyone => true,
            };
            if within {
                kept.insert(staff.to_string());
            }
        }
        Ok(kept)
    }

    /// Records in the security log that `actor` read `staff`'s record (`what`: which page).
    pub async fn note_person_read(
        &self,
        actor: &Actor,
        origin: &Origin,
        staff: StaffId,
        what: &str,
    ) -> Result<(), AppError> {
        self.note_people_read(actor, origin, &[staff], what).await
    }

    /// [`Self::note_person_read`] for several people read in one request: one line each,
    /// written together.
    pub async fn note_people_read(
        &self,
        actor: &Actor,
        origin: &Origin,
        staff: &[StaffId],
        what: &str,
    ) -> Result<(), AppError> {
        let ids: Vec<String> = staff.iter().map(ToString::to_string).collect();
        let events = ids
            .iter()
            .map(|id| Event {
                kind: "person_read",
                actor_id: Some(&actor.id),
                staff_id: Some(id),
                detail: what.to_string(),
                ..Event::default()
            })
            .collect();
        Ok(self.auth.record_all(origin, events).await?)
    }
}
