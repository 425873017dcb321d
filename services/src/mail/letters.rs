//! What each notice says: the facts a letter needs, gathered by the dispatcher from the
//! aggregates when it sends, and rendered from the Swedish templates in
//! `services/templates/mail/` into an HTML body with a plain-text alternative.
//!
//! The facts carry names and addresses only for as long as a letter is being written;
//! the outbox itself refers to people by id.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// A letter ready to send: subject and both bodies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Subject line.
    pub subject: String,
    /// HTML body.
    pub html: String,
    /// Plain-text alternative with the same content.
    pub text: String,
}

/// One of the letters Kurslogg sends, with everything it says.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Letter {
    /// After a course: to a supervisor, about their staff on it.
    CourseSummary(CourseSummary),
    /// After a collective registration: to the municipality's coordinator, every line.
    RegistrationReceipt(RegistrationReceipt),
    /// After the deadline's allocation: to the coordinator, their people's outcomes.
    AllocationResult(AllocationResult),
    /// A freed seat went to someone on the waiting list: to them and their coordinator.
    Promotion(Promotion),
    /// The organiser cancelled an offering: to everyone on it and their coordinators.
    CourseCancelled(CourseCancelled),
    /// The deadline is near and the municipality has not registered.
    DeadlineReminder(DeadlineReminder),
    /// A confirmed seat was given up after the deadline and is charged: to the
    /// municipality's coordinators.
    CancellationCharged(CancellationCharged),
}

/// A course run as the letters describe it.
#[derive(Debug, Clone, Serialize)]
pub struct CourseInfo {
    /// Title, e.g. "LVU grund".
    pub title: String,
    /// Term, e.g. "HT2027".
    pub term: String,
    /// What the run is about.
    pub description: String,
    /// Competence areas it covers.
    pub competence_areas: Vec<String>,
    /// Suggestions for following up at the workplace, when the course office wrote some.
    pub follow_up: Option<String>,
    /// Trainer.
    pub trainer: String,
    /// Venue, or `None` when held online.
    pub venue: Option<String>,
    /// Sessions in time order (UTC; letters show Europe/Stockholm time).
    pub sessions: Vec<SessionTimes>,
}

/// When one session runs.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct SessionTimes {
    /// Start.
    pub starts_at: DateTime<Utc>,
    /// End.
    pub ends_at: DateTime<Utc>,
}

/// The after-course summary to one supervisor.
#[derive(Debug, Clone, Serialize)]
pub struct CourseSummary {
    /// The supervisor's name.
    pub supervisor_name: String,
    /// The course.
    pub course: CourseInfo,
    /// The supervisor's staff who took part, by name.
    pub participants: Vec<SummaryLine>,
}

/// One of the supervisor's staff in a summary.
#[derive(Debug, Clone, Serialize)]
pub struct SummaryLine {
    /// Name.
    pub name: String,
    /// Sessions attended.
    pub attended: usize,
    /// Sessions in all.
    pub sessions: usize,
    /// Met the completion threshold.
    pub completed: bool,
    /// Certificate number, when completed.
    pub certificate: Option<String>,
    /// Where the certificate is as PDF (`{public_url}/certificates/{number}/pdf`, behind
    /// the login; decision 0019), when completed.
    #[serde(default)]
    pub certificate_link: Option<String>,
}

/// Receipt of a collective registration.
#[derive(Debug, Clone, Serialize)]
pub struct RegistrationReceipt {
    /// The coordinator's name.
    pub coordinator_name: String,
    /// The municipality.
    pub municipality_name: String,
    /// When it was received.
    pub received_at: DateTime<Utc>,
    /// Every line, in the municipality's priority order.
    pub lines: Vec<ReceiptLine>,
}

/// One line of a receipt.
#[derive(Debug, Clone, Serialize)]
pub struct ReceiptLine {
    /// The person.
    pub person: String,
    /// The course's title.
    pub course: String,
    /// What became of the line.
    pub outcome: LineOutcome,
    /// Why it was refused (Swedish), when refused.
    pub reason: Option<String>,
}

/// What became of a registration line or request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LineOutcome {
    /// Received; seats are allocated at the deadline.
    Requested,
    /// Has a seat.
    Confirmed,
    /// On the waiting list.
    Waiting,
    /// Refused.
    Refused,
}

/// The allocation result for one municipality of one package.
#[derive(Debug, Clone, Serialize)]
pub struct AllocationResult {
    /// The coordinator's name.
    pub coordinator_name: String,
    /// The municipality.
    pub municipality_name: String,
    /// The package's title.
    pub package_title: String,
    /// Its term.
    pub term: String,
    /// The municipality's people, course by course.
    pub lines: Vec<AllocationLine>,
}

/// One person's outcome on one course.
#[derive(Debug, Clone, Serialize)]
pub struct AllocationLine {
    /// The person.
    pub person: String,
    /// The course's title.
    pub course: String,
    /// First session's start.
    pub starts_at: DateTime<Utc>,
    /// Confirmed or waiting.
    pub outcome: LineOutcome,
    /// Place on the waiting list (1 = first), when waiting.
    pub waiting_place: Option<usize>,
}

/// A promotion from the waiting list.
#[derive(Debug, Clone, Serialize)]
pub struct Promotion {
    /// Who the letter is to.
    pub recipient_name: String,
    /// Who got the seat (the recipient themself, or one of the coordinator's staff).
    pub person_name: String,
    /// The letter goes to the coordinator, not the person.
    pub to_coordinator: bool,
    /// The course.
    pub course: CourseInfo,
}

/// A charged cancellation.
#[derive(Debug, Clone, Serialize)]
pub struct CancellationCharged {
    /// The coordinator the letter is to.
    pub recipient_name: String,
    /// Who gave the seat up.
    pub person_name: String,
    /// The course.
    pub course: CourseInfo,
    /// The fee charged, in whole kronor.
    pub price_sek: u32,
}

/// An offering cancelled by the organiser.
#[derive(Debug, Clone, Serialize)]
pub struct CourseCancelled {
    /// Who the letter is to.
    pub recipient_name: String,
    /// The course.
    pub course: CourseInfo,
    /// Why, as the course office gave it.
    pub reason: String,
    /// Those on the offering the letter concerns: the recipient alone, or the
    /// coordinator's staff.
    pub people: Vec<String>,
    /// The letter goes to a coordinator.
    pub to_coordinator: bool,
}

/// A reminder before the registration deadline.
#[derive(Debug, Clone, Serialize)]
pub struct DeadlineReminder {
    /// The coordinator's name.
    pub coordinator_name: String,
    /// The municipality.
    pub municipality_name: String,
    /// The package's title.
    pub package_title: String,
    /// Its term.
    pub term: String,
    /// The deadline.
    pub deadline: DateTime<Utc>,
    /// Whole days left when the reminder was due (14, 3, ...).
    pub days_left: u32,
    /// The titles of the package's courses.
    pub courses: Vec<String>,
}
