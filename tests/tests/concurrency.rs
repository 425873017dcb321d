//! Many coordinators at once, on both backends: the last days before the deadline and
//! the rush for the last free seats after it. With one service process (tasks sharing
//! one `Kurslogg`) and with two processes over the same database (two `Kurslogg`s, each
//! with its own cache), where the log's primary key and the executor's retry are all
//! that keep the seat count honest.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use kurslogg::app::{Kurslogg, LineStatus, RegistrationOutcome};
use kurslogg_domain::{MunicipalityId, OfferingId, PackageId, StaffId};
use kurslogg_tests::*;

conformance!(
    scenario_late_rush_one_process,
    scenario_late_rush_two_processes,
    scenario_rush_before_deadline_one_process,
    scenario_rush_before_deadline_two_processes,
    scenario_another_instances_writes_reach_this_ones_cache,
    scenario_a_cancellation_is_decided_on_the_other_instances_registration,
    scenario_a_registration_is_decided_on_the_other_instances_cancellation,
    scenario_a_collective_line_sees_the_other_instances_cancellation,
    scenario_a_staff_member_paused_through_the_other_instance_is_not_registered,
    scenario_a_transfer_sees_the_other_instances_pause,
    scenario_prerequisites_added_through_the_other_instance_are_checked,
    scenario_refusals_and_registrations_queued_together,
);

const RUSHERS_PER_MUNICIPALITY: usize = 16;
const MUNICIPALITIES: [&str; 4] = ["Uddevalla", "Trollhättan", "Vänersborg", "Åmål"];

struct Rush {
    clock: TestClock,
    guard: Guard,
    /// The process that set everything up.
    a: Arc<Kurslogg>,
    /// A second process, when asked for; its caches were warmed before allocation, so
    /// they are stale when the rush starts.
    b: Option<Arc<Kurslogg>>,
    package: PackageId,
    offering: OfferingId,
    seat_limit: u32,
    /// One in-time request per municipality, made before the rush.
    early: Vec<(MunicipalityId, StaffId)>,
    /// 64 staff members who all register at once.
    rushers: Vec<(MunicipalityId, StaffId)>,
}

impl Rush {
    async fn setup(backend: Backend, seat_limit: u32, early_requests: bool, processes: usize) -> Self {
        let clock = TestClock::at(spring_2027());
        let (app, guard) = fresh_app(backend, &clock).await;
        let mut early = vec![];
        let mut rushers = vec![];
        for name in MUNICIPALITIES {
            let municipality = add_municipality(&app, name).await;
            if early_requests {
                early.push((municipality.clone(), add_staff(&app, &municipality, 100).await));
            }
            for n in 0..RUSHERS_PER_MUNICIPALITY {
                rushers.push((municipality.clone(), add_staff(&app, &municipality, n).await));
            }
        }
        let course = add_course(&app, "LVU-GRUND", "LVU grund", &[]).await;
        let package = create_package(&app, "HT2027").await;
        let offering =
            plan_offering(&app, package, &course, seat_limit, sessions(lvu_grund_first_session(), 1, 7)).await;
        publish(&app, package).await;
        for (municipality, staff) in &early {
            let outcome = app.register(&coordinator(municipality), line(*staff, offering)).await.unwrap();
            assert_eq!(outcome.status, LineStatus::Requested);
        }
        let b = if processes == 2 {
            let b = guard.open(&clock).await;
            // Warm the second process's caches now, so they are out of date later.
            b.offering(offering).await.expect("offering visible to the second process");
            b.package(package).await.expect("package visible to the second process");
            Some(Arc::new(b))
        } else {
            None
        };
        Self { clock, guard, a: Arc::new(app), b, package, offering, seat_limit, early, rushers }
    }

    /// Which process serves request `i`.
    fn process(&self, i: usize) -> Arc<Kurslogg> {
        match &self.b {
            Some(b) if i % 2 == 1 => b.clone(),
            _ => self.a.clone(),
        }
    }

