//! Renders letters from the Swedish templates in `services/templates/mail/`.
//!
//! Each letter kind has an HTML template (extending the shared `layout.html.j2`) and a
//! plain-text one. Rust turns a letter into a view of finished Swedish strings (dates in
//! Stockholm time, outcomes in words, "4 av 5"), so the templates only place text and
//! never compute it. The templates are compiled into the binary: a letter cannot fail
//! for want of a file on the server.

use std::iter::once;
use std::sync::LazyLock;

use kurslogg_domain::text::{displayable, one_line};
use minijinja::syntax::SyntaxConfig;
use minijinja::{context, AutoEscape, Environment, UndefinedBehavior, Value};

use super::letters::{
    AllocationLine, AllocationResult, CourseCancelled, CourseInfo, CourseSummary, DeadlineReminder, Letter,
    LineOutcome, Promotion, RegistrationReceipt, Rendered, SummaryLine,
};
use super::swedish;

/// A template that failed to render.
#[derive(Debug, thiserror::Error)]
#[error("template: {0}")]
pub struct RenderError(pub String);

impl From<minijinja::Error> for RenderError {
    /// Keeps minijinja's message, which names the template and line.
    fn from(error: minijinja::Error) -> Self {
        RenderError(error.to_string())
    }
}

/// Every template by the name the others use for it, with its source.
const TEMPLATES: &[(&str, &str)] = &[
    ("layout.html.j2", include_str!("../../templates/mail/layout.html.j2")),
    ("signature.txt.j2", include_str!("../../templates/mail/signature.txt.j2")),
    ("course_details.html.j2", include_str!("../../templates/mail/course_details.html.j2")),
    ("course_details.txt.j2", include_str!("../../templates/mail/course_details.txt.j2")),
    ("course_summary.html.j2", include_str!("../../templates/mail/course_summary.html.j2")),
    ("course_summary.txt.j2", include_str!("../../templates/mail/course_summary.txt.j2")),
    ("registration_receipt.html.j2", include_str!("../../templates/mail/registration_receipt.html.j2")),
    ("registration_receipt.txt.j2", include_str!("../../templates/mail/registration_receipt.txt.j2")),
    ("allocation_result.html.j2", include_str!("../../templates/mail/allocation_result.html.j2")),
    ("allocation_result.txt.j2", include_str!("../../templates/mail/allocation_result.txt.j2")),
    ("promotion.html.j2", include_str!("../../templates/mail/promotion.html.j2")),
    ("promotion.txt.j2", include_str!("../../templates/mail/promotion.txt.j2")),
    ("course_cancelled.html.j2", include_str!("../../templates/mail/course_cancelled.html.j2")),
    ("course_cancelled.txt.j2", include_str!("../../templates/mail/course_cancelled.txt.j2")),
    ("deadline_reminder.html.j2", include_str!("../../templates/mail/deadline_reminder.html.j2")),
    ("deadline_reminder.txt.j2", include_str!("../../templates/mail/deadline_reminder.txt.j2")),
    ("cancellation_charged.html.j2", include_str!("../../templates/mail/cancellation_charged.html.j2")),
    ("cancellation_charged.txt.j2", include_str!("../../templates/mail/cancellation_charged.txt.j2")),
];

/// The templates, parsed once. A broken template (which the tests catch first) is kept as
/// an error rather than a panic, so a render reports it instead of taking the process down.
static ENVIRONMENT: LazyLock<Result<Environment<'static>, RenderError>> = LazyLock::new(environment);

fn environment() -> Result<Environment<'static>, RenderError> {
    let mut env = Environment::new();
    // Block tags on lines of their own leave no blank lines behind, which the plain-text
    // letters depend on; the final newline of each text is kept.
    env.set_syntax(SyntaxConfig::builder().trim_blocks(true).lstrip_blocks(true).keep_trailing_newline(true).build()?);
    // Names, reasons and course texts are typed by users: escape them in HTML, and leave
    // them as typed in the plain text, where escaping would only show "&amp;".
    env.set_auto_escape_callback(|name| if name.ends_with(".html.j2") { AutoEscape::Html } else { AutoEscape::None });
    // A misspelt field fails the render (and the snapshot tests) instead of leaving a
    // silent gap in a letter.
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.add_filter("pad", pad);
    for (name, source) in TEMPLATES {
        env.add_template(name, source)?;
    }
    Ok(env)
}

