//! Kurslogg's domain: the rules of DOMAIN.md as cqrs-es aggregates, commands and events.
//!
//! No I/O happens here. Facts owned by other aggregates (a staff member's status, the
//! package's registration window, a person's earlier courses) are gathered by the
//! service layer and handed to commands as plain values, so each rule can be tested
//! with given-events / when-command / then-events and nothing else.

pub mod clock;
pub mod competence;
pub mod course;
pub mod ids;
pub mod municipality;
pub mod notice;
pub mod offering;
pub mod package;
pub mod staff;
pub mod swedish;
pub mod text;
pub mod values;

pub use clock::{Clock, FixedClock};
pub use ids::*;
pub use offering::MAX_SESSIONS;
pub use values::*;

/// A refusal with a stable machine-readable code, shared by every aggregate's error type
/// so the API can turn any of them into a problem document in one place.
pub trait Refusal: std::error::Error {
    /// Stable snake_case code, e.g. `deadline_passed`.
    fn code(&self) -> &'static str;
    /// The reason in Swedish, as people read it (from the catalogue in [`swedish`]).
    fn swedish(&self) -> String;
    /// What kind of refusal this is, which decides the HTTP status.
    fn kind(&self) -> RefusalKind {
        RefusalKind::Rule
    }
}

/// Classes of refusal; the API maps each to one HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    /// The thing addressed does not exist (404).
    NotFound,
    /// It exists already or the request conflicts with its current state (409).
    Conflict,
    /// A business rule says no (422).
    Rule,
}
