//! Projections never skip or double-apply an event, whatever order concurrent
//! transactions commit in, and a view built step by step equals one rebuilt from scratch.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use kurslogg::app::{Kurslogg, RegistrationLine};
use kurslogg::store::{append_postgres_events, NewEvent};
use kurslogg_domain::offering::OfferingCommand;
use kurslogg_domain::package::PackageCommand;
use kurslogg_domain::staff::StaffCommand;
use kurslogg_domain::Attendance;
use kurslogg_projections::audit::Audit;
use kurslogg_projections::enrolment::Enrolment;
use kurslogg_projections::notices::Notices;
use kurslogg_projections::views::audit_trail::{audit_trail, AuditFilter};
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

    fn tables(&self) -> &'static [&'static str] {
        &["witness"]
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

/// The service's connections never JIT-compile: compiling a short statement with LLVM
/// costs more than running it, and the feed's reads and the projections' multi-row
/// statements pass PostgreSQL's cost threshold on a large log.
#[tokio::test]
async fn the_service_s_postgres_connections_run_without_jit_postgres() {
    if postgres_skipped() {
        return;
    }
    let clock = TestClock::at(spring_2027());
    let (app, _guard) = fresh_app(Backend::Postgres, &clock).await;
    let pool = app.log.postgres_pool().expect("postgres").clone();
    // Every connection of the pool, not just the first: hold several at once.
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut connection = pool.acquire().await.unwrap();
        let jit: String = sqlx::query_scalar("SHOW jit").fetch_one(&mut *connection).await.unwrap();
        assert_eq!(jit, "off");
        held.push(connection);
    }
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
    // A reader that waited for every open transaction would never get past this point
    // while `unrelated` stays open: fail rather than hang.
    let checkpoint = tokio::time::timeout(Duration::from_secs(60), runner.catch_up())
        .await
        .expect("catching up waited on an unrelated open transaction")
        .expect("catch up");
    assert!(
        checkpoint >= position,
        "the views reached {checkpoint}, short of {position}, behind an unrelated transaction"
    );
    println!("with an unrelated transaction open: caught up {position} events in {:?}", started.elapsed());
    unrelated.rollback().await.unwrap();
}

