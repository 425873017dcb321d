//! Projections never skip or double-apply an event, whatever order concurrent
//! transactions commit in, and a view built step by step equals one rebuilt from scratch.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use kurslogg::app::RegistrationLine;
use kurslogg::store::{append_postgres_events, NewEvent};
use kurslogg_domain::offering::OfferingCommand;
use kurslogg_domain::package::PackageCommand;
use kurslogg_domain::staff::StaffCommand;
use kurslogg_domain::Attendance;
use kurslogg_projections::audit::Audit;
use kurslogg_projections::enrolment::Enrolment;
use kurslogg_projections::{Db, LoggedEvent, Param, Projection, ProjectionError, Runner, ViewTx};
use kurslogg_tests::*;
use rand::Rng;
use sqlx::Row;

/// Records every position it is given; a position given twice violates the primary key.
struct Witness;

#[async_trait]
impl Projection for Witness {
    fn name(&self) -> &'static str {
        "witness"
    }

    async fn reset(&self, tx: &mut ViewTx) -> Result<(), ProjectionError> {
        tx.execute("DELETE FROM witness", &[]).await?;
        Ok(())
    }

    async fn apply(&self, tx: &mut ViewTx, event: &LoggedEvent) -> Result<(), ProjectionError> {
        tx.execute("INSERT INTO witness (position) VALUES ($1)", &[Param::Int(event.position)]).await?;
        Ok(())
    }
}

fn event(writer: usize, sequence: i64) -> NewEvent {
    NewEvent {
        aggregate_type: "gaptest",
        aggregate_id: format!("writer-{writer}"),
        sequence,
        event_type: "Happened".into(),
        event_version: "1".into(),
        payload: format!(r#"{{"Happened":{{"writer":{writer},"sequence":{sequence}}}}}"#),
        metadata: r#"{"actor_id":"gap-test"}"#.into(),
    }
}

/// 8 writers append 100,000+ events in transactions that commit after random delays or
/// roll back, while the projection catches up all along. Every committed event is
/// applied exactly once; no rolled-back one is.
#[tokio::test]
async fn concurrent_late_commits_and_rollbacks_are_never_skipped_or_applied_twice_postgres() {
    if postgres_skipped() {
        return;
    }
    let clock = TestClock::at(spring_2027());
    let (app, _guard) = fresh_app(Backend::Postgres, &clock).await;
    let pool = app.log.postgres_pool().expect("postgres").clone();
    sqlx::query("CREATE TABLE witness (position bigint PRIMARY KEY)").execute(&pool).await.unwrap();
    let runner = Arc::new(Runner::new(app.log.views(), Witness));

    const WRITERS: usize = 8;
    const TRANSACTIONS: usize = 1_400;
    const EVENTS_PER_TRANSACTION: i64 = 10;
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (runner, done) = (runner.clone(), done.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::Acquire) {
                runner.catch_up().await.expect("projection catches up");
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    let mut writers = vec![];
    for writer in 0..WRITERS {
        let pool = pool.clone();
        writers.push(tokio::spawn(async move {
            let mut committed = vec![];
            let mut rolled_back = 0;
            let mut sequence = 0;
            for _ in 0..TRANSACTIONS {
                let events: Vec<NewEvent> = (1..=EVENTS_PER_TRANSACTION).map(|i| event(writer, sequence + i)).collect();
                let mut tx = pool.begin().await.unwrap();
                let positions = append_postgres_events(&mut *tx, &events).await.unwrap();
                let (delay, roll_back) = {
                    let mut rng = rand::rng();
                    (rng.random_range(0..3_000), rng.random_bool(0.1))
                };
                tokio::time::sleep(Duration::from_micros(delay)).await;
                if roll_back {
                    tx.rollback().await.unwrap();
                    rolled_back += 1;
                } else {
                    tx.commit().await.unwrap();
                    committed.extend(positions);
                    sequence += EVENTS_PER_TRANSACTION;
                }
            }
            (committed, rolled_back)
        }));
    }
    let mut committed = BTreeSet::new();
    let mut rolled_back = 0;
    for writer in writers {
        let (positions, rollbacks) = writer.await.unwrap();
        committed.extend(positions);
        rolled_back += rollbacks;
    }
    done.store(true, Ordering::Release);
    reader.await.unwrap();
    runner.catch_up().await.unwrap();

    let applied: BTreeSet<i64> = sqlx::query("SELECT position FROM witness")
        .fetch_all(&pool)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<i64, _>(0))
        .collect();
    let fixture: BTreeSet<i64> = sqlx::query("SELECT position FROM events WHERE aggregate_type <> 'gaptest'")
        .fetch_all(&pool)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<i64, _>(0))
        .collect();
    let applied_gap_events: BTreeSet<i64> = applied.difference(&fixture).copied().collect();
    assert!(committed.len() >= 100_000, "only {} events were committed", committed.len());
    assert!(rolled_back > 0, "the test must roll some transactions back");
    let skipped: Vec<_> = committed.difference(&applied_gap_events).take(10).collect();
    let phantom: Vec<_> = applied_gap_events.difference(&committed).take(10).collect();
    assert!(
        skipped.is_empty(),
        "{} committed events were skipped, e.g. {skipped:?}",
        committed.len() - applied_gap_events.len()
    );
    assert!(phantom.is_empty(), "rolled-back positions were applied: {phantom:?}");
    // Applied twice would have violated witness's primary key and failed catch_up above.
}