    /// All rushers register at the same time; every answer, in rusher order, and the
    /// registrations that failed.
    async fn rush(&self) -> (Vec<RegistrationOutcome>, Vec<String>) {
        let tasks: Vec<_> = self
            .rushers
            .iter()
            .enumerate()
            .map(|(i, (municipality, staff))| {
                let (app, municipality, staff, offering) =
                    (self.process(i), municipality.clone(), *staff, self.offering);
                tokio::spawn(async move { app.register(&coordinator(&municipality), line(staff, offering)).await })
            })
            .collect();
        let mut outcomes = vec![];
        let mut failures = vec![];
        for (task, (_, staff)) in futures::future::join_all(tasks).await.into_iter().zip(&self.rushers) {
            match task.expect("task ran") {
                Ok(outcome) => {
                    assert_eq!(outcome.staff_id, staff.to_string());
                    outcomes.push(outcome);
                }
                Err(e) => failures.push(format!("{staff}: {e:?}")),
            }
        }
        (outcomes, failures)
    }

    /// Every process shows the same offering.
    async fn view(&self) -> kurslogg::app::OfferingView {
        let view = self.a.offering(self.offering).await.unwrap();
        if let Some(b) = &self.b {
            let other = b.offering(self.offering).await.unwrap();
            assert_eq!(
                serde_json::to_value(&other).unwrap(),
                serde_json::to_value(&view).unwrap(),
                "both processes show the same offering"
            );
        }
        view
    }

    /// Replays the offering's stored events and checks that confirmed seats never
    /// exceeded the limit at any point; returns the waitlisted staff in log order.
    async fn check_log(&self) -> Vec<String> {
        let mut confirmed: i64 = 0;
        let mut waitlisted_late = vec![];
        let events = self.guard.events_of("offering", &self.offering.to_string()).await;
        for event in &events {
            let body = &event.payload[&event.event_type];
            match event.event_type.as_str() {
                "SeatsAllocated" => confirmed += body["confirmed"].as_array().expect("list").len() as i64,
                "LateRegistrationConfirmed" | "PromotedFromWaitingList" => confirmed += 1,
                "RegistrationCancelled" if body["charged"] == true => confirmed -= 1,
                "LateRegistrationWaitlisted" => waitlisted_late.push(body["staff"].as_str().unwrap().to_string()),
                _ => {}
            }
            assert!(
                confirmed <= i64::from(self.seat_limit),
                "{confirmed} confirmed of {} seats after event #{} ({})",
                self.seat_limit,
                event.sequence,
                event.event_type
            );
        }
        self.guard.assert_sequences_contiguous().await;
        waitlisted_late
    }
}

fn assert_no_failures(failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{} of {RUSHERS} concurrent registrations failed: {failures:#?}",
        failures.len(),
        RUSHERS = MUNICIPALITIES.len() * RUSHERS_PER_MUNICIPALITY
    );
}

fn count(outcomes: &[RegistrationOutcome], status: LineStatus) -> usize {
    outcomes.iter().filter(|o| o.status == status).count()
}

fn staff_with(outcomes: &[RegistrationOutcome], status: LineStatus) -> BTreeSet<String> {
    outcomes.iter().filter(|o| o.status == status).map(|o| o.staff_id.clone()).collect()
}

