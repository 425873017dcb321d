//! The federation's competence plan: set, revised (every version an event), only
//! catalogue courses; which year's plan applies; where a person stands on a course.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use cqrs_es::test::TestFramework;
use kurslogg_domain::competence::{
    applicable_year, completed_outside_plan, standing, BandPlan, CatalogueFacts, CompetencePlan, CompetencePlanCommand,
    CompetencePlanError, CompetencePlanEvent, CompetencePlanId, CourseStanding, Outcome, Participation,
    RegistrationState, Standing,
};
use kurslogg_domain::{
    Clock, CourseCode, ExperienceBand, FederationId, FixedClock, OfferingId, Refusal, RefusalKind, Text,
};
use uuid::Uuid;

use ExperienceBand::{New0To2, Over5, Supervisors, Years3To5};

fn plans() -> TestFramework<CompetencePlan> {
    let clock: Arc<dyn Clock> = Arc::new(FixedClock("2027-01-10T09:00:00Z".parse().unwrap()));
    TestFramework::with(clock)
}

fn code(raw: &str) -> CourseCode {
    CourseCode::parse(raw).unwrap()
}

fn text(raw: &str) -> Text {
    Text::parse(raw).unwrap()
}

fn fyrbodal() -> FederationId {
    FederationId::parse("fyrbodal").unwrap()
}

fn plan_id() -> CompetencePlanId {
    CompetencePlanId::new(fyrbodal(), 2027).unwrap()
}

/// The catalogue knows these courses.
fn catalogue(codes: &[&str]) -> CatalogueFacts {
    CatalogueFacts { known: codes.iter().map(|c| code(c)).collect::<BTreeSet<_>>() }
}

fn all_courses() -> CatalogueFacts {
    catalogue(&["INTRO", "BBIC", "SAMTAL-MED-BARN", "LVU-GRUND", "LVU-FORTS", "ANKNYTNING", "TRAUMA-GRUND"])
}

fn band(band: ExperienceBand, courses: &[&str], needs: &[&str], note: Option<&str>) -> BandPlan {
    BandPlan {
        band,
        courses: courses.iter().map(|c| code(c)).collect(),
        local_needs: needs.iter().map(|n| text(n)).collect(),
        note: note.map(text),
    }
}

fn new_staff() -> BandPlan {
    band(New0To2, &["INTRO", "BBIC", "LVU-GRUND"], &["Skriftlig introduktionsplan", "Mentor/fadder"], None)
}

fn deepening() -> BandPlan {
    band(Years3To5, &["ANKNYTNING", "LVU-FORTS"], &[], Some("Familjeterapi när den erbjuds."))
}

fn set(bands: Vec<BandPlan>) -> CompetencePlanCommand {
    CompetencePlanCommand::SetCompetencePlan { id: plan_id(), bands, catalogue: all_courses() }
}

fn revise(bands: Vec<BandPlan>) -> CompetencePlanCommand {
    CompetencePlanCommand::ReviseCompetencePlan { bands, catalogue: all_courses() }
}

fn was_set() -> CompetencePlanEvent {
    CompetencePlanEvent::CompetencePlanSet { federation: fyrbodal(), year: 2027, bands: vec![new_staff(), deepening()] }
}

#[tokio::test]
async fn a_plan_is_set_with_its_bands_in_band_order_and_its_courses_in_the_order_given() {
    plans()
        .given_no_previous_events()
        .when_async(set(vec![deepening(), new_staff()]))
        .await
        .then_expect_events(vec![was_set()]);
}

#[tokio::test]
async fn a_plan_is_set_only_once_then_revised() {
    plans()
        .given(vec![was_set()])
        .when_async(set(vec![new_staff()]))
        .await
        .then_expect_error(CompetencePlanError::AlreadyExists);
    assert_eq!(CompetencePlanError::AlreadyExists.kind(), RefusalKind::Conflict);
}

#[tokio::test]
async fn a_revision_is_a_new_version_holding_the_whole_plan() {
    let revised = vec![
        band(New0To2, &["INTRO", "SAMTAL-MED-BARN"], &["Skriftlig introduktionsplan"], None),
        deepening(),
        band(Over5, &["TRAUMA-GRUND"], &[], Some("Behoven är mer individuella.")),
    ];
    plans()
        .given(vec![was_set()])
        .when_async(revise(revised.clone()))
        .await
        .then_expect_events(vec![CompetencePlanEvent::CompetencePlanRevised { version: 2, bands: revised.clone() }]);
    // The next revision is version 3: versions count every event, none is overwritten.
    plans()
        .given(vec![was_set(), CompetencePlanEvent::CompetencePlanRevised { version: 2, bands: revised.clone() }])
        .when_async(revise(vec![new_staff()]))
        .await
        .then_expect_events(vec![CompetencePlanEvent::CompetencePlanRevised { version: 3, bands: vec![new_staff()] }]);
}

#[tokio::test]
async fn revising_to_the_same_plan_records_nothing() {
    plans().given(vec![was_set()]).when_async(revise(vec![deepening(), new_staff()])).await.then_expect_events(vec![]);
}

