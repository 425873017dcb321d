//! Registration benchmark: how many registrations per second Kurslogg takes, and how fast
//! it answers, on SQLite and PostgreSQL, against plain inserts and stock cqrs-es.
//!
//! ```text
//! cargo bench -p kurslogg --bench registration -- [--quick] [--out PATH] [--backend sqlite|postgres|all]
//! ```
//!
//! Workloads, each measured at the use-case level (`Kurslogg::register` with a coordinator's
//! `CommandContext`, after the package is published and before its deadline, so every
//! registration is a request). Staff members, municipalities and offerings are created
//! outside the timed sections, through the same `Kurslogg` instance (so they sit in its
//! aggregate cache, as they would in a running service). Every command in a cell uses a
//! distinct staff member.
//!
//! - (a) registrations spread over many offerings, at 1, 16 and 64 clients (and once with
//!   an Idempotency-Key at 16 clients);
//! - (b) all registrations on one offering (a fresh one per cell), at 1, 16 and 64 clients;
//! - (c) the deadline rush: Fyrbodal's 14 municipalities each submit one collective
//!   registration with many lines, all at once (half the lines on one popular offering);
//! - (d) the rate on one offering as its history grows: windows at ~100 events of history
//!   (fresh offerings pre-filled to 100 events) interleaved with windows on one offering
//!   pre-filled to ~5,000 events (registrations, every fifth one cancelled).
//!
//! Baselines on PostgreSQL, in the same run, in databases of their own:
//! - plain single-row inserts into the same `events` table (one autocommit INSERT of a
//!   ~300-byte JSON payload per transaction, one dedicated connection per client);
//! - stock cqrs-es (`postgres_es::postgres_cqrs`, no snapshots, no cache, no lock, a
//!   default `PgPool`) running the same `OfferingCommand::Register` on one offering with
//!   64 clients and a bounded retry loop on `AggregateConflict`.
//!
//! PostgreSQL: a fresh database is created on `postgres://postgres@127.0.0.1:5432/postgres`
//! (override with `KURSLOGG_BENCH_POSTGRES_URL`) and dropped afterwards. SQLite: a file in a
//! temporary directory, removed afterwards. Both use the service's default `LogOptions`
//! (PostgreSQL pool of 16 connections; SQLite WAL with `synchronous=FULL`).

mod common;

use common::{letters, ms, person_name, text, thousands, ticks_of, with_database};

use std::collections::HashMap;
use std::fmt::Write as _;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, Utc};
use cqrs_es::AggregateError;
use futures::stream::{self, StreamExt};
use hdrhistogram::Histogram;
use kurslogg::app::{Actor, CommandContext, Idempotency, Kurslogg, LineStatus, RegistrationLine, Role};
use kurslogg::store::{EventLog, LogOptions};
use kurslogg_domain::clock::SystemClock;
use kurslogg_domain::offering::{
    Offering, OfferingCommand, OfferingDetails, ParticipantFacts, RegistrationWindow, TargetGroups,
};
use kurslogg_domain::package::{PackageCommand, PackagePhase};
use kurslogg_domain::staff::{StaffProfile, StaffStatus};
use kurslogg_domain::{
    slugify, Clock, CompletionThreshold, CourseCode, ExperienceBand, MunicipalityId, OfferingId, PackageId, Place,
    SeatLimit, Sek, Session, StaffGroup, StaffId, Term, WorkEmail,
};
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Fyrbodals kommunalförbund's member municipalities.
const FYRBODAL: [&str; 14] = [
    "Bengtsfors",
    "Dals-Ed",
    "Färgelanda",
    "Lysekil",
    "Mellerud",
    "Munkedal",
    "Orust",
    "Sotenäs",
    "Strömstad",
    "Tanum",
    "Trollhättan",
    "Uddevalla",
    "Vänersborg",
    "Åmål",
];

/// How often stock cqrs-es may retry a command that lost the race.
const STOCK_MAX_ATTEMPTS: u64 = 200;
/// Clients used for set-up work (not timed).
const SETUP_CONCURRENCY: usize = 32;
/// Client counts of the history windows (d).
const HISTORY_CLIENTS_COUNTS: [usize; 2] = [1, 16];
/// Offerings per rush round in (c); line 0, 2, 4, ... of every municipality go to the first.
const RUSH_OFFERINGS: usize = 10;

// ---------------------------------------------------------------------------------------
// Configuration

#[derive(Debug, Clone)]
struct Sizes {
    /// Seconds per time-boxed cell of (a) and (b).
    cell: Duration,
    /// Seconds per raw-insert cell.
    raw_cell: Duration,
    /// Seconds for the stock cqrs-es cell.
    stock_cell: Duration,
    /// Staff members created up front (the most commands any one cell can use).
    staff: usize,
    /// Offerings in (a).
    spread_offerings: usize,
    /// Lines per municipality in one collective registration (c).
    rush_lines: usize,
    /// Rush rounds (c), each on fresh offerings.
    rush_rounds: usize,
    /// History of the "short history" offerings (d).
    history_low: usize,
    /// History of the "long history" offering (d).
    history_high: usize,
    /// Commands per history window (d).
    window: usize,
    /// Windows per history size (d).
    windows: usize,
}

impl Sizes {
    fn full() -> Self {
        Self {
            cell: Duration::from_secs(4),
            raw_cell: Duration::from_secs(4),
            stock_cell: Duration::from_secs(6),
            // Below the executor's cache limit (50,000 per aggregate type), which would
            // otherwise evict staff members mid-run.
            staff: 45_000,
            spread_offerings: 1_000,
            rush_lines: 250,
            rush_rounds: 3,
            history_low: 100,
            history_high: 5_000,
            window: 300,
            windows: 20,
        }
    }

    fn quick() -> Self {
        Self {
            cell: Duration::from_millis(800),
            raw_cell: Duration::from_millis(800),
            stock_cell: Duration::from_secs(2),
            staff: 3_000,
            spread_offerings: 200,
            rush_lines: 30,
            rush_rounds: 1,
            history_low: 100,
            history_high: 1_000,
            window: 100,
            windows: 2,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone)]
struct Config {
    quick: bool,
    out: Option<PathBuf>,
    backends: Vec<Which>,
    postgres_url: String,
    sizes: Sizes,
    command_line: String,
    /// Scenarios to run (a, b, c, d, raw, stock); all when empty.
    only: Vec<String>,
}

impl Config {
    fn wants(&self, scenario: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|s| s == scenario)
    }

    fn wants_ours(&self) -> bool {
        ["a", "b", "c", "d"].iter().any(|s| self.wants(s))
    }
}

