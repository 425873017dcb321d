//! A course offering: one run of a catalogue course in a term's package, with its
//! registrations, waiting list, attendance and certificates.
//!
//! `handle` checks the rules (see `rules.rs`) and emits events; `apply` only mutates.

mod commands;
mod errors;
mod events;
mod facts;
pub mod rules;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

pub use commands::OfferingCommand;
pub use errors::OfferingError;
pub use events::OfferingEvent;
pub use facts::{CourseFacts, ParticipantFacts, PastParticipation, RegistrationWindow};

/// The most sessions one offering can have.
pub const MAX_SESSIONS: usize = 200;

use crate::package::PackagePhase;
use crate::{
    Attendance, Clock, CompletionThreshold, CourseCode, ExperienceBand, MunicipalityId, OfferingId, PackageId, Place,
    SeatLimit, Sek, Session, StaffGroup, StaffId, Term, Text,
};
use rules::{
    cancellation_is_charged, certificate_number, fair_allocation, late_registration_open, missing_prerequisites,
    next_to_promote, sessions_follow_the_deadline, staff_may_be_registered, PendingRequest,
};

/// Who an offering is meant for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetGroups {
    /// Experience bands; empty means everyone.
    pub experience_bands: Vec<ExperienceBand>,
    /// Staff groups; empty means everyone.
    pub staff_groups: Vec<StaffGroup>,
}

/// What the package's readers see about one run of a course.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferingDetails {
    /// What the run is about.
    pub description: Text,
    /// Who it is for.
    pub target_groups: TargetGroups,
    /// Competence areas it covers (SOSFS 2014:7).
    pub competence_areas: Vec<Text>,
    /// Trainer (utbildare); published course information, not a staff member.
    pub trainer: Text,
    /// Venue or digital.
    pub place: Place,
    /// Sessions, in time order.
    pub sessions: Vec<Session>,
    /// Price per participant in SEK.
    pub price: Sek,
    /// Share of sessions to attend for completion.
    pub completion_threshold: CompletionThreshold,
    /// Courses to have taken first.
    pub prerequisites: Vec<CourseCode>,
    /// Suggestions for following up at the workplace, for the supervisors' after-course
    /// summary. Absent in events recorded before it existed.
    #[serde(default)]
    pub follow_up: Option<Text>,
}

impl OfferingDetails {
    /// When the first session starts.
    pub fn starts_at(&self) -> DateTime<Utc> {
        self.sessions.first().map(|s| s.starts_at).unwrap_or_default()
    }

    /// When the last session ends.
    pub fn ends_at(&self) -> DateTime<Utc> {
        self.sessions.iter().map(|s| s.ends_at).max().unwrap_or_default()
    }

    fn validated(mut self, course: &CourseCode) -> Result<Self, OfferingError> {
        if self.sessions.is_empty() {
            return Err(OfferingError::NoSessions);
        }
        if self.sessions.len() > MAX_SESSIONS {
            return Err(OfferingError::TooManySessions);
        }
        if self.prerequisites.contains(course) {
            return Err(OfferingError::OwnPrerequisite);
        }
        self.sessions.sort_by_key(|s| s.starts_at);
        self.prerequisites.sort();
        self.prerequisites.dedup();
        Ok(self)
    }
}

/// Where one person stands on the offering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationStatus {
    /// Awaiting allocation at the deadline.
    Requested,
    /// Holds a seat.
    Confirmed,
    /// On the waiting list.
    Waiting,
    /// Cancelled; `charged` if the municipality pays.
    Cancelled {
        /// The municipality pays the fee.
        charged: bool,
    },
    /// Handed the seat to someone else.
    TransferredAway,
}

impl RegistrationStatus {
    /// Requested, confirmed or waiting: the person is on the offering.
    pub fn is_active(self) -> bool {
        matches!(self, Self::Requested | Self::Confirmed | Self::Waiting)
    }
}

