//! Helpers both benchmarks use: number formatting for the reports, CPU ticks from
//! `/proc`, and PostgreSQL URLs.

use kurslogg_domain::Text;

/// `v` rounded, with thousands separated by commas: `1,234,567`.
pub fn thousands(v: f64) -> String {
    let n = v.round() as i64;
    let digits = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

/// Milliseconds with as many decimals as are worth reading.
pub fn ms(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// User plus system CPU ticks from a `/proc/<pid>/stat` line.
pub fn ticks_of(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields after the command name start at field 3 (state); utime is 14, stime 15.
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// `url` with its database replaced by `database`.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let after_scheme = base.find("://").map_or(0, |p| p + 3);
    let mut out = match base[after_scheme..].find('/') {
        Some(p) => base[..after_scheme + p].to_string(),
        None => base.to_string(),
    };
    out.push('/');
    out.push_str(database);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// A person's name, known to be valid.
pub fn person_name(s: &str) -> kurslogg_domain::PersonName {
    kurslogg_domain::PersonName::parse(s).expect("valid name")
}

/// `n` as letters, for names (which hold no digits): 0 → `A`, 26 → `AA`.
#[allow(dead_code)]
pub fn letters(n: usize) -> String {
    let mut n = n + 1;
    let mut out = Vec::new();
    while n > 0 {
        n -= 1;
        out.push(char::from(b'A' + (n % 26) as u8));
        n /= 26;
    }
    out.iter().rev().collect()
}

/// Valid text.
pub fn text(s: &str) -> Text {
    Text::parse(s).expect("valid text")
}
