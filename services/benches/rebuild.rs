//! Rebuild benchmark: how fast the projections are rebuilt from a log of a million
//! events, against how fast the same machine reads that log sequentially, and how fast
//! the views answer at that size.
//!
//! ```text
//! cargo bench -p kurslogg --bench rebuild -- [--quick] [--events N] [--out PATH]
//!     [--backend sqlite|postgres|both] [--one-by-one] [--keep]
//! ```
//!
//! `--keep` leaves the databases in place for inspection (and prints where they are).
//!
//! Per backend, in one run:
//! 1. fill a fresh database with `--events` (default 1,000,000) realistic events: several
//!    federations' terms (municipalities, staff, course packages, offerings of 10-30
//!    sessions, collective registrations before the deadline, allocation, late
//!    registrations, cancellations, transfers, promotions from the waiting list,
//!    attendance per session and participant, corrections, completions with
//!    certificates), real domain events serialised as the service stores them, appended
//!    in bulk through `EventLog::append` (not the command path);
//! 2. (a) read the whole `events` table in position order in one streaming query, every
//!    column, each row decoded as the projections' feed decodes it (payload and metadata
//!    parsed as JSON); and the same in pages of 1,000 and 5,000 through the feed's own
//!    query (`feed::read`, what a rebuild reads with). The fastest of these plain reads is
//!    the machine's sequential read rate, the yardstick of the target;
//! 3. (b) rebuild each projection (`Runner::rebuild`), then all of them as `kurslogg
//!    projections rebuild` does (`kurslogg::views::rebuild`), in events of the log per
//!    second of wall time; with `--one-by-one`, also with the `Projection` trait's default
//!    `apply_batch` (one event at a time), for comparison;
//!    all three are rebuilt a second time after the queries (4.), and judged by the faster
//!    of the two, as the yardstick is the fastest of the reads;
//! 4. (c) p50/p99 latency of the roster and the participant-record queries on the rebuilt
//!    views (random offerings and staff members), before and after `ANALYZE` on
//!    PostgreSQL (autovacuum is off on this machine, so nothing analyses the new rows).
//!
//! Then the streaming read is measured once more. Target: every rebuild (at its fastest) at
//! no less than a fifth of the fastest read.
//!
//! PostgreSQL: a fresh database `kurslogg_bench_rebuild_<pid>` on
//! `postgres://postgres@127.0.0.1:5432/postgres` (override with
//! `KURSLOGG_BENCH_POSTGRES_URL`), dropped at the end. SQLite: a file in a fresh temp
//! dir, removed at the end. Both opened with the service's default `LogOptions`.

mod common;

use common::{ms, person_name, text, thousands, ticks_of, with_database};

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Instant;

use async_trait::async_trait;
use chrono::{DateTime, Duration, TimeZone, Utc};
use cqrs_es::DomainEvent;
use futures::StreamExt;
use hdrhistogram::Histogram;
use kurslogg::personal::PersonalKey;
use kurslogg::store::{EventLog, LogOptions, Metadata, NewEvent};
use kurslogg_domain::course::CourseEvent;
use kurslogg_domain::municipality::{MunicipalRole, MunicipalityEvent};
use kurslogg_domain::offering::{OfferingDetails, OfferingEvent, TargetGroups};
use kurslogg_domain::package::PackageEvent;
use kurslogg_domain::staff::{SealedProfile, StaffEvent, StaffProfile};
use kurslogg_domain::{
    slugify, Attendance, CompletionThreshold, CourseCode, ExperienceBand, MunicipalityId, OfferingId, PackageId, Place,
    SeatLimit, Sek, Session, StaffGroup, StaffId, Term, WorkEmail,
};
use kurslogg_projections::audit::Audit;
use kurslogg_projections::enrolment::Enrolment;
use kurslogg_projections::history::{self, AsOf, Scope};
use kurslogg_projections::notices::Notices;
use kurslogg_projections::views::audit_trail::{self, AuditFilter};
use kurslogg_projections::views::statistics::{self, Dimension, StatisticsFilter};
use kurslogg_projections::views::{participant, roster};
use kurslogg_projections::{feed, Db, LoggedEvent, Projection, ProjectionError, Runner, ViewTx};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use serde_json::Value;
use sqlx::{Connection, PgConnection, Row};
use uuid::Uuid;

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// Events per append while filling (one transaction each).
const FILL_CHUNK: usize = 10_000;
/// Random offerings and staff members per query latency measurement.
const QUERY_SAMPLES: usize = 500;
/// The target: a rebuild at no less than this share of the sequential read rate.
const TARGET_SHARE: f64 = 0.2;
/// The seed of the generated log (the same log on every run and backend).
const SEED: u64 = 20_261_124;

// ---------------------------------------------------------------------------------------
// Configuration

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    Sqlite,
    Postgres,
}

impl Which {
    fn label(self) -> &'static str {
        match self {
            Which::Sqlite => "SQLite",
            Which::Postgres => "PostgreSQL",
        }
    }
}

#[derive(Debug, Clone)]
struct Config {
    quick: bool,
    events: usize,
    out: Option<PathBuf>,
    json: Option<PathBuf>,
    backends: Vec<Which>,
    one_by_one: bool,
    /// Keep the databases (for inspection) instead of removing them.
    keep: bool,
    postgres_url: String,
    command_line: String,
}

fn parse_args() -> Config {
    let mut quick = false;
    let mut events = None;
    let mut out = None;
    let mut json = None;
    let mut one_by_one = false;
    let mut keep = false;
    let mut backends = vec![Which::Sqlite, Which::Postgres];
    let mut passed = vec![];
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
            "--one-by-one" => {
                one_by_one = true;
                passed.push(arg);
            }
            "--keep" => keep = true,
            "--events" => {
                let value = inline.or_else(|| args.next()).expect("--events needs a number");
                let n: usize = value.replace(['_', ','], "").parse().expect("--events needs a number");
                assert!(n >= 1_000, "--events must be at least 1000");
                passed.push(format!("--events {value}"));
                events = Some(n);
            }
            "--out" => {
                let value = inline.or_else(|| args.next()).expect("--out needs a path");
                passed.push(format!("--out {value}"));
                out = Some(PathBuf::from(value));
            }
            "--json" => {
                let value = inline.or_else(|| args.next()).expect("--json needs a path");
                passed.push(format!("--json {value}"));
                json = Some(PathBuf::from(value));
            }
            "--backend" => {
                let value = inline.or_else(|| args.next()).expect("--backend needs sqlite, postgres or both");
                backends = match value.as_str() {
                    "sqlite" => vec![Which::Sqlite],
                    "postgres" | "postgresql" | "pg" => vec![Which::Postgres],
                    "both" | "all" => vec![Which::Sqlite, Which::Postgres],
                    other => panic!("unknown backend {other:?} (sqlite, postgres or both)"),
                };
                passed.push(format!("--backend {value}"));
            }
            "--help" | "-h" => {
                println!(
                    "cargo bench -p kurslogg --bench rebuild -- [--quick] [--events N] [--out PATH] [--json PATH] \
                     [--backend sqlite|postgres|both] [--one-by-one]"
                );
                std::process::exit(0);
            }
            other => eprintln!("ignoring unknown argument {other:?}"),
        }
    }
    let postgres_url = std::env::var("KURSLOGG_BENCH_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.into());
    let mut command_line = String::from("cargo bench -p kurslogg --bench rebuild");
    if !passed.is_empty() {
        command_line.push_str(" -- ");
        command_line.push_str(&passed.join(" "));
    }
    let events = events.unwrap_or(if quick { 20_000 } else { 1_000_000 });
    Config { quick, events, out, json, backends, one_by_one, keep, postgres_url, command_line }
}

// ---------------------------------------------------------------------------------------
// A realistic log

/// Member municipalities and a rough count of their social-services staff.
type Members = &'static [(&'static str, usize)];

/// Federations: name, short name, members.
const FEDERATIONS: [(&str, &str, Members); 4] = [
    (
        "Fyrbodals kommunalförbund",
        "FYR",
        &[
            ("Bengtsfors", 24),
            ("Dals-Ed", 16),
            ("Färgelanda", 18),
            ("Lysekil", 28),
            ("Mellerud", 24),
            ("Munkedal", 24),
            ("Orust", 30),
            ("Sotenäs", 20),
            ("Strömstad", 26),
            ("Tanum", 28),
            ("Trollhättan", 96),
            ("Uddevalla", 92),
            ("Vänersborg", 72),
            ("Åmål", 26),
        ],
    ),
    (
        "Göteborgsregionen",
        "GR",
        &[
            ("Ale", 48),
            ("Alingsås", 70),
            ("Göteborg", 420),
            ("Härryda", 55),
            ("Kungsbacka", 110),
            ("Kungälv", 70),
            ("Lerum", 66),
            ("Lilla Edet", 26),
            ("Mölndal", 100),
            ("Partille", 58),
            ("Stenungsund", 40),
            ("Tjörn", 30),
            ("Öckerö", 24),
        ],
    ),
    (
        "Sjuhärads kommunalförbund",
        "SJU",
        &[
            ("Bollebygd", 18),
            ("Borås", 160),
            ("Herrljunga", 18),
            ("Mark", 56),
            ("Svenljunga", 20),
            ("Tranemo", 22),
            ("Ulricehamn", 40),
            ("Vårgårda", 22),
        ],
    ),
    (
        "Skaraborgs kommunalförbund",
        "SKB",
        &[
            ("Essunga", 12),
            ("Falköping", 56),
            ("Grästorp", 12),
            ("Gullspång", 12),
            ("Götene", 24),
            ("Hjo", 18),
            ("Karlsborg", 14),
            ("Lidköping", 64),
            ("Mariestad", 42),
            ("Skara", 34),
            ("Skövde", 88),
            ("Tibro", 22),
            ("Tidaholm", 24),
            ("Töreboda", 16),
            ("Vara", 28),
        ],
    ),
];