/// One person's registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    /// Who.
    pub staff: StaffId,
    /// Their municipality.
    pub municipality: MunicipalityId,
    /// Where they stand.
    pub status: RegistrationStatus,
    /// Received after the deadline.
    pub late: bool,
    /// When it entered the offering, counting registrations (their priority order).
    pub order: u64,
    /// Attendance per session index.
    pub attendance: BTreeMap<usize, Attendance>,
    /// Certificate number if completed.
    pub certificate: Option<String>,
    /// Completion was evaluated and not met.
    pub not_completed: bool,
    /// The course office withdrew the certificate; corrections do not bring it back.
    pub certificate_revoked: bool,
}

impl Registration {
    /// Sessions attended (present).
    pub fn attended(&self) -> usize {
        self.attendance.values().filter(|a| **a == Attendance::Present).count()
    }
}

/// A course offering.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Offering {
    /// Its id (nil until planned).
    pub id: OfferingId,
    /// Planned yet.
    pub planned: bool,
    /// Its package.
    pub package: PackageId,
    /// The package's term.
    pub term: Option<Term>,
    /// The catalogue course.
    pub course: Option<CourseCode>,
    /// The course title.
    pub title: Option<Text>,
    /// Details.
    pub details: Option<OfferingDetails>,
    /// Seats.
    pub seat_limit: u32,
    /// Seats allocated at the deadline.
    pub allocated: bool,
    /// Cancelled by the organiser.
    pub cancelled: bool,
    /// Completed after its last session.
    pub completed: bool,
    /// Registrations by person.
    pub registrations: BTreeMap<StaffId, Registration>,
    /// The waiting list, first in line first.
    pub waiting_list: Vec<StaffId>,
    /// User ids of the trainers assigned to it.
    pub trainers: BTreeSet<String>,
    next_order: u64,
    certificates_issued: u32,
}

impl Offering {
    /// Confirmed participants.
    pub fn confirmed_count(&self) -> u32 {
        self.registrations.values().filter(|r| r.status == RegistrationStatus::Confirmed).count() as u32
    }

    /// Seats not taken.
    pub fn free_seats(&self) -> u32 {
        self.seat_limit.saturating_sub(self.confirmed_count())
    }

    /// **Automatic completion**: the last session is over at `now` and attendance has
    /// been recorded for every confirmed participant at every session.
    pub fn ready_to_complete(&self, now: DateTime<Utc>) -> bool {
        let Some(details) = &self.details else { return false };
        self.planned
            && self.allocated
            && !self.cancelled
            && !self.completed
            && now >= details.ends_at()
            && self
                .registrations
                .values()
                .filter(|r| r.status == RegistrationStatus::Confirmed)
                .all(|r| (0..details.sessions.len()).all(|session| r.attendance.contains_key(&session)))
    }

    /// The active registration of a person, if any.
    pub fn active_registration(&self, staff: StaffId) -> Option<&Registration> {
        self.registrations.get(&staff).filter(|r| r.status.is_active())
    }

    fn details(&self) -> &OfferingDetails {
        self.details.as_ref().expect("a planned offering has details")
    }

    fn ensure_planned(&self) -> Result<(), OfferingError> {
        if self.planned {
            Ok(())
        } else {
            Err(OfferingError::NotFound)
        }
    }

    fn ensure_running(&self) -> Result<(), OfferingError> {
        if !self.planned {
            Err(OfferingError::NotFound)
        } else if self.cancelled {
            Err(OfferingError::OfferingCancelled)
        } else if self.completed {
            Err(OfferingError::OfferingCompleted)
        } else {
            Ok(())
        }
    }

    /// **Registration window and deadline**: nothing before the package is published,
    /// nothing once it is archived.
    fn ensure_window_open(window: &RegistrationWindow) -> Result<(), OfferingError> {
        match window.phase {
            PackagePhase::Draft => Err(OfferingError::RegistrationNotOpen),
            PackagePhase::Archived => Err(OfferingError::PackageArchived),
            PackagePhase::Published | PackagePhase::RegistrationClosed => Ok(()),
        }
    }

