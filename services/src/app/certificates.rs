//! Certificates as documents and their public check (docs/decisions/0019).
//!
//! A certificate is read from the log itself, not from a view: the offering's events up
//! to the completion that issued it (what the course covered, its sessions, the holder's
//! attendance, the time of issue) and a later withdrawal, if any. So the document is the
//! same every time it is asked for, and a check answers from what was recorded, with no
//! projection lag. The holder's name comes from their own sealed stream, as it is now:
//! none once they are erased, and then no document can be made and the check knows no one.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Europe::Stockholm;
use kurslogg_domain::offering::{Offering, OfferingDetails, OfferingEvent};
use kurslogg_domain::{Attendance, Place, StaffId};
use serde::Serialize;
use utoipa::ToSchema;

use super::{Actor, AppError, Kind, Kurslogg, Role};
use crate::auth::{AuthError, Event, Origin};
use crate::certificates::{
    hours, normalise_name, normalise_number, offering_prefix, CertificateDoc, CertificateSettings, RecordDoc,
    SessionLine,
};
use crate::store::StoreError;

/// Longest certificate number or name the check reads (anything longer is no certificate).
const MAX_CHECK_INPUT: usize = 200;

/// One certificate as the log has it.
#[derive(Debug, Clone)]
struct Issued {
    staff: StaffId,
    /// Everything but the holder's name.
    doc: CertificateDoc,
    package: String,
    withdrawn_at: Option<DateTime<Utc>>,
    /// The request that issued it (its events' `request_id`).
    request: Option<String>,
}

/// What the public check says about a certificate number and a name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum CheckAnswer {
    /// The certificate was issued to the person named and stands.
    Valid {
        /// The certificate's number.
        number: String,
        /// Course code.
        course: String,
        /// Course title.
        title: String,
        /// Term.
        term: String,
        /// Who gave the course.
        organiser: String,
        /// The first session's date (Stockholm).
        starts_on: NaiveDate,
        /// The last session's date (Stockholm).
        ends_on: NaiveDate,
        /// Sessions attended.
        sessions_attended: usize,
        /// Sessions in all.
        sessions: usize,
        /// Teaching hours attended, as the certificate writes them ("12 timmar").
        hours_attended: String,
        /// Date of issue (Stockholm).
        issued_on: NaiveDate,
    },
    /// The certificate was issued to the person named and has been withdrawn.
    Withdrawn {
        /// The certificate's number.
        number: String,
        /// When it was withdrawn (Stockholm).
        withdrawn_on: NaiveDate,
    },
    /// No certificate with this number was issued to anyone of this name: an unknown
    /// number, a wrong name and an erased holder all answer this, alike.
    Unknown,
}

/// Why a check was not answered.
#[derive(Debug, thiserror::Error)]
pub enum CheckRefused {
    /// This client has checked too often, or had too many "unknown" answers, within the
    /// window: 429 until `retry_after_secs` have passed.
    #[error("för många kontroller från din adress; försök igen om {retry_after_secs} sekunder")]
    RateLimited {
        /// Seconds until the window lets another check through.
        retry_after_secs: i64,
    },
    /// The number or the name is missing or too long (422).
    #[error("{0}")]
    Invalid(String),
    /// Storage failed.
    #[error(transparent)]
    App(#[from] AppError),
}

fn stockholm_date(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&Stockholm).date_naive()
}

fn certificate_not_found() -> AppError {
    AppError::Refused { code: "not_found".into(), message: "Intyget finns inte.".into(), kind: Kind::NotFound }
}

fn holder_erased() -> AppError {
    AppError::Refused {
        code: "staff_erased".into(),
        message: "Innehavarens personuppgifter är raderade, så intyget kan inte längre skrivas ut.".into(),
        kind: Kind::Conflict,
    }
}

/// The time an event was recorded, from its metadata.
fn recorded_at(metadata: &serde_json::Value) -> Option<DateTime<Utc>> {
    let at = metadata.get("recorded_at")?.as_str()?;
    DateTime::parse_from_rfc3339(at).ok().map(|at| at.with_timezone(&Utc))
}

