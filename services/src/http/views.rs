//! Reads of the views (projections): rosters, participant records, supervisor overviews
//! and the audit trail. Every one can wait for a command's position (`min_position`,
//! read-your-writes) or answer as the log stood at an earlier moment (`as_of`,
//! `as_of_position`: time travel).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use kurslogg_domain::{OfferingId, StaffId};
use kurslogg_projections::history::{self, AsOf, Scope};
use kurslogg_projections::views::audit_trail::{self, AuditFilter, AuditPage};
use kurslogg_projections::views::participant::{self, ParticipantRecord};
use kurslogg_projections::views::roster::{self, RosterView};
use kurslogg_projections::views::supervisor::{self, SupervisorOverview};
use kurslogg_projections::{audit::Audit, enrolment::Enrolment, Db, Projection, ProjectionError};
use serde::Deserialize;
use utoipa::IntoParams;

use super::error::{ApiError, Problem};
use super::extract::{path_id, Reader, Seen, Q};
use crate::app::{Kurslogg, Reach};

type AppState = State<Arc<Kurslogg>>;
type Answer<T> = Result<Json<T>, ApiError>;

/// How long a read waits for the views to reach `min_position`.
const FRESHNESS_WAIT: Duration = Duration::from_secs(5);

/// How fresh, or how old, a view should be. At most one of the three.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ViewQuery {
    /// Wait (up to 5 s) until the views include this log position, e.g. the `position`
    /// a command answered with.
    pub min_position: Option<i64>,
    /// Answer as the log stood at this instant (RFC 3339), rebuilt from the log.
    pub as_of: Option<String>,
    /// Answer as the log stood after this position, rebuilt from the log.
    pub as_of_position: Option<i64>,
}

impl ViewQuery {
    /// The moment asked for, if any; a clear error if the query is contradictory.
    pub fn as_of(&self) -> Result<Option<AsOf>, ApiError> {
        let asked = [self.min_position.is_some(), self.as_of.is_some(), self.as_of_position.is_some()];
        if asked.iter().filter(|a| **a).count() > 1 {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                "give at most one of min_position, as_of and as_of_position",
            ));
        }
        if let Some(raw) = &self.as_of {
            let at = chrono::DateTime::parse_from_rfc3339(raw).map_err(|e| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_query",
                    format!("as_of must be an RFC 3339 instant such as 2027-06-15T21:59:00Z ({e})"),
                )
            })?;
            return Ok(Some(AsOf::Instant(at.with_timezone(&chrono::Utc))));
        }
        Ok(self.as_of_position.map(AsOf::Position))
    }
}

/// The views' database to answer from: the live one (after waiting for `min_position`
/// on `projection`), or one rebuilt from the log as it stood at `as_of`.
pub async fn view_db<P: Projection>(
    app: &Kurslogg,
    query: &ViewQuery,
    projection: P,
    scope: Scope,
) -> Result<Db, ApiError> {
    let live = app.log.views();
    if let Some(as_of) = query.as_of()? {
        return history::views_as_of(&live, as_of, &scope).await.map_err(unavailable);
    }
    if let Some(position) = query.min_position {
        // A position a command answered with is in the log before the answer is sent: one
        // beyond its end was never given, and waiting would not bring it.
        let latest = kurslogg_projections::feed::latest_position(&live).await.map_err(|e| unavailable(e.into()))?;
        if position > latest {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                format!("min_position {position} is beyond the end of the log (its last position is {latest})"),
            ));
        }
        let reached = crate::views::wait_for(&live, projection, position, FRESHNESS_WAIT).await.map_err(unavailable)?;
        if !reached {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "views_behind",
                format!("the views have not reached position {position} yet; try again shortly"),
            ));
        }
    }
    Ok(live)
}

/// A view could not be read: logged, answered with 503.
pub fn unavailable(e: ProjectionError) -> ApiError {
    tracing::error!(error = %e, "view read failed");
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "the views are unavailable; try again shortly")
}

/// The names of these staff members, from their own streams as they are now (the views
/// keep none); the unknown and the erased are left out, so their `name` is null.
pub async fn staff_names(app: &Kurslogg, ids: Vec<String>) -> HashMap<String, String> {
    let staff: Vec<StaffId> = ids.iter().filter_map(|id| id.parse().ok()).collect();
    match app.staff_names(&staff).await {
        Ok(names) => names.into_iter().map(|(id, name)| (id.to_string(), name)).collect(),
        Err(e) => {
            tracing::error!(error = %e, "names could not be read; answering without them");
            HashMap::new()
        }
    }
}

/// Fills in the names of people from their own streams (the views keep none).
async fn name(app: &Kurslogg, record: &mut ParticipantRecord) {
    record.name = staff_names(app, vec![record.staff_id.clone()]).await.remove(&record.staff_id);
}

/// The roster within `reach` (`Kurslogg::roster_reach`): everyone for the course office,
/// auditors and the offering's trainers; a coordinator's own municipality; a supervisor's
/// own staff.
pub async fn roster_for(app: &Kurslogg, reach: &Reach, mut roster: RosterView) -> Result<RosterView, ApiError> {
    let people = roster.entries.iter().map(|e| (e.staff_id.as_str(), e.municipality.as_str())).collect::<Vec<_>>();
    let kept = app.within_reach(reach, &people).await?;
    roster.entries.retain(|e| kept.contains(&e.staff_id));
    Ok(roster)
}

