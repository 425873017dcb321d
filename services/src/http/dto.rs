//! Request bodies as clients send them, and their conversion into validated domain
//! types. Nothing unvalidated travels past this module.

use chrono::{DateTime, Utc};
use kurslogg_domain::offering::{OfferingDetails, TargetGroups};
use kurslogg_domain::staff::StaffProfile;
use kurslogg_domain::{
    CompletionThreshold, CourseCode, InvalidValue, PersonName, Place, Sek, Session, StaffId, Text, WorkEmail,
};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use utoipa::ToSchema;

use super::error::ApiError;

/// Parses a one-line text field (a title, unit, place), naming it in the error
/// (docs/decisions/0010).
pub fn text(field: &str, raw: &str) -> Result<Text, ApiError> {
    Text::parse(raw).map_err(|e| refused(field, e))
}

/// Parses a text field of several lines (a description, note or reason), naming it.
pub fn prose(field: &str, raw: &str) -> Result<Text, ApiError> {
    Text::prose(raw).map_err(|e| refused(field, e))
}

/// Parses a person's name, naming the field.
pub fn person_name(field: &str, raw: &str) -> Result<PersonName, ApiError> {
    PersonName::parse(raw).map_err(|e| refused(field, e))
}

/// 422 `validation`: the field, then the domain's (Swedish) reason.
fn refused(field: &str, e: InvalidValue) -> ApiError {
    ApiError::validation(format!("{field}: {}", e.0))
}

/// Parses an enum value given as snake_case text, naming the field in the error.
pub fn choice<T: DeserializeOwned>(field: &str, raw: &str) -> Result<T, ApiError> {
    serde_json::from_value(serde_json::Value::String(raw.to_string()))
        .map_err(|e| ApiError::validation(format!("{field}: {e}")))
}

/// Parses a staff id in a body field.
pub fn staff_id(field: &str, raw: &str) -> Result<StaffId, ApiError> {
    raw.parse().map_err(|_| ApiError::validation(format!("{field}: {raw:?} is not a staff id")))
}

/// Parses a list of course codes.
pub fn course_codes(field: &str, raw: &[String]) -> Result<Vec<CourseCode>, ApiError> {
    raw.iter().map(|c| CourseCode::parse(c).map_err(|e| ApiError::validation(format!("{field}: {}", e.0)))).collect()
}

/// A new catalogue course.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCourse {
    /// Stable code, e.g. `LVU-GRUND`.
    pub code: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Codes of courses to take first.
    #[serde(default)]
    pub prerequisites: Vec<String>,
}

/// A revised catalogue course.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CourseRevision {
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Codes of courses to take first.
    #[serde(default)]
    pub prerequisites: Vec<String>,
}

/// A new member municipality.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMunicipality {
    /// Slug id; made from the name when absent (`Dals-Ed` → `dals-ed`).
    pub id: Option<String>,
    /// Name.
    pub name: String,
    /// Federation, e.g. `Fyrbodal`.
    pub federation: String,
}

/// A role given to or taken from a staff member.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleChange {
    /// The staff member.
    pub staff_id: String,
    /// `coordinator` or `supervisor`.
    pub role: String,
}

/// A trainer's user account, to assign to an offering or take off it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrainerBody {
    /// The trainer's user id (`POST /users` answers it).
    pub user_id: String,
}

/// A staff member's details.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffBody {
    /// Full name.
    pub name: String,
    /// Work e-mail.
    pub work_email: String,
    /// Unit.
    pub unit: String,
    /// Supervisor's staff id.
    pub supervisor_id: Option<String>,
    /// `myndighetsutovning` or `utforare`.
    pub staff_group: String,
    /// `new0_to2`, `years3_to5`, `over5` or `supervisors`.
    pub experience_band: String,
    /// Holds a social-work degree.
    pub social_work_degree: bool,
}

impl StaffBody {
    /// The validated profile.
    pub fn profile(&self) -> Result<StaffProfile, ApiError> {
        Ok(StaffProfile {
            name: person_name("name", &self.name)?,
            work_email: WorkEmail::parse(&self.work_email).map_err(|e| refused("work_email", e))?,
            unit: text("unit", &self.unit)?,
            supervisor: self.supervisor_id.as_deref().map(|s| staff_id("supervisor_id", s)).transpose()?,
            staff_group: choice("staff_group", &self.staff_group)?,
            experience_band: choice("experience_band", &self.experience_band)?,
            social_work_degree: self.social_work_degree,
        })
    }
}

/// One line of a collective registration.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineBody {
    /// The staff member.
    pub staff_id: String,
    /// The offering.
    pub offering_id: String,
    /// Course office only: let unmet prerequisites pass.
    #[serde(default)]
    pub override_prerequisites: bool,
}

/// A municipality's collective registration, lines in its priority order.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CollectiveRegistrationBody {
    /// Lines, most wanted first.
    pub lines: Vec<LineBody>,
}