/// A multi-session programme of the catalogue.
struct Programme {
    code: &'static str,
    title: &'static str,
    prerequisites: &'static [&'static str],
    /// Sessions (10-30) and teaching minutes each.
    sessions: usize,
    minutes: u32,
    seats: u32,
    price: u32,
    areas: &'static [&'static str],
}

const PROGRAMMES: [Programme; 13] = [
    Programme {
        code: "YRKESHANDLEDNING",
        title: "Yrkeshandledning",
        prerequisites: &[],
        sessions: 10,
        minutes: 180,
        seats: 10,
        price: 9_000,
        areas: &["socialt arbete", "etik"],
    },
    Programme {
        code: "INTRODUKTION",
        title: "Introduktionsprogram för nya socialsekreterare",
        prerequisites: &[],
        sessions: 16,
        minutes: 180,
        seats: 28,
        price: 5_500,
        areas: &["socialt arbete", "juridik", "dokumentation"],
    },
    Programme {
        code: "LVU-GRUND",
        title: "LVU grund",
        prerequisites: &[],
        sessions: 10,
        minutes: 180,
        seats: 25,
        price: 3_800,
        areas: &["juridik"],
    },
    Programme {
        code: "LVU-FORTS",
        title: "LVU fortsättning",
        prerequisites: &["LVU-GRUND"],
        sessions: 14,
        minutes: 180,
        seats: 20,
        price: 5_200,
        areas: &["juridik", "utredningsmetodik"],
    },
    Programme {
        code: "TRAUMA-GRUND",
        title: "Förhållningssätt vid trauma grund",
        prerequisites: &[],
        sessions: 16,
        minutes: 180,
        seats: 24,
        price: 6_400,
        areas: &["psykologi", "samtal med barn"],
    },
    Programme {
        code: "TRAUMA-FORTS",
        title: "Förhållningssätt vid trauma fortsättning",
        prerequisites: &["TRAUMA-GRUND"],
        sessions: 12,
        minutes: 180,
        seats: 18,
        price: 5_600,
        areas: &["psykologi"],
    },
    Programme {
        code: "FAMILJETERAPI-1",
        title: "Familjeterapi 1",
        prerequisites: &[],
        sessions: 12,
        minutes: 360,
        seats: 20,
        price: 14_000,
        areas: &["psykologi", "socialt arbete"],
    },
    Programme {
        code: "FAMILJETERAPI-2",
        title: "Familjeterapi 2",
        prerequisites: &["FAMILJETERAPI-1"],
        sessions: 12,
        minutes: 360,
        seats: 16,
        price: 14_000,
        areas: &["psykologi", "socialt arbete"],
    },
    Programme {
        code: "ANKNYTNING",
        title: "Anknytning och omsorgssvikt",
        prerequisites: &[],
        sessions: 10,
        minutes: 360,
        seats: 26,
        price: 8_000,
        areas: &["anknytningsteori", "utvecklingspsykologi"],
    },
    Programme {
        code: "BBIC",
        title: "BBiC – Barns behov i centrum",
        prerequisites: &[],
        sessions: 12,
        minutes: 180,
        seats: 30,
        price: 4_500,
        areas: &["utredningsmetodik", "dokumentation"],
    },
    Programme {
        code: "SAMTAL-MED-BARN",
        title: "Samtal med barn",
        prerequisites: &[],
        sessions: 10,
        minutes: 180,
        seats: 22,
        price: 4_000,
        areas: &["samtal med barn"],
    },
    Programme {
        code: "MI",
        title: "Motiverande samtal (MI)",
        prerequisites: &[],
        sessions: 20,
        minutes: 180,
        seats: 24,
        price: 7_500,
        areas: &["samtalsmetodik"],
    },
    Programme {
        code: "METODHANDLEDNING",
        title: "Metodhandledning för arbetsledare",
        prerequisites: &[],
        sessions: 30,
        minutes: 120,
        seats: 12,
        price: 12_000,
        areas: &["ledarskap", "evidensbaserad praktik"],
    },
];

const UNITS: [(&str, StaffGroup); 6] = [
    ("Barn och unga, mottagning", StaffGroup::Myndighetsutovning),
    ("Barn och unga, utredning", StaffGroup::Myndighetsutovning),
    ("Familjehemsenheten", StaffGroup::Myndighetsutovning),
    ("Placerade barn", StaffGroup::Myndighetsutovning),
    ("Öppenvården", StaffGroup::Utforare),
    ("Heldygnsvård", StaffGroup::Utforare),
];
const FIRST_NAMES: [&str; 16] = [
    "Anna", "Erik", "Maria", "Johan", "Sara", "Karl", "Emma", "Lars", "Fatima", "Ali", "Elin", "Mohammed", "Ida",
    "Per", "Aisha", "Nils",
];
const LAST_NAMES: [&str; 14] = [
    "Andersson",
    "Johansson",
    "Karlsson",
    "Nilsson",
    "Eriksson",
    "Larsson",
    "Olsson",
    "Persson",
    "Svensson",
    "Gustafsson",
    "Pettersson",
    "Jonsson",
    "Hassan",
    "Lindqvist",
];
const TRAINERS: [&str; 8] = [
    "Leg. psykolog Karin Ek",
    "Familjeterapeut Anders Berg",
    "Jurist Helena Strand",
    "Socionom Mats Holm",
    "Leg. psykoterapeut Sofia Lind",
    "Universitetsadjunkt Peter Sjö",
    "Handledare Eva Dahl",
    "Fil. dr Ahmed Nour",
];
const VENUES: [&str; 5] = [
    "Kommunalförbundets lokaler, konferensrum Väderöarna",
    "Folkets hus, stora salen",
    "Kunskapscentrum, sal 2",
    "Stadshuset, sammanträdesrum 1",
    "Högskolan Väst, Trollhättan",
];

#[derive(Debug, Clone)]
struct Actor {
    id: String,
    role: &'static str,
    on_behalf_of: Option<String>,
}

impl Actor {
    fn new(id: impl Into<String>, role: &'static str, on_behalf_of: Option<&MunicipalityId>) -> Self {
        Self { id: id.into(), role, on_behalf_of: on_behalf_of.map(ToString::to_string) }
    }
}

/// Where generated events go: numbered per aggregate, stamped with metadata, sent on in
/// chunks; stops accepting once the wanted number is reached.
struct Sink {
    out: tokio::sync::mpsc::Sender<Vec<NewEvent>>,
    chunk: Vec<NewEvent>,
    remaining: usize,
    sequences: HashMap<(&'static str, String), i64>,
    now: DateTime<Utc>,
    rng: StdRng,
    /// A request several events share (a collective registration), if any.
    request: Option<String>,
    by_type: BTreeMap<String, usize>,
    payload_bytes: usize,
    metadata_bytes: usize,
    /// Seals names, e-mail addresses and notes as the service does, so the staff events
    /// are as long as real ones (one key for everyone: the keys are not stored, and no
    /// projection opens what is sealed).
    key: PersonalKey,
}

impl Sink {
    fn full(&self) -> bool {
        self.remaining == 0
    }

    fn uuid(&mut self) -> Uuid {
        uuid::Builder::from_random_bytes(self.rng.random()).into_uuid()
    }

    /// Moves the clock to `at` if it is behind.
    fn at_least(&mut self, at: DateTime<Utc>) {
        if self.now < at {
            self.now = at;
        }
    }

    fn emit<E: Serialize + DomainEvent>(&mut self, aggregate_type: &'static str, id: &str, event: &E, actor: &Actor) {
        if self.remaining == 0 {
            return;
        }
        self.now += Duration::milliseconds(self.rng.random_range(20..3_000));
        let sequence = self.sequences.entry((aggregate_type, id.to_string())).or_insert(0);
        *sequence += 1;
        let sequence = *sequence;
        let request_id = match &self.request {
            Some(r) => r.clone(),
            None => self.uuid().to_string(),
        };
        let metadata = Metadata {
            actor_id: actor.id.clone(),
            actor_role: actor.role.to_string(),
            on_behalf_of: actor.on_behalf_of.clone(),
            request_id,
            recorded_at: self.now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            idempotency_key: None,
        };
        let payload = serde_json::to_string(event).expect("event serialises");
        let metadata = serde_json::to_string(&metadata).expect("metadata serialises");
        self.payload_bytes += payload.len();
        self.metadata_bytes += metadata.len();
        *self.by_type.entry(event.event_type()).or_insert(0) += 1;
        self.chunk.push(NewEvent {
            aggregate_type,
            aggregate_id: id.to_string(),
            sequence,
            event_type: event.event_type(),
            event_version: event.event_version(),
            payload,
            metadata,
        });
        self.remaining -= 1;
        if self.chunk.len() >= FILL_CHUNK || self.remaining == 0 {
            let chunk = std::mem::take(&mut self.chunk);
            // The receiver only goes away when the fill failed; it reports why.
            let _ = self.out.blocking_send(chunk);
        }
    }
}

struct Member {
    id: StaffId,
    municipality: usize,
    profile: SealedProfile,
    active: bool,
    /// How likely they are to be there at a session.
    reliability: f64,
}

struct Federation {
    name: &'static str,
    short: &'static str,
    municipalities: Vec<MunicipalityId>,
    staff: Vec<Member>,
    office: Actor,
}

/// Where one person stands on an offering while the term is generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standing {
    Requested,
    Confirmed,
    Waiting,
    Gone,
}