/// After allocation 10 seats are left; 64 coordinators register at once: exactly 10
/// get a seat, 54 wait, nobody is refused and the limit is never exceeded.
async fn late_rush(backend: Backend, processes: usize) {
    let rush = Rush::setup(backend, 14, true, processes).await;
    rush.clock.set(after_ht2027_deadline());
    let report = rush.a.close_registration(&course_office(), rush.package).await.unwrap();
    assert_eq!((report.offerings[0].confirmed, report.offerings[0].waitlisted), (4, 0));
    assert_eq!(rush.view().await.free_seats, 10);

    let (outcomes, failures) = rush.rush().await;
    // Whatever else happened, the seat limit held and the log is whole.
    rush.check_log().await;
    assert_no_failures(&failures);
    assert_eq!(count(&outcomes, LineStatus::Refused), 0, "nobody is refused: {outcomes:?}");
    assert_eq!(count(&outcomes, LineStatus::Requested), 0, "after allocation nothing awaits allocation");
    assert_eq!(count(&outcomes, LineStatus::Confirmed), 10);
    assert_eq!(count(&outcomes, LineStatus::Waiting), 54);
    assert!(outcomes.iter().all(|o| !o.already_registered && o.position.is_some()));

    let view = rush.view().await;
    let confirmed: BTreeSet<String> =
        view.registrations.iter().filter(|r| r.status == "confirmed").map(|r| r.staff_id.clone()).collect();
    let early: BTreeSet<String> = rush.early.iter().map(|(_, s)| s.to_string()).collect();
    assert_eq!(confirmed.len() as u32, rush.seat_limit);
    assert_eq!(view.free_seats, 0);
    assert!(early.is_subset(&confirmed), "the in-time requests keep their seats");
    assert_eq!(
        confirmed.difference(&early).cloned().collect::<BTreeSet<_>>(),
        staff_with(&outcomes, LineStatus::Confirmed),
        "those told they got a seat are the ones holding one"
    );
    assert_eq!(view.waiting_list.len(), 54);
    assert_eq!(
        view.waiting_list.iter().cloned().collect::<BTreeSet<_>>(),
        staff_with(&outcomes, LineStatus::Waiting),
        "those told they wait are the ones on the waiting list"
    );
    assert!(view.registrations.iter().filter(|r| !early.contains(&r.staff_id)).all(|r| r.late));

    let waitlisted_in_log_order = rush.check_log().await;
    assert_eq!(view.waiting_list, waitlisted_in_log_order, "the waiting list is in the order registrations arrived");

    // A seat freed afterwards (through the other process, when there is one) goes to the
    // first in line, not to whoever that process last saw.
    let (municipality, leaving) =
        rush.rushers.iter().find(|(_, s)| confirmed.contains(&s.to_string())).cloned().expect("a rusher holds a seat");
    let first_in_line = view.waiting_list[0].clone();
    rush.process(1).cancel_registration(&coordinator(&municipality), rush.offering, leaving).await.expect("cancel");
    let view = rush.view().await;
    let status_of = |id: &str| view.registrations.iter().find(|r| r.staff_id == id).map(|r| r.status.clone());
    assert_eq!(status_of(&leaving.to_string()).as_deref(), Some("cancelled"));
    assert_eq!(status_of(&first_in_line).as_deref(), Some("confirmed"));
    assert_eq!(view.waiting_list.len(), 53);
    assert_eq!(view.free_seats, 0);
    rush.check_log().await;
}

/// 64 registrations at once before the deadline are all requests; allocation then gives
/// exactly the seat limit, fairly: 20 seats over 4 municipalities of 16 requests each is
/// 5 each, every municipality's first five in its own order.
async fn rush_before_deadline(backend: Backend, processes: usize) {
    let rush = Rush::setup(backend, 20, false, processes).await;
    let (outcomes, failures) = rush.rush().await;
    rush.check_log().await;
    assert_no_failures(&failures);
    assert_eq!(count(&outcomes, LineStatus::Requested), 64, "{outcomes:?}");
    let view = rush.view().await;
    assert_eq!(view.registrations.len(), 64);
    assert!(view.registrations.iter().all(|r| r.status == "requested" && !r.late));
    assert_eq!(view.free_seats, 20);
    rush.check_log().await;

    rush.clock.set(after_ht2027_deadline());
    let report = rush.a.close_registration(&course_office(), rush.package).await.unwrap();
    assert_eq!((report.offerings[0].confirmed, report.offerings[0].waitlisted), (20, 44));

    let view = rush.view().await;
    assert_eq!(view.registrations.iter().filter(|r| r.status == "confirmed").count(), 20);
    assert_eq!(view.registrations.iter().filter(|r| r.status == "waiting").count(), 44);
    assert_eq!(view.waiting_list.len(), 44);
    assert_eq!(view.free_seats, 0);
    let mut by_municipality: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for r in &view.registrations {
        by_municipality.entry(&r.municipality).or_default().push(&r.status);
    }
    assert_eq!(by_municipality.len(), 4);
    for (municipality, statuses) in by_municipality {
        let expected: Vec<&str> =
            (0..RUSHERS_PER_MUNICIPALITY).map(|i| if i < 5 { "confirmed" } else { "waiting" }).collect();
        assert_eq!(statuses, expected, "{municipality}: its first five requests get seats");
    }
    rush.check_log().await;
}

async fn scenario_late_rush_one_process(backend: Backend) {
    late_rush(backend, 1).await;
}

async fn scenario_late_rush_two_processes(backend: Backend) {
    late_rush(backend, 2).await;
}

async fn scenario_rush_before_deadline_one_process(backend: Backend) {
    rush_before_deadline(backend, 1).await;
}

async fn scenario_rush_before_deadline_two_processes(backend: Backend) {
    rush_before_deadline(backend, 2).await;
}