/// An offering's roster: everyone in priority order with status, waiting-list place,
/// attendance per session, completion and certificate; cancellations and transfers.
#[utoipa::path(get, path = "/offerings/{id}/roster", params(ViewQuery), tag = "views",
    responses((status = 200, body = RosterView), (status = "4XX", body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn get_roster(
    State(app): AppState,
    Reader(actor): Reader,
    Seen(origin): Seen,
    Path(id): Path<String>,
    Q(q): Q<ViewQuery>,
) -> Answer<RosterView> {
    let offering: OfferingId = path_id(&id, "course offering")?;
    let reach = app.roster_reach(&actor, offering).await?;
    let db = view_db(&app, &q, Enrolment, Scope::Offering(offering.to_string())).await?;
    let roster = roster::roster(&db, &offering.to_string())
        .await
        .map_err(unavailable)?
        .ok_or_else(|| ApiError::not_found(format!("no roster for offering {offering}")))?;
    let mut roster = roster_for(&app, &reach, roster).await?;
    // The notes kept with attendance are read back by those who record it: the
    // offering's trainers and the course office (each read is in the security log).
    if actor.is_course_office() || app.teaches(&actor, offering).await? {
        app.with_attendance_notes(&actor, &origin, offering, &mut roster).await?;
    }
    Ok(Json(roster))
}

/// A staff member's record: every offering, hours attended, completion, certificates
/// and competence areas covered (the competence-plan view for an appraisal talk).
#[utoipa::path(get, path = "/staff/{id}/record", params(ViewQuery), tag = "views",
    responses((status = 200, body = ParticipantRecord), (status = "4XX", body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn get_participant_record(
    State(app): AppState,
    Reader(actor): Reader,
    Seen(origin): Seen,
    Path(id): Path<String>,
    Q(q): Q<ViewQuery>,
) -> Answer<ParticipantRecord> {
    let staff: StaffId = path_id(&id, "staff member")?;
    app.ensure_may_see_staff(&actor, staff).await?;
    let db = view_db(&app, &q, Enrolment, Scope::Staff(staff.to_string())).await?;
    let mut record = participant::participant_record(&db, &staff.to_string())
        .await
        .map_err(unavailable)?
        .ok_or_else(|| ApiError::not_found(format!("no record for staff member {staff}")))?;
    name(&app, &mut record).await;
    app.note_person_read(&actor, &origin, staff, "record").await?;
    Ok(Json(record))
}

/// A supervisor's overview: the staff who name them as supervisor, each with their
/// registrations and results.
#[utoipa::path(get, path = "/staff/{id}/supervised", params(ViewQuery), tag = "views",
    responses((status = 200, body = SupervisorOverview), (status = "4XX", body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn get_supervisor_overview(
    State(app): AppState,
    Reader(actor): Reader,
    Seen(origin): Seen,
    Path(id): Path<String>,
    Q(q): Q<ViewQuery>,
) -> Answer<SupervisorOverview> {
    let supervisor: StaffId = path_id(&id, "staff member")?;
    app.ensure_may_see_supervised(&actor, supervisor).await?;
    let db = view_db(&app, &q, Enrolment, Scope::Everything).await?;
    let mut overview = supervisor::supervisor_overview(&db, &supervisor.to_string()).await.map_err(unavailable)?;
    let mut names = staff_names(&app, overview.staff.iter().map(|r| r.staff_id.clone()).collect()).await;
    for record in &mut overview.staff {
        record.name = names.remove(&record.staff_id);
    }
    let read: Vec<StaffId> = overview.staff.iter().filter_map(|r| r.staff_id.parse().ok()).collect();
    app.note_people_read(&actor, &origin, &read, "supervisor overview").await?;
    Ok(Json(overview))
}

/// Checks an audit query (`from` and `to` are instants, `limit` is 1 to `max_limit`),
/// and finds what answers it: the audit database (after waiting for `min_position`) and,
/// for `as_of`, the position the log is cut at. The trail is itself the log's history,
/// so "as of" is a cut-off, not a rebuild.
pub async fn audit_source(
    app: &Kurslogg,
    filter: &mut AuditFilter,
    q: &ViewQuery,
    max_limit: i64,
) -> Result<(Db, Option<i64>), ApiError> {
    let invalid = |detail: String| ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", detail);
    filter.from = filter.from.as_deref().map(|v| audit_trail::instant("from", v)).transpose().map_err(invalid)?;
    filter.to = filter.to.as_deref().map(|v| audit_trail::instant("to", v)).transpose().map_err(invalid)?;
    if filter.limit.is_some_and(|l| !(1..=max_limit).contains(&l)) {
        return Err(invalid(format!("limit must be between 1 and {max_limit}")));
    }
    let up_to = match q.as_of()? {
        Some(as_of) => Some(history::cutoff(&app.log.views(), as_of).await.map_err(unavailable)?),
        None => None,
    };
    let live = ViewQuery { min_position: q.min_position, ..ViewQuery::default() };
    let db = view_db(app, &live, Audit, Scope::Everything).await?;
    Ok((db, up_to))
}

/// The audit trail, oldest first: who did what, when, on whose behalf, with which
/// request id. Filters combine; `as_of`/`as_of_position` show the log as it stood then.
#[utoipa::path(get, path = "/audit", params(AuditFilter, ViewQuery), tag = "views",
    responses((status = 200, body = AuditPage), (status = "4XX", body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn get_audit_trail(
    State(app): AppState,
    Reader(actor): Reader,
    Q(mut filter): Q<AuditFilter>,
    Q(q): Q<ViewQuery>,
) -> Answer<AuditPage> {
    app.ensure_sees_everything(&actor, "läsa granskningsloggen")?;
    let (db, up_to) = audit_source(&app, &mut filter, &q, audit_trail::MAX_LIMIT).await?;
    Ok(Json(app.audit_trail_in(&actor, &db, &filter, up_to).await?))
}
