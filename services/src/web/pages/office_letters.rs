//! `/kansli/brev`: the outbox as the course office follows it up. Every letter with its
//! state and, for one that could not be sent, why; each letter readable as it was
//! written; and a letter sent again with a reason (recorded in the audit trail).

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use kurslogg_domain::Text;
use kurslogg_projections::outbox::Filter;
use minijinja::context;
use minijinja::value::Serde;
use serde::{Deserialize, Serialize};

use super::follow_up::{self, letter_kind, letter_state, letter_state_tag, LETTER_KINDS, LETTER_STATES};
use crate::app::{AppError, Kind, Kurslogg, OutboxPaging, OutboxRefusal};
use crate::http::extract::Seen;
use crate::web::error::{see_other, PageError};
use crate::web::form::Checked;
use crate::web::page;
use crate::web::session::{encode_query_value, Submitted, Visitor};

type AppState = State<Arc<Kurslogg>>;

/// Letters on one page of the outbox.
const PAGE_SIZE: i64 = 50;

/// The outbox's filters as the form sends them ("" is "all"), and where the page starts.
#[derive(Debug, Default, Deserialize)]
pub struct OutboxQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    typ: String,
    /// The last letter of the page before.
    #[serde(default)]
    fran: Option<String>,
}

/// A letter as a row of the outbox's table.
#[derive(Serialize)]
struct LetterRow {
    id: String,
    created_at: String,
    kind: &'static str,
    recipient: String,
    state: &'static str,
    tag: &'static str,
    attempts: i64,
    error: Option<String>,
    sent_at: Option<String>,
    resent: i64,
}

/// `GET /kansli/brev`: the outbox, oldest first, filtered by state and kind.
pub async fn outbox(
    State(app): AppState,
    visitor: Visitor,
    Query(q): Query<OutboxQuery>,
) -> Result<Response, PageError> {
    follow_up::office(&visitor)?;
    let status = LETTER_STATES.iter().any(|(s, _)| *s == q.status).then(|| q.status.clone());
    let kind = LETTER_KINDS.iter().any(|(k, _)| *k == q.typ).then(|| q.typ.clone());
    let filter = Filter { status: status.clone(), kind: kind.clone(), ..Filter::default() };
    let paging = OutboxPaging { after: q.fran.as_deref().filter(|f| !f.is_empty()), limit: PAGE_SIZE, recipient: None };
    let listed = match app.outbox(&visitor.actor, filter, paging).await {
        Ok(listed) => listed,
        // A page link that no longer fits: the first page.
        Err(OutboxRefusal::UnknownAfter) => return Ok(see_other("/kansli/brev")),
        Err(OutboxRefusal::App(e)) => return Err(e.into()),
    };
    let names = app.recipient_names(&listed.rows).await?;
    let rows: Vec<LetterRow> = listed
        .rows
        .iter()
        .map(|r| LetterRow {
            id: r.notice_id.clone(),
            created_at: r.created_at.clone(),
            kind: letter_kind(&r.kind),
            recipient: names.get(&r.recipient).cloned().unwrap_or_else(|| "(raderad person)".into()),
            state: letter_state(&r.status),
            tag: letter_state_tag(&r.status),
            attempts: r.attempts,
            error: r.last_error.clone(),
            sent_at: r.sent_at.clone(),
            resent: r.generation,
        })
        .collect();
    let filter_query = format!(
        "status={}&typ={}",
        encode_query_value(status.as_deref().unwrap_or_default()),
        encode_query_value(kind.as_deref().unwrap_or_default())
    );
    page::render(
        &visitor,
        "office_letters.html.j2",
        "/kansli/brev",
        context! {
            title => "Brev",
            letters => Serde(rows),
            states => Serde(LETTER_STATES),
            kinds => Serde(LETTER_KINDS),
            chosen => context! { status => status.unwrap_or_default(), kind => kind.unwrap_or_default() },
            next => listed.next_after.map(|n| format!("{filter_query}&fran={}", encode_query_value(&n))),
            first_page => q.fran.is_some(),
            filter_query,
        },
    )
}

/// What a letter's page says after a resend.
#[derive(Debug, Default, Deserialize)]
pub struct LetterQuery {
    #[serde(default)]
    klart: Option<String>,
    #[serde(default)]
    efter: Option<i64>,
}