fn parse_args() -> Config {
    let mut quick = false;
    let mut out = None;
    let mut backends = vec![Which::Sqlite, Which::Postgres];
    let mut passed = vec![];
    let mut only: Vec<String> = vec![];
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (arg.clone(), None),
        };
        match name.as_str() {
            // cargo bench passes --bench to harness = false targets.
            "--bench" => {}
            "--quick" => {
                quick = true;
                passed.push(arg);
            }
            "--out" => {
                let value = inline.or_else(|| args.next()).expect("--out needs a path");
                passed.push(format!("--out {value}"));
                out = Some(PathBuf::from(value));
            }
            "--backend" => {
                let value = inline.or_else(|| args.next()).expect("--backend needs sqlite, postgres or all");
                backends = match value.as_str() {
                    "sqlite" => vec![Which::Sqlite],
                    "postgres" | "postgresql" | "pg" => vec![Which::Postgres],
                    "all" | "both" => vec![Which::Sqlite, Which::Postgres],
                    other => panic!("unknown backend {other:?} (sqlite, postgres or all)"),
                };
                passed.push(format!("--backend {value}"));
            }
            "--only" => {
                let value = inline.or_else(|| args.next()).expect("--only needs a list like a,b,raw,stock");
                passed.push(format!("--only {value}"));
                only = value.split(',').map(|s| s.trim().to_lowercase()).filter(|s| !s.is_empty()).collect();
                for s in &only {
                    assert!(
                        ["a", "b", "c", "d", "raw", "stock"].contains(&s.as_str()),
                        "unknown scenario {s:?} (a, b, c, d, raw, stock)"
                    );
                }
            }
            "--help" | "-h" => {
                println!(
                    "cargo bench -p kurslogg --bench registration -- [--quick] [--out PATH] [--backend sqlite|postgres|all]"
                );
                std::process::exit(0);
            }
            other => eprintln!("ignoring unknown argument {other:?}"),
        }
    }
    let postgres_url = std::env::var("KURSLOGG_BENCH_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.into());
    let mut command_line = String::from("cargo bench -p kurslogg --bench registration");
    if !passed.is_empty() {
        command_line.push_str(" -- ");
        command_line.push_str(&passed.join(" "));
    }
    let sizes = if quick { Sizes::quick() } else { Sizes::full() };
    Config { quick, out, backends, postgres_url, sizes, command_line, only }
}

// ---------------------------------------------------------------------------------------
// Measuring

/// What one operation did: commands that went through, attempts made, attempts that
/// lost a race.
#[derive(Debug, Default, Clone, Copy)]
struct Done {
    commands: u64,
    attempts: u64,
    conflicts: u64,
}

impl Done {
    fn one() -> Self {
        Self { commands: 1, attempts: 1, conflicts: 0 }
    }

    fn add(&mut self, other: Done) {
        self.commands += other.commands;
        self.attempts += other.attempts;
        self.conflicts += other.conflicts;
    }
}

type OpFuture = Pin<Box<dyn Future<Output = Result<Done, String>> + Send>>;
/// An operation: (client number, operation number) → what it did.
type Op = Arc<dyn Fn(usize, usize) -> OpFuture + Send + Sync>;

fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}

/// CPU counters: this process, all PostgreSQL processes, the whole machine.
#[derive(Debug, Default, Clone, Copy)]
struct Cpu {
    app_ticks: u64,
    pg_ticks: u64,
    busy_ticks: u64,
    /// Of `busy_ticks`: interrupts and soft interrupts (loopback networking, block I/O).
    irq_ticks: u64,
    total_ticks: u64,
}

impl Cpu {
    fn now() -> Self {
        let app_ticks = process_ticks("/proc/self/stat").unwrap_or(0);
        let mut pg_ticks = 0;
        if let Ok(dir) = std::fs::read_dir("/proc") {
            for entry in dir.flatten() {
                let name = entry.file_name();
                let Some(name) = name.to_str() else { continue };
                if !name.bytes().all(|b| b.is_ascii_digit()) {
                    continue;
                }
                let path = format!("/proc/{name}/stat");
                let Ok(stat) = std::fs::read_to_string(&path) else { continue };
                if stat.contains("(postgres)") {
                    pg_ticks += ticks_of(&stat).unwrap_or(0);
                }
            }
        }
        let (busy_ticks, irq_ticks, total_ticks) = machine_ticks().unwrap_or((0, 0, 0));
        Self { app_ticks, pg_ticks, busy_ticks, irq_ticks, total_ticks }
    }

    fn since(self, before: Cpu) -> Cpu {
        Cpu {
            app_ticks: self.app_ticks.saturating_sub(before.app_ticks),
            pg_ticks: self.pg_ticks.saturating_sub(before.pg_ticks),
            busy_ticks: self.busy_ticks.saturating_sub(before.busy_ticks),
            irq_ticks: self.irq_ticks.saturating_sub(before.irq_ticks),
            total_ticks: self.total_ticks.saturating_sub(before.total_ticks),
        }
    }

    fn add(&mut self, other: Cpu) {
        self.app_ticks += other.app_ticks;
        self.pg_ticks += other.pg_ticks;
        self.busy_ticks += other.busy_ticks;
        self.irq_ticks += other.irq_ticks;
        self.total_ticks += other.total_ticks;
    }
}

fn process_ticks(path: &str) -> Option<u64> {
    ticks_of(&std::fs::read_to_string(path).ok()?)
}

fn machine_ticks() -> Option<(u64, u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?;
    let v: Vec<u64> = line.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal (guest time is inside user).
    let idle = v.get(3)? + v.get(4).copied().unwrap_or(0);
    let total: u64 = v.iter().take(8).sum();
    let irq = v.get(5).copied().unwrap_or(0) + v.get(6).copied().unwrap_or(0);
    Some((total - idle, irq, total))
}

fn clock_ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// Everything measured for one table row (possibly several runs merged).
struct Measured {
    done: Done,
    ops: u64,
    errors: u64,
    first_error: Option<String>,
    latency: Histogram<u64>,
    elapsed: Duration,
    cpu: Cpu,
    exhausted: bool,
    /// Median fdatasync latency (ms) probed just before each run merged in here.
    fsync_ms: Vec<f64>,
}

impl Measured {
    fn empty() -> Self {
        Self {
            done: Done::default(),
            ops: 0,
            errors: 0,
            first_error: None,
            latency: new_histogram(),
            elapsed: Duration::ZERO,
            cpu: Cpu::default(),
            exhausted: false,
            fsync_ms: vec![],
        }
    }

    fn merge(&mut self, other: Measured) {
        self.done.add(other.done);
        self.ops += other.ops;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        self.latency.add(&other.latency).expect("histograms have the same bounds");
        self.elapsed += other.elapsed;
        self.cpu.add(other.cpu);
        self.exhausted |= other.exhausted;
        self.fsync_ms.extend(other.fsync_ms);
    }

    fn rate(&self) -> f64 {
        self.done.commands as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn p(&self, quantile: f64) -> f64 {
        self.latency.value_at_quantile(quantile) as f64 / 1000.0
    }
}

/// Runs `op` from `clients` concurrent clients (closed loop) until `count` operations were
/// started or, if `until` is set, until that much time has passed.
async fn drive(clients: usize, count: usize, until: Option<Duration>, op: Op) -> Measured {
    let fsync_ms = fsync_probe().await;
    let next = Arc::new(AtomicUsize::new(0));
    let before = Cpu::now();
    let start = Instant::now();
    let deadline = until.map(|d| start + d);
    let mut tasks = Vec::with_capacity(clients);
    for client in 0..clients {
        let (next, op) = (next.clone(), op.clone());
        tasks.push(tokio::spawn(async move {
            let mut m = Measured::empty();
            let mut last = start;
            loop {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    m.exhausted = deadline.is_some();
                    break;
                }
                let t = Instant::now();
                let result = op(client, i).await;
                let end = Instant::now();
                m.latency.saturating_record((end - t).as_micros() as u64);
                last = end;
                m.ops += 1;
                match result {
                    Ok(done) => m.done.add(done),
                    Err(e) => {
                        m.errors += 1;
                        m.first_error.get_or_insert(e);
                    }
                }
            }
            (m, last)
        }));
    }
    let mut total = Measured::empty();
    let mut last = start;
    for task in tasks {
        let (m, end) = task.await.expect("client task panicked");
        last = last.max(end);
        total.merge(m);
    }
    total.elapsed = last - start;
    total.cpu = Cpu::now().since(before);
    total.fsync_ms.extend(fsync_ms);
    total
}

