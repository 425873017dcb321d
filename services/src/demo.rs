//! `kurslogg demo`: a realistic Fyrbodal autumn term, run end to end on a simulated
//! clock: the catalogue of recurring courses (DOMAIN.md), the 14 member
//! municipalities with a few hundred staff, collective registrations before the
//! deadline, fair allocation after it, a late registration, a cancellation, a
//! transfer, attendance per session and completions with certificates.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Europe::Stockholm;
use kurslogg_domain::municipality::MunicipalRole;
use kurslogg_projections::notices::{kind, Notices};
use kurslogg_projections::Runner;

use crate::config::MailSettings;
use crate::mail::dispatch::Dispatcher;
use crate::mail::transport::Transport;
use kurslogg_domain::offering::{OfferingCommand, OfferingDetails, TargetGroups};
use kurslogg_domain::package::PackageCommand;
use kurslogg_domain::staff::StaffProfile;
use kurslogg_domain::{
    slugify, Attendance, Clock, CompletionThreshold, CourseCode, ExperienceBand, MunicipalityId, OfferingId, PackageId,
    PersonName, Place, SeatLimit, Sek, Session, StaffGroup, StaffId, Term, Text, WorkEmail,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::app::{Actor, AppError, CommandContext, Kurslogg, RegistrationLine, Role};
use crate::auth::{NewUser, Origin};
use crate::store::EventLog;

/// Fyrbodal's 14 member municipalities and a rough count of social-services staff.
const MUNICIPALITIES: [(&str, usize); 14] = [
    ("Bengtsfors", 12),
    ("Dals-Ed", 8),
    ("Färgelanda", 9),
    ("Lysekil", 14),
    ("Mellerud", 12),
    ("Munkedal", 12),
    ("Orust", 15),
    ("Sotenäs", 10),
    ("Strömstad", 13),
    ("Tanum", 14),
    ("Trollhättan", 48),
    ("Uddevalla", 46),
    ("Vänersborg", 36),
    ("Åmål", 13),
];

struct CourseSpec {
    code: &'static str,
    title: &'static str,
    description: &'static str,
    prerequisites: &'static [&'static str],
    /// (number of sessions, hours each)
    sessions: (usize, u32),
    seats: u32,
    price: u32,
    bands: &'static [ExperienceBand],
    areas: &'static [&'static str],
}

use ExperienceBand::{New0To2, Over5, Supervisors, Years3To5};

/// The recurring courses of seed 000 (DOMAIN.md).
const COURSES: [CourseSpec; 12] = [
    CourseSpec {
        code: "INTRO",
        title: "Introduktionskurs",
        description: "Introduktion för nyanställda socialsekreterare inom barn och unga.",
        prerequisites: &[],
        sessions: (2, 6),
        seats: 30,
        price: 5500,
        bands: &[New0To2],
        areas: &["socialt arbete", "juridik"],
    },
    CourseSpec {
        code: "YRKESHANDLEDNING",
        title: "Yrkeshandledning",
        description: "Handledning i grupp, tio tillfällen under året.",
        prerequisites: &[],
        sessions: (10, 3),
        seats: 8,
        price: 9000,
        bands: &[New0To2, Years3To5],
        areas: &["socialt arbete", "etik"],
    },
    CourseSpec {
        code: "LVU-GRUND",
        title: "LVU grund",
        description: "Lagen med särskilda bestämmelser om vård av unga: grunderna.",
        prerequisites: &[],
        sessions: (1, 6),
        seats: 25,
        price: 1800,
        bands: &[New0To2, Years3To5],
        areas: &["juridik"],
    },
    CourseSpec {
        code: "LVU-FORTS",
        title: "LVU fortsättning",
        description: "Fördjupning i LVU: utredning, ansökan och förhandling.",
        prerequisites: &["LVU-GRUND"],
        sessions: (2, 6),
        seats: 20,
        price: 3200,
        bands: &[Years3To5, Over5],
        areas: &["juridik", "utredningsmetodik"],
    },
    CourseSpec {
        code: "TRAUMA-GRUND",
        title: "Förhållningssätt vid trauma grund",
        description: "Traumamedvetet förhållningssätt i mötet med barn och familjer.",
        prerequisites: &[],
        sessions: (4, 6),
        seats: 24,
        price: 6400,
        bands: &[New0To2, Years3To5, Over5],
        areas: &["psykologi", "samtal med barn"],
    },
    CourseSpec {
        code: "TRAUMA-FORTS",
        title: "Förhållningssätt vid trauma fortsättning",
        description: "Fördjupning efter traumakursens grunddel.",
        prerequisites: &["TRAUMA-GRUND"],
        sessions: (3, 6),
        seats: 16,
        price: 4800,
        bands: &[Years3To5, Over5],
        areas: &["psykologi"],
    },
    CourseSpec {
        code: "FAMILJETERAPI-1",
        title: "Familjeterapi 1",
        description: "Systemiskt arbete med familjer, steg 1.",
        prerequisites: &[],
        sessions: (6, 6),
        seats: 16,
        price: 12000,
        bands: &[Years3To5, Over5],
        areas: &["psykologi", "socialt arbete"],
    },
    CourseSpec {
        code: "FAMILJETERAPI-2",
        title: "Familjeterapi 2",
        description: "Systemiskt arbete med familjer, steg 2.",
        prerequisites: &["FAMILJETERAPI-1"],
        sessions: (6, 6),
        seats: 14,
        price: 12000,
        bands: &[Over5],
        areas: &["psykologi"],
    },
    CourseSpec {
        code: "ANKNYTNING",
        title: "Anknytning och omsorgssvikt",
        description: "Anknytningsteori och bedömning av omsorgssvikt.",
        prerequisites: &[],
        sessions: (5, 6),
        seats: 24,
        price: 7500,
        bands: &[New0To2, Years3To5, Over5],
        areas: &["psykologi", "riskfaktorer och skyddsfaktorer"],
    },
    CourseSpec {
        code: "BBIC",
        title: "BBIC – Barns behov i centrum",
        description: "Utredning och uppföljning enligt BBIC.",
        prerequisites: &[],
        sessions: (3, 6),
        seats: 25,
        price: 3600,
        bands: &[New0To2],
        areas: &["utredningsmetodik", "dokumentation"],
    },
    CourseSpec {
        code: "SAMTAL-MED-BARN",
        title: "Samtal med barn",
        description: "Metoder för att samtala med barn i utredning.",
        prerequisites: &[],
        sessions: (2, 6),
        seats: 20,
        price: 3000,
        bands: &[New0To2, Years3To5],
        areas: &["samtal med barn"],
    },
    CourseSpec {
        code: "HANDLAGGNING-DOK",
        title: "Handläggning och dokumentation",
        description: "Handläggning, dokumentation och sekretess.",
        prerequisites: &[],
        sessions: (3, 6),
        seats: 25,
        price: 2400,
        bands: &[New0To2, Supervisors],
        areas: &["dokumentation", "juridik"],
    },
];

