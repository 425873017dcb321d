//! Erasing a person's personal data, and retention, on both backends
//! (docs/decisions/0007).
//!
//! - Over HTTP: after `POST /staff/{id}/erase` no view, export, audit extract, calendar
//!   or "as of" answer shows the person's name, e-mail or notes; counts and costs stay
//!   as they were; the erasure is in the audit trail with who asked and why; bad
//!   requests are refused and an erased person takes no further command.
//! - In the database: the log never holds the name, e-mail or notes in plain text
//!   (before or after erasure), the key is gone after erasure, a rebuild of the views
//!   brings nothing back, and a key that an interrupted erasure left is destroyed.
//! - Letters: a letter pending to the erased person fails with a reason that names
//!   nobody, their delivered `.eml` files are deleted, and a supervisor's summary written
//!   after the erasure does not name them.
//! - Retention: the scheduler erases people removed more than N years ago, once each,
//!   also with two instances, and nobody else.

mod api_support;

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use api_support::{offering_body, staff_body, Actor, Reply, TestServer};
use calamine::{open_workbook_from_rs, Reader as _, Xlsx};
use kurslogg::app::Kurslogg;
use kurslogg::mail::dispatch::Dispatcher;
use kurslogg::mail::transport::Transport;
use kurslogg::scheduler::Scheduler;
use kurslogg_domain::municipality::MunicipalRole;
use kurslogg_domain::offering::OfferingCommand;
use kurslogg_domain::staff::StaffCommand;
use kurslogg_domain::{Attendance, StaffId};
use kurslogg_projections::outbox::{self, Filter, OutboxRow};
use kurslogg_tests::smtp::{mail_settings, SmtpSink};
use kurslogg_tests::{
    add_municipality, add_named_staff, add_staff, after_ht2027_deadline, catch_up, conformance, coordinator,
    course_office, fresh_app, line, publish, refusal_code, spring_2027, staff_profile, text, trainer, Backend,
    Fyrbodal, Guard, Raw, TestClock,
};
use serde_json::{json, Value};

conformance!(
    the_log_never_holds_personal_data_in_plain_text_and_erasure_leaves_nothing_to_open,
    an_erased_persons_letters_fail_or_are_deleted_and_later_letters_do_not_name_them,
    retention_erases_those_who_left_long_ago_once_each_and_nobody_else,
    retention_also_ends_old_user_accounts_and_security_log_lines,
);

/// The person erased in these tests, and what only she has.
const ASA: &str = "Åsa Öberg";
const ASA_EMAIL: &str = "asa.oberg@ockero.se";
const ASA_NOTE: &str = "Gick tidigt: tandläkartid";
/// Everything that would give her away, as it could appear in a text.
const ASA_SECRETS: [&str; 5] = [ASA, "Öberg", ASA_EMAIL, "asa.oberg", ASA_NOTE];
const REASON: &str = "Begäran om radering enligt artikel 17 GDPR, ärende 2027-118";

#[track_caller]
fn assert_shows_nothing_of_asa(what: &str, text: &str) {
    for secret in ASA_SECRETS {
        assert!(!text.contains(secret), "{what} shows {secret:?}:\n{text}");
    }
}

// ===================================================================================
// Over HTTP
// ===================================================================================

async fn add_person(s: &TestServer, name: &str, email: &str, supervisor: Option<&str>) -> String {
    let mut body = staff_body(name);
    body["work_email"] = json!(email);
    body["supervisor_id"] = json!(supervisor);
    let reply = s.post(&Actor::coordinator("ockero"), "/municipalities/ockero/staff", body).await;
    reply.expect(201);
    reply.str("id")
}

fn position(reply: &Reply) -> i64 {
    reply.json["position"].as_i64().unwrap_or_else(|| panic!("no position in {}", reply.text))
}

/// Waits until the enrolment and audit views include `position`.
async fn settle(s: &TestServer, staff: &str, position: i64) {
    s.read(&format!("/staff/{staff}/record?min_position={position}")).await;
    s.read(&format!("/audit?limit=1&min_position={position}")).await;
}

/// `path` with `query` (`name=value&…`, or empty) added.
fn with_query(path: &str, query: &str) -> String {
    match (query.is_empty(), path.contains('?')) {
        (true, _) => path.to_string(),
        (false, true) => format!("{path}&{query}"),
        (false, false) => format!("{path}?{query}"),
    }
}

/// Every answer that could show a person, as text (exports and calendars included), as
/// the views stand or with `query` (e.g. `as_of_position=12`).
async fn everything(s: &TestServer, asa: &str, boss: &str, grund: &str, query: &str) -> Vec<(String, String)> {
    let mut paths = vec![
        format!("/staff/{asa}/record"),
        format!("/staff/{boss}/supervised"),
        format!("/offerings/{grund}/roster"),
        format!("/offerings/{grund}/roster/export?format=csv"),
        format!("/offerings/{grund}/roster/export?format=xlsx"),
        "/costs?term=HT2027".to_string(),
        "/costs/export?term=HT2027&format=csv".to_string(),
        "/costs/export?term=HT2027&format=xlsx".to_string(),
        "/municipalities/ockero/costs?term=HT2027".to_string(),
        "/statistics?group_by=municipality,experience_band".to_string(),
        "/audit?limit=10000".to_string(),
        format!("/audit?staff={asa}"),
        "/audit/export?format=csv".to_string(),
        format!("/staff/{asa}/calendar.ics"),
        format!("/offerings/{grund}/calendar.ics"),
    ];
    paths = paths.iter().map(|p| with_query(p, query)).collect();
    if query.is_empty() {
        paths.extend([format!("/staff/{asa}"), format!("/staff/{asa}/registrations"), "/outbox?limit=1000".into()]);
    }
    let mut answers = Vec::with_capacity(paths.len());
    for path in paths {
        let response =
            s.as_actor(&Actor::office(), reqwest::Method::GET, &path).await.send().await.expect("the server answers");
        assert_eq!(response.status().as_u16(), 200, "GET {path}");
        let bytes = response.bytes().await.expect("body");
        let text =
            if path.contains("format=xlsx") { workbook_text(&bytes) } else { String::from_utf8_lossy(&bytes).into() };
        answers.push((path, text));
    }
    answers
}

