//! Storage conformance: the same user-visible behaviour on SQLite and PostgreSQL.
//!
//! Each scenario is written once and runs on both backends (`sqlite::<name>`,
//! `postgres::<name>`). Assertions go through the read use cases (`offering`, `package`,
//! `staff_registrations`) wherever a user would notice the behaviour, and through the
//! `events` table only for what users cannot see (metadata, positions, sequences).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use chrono::SecondsFormat;
use kurslogg::app::{AppError, LineStatus, OfferingView, RegistrationLine, RegistrationView};
use kurslogg_domain::offering::OfferingCommand;
use kurslogg_domain::staff::StaffCommand;
use kurslogg_domain::{Attendance, MunicipalityId, OfferingId, StaffId};
use kurslogg_tests::*;

conformance!(
    scenario_full_lifecycle,
    scenario_prerequisites,
    scenario_paused_and_removed_staff,
    scenario_event_metadata,
    scenario_idempotency,
    scenario_state_survives_restart,
);

// ----- helpers -----

fn registration(view: &OfferingView, staff: StaffId) -> &RegistrationView {
    let id = staff.to_string();
    view.registrations
        .iter()
        .find(|r| r.staff_id == id)
        .unwrap_or_else(|| panic!("{staff} is not on offering {} ({})", view.id, view.course))
}

fn status(view: &OfferingView, staff: StaffId) -> &str {
    &registration(view, staff).status
}

fn with_status<'a>(view: &'a OfferingView, status: &str) -> Vec<&'a str> {
    view.registrations.iter().filter(|r| r.status == status).map(|r| r.staff_id.as_str()).collect()
}

fn ids(staff: &[StaffId]) -> Vec<String> {
    staff.iter().map(ToString::to_string).collect()
}

fn json<T: serde::Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).expect("views serialise")
}

/// DOMAIN.md's fair allocation, recomputed independently: round-robin over the
/// municipalities in `round_order`, each municipality's in-time requests in its own
/// priority order, then late requests first come first served; the first `seats` get a
/// seat, the rest form the waiting list in that order.
fn expected_allocation(
    round_order: &[String],
    in_time: &[(MunicipalityId, StaffId)],
    late: &[StaffId],
    seats: usize,
) -> (Vec<StaffId>, Vec<StaffId>) {
    let mut queues: BTreeMap<String, VecDeque<StaffId>> = BTreeMap::new();
    for (municipality, staff) in in_time {
        queues.entry(municipality.to_string()).or_default().push_back(*staff);
    }
    let mut order = vec![];
    while queues.values().any(|q| !q.is_empty()) {
        for municipality in round_order {
            if let Some(staff) = queues.get_mut(municipality).and_then(VecDeque::pop_front) {
                order.push(staff);
            }
        }
    }
    order.extend_from_slice(late);
    let waiting = order.split_off(seats.min(order.len()));
    (order, waiting)
}

async fn register_as(
    app: &kurslogg::app::Kurslogg,
    municipality: &MunicipalityId,
    staff: StaffId,
    offering: OfferingId,
) -> LineStatus {
    app.register(&coordinator(municipality), line(staff, offering)).await.expect("registration answered").status
}

// ----- scenarios -----

