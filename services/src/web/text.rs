//! Swedish words for the values the pages show: roles, experience bands, staff groups,
//! statuses. One place, so a page never shows `new0_to2` and two pages never name the
//! same thing differently. The templates reach these through filters (`templates.rs`).

/// The Swedish name of a user role (`course_office`, ...).
pub fn role(name: &str) -> &'static str {
    match name {
        "course_office" => "Kursadministratör",
        "coordinator" => "Samordnare",
        "supervisor" => "Arbetsledare",
        "trainer" => "Utbildare",
        "auditor" => "Revisor",
        "participant" => "Deltagare",
        _ => "Användare",
    }
}

/// The Swedish name of an experience band of the competence plan.
pub fn band(name: &str) -> &'static str {
    match name {
        "new0_to2" => "Ny, 0–2 år",
        "years3_to5" => "3–5 år",
        "over5" => "Mer än 5 år",
        "supervisors" => "Arbetsledare",
        _ => "Okänd erfarenhetsgrupp",
    }
}

/// The experience bands, in the plan's order, as (value, Swedish name).
pub const BANDS: [(&str, &str); 4] =
    [("new0_to2", "Ny, 0–2 år"), ("years3_to5", "3–5 år"), ("over5", "Mer än 5 år"), ("supervisors", "Arbetsledare")];

/// The Swedish name of a staff group.
pub fn group(name: &str) -> &'static str {
    match name {
        "myndighetsutovning" => "Myndighetsutövning",
        "utforare" => "Utförare",
        _ => "Okänd personalgrupp",
    }
}

/// The staff groups as (value, Swedish name).
pub const GROUPS: [(&str, &str); 2] = [("myndighetsutovning", "Myndighetsutövning"), ("utforare", "Utförare")];

/// Where a registration stands, in words a coordinator uses.
pub fn registration(status: &str) -> &'static str {
    match status {
        "requested" => "Anmäld, väntar på fördelning",
        "confirmed" => "Har plats",
        "waiting" => "På väntelistan",
        "refused" => "Inte anmäld",
        "cancelled" => "Avanmäld",
        "cancelled_charged" => "Avanmäld, debiteras",
        "cancelled_free" => "Avanmäld utan kostnad",
        "transferred_away" => "Platsen överlåten",
        "transferred" => "Platsen överlåten",
        _ => "Okänd status",
    }
}

/// Where a person stands on a course their competence plan recommends.
pub fn standing(name: &str) -> &'static str {
    match name {
        "completed" => "Genomförd",
        "confirmed" => "Har plats",
        "requested" => "Anmäld, väntar på fördelning",
        "waiting" => "På väntelistan",
        "not_completed" => "Deltog, men inte genomförd",
        "cancelled" => "Avanmäld eller inställd",
        "not_yet" => "Inte anmäld ännu",
        _ => "Okänd",
    }
}

/// A staff member's status in the register.
pub fn staff_status(status: &str) -> &'static str {
    match status {
        "active" => "Aktiv",
        "paused" => "Pausad",
        "removed" => "Har slutat",
        "erased" => "Raderad",
        _ => "Okänd status",
    }
}

/// A course package's phase.
pub fn phase(name: &str) -> &'static str {
    match name {
        "draft" => "Utkast",
        "published" => "Öppen för anmälan",
        "registration_closed" => "Anmälan stängd",
        "archived" => "Arkiverad",
        _ => "Okänd",
    }
}

/// An offering's state.
pub fn offering_state(name: &str) -> &'static str {
    match name {
        "open" => "Öppen",
        "allocated" => "Platserna fördelade",
        "completed" => "Genomförd",
        "cancelled" => "Inställd",
        _ => "Okänd",
    }
}

/// Attendance at a session.
pub fn attendance(name: &str) -> &'static str {
    match name {
        "present" => "Närvarande",
        "absent" => "Frånvarande",
        "excused" => "Anmäld frånvaro",
        _ => "Inte registrerad",
    }
}

/// A whole number of kronor, Swedish style: "12 500 kr" (a narrow no-break space between
/// thousands, so the figure never breaks over two lines).
pub fn kronor(amount: i64) -> String {
    let digits = amount.unsigned_abs().to_string();
    let mut grouped = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push('\u{202f}');
        }
        grouped.push(digit);
    }
    let sign = if amount < 0 { "−" } else { "" };
    format!("{sign}{grouped}\u{a0}kr")
}

/// Hours with at most one decimal, Swedish decimal comma: "7,5 tim".
pub fn hours(value: f64) -> String {
    let rounded = (value * 10.0).round() / 10.0;
    let text = if rounded.fract() == 0.0 { format!("{rounded:.0}") } else { format!("{rounded:.1}").replace('.', ",") };
    format!("{text}\u{a0}tim")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kronor_group_thousands_and_keep_the_unit_with_the_figure() {
        assert_eq!(kronor(5500), "5\u{202f}500\u{a0}kr");
        assert_eq!(kronor(1_234_567), "1\u{202f}234\u{202f}567\u{a0}kr");
        assert_eq!(kronor(0), "0\u{a0}kr");
        assert_eq!(kronor(-900), "−900\u{a0}kr");
    }

    #[test]
    fn hours_use_a_decimal_comma() {
        assert_eq!(hours(7.5), "7,5\u{a0}tim");
        assert_eq!(hours(6.0), "6\u{a0}tim");
    }

    #[test]
    fn every_band_and_group_has_a_swedish_name() {
        for (value, name) in BANDS {
            assert_eq!(band(value), name);
        }
        for (value, name) in GROUPS {
            assert_eq!(group(value), name);
        }
    }
}