    /// Checks a person may take a seat here; returns the prerequisites the course office
    /// overrode (empty when all are met).
    fn check_newcomer(
        &self,
        who: &ParticipantFacts,
        override_prerequisites: bool,
    ) -> Result<Vec<CourseCode>, OfferingError> {
        staff_may_be_registered(who.status)?;
        if self.active_registration(who.staff).is_some() {
            return Err(OfferingError::AlreadyRegistered);
        }
        let details = self.details();
        let missing = missing_prerequisites(&details.prerequisites, &who.history, details.starts_at());
        if !missing.is_empty() && !override_prerequisites {
            return Err(OfferingError::PrerequisiteMissing(missing));
        }
        Ok(missing)
    }

    fn registration(&self, staff: StaffId) -> Result<&Registration, OfferingError> {
        self.active_registration(staff).ok_or(OfferingError::NotRegistered)
    }

    async fn emit(&mut self, sink: &EventSink<Self>, event: OfferingEvent) {
        sink.write(event, self).await;
    }

    /// **Automatic promotion**: while a seat is free, the first on the waiting list who
    /// may take it gets it (`unavailable`: paused or removed, passed over).
    async fn promote_from_waiting_list(&mut self, unavailable: &[StaffId], sink: &EventSink<Self>) {
        while self.allocated && self.free_seats() > 0 {
            let Some(staff) = next_to_promote(&self.waiting_list, unavailable) else { break };
            self.emit(sink, OfferingEvent::PromotedFromWaitingList { staff }).await;
        }
    }

    /// Completion for one participant whose attendance changed after the offering
    /// completed: a newly met threshold earns a certificate, a lost one withdraws it.
    async fn reconsider_completion(&mut self, staff: StaffId, sink: &EventSink<Self>) {
        let Some(reg) = self.registrations.get(&staff) else { return };
        let sessions = self.details().sessions.len();
        let attended = reg.attended();
        let met = self.details().completion_threshold.is_met(attended, sessions);
        match (&reg.certificate, met) {
            (None, true) if !reg.certificate_revoked => {
                let certificate = self.next_certificate();
                self.emit(sink, OfferingEvent::ParticipantCompleted { staff, certificate, attended, sessions }).await;
            }
            (Some(certificate), false) => {
                let certificate = certificate.clone();
                let reason = Text::parse("attendance corrected below the completion threshold").expect("non-empty");
                self.emit(
                    sink,
                    OfferingEvent::CertificateWithdrawn { staff, certificate, reason, by_attendance: true },
                )
                .await;
            }
            _ => {}
        }
    }

    fn next_certificate(&self) -> String {
        let course = self.course.as_ref().expect("planned");
        certificate_number(course, self.term.expect("planned"), self.id, self.certificates_issued + 1)
    }
}

impl Aggregate for Offering {
    const TYPE: &'static str = "offering";
    type Command = OfferingCommand;
    type Event = OfferingEvent;
    type Error = OfferingError;
    type Services = Arc<dyn Clock>;