#[tokio::test]
async fn a_plan_not_set_cannot_be_revised() {
    plans()
        .given_no_previous_events()
        .when_async(revise(vec![new_staff()]))
        .await
        .then_expect_error(CompetencePlanError::NotFound);
    assert_eq!(CompetencePlanError::NotFound.code(), "not_found");
}

#[tokio::test]
async fn only_catalogue_courses_may_be_recommended() {
    let unknown = band(New0To2, &["INTRO", "MENTORSUTBILDNING", "LEDARSKAP", "MENTORSUTBILDNING"], &[], None);
    plans()
        .given_no_previous_events()
        .when_async(CompetencePlanCommand::SetCompetencePlan {
            id: plan_id(),
            bands: vec![band(Years3To5, &["LEDARSKAP"], &[], None), unknown.clone()],
            catalogue: catalogue(&["INTRO"]),
        })
        .await
        .then_expect_error(CompetencePlanError::DuplicateCourse { band: New0To2, course: code("MENTORSUTBILDNING") });
    plans()
        .given(vec![was_set()])
        .when_async(CompetencePlanCommand::ReviseCompetencePlan {
            bands: vec![band(Supervisors, &["LEDARSKAP", "INTRO", "MENTORSUTBILDNING"], &[], None)],
            catalogue: catalogue(&["INTRO"]),
        })
        .await
        .then_expect_error(CompetencePlanError::UnknownCourses(vec![code("LEDARSKAP"), code("MENTORSUTBILDNING")]));
    let refusal = CompetencePlanError::UnknownCourses(vec![code("LEDARSKAP")]);
    assert_eq!(refusal.code(), "unknown_course");
    assert_eq!(refusal.kind(), RefusalKind::Rule);
    assert_eq!(
        refusal.to_string(),
        "Kursen finns inte i kurskatalogen: LEDARSKAP. Lägg till den i katalogen först, eller rätta kurskoden."
    );
}

#[tokio::test]
async fn each_band_once_and_every_band_says_something() {
    plans()
        .given_no_previous_events()
        .when_async(set(vec![new_staff(), deepening(), band(New0To2, &["BBIC"], &[], None)]))
        .await
        .then_expect_error(CompetencePlanError::DuplicateBand(New0To2));
    plans()
        .given_no_previous_events()
        .when_async(set(vec![new_staff(), band(Over5, &[], &[], None)]))
        .await
        .then_expect_error(CompetencePlanError::EmptyBand(Over5));
    plans().given_no_previous_events().when_async(set(vec![])).await.then_expect_error(CompetencePlanError::EmptyPlan);
    // A band may say only a note, or only local needs.
    plans()
        .given_no_previous_events()
        .when_async(set(vec![band(Over5, &[], &[], Some("Individuellt."))]))
        .await
        .then_expect_events(vec![CompetencePlanEvent::CompetencePlanSet {
            federation: fyrbodal(),
            year: 2027,
            bands: vec![band(Over5, &[], &[], Some("Individuellt."))],
        }]);
    assert_eq!(
        CompetencePlanError::DuplicateBand(Years3To5).to_string(),
        "Erfarenhetsgruppen 3–5 år står mer än en gång i planen."
    );
}

#[test]
fn a_plan_id_is_the_federation_and_the_year() {
    let id = CompetencePlanId::parse("Fyrbodal-2027").unwrap();
    assert_eq!((id.federation().as_str(), id.year()), ("fyrbodal", 2027));
    assert_eq!(id.to_string(), "fyrbodal-2027");
    let gr = CompetencePlanId::parse("goteborgs-regionen-2028").unwrap();
    assert_eq!((gr.federation().as_str(), gr.year()), ("goteborgs-regionen", 2028));
    for bad in ["fyrbodal", "fyrbodal-27", "fyrbodal-1999", "-2027", "fyr bodal-2027", "fyrbodal-2027x", ""] {
        let refused = CompetencePlanId::parse(bad).unwrap_err();
        assert!(refused.0.contains("t.ex. fyrbodal-2027") || refused.0.contains("mellan 2000 och 2200"), "{bad}");
    }
    assert_eq!(serde_json::to_value(&id).unwrap(), serde_json::json!("fyrbodal-2027"));
    assert_eq!(FederationId::of_name("Göteborgsregionen").unwrap().as_str(), "goteborgsregionen");
}

#[test]
fn the_latest_plan_not_after_the_year_applies() {
    assert_eq!(applicable_year([2026, 2027, 2028], 2027), Some(2027));
    assert_eq!(applicable_year([2025, 2028], 2027), Some(2025), "a plan stands until the next one");
    assert_eq!(applicable_year([2028, 2029], 2027), None, "no plan yet");
    assert_eq!(applicable_year([], 2027), None);
}

// ----- standing -----

fn at(rfc3339: &str) -> DateTime<Utc> {
    rfc3339.parse().unwrap()
}

fn offering(n: u128) -> OfferingId {
    OfferingId(Uuid::from_u128(n))
}

