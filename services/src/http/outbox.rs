//! The outbox as the course office sees it: every letter with its status, attempts and
//! the reason of a failure, and the resend command (audited: it is an event). And one
//! person's own letters, written out, as they themselves may read them.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use kurslogg_domain::StaffId;
use kurslogg_projections::outbox::{Filter, OutboxRow};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::dto::{prose, ReasonBody};
use super::error::{ApiError, Problem};
use super::extract::{path_id, Cmd, Reader, Seen, Q};
use super::views::staff_names;
use crate::app::{AppError, Kind, Kurslogg, OutboxPaging, OutboxRefusal, OutboxRows, Written};

type AppState = State<Arc<Kurslogg>>;

/// Most letters per page.
const MAX_LIMIT: i64 = 1000;

/// Which letters to list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OutboxQuery {
    /// `pending`, `sent` or `failed`.
    pub status: Option<String>,
    /// Kind of letter, e.g. `course_summary`.
    pub kind: Option<String>,
    /// Letters about this offering.
    pub offering: Option<String>,
    /// Letters to this staff member.
    pub recipient: Option<String>,
    /// The page after this notice id (`next_after` of the previous page).
    pub after: Option<String>,
    /// Letters per page (default 100, at most 1000).
    pub limit: Option<i64>,
}

/// A letter with its recipient's name (as it is now).
#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxEntry {
    /// The letter.
    #[serde(flatten)]
    pub notice: OutboxRow,
    /// The recipient's name, when the person is known.
    pub recipient_name: Option<String>,
}

/// A page of the outbox.
#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxPage {
    /// Letters in the order they were written.
    pub notices: Vec<OutboxEntry>,
    /// Pass as `after` for the next page; absent on the last.
    pub next_after: Option<String>,
}

