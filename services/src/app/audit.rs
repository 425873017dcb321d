//! The audit trail for the API's `/audit` and the auditor's pages: who may read it, the
//! read, and each entry said in Swedish ("Anna Samordnare (Uddevalla) anmälde 3 personer
//! till LVU grund"), naming people as they are now (the erased as "(raderad person)"),
//! users by their names, offerings by their titles.

use std::collections::HashMap;

use kurslogg_domain::{OfferingId, StaffId};
use kurslogg_projections::views::audit_trail::{self, AuditEntry, AuditFilter, AuditPage};
use kurslogg_projections::Db;
use serde::Serialize;
use serde_json::Value;

use super::{Actor, AppError, Kurslogg};

/// The name an erased person (or one never known) is given.
pub const ERASED: &str = "(raderad person)";

/// An entry of the audit trail in words.
#[derive(Debug, Clone, Serialize)]
pub struct AuditLine {
    /// Log position.
    pub position: i64,
    /// When (RFC 3339 UTC; the pages show it in Swedish time).
    pub recorded_at: String,
    /// Who did it, by name ("Kurslogg" for the service itself).
    pub actor: String,
    /// In which role, in Swedish.
    pub role: String,
    /// The municipality acted for, by name.
    pub on_behalf_of: Option<String>,
    /// What was done, as the rest of a sentence after the actor.
    pub what: String,
    /// The request id.
    pub request_id: String,
    /// The event's type, as the log names it.
    pub event_type: String,
    /// The offering it concerns, if one.
    pub offering_id: Option<String>,
}

/// Names gathered once for a page of entries.
#[derive(Default)]
struct Names {
    users: HashMap<String, (String, Option<String>)>,
    staff: HashMap<String, String>,
    offerings: HashMap<String, String>,
    municipalities: HashMap<String, String>,
}

impl Names {
    fn person(&self, id: &str) -> String {
        self.staff.get(id).cloned().unwrap_or_else(|| ERASED.to_string())
    }

    fn offering(&self, id: &str) -> String {
        self.offerings.get(id).cloned().unwrap_or_else(|| "ett kurstillfälle".to_string())
    }

    fn municipality(&self, id: &str) -> String {
        self.municipalities.get(id).cloned().unwrap_or_else(|| id.to_string())
    }

    fn user(&self, id: &str) -> String {
        self.users.get(id).map(|(name, _)| name.clone()).unwrap_or_else(|| "en borttagen användare".to_string())
    }
}

fn text<'a>(details: &'a Value, field: &str) -> &'a str {
    details.get(field).and_then(Value::as_str).unwrap_or("")
}

fn number(details: &Value, field: &str) -> i64 {
    details.get(field).and_then(Value::as_i64).unwrap_or(0)
}

fn attendance(value: &str) -> &'static str {
    match value {
        "present" => "närvarande",
        "absent" => "frånvarande",
        "excused" => "frånvarande med giltigt skäl",
        _ => "okänd närvaro",
    }
}

fn role_name(role: &str) -> &'static str {
    match role {
        "coordinator" => "samordnare",
        "supervisor" => "arbetsledare",
        _ => "en roll",
    }
}

fn people(names: &Names, ids: &[String]) -> String {
    let list: Vec<String> = ids.iter().map(|id| names.person(id)).collect();
    match list.len() {
        0 => String::new(),
        1 => list[0].clone(),
        n => format!("{} och {}", list[..n - 1].join(", "), list[n - 1]),
    }
}