/// The year's cycle from an empty package to certificates, as the course office, the
/// coordinators and a trainer live it.
async fn scenario_full_lifecycle(backend: Backend) {
    let clock = TestClock::at(spring_2027());
    let (app, guard) = fresh_app(backend, &clock).await;
    let f = Fyrbodal::build(&app, 6).await;
    let (u, t, d) = (f.uddevalla.clone(), f.trollhattan.clone(), f.dals_ed.clone());
    let (u0, u1, u2, u3, u4, u5) =
        (f.member(&u, 0), f.member(&u, 1), f.member(&u, 2), f.member(&u, 3), f.member(&u, 4), f.member(&u, 5));
    let (t0, t1, t2, t3, t4) = (f.member(&t, 0), f.member(&t, 1), f.member(&t, 2), f.member(&t, 3), f.member(&t, 4));
    let (d0, d1, d2, d3) = (f.member(&d, 0), f.member(&d, 1), f.member(&d, 2), f.member(&d, 3));

    // The package is readable as a draft long before the deadline.
    let package = app.package(f.package).await.expect("package");
    assert_eq!(package.phase, "draft");
    assert_eq!(package.term, "HT2027");
    assert_eq!(package.deadline, "2027-06-15T21:59:00+00:00", "15 June 23:59 Stockholm (CEST)");
    assert_eq!(
        package.offerings.iter().map(|o| o.course.as_str()).collect::<Vec<_>>(),
        ["LVU-GRUND", "SAMTAL-MED-BARN", "LVU-FORTS"]
    );
    assert!(package.offerings.iter().all(|o| o.state == "open" && o.requested == 0));

    // Nobody registers on a draft.
    let early = app.register(&coordinator(&u), line(u1, f.lvu_grund)).await;
    assert_eq!(refusal_code(early), "registration_not_open");

    publish(&app, f.package).await;
    assert_eq!(app.package(f.package).await.unwrap().phase, "published");

    // Collective registrations, answered line by line. Uddevalla asks for 4 seats on LVU
    // grund (its priority order), Trollhättan for 2, Dals-Ed for 1; the course has 4.
    let uddevalla_lines = vec![
        line(u0, f.lvu_grund),
        line(u1, f.lvu_grund),
        line(u2, f.lvu_grund),
        line(u3, f.lvu_grund),
        line(u4, f.samtal),
    ];
    let receipt = app.register_collectively(&coordinator(&u), u.clone(), uddevalla_lines.clone()).await.unwrap();
    assert_eq!(receipt.municipality, "uddevalla");
    assert_eq!(receipt.lines.len(), 5);
    assert_eq!((receipt.requested, receipt.confirmed, receipt.waiting, receipt.refused), (5, 0, 0, 0));
    for (outcome, sent) in receipt.lines.iter().zip(&uddevalla_lines) {
        assert_eq!(outcome.staff_id, sent.staff.to_string(), "lines are answered in the order sent");
        assert_eq!(outcome.offering_id, sent.offering.to_string());
        assert_eq!(outcome.status, LineStatus::Requested);
        assert!(!outcome.already_registered);
        assert_eq!(outcome.code, None);
        assert!(outcome.position.is_some());
    }
    let trollhattan = app
        .register_collectively(&coordinator(&t), t.clone(), vec![line(t0, f.lvu_grund), line(t1, f.lvu_grund)])
        .await
        .unwrap();
    assert_eq!(trollhattan.requested, 2);
    let dals_ed = app.register_collectively(&coordinator(&d), d.clone(), vec![line(d0, f.lvu_grund)]).await.unwrap();
    assert_eq!(dals_ed.requested, 1);

    let grund = app.offering(f.lvu_grund).await.unwrap();
    assert_eq!(grund.state, "open");
    assert_eq!(grund.free_seats, 4, "no seat is given before the deadline");
    assert_eq!(
        grund.registrations.iter().map(|r| r.staff_id.clone()).collect::<Vec<_>>(),
        ids(&[u0, u1, u2, u3, t0, t1, d0]),
        "registrations in the order received"
    );
    assert!(grund.registrations.iter().all(|r| r.status == "requested" && !r.late));
    assert_eq!(app.package(f.package).await.unwrap().offerings[0].requested, 7);

    // Resubmitting the same collective registration changes nothing.
    let grund_before = json(&grund);
    let samtal_before = json(&app.offering(f.samtal).await.unwrap());
    let (position_before, count_before) = (guard.max_position().await, guard.event_count().await);
    let again = app.register_collectively(&coordinator(&u), u.clone(), uddevalla_lines.clone()).await.unwrap();
    assert_eq!((again.requested, again.refused), (5, 0));
    for (outcome, first) in again.lines.iter().zip(&receipt.lines) {
        assert_eq!(outcome.staff_id, first.staff_id);
        assert_eq!(outcome.status, LineStatus::Requested, "same status as the first time");
        assert!(outcome.already_registered, "the resubmitted line says it was already registered");
        assert_eq!(outcome.code, None);
    }
    assert_eq!(json(&app.offering(f.lvu_grund).await.unwrap()), grund_before);
    assert_eq!(json(&app.offering(f.samtal).await.unwrap()), samtal_before);
    assert_eq!(guard.max_position().await, position_before, "no event was appended");
    assert_eq!(guard.event_count().await, count_before);

    // Registration cannot close before the deadline.
    let too_soon = app.close_registration(&course_office(), f.package).await;
    assert_eq!(refusal_code(too_soon), "deadline_not_passed");

    // After the deadline, before allocation: a late request waits behind the in-time ones.
    clock.set(after_ht2027_deadline());
    assert_eq!(register_as(&app, &d, d3, f.lvu_grund).await, LineStatus::Requested);
    assert!(registration(&app.offering(f.lvu_grund).await.unwrap(), d3).late);

    // Closing allocates seats fairly across municipalities.
    let report = app.close_registration(&course_office(), f.package).await.expect("close registration");
    assert_eq!(app.package(f.package).await.unwrap().phase, "registration_closed");
    let allocated = report.offerings.iter().find(|o| o.offering_id == f.lvu_grund.to_string()).unwrap();
    assert_eq!((allocated.confirmed, allocated.waitlisted, allocated.skipped.as_deref()), (4, 4, None));
    assert_eq!(
        allocated.round_order.iter().cloned().collect::<BTreeSet<_>>(),
        BTreeSet::from(["uddevalla".to_string(), "trollhattan".into(), "dals-ed".into()])
    );
    let in_time = [
        (u.clone(), u0),
        (u.clone(), u1),
        (u.clone(), u2),
        (u.clone(), u3),
        (t.clone(), t0),
        (t.clone(), t1),
        (d.clone(), d0),
    ];
    let (confirmed, waitlisted) = expected_allocation(&allocated.round_order, &in_time, &[d3], 4);
    let grund = app.offering(f.lvu_grund).await.unwrap();
    assert_eq!(grund.state, "allocated");
    let expected_confirmed: BTreeSet<String> = ids(&confirmed).into_iter().collect();
    let shown_confirmed: BTreeSet<String> = with_status(&grund, "confirmed").into_iter().map(String::from).collect();
    assert_eq!(shown_confirmed, expected_confirmed, "seats go round-robin in the recorded round order");
    assert_eq!(grund.waiting_list, ids(&waitlisted), "the waiting list follows the allocation order");
    assert_eq!(waitlisted.last(), Some(&d3), "the late request comes last");
    assert_eq!(grund.free_seats, 0);
    for municipality in [&u, &t, &d] {
        assert!(
            grund.registrations.iter().any(|r| r.municipality == municipality.as_str() && r.status == "confirmed"),
            "{municipality} got at least one seat"
        );
    }
    let samtal = app.offering(f.samtal).await.unwrap();
    assert_eq!((samtal.free_seats, status(&samtal, u4)), (2, "confirmed"));
    let summary = app.package(f.package).await.unwrap();
    assert_eq!(
        (summary.offerings[0].requested, summary.offerings[0].confirmed, summary.offerings[0].waiting),
        (0, 4, 4)
    );

    // Late registrations: free seats first come first served, then the waiting list.
    assert_eq!(register_as(&app, &t, t2, f.samtal).await, LineStatus::Confirmed);
    assert_eq!(register_as(&app, &d, d1, f.samtal).await, LineStatus::Confirmed);
    assert_eq!(register_as(&app, &d, d2, f.samtal).await, LineStatus::Waiting);
    let samtal = app.offering(f.samtal).await.unwrap();
    assert_eq!(samtal.free_seats, 0);
    assert_eq!(samtal.waiting_list, ids(&[d2]));
    assert!(registration(&samtal, t2).late && registration(&samtal, d2).late);
    assert_eq!(register_as(&app, &t, t3, f.lvu_grund).await, LineStatus::Waiting);
    let mut waiting: Vec<StaffId> = waitlisted.iter().copied().chain([t3]).collect();
    assert_eq!(app.offering(f.lvu_grund).await.unwrap().waiting_list, ids(&waiting));

    // Giving up a confirmed seat after the deadline is charged; the first in line gets it.
    // (Trollhättan's first request got a seat in the first round.)
    assert_eq!(status(&grund, t0), "confirmed");
    let first_in_line = waiting.remove(0);
    app.cancel_registration(&coordinator(&t), f.lvu_grund, t0).await.expect("cancel");
    let grund = app.offering(f.lvu_grund).await.unwrap();
    assert_eq!(status(&grund, t0), "cancelled");
    assert!(registration(&grund, t0).charged, "a binding seat given up is charged");
    assert_eq!(status(&grund, first_in_line), "confirmed", "the first on the waiting list moves up");
    assert_eq!(grund.waiting_list, ids(&waiting));
    assert_eq!(grund.free_seats, 0);
    let t0_record = app.staff_registrations(t0).await.unwrap();
    assert_eq!(t0_record.len(), 1);
    assert_eq!((t0_record[0].course.as_str(), t0_record[0].status.as_str()), ("LVU-GRUND", "cancelled"));

    // Leaving the waiting list is free.
    app.cancel_registration(&coordinator(&t), f.lvu_grund, t3).await.expect("cancel waiting");
    waiting.retain(|s| *s != t3);
    let grund = app.offering(f.lvu_grund).await.unwrap();
    assert_eq!(status(&grund, t3), "cancelled");
    assert!(!registration(&grund, t3).charged);
    assert_eq!(grund.waiting_list, ids(&waiting));

    // A seat passes to someone else of the same municipality, free of charge; never to
    // another municipality.
    assert_eq!(status(&grund, u0), "confirmed", "Uddevalla's first request got a seat in the first round");
    let outside = app.transfer_seat(&course_office(), f.lvu_grund, u0, t4, false).await;
    assert_eq!(refusal_code(outside), "transfer_outside_municipality");
    // To Uddevalla's coordinator, Tanum's staff do not exist.
    let not_theirs = app.transfer_seat(&coordinator(&u), f.lvu_grund, u0, t4, false).await;
    assert_eq!(refusal_code(not_theirs), "not_found");
    app.transfer_seat(&coordinator(&u), f.lvu_grund, u0, u5, false).await.expect("transfer");
    let grund = app.offering(f.lvu_grund).await.unwrap();
    assert_eq!(status(&grund, u0), "transferred_away");
    assert!(!registration(&grund, u0).charged);
    assert_eq!(status(&grund, u5), "confirmed");
    assert_eq!(with_status(&grund, "confirmed").len(), 4);
    assert_eq!(grund.waiting_list, ids(&waiting));
    let u5_record = app.staff_registrations(u5).await.unwrap();
    assert_eq!(
        u5_record.iter().map(|r| (r.course.as_str(), r.status.as_str())).collect::<Vec<_>>(),
        [("LVU-GRUND", "confirmed")]
    );

    // Attendance is recorded only once a session has started, and only for participants.
    let participants: Vec<StaffId> =
        with_status(&grund, "confirmed").iter().map(|s| s.parse().expect("staff id")).collect();
    assert_eq!(participants.len(), 4);
    let (p0, p1, p2, p3) = (participants[0], participants[1], participants[2], participants[3]);
    let not_started = app.record_attendance(&trainer(), f.lvu_grund, p0, 0, Attendance::Present, None).await;
    assert_eq!(refusal_code(not_started), "session_not_started");
    clock.set(lvu_grund_first_session() + chrono::Duration::hours(1));
    for p in &participants {
        app.record_attendance(&trainer(), f.lvu_grund, *p, 0, Attendance::Present, None).await.expect("attendance");
    }
    let next_week = app.record_attendance(&trainer(), f.lvu_grund, p0, 1, Attendance::Present, None).await;
    assert_eq!(refusal_code(next_week), "session_not_started");
    let cancelled = app.record_attendance(&trainer(), f.lvu_grund, t0, 0, Attendance::Present, None).await;
    assert_eq!(refusal_code(cancelled), "not_a_participant");
    let too_early = app.offering_command(&course_office(), f.lvu_grund, OfferingCommand::CompleteOffering).await;
    assert_eq!(refusal_code(too_early), "sessions_not_over");

    // After the last session: p0 attends 5 of 5, p1 and p3 4 of 5 (exactly 80 %), p2 3 of
    // 5 with one excused absence (excused does not count as attended).
    clock.set(lvu_grund_first_session() + chrono::Duration::days(29));
    let plan: [(StaffId, [Attendance; 4]); 4] = {
        use Attendance::{Absent as A, Excused as E, Present as P};
        [(p0, [P, P, P, P]), (p1, [P, P, P, A]), (p2, [P, E, A, P]), (p3, [P, P, P, P])]
    };
    for (p, sessions) in plan {
        for (i, attendance) in sessions.into_iter().enumerate() {
            app.record_attendance(&trainer(), f.lvu_grund, p, i + 1, attendance, None).await.expect("attendance");
        }
    }
    // A correction is a new event: p3 was in fact absent from the last session.
    let corrected = app.record_attendance(&course_office(), f.lvu_grund, p3, 4, Attendance::Absent, None).await;
    assert_eq!(corrected.expect("correction").events, 1);
    let grund = app.offering(f.lvu_grund).await.unwrap();
    assert_eq!(registration(&grund, p3).attendance[4].as_deref(), Some("absent"));
    assert_eq!(
        registration(&grund, p2).attendance,
        [Some("present"), Some("present"), Some("excused"), Some("absent"), Some("present")]
            .map(|a| a.map(String::from))
    );

    app.offering_command(&course_office(), f.lvu_grund, OfferingCommand::CompleteOffering).await.expect("complete");
    let grund = app.offering(f.lvu_grund).await.unwrap();
    assert_eq!(grund.state, "completed");
    let mut certificates = BTreeSet::new();
    for (p, attended) in [(p0, 5), (p1, 4), (p3, 4)] {
        let r = registration(&grund, p);
        assert_eq!(r.attended, attended);
        let certificate = r.certificate.clone().unwrap_or_else(|| panic!("{p} attended {attended} of 5: certified"));
        assert!(certificate.starts_with("LVU-GRUND-HT2027-"), "certificate number {certificate}");
        assert!(!r.not_completed);
        certificates.insert(certificate);
    }
    assert_eq!(certificates.len(), 3, "certificate numbers are unique");
    let r2 = registration(&grund, p2);
    assert_eq!((r2.attended, r2.certificate.as_deref(), r2.not_completed), (3, None, true));

    let p1_record = app.staff_registrations(p1).await.unwrap();
    let p1_grund = p1_record.iter().find(|r| r.offering_id == f.lvu_grund.to_string()).expect("p1 on LVU grund");
    assert_eq!((p1_grund.status.as_str(), p1_grund.attended, p1_grund.sessions), ("confirmed", 4, 5));
    assert_eq!(p1_grund.certificate, registration(&grund, p1).certificate);
    let p2_record = app.staff_registrations(p2).await.unwrap();
    assert_eq!(p2_record.iter().find(|r| r.offering_id == f.lvu_grund.to_string()).unwrap().certificate, None);
    let summary = app.package(f.package).await.unwrap();
    assert_eq!((summary.offerings[0].state.as_str(), summary.offerings[0].confirmed), ("completed", 4));

    // A completed offering takes no more registrations.
    let after = app.register(&coordinator(&u), line(f.member(&u, 1), f.lvu_grund)).await;
    assert_eq!(refusal_code(after), "offering_completed");

    guard.assert_sequences_contiguous().await;
}

