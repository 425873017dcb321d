//! The application's error: domain refusals with their codes, edge validation, and
//! infrastructure trouble. The HTTP layer maps each variant to a problem document.

use kurslogg_domain::{Refusal, RefusalKind};
use serde::{Deserialize, Serialize};

use crate::store::{CommandError, StoreError};

/// Why a use case failed.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A domain rule refused (or the thing does not exist).
    #[error("{message}")]
    Refused {
        /// Stable code.
        code: String,
        /// Human-readable reason.
        message: String,
        /// Not found, conflict or rule.
        kind: Kind,
    },
    /// Input did not parse or is out of range.
    #[error("{0}")]
    Validation(String),
    /// The actor may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// An Idempotency-Key was reused for a different request.
    #[error("nyckeln i Idempotency-Key har redan använts för en annan begäran; använd en ny nyckel")]
    IdempotencyKeyReused,
    /// Another request with the same Idempotency-Key is being processed.
    #[error("en begäran med samma Idempotency-Key behandlas just nu; försök igen om en stund")]
    IdempotencyKeyInFlight,
    /// The views have not reached the log position a read asked for (`min_position`)
    /// within the time it waits.
    #[error("the views have not reached position {0} yet; try again shortly")]
    ViewsBehind(i64),
    /// Retries on a contended record ran out.
    #[error("uppgiften ändras av någon annan just nu; försök igen")]
    Contention,
    /// Storage failed.
    #[error("storage unavailable: {0}")]
    Store(#[from] StoreError),
}

/// Classes of refusal (serialisable mirror of the domain's `RefusalKind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// 404.
    NotFound,
    /// 409.
    Conflict,
    /// 422.
    Rule,
}

impl Kind {
    /// HTTP status for this kind.
    pub fn status(self) -> u16 {
        match self {
            Kind::NotFound => 404,
            Kind::Conflict => 409,
            Kind::Rule => 422,
        }
    }
}

impl AppError {
    /// A refusal from any aggregate.
    pub fn refused(refusal: &impl Refusal) -> Self {
        let kind = match refusal.kind() {
            RefusalKind::NotFound => Kind::NotFound,
            RefusalKind::Conflict => Kind::Conflict,
            RefusalKind::Rule => Kind::Rule,
        };
        // The message is what people read: Swedish, from the catalogue.
        Self::Refused { code: refusal.code().to_string(), message: refusal.swedish(), kind }
    }

    /// A thing that does not exist (`what` as `kurslogg_domain::swedish::not_found` knows it).
    pub fn not_found(what: &str) -> Self {
        Self::Refused {
            code: "not_found".into(),
            message: kurslogg_domain::swedish::not_found(what),
            kind: Kind::NotFound,
        }
    }

    /// A rule refusal raised by a use case rather than an aggregate.
    pub fn rule(code: &str, message: impl Into<String>) -> Self {
        Self::Refused { code: code.into(), message: message.into(), kind: Kind::Rule }
    }
}

impl<E: Refusal> From<CommandError<E>> for AppError {
    fn from(e: CommandError<E>) -> Self {
        match e {
            CommandError::Refused(refusal) => Self::refused(&refusal),
            // A use case that decides on facts gathers them again on `StaleFacts` (a few
            // times); one that gets here has run out of attempts.
            CommandError::Contention | CommandError::StaleFacts => Self::Contention,
            CommandError::IdempotencyKeyTaken => Self::IdempotencyKeyInFlight,
            CommandError::Store(e) => Self::Store(e),
        }
    }
}
