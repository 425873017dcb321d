//! The pure rules of `offering::rules` and the value types' rules, tested directly.

use chrono::{DateTime, Utc};
use kurslogg_domain::offering::rules::{
    cancellation_is_charged, certificate_number, fair_allocation, missing_prerequisites, staff_may_be_registered,
    PendingRequest,
};
use kurslogg_domain::offering::{OfferingError, PastParticipation};
use kurslogg_domain::staff::StaffStatus;
use kurslogg_domain::{
    slugify, CompletionThreshold, CourseCode, MunicipalityId, OfferingId, SeatLimit, Session, StaffId, Term, TermHalf,
    Text, WorkEmail,
};
use uuid::Uuid;

fn t(rfc3339: &str) -> DateTime<Utc> {
    rfc3339.parse().unwrap()
}

fn code(raw: &str) -> CourseCode {
    CourseCode::parse(raw).unwrap()
}

fn muni(raw: &str) -> MunicipalityId {
    MunicipalityId::parse(raw).unwrap()
}

fn staff(n: u128) -> StaffId {
    StaffId(Uuid::from_u128(n))
}

fn offering(n: u128) -> OfferingId {
    OfferingId(Uuid::from_u128(n))
}

fn request(n: u128, municipality: &str) -> PendingRequest {
    PendingRequest { staff: staff(n), municipality: muni(municipality), late: false }
}

const FYRBODAL: [&str; 14] = [
    "Bengtsfors",
    "Dals-Ed",
    "Färgelanda",
    "Lysekil",
    "Mellerud",
    "Munkedal",
    "Orust",
    "Sotenäs",
    "Strömstad",
    "Tanum",
    "Trollhättan",
    "Uddevalla",
    "Vänersborg",
    "Åmål",
];

const GR: [&str; 13] = [
    "Ale",
    "Alingsås",
    "Göteborg",
    "Härryda",
    "Kungsbacka",
    "Kungälv",
    "Lerum",
    "Lilla Edet",
    "Mölndal",
    "Partille",
    "Stenungsund",
    "Tjörn",
    "Öckerö",
];

// ---------------------------------------------------------------------------------------
// Terms and their default deadlines
// ---------------------------------------------------------------------------------------

#[test]
fn the_autumn_terms_default_deadline_is_15_june_23_59_stockholm_summer_time() {
    assert_eq!(Term::parse("HT2027").unwrap().default_deadline(), t("2027-06-15T21:59:00Z"));
}

#[test]
fn the_spring_terms_default_deadline_is_15_december_of_the_year_before_23_59_stockholm_winter_time() {
    assert_eq!(Term::parse("VT2028").unwrap().default_deadline(), t("2027-12-15T22:59:00Z"));
}

#[test]
fn default_deadlines_fall_before_the_term_they_open() {
    for year in 2025..2035 {
        let ht = Term { year, half: TermHalf::HT }.default_deadline();
        let vt = Term { year, half: TermHalf::VT }.default_deadline();
        assert_eq!(ht.format("%m-%d %H:%M").to_string(), "06-15 21:59", "HT{year} (CEST)");
        assert_eq!(vt.format("%Y-%m-%d %H:%M").to_string(), format!("{}-12-15 22:59", year - 1), "VT{year} (CET)");
    }
}

#[test]
fn a_term_is_vt_or_ht_followed_by_a_year_in_any_case() {
    assert_eq!(Term::parse("HT2027").unwrap(), Term { year: 2027, half: TermHalf::HT });
    assert_eq!(Term::parse(" vt2028 ").unwrap(), Term { year: 2028, half: TermHalf::VT });
    assert_eq!(Term::parse("ht2027").unwrap().to_string(), "HT2027");
}

#[test]
fn malformed_terms_are_refused() {
    for raw in ["", "HT", "HT27", "HT 2027", "XT2027", "H2027", "HT20277", "HT1999", "HT2201", "HTabcd", "2027HT"] {
        assert!(Term::parse(raw).is_err(), "{raw:?} should be refused");
    }
}

#[test]
fn a_term_with_non_ascii_letters_is_refused_without_panicking() {
    for raw in ["HÅ202", "Hö202", "ÅT2027"] {
        let parsed = std::panic::catch_unwind(|| Term::parse(raw));
        assert!(matches!(parsed, Ok(Err(_))), "{raw:?} should be refused, not panic");
    }
}

#[test]
fn a_term_travels_as_its_name_in_json() {
    let term = Term::parse("VT2028").unwrap();
    assert_eq!(serde_json::to_string(&term).unwrap(), "\"VT2028\"");
    assert_eq!(serde_json::from_str::<Term>("\"ht2027\"").unwrap(), Term { year: 2027, half: TermHalf::HT });
    assert!(serde_json::from_str::<Term>("\"ST2027\"").is_err());
}