/// Two service instances over one log: a staff member paused through the second is
/// refused by the first, which had them cached as active, once it has followed the log.
async fn scenario_another_instances_writes_reach_this_ones_cache(backend: Backend) {
    use kurslogg_domain::staff::StaffCommand;
    let clock = TestClock::at(spring_2027());
    let (first, guard) = fresh_app(backend, &clock).await;
    let f = Fyrbodal::build(&first, 3).await;
    publish(&first, f.package).await;
    let followed = first.follow_once(0).await.expect("follow the log");
    let staff = f.member(&f.uddevalla, 1);
    let coordinator = coordinator(&f.uddevalla);
    // The first instance has the staff member (active) and the offerings in its cache.
    first.register(&coordinator, line(staff, f.lvu_grund)).await.expect("registered");

    let second = guard.open(&clock).await;
    second.staff_command(&coordinator, staff, StaffCommand::PauseStaffMember).await.expect("paused");
    let also = f.member(&f.uddevalla, 2);
    second.register(&coordinator, line(also, f.samtal)).await.expect("registered through the second");

    first.follow_once(followed).await.expect("follow the log");
    let refused = first.register(&coordinator, line(staff, f.samtal)).await;
    assert_eq!(refusal_code(refused), "staff_paused", "the first instance used its stale cache");
    // And it decides on the offering as the second left it, without a conflict to learn it.
    let samtal = first.offering(f.samtal).await.expect("offering");
    assert!(samtal.registrations.iter().any(|r| r.staff_id == also.to_string()), "the second's registration");
}

/// Two instances over one log, neither following the other (no `follow_once`): each has
/// the offerings and staff in its cache, as a busy instance would.
struct TwoInstances {
    _guard: Guard,
    f: Fyrbodal,
    first: Kurslogg,
    second: Kurslogg,
}

impl TwoInstances {
    async fn start(backend: Backend) -> Self {
        let clock = TestClock::at(spring_2027());
        let (first, guard) = fresh_app(backend, &clock).await;
        let f = Fyrbodal::build(&first, 3).await;
        publish(&first, f.package).await;
        let second = guard.open(&clock).await;
        // Warm the second instance's cache: every offering and staff member as they are now.
        for offering in [f.lvu_grund, f.samtal, f.lvu_forts] {
            second.offering(offering).await.expect("offering visible to the second instance");
        }
        for staff in f.staff.values().flatten() {
            second.staff_member(*staff).await.expect("staff member visible to the second instance");
        }
        Self { _guard: guard, f, first, second }
    }
}

/// Registered through one instance, cancelled through the other, which had the offering
/// cached without the registration: the cancellation goes through (it was refused with
/// `not_registered`).
async fn scenario_a_cancellation_is_decided_on_the_other_instances_registration(backend: Backend) {
    let TwoInstances { _guard, f, first, second } = TwoInstances::start(backend).await;
    let (staff, coordinator) = (f.member(&f.uddevalla, 1), coordinator(&f.uddevalla));
    first.register(&coordinator, line(staff, f.lvu_grund)).await.expect("registered through the first");
    let cancelled = second.cancel_registration(&coordinator, f.lvu_grund, staff).await;
    let cancelled = cancelled.expect("the second instance cancels what the first registered");
    assert_eq!(cancelled.events, 1);
    let view = first.offering(f.lvu_grund).await.expect("offering");
    let registration = view.registrations.iter().find(|r| r.staff_id == staff.to_string()).expect("on the roster");
    assert_eq!(registration.status, "cancelled");
    // A refusal that is right stands: cancelling again is refused by both.
    assert_eq!(refusal_code(second.cancel_registration(&coordinator, f.lvu_grund, staff).await), "not_registered");
    assert_eq!(refusal_code(first.cancel_registration(&coordinator, f.lvu_grund, staff).await), "not_registered");
}

/// Registered and then cancelled through one instance, registered again through the
/// other, which had the registration cached: it goes through (it was refused with
/// `already_registered`).
async fn scenario_a_registration_is_decided_on_the_other_instances_cancellation(backend: Backend) {
    let TwoInstances { _guard, f, first, second } = TwoInstances::start(backend).await;
    let (staff, coordinator) = (f.member(&f.trollhattan, 2), coordinator(&f.trollhattan));
    first.register(&coordinator, line(staff, f.samtal)).await.expect("registered through the first");
    second.offering(f.samtal).await.expect("the second instance caches the registration");
    first.cancel_registration(&coordinator, f.samtal, staff).await.expect("cancelled through the first");
    let again = second.register(&coordinator, line(staff, f.samtal)).await;
    let again = again.expect("the second instance registers the person the first cancelled");
    assert_eq!(again.status, LineStatus::Requested);
    assert!(!again.already_registered);
    // And a registration that stands is refused as such, by either instance.
    assert_eq!(refusal_code(first.register(&coordinator, line(staff, f.samtal)).await), "already_registered");
    assert_eq!(refusal_code(second.register(&coordinator, line(staff, f.samtal)).await), "already_registered");
}

