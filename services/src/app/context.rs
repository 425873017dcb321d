//! Who is acting, on whose behalf, in which request.

use chrono::{DateTime, SecondsFormat, Utc};
use kurslogg_domain::MunicipalityId;

use crate::store::Metadata;

/// The actor behind a command. Until access control arrives it comes from request
/// headers; an authenticated user will produce the same value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// Stable id of the user or system.
    pub id: String,
    /// Their role (course_office, coordinator, supervisor, trainer, auditor, participant, system).
    pub role: String,
    /// The municipality they act for, if any.
    pub municipality: Option<MunicipalityId>,
}

impl Actor {
    /// The service itself (demo loader, scheduler).
    pub fn system() -> Self {
        Self { id: "kurslogg".into(), role: "system".into(), municipality: None }
    }

    /// Whether this actor is the course office (or the system acting for it).
    pub fn is_course_office(&self) -> bool {
        matches!(self.role.as_str(), "course_office" | "system")
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
            actor_role: self.actor.role.clone(),
            on_behalf_of: self.actor.municipality.as_ref().map(ToString::to_string),
            request_id: self.request_id.clone(),
            recorded_at: self.received_at.to_rfc3339_opts(SecondsFormat::Millis, true),
            idempotency_key: self.idempotency.as_ref().map(|i| i.key.clone()),
        }
    }
}
