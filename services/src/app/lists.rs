//! The lists the web pages and the JSON API page through: course packages, a package's
//! offerings (the catalogue), the courses, a municipality's staff, a supervisor's staff,
//! and a municipality's registrations on a package. Each is a plain, serialisable
//! [`Listed`] page that a JSON handler returns as it is and a template renders.
//!
//! One convention for all of them:
//! - **Paging**: `limit` (1 to [`MAX_LIMIT`], default [`DEFAULT_LIMIT`]) and `offset`
//!   (from 0); the answer has `items`, `total` (how many match in all), `limit`, `offset`,
//!   `next` (the offset of the next page, null on the last) and `position` (the log
//!   position the views reflected).
//! - **Filters** are exact values (`status=paused`); an empty value filters nothing (a
//!   form's "all" choice). One that does not parse, a parameter given twice and an unknown
//!   parameter are refused with [`InvalidFilter`], which names the field and says in
//!   Swedish what to give instead (422 `validation` over HTTP).
//! - **Freshness**: `min_position`, `as_of` or `as_of_position`, as for every view
//!   ([`ViewAt`]).
//! - **Access**: as for the rest of the API (`access.rs`): course information for every
//!   user; a municipality's staff and registrations for the course office, auditors and
//!   its own coordinators; a supervisor's staff for them, their municipality's
//!   coordinators, the course office and auditors. Reading people's lists is written to
//!   the security log, one line per person shown, like every read of a person's record.
//!
//! The queries are in `kurslogg_projections::views` (`packages`, `catalogue`, `staff`,
//! `registrations`); names are opened here from each person's own stream, so the staff
//! lists are sorted by name here, after the query.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use kurslogg_domain::package::PackagePhase;
use kurslogg_domain::staff::StaffStatus;
use kurslogg_domain::{ExperienceBand, FederationId, MunicipalityId, OfferingId, PackageId, StaffGroup, StaffId, Term};
use kurslogg_projections::enrolment::{self, Enrolment};
use kurslogg_projections::history::{self, AsOf, Scope};
use kurslogg_projections::views::statistics::swedish_order;
use kurslogg_projections::views::{catalogue, competence, packages, registrations, staff};
use kurslogg_projections::{Db, ProjectionError};
use serde::de::DeserializeOwned;
use serde::Serialize;
use utoipa::ToSchema;

use super::{Actor, AppError, Kurslogg};
use crate::auth::Origin;
use crate::store::StoreError;

// What the lists hold and are filtered by, as the queries give them.
pub use kurslogg_projections::views::catalogue::{
    CatalogueOffering, CourseItem, CourseRef, OfferingFilter, SessionItem,
};
pub use kurslogg_projections::views::competence::CompetencePlanView;
pub use kurslogg_projections::views::packages::{PackageFilter, PackageItem};
pub use kurslogg_projections::views::registrations::{RegistrationFilter, RegistrationItem};
pub use kurslogg_projections::views::staff::{StaffFilter, StaffListItem, StaffOf};

/// Items on a page when `limit` is not given.
pub const DEFAULT_LIMIT: usize = 50;
/// The most items on one page.
pub const MAX_LIMIT: usize = 500;

/// How long a list waits for the views to reach `min_position`.
const FRESHNESS_WAIT: Duration = Duration::from_secs(5);

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Listed<T> {
    /// The items on this page.
    pub items: Vec<T>,
    /// How many items match, on every page together.
    pub total: usize,
    /// The most items on a page, as asked.
    pub limit: usize,
    /// Items skipped before this page, as asked.
    pub offset: usize,
    /// The `offset` of the next page; null on the last.
    pub next: Option<usize>,
    /// The log position the views reflected.
    pub position: i64,
}

impl<T> Listed<T> {
    /// The page `paging` asks for of `all`.
    fn page(all: Vec<T>, paging: Paging, position: i64) -> Self {
        let total = all.len();
        let items: Vec<T> = all.into_iter().skip(paging.offset).take(paging.limit).collect();
        let end = paging.offset.saturating_add(paging.limit);
        Listed {
            items,
            total,
            limit: paging.limit,
            offset: paging.offset,
            next: (end < total).then_some(end),
            position,
        }
    }
}