struct Run {
    id: OfferingId,
    federation: usize,
    programme: usize,
    sessions: Vec<Session>,
    seats: u32,
    cancelled: bool,
    /// Staff index → standing, in the order they were put on the offering.
    people: Vec<(usize, Standing)>,
    /// Sessions attended, per staff index.
    attended: HashMap<usize, usize>,
    /// Marks recorded, per (staff index, session).
    marks: HashMap<(usize, usize), Attendance>,
    trainer: Actor,
}

impl Run {
    fn on(&self, staff: usize) -> bool {
        self.people.iter().any(|(s, st)| *s == staff && *st != Standing::Gone)
    }

    fn count(&self, standing: Standing) -> usize {
        self.people.iter().filter(|(_, st)| *st == standing).count()
    }
}

fn name_of(rng: &mut StdRng) -> (String, String) {
    let first = FIRST_NAMES[rng.random_range(0..FIRST_NAMES.len())];
    let last = LAST_NAMES[rng.random_range(0..LAST_NAMES.len())];
    (first.to_string(), last.to_string())
}

fn new_member(sink: &mut Sink, federation: &mut Federation, municipality: usize, n: usize) -> usize {
    let rng = &mut sink.rng;
    let (first, last) = name_of(rng);
    let unit = rng.random_range(0..UNITS.len());
    let band = match rng.random_range(0..100) {
        0..=34 => ExperienceBand::New0To2,
        35..=64 => ExperienceBand::Years3To5,
        65..=91 => ExperienceBand::Over5,
        _ => ExperienceBand::Supervisors,
    };
    let group = UNITS[unit].1;
    let degree = rng.random_bool(if group == StaffGroup::Myndighetsutovning { 0.9 } else { 0.4 });
    // The unit's supervisor: the first supervisor of the same unit and municipality.
    let supervisor = federation
        .staff
        .iter()
        .find(|m| {
            m.municipality == municipality
                && m.profile.unit.as_str() == UNITS[unit].0
                && m.profile.experience_band == ExperienceBand::Supervisors
        })
        .map(|m| m.id);
    let municipality_id = federation.municipalities[municipality].clone();
    let profile = StaffProfile {
        name: person_name(&format!("{first} {last}")),
        work_email: WorkEmail::parse(&format!(
            "{}.{}{n}@{}.se",
            slugify(&first),
            slugify(&last),
            municipality_id.as_str()
        ))
        .expect("valid e-mail"),
        unit: text(UNITS[unit].0),
        supervisor,
        staff_group: group,
        experience_band: band,
        social_work_degree: degree,
    };
    let reliability = sink.rng.random_range(0.72..1.0);
    let id = StaffId(sink.uuid());
    let name = sink.key.seal(id, profile.name.as_str());
    let work_email = sink.key.seal(id, profile.work_email.as_str());
    let profile = profile.sealed(name, work_email);
    let coordinator = Actor::new(format!("samordnare-{municipality_id}"), "coordinator", Some(&municipality_id));
    sink.emit(
        "staff",
        &id.to_string(),
        &StaffEvent::StaffMemberAdded { id, municipality: municipality_id, profile: profile.clone() },
        &coordinator,
    );
    federation.staff.push(Member { id, municipality, profile, active: true, reliability });
    federation.staff.len() - 1
}

fn coordinator_of(federation: &Federation, municipality: usize) -> Actor {
    let m = &federation.municipalities[municipality];
    Actor::new(format!("samordnare-{m}"), "coordinator", Some(m))
}

/// Generates events into `sink` until it is full: the catalogue, the federations, then
/// term after term from VT2016.
fn generate(sink: &mut Sink) {
    let catalogue_office = Actor::new("kursadministrator-1", "course_office", None);
    for p in &PROGRAMMES {
        let code = CourseCode::parse(p.code).expect("valid code");
        let event = CourseEvent::CourseAdded {
            code: code.clone(),
            title: text(p.title),
            description: text(&format!("{}: ett program i {} tillfällen.", p.title, p.sessions)),
            prerequisites: p.prerequisites.iter().map(|c| CourseCode::parse(c).expect("valid code")).collect(),
        };
        sink.emit("course", code.as_str(), &event, &catalogue_office);
    }
    let mut federations = Vec::new();
    for (name, short, members) in FEDERATIONS.iter() {
        let office = Actor::new(format!("kursadministrator-{short}"), "course_office", None);
        let mut federation = Federation { name, short, municipalities: vec![], staff: vec![], office: office.clone() };
        for (municipality_name, _) in members.iter() {
            let id = MunicipalityId::parse(&slugify(municipality_name)).expect("valid slug");
            let event = MunicipalityEvent::MunicipalityAdded {
                id: id.clone(),
                name: text(municipality_name),
                federation: text(name),
            };
            sink.emit("municipality", id.as_str(), &event, &office);
            federation.municipalities.push(id);
        }
        for (m, (_, staff)) in members.iter().enumerate() {
            for n in 0..*staff {
                new_member(sink, &mut federation, m, n);
            }
            // The coordinator and the supervisors get their roles.
            let municipality = federation.municipalities[m].clone();
            let supervisors: Vec<StaffId> = federation
                .staff
                .iter()
                .filter(|s| s.municipality == m && s.profile.experience_band == ExperienceBand::Supervisors)
                .map(|s| s.id)
                .collect();
            if let Some(first) = federation.staff.iter().find(|s| s.municipality == m).map(|s| s.id) {
                let event = MunicipalityEvent::RoleAssigned { staff: first, role: MunicipalRole::Coordinator };
                sink.emit("municipality", municipality.as_str(), &event, &office);
            }
            for staff in supervisors {
                let event = MunicipalityEvent::RoleAssigned { staff, role: MunicipalRole::Supervisor };
                sink.emit("municipality", municipality.as_str(), &event, &office);
            }
        }
        federations.push(federation);
    }
    let mut year = 2016;
    let mut autumn = false;
    while !sink.full() {
        let term = Term::parse(&format!("{}{year}", if autumn { "HT" } else { "VT" })).expect("valid term");
        generate_term(sink, &mut federations, term);
        staff_turnover(sink, &mut federations);
        if autumn {
            year += 1;
        }
        autumn = !autumn;
    }
}

/// Between terms: some people change unit or experience band, some go on leave and come
/// back, some leave, new people start.
fn staff_turnover(sink: &mut Sink, federations: &mut [Federation]) {
    for federation in federations.iter_mut() {
        let count = federation.staff.len();
        for i in 0..count {
            if sink.full() {
                return;
            }
            let roll: f64 = sink.rng.random();
            let coordinator = coordinator_of(federation, federation.staff[i].municipality);
            let member = &mut federation.staff[i];
            let id = member.id.to_string();
            if !member.active {
                if roll < 0.5 {
                    member.active = true;
                    sink.emit("staff", &id, &StaffEvent::StaffMemberResumed, &coordinator);
                }
            } else if roll < 0.04 {
                member.profile.experience_band = match member.profile.experience_band {
                    ExperienceBand::New0To2 => ExperienceBand::Years3To5,
                    ExperienceBand::Years3To5 => ExperienceBand::Over5,
                    other => other,
                };
                member.profile.unit = text(UNITS[sink.rng.random_range(0..UNITS.len())].0);
                let event = StaffEvent::StaffMemberUpdated { profile: member.profile.clone() };
                sink.emit("staff", &id, &event, &coordinator);
            } else if roll < 0.05 {
                member.active = false;
                sink.emit("staff", &id, &StaffEvent::StaffMemberPaused, &coordinator);
            }
        }
        // About 2 % leave and as many start.
        let leaving = count / 50;
        for _ in 0..leaving {
            let i = sink.rng.random_range(0..federation.staff.len());
            let municipality = federation.staff[i].municipality;
            if federation.staff[i].active {
                federation.staff[i].active = false;
                let coordinator = coordinator_of(federation, municipality);
                let id = federation.staff[i].id.to_string();
                sink.emit("staff", &id, &StaffEvent::StaffMemberRemoved { at: sink.now }, &coordinator);
                // Removed for good: never active again.
                federation.staff[i].reliability = -1.0;
            }
            let n = federation.staff.len();
            new_member(sink, federation, municipality, n);
        }
    }
}

fn sessions_for(rng: &mut StdRng, programme: &Programme, first_day: DateTime<Utc>) -> Vec<Session> {
    let count = (programme.sessions as i64 + rng.random_range(-2..=4)).clamp(10, 30) as usize;
    // A term's teaching weeks: about 16; more sessions, closer together.
    let every_days = (112 / count as i64).max(3);
    let start_hour = if programme.minutes > 200 { 8 } else { 12 };
    (0..count)
        .map(|i| {
            let day = first_day + Duration::days(i as i64 * every_days);
            let starts_at = day + Duration::hours(start_hour);
            let ends_at = starts_at + Duration::minutes(i64::from(programme.minutes) + 60);
            Session::new(starts_at, ends_at, programme.minutes).expect("valid session")
        })
        .collect()
}

