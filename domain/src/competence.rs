//! The federation's competence plan (DOMAIN.md, "The competence plan"): for each
//! experience band, the courses the federation recommends (met jointly, in a suggested
//! order) and the needs met locally at the workplace. The plan is the federation's own
//! data: the course office keeps it, and it changes between years.
//!
//! One aggregate per federation and year ([`CompetencePlanId`], `fyrbodal-2027`).
//! Setting it records the first version; each revision is a new event holding the whole
//! plan, so the log shows what the plan said at any moment. That only catalogue courses
//! are recommended is checked against a fact the service layer gathers from the
//! catalogue ([`CatalogueFacts`], docs/decisions/0002).
//!
//! The rules a supervisor reads the plan by at an appraisal talk are here too:
//! [`applicable_year`] (which year's plan applies) and [`standing`] (where a person
//! stands on one recommended course, from what they have done).

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::{Clock, CourseCode, ExperienceBand, FederationId, InvalidId, OfferingId, Refusal, RefusalKind, Text};

/// A federation's plan for one year, written `fyrbodal-2027`: the federation's id, a
/// hyphen and the year.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CompetencePlanId {
    federation: FederationId,
    year: i32,
}

impl CompetencePlanId {
    /// Years a plan may be for (as a term's).
    pub const YEARS: std::ops::RangeInclusive<i32> = 2000..=2200;

    /// The plan of `federation` for `year`.
    pub fn new(federation: FederationId, year: i32) -> Result<Self, InvalidId> {
        if !Self::YEARS.contains(&year) {
            return Err(InvalidId(format!("en kompetensplan gäller ett år mellan 2000 och 2200, inte {year}")));
        }
        Ok(Self { federation, year })
    }

    /// Parses `fyrbodal-2027` (the year after the last hyphen).
    pub fn parse(raw: &str) -> Result<Self, InvalidId> {
        let bad = || {
            InvalidId(format!(
                "en kompetensplans id är förbundet och året med bindestreck emellan, t.ex. fyrbodal-2027; fick {raw:?}"
            ))
        };
        let (federation, year) = raw.trim().rsplit_once('-').ok_or_else(bad)?;
        if year.len() != 4 || !year.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let year: i32 = year.parse().map_err(|_| bad())?;
        Self::new(FederationId::parse(federation).map_err(|_| bad())?, year)
    }

    /// The federation.
    pub fn federation(&self) -> &FederationId {
        &self.federation
    }

    /// The year.
    pub fn year(&self) -> i32 {
        self.year
    }
}

impl fmt::Display for CompetencePlanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.federation, self.year)
    }
}

impl TryFrom<String> for CompetencePlanId {
    type Error = InvalidId;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<CompetencePlanId> for String {
    fn from(id: CompetencePlanId) -> String {
        id.to_string()
    }
}

/// What the plan says for one experience band.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BandPlan {
    /// The band.
    pub band: ExperienceBand,
    /// Catalogue courses recommended (needs met jointly), in the suggested order.
    pub courses: Vec<CourseCode>,
    /// Needs met locally at the workplace ("skriftlig introduktionsplan", "mentor/fadder").
    pub local_needs: Vec<Text>,
    /// Anything else the plan says for the band.
    pub note: Option<Text>,
}

impl BandPlan {
    fn says_nothing(&self) -> bool {
        self.courses.is_empty() && self.local_needs.is_empty() && self.note.is_none()
    }
}

/// The catalogue as far as a plan needs it: which of the courses it recommends exist.
/// Gathered by the service layer just before the command (docs/decisions/0002).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogueFacts {
    /// The recommended courses that are in the catalogue.
    pub known: BTreeSet<CourseCode>,
}