fn on(n: u128, course: &str, status: RegistrationState, outcome: Option<Outcome>, starts: &str) -> Participation {
    Participation {
        offering: offering(n),
        course: code(course),
        status,
        offering_cancelled: false,
        outcome,
        starts_at: at(starts),
    }
}

use RegistrationState::{Cancelled, Confirmed, Requested, TransferredAway, Waiting};

#[test]
fn a_course_never_registered_for_is_not_yet_taken() {
    let history = [on(1, "BBIC", Confirmed, Some(Outcome::Completed), "2027-09-01T07:00:00Z")];
    assert_eq!(standing(&code("INTRO"), &history), CourseStanding { standing: Standing::NotYet, offering: None });
    assert_eq!(standing(&code("INTRO"), &[]).standing, Standing::NotYet);
}

#[test]
fn a_registration_moves_from_requested_to_confirmed_to_completed() {
    let course = code("INTRO");
    let requested = on(1, "INTRO", Requested, None, "2027-09-01T07:00:00Z");
    assert_eq!(standing(&course, std::slice::from_ref(&requested)).standing, Standing::Requested);
    let confirmed = Participation { status: Confirmed, ..requested.clone() };
    assert_eq!(standing(&course, std::slice::from_ref(&confirmed)).standing, Standing::Confirmed);
    let completed = Participation { outcome: Some(Outcome::Completed), ..confirmed.clone() };
    assert_eq!(
        standing(&course, &[completed]),
        CourseStanding { standing: Standing::Completed, offering: Some(offering(1)) }
    );
    let below = Participation { outcome: Some(Outcome::NotCompleted), ..confirmed };
    assert_eq!(standing(&course, &[below]).standing, Standing::NotCompleted);
    let waiting = Participation { status: Waiting, ..requested };
    assert_eq!(standing(&course, &[waiting]).standing, Standing::Waiting);
}

#[test]
fn cancelled_given_away_or_called_off_is_cancelled() {
    let course = code("INTRO");
    for p in [
        on(1, "INTRO", Cancelled, None, "2027-09-01T07:00:00Z"),
        on(1, "INTRO", TransferredAway, None, "2027-09-01T07:00:00Z"),
        Participation { offering_cancelled: true, ..on(1, "INTRO", Confirmed, None, "2027-09-01T07:00:00Z") },
    ] {
        assert_eq!(standing(&course, std::slice::from_ref(&p)).standing, Standing::Cancelled, "{p:?}");
    }
}

#[test]
fn the_best_registration_counts_done_before_running_before_tried_before_cancelled() {
    let course = code("LVU-GRUND");
    let failed = on(1, "LVU-GRUND", Confirmed, Some(Outcome::NotCompleted), "2027-03-01T07:00:00Z");
    let cancelled = on(2, "LVU-GRUND", Cancelled, None, "2027-05-01T07:00:00Z");
    let waiting = on(3, "LVU-GRUND", Waiting, None, "2027-09-01T07:00:00Z");
    let seat = on(4, "LVU-GRUND", Confirmed, None, "2027-11-01T07:00:00Z");
    let done = on(5, "LVU-GRUND", Confirmed, Some(Outcome::Completed), "2026-03-01T07:00:00Z");
    let other = on(6, "BBIC", Confirmed, Some(Outcome::Completed), "2027-03-01T07:00:00Z");
    let history = vec![failed.clone(), cancelled.clone(), waiting.clone(), seat.clone(), other.clone()];
    assert_eq!(
        standing(&course, &history),
        CourseStanding { standing: Standing::Confirmed, offering: Some(offering(4)) }
    );
    let mut with_done = history.clone();
    with_done.push(done);
    assert_eq!(standing(&course, &with_done).offering, Some(offering(5)));
    assert_eq!(standing(&course, &[failed.clone(), cancelled.clone()]).standing, Standing::NotCompleted);
    assert_eq!(standing(&course, &[cancelled, other]).standing, Standing::Cancelled);
    // Two running: the next one counts; two tries: the latest.
    let earlier_seat = on(7, "LVU-GRUND", Confirmed, None, "2027-10-01T07:00:00Z");
    assert_eq!(standing(&course, &[seat, earlier_seat]).offering, Some(offering(7)));
    let later_try = on(8, "LVU-GRUND", Confirmed, Some(Outcome::NotCompleted), "2027-04-01T07:00:00Z");
    assert_eq!(standing(&course, &[later_try, failed]).offering, Some(offering(8)));
}

#[test]
fn completed_courses_the_plan_does_not_recommend_are_listed_apart() {
    let history = [
        on(1, "INTRO", Confirmed, Some(Outcome::Completed), "2027-03-01T07:00:00Z"),
        on(2, "TRAUMA-GRUND", Confirmed, Some(Outcome::Completed), "2027-04-01T07:00:00Z"),
        on(3, "ANKNYTNING", Confirmed, Some(Outcome::NotCompleted), "2027-05-01T07:00:00Z"),
        on(4, "BBIC", Confirmed, None, "2027-09-01T07:00:00Z"),
    ];
    assert_eq!(completed_outside_plan(&[code("INTRO"), code("BBIC")], &history), vec![offering(2)]);
}