/// Every cell of every sheet of an XLSX workbook, one line per row (the file itself is
/// compressed: its bytes say nothing).
fn workbook_text(bytes: &[u8]) -> String {
    let mut workbook: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes.to_vec())).expect("the workbook opens");
    let mut text = String::new();
    for sheet in workbook.sheet_names() {
        let range = workbook.worksheet_range(&sheet).expect("the sheet reads");
        for row in range.rows() {
            text.extend(row.iter().map(|cell| format!("{cell};")));
            text.push('\n');
        }
    }
    text
}

/// What must not change when someone is erased: counts, costs, places and results.
async fn anonymous_facts(s: &TestServer, grund: &str) -> Value {
    let statistics = s.read("/statistics?group_by=municipality,experience_band").await;
    let costs = s.read("/costs?term=HT2027").await;
    let roster = s.read(&format!("/offerings/{grund}/roster")).await;
    let places: Vec<Value> = roster["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| json!([e["staff_id"], e["status"], e["completion"], e["certificate"], e["attendance"]]))
        .collect();
    let cost_lines: Vec<Value> = costs["municipalities"]
        .as_array()
        .expect("municipalities")
        .iter()
        .flat_map(|m| m["lines"].as_array().expect("lines").clone())
        .map(|l| json!([l["staff_id"], l["kind"], l["price_sek"]]))
        .collect();
    json!({
        "statistics": statistics["rows"],
        "total": statistics["total"],
        "total_sek": costs["total_sek"],
        "cost_lines": cost_lines,
        "places": places,
    })
}

async fn erasure_over_http(backend: api_support::Backend) {
    let Some(s) = TestServer::start(backend).await else { return };
    let office = Actor::office();
    let ockero = Actor::coordinator("ockero");
    s.add_course("LVU-GRUND", "LVU grund", &[]).await;
    s.add_course("SAMTAL", "Samtal med barn", &[]).await;
    s.add_municipality("ockero", "Öckerö").await;
    let boss = add_person(&s, "Stina Chef", "stina.chef@ockero.se", None).await;
    let asa = add_person(&s, ASA, ASA_EMAIL, Some(&boss)).await;
    let erik = add_person(&s, "Erik Berg", "erik.berg@ockero.se", Some(&boss)).await;
    // Saving her details unchanged writes nothing: sealing twice gives different text,
    // but what did not change keeps its sealed form.
    let mut asa_body = staff_body(ASA);
    asa_body["work_email"] = json!(ASA_EMAIL);
    asa_body["supervisor_id"] = json!(boss);
    assert_eq!(s.put(&ockero, &format!("/staff/{asa}"), asa_body.clone()).await.expect(200)["events"], 0);
    asa_body["unit"] = json!("Öckerö barn och unga");
    assert_eq!(s.put(&ockero, &format!("/staff/{asa}"), asa_body.clone()).await.expect(200)["events"], 1);

    let package = s.create_package("HT2027").await;
    let sessions = [api_support::utc(2027, 9, 1, 6, 0), api_support::utc(2027, 9, 8, 6, 0)];
    let grund = s.plan_offering(&package, offering_body("LVU-GRUND", 10, &sessions)).await;
    s.assign_trainer(&grund).await;
    s.post(&office, &format!("/packages/{package}/publish"), json!({})).await.expect(200);
    for person in [&asa, &erik] {
        let body = json!({ "staff_id": person });
        s.post(&ockero, &format!("/offerings/{grund}/registrations"), body).await.expect(200);
    }
    s.clock.set(api_support::utc(2027, 6, 16, 8, 0));
    s.post(&office, &format!("/packages/{package}/close-registration"), json!({})).await.expect(200);
    s.clock.set(api_support::utc(2027, 9, 8, 13, 0));
    let attendance = format!("/offerings/{grund}/attendance");
    for (person, session) in [(&asa, 0), (&asa, 1), (&erik, 0), (&erik, 1)] {
        let mut body = json!({ "staff_id": person, "session": session, "attendance": "present" });
        if *person == asa && session == 0 {
            body["note"] = json!(ASA_NOTE);
        }
        s.post(&Actor::trainer(), &attendance, body).await.expect(200);
    }
    let completed = s.post(&office, &format!("/offerings/{grund}/complete"), json!({})).await;
    completed.expect(200);
    let before_erasure = position(&completed);
    settle(&s, &asa, before_erasure).await;

    // Before: she is there, by name, where names are shown.
    let staff = s.read(&format!("/staff/{asa}")).await;
    assert_eq!((staff["name"].as_str(), staff["work_email"].as_str()), (Some(ASA), Some(ASA_EMAIL)));
    assert_eq!(s.read(&format!("/staff/{asa}/record")).await["name"], ASA);
    // (and so the checks below that she is gone would see her)
    for (path, answer) in everything(&s, &asa, &boss, &grund, "").await {
        let shown = ["/record", "/supervised", "/roster/export", "/costs", "/staff/"];
        if shown.iter().any(|p| path.contains(p)) && !path.contains("/registrations") && !path.contains(".ics") {
            assert!(answer.contains(ASA), "GET {path} names her before the erasure:\n{answer}");
        }
    }
    let facts_before = anonymous_facts(&s, &grund).await;
    let events_before = s.event_count().await;

    // ----- refused erasures change nothing -----
    let erase = format!("/staff/{asa}/erase");
    s.post(&ockero, &erase, json!({ "reason": REASON })).await.problem(403, "forbidden");
    s.post(&Actor::with_role("revisor", "auditor"), &erase, json!({ "reason": REASON }))
        .await
        .problem(403, "forbidden");
    let stranger = format!("/staff/{}/erase", uuid::Uuid::new_v4());
    s.post(&office, &stranger, json!({ "reason": REASON })).await.problem(404, "not_found");
    s.post(&office, "/staff/nobody/erase", json!({ "reason": REASON })).await.problem(404, "not_found");
    s.post(&office, &erase, json!({})).await.problem(422, "validation");
    s.post(&office, &erase, json!({ "reason": "   " })).await.problem(422, "validation");
    s.post(&office, &erase, json!({ "reason": REASON, "name": ASA })).await.problem(422, "validation");
    for naming in [format!("{ASA} har bett om det"), format!("mejl från {ASA_EMAIL}"), "ärende från ASA.OBERG".into()]
    {
        let reply = s.post(&office, &erase, json!({ "reason": naming })).await;
        reply.problem(422, "validation");
        assert!(reply.json["detail"].as_str().unwrap().contains("reason"), "{}", reply.text);
    }
    let raw = s.send(s.as_actor(&office, reqwest::Method::POST, &erase).await.body("{\"reason\":")).await;
    raw.problem(400, "malformed_json");
    assert_eq!(s.event_count().await, events_before, "refused erasures wrote nothing");

    // ----- the erasure -----
    let erased = s.post(&office, &erase, json!({ "reason": REASON })).await;
    assert_eq!(erased.expect(200)["events"], 1, "{}", erased.text);
    assert_eq!(erased.json["id"], asa.as_str());
    let at = position(&erased);
    s.post(&office, &erase, json!({ "reason": REASON })).await.problem(409, "staff_erased");
    // Nothing more is done with her...
    s.put(&ockero, &format!("/staff/{asa}"), asa_body).await.problem(409, "staff_erased");
    for action in ["pause", "resume", "remove"] {
        s.post(&ockero, &format!("/staff/{asa}/{action}"), json!({})).await.problem(409, "staff_erased");
    }
    let note = json!({ "staff_id": asa, "session": 1, "attendance": "excused", "note": "Sjuk" });
    s.post(&Actor::trainer(), &attendance, note).await.problem(409, "staff_erased");
    let samtal = s.plan_offering(&package, offering_body("SAMTAL", 10, &[api_support::utc(2027, 10, 5, 6, 0)])).await;
    let register = s.post(&ockero, &format!("/offerings/{samtal}/registrations"), json!({ "staff_id": asa })).await;
    register.problem(422, "staff_erased");
    let role = json!({ "staff_id": asa, "role": "coordinator" });
    s.post(&ockero, "/municipalities/ockero/roles", role).await.problem(409, "staff_erased");
    let mut newcomer = staff_body("Nils Ny");
    newcomer["supervisor_id"] = json!(asa);
    s.post(&ockero, "/municipalities/ockero/staff", newcomer).await.problem(422, "supervisor_erased");
    settle(&s, &asa, at).await;

    // ----- after: she is nowhere, and every count and sum is as it was -----
    let staff = s.read(&format!("/staff/{asa}")).await;
    assert_eq!(
        (&staff["name"], &staff["work_email"], &staff["status"]),
        (&Value::Null, &Value::Null, &json!("erased"))
    );
    assert_eq!(staff["municipality"], "ockero", "what is not personal stays");
    for (path, answer) in everything(&s, &asa, &boss, &grund, "").await {
        assert_shows_nothing_of_asa(&format!("GET {path}"), &answer);
    }
    let record = s.read(&format!("/staff/{asa}/record")).await;
    assert_eq!((&record["name"], &record["status"]), (&Value::Null, &json!("erased")));
    assert_eq!(record["offerings"].as_array().unwrap().len(), 1, "her course stays on the record: {record}");
    assert!(record["certificates"].as_array().unwrap().len() == 1, "and her certificate: {record}");
    let overview = s.read(&format!("/staff/{boss}/supervised")).await;
    let named = |id: &str| overview["staff"].as_array().unwrap().iter().find(|p| p["staff_id"] == id).unwrap().clone();
    assert_eq!((&named(&asa)["name"], &named(&asa)["status"]), (&Value::Null, &json!("erased")));
    assert_eq!(named(&erik)["name"], "Erik Berg", "others keep their names");
    let costs_csv = s.get(&office, "/costs/export?term=HT2027&format=csv").await;
    assert!(costs_csv.text.contains("Erik Berg"), "{}", costs_csv.text);
    assert!(costs_csv.text.contains(&asa), "her line stays, by id: {}", costs_csv.text);
    assert_eq!(anonymous_facts(&s, &grund).await, facts_before, "counts, costs, places and results are unchanged");

    // The erasure is in the audit trail: who, when, why.
    let trail = s.read(&format!("/audit?staff={asa}")).await;
    let last = trail["entries"].as_array().unwrap().last().cloned().expect("entries");
    assert_eq!(last["event_type"], "StaffMemberErased");
    let office_id = s.user_id(&office).await;
    assert_eq!((&last["actor_id"], &last["actor_role"]), (&json!(office_id), &json!("course_office")));
    assert_eq!(last["details"]["reason"], REASON);
    assert_eq!(last["municipality"], "ockero");
    assert_eq!(last["position"], at);
    let added = trail["entries"].as_array().unwrap().iter().find(|e| e["event_type"] == "StaffMemberAdded").unwrap();
    assert_eq!(added["details"], Value::Null, "events that carry her (sealed) details are listed by type only");

    // Time travel shows the past's facts with today's names: hers is gone there too.
    let past = format!("as_of_position={before_erasure}");
    for (path, answer) in everything(&s, &asa, &boss, &grund, &past).await {
        assert_shows_nothing_of_asa(&format!("GET {path}"), &answer);
    }
    let record_then = s.read(&format!("/staff/{asa}/record?{past}")).await;
    assert_eq!((&record_then["name"], &record_then["status"]), (&Value::Null, &json!("active")));
    let costs_then = s.read(&format!("/costs?term=HT2027&{past}")).await;
    assert_eq!(costs_then["total_sek"], facts_before["total_sek"]);

    // Others go on as before.
    s.post(&ockero, &format!("/offerings/{samtal}/registrations"), json!({ "staff_id": erik })).await.expect(200);
}

#[tokio::test]
async fn erasure_over_http_sqlite() {
    erasure_over_http(api_support::Backend::Sqlite).await;
}

#[tokio::test]
async fn erasure_over_http_postgres() {
    erasure_over_http(api_support::Backend::Postgres).await;
}

// ===================================================================================
// In the database
// ===================================================================================

/// The log's tables as text: every event's payload and metadata, every remembered answer.
async fn log_as_text(guard: &Guard) -> String {
    let rows: Vec<String> = match guard.raw() {
        Raw::Sqlite(pool) => {
            sqlx::query_scalar("SELECT payload || metadata FROM events UNION ALL SELECT body FROM idempotency_keys")
                .fetch_all(pool)
                .await
                .expect("read the log")
        }
        Raw::Postgres(pool) => sqlx::query_scalar(
            "SELECT payload::text || metadata::text FROM events UNION ALL SELECT body FROM idempotency_keys",
        )
        .fetch_all(pool)
        .await
        .expect("read the log"),
    };
    rows.join("\n")
}

/// On SQLite, the database's files byte for byte (the write-ahead log included): the
/// plain text must be in no page at all, not only in no row.
fn sqlite_files_contain(guard: &Guard, secret: &str) -> bool {
    let needle = secret.as_bytes();
    [guard.location.clone(), format!("{}-wal", guard.location)]
        .iter()
        .any(|file| std::fs::read(file).is_ok_and(|bytes| bytes.windows(needle.len()).any(|window| window == needle)))
}

async fn staff_event_versions(guard: &Guard) -> Vec<String> {
    let sql = "SELECT DISTINCT event_version FROM events WHERE aggregate_type = 'staff' ORDER BY event_version";
    match guard.raw() {
        Raw::Sqlite(pool) => sqlx::query_scalar(sql).fetch_all(pool).await,
        Raw::Postgres(pool) => sqlx::query_scalar(sql).fetch_all(pool).await,
    }
    .expect("read event versions")
}

async fn key_of(guard: &Guard, staff: StaffId) -> Option<Vec<u8>> {
    let id = staff.to_string();
    match guard.raw() {
        Raw::Sqlite(pool) => sqlx::query_scalar("SELECT key FROM personal_keys WHERE staff_id = ?")
            .bind(id)
            .fetch_optional(pool)
            .await
            .expect("read personal_keys"),
        Raw::Postgres(pool) => sqlx::query_scalar("SELECT key FROM personal_keys WHERE staff_id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await
            .expect("read personal_keys"),
    }
}

/// Puts a key back, as if an erasure had stopped before deleting it.
async fn put_key_back(guard: &Guard, staff: StaffId, key: Vec<u8>) {
    let id = staff.to_string();
    match guard.raw() {
        Raw::Sqlite(pool) => {
            let insert = sqlx::query("INSERT INTO personal_keys (staff_id, key) VALUES (?, ?)");
            insert.bind(id).bind(key).execute(pool).await.map(drop)
        }
        Raw::Postgres(pool) => {
            let insert = sqlx::query("INSERT INTO personal_keys (staff_id, key) VALUES ($1, $2)");
            insert.bind(id).bind(key).execute(pool).await.map(drop)
        }
    }
    .expect("put the key back");
}

/// The router served over `app`, as `kurslogg serve` serves it; returns its base URL.
async fn serve(app: Arc<Kurslogg>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let settings = api_support::default_http_settings();
    let router = kurslogg::http::router(app, &settings);
    tokio::spawn(async move { kurslogg::http::serve(listener, router, &settings).await.expect("serve") });
    base
}

/// A course-office user's token on `app`, made below the API as `kurslogg users create` does.
async fn office_token(app: &Kurslogg) -> String {
    let system = kurslogg::app::Actor::system();
    let origin = kurslogg::auth::Origin::default();
    let new = kurslogg::auth::NewUser {
        login: format!("kansliet-{}@fyrbodal.se", uuid::Uuid::new_v4().simple()),
        display_name: "Kansliet".into(),
        role: kurslogg::app::Role::CourseOffice,
        municipality: None,
        staff: None,
        password: None,
    };
    let user = app.auth.create_user(&system, &origin, new).await.expect("user");
    app.auth.issue_token(&system, &origin, &user.user_id, "test", None).await.expect("token").token
}

async fn read_as_office(token: &str, base: &str, path: &str) -> String {
    let response = reqwest::Client::new()
        .get(format!("{base}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .expect("the server answers");
    assert_eq!(response.status().as_u16(), 200, "GET {path}");
    response.text().await.expect("body")
}

async fn the_log_never_holds_personal_data_in_plain_text_and_erasure_leaves_nothing_to_open(backend: Backend) {
    let clock = TestClock::at(spring_2027());
    let (app, guard) = fresh_app(backend, &clock).await;
    let app = Arc::new(app);
    let world = Fyrbodal::build(&app, 1).await;
    let udd = &world.uddevalla;
    let karin = add_named_staff(&app, udd, "Karin Persson", "karin.persson@uddevalla.example.se", None).await;
    let asa = add_named_staff(&app, udd, ASA, ASA_EMAIL, Some(karin)).await;
    let mut moved = staff_profile(ASA, ASA_EMAIL, Some(karin));
    moved.unit = text("IFO Familjehem");
    let update = StaffCommand::UpdateStaffMember { profile: moved };
    assert_eq!(app.staff_command(&coordinator(udd), asa, update).await.expect("update").events, 1);
    publish(&app, world.package).await;
    app.register_collectively(&coordinator(udd), udd.clone(), vec![line(asa, world.lvu_grund)])
        .await
        .expect("registration");
    clock.set(after_ht2027_deadline());
    app.close_registration(&course_office(), world.package).await.expect("allocation");
    clock.set(kurslogg_tests::utc(2027, 9, 6, 16, 0));
    app.record_attendance(&trainer(), world.lvu_grund, asa, 0, Attendance::Present, Some(text(ASA_NOTE)))
        .await
        .expect("attendance with a note");
    catch_up(&app).await;

    // Before the erasure: the service reads her details, the log holds them sealed only.
    let staff = app.staff_member(asa).await.expect("staff");
    assert_eq!((staff.name.as_deref(), staff.work_email.as_deref()), (Some(ASA), Some(ASA_EMAIL)));
    let log = log_as_text(&guard).await;
    assert_shows_nothing_of_asa("the log", &log);
    assert_eq!(staff_event_versions(&guard).await, vec!["2".to_string()], "sealed staff events are version 2");
    if backend == Backend::Sqlite {
        for secret in ASA_SECRETS {
            assert!(!sqlite_files_contain(&guard, secret), "the SQLite files hold {secret:?}");
        }
    }
    let key = key_of(&guard, asa).await.expect("she has a key");
    assert_eq!(key.len(), 32);

    app.erase_staff(&course_office(), asa, text("Begäran från den anställda")).await.expect("erasure");
    assert_eq!(key_of(&guard, asa).await, None, "the key is destroyed");
    assert_eq!(key_of(&guard, karin).await.map(|k| k.len()), Some(32), "nobody else's");
    let staff = app.staff_member(asa).await.expect("staff");
    assert_eq!((staff.name, staff.work_email, staff.status.as_str()), (None, None, "erased"));
    assert_shows_nothing_of_asa("the log after the erasure", &log_as_text(&guard).await);
    let refused =
        app.record_attendance(&trainer(), world.lvu_grund, asa, 0, Attendance::Present, Some(text("Rättelse"))).await;
    assert_eq!(refusal_code(refused), "staff_erased");

    // The views rebuilt from the whole log bring nothing back.
    kurslogg::views::rebuild(&app.log.views(), None).await.expect("rebuild");
    let base = serve(app.clone()).await;
    let token = office_token(&app).await;
    for path in [
        format!("/staff/{asa}"),
        format!("/staff/{asa}/record"),
        format!("/staff/{karin}/supervised"),
        format!("/offerings/{}/roster/export?format=csv", world.lvu_grund),
        "/costs/export?term=HT2027&format=csv".to_string(),
        "/audit/export?format=csv".to_string(),
    ] {
        assert_shows_nothing_of_asa(
            &format!("GET {path} after a rebuild"),
            &read_as_office(&token, &base, &path).await,
        );
    }
    let record: Value =
        serde_json::from_str(&read_as_office(&token, &base, &format!("/staff/{asa}/record")).await).unwrap();
    assert_eq!((&record["name"], &record["status"]), (&Value::Null, &json!("erased")));
    let overview: Value =
        serde_json::from_str(&read_as_office(&token, &base, &format!("/staff/{karin}/supervised")).await).unwrap();
    assert_eq!(overview["staff"][0]["status"], "erased", "{overview}");

    // The process stopped between the erasure event and the key's deletion: the key is
    // still there after a restart. Nothing opens with it (she is erased in the log), and
    // the scheduler's next round destroys it.
    put_key_back(&guard, asa, key).await;
    let restarted = Arc::new(guard.open(&clock).await);
    assert_eq!(restarted.staff_member(asa).await.expect("staff").name, None);
    let round = Scheduler::new(restarted.clone(), vec![]).round().await.expect("round");
    assert_eq!(round.keys_destroyed, 1);
    assert_eq!(key_of(&guard, asa).await, None);
    assert_eq!(Scheduler::new(restarted, vec![]).round().await.expect("round").keys_destroyed, 0);
}

// ===================================================================================
// Letters
// ===================================================================================

/// A dispatcher writing `.eml` files into `dir`, as with no mail server configured.
fn file_dispatcher(app: &Arc<Kurslogg>, dir: &Path) -> Dispatcher {
    let settings = mail_settings(None);
    let transport = Transport::from_settings(&settings, dir).expect("files transport");
    Dispatcher::new(app.clone(), transport, settings)
}

async fn letters_to(app: &Kurslogg, recipient: StaffId) -> Vec<OutboxRow> {
    let filter = Filter { recipient: Some(recipient.to_string()), ..Filter::default() };
    outbox::list(&app.log.views(), &filter, 10_000).await.expect("outbox")
}

fn eml(dir: &Path, letter: &OutboxRow, generation: i64) -> PathBuf {
    dir.join(format!("{}.eml", kurslogg::mail::transport::file_stem(&letter.notice_id, generation)))
}

async fn an_erased_persons_letters_fail_or_are_deleted_and_later_letters_do_not_name_them(backend: Backend) {
    let clock = TestClock::at(spring_2027());
    let (app, _guard) = fresh_app(backend, &clock).await;
    let app = Arc::new(app);
    let world = Fyrbodal::build(&app, 1).await;
    let udd = world.uddevalla.clone();
    let karin = add_named_staff(&app, &udd, "Karin Persson", "karin.persson@uddevalla.example.se", None).await;
    let asa = add_named_staff(&app, &udd, ASA, ASA_EMAIL, Some(karin)).await;
    let erik = add_named_staff(&app, &udd, "Erik Johansson", "erik.johansson@uddevalla.example.se", Some(karin)).await;
    // Åsa is one of Uddevalla's coordinators too: the receipts come to her.
    app.set_role(&coordinator(&udd), udd.clone(), asa, MunicipalRole::Coordinator, true).await.expect("role");
    publish(&app, world.package).await;
    let outbox_dir = std::env::temp_dir().join(format!("kl-erasure-letters-{}", uuid::Uuid::new_v4().simple()));
    let files = file_dispatcher(&app, &outbox_dir);

    // A receipt to Åsa is delivered as a file, and resent on request: two files.
    app.register_collectively(&coordinator(&udd), udd.clone(), vec![line(asa, world.lvu_grund)])
        .await
        .expect("first registration");
    catch_up(&app).await;
    assert_eq!(files.dispatch_due().await.expect("dispatch").failed, 0);
    let delivered = letters_to(&app, asa).await;
    assert_eq!(delivered.len(), 1, "{delivered:#?}");
    let receipt = delivered[0].clone();
    app.resend_notice(&course_office(), &receipt.notice_id, text("Kom inte fram")).await.expect("resend");
    catch_up(&app).await;
    files.dispatch_due().await.expect("dispatch");
    for generation in [0, 1] {
        let file = std::fs::read_to_string(eml(&outbox_dir, &receipt, generation)).expect("the letter's file");
        assert!(file.contains(ASA_EMAIL), "the file is hers: {file}");
    }
    // A second registration: its receipt to her is still pending when she is erased.
    app.register_collectively(&coordinator(&udd), udd.clone(), vec![line(erik, world.lvu_grund)])
        .await
        .expect("second registration");
    catch_up(&app).await;
    let pending: Vec<OutboxRow> = letters_to(&app, asa).await.into_iter().filter(|l| l.status == "pending").collect();
    assert_eq!(pending.len(), 1);
    let others_files = |dir: &Path| -> Vec<PathBuf> {
        std::fs::read_dir(dir)
            .expect("outbox directory")
            .map(|e| e.expect("entry").path())
            .filter(|p| !p.to_string_lossy().contains(&receipt.notice_id))
            .collect()
    };
    let kept = others_files(&outbox_dir);
    assert!(!kept.is_empty(), "the other coordinator's receipt was delivered too");

    app.erase_staff(&course_office(), asa, text("Begäran från den anställda")).await.expect("erasure");
    let report = files.dispatch_due().await.expect("dispatch");
    assert_eq!(report.failed, 1, "{report:?}");
    let failed = outbox::get(&app.log.views(), &pending[0].notice_id).await.expect("outbox").expect("letter");
    assert_eq!(failed.status, "failed");
    let reason = failed.last_error.clone().expect("a reason");
    assert_eq!(reason, "the recipient's personal data has been erased");
    assert_shows_nothing_of_asa("the failed letter's reason", &reason);
    for generation in [0, 1] {
        assert!(!eml(&outbox_dir, &receipt, generation).exists(), "her delivered letter (generation {generation})");
    }
    for file in &kept {
        assert!(file.exists(), "letters to others stay: {}", file.display());
    }
    // A resend of her letter is refused by the letter itself: it fails, and writes no file.
    app.resend_notice(&course_office(), &receipt.notice_id, text("Försök igen")).await.expect("resend");
    catch_up(&app).await;
    assert_eq!(files.dispatch_due().await.expect("dispatch").failed, 1);
    assert!(!eml(&outbox_dir, &receipt, 2).exists());

    // The course runs and is completed after the erasure: Karin's summary lists Erik,
    // and Åsa only as erased; the coordinators' allocation results likewise.
    clock.set(after_ht2027_deadline());
    app.close_registration(&course_office(), world.package).await.expect("allocation");
    clock.set(kurslogg_tests::utc(2027, 10, 5, 9, 0));
    for staff in [asa, erik] {
        for session in 0..5 {
            app.record_attendance(&trainer(), world.lvu_grund, staff, session, Attendance::Present, None)
                .await
                .expect("attendance is recorded for an erased person too: it is not personal data");
        }
    }
    app.offering_command(&course_office(), world.lvu_grund, OfferingCommand::CompleteOffering).await.expect("complete");
    catch_up(&app).await;
    let sink = SmtpSink::start();
    let settings = mail_settings(Some(sink.port));
    let transport = Transport::from_settings(&settings, &std::env::temp_dir()).expect("SMTP transport");
    let report = Dispatcher::new(app.clone(), transport, settings).dispatch_due().await.expect("dispatch");
    let messages = sink.wait_for(report.sent, Duration::from_secs(10)).await;
    assert_eq!(messages.len(), report.sent, "{report:?}");
    let summaries: Vec<_> = messages
        .iter()
        .filter(|m| m.rcpt_tos.iter().any(|r| r == "karin.persson@uddevalla.example.se"))
        .filter(|m| m.subject.starts_with("Sammanfattning"))
        .collect();
    assert_eq!(summaries.len(), 1, "Karin's summary");
    let summary = summaries[0].text.as_deref().expect("plain text");
    assert!(summary.contains("Erik Johansson"), "{summary}");
    assert!(summary.contains("(raderad person)"), "{summary}");
    for message in &messages {
        assert!(!message.rcpt_tos.iter().any(|r| r == ASA_EMAIL), "nothing goes to her: {}", message.subject);
        for part in [&message.text, &message.html].into_iter().flatten() {
            assert_shows_nothing_of_asa(&format!("the letter {:?}", message.subject), part);
        }
        assert_shows_nothing_of_asa("a letter's To", &message.to);
    }
    let _ = std::fs::remove_dir_all(&outbox_dir);
}

// ===================================================================================
// Retention
// ===================================================================================

async fn erasures_of(guard: &Guard, staff: StaffId) -> Vec<kurslogg_tests::StoredEvent> {
    let events = guard.events_of("staff", &staff.to_string()).await;
    events.into_iter().filter(|e| e.event_type == "StaffMemberErased").collect()
}

async fn retention_erases_those_who_left_long_ago_once_each_and_nobody_else(backend: Backend) {
    let clock = TestClock::at(kurslogg_tests::utc(2020, 1, 10, 9, 0));
    let (app, guard) = fresh_app(backend, &clock).await;
    let app = Arc::new(app);
    let uddevalla = add_municipality(&app, "Uddevalla").await;
    let (long_gone, recently_gone, staying) = (
        add_staff(&app, &uddevalla, 1).await,
        add_staff(&app, &uddevalla, 2).await,
        add_staff(&app, &uddevalla, 3).await,
    );
    let leaves = async |staff| {
        app.staff_command(&coordinator(&uddevalla), staff, StaffCommand::RemoveStaffMember).await.expect("removed");
    };
    leaves(long_gone).await;
    clock.set(kurslogg_tests::utc(2026, 11, 1, 9, 0));
    leaves(recently_gone).await;
    clock.set(kurslogg_tests::utc(2027, 3, 1, 9, 0));
    catch_up(&app).await;

    // Unless told how long to keep people, the scheduler erases nobody; 0 is never.
    assert_eq!(Scheduler::new(app.clone(), vec![]).round().await.expect("round").erased, 0);
    let never = Scheduler::new(app.clone(), vec![]).with_retention_years(0);
    assert_eq!(never.round().await.expect("round").erased, 0);
    assert!(erasures_of(&guard, long_gone).await.is_empty());

    // Three years, with two instances at once: the one who left in 2020 is erased, once.
    let other = Arc::new(guard.open(&clock).await);
    let first = Scheduler::new(app.clone(), vec![]).with_retention_years(3);
    let second = Scheduler::new(other.clone(), vec![]).with_retention_years(3);
    let (a, b) = tokio::join!(first.round(), second.round());
    assert_eq!(a.expect("round").erased + b.expect("round").erased, 1);
    let erasures = erasures_of(&guard, long_gone).await;
    assert_eq!(erasures.len(), 1, "erased once");
    assert_eq!(erasures[0].payload["StaffMemberErased"]["reason"], "retention");
    assert_eq!(
        (&erasures[0].metadata["actor_id"], &erasures[0].metadata["actor_role"]),
        (&json!("kurslogg"), &json!("system"))
    );
    assert_eq!(key_of(&guard, long_gone).await, None, "the key is destroyed");
    let staff = app.staff_member(long_gone).await.expect("staff");
    assert_eq!((staff.name, staff.status.as_str()), (None, "erased"));
    for kept in [recently_gone, staying] {
        assert!(app.staff_member(kept).await.expect("staff").name.is_some(), "not erased yet");
        assert!(erasures_of(&guard, kept).await.is_empty());
    }
    // Next rounds, before and after the views have seen the erasure: nothing again.
    assert_eq!(first.round().await.expect("round").erased, 0);
    catch_up(&app).await;
    assert_eq!(second.round().await.expect("round").erased, 0);
    assert_eq!(erasures_of(&guard, long_gone).await.len(), 1);

    // Three years after the second one left, their turn comes; who stayed is kept.
    clock.set(kurslogg_tests::utc(2029, 11, 2, 9, 0));
    assert_eq!(first.round().await.expect("round").erased, 1);
    assert_eq!(erasures_of(&guard, recently_gone).await.len(), 1);
    assert!(app.staff_member(staying).await.expect("staff").name.is_some());
    assert!(erasures_of(&guard, staying).await.is_empty());
}

/// Users are personal data too (a login is usually an e-mail address, and the security
/// log holds client addresses): retention erases the login and name of accounts disabled
/// that long ago, with their tokens and sessions, and removes security-log lines that old.
async fn retention_also_ends_old_user_accounts_and_security_log_lines(backend: Backend) {
    use kurslogg::auth::{NewUser, Origin, SecurityFilter, ERASED_USER};
    let clock = TestClock::at(kurslogg_tests::utc(2020, 1, 10, 9, 0));
    let (app, _guard) = fresh_app(backend, &clock).await;
    let app = Arc::new(app);
    let system = kurslogg::app::Actor::system();
    let origin = Origin { client: "10.20.30.40".into(), request_id: "retention-test".into() };
    let new_user = |login: &str| NewUser {
        login: login.into(),
        display_name: format!("Namn {login}"),
        role: kurslogg::app::Role::Auditor,
        municipality: None,
        staff: None,
        password: Some("ett långt lösenord".into()),
    };
    let create = async |login: &str| app.auth.create_user(&system, &origin, new_user(login)).await.expect("user");
    let left_long_ago = create("lamnade@fyrbodal.se").await;
    app.auth.issue_token(&system, &origin, &left_long_ago.user_id, "gammal", None).await.expect("token");
    app.auth.login("lamnade@fyrbodal.se", "ett långt lösenord", &origin).await.expect("a session");
    app.auth.disable_user(&system, &origin, &left_long_ago.user_id).await.expect("disabled");
    clock.set(kurslogg_tests::utc(2026, 11, 1, 9, 0));
    let left_recently = create("nyligen@fyrbodal.se").await;
    app.auth.disable_user(&system, &origin, &left_recently.user_id).await.expect("disabled");
    let staying = create("kvar@fyrbodal.se").await;
    clock.set(kurslogg_tests::utc(2027, 3, 1, 9, 0));
    let all_lines = SecurityFilter { limit: 1000, ..SecurityFilter::default() };
    let lines_before = app.auth.security_log(&all_lines).await.expect("log");

    // Without a retention, nothing goes.
    let round = Scheduler::new(app.clone(), vec![]).round().await.expect("round");
    assert_eq!((round.users_erased, round.security_lines_removed), (0, 0));
    assert_eq!(app.auth.user(&left_long_ago.user_id).await.expect("user").expect("kept").login, "lamnade@fyrbodal.se");

    let three_years = Scheduler::new(app.clone(), vec![]).with_retention_years(3);
    let round = three_years.round().await.expect("round");
    assert_eq!(round.users_erased, 1, "only the account disabled in 2020");
    let erased = app.auth.user(&left_long_ago.user_id).await.expect("user").expect("the account stays, by id");
    assert!(erased.login.starts_with("erased:") && !erased.login.contains("lamnade"), "{erased:?}");
    assert_eq!((erased.display_name.as_str(), erased.has_password), (ERASED_USER, false));
    assert!(app.auth.tokens_of(&left_long_ago.user_id).await.expect("tokens").is_empty(), "tokens gone");
    for kept in [&left_recently, &staying] {
        let user = app.auth.user(&kept.user_id).await.expect("user").expect("kept");
        assert_eq!((&user.login, &user.display_name), (&kept.login, &kept.display_name));
    }
    let lines = app.auth.security_log(&all_lines).await.expect("log");
    let old = lines_before.iter().filter(|l| l.at.as_str() < "2024-03-01").count();
    assert!(old >= 4, "created, token, login and disabling in 2020: {lines_before:?}");
    assert_eq!(round.security_lines_removed as usize, old);
    assert_eq!(lines.len(), lines_before.len() - old);
    assert!(lines.iter().all(|l| l.at.as_str() >= "2024-03-01"), "{lines:?}");
    assert!(lines.iter().any(|l| l.user_id.as_deref() == Some(left_recently.user_id.as_str())), "recent lines stay");

    // Once is enough.
    let again = three_years.round().await.expect("round");
    assert_eq!((again.users_erased, again.security_lines_removed), (0, 0));
}