/// A filter that does not parse: which field, and what to give instead (Swedish, for the
/// person who reads it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {detail}")]
pub struct InvalidFilter {
    /// The query parameter, e.g. `status`.
    pub field: String,
    /// What is wrong, in Swedish.
    pub detail: String,
}

impl InvalidFilter {
    fn new(field: &str, detail: impl Into<String>) -> Self {
        Self { field: field.to_string(), detail: detail.into() }
    }
}

impl From<InvalidFilter> for AppError {
    fn from(e: InvalidFilter) -> Self {
        AppError::Validation(e.to_string())
    }
}

impl From<ProjectionError> for AppError {
    fn from(e: ProjectionError) -> Self {
        match e {
            ProjectionError::Database(e) => AppError::Store(StoreError::Database(e)),
            other => AppError::Store(StoreError::Corrupt(other.to_string())),
        }
    }
}

/// Which page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    /// At most this many items (1 to [`MAX_LIMIT`]).
    pub limit: usize,
    /// After skipping this many.
    pub offset: usize,
}

impl Default for Paging {
    fn default() -> Self {
        Self { limit: DEFAULT_LIMIT, offset: 0 }
    }
}

/// Which state of the views a list answers from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ViewAt {
    /// As they are.
    #[default]
    Now,
    /// Once they include this log position (waiting up to 5 s): read-your-writes after a
    /// command that answered with it.
    Reached(i64),
    /// As the log stood then, rebuilt from the log (docs/decisions/0005).
    AsOf(AsOf),
}

/// A query string as name-value pairs, read once each: what is left over is unknown.
struct Params<'a> {
    pairs: &'a [(String, String)],
    known: Vec<&'static str>,
}

impl<'a> Params<'a> {
    fn new(pairs: &'a [(String, String)]) -> Self {
        Self { pairs, known: Vec::new() }
    }

    /// The value of `name`, `None` when absent or empty; refused when given twice.
    fn get(&mut self, name: &'static str) -> Result<Option<&'a str>, InvalidFilter> {
        self.known.push(name);
        let mut values = self.pairs.iter().filter(|(n, _)| n == name).map(|(_, v)| v.trim());
        let value = values.next();
        if values.next().is_some() {
            return Err(InvalidFilter::new(name, "ange parametern högst en gång"));
        }
        Ok(value.filter(|v| !v.is_empty()))
    }

    /// `name` as one of a domain type's values (snake_case), given back as its canonical text.
    fn choice<T: DeserializeOwned + Serialize>(
        &mut self,
        name: &'static str,
        what: &str,
        values: &str,
    ) -> Result<Option<String>, InvalidFilter> {
        self.get(name)?
            .map(|raw| {
                serde_json::from_value::<T>(serde_json::Value::String(raw.to_string()))
                    .ok()
                    .and_then(|v| serde_json::to_value(v).ok())
                    .and_then(|v| v.as_str().map(str::to_string))
                    .ok_or_else(|| InvalidFilter::new(name, format!("okänd {what} {raw:?}; välj {values}")))
            })
            .transpose()
    }

    /// `name` as an id of type `T`.
    fn id<T: std::str::FromStr + ToString>(
        &mut self,
        name: &'static str,
        what: &str,
    ) -> Result<Option<String>, InvalidFilter> {
        self.get(name)?
            .map(|raw| {
                raw.parse::<T>()
                    .map(|id| id.to_string())
                    .map_err(|_| InvalidFilter::new(name, format!("{raw:?} är inget {what}")))
            })
            .transpose()
    }

    /// `limit` and `offset`.
    fn paging(&mut self) -> Result<Paging, InvalidFilter> {
        let number = |name: &'static str, raw: &str, min: usize, max: usize| {
            raw.parse::<usize>().ok().filter(|n| (min..=max).contains(n)).ok_or_else(|| {
                let range = if max == usize::MAX { format!("från {min}") } else { format!("från {min} till {max}") };
                InvalidFilter::new(name, format!("ange ett heltal {range}, inte {raw:?}"))
            })
        };
        let limit = self.get("limit")?.map(|raw| number("limit", raw, 1, MAX_LIMIT)).transpose()?;
        let offset = self.get("offset")?.map(|raw| number("offset", raw, 0, usize::MAX)).transpose()?;
        Ok(Paging { limit: limit.unwrap_or(DEFAULT_LIMIT), offset: offset.unwrap_or(0) })
    }

