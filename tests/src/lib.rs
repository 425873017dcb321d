//! Test support for Kurslogg's storage conformance suite: a fresh application over a
//! fresh database on either backend, a clock the test moves, direct access to the event
//! log's tables, and a Fyrbodal-like fixture built through the public use cases.
//!
//! Every scenario is written once, as `async fn scenario(backend: Backend)`, and run on
//! both backends by [`conformance!`].
//!
//! PostgreSQL: the admin URL comes from `KURSLOGG_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`). An unreachable server fails the test
//! loudly; set `KURSLOGG_SKIP_POSTGRES=1` to skip the PostgreSQL half on purpose. Set
//! `KURSLOGG_KEEP_TEST_DB=1` to keep the databases and files a test created.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use kurslogg::app::{Actor, AppError, CommandContext, Idempotency, Kurslogg, RegistrationLine, Role};
use kurslogg::store::EventLog;
use kurslogg_domain::municipality::MunicipalRole;
use kurslogg_domain::offering::{OfferingDetails, TargetGroups};
use kurslogg_domain::staff::StaffProfile;
use kurslogg_domain::{
    Clock, CompletionThreshold, CourseCode, ExperienceBand, MunicipalityId, OfferingId, PackageId, PersonName, Place,
    SeatLimit, Sek, Session, StaffGroup, StaffId, Term, Text, WorkEmail,
};
use kurslogg_projections::audit::Audit;
use kurslogg_projections::enrolment::Enrolment;
use kurslogg_projections::notices::Notices;
use kurslogg_projections::Runner;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{Connection, PgConnection, PgPool, Row, SqlitePool};

pub mod browser;
pub mod hostile;
pub mod oidc;
pub mod smtp;

/// Default admin URL of the test PostgreSQL server.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Which database a scenario runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A fresh SQLite file in a temporary directory.
    Sqlite,
    /// A fresh PostgreSQL database.
    Postgres,
}