/// `value` padded with spaces to `width` characters: the plain-text letters' columns.
fn pad(value: &str, width: usize) -> String {
    // Rust pads by characters, not bytes, so "Närvaro" lines up like "Namn".
    format!("{value:<width$}")
}

/// Renders `letter` into its subject, HTML body and plain-text alternative.
pub fn render(letter: &Letter) -> Result<Rendered, RenderError> {
    let env = ENVIRONMENT.as_ref().map_err(|error| RenderError(error.0.clone()))?;
    let (kind, subject, view) = match letter {
        Letter::CourseSummary(summary) => ("course_summary", summary_subject(summary), summary_view(summary)),
        Letter::RegistrationReceipt(receipt) => (
            "registration_receipt",
            format!("Kvitto på samlad anmälan: {}", receipt.municipality_name),
            receipt_view(receipt),
        ),
        Letter::AllocationResult(result) => (
            "allocation_result",
            format!("Resultat av platsfördelningen: {}", result.package_title),
            allocation_view(result),
        ),
        Letter::Promotion(promotion) => ("promotion", promotion_subject(promotion), promotion_view(promotion)),
        Letter::CourseCancelled(cancelled) => {
            ("course_cancelled", format!("Inställd kurs: {}", cancelled.course.title), cancelled_view(cancelled))
        }
        Letter::DeadlineReminder(reminder) => {
            ("deadline_reminder", reminder_subject(reminder), reminder_view(reminder))
        }
        Letter::CancellationCharged(charged) => (
            "cancellation_charged",
            format!("Avbokning med avgift: {}", charged.course.title),
            context! {
                recipient_name => charged.recipient_name.clone(),
                person_name => charged.person_name.clone(),
                course => course_view(&charged.course),
                price => crate::web::text::kronor(i64::from(charged.price_sek)),
            },
        ),
    };
    // Titles and names in the subject were typed by people, and may have been stored
    // before the edge refused line breaks in them: a header is one line, always. The
    // bodies keep line breaks, and show any other control character (a NUL) as U+FFFD.
    let subject = one_line(&subject);
    let context = context! { subject => subject.clone(), ..view };
    let html = displayable(&env.get_template(&format!("{kind}.html.j2"))?.render(&context)?);
    let text = displayable(&env.get_template(&format!("{kind}.txt.j2"))?.render(&context)?);
    Ok(Rendered { subject, html, text })
}

fn summary_subject(summary: &CourseSummary) -> String {
    format!("Sammanfattning: {} ({})", summary.course.title, summary.course.term)
}

fn promotion_subject(promotion: &Promotion) -> String {
    if promotion.to_coordinator {
        format!("Plats från reservlistan: {}", promotion.course.title)
    } else {
        format!("Du har fått en plats: {}", promotion.course.title)
    }
}

fn reminder_subject(reminder: &DeadlineReminder) -> String {
    format!(
        "Påminnelse: anmälan till {} stänger den {}",
        reminder.package_title,
        swedish::day_and_month(reminder.deadline)
    )
}

/// The course as the letters describe it: sessions in Stockholm time, the venue or
/// "digitalt", texts also split into paragraphs for the HTML.
fn course_view(course: &CourseInfo) -> Value {
    // An empty suggestion is no suggestion: the letter then gives its generic one.
    let follow_up = course.follow_up.clone().filter(|text| !text.trim().is_empty());
    context! {
        title => course.title.clone(),
        term => course.term.clone(),
        description => course.description.trim().to_owned(),
        description_paragraphs => paragraphs(&course.description),
        competence_areas => course.competence_areas.clone(),
        follow_up_paragraphs => follow_up.as_deref().map(paragraphs).unwrap_or_default(),
        follow_up => follow_up.map(|text| text.trim().to_owned()),
        trainer => course.trainer.clone(),
        venue => course.venue.clone().unwrap_or_else(|| "digitalt".to_owned()),
        sessions => course
            .sessions
            .iter()
            .map(|session| swedish::span(session.starts_at, session.ends_at))
            .collect::<Vec<_>>(),
    }
}