fn details(rng: &mut StdRng, programme: &Programme, sessions: Vec<Session>, trainer: &str) -> OfferingDetails {
    let place = if rng.random_bool(0.2) {
        Place::Digital
    } else {
        Place::Venue(text(VENUES[rng.random_range(0..VENUES.len())]))
    };
    OfferingDetails {
        description: text(&format!(
            "{}: {} tillfällen om {} minuter. Anmälan görs av kommunens samordnare.",
            programme.title,
            sessions.len(),
            programme.minutes
        )),
        target_groups: TargetGroups::default(),
        competence_areas: programme.areas.iter().map(|a| text(a)).collect(),
        trainer: text(trainer),
        place,
        sessions,
        price: Sek(programme.price),
        completion_threshold: CompletionThreshold::default(),
        prerequisites: programme.prerequisites.iter().map(|c| CourseCode::parse(c).expect("valid code")).collect(),
        follow_up: None,
    }
}

fn stockholm(year: i32, month: u32, day: u32) -> DateTime<Utc> {
    chrono_tz::Europe::Stockholm
        .with_ymd_and_hms(year, month, day, 9, 0, 0)
        .single()
        .expect("a valid local time")
        .with_timezone(&Utc)
}

/// One term of every federation: packages, offerings, registrations, allocation, changes,
/// attendance and completion, in the order they would happen.
fn generate_term(sink: &mut Sink, federations: &mut [Federation], term: Term) {
    let system = Actor::new("kurslogg", "system", None);
    let autumn = term.to_string().starts_with("HT");
    let (created, first_day) = if autumn {
        (stockholm(term.year, 3, 1), stockholm(term.year, 8, 25))
    } else {
        (stockholm(term.year - 1, 10, 1), stockholm(term.year, 1, 15))
    };
    let deadline = term.default_deadline();
    sink.at_least(created);

    // Packages and their offerings.
    let mut runs: Vec<Run> = Vec::new();
    let mut packages = Vec::new();
    for (f, federation) in federations.iter().enumerate() {
        let package = PackageId(sink.uuid());
        let office = federation.office.clone();
        let event = package_created(package, term, federation, deadline);
        sink.emit("package", &package.to_string(), &event, &office);
        packages.push(package);
        // Bigger federations run more groups.
        let size = federation.staff.len();
        let offerings = (size / 25).clamp(18, 60) + sink.rng.random_range(0..6);
        for _ in 0..offerings {
            let p = sink.rng.random_range(0..PROGRAMMES.len());
            let programme = &PROGRAMMES[p];
            let offset = Duration::days(sink.rng.random_range(0..21));
            let sessions = sessions_for(&mut sink.rng, programme, first_day + offset);
            let trainer_name = TRAINERS[sink.rng.random_range(0..TRAINERS.len())];
            let seats = (programme.seats as i64 + sink.rng.random_range(-4..=4)).max(6) as u32;
            let id = OfferingId(sink.uuid());
            let event = OfferingEvent::OfferingPlanned {
                id,
                package,
                term,
                course: CourseCode::parse(programme.code).expect("valid code"),
                title: text(programme.title),
                details: details(&mut sink.rng, programme, sessions.clone(), trainer_name),
                seat_limit: SeatLimit::new(seats).expect("valid seats"),
            };
            sink.emit("offering", &id.to_string(), &event, &office);
            sink.emit("package", &package.to_string(), &PackageEvent::OfferingIncluded { offering: id }, &office);
            let trainer = Actor::new(format!("utbildare-{}", slugify(trainer_name)), "trainer", None);
            runs.push(Run {
                id,
                federation: f,
                programme: p,
                sessions,
                seats,
                cancelled: false,
                people: vec![],
                attended: HashMap::new(),
                marks: HashMap::new(),
                trainer,
            });
        }
        let at = sink.now + Duration::days(14);
        sink.at_least(at);
        sink.emit("package", &package.to_string(), &PackageEvent::PackagePublished { at }, &office);
        if sink.rng.random_bool(0.1) {
            let to = deadline + Duration::days(7);
            let event = PackageEvent::DeadlineChanged { from: deadline, to };
            sink.emit("package", &package.to_string(), &event, &office);
        }
    }

    // Collective registrations: every municipality sends one, in the last weeks.
    sink.at_least(deadline - Duration::days(20));
    // (federation, municipality, lines of (run, staff index)).
    type Submission = (usize, usize, Vec<(usize, usize)>);
    let mut submissions: Vec<Submission> = vec![];
    for (f, federation) in federations.iter().enumerate() {
        let mut lines: Vec<Vec<(usize, usize)>> = vec![vec![]; federation.municipalities.len()];
        for (r, run) in runs.iter().enumerate().filter(|(_, run)| run.federation == f) {
            let wanted = (f64::from(run.seats) * sink.rng.random_range(0.7..1.45)).round() as usize;
            let mut chosen = 0;
            let mut tries = 0;
            let mut taken = std::collections::HashSet::new();
            while chosen < wanted && tries < wanted * 20 {
                tries += 1;
                let s = sink.rng.random_range(0..federation.staff.len());
                if federation.staff[s].active && taken.insert(s) {
                    lines[federation.staff[s].municipality].push((r, s));
                    chosen += 1;
                }
            }
        }
        for (m, mut lines) in lines.into_iter().enumerate() {
            if !lines.is_empty() {
                lines.shuffle(&mut sink.rng);
                submissions.push((f, m, lines));
            }
        }
    }
    submissions.shuffle(&mut sink.rng);
    for (f, m, lines) in submissions {
        let coordinator = coordinator_of(&federations[f], m);
        sink.request = Some(sink.uuid().to_string());
        for (r, s) in lines {
            let member = &federations[f].staff[s];
            let event = OfferingEvent::RegistrationRequested {
                staff: member.id,
                municipality: federations[f].municipalities[m].clone(),
                late: false,
                prerequisites_overridden: vec![],
            };
            sink.emit("offering", &runs[r].id.to_string(), &event, &coordinator);
            runs[r].people.push((s, Standing::Requested));
        }
        sink.request = None;
        // A few free cancellations before the deadline.
        for run in runs.iter_mut().filter(|run| run.federation == f) {
            for i in 0..run.people.len() {
                let (s, standing) = run.people[i];
                let member = &federations[f].staff[s];
                if standing == Standing::Requested && member.municipality == m && sink.rng.random_bool(0.01) {
                    run.people[i].1 = Standing::Gone;
                    let at = sink.now;
                    let event = OfferingEvent::RegistrationCancelled { staff: member.id, charged: false, at };
                    sink.emit("offering", &run.id.to_string(), &event, &coordinator);
                }
            }
        }
    }

    // The deadline: registration closes, seats are allocated fairly.
    sink.at_least(deadline + Duration::minutes(5));
    for (f, package) in packages.iter().enumerate() {
        let at = sink.now;
        sink.emit("package", &package.to_string(), &PackageEvent::RegistrationClosed { at }, &system);
        for run in runs.iter_mut().filter(|run| run.federation == f) {
            let municipalities = federations[f].municipalities.len();
            let mut order: Vec<usize> = (0..municipalities).collect();
            order.shuffle(&mut sink.rng);
            let mut queues: Vec<Vec<usize>> = vec![vec![]; municipalities];
            for (s, standing) in &run.people {
                if *standing == Standing::Requested {
                    queues[federations[f].staff[*s].municipality].push(*s);
                }
            }
            let mut picked = vec![];
            let mut round = 0;
            while picked.len() < run.people.iter().filter(|(_, st)| *st == Standing::Requested).count() {
                for m in &order {
                    if let Some(s) = queues[*m].get(round) {
                        picked.push(*s);
                    }
                }
                round += 1;
            }
            let seats = run.seats as usize;
            let confirmed: Vec<usize> = picked.iter().take(seats).copied().collect();
            let waitlisted: Vec<usize> = picked.iter().skip(seats).copied().collect();
            for (s, standing) in run.people.iter_mut() {
                if *standing == Standing::Requested {
                    *standing = if confirmed.contains(s) { Standing::Confirmed } else { Standing::Waiting };
                }
            }
            // The waiting list in allocation order.
            let mut people: Vec<(usize, Standing)> =
                run.people.iter().filter(|(_, st)| *st != Standing::Waiting).copied().collect();
            people.extend(waitlisted.iter().map(|s| (*s, Standing::Waiting)));
            run.people = people;
            let staff = |list: &[usize]| list.iter().map(|s| federations[f].staff[*s].id).collect::<Vec<_>>();
            let event = OfferingEvent::SeatsAllocated {
                round_order: order.iter().map(|m| federations[f].municipalities[*m].clone()).collect(),
                confirmed: staff(&confirmed),
                waitlisted: staff(&waitlisted),
            };
            sink.emit("offering", &run.id.to_string(), &event, &system);
        }
    }

    // Between allocation and the first session: late registrations, cancellations
    // (charged), transfers, promotions, an extra seat here, a cancelled offering there.
    sink.at_least(deadline + Duration::days(2));
    for run in runs.iter_mut() {
        let f = run.federation;
        let federation = &federations[f];
        let office = federation.office.clone();
        let offering = run.id.to_string();
        if sink.rng.random_bool(0.015) {
            run.cancelled = true;
            let event = OfferingEvent::OfferingCancelled { reason: text("För få deltagare"), at: sink.now };
            sink.emit("offering", &offering, &event, &office);
            continue;
        }
        if sink.rng.random_bool(0.05) {
            let trainer = TRAINERS[sink.rng.random_range(0..TRAINERS.len())];
            let programme = &PROGRAMMES[run.programme];
            let event = OfferingEvent::OfferingRevised {
                details: details(&mut sink.rng, programme, run.sessions.clone(), trainer),
            };
            sink.emit("offering", &offering, &event, &office);
        }
        if sink.rng.random_bool(0.03) {
            let from = SeatLimit::new(run.seats).expect("valid seats");
            run.seats += 2;
            let to = SeatLimit::new(run.seats).expect("valid seats");
            sink.emit("offering", &offering, &OfferingEvent::SeatLimitChanged { from, to }, &office);
            promote(sink, run, federation, &system);
        }
        let late = if sink.rng.random_bool(0.3) { sink.rng.random_range(1..=3) } else { 0 };
        for _ in 0..late {
            let s = sink.rng.random_range(0..federation.staff.len());
            let member = &federation.staff[s];
            if !member.active || run.on(s) {
                continue;
            }
            let coordinator = coordinator_of(federation, member.municipality);
            let municipality = federation.municipalities[member.municipality].clone();
            let (event, standing) = if run.count(Standing::Confirmed) < run.seats as usize {
                let event = OfferingEvent::LateRegistrationConfirmed {
                    staff: member.id,
                    municipality,
                    prerequisites_overridden: vec![],
                };
                (event, Standing::Confirmed)
            } else {
                let event = OfferingEvent::LateRegistrationWaitlisted {
                    staff: member.id,
                    municipality,
                    prerequisites_overridden: vec![],
                };
                (event, Standing::Waiting)
            };
            sink.emit("offering", &offering, &event, &coordinator);
            run.people.push((s, standing));
        }
        for i in 0..run.people.len() {
            let (s, standing) = run.people[i];
            let member = &federation.staff[s];
            let coordinator = coordinator_of(federation, member.municipality);
            let roll: f64 = sink.rng.random();
            if standing == Standing::Confirmed && roll < 0.04 {
                run.people[i].1 = Standing::Gone;
                let event = OfferingEvent::RegistrationCancelled { staff: member.id, charged: true, at: sink.now };
                sink.emit("offering", &offering, &event, &coordinator);
                promote(sink, run, federation, &system);
            } else if standing == Standing::Confirmed && roll < 0.06 {
                // Handed to a colleague of the same municipality who is not on it.
                let colleague = (0..federation.staff.len()).find(|&c| {
                    c != s
                        && federation.staff[c].municipality == member.municipality
                        && federation.staff[c].active
                        && !run.on(c)
                        && sink.rng.random_bool(0.2)
                });
                if let Some(c) = colleague {
                    run.people[i].1 = Standing::Gone;
                    let event = OfferingEvent::SeatTransferred {
                        from: member.id,
                        to: federation.staff[c].id,
                        prerequisites_overridden: vec![],
                    };
                    sink.emit("offering", &offering, &event, &coordinator);
                    run.people.push((c, Standing::Confirmed));
                }
            } else if standing == Standing::Waiting && roll < 0.1 {
                run.people[i].1 = Standing::Gone;
                let event = OfferingEvent::RegistrationCancelled { staff: member.id, charged: false, at: sink.now };
                sink.emit("offering", &offering, &event, &coordinator);
            }
        }
    }

    // Sessions, in time order across every federation: the trainer records everyone's
    // attendance after each session; now and then a mark is corrected or a note made.
    let most = runs.iter().map(|r| r.sessions.len()).max().unwrap_or(0);
    for session in 0..most {
        let mut due: Vec<usize> =
            (0..runs.len()).filter(|&r| !runs[r].cancelled && session < runs[r].sessions.len()).collect();
        due.sort_by_key(|&r| runs[r].sessions[session].starts_at);
        for r in due {
            let run = &mut runs[r];
            let federation = &federations[run.federation];
            let offering = run.id.to_string();
            sink.at_least(run.sessions[session].ends_at);
            let present: Vec<usize> =
                run.people.iter().filter(|(_, st)| *st == Standing::Confirmed).map(|(s, _)| *s).collect();
            for s in present {
                let member = &federation.staff[s];
                let attendance = if sink.rng.random_bool(member.reliability.clamp(0.0, 1.0)) {
                    Attendance::Present
                } else if sink.rng.random_bool(0.7) {
                    Attendance::Absent
                } else {
                    Attendance::Excused
                };
                let event = OfferingEvent::AttendanceRecorded { staff: member.id, session, attendance };
                sink.emit("offering", &offering, &event, &run.trainer);
                run.marks.insert((s, session), attendance);
                if sink.rng.random_bool(0.01) {
                    let to = if attendance == Attendance::Present { Attendance::Excused } else { Attendance::Present };
                    let event = OfferingEvent::AttendanceCorrected { staff: member.id, session, from: attendance, to };
                    sink.emit("offering", &offering, &event, &run.trainer);
                    run.marks.insert((s, session), to);
                }
                if sink.rng.random_bool(0.003) {
                    let note = sink.key.seal(member.id, "Lämnade efter lunch, tog igen uppgiften skriftligt.");
                    let event = StaffEvent::AttendanceNoted { offering: run.id, session, note };
                    sink.emit("staff", &member.id.to_string(), &event, &run.trainer);
                }
            }
            if sink.full() {
                return;
            }
        }
    }

    // Completion: certificates for those who attended enough, then the offering closes.
    for run in runs.iter_mut().filter(|run| !run.cancelled) {
        let federation = &federations[run.federation];
        let offering = run.id.to_string();
        sink.at_least(run.sessions.last().map(|s| s.ends_at).unwrap_or(sink.now) + Duration::days(3));
        for ((s, _), mark) in &run.marks {
            if *mark == Attendance::Present {
                *run.attended.entry(*s).or_insert(0) += 1;
            }
        }
        let code = CourseCode::parse(PROGRAMMES[run.programme].code).expect("valid code");
        let confirmed: Vec<usize> =
            run.people.iter().filter(|(_, st)| *st == Standing::Confirmed).map(|(s, _)| *s).collect();
        let sessions = run.sessions.len();
        for (ordinal, s) in confirmed.into_iter().enumerate() {
            let member = &federation.staff[s];
            let attended = run.attended.get(&s).copied().unwrap_or(0);
            if CompletionThreshold::default().is_met(attended, sessions) {
                let certificate =
                    kurslogg_domain::offering::rules::certificate_number(&code, term, run.id, ordinal as u32 + 1);
                let event = OfferingEvent::ParticipantCompleted {
                    staff: member.id,
                    certificate: certificate.clone(),
                    attended,
                    sessions,
                };
                sink.emit("offering", &offering, &event, &system);
                if sink.rng.random_bool(0.002) {
                    let event = OfferingEvent::CertificateWithdrawn {
                        staff: member.id,
                        certificate,
                        reason: text("Utfärdat av misstag"),
                        by_attendance: false,
                    };
                    sink.emit("offering", &offering, &event, &federation.office);
                }
            } else {
                let event = OfferingEvent::ParticipantNotCompleted { staff: member.id, attended, sessions };
                sink.emit("offering", &offering, &event, &system);
            }
        }
        let at = sink.now;
        sink.emit("offering", &offering, &OfferingEvent::OfferingCompleted { at }, &federation.office);
    }
    for (f, package) in packages.iter().enumerate() {
        let at = sink.now;
        sink.emit("package", &package.to_string(), &PackageEvent::PackageArchived { at }, &federations[f].office);
    }
}