    /// `min_position`, `as_of` or `as_of_position` (at most one).
    fn view_at(&mut self) -> Result<ViewAt, InvalidFilter> {
        let position = |name: &'static str, raw: &str| {
            raw.parse::<i64>().ok().filter(|p| *p >= 0).ok_or_else(|| {
                InvalidFilter::new(name, format!("ange en position i loggen (ett heltal från 0), inte {raw:?}"))
            })
        };
        let min_position = self.get("min_position")?.map(|raw| position("min_position", raw)).transpose()?;
        let as_of_position = self.get("as_of_position")?.map(|raw| position("as_of_position", raw)).transpose()?;
        let as_of = self
            .get("as_of")?
            .map(|raw| {
                chrono::DateTime::parse_from_rfc3339(raw).map(|t| t.with_timezone(&chrono::Utc)).map_err(|_| {
                    InvalidFilter::new(
                        "as_of",
                        format!("ange en tidpunkt enligt RFC 3339, till exempel 2027-06-15T21:59:00Z, inte {raw:?}"),
                    )
                })
            })
            .transpose()?;
        match (min_position, as_of, as_of_position) {
            (None, None, None) => Ok(ViewAt::Now),
            (Some(p), None, None) => Ok(ViewAt::Reached(p)),
            (None, Some(at), None) => Ok(ViewAt::AsOf(AsOf::Instant(at))),
            (None, None, Some(p)) => Ok(ViewAt::AsOf(AsOf::Position(p))),
            _ => Err(InvalidFilter::new("as_of", "ange högst en av min_position, as_of och as_of_position")),
        }
    }

    /// Refuses any parameter not read.
    fn done(self) -> Result<(), InvalidFilter> {
        match self.pairs.iter().find(|(name, _)| !self.known.contains(&name.as_str())) {
            Some((name, _)) => {
                Err(InvalidFilter::new(name, format!("okänd parameter; här går att ange {}", self.known.join(", "))))
            }
            None => Ok(()),
        }
    }
}

const PHASES: &str = "draft, published, registration_closed eller archived";
const STAFF_STATUSES: &str = "active, paused, removed eller erased";
const STAFF_GROUPS: &str = "myndighetsutovning eller utforare";
const BANDS: &str = "new0_to2, years3_to5, over5 eller supervisors";
const REGISTRATION_STATUSES: &str = "requested, confirmed, waiting, cancelled eller transferred_away";

/// The list of course packages: `term`, `phase`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackagesQuery {
    /// Which packages.
    pub filter: PackageFilter,
    /// Which page.
    pub paging: Paging,
    /// As of when.
    pub at: ViewAt,
}

impl PackagesQuery {
    /// Parses a query string's pairs.
    pub fn parse(pairs: &[(String, String)]) -> Result<Self, InvalidFilter> {
        let mut p = Params::new(pairs);
        let term = p
            .get("term")?
            .map(|raw| {
                Term::parse(raw).map(|t| t.to_string()).map_err(|_| {
                    InvalidFilter::new("term", format!("ange en termin som HT2027 eller VT2028, inte {raw:?}"))
                })
            })
            .transpose()?;
        let phase = p.choice::<PackagePhase>("phase", "fas", PHASES)?;
        let query = Self { filter: PackageFilter { term, phase }, paging: p.paging()?, at: p.view_at()? };
        p.done()?;
        Ok(query)
    }
}

/// A package's offerings: `experience_band`, `staff_group`, `competence_area`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OfferingsQuery {
    /// Which offerings.
    pub filter: OfferingFilter,
    /// Which page.
    pub paging: Paging,
    /// As of when.
    pub at: ViewAt,
}

impl OfferingsQuery {
    /// Parses a query string's pairs.
    pub fn parse(pairs: &[(String, String)]) -> Result<Self, InvalidFilter> {
        let mut p = Params::new(pairs);
        let filter = OfferingFilter {
            experience_band: p.choice::<ExperienceBand>("experience_band", "erfarenhet", BANDS)?,
            staff_group: p.choice::<StaffGroup>("staff_group", "personalgrupp", STAFF_GROUPS)?,
            competence_area: p.get("competence_area")?.map(str::to_string),
        };
        let query = Self { filter, paging: p.paging()?, at: p.view_at()? };
        p.done()?;
        Ok(query)
    }
}

