//! A staff member of a municipality. This is the only stream that holds personal data
//! (name, work e-mail, attendance notes): every other aggregate refers to the person by
//! id, so erasing a person touches only this stream.
//!
//! Even here the personal data is never in plain text: callers give a [`StaffProfile`]
//! and a [`StaffCommand`] in plain text, and the services layer seals the personal
//! fields with the person's own key ([`Sealed`]) before the aggregate sees them, as a
//! [`SealedStaffCommand`]. Erasure ([`StaffEvent::StaffMemberErased`]) is recorded here;
//! destroying the key is the services layer's, right after.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::{
    Clock, ExperienceBand, MunicipalityId, OfferingId, PersonName, Refusal, RefusalKind, Sealed, StaffGroup, StaffId,
    Text, WorkEmail,
};

/// Whether a staff member can be registered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StaffStatus {
    /// Can be registered.
    #[default]
    Active,
    /// Takes no new registrations (e.g. on leave).
    Paused,
    /// Has left; history is kept.
    Removed,
    /// Their personal data has been erased; history is kept, by id only. Final.
    Erased,
}

/// What the work needs to know about a staff member (DOMAIN.md: nothing more), as a
/// caller gives it: name and e-mail in plain text. It never reaches the log like this;
/// see [`SealedProfile`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffProfile {
    /// Full name.
    pub name: PersonName,
    /// Work e-mail.
    pub work_email: WorkEmail,
    /// Unit (enhet).
    pub unit: Text,
    /// Their supervisor, a staff member of the same municipality.
    pub supervisor: Option<StaffId>,
    /// Staff group.
    pub staff_group: StaffGroup,
    /// Experience band.
    pub experience_band: ExperienceBand,
    /// Holds a social-work degree (socionomexamen).
    pub social_work_degree: bool,
}

impl StaffProfile {
    /// The profile as the log keeps it, with the sealed forms of its name and e-mail.
    pub fn sealed(self, name: Sealed, work_email: Sealed) -> SealedProfile {
        SealedProfile {
            name,
            work_email,
            unit: self.unit,
            supervisor: self.supervisor,
            staff_group: self.staff_group,
            experience_band: self.experience_band,
            social_work_degree: self.social_work_degree,
        }
    }
}

/// A [`StaffProfile`] with the personal fields sealed: what commands, events and the
/// aggregate's state hold. The other fields are what statistics count (unit, group,
/// band, degree) and stay readable after erasure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedProfile {
    /// Full name, sealed.
    pub name: Sealed,
    /// Work e-mail, sealed.
    pub work_email: Sealed,
    /// Unit (enhet).
    pub unit: Text,
    /// Their supervisor, a staff member of the same municipality.
    pub supervisor: Option<StaffId>,
    /// Staff group.
    pub staff_group: StaffGroup,
    /// Experience band.
    pub experience_band: ExperienceBand,
    /// Holds a social-work degree (socionomexamen).
    pub social_work_degree: bool,
}

/// What callers ask of a staff member, with personal data in plain text. The services
/// layer turns it into the aggregate's [`SealedStaffCommand`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum StaffCommand {
    /// Add a staff member to a municipality.
    AddStaffMember {
        /// The new id.
        id: StaffId,
        /// Their municipality.
        municipality: MunicipalityId,
        /// Their details.
        profile: StaffProfile,
    },
    /// Update their details.
    UpdateStaffMember {
        /// The details in full.
        profile: StaffProfile,
    },
    /// No new registrations for now.
    PauseStaffMember,
    /// Registrations allowed again.
    ResumeStaffMember,
    /// They left; history is kept.
    RemoveStaffMember,
    /// A note on their attendance at a session (personal data, so kept here).
    NoteAttendance {
        /// The offering.
        offering: OfferingId,
        /// The session, from 0.
        session: usize,
        /// The note.
        note: Text,
    },
}