/// LVU fortsättning needs LVU grund: refused with a clear reason, let through by the
/// course office (recorded), and met by a confirmed seat on a grund that ends first.
async fn scenario_prerequisites(backend: Backend) {
    let clock = TestClock::at(spring_2027());
    let (app, guard) = fresh_app(backend, &clock).await;
    let f = Fyrbodal::build(&app, 5).await;
    let u = f.uddevalla.clone();
    let (u1, u2, u3, u4) = (f.member(&u, 1), f.member(&u, 2), f.member(&u, 3), f.member(&u, 4));
    assert_eq!(app.offering(f.lvu_forts).await.unwrap().prerequisites, ["LVU-GRUND"]);
    publish(&app, f.package).await;

    assert_eq!(register_as(&app, &u, u1, f.lvu_grund).await, LineStatus::Requested);

    // A request on LVU grund is not LVU grund: fortsättning is refused, with the reason.
    let refused = app.register(&coordinator(&u), line(u1, f.lvu_forts)).await;
    match refused {
        Err(AppError::Refused { code, message, .. }) => {
            assert_eq!(code, "prerequisite_missing");
            assert!(message.contains("LVU-GRUND"), "the reason names the missing course: {message}");
        }
        other => panic!("expected prerequisite_missing, got {other:?}"),
    }
    let receipt = app
        .register_collectively(&coordinator(&u), u.clone(), vec![line(u2, f.lvu_forts), line(u4, f.samtal)])
        .await
        .unwrap();
    assert_eq!((receipt.refused, receipt.requested), (1, 1));
    assert_eq!(receipt.lines[0].status, LineStatus::Refused);
    assert_eq!(receipt.lines[0].code.as_deref(), Some("prerequisite_missing"));
    assert!(receipt.lines[0].reason.as_deref().is_some_and(|r| r.contains("LVU-GRUND")));
    assert_eq!(receipt.lines[1].status, LineStatus::Requested, "one refused line does not stop the others");

    // Only the course office overrides, and the override is recorded.
    let overriding = RegistrationLine { staff: u3, offering: f.lvu_forts, override_prerequisites: true };
    let by_coordinator = app.register(&coordinator(&u), overriding.clone()).await;
    assert!(matches!(by_coordinator, Err(AppError::Forbidden(_))), "got {by_coordinator:?}");
    let by_office = app.register(&course_office(), overriding).await.expect("override");
    assert_eq!(by_office.status, LineStatus::Requested);
    assert_eq!(by_office.prerequisites_overridden, ["LVU-GRUND"]);
    let forts = app.offering(f.lvu_forts).await.unwrap();
    assert_eq!(forts.registrations.len(), 1, "refused lines left no trace on the offering");
    assert_eq!(status(&forts, u3), "requested");
    let recorded = guard
        .events_of("offering", &f.lvu_forts.to_string())
        .await
        .into_iter()
        .find(|e| e.event_type == "RegistrationRequested")
        .expect("u3's request in the log");
    assert_eq!(recorded.payload["RegistrationRequested"]["staff"], u3.to_string());
    assert_eq!(recorded.payload["RegistrationRequested"]["prerequisites_overridden"], serde_json::json!(["LVU-GRUND"]));
    assert_eq!(recorded.metadata["actor_role"], "course_office");

    // A confirmed seat on an LVU grund that ends before fortsättning starts meets it.
    clock.set(after_ht2027_deadline());
    app.close_registration(&course_office(), f.package).await.expect("close");
    assert_eq!(status(&app.offering(f.lvu_grund).await.unwrap(), u1), "confirmed");
    let allowed = app.register(&coordinator(&u), line(u1, f.lvu_forts)).await.expect("registration answered");
    assert_eq!(allowed.status, LineStatus::Confirmed, "late registration with a free seat");
    assert!(allowed.prerequisites_overridden.is_empty());
    let u1_record = app.staff_registrations(u1).await.unwrap();
    assert_eq!(
        u1_record.iter().map(|r| (r.course.as_str(), r.status.as_str())).collect::<BTreeSet<_>>(),
        BTreeSet::from([("LVU-GRUND", "confirmed"), ("LVU-FORTS", "confirmed")])
    );

    // Still nothing for someone who never took grund.
    let still = app.register(&coordinator(&u), line(u2, f.lvu_forts)).await;
    assert_eq!(refusal_code(still), "prerequisite_missing");
    guard.assert_sequences_contiguous().await;
}

