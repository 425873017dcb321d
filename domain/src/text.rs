//! What text from people may hold (docs/decisions/0010). Every text a person types is
//! checked once, here, when it becomes one of the domain's value types at the edge:
//! Unicode NFC, trimmed, within its length, and only the characters its kind of field
//! may hold. A refusal says in Swedish what was wrong; the caller names the field.
//!
//! The rules are for new input only. Reading the log is lenient ([`crate::Text`]
//! deserialises whatever was stored): an event is a fact, and one written before these
//! rules (a name with a line break, a unit with a NUL) must still be read, projected and
//! shown; the places that show it (letters, exports, calendars) make it safe there.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

use crate::values::InvalidValue;

/// The kinds of text field, each with its own characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A person's name: letters (with their marks), spaces, hyphens, apostrophes and
    /// periods, beginning with a letter.
    Name,
    /// One line: titles, units, places, labels, logins' display names. No control
    /// characters at all, so no line breaks.
    Line,
    /// Free text of several lines (descriptions, notes, reasons): line breaks (stored as
    /// LF) and tabs, but no other control characters.
    Prose,
}

/// Checks `raw` as text of `shape`, at most `max` characters; the text as it is kept
/// (NFC, trimmed, line breaks as LF).
pub fn check(raw: &str, shape: Shape, max: usize) -> Result<String, InvalidValue> {
    let mut text: String = raw.nfc().collect();
    if shape == Shape::Prose {
        text = text.replace("\r\n", "\n").replace(['\r', '\u{2028}', '\u{2029}'], "\n");
    }
    let text = text.trim();
    if text.is_empty() {
        return Err(InvalidValue("får inte vara tomt".into()));
    }
    let length = text.chars().count();
    if length > max {
        return Err(InvalidValue(format!("får vara högst {max} tecken långt (är {length})")));
    }
    check_chars(text, shape)?;
    Ok(text.to_string())
}

/// Checks only the characters of `text` (as [`check`] does, without normalising, trimming
/// or counting): for values that are looked up rather than kept, such as a filter.
pub fn check_chars(text: &str, shape: Shape) -> Result<(), InvalidValue> {
    for (i, c) in text.chars().enumerate() {
        let at = i + 1;
        if is_invalid(c) {
            return Err(InvalidValue(format!(
                "innehåller ett ogiltigt tecken ({}, tecken {at}): ett tecken som inte kunde läsas, som ett ensamt \
                 surrogat",
                code(c)
            )));
        }
        let line_break = matches!(c, '\u{2028}' | '\u{2029}');
        if c.is_control() || line_break {
            let allowed = shape == Shape::Prose && matches!(c, '\n' | '\t');
            if !allowed {
                let what = if shape == Shape::Prose {
                    "får inte innehålla andra styrtecken än radbrytning och tabb"
                } else {
                    "får inte innehålla radbrytningar, tabbar eller andra styrtecken"
                };
                return Err(InvalidValue(format!("{what} ({}, tecken {at})", code(c))));
            }
        }
        if is_invisible_format(c) {
            return Err(InvalidValue(format!(
                "får inte innehålla osynliga formateringstecken som ändrar skrivriktning eller döljer tecken ({}, \
                 tecken {at})",
                code(c)
            )));
        }
        if shape == Shape::Name {
            if i == 0 && !c.is_alphabetic() {
                return Err(InvalidValue(format!("ett namn börjar med en bokstav, inte {}", shown(c))));
            }
            if !is_name_char(c) {
                return Err(InvalidValue(format!(
                    "ett namn får bara innehålla bokstäver, mellanslag, bindestreck, apostrof och punkt, inte {} \
                     (tecken {at})",
                    shown(c)
                )));
            }
        }
    }
    Ok(())
}

/// What a name may hold besides letters: the marks of letters (as in "Nguyễn" before NFC
/// composes it, or scripts where no composed form exists), and the punctuation names have.
fn is_name_char(c: char) -> bool {
    c.is_alphabetic() || is_combining_mark(c) || matches!(c, ' ' | '-' | '\u{2010}' | '\'' | '\u{2019}' | '.')
}

/// Characters that are never text: the replacement character (what a decoder leaves for
/// something it could not read, and what a lone surrogate in a JSON escape becomes at the
/// edge) and Unicode's noncharacters.
fn is_invalid(c: char) -> bool {
    let n = u32::from(c);
    c == '\u{FFFD}' || (0xFDD0..=0xFDEF).contains(&n) || (n & 0xFFFE) == 0xFFFE
}

/// Invisible characters that change how the text around them reads without showing
/// (bidirectional overrides, zero-width spaces, a byte-order mark): in a name or title
/// they only serve to make one text look like another. The joiners some scripts need
/// (U+200C, U+200D) are allowed.
fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'
            | '\u{200E}'
            | '\u{200F}'
            | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{2069}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
    )
}

/// `U+000A`.
fn code(c: char) -> String {
    format!("U+{:04X}", u32::from(c))
}

