//! The course package's lifecycle: draft → published → registration closed → archived.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use cqrs_es::test::TestFramework;
use kurslogg_domain::package::{CoursePackage, PackageCommand, PackageError, PackageEvent, PackagePhase};
use kurslogg_domain::{Clock, FixedClock, OfferingId, PackageId, Refusal, RefusalKind, Term, Text};
use uuid::Uuid;

fn t(rfc3339: &str) -> DateTime<Utc> {
    rfc3339.parse().unwrap()
}

fn at(now: DateTime<Utc>) -> TestFramework<CoursePackage> {
    let clock: Arc<dyn Clock> = Arc::new(FixedClock(now));
    TestFramework::with(clock)
}

fn text(raw: &str) -> Text {
    Text::parse(raw).unwrap()
}

fn package_id() -> PackageId {
    PackageId(Uuid::from_u128(0x9000))
}

fn offering(n: u128) -> OfferingId {
    OfferingId(Uuid::from_u128(n))
}

fn ht2027() -> Term {
    Term::parse("HT2027").unwrap()
}

/// HT2027's default deadline: 15 June 2027 23:59 Stockholm summer time.
fn deadline() -> DateTime<Utc> {
    t("2027-06-15T21:59:00Z")
}

fn in_spring() -> DateTime<Utc> {
    t("2027-02-01T09:00:00Z")
}

fn after_deadline() -> DateTime<Utc> {
    t("2027-06-16T09:00:00Z")
}

fn create(deadline: Option<DateTime<Utc>>) -> PackageCommand {
    PackageCommand::CreatePackage {
        id: package_id(),
        term: ht2027(),
        title: text("Utbildningspaket hösten 2027"),
        organiser: text("Fyrbodals kommunalförbund"),
        deadline,
        recorded_afterwards: false,
    }
}

fn created() -> PackageEvent {
    PackageEvent::PackageCreated {
        id: package_id(),
        term: ht2027(),
        title: text("Utbildningspaket hösten 2027"),
        organiser: text("Fyrbodals kommunalförbund"),
        deadline: deadline(),
        recorded_afterwards: false,
    }
}

fn draft_with_an_offering() -> Vec<PackageEvent> {
    vec![created(), PackageEvent::OfferingIncluded { offering: offering(1) }]
}

fn published() -> Vec<PackageEvent> {
    let mut events = draft_with_an_offering();
    events.push(PackageEvent::PackagePublished { at: in_spring() });
    events
}

fn closed() -> Vec<PackageEvent> {
    let mut events = published();
    events.push(PackageEvent::RegistrationClosed { at: after_deadline() });
    events
}

fn archived() -> Vec<PackageEvent> {
    let mut events = closed();
    events.push(PackageEvent::PackageArchived { at: t("2028-01-10T09:00:00Z") });
    events
}

fn wrong_phase(result: Result<Vec<PackageEvent>, PackageError>, expected: PackagePhase) {
    match result {
        Err(error @ PackageError::WrongPhase { phase, .. }) => {
            assert_eq!(phase, expected);
            assert_eq!(error.code(), "wrong_phase");
            assert_eq!(error.kind(), RefusalKind::Conflict);
        }
        other => panic!("expected WrongPhase in {expected:?}, got {other:?}"),
    }
}

#[tokio::test]
async fn a_package_is_created_as_a_draft_with_the_terms_default_deadline() {
    at(in_spring()).given_no_previous_events().when_async(create(None)).await.then_expect_events(vec![created()]);
}

#[tokio::test]
async fn a_package_can_set_its_own_deadline() {
    let own = t("2027-05-31T21:59:00Z");
    at(in_spring()).given_no_previous_events().when_async(create(Some(own))).await.then_expect_events(vec![
        PackageEvent::PackageCreated {
            id: package_id(),
            term: ht2027(),
            title: text("Utbildningspaket hösten 2027"),
            organiser: text("Fyrbodals kommunalförbund"),
            deadline: own,
            recorded_afterwards: false,
        },
    ]);
}

#[tokio::test]
async fn a_spring_package_defaults_to_15_december_of_the_year_before() {
    let events = at(in_spring())
        .given_no_previous_events()
        .when_async(PackageCommand::CreatePackage {
            id: package_id(),
            term: Term::parse("VT2028").unwrap(),
            title: text("Utbildningspaket våren 2028"),
            organiser: text("Göteborgsregionen"),
            deadline: None,
            recorded_afterwards: false,
        })
        .await
        .inspect_result()
        .unwrap();
    assert!(
        matches!(events.as_slice(), [PackageEvent::PackageCreated { deadline, .. }] if *deadline == t("2027-12-15T22:59:00Z")),
        "{events:?}"
    );
}