/// Paused staff take no new registrations until resumed; removed staff none at all.
async fn scenario_paused_and_removed_staff(backend: Backend) {
    let clock = TestClock::at(spring_2027());
    let (app, guard) = fresh_app(backend, &clock).await;
    let f = Fyrbodal::build(&app, 4).await;
    let u = f.uddevalla.clone();
    let (u1, u2, u3) = (f.member(&u, 1), f.member(&u, 2), f.member(&u, 3));
    publish(&app, f.package).await;

    app.staff_command(&coordinator(&u), u1, StaffCommand::PauseStaffMember).await.expect("pause");
    assert_eq!(app.staff_member(u1).await.unwrap().status, "paused");
    let paused = app.register(&coordinator(&u), line(u1, f.lvu_grund)).await;
    assert_eq!(refusal_code(paused), "staff_paused");
    let receipt = app
        .register_collectively(&coordinator(&u), u.clone(), vec![line(u1, f.lvu_grund), line(u2, f.lvu_grund)])
        .await
        .unwrap();
    assert_eq!(receipt.lines[0].status, LineStatus::Refused);
    assert_eq!(receipt.lines[0].code.as_deref(), Some("staff_paused"));
    assert_eq!(receipt.lines[1].status, LineStatus::Requested);
    let grund = app.offering(f.lvu_grund).await.unwrap();
    assert!(grund.registrations.iter().all(|r| r.staff_id != u1.to_string()), "the paused person is not on it");
    assert!(app.staff_registrations(u1).await.unwrap().is_empty());

    app.staff_command(&coordinator(&u), u1, StaffCommand::ResumeStaffMember).await.expect("resume");
    assert_eq!(register_as(&app, &u, u1, f.lvu_grund).await, LineStatus::Requested);
    assert_eq!(status(&app.offering(f.lvu_grund).await.unwrap(), u1), "requested");

    app.staff_command(&coordinator(&u), u3, StaffCommand::RemoveStaffMember).await.expect("remove");
    assert_eq!(app.staff_member(u3).await.unwrap().status, "removed", "history is kept");
    let removed = app.register(&coordinator(&u), line(u3, f.lvu_grund)).await;
    assert_eq!(refusal_code(removed), "staff_removed");
    guard.assert_sequences_contiguous().await;
}

