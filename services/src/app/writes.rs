//! Commands: each use case gathers facts, runs the command(s) and answers.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use kurslogg_domain::course::{CourseCommand, CourseEvent};
use kurslogg_domain::municipality::{LineOutcome, MunicipalRole, Municipality, MunicipalityCommand, ReceivedLine};
use kurslogg_domain::offering::rules::{on_leaving, OnLeaving};
use kurslogg_domain::offering::{
    CourseFacts, Offering, OfferingCommand, OfferingDetails, OfferingError, OfferingEvent, ParticipantFacts,
    PastParticipation, RegistrationStatus, RegistrationWindow,
};
use kurslogg_domain::package::{PackageCommand, PackageError, PackagePhase};
use kurslogg_domain::staff::{StaffCommand, StaffError, StaffMember, StaffProfile, StaffStatus};
use kurslogg_domain::{
    Attendance, CourseCode, MunicipalityId, OfferingId, PackageId, Refusal, SeatLimit, StaffId, Term, Text,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::errors::Kind;
use super::{AppError, CommandContext, Kurslogg, Role};
use crate::mail::swedish as mail_swedish;
use crate::store::{Aggregates, AppendError, Basis, CommandError, Seen, StoredResponse, POSITION_PLACEHOLDER};
use kurslogg_domain::swedish;

/// How often a command is decided again after the facts it was decided on changed under
/// it (another instance wrote them), each time on facts read afresh from the log.
const FACT_ATTEMPTS: usize = 8;

/// The facts gathered for one attempt at a command: every aggregate they were read from,
/// at the sequence read, for the command's [`Basis`]. A first attempt reads this
/// instance's cached state; an attempt after stale facts reads the log (`fresh`).
pub(super) struct Gathered {
    fresh: bool,
    seen: Vec<Seen>,
}

impl Gathered {
    /// The gathering for attempt `attempt` (from 0).
    fn attempt(attempt: usize) -> Self {
        Self { fresh: attempt > 0, seen: vec![] }
    }

    /// `f` of aggregate `id`, noted as seen; `None` if it has no events.
    async fn fact<A, R>(
        &mut self,
        aggregates: &Aggregates<A>,
        id: &str,
        f: impl FnOnce(&A) -> R,
    ) -> Result<Option<R>, AppError>
    where
        A: cqrs_es::Aggregate + Clone + 'static,
        A::Command: Clone + Send + Sync,
        A::Event: Send + Sync,
        A::Error: Send + Sync,
    {
        let (fact, seen) = aggregates.fact(id, self.fresh, f).await?;
        self.seen.push(seen);
        Ok(fact)
    }

    /// The basis of a command decided on these facts.
    fn basis<A>(self) -> Basis<A> {
        Basis::seen(self.seen)
    }
}

/// The answer to a command that changed (or confirmed) one record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Written {
    /// Id of the record the command addressed.
    pub id: String,
    /// Events appended (0 when the command changed nothing).
    pub events: usize,
    /// Global log position of the last event written, for read-your-writes.
    pub position: Option<i64>,
}

/// Where a registration line ended up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LineStatus {
    /// Awaits allocation at the deadline.
    Requested,
    /// Holds a seat.
    Confirmed,
    /// On the waiting list.
    Waiting,
    /// Refused; see `code` and `reason`.
    Refused,
}

/// The answer to one registration (a single one or a line of a collective one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RegistrationOutcome {
    /// The staff member.
    pub staff_id: String,
    /// The offering.
    pub offering_id: String,
    /// Where the registration stands.
    pub status: LineStatus,
    /// The person was already registered; nothing changed.
    pub already_registered: bool,
    /// Prerequisites the course office let pass.
    pub prerequisites_overridden: Vec<String>,
    /// Machine-readable refusal code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Why it was refused, in Swedish.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The prerequisite courses found missing (codes), when that is why it was refused.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing_prerequisites: Vec<String>,
    /// Global log position written.
    pub position: Option<i64>,
}

/// One line of a collective registration, in the municipality's priority order.
#[derive(Debug, Clone)]
pub struct RegistrationLine {
    /// Who.
    pub staff: StaffId,
    /// On what.
    pub offering: OfferingId,
    /// Course-office override of unmet prerequisites.
    pub override_prerequisites: bool,
}

/// The receipt of a collective registration: every line's outcome, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CollectiveReceipt {
    /// The municipality.
    pub municipality: String,
    /// Lines in the order given.
    pub lines: Vec<RegistrationOutcome>,
    /// Count per status.
    pub requested: usize,
    /// Count per status.
    pub confirmed: usize,
    /// Count per status.
    pub waiting: usize,
    /// Count per status.
    pub refused: usize,
    /// Global log position of the last event written (the receipt), for read-your-writes;
    /// absent when nothing was written.
    #[serde(default)]
    pub position: Option<i64>,
}

/// What closing registration did to each offering.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AllocationReport {
    /// The package.
    pub package_id: String,
    /// One entry per offering.
    pub offerings: Vec<OfferingAllocation>,
    /// Global log position of the last event written, for read-your-writes; absent when
    /// nothing was written.
    #[serde(default)]
    pub position: Option<i64>,
}

/// Seats allocated on one offering.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OfferingAllocation {
    /// The offering.
    pub offering_id: String,
    /// Seats given.
    pub confirmed: usize,
    /// Put on the waiting list.
    pub waitlisted: usize,
    /// Municipalities in turn order.
    pub round_order: Vec<String>,
    /// Set when allocation was skipped (already allocated, cancelled).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

/// How an idempotent answer is stored: the result, or the refusal.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
enum Recorded<R> {
    Done { result: R },
    Refused { code: String, message: String, kind: Kind },
}

fn record<R: Serialize>(ctx: &CommandContext, outcome: &Result<R, AppError>) -> Option<StoredResponse> {
    let idempotency = ctx.idempotency.as_ref()?;
    let (status, recorded) = match outcome {
        Ok(result) => (200, serde_json::to_string(&Recorded::Done { result }).ok()?),
        Err(AppError::Refused { code, message, kind }) => (
            kind.status(),
            serde_json::to_string(&Recorded::<()>::Refused {
                code: code.clone(),
                message: message.clone(),
                kind: *kind,
            })
            .ok()?,
        ),
        // Validation and infrastructure failures are not answers worth repeating.
        Err(_) => return None,
    };
    Some(StoredResponse {
        actor_id: ctx.actor.id.clone(),
        key: idempotency.key.clone(),
        request_hash: idempotency.request_hash.clone(),
        status,
        body: recorded,
        aggregate_id: None,
        last_sequence: None,
    })
}

