//! Who is acting, on whose behalf, in which request.

use chrono::{DateTime, SecondsFormat, Utc};
use kurslogg_domain::{MunicipalityId, StaffId};
use serde::{Deserialize, Serialize};

use crate::store::Metadata;

/// What a user may do (issue 6). Every user has exactly one role; the course office and
/// auditors see every municipality, everyone else is bound to one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The federation's course office: everything.
    CourseOffice,
    /// A municipality's coordinator: its staff, its registrations, its costs.
    Coordinator,
    /// A first-line supervisor: their own staff's registrations and results.
    Supervisor,
    /// A trainer: rosters and attendance of the offerings assigned to them.
    Trainer,
    /// Read-only, everything, including the audit trail.
    Auditor,
    /// A participant: their own record and certificates.
    Participant,
    /// The service itself (scheduler, demo loader, CLI); never a logged-in user.
    System,
}

impl Role {
    /// Roles a user can have (all but `system`).
    pub const OF_USERS: [Role; 6] =
        [Role::CourseOffice, Role::Coordinator, Role::Supervisor, Role::Trainer, Role::Auditor, Role::Participant];

    /// The name stored in event metadata and shown in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::CourseOffice => "course_office",
            Role::Coordinator => "coordinator",
            Role::Supervisor => "supervisor",
            Role::Trainer => "trainer",
            Role::Auditor => "auditor",
            Role::Participant => "participant",
            Role::System => "system",
        }
    }

    /// The role's name as a Swedish sentence says it ("en samordnare").
    pub fn in_swedish(self) -> &'static str {
        match self {
            Role::CourseOffice => "kursadministrationen",
            Role::Coordinator => "en samordnare",
            Role::Supervisor => "en arbetsledare",
            Role::Trainer => "en utbildare",
            Role::Auditor => "en revisor",
            Role::Participant => "en deltagare",
            Role::System => "tjänsten själv",
        }
    }

    /// The role named `name`, if a user can have it.
    pub fn of_user(name: &str) -> Option<Role> {
        Role::OF_USERS.into_iter().find(|r| r.as_str() == name)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The actor behind a command or a read: an authenticated user, or the service itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The user's id (a UUID), or `kurslogg` for the service itself.
    pub id: String,
    /// Their role.
    pub role: Role,
    /// The municipality they act for, if any.
    pub municipality: Option<MunicipalityId>,
    /// The staff member they are, if any (supervisors, participants, some coordinators).
    pub staff: Option<StaffId>,
}

impl Actor {
    /// The service itself (demo loader, scheduler).
    pub fn system() -> Self {
        Self { id: "kurslogg".into(), role: Role::System, municipality: None, staff: None }
    }

    /// An actor with `role` and no municipality or staff member.
    pub fn new(id: impl Into<String>, role: Role) -> Self {
        Self { id: id.into(), role, municipality: None, staff: None }
    }

    /// This actor, acting for `municipality`.
    pub fn for_municipality(mut self, municipality: MunicipalityId) -> Self {
        self.municipality = Some(municipality);
        self
    }

    /// Whether this actor is the course office (or the system acting for it).
    pub fn is_course_office(&self) -> bool {
        matches!(self.role, Role::CourseOffice | Role::System)
    }

    /// Whether this actor may read everything (course office, system, auditor).
    pub fn sees_everything(&self) -> bool {
        matches!(self.role, Role::CourseOffice | Role::System | Role::Auditor)
    }
}

/// A request's Idempotency-Key and a hash of what was asked.
#[derive(Debug, Clone)]
pub struct Idempotency {
    /// The key the client sent.
    pub key: String,
    /// Hash of method, path and body.
    pub request_hash: String,
}

impl Idempotency {
    /// The key a client sent with a request, and a hash of what the request asked (method,
    /// path and body): the same key with another request is refused, not answered.
    pub fn of_request(key: String, method: &str, path: &str, body: &[u8]) -> Self {
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        hash.update(method);
        hash.update(b" ");
        hash.update(path);
        hash.update(b"\n");
        hash.update(body);
        Idempotency { key, request_hash: hex::encode(hash.finalize()) }
    }
}

/// Everything recorded about who issued a command.
#[derive(Debug, Clone)]
pub struct CommandContext {
    /// Who.
    pub actor: Actor,
    /// The request id.
    pub request_id: String,
    /// When the request arrived.
    pub received_at: DateTime<Utc>,
    /// Idempotency, if the client asked for it.
    pub idempotency: Option<Idempotency>,
}

impl CommandContext {
    /// A context for the system itself.
    pub fn system(request_id: impl Into<String>) -> Self {
        Self { actor: Actor::system(), request_id: request_id.into(), received_at: Utc::now(), idempotency: None }
    }

    /// The metadata stored with every event of the command.
    pub fn metadata(&self) -> Metadata {
        Metadata {
            actor_id: self.actor.id.clone(),
            actor_role: self.actor.role.as_str().to_string(),
            on_behalf_of: self.actor.municipality.as_ref().map(ToString::to_string),
            request_id: self.request_id.clone(),
            recorded_at: self.received_at.to_rfc3339_opts(SecondsFormat::Millis, true),
            idempotency_key: self.idempotency.as_ref().map(|i| i.key.clone()),
        }
    }
}