// ---------------------------------------------------------------------------------------
// Completion threshold
// ---------------------------------------------------------------------------------------

#[test]
fn the_completion_threshold_is_met_at_exactly_its_share_of_sessions() {
    let eighty = CompletionThreshold::default();
    assert_eq!(eighty.percent(), 80);
    assert!(eighty.is_met(8, 10));
    assert!(!eighty.is_met(7, 10));
    assert!(eighty.is_met(4, 5));
    assert!(!eighty.is_met(3, 5));
    assert!(eighty.is_met(1, 1));
    assert!(!eighty.is_met(0, 1));
}

#[test]
fn the_completion_threshold_uses_exact_integer_arithmetic() {
    let third = CompletionThreshold::new(33).unwrap();
    assert!(third.is_met(1, 3), "1 of 3 is 33.3 %");
    let just_over = CompletionThreshold::new(34).unwrap();
    assert!(!just_over.is_met(1, 3));
    let all = CompletionThreshold::new(100).unwrap();
    assert!(all.is_met(10, 10));
    assert!(!all.is_met(9, 10));
}

#[test]
fn an_offering_without_sessions_is_never_completed() {
    assert!(!CompletionThreshold::new(1).unwrap().is_met(0, 0));
}

#[test]
fn a_completion_threshold_is_between_1_and_100_percent() {
    assert!(CompletionThreshold::new(0).is_err());
    assert!(CompletionThreshold::new(101).is_err());
    assert_eq!(CompletionThreshold::new(1).unwrap().percent(), 1);
    assert_eq!(CompletionThreshold::new(100).unwrap().percent(), 100);
    assert!(serde_json::from_str::<CompletionThreshold>("0").is_err());
}

// ---------------------------------------------------------------------------------------
// Parsing at the edge
// ---------------------------------------------------------------------------------------

#[test]
fn a_work_email_is_trimmed_and_lower_cased() {
    assert_eq!(WorkEmail::parse(" Anna.Svensson@Uddevalla.se ").unwrap().as_str(), "anna.svensson@uddevalla.se");
}

#[test]
fn malformed_work_emails_are_refused() {
    for raw in [
        "",
        "anna",
        "anna@uddevalla",
        "@uddevalla.se",
        "anna svensson@uddevalla.se",
        "anna@.se",
        "anna@uddevalla.se.",
        "anna@b@uddevalla.se",
    ] {
        assert!(WorkEmail::parse(raw).is_err(), "{raw:?} should be refused");
    }
    let too_long = format!("{}@uddevalla.se", "a".repeat(250));
    assert!(WorkEmail::parse(&too_long).is_err());
}

#[test]
fn a_seat_limit_is_between_1_and_10000() {
    assert!(SeatLimit::new(0).is_err());
    assert_eq!(SeatLimit::new(1).unwrap().get(), 1);
    assert_eq!(SeatLimit::new(10_000).unwrap().get(), 10_000);
    assert!(SeatLimit::new(10_001).is_err());
    assert!(serde_json::from_str::<SeatLimit>("0").is_err(), "stored or sent, zero seats is refused");
}

#[test]
fn a_course_code_is_upper_cased_and_limited_to_letters_digits_dashes_and_underscores() {
    assert_eq!(CourseCode::parse(" lvu-grund ").unwrap().as_str(), "LVU-GRUND");
    assert_eq!(CourseCode::parse("Familjeterapi_1").unwrap().as_str(), "FAMILJETERAPI_1");
    for raw in ["", "  ", "LVU GRUND", "LVU/GRUND", "FÖRHÅLLNINGSSÄTT", &"X".repeat(65)] {
        assert!(CourseCode::parse(raw).is_err(), "{raw:?} should be refused");
    }
    assert!(CourseCode::parse(&"X".repeat(64)).is_ok());
}

#[test]
fn a_municipality_id_is_a_lower_case_slug() {
    assert_eq!(MunicipalityId::parse("Dals-Ed").unwrap().as_str(), "dals-ed");
    assert!(MunicipalityId::parse("Åmål").is_err(), "non-ASCII letters are not slugs");
    assert!(MunicipalityId::parse("Lilla Edet").is_err());
    assert_eq!(serde_json::from_str::<MunicipalityId>("\"UDDEVALLA\"").unwrap(), muni("uddevalla"));
}

#[test]
fn every_member_municipality_name_slugifies_to_a_distinct_valid_id() {
    let ids: Vec<MunicipalityId> = FYRBODAL
        .iter()
        .chain(GR.iter())
        .map(|name| MunicipalityId::parse(&slugify(name)).unwrap_or_else(|e| panic!("{name}: {e}")))
        .collect();
    assert_eq!(slugify("Åmål"), "amal");
    assert_eq!(slugify("Lilla Edet"), "lilla-edet");
    assert_eq!(slugify("Öckerö"), "ockero");
    let mut distinct = ids.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 27);
}

