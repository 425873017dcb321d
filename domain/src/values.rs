//! Validated value types. Raw input becomes one of these at the edge; inside the domain
//! only these travel. Money, seats and minutes are integers.

use std::fmt;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Europe::Stockholm;
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

use crate::text::Shape;

/// Why a value was refused at the edge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(pub String);

/// A term: spring (`VT`) or autumn (`HT`) of a year, written `HT2027`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Term {
    /// The calendar year the term runs in.
    pub year: i32,
    /// Spring or autumn.
    pub half: TermHalf,
}

/// The half of the year a term covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum TermHalf {
    /// Vårtermin, January to June.
    VT,
    /// Hösttermin, August to December.
    HT,
}

impl Term {
    /// Parses `HT2027` or `VT2028` (case-insensitive).
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let s = raw.trim().to_ascii_uppercase();
        let bad = || InvalidValue(format!("a term is VT or HT followed by a year, like HT2027; got {raw:?}"));
        if s.len() != 6 || !s.is_ascii() {
            return Err(bad());
        }
        let half = match &s[..2] {
            "VT" => TermHalf::VT,
            "HT" => TermHalf::HT,
            _ => return Err(bad()),
        };
        let year: i32 = s[2..].parse().map_err(|_| bad())?;
        if !(2000..=2200).contains(&year) {
            return Err(bad());
        }
        Ok(Self { year, half })
    }

    /// The default registration deadline (DOMAIN.md): 15 June 23:59 Europe/Stockholm for
    /// an autumn term, 15 December of the year before 23:59 for a spring term.
    pub fn default_deadline(&self) -> DateTime<Utc> {
        let (year, month) = match self.half {
            TermHalf::HT => (self.year, 6),
            TermHalf::VT => (self.year - 1, 12),
        };
        let local = NaiveDate::from_ymd_opt(year, month, 15)
            .and_then(|d| d.and_hms_opt(23, 59, 0))
            .expect("15th of June or December exists every year");
        Stockholm
            .from_local_datetime(&local)
            .single()
            .expect("23:59 is never in a daylight-saving gap")
            .with_timezone(&Utc)
    }
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}{}", self.half, self.year)
    }
}

impl TryFrom<String> for Term {
    type Error = InvalidValue;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Term> for String {
    fn from(t: Term) -> String {
        t.to_string()
    }
}

/// The number of seats an offering has; at least one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct SeatLimit(u32);

impl SeatLimit {
    /// Seats from 1 to 10,000.
    pub fn new(seats: u32) -> Result<Self, InvalidValue> {
        if (1..=10_000).contains(&seats) {
            Ok(Self(seats))
        } else {
            Err(InvalidValue(format!("a seat limit is between 1 and 10000, got {seats}")))
        }
    }

    /// The number of seats.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<u32> for SeatLimit {
    type Error = InvalidValue;
    fn try_from(v: u32) -> Result<Self, Self::Error> {
        Self::new(v)
    }
}

impl From<SeatLimit> for u32 {
    fn from(s: SeatLimit) -> u32 {
        s.0
    }
}

/// A price in whole Swedish kronor.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Sek(pub u32);

/// The share of sessions a participant must attend to complete, in percent (1-100).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct CompletionThreshold(u8);

impl CompletionThreshold {
    /// Threshold from 1 to 100 percent.
    pub fn new(percent: u8) -> Result<Self, InvalidValue> {
        if (1..=100).contains(&percent) {
            Ok(Self(percent))
        } else {
            Err(InvalidValue(format!("a completion threshold is 1-100 percent, got {percent}")))
        }
    }

    /// The threshold in percent.
    pub fn percent(self) -> u8 {
        self.0
    }

    /// Whether `attended` of `total` sessions meets the threshold (integer arithmetic,
    /// so 8 of 10 meets 80 % exactly).
    pub fn is_met(self, attended: usize, total: usize) -> bool {
        total > 0 && attended * 100 >= total * usize::from(self.0)
    }
}

impl Default for CompletionThreshold {
    /// DOMAIN.md: 80 % of sessions.
    fn default() -> Self {
        Self(80)
    }
}

impl TryFrom<u8> for CompletionThreshold {
    type Error = InvalidValue;
    fn try_from(v: u8) -> Result<Self, Self::Error> {
        Self::new(v)
    }
}

impl From<CompletionThreshold> for u8 {
    fn from(t: CompletionThreshold) -> u8 {
        t.0
    }
}

/// Experience bands of Fyrbodal's competence plan (seed 000).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExperienceBand {
    /// New, 0-2 years.
    New0To2,
    /// 3-5 years.
    Years3To5,
    /// More than 5 years.
    Over5,
    /// First-line supervisors (arbetsledare).
    Supervisors,
}

/// Staff groups of seed 001.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StaffGroup {
    /// Case officers exercising authority (myndighetsutövning).
    Myndighetsutovning,
    /// Providers of care services (utförare).
    Utforare,
}

/// A work e-mail address, checked for shape only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct WorkEmail(String);

