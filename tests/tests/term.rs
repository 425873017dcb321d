//! A term in use (issue 22): what a course office meets in its first term, on both
//! backends. Each scenario walks the term through the public use cases and asserts what
//! a coordinator, the course office or a trainer would notice.

use kurslogg::app::{AppError, LineStatus, OfferingView};
use kurslogg_domain::StaffId;
use kurslogg_tests::*;

conformance!(scenario_late_registration_closes_when_the_first_session_starts,);

// ----- helpers -----

fn status_of(view: &OfferingView, staff: StaffId) -> Option<&str> {
    let id = staff.to_string();
    view.registrations.iter().find(|r| r.staff_id == id).map(|r| r.status.as_str())
}

/// The refusal's code and its human message.
fn refusal(result: Result<impl std::fmt::Debug, AppError>) -> (String, String) {
    match result {
        Err(AppError::Refused { code, message, .. }) => (code, message),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

// ----- 1. late registration ends -----

/// Late registration closes when the offering's first session starts: before then a
/// late registration takes a free seat; from then on it is refused with its own code and
/// a Swedish reason, nothing is registered and nothing charged, also for an offering
/// whose sessions are all over but which is not completed (attendance missing).
async fn scenario_late_registration_closes_when_the_first_session_starts(backend: Backend) {
    let clock = TestClock::at(spring_2027());
    let (app, _guard) = fresh_app(backend, &clock).await;
    let f = Fyrbodal::build(&app, 5).await;
    let u = f.uddevalla.clone();
    publish(&app, f.package).await;
    app.register(&coordinator(&u), line(f.member(&u, 1), f.lvu_grund)).await.expect("in time");
    clock.set(after_ht2027_deadline());
    app.close_registration(&course_office(), f.package).await.expect("close");

    // The minute before the first session: a late registration takes a free seat.
    clock.set(lvu_grund_first_session() - chrono::Duration::minutes(1));
    let late = app.register(&coordinator(&u), line(f.member(&u, 2), f.lvu_grund)).await.expect("late, in time");
    assert_eq!(late.status, LineStatus::Confirmed);

    // The first session has started: no more.
    clock.set(lvu_grund_first_session());
    let (code, message) = refusal(app.register(&coordinator(&u), line(f.member(&u, 3), f.lvu_grund)).await);
    assert_eq!(code, "late_registration_closed");
    assert!(message.contains("första kurstillfället"), "a Swedish reason: {message}");

    // Every session is over, attendance is missing so it is not completed: still no.
    clock.set(utc(2027, 10, 20, 9, 0));
    let receipt = app
        .register_collectively(&coordinator(&u), u.clone(), vec![line(f.member(&u, 4), f.lvu_grund)])
        .await
        .expect("answered line by line");
    assert_eq!(receipt.lines[0].status, LineStatus::Refused);
    assert_eq!(receipt.lines[0].code.as_deref(), Some("late_registration_closed"));
    let view = app.offering(f.lvu_grund).await.expect("offering");
    assert_eq!(status_of(&view, f.member(&u, 3)), None, "nothing registered");
    assert_eq!(status_of(&view, f.member(&u, 4)), None, "nothing registered");
    assert_eq!(view.registrations.iter().filter(|r| r.status == "confirmed").count(), 2);
    assert_eq!(view.state, "allocated", "not completed");
}
