//! Reads. For now they load aggregates (through the cache, caught up with the log);
//! durable projections replace them in issue 4.

use std::collections::BTreeMap;

use kurslogg_domain::offering::{Offering, RegistrationStatus};
use kurslogg_domain::{Attendance, MunicipalityId, OfferingId, PackageId, Place, StaffId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{AppError, Kurslogg};

/// A course in the catalogue.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CourseView {
    /// Stable code.
    pub code: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Prerequisite course codes.
    pub prerequisites: Vec<String>,
}

/// A course package with a summary of its offerings.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PackageView {
    /// Id.
    pub id: String,
    /// Term, e.g. HT2027.
    pub term: String,
    /// Title.
    pub title: String,
    /// Organiser.
    pub organiser: String,
    /// Registration deadline (UTC).
    pub deadline: String,
    /// draft, published, registration_closed or archived.
    pub phase: String,
    /// Offerings in the package.
    pub offerings: Vec<OfferingSummary>,
}

/// One offering in a package listing.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OfferingSummary {
    /// Id.
    pub id: String,
    /// Course code.
    pub course: String,
    /// Title.
    pub title: String,
    /// First session start.
    pub starts_at: String,
    /// Seats.
    pub seat_limit: u32,
    /// Registrations awaiting allocation.
    pub requested: u32,
    /// Confirmed seats.
    pub confirmed: u32,
    /// On the waiting list.
    pub waiting: u32,
    /// open, allocated, completed or cancelled.
    pub state: String,
}

/// A session as shown to readers.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SessionView {
    /// Index, from 0.
    pub index: usize,
    /// Start (UTC).
    pub starts_at: String,
    /// End (UTC).
    pub ends_at: String,
    /// Teaching hours.
    pub hours: f64,
}

/// One person's registration on an offering.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RegistrationView {
    /// Staff id.
    pub staff_id: String,
    /// Municipality.
    pub municipality: String,
    /// requested, confirmed, waiting, cancelled or transferred_away.
    pub status: String,
    /// The cancellation is charged.
    pub charged: bool,
    /// Registered after the deadline.
    pub late: bool,
    /// Attendance per session index: present, absent, excused or null.
    pub attendance: Vec<Option<String>>,
    /// Sessions attended.
    pub attended: usize,
    /// Certificate number when completed.
    pub certificate: Option<String>,
    /// Completion was evaluated and not met.
    pub not_completed: bool,
}

/// An offering with its registrations and waiting list.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OfferingView {
    /// Id.
    pub id: String,
    /// Package id.
    pub package_id: String,
    /// Term.
    pub term: String,
    /// Course code.
    pub course: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Experience bands it targets.
    pub experience_bands: Vec<String>,
    /// Staff groups it targets.
    pub staff_groups: Vec<String>,
    /// Competence areas.
    pub competence_areas: Vec<String>,
    /// Trainer.
    pub trainer: String,
    /// Venue address, or "digital".
    pub place: String,
    /// Sessions.
    pub sessions: Vec<SessionView>,
    /// Seats.
    pub seat_limit: u32,
    /// Free seats.
    pub free_seats: u32,
    /// Price per participant, SEK.
    pub price_sek: u32,
    /// Completion threshold, percent.
    pub completion_threshold: u8,
    /// Prerequisite course codes.
    pub prerequisites: Vec<String>,
    /// open, allocated, completed or cancelled.
    pub state: String,
    /// Registrations in priority order.
    pub registrations: Vec<RegistrationView>,
    /// Waiting list, first in line first (staff ids).
    pub waiting_list: Vec<String>,
}

/// A staff member's registrations across offerings.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StaffRegistrationView {
    /// Offering.
    pub offering_id: String,
    /// Course code.
    pub course: String,
    /// Title.
    pub title: String,
    /// Term.
    pub term: String,
    /// Registration status.
    pub status: String,
    /// Sessions attended.
    pub attended: usize,
    /// Sessions in all.
    pub sessions: usize,
    /// Certificate number when completed.
    pub certificate: Option<String>,
}

/// A staff member (personal data: shown to those who work with them). Once erased,
/// `status` is `erased` and `name` and `work_email` are null.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StaffView {
    /// Id.
    pub id: String,
    /// Municipality.
    pub municipality: String,
    /// Name; null once erased.
    pub name: Option<String>,
    /// Work e-mail; null once erased.
    pub work_email: Option<String>,
    /// Unit.
    pub unit: String,
    /// Supervisor's staff id.
    pub supervisor: Option<String>,
    /// Staff group.
    pub staff_group: String,
    /// Experience band.
    pub experience_band: String,
    /// Holds a social-work degree.
    pub social_work_degree: bool,
    /// active, paused, removed or erased.
    pub status: String,
}

