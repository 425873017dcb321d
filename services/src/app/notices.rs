//! Notices: asking for a letter to be sent again, and gathering what a letter says from
//! the aggregates at the moment it is sent (the outbox holds ids only, so a person's
//! name and address are read from their own stream, as they are now).

use std::collections::HashMap;

use kurslogg_domain::municipality::{LineOutcome, ReceivedLine};
use kurslogg_domain::notice::NoticeCommand;
use kurslogg_domain::offering::{Offering, RegistrationStatus};
use kurslogg_domain::package::PackagePhase;
use kurslogg_domain::staff::{StaffMember, StaffStatus};
use kurslogg_domain::{swedish, Place, StaffId, Text};
use kurslogg_projections::notices::kind;
use kurslogg_projections::outbox::{self, OutboxRow};
use serde_json::Value;

use super::personal::open_profile;
use super::{AppError, CommandContext, Kurslogg, Personal, Written};
use crate::mail::letters::{self, CourseInfo, Letter, Rendered, SessionTimes};
use crate::mail::render::render;
use crate::store::StoreError;

/// A letter and who it goes to.
#[derive(Debug, Clone)]
pub struct Addressed {
    /// The recipient's name.
    pub name: String,
    /// Their work e-mail.
    pub email: String,
    /// What it says.
    pub letter: Letter,
}

/// Why a letter cannot be written at all (it fails for good, visibly, in the outbox).
pub type Undeliverable = String;

/// How a letter names someone whose personal data has been erased.
const ERASED_PERSON: &str = "(raderad person)";
/// How a letter names someone it cannot find.
const UNKNOWN_PERSON: &str = "(okänd person)";

impl Kurslogg {
    /// Asks for a letter to be sent again (after a permanent failure, or a lost letter).
    /// The request is an event on the notice's own stream, so the audit trail shows who
    /// asked and why; the notices projection makes the letter due again.
    pub async fn resend_notice(
        &self,
        ctx: &CommandContext,
        notice_id: &str,
        reason: Text,
    ) -> Result<Written, AppError> {
        self.ensure_course_office(ctx)?;
        if outbox::get(&self.log.views(), notice_id).await.map_err(StoreError::from)?.is_none() {
            return Err(AppError::not_found("notice"));
        }
        let command = NoticeCommand::Resend { reason };
        self.run(&self.notices, notice_id, command, ctx, Self::written(notice_id.to_string())).await
    }

    /// Writes the letter of an outbox row: `Ok(Err(reason))` when it can never be written
    /// (the recipient left, or what it is about is gone).
    pub async fn letter_for(&self, notice: &OutboxRow) -> Result<Result<Addressed, Undeliverable>, AppError> {
        self.write_letter(notice, false).await
    }

    /// The letter of an outbox row as it would be written now, to write over the copy the
    /// service keeps of a letter already sent (forgetting an erased person): as
    /// [`letter_for`](Self::letter_for), but to a recipient who has left since as well.
    pub async fn kept_letter_for(&self, notice: &OutboxRow) -> Result<Result<Addressed, Undeliverable>, AppError> {
        self.write_letter(notice, true).await
    }

    /// The municipality of staff member `staff` (also once they are erased).
    pub async fn municipality_of(&self, staff: &str) -> Result<Option<String>, AppError> {
        Ok(self.staff.inspect(staff, |m| m.municipality.as_ref().map(ToString::to_string)).await?.flatten())
    }

    async fn write_letter(&self, notice: &OutboxRow, sent: bool) -> Result<Result<Addressed, Undeliverable>, AppError> {
        let Some(recipient) = self.staff.peek(&notice.recipient).await? else {
            return Ok(Err("the recipient is not a known staff member".into()));
        };
        if recipient.profile.is_none() {
            return Ok(Err("the recipient has no details".into()));
        }
        if recipient.status == StaffStatus::Removed && !sent {
            return Ok(Err("the recipient has left the municipality".into()));
        }
        // Said without anything of theirs: the reason is stored and shown in the outbox.
        let Some(Personal { name, work_email }) = self.open_personal(&recipient).await? else {
            return Ok(Err("the recipient's personal data has been erased".into()));
        };
        let letter = match notice.kind.as_str() {
            kind::COURSE_SUMMARY => self.course_summary(notice, &name).await?,
            kind::REGISTRATION_RECEIPT => self.registration_receipt(notice, &name).await?,
            kind::ALLOCATION_RESULT => self.allocation_result(notice, &name).await?,
            kind::PROMOTION => self.promotion(notice, &name).await?,
            kind::COURSE_CANCELLED => self.course_cancelled(notice, &name).await?,
            kind::DEADLINE_REMINDER => self.deadline_reminder(notice, &name).await?,
            kind::CANCELLATION_CHARGED => self.cancellation_charged(notice, &name).await?,
            other => Err(format!("unknown kind of letter {other:?}")),
        };
        Ok(letter.map(|letter| Addressed { name, email: work_email, letter }))
    }

