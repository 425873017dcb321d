//! Certificates as documents (docs/decisions/0019): a course certificate ("intyg") and a
//! person's list of everything they have completed ("utbildningsbevis"), as PDF, and the
//! public check of a certificate by its number and its holder's name.
//!
//! What is here is pure: the documents' contents, their layout and the PDF bytes, the
//! number and name as the check compares them. Where the facts come from (the log) and
//! who may have them is `crate::app`'s.

mod pdf;

use chrono::{DateTime, Utc};
use unicode_normalization::UnicodeNormalization;

pub use pdf::{certificate_pdf, record_pdf, PdfError};

/// The public address a certificate names for its check, and how often one client may check.
#[derive(Debug, Clone)]
pub struct CertificateSettings {
    /// The service's public address, e.g. `https://kurslogg.fyrbodal.se` (no trailing
    /// slash): the check page printed on every certificate is `{public_url}/kontrollera-intyg`.
    pub public_url: String,
    /// Checks one client address may make within the window (`login_lockout_minutes`).
    pub max_checks_per_client: i64,
    /// Checks answered "unknown" one client address may have within the window.
    pub max_failed_checks_per_client: i64,
}

impl Default for CertificateSettings {
    fn default() -> Self {
        Self { public_url: "http://127.0.0.1:8080".into(), max_checks_per_client: 30, max_failed_checks_per_client: 10 }
    }
}

impl CertificateSettings {
    /// The check page's address.
    pub fn check_page(&self) -> String {
        format!("{}{CHECK_PATH}", self.public_url.trim_end_matches('/'))
    }

    /// The check page's address with `number` filled in (what the QR code holds).
    pub fn check_link(&self, number: &str) -> String {
        format!("{}?nummer={}", self.check_page(), number)
    }
}

/// The public check page's path.
pub const CHECK_PATH: &str = "/kontrollera-intyg";

/// One session of a course as a certificate lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionLine {
    /// When it starts.
    pub starts_at: DateTime<Utc>,
    /// When it ends.
    pub ends_at: DateTime<Utc>,
    /// Teaching time in minutes.
    pub minutes: u32,
    /// Whether the holder was there.
    pub present: bool,
}

/// Everything a course certificate says, taken from the log.
#[derive(Debug, Clone, PartialEq)]
pub struct CertificateDoc {
    /// The certificate's number.
    pub number: String,
    /// Who gave the course (the package's organiser).
    pub organiser: String,
    /// The holder's name.
    pub holder: String,
    /// Course code.
    pub course: String,
    /// Course title.
    pub title: String,
    /// Term, e.g. `HT2027`.
    pub term: String,
    /// What the course covered.
    pub description: String,
    /// Competence areas it covered.
    pub competence_areas: Vec<String>,
    /// Trainer (published course information).
    pub trainer: String,
    /// Venue, or "Digitalt".
    pub place: String,
    /// Every session, in time order.
    pub sessions: Vec<SessionLine>,
    /// When it was issued (the completion's time in the log).
    pub issued_at: DateTime<Utc>,
    /// The check page's address.
    pub check_page: String,
    /// The check page's address with the number filled in.
    pub check_link: String,
}

impl CertificateDoc {
    /// Sessions attended.
    pub fn attended(&self) -> usize {
        self.sessions.iter().filter(|s| s.present).count()
    }

    /// Teaching minutes attended.
    pub fn minutes_attended(&self) -> u32 {
        self.sessions.iter().filter(|s| s.present).map(|s| s.minutes).sum()
    }

    /// When the first session starts.
    pub fn starts_at(&self) -> DateTime<Utc> {
        self.sessions.iter().map(|s| s.starts_at).min().unwrap_or(self.issued_at)
    }

    /// When the last session ends.
    pub fn ends_at(&self) -> DateTime<Utc> {
        self.sessions.iter().map(|s| s.ends_at).max().unwrap_or(self.issued_at)
    }
}