/// A UUID that follows from the actor, the Idempotency-Key and the request (none without a
/// key): the same for a retry of the same request, different for any other.
fn idempotent_uuid(ctx: &CommandContext) -> Option<uuid::Uuid> {
    let idempotency = ctx.idempotency.as_ref()?;
    let name = format!("{}\n{}\n{}", ctx.actor.id, idempotency.key, idempotency.request_hash);
    Some(uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, name.as_bytes()))
}

fn registration_outcome(
    staff: StaffId,
    offering: OfferingId,
    events: &[OfferingEvent],
    position: Option<i64>,
) -> RegistrationOutcome {
    let (status, overridden) = events
        .iter()
        .find_map(|e| match e {
            OfferingEvent::RegistrationRequested { prerequisites_overridden, .. } => {
                Some((LineStatus::Requested, prerequisites_overridden))
            }
            OfferingEvent::LateRegistrationConfirmed { prerequisites_overridden, .. } => {
                Some((LineStatus::Confirmed, prerequisites_overridden))
            }
            OfferingEvent::LateRegistrationWaitlisted { prerequisites_overridden, .. } => {
                Some((LineStatus::Waiting, prerequisites_overridden))
            }
            _ => None,
        })
        .map(|(s, o)| (s, o.iter().map(ToString::to_string).collect()))
        .unwrap_or((LineStatus::Refused, vec![]));
    RegistrationOutcome {
        staff_id: staff.to_string(),
        offering_id: offering.to_string(),
        status,
        already_registered: false,
        prerequisites_overridden: overridden,
        code: None,
        reason: None,
        missing_prerequisites: vec![],
        position,
    }
}

fn line_status(status: RegistrationStatus) -> LineStatus {
    match status {
        RegistrationStatus::Requested => LineStatus::Requested,
        RegistrationStatus::Confirmed => LineStatus::Confirmed,
        RegistrationStatus::Waiting => LineStatus::Waiting,
        _ => LineStatus::Refused,
    }
}

/// The receipt's lines as the municipality's event records them (ids and codes only).
fn received_lines(lines: &[RegistrationOutcome]) -> Vec<ReceivedLine> {
    lines
        .iter()
        .filter_map(|line| {
            Some(ReceivedLine {
                staff: line.staff_id.parse().ok()?,
                offering: line.offering_id.parse().ok()?,
                outcome: match line.status {
                    LineStatus::Requested => LineOutcome::Requested,
                    LineStatus::Confirmed => LineOutcome::Confirmed,
                    LineStatus::Waiting => LineOutcome::Waiting,
                    LineStatus::Refused => LineOutcome::Refused,
                },
                refusal: line.code.clone(),
                missing: line.missing_prerequisites.iter().filter_map(|c| CourseCode::parse(c).ok()).collect(),
            })
        })
        .collect()
}

/// `basis`, assuming (when the person's history was not gathered) that the offering still
/// has no prerequisites when the command is decided: one revised in the meantime needs
/// the history after all.
fn with_history_if_needed(basis: Basis<Offering>, gathered_history: bool) -> Basis<Offering> {
    if gathered_history {
        basis
    } else {
        basis.assuming(|o: &Offering| o.details.as_ref().is_none_or(|d| d.prerequisites.is_empty()))
    }
}

fn refused_line(line: &RegistrationLine, error: &AppError) -> RegistrationOutcome {
    let code = match error {
        AppError::Refused { code, .. } => code.clone(),
        AppError::Forbidden(_) => "forbidden".into(),
        AppError::Validation(_) => "validation".into(),
        _ => "unavailable".into(),
    };
    RegistrationOutcome {
        staff_id: line.staff.to_string(),
        offering_id: line.offering.to_string(),
        status: LineStatus::Refused,
        already_registered: false,
        prerequisites_overridden: vec![],
        code: Some(code),
        reason: Some(error.to_string()),
        missing_prerequisites: vec![],
        position: None,
    }
}

impl Kurslogg {
    /// Returns the recorded answer to a repeated idempotent request, if there is one.
    async fn replay<R: DeserializeOwned>(&self, ctx: &CommandContext) -> Result<Option<Result<R, AppError>>, AppError> {
        let Some(idempotency) = &ctx.idempotency else { return Ok(None) };
        let Some(stored) = self.log.stored_response(&ctx.actor.id, &idempotency.key).await? else { return Ok(None) };
        if stored.request_hash != idempotency.request_hash {
            return Err(AppError::IdempotencyKeyReused);
        }
        let recorded: Recorded<R> = serde_json::from_str(&stored.body)
            .map_err(|e| AppError::Store(crate::store::StoreError::Corrupt(format!("idempotency record: {e}"))))?;
        Ok(Some(match recorded {
            Recorded::Done { result } => Ok(result),
            Recorded::Refused { code, message, kind } => Err(AppError::Refused { code, message, kind }),
        }))
    }

    /// Records the answer to an idempotent request that spanned several records.
    async fn remember<R: Serialize + DeserializeOwned>(
        &self,
        ctx: &CommandContext,
        outcome: Result<R, AppError>,
    ) -> Result<R, AppError> {
        if let Some(response) = record(ctx, &outcome) {
            match self.log.append(&[], std::slice::from_ref(&response)).await {
                Ok(_) | Err(AppendError::Conflict | AppendError::Stale(_)) => {}
                // A concurrent twin answered first; its answer is the one to give.
                Err(AppendError::IdempotencyKeyTaken) => {
                    if let Some(first) = self.replay(ctx).await? {
                        return first;
                    }
                }
                Err(AppendError::Store(e)) => return Err(e.into()),
            }
        }
        outcome
    }

    /// Runs one command on one aggregate, atomically with its idempotency record.
    pub(super) async fn run<A, R>(
        &self,
        aggregates: &Aggregates<A>,
        id: &str,
        command: A::Command,
        ctx: &CommandContext,
        answer: impl Fn(&[A::Event], Option<i64>) -> R + Send + Sync + 'static,
    ) -> Result<R, AppError>
    where
        A: cqrs_es::Aggregate + Clone + 'static,
        A::Command: Clone + Send + Sync,
        A::Event: Send + Sync,
        A::Error: Refusal + Send + Sync,
        R: Serialize + DeserializeOwned,
    {
        if let Some(first) = self.replay(ctx).await? {
            return first;
        }
        // Without facts from elsewhere nothing can be stale.
        self.run_on(aggregates, id, command, ctx, answer, Basis::default()).await?.ok_or(AppError::Contention)
    }