    /// What a letter says, for reading it through the API: its subject and bodies as
    /// [`letter_for`](Self::letter_for) and the templates write them now (the outbox
    /// keeps ids only, so a letter sent earlier is written again from the present state:
    /// a name changed since reads as it is now, an erased person as erased), or why it
    /// cannot be written (worded as the dispatcher words it). Only storage trouble fails;
    /// anything else wrong with one letter is its reason, so that one bad letter does not
    /// hide the others.
    pub async fn written_letter(&self, notice: &OutboxRow) -> Result<Result<Rendered, Undeliverable>, AppError> {
        let addressed = match self.letter_for(notice).await {
            Ok(Ok(addressed)) => addressed,
            Ok(Err(reason)) => return Ok(Err(reason)),
            Err(e @ AppError::Store(_)) => return Err(e),
            Err(e) => return Ok(Err(format!("could not gather the letter: {e}"))),
        };
        Ok(render(&addressed.letter).map_err(|e| e.to_string()))
    }

    async fn course_summary(
        &self,
        notice: &OutboxRow,
        supervisor: &str,
    ) -> Result<Result<Letter, Undeliverable>, AppError> {
        let Some(offering) = self.offering_of(notice).await? else { return Ok(Err("no such offering".into())) };
        let sessions = offering.details.as_ref().map_or(0, |d| d.sessions.len());
        let staff = notice.staff();
        let names = self.names_of(&staff).await?;
        let mut participants = Vec::new();
        for staff in staff {
            let Some(registration) = offering.registrations.values().find(|r| r.staff.to_string() == staff) else {
                continue;
            };
            participants.push(letters::SummaryLine {
                name: names.get(&staff).cloned().unwrap_or_default(),
                attended: registration.attended(),
                sessions,
                completed: registration.certificate.is_some(),
                certificate: registration.certificate.clone(),
                certificate_link: registration.certificate.as_ref().map(|n| self.certificate_pdf_link(n)),
            });
        }
        participants.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Ok(Letter::CourseSummary(letters::CourseSummary {
            supervisor_name: supervisor.to_string(),
            course: course_info(&offering),
            participants,
        })))
    }

    async fn registration_receipt(
        &self,
        notice: &OutboxRow,
        coordinator: &str,
    ) -> Result<Result<Letter, Undeliverable>, AppError> {
        let Some(event) = self.cause(notice).await? else {
            return Ok(Err("the registration is not in the log".into()));
        };
        let lines: Vec<ReceivedLine> =
            serde_json::from_value(event.body().get("lines").cloned().unwrap_or(Value::Null))
                .map_err(|e| AppError::Validation(format!("unreadable receipt: {e}")))?;
        let names = self.names_of(&lines.iter().map(|l| l.staff.to_string()).collect::<Vec<_>>()).await?;
        let mut receipt_lines = Vec::with_capacity(lines.len());
        for line in lines {
            let course = match self.offerings.peek(&line.offering.to_string()).await? {
                Some(offering) => offering.title.as_ref().map(ToString::to_string).unwrap_or_default(),
                None => String::new(),
            };
            receipt_lines.push(letters::ReceiptLine {
                person: names.get(&line.staff.to_string()).cloned().unwrap_or_default(),
                course,
                outcome: outcome(line.outcome),
                reason: match line.refusal.as_deref() {
                    Some(code) => Some(swedish::by_code(code, &self.courses_named(&line.missing).await?)),
                    None => None,
                },
            });
        }
        let received_at = chrono::DateTime::parse_from_rfc3339(event.recorded_at())
            .map(|t| t.to_utc())
            .unwrap_or_else(|_| self.clock.now());
        Ok(Ok(Letter::RegistrationReceipt(letters::RegistrationReceipt {
            coordinator_name: coordinator.to_string(),
            municipality_name: self.municipality_name(notice).await?,
            received_at,
            lines: receipt_lines,
        })))
    }

    async fn allocation_result(
        &self,
        notice: &OutboxRow,
        coordinator: &str,
    ) -> Result<Result<Letter, Undeliverable>, AppError> {
        let Some(package) = self.packages.peek(notice.package_id.as_deref().unwrap_or_default()).await? else {
            return Ok(Err("no such package".into()));
        };
        let municipality = notice.municipality.clone().unwrap_or_default();
        let mut lines = Vec::new();
        for id in &package.offerings {
            let Some(offering) = self.offerings.peek(&id.to_string()).await? else { continue };
            if offering.cancelled {
                continue;
            }
            let course = offering.title.as_ref().map(ToString::to_string).unwrap_or_default();
            let starts_at = offering.details.as_ref().map(|d| d.starts_at()).unwrap_or_default();
            for registration in offering.registrations.values().filter(|r| r.municipality.as_str() == municipality) {
                let (outcome, waiting_place) = match registration.status {
                    RegistrationStatus::Confirmed => (letters::LineOutcome::Confirmed, None),
                    RegistrationStatus::Waiting => (
                        letters::LineOutcome::Waiting,
                        offering.waiting_list.iter().position(|s| *s == registration.staff).map(|i| i + 1),
                    ),
                    _ => continue,
                };
                lines.push(letters::AllocationLine {
                    // The id for now; the name below, all names read together.
                    person: registration.staff.to_string(),
                    course: course.clone(),
                    starts_at,
                    outcome,
                    waiting_place,
                });
            }
        }
        let names = self.names_of(&lines.iter().map(|l| l.person.clone()).collect::<Vec<_>>()).await?;
        for line in &mut lines {
            line.person = names.get(&line.person).cloned().unwrap_or_default();
        }
        lines.sort_by(|a, b| (a.starts_at, &a.course, &a.person).cmp(&(b.starts_at, &b.course, &b.person)));
        Ok(Ok(Letter::AllocationResult(letters::AllocationResult {
            coordinator_name: coordinator.to_string(),
            municipality_name: self.municipality_name(notice).await?,
            package_title: package.title.as_ref().map(ToString::to_string).unwrap_or_default(),
            term: package.term.map(|t| t.to_string()).unwrap_or_default(),
            lines,
        })))
    }

    async fn promotion(&self, notice: &OutboxRow, recipient: &str) -> Result<Result<Letter, Undeliverable>, AppError> {
        let Some(offering) = self.offering_of(notice).await? else { return Ok(Err("no such offering".into())) };
        let person = notice.staff().into_iter().next().unwrap_or_default();
        Ok(Ok(Letter::Promotion(letters::Promotion {
            recipient_name: recipient.to_string(),
            person_name: self.name_of(&person).await?,
            to_coordinator: to_coordinator(notice),
            course: course_info(&offering),
        })))
    }

    async fn cancellation_charged(
        &self,
        notice: &OutboxRow,
        coordinator: &str,
    ) -> Result<Result<Letter, Undeliverable>, AppError> {
        let Some(offering) = self.offering_of(notice).await? else { return Ok(Err("no such offering".into())) };
        let person = notice.staff().into_iter().next().unwrap_or_default();
        Ok(Ok(Letter::CancellationCharged(letters::CancellationCharged {
            recipient_name: coordinator.to_string(),
            person_name: self.name_of(&person).await?,
            price_sek: offering.details.as_ref().map_or(0, |d| d.price.0),
            course: course_info(&offering),
        })))
    }

    async fn course_cancelled(
        &self,
        notice: &OutboxRow,
        recipient: &str,
    ) -> Result<Result<Letter, Undeliverable>, AppError> {
        let Some(offering) = self.offering_of(notice).await? else { return Ok(Err("no such offering".into())) };
        let reason = match self.cause(notice).await? {
            Some(event) => event.body().get("reason").and_then(Value::as_str).unwrap_or_default().to_string(),
            None => String::new(),
        };
        let staff = notice.staff();
        let to_coordinator = to_coordinator(notice);
        let names = self.names_of(&staff).await?;
        let mut people: Vec<String> = staff.iter().map(|id| names.get(id).cloned().unwrap_or_default()).collect();
        people.sort();
        Ok(Ok(Letter::CourseCancelled(letters::CourseCancelled {
            recipient_name: recipient.to_string(),
            course: course_info(&offering),
            reason,
            people,
            to_coordinator,
        })))
    }

    async fn deadline_reminder(
        &self,
        notice: &OutboxRow,
        coordinator: &str,
    ) -> Result<Result<Letter, Undeliverable>, AppError> {
        let Some(package) = self.packages.peek(notice.package_id.as_deref().unwrap_or_default()).await? else {
            return Ok(Err("no such package".into()));
        };
        let mut courses = Vec::new();
        for id in &package.offerings {
            if let Some(offering) = self.offerings.peek(&id.to_string()).await? {
                if !offering.cancelled {
                    courses.push(offering.title.as_ref().map(ToString::to_string).unwrap_or_default());
                }
            }
        }
        // Said as it is when the letter goes, not when it was due: a retried or late
        // reminder must not count days that have gone, nor remind after the deadline.
        let now = self.clock.now();
        if now >= package.deadline || package.phase != PackagePhase::Published {
            return Ok(Err("the deadline passed before the reminder could be sent".into()));
        }
        let days_left = (package.deadline - now).num_days();
        Ok(Ok(Letter::DeadlineReminder(letters::DeadlineReminder {
            coordinator_name: coordinator.to_string(),
            municipality_name: self.municipality_name(notice).await?,
            package_title: package.title.as_ref().map(ToString::to_string).unwrap_or_default(),
            term: package.term.map(|t| t.to_string()).unwrap_or_default(),
            deadline: package.deadline,
            days_left: u32::try_from(days_left).unwrap_or(0),
            courses,
        })))
    }

    async fn offering_of(&self, notice: &OutboxRow) -> Result<Option<Offering>, AppError> {
        Ok(self.offerings.peek(notice.offering_id.as_deref().unwrap_or_default()).await?)
    }

    /// A person's name as it is now; an erased or unknown person is shown as such, so a
    /// letter written after someone's erasure (a supervisor's summary, a receipt) does
    /// not name them.
    async fn name_of(&self, staff: &str) -> Result<String, AppError> {
        Ok(self.names_of(&[staff.to_string()]).await?.remove(staff).unwrap_or_default())
    }

    /// [`Self::name_of`] for several people, their keys fetched together: every id given
    /// gets a name.
    async fn names_of(&self, ids: &[String]) -> Result<HashMap<String, String>, AppError> {
        let mut members: Vec<(String, Option<StaffMember>)> = Vec::with_capacity(ids.len());
        for id in ids {
            members.push((id.clone(), self.staff.peek(id).await?));
        }
        let open = |m: &&StaffMember| m.status != StaffStatus::Erased && m.profile.is_some();
        let openable: Vec<StaffId> =
            members.iter().filter_map(|(_, m)| m.as_ref()).filter(open).map(|m| m.id).collect();
        let keys = self.log.personal_keys(&openable).await?;
        let name = |member: Option<StaffMember>| {
            let Some(member) = member else { return UNKNOWN_PERSON.to_string() };
            let personal = member
                .profile
                .as_ref()
                .filter(|_| member.status != StaffStatus::Erased)
                .zip(keys.get(&member.id))
                .and_then(|(profile, key)| open_profile(key, member.id, profile));
            match personal {
                Some(person) => person.name,
                None if member.status == StaffStatus::Erased || member.profile.is_some() => ERASED_PERSON.to_string(),
                None => UNKNOWN_PERSON.to_string(),
            }
        };
        Ok(members.into_iter().map(|(id, member)| (id, name(member))).collect())
    }

    async fn municipality_name(&self, notice: &OutboxRow) -> Result<String, AppError> {
        let id = notice.municipality.clone().unwrap_or_default();
        let municipality = self.municipalities.peek(&id).await?;
        Ok(municipality.and_then(|m| m.name).map_or(id, |n| n.to_string()))
    }

    /// The event that caused the letter.
    async fn cause(&self, notice: &OutboxRow) -> Result<Option<kurslogg_projections::LoggedEvent>, AppError> {
        let Some(position) = notice.caused_by else { return Ok(None) };
        let events = kurslogg_projections::feed::read(&self.log.views(), position - 1, position, 1)
            .await
            .map_err(StoreError::from)?;
        Ok(events.into_iter().next())
    }
}