/// `text` split at blank lines: the text letters keep the line breaks as typed, HTML
/// needs each paragraph in its own element.
fn paragraphs(text: &str) -> Vec<String> {
    let mut paragraphs = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() {
            if !current.is_empty() {
                paragraphs.push(current.join("\n"));
                current.clear();
            }
        } else {
            current.push(line);
        }
    }
    if !current.is_empty() {
        paragraphs.push(current.join("\n"));
    }
    paragraphs
}

/// The width of a plain-text column holding `cells` (heading included), in characters.
fn column_width<'a>(cells: impl IntoIterator<Item = &'a str>) -> usize {
    cells.into_iter().map(|cell| cell.chars().count()).max().unwrap_or(0)
}

/// One of the supervisor's staff, as the summary's table shows them.
struct SummaryRow {
    name: String,
    attendance: String,
    result: &'static str,
    certificate: String,
    certificate_link: Option<String>,
}

impl SummaryRow {
    fn new(line: &SummaryLine) -> Self {
        // A certificate belongs to a completed course only: never print a number beside
        // "Ej genomförd", even if the facts were to carry one.
        let certificate = match (&line.certificate, line.completed) {
            (Some(number), true) => number.clone(),
            _ => "–".to_owned(),
        };
        SummaryRow {
            name: line.name.clone(),
            attendance: format!("{} av {}", line.attended, line.sessions),
            result: if line.completed { "Genomförd" } else { "Ej genomförd" },
            certificate,
            certificate_link: line.certificate_link.clone().filter(|_| line.completed && line.certificate.is_some()),
        }
    }
}

fn summary_view(summary: &CourseSummary) -> Value {
    let rows: Vec<SummaryRow> = summary.participants.iter().map(SummaryRow::new).collect();
    // The headings are those of course_summary.txt.j2's table.
    let widths = context! {
        name => column_width(once("Namn").chain(rows.iter().map(|row| row.name.as_str()))),
        attendance => column_width(once("Närvaro").chain(rows.iter().map(|row| row.attendance.as_str()))),
        result => column_width(once("Resultat").chain(rows.iter().map(|row| row.result))),
    };
    let participants: Vec<Value> = rows
        .into_iter()
        .map(|row| {
            context! {
                name => row.name,
                attendance => row.attendance,
                result => row.result,
                certificate => row.certificate,
                certificate_link => row.certificate_link,
            }
        })
        .collect();
    context! {
        supervisor_name => summary.supervisor_name.clone(),
        course => course_view(&summary.course),
        participants,
        widths,
    }
}

/// What became of a line, in the words the letters use for it.
fn outcome_text(outcome: LineOutcome, waiting_place: Option<usize>, reason: Option<&str>) -> String {
    match (outcome, waiting_place, reason) {
        (LineOutcome::Requested, ..) => "Mottagen – platser fördelas efter sista anmälningsdag".to_owned(),
        (LineOutcome::Confirmed, ..) => "Plats".to_owned(),
        (LineOutcome::Waiting, Some(place), _) => format!("Reservplats {place}"),
        (LineOutcome::Waiting, None, _) => "Reservlista".to_owned(),
        (LineOutcome::Refused, _, Some(reason)) if !reason.trim().is_empty() => {
            format!("Ej registrerad – {}", reason.trim())
        }
        (LineOutcome::Refused, ..) => "Ej registrerad".to_owned(),
    }
}