/// Commands on a competence plan.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum CompetencePlanCommand {
    /// Set a federation's plan for a year (its first version).
    SetCompetencePlan {
        /// Whose plan, for which year.
        id: CompetencePlanId,
        /// One entry per band the plan covers.
        bands: Vec<BandPlan>,
        /// Which of the recommended courses are in the catalogue.
        catalogue: CatalogueFacts,
    },
    /// Revise the plan: the whole plan as it shall now read.
    ReviseCompetencePlan {
        /// One entry per band the plan covers.
        bands: Vec<BandPlan>,
        /// Which of the recommended courses are in the catalogue.
        catalogue: CatalogueFacts,
    },
}

/// Events of a competence plan. Each holds the whole plan as it read from then on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CompetencePlanEvent {
    /// The plan's first version.
    CompetencePlanSet {
        /// The federation.
        federation: FederationId,
        /// The year.
        year: i32,
        /// Per band, in band order.
        bands: Vec<BandPlan>,
    },
    /// A new version of the plan.
    CompetencePlanRevised {
        /// The version this is (the first is 1).
        version: u32,
        /// Per band, in band order.
        bands: Vec<BandPlan>,
    },
}

impl DomainEvent for CompetencePlanEvent {
    fn event_type(&self) -> String {
        match self {
            Self::CompetencePlanSet { .. } => "CompetencePlanSet",
            Self::CompetencePlanRevised { .. } => "CompetencePlanRevised",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        "1".to_string()
    }
}

/// The band as the plan names it, in Swedish (refusals are read by the course office).
fn band_name(band: ExperienceBand) -> &'static str {
    match band {
        ExperienceBand::New0To2 => "nya (0–2 år)",
        ExperienceBand::Years3To5 => "3–5 år",
        ExperienceBand::Over5 => "mer än 5 år",
        ExperienceBand::Supervisors => "arbetsledare",
    }
}

fn codes(courses: &[CourseCode]) -> String {
    courses.iter().map(CourseCode::as_str).collect::<Vec<_>>().join(", ")
}

/// Refusals of competence-plan commands. Their messages are in Swedish: the course
/// office reads them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompetencePlanError {
    /// No plan for this federation and year.
    #[error("Det finns ingen kompetensplan för förbundet det året.")]
    NotFound,
    /// The plan is set already; revise it instead.
    #[error("Kompetensplanen för förbundet det året finns redan; ändra den i stället.")]
    AlreadyExists,
    /// A plan that covers no band says nothing.
    #[error("Planen säger ingenting: ange minst en erfarenhetsgrupp.")]
    EmptyPlan,
    /// A band given twice.
    #[error("Erfarenhetsgruppen {} står mer än en gång i planen.", band_name(*.0))]
    DuplicateBand(ExperienceBand),
    /// A band with no courses, no local needs and no note.
    #[error("Planen för {} är tom: ange kurser, lokala behov eller en anteckning.", band_name(*.0))]
    EmptyBand(ExperienceBand),
    /// A course recommended twice for one band.
    #[error("Kursen {course} står mer än en gång för {}.", band_name(*.band))]
    DuplicateCourse {
        /// The band.
        band: ExperienceBand,
        /// The course.
        course: CourseCode,
    },
    /// Only catalogue courses may be recommended.
    #[error(
        "{} inte i kurskatalogen: {}. Lägg till {} i katalogen först, eller rätta kurskoden.",
        if .0.len() == 1 { "Kursen finns" } else { "Kurserna finns" },
        codes(.0),
        if .0.len() == 1 { "den" } else { "dem" }
    )]
    UnknownCourses(Vec<CourseCode>),
}

impl Refusal for CompetencePlanError {
    fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::AlreadyExists => "already_exists",
            Self::EmptyPlan => "empty_plan",
            Self::DuplicateBand(_) => "duplicate_band",
            Self::EmptyBand(_) => "empty_band",
            Self::DuplicateCourse { .. } => "duplicate_course",
            Self::UnknownCourses(_) => "unknown_course",
        }
    }

    fn swedish(&self) -> String {
        crate::swedish::competence_plan(self)
    }

    fn kind(&self) -> RefusalKind {
        match self {
            Self::NotFound => RefusalKind::NotFound,
            Self::AlreadyExists => RefusalKind::Conflict,
            _ => RefusalKind::Rule,
        }
    }
}