/// A municipality with its role holders.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MunicipalityView {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Federation.
    pub federation: String,
    /// Coordinators' staff ids.
    pub coordinators: Vec<String>,
    /// Supervisors' staff ids.
    pub supervisors: Vec<String>,
}

fn snake<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

fn status_name(status: RegistrationStatus) -> &'static str {
    match status {
        RegistrationStatus::Requested => "requested",
        RegistrationStatus::Confirmed => "confirmed",
        RegistrationStatus::Waiting => "waiting",
        RegistrationStatus::Cancelled { .. } => "cancelled",
        RegistrationStatus::TransferredAway => "transferred_away",
    }
}

fn offering_state(o: &Offering) -> &'static str {
    if o.cancelled {
        "cancelled"
    } else if o.completed {
        "completed"
    } else if o.allocated {
        "allocated"
    } else {
        "open"
    }
}

fn count(o: &Offering, status: RegistrationStatus) -> u32 {
    o.registrations.values().filter(|r| r.status == status).count() as u32
}

fn summary(id: OfferingId, o: &Offering) -> OfferingSummary {
    let details = o.details.as_ref().expect("planned");
    OfferingSummary {
        id: id.to_string(),
        course: o.course.as_ref().map(ToString::to_string).unwrap_or_default(),
        title: o.title.as_ref().map(ToString::to_string).unwrap_or_default(),
        starts_at: details.starts_at().to_rfc3339(),
        seat_limit: o.seat_limit,
        requested: count(o, RegistrationStatus::Requested),
        confirmed: o.confirmed_count(),
        waiting: count(o, RegistrationStatus::Waiting),
        state: offering_state(o).into(),
    }
}

impl Kurslogg {
    /// A catalogue course.
    pub async fn course(&self, code: &str) -> Result<CourseView, AppError> {
        let course = self.courses.load(code).await?.ok_or_else(|| AppError::not_found("course"))?;
        Ok(CourseView {
            code: course.code.map(String::from).unwrap_or_default(),
            title: course.title.map(String::from).unwrap_or_default(),
            description: course.description.map(String::from).unwrap_or_default(),
            prerequisites: course.prerequisites.into_iter().map(String::from).collect(),
        })
    }

    /// A package and its offerings.
    pub async fn package(&self, id: PackageId) -> Result<PackageView, AppError> {
        let package =
            self.packages.load(&id.to_string()).await?.ok_or_else(|| AppError::not_found("course package"))?;
        let mut offerings = Vec::with_capacity(package.offerings.len());
        for offering in &package.offerings {
            if let Some(o) = self.offerings.load(&offering.to_string()).await? {
                offerings.push(summary(*offering, &o));
            }
        }
        Ok(PackageView {
            id: id.to_string(),
            term: package.term.map(|t| t.to_string()).unwrap_or_default(),
            title: package.title.map(String::from).unwrap_or_default(),
            organiser: package.organiser.map(String::from).unwrap_or_default(),
            deadline: package.deadline.to_rfc3339(),
            phase: snake(&package.phase),
            offerings,
        })
    }

    /// An offering with its registrations and waiting list.
    pub async fn offering(&self, id: OfferingId) -> Result<OfferingView, AppError> {
        let o = self.offerings.load(&id.to_string()).await?.ok_or_else(|| AppError::not_found("course offering"))?;
        let details = o.details.clone().expect("planned");
        let sessions = details.sessions.len();
        let mut registrations: Vec<_> = o.registrations.values().collect();
        registrations.sort_by_key(|r| r.order);
        Ok(OfferingView {
            id: id.to_string(),
            package_id: o.package.to_string(),
            term: o.term.map(|t| t.to_string()).unwrap_or_default(),
            course: o.course.as_ref().map(ToString::to_string).unwrap_or_default(),
            title: o.title.as_ref().map(ToString::to_string).unwrap_or_default(),
            description: details.description.to_string(),
            experience_bands: details.target_groups.experience_bands.iter().map(snake).collect(),
            staff_groups: details.target_groups.staff_groups.iter().map(snake).collect(),
            competence_areas: details.competence_areas.iter().map(ToString::to_string).collect(),
            trainer: details.trainer.to_string(),
            place: match &details.place {
                Place::Venue(address) => address.to_string(),
                Place::Digital => "digital".into(),
            },
            sessions: details
                .sessions
                .iter()
                .enumerate()
                .map(|(index, s)| SessionView {
                    index,
                    starts_at: s.starts_at.to_rfc3339(),
                    ends_at: s.ends_at.to_rfc3339(),
                    hours: f64::from(s.minutes) / 60.0,
                })
                .collect(),
            seat_limit: o.seat_limit,
            free_seats: o.free_seats(),
            price_sek: details.price.0,
            completion_threshold: details.completion_threshold.percent(),
            prerequisites: details.prerequisites.iter().map(ToString::to_string).collect(),
            state: offering_state(&o).into(),
            registrations: registrations
                .into_iter()
                .map(|r| RegistrationView {
                    staff_id: r.staff.to_string(),
                    municipality: r.municipality.to_string(),
                    status: status_name(r.status).into(),
                    charged: matches!(r.status, RegistrationStatus::Cancelled { charged: true }),
                    late: r.late,
                    attendance: (0..sessions).map(|i| r.attendance.get(&i).map(snake::<Attendance>)).collect(),
                    attended: r.attended(),
                    certificate: r.certificate.clone(),
                    not_completed: r.not_completed,
                })
                .collect(),
            waiting_list: o.waiting_list.iter().map(ToString::to_string).collect(),
        })
    }