/// A transaction that has nothing to do with the log, left open, does not hold the
/// projections back: the high-water mark only waits for appends.
#[tokio::test]
async fn an_unrelated_open_transaction_causes_no_projection_lag_postgres() {
    if postgres_skipped() {
        return;
    }
    let clock = TestClock::at(spring_2027());
    let (app, _guard) = fresh_app(Backend::Postgres, &clock).await;
    let pool = app.log.postgres_pool().expect("postgres").clone();
    sqlx::query("CREATE TABLE unrelated (n bigint)").execute(&pool).await.unwrap();
    let mut unrelated = pool.begin().await.unwrap();
    sqlx::query("INSERT INTO unrelated VALUES (1)").execute(&mut *unrelated).await.unwrap();

    let fyrbodal = Fyrbodal::build(&app, 2).await;
    publish(&app, fyrbodal.package).await;
    let written = app
        .register(&coordinator(&fyrbodal.uddevalla), line(fyrbodal.member(&fyrbodal.uddevalla, 1), fyrbodal.lvu_grund))
        .await
        .expect("registered");
    let position = written.position.expect("a position");

    let runner = Runner::new(app.log.views(), Enrolment);
    let started = Instant::now();
    let checkpoint = runner.catch_up().await.expect("catch up");
    let lag = started.elapsed();
    assert!(
        checkpoint >= position,
        "the roster reached {checkpoint}, short of {position}, behind an unrelated transaction"
    );
    assert!(lag < Duration::from_secs(1), "catching up took {lag:?}");
    println!("lag caused by an unrelated open transaction: {lag:?} to catch up {position} events");
    unrelated.rollback().await.unwrap();
}

async fn roster_dump(db: &Db) -> Vec<String> {
    let queries = [
        "SELECT offering_id || '|' || package_id || '|' || course || '|' || seat_limit || '|' || sessions || '|' || state FROM roster_offerings ORDER BY offering_id",
        "SELECT offering_id || '|' || staff_id || '|' || municipality || '|' || status || '|' || charged || '|' || late || '|' || priority || '|' || coalesce(waiting_rank, -1) || '|' || coalesce(completion, '-') || '|' || coalesce(certificate, '-') || '|' || coalesce(transferred_from, '-') || '|' || coalesce(transferred_to, '-') FROM roster_entries ORDER BY offering_id, staff_id",
        "SELECT offering_id || '|' || staff_id || '|' || session || '|' || attendance FROM roster_attendance ORDER BY offering_id, staff_id, session",
    ];
    let mut rows = vec![];
    for sql in queries {
        let found: Vec<String> = match db {
            Db::Postgres(pool) => sqlx::query_scalar(sql).fetch_all(pool).await.unwrap(),
            Db::Sqlite { read, .. } => sqlx::query_scalar(sql).fetch_all(read).await.unwrap(),
        };
        rows.extend(found);
    }
    rows
}

