//! Dates and times as the letters write them: Swedish words, Stockholm wall-clock time.
//!
//! Written out here rather than taken from a locale crate: the letters need nineteen
//! words and one pattern ("tisdag 7 september 2027 kl. 09.00–16.00"), and keeping them in
//! our own code keeps the snapshots stable across platforms and crate updates.

use chrono::{DateTime, Datelike, Timelike, Utc, Weekday};
use chrono_tz::{Europe::Stockholm, Tz};

/// Weekday names, Monday first, as chrono numbers them from Monday.
const WEEKDAYS: [&str; 7] = ["måndag", "tisdag", "onsdag", "torsdag", "fredag", "lördag", "söndag"];

/// Month names, January first.
const MONTHS: [&str; 12] = [
    "januari",
    "februari",
    "mars",
    "april",
    "maj",
    "juni",
    "juli",
    "augusti",
    "september",
    "oktober",
    "november",
    "december",
];

/// The Swedish name of `day`, in lower case as Swedish writes it mid-sentence ("tisdag").
pub fn weekday_name(day: Weekday) -> &'static str {
    WEEKDAYS[day.num_days_from_monday() as usize]
}

/// The Swedish name of the month of `at` ("september").
fn month_name(at: &DateTime<Tz>) -> &'static str {
    MONTHS[at.month0() as usize]
}

/// `at` in Stockholm: the time zone every participant lives in, whatever the server uses.
fn local(at: DateTime<Utc>) -> DateTime<Tz> {
    at.with_timezone(&Stockholm)
}

fn local_date(at: &DateTime<Tz>) -> String {
    format!("{} {} {} {}", weekday_name(at.weekday()), at.day(), month_name(at), at.year())
}

fn local_time(at: &DateTime<Tz>) -> String {
    // Swedish style: a full stop between hours and minutes, hours with a leading zero.
    format!("{:02}.{:02}", at.hour(), at.minute())
}

/// The Stockholm date of `at`: "tisdag 7 september 2027".
pub fn date(at: DateTime<Utc>) -> String {
    local_date(&local(at))
}

/// The Stockholm date of `at` without the weekday, for lists and tables: "7 september 2027".
pub fn short_date(at: DateTime<Utc>) -> String {
    let at = local(at);
    format!("{} {} {}", at.day(), month_name(&at), at.year())
}

/// Day and month of `at` in Stockholm, for short phrases such as subject lines: "15 juni".
pub fn day_and_month(at: DateTime<Utc>) -> String {
    let at = local(at);
    format!("{} {}", at.day(), month_name(&at))
}

/// Date and time of `at` in Stockholm: "tisdag 15 juni 2027 kl. 23.59".
pub fn date_time(at: DateTime<Utc>) -> String {
    let at = local(at);
    format!("{} kl. {}", local_date(&at), local_time(&at))
}

/// A session from `start` to `end` in Stockholm: "tisdag 7 september 2027 kl. 09.00–16.00",
/// or both dates written out when it runs past midnight.
pub fn span(start: DateTime<Utc>, end: DateTime<Utc>) -> String {
    let (start, end) = (local(start), local(end));
    if start.date_naive() == end.date_naive() {
        format!("{} kl. {}–{}", local_date(&start), local_time(&start), local_time(&end))
    } else {
        format!("{} kl. {} – {} kl. {}", local_date(&start), local_time(&start), local_date(&end), local_time(&end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().expect("a UTC timestamp")
    }

    #[test]
    fn summer_time_and_winter_time_both_show_stockholm_clock() {
        // CEST is UTC+2, CET is UTC+1: the same 09.00 start is 07:00Z in September, 08:00Z in January.
        assert_eq!(
            span(at("2027-09-07T07:00:00Z"), at("2027-09-07T14:00:00Z")),
            "tisdag 7 september 2027 kl. 09.00–16.00"
        );
        assert_eq!(date_time(at("2028-01-18T08:00:00Z")), "tisdag 18 januari 2028 kl. 09.00");
    }

    #[test]
    fn the_date_is_stockholms_not_utcs() {
        // 23.59 on 15 June in Stockholm is still 15 June, though 21:59 UTC; 00.30 on
        // 16 June in Stockholm is the 16th though UTC is still on the 15th.
        assert_eq!(date_time(at("2027-06-15T21:59:00Z")), "tisdag 15 juni 2027 kl. 23.59");
        assert_eq!(date(at("2027-06-15T22:30:00Z")), "onsdag 16 juni 2027");
        assert_eq!(day_and_month(at("2027-12-15T22:59:00Z")), "15 december");
    }

    #[test]
    fn a_span_past_midnight_writes_both_dates() {
        assert_eq!(
            span(at("2027-10-01T16:00:00Z"), at("2027-10-02T08:00:00Z")),
            "fredag 1 oktober 2027 kl. 18.00 – lördag 2 oktober 2027 kl. 10.00"
        );
    }
}