const FIRST_NAMES: [&str; 20] = [
    "Anna", "Erik", "Maria", "Johan", "Sara", "Karl", "Emma", "Lars", "Elin", "Anders", "Fatima", "Mohammed", "Linnea",
    "Peter", "Ida", "Ahmed", "Karin", "Jonas", "Sofia", "Nils",
];
const LAST_NAMES: [&str; 16] = [
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
    "Lindberg",
    "Berg",
    "Ali",
];

/// A clock the demo moves forward by itself.
struct SimulatedClock(Mutex<DateTime<Utc>>);

impl Clock for SimulatedClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("clock lock")
    }
}

struct Demo {
    app: Arc<Kurslogg>,
    clock: Arc<SimulatedClock>,
    requests: u32,
}

fn t(s: &str) -> Text {
    Text::parse(s).expect("demo text is valid")
}

/// Demo text of several lines.
fn prose(s: &str) -> Text {
    Text::prose(s).expect("demo text is valid")
}

fn stockholm(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Stockholm.with_ymd_and_hms(y, m, d, h, 0, 0).single().expect("valid local time").with_timezone(&Utc)
}

/// `count` sessions from `first_day`, `spacing` days apart, each from 09:00 Stockholm
/// time for `hours` hours of teaching (plus an hour's lunch). Counted in days of the
/// calendar, not in 24-hour steps, so a course that runs across the change to or from
/// daylight-saving time still starts at nine.
fn course_sessions(first_day: NaiveDate, count: usize, spacing: i64, hours: u32) -> Vec<Session> {
    (0..count)
        .map(|s| {
            let day = first_day + Duration::days(s as i64 * spacing);
            let start = stockholm(day.year(), day.month(), day.day(), 9);
            Session::new(start, start + Duration::hours(i64::from(hours) + 1), hours * 60).expect("valid session")
        })
        .collect()
}

impl Demo {
    fn set_time(&self, at: DateTime<Utc>) {
        *self.clock.0.lock().expect("clock lock") = at;
    }

    fn ctx(&mut self, actor: Actor) -> CommandContext {
        self.requests += 1;
        CommandContext {
            actor,
            request_id: format!("demo-{}", self.requests),
            received_at: self.clock.now(),
            idempotency: None,
        }
    }

    fn office(&mut self) -> CommandContext {
        self.ctx(Actor::new("demo-kursadministrator", Role::CourseOffice))
    }

    fn coordinator(&mut self, municipality: &MunicipalityId) -> CommandContext {
        let actor = Actor::new(format!("demo-samordnare-{municipality}"), Role::Coordinator)
            .for_municipality(municipality.clone());
        self.ctx(actor)
    }
}

