//! `/kansli/anvandare` and `/kansli/personer`: the course office's users and people.
//! Users for every role (a made password shown once), disabling one, resetting a
//! password (shown once), and the security log; a municipality's people, from where a
//! person is given a login or has their personal data erased on request, after a page
//! that says what will be forgotten and asks for their name typed as confirmation.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use kurslogg_domain::{MunicipalityId, StaffId, Text};
use minijinja::context;
use minijinja::value::Serde;
use serde::{Deserialize, Serialize};

use super::follow_up;
use crate::app::lists::{Paging, StaffQuery, ViewAt, MAX_LIMIT};
use crate::app::{AppError, Kind, Kurslogg, PasswordReset, Role};
use crate::auth::{NewUser, User};
use crate::http::extract::Seen;
use crate::web::error::{see_other, PageError};
use crate::web::form::Checked;
use crate::web::page;
use crate::web::session::{encode_query_value, Submitted, Visitor};
use crate::web::text;

type AppState = State<Arc<Kurslogg>>;

/// A form with nothing but its proof.
#[derive(Debug, Default, Deserialize)]
pub struct Nothing {}

/// A user as a row of the list.
#[derive(Serialize)]
struct UserRow {
    id: String,
    name: String,
    login: String,
    role: &'static str,
    municipality: Option<String>,
    disabled_at: Option<String>,
    has_password: bool,
}

fn user_row(user: &User, municipalities: &HashMap<String, String>) -> UserRow {
    UserRow {
        id: user.user_id.clone(),
        name: user.display_name.clone(),
        login: user.login.clone(),
        role: text::role(user.role.as_str()),
        municipality: user.municipality.as_ref().map(|m| municipalities.get(m).cloned().unwrap_or_else(|| m.clone())),
        disabled_at: user.disabled_at.clone(),
        has_password: user.has_password,
    }
}

async fn municipality_map(app: &Kurslogg) -> Result<HashMap<String, String>, PageError> {
    Ok(app.municipalities_by_name().await?.into_iter().collect())
}

/// What the users page says after a change.
#[derive(Debug, Default, Deserialize)]
pub struct DoneQuery {
    #[serde(default)]
    klart: Option<String>,
}

/// `GET /kansli/anvandare`: every user, with links to make one and to the security log.
pub async fn users(State(app): AppState, visitor: Visitor) -> Result<Response, PageError> {
    follow_up::office(&visitor)?;
    let municipalities = municipality_map(&app).await?;
    let mut users = app.users_seen(&visitor.actor).await?;
    users.sort_by(|a, b| {
        a.disabled_at.is_some().cmp(&b.disabled_at.is_some()).then(a.display_name.cmp(&b.display_name))
    });
    let rows: Vec<UserRow> =
        users.iter().filter(|u| u.role != Role::System).map(|u| user_row(u, &municipalities)).collect();
    page::render(
        &visitor,
        "office_users.html.j2",
        "/kansli/anvandare",
        context! { title => "Användare", users => Serde(rows) },
    )
}

/// The new-user form's fields.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct UserForm {
    #[serde(default)]
    namn: String,
    #[serde(default)]
    inloggning: String,
    #[serde(default)]
    roll: String,
    #[serde(default)]
    kommun: String,
    /// The staff member the account is for (from the people list), if any.
    #[serde(default)]
    person: String,
}

/// The roles the office makes users for, as (value, Swedish name, hint).
const ROLES: [(&str, &str); 6] = [
    ("course_office", "Kursadministratör (kansliet)"),
    ("coordinator", "Samordnare i en kommun"),
    ("supervisor", "Arbetsledare"),
    ("participant", "Deltagare"),
    ("trainer", "Utbildare"),
    ("auditor", "Revisor"),
];

/// Whom a new account is for, when it is made from the people list.
#[derive(Debug, Default, Deserialize)]
pub struct ForWhom {
    #[serde(default)]
    person: Option<String>,
}