/// A character as a refusal shows it: itself in quotes where it is visible, and its code.
fn shown(c: char) -> String {
    if c.is_control() || c.is_whitespace() || is_invisible_format(c) {
        code(c)
    } else {
        format!("\"{c}\" ({})", code(c))
    }
}

/// `raw` with what must never reach a mail header or a calendar's single-line property
/// (control characters, line and paragraph separators, invisible format characters)
/// turned into spaces, and runs of spaces made one. For showing text that was stored
/// before the rules above, or that comes from elsewhere: new input never needs it.
pub fn one_line(raw: &str) -> String {
    let spaced: String = raw
        .chars()
        .map(|c| if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') || is_invisible_format(c) { ' ' } else { c })
        .collect();
    spaced.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `raw` with line breaks as LF and every other control character (NUL included) turned
/// into U+FFFD, which shows that something was there. For text of several lines stored
/// before the rules above.
pub fn displayable(raw: &str) -> String {
    raw.replace("\r\n", "\n")
        .chars()
        .map(|c| match c {
            '\r' | '\u{2028}' | '\u{2029}' => '\n',
            '\n' | '\t' => c,
            c if c.is_control() => '\u{FFFD}',
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(raw: &str) -> Result<String, String> {
        check(raw, Shape::Line, 200).map_err(|e| e.0)
    }

    fn name(raw: &str) -> Result<String, String> {
        check(raw, Shape::Name, 200).map_err(|e| e.0)
    }

    fn prose(raw: &str) -> Result<String, String> {
        check(raw, Shape::Prose, 4000).map_err(|e| e.0)
    }

    #[test]
    fn given_decomposed_letters_when_checked_then_they_are_kept_composed() {
        // "Åsa" typed as A + combining ring above.
        assert_eq!(name("A\u{30A}sa Öberg").unwrap(), "Åsa Öberg");
        assert_eq!(line("  Barn och unga  ").unwrap(), "Barn och unga");
    }

    #[test]
    fn given_names_as_people_have_them_when_checked_then_accepted() {
        for ok in ["Anna-Karin O'Neil", "Nguyễn Thị Minh Khai", "Jean d’Arc", "P. Åström", "Мария", "林 美玲"]
        {
            assert_eq!(name(ok).unwrap(), ok);
        }
    }

    #[test]
    fn given_a_line_break_or_nul_when_checked_as_a_line_or_name_then_refused_in_swedish() {
        for bad in ["Eve\nEvil", "Eve\rEvil", "Eve\r\nEvil", "Enhet\u{0}X", "Tab\there", "C1\u{85}x", "Del\u{7f}"] {
            let refusal = line(bad).unwrap_err();
            assert!(refusal.contains("styrtecken"), "{bad:?}: {refusal}");
            assert!(name(bad).is_err(), "{bad:?}");
        }
        assert!(line("rad\u{2028}två").is_err());
    }

    #[test]
    fn given_prose_when_checked_then_line_breaks_and_tabs_stay_and_other_controls_do_not() {
        assert_eq!(prose("Första raden\r\nandra\rtredje\n\tindrag").unwrap(), "Första raden\nandra\ntredje\n\tindrag");
        assert!(prose("Text\u{0}med NUL").unwrap_err().contains("U+0000"));
        assert!(prose("Text\u{1b}[31m").is_err());
    }

    #[test]
    fn given_what_is_not_a_name_when_checked_then_the_character_is_named() {
        assert!(name("Anna 2").unwrap_err().contains("\"2\""));
        assert!(name("=HYPERLINK(\"x\")").unwrap_err().contains("börjar med en bokstav"));
        assert!(name("-Anna").is_err());
        assert!(name("Anna <anna@x.se>").is_err());
    }

    #[test]
    fn given_invisible_or_invalid_characters_when_checked_then_refused() {
        assert!(line("Kurs\u{202E}txt.exe").unwrap_err().contains("U+202E"));
        assert!(line("Zero\u{200B}width").is_err());
        assert!(line("Trasig \u{FFFD} text").unwrap_err().contains("ogiltigt"));
        assert!(line("Icke\u{FFFF}tecken").is_err());
        assert_eq!(line("Emoji 👩\u{200D}🏫 går bra").unwrap(), "Emoji 👩\u{200D}🏫 går bra");
    }

    #[test]
    fn given_empty_or_too_long_text_when_checked_then_refused_with_the_limit() {
        assert!(line(" \t\n ").unwrap_err().contains("tomt"));
        assert!(line(&"x".repeat(201)).unwrap_err().contains("högst 200"));
        assert_eq!(line(&"x".repeat(200)).unwrap().len(), 200);
    }

    #[test]
    fn given_stored_text_when_made_safe_for_one_line_or_display_then_nothing_control_remains() {
        assert_eq!(one_line("Eve\r\nBcc: x@y.se\u{0}"), "Eve Bcc: x@y.se");
        assert_eq!(displayable("a\r\nb\u{0}c"), "a\nb\u{FFFD}c");
    }
}
