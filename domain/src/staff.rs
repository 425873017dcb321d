//! A staff member of a municipality. This is the only stream that holds personal data
//! (name, work e-mail, attendance notes): every other aggregate refers to the person by
//! id, so erasing a person touches only this stream.

use std::sync::Arc;

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::{
    Clock, ExperienceBand, MunicipalityId, OfferingId, Refusal, RefusalKind, StaffGroup, StaffId, Text, WorkEmail,
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
}

/// What the work needs to know about a staff member (DOMAIN.md: nothing more).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffProfile {
    /// Full name.
    pub name: Text,
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

/// Commands on a staff member.
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
        profile: StaffProfile,
    },
    /// Their details changed.
    StaffMemberUpdated {
        /// The details in full.
        profile: StaffProfile,
    },
    /// Paused.
    StaffMemberPaused,
    /// Resumed.
    StaffMemberResumed,
    /// Removed.
    StaffMemberRemoved,
    /// A note on attendance.
    AttendanceNoted {
        /// The offering.
        offering: OfferingId,
        /// The session.
        session: usize,
        /// The note.
        note: Text,
    },
}

impl DomainEvent for StaffEvent {
    fn event_type(&self) -> String {
        match self {
            Self::StaffMemberAdded { .. } => "StaffMemberAdded",
            Self::StaffMemberUpdated { .. } => "StaffMemberUpdated",
            Self::StaffMemberPaused => "StaffMemberPaused",
            Self::StaffMemberResumed => "StaffMemberResumed",
            Self::StaffMemberRemoved => "StaffMemberRemoved",
            Self::AttendanceNoted { .. } => "AttendanceNoted",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        "1".to_string()
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
            Self::OwnSupervisor => "validation",
        }
    }

    fn kind(&self) -> RefusalKind {
        match self {
            Self::NotFound => RefusalKind::NotFound,
            Self::AlreadyExists | Self::Removed => RefusalKind::Conflict,
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
    /// Their details.
    pub profile: Option<StaffProfile>,
    /// Active, paused or removed.
    pub status: StaffStatus,
}

impl Aggregate for StaffMember {
    const TYPE: &'static str = "staff";
    type Command = StaffCommand;
    type Event = StaffEvent;
    type Error = StaffError;
    type Services = Arc<dyn Clock>;

    async fn handle(
        &mut self,
        command: StaffCommand,
        _clock: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), StaffError> {
        let added = self.municipality.is_some();
        if !added && !matches!(command, StaffCommand::AddStaffMember { .. }) {
            return Err(StaffError::NotFound);
        }
        let removed = self.status == StaffStatus::Removed;
        let event = match command {
            StaffCommand::AddStaffMember { id, municipality, profile } => {
                if added {
                    return Err(StaffError::AlreadyExists);
                }
                if profile.supervisor == Some(id) {
                    return Err(StaffError::OwnSupervisor);
                }
                StaffEvent::StaffMemberAdded { id, municipality, profile }
            }
            StaffCommand::UpdateStaffMember { profile } => {
                if removed {
                    return Err(StaffError::Removed);
                }
                if profile.supervisor == Some(self.id) {
                    return Err(StaffError::OwnSupervisor);
                }
                if self.profile.as_ref() == Some(&profile) {
                    return Ok(());
                }
                StaffEvent::StaffMemberUpdated { profile }
            }
            StaffCommand::PauseStaffMember => match self.status {
                StaffStatus::Removed => return Err(StaffError::Removed),
                StaffStatus::Paused => return Ok(()),
                StaffStatus::Active => StaffEvent::StaffMemberPaused,
            },
            StaffCommand::ResumeStaffMember => match self.status {
                StaffStatus::Removed => return Err(StaffError::Removed),
                StaffStatus::Active => return Ok(()),
                StaffStatus::Paused => StaffEvent::StaffMemberResumed,
            },
            StaffCommand::RemoveStaffMember => {
                if removed {
                    return Ok(());
                }
                StaffEvent::StaffMemberRemoved
            }
            StaffCommand::NoteAttendance { offering, session, note } => {
                StaffEvent::AttendanceNoted { offering, session, note }
            }
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
            StaffEvent::StaffMemberRemoved => self.status = StaffStatus::Removed,
            StaffEvent::AttendanceNoted { .. } => {}
        }
    }
}
