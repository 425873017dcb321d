//! Handlers: parse at the edge, call one use case, answer. Each is listed in the
//! OpenAPI document by its `#[utoipa::path]`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use kurslogg_domain::municipality::MunicipalRole;
use kurslogg_domain::offering::OfferingCommand;
use kurslogg_domain::package::PackageCommand;
use kurslogg_domain::staff::StaffCommand;
use kurslogg_domain::{
    slugify, Attendance, CourseCode, MunicipalityId, OfferingId, PackageId, SeatLimit, StaffId, Term,
};

use super::dto::*;
use super::error::{ApiError, Problem};
use super::extract::{path_id, Cmd, Reader, Seen};
use crate::app::{
    AllocationReport, AppError, CollectiveReceipt, CourseView, Kurslogg, MunicipalityView, OfferingView, PackageView,
    RegistrationLine, RegistrationOutcome, StaffRegistrationView, StaffView, Written,
};

type AppState = State<Arc<Kurslogg>>;
type Answer<T> = Result<Json<T>, ApiError>;
type Created<T> = Result<(StatusCode, Json<T>), ApiError>;

fn course_code(raw: &str) -> Result<CourseCode, ApiError> {
    CourseCode::parse(raw).map_err(|_| ApiError::not_found(format!("no such course: {raw:?}")))
}

fn municipality_id(raw: &str) -> Result<MunicipalityId, ApiError> {
    MunicipalityId::parse(raw).map_err(|_| ApiError::not_found(format!("no such municipality: {raw:?}")))
}

/// A user id in a body: one line of text, or 422 naming `user_id`.
fn user_ref(raw: &str) -> Result<String, ApiError> {
    kurslogg_domain::text::check(raw, kurslogg_domain::text::Shape::Line, 200)
        .map_err(|e| ApiError::validation(format!("user_id: {}", e.0)))
}

// ----- catalogue -----