/// The roster, caught up step by step through a whole term, equals the roster rebuilt
/// from scratch, and agrees with the offering itself.
async fn roster_built_step_by_step_equals_a_rebuild(backend: Backend) {
    if backend == Backend::Postgres && postgres_skipped() {
        return;
    }
    let clock = TestClock::at(spring_2027());
    let (app, _guard) = fresh_app(backend, &clock).await;
    let runner = Runner::new(app.log.views(), Enrolment);
    let f = Fyrbodal::build(&app, 4).await;
    publish(&app, f.package).await;
    runner.catch_up().await.unwrap();
    for municipality in [&f.uddevalla, &f.trollhattan, &f.dals_ed] {
        let lines = (1..4).map(|n| line(f.member(municipality, n), f.lvu_grund)).collect();
        app.register_collectively(&coordinator(municipality), municipality.clone(), lines).await.unwrap();
        runner.catch_up().await.unwrap();
    }
    clock.set(after_ht2027_deadline());
    app.close_registration(&course_office(), f.package).await.unwrap();
    runner.catch_up().await.unwrap();
    let view = app.offering(f.lvu_grund).await.unwrap();
    let confirmed: Vec<_> = view.registrations.iter().filter(|r| r.status == "confirmed").collect();
    let first = confirmed[0].staff_id.parse().unwrap();
    let municipality = municipality_id(&confirmed[0].municipality);
    app.cancel_registration(&coordinator(&municipality), f.lvu_grund, first).await.unwrap();
    let holder = confirmed[1].staff_id.parse().unwrap();
    let holder_municipality = municipality_id(&confirmed[1].municipality);
    let colleague = f.member(&holder_municipality, 0);
    app.transfer_seat(&coordinator(&holder_municipality), f.lvu_grund, holder, colleague, false).await.unwrap();
    runner.catch_up().await.unwrap();
    clock.set(utc(2027, 12, 1, 9, 0));
    let view = app.offering(f.lvu_grund).await.unwrap();
    for r in view.registrations.iter().filter(|r| r.status == "confirmed") {
        for session in 0..view.sessions.len() {
            let attendance = if session == 0 && r.staff_id == colleague.to_string() {
                kurslogg_domain::Attendance::Absent
            } else {
                kurslogg_domain::Attendance::Present
            };
            app.record_attendance(&trainer(), f.lvu_grund, r.staff_id.parse().unwrap(), session, attendance, None)
                .await
                .unwrap();
        }
    }
    app.offering_command(&course_office(), f.lvu_grund, kurslogg_domain::offering::OfferingCommand::CompleteOffering)
        .await
        .unwrap();
    app.package_command(&course_office(), f.package, PackageCommand::Archive).await.unwrap();
    runner.catch_up().await.unwrap();
    let stepwise = roster_dump(&app.log.views()).await;
    runner.rebuild().await.unwrap();
    let rebuilt = roster_dump(&app.log.views()).await;
    assert_eq!(stepwise, rebuilt, "the roster built step by step differs from a rebuild");

    // The roster says what the offering says.
    let view = app.offering(f.lvu_grund).await.unwrap();
    for r in &view.registrations {
        let entry = rebuilt
            .iter()
            .find(|row| row.starts_with(&format!("{}|{}|", f.lvu_grund, r.staff_id)))
            .unwrap_or_else(|| panic!("{} missing from the roster", r.staff_id));
        let fields: Vec<&str> = entry.split('|').collect();
        assert_eq!(fields[3], r.status, "status of {}", r.staff_id);
        assert_eq!(fields[4] == "1", r.charged, "charged of {}", r.staff_id);
        assert_eq!(fields[9], r.certificate.as_deref().unwrap_or("-"), "certificate of {}", r.staff_id);
    }
    assert!(view.registrations.iter().any(|r| r.charged), "the scenario has a charged cancellation");
    assert!(view.registrations.iter().any(|r| r.certificate.is_some()), "the scenario has certificates");
    assert!(view.registrations.iter().any(|r| r.status == "transferred_away"), "the scenario has a transfer");
}

