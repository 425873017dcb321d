//! The pages' templates (`services/templates/web/`), compiled into the binary and parsed
//! once. Rust hands each page finished values; the filters here turn stored values into
//! Swedish words and Stockholm times, so the templates never compute anything.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use minijinja::syntax::SyntaxConfig;
use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value};

use super::{assets, text};
use crate::mail::swedish;

/// Every template by the name the others use for it, with its source.
const TEMPLATES: &[(&str, &str)] = &[
    ("layout.html.j2", include_str!("../../templates/web/layout.html.j2")),
    ("macros.html.j2", include_str!("../../templates/web/macros.html.j2")),
    ("login.html.j2", include_str!("../../templates/web/login.html.j2")),
    ("error.html.j2", include_str!("../../templates/web/error.html.j2")),
    ("start.html.j2", include_str!("../../templates/web/start.html.j2")),
    ("start_coordinator.html.j2", include_str!("../../templates/web/start_coordinator.html.j2")),
    ("packages.html.j2", include_str!("../../templates/web/packages.html.j2")),
    ("catalogue.html.j2", include_str!("../../templates/web/catalogue.html.j2")),
    ("registration.html.j2", include_str!("../../templates/web/registration.html.j2")),
    ("registration_check.html.j2", include_str!("../../templates/web/registration_check.html.j2")),
    ("registration_receipt.html.j2", include_str!("../../templates/web/registration_receipt.html.j2")),
    ("registration_cancel.html.j2", include_str!("../../templates/web/registration_cancel.html.j2")),
    ("registration_transfer.html.j2", include_str!("../../templates/web/registration_transfer.html.j2")),
    ("start_supervisor.html.j2", include_str!("../../templates/web/start_supervisor.html.j2")),
    ("supervisor_staff.html.j2", include_str!("../../templates/web/supervisor_staff.html.j2")),
    ("supervisor_person.html.j2", include_str!("../../templates/web/supervisor_person.html.j2")),
    ("summaries.html.j2", include_str!("../../templates/web/summaries.html.j2")),
    ("summary.html.j2", include_str!("../../templates/web/summary.html.j2")),
    ("calendar.html.j2", include_str!("../../templates/web/calendar.html.j2")),
    ("participant.html.j2", include_str!("../../templates/web/participant.html.j2")),
    ("trainer_start.html.j2", include_str!("../../templates/web/trainer_start.html.j2")),
    ("trainer_offering.html.j2", include_str!("../../templates/web/trainer_offering.html.j2")),
    ("trainer_session.html.j2", include_str!("../../templates/web/trainer_session.html.j2")),
    ("trainer_row.html.j2", include_str!("../../templates/web/trainer_row.html.j2")),
    ("costs.html.j2", include_str!("../../templates/web/costs.html.j2")),
    ("staff_register.html.j2", include_str!("../../templates/web/staff_register.html.j2")),
    ("staff_form.html.j2", include_str!("../../templates/web/staff_form.html.j2")),
    ("staff_person.html.j2", include_str!("../../templates/web/staff_person.html.j2")),
    ("staff_remove.html.j2", include_str!("../../templates/web/staff_remove.html.j2")),
    // The course office: courses, packages, offerings, allocation, rosters (decision 0020).
    ("office_macros.html.j2", include_str!("../../templates/web/office_macros.html.j2")),
    ("office_start.html.j2", include_str!("../../templates/web/office_start.html.j2")),
    ("office_courses.html.j2", include_str!("../../templates/web/office_courses.html.j2")),
    ("office_course_form.html.j2", include_str!("../../templates/web/office_course_form.html.j2")),
    ("office_packages.html.j2", include_str!("../../templates/web/office_packages.html.j2")),
    ("office_package_form.html.j2", include_str!("../../templates/web/office_package_form.html.j2")),
    ("office_package.html.j2", include_str!("../../templates/web/office_package.html.j2")),
    ("office_deadline_form.html.j2", include_str!("../../templates/web/office_deadline_form.html.j2")),
    ("office_offering_form.html.j2", include_str!("../../templates/web/office_offering_form.html.j2")),
    ("office_roster.html.j2", include_str!("../../templates/web/office_roster.html.j2")),
    ("office_cancel.html.j2", include_str!("../../templates/web/office_cancel.html.j2")),
    ("office_withdraw_certificate.html.j2", include_str!("../../templates/web/office_withdraw_certificate.html.j2")),
    ("office_overview.html.j2", include_str!("../../templates/web/office_overview.html.j2")),
    ("office_close.html.j2", include_str!("../../templates/web/office_close.html.j2")),
    ("office_allocation.html.j2", include_str!("../../templates/web/office_allocation.html.j2")),
    // The course office's follow-up and the auditor's pages (decision 0021).
    ("office_letters.html.j2", include_str!("../../templates/web/office_letters.html.j2")),
    ("office_letter.html.j2", include_str!("../../templates/web/office_letter.html.j2")),
    ("office_statistics.html.j2", include_str!("../../templates/web/office_statistics.html.j2")),
    ("office_costs.html.j2", include_str!("../../templates/web/office_costs.html.j2")),
    ("office_users.html.j2", include_str!("../../templates/web/office_users.html.j2")),
    ("office_user_form.html.j2", include_str!("../../templates/web/office_user_form.html.j2")),
    ("office_password.html.j2", include_str!("../../templates/web/office_password.html.j2")),
    ("office_user.html.j2", include_str!("../../templates/web/office_user.html.j2")),
    ("office_user_confirm.html.j2", include_str!("../../templates/web/office_user_confirm.html.j2")),
    ("office_security_log.html.j2", include_str!("../../templates/web/office_security_log.html.j2")),
    ("office_people.html.j2", include_str!("../../templates/web/office_people.html.j2")),
    ("office_erase.html.j2", include_str!("../../templates/web/office_erase.html.j2")),
    ("audit_start.html.j2", include_str!("../../templates/web/audit_start.html.j2")),
    ("audit_trail.html.j2", include_str!("../../templates/web/audit_trail.html.j2")),
    ("audit_past.html.j2", include_str!("../../templates/web/audit_past.html.j2")),
    // Certificates and their public check (decision 0019).
    ("certificate_check.html.j2", include_str!("../../templates/web/certificate_check.html.j2")),
    ("certificates.html.j2", include_str!("../../templates/web/certificates.html.j2")),
];