#[test]
fn a_text_is_trimmed_and_never_empty() {
    assert_eq!(Text::parse("  LVU grund ").unwrap().as_str(), "LVU grund");
    assert!(Text::parse("   ").is_err());
    assert!(Text::parse(&"å".repeat(Text::MAX_LINE)).is_ok(), "the limit counts characters, not bytes");
    assert!(Text::parse(&"a".repeat(Text::MAX_LINE + 1)).is_err());
    assert!(Text::prose(&"å".repeat(Text::MAX)).is_ok());
    assert!(Text::prose(&"a".repeat(Text::MAX + 1)).is_err());
}

#[test]
fn a_session_ends_after_it_starts_and_teaches_at_most_its_length() {
    let start = t("2027-09-06T07:00:00Z");
    let end = t("2027-09-06T10:00:00Z");
    assert!(Session::new(start, end, 180).is_ok());
    assert!(Session::new(start, end, 181).is_err());
    assert!(Session::new(start, end, 0).is_err());
    assert!(Session::new(end, start, 60).is_err());
    assert!(Session::new(start, start, 1).is_err());
}

// ---------------------------------------------------------------------------------------
// Staff status, prerequisites, charging, certificates
// ---------------------------------------------------------------------------------------

#[test]
fn only_active_staff_may_be_registered() {
    assert_eq!(staff_may_be_registered(StaffStatus::Active), Ok(()));
    assert_eq!(staff_may_be_registered(StaffStatus::Paused), Err(OfferingError::StaffPaused));
    assert_eq!(staff_may_be_registered(StaffStatus::Removed), Err(OfferingError::StaffRemoved));
    assert_eq!(staff_may_be_registered(StaffStatus::Erased), Err(OfferingError::StaffErased));
}

fn past(course: &str, completed: bool, confirmed: bool, ends_at: &str) -> PastParticipation {
    PastParticipation { offering: offering(0x55), course: code(course), completed, confirmed, ends_at: t(ends_at) }
}

#[test]
fn prerequisites_are_met_by_completion_or_a_confirmed_seat_ending_before_this_offering_starts() {
    let starts = t("2027-09-06T07:00:00Z");
    let required = [code("LVU-GRUND")];
    let missing = |history: &[PastParticipation]| missing_prerequisites(&required, history, starts);

    assert_eq!(missing(&[]), vec![code("LVU-GRUND")]);
    assert!(missing(&[past("LVU-GRUND", true, false, "2026-05-01T15:00:00Z")]).is_empty(), "completed");
    assert!(
        missing(&[past("LVU-GRUND", true, true, "2027-12-01T15:00:00Z")]).is_empty(),
        "completed counts whenever it ended"
    );
    assert!(missing(&[past("LVU-GRUND", false, true, "2027-09-01T15:00:00Z")]).is_empty(), "confirmed, ends before");
    assert!(missing(&[past("LVU-GRUND", false, true, "2027-09-06T07:00:00Z")]).is_empty(), "ends as this one starts");
    assert_eq!(missing(&[past("LVU-GRUND", false, true, "2027-09-06T07:01:00Z")]), vec![code("LVU-GRUND")]);
    assert_eq!(missing(&[past("LVU-GRUND", false, false, "2027-09-01T15:00:00Z")]), vec![code("LVU-GRUND")]);
    assert_eq!(missing(&[past("BBIC", true, true, "2027-01-01T15:00:00Z")]), vec![code("LVU-GRUND")]);
}

#[test]
fn every_unmet_prerequisite_is_named_in_the_order_required() {
    let starts = t("2027-09-06T07:00:00Z");
    let required = [code("FAMILJETERAPI-1"), code("LVU-GRUND"), code("TRAUMA-GRUND")];
    let history = [past("LVU-GRUND", true, true, "2027-03-01T15:00:00Z")];
    assert_eq!(missing_prerequisites(&required, &history, starts), vec![code("FAMILJETERAPI-1"), code("TRAUMA-GRUND")]);
}

#[test]
fn only_giving_up_a_confirmed_seat_is_charged() {
    assert!(cancellation_is_charged(true));
    assert!(!cancellation_is_charged(false));
}

#[test]
fn a_certificate_number_names_course_term_offering_and_ordinal() {
    let id = OfferingId(Uuid::parse_str("3f2a9c1b-04d2-4e6f-8a1b-2c3d4e5f6a7b").unwrap());
    let number = certificate_number(&code("LVU-GRUND"), Term::parse("HT2027").unwrap(), id, 7);
    assert_eq!(number, "LVU-GRUND-HT2027-3F2A9C1B04D2-007");
    assert_ne!(number, certificate_number(&code("LVU-GRUND"), Term::parse("HT2027").unwrap(), id, 8));
    let other = OfferingId(Uuid::parse_str("11111111-2222-4333-8444-555555555555").unwrap());
    assert_ne!(number, certificate_number(&code("LVU-GRUND"), Term::parse("HT2027").unwrap(), other, 7));
}

