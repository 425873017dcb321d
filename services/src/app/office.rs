//! The course office's own use cases beside the commands every client has: a term's
//! package copied from last year's same term, the deadline overview with the reminders
//! the scheduler sent, and why each municipality got the seats it got (decision 0020).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use chrono_tz::Europe::Stockholm;
use kurslogg_domain::course::{CourseCommand, CourseDefaults};
use kurslogg_domain::offering::{
    CourseFacts, Offering, OfferingCommand, OfferingDetails, OfferingError, OfferingEvent, RegistrationWindow,
};
use kurslogg_domain::package::{CoursePackage, PackageCommand, PackageError};
use kurslogg_domain::{CourseCode, OfferingId, PackageId, Session, Term};
use kurslogg_projections::views::deadline::{self, DeadlineOverview};
use kurslogg_projections::Param;
use serde::Serialize;

use super::lists::{OfferingsQuery, PackagesQuery, Paging, ViewAt, MAX_LIMIT};
use super::{Actor, AppError, CommandContext, Kurslogg, Role, Written};
use crate::store::CommandError;

/// How far a copied session moves: 52 weeks, so it keeps its weekday (a Tuesday course
/// stays on a Tuesday) and its time of day in Swedish time.
pub const COPY_SHIFT_DAYS: i64 = 364;

/// What copying a package did.
#[derive(Debug, Clone, Serialize)]
pub struct CopyReport {
    /// The new package.
    pub package_id: String,
    /// Its term.
    pub term: String,
    /// Offerings planned in it (a retry counts those already there).
    pub copied: usize,
    /// Offerings left out, with the domain's Swedish reason.
    pub skipped: Vec<SkippedOffering>,
    /// Log position of the last event written, for read-your-writes.
    pub position: Option<i64>,
}

/// An offering of last year's package that could not be copied.
#[derive(Debug, Clone, Serialize)]
pub struct SkippedOffering {
    /// Course title.
    pub title: String,
    /// Why, in Swedish.
    pub reason: String,
}

/// The same term a year later (HT2027 → HT2028).
pub fn next_years_term(term: Term) -> Term {
    Term { year: term.year + 1, half: term.half }
}

/// `at` moved [`COPY_SHIFT_DAYS`] on, at the same wall-clock time in Stockholm.
pub fn a_year_later(at: DateTime<Utc>) -> DateTime<Utc> {
    let local = at.with_timezone(&Stockholm).naive_local() + Duration::days(COPY_SHIFT_DAYS);
    Stockholm
        .from_local_datetime(&local)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(at + Duration::days(COPY_SHIFT_DAYS))
}

/// The copy's ids follow from the source: copying the same package again (a retry, a
/// double click, another office user) finds the first copy and finishes it.
fn derived(namespace: uuid::Uuid, name: &str) -> uuid::Uuid {
    uuid::Uuid::new_v5(&namespace, name.as_bytes())
}

/// One reminder sent (or waiting to be sent) to a municipality's coordinators.
#[derive(Debug, Clone, Serialize)]
pub struct ReminderSent {
    /// Days before the deadline it was for.
    pub days: i64,
    /// When it was written (RFC 3339 UTC).
    pub created_at: String,
    /// When it was sent, if it was.
    pub sent_at: Option<String>,
    /// pending, sent or failed.
    pub status: String,
}

/// The deadline overview with the reminders per municipality id.
#[derive(Debug, Clone)]
pub struct OfficeOverview {
    /// Counts per municipality and offering.
    pub overview: DeadlineOverview,
    /// Reminders by municipality id, oldest first.
    pub reminders: BTreeMap<String, Vec<ReminderSent>>,
}