async fn person_named(
    app: &Kurslogg,
    visitor: &Visitor,
    origin: &crate::auth::Origin,
    raw: &str,
) -> Result<Option<(String, String, String)>, PageError> {
    if raw.is_empty() {
        return Ok(None);
    }
    let staff: StaffId = raw.parse().map_err(|_| PageError::not_found())?;
    let person = app.staff_member_seen(&visitor.actor, origin, staff).await?;
    if person.status == "erased" {
        return Err(PageError::not_found());
    }
    Ok(Some((person.id.clone(), person.name.clone().unwrap_or_default(), person.municipality.clone())))
}

#[allow(clippy::too_many_arguments)]
fn user_form_page(
    visitor: &Visitor,
    status: StatusCode,
    form: &UserForm,
    checked: &Checked,
    person: Option<&(String, String, String)>,
    municipalities: &[(String, String)],
) -> Result<Response, PageError> {
    let roles: Vec<(&str, &str)> = match person {
        Some(_) => {
            ROLES.iter().copied().filter(|(r, _)| matches!(*r, "coordinator" | "supervisor" | "participant")).collect()
        }
        None => ROLES.iter().copied().filter(|(r, _)| !matches!(*r, "supervisor" | "participant")).collect(),
    };
    page::render_with(
        status,
        visitor,
        "office_user_form.html.j2",
        "/kansli/anvandare",
        context! {
            title => "Ny användare",
            errors => checked.summary(),
            error => checked.by_field(),
            form => Serde(form),
            roles => Serde(roles),
            municipalities => Serde(municipalities),
            person => person.map(|(id, name, municipality)| context! { id => id.clone(), name => name.clone(), municipality => municipality.clone() }),
            key => page::form_key(),
        },
    )
}

/// `GET /kansli/anvandare/ny[?person=…]`: the form for a new user.
pub async fn new_user(
    State(app): AppState,
    visitor: Visitor,
    Seen(origin): Seen,
    Query(q): Query<ForWhom>,
) -> Result<Response, PageError> {
    follow_up::office(&visitor)?;
    let person = person_named(&app, &visitor, &origin, q.person.as_deref().unwrap_or_default()).await?;
    let municipalities = app.municipalities_by_name().await?;
    let mut form = UserForm::default();
    if let Some((id, name, municipality)) = &person {
        form.person = id.clone();
        form.namn = name.clone();
        form.kommun = municipality.clone();
    }
    user_form_page(&visitor, StatusCode::OK, &form, &Checked::default(), person.as_ref(), &municipalities)
}