/// What `entry` did, as the rest of a sentence whose subject is the actor.
fn what(entry: &AuditEntry, names: &Names) -> String {
    let empty = Value::Null;
    let d = entry.details.as_ref().unwrap_or(&empty);
    let offering =
        entry.offering_id.as_deref().map(|o| names.offering(o)).unwrap_or_else(|| "ett kurstillfälle".into());
    let subject = match entry.aggregate_type.as_str() {
        "staff" => names.person(&entry.aggregate_id),
        _ => names.person(text(d, "staff")),
    };
    let session = number(d, "session") + 1;
    match entry.event_type.as_str() {
        "CollectiveRegistrationReceived" => {
            let lines = d.get("lines").and_then(Value::as_array).cloned().unwrap_or_default();
            let mut offerings: Vec<String> = lines.iter().map(|l| names.offering(text(l, "offering"))).collect();
            offerings.sort();
            offerings.dedup();
            let mut staff: Vec<String> = lines.iter().map(|l| text(l, "staff").to_string()).collect();
            staff.sort();
            staff.dedup();
            let count = staff.len();
            let persons = if count == 1 { "1 person".to_string() } else { format!("{count} personer") };
            format!("anmälde {persons} ({}) till {}", people(names, &staff), offerings.join(", "))
        }
        "RegistrationRequested" => {
            let late =
                if d.get("late").and_then(Value::as_bool) == Some(true) { " efter sista anmälningsdag" } else { "" };
            format!("anmälde {subject} till {offering}{late}")
        }
        "RegistrationCancelled" => {
            let charged =
                if d.get("charged").and_then(Value::as_bool) == Some(true) { "med avgift" } else { "utan avgift" };
            format!("avanmälde {subject} från {offering}, {charged}")
        }
        "SeatsAllocated" => {
            let count = |f: &str| d.get(f).and_then(Value::as_array).map_or(0, Vec::len);
            format!(
                "fördelade platserna på {offering}: {} fick plats, {} på väntelistan",
                count("confirmed"),
                count("waitlisted")
            )
        }
        "LateRegistrationConfirmed" => format!("gav {subject} en plats på {offering} (sen anmälan)"),
        "LateRegistrationWaitlisted" => format!("satte {subject} på väntelistan till {offering} (sen anmälan)"),
        "SeatTransferred" => format!(
            "överlät platsen på {offering} från {} till {}",
            names.person(text(d, "from")),
            names.person(text(d, "to"))
        ),
        "PromotedFromWaitingList" => format!("gav {subject} en plats från väntelistan på {offering}"),
        "AttendanceRecorded" => format!(
            "förde in närvaro på {offering}, tillfälle {session}: {subject} {}",
            attendance(text(d, "attendance"))
        ),
        "AttendanceCorrected" => format!(
            "rättade närvaron på {offering}, tillfälle {session}: {subject} {}, inte {}",
            attendance(text(d, "to")),
            attendance(text(d, "from"))
        ),
        "AttendanceNoted" => format!("skrev en anteckning om {subject}s närvaro på {offering}, tillfälle {session}"),
        "ParticipantCompleted" => format!(
            "noterade att {subject} genomförde {offering} ({} av {} tillfällen), intyg {}",
            number(d, "attended"),
            number(d, "sessions"),
            text(d, "certificate")
        ),
        "ParticipantNotCompleted" => format!(
            "noterade att {subject} inte genomförde {offering} ({} av {} tillfällen)",
            number(d, "attended"),
            number(d, "sessions")
        ),
        "CertificateWithdrawn" => {
            format!("drog tillbaka intyg {} för {subject}: {}", text(d, "certificate"), text(d, "reason"))
        }
        "OfferingPlanned" => format!("planerade {} ({})", text(d, "title"), text(d, "term")),
        "OfferingRevised" => format!("ändrade uppgifterna om {offering}"),
        "TrainerAssigned" => format!("gav {} undervisningen på {offering}", names.user(text(d, "user"))),
        "TrainerUnassigned" => format!("tog bort {} som utbildare på {offering}", names.user(text(d, "user"))),
        "SeatLimitChanged" => format!("ändrade antalet platser på {offering} från {} till {}", d["from"], d["to"]),
        "OfferingCompleted" => format!("avslutade {offering}"),
        "OfferingCancelled" => format!("ställde in {offering}: {}", text(d, "reason")),
        "StaffMemberAdded" => format!("lade till {subject} i personalregistret"),
        "StaffMemberUpdated" => format!("ändrade uppgifterna om {subject}"),
        "StaffMemberPaused" => format!("pausade {subject} (kan inte anmälas)"),
        "StaffMemberResumed" => format!("gjorde {subject} aktiv igen"),
        "StaffMemberRemoved" => format!("tog bort {subject} ur personalregistret (har slutat)"),
        "StaffMemberErased" => format!("raderade personuppgifterna om en person: {}", text(d, "reason")),
        "MunicipalityAdded" => format!("lade till kommunen {}", text(d, "name")),
        "RoleAssigned" => format!("gav {subject} rollen {}", role_name(text(d, "role"))),
        "RoleRevoked" => format!("tog bort rollen {} från {subject}", role_name(text(d, "role"))),
        "PackageCreated" => format!("skapade kurspaketet {} ({})", text(d, "title"), text(d, "term")),
        "DeadlineChanged" => "ändrade sista anmälningsdag för ett kurspaket".into(),
        "OfferingIncluded" => format!("lade till {} i ett kurspaket", names.offering(text(d, "offering"))),
        "PackagePublished" => "publicerade ett kurspaket för anmälan".into(),
        "RegistrationClosed" => "stängde anmälan till ett kurspaket".into(),
        "AllocationFinished" => "avslutade fördelningen av platser i ett kurspaket".into(),
        "PackageArchived" => "arkiverade ett kurspaket".into(),
        "CourseAdded" => format!("lade till kursen {} ({})", text(d, "title"), text(d, "code")),
        "CourseRevised" => format!("ändrade kursen {}", entry.aggregate_id),
        "ResendRequested" | "NoticeResendRequested" => format!("bad att ett brev skickas igen: {}", text(d, "reason")),
        "CompetencePlanSet" => format!("satte kompetensplanen {}", entry.aggregate_id),
        "CompetencePlanRevised" => format!("reviderade kompetensplanen {}", entry.aggregate_id),
        other => format!("gjorde {other} ({} {})", entry.aggregate_type, entry.aggregate_id),
    }
}