    /// Runs one command decided on facts from other aggregates (`basis`), atomically with
    /// its idempotency record; `None` when those facts changed before it was written
    /// (nothing was written: gather them again and run it again).
    async fn run_on<A, R>(
        &self,
        aggregates: &Aggregates<A>,
        id: &str,
        command: A::Command,
        ctx: &CommandContext,
        answer: impl Fn(&[A::Event], Option<i64>) -> R + Send + Sync + 'static,
        basis: Basis<A>,
    ) -> Result<Option<R>, AppError>
    where
        A: cqrs_es::Aggregate + Clone + 'static,
        A::Command: Clone + Send + Sync,
        A::Event: Send + Sync,
        A::Error: Refusal + Send + Sync,
        R: Serialize + DeserializeOwned,
    {
        let answer = Arc::new(answer);
        let respond: Option<crate::store::Respond<A>> = ctx.idempotency.is_some().then(|| {
            let (ctx, answer) = (ctx.clone(), answer.clone());
            let respond: crate::store::Respond<A> = Box::new(move |outcome: Result<&[A::Event], &A::Error>| {
                // The position is not known until the append; it fills in the placeholder.
                let outcome =
                    outcome.map(|events| answer(events, Some(POSITION_PLACEHOLDER))).map_err(AppError::refused);
                record(&ctx, &outcome).expect("an idempotent context records its answer")
            });
            respond
        });
        match aggregates.execute_on(id, command, &ctx.metadata(), respond, basis).await {
            Ok(done) => Ok(Some(answer(&done.events, done.position))),
            Err(CommandError::StaleFacts) => Ok(None),
            Err(CommandError::IdempotencyKeyTaken) => match self.replay(ctx).await? {
                Some(first) => first.map(Some),
                None => Err(AppError::IdempotencyKeyInFlight),
            },
            Err(e) => Err(e.into()),
        }
    }

