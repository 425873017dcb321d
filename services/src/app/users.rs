//! User accounts as the domain sees them: a role, and the municipality or staff member
//! it is bound to, checked against the event log before the account is stored.
//!
//! A coordinator is one person (docs/decisions/0018): a staff member of the municipality
//! who holds the coordinator role, and so gets the receipts and allocation letters, and who
//! logs in with a coordinator account bound to them.

use chrono::Utc;
use kurslogg_domain::municipality::MunicipalRole;
use kurslogg_domain::staff::{StaffProfile, StaffStatus};
use kurslogg_domain::{ExperienceBand, MunicipalityId, PersonName, StaffGroup, StaffId, Text, WorkEmail};
use serde::Serialize;

use super::{Actor, AppError, CommandContext, Kurslogg, Role};
use crate::auth::{AuthError, NewUser, Origin, User};

/// What [`Kurslogg::unify_coordinators`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CoordinatorsUnified {
    /// Coordinator accounts joined to the staff member they are.
    pub linked: usize,
    /// Of those, the ones whose staff member was added from the account (name and login).
    pub added: usize,
    /// Role holders given the coordinator role their account implied.
    pub roles_assigned: usize,
    /// Logins of coordinator accounts that could not be joined to a person (their login is
    /// no e-mail address to write to): the course office makes them anew with `staff_id`.
    pub left: Vec<String>,
}

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
                AppError::Forbidden(format!("för många misslyckade försök; försök igen om {retry_after_secs} sekunder"))
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
        self.ensure_role(by, &[Role::CourseOffice], "skapa användare")?;
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
        if request.role != Role::Coordinator {
            return Ok(self.auth.create_user(by, origin, NewUser { municipality, ..request }).await?);
        }
        // A coordinator is a person who gets the letters: the staff member named, or one
        // made from the account (its login is their work e-mail), who then holds the role.
        let municipality = municipality.expect("a coordinator's municipality was checked above");
        if self.auth.user_by_login(&request.login).await?.is_some() {
            return Err(AuthError::Conflict(format!("login {:?} is taken", request.login.trim().to_lowercase())).into());
        }
        let ctx = context(by, origin);
        let staff = match request.staff {
            Some(staff) => staff,
            None => {
                let email = WorkEmail::parse(&request.login).map_err(|_| {
                    AppError::Validation(
                        "staff_id: a coordinator is the staff member who gets the municipality's letters; give their \
                         staff_id, or a login that is their work e-mail"
                            .into(),
                    )
                })?;
                self.coordinator_from_account(&ctx, &municipality, &request.display_name, email).await?.0
            }
        };
        let user = self
            .auth
            .create_user(
                by,
                origin,
                NewUser { municipality: Some(municipality.clone()), staff: Some(staff), ..request },
            )
            .await?;
        self.hold_coordinator_role(&ctx, &municipality, staff).await?;
        Ok(user)
    }

    /// Joins the coordinator accounts made before a coordinator was a staff member to the
    /// person they are, and gives every coordinator account's person the role, appending
    /// events only (docs/decisions/0018). An account is joined to the municipality's
    /// coordinator whose work e-mail is its login, or else to a staff member added from
    /// it (its name, its login as work e-mail); one whose login is no e-mail address is
    /// left, and reported. Asked again, it does nothing. Run by `kurslogg migrate` and
    /// `kurslogg serve`.
    pub async fn unify_coordinators(&self, ctx: &CommandContext) -> Result<CoordinatorsUnified, AppError> {
        self.ensure_course_office(ctx)?;
        let origin = Origin { client: String::new(), request_id: ctx.request_id.clone() };
        let mut report = CoordinatorsUnified::default();
        for user in self.auth.users().await? {
            if user.role != Role::Coordinator || user.disabled_at.is_some() {
                continue;
            }
            let Some(municipality) = user.municipality.as_deref().and_then(|m| MunicipalityId::parse(m).ok()) else {
                report.left.push(user.login);
                continue;
            };
            if self.municipalities.peek(municipality.as_str()).await?.is_none() {
                report.left.push(user.login);
                continue;
            }
            let staff = match user.staff_id.as_deref().and_then(|s| s.parse::<StaffId>().ok()) {
                Some(staff) => staff,
                None => {
                    let Ok(email) = WorkEmail::parse(&user.login) else {
                        report.left.push(user.login);
                        continue;
                    };
                    let (staff, added) =
                        self.coordinator_from_account(ctx, &municipality, &user.display_name, email).await?;
                    self.auth.link_staff(&ctx.actor, &origin, &user.user_id, staff).await?;
                    report.linked += 1;
                    report.added += usize::from(added);
                    staff
                }
            };
            if self.hold_coordinator_role(ctx, &municipality, staff).await? {
                report.roles_assigned += 1;
            }
        }
        Ok(report)
    }

    /// The staff member a coordinator account without one is: the municipality's
    /// coordinator whose work e-mail is `email`, or one added now (true).
    async fn coordinator_from_account(
        &self,
        ctx: &CommandContext,
        municipality: &MunicipalityId,
        name: &str,
        email: WorkEmail,
    ) -> Result<(StaffId, bool), AppError> {
        let holders = self.municipalities.inspect(municipality.as_str(), |m| m.coordinators.clone()).await?;
        for holder in holders.unwrap_or_default() {
            let Some(member) = self.staff.peek(&holder.to_string()).await? else { continue };
            if let Some(person) = self.open_personal(&member).await? {
                if person.work_email.eq_ignore_ascii_case(email.as_str()) {
                    return Ok((holder, false));
                }
            }
        }
        let name = PersonName::parse(name).map_err(|e| AppError::Validation(format!("display_name: {}", e.0)))?;
        let profile = StaffProfile {
            name,
            work_email: email,
            // What the account cannot say: a coordinator (IFO-chef, enhetschef) is a manager.
            unit: Text::parse("Samordnare").expect("valid"),
            supervisor: None,
            staff_group: StaffGroup::Myndighetsutovning,
            experience_band: ExperienceBand::Supervisors,
            social_work_degree: false,
        };
        let written = self.add_staff(ctx, municipality.clone(), profile).await?;
        Ok((written.id.parse().expect("a staff id"), true))
    }

    /// Gives `staff` the coordinator role of `municipality` unless they hold it; true when
    /// it was given.
    async fn hold_coordinator_role(
        &self,
        ctx: &CommandContext,
        municipality: &MunicipalityId,
        staff: StaffId,
    ) -> Result<bool, AppError> {
        let held = self.municipalities.inspect(municipality.as_str(), |m| m.coordinators.contains(&staff)).await?;
        let status = self.staff.inspect(&staff.to_string(), |m| m.status).await?;
        if held == Some(true) || status != Some(StaffStatus::Active) {
            return Ok(false);
        }
        self.set_role(ctx, municipality.clone(), staff, MunicipalRole::Coordinator, true).await?;
        Ok(true)
    }

    /// Closes the coordinator accounts of `staff` (their role was taken away): no
    /// coordinator logs in without being one.
    pub(super) async fn close_coordinator_accounts(
        &self,
        ctx: &CommandContext,
        staff: StaffId,
    ) -> Result<(), AppError> {
        let origin = Origin { client: String::new(), request_id: ctx.request_id.clone() };
        let staff = staff.to_string();
        for user in self.auth.users().await? {
            if user.role == Role::Coordinator && user.staff_id.as_deref() == Some(&staff) && user.disabled_at.is_none()
            {
                self.auth.disable_user(&ctx.actor, &origin, &user.user_id).await?;
            }
        }
        Ok(())
    }
}

/// A command context for the account `by` made in the request `origin`.
fn context(by: &Actor, origin: &Origin) -> CommandContext {
    CommandContext {
        actor: by.clone(),
        request_id: origin.request_id.clone(),
        received_at: Utc::now(),
        idempotency: None,
    }
}