fn role_in_swedish(role: &str) -> &'static str {
    match role {
        "course_office" => "kursadministratör",
        "coordinator" => "samordnare",
        "supervisor" => "arbetsledare",
        "trainer" => "utbildare",
        "auditor" => "revisor",
        "participant" => "deltagare",
        "system" => "automatiskt",
        _ => "okänd roll",
    }
}

impl Kurslogg {
    /// The entries `filter` picks in the audit database `db`, up to position `up_to`:
    /// the course office and auditors.
    pub async fn audit_trail_in(
        &self,
        actor: &Actor,
        db: &Db,
        filter: &AuditFilter,
        up_to: Option<i64>,
    ) -> Result<AuditPage, AppError> {
        self.ensure_sees_everything(actor, "läsa granskningsloggen")?;
        Ok(audit_trail::audit_trail(db, filter, up_to).await?)
    }

    /// `entries` in words, each person, user, offering and municipality by name.
    pub async fn audit_in_words(&self, entries: &[AuditEntry]) -> Result<Vec<AuditLine>, AppError> {
        let mut names = Names::default();
        for user in self.auth.users().await? {
            names.users.insert(user.user_id.clone(), (user.display_name.clone(), user.municipality.clone()));
        }
        for (id, name) in self.municipalities_by_name().await? {
            names.municipalities.insert(id, name);
        }
        let mut staff: Vec<StaffId> = vec![];
        for entry in entries {
            staff.extend(entry.staff.iter().filter_map(|s| s.parse::<StaffId>().ok()));
            if entry.aggregate_type == "staff" {
                staff.extend(entry.aggregate_id.parse::<StaffId>().ok());
            }
            if let Some(d) = &entry.details {
                for field in ["staff", "from", "to"] {
                    staff.extend(d.get(field).and_then(Value::as_str).and_then(|s| s.parse::<StaffId>().ok()));
                }
                for line in d.get("lines").and_then(Value::as_array).into_iter().flatten() {
                    staff.extend(line.get("staff").and_then(Value::as_str).and_then(|s| s.parse::<StaffId>().ok()));
                    if let Some(o) = line.get("offering").and_then(Value::as_str) {
                        self.name_offering(&mut names, o).await?;
                    }
                }
                if let Some(o) = d.get("offering").and_then(Value::as_str) {
                    self.name_offering(&mut names, o).await?;
                }
            }
            if let Some(o) = &entry.offering_id {
                self.name_offering(&mut names, o).await?;
            }
        }
        names.staff = self.staff_names(&staff).await?.into_iter().map(|(id, name)| (id.to_string(), name)).collect();
        Ok(entries
            .iter()
            .map(|entry| {
                let (actor, own_municipality) = if entry.actor_role == "system" || entry.actor_id.is_empty() {
                    ("Kurslogg".to_string(), None)
                } else {
                    match names.users.get(&entry.actor_id) {
                        Some((name, municipality)) => (name.clone(), municipality.clone()),
                        None => (names.user(&entry.actor_id), None),
                    }
                };
                let on_behalf_of = entry.on_behalf_of.clone().or(own_municipality).map(|m| names.municipality(&m));
                AuditLine {
                    position: entry.position,
                    recorded_at: entry.recorded_at.clone(),
                    actor,
                    role: role_in_swedish(&entry.actor_role).to_string(),
                    on_behalf_of,
                    what: what(entry, &names),
                    request_id: entry.request_id.clone(),
                    event_type: entry.event_type.clone(),
                    offering_id: entry.offering_id.clone(),
                }
            })
            .collect())
    }

    async fn name_offering(&self, names: &mut Names, id: &str) -> Result<(), AppError> {
        if names.offerings.contains_key(id) {
            return Ok(());
        }
        let Ok(offering) = id.parse::<OfferingId>() else { return Ok(()) };
        match self.offering(offering).await {
            Ok(view) => {
                names.offerings.insert(id.to_string(), format!("{} ({})", view.title, view.term));
            }
            Err(AppError::Refused { .. }) => {}
            Err(e) => return Err(e),
        }
        Ok(())
    }
}
