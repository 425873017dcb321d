//! What can be asked of a course offering. Facts owned by other aggregates come along as
//! plain values gathered by the service layer (see `facts.rs`).

use serde::{Deserialize, Serialize};

use super::facts::{CourseFacts, ParticipantFacts, RegistrationWindow};
use super::OfferingDetails;
use crate::{Attendance, OfferingId, PackageId, SeatLimit, StaffId, Term, Text};

/// Commands on one course offering.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum OfferingCommand {
    /// Plan a new run of a catalogue course within a package.
    PlanOffering {
        /// The new offering's id.
        id: OfferingId,
        /// The package it belongs to.
        package: PackageId,
        /// The package's term.
        term: Term,
        /// The catalogue course.
        course: CourseFacts,
        /// Everything the package's readers see about the run.
        details: OfferingDetails,
        /// Seats.
        seat_limit: SeatLimit,
        /// The package's registration window (its deadline), which the sessions must follow.
        window: RegistrationWindow,
    },
    /// Change the description, trainer, place, sessions, price, threshold or prerequisites.
    ReviseOffering {
        /// The new details in full.
        details: OfferingDetails,
        /// The package's registration window, gathered by the services layer: new or
        /// moved sessions must follow its deadline.
        #[serde(default)]
        window: Option<RegistrationWindow>,
    },
    /// Let a trainer's user account record attendance and read the roster.
    AssignTrainer {
        /// The trainer's user id (accounts are not domain data; the id is all we keep).
        user: String,
    },
    /// Take that back.
    UnassignTrainer {
        /// The trainer's user id.
        user: String,
    },
    /// Raise or lower the number of seats.
    ChangeSeatLimit {
        /// The new limit.
        seat_limit: SeatLimit,
        /// People on the waiting list who may not take a freed seat now (paused or
        /// removed: facts from their own streams). The next in line is promoted instead.
        #[serde(default)]
        unavailable: Vec<StaffId>,
    },
    /// Register a staff member.
    Register {
        /// The person and what they have taken before.
        participant: ParticipantFacts,
        /// The package's registration window.
        window: RegistrationWindow,
        /// The course office lets an unmet prerequisite pass (recorded in the event).
        override_prerequisites: bool,
    },
    /// Cancel a staff member's registration.
    CancelRegistration {
        /// Whose.
        staff: StaffId,
        /// People on the waiting list who may not take the freed seat (paused or
        /// removed). The next in line is promoted instead.
        #[serde(default)]
        unavailable: Vec<StaffId>,
    },
    /// Hand a registration over to another person of the same municipality.
    TransferSeat {
        /// The person giving the seat up.
        from: StaffId,
        /// The person taking it.
        to: ParticipantFacts,
        /// The course office lets an unmet prerequisite pass.
        override_prerequisites: bool,
    },
    /// Allocate seats fairly once registration has closed.
    AllocateSeats {
        /// The package's window (the deadline must have passed).
        window: RegistrationWindow,
    },
    /// Record (or correct) one participant's attendance at one session.
    RecordAttendance {
        /// Who.
        staff: StaffId,
        /// Which session, counting from 0.
        session: usize,
        /// Present, absent or excused.
        attendance: Attendance,
    },
    /// Close the offering after its last session: completions and certificates.
    CompleteOffering,
    /// Take back a certificate, with the reason.
    WithdrawCertificate {
        /// Whose.
        staff: StaffId,
        /// Why.
        reason: Text,
    },
    /// The organiser cancels the whole offering.
    CancelOffering {
        /// Why (shown to coordinators).
        reason: Text,
    },
}