fn place_name(place: &Place) -> String {
    match place {
        Place::Venue(address) => address.to_string(),
        Place::Digital => "Digitalt".into(),
    }
}

impl Kurslogg {
    /// The public address and limits certificates are made and checked with.
    pub fn certificate_settings(&self) -> &CertificateSettings {
        &self.certificates
    }

    /// Where certificate `number` is as PDF, as an address to put in a letter.
    pub fn certificate_pdf_link(&self, number: &str) -> String {
        format!("{}/certificates/{number}/pdf", self.certificates.public_url.trim_end_matches('/'))
    }

    /// Every certificate issued on `offering`, in the order issued, with its withdrawal.
    async fn issued_on(&self, offering: &str) -> Result<Vec<Issued>, AppError> {
        let events = self.log.load::<Offering>(offering, 0).await?;
        let mut planned: Option<(String, String, String, String)> = None;
        let mut details: Option<OfferingDetails> = None;
        let mut marks: HashMap<StaffId, HashMap<usize, Attendance>> = HashMap::new();
        let mut issued: Vec<Issued> = Vec::new();
        for stored in events {
            let event: OfferingEvent = serde_json::from_value(stored.payload)
                .map_err(|e| StoreError::Corrupt(format!("offering {offering} event {}: {e}", stored.sequence)))?;
            let at = recorded_at(&stored.metadata);
            let request = stored.metadata.get("request_id").and_then(|r| r.as_str()).map(str::to_string);
            match event {
                OfferingEvent::OfferingPlanned { package, term, course, title, details: d, .. } => {
                    planned = Some((package.to_string(), term.to_string(), course.to_string(), title.to_string()));
                    details = Some(d);
                }
                OfferingEvent::OfferingRevised { details: d } => details = Some(d),
                OfferingEvent::AttendanceRecorded { staff, session, attendance } => {
                    marks.entry(staff).or_default().insert(session, attendance);
                }
                OfferingEvent::AttendanceCorrected { staff, session, to, .. } => {
                    marks.entry(staff).or_default().insert(session, to);
                }
                OfferingEvent::ParticipantCompleted { staff, certificate, .. } => {
                    let (Some((package, term, course, title)), Some(d)) = (&planned, &details) else { continue };
                    let own = marks.get(&staff);
                    let sessions = d
                        .sessions
                        .iter()
                        .enumerate()
                        .map(|(i, s)| SessionLine {
                            starts_at: s.starts_at,
                            ends_at: s.ends_at,
                            minutes: s.minutes,
                            present: own.and_then(|m| m.get(&i)) == Some(&Attendance::Present),
                        })
                        .collect();
                    let doc = CertificateDoc {
                        number: certificate,
                        organiser: String::new(),
                        holder: String::new(),
                        course: course.clone(),
                        title: title.clone(),
                        term: term.clone(),
                        description: d.description.to_string(),
                        competence_areas: d.competence_areas.iter().map(ToString::to_string).collect(),
                        trainer: d.trainer.to_string(),
                        place: place_name(&d.place),
                        sessions,
                        issued_at: at.unwrap_or_else(|| d.ends_at()),
                        check_page: self.certificates.check_page(),
                        check_link: String::new(),
                    };
                    issued.push(Issued { staff, doc, package: package.clone(), withdrawn_at: None, request });
                }
                OfferingEvent::CertificateWithdrawn { certificate, .. } => {
                    if let Some(i) = issued.iter_mut().find(|i| i.doc.number == certificate) {
                        i.withdrawn_at = Some(at.unwrap_or(i.doc.issued_at));
                    }
                }
                // Certificates issued by completing the offering are dated by the
                // completion's own time (the command's clock, as the scheduler and a
                // term entered afterwards have it), not only by when the log wrote them.
                OfferingEvent::OfferingCompleted { at: completed } => {
                    for i in issued.iter_mut().filter(|i| i.request.is_some() && i.request == request) {
                        i.doc.issued_at = completed;
                    }
                }
                _ => {}
            }
        }
        for i in &mut issued {
            i.doc.check_link = self.certificates.check_link(&i.doc.number);
            let organiser =
                self.packages.inspect(&i.package, |p| p.organiser.as_ref().map(ToString::to_string)).await?;
            i.doc.organiser = organiser.flatten().unwrap_or_default();
        }
        Ok(issued)
    }