/// The first on the waiting list takes a free seat.
fn promote(sink: &mut Sink, run: &mut Run, federation: &Federation, system: &Actor) {
    while run.count(Standing::Confirmed) < run.seats as usize {
        let Some(i) = run.people.iter().position(|(_, st)| *st == Standing::Waiting) else { return };
        run.people[i].1 = Standing::Confirmed;
        let staff = federation.staff[run.people[i].0].id;
        sink.emit("offering", &run.id.to_string(), &OfferingEvent::PromotedFromWaitingList { staff }, system);
    }
}

/// `PackageCreated` for a federation's term.
fn package_created(package: PackageId, term: Term, federation: &Federation, deadline: DateTime<Utc>) -> PackageEvent {
    PackageEvent::PackageCreated {
        id: package,
        term,
        title: text(&format!("Utbildningspaket {term}, {} ({})", federation.name, federation.short)),
        organiser: text(&format!("{}, Kurser och konferenser", federation.name)),
        deadline,
        recorded_afterwards: false,
    }
}

/// What the fill wrote.
struct Filled {
    events: usize,
    seconds: f64,
    by_type: BTreeMap<String, usize>,
    payload_bytes: usize,
    metadata_bytes: usize,
    last_recorded: DateTime<Utc>,
}

/// Generates `events` events on a thread of their own and appends them in chunks.
async fn fill(log: &EventLog, events: usize) -> Filled {
    let (out, mut chunks) = tokio::sync::mpsc::channel::<Vec<NewEvent>>(4);
    let started = Instant::now();
    let generator = tokio::task::spawn_blocking(move || {
        let mut sink = Sink {
            out,
            chunk: Vec::with_capacity(FILL_CHUNK),
            remaining: events,
            sequences: HashMap::new(),
            now: stockholm(2015, 9, 1),
            rng: StdRng::seed_from_u64(SEED),
            request: None,
            by_type: BTreeMap::new(),
            payload_bytes: 0,
            metadata_bytes: 0,
            key: PersonalKey::generate(),
        };
        generate(&mut sink);
        (sink.by_type, sink.payload_bytes, sink.metadata_bytes, sink.now)
    });
    let mut written = 0;
    while let Some(chunk) = chunks.recv().await {
        log.append(&chunk, &[]).await.unwrap_or_else(|e| panic!("append while filling: {e}"));
        written += chunk.len();
        if written % 200_000 < FILL_CHUNK {
            println!("    {written} events appended ({:.0} s)", started.elapsed().as_secs_f64());
        }
    }
    let (by_type, payload_bytes, metadata_bytes, last_recorded) = generator.await.expect("generator panicked");
    Filled {
        events: written,
        seconds: started.elapsed().as_secs_f64(),
        by_type,
        payload_bytes,
        metadata_bytes,
        last_recorded,
    }
}