/// One municipality's part in an offering's allocation.
#[derive(Debug, Clone, Serialize)]
pub struct MunicipalityShare {
    /// Municipality id.
    pub municipality: String,
    /// Its place in the turn order (1 = first); none if it only registered late.
    pub turn: Option<usize>,
    /// Requests made in time, in the municipality's priority order.
    pub in_time: usize,
    /// Requests made after the deadline (served after every in-time request).
    pub late: usize,
    /// Got a seat.
    pub confirmed: usize,
    /// Put on the waiting list.
    pub waitlisted: usize,
    /// The rounds in which its people got seats (1 = first round).
    pub seat_rounds: Vec<usize>,
    /// The places on the waiting list its people got (1 = first in line).
    pub waiting_places: Vec<usize>,
}

/// Why an offering's seats went where they went, from its log.
#[derive(Debug, Clone, Serialize)]
pub struct AllocationExplained {
    /// Seats free when it was allocated.
    pub seats: usize,
    /// Requests in all.
    pub requests: usize,
    /// Municipalities in turn order (ids).
    pub round_order: Vec<String>,
    /// The round the last seat went in (0 when nobody got one).
    pub last_round: usize,
    /// Each municipality in turn order, then those that only registered late.
    pub shares: Vec<MunicipalityShare>,
    /// Everyone in allocation order: (staff id, municipality id, round or none for late,
    /// got a seat).
    pub order: Vec<AllocatedPerson>,
}

/// One person in allocation order.
#[derive(Debug, Clone, Serialize)]
pub struct AllocatedPerson {
    /// Staff id.
    pub staff_id: String,
    /// Municipality id.
    pub municipality: String,
    /// Round (from 1), or none for a late request.
    pub round: Option<usize>,
    /// Got a seat.
    pub seat: bool,
}

