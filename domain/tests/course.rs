//! Catalogue courses: stable codes, prerequisites, revisions.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use cqrs_es::test::TestFramework;
use kurslogg_domain::course::{Course, CourseCommand, CourseError, CourseEvent};
use kurslogg_domain::{Clock, CourseCode, FixedClock, Refusal, RefusalKind, Text};

fn at(now: DateTime<Utc>) -> TestFramework<Course> {
    let clock: Arc<dyn Clock> = Arc::new(FixedClock(now));
    TestFramework::with(clock)
}

fn now() -> DateTime<Utc> {
    "2027-02-01T09:00:00Z".parse().unwrap()
}

fn code(raw: &str) -> CourseCode {
    CourseCode::parse(raw).unwrap()
}

fn text(raw: &str) -> Text {
    Text::parse(raw).unwrap()
}

fn added() -> CourseEvent {
    CourseEvent::CourseAdded {
        code: code("LVU-FORTS"),
        title: text("LVU fortsättning"),
        description: text("Två dagar om LVU i praktiken."),
        prerequisites: vec![code("LVU-GRUND")],
    }
}

fn revise(prerequisites: Vec<CourseCode>) -> CourseCommand {
    CourseCommand::ReviseCourse {
        title: text("LVU fortsättning"),
        description: text("Två dagar om LVU i praktiken."),
        prerequisites,
    }
}

#[tokio::test]
async fn a_course_is_added_with_its_prerequisites_sorted_once_each() {
    at(now())
        .given_no_previous_events()
        .when_async(CourseCommand::AddCourse {
            code: code("FAMILJETERAPI-2"),
            title: text("Familjeterapi 2"),
            description: text("Sex dagar."),
            prerequisites: vec![code("TRAUMA-GRUND"), code("FAMILJETERAPI-1"), code("trauma-grund")],
        })
        .await
        .then_expect_events(vec![CourseEvent::CourseAdded {
            code: code("FAMILJETERAPI-2"),
            title: text("Familjeterapi 2"),
            description: text("Sex dagar."),
            prerequisites: vec![code("FAMILJETERAPI-1"), code("TRAUMA-GRUND")],
        }]);
}

#[tokio::test]
async fn a_course_code_is_added_only_once() {
    at(now())
        .given(vec![added()])
        .when_async(CourseCommand::AddCourse {
            code: code("LVU-FORTS"),
            title: text("Något annat"),
            description: text("Något annat."),
            prerequisites: vec![],
        })
        .await
        .then_expect_error(CourseError::AlreadyExists);
}

#[tokio::test]
async fn a_course_cannot_be_its_own_prerequisite() {
    at(now())
        .given_no_previous_events()
        .when_async(CourseCommand::AddCourse {
            code: code("LVU-GRUND"),
            title: text("LVU grund"),
            description: text("En dag."),
            prerequisites: vec![code("lvu-grund")],
        })
        .await
        .then_expect_error(CourseError::OwnPrerequisite);
    at(now())
        .given(vec![added()])
        .when_async(revise(vec![code("LVU-GRUND"), code("LVU-FORTS")]))
        .await
        .then_expect_error(CourseError::OwnPrerequisite);
    assert_eq!(CourseError::OwnPrerequisite.kind(), RefusalKind::Rule);
}

#[tokio::test]
async fn revising_a_course_with_no_change_emits_nothing() {
    at(now()).given(vec![added()]).when_async(revise(vec![code("LVU-GRUND")])).await.then_expect_events(vec![]);
    // The same prerequisites written differently are no change either.
    at(now())
        .given(vec![added()])
        .when_async(revise(vec![code("lvu-grund"), code("LVU-GRUND")]))
        .await
        .then_expect_events(vec![]);
}

#[tokio::test]
async fn revising_a_course_records_the_new_details() {
    at(now()).given(vec![added()]).when_async(revise(vec![code("LVU-GRUND"), code("BBIC")])).await.then_expect_events(
        vec![CourseEvent::CourseRevised {
            title: text("LVU fortsättning"),
            description: text("Två dagar om LVU i praktiken."),
            prerequisites: vec![code("BBIC"), code("LVU-GRUND")],
        }],
    );
    at(now())
        .given(vec![added()])
        .when_async(CourseCommand::ReviseCourse {
            title: text("LVU fortsättning (ny)"),
            description: text("Två dagar om LVU i praktiken."),
            prerequisites: vec![code("LVU-GRUND")],
        })
        .await
        .then_expect_events(vec![CourseEvent::CourseRevised {
            title: text("LVU fortsättning (ny)"),
            description: text("Två dagar om LVU i praktiken."),
            prerequisites: vec![code("LVU-GRUND")],
        }]);
}

#[tokio::test]
async fn revising_a_course_not_in_the_catalogue_is_refused_as_not_found() {
    at(now()).given_no_previous_events().when_async(revise(vec![])).await.then_expect_error(CourseError::NotFound);
    assert_eq!(CourseError::NotFound.code(), "not_found");
    assert_eq!(CourseError::NotFound.kind(), RefusalKind::NotFound);
}

#[tokio::test]
async fn a_courses_usual_run_is_set_once_and_setting_it_again_changes_nothing() {
    use kurslogg_domain::course::CourseDefaults;
    use kurslogg_domain::offering::TargetGroups;
    use kurslogg_domain::{CompletionThreshold, ExperienceBand, Sek};
    let defaults = CourseDefaults {
        target_groups: TargetGroups { experience_bands: vec![ExperienceBand::Years3To5], staff_groups: vec![] },
        competence_areas: vec![text("Juridik")],
        completion_threshold: CompletionThreshold::new(75).unwrap(),
        price: Sek(2500),
    };
    at(now())
        .given(vec![added()])
        .when_async(CourseCommand::SetDefaults { defaults: defaults.clone() })
        .await
        .then_expect_events(vec![CourseEvent::CourseDefaultsSet { defaults: defaults.clone() }]);
    at(now())
        .given(vec![added(), CourseEvent::CourseDefaultsSet { defaults: defaults.clone() }])
        .when_async(CourseCommand::SetDefaults { defaults: defaults.clone() })
        .await
        .then_expect_events(vec![]);
    at(now())
        .given_no_previous_events()
        .when_async(CourseCommand::SetDefaults { defaults })
        .await
        .then_expect_error(CourseError::NotFound);
}
