//! The federations' competence plans (DOMAIN.md, "The competence plan"): the course office
//! sets and revises them, every logged-in user reads them, and a supervisor reads each of
//! their staff against their band's plan at the appraisal talk ([`Kurslogg::competence_of`]).
//!
//! Plans and people are read from the views (the enrolment projection keeps both), so a
//! read can wait for a write (`min_position`) or show how things stood at an earlier
//! moment (`as_of`): the plan as it read then, and the person's standing then. The rules
//! (which year's plan applies, where a person stands on a course) are the domain's
//! (`kurslogg_domain::competence`).
//!
//! Refusals here are in Swedish: their readers are the course office and supervisors.

use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Europe::Stockholm;
use kurslogg_domain::competence::{
    applicable_year, completed_outside_plan, standing, BandPlan, CatalogueFacts, CompetencePlanCommand,
    CompetencePlanEvent, CompetencePlanId, Outcome, Participation, RegistrationState, Standing,
};
use kurslogg_domain::{CourseCode, FederationId, StaffId};
use kurslogg_projections::history::{self, Scope};
use kurslogg_projections::views::competence::{self as plans_view, CompetencePlanView};
use kurslogg_projections::views::participant::{self, RecordLine};
use kurslogg_projections::Db;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::errors::Kind;
use super::lists::ViewAt;
use super::{Actor, AppError, CommandContext, Kurslogg, Written};
use crate::auth::Origin;

/// Which plan a person's standing was read against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PlanRef {
    /// The plan's id (`fyrbodal-2027`).
    pub id: String,
    /// The year it is for.
    pub year: i64,
    /// Its version when read.
    pub version: i64,
    /// When that version was recorded.
    pub revised_at: String,
}

/// One course the person's band's plan recommends, and where the person stands on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RecommendedCourse {
    /// Course code.
    pub course: String,
    /// The catalogue's title.
    pub title: String,
    /// `completed`, `confirmed` (has a seat), `requested` (awaits allocation at the
    /// deadline), `waiting` (on the waiting list), `not_completed` (took part, attended too
    /// little), `cancelled` (cancelled, seat given to a colleague, or the course was called
    /// off) or `not_yet`.
    pub standing: String,
    /// The offering the standing comes from; null for `not_yet`.
    pub offering_id: Option<String>,
    /// Its term.
    pub term: Option<String>,
    /// When its first session starts (RFC 3339 UTC).
    pub starts_at: Option<String>,
    /// When its last session ends (RFC 3339 UTC).
    pub ends_at: Option<String>,
    /// When completed: the end of the offering's last session.
    pub completed_at: Option<String>,
    /// The certificate's number, when completed.
    pub certificate: Option<String>,
    /// Teaching hours attended on that offering.
    pub hours_attended: Option<f64>,
}

/// A course the person completed that their band's plan does not recommend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CompletedCourse {
    /// Course code.
    pub course: String,
    /// Title (the offering's).
    pub title: String,
    /// The offering.
    pub offering_id: String,
    /// Its term.
    pub term: String,
    /// The end of its last session.
    pub completed_at: String,
    /// The certificate's number.
    pub certificate: Option<String>,
    /// Teaching hours attended.
    pub hours_attended: f64,
}

/// A staff member against their band's competence plan: what it recommends and where
/// they stand on each course, the needs it says are met locally, and what they completed
/// besides. For the supervisor's appraisal talk, on one page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Competence {
    /// Staff id.
    pub staff_id: String,
    /// Name, from the person's own stream; null once erased.
    pub name: Option<String>,
    /// Municipality.
    pub municipality: String,
    /// The municipality's federation (its id), if the views know the municipality.
    pub federation: Option<String>,
    /// The person's experience band.
    pub experience_band: String,
    /// The year asked about (the clock's, in Sweden, unless given).
    pub year: i32,
    /// The plan that applies that year (the federation's latest for that year or before);
    /// null when the federation has none yet.
    pub plan: Option<PlanRef>,
    /// The courses the plan recommends for the band, in its suggested order.
    pub recommended: Vec<RecommendedCourse>,
    /// The needs the plan says are met locally at the workplace, for the band.
    pub local_needs: Vec<String>,
    /// The plan's note for the band.
    pub note: Option<String>,
    /// Courses completed that the plan does not recommend for the band, earliest first.
    pub completed_outside_plan: Vec<CompletedCourse>,
    /// The log position the views reflected.
    pub position: i64,
}

const NO_SUCH_STAFF: &str = "Det finns ingen anställd med det id:t som du kan se.";

/// "Not found" in Swedish, for the refusals of shared checks that say it in English.
fn in_swedish(e: AppError, message: &str) -> AppError {
    match e {
        AppError::Refused { code, kind: Kind::NotFound, .. } => {
            AppError::Refused { code, message: message.into(), kind: Kind::NotFound }
        }
        other => other,
    }
}