async fn roster_dump(db: &Db) -> Vec<String> {
    let queries = [
        "SELECT offering_id || '|' || package_id || '|' || course || '|' || seat_limit || '|' || sessions || '|' || state FROM roster_offerings ORDER BY offering_id",
        "SELECT offering_id || '|' || staff_id || '|' || municipality || '|' || status || '|' || charged || '|' || late || '|' || priority || '|' || coalesce(waiting_rank, -1) || '|' || coalesce(completion, '-') || '|' || coalesce(certificate, '-') || '|' || coalesce(transferred_from, '-') || '|' || coalesce(transferred_to, '-') FROM roster_entries ORDER BY offering_id, staff_id",
        "SELECT offering_id || '|' || staff_id || '|' || marks FROM roster_attendance ORDER BY offering_id, staff_id",
    ];
    let mut rows = vec![];
    for sql in queries {
        rows.extend(db.fetch(sql, &[]).await.unwrap().iter().map(|r| r.text(0)));
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

/// Every row of every view table, in key order, as text.
async fn views_dump(db: &Db) -> Vec<String> {
    let tables = [
        ("roster_offerings", "offering_id"),
        ("roster_sessions", "offering_id, session"),
        ("roster_entries", "offering_id, staff_id"),
        ("roster_attendance", "offering_id, staff_id"),
        ("roster_charges", "offering_id, staff_id, position"),
        ("enrolment_packages", "package_id"),
        ("enrolment_municipalities", "municipality_id"),
        ("enrolment_staff", "staff_id"),
        ("enrolment_courses", "code"),
        ("roster_trainers", "offering_id, user_id"),
        ("enrolment_competence_plans", "plan_id"),
        ("audit_entries", "position"),
        ("audit_staff", "staff_id, position"),
        ("audit_registered_municipalities", "staff_id"),
        ("notice_staff", "staff_id"),
        ("notice_coordinators", "municipality, staff_id"),
        ("notice_offerings", "offering_id"),
        ("notice_places", "offering_id, staff_id"),
        ("notice_participants", "offering_id, staff_id"),
        // A rebuild finds the letters again: none new, none lost, none due again.
        ("outbox", "notice_id"),
    ];
    let mut rows = vec![];
    for (table, key) in tables {
        for record in db.fetch(&format!("SELECT * FROM {table} ORDER BY {key}"), &[]).await.unwrap() {
            rows.push(format!("{table}: {:?}", record.0));
        }
    }
    rows
}

/// Random commands from many concurrent clients through a whole term, with the
/// projections running beside them as under `kurslogg serve`: afterwards every view
/// equals its rebuild from scratch, and the roster agrees with every offering.
async fn random_concurrent_commands_converge(backend: Backend) {
    if backend == Backend::Postgres && postgres_skipped() {
        return;
    }
    use kurslogg_domain::offering::OfferingCommand;
    use kurslogg_domain::{Attendance, SeatLimit};
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    let seed: u64 = rand::rng().random();
    eprintln!("random_concurrent_commands_converge({backend:?}): seed {seed}");
    let clock = TestClock::at(spring_2027());
    let (app, _guard) = fresh_app(backend, &clock).await;
    let app = Arc::new(app);
    let f = Arc::new(Fyrbodal::build(&app, 8).await);
    publish(&app, f.package).await;
    kurslogg::views::spawn_runners(&app.log.views());
    let offerings = [f.lvu_grund, f.samtal, f.lvu_forts];
    let municipalities = [f.uddevalla.clone(), f.trollhattan.clone(), f.dals_ed.clone()];

    // Runs `steps` random steps on each of 8 concurrent clients.
    async fn clients<F, Fut>(seed: u64, step: F)
    where
        F: Fn(StdRng) -> Fut + Send + Sync + Clone + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let tasks: Vec<_> = (0..8u64).map(|c| tokio::spawn(step.clone()(StdRng::seed_from_u64(seed ^ c)))).collect();
        for task in tasks {
            task.await.unwrap();
        }
    }

    // Before the deadline: requests and free cancellations.
    let (a, fx, ms) = (app.clone(), f.clone(), municipalities.clone());
    clients(seed, move |mut rng| {
        let (app, f, municipalities) = (a.clone(), fx.clone(), ms.clone());
        async move {
            for _ in 0..25 {
                let m = &municipalities[rng.random_range(0..3)];
                let staff = f.member(m, rng.random_range(0..8));
                let offering = offerings[rng.random_range(0..2)];
                if rng.random_bool(0.8) {
                    let _ = app.register(&coordinator(m), line(staff, offering)).await;
                } else {
                    let _ = app.cancel_registration(&coordinator(m), offering, staff).await;
                }
            }
        }
    })
    .await;

    // The deadline: allocation, then charged cancellations, transfers, late requests,
    // seat changes and staff moving unit.
    clock.set(after_ht2027_deadline());
    app.close_registration(&course_office(), f.package).await.unwrap();
    let (a, fx, ms) = (app.clone(), f.clone(), municipalities.clone());
    clients(seed.rotate_left(7), move |mut rng| {
        let (app, f, municipalities) = (a.clone(), fx.clone(), ms.clone());
        async move {
            for _ in 0..20 {
                let m = &municipalities[rng.random_range(0..3)];
                let staff = f.member(m, rng.random_range(0..8));
                let offering = offerings[rng.random_range(0..2)];
                match rng.random_range(0..10) {
                    0..=2 => drop(app.cancel_registration(&coordinator(m), offering, staff).await),
                    3..=4 => {
                        let to = f.member(m, rng.random_range(0..8));
                        drop(app.transfer_seat(&coordinator(m), offering, staff, to, false).await)
                    }
                    5 => {
                        let seat_limit = SeatLimit::new(rng.random_range(2..7)).unwrap();
                        let command = OfferingCommand::ChangeSeatLimit { seat_limit, unavailable: vec![] };
                        drop(app.offering_command(&course_office(), offering, command).await)
                    }
                    _ => drop(app.register(&coordinator(m), line(staff, offering)).await),
                }
            }
        }
    })
    .await;

    // The courses run: attendance, corrections, completion.
    clock.set(utc(2027, 12, 1, 9, 0));
    for offering in [f.lvu_grund, f.samtal] {
        let view = app.offering(offering).await.unwrap();
        let participants: Vec<kurslogg_domain::StaffId> = view
            .registrations
            .iter()
            .filter(|r| r.status == "confirmed")
            .map(|r| r.staff_id.parse().unwrap())
            .collect();
        let sessions = view.sessions.len();
        let (a, people) = (app.clone(), Arc::new(participants));
        clients(seed.rotate_left(13), move |mut rng| {
            let (app, people) = (a.clone(), people.clone());
            async move {
                for _ in 0..15 {
                    let Some(staff) = people.get(rng.random_range(0..people.len().max(1))) else { return };
                    let mark = [Attendance::Present, Attendance::Present, Attendance::Absent, Attendance::Excused]
                        [rng.random_range(0..4)];
                    let session = rng.random_range(0..sessions);
                    let _ = app.record_attendance(&trainer(), offering, *staff, session, mark, None).await;
                }
            }
        })
        .await;
        app.offering_command(&course_office(), offering, OfferingCommand::CompleteOffering).await.unwrap();
    }

    // The views, caught up while all that happened, equal their rebuilds.
    let db = app.log.views();
    let latest = kurslogg_projections::feed::high_water_mark(&db).await.unwrap();
    for projection in kurslogg::views::PROJECTIONS {
        let reached = kurslogg::views::wait_for_named(&db, projection, latest, Duration::from_secs(60)).await.unwrap();
        assert!(reached, "{projection} did not catch up to {latest}");
    }
    let live = views_dump(&db).await;
    kurslogg::views::rebuild(&db, None).await.unwrap();
    let rebuilt = views_dump(&db).await;
    assert!(live.len() > 300, "a busy term: {} view rows", live.len());
    let happened_types = db.fetch("SELECT DISTINCT event_type FROM events", &[]).await.unwrap();
    for happened in
        // Completion is always evaluated; whether anyone met the threshold is up to chance.
        [
            "SeatTransferred",
            "RegistrationCancelled",
            "AttendanceCorrected",
            "SeatLimitChanged",
            "OfferingCompleted",
        ]
    {
        assert!(happened_types.iter().any(|t| t.text(0) == happened), "seed {seed}: no {happened}");
    }
    if live != rebuilt {
        let only_live: Vec<_> = live.iter().filter(|r| !rebuilt.contains(r)).take(5).collect();
        let only_rebuilt: Vec<_> = rebuilt.iter().filter(|r| !live.contains(r)).take(5).collect();
        panic!(
            "seed {seed}: live views differ from a rebuild\nlive only: {only_live:#?}\nrebuilt only: {only_rebuilt:#?}"
        );
    }

    // And the roster says what each offering says.
    for offering in offerings {
        let truth = app.offering(offering).await.unwrap();
        let roster = kurslogg_projections::views::roster::roster(&db, &offering.to_string()).await.unwrap().unwrap();
        assert_eq!(roster.seat_limit, i64::from(truth.seat_limit), "seed {seed}");
        assert_eq!(roster.entries.len(), truth.registrations.len(), "seed {seed}");
        for r in &truth.registrations {
            let entry = roster.entries.iter().find(|e| e.staff_id == r.staff_id).expect("on the roster");
            assert_eq!(entry.status, r.status, "seed {seed}: status of {}", r.staff_id);
            assert_eq!(entry.charged, r.charged, "seed {seed}: charged of {}", r.staff_id);
            assert_eq!(entry.certificate, r.certificate, "seed {seed}: certificate of {}", r.staff_id);
            assert_eq!(entry.attendance, r.attendance, "seed {seed}: attendance of {}", r.staff_id);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn random_concurrent_commands_converge_sqlite() {
    random_concurrent_commands_converge(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn random_concurrent_commands_converge_postgres() {
    random_concurrent_commands_converge(Backend::Postgres).await;
}

/// Every index in the database, with its definition.
async fn indexes(db: &Db) -> Vec<String> {
    let sql = match db {
        Db::Postgres(_) => {
            "SELECT indexname || ': ' || indexdef FROM pg_indexes WHERE schemaname = current_schema() ORDER BY indexname"
        }
        Db::Sqlite { .. } | Db::Private(_) => {
            "SELECT name || ': ' || coalesce(sql, '') FROM sqlite_master WHERE type = 'index' ORDER BY name"
        }
    };
    db.fetch(sql, &[]).await.unwrap().iter().map(|r| r.text(0)).collect()
}

/// Indexes a rebuild has dropped and not built again yet.
async fn dropped_indexes(db: &Db) -> i64 {
    db.read_int("SELECT count(*) FROM projection_dropped_indexes", &[]).await.unwrap().unwrap_or(0)
}

/// The audit projection, stuck for good in its first batch, rebuilt in place or aside (as
/// the real one is): a rebuild of it stops there, as a process killed there would; in
/// place after emptying the view and dropping its indexes, aside while its scratch
/// database is being filled.
struct Stuck {
    started: Arc<tokio::sync::Notify>,
    aside: bool,
}

#[async_trait]
impl Projection for Stuck {
    fn name(&self) -> &'static str {
        Audit.name()
    }

    fn tables(&self) -> &'static [&'static str] {
        Audit.tables()
    }

    fn rebuilds_aside(&self) -> bool {
        self.aside
    }

    fn appended_table(&self) -> Option<&'static str> {
        Audit.appended_table()
    }

    /// Adds the event's audit entry (so a rebuild aside copying the entries as it goes
    /// has started its copy), then never returns.
    async fn apply(&self, tx: &mut ViewTx, event: &LoggedEvent) -> Result<(), ProjectionError> {
        let entry = [Param::Int(event.position), event.recorded_at().into(), event.meta("actor_id").into()];
        tx.append_rows("audit_entries", &["position", "recorded_at", "actor_id"], &entry).await?;
        self.started.notify_one();
        std::future::pending().await
    }
}

/// A fresh app on `backend` where two municipalities have registered three people each
/// and the federation's competence plan has two versions: rows in every view.
async fn two_collective_registrations(backend: Backend) -> (Kurslogg, Guard) {
    use kurslogg_domain::competence::{BandPlan, CompetencePlanId};
    use kurslogg_domain::{ExperienceBand, FederationId};
    let clock = TestClock::at(spring_2027());
    let (app, guard) = fresh_app(backend, &clock).await;
    let f = Fyrbodal::build(&app, 4).await;
    publish(&app, f.package).await;
    for municipality in [&f.uddevalla, &f.trollhattan] {
        let lines = (1..4).map(|n| line(f.member(municipality, n), f.lvu_grund)).collect();
        app.register_collectively(&coordinator(municipality), municipality.clone(), lines).await.unwrap();
    }
    let plan = CompetencePlanId::new(FederationId::parse("fyrbodal").unwrap(), 2027).unwrap();
    for courses in [vec![f.lvu_grund_code.clone()], vec![f.lvu_grund_code.clone(), f.lvu_forts_code.clone()]] {
        let band = BandPlan { band: ExperienceBand::New0To2, courses, local_needs: vec![text("Mentor")], note: None };
        app.set_competence_plan(&course_office(), plan.clone(), vec![band]).await.unwrap();
    }
    (app, guard)
}

/// A rebuild drops the secondary indexes of the tables it refills and builds them again
/// at its end, leaving the views and indexes as they were. One cut off in between leaves
/// its record of them, and the projection's next start builds them again and finishes
/// the view.
async fn a_rebuild_builds_the_indexes_it_dropped_again_even_when_cut_off(backend: Backend) {
    if backend == Backend::Postgres && postgres_skipped() {
        return;
    }
    let (app, _guard) = two_collective_registrations(backend).await;
    let db = app.log.views();
    kurslogg::views::rebuild(&db, None).await.unwrap();
    if matches!(db, Db::Postgres(_)) {
        // A setting an operator gave a primary key's index survives the key being made
        // again when the rows are put in place.
        let mut tx = db.begin().await.unwrap();
        tx.execute("ALTER INDEX audit_entries_pkey SET (fillfactor = 80)", &[]).await.unwrap();
        tx.commit().await.unwrap();
    }
    let (views, indexes_before) = (views_dump(&db).await, indexes(&db).await);
    assert!(indexes_before.iter().any(|i| i.starts_with("audit_entries_actor")), "{indexes_before:?}");
    if matches!(db, Db::Postgres(_)) {
        assert!(indexes_before.iter().any(|i| i.starts_with("audit_entries_pkey") && i.contains("fillfactor")));
    }
    assert!(
        views.iter().any(|r| r.starts_with("audit_entries")) && views.iter().any(|r| r.starts_with("roster_entries"))
    );
    let plans: Vec<&String> = views.iter().filter(|r| r.starts_with("enrolment_competence_plans")).collect();
    assert!(plans.len() == 1 && plans[0].contains("LVU-FORTS"), "the plan's second version: {plans:?}");

    // A whole rebuild: the same views and the same indexes, no record left.
    kurslogg::views::rebuild(&db, None).await.unwrap();
    assert_eq!(views_dump(&db).await, views, "views after a rebuild");
    assert_eq!(indexes(&db).await, indexes_before, "indexes after a rebuild");
    assert_eq!(dropped_indexes(&db).await, 0);

    // Cut off after its start: the audit view is empty and its indexes are gone.
    let started = Arc::new(tokio::sync::Notify::new());
    let rebuild = tokio::spawn({
        let (db, stuck) = (db.clone(), Stuck { started: started.clone(), aside: false });
        async move { kurslogg_projections::runner::rebuild(&db, &[Arc::new(stuck)]).await }
    });
    tokio::time::timeout(Duration::from_secs(30), started.notified())
        .await
        .expect("the rebuild reaches its first batch");
    rebuild.abort();
    assert!(rebuild.await.unwrap_err().is_cancelled());
    let cut_off = indexes(&db).await;
    assert!(!cut_off.iter().any(|i| i.starts_with("audit_entries_actor")), "dropped while rebuilding: {cut_off:?}");
    assert!(cut_off.iter().any(|i| i.starts_with("roster_entries_staff")), "another projection's indexes stay");
    assert!(dropped_indexes(&db).await > 0);
    let audit = Runner::new(db.clone(), Audit);
    assert_eq!(audit.checkpoint().await.unwrap(), 0, "the rebuild had started from scratch");

    // The next start.
    let runner = tokio::spawn(Runner::new(db.clone(), Audit).run(Duration::from_millis(20)));
    let mark = kurslogg_projections::feed::latest_position(&db).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while audit.checkpoint().await.unwrap() < mark || dropped_indexes(&db).await > 0 {
        assert!(Instant::now() < deadline, "the audit runner did not restore its indexes and catch up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    runner.abort();
    assert_eq!(indexes(&db).await, indexes_before, "indexes after the next start");
    assert_eq!(views_dump(&db).await, views, "views after the next start");
}

#[tokio::test]
async fn a_rebuild_builds_the_indexes_it_dropped_again_even_when_cut_off_sqlite() {
    a_rebuild_builds_the_indexes_it_dropped_again_even_when_cut_off(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_rebuild_builds_the_indexes_it_dropped_again_even_when_cut_off_postgres() {
    a_rebuild_builds_the_indexes_it_dropped_again_even_when_cut_off(Backend::Postgres).await;
}

/// Scratch databases of rebuilds left in a directory.
fn scratch_files(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("the database's directory")
        .map(|entry| entry.expect("a directory entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".kurslogg-rebuild-"))
        .collect()
}

/// A projection rebuilt aside keeps its live views, checkpoint and indexes as they were
/// while the rebuild fills its scratch database, and a rebuild cut off then changes
/// nothing and leaves no scratch file behind; a whole one replaces the rows at once.
async fn a_rebuild_aside_cut_off_leaves_the_live_views_as_they_were(backend: Backend) {
    if backend == Backend::Postgres && postgres_skipped() {
        return;
    }
    let (app, guard) = two_collective_registrations(backend).await;
    let db = app.log.views();
    let mark = kurslogg_projections::feed::latest_position(&db).await.unwrap();
    assert_eq!(Runner::new(db.clone(), Audit).catch_up().await.unwrap(), mark);
    let (views, indexes_before) = (views_dump(&db).await, indexes(&db).await);
    assert!(views.iter().filter(|r| r.starts_with("audit_entries")).count() as i64 >= mark);

    let started = Arc::new(tokio::sync::Notify::new());
    let rebuild = tokio::spawn({
        let (db, stuck) = (db.clone(), Stuck { started: started.clone(), aside: true });
        async move { kurslogg_projections::runner::rebuild(&db, &[Arc::new(stuck)]).await }
    });
    tokio::time::timeout(Duration::from_secs(30), started.notified())
        .await
        .expect("the rebuild reaches its first batch");
    // Mid-rebuild: the live audit trail answers as before, and on PostgreSQL, where its
    // entries are being copied into a new table, nothing holds a lock on the live one (a
    // migration could change it, another rebuild put it in place).
    assert_eq!(views_dump(&db).await, views, "views while rebuilding aside");
    assert!(live_table_is_free(&db).await, "the live audit trail is not locked while the rebuild fills");
    let dir = std::path::Path::new(&guard.location).parent().map(std::path::Path::to_path_buf);
    if let Some(dir) = dir.as_ref().filter(|_| backend == Backend::Sqlite) {
        assert_eq!(scratch_files(dir).len(), 1, "the scratch database lives beside the live one");
    }
    rebuild.abort();
    assert!(rebuild.await.unwrap_err().is_cancelled());

    assert_eq!(views_dump(&db).await, views, "views after the cut-off rebuild");
    assert_eq!(indexes(&db).await, indexes_before, "indexes after the cut-off rebuild");
    assert_eq!(dropped_indexes(&db).await, 0, "nothing to restore");
    assert_eq!(Runner::new(db.clone(), Audit).checkpoint().await.unwrap(), mark, "the checkpoint stays");
    assert_eq!(rebuilt_tables(&db).await, Vec::<String>::new(), "no table left behind");
    assert!(live_table_is_free(&db).await, "the live audit trail is not locked after the cut-off");
    if let Some(dir) = dir.as_ref().filter(|_| backend == Backend::Sqlite) {
        assert_eq!(scratch_files(dir), Vec::<String>::new(), "no scratch database left behind");
    }

    // A whole rebuild aside gives the same views and indexes, and cleans up after itself.
    assert_eq!(Runner::new(db.clone(), Audit).rebuild().await.unwrap(), mark);
    assert_eq!(views_dump(&db).await, views, "views after a rebuild aside");
    assert_eq!(indexes(&db).await, indexes_before, "indexes after a rebuild aside");
    assert_eq!(dropped_indexes(&db).await, 0);
    if let Some(dir) = dir.as_ref().filter(|_| backend == Backend::Sqlite) {
        assert_eq!(scratch_files(dir), Vec::<String>::new(), "no scratch database left behind");
    }
}

/// Tables a rebuild copied a view's rows into as it went, to take the live ones' place.
async fn rebuilt_tables(db: &Db) -> Vec<String> {
    let sql = match db {
        Db::Postgres(_) => "SELECT relname::text FROM pg_class WHERE relname LIKE '%\\_rebuilt\\_%'",
        _ => "SELECT name FROM sqlite_master WHERE name LIKE '%\\_rebuilt\\_%' ESCAPE '\\'",
    };
    db.fetch(sql, &[]).await.unwrap().iter().map(|r| r.text(0)).collect()
}

/// Whether another transaction can take the live audit trail's table for itself at once
/// (always on SQLite, which locks the whole database only while writing).
async fn live_table_is_free(db: &Db) -> bool {
    if !matches!(db, Db::Postgres(_)) {
        return true;
    }
    let mut tx = db.begin().await.unwrap();
    let locked = tx.execute("LOCK TABLE audit_entries IN ACCESS EXCLUSIVE MODE NOWAIT", &[]).await;
    drop(tx); // rolled back
    locked.is_ok()
}

/// The audit trail's entries, whole.
async fn audit_entries(db: &Db) -> Vec<String> {
    let sql = "SELECT position || '|' || recorded_at || '|' || actor_id || '|' || coalesce(offering_id, '-') || '|' \
               || coalesce(municipality, '-') || '|' || coalesce(staff_id, '-') FROM audit_entries ORDER BY position";
    db.fetch(sql, &[]).await.unwrap().iter().map(|r| r.text(0)).collect()
}

/// A log long enough for a rebuild's copy of the audit trail to span several batches of
/// the log and several chunks of `COPY` data: the entries it puts in place on PostgreSQL
/// equal those the runner wrote event by event.
#[tokio::test]
async fn a_rebuild_copies_an_audit_trail_of_many_batches_as_it_goes_postgres() {
    if postgres_skipped() {
        return;
    }
    let clock = TestClock::at(spring_2027());
    let (app, _guard) = fresh_app(Backend::Postgres, &clock).await;
    let events: Vec<NewEvent> = (0..45_000_i64)
        .map(|i| NewEvent {
            aggregate_type: "offering",
            aggregate_id: format!("o-{}", i % 50),
            sequence: i / 50 + 1,
            event_type: "AttendanceRecorded".into(),
            event_version: "1".into(),
            payload: format!(r#"{{"staff":"s-{}","session":{},"attendance":"Present"}}"#, i % 700, i % 20),
            metadata: format!(
                r#"{{"actor_id":"trainer-{}","actor_role":"trainer","request_id":"r-{i}","recorded_at":"2027-02-{:02}T10:00:00.000Z"}}"#,
                i % 7,
                1 + i / 2_000
            ),
        })
        .collect();
    for chunk in events.chunks(5_000) {
        app.log.append(chunk, &[]).await.unwrap();
    }
    let db = app.log.views();
    let audit = Runner::new(db.clone(), Audit);
    let mark = audit.catch_up().await.unwrap();
    assert!(mark >= 45_000);
    let (entries, indexes_before) = (audit_entries(&db).await, indexes(&db).await);
    assert_eq!(entries.len(), 45_000);
    let table = "SELECT 'audit_entries'::regclass::oid::bigint";
    let before = db.read_int(table, &[]).await.unwrap();

    assert_eq!(audit.rebuild().await.unwrap(), mark);
    assert_ne!(db.read_int(table, &[]).await.unwrap(), before, "the entries were copied as the rebuild went");
    assert_eq!(audit_entries(&db).await, entries, "the same entries as event by event");
    assert_eq!(indexes(&db).await, indexes_before, "the same indexes");
}

/// On PostgreSQL a rebuild copies the audit trail's entries as it goes, into a new table
/// that then takes the live one's place: the same rows and indexes, another table. A live
/// table that the swap would change in another way (here a privilege granted on it) is
/// not swapped: its privilege stays, and its rows are put in place after the fill.
#[tokio::test]
async fn a_rebuild_swaps_in_the_audit_entries_it_copied_as_it_went_unless_that_loses_a_grant_postgres() {
    if postgres_skipped() {
        return;
    }
    let (app, _guard) = two_collective_registrations(Backend::Postgres).await;
    let db = app.log.views();
    kurslogg::views::rebuild(&db, None).await.unwrap();
    let (views, indexes_before) = (views_dump(&db).await, indexes(&db).await);
    let table = "SELECT 'audit_entries'::regclass::oid::bigint";
    let before = db.read_int(table, &[]).await.unwrap();

    kurslogg::views::rebuild(&db, Some("audit")).await.unwrap();
    assert_eq!(views_dump(&db).await, views, "views after a rebuild");
    assert_eq!(indexes(&db).await, indexes_before, "indexes after a rebuild");
    let swapped = db.read_int(table, &[]).await.unwrap();
    assert_ne!(swapped, before, "the entries were copied into a new table");
    assert_eq!(rebuilt_tables(&db).await, Vec::<String>::new(), "which took the live one's name");

    let mut tx = db.begin().await.unwrap();
    tx.execute("GRANT SELECT ON audit_entries TO pg_monitor", &[]).await.unwrap();
    tx.commit().await.unwrap();
    kurslogg::views::rebuild(&db, Some("audit")).await.unwrap();
    assert_eq!(views_dump(&db).await, views, "views after a rebuild");
    assert_eq!(indexes(&db).await, indexes_before, "indexes after a rebuild");
    assert_eq!(db.read_int(table, &[]).await.unwrap(), swapped, "the table with a grant was not swapped");
    let granted = "SELECT has_table_privilege('pg_monitor', 'audit_entries', 'SELECT')::int::int8";
    assert_eq!(db.read_int(granted, &[]).await.unwrap(), Some(1), "the grant stays");

    // Revoked again, the privileges are a new table's (though written out): swapped again.
    let mut tx = db.begin().await.unwrap();
    tx.execute("REVOKE SELECT ON audit_entries FROM pg_monitor", &[]).await.unwrap();
    tx.commit().await.unwrap();
    kurslogg::views::rebuild(&db, Some("audit")).await.unwrap();
    assert_eq!(views_dump(&db).await, views, "views after a rebuild");
    assert_ne!(db.read_int(table, &[]).await.unwrap(), swapped, "swapped again once the grant was revoked");
}

#[tokio::test]
async fn a_rebuild_aside_cut_off_leaves_the_live_views_as_they_were_sqlite() {
    a_rebuild_aside_cut_off_leaves_the_live_views_as_they_were(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_rebuild_aside_cut_off_leaves_the_live_views_as_they_were_postgres() {
    a_rebuild_aside_cut_off_leaves_the_live_views_as_they_were(Backend::Postgres).await;
}

/// Counts the events it applies, per runner, so a test can see which instance ran it.
struct Tally(&'static str);

#[async_trait]
impl Projection for Tally {
    fn name(&self) -> &'static str {
        "tally"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["tally"]
    }

    async fn apply(&self, tx: &mut ViewTx, event: &LoggedEvent) -> Result<(), ProjectionError> {
        tx.execute(
            "INSERT INTO tally (position, runner) VALUES ($1, $2)",
            &[Param::Int(event.position), self.0.into()],
        )
        .await?;
        Ok(())
    }
}

/// Two service instances run the same projection: only one works at a time, and when
/// it dies the other takes over and carries on from the checkpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_standby_instance_takes_over_a_projection_when_the_leader_dies_postgres() {
    if postgres_skipped() {
        return;
    }
    let clock = TestClock::at(spring_2027());
    let (app, _guard) = fresh_app(Backend::Postgres, &clock).await;
    let Db::Postgres(pool) = app.log.views() else { unreachable!() };
    sqlx::query("CREATE TABLE tally (position bigint PRIMARY KEY, runner text NOT NULL)").execute(&pool).await.unwrap();
    // Each instance has its own pool, as two processes would.
    let own_pool =
        || async { Db::Postgres(sqlx::PgPool::connect_with((*pool.connect_options()).clone()).await.unwrap()) };
    // Waits until the events each instance applied satisfy `done(first, second)`.
    async fn until(pool: &sqlx::PgPool, what: &str, done: impl Fn(i64, i64) -> bool) {
        let started = Instant::now();
        loop {
            let count = |runner: &'static str| {
                sqlx::query_scalar::<_, i64>("SELECT count(*) FROM tally WHERE runner = $1")
                    .bind(runner)
                    .fetch_one(pool)
            };
            if done(count("first").await.unwrap(), count("second").await.unwrap()) {
                return;
            }
            assert!(started.elapsed() < Duration::from_secs(30), "timed out waiting until {what}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let first = tokio::spawn(Runner::new(own_pool().await, Tally("first")).run(Duration::from_millis(50)));
    let f = Fyrbodal::build(&app, 3).await;
    let written = kurslogg_projections::feed::high_water_mark(&app.log.views()).await.unwrap();
    until(&pool, "the first instance applied the fixture", |first, _| first >= written).await;
    let second = tokio::spawn(Runner::new(own_pool().await, Tally("second")).run(Duration::from_millis(50)));
    // More events, a few at a time, while both run: the first keeps the projection, the
    // second stands by (without the lock, the two would share the work).
    publish(&app, f.package).await;
    for n in 0..20 {
        add_staff(&app, &f.dals_ed, 100 + n).await;
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    let written = kurslogg_projections::feed::high_water_mark(&app.log.views()).await.unwrap();
    until(&pool, "the new events were applied", |first, second| first + second >= written).await;
    until(&pool, "nothing", |_, second| {
        assert_eq!(second, 0, "the standby applied events while the leader was alive");
        true
    })
    .await;

    // The first instance dies: its session, and with it the lock, ends.
    first.abort();
    let _ = first.await;
    let lines = (1..3).map(|n| line(f.member(&f.uddevalla, n), f.samtal)).collect();
    app.register_collectively(&coordinator(&f.uddevalla), f.uddevalla.clone(), lines).await.unwrap();
    let written = kurslogg_projections::feed::high_water_mark(&app.log.views()).await.unwrap();
    until(&pool, "the second instance took over", |first, second| second > 0 && first + second >= written).await;
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM tally").fetch_one(&pool).await.unwrap();
    assert_eq!(total, written, "every event applied exactly once across both instances");
    second.abort();
}

/// Empties both projections' views, then applies `events` to them: one event at a time
/// (`apply`) when `batch` is `None`, else in transactions of `batch` events (`apply_batch`).
async fn project(db: &Db, events: &[LoggedEvent], batch: Option<usize>) -> Vec<String> {
    let projections: [&dyn Projection; 3] = [&Enrolment, &Audit, &Notices];
    let mut tx = db.begin().await.unwrap();
    for projection in projections {
        projection.reset(&mut tx).await.unwrap();
    }
    // The notices projection keeps the outbox through a reset; here every run must write
    // all its letters itself.
    tx.execute("DELETE FROM outbox", &[]).await.unwrap();
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
    views_dump(db).await
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
        name: person_name("Handläggare C i trollhattan"),
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
    // Another's sessions out of order, with gaps: runs of them set over each other.
    let other = uuid::Uuid::new_v4().to_string();
    for (i, (session, attendance)) in
        [(5, "excused"), (1, "absent"), (2, "absent"), (1, "present"), (0, "absent")].into_iter().enumerate()
    {
        let payload = format!(
            r#"{{"AttendanceRecorded":{{"staff":"{other}","session":{session},"attendance":"{attendance}"}}}}"#
        );
        odd.push(by_hand("offering", &ghost, i as i64 + 5, "AttendanceRecorded", payload));
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
    // On the ghost, the stranger's one session, marked four times: the last mark stands,
    // sessions before it unrecorded; the other's, in any order, each session's last mark;
    // the trainer's marks: session 0 excused after the corrections, the rest present.
    let marks_of = |who: &str| -> Vec<&String> {
        one_by_one.iter().filter(|r| r.starts_with("roster_attendance") && r.contains(who)).collect()
    };
    assert_eq!(marks_of(&stranger).len(), 1);
    assert!(marks_of(&stranger)[0].contains("\"---E\""), "{:?}", marks_of(&stranger));
    assert_eq!(marks_of(&other).len(), 1);
    assert!(marks_of(&other)[0].contains("\"APA--E\""), "{:?}", marks_of(&other));
    assert!(one_by_one.iter().any(|r| r.starts_with("roster_attendance") && r.contains("\"EP")), "{one_by_one:?}");
    for table in ["outbox", "notice_places", "notice_participants"] {
        assert!(one_by_one.iter().any(|r| r.starts_with(table)), "the scenario fills {table}");
    }
    for size in [1, 2, 3, 5, 8, 13, 64, events.len()] {
        let batched = project(&db, &events, Some(size)).await;
        assert_eq!(batched.len(), one_by_one.len(), "row count in batches of {size}");
        for (b, o) in batched.iter().zip(&one_by_one) {
            assert_eq!(b, o, "in batches of {size}");
        }
    }
    Runner::new(db.clone(), Enrolment).rebuild().await.unwrap();
    Runner::new(db.clone(), Audit).rebuild().await.unwrap();
    Runner::new(db.clone(), Notices).rebuild().await.unwrap();
    assert_eq!(views_dump(&db).await, one_by_one, "a rebuild by the runners");
}

#[tokio::test]
async fn batches_equal_one_event_at_a_time_sqlite() {
    batches_equal_one_event_at_a_time(Backend::Sqlite).await;
}

#[tokio::test]
async fn batches_equal_one_event_at_a_time_postgres() {
    batches_equal_one_event_at_a_time(Backend::Postgres).await;
}

/// Migration 000011 (the audit trail refers to the log) keeps every entry of a database
/// written before it: the same filter columns, the one staff member an event concerns in
/// its entry, several still in `audit_staff`; and the trail shows the rest from the log.
async fn the_audit_trail_keeps_its_entries_through_its_migration(backend: Backend) {
    if backend == Backend::Postgres && postgres_skipped() {
        return;
    }
    const REFERS_TO_THE_LOG: i64 = 20261124000011;
    let guard = fresh_database(backend).await;
    // Three events and their audit entries as the projection wrote them before: a staff
    // member's own event, an allocation of two people, a package's event.
    let before = [
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) VALUES \
         ('staff', 's-1', 1, 'StaffMemberPaused', '1', '{\"StaffMemberPaused\":{\"reason\":\"leave\"}}', \
          '{\"actor_id\":\"u-1\",\"actor_role\":\"coordinator\",\"on_behalf_of\":\"tanum\",\"request_id\":\"r-1\",\"recorded_at\":\"2027-01-02T10:00:00.000Z\"}'), \
         ('offering', 'o-1', 1, 'SeatsAllocated', '1', '{\"SeatsAllocated\":{\"confirmed\":[\"s-1\",\"s-2\"],\"waitlisted\":[]}}', \
          '{\"actor_id\":\"u-2\",\"actor_role\":\"course_office\",\"on_behalf_of\":\"\",\"request_id\":\"r-2\",\"recorded_at\":\"2027-01-03T10:00:00.000Z\"}'), \
         ('package', 'p-1', 1, 'PackagePublished', '1', '{\"PackagePublished\":{}}', \
          '{\"actor_id\":\"u-2\",\"actor_role\":\"course_office\",\"on_behalf_of\":\"\",\"request_id\":\"r-3\",\"recorded_at\":\"2027-01-04T10:00:00.000Z\"}')",
        "INSERT INTO audit_entries (position, recorded_at, aggregate_type, aggregate_id, event_type, actor_id, actor_role, \
         on_behalf_of, request_id, offering_id, municipality, details) VALUES \
         (1, '2027-01-02T10:00:00.000Z', 'staff', 's-1', 'StaffMemberPaused', 'u-1', 'coordinator', 'tanum', 'r-1', NULL, 'tanum', '{\"reason\":\"leave\"}'), \
         (2, '2027-01-03T10:00:00.000Z', 'offering', 'o-1', 'SeatsAllocated', 'u-2', 'course_office', NULL, 'r-2', 'o-1', NULL, '{}'), \
         (3, '2027-01-04T10:00:00.000Z', 'package', 'p-1', 'PackagePublished', 'u-2', 'course_office', NULL, 'r-3', NULL, NULL, '{}')",
        "INSERT INTO audit_staff (staff_id, position) VALUES ('s-1', 1), ('s-1', 2), ('s-2', 2)",
    ];
    guard.migrate_before(REFERS_TO_THE_LOG).await;
    for sql in before {
        guard.execute(sql).await;
    }
    let app = guard.open(&TestClock::at(spring_2027())).await;
    app.log.migrate().await.expect("the audit trail's migration applies to a database with entries");
    let db = app.log.views();

    let entries = db
        .fetch("SELECT position, recorded_at, actor_id, offering_id, municipality, staff_id FROM audit_entries ORDER BY position", &[])
        .await
        .unwrap();
    let rows: Vec<Vec<Option<String>>> = entries.iter().map(|r| (1..6).map(|i| r.opt_text(i)).collect()).collect();
    let text = |s: &str| Some(s.to_string());
    assert_eq!(
        rows,
        vec![
            vec![text("2027-01-02T10:00:00.000Z"), text("u-1"), None, text("tanum"), text("s-1")],
            vec![text("2027-01-03T10:00:00.000Z"), text("u-2"), text("o-1"), None, None],
            vec![text("2027-01-04T10:00:00.000Z"), text("u-2"), None, None, None],
        ]
    );
    let several = db.fetch("SELECT staff_id, position FROM audit_staff ORDER BY staff_id", &[]).await.unwrap();
    let several: Vec<(String, i64)> = several.iter().map(|r| (r.text(0), r.int(1))).collect();
    assert_eq!(several, vec![("s-1".to_string(), 2), ("s-2".to_string(), 2)], "only the allocation's two people");

    // The trail reads the rest from the log, and finds both kinds of staff entry.
    let filter = AuditFilter { staff: Some("s-1".into()), ..AuditFilter::default() };
    let page = audit_trail(&db, &filter, None).await.unwrap();
    let shown: Vec<_> = page
        .entries
        .iter()
        .map(|e| (e.position, e.event_type.as_str(), e.actor_role.as_str(), e.request_id.as_str(), e.staff.clone()))
        .collect();
    assert_eq!(
        shown,
        vec![
            (1, "StaffMemberPaused", "coordinator", "r-1", vec!["s-1".to_string()]),
            (2, "SeatsAllocated", "course_office", "r-2", vec!["s-1".to_string(), "s-2".to_string()]),
        ]
    );
    assert_eq!(page.entries[0].on_behalf_of.as_deref(), Some("tanum"));
    assert_eq!(page.entries[0].details, Some(serde_json::json!({ "reason": "leave" })));
    let sql = if matches!(db, Db::Postgres(_)) {
        "SELECT indexname::text FROM pg_indexes WHERE tablename = 'audit_entries'"
    } else {
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'audit_entries' AND sql IS NOT NULL"
    };
    let indexes: Vec<String> = db.fetch(sql, &[]).await.unwrap().iter().map(|r| r.text(0)).collect();
    for index in ["audit_entries_time", "audit_entries_actor", "audit_entries_offering", "audit_entries_staff"] {
        assert!(indexes.iter().any(|i| i == index), "{index} missing: {indexes:?}");
    }
    // A search by time finds the entries of that stretch only (on PostgreSQL through the
    // block-range index of migration 000015).
    let filter = AuditFilter {
        from: Some("2027-01-03T00:00:00.000Z".into()),
        to: Some("2027-01-04T00:00:00.000Z".into()),
        ..AuditFilter::default()
    };
    let page = audit_trail(&db, &filter, None).await.unwrap();
    let shown: Vec<_> = page.entries.iter().map(|e| (e.position, e.event_type.as_str())).collect();
    assert_eq!(shown, vec![(2, "SeatsAllocated")]);
    if matches!(db, Db::Postgres(_)) {
        let method = db
            .fetch(
                "SELECT am.amname::text FROM pg_class c JOIN pg_am am ON am.oid = c.relam WHERE c.relname = 'audit_entries_time'",
                &[],
            )
            .await
            .unwrap();
        assert_eq!(method.first().map(|r| r.text(0)).as_deref(), Some("brin"));
    }
}

/// Migration 000013 (attendance per participant) on a database whose enrolment views were
/// built with one row per mark: it empties them and forgets the projection's checkpoint,
/// and the runner builds them again from the log, the marks in the new form.
async fn attendance_per_participant_is_rebuilt_from_the_log_after_its_migration(backend: Backend) {
    if backend == Backend::Postgres && postgres_skipped() {
        return;
    }
    const PER_PARTICIPANT: i64 = 20261124000013;
    let guard = fresh_database(backend).await;
    guard.migrate_before(PER_PARTICIPANT).await;
    // A term as the service wrote it before the migration: events in the log.
    let clock = TestClock::at(spring_2027());
    let app = guard.open(&clock).await;
    let f = Fyrbodal::build(&app, 2).await;
    publish(&app, f.package).await;
    let anna = f.member(&f.uddevalla, 1);
    app.register_collectively(&coordinator(&f.uddevalla), f.uddevalla.clone(), vec![line(anna, f.samtal)])
        .await
        .unwrap();
    clock.set(after_ht2027_deadline());
    app.close_registration(&course_office(), f.package).await.unwrap();
    clock.set(utc(2027, 10, 13, 9, 0));
    app.record_attendance(&trainer(), f.samtal, anna, 1, Attendance::Absent, None).await.unwrap();
    app.record_attendance(&trainer(), f.samtal, anna, 0, Attendance::Present, None).await.unwrap();
    // ... and the views as the old projection left them: a mark per row, the checkpoint at
    // the log's end (one mark stands in for all of them).
    let mark = kurslogg_projections::feed::high_water_mark(&app.log.views()).await.unwrap();
    let before = [
        format!(
            "INSERT INTO roster_attendance (offering_id, staff_id, session, attendance) \
             VALUES ('{}', '{anna}', 1, 'absent')",
            f.samtal
        ),
        format!("INSERT INTO projection_checkpoints (name, position) VALUES ('enrolment', {mark})"),
    ];
    for sql in &before {
        guard.execute(sql).await;
    }

    app.log.migrate().await.expect("the attendance migration applies to a database with marks");
    let db = app.log.views();
    assert_eq!(Runner::new(db.clone(), Enrolment).checkpoint().await.unwrap(), 0, "the projection starts again");
    catch_up(&app).await;
    let roster = kurslogg_projections::views::roster::roster(&db, &f.samtal.to_string()).await.unwrap().unwrap();
    let entry = roster.entries.iter().find(|e| e.staff_id == anna.to_string()).expect("Anna on the roster");
    assert_eq!(entry.attendance[..2], [Some("present".to_string()), Some("absent".to_string())]);
    let stored = db.fetch("SELECT marks FROM roster_attendance", &[]).await.unwrap();
    assert_eq!(stored.iter().map(|r| r.text(0)).collect::<Vec<_>>(), ["PA"]);
}

#[tokio::test]
async fn attendance_per_participant_is_rebuilt_from_the_log_after_its_migration_sqlite() {
    attendance_per_participant_is_rebuilt_from_the_log_after_its_migration(Backend::Sqlite).await;
}

#[tokio::test]
async fn attendance_per_participant_is_rebuilt_from_the_log_after_its_migration_postgres() {
    attendance_per_participant_is_rebuilt_from_the_log_after_its_migration(Backend::Postgres).await;
}

/// Human-language text columns, which keep the database's collation (migration 000014).
const HUMAN_TEXT: [(&str, &str); 14] = [
    ("enrolment_municipalities", "name"),
    ("enrolment_municipalities", "federation"),
    ("enrolment_packages", "title"),
    ("enrolment_packages", "organiser"),
    ("enrolment_courses", "title"),
    ("enrolment_courses", "description"),
    ("roster_offerings", "title"),
    ("roster_offerings", "description"),
    ("roster_offerings", "trainer"),
    ("roster_offerings", "place"),
    ("roster_entries", "unit"),
    ("enrolment_staff", "unit"),
    ("users", "display_name"),
    ("api_tokens", "label"),
];

/// On PostgreSQL every id, code and time compares byte by byte, as on SQLite, and only
/// names and titles follow the database's locale. A new column that forgets `COLLATE "C"`
/// fails here: compared with an id column elsewhere, PostgreSQL would refuse the query.
#[tokio::test]
async fn every_key_column_compares_bytewise_postgres() {
    if postgres_skipped() {
        return;
    }
    let guard = fresh_database(Backend::Postgres).await;
    guard.migrate_before(i64::MAX).await;
    let Raw::Postgres(pool) = guard.raw() else { unreachable!("a PostgreSQL guard") };
    let columns = sqlx::query(
        "SELECT c.table_name::text, c.column_name::text, c.collation_name::text FROM information_schema.columns c \
         JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
         WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' AND c.data_type = 'text' \
         AND c.table_name <> '_sqlx_migrations' ORDER BY 1, 2",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let columns: Vec<(String, String, Option<String>)> =
        columns.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect();
    assert!(columns.len() > 100, "the whole schema: {} text columns", columns.len());
    let human = |table: &str, column: &str| HUMAN_TEXT.contains(&(table, column));
    let wrong: Vec<_> = columns
        .iter()
        .filter(|(table, column, collation)| {
            let expected = if human(table, column) { None } else { Some("C") };
            collation.as_deref() != expected
        })
        .collect();
    assert!(wrong.is_empty(), "columns with the wrong collation (table, column, collation): {wrong:#?}");
    for (table, column) in HUMAN_TEXT {
        assert!(
            columns.iter().any(|(t, c, _)| t == table && c == column),
            "{table}.{column} is gone: update HUMAN_TEXT"
        );
    }
}

/// Migration 000014 (ids compare byte by byte) on a database in use: the views answer as
/// before, commands go on, and a rebuild gives the same views.
#[tokio::test]
async fn the_views_answer_the_same_after_keys_compare_bytewise_postgres() {
    if postgres_skipped() {
        return;
    }
    const BYTEWISE: i64 = 20261124000014;
    let guard = fresh_database(Backend::Postgres).await;
    guard.migrate_before(BYTEWISE).await;
    // The code under test keeps tables that came later (the lists, migration
    // 20261207000400; the competence plans, 20261207000600): they are made as those
    // migrations make them (each can run twice), and as the first also empties the
    // enrolment views, those are caught up again after the migrations before being compared.
    let Raw::Postgres(pool) = guard.raw() else { unreachable!("a PostgreSQL guard") };
    sqlx::raw_sql(include_str!("../../migrations/postgres/20261207000400_lists.sql")).execute(pool).await.unwrap();
    let plans = include_str!("../../migrations/postgres/20261207000600_competence_plans.sql");
    sqlx::raw_sql(plans).execute(pool).await.unwrap();
    let clock = TestClock::at(spring_2027());
    let app = guard.open(&clock).await;
    let f = Fyrbodal::build(&app, 2).await;
    publish(&app, f.package).await;
    let (anna, bo) = (f.member(&f.uddevalla, 1), f.member(&f.trollhattan, 1));
    app.register_collectively(&coordinator(&f.uddevalla), f.uddevalla.clone(), vec![line(anna, f.samtal)])
        .await
        .unwrap();
    app.register_collectively(&coordinator(&f.trollhattan), f.trollhattan.clone(), vec![line(bo, f.samtal)])
        .await
        .unwrap();
    clock.set(after_ht2027_deadline());
    app.close_registration(&course_office(), f.package).await.unwrap();
    clock.set(utc(2027, 10, 13, 9, 0));
    app.record_attendance(&trainer(), f.samtal, anna, 0, Attendance::Present, None).await.unwrap();
    app.record_attendance(&trainer(), f.samtal, bo, 0, Attendance::Absent, None).await.unwrap();
    catch_up(&app).await;
    let db = app.log.views();
    let before = views_dump(&db).await;
    let trail = |db: Db| async move {
        let filter = AuditFilter { staff: Some(anna.to_string()), ..AuditFilter::default() };
        let page = audit_trail(&db, &filter, None).await.unwrap();
        page.entries.iter().map(|e| (e.position, e.event_type.clone())).collect::<Vec<_>>()
    };
    let trail_before = trail(db.clone()).await;
    assert!(trail_before.len() >= 3, "Anna's trail: {trail_before:?}");
    let collation = "SELECT coalesce(collation_name::text, 'default') FROM information_schema.columns \
                     WHERE table_name = 'audit_entries' AND column_name = 'staff_id'";
    let staff_collation = || async { sqlx::query_scalar::<_, String>(collation).fetch_one(pool).await.unwrap() };
    assert_eq!(staff_collation().await, "default", "before the migration");

    app.log.migrate().await.expect("the collation migration applies to a database in use");
    assert_eq!(staff_collation().await, "C", "after the migration");
    let app = guard.open(&clock).await;
    catch_up(&app).await;
    let db = app.log.views();
    assert_eq!(views_dump(&db).await, before, "the views after the migration");
    assert_eq!(trail(db.clone()).await, trail_before, "Anna's trail after the migration");
    let roster = kurslogg_projections::views::roster::roster(&db, &f.samtal.to_string()).await.unwrap().unwrap();
    assert_eq!(roster.entries.len(), 2, "both on the roster");

    // Commands go on, the views follow, and a rebuild agrees with them.
    app.record_attendance(&trainer(), f.samtal, bo, 0, Attendance::Present, None).await.unwrap();
    catch_up(&app).await;
    let live = views_dump(&db).await;
    assert_ne!(live, before, "the correction reached the views");
    kurslogg::views::rebuild(&db, None).await.unwrap();
    assert_eq!(views_dump(&db).await, live, "a rebuild after the migration");
}

#[tokio::test]
async fn the_audit_trail_keeps_its_entries_through_its_migration_sqlite() {
    the_audit_trail_keeps_its_entries_through_its_migration(Backend::Sqlite).await;
}

#[tokio::test]
async fn the_audit_trail_keeps_its_entries_through_its_migration_postgres() {
    the_audit_trail_keeps_its_entries_through_its_migration(Backend::Postgres).await;
}
