//! A member municipality of the federation, with its coordinators and supervisors
//! (referred to by staff id; their names live in their own streams).

use std::sync::Arc;

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::{Clock, CourseCode, MunicipalityId, OfferingId, Refusal, RefusalKind, StaffId, Text};

/// Roles a municipality gives its staff in Kurslogg.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MunicipalRole {
    /// Makes the collective registration (IFO-chef, enhetschef).
    Coordinator,
    /// First-line manager who gets the after-course summaries (arbetsledare).
    Supervisor,
}

/// What became of one line of a collective registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineOutcome {
    /// Received before the deadline; seats are allocated at the deadline.
    Requested,
    /// Has a seat.
    Confirmed,
    /// On the waiting list.
    Waiting,
    /// Refused; nothing was registered.
    Refused,
}

/// One line of a collective registration as it was answered (people by id only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceivedLine {
    /// Who.
    pub staff: StaffId,
    /// On which offering.
    pub offering: OfferingId,
    /// What became of it.
    pub outcome: LineOutcome,
    /// The refusal's code, when refused.
    pub refusal: Option<String>,
    /// The prerequisites found missing, when that was the refusal (absent in events from
    /// before it was recorded).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<CourseCode>,
}

/// Commands on a municipality.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum MunicipalityCommand {
    /// Add a member municipality.
    AddMunicipality {
        /// Its id (slug).
        id: MunicipalityId,
        /// Its name, e.g. "Dals-Ed".
        name: Text,
        /// The federation, e.g. "Fyrbodal".
        federation: Text,
    },
    /// Give a staff member of this municipality a role.
    AssignRole {
        /// Who.
        staff: StaffId,
        /// Their municipality (must be this one).
        staff_municipality: MunicipalityId,
        /// Which role.
        role: MunicipalRole,
    },
    /// Take a role away.
    RevokeRole {
        /// Who.
        staff: StaffId,
        /// Which role.
        role: MunicipalRole,
    },
    /// Record a collective registration as it was answered, line by line (the lines
    /// themselves are the offerings' events; this is the receipt the coordinator gets).
    ReceiveCollectiveRegistration {
        /// Every line in the municipality's priority order.
        lines: Vec<ReceivedLine>,
    },
}

/// Events of a municipality.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum MunicipalityEvent {
    /// A municipality joined.
    MunicipalityAdded {
        /// Its id.
        id: MunicipalityId,
        /// Its name.
        name: Text,
        /// Its federation.
        federation: Text,
    },
    /// A role was assigned.
    RoleAssigned {
        /// Who.
        staff: StaffId,
        /// Which role.
        role: MunicipalRole,
    },
    /// A role was revoked.
    RoleRevoked {
        /// Who.
        staff: StaffId,
        /// Which role.
        role: MunicipalRole,
    },
    /// A collective registration was received and answered.
    CollectiveRegistrationReceived {
        /// Every line in the municipality's priority order.
        lines: Vec<ReceivedLine>,
    },
}

impl DomainEvent for MunicipalityEvent {
    fn event_type(&self) -> String {
        match self {
            Self::MunicipalityAdded { .. } => "MunicipalityAdded",
            Self::RoleAssigned { .. } => "RoleAssigned",
            Self::RoleRevoked { .. } => "RoleRevoked",
            Self::CollectiveRegistrationReceived { .. } => "CollectiveRegistrationReceived",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        "1".to_string()
    }
}

/// Refusals of municipality commands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MunicipalityError {
    /// No such municipality.
    #[error("no such municipality")]
    NotFound,
    /// The id is taken.
    #[error("a municipality with this id already exists")]
    AlreadyExists,
    /// Roles go to the municipality's own staff.
    #[error("the staff member belongs to another municipality")]
    StaffOfOtherMunicipality,
}

impl Refusal for MunicipalityError {
    fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::AlreadyExists => "already_exists",
            Self::StaffOfOtherMunicipality => "staff_of_other_municipality",
        }
    }

    fn swedish(&self) -> String {
        crate::swedish::municipality(self)
    }

    fn kind(&self) -> RefusalKind {
        match self {
            Self::NotFound => RefusalKind::NotFound,
            Self::AlreadyExists => RefusalKind::Conflict,
            Self::StaffOfOtherMunicipality => RefusalKind::Rule,
        }
    }
}

/// A member municipality.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Municipality {
    /// Its id (None until added).
    pub id: Option<MunicipalityId>,
    /// Name.
    pub name: Option<Text>,
    /// Federation.
    pub federation: Option<Text>,
    /// Coordinators.
    pub coordinators: Vec<StaffId>,
    /// Supervisors.
    pub supervisors: Vec<StaffId>,
}

impl Municipality {
    fn holders(&self, role: MunicipalRole) -> &Vec<StaffId> {
        match role {
            MunicipalRole::Coordinator => &self.coordinators,
            MunicipalRole::Supervisor => &self.supervisors,
        }
    }

    fn holders_mut(&mut self, role: MunicipalRole) -> &mut Vec<StaffId> {
        match role {
            MunicipalRole::Coordinator => &mut self.coordinators,
            MunicipalRole::Supervisor => &mut self.supervisors,
        }
    }
}

impl Aggregate for Municipality {
    const TYPE: &'static str = "municipality";
    type Command = MunicipalityCommand;
    type Event = MunicipalityEvent;
    type Error = MunicipalityError;
    type Services = Arc<dyn Clock>;

    async fn handle(
        &mut self,
        command: MunicipalityCommand,
        _clock: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), MunicipalityError> {
        let event = match command {
            MunicipalityCommand::AddMunicipality { id, name, federation } => {
                if self.id.is_some() {
                    return Err(MunicipalityError::AlreadyExists);
                }
                MunicipalityEvent::MunicipalityAdded { id, name, federation }
            }
            MunicipalityCommand::AssignRole { staff, staff_municipality, role } => {
                let id = self.id.as_ref().ok_or(MunicipalityError::NotFound)?;
                if *id != staff_municipality {
                    return Err(MunicipalityError::StaffOfOtherMunicipality);
                }
                if self.holders(role).contains(&staff) {
                    return Ok(());
                }
                MunicipalityEvent::RoleAssigned { staff, role }
            }
            MunicipalityCommand::RevokeRole { staff, role } => {
                self.id.as_ref().ok_or(MunicipalityError::NotFound)?;
                if !self.holders(role).contains(&staff) {
                    return Ok(());
                }
                MunicipalityEvent::RoleRevoked { staff, role }
            }
            MunicipalityCommand::ReceiveCollectiveRegistration { lines } => {
                self.id.as_ref().ok_or(MunicipalityError::NotFound)?;
                if lines.is_empty() {
                    return Ok(());
                }
                MunicipalityEvent::CollectiveRegistrationReceived { lines }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: MunicipalityEvent) {
        match event {
            MunicipalityEvent::MunicipalityAdded { id, name, federation } => {
                self.id = Some(id);
                self.name = Some(name);
                self.federation = Some(federation);
            }
            MunicipalityEvent::RoleAssigned { staff, role } => self.holders_mut(role).push(staff),
            MunicipalityEvent::RoleRevoked { staff, role } => self.holders_mut(role).retain(|s| *s != staff),
            MunicipalityEvent::CollectiveRegistrationReceived { .. } => {}
        }
    }
}