/// The templates, parsed once. A broken template (which the tests catch first) is kept as
/// an error rather than a panic: a page then answers 500 with a logged reason.
static ENVIRONMENT: LazyLock<Result<Environment<'static>, minijinja::Error>> = LazyLock::new(environment);

fn environment() -> Result<Environment<'static>, minijinja::Error> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| AutoEscape::Html);
    // A misspelt field fails the render (and the tests) instead of leaving a silent gap.
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_syntax(SyntaxConfig::builder().trim_blocks(true).lstrip_blocks(true).build()?);
    env.add_function("asset", |name: &str| assets::url(name).unwrap_or_default());
    env.add_filter("role", |v: &str| text::role(v));
    env.add_filter("band", |v: &str| text::band(v));
    env.add_filter("group", |v: &str| text::group(v));
    env.add_filter("registration", |v: &str| text::registration(v));
    env.add_filter("staff_status", |v: &str| text::staff_status(v));
    env.add_filter("phase", |v: &str| text::phase(v));
    env.add_filter("offering_state", |v: &str| text::offering_state(v));
    env.add_filter("attendance", |v: &str| text::attendance(v));
    env.add_filter("standing", |v: &str| text::standing(v));
    env.add_filter("kronor", |v: i64| text::kronor(v));
    env.add_filter("hours", |v: f64| text::hours(v));
    env.add_filter("date", |v: &str| instant(v).map(swedish::date).unwrap_or_else(|| v.to_string()));
    env.add_filter("datetime", |v: &str| instant(v).map(swedish::date_time).unwrap_or_else(|| v.to_string()));
    env.add_filter("short_date", |v: &str| instant(v).map(swedish::short_date).unwrap_or_else(|| v.to_string()));
    env.add_filter("span", |start: &str, end: &str| match (instant(start), instant(end)) {
        (Some(start), Some(end)) => swedish::span(start, end),
        _ => format!("{start}–{end}"),
    });
    for (name, source) in TEMPLATES {
        env.add_template(name, source)?;
    }
    Ok(env)
}

fn instant(raw: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(raw).ok().map(|at| at.with_timezone(&Utc))
}

/// Renders the template `name` with `context`.
pub fn render(name: &str, context: Value) -> Result<String, minijinja::Error> {
    let env = ENVIRONMENT
        .as_ref()
        .map_err(|e| minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, format!("templates: {e}")))?;
    env.get_template(name)?.render(context)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses() {
        if let Err(e) = ENVIRONMENT.as_ref() {
            panic!("{e:#}");
        }
    }
}