#[tokio::test]
async fn roster_built_step_by_step_equals_a_rebuild_sqlite() {
    roster_built_step_by_step_equals_a_rebuild(Backend::Sqlite).await;
}

#[tokio::test]
async fn roster_built_step_by_step_equals_a_rebuild_postgres() {
    roster_built_step_by_step_equals_a_rebuild(Backend::Postgres).await;
}

/// Two runners of the same projection (two service instances) working at once, while
/// writers append: they take turns on the checkpoint, and every event is applied once.
#[tokio::test]
async fn two_runners_of_one_projection_never_apply_an_event_twice_postgres() {
    if postgres_skipped() {
        return;
    }
    let clock = TestClock::at(spring_2027());
    let (app, _guard) = fresh_app(Backend::Postgres, &clock).await;
    let pool = app.log.postgres_pool().expect("postgres").clone();
    sqlx::query("CREATE TABLE witness (position bigint PRIMARY KEY)").execute(&pool).await.unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let mut runners = vec![];
    for _ in 0..2 {
        // Each "instance" gets a pool of its own, as two processes would.
        let own = sqlx::PgPool::connect_with((*pool.connect_options()).clone()).await.unwrap();
        let runner = Runner::new(Db::Postgres(own), Witness);
        let done = done.clone();
        runners.push(tokio::spawn(async move {
            let mut rounds = 0;
            while !done.load(Ordering::Acquire) {
                runner.catch_up().await.expect("no event is applied twice (witness's primary key)");
                rounds += 1;
            }
            runner.catch_up().await.expect("final catch-up");
            rounds
        }));
    }
    let mut committed = BTreeSet::new();
    for batch in 0..400_i64 {
        let events: Vec<NewEvent> = (1..=5).map(|i| event(0, batch * 5 + i)).collect();
        committed.extend(append_postgres_events(&pool, &events).await.unwrap());
    }
    done.store(true, Ordering::Release);
    for runner in runners {
        assert!(runner.await.unwrap() > 0, "both runners ran");
    }
    let applied: BTreeSet<i64> = sqlx::query("SELECT position FROM witness")
        .fetch_all(&pool)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<i64, _>(0))
        .collect();
    let missing: Vec<_> = committed.difference(&applied).take(5).collect();
    assert!(missing.is_empty(), "events never applied: {missing:?}");
}

/// Every row of every table the enrolment and audit projections keep, sorted.
async fn all_view_rows(db: &Db) -> Vec<String> {
    const TABLES: [&str; 9] = [
        "roster_offerings",
        "roster_sessions",
        "roster_entries",
        "roster_attendance",
        "enrolment_packages",
        "enrolment_municipalities",
        "enrolment_staff",
        "audit_entries",
        "audit_staff",
    ];
    let mut rows = vec![];
    for table in TABLES {
        let mut found: Vec<String> = db
            .fetch(&format!("SELECT * FROM {table}"), &[])
            .await
            .unwrap()
            .into_iter()
            .map(|r| format!("{table}: {:?}", r.0))
            .collect();
        found.sort();
        rows.extend(found);
    }
    rows
}