    /// Certificate `number` (as [`normalise_number`] gives it), if one was ever issued.
    async fn find_certificate(&self, number: &str) -> Result<Option<Issued>, AppError> {
        let Some(prefix) = offering_prefix(number) else { return Ok(None) };
        // The number carries the first twelve hex digits of its offering's id: the
        // offerings whose id begins so (one, in practice), found on the log's key.
        let rows = self
            .log
            .views()
            .fetch(
                "SELECT DISTINCT aggregate_id FROM events WHERE aggregate_type = 'offering' \
                 AND aggregate_id >= $1 AND aggregate_id < $2",
                &[prefix.clone().into(), format!("{prefix}~").into()],
            )
            .await
            .map_err(StoreError::from)?;
        for row in rows {
            let found = self.issued_on(&row.text(0)).await?.into_iter().find(|i| i.doc.number == number);
            if found.is_some() {
                return Ok(found);
            }
        }
        Ok(None)
    }

    /// The holder's name as it is now; `None` once they are erased.
    async fn holder_name(&self, staff: StaffId) -> Result<Option<String>, AppError> {
        let Some(member) = self.staff.load(&staff.to_string()).await? else { return Ok(None) };
        Ok(self.open_personal(&member).await?.map(|p| p.name))
    }

    /// Who may have a person's certificates: the person, their supervisor, their
    /// municipality's coordinators and the course office. Trainers and auditors never
    /// (403); anyone else is told there is no such certificate or person (404).
    async fn ensure_may_have_certificates(&self, actor: &Actor, staff: StaffId) -> Result<(), AppError> {
        if matches!(actor.role, Role::Auditor | Role::Trainer) && actor.staff != Some(staff) {
            return Err(AppError::Forbidden(kurslogg_domain::swedish::may_not(
                actor.role.in_swedish(),
                "hämta andras intyg",
            )));
        }
        self.ensure_may_see_staff(actor, staff).await
    }

    /// Certificate `number` as a document for `actor` (the person, their supervisor,
    /// their coordinators, the course office; 404 for anyone else). A withdrawn
    /// certificate (409 `certificate_withdrawn`) and one whose holder is erased (409
    /// `staff_erased`) can no longer be had. The read is in the security log.
    pub async fn certificate_document(
        &self,
        actor: &Actor,
        origin: &Origin,
        number: &str,
    ) -> Result<CertificateDoc, AppError> {
        if matches!(actor.role, Role::Auditor | Role::Trainer) && actor.staff.is_none() {
            return Err(AppError::Forbidden(kurslogg_domain::swedish::may_not(
                actor.role.in_swedish(),
                "hämta andras intyg",
            )));
        }
        let number = normalise_number(number);
        let issued = self.find_certificate(&number).await?.ok_or_else(certificate_not_found)?;
        self.ensure_may_have_certificates(actor, issued.staff).await.map_err(|e| match e {
            AppError::Refused { kind: Kind::NotFound, .. } => certificate_not_found(),
            other => other,
        })?;
        if let Some(at) = issued.withdrawn_at {
            return Err(AppError::Refused {
                code: "certificate_withdrawn".into(),
                message: format!(
                    "Intyget {number} återkallades {} och kan inte längre hämtas.",
                    crate::mail::swedish::short_date(at)
                ),
                kind: Kind::Conflict,
            });
        }
        let holder = self.holder_name(issued.staff).await?.ok_or_else(holder_erased)?;
        self.note_person_read(actor, origin, issued.staff, "certificate").await?;
        Ok(CertificateDoc { holder, ..issued.doc })
    }

