//! Use cases: what the course office, coordinators and trainers can do. Each gathers
//! the facts a rule needs from other aggregates, runs the command, and records who did
//! it. HTTP and CLI both call these; nothing here knows about HTTP beyond status codes
//! stored with idempotent answers.

mod access;
// Certificates as documents and their public check (decision 0019).
mod certificates;
mod competence;
mod context;
mod costs;
mod errors;
mod freshness;
mod letters;
pub mod lists;
mod notices;
// The course office's pages' own use cases (decision 0020).
mod office;
mod participation;
mod people;
mod personal;
mod reads;
mod rosters;
mod schedule;
mod teaching;
mod users;
mod writes;
// The course office's follow-up and the auditor's reads (decision 0021).
mod admin;
mod audit;
mod outbox;
mod statistics;

use std::sync::Arc;

use kurslogg_domain::competence::CompetencePlan;
use kurslogg_domain::course::Course;
use kurslogg_domain::municipality::Municipality;
use kurslogg_domain::notice::Notice;
use kurslogg_domain::offering::Offering;
use kurslogg_domain::package::CoursePackage;
use kurslogg_domain::staff::StaffMember;
use kurslogg_domain::Clock;

pub use access::Reach;
pub use certificates::{CheckAnswer, CheckRefused};
pub use competence::{Competence, CompletedCourse, PlanRef, RecommendedCourse};
pub use context::{Actor, CommandContext, Idempotency, Role};
pub use errors::{AppError, Kind};
pub use letters::ReadLetter;
pub use notices::Addressed;
// The course office's pages' own use cases (decision 0020).
pub use office::{
    next_years_term, AllocatedPerson, AllocationExplained, CopyReport, MunicipalityShare, OfficeOverview, ReminderSent,
    SkippedOffering,
};
pub use reads::*;
pub use teaching::Correction;
pub use users::CoordinatorsUnified;
pub use writes::*;
// The course office's follow-up and the auditor's reads (decision 0021).
pub use admin::{made_password, PasswordReset};
pub use audit::{AuditLine, ERASED};
pub use outbox::{OutboxPaging, OutboxRefusal, OutboxRows};
pub use statistics::COUNTS_READERS;

use crate::auth::{Auth, AuthSettings};
use crate::oidc::{Oidc, OidcError, OidcSettings};
use crate::store::{Aggregates, EventLog};
use participation::ParticipationIndex;
use personal::Personal;

/// The application: every aggregate's executor over one event log.
pub struct Kurslogg {
    /// The event log.
    pub log: EventLog,
    /// Source of "now".
    pub clock: Arc<dyn Clock>,
    /// Users, tokens, sessions and the security log.
    pub auth: Auth,
    /// Logins through the municipality's identity provider, when one is configured.
    pub oidc: Option<Oidc>,
    /// The public address certificates name and the limits on checking them (decision 0019).
    certificates: crate::certificates::CertificateSettings,
    courses: Aggregates<Course>,
    packages: Aggregates<CoursePackage>,
    offerings: Aggregates<Offering>,
    municipalities: Aggregates<Municipality>,
    staff: Aggregates<StaffMember>,
    notices: Aggregates<Notice>,
    plans: Aggregates<CompetencePlan>,
    participation: ParticipationIndex,
}

impl Kurslogg {
    /// The application over `log`, with `clock` as the source of "now".
    pub fn new(log: EventLog, clock: Arc<dyn Clock>) -> Self {
        Self {
            courses: Aggregates::new(log.clone(), clock.clone()),
            packages: Aggregates::new(log.clone(), clock.clone()),
            offerings: Aggregates::new(log.clone(), clock.clone()),
            municipalities: Aggregates::new(log.clone(), clock.clone()),
            staff: Aggregates::new(log.clone(), clock.clone()),
            notices: Aggregates::new(log.clone(), clock.clone()),
            plans: Aggregates::new(log.clone(), clock.clone()),
            participation: ParticipationIndex::default(),
            auth: Auth::new(log.views(), clock.clone(), AuthSettings::default()),
            oidc: None,
            certificates: crate::certificates::CertificateSettings::default(),
            log,
            clock,
        }
    }

    /// The same, with these login and session settings.
    pub fn with_auth_settings(mut self, settings: AuthSettings) -> Self {
        self.auth = Auth::new(self.log.views(), self.clock.clone(), settings);
        self
    }

    /// The same, with this public address and these limits for certificates (decision 0019).
    pub fn with_certificate_settings(mut self, settings: crate::certificates::CertificateSettings) -> Self {
        self.certificates = settings;
        self
    }

    /// The same, with logins through this OpenID Connect provider.
    pub fn with_oidc(mut self, settings: OidcSettings) -> Result<Self, OidcError> {
        self.oidc = Some(Oidc::new(settings, self.log.views(), self.clock.clone())?);
        Ok(self)
    }
}