/// `POST /kansli/anvandare/ny`: makes the user with a made password, shown once.
pub async fn create_user(
    State(app): AppState,
    Seen(origin): Seen,
    submitted: Submitted<UserForm>,
) -> Result<Response, PageError> {
    let Submitted { visitor, ctx, form } = submitted;
    follow_up::office(&visitor)?;
    let person = person_named(&app, &visitor, &origin, &form.person).await?;
    let municipalities = app.municipalities_by_name().await?;
    let mut checked = Checked::default();
    let name = checked.required("namn", &form.namn, "Skriv användarens namn").map(str::to_string);
    let login = checked
        .required(
            "inloggning",
            &form.inloggning,
            "Skriv vad användaren loggar in med, till exempel e-postadressen i arbetet",
        )
        .map(str::to_string);
    let role = Role::of_user(&form.roll).filter(|r| ROLES.iter().any(|(v, _)| *v == r.as_str()));
    if role.is_none() {
        checked.refuse("roll", "Välj en roll".into());
    }
    let municipality = match role {
        Some(Role::Coordinator) if person.is_none() => match municipalities.iter().find(|(id, _)| *id == form.kommun) {
            Some((id, _)) => MunicipalityId::parse(id).ok(),
            None => {
                checked.refuse("kommun", "Välj samordnarens kommun".into());
                None
            }
        },
        _ => None,
    };
    if matches!(role, Some(Role::Supervisor | Role::Participant)) && person.is_none() {
        checked.refuse(
            "roll",
            "En arbetsledare eller deltagare är en person i en kommun: gå till Personer och välj personen".into(),
        );
    }
    if !checked.is_clean() {
        return user_form_page(
            &visitor,
            StatusCode::UNPROCESSABLE_ENTITY,
            &form,
            &checked,
            person.as_ref(),
            &municipalities,
        );
    }
    let (Some(name), Some(login), Some(role)) = (name, login, role) else {
        return Err(PageError::not_found());
    };
    // A form sent twice (a double click, a reload) makes the user once, and says so: the
    // password was shown to the first sending only.
    if !app.first_sending(&ctx).await? {
        let user = app.auth.user_by_login(&login).await.map_err(crate::app::AppError::from)?;
        let Some(user) = user else { return Err(PageError::not_found()) };
        return page::render(
            &visitor,
            "office_password.html.j2",
            "/kansli/anvandare",
            context! {
                title => format!("{} har ett konto", user.display_name),
                user => Serde(user_row(&user, &municipalities.iter().cloned().collect())),
                password => None::<String>,
                made => true,
            },
        );
    }
    let password = crate::app::made_password();
    let request = NewUser {
        login,
        display_name: name,
        role,
        municipality,
        staff: person.as_ref().and_then(|(id, _, _)| id.parse().ok()),
        password: Some(password.clone()),
    };
    match app.create_user(&ctx.actor, &origin, request).await {
        Ok(user) => page::render(
            &visitor,
            "office_password.html.j2",
            "/kansli/anvandare",
            context! {
                title => format!("{} har ett konto", user.display_name),
                user => Serde(user_row(&user, &municipalities.iter().cloned().collect())),
                password,
                made => true,
            },
        ),
        Err(AppError::Validation(message) | AppError::Refused { message, kind: Kind::Rule | Kind::Conflict, .. }) => {
            let field = if message.contains("login") { "inloggning" } else { "roll" };
            let message = if message.contains("is taken") {
                "Det finns redan en användare med den inloggningen".to_string()
            } else if message.contains("work e-mail") {
                "En samordnare får kommunens brev: skriv samordnarens e-postadress i arbetet som inloggning, eller gå till Personer och välj personen".to_string()
            } else {
                format!("Användaren kunde inte skapas: {message}")
            };
            checked.refuse(field, message);
            user_form_page(
                &visitor,
                StatusCode::UNPROCESSABLE_ENTITY,
                &form,
                &checked,
                person.as_ref(),
                &municipalities,
            )
        }
        Err(e) => Err(e.into()),
    }
}