fn receipt_view(receipt: &RegistrationReceipt) -> Value {
    let count = |outcome: LineOutcome| receipt.lines.iter().filter(|line| line.outcome == outcome).count();
    let totals: Vec<Value> = [
        (LineOutcome::Requested, "Mottagna (platser fördelas efter sista anmälningsdag)"),
        (LineOutcome::Confirmed, "Plats"),
        (LineOutcome::Waiting, "Reservlista"),
        (LineOutcome::Refused, "Ej registrerade"),
    ]
    .into_iter()
    .filter(|(outcome, _)| count(*outcome) > 0)
    .map(|(outcome, label)| context! { label, count => count(outcome) })
    .collect();
    let lines: Vec<Value> = receipt
        .lines
        .iter()
        .enumerate()
        .map(|(index, line)| {
            context! {
                number => format!("{}.", index + 1),
                person => line.person.clone(),
                course => line.course.clone(),
                outcome => outcome_text(line.outcome, None, line.reason.as_deref()),
            }
        })
        .collect();
    context! {
        coordinator_name => receipt.coordinator_name.clone(),
        municipality_name => receipt.municipality_name.clone(),
        received_at => swedish::date_time(receipt.received_at),
        // Room for the widest line number ("12.") so the outcomes line up under the names.
        number_width => format!("{}.", receipt.lines.len()).len(),
        lines,
        totals,
        any_requested => count(LineOutcome::Requested) > 0,
        any_waiting => count(LineOutcome::Waiting) > 0,
        any_refused => count(LineOutcome::Refused) > 0,
        // Seats and waiting places are only given once the deadline has passed; before
        // it every accepted line is merely received.
        after_deadline => count(LineOutcome::Confirmed) + count(LineOutcome::Waiting) > 0,
    }
}

fn allocation_view(result: &AllocationResult) -> Value {
    let line_view = |line: &AllocationLine| {
        context! {
            person => line.person.clone(),
            course => line.course.clone(),
            starts_at => swedish::date_time(line.starts_at),
            outcome => outcome_text(line.outcome, line.waiting_place, None),
        }
    };
    // The lines come course by course; the text letter gives each course one heading.
    // Only neighbours are grouped, so the order the dispatcher chose is kept.
    let mut courses: Vec<(&str, _, Vec<Value>)> = Vec::new();
    for line in &result.lines {
        match courses.last_mut() {
            Some((course, starts_at, lines)) if *course == line.course && *starts_at == line.starts_at => {
                lines.push(line_view(line))
            }
            _ => courses.push((&line.course, line.starts_at, vec![line_view(line)])),
        }
    }
    let courses: Vec<Value> = courses
        .into_iter()
        .map(|(title, starts_at, lines)| context! { title, starts_at => swedish::date_time(starts_at), lines })
        .collect();
    let count = |outcome: LineOutcome| result.lines.iter().filter(|line| line.outcome == outcome).count();
    context! {
        coordinator_name => result.coordinator_name.clone(),
        municipality_name => result.municipality_name.clone(),
        package_title => result.package_title.clone(),
        term => result.term.clone(),
        lines => result.lines.iter().map(line_view).collect::<Vec<_>>(),
        courses,
        person_width => column_width(result.lines.iter().map(|line| line.person.as_str())),
        confirmed => count(LineOutcome::Confirmed),
        waiting => count(LineOutcome::Waiting),
    }
}

fn promotion_view(promotion: &Promotion) -> Value {
    context! {
        recipient_name => promotion.recipient_name.clone(),
        person_name => promotion.person_name.clone(),
        to_coordinator => promotion.to_coordinator,
        course => course_view(&promotion.course),
    }
}

fn cancelled_view(cancelled: &CourseCancelled) -> Value {
    context! {
        recipient_name => cancelled.recipient_name.clone(),
        course => course_view(&cancelled.course),
        reason => cancelled.reason.trim().to_owned(),
        people => cancelled.people.clone(),
        to_coordinator => cancelled.to_coordinator,
    }
}

/// How long is left, as a sentence: "Det är 14 dagar kvar."
fn days_left_text(days: u32) -> String {
    match days {
        0 => "Anmälan stänger i dag.".to_owned(),
        1 => "Det är en dag kvar.".to_owned(),
        days => format!("Det är {days} dagar kvar."),
    }
}