    /// Every standing certificate of `staff`, earliest course first: the "utbildningsbevis"
    /// (same readers as [`Self::certificate_document`]; 409 `staff_erased` once erased).
    pub async fn certificates_of(&self, actor: &Actor, origin: &Origin, staff: StaffId) -> Result<RecordDoc, AppError> {
        self.ensure_may_have_certificates(actor, staff).await?;
        let holder = self.holder_name(staff).await?.ok_or_else(holder_erased)?;
        let mut courses = Vec::new();
        for offering in self.participation.offerings_of(&self.log, staff).await? {
            for issued in self.issued_on(&offering.to_string()).await? {
                if issued.staff == staff && issued.withdrawn_at.is_none() {
                    courses.push(CertificateDoc { holder: holder.clone(), ..issued.doc });
                }
            }
        }
        courses.sort_by(|a, b| (a.starts_at(), &a.number).cmp(&(b.starts_at(), &b.number)));
        self.note_person_read(actor, origin, staff, "certificates").await?;
        Ok(RecordDoc { holder, courses, check_page: self.certificates.check_page() })
    }

    /// The public check: whether certificate `number` was issued to `name` and stands,
    /// was withdrawn (with the date), or is unknown. Needs no login; answers nothing the
    /// asker did not type unless both the number and the name are right; limited per
    /// client address (`max_checks_per_client` checks and `max_failed_checks_per_client`
    /// "unknown" answers in the window). Every check is in the security log, by outcome.
    pub async fn check_certificate(
        &self,
        origin: &Origin,
        number: &str,
        name: &str,
    ) -> Result<CheckAnswer, CheckRefused> {
        let number = normalise_number(number);
        let name = normalise_name(name);
        if number.is_empty() || name.is_empty() {
            return Err(CheckRefused::Invalid("Skriv både intygsnumret och innehavarens namn.".into()));
        }
        if number.chars().count() > MAX_CHECK_INPUT || name.chars().count() > MAX_CHECK_INPUT {
            return Err(CheckRefused::Invalid(format!(
                "Intygsnumret och namnet får vara högst {MAX_CHECK_INPUT} tecken långa."
            )));
        }
        let settings = &self.certificates;
        self.auth
            .ensure_certificate_checks_allowed(
                origin,
                settings.max_checks_per_client,
                settings.max_failed_checks_per_client,
            )
            .await
            .map_err(|e| match e {
                AuthError::RateLimited { retry_after_secs } => CheckRefused::RateLimited { retry_after_secs },
                other => CheckRefused::App(other.into()),
            })?;
        let found = self.find_certificate(&number).await?;
        let mut answer = CheckAnswer::Unknown;
        let mut holder = None;
        if let Some(issued) = found {
            let named = self.holder_name(issued.staff).await?;
            if named.is_some_and(|n| normalise_name(&n) == name) {
                holder = Some(issued.staff);
                answer = match issued.withdrawn_at {
                    Some(at) => CheckAnswer::Withdrawn { number: number.clone(), withdrawn_on: stockholm_date(at) },
                    None => {
                        let doc = &issued.doc;
                        CheckAnswer::Valid {
                            number: number.clone(),
                            course: doc.course.clone(),
                            title: doc.title.clone(),
                            term: doc.term.clone(),
                            organiser: doc.organiser.clone(),
                            starts_on: stockholm_date(doc.starts_at()),
                            ends_on: stockholm_date(doc.ends_at()),
                            sessions_attended: doc.attended(),
                            sessions: doc.sessions.len(),
                            hours_attended: hours(doc.minutes_attended()),
                            issued_on: stockholm_date(doc.issued_at),
                        }
                    }
                };
            }
        }
        let (kind, detail) = match &answer {
            CheckAnswer::Valid { .. } => ("certificate_check", "valid"),
            CheckAnswer::Withdrawn { .. } => ("certificate_check", "withdrawn"),
            CheckAnswer::Unknown => ("certificate_check_failed", "unknown"),
        };
        let staff = holder.map(|s| s.to_string());
        let event = Event { kind, staff_id: staff.as_deref(), detail: detail.into(), ..Event::default() };
        self.auth.record(origin, event).await.map_err(AppError::from)?;
        Ok(answer)
    }
}
