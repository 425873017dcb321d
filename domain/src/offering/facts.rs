//! Facts owned by other aggregates that an offering's rules need. The service layer
//! reads them just before the command and hands them over; the offering decides.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::package::PackagePhase;
use crate::staff::StaffStatus;
use crate::{CourseCode, MunicipalityId, OfferingId, StaffId, Text};

/// The catalogue course an offering runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CourseFacts {
    /// Its code.
    pub code: CourseCode,
    /// Its title.
    pub title: Text,
    /// Its default prerequisites.
    pub prerequisites: Vec<CourseCode>,
}

/// The package's registration window as it stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrationWindow {
    /// Where the package is in its lifecycle.
    pub phase: PackagePhase,
    /// The registration deadline.
    pub deadline: DateTime<Utc>,
    /// The package records a term that already took place (decision 0012): its dates
    /// may lie in the past, and registration does not close with the first session.
    #[serde(default)]
    pub recorded_afterwards: bool,
}

/// A staff member about to be registered, and what they have taken before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParticipantFacts {
    /// Who.
    pub staff: StaffId,
    /// Their municipality.
    pub municipality: MunicipalityId,
    /// Active, paused or removed.
    pub status: StaffStatus,
    /// Their standing on other offerings.
    pub history: Vec<PastParticipation>,
}

/// A person's standing on another offering, for prerequisite checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PastParticipation {
    /// The offering.
    pub offering: OfferingId,
    /// Its course.
    pub course: CourseCode,
    /// Completed it.
    pub completed: bool,
    /// Holds a confirmed seat on it.
    pub confirmed: bool,
    /// When its last session ends.
    pub ends_at: DateTime<Utc>,
}