/// How long the disk takes to make a write durable right now: the median of 20 rounds of
/// an 8 kB overwrite plus `fdatasync` on a file in the temp dir (what a commit waits for;
/// on this machine the temp dir and PostgreSQL's data directory share one disk).
async fn fsync_probe() -> Option<f64> {
    tokio::task::spawn_blocking(|| {
        use std::io::{Seek, SeekFrom, Write};
        let path = std::env::temp_dir().join(format!("kurslogg-bench-fsync-{}", Uuid::new_v4().simple()));
        let probe = || -> std::io::Result<f64> {
            let mut file = std::fs::File::create(&path)?;
            let block = vec![7u8; 8192];
            file.write_all(&block)?;
            file.sync_all()?;
            let mut times = Vec::with_capacity(20);
            for _ in 0..20 {
                let t = Instant::now();
                file.seek(SeekFrom::Start(0))?;
                file.write_all(&block)?;
                file.sync_data()?;
                times.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            times.sort_by(f64::total_cmp);
            Ok(times[times.len() / 2])
        };
        let result = probe().ok();
        let _ = std::fs::remove_file(&path);
        result
    })
    .await
    .ok()
    .flatten()
}

// ---------------------------------------------------------------------------------------
// Results

struct Row {
    scenario: String,
    clients: String,
    measured: Measured,
    note: String,
}

struct Section {
    title: String,
    rows: Vec<Row>,
    notes: Vec<String>,
}

fn render_section(section: &Section, tick_us: f64) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "### {}\n", section.title);
    let _ = writeln!(
        s,
        "| scenario | clients | commands | seconds | commands/s | p50 ms | p99 ms | max ms | app CPU µs/cmd | PostgreSQL CPU µs/cmd | machine CPU busy | fdatasync ms | notes |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for row in &section.rows {
        let m = &row.measured;
        let per = |ticks: u64| {
            if m.done.commands == 0 {
                "-".to_string()
            } else {
                format!("{:.0}", ticks as f64 * tick_us / m.done.commands as f64)
            }
        };
        let pg = if m.cpu.pg_ticks == 0 { "-".to_string() } else { per(m.cpu.pg_ticks) };
        let busy = if m.cpu.total_ticks == 0 {
            "-".to_string()
        } else {
            let share = |ticks: u64| 100.0 * ticks as f64 / m.cpu.total_ticks as f64;
            format!("{:.0} % (irq {:.0} %)", share(m.cpu.busy_ticks), share(m.cpu.irq_ticks))
        };
        let fsync = if m.fsync_ms.is_empty() {
            "-".to_string()
        } else {
            let mut v = m.fsync_ms.clone();
            v.sort_by(f64::total_cmp);
            format!("{:.2}", v[v.len() / 2])
        };
        let mut note = row.note.clone();
        if m.errors > 0 {
            let _ = write!(
                note,
                "{}{} errors (first: {})",
                if note.is_empty() { "" } else { "; " },
                m.errors,
                m.first_error.as_deref().unwrap_or("?")
            );
        }
        if m.exhausted {
            let _ = write!(note, "{}staff pool used up before time ran out", if note.is_empty() { "" } else { "; " });
        }
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.2} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            row.scenario,
            row.clients,
            thousands(m.done.commands as f64),
            m.elapsed.as_secs_f64(),
            thousands(m.rate()),
            ms(m.p(0.5)),
            ms(m.p(0.99)),
            ms(m.latency.max() as f64 / 1000.0),
            per(m.cpu.app_ticks),
            pg,
            busy,
            fsync,
            note
        );
    }
    if !section.notes.is_empty() {
        s.push('\n');
        for note in &section.notes {
            let _ = writeln!(s, "- {note}");
        }
    }
    s.push('\n');
    s
}

// ---------------------------------------------------------------------------------------
// The world: municipalities, staff, a published package and its offerings

struct World {
    municipalities: Vec<MunicipalityId>,
    /// The coordinator acting for each municipality.
    coordinators: Vec<String>,
    /// Staff member `i` belongs to municipality `i % 14`.
    staff: Vec<StaffId>,
    spread: Vec<OfferingId>,
    /// One fresh offering per client count in (b).
    single: Vec<OfferingId>,
    /// Short-history offerings, one per window in (d).
    low: Vec<OfferingId>,
    /// The long-history offering in (d).
    high: OfferingId,
    /// Per rush round: its offerings, the first one the popular one.
    rush: Vec<Vec<OfferingId>>,
}

impl World {
    fn municipality_of(&self, staff_index: usize) -> usize {
        staff_index % self.municipalities.len()
    }

    /// A coordinator's request, as the HTTP layer would build it.
    fn coordinator_ctx(&self, municipality: usize, idempotent: bool) -> CommandContext {
        CommandContext {
            actor: Actor::new(self.coordinators[municipality].clone(), Role::Coordinator)
                .for_municipality(self.municipalities[municipality].clone()),
            request_id: Uuid::new_v4().to_string(),
            received_at: Utc::now(),
            idempotency: idempotent.then(|| Idempotency {
                key: Uuid::new_v4().to_string(),
                request_hash: format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple()),
            }),
        }
    }
}

fn office_ctx() -> CommandContext {
    CommandContext {
        actor: Actor::new("kursadministrator-1", Role::CourseOffice),
        request_id: Uuid::new_v4().to_string(),
        received_at: Utc::now(),
        idempotency: None,
    }
}

fn offering_details(deadline: DateTime<Utc>) -> OfferingDetails {
    let first = deadline + chrono::Duration::days(80);
    let sessions = (0..4)
        .map(|i| {
            let starts = first + chrono::Duration::weeks(i);
            Session::new(starts, starts + chrono::Duration::hours(3), 180).expect("valid session")
        })
        .collect();
    OfferingDetails {
        description: text("Barnavårdsutredning enligt BBIC: grunderna för nya handläggare."),
        target_groups: TargetGroups {
            experience_bands: vec![ExperienceBand::New0To2],
            staff_groups: vec![StaffGroup::Myndighetsutovning],
        },
        competence_areas: vec![text("Utredning"), text("Juridik")],
        trainer: text("Karin Utbildare"),
        place: Place::Venue(text("Kunskapens hus, Vänersborg")),
        sessions,
        price: Sek(2500),
        completion_threshold: CompletionThreshold::default(),
        prerequisites: vec![],
        follow_up: None,
    }
}