fn reminder_view(reminder: &DeadlineReminder) -> Value {
    context! {
        coordinator_name => reminder.coordinator_name.clone(),
        municipality_name => reminder.municipality_name.clone(),
        package_title => reminder.package_title.clone(),
        term => reminder.term.clone(),
        deadline => swedish::date_time(reminder.deadline),
        days_left => days_left_text(reminder.days_left),
        courses => reminder.courses.clone(),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;
    use crate::mail::letters::{CancellationCharged, ReceiptLine, SessionTimes};

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().expect("a UTC timestamp")
    }

    /// A day from 09.00 to 16.00 Stockholm time, given the day's UTC start.
    fn day(starts_at: &str) -> SessionTimes {
        let starts_at = at(starts_at);
        SessionTimes { starts_at, ends_at: starts_at + chrono::Duration::hours(7) }
    }

    /// A five-day course over the autumn; the last two days fall after summer time ends
    /// (31 October 2027), so they start at 08:00 UTC for the same 09.00.
    fn anknytning() -> CourseInfo {
        CourseInfo {
            title: "Anknytning och omsorgssvikt".into(),
            term: "HT2027".into(),
            description: "Kursen ger fördjupade kunskaper om anknytningsteori och om hur omsorgssvikt påverkar \
                          barns utveckling.\n\nVi gick igenom hur anknytningsmönster kan bedömas i utredningar, \
                          vilka risk- och skyddsfaktorer som är viktigast att fånga upp och hur man samtalar med \
                          barn och föräldrar om omsorgen."
                .into(),
            competence_areas: vec![
                "Utvecklingspsykologi".into(),
                "Anknytningsteori".into(),
                "Risk- och skyddsfaktorer".into(),
                "Samtal med barn".into(),
            ],
            follow_up: None,
            trainer: "Maria Bergström, leg. psykolog".into(),
            venue: Some("Kunskapens hus, Vänersborg".into()),
            sessions: vec![
                day("2027-09-21T07:00:00Z"),
                day("2027-10-05T07:00:00Z"),
                day("2027-10-19T07:00:00Z"),
                day("2027-11-02T08:00:00Z"),
                day("2027-11-16T08:00:00Z"),
            ],
        }
    }

    fn lvu_grund() -> CourseInfo {
        CourseInfo {
            title: "LVU grund".into(),
            term: "HT2027".into(),
            description: "Grunderna i lagen med särskilda bestämmelser om vård av unga.".into(),
            competence_areas: vec!["Socialrätt".into(), "Förvaltningsrätt".into()],
            follow_up: Some(
                "Gå gärna igenom ett avidentifierat ärende tillsammans i arbetsgruppen och pröva \
                 kursens checklista för när en ansökan om vård enligt LVU ska övervägas."
                    .into(),
            ),
            trainer: "Jonas Ek, jurist".into(),
            venue: Some("Fyrbodals kommunalförbund, Uddevalla".into()),
            sessions: vec![day("2027-09-07T07:00:00Z")],
        }
    }

    fn lvu_fortsattning() -> CourseInfo {
        CourseInfo {
            title: "LVU fortsättning".into(),
            term: "HT2027".into(),
            description: "Fördjupning i LVU: omedelbart omhändertagande, umgängesbegränsning och överväganden.".into(),
            competence_areas: vec!["Socialrätt".into()],
            follow_up: None,
            trainer: "Jonas Ek, jurist".into(),
            venue: None,
            sessions: vec![day("2027-11-23T08:00:00Z"), day("2027-11-24T08:00:00Z")],
        }
    }

    fn course_summary() -> CourseSummary {
        CourseSummary {
            supervisor_name: "Karin Persson".into(),
            course: anknytning(),
            participants: vec![
                SummaryLine {
                    name: "Anna Lindqvist".into(),
                    attended: 5,
                    sessions: 5,
                    completed: true,
                    certificate: Some("FYR-2027-0412".into()),
                    certificate_link: Some("https://kurslogg.fyrbodal.se/certificates/FYR-2027-0412/pdf".into()),
                },
                SummaryLine {
                    name: "Erik Johansson".into(),
                    attended: 4,
                    sessions: 5,
                    completed: true,
                    certificate: Some("FYR-2027-0413".into()),
                    certificate_link: Some("https://kurslogg.fyrbodal.se/certificates/FYR-2027-0413/pdf".into()),
                },
                SummaryLine {
                    name: "Sara Nilsson".into(),
                    attended: 2,
                    sessions: 5,
                    completed: false,
                    certificate: None,
                    certificate_link: None,
                },
            ],
        }
    }

    fn receipt_line(person: &str, course: &str, outcome: LineOutcome, reason: Option<&str>) -> ReceiptLine {
        ReceiptLine { person: person.into(), course: course.into(), outcome, reason: reason.map(Into::into) }
    }

    /// Made before the deadline: lines are received or refused, no seats yet.
    fn registration_receipt() -> RegistrationReceipt {
        RegistrationReceipt {
            coordinator_name: "Maria Svensson".into(),
            municipality_name: "Dals-Ed".into(),
            received_at: at("2027-06-08T12:32:00Z"),
            lines: vec![
                receipt_line("Anna Lindqvist", "LVU grund", LineOutcome::Requested, None),
                receipt_line("Anna Lindqvist", "Samtal med barn", LineOutcome::Requested, None),
                receipt_line("Erik Johansson", "Anknytning och omsorgssvikt", LineOutcome::Requested, None),
                receipt_line(
                    "Erik Johansson",
                    "LVU fortsättning",
                    LineOutcome::Refused,
                    Some("LVU grund ska vara genomförd före LVU fortsättning"),
                ),
                receipt_line("Sara Nilsson", "Introduktionskurs", LineOutcome::Requested, None),
            ],
        }
    }

    /// Made after the deadline: free seats first come first served, then the waiting list.
    fn late_registration_receipt() -> RegistrationReceipt {
        RegistrationReceipt {
            coordinator_name: "Maria Svensson".into(),
            municipality_name: "Dals-Ed".into(),
            received_at: at("2027-08-16T07:05:00Z"),
            lines: vec![
                receipt_line("Johan Berg", "Samtal med barn", LineOutcome::Confirmed, None),
                receipt_line("Johan Berg", "LVU grund", LineOutcome::Waiting, None),
                receipt_line("Lina Ek", "Familjeterapi 2", LineOutcome::Refused, Some("Familjeterapi 1 saknas")),
            ],
        }
    }

    fn allocation_result() -> AllocationResult {
        let line = |person: &str, course: &str, starts_at: &str, outcome, waiting_place| AllocationLine {
            person: person.into(),
            course: course.into(),
            starts_at: at(starts_at),
            outcome,
            waiting_place,
        };
        AllocationResult {
            coordinator_name: "Maria Svensson".into(),
            municipality_name: "Dals-Ed".into(),
            package_title: "Utbildningspaket barn och unga".into(),
            term: "HT2027".into(),
            lines: vec![
                line("Anna Lindqvist", "LVU grund", "2027-09-07T07:00:00Z", LineOutcome::Confirmed, None),
                line("Erik Johansson", "LVU grund", "2027-09-07T07:00:00Z", LineOutcome::Waiting, Some(2)),
                line("Anna Lindqvist", "Samtal med barn", "2027-10-12T07:00:00Z", LineOutcome::Confirmed, None),
                line("Sara Nilsson", "Samtal med barn", "2027-10-12T07:00:00Z", LineOutcome::Confirmed, None),
                line(
                    "Erik Johansson",
                    "Anknytning och omsorgssvikt",
                    "2027-09-21T07:00:00Z",
                    LineOutcome::Confirmed,
                    None,
                ),
                line("Sara Nilsson", "Introduktionskurs", "2027-11-09T08:00:00Z", LineOutcome::Waiting, Some(1)),
            ],
        }
    }

    fn promotion(to_coordinator: bool) -> Promotion {
        Promotion {
            recipient_name: if to_coordinator { "Maria Svensson" } else { "Erik Johansson" }.into(),
            person_name: "Erik Johansson".into(),
            to_coordinator,
            course: lvu_grund(),
        }
    }

    fn course_cancelled(to_coordinator: bool) -> CourseCancelled {
        CourseCancelled {
            recipient_name: if to_coordinator { "Maria Svensson" } else { "Anna Lindqvist" }.into(),
            course: lvu_fortsattning(),
            reason: "För få anmälda deltagare för att kursen ska kunna genomföras.".into(),
            people: if to_coordinator {
                vec!["Anna Lindqvist".into(), "Erik Johansson".into()]
            } else {
                vec!["Anna Lindqvist".into()]
            },
            to_coordinator,
        }
    }

    fn deadline_reminder() -> DeadlineReminder {
        DeadlineReminder {
            coordinator_name: "Maria Svensson".into(),
            municipality_name: "Dals-Ed".into(),
            package_title: "Utbildningspaket barn och unga".into(),
            term: "HT2027".into(),
            // 15 June 23.59 in Stockholm (summer time, UTC+2).
            deadline: at("2027-06-15T21:59:00Z"),
            days_left: 14,
            courses: vec![
                "Introduktionskurs".into(),
                "LVU grund".into(),
                "LVU fortsättning".into(),
                "Samtal med barn".into(),
                "Anknytning och omsorgssvikt".into(),
            ],
        }
    }

    fn rendered(letter: Letter) -> Rendered {
        render(&letter).expect("the letter renders")
    }

    /// Snapshots the subject and both bodies of `letter` under `name`.
    fn assert_letter_snapshots(name: &str, letter: Letter) {
        let Rendered { subject, html, text } = rendered(letter);
        insta::assert_snapshot!(format!("{name}_subject"), subject);
        insta::assert_snapshot!(format!("{name}_text"), text);
        insta::assert_snapshot!(format!("{name}_html"), html);
    }

    #[test]
    fn course_summary_snapshots() {
        assert_letter_snapshots("course_summary", Letter::CourseSummary(course_summary()));
    }

    #[test]
    fn course_summary_with_the_course_offices_follow_up_snapshots() {
        let mut summary = course_summary();
        summary.course = lvu_grund();
        summary.participants.truncate(1);
        summary.participants[0].attended = 1;
        summary.participants[0].sessions = 1;
        assert_letter_snapshots("course_summary_follow_up", Letter::CourseSummary(summary));
    }

    #[test]
    fn registration_receipt_snapshots() {
        assert_letter_snapshots("registration_receipt", Letter::RegistrationReceipt(registration_receipt()));
    }

    #[test]
    fn late_registration_receipt_snapshots() {
        assert_letter_snapshots("registration_receipt_late", Letter::RegistrationReceipt(late_registration_receipt()));
    }

    #[test]
    fn allocation_result_snapshots() {
        assert_letter_snapshots("allocation_result", Letter::AllocationResult(allocation_result()));
    }

    #[test]
    fn promotion_snapshots() {
        assert_letter_snapshots("promotion_to_person", Letter::Promotion(promotion(false)));
        assert_letter_snapshots("promotion_to_coordinator", Letter::Promotion(promotion(true)));
    }

    #[test]
    fn course_cancelled_snapshots() {
        assert_letter_snapshots("course_cancelled_to_person", Letter::CourseCancelled(course_cancelled(false)));
        assert_letter_snapshots("course_cancelled_to_coordinator", Letter::CourseCancelled(course_cancelled(true)));
    }

    #[test]
    fn cancellation_charged_snapshots() {
        let charged = CancellationCharged {
            recipient_name: "Maria Svensson".into(),
            person_name: "Erik Johansson".into(),
            course: lvu_grund(),
            price_sek: 1800,
        };
        assert_letter_snapshots("cancellation_charged", Letter::CancellationCharged(charged));
    }

    #[test]
    fn deadline_reminder_snapshots() {
        assert_letter_snapshots("deadline_reminder", Letter::DeadlineReminder(deadline_reminder()));
    }

    #[test]
    fn a_hostile_name_is_escaped_in_html_and_left_as_typed_in_text() {
        let hostile = "<script>alert('x')</script> & Co";
        let mut summary = course_summary();
        summary.supervisor_name = hostile.into();
        summary.participants[0].name = hostile.into();
        let letter = rendered(Letter::CourseSummary(summary));

        assert!(!letter.html.contains("<script>"), "{}", letter.html);
        assert!(
            letter.html.contains("&lt;script&gt;alert(&#x27;x&#x27;)&lt;&#x2f;script&gt; &amp; Co"),
            "{}",
            letter.html
        );
        assert!(letter.text.contains(hostile));
    }

    #[test]
    fn the_text_summary_has_every_participants_attendance_line() {
        let summary = course_summary();
        let letter = rendered(Letter::CourseSummary(summary.clone()));

        for person in &summary.participants {
            let line = letter.text.lines().find(|line| line.starts_with(&person.name));
            let line = line.unwrap_or_else(|| panic!("no line for {} in\n{}", person.name, letter.text));
            assert!(line.contains(&format!("{} av {}", person.attended, person.sessions)), "{line}");
        }
    }

    #[test]
    fn a_participant_who_did_not_complete_has_no_certificate() {
        let mut summary = course_summary();
        // Even a stray certificate number is not printed beside "Ej genomförd".
        summary.participants[2].certificate = Some("FYR-2027-9999".into());
        let letter = rendered(Letter::CourseSummary(summary));

        let line = letter.text.lines().find(|line| line.starts_with("Sara Nilsson")).expect("Sara's line");
        assert!(line.contains("2 av 5") && line.contains("Ej genomförd") && line.trim_end().ends_with('–'), "{line}");
        assert!(!letter.text.contains("FYR-2027-9999") && !letter.html.contains("FYR-2027-9999"));
        let row = letter.html.split("<tr>").find(|row| row.contains("Sara Nilsson")).expect("Sara's row");
        assert!(
            row.contains("Ej genomförd")
                && row.contains("<td style=\"padding:6px 8px; border-bottom:1px solid #d0d7de;\">–</td>")
        );
    }

    #[test]
    fn sessions_show_stockholm_time_in_summer_and_winter() {
        let mut course = lvu_grund();
        course.sessions = vec![
            SessionTimes { starts_at: at("2027-09-07T07:00:00Z"), ends_at: at("2027-09-07T14:00:00Z") },
            SessionTimes { starts_at: at("2028-01-18T08:00:00Z"), ends_at: at("2028-01-18T15:00:00Z") },
        ];
        let letter = rendered(Letter::Promotion(Promotion { course, ..promotion(false) }));

        for body in [&letter.text, &letter.html] {
            assert!(body.contains("tisdag 7 september 2027 kl. 09.00–16.00"), "{body}");
            assert!(body.contains("tisdag 18 januari 2028 kl. 09.00–16.00"), "{body}");
        }
    }

    #[test]
    fn a_cancellation_about_one_person_agrees_in_number() {
        let mut cancelled = course_cancelled(true);
        cancelled.people.truncate(1);
        let letter = rendered(Letter::CourseCancelled(cancelled));

        let expected = "Det gäller den här personen hos er, som var anmäld till kursen:\n  - Anna Lindqvist\n";
        assert!(letter.text.contains(expected), "{}", letter.text);
    }

    #[test]
    fn the_allocation_result_has_every_line_in_both_bodies() {
        let result = allocation_result();
        let letter = rendered(Letter::AllocationResult(result.clone()));

        let text_lines = letter.text.lines().filter(|line| line.starts_with("  ")).count();
        let html_rows = letter.html.matches("<tr>").count() - 1; // less the heading row
        assert_eq!((text_lines, html_rows), (result.lines.len(), result.lines.len()));
    }

    #[test]
    fn days_left_reads_naturally() {
        assert_eq!(days_left_text(0), "Anmälan stänger i dag.");
        assert_eq!(days_left_text(1), "Det är en dag kvar.");
        assert_eq!(days_left_text(3), "Det är 3 dagar kvar.");
    }

    #[test]
    fn every_template_parses() {
        let env = ENVIRONMENT.as_ref().expect("the templates parse");
        for (name, _) in TEMPLATES {
            env.get_template(name).expect("registered");
        }
    }
}