/// **Only catalogue courses may be recommended**, each band at most once and each course
/// at most once per band, and every band says something. Returns the bands in band order
/// (new, 3-5 years, more than 5, supervisors); courses and local needs keep the order
/// given, which is the suggested order.
pub fn validated_bands(
    mut bands: Vec<BandPlan>,
    catalogue: &CatalogueFacts,
) -> Result<Vec<BandPlan>, CompetencePlanError> {
    if bands.is_empty() {
        return Err(CompetencePlanError::EmptyPlan);
    }
    bands.sort_by_key(|b| b.band);
    if let Some(pair) = bands.windows(2).find(|pair| pair[0].band == pair[1].band) {
        return Err(CompetencePlanError::DuplicateBand(pair[0].band));
    }
    let mut unknown: Vec<CourseCode> = Vec::new();
    for band in &bands {
        if band.says_nothing() {
            return Err(CompetencePlanError::EmptyBand(band.band));
        }
        let mut seen = BTreeSet::new();
        for course in &band.courses {
            if !seen.insert(course) {
                return Err(CompetencePlanError::DuplicateCourse { band: band.band, course: course.clone() });
            }
            if !catalogue.known.contains(course) && !unknown.contains(course) {
                unknown.push(course.clone());
            }
        }
    }
    if !unknown.is_empty() {
        return Err(CompetencePlanError::UnknownCourses(unknown));
    }
    Ok(bands)
}

/// **Which plan applies** in `year`: the latest plan whose year is at most `year` (a plan
/// stands until the federation sets the next one). `None` when every plan is for later.
pub fn applicable_year(plan_years: impl IntoIterator<Item = i32>, year: i32) -> Option<i32> {
    plan_years.into_iter().filter(|y| *y <= year).max()
}

/// A federation's competence plan for one year.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CompetencePlan {
    /// Whose and which year (None until set).
    pub id: Option<CompetencePlanId>,
    /// The current version (0 until set).
    pub version: u32,
    /// Per band, in band order.
    pub bands: Vec<BandPlan>,
}

impl CompetencePlan {
    /// What the plan says for `band`, if it covers it.
    pub fn band(&self, band: ExperienceBand) -> Option<&BandPlan> {
        self.bands.iter().find(|b| b.band == band)
    }
}

impl Aggregate for CompetencePlan {
    const TYPE: &'static str = "competence_plan";
    type Command = CompetencePlanCommand;
    type Event = CompetencePlanEvent;
    type Error = CompetencePlanError;
    type Services = Arc<dyn Clock>;