/// Every event records who did it, for whom, in which request, when, and under which
/// Idempotency-Key.
async fn scenario_event_metadata(backend: Backend) {
    let clock = TestClock::at(spring_2027());
    let (app, guard) = fresh_app(backend, &clock).await;
    let f = Fyrbodal::build(&app, 3).await;
    let u = f.uddevalla.clone();
    let (u1, u2) = (f.member(&u, 1), f.member(&u, 2));
    app.package_command(
        &kurslogg::app::CommandContext::system("req-scheduler-publish"),
        f.package,
        kurslogg_domain::package::PackageCommand::Publish,
    )
    .await
    .expect("publish");

    let mut ctx = with_key(coordinator(&u), "idem-metadata-1", "sha256:4f1c");
    ctx.request_id = "req-metadata-1".into();
    let outcome = app.register(&ctx, line(u1, f.lvu_grund)).await.expect("register");
    assert_eq!(outcome.status, LineStatus::Requested);
    app.register(&course_office(), line(u2, f.lvu_grund)).await.expect("register");

    let events = guard.events_of("offering", &f.lvu_grund.to_string()).await;
    let requested_by = |staff: StaffId| {
        events
            .iter()
            .find(|e| {
                e.event_type == "RegistrationRequested"
                    && e.payload["RegistrationRequested"]["staff"] == staff.to_string()
            })
            .unwrap_or_else(|| panic!("{staff}'s registration is in the log"))
    };
    let event = requested_by(u1);
    assert_eq!(event.payload["RegistrationRequested"]["municipality"], "uddevalla");
    assert_eq!(event.payload["RegistrationRequested"]["late"], false);
    let meta = &event.metadata;
    assert_eq!(meta["actor_id"], "ifo-chef-uddevalla");
    assert_eq!(meta["actor_role"], "coordinator");
    assert_eq!(meta["on_behalf_of"], "uddevalla");
    assert_eq!(meta["request_id"], "req-metadata-1");
    assert_eq!(meta["idempotency_key"], "idem-metadata-1");
    let recorded_at = meta["recorded_at"].as_str().expect("recorded_at is text");
    assert_eq!(recorded_at, ctx.received_at.to_rfc3339_opts(SecondsFormat::Millis, true));
    chrono::DateTime::parse_from_rfc3339(recorded_at).expect("recorded_at is RFC 3339");

    // Without a municipality or a key, those fields are simply absent.
    let office = &requested_by(u2).metadata;
    assert_eq!(office["actor_role"], "course_office");
    assert_eq!(office["actor_id"], "kurskansliet-anna");
    assert!(office.get("on_behalf_of").is_none() && office.get("idempotency_key").is_none(), "{office}");

    // The system acting on its own is recorded as such.
    let published = guard
        .events_of("package", &f.package.to_string())
        .await
        .into_iter()
        .find(|e| e.event_type == "PackagePublished")
        .expect("published");
    assert_eq!(published.metadata["actor_role"], "system");
    assert_eq!(published.metadata["actor_id"], "kurslogg");
    assert_eq!(published.metadata["request_id"], "req-scheduler-publish");

    // Every stored event carries the four mandatory fields.
    for e in guard.all_events().await {
        for field in ["actor_id", "actor_role", "request_id", "recorded_at"] {
            assert!(
                e.metadata[field].is_string(),
                "{} {} #{} lacks {field}",
                e.aggregate_type,
                e.aggregate_id,
                e.sequence
            );
        }
    }
}