/// A collective registration through one instance after a cancellation through the
/// other: the line is registered anew, not answered "already registered" while the
/// roster says cancelled.
async fn scenario_a_collective_line_sees_the_other_instances_cancellation(backend: Backend) {
    let TwoInstances { _guard, f, first, second } = TwoInstances::start(backend).await;
    let (staff, coordinator) = (f.member(&f.dals_ed, 1), coordinator(&f.dals_ed));
    let also = f.member(&f.dals_ed, 2);
    second.register(&coordinator, line(staff, f.lvu_grund)).await.expect("registered through the second");
    first.cancel_registration(&coordinator, f.lvu_grund, staff).await.expect("cancelled through the first");
    let receipt = second
        .register_collectively(&coordinator, f.dals_ed.clone(), vec![line(staff, f.lvu_grund), line(also, f.lvu_grund)])
        .await
        .expect("collective registration");
    let outcome = &receipt.lines[0];
    assert_eq!((outcome.status, outcome.already_registered), (LineStatus::Requested, false), "{receipt:?}");
    assert!(outcome.position.is_some());
    let view = first.offering(f.lvu_grund).await.expect("offering");
    let active: Vec<&str> = view
        .registrations
        .iter()
        .filter(|r| r.staff_id == staff.to_string() && r.status != "cancelled")
        .map(|r| r.status.as_str())
        .collect();
    assert_eq!(active, ["requested"], "the roster shows the registration the receipt reported");
    // Resubmitted through the first instance, the line is now truly already registered.
    let resubmitted = first
        .register_collectively(&coordinator, f.dals_ed.clone(), vec![line(staff, f.lvu_grund)])
        .await
        .expect("resubmitted");
    assert_eq!((resubmitted.lines[0].status, resubmitted.lines[0].already_registered), (LineStatus::Requested, true));
}

/// A staff member paused through one instance just before the other, which had them
/// cached as active, registers them: refused with `staff_paused`, at once, without
/// following the log.
async fn scenario_a_staff_member_paused_through_the_other_instance_is_not_registered(backend: Backend) {
    use kurslogg_domain::staff::StaffCommand;
    let TwoInstances { _guard, f, first, second } = TwoInstances::start(backend).await;
    let (staff, coordinator) = (f.member(&f.uddevalla, 2), coordinator(&f.uddevalla));
    // The second instance has decided a registration of theirs on its cached state.
    second.register(&coordinator, line(staff, f.lvu_grund)).await.expect("registered while active");
    first.staff_command(&coordinator, staff, StaffCommand::PauseStaffMember).await.expect("paused through the first");
    let before = second.offering(f.samtal).await.expect("offering").registrations.len();
    assert_eq!(refusal_code(second.register(&coordinator, line(staff, f.samtal)).await), "staff_paused");
    let receipt = second
        .register_collectively(&coordinator, f.uddevalla.clone(), vec![line(staff, f.lvu_forts)])
        .await
        .expect("collective registration answers line by line");
    assert_eq!(receipt.lines[0].code.as_deref(), Some("staff_paused"), "{receipt:?}");
    assert_eq!(second.offering(f.samtal).await.expect("offering").registrations.len(), before, "nothing written");
    // Resumed through the first, registered through the second.
    first.staff_command(&coordinator, staff, StaffCommand::ResumeStaffMember).await.expect("resumed");
    let outcome = second.register(&coordinator, line(staff, f.samtal)).await.expect("registered once resumed");
    assert_eq!(outcome.status, LineStatus::Requested);
}

/// A seat handed to someone the other instance paused just before: refused.
async fn scenario_a_transfer_sees_the_other_instances_pause(backend: Backend) {
    use kurslogg_domain::staff::StaffCommand;
    let TwoInstances { _guard, f, first, second } = TwoInstances::start(backend).await;
    let coordinator = coordinator(&f.uddevalla);
    let (holder, taker) = (f.member(&f.uddevalla, 1), f.member(&f.uddevalla, 2));
    second.register(&coordinator, line(holder, f.samtal)).await.expect("registered");
    first.staff_command(&coordinator, taker, StaffCommand::PauseStaffMember).await.expect("paused through the first");
    let refused = second.transfer_seat(&coordinator, f.samtal, holder, taker, false).await;
    assert_eq!(refusal_code(refused), "staff_paused");
}