/// Commands on a staff member, as the aggregate takes them: personal data sealed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum SealedStaffCommand {
    /// Add a staff member to a municipality.
    AddStaffMember {
        /// The new id.
        id: StaffId,
        /// Their municipality.
        municipality: MunicipalityId,
        /// Their details.
        profile: SealedProfile,
    },
    /// Update their details.
    UpdateStaffMember {
        /// The details in full.
        profile: SealedProfile,
    },
    /// No new registrations for now.
    PauseStaffMember,
    /// Registrations allowed again.
    ResumeStaffMember,
    /// They left; history is kept.
    RemoveStaffMember,
    /// A note on their attendance at a session.
    NoteAttendance {
        /// The offering.
        offering: OfferingId,
        /// The session, from 0.
        session: usize,
        /// The note, sealed.
        note: Sealed,
    },
    /// Erase their personal data on request (or when retention ends): recorded here,
    /// after which the services layer destroys their key. Nothing is done to them after.
    EraseStaffMember {
        /// Why; kept in the log after erasure, so it must not identify the person.
        reason: Text,
    },
}

/// Events of a staff member.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum StaffEvent {
    /// A staff member was added.
    StaffMemberAdded {
        /// Their id.
        id: StaffId,
        /// Their municipality.
        municipality: MunicipalityId,
        /// Their details.
        profile: SealedProfile,
    },
    /// Their details changed.
    StaffMemberUpdated {
        /// The details in full.
        profile: SealedProfile,
    },
    /// Paused.
    StaffMemberPaused,
    /// Resumed.
    StaffMemberResumed,
    /// Removed (they left).
    StaffMemberRemoved {
        /// When, by the service's clock: retention counts from here.
        at: DateTime<Utc>,
    },
    /// A note on attendance.
    AttendanceNoted {
        /// The offering.
        offering: OfferingId,
        /// The session.
        session: usize,
        /// The note, sealed.
        note: Sealed,
    },
    /// Their personal data was erased: the key that opens every [`Sealed`] of theirs is
    /// destroyed. Registrations, attendance and certificates stay, by id.
    StaffMemberErased {
        /// Why (no personal data).
        reason: Text,
    },
}

impl DomainEvent for StaffEvent {
    fn event_type(&self) -> String {
        match self {
            Self::StaffMemberAdded { .. } => "StaffMemberAdded",
            Self::StaffMemberUpdated { .. } => "StaffMemberUpdated",
            Self::StaffMemberPaused => "StaffMemberPaused",
            Self::StaffMemberResumed => "StaffMemberResumed",
            Self::StaffMemberRemoved { .. } => "StaffMemberRemoved",
            Self::AttendanceNoted { .. } => "AttendanceNoted",
            Self::StaffMemberErased { .. } => "StaffMemberErased",
        }
        .to_string()
    }

    /// Version 2: name, e-mail and notes sealed, removal with its time, erasure
    /// (docs/decisions/0007). Version 1 (plain text) was never deployed and is not read.
    fn event_version(&self) -> String {
        "2".to_string()
    }
}

/// Refusals of staff commands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StaffError {
    /// No such staff member.
    #[error("no such staff member")]
    NotFound,
    /// The id is taken.
    #[error("a staff member with this id already exists")]
    AlreadyExists,
    /// Removed staff stay removed.
    #[error("the staff member has been removed")]
    Removed,
    /// Erased staff take no commands at all: there is nothing left to act on.
    #[error("the staff member's personal data has been erased; nothing more can be done with them")]
    Erased,
    /// Nobody supervises themselves.
    #[error("a staff member cannot be their own supervisor")]
    OwnSupervisor,
}

impl Refusal for StaffError {
    fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::AlreadyExists => "already_exists",
            Self::Removed => "staff_removed",
            Self::Erased => "staff_erased",
            Self::OwnSupervisor => "validation",
        }
    }

    fn swedish(&self) -> String {
        crate::swedish::staff(self)
    }

    fn kind(&self) -> RefusalKind {
        match self {
            Self::NotFound => RefusalKind::NotFound,
            Self::AlreadyExists | Self::Removed | Self::Erased => RefusalKind::Conflict,
            Self::OwnSupervisor => RefusalKind::Rule,
        }
    }
}

