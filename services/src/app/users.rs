//! User accounts as the domain sees them: a role, and the municipality or staff member
//! it is bound to, checked against the event log before the account is stored.

use super::{Actor, AppError, Kurslogg, Role};
use crate::auth::{AuthError, NewUser, Origin, User};

impl From<AuthError> for AppError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Invalid(detail) => AppError::Validation(detail),
            AuthError::NotFound(what) => AppError::not_found(what.trim_start_matches("no such ")),
            AuthError::Conflict(detail) => {
                AppError::Refused { code: "conflict".into(), message: detail, kind: super::errors::Kind::Conflict }
            }
            AuthError::Unauthenticated(detail) => AppError::Forbidden(detail.into()),
            AuthError::RateLimited { retry_after_secs } => {
                AppError::Forbidden(format!("too many failed attempts; try again in {retry_after_secs} seconds"))
            }
            e @ AuthError::LastCourseOffice => AppError::Refused {
                code: "last_course_office".into(),
                message: e.to_string(),
                kind: super::errors::Kind::Rule,
            },
            AuthError::Database(e) => AppError::Store(e.into()),
        }
    }
}

impl Kurslogg {
    /// Creates a user account (the course office, or the system from the CLI). A
    /// coordinator is bound to a municipality; a supervisor or participant to the staff
    /// member they are, and through them to their municipality.
    pub async fn create_user(&self, by: &Actor, origin: &Origin, request: NewUser) -> Result<User, AppError> {
        self.ensure_role(by, &[Role::CourseOffice], "create users")?;
        if request.role == Role::System {
            return Err(AppError::Validation("role: system is the service itself, not a user".into()));
        }
        let staff_municipality = match request.staff {
            Some(staff) => Some(
                self.staff
                    .inspect(&staff.to_string(), |m| m.municipality.clone())
                    .await?
                    .flatten()
                    .ok_or_else(|| AppError::Validation(format!("staff_id: no staff member {staff}")))?,
            ),
            None => None,
        };
        let municipality = match (request.role, request.municipality, staff_municipality) {
            (Role::Coordinator, None, None) => {
                return Err(AppError::Validation("municipality: a coordinator belongs to a municipality".into()))
            }
            (Role::Supervisor | Role::Participant, _, None) => {
                return Err(AppError::Validation(format!("staff_id: a {} is a staff member", request.role)))
            }
            (_, Some(asked), Some(theirs)) if asked != theirs => {
                return Err(AppError::Validation(format!(
                    "municipality: the staff member belongs to {theirs}, not {asked}"
                )))
            }
            (Role::CourseOffice | Role::Auditor | Role::Trainer, Some(_), _) => {
                return Err(AppError::Validation(format!("municipality: a {} acts for no municipality", request.role)))
            }
            (_, asked, theirs) => asked.or(theirs),
        };
        if let Some(m) = &municipality {
            self.municipalities
                .peek(m.as_str())
                .await?
                .ok_or_else(|| AppError::Validation(format!("municipality: no municipality {m}")))?;
        }
        Ok(self.auth.create_user(by, origin, NewUser { municipality, ..request }).await?)
    }
}