/// An offering without prerequisites gets one through one instance; the other, which had
/// it cached without, gathers the person's history after all and judges by it: someone
/// holding a seat on the prerequisite course is registered, someone without is refused.
async fn scenario_prerequisites_added_through_the_other_instance_are_checked(backend: Backend) {
    use kurslogg_domain::offering::OfferingCommand;
    let TwoInstances { _guard, f, first, second } = TwoInstances::start(backend).await;
    let coordinator = coordinator(&f.trollhattan);
    let (grounded, newcomer) = (f.member(&f.trollhattan, 1), f.member(&f.trollhattan, 2));
    first.register(&coordinator, line(grounded, f.lvu_grund)).await.expect("registered on LVU grund");
    let clock = TestClock::at(after_ht2027_deadline());
    let first = {
        drop(first);
        _guard.open(&clock).await
    };
    let second = {
        drop(second);
        _guard.open(&clock).await
    };
    first.close_registration(&course_office(), f.package).await.expect("seats allocated");
    // The second instance knows the package and the offering as they now are.
    second.package(f.package).await.expect("package");
    second.offering(f.samtal).await.expect("offering");
    let mut revised = details("Samtal med barn, fördjupning", sessions(utc(2027, 10, 11, 7, 0), 2, 1));
    revised.prerequisites = vec![f.lvu_grund_code.clone()];
    let revise = OfferingCommand::ReviseOffering { details: revised, window: None };
    first.offering_command(&course_office(), f.samtal, revise).await.expect("revised through the first");
    let outcome = second.register(&coordinator, line(grounded, f.samtal)).await;
    let outcome = outcome.expect("registered: the seat on LVU grund meets the new prerequisite");
    assert_eq!(outcome.status, LineStatus::Confirmed);
    assert_eq!(refusal_code(second.register(&coordinator, line(newcomer, f.samtal)).await), "prerequisite_missing");
}

/// Registrations and refusals queued on one offering at the same moment are decided in
/// the same batches: every registration and cancellation goes through, every refusal
/// stands (checked against the log in the same statement), and nothing gives up with
/// `contention`. Three waves, each half accepted and half refused.
async fn scenario_refusals_and_registrations_queued_together(backend: Backend) {
    #[derive(Clone, Copy, Debug)]
    enum Step {
        Register,
        Cancel,
    }
    let rush = Rush::setup(backend, 20, false, 1).await;
    // Each wave: what the even and the odd rushers do, and the refusal expected of each
    // (None: it goes through).
    let waves = [
        ((Step::Register, None), (Step::Cancel, Some("not_registered"))),
        ((Step::Cancel, None), (Step::Cancel, Some("not_registered"))),
        ((Step::Cancel, Some("not_registered")), (Step::Register, None)),
    ];
    for (wave, (even, odd)) in waves.into_iter().enumerate() {
        let tasks: Vec<_> = rush
            .rushers
            .iter()
            .enumerate()
            .map(|(i, (municipality, staff))| {
                let (app, municipality, staff, offering) =
                    (rush.a.clone(), municipality.clone(), *staff, rush.offering);
                let (step, _) = if i % 2 == 0 { even } else { odd };
                tokio::spawn(async move {
                    let ctx = coordinator(&municipality);
                    match step {
                        Step::Register => app.register(&ctx, line(staff, offering)).await.map(drop),
                        Step::Cancel => app.cancel_registration(&ctx, offering, staff).await.map(drop),
                    }
                })
            })
            .collect();
        for (i, task) in futures::future::join_all(tasks).await.into_iter().enumerate() {
            let (step, refusal) = if i % 2 == 0 { even } else { odd };
            match (task.expect("task ran"), refusal) {
                (Ok(()), None) => {}
                (Err(kurslogg::app::AppError::Refused { code, .. }), Some(expected)) if code == expected => {}
                (other, _) => panic!("wave {wave}, request {i} ({step:?}): {other:?}"),
            }
        }
    }
    let view = rush.view().await;
    let active = view.registrations.iter().filter(|r| r.status != "cancelled").count();
    assert_eq!((view.registrations.len(), active), (64, 32), "32 registered and cancelled, 32 registered");
    rush.check_log().await;
}