#[tokio::test]
async fn a_package_is_created_only_once() {
    at(in_spring())
        .given(vec![created()])
        .when_async(create(None))
        .await
        .then_expect_error(PackageError::AlreadyExists);
}

#[tokio::test]
async fn commands_on_a_package_never_created_are_refused_as_not_found() {
    for command in [
        PackageCommand::ChangeDeadline { deadline: deadline(), first_session: None },
        PackageCommand::IncludeOffering { offering: offering(1) },
        PackageCommand::Publish,
        PackageCommand::CloseRegistration,
        PackageCommand::Archive,
    ] {
        at(after_deadline())
            .given_no_previous_events()
            .when_async(command)
            .await
            .then_expect_error(PackageError::NotFound);
    }
    assert_eq!(PackageError::NotFound.kind(), RefusalKind::NotFound);
}

#[tokio::test]
async fn offerings_are_included_once_each() {
    at(in_spring())
        .given(vec![created()])
        .when_async(PackageCommand::IncludeOffering { offering: offering(1) })
        .await
        .then_expect_events(vec![PackageEvent::OfferingIncluded { offering: offering(1) }]);
    at(in_spring())
        .given(draft_with_an_offering())
        .when_async(PackageCommand::IncludeOffering { offering: offering(1) })
        .await
        .then_expect_events(vec![]);
}

#[tokio::test]
async fn an_archived_package_takes_no_new_offerings() {
    let result = at(t("2028-02-01T09:00:00Z"))
        .given(archived())
        .when_async(PackageCommand::IncludeOffering { offering: offering(2) })
        .await
        .inspect_result();
    wrong_phase(result, PackagePhase::Archived);
}

#[tokio::test]
async fn publishing_a_package_with_no_offerings_is_refused() {
    at(in_spring())
        .given(vec![created()])
        .when_async(PackageCommand::Publish)
        .await
        .then_expect_error(PackageError::NoOfferings);
}

#[tokio::test]
async fn a_draft_with_offerings_is_published() {
    at(in_spring())
        .given(draft_with_an_offering())
        .when_async(PackageCommand::Publish)
        .await
        .then_expect_events(vec![PackageEvent::PackagePublished { at: in_spring() }]);
}

#[tokio::test]
async fn only_a_draft_is_published() {
    let result = at(in_spring()).given(published()).when_async(PackageCommand::Publish).await.inspect_result();
    wrong_phase(result, PackagePhase::Published);
}

#[tokio::test]
async fn closing_registration_before_the_deadline_is_refused() {
    at(in_spring())
        .given(published())
        .when_async(PackageCommand::CloseRegistration)
        .await
        .then_expect_error(PackageError::DeadlineNotPassed);
    at(deadline())
        .given(published())
        .when_async(PackageCommand::CloseRegistration)
        .await
        .then_expect_error(PackageError::DeadlineNotPassed);
}

#[tokio::test]
async fn registration_closes_after_the_deadline() {
    at(after_deadline())
        .given(published())
        .when_async(PackageCommand::CloseRegistration)
        .await
        .then_expect_events(vec![PackageEvent::RegistrationClosed { at: after_deadline() }]);
}

#[tokio::test]
async fn closing_registration_follows_a_moved_deadline() {
    let mut given = published();
    given.push(PackageEvent::DeadlineChanged { from: deadline(), to: t("2027-06-30T21:59:00Z") });
    at(after_deadline())
        .given(given)
        .when_async(PackageCommand::CloseRegistration)
        .await
        .then_expect_error(PackageError::DeadlineNotPassed);
}

#[tokio::test]
async fn only_a_published_package_closes_registration() {
    let result = at(after_deadline())
        .given(draft_with_an_offering())
        .when_async(PackageCommand::CloseRegistration)
        .await
        .inspect_result();
    wrong_phase(result, PackagePhase::Draft);
    let result =
        at(after_deadline()).given(closed()).when_async(PackageCommand::CloseRegistration).await.inspect_result();
    wrong_phase(result, PackagePhase::RegistrationClosed);
}

#[tokio::test]
async fn a_package_is_archived_only_after_registration_closed() {
    let result = at(after_deadline()).given(published()).when_async(PackageCommand::Archive).await.inspect_result();
    wrong_phase(result, PackagePhase::Published);
    let result =
        at(after_deadline()).given(draft_with_an_offering()).when_async(PackageCommand::Archive).await.inspect_result();
    wrong_phase(result, PackagePhase::Draft);
    let later = t("2028-01-10T09:00:00Z");
    at(later)
        .given(closed())
        .when_async(PackageCommand::Archive)
        .await
        .then_expect_events(vec![PackageEvent::PackageArchived { at: later }]);
}