/// The letter goes to a coordinator about their municipality's people (`details.to`),
/// even when the coordinator is one of them.
fn to_coordinator(notice: &OutboxRow) -> bool {
    notice.details.get("to").and_then(Value::as_str) == Some("coordinator")
}

fn course_info(offering: &Offering) -> CourseInfo {
    let details = offering.details.as_ref();
    CourseInfo {
        title: offering.title.as_ref().map(ToString::to_string).unwrap_or_default(),
        term: offering.term.map(|t| t.to_string()).unwrap_or_default(),
        description: details.map(|d| d.description.to_string()).unwrap_or_default(),
        competence_areas: details
            .map(|d| d.competence_areas.iter().map(ToString::to_string).collect())
            .unwrap_or_default(),
        follow_up: details.and_then(|d| d.follow_up.as_ref()).map(ToString::to_string),
        trainer: details.map(|d| d.trainer.to_string()).unwrap_or_default(),
        venue: details.and_then(|d| match &d.place {
            Place::Venue(v) => Some(v.to_string()),
            Place::Digital => None,
        }),
        sessions: details
            .map(|d| d.sessions.iter().map(|s| SessionTimes { starts_at: s.starts_at, ends_at: s.ends_at }).collect())
            .unwrap_or_default(),
    }
}

fn outcome(outcome: LineOutcome) -> letters::LineOutcome {
    match outcome {
        LineOutcome::Requested => letters::LineOutcome::Requested,
        LineOutcome::Confirmed => letters::LineOutcome::Confirmed,
        LineOutcome::Waiting => letters::LineOutcome::Waiting,
        LineOutcome::Refused => letters::LineOutcome::Refused,
    }
}