/// Letters: pending, sent or failed (with why), oldest first.
#[utoipa::path(get, path = "/outbox", params(OutboxQuery), tag = "notices",
    responses((status = 200, body = OutboxPage), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn list_outbox(
    State(app): AppState,
    reader: Reader,
    Q(q): Q<OutboxQuery>,
) -> Result<Json<OutboxPage>, ApiError> {
    app.ensure_sees_everything(&reader.0, "läsa utkorgen")?;
    let invalid = |detail: String| ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", detail);
    if let Some(status) = q.status.as_deref().filter(|s| !["pending", "sent", "failed"].contains(s)) {
        return Err(invalid(format!("status must be pending, sent or failed, got {status:?}")));
    }
    let filter = Filter { status: q.status, kind: q.kind, offering: q.offering, recipient: q.recipient, after: None };
    let paging = Paging {
        after: q.after.as_deref(),
        limit: q.limit,
        default: 100,
        max: MAX_LIMIT,
        noun: "notice",
        recipient: None,
    };
    let (rows, next_after) = page(&app, filter, paging).await?;
    let names = staff_names(&app, rows.iter().map(|r| r.recipient.clone()).collect()).await;
    // Looked up, not taken: a recipient with several letters is named on each.
    let notices = rows
        .into_iter()
        .map(|notice| OutboxEntry { recipient_name: names.get(&notice.recipient).cloned(), notice })
        .collect();
    Ok(Json(OutboxPage { notices, next_after }))
}

/// One letter.
#[utoipa::path(get, path = "/outbox/{id}", tag = "notices",
    responses((status = 200, body = OutboxEntry), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn get_notice(
    State(app): AppState,
    reader: Reader,
    Path(id): Path<String>,
) -> Result<Json<OutboxEntry>, ApiError> {
    let notice = match app.outbox_letter(&reader.0, &id).await {
        Err(AppError::Refused { kind: Kind::NotFound, .. }) => {
            return Err(ApiError::not_found(format!("no such notice: {id:?}")))
        }
        other => other?,
    };
    let recipient_name = staff_names(&app, vec![notice.recipient.clone()]).await.remove(&notice.recipient);
    Ok(Json(OutboxEntry { notice, recipient_name }))
}

/// Most letters per page of one person's letters (each is written out).
const MAX_LETTERS: i64 = 100;

/// Which of a person's letters to list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LettersQuery {
    /// Kind of letter, e.g. `course_summary`.
    pub kind: Option<String>,
    /// The page after this notice id (`next_after` of the previous page).
    pub after: Option<String>,
    /// Letters per page (default 20, at most 100).
    pub limit: Option<i64>,
}

/// What a letter says.
#[derive(Debug, Serialize, ToSchema)]
pub struct LetterText {
    /// Subject line.
    pub subject: String,
    /// The plain-text body (the e-mail also carries the same in HTML).
    pub text: String,
}

/// One of a person's letters: the outbox row and the letter written out.
#[derive(Debug, Serialize, ToSchema)]
pub struct PersonalLetter {
    /// The letter's outbox row: kind, status, when sent, what it is about.
    #[serde(flatten)]
    pub notice: OutboxRow,
    /// What it says, written from the present state of the log (the outbox keeps ids
    /// only): a name changed since it was sent reads as it is now, an erased person as
    /// erased. Absent when it cannot be written.
    pub letter: Option<LetterText>,
    /// Why the letter cannot be written (e.g. the recipient's personal data was erased).
    pub unwritable: Option<String>,
}

/// A page of a person's letters.
#[derive(Debug, Serialize, ToSchema)]
pub struct LettersPage {
    /// Letters in the order they were written, oldest first.
    pub letters: Vec<PersonalLetter>,
    /// Pass as `after` for the next page; absent on the last.
    pub next_after: Option<String>,
}

/// The letters sent (or to be sent) to a staff member, oldest first, each with its
/// outbox status and what it says: a supervisor's after-course summaries, a
/// participant's promotions and cancellations, a coordinator's receipts. Readable by the
/// person themselves, the course office and auditors; to anyone else there is no such
/// staff member. Each read is in the security log.
#[utoipa::path(get, path = "/staff/{id}/letters", params(LettersQuery), tag = "notices",
    responses((status = 200, body = LettersPage), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn staff_letters(
    State(app): AppState,
    Reader(actor): Reader,
    Seen(origin): Seen,
    Path(id): Path<String>,
    Q(q): Q<LettersQuery>,
) -> Result<Json<LettersPage>, ApiError> {
    let staff: StaffId = path_id(&id, "staff member")?;
    app.ensure_may_read_letters_to(&actor, staff).await?;
    let recipient = staff.to_string();
    let filter = Filter { kind: q.kind, recipient: Some(recipient.clone()), ..Filter::default() };
    let paging = Paging {
        after: q.after.as_deref(),
        limit: q.limit,
        default: 20,
        max: MAX_LETTERS,
        noun: "letter",
        recipient: Some(&recipient),
    };
    let (rows, next_after) = page(&app, filter, paging).await?;
    let mut letters = Vec::with_capacity(rows.len());
    let mut named = BTreeSet::new();
    for notice in rows {
        named.extend(notice.staff().iter().filter_map(|s| s.parse::<StaffId>().ok()).filter(|s| *s != staff));
        let (letter, unwritable) = match app.written_letter(&notice).await? {
            Ok(rendered) => (Some(LetterText { subject: rendered.subject, text: rendered.text }), None),
            Err(reason) => (None, Some(reason)),
        };
        letters.push(PersonalLetter { notice, letter, unwritable });
    }
    app.note_person_read(&actor, &origin, staff, "letters").await?;
    // The people the letters are about (a summary's participants) were read too.
    let named: Vec<StaffId> = named.into_iter().collect();
    app.note_people_read(&actor, &origin, &named, "letters to another person").await?;
    Ok(Json(LettersPage { letters, next_after }))
}

/// Where a page of the outbox starts and how long it is, as the query asked.
struct Paging<'a> {
    /// The last notice id of the page before.
    after: Option<&'a str>,
    limit: Option<i64>,
    default: i64,
    max: i64,
    /// What a row is called in errors.
    noun: &'a str,
    /// Only letters to this recipient may be `after`: another's is no such letter.
    recipient: Option<&'a str>,
}

/// A page of the outbox rows `filter` picks, oldest first, and the id to pass as `after`
/// for the next page (absent on the last).
async fn page(
    app: &Kurslogg,
    filter: Filter,
    paging: Paging<'_>,
) -> Result<(Vec<OutboxRow>, Option<String>), ApiError> {
    let invalid = |detail: String| ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", detail);
    let limit = paging.limit.unwrap_or(paging.default);
    if !(1..=paging.max).contains(&limit) {
        return Err(invalid(format!("limit must be between 1 and {}", paging.max)));
    }
    let asked = OutboxPaging { after: paging.after, limit, recipient: paging.recipient };
    match app.outbox_rows(filter, asked).await {
        Ok(OutboxRows { rows, next_after }) => Ok((rows, next_after)),
        Err(OutboxRefusal::UnknownAfter) => {
            Err(invalid(format!("after: no such {} {:?}", paging.noun, paging.after.unwrap_or_default())))
        }
        Err(OutboxRefusal::App(AppError::Store(e))) => {
            tracing::error!(error = %e, "reading the outbox failed");
            Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "the outbox cannot be read right now"))
        }
        Err(OutboxRefusal::App(e)) => Err(e.into()),
    }
}

/// Send a letter again (e.g. after a bad address was corrected, or a lost letter). The
/// request is recorded in the audit trail with its reason.
#[utoipa::path(post, path = "/outbox/{id}/resend", request_body = ReasonBody, tag = "notices",
    responses((status = 200, body = Written), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn resend_notice(
    State(app): AppState,
    Path(id): Path<String>,
    Cmd { ctx, body }: Cmd<ReasonBody>,
) -> Result<Json<Written>, ApiError> {
    Ok(Json(app.resend_notice(&ctx, &id, prose("reason", &body.reason)?).await?))
}