/// A person's list of completed courses ("utbildningsbevis").
#[derive(Debug, Clone, PartialEq)]
pub struct RecordDoc {
    /// The person's name.
    pub holder: String,
    /// Every course with a valid certificate, earliest first.
    pub courses: Vec<CertificateDoc>,
    /// The check page's address.
    pub check_page: String,
}

/// Hours as a Swedish text: "12 timmar", "1 timme", "7,5 timmar", "2,25 timmar".
pub fn hours(minutes: u32) -> String {
    let whole = minutes / 60;
    let rest = minutes % 60;
    if rest == 0 {
        return if whole == 1 { "1 timme".into() } else { format!("{whole} timmar") };
    }
    // Two decimals at most, without trailing zeros: 90 min is 1,5, 100 min is 1,67.
    let hundredths = (u64::from(rest) * 100 + 30) / 60;
    let decimals = format!("{hundredths:02}");
    format!("{whole},{} timmar", decimals.trim_end_matches('0'))
}

/// A certificate number as typed: spaces and dashes around it dropped, in upper case.
pub fn normalise_number(typed: &str) -> String {
    typed.split_whitespace().collect::<String>().to_uppercase()
}

/// A certificate number's offering part (the first 12 hex digits of the offering's id,
/// in the id's lower-case text form, `3f2a9c1b-04d2`), if it has the shape
/// `COURSE-TERM-XXXXXXXXXXXX-NNN` (`kurslogg_domain::offering::rules::certificate_number`).
pub fn offering_prefix(number: &str) -> Option<String> {
    let mut parts = number.rsplitn(4, '-');
    let ordinal = parts.next()?;
    let short = parts.next()?;
    let _term = parts.next()?;
    let _course = parts.next()?;
    let shaped = !ordinal.is_empty()
        && ordinal.bytes().all(|b| b.is_ascii_digit())
        && short.len() == 12
        && short.bytes().all(|b| b.is_ascii_hexdigit());
    if !shaped {
        return None;
    }
    let short = short.to_ascii_lowercase();
    Some(format!("{}-{}", &short[..8], &short[8..]))
}

/// A name as the check compares it: Unicode NFC, case folded, runs of white space as one
/// space, trimmed. "  ÅSA   öberg" and "Åsa Öberg" are the same name.
pub fn normalise_name(name: &str) -> String {
    let composed: String = name.nfc().collect();
    composed.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase().nfc().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_are_written_the_swedish_way() {
        assert_eq!(hours(720), "12 timmar");
        assert_eq!(hours(60), "1 timme");
        assert_eq!(hours(450), "7,5 timmar");
        assert_eq!(hours(100), "1,67 timmar");
        assert_eq!(hours(75), "1,25 timmar");
        assert_eq!(hours(0), "0 timmar");
    }

    #[test]
    fn names_compare_without_case_spacing_or_composition() {
        let decomposed = "A\u{030a}sa O\u{0308}berg";
        assert_eq!(normalise_name("  ÅSA   öberg "), normalise_name("Åsa Öberg"));
        assert_eq!(normalise_name(decomposed), normalise_name("Åsa Öberg"));
        assert_ne!(normalise_name("Åsa Öberg"), normalise_name("Asa Oberg"));
    }

    #[test]
    fn a_number_names_its_offering_by_the_first_twelve_hex_digits_of_its_id() {
        assert_eq!(offering_prefix("LVU-FORTS-HT2027-3F2A9C1B04D2-001").as_deref(), Some("3f2a9c1b-04d2"));
        assert_eq!(
            offering_prefix(&normalise_number(" lvu-grund-ht2027-3f2a9c1b04d2-012 ")).as_deref(),
            Some("3f2a9c1b-04d2")
        );
        for wrong in [
            "",
            "LVU",
            "LVU-HT2027-3F2A9C1B04D2",
            "LVU-HT2027-3F2A9C1B04D-001",
            "LVU-HT2027-3F2A9C1B04DX-001",
            "X-HT2027-3F2A9C1B04D2-0A1",
        ] {
            assert_eq!(offering_prefix(wrong), None, "{wrong}");
        }
    }
}