/// The courses: paging only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CoursesQuery {
    /// Which page.
    pub paging: Paging,
    /// As of when.
    pub at: ViewAt,
}

impl CoursesQuery {
    /// Parses a query string's pairs.
    pub fn parse(pairs: &[(String, String)]) -> Result<Self, InvalidFilter> {
        let mut p = Params::new(pairs);
        let query = Self { paging: p.paging()?, at: p.view_at()? };
        p.done()?;
        Ok(query)
    }
}

/// The federations' competence plans: `federation`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompetencePlansQuery {
    /// Only this federation's plans.
    pub federation: Option<FederationId>,
    /// Which page.
    pub paging: Paging,
    /// As of when.
    pub at: ViewAt,
}

impl CompetencePlansQuery {
    /// Parses a query string's pairs.
    pub fn parse(pairs: &[(String, String)]) -> Result<Self, InvalidFilter> {
        let mut p = Params::new(pairs);
        let federation = p
            .get("federation")?
            .map(|raw| {
                FederationId::parse(raw).map_err(|_| {
                    InvalidFilter::new(
                        "federation",
                        format!("{raw:?} är inget förbunds id (a–z, 0–9 och '-', till exempel fyrbodal)"),
                    )
                })
            })
            .transpose()?;
        let query = Self { federation, paging: p.paging()?, at: p.view_at()? };
        p.done()?;
        Ok(query)
    }
}

/// A staff list: `status`, `staff_group`, `experience_band`, and (a municipality's)
/// `supervisor`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StaffQuery {
    /// Which people.
    pub filter: StaffFilter,
    /// Which page.
    pub paging: Paging,
    /// As of when.
    pub at: ViewAt,
}

impl StaffQuery {
    /// Parses a query string's pairs for a municipality's staff.
    pub fn parse(pairs: &[(String, String)]) -> Result<Self, InvalidFilter> {
        Self::parse_with(pairs, true)
    }

    /// Parses a query string's pairs for a supervisor's staff (no `supervisor` filter:
    /// the supervisor is given).
    pub fn parse_supervised(pairs: &[(String, String)]) -> Result<Self, InvalidFilter> {
        Self::parse_with(pairs, false)
    }

    fn parse_with(pairs: &[(String, String)], by_supervisor: bool) -> Result<Self, InvalidFilter> {
        let mut p = Params::new(pairs);
        let supervisor = if by_supervisor { p.id::<StaffId>("supervisor", "personal-id")? } else { None };
        let filter = StaffFilter {
            supervisor,
            status: p.choice::<StaffStatus>("status", "status", STAFF_STATUSES)?,
            staff_group: p.choice::<StaffGroup>("staff_group", "personalgrupp", STAFF_GROUPS)?,
            experience_band: p.choice::<ExperienceBand>("experience_band", "erfarenhet", BANDS)?,
        };
        let query = Self { filter, paging: p.paging()?, at: p.view_at()? };
        p.done()?;
        Ok(query)
    }
}

/// A municipality's registrations: `package` (required), `status`, `offering`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationsQuery {
    /// On which package.
    pub package: PackageId,
    /// Which lines.
    pub filter: RegistrationFilter,
    /// Which page.
    pub paging: Paging,
    /// As of when.
    pub at: ViewAt,
}

impl RegistrationsQuery {
    /// Parses a query string's pairs.
    pub fn parse(pairs: &[(String, String)]) -> Result<Self, InvalidFilter> {
        let mut p = Params::new(pairs);
        let package = match p.get("package")? {
            None => return Err(InvalidFilter::new("package", "ange vilket kurspaket (dess id)")),
            Some(raw) => raw
                .parse::<PackageId>()
                .map_err(|_| InvalidFilter::new("package", format!("{raw:?} är inget kurspakets id")))?,
        };
        let status = p.get("status")?.map(registration_status).transpose()?;
        let filter = RegistrationFilter { status, offering: p.id::<OfferingId>("offering", "kurstillfälles id")? };
        let query = Self { package, filter, paging: p.paging()?, at: p.view_at()? };
        p.done()?;
        Ok(query)
    }
}

