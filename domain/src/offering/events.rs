//! What has happened to a course offering. Events name people by id only; personal data
//! lives in the staff member's own stream.

use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use super::OfferingDetails;
use crate::{Attendance, CourseCode, MunicipalityId, OfferingId, PackageId, SeatLimit, StaffId, Term, Text};

/// Events of a course offering.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum OfferingEvent {
    /// A run of a course was planned in a package.
    OfferingPlanned {
        /// The offering's id.
        id: OfferingId,
        /// The package.
        package: PackageId,
        /// The package's term.
        term: Term,
        /// The catalogue course.
        course: CourseCode,
        /// The course's title at the time.
        title: Text,
        /// Details.
        details: OfferingDetails,
        /// Seats.
        seat_limit: SeatLimit,
    },
    /// Details were revised.
    OfferingRevised {
        /// The details in full, as revised.
        details: OfferingDetails,
    },
    /// A trainer's user account was assigned to the offering.
    TrainerAssigned {
        /// The trainer's user id.
        user: String,
    },
    /// A trainer's user account was unassigned.
    TrainerUnassigned {
        /// The trainer's user id.
        user: String,
    },
    /// The number of seats changed.
    SeatLimitChanged {
        /// Before.
        from: SeatLimit,
        /// After.
        to: SeatLimit,
    },
    /// A registration was received and awaits allocation.
    RegistrationRequested {
        /// Who.
        staff: StaffId,
        /// Their municipality.
        municipality: MunicipalityId,
        /// Received after the deadline, before allocation: served after the in-time ones.
        late: bool,
        /// The course office let an unmet prerequisite pass.
        prerequisites_overridden: Vec<CourseCode>,
    },
    /// Seats were allocated at the deadline.
    SeatsAllocated {
        /// The order municipalities took turns in.
        round_order: Vec<MunicipalityId>,
        /// Got a seat, in allocation order.
        confirmed: Vec<StaffId>,
        /// On the waiting list, in allocation order.
        waitlisted: Vec<StaffId>,
    },
    /// A registration after allocation took a free seat.
    LateRegistrationConfirmed {
        /// Who.
        staff: StaffId,
        /// Their municipality.
        municipality: MunicipalityId,
        /// The course office let an unmet prerequisite pass.
        prerequisites_overridden: Vec<CourseCode>,
    },
    /// A registration after allocation found no free seat and joined the waiting list.
    LateRegistrationWaitlisted {
        /// Who.
        staff: StaffId,
        /// Their municipality.
        municipality: MunicipalityId,
        /// The course office let an unmet prerequisite pass.
        prerequisites_overridden: Vec<CourseCode>,
    },
    /// A registration was cancelled.
    RegistrationCancelled {
        /// Whose.
        staff: StaffId,
        /// The municipality pays the full fee (a binding seat was given up).
        charged: bool,
        /// When.
        at: DateTime<Utc>,
    },
    /// A registration passed to another person of the same municipality, free of charge.
    SeatTransferred {
        /// Who gave it up.
        from: StaffId,
        /// Who took it.
        to: StaffId,
        /// The course office let an unmet prerequisite of `to` pass.
        prerequisites_overridden: Vec<CourseCode>,
    },
    /// The first on the waiting list got a freed seat.
    PromotedFromWaitingList {
        /// Who.
        staff: StaffId,
    },
    /// Attendance at a session was recorded.
    AttendanceRecorded {
        /// Who.
        staff: StaffId,
        /// Which session, from 0.
        session: usize,
        /// What.
        attendance: Attendance,
    },
    /// A recorded attendance was corrected.
    AttendanceCorrected {
        /// Who.
        staff: StaffId,
        /// Which session, from 0.
        session: usize,
        /// As recorded before.
        from: Attendance,
        /// As it should be.
        to: Attendance,
    },
    /// A participant met the completion threshold and got a certificate.
    ParticipantCompleted {
        /// Who.
        staff: StaffId,
        /// The certificate's unique number.
        certificate: String,
        /// Sessions attended.
        attended: usize,
        /// Sessions in all.
        sessions: usize,
    },
    /// A participant fell short of the completion threshold.
    ParticipantNotCompleted {
        /// Who.
        staff: StaffId,
        /// Sessions attended.
        attended: usize,
        /// Sessions in all.
        sessions: usize,
    },
    /// A certificate was taken back.
    CertificateWithdrawn {
        /// Whose.
        staff: StaffId,
        /// Which.
        certificate: String,
        /// Why.
        reason: Text,
        /// Withdrawn because corrected attendance fell below the threshold (a later
        /// correction may earn it back); false when the course office withdrew it.
        #[serde(default)]
        by_attendance: bool,
    },
    /// The offering was completed after its last session.
    OfferingCompleted {
        /// When.
        at: DateTime<Utc>,
    },
    /// The organiser cancelled the offering; nobody is charged.
    OfferingCancelled {
        /// Why.
        reason: Text,
        /// When.
        at: DateTime<Utc>,
    },
}

impl DomainEvent for OfferingEvent {
    fn event_type(&self) -> String {
        let name = match self {
            Self::OfferingPlanned { .. } => "OfferingPlanned",
            Self::OfferingRevised { .. } => "OfferingRevised",
            Self::TrainerAssigned { .. } => "TrainerAssigned",
            Self::TrainerUnassigned { .. } => "TrainerUnassigned",
            Self::SeatLimitChanged { .. } => "SeatLimitChanged",
            Self::RegistrationRequested { .. } => "RegistrationRequested",
            Self::SeatsAllocated { .. } => "SeatsAllocated",
            Self::LateRegistrationConfirmed { .. } => "LateRegistrationConfirmed",
            Self::LateRegistrationWaitlisted { .. } => "LateRegistrationWaitlisted",
            Self::RegistrationCancelled { .. } => "RegistrationCancelled",
            Self::SeatTransferred { .. } => "SeatTransferred",
            Self::PromotedFromWaitingList { .. } => "PromotedFromWaitingList",
            Self::AttendanceRecorded { .. } => "AttendanceRecorded",
            Self::AttendanceCorrected { .. } => "AttendanceCorrected",
            Self::ParticipantCompleted { .. } => "ParticipantCompleted",
            Self::ParticipantNotCompleted { .. } => "ParticipantNotCompleted",
            Self::CertificateWithdrawn { .. } => "CertificateWithdrawn",
            Self::OfferingCompleted { .. } => "OfferingCompleted",
            Self::OfferingCancelled { .. } => "OfferingCancelled",
        };
        name.to_string()
    }

    fn event_version(&self) -> String {
        "1".to_string()
    }
}