impl Kurslogg {
    /// Creates next year's package of the same term from `from` as a draft, each offering
    /// planned again with its sessions moved 52 weeks on (same weekday and time). One
    /// action: its ids follow from the source, so a retry finishes the first copy instead
    /// of making a second. An offering the rules refuse (a session that would come before
    /// the new deadline, say) is left out and named with the reason.
    pub async fn copy_package(&self, ctx: &CommandContext, from: PackageId) -> Result<CopyReport, AppError> {
        self.ensure_course_office(ctx)?;
        let source =
            self.packages.load(&from.to_string()).await?.ok_or_else(|| AppError::not_found("course package"))?;
        let term = next_years_term(source.term.ok_or_else(|| AppError::not_found("course package"))?);
        let id = PackageId(derived(from.0, "copy"));
        let metadata = ctx.metadata();
        let title =
            kurslogg_domain::Text::parse(&format!("Utbildningspaket {term}")).map_err(|e| AppError::Validation(e.0))?;
        let create = PackageCommand::CreatePackage {
            id,
            term,
            title,
            organiser: source.organiser.clone().ok_or_else(|| AppError::not_found("course package"))?,
            deadline: None,
            recorded_afterwards: false,
        };
        let position = match self.packages.execute(&id.to_string(), create, &metadata, None).await {
            Ok(done) => done.position,
            Err(CommandError::Refused(PackageError::AlreadyExists)) => None,
            Err(e) => return Err(e.into()),
        };
        let package: CoursePackage =
            self.packages.load(&id.to_string()).await?.ok_or_else(|| AppError::not_found("course package"))?;
        let window = RegistrationWindow {
            phase: package.phase,
            deadline: package.deadline,
            recorded_afterwards: package.recorded_afterwards,
        };
        let mut report =
            CopyReport { package_id: id.to_string(), term: term.to_string(), copied: 0, skipped: vec![], position };
        for old in &source.offerings {
            let Some(offering) = self.offerings.load(&old.to_string()).await? else { continue };
            if offering.cancelled {
                continue;
            }
            let (Some(course), Some(title), Some(mut details)) =
                (offering.course.clone(), offering.title.clone(), offering.details.clone())
            else {
                continue;
            };
            let new_id = OfferingId(derived(id.0, &old.to_string()));
            let skip = |reason: String| SkippedOffering { title: title.to_string(), reason };
            let moved: Result<Vec<Session>, _> = details
                .sessions
                .iter()
                .map(|s| Session::new(a_year_later(s.starts_at), a_year_later(s.ends_at), s.minutes))
                .collect();
            match moved {
                Ok(sessions) => details.sessions = sessions,
                Err(e) => {
                    report.skipped.push(skip(e.0));
                    continue;
                }
            }
            // The course as the catalogue has it now (its title may have been revised).
            let catalogue = self.courses.peek(course.as_str()).await?;
            let facts = CourseFacts {
                code: course.clone(),
                title: catalogue.as_ref().and_then(|c| c.title.clone()).unwrap_or(title.clone()),
                prerequisites: catalogue.map(|c| c.prerequisites).unwrap_or_default(),
            };
            let Ok(seat_limit) = kurslogg_domain::SeatLimit::new(offering.seat_limit) else { continue };
            let plan = OfferingCommand::PlanOffering {
                id: new_id,
                package: id,
                term,
                course: facts,
                details,
                seat_limit,
                window,
            };
            match self.offerings.execute(&new_id.to_string(), plan, &metadata, None).await {
                Ok(done) => report.position = report.position.max(done.position),
                Err(CommandError::Refused(OfferingError::AlreadyExists)) => {}
                Err(CommandError::Refused(refusal)) => {
                    report.skipped.push(skip(AppError::refused(&refusal).to_string()));
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
            let include = PackageCommand::IncludeOffering { offering: new_id };
            let included = self.packages.execute(&id.to_string(), include, &metadata, None).await?;
            report.position = report.position.max(included.position);
            report.copied += 1;
        }
        Ok(report)
    }

    /// A package's deadline overview as the views stand at `at`, with the reminders sent
    /// to each municipality's coordinators: the course office and auditors.
    pub async fn office_deadline_overview(
        &self,
        actor: &Actor,
        package: PackageId,
        at: ViewAt,
    ) -> Result<OfficeOverview, AppError> {
        self.ensure_sees_everything(actor, "läsa översikten vid sista anmälningsdag")?;
        let (db, _) = self.views_at(at).await?;
        let overview = deadline::deadline_overview(&db, &package.to_string())
            .await?
            .ok_or_else(|| AppError::not_found("course package"))?;
        let rows = db
            .fetch(
                "SELECT municipality, details, created_at, sent_at, status FROM outbox \
                 WHERE kind = 'deadline_reminder' AND package_id = $1 ORDER BY created_at, notice_id",
                &[Param::from(Some(package.to_string()))],
            )
            .await
            .map_err(crate::store::StoreError::from)?;
        let mut reminders: BTreeMap<String, Vec<ReminderSent>> = BTreeMap::new();
        for row in rows {
            let details: serde_json::Value = serde_json::from_str(&row.text(1)).unwrap_or_default();
            let days = details.get("days").and_then(serde_json::Value::as_i64).unwrap_or_default();
            let list = reminders.entry(row.opt_text(0).unwrap_or_default()).or_default();
            // One letter per coordinator: a municipality with two is reminded once a day.
            if list.iter().any(|r| r.days == days) {
                continue;
            }
            list.push(ReminderSent { days, created_at: row.text(2), sent_at: row.opt_text(3), status: row.text(4) });
        }
        Ok(OfficeOverview { overview, reminders })
    }

    /// Why `offering`'s seats went where they went: the allocation as its log records it
    /// (`SeatsAllocated`: the turn order, who got a seat and who waits, in allocation
    /// order) with the requests it was made from (`RegistrationRequested`, in priority
    /// order). `None` before allocation. The course office and auditors.
    pub async fn allocation_explained(
        &self,
        actor: &Actor,
        offering: OfferingId,
    ) -> Result<Option<AllocationExplained>, AppError> {
        self.ensure_sees_everything(actor, "läsa fördelningen")?;
        let events = self.log.load::<Offering>(&offering.to_string(), 0).await?;
        let mut requests: Vec<(String, String, bool)> = vec![];
        let mut seat_limit = 0usize;
        for envelope in events {
            let Ok(event) = serde_json::from_value::<OfferingEvent>(envelope.payload) else { continue };
            match event {
                OfferingEvent::OfferingPlanned { seat_limit: limit, .. } => seat_limit = limit.get() as usize,
                OfferingEvent::SeatLimitChanged { to, .. } => seat_limit = to.get() as usize,
                OfferingEvent::RegistrationRequested { staff, municipality, late, .. } => {
                    requests.push((staff.to_string(), municipality.to_string(), late));
                }
                OfferingEvent::RegistrationCancelled { staff, .. } => {
                    let staff = staff.to_string();
                    requests.retain(|(s, _, _)| *s != staff);
                }
                OfferingEvent::SeatTransferred { from, to, .. } => {
                    let (from, to) = (from.to_string(), to.to_string());
                    for request in requests.iter_mut().filter(|r| r.0 == from) {
                        request.0 = to.clone();
                    }
                }
                OfferingEvent::SeatsAllocated { round_order, confirmed, waitlisted } => {
                    return Ok(Some(explain(
                        seat_limit,
                        &requests,
                        round_order.iter().map(ToString::to_string).collect(),
                        confirmed.iter().map(ToString::to_string).collect(),
                        waitlisted.iter().map(ToString::to_string).collect(),
                    )));
                }
                _ => {}
            }
        }
        Ok(None)
    }

    /// Sets what a run of `course` usually is (target group, competence areas,
    /// completion threshold, price): where the form for its next offering starts.
    pub async fn set_course_defaults(
        &self,
        ctx: &CommandContext,
        course: CourseCode,
        defaults: CourseDefaults,
    ) -> Result<Written, AppError> {
        self.catalogue_command(ctx, course.to_string(), CourseCommand::SetDefaults { defaults }).await
    }

    /// What a run of `course` usually is, if the course office has said.
    pub async fn course_defaults(&self, course: &CourseCode) -> Result<Option<CourseDefaults>, AppError> {
        Ok(self.courses.inspect(course.as_str(), |c| c.defaults.clone()).await?.flatten())
    }

    /// The trainers' user accounts that may be assigned to an offering, as (user id,
    /// name), by name: the course office.
    pub async fn trainer_accounts(&self, actor: &Actor) -> Result<Vec<(String, String)>, AppError> {
        self.ensure_role(actor, &[Role::CourseOffice, Role::System], "se utbildarnas konton")?;
        let users = self.auth.users().await.map_err(|e| AppError::Validation(e.to_string()))?;
        let mut trainers: Vec<(String, String)> = users
            .into_iter()
            .filter(|u| u.role == Role::Trainer && u.disabled_at.is_none())
            .map(|u| (u.user_id, u.display_name))
            .collect();
        trainers.sort_by(|a, b| kurslogg_projections::views::statistics::swedish_order(&a.1, &b.1));
        Ok(trainers)
    }

    /// The details of a planned offering as the domain holds them, to fill in the form
    /// that revises it: the course office.
    pub async fn planned_details(&self, actor: &Actor, offering: OfferingId) -> Result<OfferingDetails, AppError> {
        self.ensure_role(actor, &[Role::CourseOffice, Role::System], "se kurstillfällets uppgifter")?;
        self.offerings
            .inspect(&offering.to_string(), |o| o.details.clone())
            .await?
            .flatten()
            .ok_or_else(|| AppError::not_found("course offering"))
    }

    /// The details and seats of the latest run of `course` not cancelled, as the start of
    /// its next run: the course office.
    pub async fn latest_run_of(
        &self,
        actor: &Actor,
        course: &CourseCode,
    ) -> Result<Option<(OfferingDetails, u32)>, AppError> {
        self.ensure_role(actor, &[Role::CourseOffice, Role::System], "se kurstillfällets uppgifter")?;
        let all = Paging { limit: MAX_LIMIT, offset: 0 };
        let packages = self.list_packages(&PackagesQuery { paging: all, ..PackagesQuery::default() }).await?.items;
        let mut latest: Option<(String, OfferingId)> = None;
        for package in packages {
            let Ok(id) = package.id.parse::<PackageId>() else { continue };
            let query = OfferingsQuery { paging: all, ..OfferingsQuery::default() };
            for offering in self.list_package_offerings(id, &query).await?.items {
                if offering.course != course.as_str() || offering.state == "cancelled" {
                    continue;
                }
                let Ok(offering_id) = offering.id.parse::<OfferingId>() else { continue };
                if latest.as_ref().is_none_or(|(at, _)| offering.starts_at > *at) {
                    latest = Some((offering.starts_at.clone(), offering_id));
                }
            }
        }
        let Some((_, id)) = latest else { return Ok(None) };
        Ok(self.offerings.inspect(&id.to_string(), |o| o.details.clone().map(|d| (d, o.seat_limit))).await?.flatten())
    }

    /// The member municipalities' names by id, as the views know them.
    pub async fn municipality_names(&self) -> Result<BTreeMap<String, String>, AppError> {
        let rows = self
            .log
            .views()
            .fetch("SELECT municipality_id, name FROM enrolment_municipalities", &[])
            .await
            .map_err(crate::store::StoreError::from)?;
        Ok(rows.iter().map(|r| (r.text(0), r.text(1))).collect())
    }

    /// The trainers' accounts assigned to `offering`, as (user id, name), by name: the
    /// course office.
    pub async fn assigned_trainers(
        &self,
        actor: &Actor,
        offering: OfferingId,
    ) -> Result<Vec<(String, String)>, AppError> {
        self.ensure_role(actor, &[Role::CourseOffice, Role::System], "se kurstillfällets utbildare")?;
        let users = self.offerings.inspect(&offering.to_string(), |o| o.trainers.clone()).await?.unwrap_or_default();
        let mut assigned = vec![];
        for user in users {
            let name = match self.auth.user(&user).await.map_err(|e| AppError::Validation(e.to_string()))? {
                Some(u) => u.display_name,
                None => user.clone(),
            };
            assigned.push((user, name));
        }
        assigned.sort_by(|a, b| kurslogg_projections::views::statistics::swedish_order(&a.1, &b.1));
        Ok(assigned)
    }
}

/// The explanation of one allocation, by the rule `fair_allocation` (decision 0003): in
/// each round every municipality, in turn order, gets its next request in its own priority
/// order; late requests come after all in-time ones; the seats go in that order and the
/// rest wait in it.
fn explain(
    seats: usize,
    requests: &[(String, String, bool)],
    round_order: Vec<String>,
    confirmed: Vec<String>,
    waitlisted: Vec<String>,
) -> AllocationExplained {
    let municipality_of: BTreeMap<&str, (&str, bool)> =
        requests.iter().map(|(s, m, late)| (s.as_str(), (m.as_str(), *late))).collect();
    // A person's round is their place among their municipality's in-time requests.
    let mut round_of: BTreeMap<&str, usize> = BTreeMap::new();
    let mut counted: BTreeMap<&str, usize> = BTreeMap::new();
    for (staff, municipality, late) in requests {
        if !late {
            let n = counted.entry(municipality.as_str()).or_default();
            *n += 1;
            round_of.insert(staff.as_str(), *n);
        }
    }
    let mut order = vec![];
    for (staff, seat) in confirmed.iter().map(|s| (s, true)).chain(waitlisted.iter().map(|s| (s, false))) {
        let (municipality, _) = municipality_of.get(staff.as_str()).copied().unwrap_or(("", false));
        order.push(AllocatedPerson {
            staff_id: staff.clone(),
            municipality: municipality.to_string(),
            round: round_of.get(staff.as_str()).copied(),
            seat,
        });
    }
    let mut shares: Vec<MunicipalityShare> = round_order
        .iter()
        .enumerate()
        .map(|(i, m)| MunicipalityShare {
            municipality: m.clone(),
            turn: Some(i + 1),
            in_time: 0,
            late: 0,
            confirmed: 0,
            waitlisted: 0,
            seat_rounds: vec![],
            waiting_places: vec![],
        })
        .collect();
    for (_, municipality, late) in requests {
        let index = match shares.iter().position(|s| s.municipality == *municipality) {
            Some(i) => i,
            None => {
                shares.push(MunicipalityShare {
                    municipality: municipality.clone(),
                    turn: None,
                    in_time: 0,
                    late: 0,
                    confirmed: 0,
                    waitlisted: 0,
                    seat_rounds: vec![],
                    waiting_places: vec![],
                });
                shares.len() - 1
            }
        };
        if *late {
            shares[index].late += 1;
        } else {
            shares[index].in_time += 1;
        }
    }
    let mut waiting_place = 0;
    for person in &order {
        let Some(share) = shares.iter_mut().find(|s| s.municipality == person.municipality) else { continue };
        if person.seat {
            share.confirmed += 1;
            if let Some(round) = person.round {
                share.seat_rounds.push(round);
            }
        } else {
            waiting_place += 1;
            share.waitlisted += 1;
            share.waiting_places.push(waiting_place);
        }
    }
    let last_round = order.iter().filter(|p| p.seat).filter_map(|p| p.round).max().unwrap_or(0);
    AllocationExplained { seats, requests: requests.len(), round_order, last_round, shares, order }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copied_session_keeps_its_weekday_and_its_swedish_time_of_day() {
        // Tuesday 7 September 2027, 09:00 in Stockholm (summer time).
        let at = Utc.with_ymd_and_hms(2027, 9, 7, 7, 0, 0).unwrap();
        let moved = a_year_later(at).with_timezone(&Stockholm);
        assert_eq!(moved.format("%A %Y-%m-%d %H:%M").to_string(), "Tuesday 2028-09-05 09:00");
        // Across a change of daylight saving time: Monday 26 March 2029 is summer time,
        // Monday 25 March 2030 is not yet; 09:00 stays 09:00 (08:00 UTC, not 07:00).
        let summer = Utc.with_ymd_and_hms(2029, 3, 26, 7, 0, 0).unwrap();
        let moved = a_year_later(summer);
        assert_eq!(moved.with_timezone(&Stockholm).format("%A %Y-%m-%d %H:%M").to_string(), "Monday 2030-03-25 09:00");
        assert_eq!(moved, Utc.with_ymd_and_hms(2030, 3, 25, 8, 0, 0).unwrap());
        assert_eq!(next_years_term(Term::parse("VT2028").unwrap()).to_string(), "VT2029");
    }

    #[test]
    fn the_explanation_follows_the_rounds_of_the_fair_allocation() {
        let r = |s: &str, m: &str, late: bool| (s.to_string(), m.to_string(), late);
        // Uddevalla asked for three, Vänersborg for one, Åmål late for one; three seats.
        let requests = [
            r("a", "uddevalla", false),
            r("b", "uddevalla", false),
            r("c", "uddevalla", false),
            r("v", "vanersborg", false),
            r("x", "amal", true),
        ];
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let explained = explain(3, &requests, s(&["vanersborg", "uddevalla"]), s(&["v", "a", "b"]), s(&["c", "x"]));
        assert_eq!(explained.last_round, 2);
        let udd = &explained.shares[1];
        assert_eq!((udd.turn, udd.in_time, udd.confirmed, udd.waitlisted), (Some(2), 3, 2, 1));
        assert_eq!((udd.seat_rounds.clone(), udd.waiting_places.clone()), (vec![1, 2], vec![1]));
        let amal = &explained.shares[2];
        assert_eq!((amal.turn, amal.late, amal.waiting_places.clone()), (None, 1, vec![2]));
    }
}