fn registration_status(raw: &str) -> Result<String, InvalidFilter> {
    const KNOWN: [&str; 5] = ["requested", "confirmed", "waiting", "cancelled", "transferred_away"];
    KNOWN
        .iter()
        .find(|s| **s == raw)
        .map(|s| s.to_string())
        .ok_or_else(|| InvalidFilter::new("status", format!("okänd status {raw:?}; välj {REGISTRATION_STATUSES}")))
}

impl Kurslogg {
    /// The views as `at` asks, and the log position they reflect.
    pub(crate) async fn views_at(&self, at: ViewAt) -> Result<(Db, i64), AppError> {
        let live = self.log.views();
        let db = match at {
            ViewAt::Now => live,
            ViewAt::Reached(position) => {
                if !crate::views::wait_for(&live, Enrolment, position, FRESHNESS_WAIT).await? {
                    return Err(AppError::ViewsBehind(position));
                }
                live
            }
            ViewAt::AsOf(as_of) => history::views_as_of(&live, as_of, &Scope::Everything).await?,
        };
        let position = kurslogg_projections::views::position(&db, enrolment::NAME).await?;
        Ok((db, position))
    }

    /// The course packages, newest term first. Course information: every user.
    pub async fn list_packages(&self, query: &PackagesQuery) -> Result<Listed<PackageItem>, AppError> {
        let (db, position) = self.views_at(query.at).await?;
        let all = packages::packages(&db, &query.filter, self.clock.now()).await?;
        Ok(Listed::page(all, query.paging, position))
    }

    /// A package's offerings as the catalogue shows them, by first session. Course
    /// information: every user.
    pub async fn list_package_offerings(
        &self,
        package: PackageId,
        query: &OfferingsQuery,
    ) -> Result<Listed<CatalogueOffering>, AppError> {
        let (db, position) = self.views_at(query.at).await?;
        let all = catalogue::package_offerings(&db, &package.to_string(), &query.filter)
            .await?
            .ok_or_else(|| AppError::not_found("course package"))?;
        let mut listed = Listed::page(all, query.paging, position);
        let users: BTreeSet<&String> = listed.items.iter().flat_map(|o| &o.trainer_users).collect();
        let mut names = HashMap::new();
        for user in users {
            // A disabled account (one that left, or was erased) no longer teaches.
            if let Some(u) = self.auth.user(user).await?.filter(|u| u.disabled_at.is_none()) {
                names.insert(user.clone(), u.display_name);
            }
        }
        for offering in &mut listed.items {
            offering.trainers = offering.trainer_users.iter().filter_map(|u| names.get(u).cloned()).collect();
            offering.trainers.sort_by(|a, b| swedish_order(a, b));
        }
        Ok(listed)
    }

    /// The courses in the catalogue, by title. Course information: every user.
    pub async fn list_courses(&self, query: &CoursesQuery) -> Result<Listed<CourseItem>, AppError> {
        let (db, position) = self.views_at(query.at).await?;
        Ok(Listed::page(catalogue::courses(&db).await?, query.paging, position))
    }

    /// A municipality's staff, by name (the erased, who have none, last): the course
    /// office, auditors and its own coordinators.
    pub async fn list_municipality_staff(
        &self,
        actor: &Actor,
        origin: &Origin,
        municipality: &MunicipalityId,
        query: &StaffQuery,
    ) -> Result<Listed<StaffListItem>, AppError> {
        self.ensure_may_see_municipality(actor, municipality)?;
        if self.municipalities.inspect(municipality.as_str(), |_| ()).await?.is_none() {
            return Err(AppError::not_found("municipality"));
        }
        let of = StaffOf::Municipality(municipality.to_string());
        self.staff_list(actor, origin, &of, query, "staff list").await
    }

    /// The staff who name `supervisor` as their supervisor, by name: the supervisor
    /// themselves, their municipality's coordinators, the course office and auditors.
    pub async fn list_supervised_staff(
        &self,
        actor: &Actor,
        origin: &Origin,
        supervisor: StaffId,
        query: &StaffQuery,
    ) -> Result<Listed<StaffListItem>, AppError> {
        self.ensure_may_see_supervised(actor, supervisor).await?;
        if self.staff.inspect(&supervisor.to_string(), |_| ()).await?.is_none() {
            return Err(AppError::not_found("staff member"));
        }
        let of = StaffOf::Supervisor(supervisor.to_string());
        self.staff_list(actor, origin, &of, query, "supervised staff list").await
    }