/// A retried request with the same Idempotency-Key gets the first answer and appends
/// nothing; the key reused for another request is refused.
async fn scenario_idempotency(backend: Backend) {
    let clock = TestClock::at(spring_2027());
    let (app, guard) = fresh_app(backend, &clock).await;
    let f = Fyrbodal::build(&app, 5).await;
    let (u, t) = (f.uddevalla.clone(), f.trollhattan.clone());
    let (u1, u2, u3, u4) = (f.member(&u, 1), f.member(&u, 2), f.member(&u, 3), f.member(&u, 4));
    let t1 = f.member(&t, 1);
    publish(&app, f.package).await;

    // The same registration twice (a client retrying after a timeout).
    let count0 = guard.event_count().await;
    let first = app.register(&with_key(coordinator(&u), "reg-1", "hash-a"), line(u1, f.lvu_grund)).await.unwrap();
    assert_eq!(first.status, LineStatus::Requested);
    assert_eq!(guard.event_count().await, count0 + 1);
    let view = json(&app.offering(f.lvu_grund).await.unwrap());
    let retry = app.register(&with_key(coordinator(&u), "reg-1", "hash-a"), line(u1, f.lvu_grund)).await.unwrap();
    assert_eq!(retry, first, "the retry gets the first answer, position included");
    assert!(!retry.already_registered);
    assert_eq!(guard.event_count().await, count0 + 1, "nothing appended");
    assert_eq!(json(&app.offering(f.lvu_grund).await.unwrap()), view);

    // The key reused for a different request.
    let reused = app.register(&with_key(coordinator(&u), "reg-1", "hash-b"), line(u2, f.lvu_grund)).await;
    assert!(matches!(reused, Err(AppError::IdempotencyKeyReused)), "got {reused:?}");
    assert_eq!(guard.event_count().await, count0 + 1);
    let grund = app.offering(f.lvu_grund).await.unwrap();
    assert!(grund.registrations.iter().all(|r| r.staff_id != u2.to_string()));

    // Keys belong to their actor: another coordinator's "reg-1" is another request.
    let other = app.register(&with_key(coordinator(&t), "reg-1", "hash-b"), line(t1, f.lvu_grund)).await.unwrap();
    assert_eq!(other.status, LineStatus::Requested);
    assert_eq!(guard.event_count().await, count0 + 2);

    // A refusal is an answer too: the retry is refused the same way even though the
    // staff member was resumed in between; a fresh key goes through.
    app.staff_command(&coordinator(&u), u3, StaffCommand::PauseStaffMember).await.unwrap();
    let refused = app.register(&with_key(coordinator(&u), "reg-u3", "hash-u3"), line(u3, f.lvu_grund)).await;
    assert_eq!(refusal_code(refused), "staff_paused");
    app.staff_command(&coordinator(&u), u3, StaffCommand::ResumeStaffMember).await.unwrap();
    let count = guard.event_count().await;
    let replayed = app.register(&with_key(coordinator(&u), "reg-u3", "hash-u3"), line(u3, f.lvu_grund)).await;
    assert_eq!(refusal_code(replayed), "staff_paused");
    assert_eq!(guard.event_count().await, count);
    let fresh = app.register(&with_key(coordinator(&u), "reg-u3-b", "hash-u3"), line(u3, f.lvu_grund)).await.unwrap();
    assert_eq!(fresh.status, LineStatus::Requested);

    // A collective registration retried: the first receipt comes back as it was
    // (a re-run would report `already_registered`), and nothing is appended.
    let lines = vec![line(u4, f.lvu_grund), line(u4, f.samtal)];
    let ctx = with_key(coordinator(&u), "collective-ht2027", "hash-c");
    let receipt = app.register_collectively(&ctx, u.clone(), lines.clone()).await.unwrap();
    assert_eq!(receipt.requested, 2);
    let count = guard.event_count().await;
    let again = app.register_collectively(&ctx, u.clone(), lines.clone()).await.unwrap();
    assert_eq!(again, receipt);
    assert!(again.lines.iter().all(|l| !l.already_registered));
    assert_eq!(guard.event_count().await, count);
    let other_lines =
        app.register_collectively(&with_key(coordinator(&u), "collective-ht2027", "hash-d"), u.clone(), lines).await;
    assert!(matches!(other_lines, Err(AppError::IdempotencyKeyReused)), "got {other_lines:?}");

    // Closing registration retried: the same report, no second allocation.
    clock.set(after_ht2027_deadline());
    let close = with_key(course_office(), "close-ht2027", "hash-close");
    let report = app.close_registration(&close, f.package).await.unwrap();
    let count = guard.event_count().await;
    let position = guard.max_position().await;
    let report_again = app.close_registration(&close, f.package).await.unwrap();
    assert_eq!(report_again, report);
    assert_eq!((guard.event_count().await, guard.max_position().await), (count, position));
    assert!(guard.idempotency_records().await >= 5);

    // Attendance with a note is two writes (the attendance, then the note in the person's
    // own stream with the remembered answer). Retried after the first attempt stopped
    // between them (here: the attendance alone, as that attempt left it), the retry
    // writes the note once; retried again, nothing.
    clock.set(lvu_grund_first_session() + chrono::Duration::hours(1));
    let absent = kurslogg_domain::Attendance::Absent;
    app.record_attendance(&trainer(), f.lvu_grund, u1, 0, absent, None).await.expect("the first attempt's attendance");
    let noted = with_key(trainer(), "attendance-u1-0", "hash-attendance");
    let notes = async || {
        let events = guard.events_of("staff", &u1.to_string()).await;
        events.iter().filter(|e| e.event_type == "AttendanceNoted").count()
    };
    let first = app.record_attendance(&noted, f.lvu_grund, u1, 0, absent, Some(text("Sjuk"))).await.unwrap();
    assert_eq!(first.events, 0, "the attendance stood already");
    assert!(first.position.is_some());
    assert_eq!(notes().await, 1);
    let count = guard.event_count().await;
    let again = app.record_attendance(&noted, f.lvu_grund, u1, 0, absent, Some(text("Sjuk"))).await.unwrap();
    assert_eq!(again, first, "the remembered answer, position included");
    assert_eq!((guard.event_count().await, notes().await), (count, 1));
    guard.assert_sequences_contiguous().await;
}