impl WorkEmail {
    /// Accepts `local@domain.tld`: no spaces, control characters or the characters that
    /// delimit an address in a mail header (`<>()[],;:"\`), at most 254 characters.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let s: String = raw.trim().nfc().collect();
        let delimits = |c: char| matches!(c, '<' | '>' | '(' | ')' | '[' | ']' | ',' | ';' | ':' | '"' | '\\');
        let valid = s.chars().count() <= 254
            && !s.contains(|c: char| c.is_whitespace() || c.is_control() || delimits(c))
            && matches!(s.split_once('@'), Some((local, domain))
                if !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
                    && !domain.ends_with('.') && !domain.contains('@'));
        if valid {
            Ok(Self(s.to_lowercase()))
        } else {
            Err(InvalidValue(format!(
                "är ingen e-postadress (namn@exempel.se, utan mellanslag eller styrtecken): {raw:?}"
            )))
        }
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for WorkEmail {
    type Error = InvalidValue;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<WorkEmail> for String {
    fn from(e: WorkEmail) -> String {
        e.0
    }
}

/// Text a person wrote: a title, unit, place or label ([`Text::parse`], one line) or a
/// description, note or reason ([`Text::prose`], several lines). Made at the edge by the
/// rules of [`crate::text`] (docs/decisions/0010).
///
/// Read back from the log as it was stored, without the rules: an event written before
/// them is still a fact to project and show (see [`crate::text`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(from = "StoredText", into = "String")]
pub struct Text(String);

/// A [`Text`] as read back: private, so that only deserialising makes a `Text` without
/// the rules.
#[derive(Deserialize)]
#[serde(transparent)]
struct StoredText(String);

impl From<StoredText> for Text {
    /// The text as stored in the log, taken as it is (see the type's documentation).
    fn from(stored: StoredText) -> Self {
        Self(stored.0)
    }
}

impl Text {
    /// Longest single line accepted.
    pub const MAX_LINE: usize = 200;
    /// Longest text of several lines accepted.
    pub const MAX: usize = 4000;

    /// One line: NFC, trimmed, 1 to [`Text::MAX_LINE`] characters, no control characters.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        crate::text::check(raw, Shape::Line, Self::MAX_LINE).map(Self)
    }

    /// Several lines: as [`Text::parse`], but line breaks (kept as LF) and tabs are
    /// allowed, up to [`Text::MAX`] characters.
    pub fn prose(raw: &str) -> Result<Self, InvalidValue> {
        crate::text::check(raw, Shape::Prose, Self::MAX).map(Self)
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<Text> for String {
    fn from(t: Text) -> String {
        t.0
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A person's full name: letters (with their marks), spaces, hyphens, apostrophes and
/// periods, beginning with a letter; NFC, at most [`PersonName::MAX`] characters. Never
/// stored as it is: the services layer seals it into the person's own stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PersonName(String);

impl PersonName {
    /// Longest name accepted.
    pub const MAX: usize = 200;

    /// Checks a name as typed.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        crate::text::check(raw, Shape::Name, Self::MAX).map(Self)
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PersonName {
    type Error = InvalidValue;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<PersonName> for String {
    fn from(n: PersonName) -> String {
        n.0
    }
}

impl fmt::Display for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One session of an offering.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// When it starts.
    pub starts_at: DateTime<Utc>,
    /// When it ends; after `starts_at`.
    pub ends_at: DateTime<Utc>,
    /// Teaching time in minutes (a full day is often 6 h, not end minus start).
    pub minutes: u32,
}

impl Session {
    /// Checks that the session ends after it starts and teaches for at most its length.
    pub fn new(starts_at: DateTime<Utc>, ends_at: DateTime<Utc>, minutes: u32) -> Result<Self, InvalidValue> {
        if ends_at <= starts_at {
            return Err(InvalidValue("a session must end after it starts".into()));
        }
        let length = (ends_at - starts_at).num_minutes();
        if minutes == 0 || i64::from(minutes) > length {
            return Err(InvalidValue(format!(
                "a session's teaching time must be between 1 minute and its length ({length} min), got {minutes}"
            )));
        }
        Ok(Self { starts_at, ends_at, minutes })
    }
}

/// Where an offering takes place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "address")]
pub enum Place {
    /// A physical venue.
    Venue(Text),
    /// Online.
    Digital,
}

/// Attendance of one participant at one session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Attendance {
    /// Was there.
    Present,
    /// Was not there.
    Absent,
    /// Was not there, with a valid reason; does not count towards completion.
    Excused,
}

/// Personal data (a name, an e-mail address, a note) sealed with its person's own key.
///
/// Opaque here: the domain never sees the plain text, and has no keys or ciphers. The
/// services layer seals the text before a command reaches an aggregate and opens it
/// again when a view or letter needs it; erasing a person destroys their key, after
/// which every `Sealed` of theirs in the log is unreadable noise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Sealed(String);

impl Sealed {
    /// Wraps text produced by the services layer's sealing (nonce and ciphertext, encoded).
    pub fn from_sealed_text(sealed: String) -> Self {
        Self(sealed)
    }

    /// The sealed text, for the services layer to open.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