/// A staff member.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StaffMember {
    /// Their id.
    pub id: StaffId,
    /// Their municipality (None until added).
    pub municipality: Option<MunicipalityId>,
    /// Their details, personal fields sealed.
    pub profile: Option<SealedProfile>,
    /// Active, paused, removed or erased.
    pub status: StaffStatus,
    /// The notes on their attendance, sealed: the latest per offering and session.
    #[serde(default)]
    pub notes: Vec<AttendanceNote>,
}

/// A note on a staff member's attendance at one session, sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttendanceNote {
    /// The offering.
    pub offering: OfferingId,
    /// The session, from 0.
    pub session: usize,
    /// The note, sealed.
    pub note: Sealed,
}

impl Aggregate for StaffMember {
    const TYPE: &'static str = "staff";
    type Command = SealedStaffCommand;
    type Event = StaffEvent;
    type Error = StaffError;
    type Services = Arc<dyn Clock>;

    async fn handle(
        &mut self,
        command: SealedStaffCommand,
        clock: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), StaffError> {
        let added = self.municipality.is_some();
        if !added && !matches!(command, SealedStaffCommand::AddStaffMember { .. }) {
            return Err(StaffError::NotFound);
        }
        if self.status == StaffStatus::Erased {
            return Err(StaffError::Erased);
        }
        let removed = self.status == StaffStatus::Removed;
        let event = match command {
            SealedStaffCommand::AddStaffMember { id, municipality, profile } => {
                if added {
                    return Err(StaffError::AlreadyExists);
                }
                if profile.supervisor == Some(id) {
                    return Err(StaffError::OwnSupervisor);
                }
                StaffEvent::StaffMemberAdded { id, municipality, profile }
            }
            SealedStaffCommand::UpdateStaffMember { profile } => {
                if removed {
                    return Err(StaffError::Removed);
                }
                if profile.supervisor == Some(self.id) {
                    return Err(StaffError::OwnSupervisor);
                }
                // The services layer reuses the sealed fields whose plain text did not
                // change (sealing twice never gives the same text), so "unchanged" holds.
                if self.profile.as_ref() == Some(&profile) {
                    return Ok(());
                }
                StaffEvent::StaffMemberUpdated { profile }
            }
            SealedStaffCommand::PauseStaffMember => match self.status {
                StaffStatus::Removed | StaffStatus::Erased => return Err(StaffError::Removed),
                StaffStatus::Paused => return Ok(()),
                StaffStatus::Active => StaffEvent::StaffMemberPaused,
            },
            SealedStaffCommand::ResumeStaffMember => match self.status {
                StaffStatus::Removed | StaffStatus::Erased => return Err(StaffError::Removed),
                StaffStatus::Active => return Ok(()),
                StaffStatus::Paused => StaffEvent::StaffMemberResumed,
            },
            SealedStaffCommand::RemoveStaffMember => {
                if removed {
                    return Ok(());
                }
                StaffEvent::StaffMemberRemoved { at: clock.now() }
            }
            SealedStaffCommand::NoteAttendance { offering, session, note } => {
                StaffEvent::AttendanceNoted { offering, session, note }
            }
            SealedStaffCommand::EraseStaffMember { reason } => StaffEvent::StaffMemberErased { reason },
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: StaffEvent) {
        match event {
            StaffEvent::StaffMemberAdded { id, municipality, profile } => {
                self.id = id;
                self.municipality = Some(municipality);
                self.profile = Some(profile);
            }
            StaffEvent::StaffMemberUpdated { profile } => self.profile = Some(profile),
            StaffEvent::StaffMemberPaused => self.status = StaffStatus::Paused,
            StaffEvent::StaffMemberResumed => self.status = StaffStatus::Active,
            StaffEvent::StaffMemberRemoved { .. } => self.status = StaffStatus::Removed,
            StaffEvent::AttendanceNoted { offering, session, note } => {
                // A later note on the same session replaces the earlier one.
                self.notes.retain(|n| !(n.offering == offering && n.session == session));
                self.notes.push(AttendanceNote { offering, session, note });
            }
            // The sealed fields stay in the state as they stay in the log: unreadable
            // once the key is gone, and the status says why.
            StaffEvent::StaffMemberErased { .. } => self.status = StaffStatus::Erased,
        }
    }
}