    pub(super) fn written<E>(id: String) -> impl Fn(&[E], Option<i64>) -> Written + Send + Sync + 'static {
        move |events, position| Written { id: id.clone(), events: events.len(), position }
    }

    // ----- catalogue -----

    /// Adds a course to the catalogue.
    pub async fn add_course(
        &self,
        ctx: &CommandContext,
        code: CourseCode,
        title: Text,
        description: Text,
        prerequisites: Vec<CourseCode>,
    ) -> Result<Written, AppError> {
        let id = code.to_string();
        self.catalogue_command(ctx, id, CourseCommand::AddCourse { code, title, description, prerequisites }).await
    }

    /// Revises a catalogue course.
    pub async fn revise_course(
        &self,
        ctx: &CommandContext,
        code: CourseCode,
        title: Text,
        description: Text,
        prerequisites: Vec<CourseCode>,
    ) -> Result<Written, AppError> {
        self.catalogue_command(ctx, code.to_string(), CourseCommand::ReviseCourse { title, description, prerequisites })
            .await
    }

    /// Runs a catalogue command once its prerequisites are known courses.
    pub(super) async fn catalogue_command(
        &self,
        ctx: &CommandContext,
        id: String,
        command: CourseCommand,
    ) -> Result<Written, AppError> {
        self.ensure_course_office(ctx)?;
        if let CourseCommand::AddCourse { prerequisites, .. } | CourseCommand::ReviseCourse { prerequisites, .. } =
            &command
        {
            for prerequisite in prerequisites {
                self.existing_course(prerequisite).await?;
            }
        }
        self.run(&self.courses, &id, command, ctx, Self::written::<CourseEvent>(id.clone())).await
    }

    // ----- packages -----

    /// Starts a term's course package as a draft.
    pub async fn create_package(
        &self,
        ctx: &CommandContext,
        term: Term,
        title: Text,
        organiser: Text,
        deadline: Option<DateTime<Utc>>,
        recorded_afterwards: bool,
    ) -> Result<Written, AppError> {
        self.ensure_course_office(ctx)?;
        let id = PackageId::new();
        let command = PackageCommand::CreatePackage { id, term, title, organiser, deadline, recorded_afterwards };
        self.run(&self.packages, &id.to_string(), command, ctx, Self::written(id.to_string())).await
    }

    /// Moves, publishes or archives a package.
    pub async fn package_command(
        &self,
        ctx: &CommandContext,
        id: PackageId,
        mut command: PackageCommand,
    ) -> Result<Written, AppError> {
        self.ensure_course_office(ctx)?;
        if let PackageCommand::ChangeDeadline { first_session, .. } = &mut command {
            *first_session = self.first_session_of(id).await?;
        }
        self.run(&self.packages, &id.to_string(), command, ctx, Self::written(id.to_string())).await
    }

    /// Closes registration after the deadline and allocates every offering's seats
    /// fairly. Safe to repeat: a closed package re-runs allocation for offerings that
    /// missed it (e.g. after a crash) and leaves the rest alone.
    pub async fn close_registration(&self, ctx: &CommandContext, id: PackageId) -> Result<AllocationReport, AppError> {
        self.ensure_course_office(ctx)?;
        if let Some(first) = self.replay(ctx).await? {
            return first;
        }
        let outcome = self.close_and_allocate(ctx, id).await;
        self.remember(ctx, outcome).await
    }

    async fn close_and_allocate(&self, ctx: &CommandContext, id: PackageId) -> Result<AllocationReport, AppError> {
        let metadata = ctx.metadata();
        // The answer carries the position of the last event written, for read-your-writes.
        let mut position = None;
        match self.packages.execute(&id.to_string(), PackageCommand::CloseRegistration, &metadata, None).await {
            Ok(done) => position = done.position,
            Err(crate::store::CommandError::Refused(PackageError::WrongPhase {
                phase: PackagePhase::RegistrationClosed,
                ..
            })) => {}
            Err(e) => return Err(e.into()),
        }
        let package =
            self.packages.load(&id.to_string()).await?.ok_or_else(|| AppError::not_found("course package"))?;
        let window = RegistrationWindow {
            phase: package.phase,
            deadline: package.deadline,
            recorded_afterwards: package.recorded_afterwards,
        };
        let mut report = AllocationReport { package_id: id.to_string(), offerings: vec![], position };
        for offering in &package.offerings {
            let command = OfferingCommand::AllocateSeats { window };
            let mut line = OfferingAllocation {
                offering_id: offering.to_string(),
                confirmed: 0,
                waitlisted: 0,
                round_order: vec![],
                skipped: None,
            };
            match self.offerings.execute(&offering.to_string(), command, &metadata, None).await {
                Ok(done) => {
                    report.position = report.position.max(done.position);
                    for event in done.events {
                        if let OfferingEvent::SeatsAllocated { round_order, confirmed, waitlisted } = event {
                            line.confirmed = confirmed.len();
                            line.waitlisted = waitlisted.len();
                            line.round_order = round_order.iter().map(ToString::to_string).collect();
                        }
                    }
                }
                Err(crate::store::CommandError::Refused(refusal)) => line.skipped = Some(refusal.code().to_string()),
                Err(e) => return Err(e.into()),
            }
            report.offerings.push(line);
        }
        // Only now are the municipalities told their results (one letter each, not one per
        // offering). A crash before this line leaves the package unfinished, and closing
        // it again (the scheduler does) allocates what is missing and finishes it.
        let finished =
            self.packages.execute(&id.to_string(), PackageCommand::FinishAllocation, &metadata, None).await?;
        report.position = report.position.max(finished.position);
        Ok(report)
    }

    // ----- offerings -----

    /// Plans a run of a catalogue course in a package. Prerequisites default to the
    /// course's when `details.prerequisites` is `None`.
    pub async fn plan_offering(
        &self,
        ctx: &CommandContext,
        package_id: PackageId,
        course: CourseCode,
        mut details: OfferingDetails,
        prerequisites: Option<Vec<CourseCode>>,
        seat_limit: SeatLimit,
    ) -> Result<Written, AppError> {
        self.ensure_course_office(ctx)?;
        if let Some(first) = self.replay(ctx).await? {
            return first;
        }
        let outcome = async {
            let package = self
                .packages
                .load(&package_id.to_string())
                .await?
                .ok_or_else(|| AppError::not_found("course package"))?;
            if package.phase == PackagePhase::Archived {
                return Err(AppError::refused(&PackageError::WrongPhase {
                    phase: package.phase,
                    what: "an archived package takes no new offerings",
                }));
            }
            let catalogue = self.existing_course(&course).await?;
            details.prerequisites = match prerequisites {
                Some(list) => {
                    for prerequisite in &list {
                        self.existing_course(prerequisite).await?;
                    }
                    list
                }
                None => catalogue.prerequisites.clone(),
            };
            // With an Idempotency-Key, the id follows from the request: a retry after a crash
            // part-way finds the offering the first attempt planned, and finishes the rest.
            // (Not `unwrap_or_default`: an id's default is the nil UUID.)
            let id = match idempotent_uuid(ctx) {
                Some(uuid) => OfferingId(uuid),
                None => OfferingId::new(),
            };
            let facts = CourseFacts {
                code: course.clone(),
                title: catalogue.title.clone().expect("added courses have titles"),
                prerequisites: catalogue.prerequisites.clone(),
            };
            let metadata = ctx.metadata();
            let command = OfferingCommand::PlanOffering {
                id,
                package: package_id,
                term: package.term.expect("created packages have a term"),
                course: facts,
                details,
                seat_limit,
                window: RegistrationWindow {
                    phase: package.phase,
                    deadline: package.deadline,
                    recorded_afterwards: package.recorded_afterwards,
                },
            };
            let retried = ctx.idempotency.is_some();
            let planned = match self.offerings.execute(&id.to_string(), command, &metadata, None).await {
                Ok(planned) => planned.position,
                Err(CommandError::Refused(OfferingError::AlreadyExists)) if retried => None,
                Err(e) => return Err(e.into()),
            };
            crate::fault::crash_point("plan_offering_after_planning");
            // Including it twice changes nothing.
            let included = self
                .packages
                .execute(&package_id.to_string(), PackageCommand::IncludeOffering { offering: id }, &metadata, None)
                .await?;
            let mut position = included.position.or(planned);
            if package.phase == PackagePhase::RegistrationClosed {
                // Seats of a package whose deadline has passed go first come first served.
                let window = RegistrationWindow {
                    phase: package.phase,
                    deadline: package.deadline,
                    recorded_afterwards: package.recorded_afterwards,
                };
                let command = OfferingCommand::AllocateSeats { window };
                match self.offerings.execute(&id.to_string(), command, &metadata, None).await {
                    Ok(allocated) => position = allocated.position.or(position),
                    Err(CommandError::Refused(OfferingError::AlreadyAllocated)) if retried => {}
                    Err(e) => return Err(e.into()),
                }
            }
            Ok(Written { id: id.to_string(), events: 1, position })
        }
        .await;
        self.remember(ctx, outcome).await
    }

    /// Revises, re-seats or cancels an offering, completes it or withdraws a certificate.
    pub async fn offering_command(
        &self,
        ctx: &CommandContext,
        id: OfferingId,
        mut command: OfferingCommand,
    ) -> Result<Written, AppError> {
        self.ensure_course_office(ctx)?;
        if let OfferingCommand::ChangeSeatLimit { unavailable, .. } = &mut command {
            *unavailable = self.unavailable_waiting(id).await?;
        }
        if let OfferingCommand::ReviseOffering { window, .. } = &mut command {
            let (package, _) = self.package_and_prerequisites(id).await?;
            *window = Some(self.window_of(package).await?);
        }
        self.run(&self.offerings, &id.to_string(), command, ctx, Self::written(id.to_string())).await
    }

    /// Assigns a trainer's user account to an offering (or takes it off): they may then
    /// read its roster and record its attendance.
    pub async fn assign_trainer(
        &self,
        ctx: &CommandContext,
        offering: OfferingId,
        user_id: &str,
        assign: bool,
    ) -> Result<Written, AppError> {
        self.ensure_course_office(ctx)?;
        let user = self.auth.user(user_id).await.map_err(|e| AppError::Validation(e.to_string()))?;
        if assign && user.as_ref().is_none_or(|u| u.role != Role::Trainer) {
            return Err(AppError::Validation(format!("user_id: {user_id} is not a trainer's user account")));
        }
        let user = user_id.to_string();
        let command =
            if assign { OfferingCommand::AssignTrainer { user } } else { OfferingCommand::UnassignTrainer { user } };
        self.run(&self.offerings, &offering.to_string(), command, ctx, Self::written(offering.to_string())).await
    }

    /// Records (or corrects) attendance; a note goes to the participant's own record.
    pub async fn record_attendance(
        &self,
        ctx: &CommandContext,
        offering: OfferingId,
        staff: StaffId,
        session: usize,
        attendance: Attendance,
        note: Option<Text>,
    ) -> Result<Written, AppError> {
        if !ctx.actor.is_course_office() && !self.teaches(&ctx.actor, offering).await? {
            return Err(AppError::Forbidden(swedish::ATTENDANCE_BY_TRAINERS.into()));
        }
        // Sealed before anything is written: a note for someone erased is refused whole.
        let note = match note {
            Some(note) => {
                let member =
                    self.staff.peek(&staff.to_string()).await?.ok_or_else(|| AppError::not_found("staff member"))?;
                let command = StaffCommand::NoteAttendance { offering, session, note };
                Some(self.sealed_command(staff, Some(&member), command).await?)
            }
            None => None,
        };
        let command = OfferingCommand::RecordAttendance { staff, session, attendance };
        let Some(note) = note else {
            return self
                .run(&self.offerings, &offering.to_string(), command, ctx, Self::written(offering.to_string()))
                .await;
        };
        // Two writes: the attendance, then the note in the person's own stream with the
        // answer remembered for the Idempotency-Key in the same statement. A retry after a
        // crash between them records the same attendance again (which changes nothing)
        // and writes the note; a retry after the note gets the remembered answer.
        if let Some(first) = self.replay(ctx).await? {
            return first;
        }
        let recorded = match self.offerings.execute(&offering.to_string(), command, &ctx.metadata(), None).await {
            Ok(recorded) => recorded,
            Err(CommandError::Refused(refusal)) => return self.remember(ctx, Err(AppError::refused(&refusal))).await,
            Err(e) => return Err(e.into()),
        };
        crate::fault::crash_point("record_attendance_before_note");
        let events = recorded.events.len();
        let respond: Option<crate::store::Respond<StaffMember>> = ctx.idempotency.is_some().then(|| {
            let (ctx, id) = (ctx.clone(), offering.to_string());
            let respond: crate::store::Respond<StaffMember> = Box::new(move |outcome| {
                // The note is the last event written: its position answers (read-your-writes).
                let outcome = outcome
                    .map(|_| Written { id: id.clone(), events, position: Some(POSITION_PLACEHOLDER) })
                    .map_err(AppError::refused);
                record(&ctx, &outcome).expect("an idempotent context records its answer")
            });
            respond
        });
        match self.staff.execute(&staff.to_string(), note, &ctx.metadata(), respond).await {
            Ok(noted) => {
                Ok(Written { id: offering.to_string(), events, position: noted.position.or(recorded.position) })
            }
            Err(CommandError::IdempotencyKeyTaken) => match self.replay(ctx).await? {
                Some(first) => first,
                None => Err(AppError::IdempotencyKeyInFlight),
            },
            Err(e) => Err(e.into()),
        }
    }

    // ----- registrations -----

    /// Registers one staff member on one offering.
    pub async fn register(
        &self,
        ctx: &CommandContext,
        line: RegistrationLine,
    ) -> Result<RegistrationOutcome, AppError> {
        if let Some(first) = self.replay(ctx).await? {
            return first;
        }
        let (staff, offering) = (line.staff, line.offering);
        for attempt in 0..FACT_ATTEMPTS {
            let (command, basis) = self.registration_command(ctx, &line, Gathered::attempt(attempt)).await?;
            let answer =
                move |events: &[OfferingEvent], position| registration_outcome(staff, offering, events, position);
            if let Some(outcome) =
                self.run_on(&self.offerings, &offering.to_string(), command, ctx, answer, basis).await?
            {
                return Ok(outcome);
            }
        }
        Err(AppError::Contention)
    }

    /// The command registering `line`, and what it is decided on: the package's window
    /// and the person's status and history, read from their own aggregates.
    async fn registration_command(
        &self,
        ctx: &CommandContext,
        line: &RegistrationLine,
        mut facts: Gathered,
    ) -> Result<(OfferingCommand, Basis<Offering>), AppError> {
        if line.override_prerequisites && !ctx.actor.is_course_office() {
            return Err(AppError::Forbidden(swedish::OVERRIDE_BY_COURSE_OFFICE.into()));
        }
        let (package, needs_history) = self.package_and_prerequisites(line.offering).await?;
        let window = facts
            .fact(&self.packages, &package.to_string(), |p| RegistrationWindow {
                phase: p.phase,
                deadline: p.deadline,
                recorded_afterwards: p.recorded_afterwards,
            })
            .await?
            .ok_or_else(|| AppError::not_found("course package"))?;
        let participant =
            self.participant_facts(ctx, line.staff, needs_history, Some(line.offering), &mut facts).await?;
        let command =
            OfferingCommand::Register { participant, window, override_prerequisites: line.override_prerequisites };
        Ok((command, with_history_if_needed(facts.basis(), needs_history)))
    }

    /// A municipality's collective registration: every line in its priority order,
    /// answered line by line. Resubmitting it changes nothing: lines already registered
    /// report where they stand.
    pub async fn register_collectively(
        &self,
        ctx: &CommandContext,
        municipality: MunicipalityId,
        lines: Vec<RegistrationLine>,
    ) -> Result<CollectiveReceipt, AppError> {
        self.ensure_acts_for(ctx, &municipality)?;
        if let Some(first) = self.replay(ctx).await? {
            return first;
        }
        self.municipalities.peek(municipality.as_str()).await?.ok_or_else(|| AppError::not_found("municipality"))?;
        let mut receipt = CollectiveReceipt {
            municipality: municipality.to_string(),
            lines: Vec::with_capacity(lines.len()),
            requested: 0,
            confirmed: 0,
            waiting: 0,
            refused: 0,
            position: None,
        };
        for line in &lines {
            let outcome = match self.register_line(ctx, &municipality, line).await {
                Ok(outcome) => outcome,
                Err(e @ (AppError::Store(_) | AppError::Contention)) => return Err(e),
                Err(e) => refused_line(line, &e),
            };
            match outcome.status {
                LineStatus::Requested => receipt.requested += 1,
                LineStatus::Confirmed => receipt.confirmed += 1,
                LineStatus::Waiting => receipt.waiting += 1,
                LineStatus::Refused => receipt.refused += 1,
            }
            receipt.lines.push(outcome);
        }
        // The receipt itself is an event: the coordinators get it by e-mail, and the
        // audit trail shows what the municipality was answered. Only when something was
        // registered: a resubmission that changes nothing (or a registration refused
        // line by line, answered at once) appends nothing and sends nothing. A retry
        // with the same Idempotency-Key that gets this far had no answer recorded, so the
        // first attempt stopped before its receipt (the two are written together): its
        // lines stand (reported as already registered) and the retry writes the receipt.
        let retried = ctx.idempotency.is_some();
        let registered =
            receipt.lines.iter().any(|l| l.status != LineStatus::Refused && (!l.already_registered || retried));
        crate::fault::crash_point("collective_registration_before_receipt");
        if !registered {
            return self.remember(ctx, Ok(receipt)).await;
        }
        let received = MunicipalityCommand::ReceiveCollectiveRegistration { lines: received_lines(&receipt.lines) };
        // The receipt and the answer remembered for the Idempotency-Key in one statement;
        // the remembered answer's position is the receipt's, filled in as it is written.
        let respond: Option<crate::store::Respond<Municipality>> = ctx.idempotency.is_some().then(|| {
            let (ctx, mut receipt) = (ctx.clone(), receipt.clone());
            receipt.position = Some(POSITION_PLACEHOLDER);
            let respond: crate::store::Respond<Municipality> = Box::new(move |outcome| {
                let outcome = outcome.map(|_| receipt.clone()).map_err(AppError::refused);
                record(&ctx, &outcome).expect("an idempotent context records its answer")
            });
            respond
        });
        match self.municipalities.execute(municipality.as_str(), received, &ctx.metadata(), respond).await {
            Ok(done) => {
                crate::fault::crash_point("collective_registration_after_receipt");
                receipt.position = done.position;
                Ok(receipt)
            }
            // A concurrent twin with the same key wrote its receipt first: its answer is the one.
            Err(CommandError::IdempotencyKeyTaken) => match self.replay(ctx).await? {
                Some(first) => first,
                None => Err(AppError::IdempotencyKeyInFlight),
            },
            Err(e) => Err(e.into()),
        }
    }

    async fn register_line(
        &self,
        ctx: &CommandContext,
        municipality: &MunicipalityId,
        line: &RegistrationLine,
    ) -> Result<RegistrationOutcome, AppError> {
        let member =
            self.staff.peek(&line.staff.to_string()).await?.ok_or_else(|| AppError::not_found("staff member"))?;
        if member.municipality.as_ref() != Some(municipality) {
            return Err(AppError::rule("staff_of_other_municipality", swedish::staff_of_other_municipality()));
        }
        let id = line.offering.to_string();
        for attempt in 0..FACT_ATTEMPTS {
            let (command, basis) = self.registration_command(ctx, line, Gathered::attempt(attempt)).await?;
            let result = self.offerings.execute_on(&id, command, &ctx.metadata(), None, basis).await;
            return match result {
                Ok(done) => Ok(registration_outcome(line.staff, line.offering, &done.events, done.position)),
                Err(CommandError::StaleFacts) => continue,
                Err(CommandError::Refused(OfferingError::PrerequisiteMissing(missing))) => Ok(RegistrationOutcome {
                    staff_id: line.staff.to_string(),
                    offering_id: line.offering.to_string(),
                    status: LineStatus::Refused,
                    already_registered: false,
                    prerequisites_overridden: vec![],
                    code: Some("prerequisite_missing".into()),
                    reason: Some(swedish::prerequisites_missing(&self.courses_named(&missing).await?)),
                    missing_prerequisites: missing.iter().map(ToString::to_string).collect(),
                    position: None,
                }),
                Err(CommandError::Refused(OfferingError::AlreadyRegistered)) => {
                    // The refusal was checked against the log as it was written, so the
                    // state it was decided on is current: report where they stand in it.
                    let status = self
                        .offerings
                        .inspect(&id, |o| o.active_registration(line.staff).map(|r| r.status))
                        .await?
                        .flatten()
                        .ok_or(AppError::Contention)?;
                    Ok(RegistrationOutcome {
                        staff_id: line.staff.to_string(),
                        offering_id: line.offering.to_string(),
                        status: line_status(status),
                        already_registered: true,
                        prerequisites_overridden: vec![],
                        code: None,
                        reason: None,
                        missing_prerequisites: vec![],
                        position: None,
                    })
                }
                Err(e) => Err(e.into()),
            };
        }
        Err(AppError::Contention)
    }

    /// Cancels a registration (charged when a binding seat is given up).
    pub async fn cancel_registration(
        &self,
        ctx: &CommandContext,
        offering: OfferingId,
        staff: StaffId,
    ) -> Result<Written, AppError> {
        self.ensure_may_act_for_staff(ctx, staff).await?;
        let unavailable = self.unavailable_waiting(offering).await?;
        let command = OfferingCommand::CancelRegistration { staff, unavailable };
        self.run(&self.offerings, &offering.to_string(), command, ctx, Self::written(offering.to_string())).await
    }

    /// Hands a registration to another person of the same municipality.
    pub async fn transfer_seat(
        &self,
        ctx: &CommandContext,
        offering: OfferingId,
        from: StaffId,
        to: StaffId,
        override_prerequisites: bool,
    ) -> Result<Written, AppError> {
        self.ensure_may_act_for_staff(ctx, from).await?;
        if override_prerequisites && !ctx.actor.is_course_office() {
            return Err(AppError::Forbidden(swedish::OVERRIDE_BY_COURSE_OFFICE.into()));
        }
        if let Some(first) = self.replay(ctx).await? {
            return first;
        }
        for attempt in 0..FACT_ATTEMPTS {
            let mut facts = Gathered::attempt(attempt);
            let (_, needs_history) = self.package_and_prerequisites(offering).await?;
            let to = self.participant_facts(ctx, to, needs_history, Some(offering), &mut facts).await?;
            let command = OfferingCommand::TransferSeat { from, to, override_prerequisites };
            let basis = with_history_if_needed(facts.basis(), needs_history);
            let answer = Self::written(offering.to_string());
            if let Some(written) =
                self.run_on(&self.offerings, &offering.to_string(), command, ctx, answer, basis).await?
            {
                return Ok(written);
            }
        }
        Err(AppError::Contention)
    }

    // ----- municipalities and staff -----

    /// Adds a member municipality.
    pub async fn add_municipality(
        &self,
        ctx: &CommandContext,
        id: MunicipalityId,
        name: Text,
        federation: Text,
    ) -> Result<Written, AppError> {
        self.ensure_course_office(ctx)?;
        let command = MunicipalityCommand::AddMunicipality { id: id.clone(), name, federation };
        self.run(&self.municipalities, id.as_str(), command, ctx, Self::written(id.to_string())).await
    }

    /// Gives or takes a municipal role.
    pub async fn set_role(
        &self,
        ctx: &CommandContext,
        municipality: MunicipalityId,
        staff: StaffId,
        role: MunicipalRole,
        assign: bool,
    ) -> Result<Written, AppError> {
        self.ensure_acts_for(ctx, &municipality)?;
        if let Some(first) = self.replay(ctx).await? {
            return first;
        }
        for attempt in 0..FACT_ATTEMPTS {
            let mut facts = Gathered::attempt(attempt);
            let (staff_municipality, status) = facts
                .fact(&self.staff, &staff.to_string(), |m| (m.municipality.clone().expect("added"), m.status))
                .await?
                .ok_or_else(|| AppError::not_found("staff member"))?;
            // Nobody erased takes a role: their letters could never be written. Revoking one
            // an erased person held is what the municipality should do.
            if assign && status == StaffStatus::Erased {
                return Err(AppError::refused(&StaffError::Erased));
            }
            let command = if assign {
                MunicipalityCommand::AssignRole { staff, staff_municipality, role }
            } else {
                MunicipalityCommand::RevokeRole { staff, role }
            };
            let answer = Self::written(municipality.to_string());
            let basis = if assign { facts.basis() } else { Basis::default() };
            if let Some(written) =
                self.run_on(&self.municipalities, municipality.as_str(), command, ctx, answer, basis).await?
            {
                // A coordinator is one person with the role and the login (docs/decisions/0018).
                if !assign && role == MunicipalRole::Coordinator {
                    self.close_coordinator_accounts(ctx, staff).await?;
                }
                return Ok(written);
            }
        }
        Err(AppError::Contention)
    }

    /// Adds a staff member to a municipality.
    pub async fn add_staff(
        &self,
        ctx: &CommandContext,
        municipality: MunicipalityId,
        profile: StaffProfile,
    ) -> Result<Written, AppError> {
        self.ensure_acts_for(ctx, &municipality)?;
        if let Some(first) = self.replay(ctx).await? {
            return first;
        }
        self.municipalities.peek(municipality.as_str()).await?.ok_or_else(|| AppError::not_found("municipality"))?;
        self.check_supervisor(&municipality, profile.supervisor).await?;
        let id = StaffId::new();
        let command = self.sealed_command(id, None, StaffCommand::AddStaffMember { id, municipality, profile }).await?;
        self.run(&self.staff, &id.to_string(), command, ctx, Self::written(id.to_string())).await
    }

    /// Updates, pauses, resumes or removes a staff member (erasure is `erase_staff`).
    pub async fn staff_command(
        &self,
        ctx: &CommandContext,
        id: StaffId,
        command: StaffCommand,
    ) -> Result<Written, AppError> {
        if let StaffCommand::RemoveStaffMember = command {
            return self.remove_staff(ctx, id, false).await;
        }
        if let Some(first) = self.replay(ctx).await? {
            return first;
        }
        let member = self.ensure_may_act_for_staff(ctx, id).await?;
        if let StaffCommand::UpdateStaffMember { profile } = &command {
            self.check_supervisor(member.municipality.as_ref().expect("added"), profile.supervisor).await?;
        }
        let command = self.sealed_command(id, Some(&member), command).await?;
        self.run(&self.staff, &id.to_string(), command, ctx, Self::written(id.to_string())).await
    }

    /// Removes a staff member who left, and settles their registrations on offerings
    /// still running (docs/decisions/0013): a request or a waiting-list place ends free,
    /// a confirmed seat on a course under way is given up as a cancellation (charged), a
    /// confirmed seat on a course that is over stays (it is their history). A confirmed
    /// seat on a course that has not started could still be transferred to a colleague
    /// free of charge, so the removal is refused (`seat_transferable`, naming the
    /// courses) unless `give_up_seats` says to give them up, charged. Asking again
    /// settles what a stopped first attempt left.
    pub async fn remove_staff(
        &self,
        ctx: &CommandContext,
        id: StaffId,
        give_up_seats: bool,
    ) -> Result<Written, AppError> {
        if let Some(first) = self.replay(ctx).await? {
            return first;
        }
        let member = self.ensure_may_act_for_staff(ctx, id).await?;
        let outcome = async {
            let now = self.clock.now();
            let (mut settle, mut transferable) = (Vec::new(), Vec::new());
            for offering in self.participation.offerings_of(&self.log, id).await? {
                let standing = self
                    .offerings
                    .inspect(&offering.to_string(), |o| {
                        let registration = o.active_registration(id).filter(|_| !o.cancelled && !o.completed)?;
                        let details = o.details.as_ref()?;
                        let title = o.title.as_ref().map(ToString::to_string).unwrap_or_default();
                        let leaving = on_leaving(registration.status, now, details.starts_at(), details.ends_at());
                        Some((leaving, title, details.starts_at()))
                    })
                    .await?
                    .flatten();
                match standing {
                    Some((OnLeaving::TransferFirst, title, starts_at)) => {
                        transferable.push(format!("{title} (börjar {})", mail_swedish::date(starts_at)));
                        settle.push(offering);
                    }
                    Some((OnLeaving::EndsFree | OnLeaving::GivenUp, ..)) => settle.push(offering),
                    Some((OnLeaving::Kept, ..)) | None => {}
                }
            }
            if !transferable.is_empty() && !give_up_seats {
                return Err(AppError::rule("seat_transferable", swedish::seat_transferable(&transferable)));
            }
            let command = self.sealed_command(id, Some(&member), StaffCommand::RemoveStaffMember).await?;
            let removed = self.staff.execute(&id.to_string(), command, &ctx.metadata(), None).await?;
            let (mut events, mut position) = (removed.events.len(), removed.position);
            for offering in settle {
                // Gathered after the removal: the person is among the unavailable too.
                let unavailable = self.unavailable_waiting(offering).await?;
                let command = OfferingCommand::CancelRegistration { staff: id, unavailable };
                match self.offerings.execute(&offering.to_string(), command, &ctx.metadata(), None).await {
                    Ok(done) => {
                        events += done.events.len();
                        position = done.position.or(position);
                    }
                    // Settled meanwhile by someone else.
                    Err(crate::store::CommandError::Refused(OfferingError::NotRegistered)) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            Ok(Written { id: id.to_string(), events, position })
        }
        .await;
        self.remember(ctx, outcome).await
    }

    /// Courses as a reason names them: "LVU grund (LVU-GRUND)".
    pub(super) async fn courses_named(&self, codes: &[CourseCode]) -> Result<Vec<String>, AppError> {
        let mut named = Vec::with_capacity(codes.len());
        for code in codes {
            let title = self.courses.inspect(code.as_str(), |c| c.title.as_ref().map(ToString::to_string)).await?;
            named.push(swedish::course(code, title.flatten().as_deref()));
        }
        Ok(named)
    }

    /// When the earliest offering of a package (not cancelled) starts.
    async fn first_session_of(&self, package: PackageId) -> Result<Option<DateTime<Utc>>, AppError> {
        let offerings = self.packages.inspect(&package.to_string(), |p| p.offerings.clone()).await?.unwrap_or_default();
        let mut first: Option<DateTime<Utc>> = None;
        for offering in offerings {
            let starts = self
                .offerings
                .inspect(&offering.to_string(), |o| o.details.as_ref().filter(|_| !o.cancelled).map(|d| d.starts_at()))
                .await?
                .flatten();
            first = first.into_iter().chain(starts).min();
        }
        Ok(first)
    }

    /// The registration window of `package`, as the offering's rules take it.
    async fn window_of(&self, package: PackageId) -> Result<RegistrationWindow, AppError> {
        self.packages
            .inspect(&package.to_string(), |p| RegistrationWindow {
                phase: p.phase,
                deadline: p.deadline,
                recorded_afterwards: p.recorded_afterwards,
            })
            .await?
            .ok_or_else(|| AppError::not_found("course package"))
    }

    /// Who on an offering's waiting list may not be promoted now: paused, removed or
    /// erased (facts from their own streams, gathered before a command that frees seats).
    async fn unavailable_waiting(&self, offering: OfferingId) -> Result<Vec<StaffId>, AppError> {
        let waiting = self.offerings.inspect(&offering.to_string(), |o| o.waiting_list.clone()).await?;
        let mut unavailable = Vec::new();
        for staff in waiting.unwrap_or_default() {
            let status = self.staff.inspect(&staff.to_string(), |m| m.status).await?;
            if status.is_some_and(|s| s != StaffStatus::Active) {
                unavailable.push(staff);
            }
        }
        Ok(unavailable)
    }

    // ----- facts and permissions -----

    async fn check_supervisor(
        &self,
        municipality: &MunicipalityId,
        supervisor: Option<StaffId>,
    ) -> Result<(), AppError> {
        let Some(supervisor) = supervisor else { return Ok(()) };
        let member =
            self.staff.peek(&supervisor.to_string()).await?.ok_or_else(|| AppError::not_found("supervisor"))?;
        if member.municipality.as_ref() != Some(municipality) {
            return Err(AppError::rule(
                "supervisor_of_other_municipality",
                swedish::supervisor_of_other_municipality(),
            ));
        }
        if member.status == StaffStatus::Erased {
            return Err(AppError::rule("supervisor_erased", swedish::supervisor_erased()));
        }
        Ok(())
    }

    /// The offering's package, and whether it has prerequisites (so a newcomer's history
    /// is worth gathering), from the cached state without copying it.
    async fn package_and_prerequisites(&self, offering: OfferingId) -> Result<(PackageId, bool), AppError> {
        self.offerings
            .inspect(&offering.to_string(), |o| {
                (o.package, o.details.as_ref().is_some_and(|d| !d.prerequisites.is_empty()))
            })
            .await?
            .ok_or_else(|| AppError::not_found("course offering"))
    }

    async fn existing_course(&self, code: &CourseCode) -> Result<kurslogg_domain::course::Course, AppError> {
        self.courses
            .peek(code.as_str())
            .await?
            .ok_or_else(|| AppError::rule("unknown_course", swedish::unknown_course(code)))
    }

    /// What an offering's rules need to know of a person about to take a seat on
    /// offering `on`: their municipality and status, and (`with_history`) their standing
    /// on the offerings they have been on, each read as a fact (see [`Gathered`]).
    async fn participant_facts(
        &self,
        ctx: &CommandContext,
        staff: StaffId,
        with_history: bool,
        on: Option<OfferingId>,
        facts: &mut Gathered,
    ) -> Result<ParticipantFacts, AppError> {
        let (municipality, status) = facts
            .fact(&self.staff, &staff.to_string(), |m| {
                (m.municipality.clone().expect("added staff have a municipality"), m.status)
            })
            .await?
            .ok_or_else(|| AppError::not_found("staff member"))?;
        self.ensure_acts_for_staff_of(ctx, &municipality)?;
        let mut history = vec![];
        if with_history {
            // The index reads the log up to now, so it knows offerings the person joined
            // through another instance too.
            for offering_id in self.participation.offerings_of(&self.log, staff).await? {
                let standing = |offering: &Offering| {
                    let registration = offering.registrations.get(&staff)?;
                    Some(PastParticipation {
                        offering: offering_id,
                        course: offering.course.clone()?,
                        completed: registration.certificate.is_some(),
                        confirmed: registration.status == RegistrationStatus::Confirmed && !offering.cancelled,
                        ends_at: offering.details.as_ref().map(|d| d.ends_at()).unwrap_or_default(),
                    })
                };
                // The offering the command runs on is decided on its own state; a check on
                // it here would fail for every command queued behind another.
                let past = if Some(offering_id) == on {
                    self.offerings.inspect(&offering_id.to_string(), standing).await?
                } else {
                    facts.fact(&self.offerings, &offering_id.to_string(), standing).await?
                };
                history.extend(past.flatten());
            }
        }
        Ok(ParticipantFacts { staff, municipality, status, history })
    }

    pub(super) fn ensure_course_office(&self, ctx: &CommandContext) -> Result<(), AppError> {
        if ctx.actor.is_course_office() {
            Ok(())
        } else {
            Err(AppError::Forbidden(swedish::course_office_only(ctx.actor.role.in_swedish())))
        }
    }

    /// A coordinator acts only for their own municipality; the course office for any.
    fn ensure_acts_for(&self, ctx: &CommandContext, municipality: &MunicipalityId) -> Result<(), AppError> {
        let own_coordinator =
            ctx.actor.role == Role::Coordinator && ctx.actor.municipality.as_ref() == Some(municipality);
        if ctx.actor.is_course_office() || own_coordinator {
            Ok(())
        } else {
            Err(AppError::Forbidden(swedish::coordinator_of_only(municipality.as_str())))
        }
    }

    /// Acting for a staff member of `municipality`: the course office, or a coordinator
    /// of it. To another municipality's coordinator the person does not exist (no leak
    /// across municipalities); other roles are forbidden.
    fn ensure_acts_for_staff_of(&self, ctx: &CommandContext, municipality: &MunicipalityId) -> Result<(), AppError> {
        match self.ensure_acts_for(ctx, municipality) {
            Ok(()) => Ok(()),
            Err(_) if ctx.actor.role == Role::Coordinator => Err(AppError::not_found("staff member")),
            Err(_) => {
                Err(AppError::Forbidden(swedish::may_not(ctx.actor.role.in_swedish(), "göra något för personal")))
            }
        }
    }

    async fn ensure_may_act_for_staff(
        &self,
        ctx: &CommandContext,
        staff: StaffId,
    ) -> Result<kurslogg_domain::staff::StaffMember, AppError> {
        let member = self.staff.peek(&staff.to_string()).await?.ok_or_else(|| AppError::not_found("staff member"))?;
        self.ensure_acts_for_staff_of(ctx, member.municipality.as_ref().expect("added"))?;
        Ok(member)
    }
}