/// Add a course to the catalogue.
#[utoipa::path(post, path = "/courses", request_body = NewCourse, tag = "catalogue",
    responses((status = 201, body = Written), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn add_course(State(app): AppState, Cmd { ctx, body }: Cmd<NewCourse>) -> Created<Written> {
    let code = CourseCode::parse(&body.code).map_err(|e| ApiError::validation(format!("code: {}", e.0)))?;
    let prerequisites = course_codes("prerequisites", &body.prerequisites)?;
    let written = app
        .add_course(&ctx, code, text("title", &body.title)?, prose("description", &body.description)?, prerequisites)
        .await?;
    Ok((StatusCode::CREATED, Json(written)))
}

/// A catalogue course.
#[utoipa::path(get, path = "/courses/{code}", tag = "catalogue",
    responses((status = 200, body = CourseView), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_course(State(app): AppState, _reader: Reader, Path(code): Path<String>) -> Answer<CourseView> {
    Ok(Json(app.course(course_code(&code)?.as_str()).await?))
}

/// Revise a catalogue course.
#[utoipa::path(put, path = "/courses/{code}", request_body = CourseRevision, tag = "catalogue",
    responses((status = 200, body = Written), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn revise_course(
    State(app): AppState,
    Path(code): Path<String>,
    Cmd { ctx, body }: Cmd<CourseRevision>,
) -> Answer<Written> {
    let prerequisites = course_codes("prerequisites", &body.prerequisites)?;
    let written = app
        .revise_course(
            &ctx,
            course_code(&code)?,
            text("title", &body.title)?,
            prose("description", &body.description)?,
            prerequisites,
        )
        .await?;
    Ok(Json(written))
}

// ----- municipalities and staff -----

/// Add a member municipality.
#[utoipa::path(post, path = "/municipalities", request_body = NewMunicipality, tag = "municipalities",
    responses((status = 201, body = Written), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn add_municipality(State(app): AppState, Cmd { ctx, body }: Cmd<NewMunicipality>) -> Created<Written> {
    let raw_id = body.id.clone().unwrap_or_else(|| slugify(&body.name));
    let id = MunicipalityId::parse(&raw_id).map_err(|e| ApiError::validation(format!("id: {}", e.0)))?;
    let written =
        app.add_municipality(&ctx, id, text("name", &body.name)?, text("federation", &body.federation)?).await?;
    Ok((StatusCode::CREATED, Json(written)))
}

/// A municipality with its coordinators and supervisors.
#[utoipa::path(get, path = "/municipalities/{id}", tag = "municipalities",
    responses((status = 200, body = MunicipalityView), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_municipality(
    State(app): AppState,
    Reader(actor): Reader,
    Path(id): Path<String>,
) -> Answer<MunicipalityView> {
    let municipality = municipality_id(&id)?;
    app.ensure_may_see_municipality(&actor, &municipality)?;
    Ok(Json(app.municipality(&municipality).await?))
}

async fn change_role(app: &Kurslogg, id: &str, cmd: Cmd<RoleChange>, assign: bool) -> Answer<Written> {
    let Cmd { ctx, body } = cmd;
    let role: MunicipalRole = choice("role", &body.role)?;
    let staff = staff_id("staff_id", &body.staff_id)?;
    Ok(Json(app.set_role(&ctx, municipality_id(id)?, staff, role, assign).await?))
}

/// Give a staff member the coordinator or supervisor role.
#[utoipa::path(post, path = "/municipalities/{id}/roles", request_body = RoleChange, tag = "municipalities",
    responses((status = 200, body = Written), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn assign_role(State(app): AppState, Path(id): Path<String>, cmd: Cmd<RoleChange>) -> Answer<Written> {
    change_role(&app, &id, cmd, true).await
}

/// Take a role away.
#[utoipa::path(post, path = "/municipalities/{id}/roles/revoke", request_body = RoleChange, tag = "municipalities",
    responses((status = 200, body = Written), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn revoke_role(State(app): AppState, Path(id): Path<String>, cmd: Cmd<RoleChange>) -> Answer<Written> {
    change_role(&app, &id, cmd, false).await
}

/// Add a staff member to a municipality.
#[utoipa::path(post, path = "/municipalities/{id}/staff", request_body = StaffBody, tag = "municipalities",
    responses((status = 201, body = Written), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn add_staff(
    State(app): AppState,
    Path(id): Path<String>,
    Cmd { ctx, body }: Cmd<StaffBody>,
) -> Created<Written> {
    let written = app.add_staff(&ctx, municipality_id(&id)?, body.profile()?).await?;
    Ok((StatusCode::CREATED, Json(written)))
}

/// A municipality's collective registration: lines in priority order, answered line by
/// line. Resubmitting it changes nothing.
#[utoipa::path(post, path = "/municipalities/{id}/registrations", request_body = CollectiveRegistrationBody, tag = "registrations",
    responses((status = 200, body = CollectiveReceipt), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn register_collectively(
    State(app): AppState,
    Path(id): Path<String>,
    Cmd { ctx, body }: Cmd<CollectiveRegistrationBody>,
) -> Answer<CollectiveReceipt> {
    if body.lines.is_empty() || body.lines.len() > 5000 {
        return Err(ApiError::validation("a collective registration has 1 to 5000 lines"));
    }
    let lines = body
        .lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            Ok(RegistrationLine {
                staff: staff_id(&format!("lines[{i}].staff_id"), &line.staff_id)?,
                offering: line
                    .offering_id
                    .parse()
                    .map_err(|_| ApiError::validation(format!("lines[{i}].offering_id is not an offering id")))?,
                override_prerequisites: line.override_prerequisites,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(Json(app.register_collectively(&ctx, municipality_id(&id)?, lines).await?))
}

/// A staff member.
#[utoipa::path(get, path = "/staff/{id}", tag = "municipalities",
    responses((status = 200, body = StaffView), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_staff(
    State(app): AppState,
    Reader(actor): Reader,
    Seen(origin): Seen,
    Path(id): Path<String>,
) -> Answer<StaffView> {
    let staff = path_id::<StaffId>(&id, "staff member")?;
    app.ensure_may_see_staff(&actor, staff).await?;
    let view = app.staff_member(staff).await?;
    app.note_person_read(&actor, &origin, staff, "staff member").await?;
    Ok(Json(view))
}

/// Update a staff member's details.
#[utoipa::path(put, path = "/staff/{id}", request_body = StaffBody, tag = "municipalities",
    responses((status = 200, body = Written), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn update_staff(
    State(app): AppState,
    Path(id): Path<String>,
    Cmd { ctx, body }: Cmd<StaffBody>,
) -> Answer<Written> {
    let command = StaffCommand::UpdateStaffMember { profile: body.profile()? };
    Ok(Json(app.staff_command(&ctx, path_id(&id, "staff member")?, command).await?))
}

/// Pause a staff member (no new registrations).
#[utoipa::path(post, path = "/staff/{id}/pause", tag = "municipalities",
    responses((status = 200, body = Written), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn pause_staff(State(app): AppState, Path(id): Path<String>, Cmd { ctx, .. }: Cmd<Empty>) -> Answer<Written> {
    Ok(Json(app.staff_command(&ctx, path_id(&id, "staff member")?, StaffCommand::PauseStaffMember).await?))
}

/// Resume a paused staff member.
#[utoipa::path(post, path = "/staff/{id}/resume", tag = "municipalities",
    responses((status = 200, body = Written), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn resume_staff(
    State(app): AppState,
    Path(id): Path<String>,
    Cmd { ctx, .. }: Cmd<Empty>,
) -> Answer<Written> {
    Ok(Json(app.staff_command(&ctx, path_id(&id, "staff member")?, StaffCommand::ResumeStaffMember).await?))
}

/// Remove a staff member who left (history is kept). Their requests and waiting-list
/// places end free; a confirmed seat on a course that has not started is refused
/// (422 `seat_transferable`: transfer it free of charge) unless `give_up_seats`.
#[utoipa::path(post, path = "/staff/{id}/remove", request_body = RemoveBody, tag = "municipalities",
    responses((status = 200, body = Written), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn remove_staff(
    State(app): AppState,
    Path(id): Path<String>,
    Cmd { ctx, body }: Cmd<RemoveBody>,
) -> Answer<Written> {
    Ok(Json(app.remove_staff(&ctx, path_id(&id, "staff member")?, body.give_up_seats).await?))
}

/// A staff member's registrations on every offering.
#[utoipa::path(get, path = "/staff/{id}/registrations", tag = "registrations",
    responses((status = 200, body = [StaffRegistrationView]), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn staff_registrations(
    State(app): AppState,
    Reader(actor): Reader,
    Seen(origin): Seen,
    Path(id): Path<String>,
) -> Answer<Vec<StaffRegistrationView>> {
    let staff = path_id::<StaffId>(&id, "staff member")?;
    app.ensure_may_see_staff(&actor, staff).await?;
    let registrations = app.staff_registrations(staff).await?;
    app.note_person_read(&actor, &origin, staff, "registrations").await?;
    Ok(Json(registrations))
}

// ----- packages -----

/// Start a term's course package (draft).
#[utoipa::path(post, path = "/packages", request_body = NewPackage, tag = "packages",
    responses((status = 201, body = Written), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn create_package(State(app): AppState, Cmd { ctx, body }: Cmd<NewPackage>) -> Created<Written> {
    let term = Term::parse(&body.term).map_err(|e| ApiError::validation(format!("term: {}", e.0)))?;
    let written = app
        .create_package(
            &ctx,
            term,
            text("title", &body.title)?,
            text("organiser", &body.organiser)?,
            body.deadline,
            body.recorded_afterwards,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(written)))
}

/// A package with its offerings.
#[utoipa::path(get, path = "/packages/{id}", tag = "packages",
    responses((status = 200, body = PackageView), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_package(State(app): AppState, _reader: Reader, Path(id): Path<String>) -> Answer<PackageView> {
    Ok(Json(app.package(path_id::<PackageId>(&id, "course package")?).await?))
}

/// Move the registration deadline.
#[utoipa::path(post, path = "/packages/{id}/deadline", request_body = DeadlineChange, tag = "packages",
    responses((status = 200, body = Written), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn change_deadline(
    State(app): AppState,
    Path(id): Path<String>,
    Cmd { ctx, body }: Cmd<DeadlineChange>,
) -> Answer<Written> {
    // The package's first session is gathered by the application.
    let command = PackageCommand::ChangeDeadline { deadline: body.deadline, first_session: None };
    Ok(Json(app.package_command(&ctx, path_id(&id, "course package")?, command).await?))
}

/// Publish the package to the municipalities.
#[utoipa::path(post, path = "/packages/{id}/publish", tag = "packages",
    responses((status = 200, body = Written), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn publish_package(
    State(app): AppState,
    Path(id): Path<String>,
    Cmd { ctx, .. }: Cmd<Empty>,
) -> Answer<Written> {
    Ok(Json(app.package_command(&ctx, path_id(&id, "course package")?, PackageCommand::Publish).await?))
}

/// Close registration after the deadline and allocate seats fairly. Safe to repeat.
#[utoipa::path(post, path = "/packages/{id}/close-registration", tag = "packages",
    responses((status = 200, body = AllocationReport), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn close_registration(
    State(app): AppState,
    Path(id): Path<String>,
    Cmd { ctx, .. }: Cmd<Empty>,
) -> Answer<AllocationReport> {
    Ok(Json(app.close_registration(&ctx, path_id(&id, "course package")?).await?))
}

/// Archive the package.
#[utoipa::path(post, path = "/packages/{id}/archive", tag = "packages",
    responses((status = 200, body = Written), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn archive_package(
    State(app): AppState,
    Path(id): Path<String>,
    Cmd { ctx, .. }: Cmd<Empty>,
) -> Answer<Written> {
    Ok(Json(app.package_command(&ctx, path_id(&id, "course package")?, PackageCommand::Archive).await?))
}

/// Plan an offering of a catalogue course in the package.
#[utoipa::path(post, path = "/packages/{id}/offerings", request_body = OfferingBody, tag = "offerings",
    responses((status = 201, body = Written), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn plan_offering(
    State(app): AppState,
    Path(id): Path<String>,
    Cmd { ctx, body }: Cmd<OfferingBody>,
) -> Created<Written> {
    let package = path_id(&id, "course package")?;
    let course = body.course.as_deref().ok_or_else(|| ApiError::validation("course: required when planning"))?;
    let course = CourseCode::parse(course).map_err(|e| ApiError::validation(format!("course: {}", e.0)))?;
    let seats = body.seat_limit.ok_or_else(|| ApiError::validation("seat_limit: required when planning"))?;
    let seat_limit = SeatLimit::new(seats).map_err(|e| ApiError::validation(format!("seat_limit: {}", e.0)))?;
    let prerequisites = body.prerequisites.as_deref().map(|p| course_codes("prerequisites", p)).transpose()?;
    let written = app.plan_offering(&ctx, package, course, body.details()?, prerequisites, seat_limit).await?;
    Ok((StatusCode::CREATED, Json(written)))
}

// ----- offerings -----

/// An offering with its registrations and waiting list.
#[utoipa::path(get, path = "/offerings/{id}", tag = "offerings",
    responses((status = 200, body = OfferingView), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_offering(State(app): AppState, Reader(actor): Reader, Path(id): Path<String>) -> Answer<OfferingView> {
    let offering = path_id::<OfferingId>(&id, "course offering")?;
    let mut view = app.offering(offering).await?;
    // The course is public within the federation; the people on it only within reach.
    let kept = match app.roster_reach(&actor, offering).await {
        Ok(reach) => {
            let people =
                view.registrations.iter().map(|r| (r.staff_id.as_str(), r.municipality.as_str())).collect::<Vec<_>>();
            app.within_reach(&reach, &people).await?
        }
        Err(AppError::Forbidden(_)) => Default::default(),
        Err(e) => return Err(e.into()),
    };
    view.registrations.retain(|r| kept.contains(&r.staff_id));
    view.waiting_list.retain(|s| kept.contains(s));
    Ok(Json(view))
}

/// Revise an offering's details (the course and seat limit stay).
#[utoipa::path(put, path = "/offerings/{id}", request_body = OfferingBody, tag = "offerings",
    responses((status = 200, body = Written), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn revise_offering(
    State(app): AppState,
    Path(id): Path<String>,
    Cmd { ctx, body }: Cmd<OfferingBody>,
) -> Answer<Written> {
    let offering: OfferingId = path_id(&id, "course offering")?;
    let mut details = body.details()?;
    details.prerequisites = match body.prerequisites.as_deref() {
        Some(list) => course_codes("prerequisites", list)?,
        None => app
            .offering(offering)
            .await?
            .prerequisites
            .iter()
            .map(|c| CourseCode::parse(c))
            .collect::<Result<_, _>>()?,
    };
    Ok(Json(app.offering_command(&ctx, offering, OfferingCommand::ReviseOffering { details, window: None }).await?))
}

/// Raise or lower the number of seats (a raise promotes from the waiting list).
#[utoipa::path(post, path = "/offerings/{id}/seat-limit", request_body = SeatLimitBody, tag = "offerings",
    responses((status = 200, body = Written), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn change_seat_limit(
    State(app): AppState,
    Path(id): Path<String>,
    Cmd { ctx, body }: Cmd<SeatLimitBody>,
) -> Answer<Written> {
    let seat_limit =
        SeatLimit::new(body.seat_limit).map_err(|e| ApiError::validation(format!("seat_limit: {}", e.0)))?;
    Ok(Json(
        app.offering_command(
            &ctx,
            path_id(&id, "course offering")?,
            OfferingCommand::ChangeSeatLimit { seat_limit, unavailable: vec![] },
        )
        .await?,
    ))
}

/// The organiser cancels the offering; nobody is charged.
#[utoipa::path(post, path = "/offerings/{id}/cancel", request_body = ReasonBody, tag = "offerings",
    responses((status = 200, body = Written), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn cancel_offering(
    State(app): AppState,
    Path(id): Path<String>,
    Cmd { ctx, body }: Cmd<ReasonBody>,
) -> Answer<Written> {
    let command = OfferingCommand::CancelOffering { reason: prose("reason", &body.reason)? };
    Ok(Json(app.offering_command(&ctx, path_id(&id, "course offering")?, command).await?))
}

/// Complete the offering after its last session: completions and certificates.
#[utoipa::path(post, path = "/offerings/{id}/complete", tag = "offerings",
    responses((status = 200, body = Written), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn complete_offering(
    State(app): AppState,
    Path(id): Path<String>,
    Cmd { ctx, .. }: Cmd<Empty>,
) -> Answer<Written> {
    Ok(Json(app.offering_command(&ctx, path_id(&id, "course offering")?, OfferingCommand::CompleteOffering).await?))
}

/// Register one staff member on the offering.
#[utoipa::path(post, path = "/offerings/{id}/registrations", request_body = RegistrationBody, tag = "registrations",
    responses((status = 200, body = RegistrationOutcome), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn register(
    State(app): AppState,
    Path(id): Path<String>,
    Cmd { ctx, body }: Cmd<RegistrationBody>,
) -> Answer<RegistrationOutcome> {
    let line = RegistrationLine {
        staff: staff_id("staff_id", &body.staff_id)?,
        offering: path_id(&id, "course offering")?,
        override_prerequisites: body.override_prerequisites,
    };
    Ok(Json(app.register(&ctx, line).await?))
}

/// Cancel a registration (charged when a binding seat is given up).
#[utoipa::path(post, path = "/offerings/{id}/registrations/{staff_id}/cancel", tag = "registrations",
    responses((status = 200, body = Written), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn cancel_registration(
    State(app): AppState,
    Path((id, staff)): Path<(String, String)>,
    Cmd { ctx, .. }: Cmd<Empty>,
) -> Answer<Written> {
    Ok(Json(app.cancel_registration(&ctx, path_id(&id, "course offering")?, path_id(&staff, "staff member")?).await?))
}

/// Transfer a registration to another person of the same municipality, free of charge.
#[utoipa::path(post, path = "/offerings/{id}/registrations/{staff_id}/transfer", request_body = TransferBody, tag = "registrations",
    responses((status = 200, body = Written), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn transfer_seat(
    State(app): AppState,
    Path((id, staff)): Path<(String, String)>,
    Cmd { ctx, body }: Cmd<TransferBody>,
) -> Answer<Written> {
    let to = staff_id("to_staff_id", &body.to_staff_id)?;
    let written = app
        .transfer_seat(
            &ctx,
            path_id(&id, "course offering")?,
            path_id(&staff, "staff member")?,
            to,
            body.override_prerequisites,
        )
        .await?;
    Ok(Json(written))
}

/// Assign a trainer's user account to the offering: they may then read its roster and
/// record its attendance.
#[utoipa::path(post, path = "/offerings/{id}/trainers", request_body = TrainerBody, tag = "attendance",
    responses((status = 200, body = Written), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn assign_trainer(
    State(app): AppState,
    Path(id): Path<String>,
    Cmd { ctx, body }: Cmd<TrainerBody>,
) -> Answer<Written> {
    Ok(Json(app.assign_trainer(&ctx, path_id(&id, "course offering")?, &user_ref(&body.user_id)?, true).await?))
}

/// Take a trainer's user account off the offering.
#[utoipa::path(post, path = "/offerings/{id}/trainers/remove", request_body = TrainerBody, tag = "attendance",
    responses((status = 200, body = Written), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn unassign_trainer(
    State(app): AppState,
    Path(id): Path<String>,
    Cmd { ctx, body }: Cmd<TrainerBody>,
) -> Answer<Written> {
    Ok(Json(app.assign_trainer(&ctx, path_id(&id, "course offering")?, &user_ref(&body.user_id)?, false).await?))
}

/// Record or correct attendance at a session.
#[utoipa::path(post, path = "/offerings/{id}/attendance", request_body = AttendanceBody, tag = "attendance",
    responses((status = 200, body = Written), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn record_attendance(
    State(app): AppState,
    Path(id): Path<String>,
    Cmd { ctx, body }: Cmd<AttendanceBody>,
) -> Answer<Written> {
    let attendance: Attendance = choice("attendance", &body.attendance)?;
    let note = body.note.as_deref().map(|n| prose("note", n)).transpose()?;
    let staff = staff_id("staff_id", &body.staff_id)?;
    Ok(Json(
        app.record_attendance(&ctx, path_id(&id, "course offering")?, staff, body.session, attendance, note).await?,
    ))
}

/// Withdraw a certificate, with the reason.
#[utoipa::path(post, path = "/offerings/{id}/certificates/{staff_id}/withdraw", request_body = ReasonBody, tag = "attendance",
    responses((status = 200, body = Written), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn withdraw_certificate(
    State(app): AppState,
    Path((id, staff)): Path<(String, String)>,
    Cmd { ctx, body }: Cmd<ReasonBody>,
) -> Answer<Written> {
    let command = OfferingCommand::WithdrawCertificate {
        staff: path_id(&staff, "staff member")?,
        reason: prose("reason", &body.reason)?,
    };
    Ok(Json(app.offering_command(&ctx, path_id(&id, "course offering")?, command).await?))
}