/// Empties both projections' views, then applies `events` to them: one event at a time
/// (`apply`) when `batch` is `None`, else in transactions of `batch` events (`apply_batch`).
async fn project(db: &Db, events: &[LoggedEvent], batch: Option<usize>) -> Vec<String> {
    let projections: [&dyn Projection; 2] = [&Enrolment, &Audit];
    let mut tx = db.begin().await.unwrap();
    for projection in projections {
        projection.reset(&mut tx).await.unwrap();
    }
    tx.commit().await.unwrap();
    match batch {
        None => {
            for event in events {
                let mut tx = db.begin().await.unwrap();
                for projection in projections {
                    projection.apply(&mut tx, event).await.unwrap();
                }
                tx.commit().await.unwrap();
            }
        }
        Some(size) => {
            for chunk in events.chunks(size) {
                let mut tx = db.begin().await.unwrap();
                for projection in projections {
                    projection.apply_batch(&mut tx, chunk).await.unwrap();
                }
                tx.commit().await.unwrap();
            }
        }
    }
    all_view_rows(db).await
}

/// A mixed log (a whole term through the use cases, plus a few odd events appended by
/// hand) projected in batches of many sizes gives exactly the rows that applying it one
/// event at a time gives, and so does a rebuild by the runners.
async fn batches_equal_one_event_at_a_time(backend: Backend) {
    if backend == Backend::Postgres && postgres_skipped() {
        return;
    }
    let clock = TestClock::at(spring_2027());
    let (app, _guard) = fresh_app(backend, &clock).await;
    let f = Fyrbodal::build(&app, 5).await;
    publish(&app, f.package).await;
    for municipality in [&f.uddevalla, &f.trollhattan, &f.dals_ed] {
        let mut lines: Vec<RegistrationLine> = (1..5).map(|n| line(f.member(municipality, n), f.lvu_grund)).collect();
        lines.push(line(f.member(municipality, 1), f.samtal));
        app.register_collectively(&coordinator(municipality), municipality.clone(), lines).await.unwrap();
    }
    // Someone's details change between registrations (staff events name no municipality).
    let changed = f.member(&f.trollhattan, 2);
    let profile = kurslogg_domain::staff::StaffProfile {
        name: text("Handläggare 2 i trollhattan"),
        work_email: kurslogg_domain::WorkEmail::parse("handlaggare2@trollhattan.example.se").unwrap(),
        unit: text("IFO Familjehem"),
        supervisor: None,
        staff_group: kurslogg_domain::StaffGroup::Myndighetsutovning,
        experience_band: kurslogg_domain::ExperienceBand::Years3To5,
        social_work_degree: true,
    };
    app.staff_command(&coordinator(&f.trollhattan), changed, StaffCommand::UpdateStaffMember { profile })
        .await
        .unwrap();
    clock.set(after_ht2027_deadline());
    app.close_registration(&course_office(), f.package).await.unwrap();
    let view = app.offering(f.lvu_grund).await.unwrap();
    let confirmed: Vec<_> = view.registrations.iter().filter(|r| r.status == "confirmed").collect();
    let first = confirmed[0].staff_id.parse().unwrap();
    app.cancel_registration(&coordinator(&municipality_id(&confirmed[0].municipality)), f.lvu_grund, first)
        .await
        .unwrap();
    let holder = confirmed[1].staff_id.parse().unwrap();
    let holder_municipality = municipality_id(&confirmed[1].municipality);
    let colleague = f.member(&holder_municipality, 0);
    app.transfer_seat(&coordinator(&holder_municipality), f.lvu_grund, holder, colleague, false).await.unwrap();
    clock.set(utc(2027, 12, 1, 9, 0));
    let view = app.offering(f.lvu_grund).await.unwrap();
    for r in view.registrations.iter().filter(|r| r.status == "confirmed") {
        let staff = r.staff_id.parse().unwrap();
        for session in 0..view.sessions.len() {
            app.record_attendance(&trainer(), f.lvu_grund, staff, session, Attendance::Absent, None).await.unwrap();
            // Corrected at once, twice for session 0: one key, several marks in a row.
            app.record_attendance(&trainer(), f.lvu_grund, staff, session, Attendance::Present, None).await.unwrap();
            if session == 0 {
                let note = Some(text("Kom en timme sent."));
                app.record_attendance(&trainer(), f.lvu_grund, staff, session, Attendance::Excused, note)
                    .await
                    .unwrap();
            }
        }
    }
    app.offering_command(&course_office(), f.lvu_grund, OfferingCommand::CompleteOffering).await.unwrap();
    app.staff_command(&coordinator(&f.dals_ed), f.member(&f.dals_ed, 4), StaffCommand::PauseStaffMember).await.unwrap();
    // Odd events by hand: a staff member the log never added, and a run of marks of one
    // key on an offering the log never planned.
    let stranger = uuid::Uuid::new_v4().to_string();
    let ghost = uuid::Uuid::new_v4().to_string();
    let by_hand = |aggregate_type: &'static str, id: &str, sequence: i64, event_type: &str, payload: String| {
        NewEvent {
        aggregate_type,
        aggregate_id: id.to_string(),
        sequence,
        event_type: event_type.into(),
        event_version: "1".into(),
        payload,
        metadata: r#"{"actor_id":"test","actor_role":"coordinator","on_behalf_of":"uddevalla","request_id":"r","recorded_at":"2027-12-02T10:00:00.000Z"}"#.into(),
    }
    };
    let mut odd = vec![by_hand("staff", &stranger, 1, "StaffMemberPaused", r#""StaffMemberPaused""#.into())];
    for (i, attendance) in ["present", "absent", "present", "excused"].into_iter().enumerate() {
        let payload =
            format!(r#"{{"AttendanceRecorded":{{"staff":"{stranger}","session":3,"attendance":"{attendance}"}}}}"#);
        odd.push(by_hand("offering", &ghost, i as i64 + 1, "AttendanceRecorded", payload));
    }
    app.log.append(&odd, &[]).await.unwrap();

    let db = app.log.views();
    let mark = kurslogg_projections::feed::high_water_mark(&db).await.unwrap();
    let events = kurslogg_projections::feed::read(&db, 0, mark, 1_000_000).await.unwrap();
    let types: BTreeSet<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    for wanted in [
        "StaffMemberUpdated",
        "SeatsAllocated",
        "RegistrationCancelled",
        "SeatTransferred",
        "AttendanceCorrected",
        "AttendanceNoted",
        "ParticipantCompleted",
        "StaffMemberPaused",
    ] {
        assert!(types.contains(wanted), "the log has no {wanted}: {types:?}");
    }

    let one_by_one = project(&db, &events, None).await;
    assert!(one_by_one.iter().any(|r| r.starts_with("roster_attendance") && r.contains(&ghost)));
    for size in [1, 2, 3, 5, 8, 13, 64, events.len()] {
        let batched = project(&db, &events, Some(size)).await;
        assert_eq!(batched.len(), one_by_one.len(), "row count in batches of {size}");
        for (b, o) in batched.iter().zip(&one_by_one) {
            assert_eq!(b, o, "in batches of {size}");
        }
    }
    Runner::new(db.clone(), Enrolment).rebuild().await.unwrap();
    Runner::new(db.clone(), Audit).rebuild().await.unwrap();
    assert_eq!(all_view_rows(&db).await, one_by_one, "a rebuild by the runners");
}

#[tokio::test]
async fn batches_equal_one_event_at_a_time_sqlite() {
    batches_equal_one_event_at_a_time(Backend::Sqlite).await;
}

#[tokio::test]
async fn batches_equal_one_event_at_a_time_postgres() {
    batches_equal_one_event_at_a_time(Backend::Postgres).await;
}