/// What was written is there after a restart: a new process over the same database
/// shows the same views and carries on where the old one stopped.
async fn scenario_state_survives_restart(backend: Backend) {
    let clock = TestClock::at(spring_2027());
    let (app, guard) = fresh_app(backend, &clock).await;
    let f = Fyrbodal::build(&app, 5).await;
    let (u, t, d) = (f.uddevalla.clone(), f.trollhattan.clone(), f.dals_ed.clone());
    publish(&app, f.package).await;
    let uddevalla_lines: Vec<RegistrationLine> = (0..4).map(|n| line(f.member(&u, n), f.lvu_grund)).collect();
    app.register_collectively(&coordinator(&u), u.clone(), uddevalla_lines.clone()).await.unwrap();
    app.register_collectively(&coordinator(&t), t.clone(), vec![line(f.member(&t, 0), f.lvu_grund)]).await.unwrap();
    app.register_collectively(&coordinator(&d), d.clone(), vec![line(f.member(&d, 0), f.lvu_grund)]).await.unwrap();
    clock.set(after_ht2027_deadline());
    app.close_registration(&course_office(), f.package).await.unwrap();
    assert_eq!(register_as(&app, &t, f.member(&t, 1), f.samtal).await, LineStatus::Confirmed);
    let grund = app.offering(f.lvu_grund).await.unwrap();
    let holder: StaffId = with_status(&grund, "confirmed")[0].parse().unwrap();
    let holder_municipality = municipality_id(&registration(&grund, holder).municipality);
    app.cancel_registration(&coordinator(&holder_municipality), f.lvu_grund, holder).await.unwrap();
    let keyed = with_key(coordinator(&d), "late-d1", "hash-late-d1");
    let keyed_answer = app.register(&keyed, line(f.member(&d, 1), f.samtal)).await.unwrap();
    assert_eq!(keyed_answer.status, LineStatus::Confirmed);

    let grund_before = json(&app.offering(f.lvu_grund).await.unwrap());
    let samtal_before = json(&app.offering(f.samtal).await.unwrap());
    let package_before = json(&app.package(f.package).await.unwrap());
    let holder_before = json(&app.staff_registrations(holder).await.unwrap());
    let count_before = guard.event_count().await;

    app.log.close().await;
    drop(app);
    let app = guard.open(&clock).await;

    assert_eq!(json(&app.offering(f.lvu_grund).await.unwrap()), grund_before);
    assert_eq!(json(&app.offering(f.samtal).await.unwrap()), samtal_before);
    assert_eq!(json(&app.package(f.package).await.unwrap()), package_before);
    assert_eq!(json(&app.staff_registrations(holder).await.unwrap()), holder_before);
    assert_eq!(app.staff_member(f.member(&u, 1)).await.unwrap().municipality, "uddevalla");

    // The idempotency record survived too.
    assert_eq!(app.register(&keyed, line(f.member(&d, 1), f.samtal)).await.unwrap(), keyed_answer);
    assert_eq!(guard.event_count().await, count_before);

    // The new process knows who is registered and who waits.
    // (Everyone but the person whose seat was cancelled: registering them again is new.)
    let still_registered: Vec<RegistrationLine> = uddevalla_lines.into_iter().filter(|l| l.staff != holder).collect();
    assert!(still_registered.len() >= 3);
    let again = app.register_collectively(&coordinator(&u), u.clone(), still_registered).await.unwrap();
    assert!(again.lines.iter().all(|l| l.already_registered && l.status != LineStatus::Refused));
    assert_eq!(guard.event_count().await, count_before);
    let waiting_before = app.offering(f.lvu_grund).await.unwrap().waiting_list;
    assert!(!waiting_before.is_empty());
    assert_eq!(register_as(&app, &t, f.member(&t, 2), f.lvu_grund).await, LineStatus::Waiting);
    let grund = app.offering(f.lvu_grund).await.unwrap();
    assert_eq!(grund.waiting_list.len(), waiting_before.len() + 1);
    assert_eq!(grund.waiting_list.last(), Some(&f.member(&t, 2).to_string()));
    guard.assert_sequences_contiguous().await;
}
