//! Hostile text (issue 21, docs/decisions/0010): strings that a careless user or an
//! attacker sends, in one place for every test that needs them. Each is given as the JSON
//! string literal a client would send, since some (a lone surrogate) are no Rust string.
//!
//! - [`refused`]: what no text field takes (control characters, lone surrogates,
//!   invisible format characters, too long, nothing at all), and line breaks, which only
//!   a field of several lines takes ([`Hostile::only_line_breaks`]): every text field of
//!   every operation answers 422 naming the field, and writes nothing.
//! - [`formulas`]: text a spreadsheet would run; a title or a reason may be like that (and
//!   exports defuse it), a name may not (it begins with a letter).
//! - [`stored`]: the values an older database may hold (written before the edge refused
//!   them), as plain strings, for events appended to the log directly.

use serde_json::Value;

/// One hostile value.
#[derive(Debug, Clone)]
pub struct Hostile {
    /// What it is, for failure messages.
    pub label: &'static str,
    /// The value as a JSON string literal, quotes included (e.g. `"Eve\ud800"`).
    pub json: String,
    /// Whether it is hostile only by its line breaks (CR, LF, CRLF, U+2028), which a
    /// field of several lines (a description, a note, a reason) takes.
    pub only_line_breaks: bool,
}

impl Hostile {
    fn new(label: &'static str, text: &str) -> Self {
        let only_line_breaks = text.contains(['\r', '\n', '\u{2028}'])
            && !text.chars().any(|c| (c.is_control() && !matches!(c, '\r' | '\n')) || c == '\u{FFFD}');
        Self { label, json: serde_json::to_string(text).expect("a string serialises"), only_line_breaks }
    }

    fn raw(label: &'static str, json: &str) -> Self {
        Self { label, json: json.to_string(), only_line_breaks: false }
    }
}

/// Where [`with_hostile`] puts the hostile value.
pub const MARK: &str = "\u{1F4CC}HOSTILE\u{1F4CC}";

/// The JSON text of `body` with the string [`MARK`] (wherever it is) replaced by
/// `hostile`'s literal: the only way to send a lone surrogate.
pub fn with_hostile(body: &Value, hostile: &Hostile) -> String {
    let marked = serde_json::to_string(MARK).expect("a string serialises");
    let text = body.to_string();
    assert!(text.contains(&marked), "the body has no {MARK}: {text}");
    text.replace(&marked, &hostile.json)
}

/// Values no text field accepts.
pub fn refused() -> Vec<Hostile> {
    vec![
        Hostile::new("LF", "Eve\nEvil"),
        Hostile::new("CR", "Eve\rEvil"),
        Hostile::new("CRLF", "Eve\r\nEvil"),
        Hostile::new("NUL", "Enhet\u{0}X"),
        Hostile::new("NUL alone", "\u{0}"),
        Hostile::new("ESC (a C0 control)", "Text\u{1b}[31mröd"),
        Hostile::new("DEL", "Text\u{7f}"),
        Hostile::new("NEL (a C1 control)", "Text\u{85}mer"),
        Hostile::new("line separator", "Rad\u{2028}två"),
        Hostile::new("bidi override", "Kurs\u{202E}fdp.exe"),
        Hostile::new("zero-width space", "Ev\u{200B}e"),
        Hostile::raw("lone high surrogate", r#""Eve\ud800""#),
        Hostile::raw("lone low surrogate", r#""\udc00Eve""#),
        Hostile::raw("reversed surrogate pair", r#""\udc00\ud800""#),
        Hostile::new("replacement character", "Trasig \u{FFFD} text"),
        Hostile::new("mail header injection", "Eve\r\nBcc: angripare@example.com"),
        Hostile::new("iCalendar injection", "Kurs\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nSUMMARY:Falsk"),
        Hostile::new("very long", &"Å".repeat(5_000)),
        Hostile::new("only spaces", "   "),
        Hostile::new("empty", ""),
    ]
}

/// Text a spreadsheet would take for a formula.
pub fn formulas() -> Vec<&'static str> {
    vec!["=HYPERLINK(\"http://example.com\",\"Klicka\")", "+46 70 123 45 67", "-2+3", "@SUM(A1:A9)", "\u{FF1D}1+1"]
}

/// Values an older database may hold, for events appended to the log directly.
pub fn stored() -> Vec<(&'static str, &'static str)> {
    vec![
        ("LF", "Eve\nEvil"),
        ("CRLF header injection", "Eve\r\nBcc: angripare@example.com"),
        ("CR", "Eve\rEvil"),
        ("NUL", "Enhet\u{0}X"),
        ("ESC", "Text\u{1b}[31m"),
        ("iCalendar injection", "Kurs\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nSUMMARY:Falsk"),
        ("formula", "=HYPERLINK(\"http://example.com\",\"Klicka\")"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marked_body_carries_the_literal_as_it_is() {
        let body = serde_json::json!({ "name": MARK, "n": 1 });
        let sent = with_hostile(&body, &Hostile::raw("x", r#""\ud800""#));
        assert!(sent.contains(r#""name":"\ud800""#), "{sent}");
        assert!(serde_json::from_str::<Value>(&sent).is_err(), "no Rust string holds a lone surrogate");
    }
}