/// A new course package.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPackage {
    /// Term, e.g. `HT2027`.
    pub term: String,
    /// Title.
    pub title: String,
    /// Organiser.
    pub organiser: String,
    /// Registration deadline (RFC 3339); the term's default when absent.
    pub deadline: Option<DateTime<Utc>>,
    /// A term that already took place, recorded afterwards: its deadline and sessions may
    /// lie in the past (shown in the audit trail). Otherwise a deadline already passed, or
    /// sessions before it, are refused.
    #[serde(default)]
    pub recorded_afterwards: bool,
}

/// A new registration deadline.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeadlineChange {
    /// The deadline (RFC 3339).
    pub deadline: DateTime<Utc>,
}

/// A session of an offering.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionBody {
    /// Start (RFC 3339).
    pub starts_at: DateTime<Utc>,
    /// End (RFC 3339).
    pub ends_at: DateTime<Utc>,
    /// Teaching hours (defaults to the session's length).
    pub hours: Option<f64>,
}

/// An offering's details, as planned or revised.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OfferingBody {
    /// Course code (when planning; ignored on revision).
    pub course: Option<String>,
    /// Description.
    pub description: String,
    /// Target experience bands.
    #[serde(default)]
    pub experience_bands: Vec<String>,
    /// Target staff groups.
    #[serde(default)]
    pub staff_groups: Vec<String>,
    /// Competence areas.
    #[serde(default)]
    pub competence_areas: Vec<String>,
    /// Trainer.
    pub trainer: String,
    /// Venue address, or `digital`.
    pub place: String,
    /// Sessions.
    pub sessions: Vec<SessionBody>,
    /// Seats (when planning).
    pub seat_limit: Option<u32>,
    /// Price per participant in whole SEK.
    pub price_sek: u32,
    /// Percent of sessions to attend for completion (default 80).
    pub completion_threshold: Option<u8>,
    /// Prerequisite course codes; the course's own when absent.
    pub prerequisites: Option<Vec<String>>,
    /// Suggestions for following up at the workplace (in the supervisors' summary).
    pub follow_up: Option<String>,
}

impl OfferingBody {
    /// The validated details (prerequisites filled in by the caller).
    pub fn details(&self) -> Result<OfferingDetails, ApiError> {
        let sessions = self
            .sessions
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let length = (s.ends_at - s.starts_at).num_minutes();
                let minutes = match s.hours {
                    Some(h) if h.is_finite() && h > 0.0 && h <= 24.0 => (h * 60.0).round() as i64,
                    Some(h) => {
                        return Err(ApiError::validation(format!(
                            "sessions[{i}].hours must be between 0 and 24, got {h}"
                        )))
                    }
                    None => length,
                };
                let minutes = u32::try_from(minutes.max(0)).unwrap_or(0);
                Session::new(s.starts_at, s.ends_at, minutes)
                    .map_err(|e| ApiError::validation(format!("sessions[{i}]: {}", e.0)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let threshold = CompletionThreshold::new(self.completion_threshold.unwrap_or(80))
            .map_err(|e| ApiError::validation(format!("completion_threshold: {}", e.0)))?;
        Ok(OfferingDetails {
            description: prose("description", &self.description)?,
            target_groups: TargetGroups {
                experience_bands: self
                    .experience_bands
                    .iter()
                    .map(|b| choice("experience_bands", b))
                    .collect::<Result<_, _>>()?,
                staff_groups: self.staff_groups.iter().map(|g| choice("staff_groups", g)).collect::<Result<_, _>>()?,
            },
            competence_areas: self
                .competence_areas
                .iter()
                .enumerate()
                .map(|(i, a)| text(&format!("competence_areas[{i}]"), a))
                .collect::<Result<_, _>>()?,
            trainer: text("trainer", &self.trainer)?,
            place: if self.place.trim().eq_ignore_ascii_case("digital") {
                Place::Digital
            } else {
                Place::Venue(text("place", &self.place)?)
            },
            sessions,
            price: Sek(self.price_sek),
            completion_threshold: threshold,
            prerequisites: vec![],
            follow_up: self.follow_up.as_deref().map(|f| prose("follow_up", f)).transpose()?,
        })
    }
}

/// A new seat limit.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SeatLimitBody {
    /// Seats, 1-10000.
    pub seat_limit: u32,
}

/// A reason.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonBody {
    /// Why.
    pub reason: String,
}

/// A single registration.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistrationBody {
    /// The staff member.
    pub staff_id: String,
    /// Course office only: let unmet prerequisites pass.
    #[serde(default)]
    pub override_prerequisites: bool,
}

/// A seat transfer.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferBody {
    /// Who takes the seat (same municipality).
    pub to_staff_id: String,
    /// Course office only: let unmet prerequisites pass.
    #[serde(default)]
    pub override_prerequisites: bool,
}

/// Attendance at one session.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttendanceBody {
    /// The participant.
    pub staff_id: String,
    /// Session index, from 0.
    pub session: usize,
    /// `present`, `absent` or `excused`.
    pub attendance: String,
    /// Optional note (kept in the participant's own record).
    pub note: Option<String>,
}

/// Removing a staff member who left.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoveBody {
    /// Give up confirmed seats on courses that have not started (charged), instead of
    /// being refused so that they can be transferred first.
    #[serde(default)]
    pub give_up_seats: bool,
}

/// No body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Empty {}