/// The demo's trainer: a user account (tokens only), made once.
async fn demo_trainer(app: &Kurslogg) -> Result<Actor, String> {
    const LOGIN: &str = "utbildare@fou-fyrbodal.example";
    if let Some(user) = app.auth.user_by_login(LOGIN).await.map_err(|e| e.to_string())? {
        return Ok(user.actor());
    }
    let request = NewUser {
        login: LOGIN.into(),
        display_name: "Utbildare från FoU Fyrbodal".into(),
        role: Role::Trainer,
        municipality: None,
        staff: None,
        password: None,
    };
    let user = app.create_user(&Actor::system(), &Origin::default(), request).await.map_err(|e| e.to_string())?;
    Ok(user.actor())
}

/// Treats "already exists" as done, so the demo can run again over the same data.
fn tolerate_existing<T>(result: Result<T, AppError>) -> Result<(), String> {
    match result {
        Ok(_) => Ok(()),
        Err(AppError::Refused { code, .. }) if code == "already_exists" => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

struct Person {
    id: StaffId,
    municipality: MunicipalityId,
    band: ExperienceBand,
    supervisor: Option<StaffId>,
    coordinator: bool,
}

/// Runs the demo against `log` and prints what happened.
/// The letters it causes (receipts, allocation results, the supervisors' summaries) are
/// sent through `transport`: by default `.eml` files under `<data dir>/outbox/`.
pub async fn run(log: EventLog, transport: Transport, mail: MailSettings) -> Result<(), String> {
    let clock = Arc::new(SimulatedClock(Mutex::new(stockholm(2027, 4, 20, 9))));
    let mut demo = Demo { app: Arc::new(Kurslogg::new(log, clock.clone())), clock, requests: 0 };
    let mut rng = StdRng::seed_from_u64(2027);
    let e = |e: AppError| e.to_string();

    println!("Kurslogg demo: Fyrbodal, course package HT2027\n");

    // The catalogue.
    for course in &COURSES {
        let ctx = demo.office();
        let prerequisites = course.prerequisites.iter().map(|c| CourseCode::parse(c).expect("valid")).collect();
        let code = CourseCode::parse(course.code).expect("valid");
        tolerate_existing(
            demo.app.add_course(&ctx, code, t(course.title), prose(course.description), prerequisites).await,
        )?;
    }
    println!("Catalogue: {} recurring courses", COURSES.len());
    competence_plans(&mut demo).await?;

    // Municipalities, their staff, supervisors and coordinators.
    let mut people: Vec<Person> = vec![];
    for (name, staff_count) in MUNICIPALITIES {
        let id = MunicipalityId::parse(&slugify(name)).expect("valid slug");
        let ctx = demo.office();
        tolerate_existing(demo.app.add_municipality(&ctx, id.clone(), t(name), t("Fyrbodal")).await)?;
        let mut supervisors = vec![];
        for n in 0..staff_count {
            let first = FIRST_NAMES[rng.random_range(0..FIRST_NAMES.len())];
            let last = LAST_NAMES[rng.random_range(0..LAST_NAMES.len())];
            let is_supervisor = n % 12 == 0;
            let band =
                if is_supervisor { Supervisors } else { [New0To2, New0To2, Years3To5, Over5][rng.random_range(0..4)] };
            let profile = StaffProfile {
                name: PersonName::parse(&format!("{first} {last}")).expect("demo names are names"),
                work_email: WorkEmail::parse(&format!(
                    "{}.{}{}@{}.se",
                    slugify(first),
                    slugify(last),
                    people.len(),
                    id
                ))
                .map_err(|e| e.0)?,
                unit: t(if n % 3 == 0 { "Barn och unga, utredning" } else { "Barn och unga, myndighet" }),
                supervisor: if is_supervisor { None } else { supervisors.last().copied() },
                staff_group: if n % 5 == 4 { StaffGroup::Utforare } else { StaffGroup::Myndighetsutovning },
                experience_band: band,
                social_work_degree: rng.random_bool(0.85),
            };
            let ctx = demo.coordinator(&id);
            let staff: StaffId =
                demo.app.add_staff(&ctx, id.clone(), profile).await.map_err(e)?.id.parse().expect("uuid");
            if is_supervisor {
                supervisors.push(staff);
                let ctx = demo.office();
                demo.app.set_role(&ctx, id.clone(), staff, MunicipalRole::Supervisor, true).await.map_err(e)?;
            }
            if n == 1 {
                let ctx = demo.office();
                demo.app.set_role(&ctx, id.clone(), staff, MunicipalRole::Coordinator, true).await.map_err(e)?;
            }
            people.push(Person {
                id: staff,
                municipality: id.clone(),
                band,
                supervisor: if is_supervisor { None } else { supervisors.last().copied() },
                coordinator: n == 1,
            });
        }
    }
    println!("Municipalities: {} with {} staff members", MUNICIPALITIES.len(), people.len());

    // The package and its offerings, sessions in the autumn.
    let term = Term::parse("HT2027").expect("valid");
    let ctx = demo.office();
    let package: PackageId = demo
        .app
        .create_package(
            &ctx,
            term,
            t("Kompetensutveckling barn och unga HT2027"),
            t("Fyrbodals kommunalförbund"),
            None,
            false,
        )
        .await
        .map_err(e)?
        .id
        .parse()
        .expect("uuid");
    let mut offerings: Vec<(OfferingId, &CourseSpec)> = vec![];
    for (i, course) in COURSES.iter().enumerate() {
        let first_day = NaiveDate::from_ymd_opt(2027, 9, 6).expect("a date") + Duration::days(7 * i as i64 % 28);
        let spacing = if course.sessions.0 > 5 { 14 } else { 1 };
        let sessions = course_sessions(first_day, course.sessions.0, spacing, course.sessions.1);
        let details = OfferingDetails {
            description: prose(course.description),
            target_groups: TargetGroups { experience_bands: course.bands.to_vec(), staff_groups: vec![] },
            competence_areas: course.areas.iter().map(|a| t(a)).collect(),
            trainer: t("Utbildare från FoU Fyrbodal"),
            place: if i % 4 == 3 { Place::Digital } else { Place::Venue(t("Fyrbodals kommunalförbund, Uddevalla")) },
            sessions,
            price: Sek(course.price),
            completion_threshold: CompletionThreshold::default(),
            prerequisites: vec![],
            follow_up: Some(prose(
                "Ta upp kursen på nästa arbetsplatsträff: låt deltagarna berätta vad de tar med sig och \
                 bestäm en sak att pröva i ärendearbetet den närmaste månaden.",
            )),
        };
        let ctx = demo.office();
        let code = CourseCode::parse(course.code).expect("valid");
        let seats = SeatLimit::new(course.seats).expect("valid");
        let offering = demo.app.plan_offering(&ctx, package, code, details, None, seats).await.map_err(e)?;
        offerings.push((offering.id.parse().expect("uuid"), course));
    }
    let ctx = demo.office();
    demo.app.package_command(&ctx, package, PackageCommand::Publish).await.map_err(e)?;
    let view = demo.app.package(package).await.map_err(e)?;
    println!("Package {} published with {} offerings; deadline {}\n", view.term, offerings.len(), view.deadline);

    // Collective registrations in the weeks before the deadline.
    demo.set_time(stockholm(2027, 6, 10, 14));
    let mut by_municipality: BTreeMap<MunicipalityId, Vec<&Person>> = BTreeMap::new();
    for person in &people {
        by_municipality.entry(person.municipality.clone()).or_default().push(person);
    }
    println!("Collective registrations (before the deadline):");
    for (municipality, staff) in &by_municipality {
        let mut lines = vec![];
        for person in staff {
            let suitable: Vec<&(OfferingId, &CourseSpec)> =
                offerings.iter().filter(|(_, c)| c.bands.contains(&person.band)).collect();
            let wanted = rng.random_range(1..=2.min(suitable.len()));
            for _ in 0..wanted {
                let (offering, _) = suitable[rng.random_range(0..suitable.len())];
                if !lines.iter().any(|l: &RegistrationLine| l.staff == person.id && l.offering == *offering) {
                    lines.push(RegistrationLine {
                        staff: person.id,
                        offering: *offering,
                        override_prerequisites: false,
                    });
                }
            }
        }
        let ctx = demo.coordinator(municipality);
        let receipt = demo.app.register_collectively(&ctx, municipality.clone(), lines).await.map_err(e)?;
        let refused_codes: Vec<&str> = receipt.lines.iter().filter_map(|l| l.code.as_deref()).collect();
        println!(
            "  {:<12} {:>3} lines: {:>3} requested, {:>2} refused{}",
            municipality.as_str(),
            receipt.lines.len(),
            receipt.requested,
            receipt.refused,
            if refused_codes.is_empty() { String::new() } else { format!(" ({})", summarise(&refused_codes)) }
        );
    }

    // After the deadline: close registration and allocate fairly.
    demo.set_time(stockholm(2027, 6, 16, 8));
    let ctx = demo.office();
    let report = demo.app.close_registration(&ctx, package).await.map_err(e)?;
    println!("\nRegistration closed {}; seats allocated round-robin across municipalities:", demo.clock.now());
    println!("  {:<18} {:>5} {:>9} {:>8}", "course", "seats", "confirmed", "waiting");
    for (line, (_, course)) in report.offerings.iter().zip(&offerings) {
        println!("  {:<18} {:>5} {:>9} {:>8}", course.code, course.seats, line.confirmed, line.waitlisted);
    }

    // A busy offering: a late registration, a charged cancellation and a promotion, a transfer.
    let (busy, busy_course) = offerings
        .iter()
        .max_by_key(|(id, _)| {
            report.offerings.iter().find(|l| l.offering_id == id.to_string()).map_or(0, |l| l.waitlisted)
        })
        .copied()
        .expect("offerings exist");
    let view = demo.app.offering(busy).await.map_err(e)?;
    println!("\nAfter the deadline on {} ({} on the waiting list):", busy_course.code, view.waiting_list.len());
    if let Some(confirmed) = view.registrations.iter().find(|r| r.status == "confirmed") {
        let staff: StaffId = confirmed.staff_id.parse().expect("uuid");
        let municipality = MunicipalityId::parse(&confirmed.municipality).expect("valid");
        let ctx = demo.coordinator(&municipality);
        demo.app.cancel_registration(&ctx, busy, staff).await.map_err(e)?;
        let after = demo.app.offering(busy).await.map_err(e)?;
        let charged = after.registrations.iter().any(|r| r.staff_id == confirmed.staff_id && r.charged);
        println!(
            "  {municipality} cancelled a confirmed seat: charged {} SEK: {}; first on the waiting list promoted: {}",
            busy_course.price,
            if charged { "yes" } else { "no" },
            if after.waiting_list.len() < view.waiting_list.len() { "yes" } else { "no" }
        );
    }
    let view = demo.app.offering(busy).await.map_err(e)?;
    if let Some(holder) = view.registrations.iter().find(|r| r.status == "confirmed") {
        let municipality = MunicipalityId::parse(&holder.municipality).expect("valid");
        let colleague = people.iter().find(|p| {
            p.municipality == municipality && !view.registrations.iter().any(|r| r.staff_id == p.id.to_string())
        });
        if let Some(colleague) = colleague {
            let ctx = demo.coordinator(&municipality);
            let from: StaffId = holder.staff_id.parse().expect("uuid");
            demo.app.transfer_seat(&ctx, busy, from, colleague.id, false).await.map_err(e)?;
            println!("  {municipality} transferred a seat to a colleague: free of charge");
        }
    }
    let late = people.iter().find(|p| !view.registrations.iter().any(|r| r.staff_id == p.id.to_string()));
    if let Some(late) = late {
        let ctx = demo.coordinator(&late.municipality.clone());
        let line = RegistrationLine { staff: late.id, offering: busy, override_prerequisites: false };
        let outcome = demo.app.register(&ctx, line).await.map_err(e)?;
        println!("  a late registration from {} went to: {:?}", late.municipality, outcome.status);
    }

    // The course office lets two experienced case officers onto LVU fortsättning without
    // the grund course (recorded as an override in the event).
    if let Some((forts, _)) = offerings.iter().find(|(_, c)| c.code == "LVU-FORTS") {
        let experienced: Vec<StaffId> = people.iter().filter(|p| p.band == Over5).take(2).map(|p| p.id).collect();
        for staff in experienced {
            let ctx = demo.office();
            let line = RegistrationLine { staff, offering: *forts, override_prerequisites: true };
            let outcome = demo.app.register(&ctx, line).await.map_err(e)?;
            println!(
                "  course office override on LVU-FORTS (prerequisite {} not met): {:?}",
                outcome.prerequisites_overridden.join(", "),
                outcome.status
            );
        }
    }

    // The courses run: trainers record attendance per session; then completion.
    demo.set_time(stockholm(2028, 3, 1, 9));
    let trainer = demo_trainer(&demo.app).await?;
    let mut certificates = 0;
    let mut not_completed = 0;
    let mut attendance_records = 0;
    for (offering, _) in &offerings {
        let ctx = demo.office();
        demo.app.assign_trainer(&ctx, *offering, &trainer.id, true).await.map_err(e)?;
        let view = demo.app.offering(*offering).await.map_err(e)?;
        for registration in view.registrations.iter().filter(|r| r.status == "confirmed") {
            let staff: StaffId = registration.staff_id.parse().expect("uuid");
            // Most attend nearly everything; about one in eight misses a lot.
            let presence = if rng.random_bool(0.125) { 0.5 } else { 0.95 };
            for session in 0..view.sessions.len() {
                let attendance = if rng.random_bool(presence) {
                    Attendance::Present
                } else if rng.random_bool(0.5) {
                    Attendance::Excused
                } else {
                    Attendance::Absent
                };
                let ctx = demo.ctx(trainer.clone());
                demo.app.record_attendance(&ctx, *offering, staff, session, attendance, None).await.map_err(e)?;
                attendance_records += 1;
            }
        }
        let ctx = demo.office();
        demo.app.offering_command(&ctx, *offering, OfferingCommand::CompleteOffering).await.map_err(e)?;
        let view = demo.app.offering(*offering).await.map_err(e)?;
        certificates += view.registrations.iter().filter(|r| r.certificate.is_some()).count();
        not_completed += view.registrations.iter().filter(|r| r.not_completed).count();
    }
    println!(
        "\nCourses held: {attendance_records} attendance records; {certificates} completed with a certificate, \
         {not_completed} below the 80 % threshold"
    );

    // Participation per municipality (participations, not persons).
    println!("\nConfirmed participations per municipality:");
    let mut per_municipality: BTreeMap<String, usize> = BTreeMap::new();
    for (offering, _) in &offerings {
        for (municipality, (confirmed, _)) in demo.app.offering_counts_by_municipality(*offering).await.map_err(e)? {
            *per_municipality.entry(municipality).or_default() += confirmed as usize;
        }
    }
    for (municipality, count) in &per_municipality {
        println!("  {municipality:<12} {count:>3}");
    }
    let example = offerings.first().map(|(id, _)| *id).expect("offerings exist");
    let view = demo.app.offering(example).await.map_err(e)?;
    if let Some(r) = view.registrations.iter().find(|r| r.certificate.is_some()) {
        println!(
            "\nExample certificate: {number} ({} of {} sessions): as PDF at /certificates/{number}/pdf (its \
             holder, supervisor, coordinator or the course office), checked by anyone at /kontrollera-intyg",
            r.attended,
            view.sessions.len(),
            number = r.certificate.as_deref().unwrap_or(""),
        );
    }
    // The letters: the notices projection writes them to the outbox, the dispatcher sends.
    let db = demo.app.log.views();
    Runner::new(db.clone(), Notices).catch_up().await.map_err(|e| e.to_string())?;
    let sent = Dispatcher::new(demo.app.clone(), transport.clone(), mail).dispatch_due().await.map_err(e)?;
    let summaries = kurslogg_projections::outbox::list(
        &db,
        &kurslogg_projections::outbox::Filter { kind: Some(kind::COURSE_SUMMARY.into()), ..Default::default() },
        100_000,
    )
    .await
    .map_err(|e| e.to_string())?
    .len();
    let place = match &transport {
        Transport::Files(dir) => format!("written to {}", dir.display()),
        Transport::Smtp(..) => "sent over SMTP".to_string(),
    };
    println!(
        "\nLetters: {} {place} ({summaries} after-course summaries to supervisors), {} to retry, {} failed",
        sent.sent, sent.deferred, sent.failed
    );
    let spring = spring_package(&mut demo).await?;
    println!("\nPackage id {package}. Browse it with: GET /packages/{package} (kurslogg serve).");
    println!("Next term: package id {spring} (VT2028), published and open for registration.");
    let logins = logins(&demo.app, &people, &offerings).await?;
    println!("\nLogins for the pages (kurslogg serve, then open http://127.0.0.1:8080/ in a browser):");
    for login in &logins {
        println!("  {:<28} {:<44} password: {}", login.who, login.login, login.password);
    }
    Ok(())
}

/// What Fyrbodal's competence plan says per experience band (DOMAIN.md, "Kompetensplan
/// BoU" on the demo's course codes): (band, recommended courses in order, needs met
/// locally, note).
type BandSpec = (ExperienceBand, &'static [&'static str], &'static [&'static str], Option<&'static str>);

/// Fyrbodal's plan for 2027.
const PLAN_2027: [BandSpec; 4] = [
    (
        New0To2,
        &["INTRO", "LVU-GRUND", "BBIC", "SAMTAL-MED-BARN", "YRKESHANDLEDNING"],
        &["Skriftlig individuell introduktionsplan", "Ärende- och metodhandledning", "Mentor/fadder"],
        Some("Introduktion: yrkesrollen genom Yrkeshandledning 10 x 3 timmar, 1–2 grupper per termin."),
    ),
    (
        Years3To5,
        &["ANKNYTNING", "LVU-FORTS", "FAMILJETERAPI-1", "FAMILJETERAPI-2", "HANDLAGGNING-DOK", "SAMTAL-MED-BARN"],
        &["Fortsatt ärende- och metodhandledning"],
        Some("Träning och fördjupning: barns utveckling och behov, regelverk och praxis."),
    ),
    (
        Over5,
        &["TRAUMA-GRUND", "TRAUMA-FORTS"],
        &["Uppföljning och utvärdering av insatser", "Evidensbaserad praktik"],
        Some(
            "Fördjupning: Förhållningssätt vid trauma var 12–18:e månad, mentorsutbildning och högskolekurser. \
             Behoven är mer individuella här.",
        ),
    ),
    (Supervisors, &[], &["Ledarskap", "Struktur i handledningen", "Evidensbaserad praktik", "Mentorsutbildning"], None),
];

/// Fyrbodal's plan for 2028: documentation moves to the introduction, trauma to 3-5 years.
const PLAN_2028: [BandSpec; 4] = [
    (
        New0To2,
        &["INTRO", "LVU-GRUND", "BBIC", "SAMTAL-MED-BARN", "HANDLAGGNING-DOK", "YRKESHANDLEDNING"],
        PLAN_2027[0].2,
        PLAN_2027[0].3,
    ),
    (
        Years3To5,
        &["ANKNYTNING", "LVU-FORTS", "TRAUMA-GRUND", "FAMILJETERAPI-1", "FAMILJETERAPI-2"],
        PLAN_2027[1].2,
        PLAN_2027[1].3,
    ),
    (Over5, &["TRAUMA-FORTS"], PLAN_2027[2].2, PLAN_2027[2].3),
    PLAN_2027[3],
];

/// The course office sets Fyrbodal's competence plans for 2027 and 2028 (setting them
/// again on a second run changes nothing).
async fn competence_plans(demo: &mut Demo) -> Result<(), String> {
    use kurslogg_domain::competence::{BandPlan, CompetencePlanId};
    use kurslogg_domain::FederationId;
    let fyrbodal = FederationId::parse("fyrbodal").expect("valid");
    for (year, plan) in [(2027, &PLAN_2027), (2028, &PLAN_2028)] {
        let bands = plan
            .iter()
            .map(|(band, courses, needs, note)| BandPlan {
                band: *band,
                courses: courses.iter().map(|c| CourseCode::parse(c).expect("valid")).collect(),
                local_needs: needs.iter().map(|n| t(n)).collect(),
                note: note.map(prose),
            })
            .collect();
        let id = CompetencePlanId::new(fyrbodal.clone(), year).expect("valid");
        let ctx = demo.office();
        demo.app.set_competence_plan(&ctx, id, bands).await.map_err(|e| e.to_string())?;
    }
    println!("Competence plans: Fyrbodal 2027 and 2028 (GET /competence-plans?federation=fyrbodal)");
    Ok(())
}

/// The next term's package, published and open for registration, so a coordinator has a
/// collective registration to make: a few of the recurring courses in the spring of 2028.
async fn spring_package(demo: &mut Demo) -> Result<PackageId, String> {
    let e = |e: AppError| e.to_string();
    demo.set_time(stockholm(2027, 10, 4, 9));
    let ctx = demo.office();
    let term = Term::parse("VT2028").expect("valid");
    let title = t("Kompetensutveckling barn och unga VT2028");
    let package: PackageId = demo
        .app
        .create_package(&ctx, term, title, t("Fyrbodals kommunalförbund"), None, false)
        .await
        .map_err(e)?
        .id
        .parse()
        .expect("uuid");
    for (i, course) in COURSES.iter().filter(|c| SPRING_COURSES.contains(&c.code)).enumerate() {
        let first_day = NaiveDate::from_ymd_opt(2028, 2, 7).expect("a date") + Duration::days(7 * i as i64);
        let spacing = if course.sessions.0 > 5 { 14 } else { 1 };
        let sessions = course_sessions(first_day, course.sessions.0, spacing, course.sessions.1);
        let details = OfferingDetails {
            description: t(course.description),
            target_groups: TargetGroups { experience_bands: course.bands.to_vec(), staff_groups: vec![] },
            competence_areas: course.areas.iter().map(|a| t(a)).collect(),
            trainer: t("Utbildare från FoU Fyrbodal"),
            place: Place::Venue(t("Fyrbodals kommunalförbund, Uddevalla")),
            sessions,
            price: Sek(course.price),
            completion_threshold: CompletionThreshold::default(),
            prerequisites: vec![],
            follow_up: None,
        };
        let ctx = demo.office();
        let code = CourseCode::parse(course.code).expect("valid");
        let seats = SeatLimit::new(course.seats).expect("valid");
        demo.app.plan_offering(&ctx, package, code, details, None, seats).await.map_err(e)?;
    }
    let ctx = demo.office();
    demo.app.package_command(&ctx, package, PackageCommand::Publish).await.map_err(e)?;
    Ok(package)
}

/// The recurring courses offered again in the spring package.
const SPRING_COURSES: [&str; 5] = ["INTRO", "LVU-GRUND", "LVU-FORTS", "TRAUMA-GRUND", "SAMTAL-MED-BARN"];

/// An account the demo makes for trying the pages.
struct Account {
    who: &'static str,
    login: &'static str,
    name: &'static str,
    role: Role,
    staff: Option<StaffId>,
    municipality: Option<MunicipalityId>,
}

/// One of the demo's logins, printed at the end.
struct Login {
    who: &'static str,
    login: String,
    password: String,
}

/// A login with a password for each role, so the pages can be tried right after the demo:
/// the course office, Uddevalla's coordinator, a supervisor in Uddevalla whose staff took
/// part in the autumn's courses, one of those staff as a participant, the trainer and an
/// auditor. Each run gives each a new random password (a demo database is a trial, but
/// a fixed password would be a door left open if one were ever put on a network).
async fn logins(
    app: &Kurslogg,
    people: &[Person],
    offerings: &[(OfferingId, &CourseSpec)],
) -> Result<Vec<Login>, String> {
    let uddevalla = MunicipalityId::parse("uddevalla").expect("valid");
    let coordinator = people.iter().find(|p| p.municipality == uddevalla && p.coordinator).map(|p| p.id);
    // A participant with a certificate whose supervisor is in Uddevalla: the supervisor then
    // has a summary to read, and the participant a certificate.
    let mut participant = None;
    'search: for (offering, _) in offerings {
        let view = app.offering(*offering).await.map_err(|e| e.to_string())?;
        for registration in view.registrations.iter().filter(|r| r.certificate.is_some()) {
            let person = people.iter().find(|p| p.id.to_string() == registration.staff_id);
            if let Some(person) = person.filter(|p| p.municipality == uddevalla && p.supervisor.is_some()) {
                participant = Some(person);
                break 'search;
            }
        }
    }
    let participant = participant.ok_or("no participant in Uddevalla completed a course")?;
    let account = |who, login, name, role, staff, municipality| Account { who, login, name, role, staff, municipality };
    let wanted = [
        account("Kursadministratör", "kansliet@fyrbodal.example", "Kansliet Fyrbodal", Role::CourseOffice, None, None),
        account(
            "Samordnare, Uddevalla",
            "samordnare@uddevalla.example",
            "Samordnare Uddevalla",
            Role::Coordinator,
            coordinator,
            Some(uddevalla.clone()),
        ),
        account(
            "Arbetsledare, Uddevalla",
            "arbetsledare@uddevalla.example",
            "Arbetsledare Uddevalla",
            Role::Supervisor,
            participant.supervisor,
            None,
        ),
        account(
            "Deltagare, Uddevalla",
            "deltagare@uddevalla.example",
            "Deltagare Uddevalla",
            Role::Participant,
            Some(participant.id),
            None,
        ),
        account(
            "Utbildare",
            "utbildare@fou-fyrbodal.example",
            "Utbildare från FoU Fyrbodal",
            Role::Trainer,
            None,
            None,
        ),
        account("Revisor", "revisor@fyrbodal.example", "Revisor Fyrbodal", Role::Auditor, None, None),
    ];
    let system = Actor::system();
    let origin = Origin::default();
    let e = |e: AppError| e.to_string();
    let mut logins = vec![];
    for Account { who, login, name, role, staff, municipality } in wanted {
        let password = demo_password();
        let user = match app.auth.user_by_login(login).await.map_err(|e| e.to_string())? {
            Some(user) => user,
            None => {
                // A staff member's account shows their own name.
                let own_name = match staff {
                    Some(staff) => app.staff_names(&[staff]).await.map_err(e)?.remove(&staff),
                    None => None,
                };
                let request = NewUser {
                    login: login.into(),
                    display_name: own_name.unwrap_or_else(|| name.into()),
                    role,
                    municipality,
                    staff,
                    password: None,
                };
                app.create_user(&system, &origin, request).await.map_err(|e| e.to_string())?
            }
        };
        app.auth.set_password(&system, &origin, &user.user_id, password.clone()).await.map_err(|e| e.to_string())?;
        logins.push(Login { who, login: login.into(), password });
    }
    Ok(logins)
}

/// A random password: four groups of four letters and digits, easy to read and type.
fn demo_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let mut rng = rand::rng();
    let groups: Vec<String> =
        (0..4).map(|_| (0..4).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()).collect();
    groups.join("-")
}

fn summarise(codes: &[&str]) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for code in codes {
        *counts.entry(code).or_default() += 1;
    }
    counts.iter().map(|(code, n)| format!("{n} {code}")).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use chrono::Timelike;

    use super::*;

    #[test]
    fn sessions_start_at_nine_stockholm_time_across_daylight_saving() {
        // Every other Monday from 6 September 2027: summer time ends on 31 October.
        let sessions = course_sessions(NaiveDate::from_ymd_opt(2027, 9, 6).unwrap(), 10, 14, 3);
        let local: Vec<_> = sessions.iter().map(|s| s.starts_at.with_timezone(&Stockholm)).collect();
        assert!(local.iter().all(|t| t.hour() == 9 && t.minute() == 0), "{local:?}");
        assert!(
            local.last().unwrap().date_naive() > NaiveDate::from_ymd_opt(2027, 11, 1).unwrap(),
            "crosses the change"
        );
        assert!(local.windows(2).all(|w| (w[1].date_naive() - w[0].date_naive()).num_days() == 14));
    }
}