    async fn handle(
        &mut self,
        command: Self::Command,
        clock: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let now = clock.now();
        match command {
            OfferingCommand::PlanOffering { id, package, term, course, details, seat_limit, window } => {
                if self.planned {
                    return Err(OfferingError::AlreadyExists);
                }
                let details = details.validated(&course.code)?;
                sessions_follow_the_deadline(&details.sessions, &[], &window, now)?;
                let event = OfferingEvent::OfferingPlanned {
                    id,
                    package,
                    term,
                    course: course.code,
                    title: course.title,
                    details,
                    seat_limit,
                };
                self.emit(sink, event).await;
            }

            OfferingCommand::ReviseOffering { details, window } => {
                self.ensure_running()?;
                let details = details.validated(self.course.as_ref().expect("planned"))?;
                if let Some(window) = &window {
                    sessions_follow_the_deadline(&details.sessions, &self.details().sessions, window, now)?;
                }
                if details == *self.details() {
                    return Ok(());
                }
                let any_attendance = self.registrations.values().any(|r| !r.attendance.is_empty());
                if any_attendance && details.sessions != self.details().sessions {
                    return Err(OfferingError::AttendanceAlreadyRecorded);
                }
                self.emit(sink, OfferingEvent::OfferingRevised { details }).await;
            }

            OfferingCommand::AssignTrainer { user } => {
                self.ensure_planned()?;
                if !self.trainers.contains(&user) {
                    self.emit(sink, OfferingEvent::TrainerAssigned { user }).await;
                }
            }

            OfferingCommand::UnassignTrainer { user } => {
                self.ensure_planned()?;
                if self.trainers.contains(&user) {
                    self.emit(sink, OfferingEvent::TrainerUnassigned { user }).await;
                }
            }

            OfferingCommand::ChangeSeatLimit { seat_limit, unavailable } => {
                self.ensure_running()?;
                let confirmed = self.confirmed_count();
                if seat_limit.get() < confirmed {
                    return Err(OfferingError::SeatLimitBelowConfirmed(confirmed));
                }
                if seat_limit.get() == self.seat_limit {
                    return Ok(());
                }
                let from = SeatLimit::new(self.seat_limit).expect("stored limits are valid");
                self.emit(sink, OfferingEvent::SeatLimitChanged { from, to: seat_limit }).await;
                self.promote_from_waiting_list(&unavailable, sink).await;
            }

            OfferingCommand::Register { participant, window, override_prerequisites } => {
                self.ensure_running()?;
                Self::ensure_window_open(&window)?;
                // A term recorded afterwards takes its registrations after the fact.
                if !window.recorded_afterwards {
                    late_registration_open(now, self.details().starts_at())?;
                }
                let prerequisites_overridden = self.check_newcomer(&participant, override_prerequisites)?;
                let (staff, municipality) = (participant.staff, participant.municipality);
                // Before allocation every registration is a request; seats are shared out
                // fairly at the deadline. After allocation: first come, first served.
                let event = if !self.allocated {
                    OfferingEvent::RegistrationRequested {
                        staff,
                        municipality,
                        late: now > window.deadline,
                        prerequisites_overridden,
                    }
                } else if self.free_seats() > 0 && self.waiting_list.is_empty() {
                    OfferingEvent::LateRegistrationConfirmed { staff, municipality, prerequisites_overridden }
                } else {
                    OfferingEvent::LateRegistrationWaitlisted { staff, municipality, prerequisites_overridden }
                };
                self.emit(sink, event).await;
            }

            OfferingCommand::CancelRegistration { staff, unavailable } => {
                self.ensure_running()?;
                let was_confirmed = self.registration(staff)?.status == RegistrationStatus::Confirmed;
                let charged = cancellation_is_charged(was_confirmed);
                self.emit(sink, OfferingEvent::RegistrationCancelled { staff, charged, at: now }).await;
                self.promote_from_waiting_list(&unavailable, sink).await;
            }

            OfferingCommand::TransferSeat { from, to, override_prerequisites } => {
                self.ensure_running()?;
                let holder = self.registration(from)?;
                if to.staff == from {
                    return Err(OfferingError::TransferToSelf);
                }
                if to.municipality != holder.municipality {
                    return Err(OfferingError::TransferOutsideMunicipality);
                }
                let prerequisites_overridden = self.check_newcomer(&to, override_prerequisites)?;
                self.emit(sink, OfferingEvent::SeatTransferred { from, to: to.staff, prerequisites_overridden }).await;
            }

            OfferingCommand::AllocateSeats { window } => {
                self.ensure_running()?;
                if self.allocated {
                    return Err(OfferingError::AlreadyAllocated);
                }
                if now <= window.deadline {
                    return Err(OfferingError::DeadlineNotPassed);
                }
                let mut pending: Vec<&Registration> =
                    self.registrations.values().filter(|r| r.status == RegistrationStatus::Requested).collect();
                pending.sort_by_key(|r| r.order);
                let pending: Vec<PendingRequest> = pending
                    .into_iter()
                    .map(|r| PendingRequest { staff: r.staff, municipality: r.municipality.clone(), late: r.late })
                    .collect();
                let allocation = fair_allocation(self.id, self.free_seats() as usize, &pending);
                let event = OfferingEvent::SeatsAllocated {
                    round_order: allocation.round_order,
                    confirmed: allocation.confirmed,
                    waitlisted: allocation.waitlisted,
                };
                self.emit(sink, event).await;
            }

            OfferingCommand::RecordAttendance { staff, session, attendance } => {
                if !self.planned {
                    return Err(OfferingError::NotFound);
                }
                if self.cancelled {
                    return Err(OfferingError::OfferingCancelled);
                }
                let slot = self.details().sessions.get(session).ok_or(OfferingError::UnknownSession(session))?;
                if slot.starts_at > now {
                    return Err(OfferingError::SessionNotStarted);
                }
                let reg = self
                    .registrations
                    .get(&staff)
                    .filter(|r| r.status == RegistrationStatus::Confirmed)
                    .ok_or(OfferingError::NotAParticipant)?;
                let event = match reg.attendance.get(&session) {
                    None => OfferingEvent::AttendanceRecorded { staff, session, attendance },
                    Some(before) if *before == attendance => return Ok(()),
                    Some(before) => {
                        OfferingEvent::AttendanceCorrected { staff, session, from: *before, to: attendance }
                    }
                };
                self.emit(sink, event).await;
                // Corrections are new events: a correction after completion re-decides it.
                if self.completed {
                    self.reconsider_completion(staff, sink).await;
                }
            }

            OfferingCommand::CompleteOffering => {
                self.ensure_running()?;
                if !self.allocated {
                    return Err(OfferingError::SeatsNotAllocated);
                }
                if now < self.details().ends_at() {
                    return Err(OfferingError::SessionsNotOver);
                }
                let threshold = self.details().completion_threshold;
                let sessions = self.details().sessions.len();
                let mut participants: Vec<&Registration> =
                    self.registrations.values().filter(|r| r.status == RegistrationStatus::Confirmed).collect();
                participants.sort_by_key(|r| r.order);
                let results: Vec<(StaffId, usize)> = participants.iter().map(|r| (r.staff, r.attended())).collect();
                for (staff, attended) in results {
                    // **Completion**: attending at least the threshold earns a certificate.
                    let event = if threshold.is_met(attended, sessions) {
                        OfferingEvent::ParticipantCompleted {
                            staff,
                            certificate: self.next_certificate(),
                            attended,
                            sessions,
                        }
                    } else {
                        OfferingEvent::ParticipantNotCompleted { staff, attended, sessions }
                    };
                    self.emit(sink, event).await;
                }
                self.emit(sink, OfferingEvent::OfferingCompleted { at: now }).await;
            }

            OfferingCommand::WithdrawCertificate { staff, reason } => {
                if !self.planned {
                    return Err(OfferingError::NotFound);
                }
                let certificate = self
                    .registrations
                    .get(&staff)
                    .and_then(|r| r.certificate.clone())
                    .ok_or(OfferingError::NoCertificate)?;
                let event = OfferingEvent::CertificateWithdrawn { staff, certificate, reason, by_attendance: false };
                self.emit(sink, event).await;
            }

            OfferingCommand::CancelOffering { reason } => {
                self.ensure_running()?;
                self.emit(sink, OfferingEvent::OfferingCancelled { reason, at: now }).await;
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            OfferingEvent::OfferingPlanned { id, package, term, course, title, details, seat_limit } => {
                self.id = id;
                self.planned = true;
                self.package = package;
                self.term = Some(term);
                self.course = Some(course);
                self.title = Some(title);
                self.details = Some(details);
                self.seat_limit = seat_limit.get();
            }
            OfferingEvent::OfferingRevised { details } => self.details = Some(details),
            OfferingEvent::TrainerAssigned { user } => {
                self.trainers.insert(user);
            }
            OfferingEvent::TrainerUnassigned { user } => {
                self.trainers.remove(&user);
            }
            OfferingEvent::SeatLimitChanged { to, .. } => self.seat_limit = to.get(),
            OfferingEvent::RegistrationRequested { staff, municipality, late, .. } => {
                self.enter(staff, municipality, RegistrationStatus::Requested, late);
            }
            OfferingEvent::SeatsAllocated { confirmed, waitlisted, .. } => {
                self.allocated = true;
                for staff in &confirmed {
                    self.set_status(*staff, RegistrationStatus::Confirmed);
                }
                for staff in &waitlisted {
                    self.set_status(*staff, RegistrationStatus::Waiting);
                }
                self.waiting_list = waitlisted;
            }
            OfferingEvent::LateRegistrationConfirmed { staff, municipality, .. } => {
                self.enter(staff, municipality, RegistrationStatus::Confirmed, true);
            }
            OfferingEvent::LateRegistrationWaitlisted { staff, municipality, .. } => {
                self.enter(staff, municipality, RegistrationStatus::Waiting, true);
                self.waiting_list.push(staff);
            }
            OfferingEvent::RegistrationCancelled { staff, charged, .. } => {
                self.set_status(staff, RegistrationStatus::Cancelled { charged });
                self.waiting_list.retain(|s| *s != staff);
            }
            OfferingEvent::SeatTransferred { from, to, .. } => {
                let Some(holder) = self.registrations.get(&from).cloned() else { return };
                self.set_status(from, RegistrationStatus::TransferredAway);
                // The newcomer takes the holder's place: status, priority and waiting-list spot.
                self.registrations.insert(
                    to,
                    Registration {
                        staff: to,
                        attendance: BTreeMap::new(),
                        certificate: None,
                        not_completed: false,
                        certificate_revoked: false,
                        ..holder
                    },
                );
                for waiting in &mut self.waiting_list {
                    if *waiting == from {
                        *waiting = to;
                    }
                }
            }
            OfferingEvent::PromotedFromWaitingList { staff } => {
                self.set_status(staff, RegistrationStatus::Confirmed);
                self.waiting_list.retain(|s| *s != staff);
            }
            OfferingEvent::AttendanceRecorded { staff, session, attendance }
            | OfferingEvent::AttendanceCorrected { staff, session, to: attendance, .. } => {
                if let Some(reg) = self.registrations.get_mut(&staff) {
                    reg.attendance.insert(session, attendance);
                }
            }
            OfferingEvent::ParticipantCompleted { staff, certificate, .. } => {
                self.certificates_issued += 1;
                if let Some(reg) = self.registrations.get_mut(&staff) {
                    reg.certificate = Some(certificate);
                    reg.not_completed = false;
                }
            }
            OfferingEvent::ParticipantNotCompleted { staff, .. } => {
                if let Some(reg) = self.registrations.get_mut(&staff) {
                    reg.not_completed = true;
                }
            }
            OfferingEvent::CertificateWithdrawn { staff, by_attendance, .. } => {
                if let Some(reg) = self.registrations.get_mut(&staff) {
                    reg.certificate = None;
                    reg.not_completed = true;
                    reg.certificate_revoked |= !by_attendance;
                }
            }
            OfferingEvent::OfferingCompleted { .. } => self.completed = true,
            OfferingEvent::OfferingCancelled { .. } => self.cancelled = true,
        }
    }
}

impl Offering {
    fn enter(&mut self, staff: StaffId, municipality: MunicipalityId, status: RegistrationStatus, late: bool) {
        self.next_order += 1;
        let registration = Registration {
            staff,
            municipality,
            status,
            late,
            order: self.next_order,
            attendance: BTreeMap::new(),
            certificate: None,
            not_completed: false,
            certificate_revoked: false,
        };
        self.registrations.insert(staff, registration);
    }

    fn set_status(&mut self, staff: StaffId, status: RegistrationStatus) {
        if let Some(reg) = self.registrations.get_mut(&staff) {
            reg.status = status;
        }
    }
}