/// The resend form's fields.
#[derive(Debug, Default, Deserialize)]
pub struct ResendForm {
    #[serde(default)]
    anledning: String,
}

/// `GET /kansli/brev/{id}`: one letter, as it was written, with its delivery and the
/// form to send it again.
pub async fn letter(
    State(app): AppState,
    visitor: Visitor,
    Seen(origin): Seen,
    Path(id): Path<String>,
    Query(q): Query<LetterQuery>,
) -> Result<Response, PageError> {
    follow_up::office(&visitor)?;
    if let Some(position) = q.efter {
        app.wait_for_outbox(position).await?;
    }
    let message = match q.klart.as_deref() {
        Some("skickas") => Some("Brevet skickas igen. Anledningen finns i granskningsloggen."),
        _ => None,
    };
    letter_page(&app, &visitor, &origin, &id, StatusCode::OK, &ResendForm::default(), &Checked::default(), message)
        .await
}

#[allow(clippy::too_many_arguments)]
async fn letter_page(
    app: &Kurslogg,
    visitor: &Visitor,
    origin: &crate::auth::Origin,
    id: &str,
    status: StatusCode,
    form: &ResendForm,
    checked: &Checked,
    message: Option<&str>,
) -> Result<Response, PageError> {
    let read = app.outbox_letter_read(&visitor.actor, origin, id).await?;
    let notice = &read.notice;
    let recipient = app.recipient_names(std::slice::from_ref(notice)).await?.remove(&notice.recipient);
    let (subject, body, unwritable) = match &read.written {
        Ok(written) => (written.subject.clone(), Some(crate::web::letter::as_page_part(&written.html)), None::<String>),
        Err(reason) => (letter_kind(&notice.kind).to_string(), None, Some(reason.clone())),
    };
    page::render_with(
        status,
        visitor,
        "office_letter.html.j2",
        "/kansli/brev",
        context! {
            title => subject,
            errors => checked.summary(),
            error => checked.by_field(),
            letter => context! {
                id => notice.notice_id.clone(),
                kind => letter_kind(&notice.kind),
                recipient => recipient.unwrap_or_else(|| "(raderad person)".into()),
                created_at => notice.created_at.clone(),
                state => letter_state(&notice.status),
                tag => letter_state_tag(&notice.status),
                attempts => notice.attempts,
                error => notice.last_error.clone(),
                sent_at => notice.sent_at.clone(),
                next_attempt_at => notice.next_attempt_at.clone(),
                resent => notice.generation,
                message_id => notice.message_id.clone(),
            },
            body => body.map(minijinja::Value::from_safe_string),
            unwritable,
            form => context! { anledning => form.anledning.clone() },
            message,
            key => page::form_key(),
        },
    )
}

/// `POST /kansli/brev/{id}/skicka-igen`: sends the letter again, with the reason; or
/// the letter's page again with what is wrong.
pub async fn resend(
    State(app): AppState,
    Seen(origin): Seen,
    Path(id): Path<String>,
    submitted: Submitted<ResendForm>,
) -> Result<Response, PageError> {
    let Submitted { visitor, ctx, form } = submitted;
    follow_up::office(&visitor)?;
    let mut checked = Checked::default();
    let reason = checked
        .required("anledning", &form.anledning, "Skriv varför brevet ska skickas igen")
        .and_then(|raw| checked.take("anledning", "Anledning", Text::prose(raw)));
    let Some(reason) = reason else {
        return letter_page(&app, &visitor, &origin, &id, StatusCode::UNPROCESSABLE_ENTITY, &form, &checked, None)
            .await;
    };
    match app.resend_notice(&ctx, &id, reason).await {
        Ok(written) => {
            let after = written.position.map(|p| format!("&efter={p}")).unwrap_or_default();
            Ok(see_other(&format!("/kansli/brev/{id}?klart=skickas{after}")))
        }
        Err(AppError::Refused { message, kind: Kind::Rule | Kind::Conflict, .. }) => {
            checked.refuse("anledning", message);
            letter_page(&app, &visitor, &origin, &id, StatusCode::UNPROCESSABLE_ENTITY, &form, &checked, None).await
        }
        Err(e) => Err(e.into()),
    }
}