/// Runs each named `async fn(Backend)` scenario as a test on SQLite and on PostgreSQL:
/// `sqlite::<name>` and `postgres::<name>`. Attributes for one backend's test only go in
/// `#[sqlite(...)]` or `#[postgres(...)]` before the name, e.g.
/// `#[postgres(ignore = "BUG: ...")] scenario_x`.
#[macro_export]
macro_rules! conformance {
    ($($(#[sqlite($($sqlite:tt)*)])? $(#[postgres($($postgres:tt)*)])? $scenario:ident),* $(,)?) => {
        mod sqlite {
            $(
                $(#[$($sqlite)*])?
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario($crate::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                $(#[$($postgres)*])?
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    if $crate::postgres_skipped() {
                        return;
                    }
                    super::$scenario($crate::Backend::Postgres).await;
                }
            )*
        }
    };
}

/// Whether the PostgreSQL tests are switched off (`KURSLOGG_SKIP_POSTGRES=1`); says so
/// on stdout when they are.
pub fn postgres_skipped() -> bool {
    let skipped = std::env::var("KURSLOGG_SKIP_POSTGRES").is_ok_and(|v| v == "1");
    if skipped {
        println!("skipped: KURSLOGG_SKIP_POSTGRES=1");
    }
    skipped
}

// ----- the clock -----

/// A clock the test sets; clones share the same time.
#[derive(Debug, Clone)]
pub struct TestClock {
    now: Arc<Mutex<DateTime<Utc>>>,
}

impl TestClock {
    /// A clock showing `now`.
    pub fn at(now: DateTime<Utc>) -> Self {
        Self { now: Arc::new(Mutex::new(now)) }
    }

    /// Moves the clock to `now`.
    pub fn set(&self, now: DateTime<Utc>) {
        *self.now.lock().expect("clock lock") = now;
    }

    /// The clock as the application's source of time.
    pub fn shared(&self) -> Arc<dyn Clock> {
        Arc::new(self.clone())
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().expect("clock lock")
    }
}

/// A UTC instant, for readable test data.
pub fn utc(year: i32, month: u32, day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(year, month, day, hour, minute, 0).single().expect("valid instant")
}

/// Early spring 2027: the HT2027 package is being assembled and registration is open.
pub fn spring_2027() -> DateTime<Utc> {
    utc(2027, 3, 1, 9, 0)
}

/// The morning after HT2027's default deadline (15 June 2027, 23:59 Stockholm).
pub fn after_ht2027_deadline() -> DateTime<Utc> {
    utc(2027, 6, 16, 6, 0)
}

// ----- fresh databases -----

/// Direct access to the test database, for what users cannot see through the use cases
/// (metadata, positions, sequences).
#[derive(Clone)]
pub enum Raw {
    /// SQLite.
    Sqlite(SqlitePool),
    /// PostgreSQL.
    Postgres(PgPool),
}

/// One stored event, read straight from the `events` table.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    /// Aggregate type.
    pub aggregate_type: String,
    /// Aggregate id.
    pub aggregate_id: String,
    /// Per-aggregate sequence.
    pub sequence: i64,
    /// Event type.
    pub event_type: String,
    /// Payload JSON.
    pub payload: serde_json::Value,
    /// Metadata JSON.
    pub metadata: serde_json::Value,
}

/// Owns a test's database: opens further applications over it, reads its tables and
/// removes it when dropped.
pub struct Guard {
    /// The backend.
    pub backend: Backend,
    /// Where the database is (SQLite file path or PostgreSQL URL).
    pub location: String,
    sqlite_dir: Option<PathBuf>,
    postgres: Option<(String, String)>,
    raw: Raw,
}

/// A fresh, migrated database on `backend` and a [`Kurslogg`] over it using `clock`.
pub async fn fresh_app(backend: Backend, clock: &TestClock) -> (Kurslogg, Guard) {
    let guard = fresh_database(backend).await;
    let app = guard.open(clock).await;
    app.log.migrate().await.expect("migrations apply to a fresh database");
    (app, guard)
}

/// A fresh, empty database on `backend`, not migrated (for tests of the migrations).
pub async fn fresh_database(backend: Backend) -> Guard {
    match backend {
        Backend::Sqlite => fresh_sqlite().await,
        Backend::Postgres => fresh_postgres().await,
    }
}

async fn fresh_sqlite() -> Guard {
    let dir = std::env::temp_dir().join(format!("kurslogg-test-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("temporary directory");
    let path = dir.join("kurslogg.db");
    let raw = SqlitePoolOptions::new()
        .max_connections(2)
        .connect_with(
            SqliteConnectOptions::new().filename(&path).create_if_missing(true).busy_timeout(Duration::from_secs(10)),
        )
        .await
        .unwrap_or_else(|e| panic!("cannot create SQLite file {}: {e}", path.display()));
    Guard {
        backend: Backend::Sqlite,
        location: path.display().to_string(),
        sqlite_dir: Some(dir),
        postgres: None,
        raw: Raw::Sqlite(raw),
    }
}

fn admin_url() -> String {
    std::env::var("KURSLOGG_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_string())
}

/// The URL with any password replaced, for messages.
fn redacted(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else { return url.to_string() };
    let rest = &url[scheme_end..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => match rest[..at].find(':') {
            Some(colon) => format!("{}{}:***{}", &url[..scheme_end], &rest[..colon], &rest[at..]),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// The admin URL pointing at database `database` instead.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..].find('/').map_or(base.len(), |i| authority_start + i);
    let query = query.map(|q| format!("?{q}")).unwrap_or_default();
    format!("{}/{database}{query}", &base[..path_start])
}

async fn admin_connection(url: &str) -> PgConnection {
    let options = PgConnectOptions::from_str(url)
        .unwrap_or_else(|e| panic!("KURSLOGG_TEST_POSTGRES_URL {} is not a PostgreSQL URL: {e}", redacted(url)));
    match tokio::time::timeout(Duration::from_secs(10), PgConnection::connect_with(&options)).await {
        Ok(Ok(connection)) => connection,
        Ok(Err(e)) => panic!(
            "PostgreSQL is not reachable at {} ({e}). Start it, point KURSLOGG_TEST_POSTGRES_URL at a server whose \
             user may CREATE DATABASE, or set KURSLOGG_SKIP_POSTGRES=1 to skip the PostgreSQL tests.",
            redacted(url)
        ),
        Err(_) => panic!(
            "PostgreSQL at {} did not answer within 10 s. Start it, point KURSLOGG_TEST_POSTGRES_URL at a server \
             whose user may CREATE DATABASE, or set KURSLOGG_SKIP_POSTGRES=1 to skip the PostgreSQL tests.",
            redacted(url)
        ),
    }
}

async fn fresh_postgres() -> Guard {
    let admin = admin_url();
    let name = format!("kl_test_{}", uuid::Uuid::new_v4().simple());
    let mut connection = admin_connection(&admin).await;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut connection)
        .await
        .unwrap_or_else(|e| panic!("cannot create database {name} on {}: {e}", redacted(&admin)));
    let _ = connection.close().await;
    let url = with_database(&admin, &name);
    let raw = PgPoolOptions::new()
        .max_connections(2)
        .connect(&url)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to the new database at {}: {e}", redacted(&url)));
    Guard {
        backend: Backend::Postgres,
        location: url.clone(),
        sqlite_dir: None,
        postgres: Some((admin, name)),
        raw: Raw::Postgres(raw),
    }
}

impl Guard {
    /// Another application over the same database, as a second service process (or the
    /// same one after a restart) would open it: its own pools and its own caches.
    pub async fn open(&self, clock: &TestClock) -> Kurslogg {
        // `LogOptions` is not re-exported by `kurslogg::store`; its default is what a
        // service process uses.
        let options = Default::default();
        let log = match self.backend {
            Backend::Sqlite => EventLog::open_sqlite(std::path::Path::new(&self.location), &options).await,
            Backend::Postgres => EventLog::connect_postgres(&self.location, &options).await,
        }
        .unwrap_or_else(|e| panic!("cannot open the event log at {}: {e}", redacted(&self.location)));
        Kurslogg::new(log, clock.shared())
    }

    /// The raw pool.
    pub fn raw(&self) -> &Raw {
        &self.raw
    }

    /// Applies the service's migrations older than `version` only: the database as a
    /// release before that migration left it.
    pub async fn migrate_before(&self, version: i64) {
        let mut migrator = match &self.raw {
            Raw::Sqlite(_) => sqlx::migrate!("../migrations/sqlite"),
            Raw::Postgres(_) => sqlx::migrate!("../migrations/postgres"),
        };
        migrator.migrations = migrator.migrations.iter().filter(|m| m.version < version).cloned().collect();
        match &self.raw {
            Raw::Sqlite(pool) => migrator.run(pool).await,
            Raw::Postgres(pool) => migrator.run(pool).await,
        }
        .unwrap_or_else(|e| panic!("migrations before {version}: {e}"));
    }

    /// Runs a statement of a test's own set-up on the raw pool.
    pub async fn execute(&self, sql: &str) {
        match &self.raw {
            Raw::Sqlite(pool) => sqlx::query(sql).execute(pool).await.map(drop),
            Raw::Postgres(pool) => sqlx::query(sql).execute(pool).await.map(drop),
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// How many events the log holds.
    pub async fn event_count(&self) -> i64 {
        let sql = "SELECT count(*) FROM events";
        match &self.raw {
            Raw::Sqlite(pool) => sqlx::query(sql).fetch_one(pool).await.expect("count events").get(0),
            Raw::Postgres(pool) => sqlx::query(sql).fetch_one(pool).await.expect("count events").get(0),
        }
    }

    /// The global position of the last event (0 for an empty log).
    pub async fn max_position(&self) -> i64 {
        match &self.raw {
            Raw::Sqlite(pool) => sqlx::query("SELECT coalesce(max(rowid), 0) FROM events")
                .fetch_one(pool)
                .await
                .expect("max position")
                .get(0),
            Raw::Postgres(pool) => sqlx::query("SELECT coalesce(max(position), 0)::bigint FROM events")
                .fetch_one(pool)
                .await
                .expect("max position")
                .get(0),
        }
    }

    /// How many idempotency records are stored.
    pub async fn idempotency_records(&self) -> i64 {
        let sql = "SELECT count(*) FROM idempotency_keys";
        match &self.raw {
            Raw::Sqlite(pool) => sqlx::query(sql).fetch_one(pool).await.expect("count keys").get(0),
            Raw::Postgres(pool) => sqlx::query(sql).fetch_one(pool).await.expect("count keys").get(0),
        }
    }

    /// Every event, ordered by aggregate and sequence.
    pub async fn all_events(&self) -> Vec<StoredEvent> {
        self.events_where(None).await
    }

    /// One aggregate's events in sequence order.
    pub async fn events_of(&self, aggregate_type: &str, aggregate_id: &str) -> Vec<StoredEvent> {
        self.events_where(Some((aggregate_type, aggregate_id))).await
    }

    async fn events_where(&self, filter: Option<(&str, &str)>) -> Vec<StoredEvent> {
        let (kind, id) = filter.unwrap_or(("", ""));
        let rows: Vec<(String, String, i64, String, String, String)> = match &self.raw {
            Raw::Sqlite(pool) => {
                let sql = "SELECT aggregate_type, aggregate_id, sequence, event_type, payload, metadata FROM events \
                           WHERE (? = '' OR (aggregate_type = ? AND aggregate_id = ?)) \
                           ORDER BY aggregate_type, aggregate_id, sequence";
                sqlx::query(sql)
                    .bind(kind)
                    .bind(kind)
                    .bind(id)
                    .fetch_all(pool)
                    .await
                    .expect("read events")
                    .into_iter()
                    .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)))
                    .collect()
            }
            Raw::Postgres(pool) => {
                let sql = "SELECT aggregate_type, aggregate_id, sequence, event_type, payload::text, metadata::text \
                           FROM events WHERE ($1 = '' OR (aggregate_type = $1 AND aggregate_id = $2)) \
                           ORDER BY aggregate_type, aggregate_id, sequence";
                sqlx::query(sql)
                    .bind(kind)
                    .bind(id)
                    .fetch_all(pool)
                    .await
                    .expect("read events")
                    .into_iter()
                    .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)))
                    .collect()
            }
        };
        rows.into_iter()
            .map(|(aggregate_type, aggregate_id, sequence, event_type, payload, metadata)| StoredEvent {
                aggregate_type,
                aggregate_id,
                sequence,
                event_type,
                payload: serde_json::from_str(&payload).expect("payload is JSON"),
                metadata: serde_json::from_str(&metadata).expect("metadata is JSON"),
            })
            .collect()
    }

    /// Panics unless every aggregate's sequences run 1, 2, ..., n without gaps or
    /// duplicates.
    pub async fn assert_sequences_contiguous(&self) {
        let mut by_aggregate: BTreeMap<(String, String), Vec<i64>> = BTreeMap::new();
        for event in self.all_events().await {
            by_aggregate.entry((event.aggregate_type, event.aggregate_id)).or_default().push(event.sequence);
        }
        assert!(!by_aggregate.is_empty(), "the log is empty");
        for ((kind, id), sequences) in by_aggregate {
            let expected: Vec<i64> = (1..=sequences.len() as i64).collect();
            assert_eq!(sequences, expected, "sequences of {kind} {id} are not 1..n");
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if std::env::var("KURSLOGG_KEEP_TEST_DB").is_ok_and(|v| v == "1") {
            eprintln!("kept test database: {}", redacted(&self.location));
            return;
        }
        if let Some(dir) = self.sqlite_dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
        if let Some((admin, name)) = self.postgres.take() {
            // Best effort, on a thread of its own: Drop cannot await, and the test's
            // runtime may be shutting down.
            // The test's own pool is not closed here: its connections belong to the test's
            // runtime, which is blocked in this drop; WITH (FORCE) ends them instead.
            let _ = std::thread::spawn(move || {
                let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
                runtime.block_on(async move {
                    let Ok(options) = PgConnectOptions::from_str(&admin) else { return };
                    let Ok(mut connection) = PgConnection::connect_with(&options).await else { return };
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut connection)
                        .await;
                    let _ = connection.close().await;
                });
            })
            .join();
        }
    }
}

// ----- who acts -----

fn request_id(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// The course office (kursadministratör at the federation).
pub fn course_office() -> CommandContext {
    CommandContext {
        actor: Actor::new("kurskansliet-anna", Role::CourseOffice),
        request_id: request_id("req-office"),
        received_at: Utc::now(),
        idempotency: None,
    }
}

/// A municipality's coordinator (IFO-chef).
pub fn coordinator(municipality: &MunicipalityId) -> CommandContext {
    CommandContext {
        actor: Actor::new(format!("ifo-chef-{municipality}"), Role::Coordinator).for_municipality(municipality.clone()),
        request_id: request_id("req-coord"),
        received_at: Utc::now(),
        idempotency: None,
    }
}

/// The user id of the trainer [`plan_offering`] assigns to every offering it plans.
pub const TRAINER: &str = "utbildare-lena";

/// A trainer recording attendance (assigned to every offering [`plan_offering`] plans).
pub fn trainer() -> CommandContext {
    CommandContext {
        actor: Actor::new(TRAINER, Role::Trainer),
        request_id: request_id("req-trainer"),
        received_at: Utc::now(),
        idempotency: None,
    }
}

/// `ctx` sent with an Idempotency-Key.
pub fn with_key(mut ctx: CommandContext, key: &str, request_hash: &str) -> CommandContext {
    ctx.idempotency = Some(Idempotency { key: key.into(), request_hash: request_hash.into() });
    ctx
}

/// The stable code of a refusal; panics on anything else.
pub fn refusal_code(result: Result<impl std::fmt::Debug, AppError>) -> String {
    match result {
        Err(AppError::Refused { code, .. }) => code,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

// ----- building blocks -----

/// Parses a text that is known to be valid.
pub fn text(s: &str) -> Text {
    Text::parse(s).expect("valid text")
}

/// A person's name that is known to be valid.
pub fn person_name(s: &str) -> PersonName {
    PersonName::parse(s).expect("valid name")
}

/// `n` as letters, for names (which hold no digits): 0 → `A`, 25 → `Z`, 26 → `AA`.
pub fn letters(n: usize) -> String {
    let mut n = n + 1;
    let mut out = Vec::new();
    while n > 0 {
        n -= 1;
        out.push(char::from(b'A' + (n % 26) as u8));
        n /= 26;
    }
    out.iter().rev().collect()
}

/// A municipality id from a slug.
pub fn municipality_id(slug: &str) -> MunicipalityId {
    MunicipalityId::parse(slug).expect("valid municipality id")
}

/// A course code.
pub fn course_code(code: &str) -> CourseCode {
    CourseCode::parse(code).expect("valid course code")
}

/// `count` full-day sessions (07:00-14:00 UTC, 6 h teaching) starting at `first`, every
/// `every_days` days.
pub fn sessions(first: DateTime<Utc>, count: usize, every_days: i64) -> Vec<Session> {
    (0..count)
        .map(|i| {
            let starts_at = first + chrono::Duration::days(every_days * i as i64);
            Session::new(starts_at, starts_at + chrono::Duration::hours(7), 360).expect("valid session")
        })
        .collect()
}

/// Offering details for a run with these sessions.
pub fn details(description: &str, sessions: Vec<Session>) -> OfferingDetails {
    OfferingDetails {
        description: text(description),
        target_groups: TargetGroups {
            experience_bands: vec![ExperienceBand::New0To2, ExperienceBand::Years3To5],
            staff_groups: vec![StaffGroup::Myndighetsutovning],
        },
        competence_areas: vec![text("Juridik: LVU och socialtjänstlagen")],
        trainer: text("Lena Lindqvist"),
        place: Place::Venue(text("Kunskapens Hus, Vänersborg")),
        sessions,
        price: Sek(1800),
        completion_threshold: CompletionThreshold::default(),
        prerequisites: vec![],
        follow_up: Some(text("Gå igenom LVU-ärendenas dokumentation på nästa arbetsplatsträff.")),
    }
}

/// Adds a member municipality of Fyrbodal.
pub async fn add_municipality(app: &Kurslogg, name: &str) -> MunicipalityId {
    let id = municipality_id(&kurslogg_domain::slugify(name));
    app.add_municipality(&course_office(), id.clone(), text(name), text("Fyrbodal")).await.expect("add municipality");
    id
}

/// A case officer's details: this name, e-mail address and supervisor.
pub fn staff_profile(name: &str, email: &str, supervisor: Option<StaffId>) -> StaffProfile {
    StaffProfile {
        name: person_name(name),
        work_email: WorkEmail::parse(email).expect("valid e-mail"),
        unit: text("IFO Barn och unga"),
        supervisor,
        staff_group: StaffGroup::Myndighetsutovning,
        experience_band: ExperienceBand::New0To2,
        social_work_degree: true,
    }
}

/// Adds a case officer with these details to a municipality.
pub async fn add_named_staff(
    app: &Kurslogg,
    municipality: &MunicipalityId,
    name: &str,
    email: &str,
    supervisor: Option<StaffId>,
) -> StaffId {
    let profile = staff_profile(name, email, supervisor);
    let written = app.add_staff(&coordinator(municipality), municipality.clone(), profile).await.expect("add staff");
    StaffId::from_str(&written.id).expect("staff id")
}

/// Adds staff member `n` (a case officer) to a municipality, named "Handläggare A i
/// uddevalla" for `n` = 0 ([`letters`]).
pub async fn add_staff(app: &Kurslogg, municipality: &MunicipalityId, n: usize) -> StaffId {
    let name = format!("Handläggare {} i {municipality}", letters(n));
    add_named_staff(app, municipality, &name, &format!("handlaggare{n}@{municipality}.example.se"), None).await
}

/// Brings every projection up to the end of the log, as the runners under `serve` do.
pub async fn catch_up(app: &Kurslogg) {
    let db = app.log.views();
    Runner::new(db.clone(), Enrolment).catch_up().await.expect("enrolment");
    Runner::new(db.clone(), Audit).catch_up().await.expect("audit");
    Runner::new(db, Notices).catch_up().await.expect("notices");
}

/// Adds a catalogue course.
pub async fn add_course(app: &Kurslogg, code: &str, title: &str, prerequisites: &[&str]) -> CourseCode {
    let code = course_code(code);
    app.add_course(
        &course_office(),
        code.clone(),
        text(title),
        text(&format!("{title}: Fyrbodals återkommande kurs.")),
        prerequisites.iter().map(|c| course_code(c)).collect(),
    )
    .await
    .expect("add course");
    code
}

/// Creates a package for `term` with its default deadline.
pub async fn create_package(app: &Kurslogg, term: &str) -> PackageId {
    let written = app
        .create_package(
            &course_office(),
            Term::parse(term).expect("valid term"),
            text(&format!("Utbildningspaket {term}")),
            text("Fyrbodals kommunalförbund"),
            None,
            false,
        )
        .await
        .expect("create package");
    PackageId::from_str(&written.id).expect("package id")
}

/// Plans an offering of `course` in `package` (prerequisites as the catalogue says).
pub async fn plan_offering(
    app: &Kurslogg,
    package: PackageId,
    course: &CourseCode,
    seats: u32,
    sessions: Vec<Session>,
) -> OfferingId {
    let written = app
        .plan_offering(
            &course_office(),
            package,
            course.clone(),
            details(&format!("{course} för handläggare i myndighetsutövning"), sessions),
            None,
            SeatLimit::new(seats).expect("valid seat limit"),
        )
        .await
        .expect("plan offering");
    let offering = OfferingId::from_str(&written.id).expect("offering id");
    // The trainer's account lives in the users table, which these tests leave empty: the
    // assignment is made with the bare command, as the course office.
    let assign = kurslogg_domain::offering::OfferingCommand::AssignTrainer { user: TRAINER.into() };
    app.offering_command(&course_office(), offering, assign).await.expect("assign the trainer");
    offering
}

/// Publishes a package.
pub async fn publish(app: &Kurslogg, package: PackageId) {
    app.package_command(&course_office(), package, kurslogg_domain::package::PackageCommand::Publish)
        .await
        .expect("publish");
}

/// A registration line without override.
pub fn line(staff: StaffId, offering: OfferingId) -> RegistrationLine {
    RegistrationLine { staff, offering, override_prerequisites: false }
}

/// A Fyrbodal-like federation for HT2027: three municipalities with staff, a catalogue
/// with LVU grund and LVU fortsättning (needs grund) and Samtal med barn, and a draft
/// package with one offering of each.
pub struct Fyrbodal {
    /// Uddevalla.
    pub uddevalla: MunicipalityId,
    /// Trollhättan.
    pub trollhattan: MunicipalityId,
    /// Dals-Ed.
    pub dals_ed: MunicipalityId,
    /// Staff per municipality, in the order they were added.
    pub staff: BTreeMap<MunicipalityId, Vec<StaffId>>,
    /// LVU-GRUND.
    pub lvu_grund_code: CourseCode,
    /// LVU-FORTS.
    pub lvu_forts_code: CourseCode,
    /// The HT2027 package (draft).
    pub package: PackageId,
    /// LVU grund: 4 seats, 5 weekly sessions from 6 September 2027.
    pub lvu_grund: OfferingId,
    /// Samtal med barn: 3 seats, 2 days in October 2027.
    pub samtal: OfferingId,
    /// LVU fortsättning (prerequisite LVU grund): 6 seats, 2 days in November 2027.
    pub lvu_forts: OfferingId,
}

/// First session of LVU grund HT2027.
pub fn lvu_grund_first_session() -> DateTime<Utc> {
    utc(2027, 9, 6, 7, 0)
}

impl Fyrbodal {
    /// Builds the federation with `staff_per_municipality` staff in each municipality;
    /// each municipality's first staff member is its coordinator.
    pub async fn build(app: &Kurslogg, staff_per_municipality: usize) -> Self {
        let uddevalla = add_municipality(app, "Uddevalla").await;
        let trollhattan = add_municipality(app, "Trollhättan").await;
        let dals_ed = add_municipality(app, "Dals-Ed").await;
        let mut staff = BTreeMap::new();
        for municipality in [&uddevalla, &trollhattan, &dals_ed] {
            let mut members = vec![];
            for n in 0..staff_per_municipality {
                members.push(add_staff(app, municipality, n).await);
            }
            if let Some(first) = members.first() {
                app.set_role(
                    &coordinator(municipality),
                    municipality.clone(),
                    *first,
                    MunicipalRole::Coordinator,
                    true,
                )
                .await
                .expect("assign coordinator");
            }
            staff.insert(municipality.clone(), members);
        }
        let lvu_grund_code = add_course(app, "LVU-GRUND", "LVU grund", &[]).await;
        let lvu_forts_code = add_course(app, "LVU-FORTS", "LVU fortsättning", &["LVU-GRUND"]).await;
        let samtal_code = add_course(app, "SAMTAL-MED-BARN", "Samtal med barn", &[]).await;
        let package = create_package(app, "HT2027").await;
        let lvu_grund =
            plan_offering(app, package, &lvu_grund_code, 4, sessions(lvu_grund_first_session(), 5, 7)).await;
        let samtal = plan_offering(app, package, &samtal_code, 3, sessions(utc(2027, 10, 11, 7, 0), 2, 1)).await;
        let lvu_forts = plan_offering(app, package, &lvu_forts_code, 6, sessions(utc(2027, 11, 8, 7, 0), 2, 1)).await;
        Self {
            uddevalla,
            trollhattan,
            dals_ed,
            staff,
            lvu_grund_code,
            lvu_forts_code,
            package,
            lvu_grund,
            samtal,
            lvu_forts,
        }
    }

    /// Staff member `n` of `municipality`.
    pub fn member(&self, municipality: &MunicipalityId, n: usize) -> StaffId {
        self.staff[municipality][n]
    }
}