    async fn handle(
        &mut self,
        command: CompetencePlanCommand,
        _clock: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), CompetencePlanError> {
        let event = match command {
            CompetencePlanCommand::SetCompetencePlan { id, bands, catalogue } => {
                if self.id.is_some() {
                    return Err(CompetencePlanError::AlreadyExists);
                }
                let bands = validated_bands(bands, &catalogue)?;
                CompetencePlanEvent::CompetencePlanSet { federation: id.federation, year: id.year, bands }
            }
            CompetencePlanCommand::ReviseCompetencePlan { bands, catalogue } => {
                if self.id.is_none() {
                    return Err(CompetencePlanError::NotFound);
                }
                let bands = validated_bands(bands, &catalogue)?;
                // The same plan again is no new version.
                if bands == self.bands {
                    return Ok(());
                }
                CompetencePlanEvent::CompetencePlanRevised { version: self.version + 1, bands }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: CompetencePlanEvent) {
        match event {
            CompetencePlanEvent::CompetencePlanSet { federation, year, bands } => {
                self.id = Some(CompetencePlanId { federation, year });
                self.version = 1;
                self.bands = bands;
            }
            CompetencePlanEvent::CompetencePlanRevised { version, bands } => {
                self.version = version;
                self.bands = bands;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Where a person stands against the plan
// ---------------------------------------------------------------------------------------

/// A person's registration on an offering, as far as their standing on its course goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Participation {
    /// The offering.
    pub offering: OfferingId,
    /// Its course.
    pub course: CourseCode,
    /// Where the registration stands.
    pub status: RegistrationState,
    /// The organiser cancelled the offering.
    pub offering_cancelled: bool,
    /// Completion, once decided.
    pub outcome: Option<Outcome>,
    /// When the offering's first session starts.
    pub starts_at: DateTime<Utc>,
}

/// Where a registration stands (as a participant's record names it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationState {
    /// Awaits allocation at the deadline.
    Requested,
    /// Holds a seat.
    Confirmed,
    /// On the waiting list.
    Waiting,
    /// Cancelled.
    Cancelled,
    /// The seat went to a colleague.
    TransferredAway,
}

/// Whether a participant completed an offering, once decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Attended enough; has a certificate.
    Completed,
    /// Attended too little (or the certificate was withdrawn).
    NotCompleted,
}

/// Where a person stands on one course of their plan, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    /// Completed an offering of it.
    Completed,
    /// Holds a seat on an offering that has not been completed yet.
    Confirmed,
    /// Registered; seats are allocated at the deadline.
    Requested,
    /// On an offering's waiting list.
    Waiting,
    /// Took part but did not complete (attended too little, or the certificate was
    /// withdrawn).
    NotCompleted,
    /// Was registered, but cancelled, gave the seat to a colleague, or the organiser
    /// cancelled the offering.
    Cancelled,
    /// Never registered.
    NotYet,
}

impl Participation {
    fn standing(&self) -> Standing {
        match (self.outcome, self.status) {
            (Some(Outcome::Completed), _) => Standing::Completed,
            _ if self.offering_cancelled => Standing::Cancelled,
            (_, RegistrationState::Cancelled | RegistrationState::TransferredAway) => Standing::Cancelled,
            (Some(Outcome::NotCompleted), _) => Standing::NotCompleted,
            (None, RegistrationState::Confirmed) => Standing::Confirmed,
            (None, RegistrationState::Requested) => Standing::Requested,
            (None, RegistrationState::Waiting) => Standing::Waiting,
        }
    }
}

/// Where a person stands on a course, and on which of their offerings of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CourseStanding {
    /// The standing.
    pub standing: Standing,
    /// The offering it comes from; `None` for [`Standing::NotYet`].
    pub offering: Option<OfferingId>,
}

/// **Where a person stands on a recommended course**, from their registrations on its
/// offerings: the best of them counts. Done is done (completed beats everything); then a
/// registration still running (a seat before a request before a waiting-list place),
/// then having taken part without completing, then a cancellation; otherwise not yet.
/// Of several equally good, a registration still running counts by the offering that
/// starts first (the next one); anything else by the one that started last.
pub fn standing(course: &CourseCode, history: &[Participation]) -> CourseStanding {
    let best = history.iter().filter(|p| &p.course == course).min_by(|a, b| {
        let (sa, sb) = (a.standing(), b.standing());
        let running = matches!(sa, Standing::Confirmed | Standing::Requested | Standing::Waiting);
        sa.cmp(&sb).then_with(|| if running { a.starts_at.cmp(&b.starts_at) } else { b.starts_at.cmp(&a.starts_at) })
    });
    match best {
        Some(p) => CourseStanding { standing: p.standing(), offering: Some(p.offering) },
        None => CourseStanding { standing: Standing::NotYet, offering: None },
    }
}

/// **Done outside the plan**: the offerings a person completed whose course the plan does
/// not recommend for them, in the order given.
pub fn completed_outside_plan(recommended: &[CourseCode], history: &[Participation]) -> Vec<OfferingId> {
    history
        .iter()
        .filter(|p| p.outcome == Some(Outcome::Completed) && !recommended.contains(&p.course))
        .map(|p| p.offering)
        .collect()
}
