//! Why an offering refuses a command. Each refusal has a stable code for API clients.

use crate::{CourseCode, Refusal, RefusalKind};

/// Refusals of offering commands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OfferingError {
    /// No such offering.
    #[error("no such course offering")]
    NotFound,
    /// The id is taken.
    #[error("an offering with this id already exists")]
    AlreadyExists,
    /// An offering without sessions.
    #[error("an offering needs at least one session")]
    NoSessions,
    /// More sessions than an offering can have.
    #[error("an offering has too many sessions")]
    TooManySessions,
    /// A course required before itself.
    #[error("a course cannot be its own prerequisite")]
    OwnPrerequisite,
    /// The package is still a draft.
    #[error("registration has not opened: the course package is not published")]
    RegistrationNotOpen,
    /// The package is archived.
    #[error("the course package is archived")]
    PackageArchived,
    /// A session planned at or before the package's registration deadline.
    #[error("a session starts before the registration deadline")]
    SessionBeforeDeadline,
    /// A session planned to start in the past in a package of a live term.
    #[error("a session starts in the past")]
    SessionInPast,
    /// Registration ends when the first session starts (**late registration closes**).
    #[error("registration closed when the first session started")]
    LateRegistrationClosed,
    /// Allocation asked for before the deadline.
    #[error("the registration deadline has not passed yet")]
    DeadlineNotPassed,
    /// Seats were allocated already.
    #[error("seats have already been allocated for this offering")]
    AlreadyAllocated,
    /// The organiser cancelled the offering.
    #[error("the offering has been cancelled by the organiser")]
    OfferingCancelled,
    /// The offering is completed.
    #[error("the offering is completed")]
    OfferingCompleted,
    /// Paused staff take no new registrations.
    #[error("the staff member is paused and cannot be registered")]
    StaffPaused,
    /// Removed staff cannot be registered.
    #[error("the staff member has been removed and cannot be registered")]
    StaffRemoved,
    /// Erased staff cannot be registered (their personal data is gone).
    #[error("the staff member's personal data has been erased; they cannot be registered")]
    StaffErased,
    /// The person is already on this offering.
    #[error("the staff member is already registered on this offering")]
    AlreadyRegistered,
    /// The person is not registered here.
    #[error("the staff member has no registration on this offering")]
    NotRegistered,
    /// Unmet prerequisites.
    #[error("prerequisite courses not completed: {}", .0.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", "))]
    PrerequisiteMissing(Vec<CourseCode>),
    /// Transfers stay within the municipality.
    #[error("a seat can only be transferred to a person of the same municipality")]
    TransferOutsideMunicipality,
    /// Transfer to oneself.
    #[error("a seat cannot be transferred to the person who holds it")]
    TransferToSelf,
    /// Attendance for someone without a confirmed seat.
    #[error("attendance is recorded only for confirmed participants")]
    NotAParticipant,
    /// No such session.
    #[error("the offering has no session number {0}")]
    UnknownSession(usize),
    /// Attendance for a session in the future.
    #[error("attendance can only be recorded for sessions that have started")]
    SessionNotStarted,
    /// Completion before the last session ended.
    #[error("the offering's last session has not ended yet")]
    SessionsNotOver,
    /// Seats below those already confirmed.
    #[error("the seat limit cannot go below the {0} seats already confirmed")]
    SeatLimitBelowConfirmed(u32),
    /// Sessions changed after attendance was recorded.
    #[error("sessions cannot change once attendance has been recorded")]
    AttendanceAlreadyRecorded,
    /// Completion before seats were allocated.
    #[error("seats have not been allocated yet: close registration first")]
    SeatsNotAllocated,
    /// No certificate to withdraw.
    #[error("the staff member holds no certificate from this offering")]
    NoCertificate,
}

impl Refusal for OfferingError {
    fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::AlreadyExists => "already_exists",
            Self::NoSessions | Self::TooManySessions | Self::OwnPrerequisite => "validation",
            Self::RegistrationNotOpen => "registration_not_open",
            Self::PackageArchived => "package_archived",
            Self::LateRegistrationClosed => "late_registration_closed",
            Self::SessionBeforeDeadline => "session_before_deadline",
            Self::SessionInPast => "session_in_past",
            Self::DeadlineNotPassed => "deadline_not_passed",
            Self::AlreadyAllocated => "already_allocated",
            Self::OfferingCancelled => "offering_cancelled",
            Self::OfferingCompleted => "offering_completed",
            Self::StaffPaused => "staff_paused",
            Self::StaffRemoved => "staff_removed",
            Self::StaffErased => "staff_erased",
            Self::AlreadyRegistered => "already_registered",
            Self::NotRegistered => "not_registered",
            Self::PrerequisiteMissing(_) => "prerequisite_missing",
            Self::TransferOutsideMunicipality => "transfer_outside_municipality",
            Self::TransferToSelf => "transfer_to_self",
            Self::NotAParticipant => "not_a_participant",
            Self::UnknownSession(_) => "unknown_session",
            Self::SessionNotStarted => "session_not_started",
            Self::SessionsNotOver => "sessions_not_over",
            Self::SeatLimitBelowConfirmed(_) => "seat_limit_below_confirmed",
            Self::AttendanceAlreadyRecorded => "attendance_already_recorded",
            Self::SeatsNotAllocated => "seats_not_allocated",
            Self::NoCertificate => "no_certificate",
        }
    }

    fn swedish(&self) -> String {
        crate::swedish::offering(self)
    }

    fn kind(&self) -> RefusalKind {
        match self {
            Self::NotFound => RefusalKind::NotFound,
            Self::AlreadyExists | Self::AlreadyRegistered | Self::AlreadyAllocated => RefusalKind::Conflict,
            _ => RefusalKind::Rule,
        }
    }
}