// ---------------------------------------------------------------------------------------
// Measuring

/// CPU time of this process and of every PostgreSQL process, in clock ticks.
#[derive(Debug, Default, Clone, Copy)]
struct Cpu {
    app: u64,
    postgres: u64,
}

impl Cpu {
    fn now() -> Self {
        let app = std::fs::read_to_string("/proc/self/stat").ok().and_then(|s| ticks_of(&s)).unwrap_or(0);
        let mut postgres = 0;
        if let Ok(dir) = std::fs::read_dir("/proc") {
            for entry in dir.flatten() {
                let name = entry.file_name();
                let Some(name) = name.to_str() else { continue };
                if !name.bytes().all(|b| b.is_ascii_digit()) {
                    continue;
                }
                let Ok(stat) = std::fs::read_to_string(format!("/proc/{name}/stat")) else { continue };
                if stat.contains("(postgres)") {
                    postgres += ticks_of(&stat).unwrap_or(0);
                }
            }
        }
        Self { app, postgres }
    }

    fn since(self, before: Cpu) -> Cpu {
        Cpu { app: self.app.saturating_sub(before.app), postgres: self.postgres.saturating_sub(before.postgres) }
    }
}

fn tick_us() -> f64 {
    let ticks: f64 = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0);
    1e6 / ticks
}

/// One timed pass over the log.
#[derive(Debug, Clone)]
struct Pass {
    what: String,
    events: usize,
    seconds: f64,
    cpu: Cpu,
    note: String,
}

impl Pass {
    fn rate(&self) -> f64 {
        self.events as f64 / self.seconds.max(1e-9)
    }
}

async fn timed<F, T>(what: &str, events: usize, work: F) -> (Pass, T)
where
    F: Future<Output = T>,
{
    let before = Cpu::now();
    let started = Instant::now();
    let out = work.await;
    let seconds = started.elapsed().as_secs_f64();
    let pass = Pass { what: what.to_string(), events, seconds, cpu: Cpu::now().since(before), note: String::new() };
    println!("    {what}: {} events/s ({seconds:.1} s)", thousands(pass.rate()));
    (pass, out)
}

fn decode(
    position: i64,
    aggregate_type: String,
    aggregate_id: String,
    sequence: i64,
    event_type: String,
    payload: &str,
    metadata: &str,
) -> LoggedEvent {
    // As `kurslogg_projections::feed` decodes a row.
    LoggedEvent {
        position,
        aggregate_type,
        aggregate_id,
        sequence,
        event_type,
        payload: serde_json::from_str(payload).unwrap_or(Value::Null),
        metadata: serde_json::from_str(metadata).unwrap_or(Value::Null),
    }
}

/// (a) The whole table in position order, one streaming query, every column, decoded.
/// Returns how many events were read and a checksum that uses every decoded event.
async fn sequential_read(db: &Db) -> (usize, i64) {
    let mut count = 0;
    let mut check = 0i64;
    let mut take = |e: LoggedEvent| {
        count += 1;
        check = check
            .wrapping_add(e.position ^ e.sequence)
            .wrapping_add(e.payload.as_object().map_or(0, |o| o.len() as i64));
        check = check.wrapping_add(i64::from(e.metadata.is_object()));
    };
    match db {
        Db::Postgres(pool) => {
            let mut rows = sqlx::query(
                "SELECT position, aggregate_type, aggregate_id, sequence, event_type, event_version, payload::text, \
                 metadata::text FROM events ORDER BY position",
            )
            .fetch(pool);
            while let Some(row) = rows.next().await {
                let r = row.expect("read events");
                let _version: String = r.get(5);
                take(decode(
                    r.get(0),
                    r.get(1),
                    r.get(2),
                    r.get(3),
                    r.get(4),
                    r.get::<&str, _>(6),
                    r.get::<&str, _>(7),
                ));
            }
        }
        Db::Sqlite { read, .. } => {
            let mut rows = sqlx::query(
                "SELECT rowid, aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata \
                 FROM events ORDER BY rowid",
            )
            .fetch(read);
            while let Some(row) = rows.next().await {
                let r = row.expect("read events");
                let _version: String = r.get(5);
                take(decode(
                    r.get(0),
                    r.get(1),
                    r.get(2),
                    r.get(3),
                    r.get(4),
                    r.get::<&str, _>(6),
                    r.get::<&str, _>(7),
                ));
            }
        }
        Db::Private(_) => unreachable!("the benchmark's log is in the service's database"),
    }
    (count, check)
}

/// The feed's own reads, in batches of `batch`, one after another.
async fn feed_read(db: &Db, batch: i64) -> usize {
    let mark = feed::high_water_mark(db).await.expect("high-water mark");
    let mut after = 0;
    let mut count = 0;
    loop {
        let events = feed::read(db, after, mark, batch).await.expect("feed read");
        let Some(last) = events.last() else { break };
        after = last.position;
        count += events.len();
    }
    count
}

/// A projection applied strictly one event at a time: the `Projection` trait's default
/// `apply_batch`, for comparison with the projection's own.
struct OneByOne<P>(P);

#[async_trait]
impl<P: Projection> Projection for OneByOne<P> {
    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn tables(&self) -> &'static [&'static str] {
        self.0.tables()
    }

    async fn reset(&self, tx: &mut ViewTx) -> Result<(), ProjectionError> {
        self.0.reset(tx).await
    }

    async fn apply(&self, tx: &mut ViewTx, event: &LoggedEvent) -> Result<(), ProjectionError> {
        self.0.apply(tx, event).await
    }
}

type QueryFuture<'a> = Pin<Box<dyn Future<Output = bool> + Send + 'a>>;

/// Latencies of one query over sampled keys.
struct Latency {
    query: String,
    samples: usize,
    found: usize,
    histogram: Histogram<u64>,
    note: String,
}

impl Latency {
    fn p(&self, quantile: f64) -> f64 {
        self.histogram.value_at_quantile(quantile) as f64 / 1000.0
    }
}