/// `GET /kansli/anvandare/{id}`: one user, with what the office can do.
pub async fn user(
    State(app): AppState,
    visitor: Visitor,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Result<Response, PageError> {
    follow_up::office(&visitor)?;
    let user = app.user_seen(&visitor.actor, &id).await?;
    let municipalities = municipality_map(&app).await?;
    let message = match q.klart.as_deref() {
        Some("avstangd") => Some("Användaren är avstängd. Inloggningar och nycklar slutade fungera direkt."),
        _ => None,
    };
    page::render(
        &visitor,
        "office_user.html.j2",
        "/kansli/anvandare",
        context! { title => user.display_name.clone(), user => Serde(user_row(&user, &municipalities)), message },
    )
}

/// `GET /kansli/anvandare/{id}/stang-av` and `/losenord`: what the act does, before it is done.
pub async fn confirm_disable(
    State(app): AppState,
    visitor: Visitor,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    confirm(&app, visitor, &id, "disable").await
}

/// `GET /kansli/anvandare/{id}/losenord`.
pub async fn confirm_reset(
    State(app): AppState,
    visitor: Visitor,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    confirm(&app, visitor, &id, "reset").await
}

async fn confirm(app: &Kurslogg, visitor: Visitor, id: &str, act: &str) -> Result<Response, PageError> {
    follow_up::office(&visitor)?;
    let user = app.user_seen(&visitor.actor, id).await?;
    if user.disabled_at.is_some() {
        return Err(PageError::shown(
            StatusCode::CONFLICT,
            "Användaren är avstängd",
            "En avstängd användare kan inte ändras.",
        ));
    }
    let municipalities = municipality_map(app).await?;
    let title = if act == "disable" {
        format!("Stäng av {}", user.display_name)
    } else {
        format!("Nytt lösenord åt {}", user.display_name)
    };
    page::render(
        &visitor,
        "office_user_confirm.html.j2",
        "/kansli/anvandare",
        context! { title, act, user => Serde(user_row(&user, &municipalities)), key => page::form_key(), error => None::<String> },
    )
}

/// `POST /kansli/anvandare/{id}/stang-av`: disables the user.
pub async fn disable(
    State(app): AppState,
    Seen(origin): Seen,
    Path(id): Path<String>,
    submitted: Submitted<Nothing>,
) -> Result<Response, PageError> {
    let Submitted { visitor, .. } = submitted;
    follow_up::office(&visitor)?;
    match app.disable_user(&visitor.actor, &origin, &id).await {
        Ok(_) => Ok(see_other(&format!("/kansli/anvandare/{}?klart=avstangd", encode_query_value(&id)))),
        // Sent twice: the first disabled them.
        Err(AppError::Refused { kind: Kind::Conflict, .. }) => {
            Ok(see_other(&format!("/kansli/anvandare/{}?klart=avstangd", encode_query_value(&id))))
        }
        Err(AppError::Refused { message, kind: Kind::Rule, .. }) => {
            let user = app.user_seen(&visitor.actor, &id).await?;
            let municipalities = municipality_map(&app).await?;
            let message = if message.contains("course office") || message.contains("kurskansliet") {
                "Det måste finnas minst en aktiv kursadministratör. Skapa eller aktivera en annan först.".to_string()
            } else {
                message
            };
            page::render_with(
                StatusCode::CONFLICT,
                &visitor,
                "office_user_confirm.html.j2",
                "/kansli/anvandare",
                context! {
                    title => format!("Stäng av {}", user.display_name),
                    act => "disable",
                    user => Serde(user_row(&user, &municipalities)),
                    key => page::form_key(),
                    error => Some(message),
                },
            )
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /kansli/anvandare/{id}/losenord`: a new password, shown once.
pub async fn reset_password(
    State(app): AppState,
    Seen(origin): Seen,
    Path(id): Path<String>,
    submitted: Submitted<Nothing>,
) -> Result<Response, PageError> {
    let Submitted { visitor, ctx, .. } = submitted;
    follow_up::office(&visitor)?;
    let reset = app.reset_password(&ctx, &origin, &id).await?;
    let user = app.user_seen(&visitor.actor, &id).await?;
    let municipalities = municipality_map(&app).await?;
    let password = match reset {
        PasswordReset::New(password) => Some(password),
        PasswordReset::AlreadyDone => None,
    };
    page::render(
        &visitor,
        "office_password.html.j2",
        "/kansli/anvandare",
        context! {
            title => format!("Nytt lösenord åt {}", user.display_name),
            user => Serde(user_row(&user, &municipalities)),
            password,
            made => false,
        },
    )
}

/// The security log's filters and where the page starts.
#[derive(Debug, Default, Deserialize)]
pub struct SecurityQuery {
    #[serde(default)]
    typ: String,
    #[serde(default)]
    anvandare: String,
    #[serde(default)]
    fore: Option<i64>,
}

/// The security log's kinds of lines, as (value, Swedish name).
const SECURITY_KINDS: [(&str, &str); 13] = [
    ("login", "Inloggning"),
    ("login_failed", "Misslyckad inloggning"),
    ("logout", "Utloggning"),
    ("token_used", "Nyckel använd"),
    ("token_rejected", "Nyckel nekad"),
    ("token_issued", "Nyckel utfärdad"),
    ("token_revoked", "Nyckel återkallad"),
    ("user_created", "Användare skapad"),
    ("user_disabled", "Användare avstängd"),
    ("password_set", "Lösenord satt"),
    ("password_changed", "Eget lösenord bytt"),
    ("person_read", "Personuppgifter lästa"),
    ("staff_linked", "Konto kopplat till person"),
];

/// A line of the security log in words.
#[derive(Serialize)]
struct SecurityRow {
    at: String,
    kind: String,
    user: Option<String>,
    actor: Option<String>,
    person: Option<String>,
    client: String,
    request_id: String,
    detail: String,
}

/// Lines of the security log on one page.
const LOG_PAGE: i64 = 100;

/// `GET /kansli/anvandare/sakerhetslogg`: the security log, newest first.
pub async fn security_log(
    State(app): AppState,
    visitor: Visitor,
    Query(q): Query<SecurityQuery>,
) -> Result<Response, PageError> {
    follow_up::office(&visitor)?;
    let kind = SECURITY_KINDS.iter().any(|(k, _)| *k == q.typ).then_some(q.typ.as_str());
    let users = app.users_seen(&visitor.actor).await?;
    let names: HashMap<String, String> = users.iter().map(|u| (u.user_id.clone(), u.display_name.clone())).collect();
    let user = names.contains_key(&q.anvandare).then_some(q.anvandare.as_str());
    let lines = app.security_log_newest(&visitor.actor, kind, user, q.fore, LOG_PAGE).await?;
    let people: Vec<StaffId> = lines.iter().filter_map(|l| l.staff_id.as_deref()?.parse().ok()).collect();
    let person_names = app.staff_names(&people).await?;
    let name_of = |id: &Option<String>| id.as_ref().map(|id| names.get(id).cloned().unwrap_or_else(|| id.clone()));
    let rows: Vec<SecurityRow> = lines
        .iter()
        .map(|l| SecurityRow {
            at: l.at.clone(),
            kind: SECURITY_KINDS.iter().find(|(k, _)| *k == l.kind).map_or(l.kind.clone(), |(_, n)| n.to_string()),
            user: name_of(&l.user_id),
            actor: name_of(&l.actor_id),
            person: l.staff_id.as_ref().map(|s| {
                s.parse::<StaffId>()
                    .ok()
                    .and_then(|id| person_names.get(&id).cloned())
                    .unwrap_or_else(|| "(raderad person)".into())
            }),
            client: l.client.clone(),
            request_id: l.request_id.clone(),
            detail: l.detail.clone(),
        })
        .collect();
    let next = (lines.len() as i64 == LOG_PAGE).then(|| lines.last().map(|l| l.entry_id)).flatten();
    let mut user_options: Vec<(String, String)> =
        users.iter().map(|u| (u.user_id.clone(), u.display_name.clone())).collect();
    user_options.sort_by(|a, b| a.1.cmp(&b.1));
    page::render(
        &visitor,
        "office_security_log.html.j2",
        "/kansli/anvandare",
        context! {
            title => "Säkerhetslogg",
            lines => Serde(rows),
            kinds => Serde(SECURITY_KINDS),
            users => Serde(user_options),
            chosen => context! { kind => kind.unwrap_or_default(), user => user.unwrap_or_default() },
            next => next.map(|n| format!("typ={}&anvandare={}&fore={n}", encode_query_value(kind.unwrap_or_default()), encode_query_value(user.unwrap_or_default()))),
        },
    )
}

/// The people list's municipality.
#[derive(Debug, Default, Deserialize)]
pub struct PeopleQuery {
    #[serde(default)]
    kommun: String,
    #[serde(default)]
    klart: Option<String>,
    #[serde(default)]
    efter: Option<i64>,
}

/// `GET /kansli/personer?kommun=…`: a municipality's people, to give one a login or
/// erase one's personal data.
pub async fn people(
    State(app): AppState,
    visitor: Visitor,
    Seen(origin): Seen,
    Query(q): Query<PeopleQuery>,
) -> Result<Response, PageError> {
    follow_up::office(&visitor)?;
    let municipalities = app.municipalities_by_name().await?;
    let chosen = municipalities.iter().find(|(id, _)| *id == q.kommun).cloned();
    let people = match &chosen {
        Some((id, _)) => {
            let municipality = MunicipalityId::parse(id).map_err(|_| PageError::not_found())?;
            let at = q.efter.map(ViewAt::Reached).unwrap_or_default();
            let query = StaffQuery { paging: Paging { limit: MAX_LIMIT, offset: 0 }, at, ..Default::default() };
            Some(app.list_municipality_staff(&visitor.actor, &origin, &municipality, &query).await?.items)
        }
        None => None,
    };
    let message = match q.klart.as_deref() {
        Some("raderad") => Some("Personens uppgifter är raderade. Personen visas nu som (raderad person)."),
        _ => None,
    };
    page::render(
        &visitor,
        "office_people.html.j2",
        "/kansli/anvandare",
        context! {
            title => "Personer",
            municipalities => Serde(&municipalities),
            municipality => chosen.map(|(id, name)| context! { id => id, name => name }),
            people => Serde(people),
            message,
        },
    )
}

/// The erasure form's fields.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct EraseForm {
    #[serde(default)]
    anledning: String,
    #[serde(default)]
    bekraftelse: String,
}

async fn erase_page(
    app: &Kurslogg,
    visitor: &Visitor,
    origin: &crate::auth::Origin,
    staff: StaffId,
    status: StatusCode,
    form: &EraseForm,
    checked: &Checked,
) -> Result<Response, PageError> {
    let person = app.staff_member_seen(&visitor.actor, origin, staff).await?;
    if person.status == "erased" {
        return Err(PageError::shown(
            StatusCode::CONFLICT,
            "Uppgifterna är redan raderade",
            "Personens uppgifter är redan raderade.",
        ));
    }
    let record = app.participant_record_seen(&visitor.actor, origin, staff, ViewAt::Now).await?;
    let municipality =
        app.municipality(&MunicipalityId::parse(&person.municipality).map_err(|_| PageError::not_found())?).await?.name;
    page::render_with(
        status,
        visitor,
        "office_erase.html.j2",
        "/kansli/anvandare",
        context! {
            title => format!("Radera {}s personuppgifter", person.name.clone().unwrap_or_default()),
            person => Serde(&person),
            municipality,
            courses => record.offerings.len(),
            errors => checked.summary(),
            error => checked.by_field(),
            form => Serde(form),
            key => page::form_key(),
        },
    )
}

/// `GET /kansli/personer/{id}/radera`: what erasure forgets, and the confirmation.
pub async fn confirm_erase(
    State(app): AppState,
    visitor: Visitor,
    Seen(origin): Seen,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    follow_up::office(&visitor)?;
    let staff: StaffId = id.parse().map_err(|_| PageError::not_found())?;
    erase_page(&app, &visitor, &origin, staff, StatusCode::OK, &EraseForm::default(), &Checked::default()).await
}

/// `POST /kansli/personer/{id}/radera`: erases the person's personal data, when the
/// reason is given and their name typed as it is written.
pub async fn erase(
    State(app): AppState,
    Seen(origin): Seen,
    Path(id): Path<String>,
    submitted: Submitted<EraseForm>,
) -> Result<Response, PageError> {
    let Submitted { visitor, ctx, form } = submitted;
    follow_up::office(&visitor)?;
    let staff: StaffId = id.parse().map_err(|_| PageError::not_found())?;
    let person = app.staff_member_seen(&visitor.actor, &origin, staff).await?;
    let mut checked = Checked::default();
    let reason = checked
        .required(
            "anledning",
            &form.anledning,
            "Skriv varför uppgifterna raderas, till exempel att personen begärt det",
        )
        .and_then(|raw| checked.take("anledning", "Anledning", Text::prose(raw)));
    let name = person.name.clone().unwrap_or_default();
    let typed = form.bekraftelse.split_whitespace().collect::<Vec<_>>().join(" ");
    if typed.is_empty() {
        checked.refuse("bekraftelse", "Skriv personens namn för att bekräfta".into());
    } else if typed.to_lowercase() != name.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase() {
        checked.refuse("bekraftelse", "Namnet stämmer inte: skriv personens namn så som det står på sidan".into());
    }
    let Some(reason) = reason.filter(|_| checked.is_clean()) else {
        return erase_page(&app, &visitor, &origin, staff, StatusCode::UNPROCESSABLE_ENTITY, &form, &checked).await;
    };
    match app.erase_staff(&ctx, staff, reason).await {
        Ok(written) => {
            let after = written.position.map(|p| format!("&efter={p}")).unwrap_or_default();
            Ok(see_other(&format!(
                "/kansli/personer?kommun={}&klart=raderad{after}",
                encode_query_value(&person.municipality)
            )))
        }
        Err(AppError::Validation(message) | AppError::Refused { message, kind: Kind::Rule, .. }) => {
            let message = if message.contains("name") || message.contains("namn") {
                "Anledningen får inte innehålla personens namn eller e-postadress: den sparas i granskningsloggen"
                    .to_string()
            } else {
                message
            };
            checked.refuse("anledning", message);
            erase_page(&app, &visitor, &origin, staff, StatusCode::UNPROCESSABLE_ENTITY, &form, &checked).await
        }
        Err(e) => Err(e.into()),
    }
}
