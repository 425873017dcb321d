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