// ---------------------------------------------------------------------------------------
// Fair allocation
// ---------------------------------------------------------------------------------------

#[test]
fn fair_allocation_gives_every_municipalitys_first_request_a_seat_before_anyones_second() {
    // Bengtsfors registered all four before the others: first come first served would
    // have given it every seat.
    let requests = [
        request(11, "bengtsfors"),
        request(12, "bengtsfors"),
        request(13, "bengtsfors"),
        request(14, "bengtsfors"),
        request(21, "dals-ed"),
        request(22, "dals-ed"),
        request(31, "amal"),
    ];
    for n in 0..20 {
        let allocation = fair_allocation(offering(n), 4, &requests);
        let firsts = [staff(11), staff(21), staff(31)];
        assert!(firsts.iter().all(|f| allocation.confirmed[..3].contains(f)), "{allocation:?}");
        // Within each municipality its own priority order holds.
        let position =
            |s: u128| allocation.confirmed.iter().chain(&allocation.waitlisted).position(|x| *x == staff(s)).unwrap();
        assert!(position(11) < position(12) && position(12) < position(13) && position(13) < position(14));
        assert!(position(21) < position(22));
        assert_eq!(allocation.confirmed.len() + allocation.waitlisted.len(), 7);
        assert_eq!(allocation.confirmed.len(), 4);
    }
}

#[test]
fn fair_allocation_puts_late_requests_after_all_in_time_ones_first_come_first_served() {
    let requests = [
        PendingRequest { staff: staff(1), municipality: muni("orust"), late: true },
        request(2, "tanum"),
        PendingRequest { staff: staff(3), municipality: muni("tanum"), late: true },
        request(4, "orust"),
        request(5, "tanum"),
    ];
    let allocation = fair_allocation(offering(1), 3, &requests);
    let all: Vec<StaffId> = allocation.confirmed.iter().chain(&allocation.waitlisted).copied().collect();
    assert_eq!(all[3..], [staff(1), staff(3)]);
    assert_eq!(allocation.waitlisted, vec![staff(1), staff(3)]);
    assert!(!allocation.confirmed.contains(&staff(1)));
}

#[test]
fn fair_allocation_with_more_seats_than_requests_confirms_everyone_and_no_seats_confirms_nobody() {
    let requests = [request(1, "orust"), request(2, "tanum"), request(3, "tanum")];
    let plenty = fair_allocation(offering(1), 10, &requests);
    assert_eq!(plenty.confirmed.len(), 3);
    assert!(plenty.waitlisted.is_empty());
    let none = fair_allocation(offering(1), 0, &requests);
    assert!(none.confirmed.is_empty());
    assert_eq!(none.waitlisted.len(), 3);
    let empty = fair_allocation(offering(1), 5, &[]);
    assert!(empty.confirmed.is_empty() && empty.waitlisted.is_empty() && empty.round_order.is_empty());
}

#[test]
fn fair_allocation_round_order_is_a_lottery_that_differs_between_offerings_but_is_reproducible() {
    let municipalities: Vec<String> = FYRBODAL.iter().map(|name| slugify(name)).collect();
    let requests: Vec<PendingRequest> =
        municipalities.iter().enumerate().map(|(i, m)| request(i as u128 + 1, m)).collect();
    let first = OfferingId(Uuid::parse_str("3f2a9c1b-04d2-4e6f-8a1b-2c3d4e5f6a7b").unwrap());
    let second = OfferingId(Uuid::parse_str("a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d").unwrap());

    let a = fair_allocation(first, 5, &requests);
    let b = fair_allocation(second, 5, &requests);
    assert_ne!(a.round_order, b.round_order, "the same municipalities take turns in another order");
    assert_eq!(a, fair_allocation(first, 5, &requests), "anyone can recompute the lottery");

    // The same offering's lottery does not depend on the order requests arrived in.
    let mut reversed = requests.clone();
    reversed.reverse();
    assert_eq!(fair_allocation(first, 5, &reversed).round_order, a.round_order);

    // No municipality is always first.
    let firsts: std::collections::BTreeSet<MunicipalityId> =
        (0..40u128).map(|n| fair_allocation(offering(n), 5, &requests).round_order[0].clone()).collect();
    assert!(firsts.len() > 3, "first turn went only to {firsts:?}");

    // With one request each, the seats follow the round order exactly.
    let round: Vec<StaffId> =
        a.round_order.iter().map(|m| requests.iter().find(|r| r.municipality == *m).unwrap().staff).collect();
    assert_eq!(a.confirmed, round[..5].to_vec());
    assert_eq!(a.waitlisted, round[5..].to_vec());
}