fn not_found(message: &str) -> AppError {
    AppError::Refused { code: "not_found".into(), message: message.into(), kind: Kind::NotFound }
}

/// A line of a person's record as the standing rule reads it; `None` for one it cannot
/// read (nothing the projection writes).
fn participation(line: &RecordLine) -> Option<Participation> {
    let status: RegistrationState = serde_json::from_value(serde_json::Value::String(line.status.clone())).ok()?;
    Some(Participation {
        offering: line.offering_id.parse().ok()?,
        course: CourseCode::parse(&line.course).ok()?,
        status,
        offering_cancelled: line.offering_state == "cancelled",
        outcome: match line.completion.as_deref() {
            Some("completed") => Some(Outcome::Completed),
            Some("not_completed") => Some(Outcome::NotCompleted),
            _ => None,
        },
        starts_at: DateTime::parse_from_rfc3339(&line.starts_at).ok()?.with_timezone(&Utc),
    })
}

fn standing_name(standing: Standing) -> String {
    serde_json::to_value(standing).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

impl Kurslogg {
    /// Sets a federation's competence plan for a year, or revises it if it is set: the
    /// whole plan as it shall read. The course office only. A revision is a new version
    /// (a new event); the same plan again records nothing.
    pub async fn set_competence_plan(
        &self,
        ctx: &CommandContext,
        id: CompetencePlanId,
        bands: Vec<BandPlan>,
    ) -> Result<Written, AppError> {
        if !ctx.actor.is_course_office() {
            return Err(AppError::Forbidden(
                "Kompetensplanen sätts och ändras av kurskansliet; andra kan läsa den.".into(),
            ));
        }
        let catalogue = self.catalogue_facts(&bands).await?;
        let key = id.to_string();
        // Set or revise: two PUTs of a new plan at once can both choose "set"; the second
        // is then refused as a conflict (409, try again), and its retry revises.
        let exists = self.plans.inspect(&key, |_| ()).await?.is_some();
        let command = if exists {
            CompetencePlanCommand::ReviseCompetencePlan { bands, catalogue }
        } else {
            CompetencePlanCommand::SetCompetencePlan { id, bands, catalogue }
        };
        self.run(&self.plans, &key, command, ctx, Self::written::<CompetencePlanEvent>(key.clone())).await
    }

    /// Which of the courses a plan recommends are in the catalogue: the fact the plan's
    /// rule needs (docs/decisions/0002).
    async fn catalogue_facts(&self, bands: &[BandPlan]) -> Result<CatalogueFacts, AppError> {
        let mut facts = CatalogueFacts::default();
        for code in bands.iter().flat_map(|b| &b.courses) {
            if !facts.known.contains(code) && self.courses.inspect(code.as_str(), |_| ()).await?.is_some() {
                facts.known.insert(code.clone());
            }
        }
        Ok(facts)
    }

    /// A competence plan as its current version reads in `views` (any logged-in user).
    pub async fn competence_plan(&self, views: &Db, id: &CompetencePlanId) -> Result<CompetencePlanView, AppError> {
        plans_view::competence_plan(views, &id.to_string())
            .await?
            .ok_or_else(|| not_found(&format!("Det finns ingen kompetensplan {id}.")))
    }

    /// A staff member against their band's competence plan for this year (the clock's, in
    /// Sweden), from the live views: what the plan recommends and where they stand on each
    /// course, the needs met locally, and what they completed besides. Read as the
    /// person's record is: by the person, their supervisor, their municipality's
    /// coordinators, the course office and auditors; anyone else is told there is no such
    /// person. It writes nothing to the security log: a page or an API answer that shows
    /// it reads through [`Self::competence_seen`], which does.
    pub async fn competence_of(&self, actor: &Actor, staff: StaffId) -> Result<Competence, AppError> {
        self.competence_in(&self.log.views(), actor, staff, None).await
    }

    /// [`Self::competence_of`] as a page shows it: from the views as `at` asks (now, once
    /// they reach a position, or as of an earlier moment: the plan and the person as they
    /// stood then), for `year` (the clock's when `None`), and the read is written to the
    /// security log as every read of a person's record (docs/decisions/0008).
    pub async fn competence_seen(
        &self,
        actor: &Actor,
        origin: &Origin,
        staff: StaffId,
        at: ViewAt,
        year: Option<i32>,
    ) -> Result<Competence, AppError> {
        // Who may see the person is settled before the views are waited for or replayed.
        self.ensure_may_see_competence_of(actor, staff).await?;
        let views = match at {
            ViewAt::AsOf(as_of) => {
                history::views_as_of(&self.log.views(), as_of, &Scope::Staff(staff.to_string())).await?
            }
            other => self.views_at(other).await?.0,
        };
        self.competence_read(&views, actor, origin, staff, year).await
    }

    /// [`Self::competence_in`], and the read written to the security log.
    pub async fn competence_read(
        &self,
        views: &Db,
        actor: &Actor,
        origin: &Origin,
        staff: StaffId,
        year: Option<i32>,
    ) -> Result<Competence, AppError> {
        let competence = self.competence_in(views, actor, staff, year).await?;
        self.note_person_read(actor, origin, staff, "competence").await?;
        Ok(competence)
    }

    /// Whether `actor` may read `staff` against their plan: as their record
    /// ([`Self::ensure_may_see_staff`]), with the refusal in Swedish.
    pub async fn ensure_may_see_competence_of(&self, actor: &Actor, staff: StaffId) -> Result<(), AppError> {
        self.ensure_may_see_staff(actor, staff).await.map_err(|e| in_swedish(e, NO_SUCH_STAFF))
    }

    /// [`Self::competence_of`] from `views` (live, or as of an earlier moment) for `year`
    /// (the clock's when `None`).
    pub async fn competence_in(
        &self,
        views: &Db,
        actor: &Actor,
        staff: StaffId,
        year: Option<i32>,
    ) -> Result<Competence, AppError> {
        self.ensure_may_see_competence_of(actor, staff).await?;
        let record = participant::participant_record(views, &staff.to_string())
            .await?
            .ok_or_else(|| not_found(NO_SUCH_STAFF))?;
        let year = year.unwrap_or_else(|| self.clock.now().with_timezone(&Stockholm).year());
        let federation = plans_view::federation_of(views, &record.municipality)
            .await?
            .and_then(|name| FederationId::of_name(&name).ok());
        let plan = match &federation {
            Some(federation) => {
                let plans = plans_view::competence_plans(views, Some(federation.as_str())).await?;
                let applies = applicable_year(plans.iter().filter_map(|p| i32::try_from(p.year).ok()), year);
                plans.into_iter().find(|p| applies.is_some_and(|y| i64::from(y) == p.year))
            }
            None => None,
        };
        let band = plan.as_ref().and_then(|p| p.bands.iter().find(|b| b.band == record.experience_band)).cloned();
        let history: Vec<Participation> = record.offerings.iter().filter_map(participation).collect();
        let line_of = |offering: &str| record.offerings.iter().find(|l| l.offering_id == offering);

        let recommended_codes: Vec<CourseCode> =
            band.iter().flat_map(|b| &b.courses).filter_map(|c| CourseCode::parse(c).ok()).collect();
        let mut recommended = Vec::with_capacity(recommended_codes.len());
        for code in &recommended_codes {
            let found = standing(code, &history);
            let line = found.offering.and_then(|o| line_of(&o.to_string()));
            let completed = found.standing == Standing::Completed;
            let title = self.courses.inspect(code.as_str(), |c| c.title.as_ref().map(ToString::to_string)).await?;
            recommended.push(RecommendedCourse {
                course: code.to_string(),
                title: title.flatten().or_else(|| line.map(|l| l.title.clone())).unwrap_or_default(),
                standing: standing_name(found.standing),
                offering_id: line.map(|l| l.offering_id.clone()),
                term: line.map(|l| l.term.clone()),
                starts_at: line.map(|l| l.starts_at.clone()),
                ends_at: line.map(|l| l.ends_at.clone()),
                completed_at: line.filter(|_| completed).map(|l| l.ends_at.clone()),
                certificate: line.and_then(|l| l.certificate.clone()),
                hours_attended: line.map(|l| l.hours_attended),
            });
        }
        let completed_outside_plan = completed_outside_plan(&recommended_codes, &history)
            .into_iter()
            .filter_map(|offering| line_of(&offering.to_string()))
            .map(|l| CompletedCourse {
                course: l.course.clone(),
                title: l.title.clone(),
                offering_id: l.offering_id.clone(),
                term: l.term.clone(),
                completed_at: l.ends_at.clone(),
                certificate: l.certificate.clone(),
                hours_attended: l.hours_attended,
            })
            .collect();
        let name = self.staff_names(&[staff]).await?.remove(&staff);
        Ok(Competence {
            staff_id: record.staff_id.clone(),
            name,
            municipality: record.municipality.clone(),
            federation: federation.map(String::from),
            experience_band: record.experience_band.clone(),
            year,
            plan: plan.as_ref().map(|p| PlanRef {
                id: p.id.clone(),
                year: p.year,
                version: p.version,
                revised_at: p.revised_at.clone(),
            }),
            recommended,
            local_needs: band.as_ref().map(|b| b.local_needs.clone()).unwrap_or_default(),
            note: band.and_then(|b| b.note),
            completed_outside_plan,
            position: record.position,
        })
    }
}