async fn measure_query<'a, F>(query: &str, keys: &'a [String], note: &str, run: F) -> Latency
where
    F: Fn(&'a str) -> QueryFuture<'a>,
{
    // One warm-up round (statement preparation, caches), not counted.
    for key in keys.iter().take(20) {
        run(key).await;
    }
    let mut histogram = Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds");
    let mut found = 0;
    for key in keys {
        let started = Instant::now();
        if run(key).await {
            found += 1;
        }
        histogram.saturating_record(started.elapsed().as_micros() as u64);
    }
    let latency = Latency { query: query.to_string(), samples: keys.len(), found, histogram, note: note.to_string() };
    println!("    {query}: p50 {} ms, p99 {} ms", ms(latency.p(0.5)), ms(latency.p(0.99)));
    latency
}

/// `count` distinct values of a column, chosen at random (the same on every run).
async fn sample(db: &Db, sql: &str, count: usize) -> Vec<String> {
    let mut all: Vec<String> = db.fetch(sql, &[]).await.expect("sample keys").iter().map(|r| r.text(0)).collect();
    all.sort();
    all.shuffle(&mut StdRng::seed_from_u64(SEED));
    all.truncate(count);
    all
}

/// (c) The read queries on the rebuilt views.
async fn measure_queries(db: &Db, note: &str) -> Vec<Latency> {
    let offerings = sample(db, "SELECT offering_id FROM roster_offerings", QUERY_SAMPLES).await;
    let staff = sample(db, "SELECT DISTINCT staff_id FROM roster_entries", QUERY_SAMPLES).await;
    let mut out = vec![];
    out.push(
        measure_query("roster (`views::roster::roster`)", &offerings, note, |key| {
            Box::pin(async move { roster::roster(db, key).await.expect("roster").is_some() })
        })
        .await,
    );
    out.push(
        measure_query("participant record (`views::participant::participant_record`)", &staff, note, |key| {
            Box::pin(async move { participant::participant_record(db, key).await.expect("record").is_some() })
        })
        .await,
    );
    // An auditor's question: everything that concerns one person, first page (500 entries,
    // each shown from its event in the log).
    out.push(
        measure_query("audit trail of a staff member, first page (`views::audit_trail`)", &staff, note, |key| {
            Box::pin(async move {
                let filter = AuditFilter { staff: Some(key.to_string()), ..AuditFilter::default() };
                !audit_trail::audit_trail(db, &filter, None).await.expect("audit trail").entries.is_empty()
            })
        })
        .await,
    );
    // A municipality's report: its participations and persons per year and course.
    let municipalities = sample(db, "SELECT DISTINCT municipality FROM roster_entries", QUERY_SAMPLES).await;
    out.push(
        measure_query(
            "statistics of a municipality by year and course (`views::statistics`)",
            &municipalities,
            note,
            |key| {
                Box::pin(async move {
                    let filter =
                        StatisticsFilter { municipality: Some(key.to_string()), ..StatisticsFilter::default() };
                    let found = statistics::statistics(db, &[Dimension::Year, Dimension::Course], &filter).await;
                    found.expect("statistics").total.participations > 0
                })
            },
        )
        .await,
    );
    // The federation's chart 3: everyone, per municipality and year (a whole-table count).
    let repeats: Vec<String> = (0..50).map(|n| n.to_string()).collect();
    out.push(
        measure_query("statistics of all, by municipality and year (chart 3)", &repeats, note, |_| {
            Box::pin(async move {
                let all = StatisticsFilter::default();
                let found = statistics::statistics(db, &[Dimension::Municipality, Dimension::Year], &all).await;
                found.expect("statistics").total.participations > 0
            })
        })
        .await,
    );
    // Time travel: an offering's roster as the log stood half-way (replays the offering's
    // stream and the small non-offering streams into memory).
    let half = feed::latest_position(db).await.expect("latest position") / 2;
    let some: Vec<String> = offerings.iter().take(20).cloned().collect();
    out.push(
        measure_query("roster as of half-way (time travel, `history::views_as_of`)", &some, note, move |key| {
            Box::pin(async move {
                let past = history::views_as_of(db, AsOf::Position(half), &Scope::Offering(key.to_string()))
                    .await
                    .expect("time travel");
                roster::roster(&past, key).await.expect("roster").is_some()
            })
        })
        .await,
    );
    out
}

async fn analyze(db: &Db) {
    if let Db::Postgres(pool) = db {
        sqlx::query("ANALYZE").execute(pool).await.expect("ANALYZE");
    }
}

async fn table_counts(db: &Db) -> Vec<(String, i64)> {
    let mut out = vec![];
    for table in [
        "roster_offerings",
        "roster_sessions",
        "roster_entries",
        "roster_attendance",
        "enrolment_staff",
        "audit_entries",
        "audit_staff",
    ] {
        let n = db.read_int(&format!("SELECT count(*) FROM {table}"), &[]).await.expect("count").unwrap_or(0);
        out.push((table.to_string(), n));
    }
    out
}

/// Everything measured on one backend.
struct Backend {
    which: Which,
    filled: Filled,
    database_bytes: Option<i64>,
    /// Reads and rebuilds, in the order they ran.
    passes: Vec<Pass>,
    queries: Vec<Latency>,
    tables: Vec<(String, i64)>,
    notes: Vec<String>,
}

impl Backend {
    /// The yardstick: the fastest of the plain reads of the table in position order.
    fn sequential(&self) -> f64 {
        self.passes.iter().filter(|p| p.what.starts_with("(a)")).map(Pass::rate).fold(0.0, f64::max)
    }
}

async fn measure(which: Which, db: &Db, log: &EventLog, config: &Config) -> Backend {
    println!("  filling {} events", thousands(config.events as f64));
    let filled = fill(log, config.events).await;
    let mut notes = vec![];
    println!("    filled in {:.1} s", filled.seconds);
    if let Db::Postgres(pool) = db {
        // Autovacuum is off on this machine: set the hint bits and statistics of the
        // freshly loaded table once, as autovacuum would have, before anything is timed.
        sqlx::query("VACUUM (ANALYZE) events").execute(pool).await.expect("VACUUM events");
        notes.push("`VACUUM (ANALYZE) events` after the fill, before anything is timed (autovacuum is off)".into());
    }
    let database_bytes = match db {
        Db::Postgres(pool) => {
            sqlx::query_scalar::<_, i64>("SELECT pg_total_relation_size('events')").fetch_one(pool).await.ok()
        }
        Db::Sqlite { read, .. } => {
            sqlx::query_scalar::<_, i64>("SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()")
                .fetch_one(read)
                .await
                .ok()
        }
        Db::Private(_) => unreachable!("the benchmark's log is in the service's database"),
    };
    let n = filled.events;
    let mut passes = vec![];
    println!("  reads");
    let (mut pass, (count, check)) = timed("(a) sequential read, first", n, sequential_read(db)).await;
    assert_eq!(count, n, "the sequential read saw every event");
    pass.note = format!("checksum {check}");
    passes.push(pass);
    for batch in [1_000, 5_000] {
        let (pass, count) =
            timed(&format!("(a) reads in pages of {batch} (`feed::read`)"), n, feed_read(db, batch)).await;
        assert_eq!(count, n, "the feed saw every event");
        passes.push(pass);
    }

    println!("  rebuilds");
    let (pass, _) = timed("(b) rebuild enrolment", n, async {
        Runner::new(db.clone(), Enrolment).rebuild().await.expect("rebuild enrolment")
    })
    .await;
    passes.push(pass);
    let (pass, _) =
        timed("(b) rebuild audit", n, async { Runner::new(db.clone(), Audit).rebuild().await.expect("rebuild audit") })
            .await;
    passes.push(pass);
    let (pass, _) = timed("(b) rebuild notices", n, async {
        Runner::new(db.clone(), Notices).rebuild().await.expect("rebuild notices")
    })
    .await;
    passes.push(pass);
    passes.push(rebuild_all(db, n, "first").await);
    let tables = table_counts(db).await;

    println!("  queries");
    let mut queries = vec![];
    if which == Which::Postgres {
        queries.extend(measure_queries(db, "before ANALYZE").await);
        analyze(db).await;
        queries.extend(measure_queries(db, "after ANALYZE").await);
    } else {
        queries.extend(measure_queries(db, "").await);
    }

    if config.one_by_one {
        println!("  rebuilds one event at a time");
        let (pass, _) = timed("rebuild enrolment, one event at a time", n, async {
            Runner::new(db.clone(), OneByOne(Enrolment)).rebuild().await.expect("rebuild enrolment")
        })
        .await;
        passes.push(pass);
        let (pass, _) = timed("rebuild audit, one event at a time", n, async {
            Runner::new(db.clone(), OneByOne(Audit)).rebuild().await.expect("rebuild audit")
        })
        .await;
        passes.push(pass);
        let after = table_counts(db).await;
        assert_eq!(after, tables, "one by one gives the same row counts as in batches");
    }

    println!("  rebuild all, again");
    passes.push(rebuild_all(db, n, "second, after the queries").await);
    assert_eq!(table_counts(db).await, tables, "the second rebuild gives the same row counts");

    println!("  reads again");
    let (mut pass, (count, check)) = timed("(a) sequential read, second", n, sequential_read(db)).await;
    assert_eq!(count, n, "the sequential read saw every event");
    pass.note = format!("checksum {check}");
    passes.push(pass);
    Backend { which, filled, database_bytes, passes, queries, tables, notes }
}

/// All three projections rebuilt as `kurslogg projections rebuild` does: measured twice
/// per run (`which` says when), and judged by the faster, as the yardstick is the fastest
/// of four reads. This machine's speed moves by a fifth or more from one minute to the
/// next (BENCHMARKS.md, fifteenth session: one run's two streaming reads took 2.0 and
/// 2.8 s), and a single sample of the longest pass compared with the best of four reads
/// measured the noise as much as the rebuild.
async fn rebuild_all(db: &Db, events: usize, which: &str) -> Pass {
    let (mut pass, _) =
        timed(REBUILD_ALL, events, async { kurslogg::views::rebuild(db, None).await.expect("rebuild all") }).await;
    pass.note = which.to_string();
    pass
}

/// The name of the pass that rebuilds all three projections.
const REBUILD_ALL: &str = "(b) rebuild all (`kurslogg::views::rebuild(db, None)`)";

// ---------------------------------------------------------------------------------------
// Backends

async fn run_sqlite(config: &Config) -> Backend {
    let dir = std::env::temp_dir().join(format!("kurslogg-bench-rebuild-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    let path = dir.join("kurslogg.db");
    let log = EventLog::open_sqlite(&path, &LogOptions::default()).await.expect("open SQLite");
    log.migrate().await.expect("migrate SQLite");
    let db = log.views();
    let mut backend = measure(Which::Sqlite, &db, &log, config).await;
    backend.notes.push(format!("file {} (WAL, synchronous=FULL, the service's defaults)", path.display()));
    log.close().await;
    if config.keep {
        println!("  kept {}", path.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
    backend
}

async fn run_postgres(config: &Config) -> Result<Backend, String> {
    let name = format!("kurslogg_bench_rebuild_{}", std::process::id());
    let mut admin = PgConnection::connect(&config.postgres_url).await.map_err(|e| e.to_string())?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .map_err(|e| e.to_string())?;
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.map_err(|e| e.to_string())?;
    let url = with_database(&config.postgres_url, &name);
    let result = async {
        let log = EventLog::connect_postgres(&url, &LogOptions::default()).await.map_err(|e| e.to_string())?;
        log.migrate().await.map_err(|e| e.to_string())?;
        let db = log.views();
        let mut backend = measure(Which::Postgres, &db, &log, config).await;
        backend.notes.push(format!("database {name} (dropped at the end), pool of 16 (the service's default)"));
        log.close().await;
        Ok(backend)
    }
    .await;
    if config.keep {
        println!("  kept database {name}");
    } else if let Err(e) =
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut admin).await
    {
        eprintln!("could not drop database {name}: {e}");
    }
    let _ = admin.close().await;
    result
}

async fn postgres_facts(url: &str) -> Vec<String> {
    let Ok(mut c) = PgConnection::connect(url).await else { return vec![] };
    let mut facts = vec![];
    for (label, sql) in [
        ("version", "SELECT version()"),
        ("fsync", "SHOW fsync"),
        ("synchronous_commit", "SHOW synchronous_commit"),
        ("shared_buffers", "SHOW shared_buffers"),
        ("work_mem", "SHOW work_mem"),
        ("autovacuum", "SHOW autovacuum"),
        (
            "TLS on this benchmark's connections (sqlx default sslmode=prefer)",
            "SELECT ssl::text FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        ),
    ] {
        if let Ok(v) = sqlx::query_scalar::<_, String>(sql).fetch_one(&mut c).await {
            facts.push(format!("PostgreSQL {label}: {v}"));
        }
    }
    let _ = c.close().await;
    facts
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
        .and_then(|s| s.lines().next().and_then(|l| l.split_whitespace().nth(1)).and_then(|kb| kb.parse::<f64>().ok()))
        .map(|kb| format!("{:.1} GiB", kb / 1024.0 / 1024.0))
        .unwrap_or_else(|| "?".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    vec![
        format!("CPU: {cpu}, {cores} cores (nproc)"),
        format!("memory: {memory}"),
        format!("load average before the run: {}", load.join(" ")),
        "SQLite: the libsqlite3 bundled with sqlx 0.8".into(),
    ]
}

// ---------------------------------------------------------------------------------------
// Results

fn verdicts(backend: &Backend) -> Vec<String> {
    let read = backend.sequential();
    // Each kind of rebuild once, at its fastest (all three are measured twice).
    let mut fastest: Vec<&Pass> = Vec::new();
    for pass in backend.passes.iter().filter(|p| p.what.starts_with("(b)")) {
        match fastest.iter_mut().find(|f| f.what == pass.what) {
            Some(f) if pass.rate() > f.rate() => *f = pass,
            Some(_) => {}
            None => fastest.push(pass),
        }
    }
    fastest
        .into_iter()
        .map(|p| {
            let share = p.rate() / read.max(1e-9);
            format!(
                "{} {}: {} events/s against a sequential read of {} events/s = {:.2} of it ({:.2}× the target of {TARGET_SHARE}): {}",
                backend.which.label(),
                p.what.trim_start_matches("(b) "),
                thousands(p.rate()),
                thousands(read),
                share,
                share / TARGET_SHARE,
                if share >= TARGET_SHARE { "MET" } else { "MISSED" }
            )
        })
        .collect()
}

fn render(config: &Config, facts: &[String], backends: &[Backend], started: DateTime<Utc>, seconds: f64) -> String {
    let tick = tick_us();
    let mut md = String::new();
    let _ = writeln!(md, "## Rebuild benchmark results{}\n", if config.quick { " (quick run)" } else { "" });
    let _ = writeln!(md, "Command: `{}`\n", config.command_line);
    let _ = writeln!(md, "Run at {} UTC, took {seconds:.0} s.\n", started.format("%Y-%m-%d %H:%M"));
    for fact in facts {
        let _ = writeln!(md, "- {fact}");
    }
    for b in backends {
        let f = &b.filled;
        let _ = writeln!(md, "\n### {}\n", b.which.label());
        let _ = writeln!(
            md,
            "Log: {} events appended in {:.1} s ({} events/s, bulk appends of {} events); payload {:.0} bytes and metadata {:.0} bytes per event on average; on disk after the fill {} ({}); last event recorded {}.\n",
            thousands(f.events as f64),
            f.seconds,
            thousands(f.events as f64 / f.seconds.max(1e-9)),
            thousands(FILL_CHUNK as f64),
            f.payload_bytes as f64 / f.events.max(1) as f64,
            f.metadata_bytes as f64 / f.events.max(1) as f64,
            b.database_bytes.map_or("?".into(), |v| format!("{:.0} MB", v as f64 / 1e6)),
            match b.which {
                Which::Sqlite => "the whole file",
                Which::Postgres => "the `events` table with its indexes",
            },
            f.last_recorded.format("%Y-%m-%d"),
        );
        let read = b.sequential();
        let _ = writeln!(md, "| pass | events | seconds | events/s | share of the sequential read | app CPU µs/event | PostgreSQL CPU µs/event | notes |");
        let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---|");
        for p in &b.passes {
            let per = |ticks: u64| ticks as f64 * tick / p.events.max(1) as f64;
            let _ = writeln!(
                md,
                "| {} | {} | {:.1} | {} | {:.2} | {:.1} | {} | {} |",
                p.what,
                thousands(p.events as f64),
                p.seconds,
                thousands(p.rate()),
                p.rate() / read.max(1e-9),
                per(p.cpu.app),
                if b.which == Which::Postgres { format!("{:.1}", per(p.cpu.postgres)) } else { "-".into() },
                p.note
            );
        }
        let _ = writeln!(md, "\n| query | samples | found | p50 ms | p99 ms | max ms | notes |");
        let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---|");
        for q in &b.queries {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} |",
                q.query,
                q.samples,
                q.found,
                ms(q.p(0.5)),
                ms(q.p(0.99)),
                ms(q.histogram.max() as f64 / 1000.0),
                q.note
            );
        }
        let _ = writeln!(md);
        let types: Vec<String> = {
            let mut v: Vec<(&String, &usize)> = f.by_type.iter().collect();
            v.sort_by(|a, b| b.1.cmp(a.1));
            v.iter().map(|(t, n)| format!("{t} {}", thousands(**n as f64))).collect()
        };
        let _ = writeln!(md, "- events by type: {}", types.join(", "));
        let tables: Vec<String> = b.tables.iter().map(|(t, n)| format!("{t} {}", thousands(*n as f64))).collect();
        let _ = writeln!(md, "- view rows after the rebuilds: {}", tables.join(", "));
        for note in &b.notes {
            let _ = writeln!(md, "- {note}");
        }
    }
    let _ = writeln!(
        md,
        "\n### Verdicts (target: rebuild ≥ {TARGET_SHARE} × the sequential read rate, taken as the fastest of the run's plain reads (a); a rebuild measured twice is taken at its faster)\n"
    );
    if config.quick {
        let _ = writeln!(md, "(A quick run is a smoke test: at its size the verdicts mean little.)\n");
    }
    for b in backends {
        for v in verdicts(b) {
            let _ = writeln!(md, "- {v}");
        }
    }
    md
}

fn render_json(config: &Config, backends: &[Backend]) -> String {
    let tick = tick_us();
    let backends: Vec<Value> = backends
        .iter()
        .map(|b| {
            let passes: Vec<Value> = b
                .passes
                .iter()
                .map(|p| {
                    serde_json::json!({
                        "pass": p.what,
                        "events": p.events,
                        "seconds": p.seconds,
                        "events_per_second": p.rate(),
                        "share_of_sequential_read": p.rate() / b.sequential().max(1e-9),
                        "app_cpu_us_per_event": p.cpu.app as f64 * tick / p.events.max(1) as f64,
                        "postgres_cpu_us_per_event": p.cpu.postgres as f64 * tick / p.events.max(1) as f64,
                    })
                })
                .collect();
            let queries: Vec<Value> = b
                .queries
                .iter()
                .map(|q| {
                    serde_json::json!({
                        "query": q.query, "note": q.note, "samples": q.samples,
                        "p50_ms": q.p(0.5), "p99_ms": q.p(0.99), "max_ms": q.histogram.max() as f64 / 1000.0,
                    })
                })
                .collect();
            serde_json::json!({
                "backend": b.which.label(),
                "events": b.filled.events,
                "fill_seconds": b.filled.seconds,
                "sequential_read_events_per_second": b.sequential(),
                "passes": passes,
                "queries": queries,
                "verdicts": verdicts(b),
            })
        })
        .collect();
    serde_json::to_string_pretty(&serde_json::json!({ "command": config.command_line, "backends": backends }))
        .expect("JSON")
}

#[tokio::main]
async fn main() {
    // As the service's binary does.
    kurslogg::without_transparent_huge_pages();
    // `RUST_LOG=kurslogg_projections=info` shows the phases of each rebuild.
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    }
    let config = parse_args();
    let started_at = Utc::now();
    let started = Instant::now();
    println!(
        "Kurslogg rebuild benchmark: {} events{}",
        thousands(config.events as f64),
        if config.quick { " (quick)" } else { "" }
    );
    let mut facts = machine_facts();
    let mut backends = vec![];
    if config.backends.contains(&Which::Sqlite) {
        println!("SQLite:");
        backends.push(run_sqlite(&config).await);
    }
    if config.backends.contains(&Which::Postgres) {
        println!("PostgreSQL ({}):", config.postgres_url);
        facts.extend(postgres_facts(&config.postgres_url).await);
        match run_postgres(&config).await {
            Ok(b) => backends.push(b),
            Err(e) => eprintln!("PostgreSQL skipped: {e}"),
        }
    }
    let md = render(&config, &facts, &backends, started_at, started.elapsed().as_secs_f64());
    println!("\n{md}");
    if let Some(path) = &config.out {
        std::fs::write(path, &md).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        println!("results written to {}", path.display());
    }
    if let Some(path) = &config.json {
        std::fs::write(path, render_json(&config, &backends))
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        println!("JSON written to {}", path.display());
    }
}