    async fn staff_list(
        &self,
        actor: &Actor,
        origin: &Origin,
        of: &StaffOf,
        query: &StaffQuery,
        what: &str,
    ) -> Result<Listed<StaffListItem>, AppError> {
        let (db, position) = self.views_at(query.at).await?;
        let mut all = staff::staff(&db, of, &query.filter).await?;
        let ids: Vec<StaffId> = all.iter().filter_map(|p| p.staff_id.parse().ok()).collect();
        let mut names = self.staff_names(&ids).await?;
        for person in &mut all {
            person.name = person.staff_id.parse().ok().and_then(|id| names.remove(&id));
        }
        // Named people by name, the Swedish way; the erased (no name) after them.
        all.sort_by(|a, b| match (&a.name, &b.name) {
            (Some(x), Some(y)) => swedish_order(x, y).then_with(|| a.staff_id.cmp(&b.staff_id)),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => a.staff_id.cmp(&b.staff_id),
        });
        let listed = Listed::page(all, query.paging, position);
        let shown: Vec<StaffId> = listed.items.iter().filter_map(|p| p.staff_id.parse().ok()).collect();
        self.note_people_read(actor, origin, &shown, what).await?;
        Ok(listed)
    }

    /// A municipality's registration lines on a package, by offering, in the
    /// municipality's priority order: the course office, auditors and its own coordinators.
    pub async fn list_municipality_registrations(
        &self,
        actor: &Actor,
        origin: &Origin,
        municipality: &MunicipalityId,
        query: &RegistrationsQuery,
    ) -> Result<Listed<RegistrationItem>, AppError> {
        self.ensure_may_see_municipality(actor, municipality)?;
        if self.municipalities.inspect(municipality.as_str(), |_| ()).await?.is_none() {
            return Err(AppError::not_found("municipality"));
        }
        let (db, position) = self.views_at(query.at).await?;
        let all = registrations::municipality_registrations(
            &db,
            municipality.as_str(),
            &query.package.to_string(),
            &query.filter,
        )
        .await?
        .ok_or_else(|| AppError::not_found("course package"))?;
        let mut listed = Listed::page(all, query.paging, position);
        let shown: Vec<StaffId> = listed.items.iter().filter_map(|l| l.staff_id.parse().ok()).collect();
        let names = self.staff_names(&shown).await?;
        for line in &mut listed.items {
            line.name = line.staff_id.parse().ok().and_then(|id| names.get(&id).cloned());
        }
        let people: BTreeSet<StaffId> = shown.into_iter().collect();
        self.note_people_read(actor, origin, &people.into_iter().collect::<Vec<_>>(), "registrations list").await?;
        Ok(listed)
    }

    /// The federations' competence plans (or one federation's), by federation and then
    /// year, each as its current version reads. Every user.
    pub async fn list_competence_plans(
        &self,
        query: &CompetencePlansQuery,
    ) -> Result<Listed<CompetencePlanView>, AppError> {
        let (db, position) = self.views_at(query.at).await?;
        let all = competence::competence_plans(&db, query.federation.as_ref().map(FederationId::as_str)).await?;
        Ok(Listed::page(all, query.paging, position))
    }
}

