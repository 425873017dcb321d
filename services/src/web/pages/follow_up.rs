//! What the course office's follow-up pages and the auditor's pages share: who may open
//! them, and the Swedish words for the letters' kinds and states (decision 0021).

use crate::app::Role;
use crate::web::error::PageError;
use crate::web::session::Visitor;

/// The course office only (pages that change something, or the office's own tools).
pub fn office(visitor: &Visitor) -> Result<(), PageError> {
    if visitor.actor.role == Role::CourseOffice {
        Ok(())
    } else {
        Err(PageError::forbidden())
    }
}

/// The auditor only (the audit trail and the past views).
pub fn auditor(visitor: &Visitor) -> Result<(), PageError> {
    if visitor.actor.role == Role::Auditor {
        Ok(())
    } else {
        Err(PageError::forbidden())
    }
}

/// The kinds of letters, as (value, Swedish name), in the order the outbox's filter shows.
pub const LETTER_KINDS: [(&str, &str); 7] = [
    ("course_summary", "Sammanfattning efter kurs"),
    ("registration_receipt", "Kvitto på anmälan"),
    ("allocation_result", "Besked om platser"),
    ("promotion", "Plats från väntelistan"),
    ("course_cancelled", "Kursen är inställd"),
    ("deadline_reminder", "Påminnelse om sista anmälningsdag"),
    ("cancellation_charged", "Avanmälan som debiteras"),
];

/// A letter's kind in Swedish.
pub fn letter_kind(kind: &str) -> &'static str {
    LETTER_KINDS.iter().find(|(k, _)| *k == kind).map_or("Brev", |(_, name)| name)
}

/// The outbox's states, as (value, Swedish name).
pub const LETTER_STATES: [(&str, &str); 3] =
    [("pending", "Väntar på att skickas"), ("sent", "Skickat"), ("failed", "Kunde inte skickas")];

/// A letter's state in Swedish.
pub fn letter_state(status: &str) -> &'static str {
    LETTER_STATES.iter().find(|(s, _)| *s == status).map_or("Okänt", |(_, name)| name)
}

/// The colour of a letter's state tag.
pub fn letter_state_tag(status: &str) -> &'static str {
    match status {
        "sent" => "green",
        "failed" => "red",
        _ => "yellow",
    }
}