async fn build_world(app: &Arc<Kurslogg>, sizes: &Sizes) -> World {
    let office = office_ctx();
    let course = CourseCode::parse("BBIC-GRUND").expect("valid code");
    app.add_course(&office, course.clone(), text("BBIC grundkurs"), text("Barns behov i centrum."), vec![])
        .await
        .expect("add course");

    let mut municipalities = vec![];
    for name in FYRBODAL {
        let id = MunicipalityId::parse(&slugify(name)).expect("valid slug");
        app.add_municipality(&office, id.clone(), text(name), text("Fyrbodals kommunalförbund"))
            .await
            .expect("add municipality");
        municipalities.push(id);
    }
    let coordinators: Vec<String> = municipalities.iter().map(|_| StaffId::new().to_string()).collect();

    // The package: deadline 60 days ahead, so every registration is a request.
    let deadline = Utc::now() + chrono::Duration::days(60);
    let term = Term::parse(&format!("HT{}", deadline.year())).expect("valid term");
    let package = app
        .create_package(&office, term, text("Kurskatalog"), text("Fyrbodals kommunalförbund"), Some(deadline), false)
        .await
        .expect("create package");
    let package = PackageId::from_str(&package.id).expect("package id");

    let windows = sizes.windows;
    let planned =
        sizes.spread_offerings + 3 + HISTORY_CLIENTS_COUNTS.len() * windows + 1 + sizes.rush_rounds * RUSH_OFFERINGS;
    let details = offering_details(deadline);
    let seats = SeatLimit::new(30).expect("valid seats");
    let mut offerings: Vec<(usize, OfferingId)> = stream::iter(0..planned)
        .map(|n| {
            let (app, course, details) = (app.clone(), course.clone(), details.clone());
            async move {
                let written = app
                    .plan_offering(&office_ctx(), package, course, details, None, seats)
                    .await
                    .expect("plan offering");
                (n, OfferingId::from_str(&written.id).expect("offering id"))
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    offerings.sort_by_key(|(n, _)| *n);
    let mut offerings = offerings.into_iter().map(|(_, id)| id);
    let spread: Vec<OfferingId> = offerings.by_ref().take(sizes.spread_offerings).collect();
    let single: Vec<OfferingId> = offerings.by_ref().take(3).collect();
    let low: Vec<OfferingId> = offerings.by_ref().take(HISTORY_CLIENTS_COUNTS.len() * windows).collect();
    let high = offerings.next().expect("planned");
    let rush: Vec<Vec<OfferingId>> =
        (0..sizes.rush_rounds).map(|_| offerings.by_ref().take(RUSH_OFFERINGS).collect()).collect();

    app.package_command(&office, package, PackageCommand::Publish).await.expect("publish");

    let n_municipalities = municipalities.len();
    let municipalities = Arc::new(municipalities);
    let mut staff: Vec<(usize, StaffId)> = stream::iter(0..sizes.staff)
        .map(|i| {
            let (app, municipalities) = (app.clone(), municipalities.clone());
            async move {
                let municipality = municipalities[i % n_municipalities].clone();
                let profile = StaffProfile {
                    name: person_name(&format!("Handläggare {}", letters(i))),
                    work_email: WorkEmail::parse(&format!("handlaggare.{i}@{municipality}.se")).expect("valid e-mail"),
                    unit: text("Barn och unga"),
                    supervisor: None,
                    staff_group: if i % 3 == 0 { StaffGroup::Utforare } else { StaffGroup::Myndighetsutovning },
                    experience_band: ExperienceBand::New0To2,
                    social_work_degree: i % 4 != 0,
                };
                let written = app.add_staff(&office_ctx(), municipality, profile).await.expect("add staff");
                (i, StaffId::from_str(&written.id).expect("staff id"))
            }
        })
        .buffer_unordered(SETUP_CONCURRENCY)
        .collect()
        .await;
    staff.sort_by_key(|(i, _)| *i);
    let staff = staff.into_iter().map(|(_, id)| id).collect();

    World {
        municipalities: Arc::try_unwrap(municipalities).expect("no other owners"),
        coordinators,
        staff,
        spread,
        single,
        low,
        high,
        rush,
    }
}

// ---------------------------------------------------------------------------------------
// Workloads on Kurslogg

/// Registers staff member `first_staff + i` on the offering chosen by `offering(i)`.
fn register_op(
    app: &Arc<Kurslogg>,
    world: &Arc<World>,
    first_staff: usize,
    idempotent: bool,
    offering: impl Fn(usize) -> OfferingId + Send + Sync + 'static,
) -> Op {
    let (app, world) = (app.clone(), world.clone());
    let offering = Arc::new(offering);
    Arc::new(move |_client, i| {
        let (app, world, offering) = (app.clone(), world.clone(), offering.clone());
        Box::pin(async move {
            let index = first_staff + i;
            let ctx = world.coordinator_ctx(world.municipality_of(index), idempotent);
            let line =
                RegistrationLine { staff: world.staff[index], offering: offering(i), override_prerequisites: false };
            match app.register(&ctx, line).await {
                Ok(outcome) if outcome.status == LineStatus::Requested && !outcome.already_registered => {
                    Ok(Done::one())
                }
                Ok(outcome) => Err(format!("unexpected outcome {:?}", outcome.status)),
                Err(e) => Err(e.to_string()),
            }
        })
    })
}

/// Fills `offering` to about `events` events of history (it has 1, its plan): staff from
/// `first_staff` register, every fifth one then cancels. Returns the events it holds and
/// the staff used.
async fn prefill(app: &Arc<Kurslogg>, world: &Arc<World>, offering: OfferingId, events: usize) -> (usize, usize) {
    // n registrations (and n/5 cancellations) give 1 + n + n/5 events.
    let mut n = 0;
    while 1 + n + n / 5 < events {
        n += 1;
    }
    let (app2, world2) = (app.clone(), world.clone());
    let op: Op = Arc::new(move |_client, i| {
        let (app, world) = (app2.clone(), world2.clone());
        Box::pin(async move {
            let ctx = world.coordinator_ctx(world.municipality_of(i), false);
            let staff = world.staff[i];
            app.register(&ctx, RegistrationLine { staff, offering, override_prerequisites: false })
                .await
                .map_err(|e| e.to_string())?;
            if i % 5 == 4 {
                let ctx = world.coordinator_ctx(world.municipality_of(i), false);
                app.cancel_registration(&ctx, offering, staff).await.map_err(|e| e.to_string())?;
            }
            Ok(Done::one())
        })
    });
    let m = drive(16, n, None, op).await;
    assert_eq!(m.errors, 0, "pre-fill failed: {:?}", m.first_error);
    (1 + n + n / 5, n)
}

/// Client counts of (a) and (b), and the plain-insert baseline.
const CLIENTS: [usize; 3] = [1, 16, 64];

/// (a) one cell spread over many offerings. Cell `k` puts staff member i on offering
/// (i + k) mod n, so a staff member never meets the same offering twice across cells.
async fn bench_spread(
    app: &Arc<Kurslogg>,
    world: &Arc<World>,
    sizes: &Sizes,
    k: usize,
    clients: usize,
    idempotent: bool,
) -> Row {
    let w = world.clone();
    let n = world.spread.len();
    let op = register_op(app, world, 0, idempotent, move |i| w.spread[(i + k) % n]);
    let m = drive(clients, world.staff.len(), Some(sizes.cell), op).await;
    let scenario = if idempotent {
        format!("(a) spread over {n} offerings, with Idempotency-Key")
    } else {
        format!("(a) spread over {n} offerings")
    };
    println!("  {scenario}, {clients} clients: {} commands/s", thousands(m.rate()));
    Row { scenario, clients: clients.to_string(), measured: m, note: String::new() }
}

/// (b) one cell on one offering, a fresh one per cell.
async fn bench_single(app: &Arc<Kurslogg>, world: &Arc<World>, sizes: &Sizes, k: usize, clients: usize) -> Row {
    let offering = world.single[k];
    let op = register_op(app, world, 0, false, move |_| offering);
    let m = drive(clients, world.staff.len(), Some(sizes.cell), op).await;
    let note = format!("fresh offering, history 1 → {}", 1 + m.done.commands);
    println!("  (b) one offering, {clients} clients: {} commands/s", thousands(m.rate()));
    Row { scenario: "(b) one offering".into(), clients: clients.to_string(), measured: m, note }
}

/// (a) to (d) on one backend; on PostgreSQL each (a) cell runs right after the plain
/// insert cell with the same client count (`raw`), so the pair sees the same machine.
async fn bench_kurslogg(
    app: &Arc<Kurslogg>,
    world: &Arc<World>,
    config: &Config,
    section: &mut Section,
    mut raw: Option<(&str, &mut Section, &mut Option<f64>)>,
) {
    let sizes = &config.sizes;
    for (k, clients) in CLIENTS.into_iter().enumerate() {
        if let Some((url, baselines, raw16)) = raw.as_mut() {
            let m = bench_raw_inserts(url, sizes, clients, k).await;
            println!("  plain single-row inserts, {clients} clients: {} inserts/s", thousands(m.rate()));
            if clients == 16 {
                **raw16 = Some(m.rate());
            }
            let row = Row {
                scenario: "plain single-row insert".into(),
                clients: clients.to_string(),
                measured: m,
                note: String::new(),
            };
            baselines.rows.push(row);
        }
        if config.wants("a") {
            section.rows.push(bench_spread(app, world, sizes, k, clients, false).await);
        }
    }
    if config.wants("a") {
        section.rows.push(bench_spread(app, world, sizes, CLIENTS.len(), 16, true).await);
    }
    if config.wants("b") {
        for (k, clients) in CLIENTS.into_iter().enumerate() {
            section.rows.push(bench_single(app, world, sizes, k, clients).await);
        }
    }
    if config.wants("c") {
        bench_rush(app, world, sizes, section).await;
    }
    if config.wants("d") {
        bench_history(app, world, sizes, section).await;
    }
}

/// (c) the deadline rush: 14 collective registrations at once, per round.
async fn bench_rush(app: &Arc<Kurslogg>, world: &Arc<World>, sizes: &Sizes, section: &mut Section) {
    let mut rush = Measured::empty();
    let mut requested_total = 0usize;
    for round in 0..world.rush.len() {
        let (app2, world2) = (app.clone(), world.clone());
        let lines_per = sizes.rush_lines;
        let op: Op = Arc::new(move |_client, m| {
            let (app, world) = (app2.clone(), world2.clone());
            Box::pin(async move {
                let offerings = &world.rush[round];
                let n = world.municipalities.len();
                let lines: Vec<RegistrationLine> = (0..lines_per)
                    .map(|j| RegistrationLine {
                        staff: world.staff[m + n * j],
                        offering: if j % 2 == 0 {
                            offerings[0]
                        } else {
                            offerings[1 + (j / 2) % (offerings.len() - 1)]
                        },
                        override_prerequisites: false,
                    })
                    .collect();
                let ctx = world.coordinator_ctx(m, false);
                let receipt = app
                    .register_collectively(&ctx, world.municipalities[m].clone(), lines)
                    .await
                    .map_err(|e| e.to_string())?;
                if receipt.requested != lines_per {
                    let first = receipt.lines.iter().find(|l| l.status != LineStatus::Requested);
                    return Err(format!(
                        "{} of {lines_per} lines requested (first other: {:?})",
                        receipt.requested,
                        first.map(|l| (&l.code, &l.reason))
                    ));
                }
                Ok(Done { commands: lines_per as u64, attempts: lines_per as u64, conflicts: 0 })
            })
        });
        let m = drive(world.municipalities.len(), world.municipalities.len(), None, op).await;
        requested_total += m.done.commands as usize;
        rush.merge(m);
    }
    println!("  (c) deadline rush: {} registration lines/s", thousands(rush.rate()));
    section.rows.push(Row {
        scenario: format!(
            "(c) deadline rush: 14 collective registrations × {} lines, {} round(s)",
            sizes.rush_lines, sizes.rush_rounds
        ),
        clients: "14".into(),
        measured: rush,
        note: format!(
            "{requested_total} lines; latency is per collective registration; half the lines on one popular offering"
        ),
    });
}

/// (d) one offering as its history grows: short windows on fresh offerings pre-filled to
/// ~100 events, each followed by a window on one offering pre-filled to ~5,000 events, at 1
/// and at 16 clients. Windows are short in commands (so "~100 events" stays true) and
/// therefore short in time; many pairs, back to back, even out the disk's jitter.
async fn bench_history(app: &Arc<Kurslogg>, world: &Arc<World>, sizes: &Sizes, section: &mut Section) {
    let pool = world.staff.len();
    let (high_events, high_staff) = prefill(app, world, world.high, sizes.history_high).await;
    let mut low_events = 0;
    for &offering in &world.low {
        low_events = prefill(app, world, offering, sizes.history_low).await.0;
    }
    let first_window_staff = high_staff.max(sizes.history_low) + 100;
    let needed = first_window_staff + HISTORY_CLIENTS_COUNTS.len() * sizes.windows * sizes.window;
    assert!(needed <= pool, "staff pool too small for (d)");
    let mut high_at = high_events;
    for (c, clients) in HISTORY_CLIENTS_COUNTS.into_iter().enumerate() {
        let (mut low, mut high) = (Measured::empty(), Measured::empty());
        let mut pair_ratios = vec![];
        let high_from = high_at;
        for k in 0..sizes.windows {
            let n = c * sizes.windows + k;
            let first = first_window_staff + n * sizes.window;
            let offering = world.low[n];
            let op = register_op(app, world, first, false, move |_| offering);
            let l = drive(clients, sizes.window, None, op).await;
            let offering = world.high;
            let op = register_op(app, world, first, false, move |_| offering);
            let h = drive(clients, sizes.window, None, op).await;
            high_at += h.done.commands as usize;
            pair_ratios.push(h.rate() / l.rate().max(1e-9));
            low.merge(l);
            high.merge(h);
        }
        pair_ratios.sort_by(f64::total_cmp);
        let median_pair = pair_ratios[pair_ratios.len() / 2];
        println!(
            "  (d) one offering, {clients} client(s), history ~{}: {} commands/s; ~{}: {} commands/s (median pair ratio {median_pair:.2})",
            sizes.history_low,
            thousands(low.rate()),
            sizes.history_high,
            thousands(high.rate())
        );
        section.rows.push(Row {
            scenario: format!("(d) one offering, history ~{}", thousands(sizes.history_low as f64)),
            clients: clients.to_string(),
            measured: low,
            note: format!(
                "{} windows of {} commands, each on a fresh offering pre-filled to {low_events} events ({low_events} → {})",
                sizes.windows,
                sizes.window,
                low_events + sizes.window
            ),
        });
        section.rows.push(Row {
            scenario: format!("(d) one offering, history ~{}", thousands(sizes.history_high as f64)),
            clients: clients.to_string(),
            measured: high,
            note: format!(
                "{} windows of {} commands on one offering pre-filled to {high_events} events (this row: {high_from} → {high_at}), each right after a short-history window; median of the per-pair rate ratios {median_pair:.2}",
                sizes.windows,
                sizes.window,
            ),
        });
    }
}

// ---------------------------------------------------------------------------------------
// PostgreSQL plumbing and baselines

struct Databases {
    admin_url: String,
    names: Vec<String>,
}

impl Databases {
    async fn create(&mut self, purpose: &str) -> Result<String, sqlx::Error> {
        let name = format!("kurslogg_bench_{purpose}_{}", &Uuid::new_v4().simple().to_string()[..8]);
        let mut admin = PgConnection::connect(&self.admin_url).await?;
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await?;
        admin.close().await?;
        self.names.push(name.clone());
        Ok(with_database(&self.admin_url, &name))
    }

    async fn drop_all(&mut self) {
        let Ok(mut admin) = PgConnection::connect(&self.admin_url).await else { return };
        for name in self.names.drain(..) {
            if let Err(e) =
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut admin).await
            {
                eprintln!("could not drop database {name}: {e}");
            }
        }
        let _ = admin.close().await;
    }
}

/// Plain single-row inserts into the `events` layout: one autocommit INSERT of a ~300-byte
/// JSON payload per transaction, one dedicated connection per client.
async fn bench_raw_inserts(url: &str, sizes: &Sizes, clients: usize, run: usize) -> Measured {
    let mut connections = Vec::with_capacity(clients);
    for _ in 0..clients {
        let connection = PgConnection::connect(url).await.expect("connect for raw inserts");
        connections.push(tokio::sync::Mutex::new(connection));
    }
    let connections = Arc::new(connections);
    let connections_for_close = connections.clone();
    let aggregate_id = format!("raw-{run}-{clients}");
    let op: Op = Arc::new(move |client, i| {
        let (connections, aggregate_id) = (connections.clone(), aggregate_id.clone());
        Box::pin(async move {
            let staff = Uuid::new_v4();
            let mut payload = format!(
                r#"{{"RegistrationRequested":{{"staff":"{staff}","municipality":"uddevalla","late":false,"prerequisites_overridden":[],"note":""#
            );
            while payload.len() < 297 {
                payload.push('x');
            }
            payload.push_str(r#""}}"#);
            let metadata = format!(
                r#"{{"actor_id":"{}","actor_role":"coordinator","on_behalf_of":"uddevalla","request_id":"{}","recorded_at":"{}"}}"#,
                Uuid::new_v4(),
                Uuid::new_v4(),
                Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            );
            let mut connection = connections[client].lock().await;
            sqlx::query(
                "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
                 VALUES ($1, $2, $3, $4, $5, $6::json, $7::json)",
            )
            .bind("raw")
            .bind(&aggregate_id)
            .bind(i as i64 + 1)
            .bind("RegistrationRequested")
            .bind("1")
            .bind(&payload)
            .bind(&metadata)
            .execute(&mut *connection)
            .await
            .map_err(|e| e.to_string())?;
            Ok(Done::one())
        })
    });
    let m = drive(clients, usize::MAX, Some(sizes.raw_cell), op).await;
    if let Some(connections) = Arc::into_inner(connections_for_close) {
        for connection in connections {
            let _ = connection.into_inner().close().await;
        }
    }
    m
}

/// Stock cqrs-es on one offering: `postgres_cqrs` over a default `PgPool`, retrying
/// `AggregateConflict` up to `STOCK_MAX_ATTEMPTS` times.
async fn bench_stock(url: &str, sizes: &Sizes, clients: usize, municipalities: &[MunicipalityId]) -> Measured {
    let pool = sqlx::PgPool::connect(url).await.expect("connect stock pool");
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let cqrs = Arc::new(postgres_es::postgres_cqrs::<Offering>(pool.clone(), vec![], clock));
    let deadline = Utc::now() + chrono::Duration::days(60);
    let offering = OfferingId::new();
    let term = Term::parse(&format!("HT{}", deadline.year())).expect("valid term");
    cqrs.execute(
        &offering.to_string(),
        OfferingCommand::PlanOffering {
            id: offering,
            package: PackageId::new(),
            term,
            course: kurslogg_domain::offering::CourseFacts {
                code: CourseCode::parse("BBIC-GRUND").expect("valid code"),
                title: text("BBIC grundkurs"),
                prerequisites: vec![],
            },
            details: offering_details(deadline),
            seat_limit: SeatLimit::new(30).expect("valid seats"),
            window: RegistrationWindow { phase: PackagePhase::Published, deadline, recorded_afterwards: false },
        },
    )
    .await
    .expect("plan stock offering");
    let window = RegistrationWindow { phase: PackagePhase::Published, deadline, recorded_afterwards: false };
    let municipalities = Arc::new(municipalities.to_vec());
    let id = offering.to_string();
    let op: Op = Arc::new(move |_client, i| {
        let (cqrs, municipalities, id) = (cqrs.clone(), municipalities.clone(), id.clone());
        Box::pin(async move {
            let municipality = municipalities[i % municipalities.len()].clone();
            let participant = ParticipantFacts {
                staff: StaffId::new(),
                municipality: municipality.clone(),
                status: StaffStatus::Active,
                history: vec![],
            };
            let metadata = HashMap::from([
                ("actor_id".to_string(), Uuid::new_v4().to_string()),
                ("actor_role".to_string(), "coordinator".to_string()),
                ("on_behalf_of".to_string(), municipality.to_string()),
                ("request_id".to_string(), Uuid::new_v4().to_string()),
                ("recorded_at".to_string(), Utc::now().to_rfc3339()),
            ]);
            let mut done = Done::default();
            loop {
                done.attempts += 1;
                let command = OfferingCommand::Register {
                    participant: participant.clone(),
                    window,
                    override_prerequisites: false,
                };
                match cqrs.execute_with_metadata(&id, command, metadata.clone()).await {
                    Ok(()) => {
                        done.commands = 1;
                        return Ok(done);
                    }
                    Err(AggregateError::AggregateConflict) if done.attempts < STOCK_MAX_ATTEMPTS => done.conflicts += 1,
                    Err(AggregateError::AggregateConflict) => {
                        return Err(format!("gave up after {STOCK_MAX_ATTEMPTS} conflicting attempts"));
                    }
                    Err(e) => return Err(e.to_string()),
                }
            }
        })
    });
    let m = drive(clients, usize::MAX, Some(sizes.stock_cell), op).await;
    pool.close().await;
    m
}

async fn postgres_facts(url: &str) -> Vec<String> {
    let Ok(mut c) = PgConnection::connect(url).await else { return vec![] };
    let mut facts = vec![];
    for (label, sql) in [
        ("version", "SELECT version()"),
        ("fsync", "SHOW fsync"),
        ("synchronous_commit", "SHOW synchronous_commit"),
        ("shared_buffers", "SHOW shared_buffers"),
        ("max_connections", "SHOW max_connections"),
        ("autovacuum", "SHOW autovacuum"),
        (
            "TLS on this benchmark's connections (sqlx default sslmode=prefer)",
            "SELECT ssl::text FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        ),
    ] {
        if let Ok(v) = sqlx::query_scalar::<_, String>(sql).fetch_one(&mut c).await {
            facts.push(format!("{label}: {v}"));
        }
    }
    let _ = c.close().await;
    facts
}

// ---------------------------------------------------------------------------------------
// Backends

struct PgResults {
    ours: Section,
    baselines: Section,
    raw16: Option<f64>,
}

async fn run_sqlite(config: &Config) -> Section {
    let dir = std::env::temp_dir().join(format!("kurslogg-bench-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    let path = dir.join("kurslogg.db");
    let log = EventLog::open_sqlite(&path, &LogOptions::default()).await.expect("open SQLite");
    log.migrate().await.expect("migrate SQLite");
    let app = Arc::new(Kurslogg::new(log.clone(), Arc::new(SystemClock)));
    let started = Instant::now();
    let world = Arc::new(build_world(&app, &config.sizes).await);
    println!(
        "  set-up: {} staff, {} offerings in {:.1} s",
        world.staff.len(),
        planned_count(&world),
        started.elapsed().as_secs_f64()
    );
    let mut section = Section {
        title: "SQLite (file in a temp dir, WAL, synchronous=FULL, one writer connection)".into(),
        rows: vec![],
        notes: vec![],
    };
    bench_kurslogg(&app, &world, config, &mut section, None).await;
    log.close().await;
    let _ = std::fs::remove_dir_all(&dir);
    section
}

fn planned_count(world: &World) -> usize {
    world.spread.len() + world.single.len() + world.low.len() + 1 + world.rush.iter().map(Vec::len).sum::<usize>()
}

async fn run_postgres(config: &Config, dbs: &mut Databases) -> Result<PgResults, String> {
    let sizes = &config.sizes;
    let mut baselines = Section {
        title: "PostgreSQL baselines (same run, databases of their own)".into(),
        rows: vec![],
        notes: vec![
            "plain single-row inserts: one autocommit `INSERT INTO events ... VALUES (...)` per transaction, ~300-byte JSON payload plus ~180-byte metadata, one dedicated connection per client (like pgbench); each client count writes one aggregate with rising sequence numbers, so every insert lands at the right edge of the primary key (the cheapest pattern for PostgreSQL: the baseline is a demanding one)".into(),
            format!(
                "stock cqrs-es: `postgres_es::postgres_cqrs(PgPool::connect(url), vec![], clock)` (default pool: 10 connections, ping on acquire), `OfferingCommand::Register` with facts passed in, one fresh offering, retry on `AggregateConflict` up to {STOCK_MAX_ATTEMPTS} attempts; latency includes retries"
            ),
        ],
    };
    let mut ours = Section {
        title: "PostgreSQL (fresh database, service defaults: pool of 16, no ping on acquire)".into(),
        rows: vec![],
        notes: vec![],
    };

    // Plain inserts and ours by client count, pair by pair; then stock cqrs-es.
    let mut raw16 = None;
    let raw_url = if config.wants("raw") {
        let url = dbs.create("raw").await.map_err(|e| format!("cannot create a database: {e}"))?;
        migrate_postgres(&url).await?;
        Some(url)
    } else {
        None
    };

    if config.wants_ours() {
        let ours_url = dbs.create("ours").await.map_err(|e| format!("cannot create a database: {e}"))?;
        let log = EventLog::connect_postgres(&ours_url, &LogOptions::default()).await.map_err(|e| e.to_string())?;
        log.migrate().await.map_err(|e| e.to_string())?;
        let app = Arc::new(Kurslogg::new(log.clone(), Arc::new(SystemClock)));
        let started = Instant::now();
        let world = Arc::new(build_world(&app, sizes).await);
        println!(
            "  set-up: {} staff, {} offerings in {:.1} s",
            world.staff.len(),
            planned_count(&world),
            started.elapsed().as_secs_f64()
        );
        let raw = raw_url.as_deref().map(|url| (url, &mut baselines, &mut raw16));
        bench_kurslogg(&app, &world, config, &mut ours, raw).await;
        if let Some(pool) = log.postgres_pool() {
            let sizes_row: Result<(Option<f64>, Option<f64>), _> = sqlx::query_as(
                "SELECT avg(octet_length(payload::text))::float8, avg(octet_length(metadata::text))::float8 \
                 FROM events WHERE event_type = 'RegistrationRequested'",
            )
            .fetch_one(pool)
            .await;
            if let Ok((Some(p), Some(m))) = sizes_row {
                ours.notes.push(format!("a registration event stores a {p:.0}-byte payload and {m:.0}-byte metadata"));
            }
        }
        log.close().await;
    } else if let Some(url) = &raw_url {
        for (k, clients) in CLIENTS.into_iter().enumerate() {
            let m = bench_raw_inserts(url, sizes, clients, k).await;
            println!("  plain single-row inserts, {clients} clients: {} inserts/s", thousands(m.rate()));
            if clients == 16 {
                raw16 = Some(m.rate());
            }
            baselines.rows.push(Row {
                scenario: "plain single-row insert".into(),
                clients: clients.to_string(),
                measured: m,
                note: String::new(),
            });
        }
    }

    if config.wants("stock") {
        let stock_url = dbs.create("stock").await.map_err(|e| format!("cannot create a database: {e}"))?;
        migrate_postgres(&stock_url).await?;
        let municipalities: Vec<MunicipalityId> =
            FYRBODAL.iter().map(|name| MunicipalityId::parse(&slugify(name)).expect("valid slug")).collect();
        let m = bench_stock(&stock_url, sizes, 64, &municipalities).await;
        let conflicts = 100.0 * m.done.conflicts as f64 / m.done.attempts.max(1) as f64;
        println!(
            "  stock cqrs-es, one offering, 64 clients: {} commands/s, {conflicts:.0} % of attempts conflicted",
            thousands(m.rate())
        );
        let note = format!(
            "{} attempts, {} conflicted ({conflicts:.0} %); history 1 → {}",
            m.done.attempts,
            m.done.conflicts,
            1 + m.done.commands
        );
        baselines.rows.push(Row {
            scenario: "stock cqrs-es, one offering".into(),
            clients: "64".into(),
            measured: m,
            note,
        });
    }
    Ok(PgResults { ours, baselines, raw16 })
}

/// Creates the event-store schema (Kurslogg's migrations: postgres-es's `events` layout).
async fn migrate_postgres(url: &str) -> Result<(), String> {
    let log = EventLog::connect_postgres(url, &LogOptions::default()).await.map_err(|e| e.to_string())?;
    log.migrate().await.map_err(|e| e.to_string())?;
    log.close().await;
    Ok(())
}

fn find<'a>(section: &'a Section, prefix: &str, clients: &str) -> Option<&'a Measured> {
    section.rows.iter().find(|r| r.scenario.starts_with(prefix) && r.clients == clients).map(|r| &r.measured)
}

fn verdict(met: bool) -> &'static str {
    if met {
        "MET"
    } else {
        "MISSED"
    }
}

fn history_verdict(section: &Section, backend: &str, sizes: &Sizes) -> Option<String> {
    let mut parts = vec![];
    let mut met = true;
    for clients in HISTORY_CLIENTS_COUNTS {
        let clients = clients.to_string();
        let at = |history: usize| format!("(d) one offering, history ~{}", thousands(history as f64));
        let low = find(section, &at(sizes.history_low), &clients)?;
        let high = find(section, &at(sizes.history_high), &clients)?;
        let ratio = high.rate() / low.rate().max(1e-9);
        met &= ratio >= 0.90;
        parts.push(format!(
            "{clients} client(s): {} commands/s at ~{} events vs {} at ~{} events, ratio {ratio:.2}",
            thousands(high.rate()),
            thousands(sizes.history_high as f64),
            thousands(low.rate()),
            thousands(sizes.history_low as f64),
        ));
    }
    Some(format!(
        "Target (d) {backend}: one-offering rate does not fall as history grows (no fall = ratio ≥ 0.90, the run-to-run noise band) — {}: {}",
        parts.join("; "),
        verdict(met)
    ))
}

fn machine_facts() -> Vec<String> {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "?".into());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines().next().map(|l| l.split_whitespace().nth(1).unwrap_or("0").parse::<f64>().unwrap_or(0.0))
        })
        .map(|kb| format!("{:.1} GiB", kb / 1024.0 / 1024.0))
        .unwrap_or_else(|| "?".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    vec![format!("CPU: {cpu}, {cores} cores available"), format!("memory: {memory}")]
}

#[tokio::main]
async fn main() {
    // As the service's binary does.
    kurslogg::without_transparent_huge_pages();
    let config = parse_args();
    let tick_us = 1e6 / clock_ticks_per_second();
    let started = Instant::now();
    println!("Kurslogg registration benchmark{}", if config.quick { " (quick)" } else { "" });
    let mut sections = vec![];
    let mut verdicts = vec![];
    let mut facts = machine_facts();
    let idle_check = Cpu::now();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_check = Cpu::now().since(idle_check);
    let busy_before = 100.0 * idle_check.busy_ticks as f64 / idle_check.total_ticks.max(1) as f64;
    facts.push(format!(
        "machine CPU busy in the 2 s before the run: {busy_before:.0} % (other work on the machine skews every figure)"
    ));
    if busy_before > 20.0 {
        eprintln!(
            "warning: the machine is {busy_before:.0} % busy before the benchmark starts; results will be skewed"
        );
    }
    facts.push(format!(
        "fdatasync probe before the run: {} ms (median of 20)",
        fsync_probe().await.map_or("?".into(), |v| format!("{v:.2}"))
    ));

    if config.backends.contains(&Which::Sqlite) && config.wants_ours() {
        println!("SQLite:");
        let section = run_sqlite(&config).await;
        if let Some(v) = history_verdict(&section, "SQLite", &config.sizes) {
            verdicts.push(v);
        }
        sections.push(section);
    }

    if config.backends.contains(&Which::Postgres) {
        println!("PostgreSQL ({}):", config.postgres_url);
        facts.extend(postgres_facts(&config.postgres_url).await.into_iter().map(|f| format!("PostgreSQL {f}")));
        let mut dbs = Databases { admin_url: config.postgres_url.clone(), names: vec![] };
        let result = run_postgres(&config, &mut dbs).await;
        dbs.drop_all().await;
        match result {
            Ok(pg) => {
                if let (Some(raw), Some(ours)) = (pg.raw16, find(&pg.ours, "(a) spread over", "16")) {
                    let ratio = ours.rate() / raw.max(1e-9);
                    verdicts.push(format!(
                        "Target (a) PostgreSQL: registrations over many offerings at 16 clients ≥ 0.5 × plain single-row inserts at 16 clients — {} vs {} commands/s, ratio {ratio:.2}: {}",
                        thousands(ours.rate()),
                        thousands(raw),
                        verdict(ratio >= 0.5)
                    ));
                }
                if let (Some(ours), Some(stock)) =
                    (find(&pg.ours, "(b) one offering", "64"), find(&pg.baselines, "stock cqrs-es", "64"))
                {
                    let ratio = ours.rate() / stock.rate().max(1e-9);
                    let p99 = ours.p(0.99);
                    verdicts.push(format!(
                        "Target (b) PostgreSQL: one offering at 64 clients ≥ 10 × stock cqrs-es with p99 < 100 ms — {} vs {} commands/s, ratio {ratio:.1}, p99 {} ms (stock p99 {} ms): {}",
                        thousands(ours.rate()),
                        thousands(stock.rate()),
                        ms(p99),
                        ms(stock.p(0.99)),
                        verdict(ratio >= 10.0 && p99 < 100.0)
                    ));
                }
                if let Some(v) = history_verdict(&pg.ours, "PostgreSQL", &config.sizes) {
                    verdicts.push(v);
                }
                sections.extend([pg.ours, pg.baselines].into_iter().filter(|s| !s.rows.is_empty()));
            }
            Err(e) => {
                eprintln!("PostgreSQL skipped: {e}");
                verdicts.push(format!("PostgreSQL not measured: {e}"));
            }
        }
    }

    let mut md = String::new();
    let _ = writeln!(md, "## Registration benchmark results{}\n", if config.quick { " (quick run)" } else { "" });
    let _ = writeln!(md, "Command: `{}`\n", config.command_line);
    let _ = writeln!(
        md,
        "Run at {} UTC, took {:.0} s.\n",
        Utc::now().format("%Y-%m-%d %H:%M"),
        started.elapsed().as_secs_f64()
    );
    for fact in &facts {
        let _ = writeln!(md, "- {fact}");
    }
    let _ = writeln!(
        md,
        "\nLatency is per command (per collective registration in (c)), measured around the use-case call. CPU columns: CPU time (user + system) of this process and of all PostgreSQL processes divided by commands; machine CPU busy is the share of all cores not idle (from /proc/stat), with the share spent in interrupts and soft interrupts in brackets. PostgreSQL CPU counts every `postgres` process on the machine, background workers included. fdatasync ms: median time to make an 8 kB write durable (write + fdatasync on the temp dir's disk), probed just before each measurement (median over the runs merged into a row); the disk is shared and its latency moves by 10× within minutes, and no commit can be faster than this.\n"
    );
    for section in &sections {
        md.push_str(&render_section(section, tick_us));
    }
    let _ = writeln!(md, "### Verdicts\n");
    if config.quick {
        let _ = writeln!(
            md,
            "(A quick run is a smoke test: its windows are too short for the verdicts to mean anything.)\n"
        );
    }
    for v in &verdicts {
        let _ = writeln!(md, "- {v}");
    }

    println!("\n{md}");
    if let Some(path) = &config.out {
        std::fs::write(path, &md).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        println!("results written to {}", path.display());
    }
}