#[tokio::test]
async fn the_deadline_moves_while_the_package_is_a_draft_or_published() {
    let moved = t("2027-06-22T21:59:00Z");
    for given in [draft_with_an_offering(), published()] {
        at(in_spring())
            .given(given)
            .when_async(PackageCommand::ChangeDeadline { deadline: moved, first_session: None })
            .await
            .then_expect_events(vec![PackageEvent::DeadlineChanged { from: deadline(), to: moved }]);
    }
}

#[tokio::test]
async fn moving_the_deadline_to_where_it_is_emits_nothing() {
    at(in_spring())
        .given(published())
        .when_async(PackageCommand::ChangeDeadline { deadline: deadline(), first_session: None })
        .await
        .then_expect_events(vec![]);
}

#[tokio::test]
async fn a_deadline_can_be_extended_after_it_passed_but_not_set_in_the_past() {
    // Extending a passed deadline (registration not yet closed) reopens registration: allowed.
    let extended = t("2027-06-22T21:59:00Z");
    at(after_deadline())
        .given(published())
        .when_async(PackageCommand::ChangeDeadline { deadline: extended, first_session: None })
        .await
        .then_expect_events(vec![PackageEvent::DeadlineChanged { from: deadline(), to: extended }]);
    // Setting it to an instant already gone would close registration behind everyone's back.
    at(in_spring())
        .given(published())
        .when_async(PackageCommand::ChangeDeadline { deadline: t("2027-01-31T09:00:00Z"), first_session: None })
        .await
        .then_expect_error(PackageError::DeadlinePassed);
    assert_eq!(PackageError::DeadlinePassed.code(), "deadline_passed");
}

#[tokio::test]
async fn the_deadline_cannot_move_after_registration_closed() {
    let moved = t("2027-06-22T21:59:00Z");
    let result = at(after_deadline())
        .given(closed())
        .when_async(PackageCommand::ChangeDeadline { deadline: moved, first_session: None })
        .await
        .inspect_result();
    wrong_phase(result, PackagePhase::RegistrationClosed);
    let result = at(after_deadline())
        .given(archived())
        .when_async(PackageCommand::ChangeDeadline { deadline: moved, first_session: None })
        .await
        .inspect_result();
    wrong_phase(result, PackagePhase::Archived);
}

#[test]
fn replaying_a_packages_events_gives_its_phase_deadline_and_offerings() {
    use cqrs_es::Aggregate;
    let mut package = CoursePackage::default();
    let mut events = closed();
    events.insert(2, PackageEvent::OfferingIncluded { offering: offering(2) });
    events.insert(3, PackageEvent::DeadlineChanged { from: deadline(), to: t("2027-06-01T21:59:00Z") });
    for event in events {
        package.apply(event);
    }
    assert_eq!(package.phase, PackagePhase::RegistrationClosed);
    assert_eq!(package.deadline, t("2027-06-01T21:59:00Z"));
    assert_eq!(package.offerings, vec![offering(1), offering(2)]);
    assert_eq!(package.term, Some(ht2027()));
}

#[tokio::test]
async fn a_package_whose_deadline_has_passed_is_refused_unless_recorded_afterwards() {
    at(after_deadline())
        .given_no_previous_events()
        .when_async(create(None))
        .await
        .then_expect_error(PackageError::DeadlinePassed);
    let recorded = PackageCommand::CreatePackage {
        id: package_id(),
        term: ht2027(),
        title: text("Utbildningspaket hösten 2027"),
        organiser: text("Fyrbodals kommunalförbund"),
        deadline: None,
        recorded_afterwards: true,
    };
    let events = at(after_deadline()).given_no_previous_events().when_async(recorded).await.inspect_result().unwrap();
    assert!(matches!(events.as_slice(), [PackageEvent::PackageCreated { recorded_afterwards: true, .. }]));
}

#[tokio::test]
async fn the_deadline_cannot_move_past_the_first_session() {
    let first_session = Some(t("2027-09-06T07:00:00Z"));
    at(in_spring())
        .given(vec![created()])
        .when_async(PackageCommand::ChangeDeadline { deadline: t("2027-09-06T07:00:00Z"), first_session })
        .await
        .then_expect_error(PackageError::SessionBeforeDeadline);
}