    /// A staff member's details.
    pub async fn staff_member(&self, id: StaffId) -> Result<StaffView, AppError> {
        let m = self.staff.load(&id.to_string()).await?.ok_or_else(|| AppError::not_found("staff member"))?;
        let personal = self.open_personal(&m).await?;
        let p = m.profile.expect("added");
        Ok(StaffView {
            id: id.to_string(),
            municipality: m.municipality.map(String::from).unwrap_or_default(),
            name: personal.as_ref().map(|person| person.name.clone()),
            work_email: personal.map(|person| person.work_email),
            unit: p.unit.to_string(),
            supervisor: p.supervisor.map(|s| s.to_string()),
            staff_group: snake(&p.staff_group),
            experience_band: snake(&p.experience_band),
            social_work_degree: p.social_work_degree,
            status: snake(&m.status),
        })
    }

    /// A staff member's registrations on every offering they have been on.
    pub async fn staff_registrations(&self, id: StaffId) -> Result<Vec<StaffRegistrationView>, AppError> {
        self.staff.load(&id.to_string()).await?.ok_or_else(|| AppError::not_found("staff member"))?;
        let mut out = vec![];
        for offering_id in self.participation.offerings_of(&self.log, id).await? {
            let Some(o) = self.offerings.load(&offering_id.to_string()).await? else { continue };
            let Some(r) = o.registrations.get(&id) else { continue };
            out.push(StaffRegistrationView {
                offering_id: offering_id.to_string(),
                course: o.course.as_ref().map(ToString::to_string).unwrap_or_default(),
                title: o.title.as_ref().map(ToString::to_string).unwrap_or_default(),
                term: o.term.map(|t| t.to_string()).unwrap_or_default(),
                status: status_name(r.status).into(),
                attended: r.attended(),
                sessions: o.details.as_ref().map_or(0, |d| d.sessions.len()),
                certificate: r.certificate.clone(),
            });
        }
        Ok(out)
    }

    /// A municipality and its role holders.
    pub async fn municipality(&self, id: &MunicipalityId) -> Result<MunicipalityView, AppError> {
        let m = self.municipalities.load(id.as_str()).await?.ok_or_else(|| AppError::not_found("municipality"))?;
        Ok(MunicipalityView {
            id: id.to_string(),
            name: m.name.map(String::from).unwrap_or_default(),
            federation: m.federation.map(String::from).unwrap_or_default(),
            coordinators: m.coordinators.iter().map(ToString::to_string).collect(),
            supervisors: m.supervisors.iter().map(ToString::to_string).collect(),
        })
    }

    /// Counts of registrations per status on an offering, keyed by municipality (for the demo).
    pub async fn offering_counts_by_municipality(
        &self,
        id: OfferingId,
    ) -> Result<BTreeMap<String, (u32, u32)>, AppError> {
        let o = self.offerings.load(&id.to_string()).await?.ok_or_else(|| AppError::not_found("course offering"))?;
        let mut counts: BTreeMap<String, (u32, u32)> = BTreeMap::new();
        for r in o.registrations.values() {
            let entry = counts.entry(r.municipality.to_string()).or_default();
            match r.status {
                RegistrationStatus::Confirmed => entry.0 += 1,
                RegistrationStatus::Waiting => entry.1 += 1,
                _ => {}
            }
        }
        Ok(counts)
    }
}