impl Kurslogg {
    /// The courses still to come in the packages sent out (published, or allocated after
    /// the deadline): offerings not cancelled or completed with a session after now, first
    /// session first. For the pages' calendar and the calendar feed of coming courses.
    pub async fn coming_courses(&self) -> Result<Vec<CatalogueOffering>, AppError> {
        let all = Paging { limit: MAX_LIMIT, offset: 0 };
        let now = self.clock.now();
        let packages = self.list_packages(&PackagesQuery { paging: all, ..PackagesQuery::default() }).await?.items;
        let mut coming = vec![];
        for package in packages.iter().filter(|p| matches!(p.phase.as_str(), "published" | "registration_closed")) {
            let Ok(id) = package.id.parse::<PackageId>() else { continue };
            let query = OfferingsQuery { paging: all, ..OfferingsQuery::default() };
            for offering in self.list_package_offerings(id, &query).await?.items {
                let ahead = offering
                    .sessions
                    .iter()
                    .any(|s| chrono::DateTime::parse_from_rfc3339(&s.starts_at).is_ok_and(|at| at > now));
                if ahead && matches!(offering.state.as_str(), "open" | "allocated") {
                    coming.push(offering);
                }
            }
        }
        coming.sort_by(|a, b| a.starts_at.cmp(&b.starts_at).then_with(|| a.title.cmp(&b.title)));
        Ok(coming)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(query: &str) -> Vec<(String, String)> {
        query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (n, v) = p.split_once('=').unwrap_or((p, ""));
                (n.to_string(), v.to_string())
            })
            .collect()
    }

    #[test]
    fn a_page_says_where_the_next_one_starts_and_the_last_says_none() {
        let page = Listed::<String>::page((0..5).map(|i| i.to_string()).collect(), Paging { limit: 2, offset: 2 }, 7);
        assert_eq!((page.items, page.total, page.next, page.position), (vec!["2".into(), "3".into()], 5, Some(4), 7));
        let last = Listed::<String>::page((0..5).map(|i| i.to_string()).collect(), Paging { limit: 2, offset: 4 }, 7);
        assert_eq!((last.items.len(), last.next), (1, None));
        let beyond = Listed::<String>::page(vec!["a".into()], Paging { limit: 2, offset: 9 }, 7);
        assert_eq!((beyond.items.len(), beyond.total, beyond.next), (0, 1, None));
    }

    #[test]
    fn filters_parse_to_the_domains_values_and_empty_ones_filter_nothing() {
        let q = StaffQuery::parse(&pairs("status=paused&experience_band=years3_to5&staff_group=&limit=10&offset=20"))
            .unwrap();
        assert_eq!(q.filter.status.as_deref(), Some("paused"));
        assert_eq!(q.filter.experience_band.as_deref(), Some("years3_to5"));
        assert_eq!(q.filter.staff_group, None);
        assert_eq!(q.paging, Paging { limit: 10, offset: 20 });
        let q = PackagesQuery::parse(&pairs("term=ht2027&phase=registration_closed&min_position=12")).unwrap();
        assert_eq!(
            (q.filter.term.as_deref(), q.filter.phase.as_deref()),
            (Some("HT2027"), Some("registration_closed"))
        );
        assert_eq!(q.at, ViewAt::Reached(12));
    }

    #[test]
    fn a_filter_that_does_not_parse_names_its_field_in_swedish() {
        let refused = |query: &str| StaffQuery::parse(&pairs(query)).unwrap_err();
        assert_eq!(refused("status=sleeping").field, "status");
        assert!(refused("status=sleeping").detail.contains("välj active, paused, removed eller erased"));
        assert_eq!(refused("limit=0").field, "limit");
        assert_eq!(refused("limit=501").field, "limit");
        assert_eq!(refused("offset=-1").field, "offset");
        assert_eq!(refused("supervisor=anna").field, "supervisor");
        assert_eq!(refused("stauts=paused").field, "stauts");
        assert_eq!(refused("status=active&status=paused").field, "status");
        assert_eq!(refused("as_of=igår").field, "as_of");
        assert_eq!(refused("min_position=1&as_of_position=2").field, "as_of");
        assert_eq!(StaffQuery::parse_supervised(&pairs("supervisor=x")).unwrap_err().field, "supervisor");
        assert_eq!(PackagesQuery::parse(&pairs("term=HT27")).unwrap_err().field, "term");
        assert_eq!(RegistrationsQuery::parse(&pairs("status=confirmed")).unwrap_err().field, "package");
        assert_eq!(CompetencePlansQuery::parse(&pairs("federation=fyr.bodal")).unwrap_err().field, "federation");
        let q = CompetencePlansQuery::parse(&pairs("federation=Fyrbodal&limit=5")).unwrap();
        assert_eq!((q.federation.as_ref().map(|f| f.as_str()), q.paging.limit), (Some("fyrbodal"), 5));
        assert_eq!(CompetencePlansQuery::parse(&pairs("year=2027")).unwrap_err().field, "year");
    }
}
