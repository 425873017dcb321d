//! Hostile text already in the log (issue 21, docs/decisions/0010): a database written
//! before the edge refused such values may hold a name with a line break, a unit with a
//! NUL, a course title that would inject iCalendar lines, a name that a spreadsheet would
//! run. The events are appended to the log directly, past the edge, and then go through
//! the projections, the views, the exports, the calendars and the letters (to a real SMTP
//! server), on both backends: everything still projects and sends, made safe where it is
//! shown. And one event that no projection can apply is recorded and passed over, shown
//! in `/readyz`, while the events behind it are applied.

mod api_support;

use std::time::Duration;

use api_support::{offering_body, staff_body, utc, Actor, Backend, TestServer};
use calamine::{open_workbook_from_rs, Data, Reader, Xlsx};
use kurslogg::mail::dispatch::Dispatcher;
use kurslogg::mail::transport::Transport;
use kurslogg::store::NewEvent;
use kurslogg_domain::StaffId;
use kurslogg_tests::smtp::{mail_settings, SmtpSink};
use reqwest::Method;
use serde_json::{json, Value};

const HEADER_INJECTION: &str = "Eve\r\nBcc: angripare@example.com";
const ICALENDAR_INJECTION: &str = "Kurs\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nSUMMARY:Falsk";
const FORMULA: &str = "=HYPERLINK(\"http://example.com\",\"Klicka\")";
const NUL_UNIT: &str = "Enhet\u{0}X";

/// One value of the first row `sql` selects, as text.
async fn one(s: &TestServer, sql: &str) -> String {
    s.texts(sql).await.into_iter().next().unwrap_or_else(|| panic!("nothing from {sql}"))
}

/// Appends an event to `kind`/`id`'s stream as the next one, straight into the log (as an
/// older release may have written it), with the metadata of the stream's last event; then
/// tells the service's caches that the stream moved on.
async fn append(s: &TestServer, kind: &'static str, id: &str, event_type: &str, body: Value) -> i64 {
    let stream = format!("FROM events WHERE aggregate_type = '{kind}' AND aggregate_id = '{id}'");
    let sequence: i64 =
        one(s, &format!("SELECT CAST(coalesce(max(sequence), 0) AS text) {stream}")).await.parse().unwrap();
    // A new stream takes the metadata of the log's first event.
    let last = if sequence > 0 {
        format!("{stream} ORDER BY sequence DESC LIMIT 1")
    } else {
        "FROM events ORDER BY aggregate_type, aggregate_id, sequence LIMIT 1".to_string()
    };
    let metadata = one(s, &format!("SELECT CAST(metadata AS text) {last}")).await;
    let event_version = if sequence > 0 { one(s, &format!("SELECT event_version {last}")).await } else { "1".into() };
    let event = NewEvent {
        aggregate_type: kind,
        aggregate_id: id.into(),
        sequence: sequence + 1,
        event_type: event_type.into(),
        event_version,
        payload: json!({ event_type: body }).to_string(),
        metadata,
    };
    let positions = s.app.log.append(&[event], &[]).await.expect("appended past the edge");
    s.app.follow_once(0).await.expect("caches told");
    positions[0]
}

/// A staff member's details as stored, with `name` sealed in its place and `unit`.
async fn stored_profile(s: &TestServer, staff: &str, name: &str, unit: &str) -> Value {
    let payload = one(
        s,
        &format!(
            "SELECT CAST(payload AS text) FROM events WHERE aggregate_type = 'staff' AND aggregate_id = '{staff}' \
             AND event_type = 'StaffMemberAdded'"
        ),
    )
    .await;
    let mut profile = serde_json::from_str::<Value>(&payload).unwrap()["StaffMemberAdded"]["profile"].clone();
    let id: StaffId = staff.parse().unwrap();
    let key = s.app.log.personal_key(id).await.expect("key").expect("a key of their own");
    profile["name"] = serde_json::to_value(key.seal(id, name)).unwrap();
    profile["unit"] = json!(unit);
    profile
}

async fn get_text(s: &TestServer, path: &str) -> (String, Vec<u8>) {
    let response = s.as_actor(&Actor::office(), Method::GET, path).await.send().await.expect("answers");
    assert_eq!(response.status().as_u16(), 200, "{path}");
    let content_type = response.headers()["content-type"].to_str().unwrap().to_string();
    (content_type, response.bytes().await.expect("body").to_vec())
}

async fn stored_hostile_text_projects_shows_and_sends(backend: Backend) {
    let Some(s) = TestServer::start(backend).await else { return };
    let office = Actor::office();
    let coordinator = Actor::coordinator("uddevalla");
    s.add_course("LVU-GRUND", "LVU grund", &[]).await;
    s.add_municipality("uddevalla", "Uddevalla").await;
    let eve = s.add_staff("uddevalla", "Eve Berg").await;
    let anna = s.add_staff("uddevalla", "Anna Andersson").await;
    let bo = s.add_staff("uddevalla", "Bo Ek").await;
    for coordinator_staff in [&eve, &bo] {
        let role = json!({ "staff_id": coordinator_staff, "role": "coordinator" });
        s.post(&coordinator, "/municipalities/uddevalla/roles", role).await.expect(200);
    }

    // An older database: Eve's name breaks a mail header and her unit holds a NUL, Anna's
    // name is a formula, and the course's title would end a calendar event and begin another.
    let eve_profile = stored_profile(&s, &eve, HEADER_INJECTION, NUL_UNIT).await;
    append(&s, "staff", &eve, "StaffMemberUpdated", json!({ "profile": eve_profile })).await;
    let anna_profile = stored_profile(&s, &anna, FORMULA, "Barn och unga").await;
    append(&s, "staff", &anna, "StaffMemberUpdated", json!({ "profile": anna_profile })).await;
    let revised = json!({ "title": ICALENDAR_INJECTION, "description": "Rad ett\r\nrad\u{0}två", "prerequisites": [] });
    append(&s, "course", "LVU-GRUND", "CourseRevised", revised).await;

    // The service goes on from there: the offering takes the course's title as it is.
    let package = s.create_package("HT2027").await;
    let offering = s.plan_offering(&package, offering_body("LVU-GRUND", 10, &[utc(2027, 9, 1, 6, 0)])).await;
    s.post(&office, &format!("/packages/{package}/publish"), json!({})).await.expect(200);
    let lines = json!({ "lines": [{ "staff_id": eve, "offering_id": offering }, { "staff_id": anna, "offering_id": offering }] });
    s.post(&coordinator, "/municipalities/uddevalla/registrations", lines).await.expect(200);
    let reply =
        s.post(&office, &format!("/offerings/{offering}/cancel"), json!({ "reason": "Utbildaren är sjuk." })).await;
    let position = reply.expect(200)["position"].as_i64().expect("position");

    // The views: built (a NUL stored as U+FFFD, on both backends alike), nothing failed.
    let roster = s.read(&format!("/offerings/{offering}/roster?min_position={position}")).await;
    assert_eq!(roster["title"], ICALENDAR_INJECTION, "the view keeps the title as it is: {roster}");
    let entry = |staff: &str| {
        roster["entries"].as_array().unwrap().iter().find(|e| e["staff_id"] == staff).cloned().expect("on the roster")
    };
    assert_eq!(entry(&eve)["unit"], "Enhet\u{FFFD}X");
    assert_eq!(s.read(&format!("/staff/{eve}")).await["name"], HEADER_INJECTION, "the record keeps what was stored");
    let ready = s.read("/readyz").await;
    assert_eq!(ready["status"], "ready", "{ready}");
    for projection in ready["projections"].as_array().expect("projections") {
        assert_eq!(projection["failed_events"], 0, "{ready}");
    }
    let record = s.read(&format!("/staff/{eve}/record?min_position={position}")).await;
    assert!(record.to_string().contains("Kurs"), "{record}");

    // The roster as CSV: the formula defused, Eve's line break inside her one cell.
    let (_, csv) =
        get_text(&s, &format!("/offerings/{offering}/roster/export?format=csv&min_position={position}")).await;
    let csv = String::from_utf8(csv).expect("UTF-8");
    let mut reader =
        csv::ReaderBuilder::new().delimiter(b';').from_reader(csv.trim_start_matches('\u{feff}').as_bytes());
    let rows: Vec<Vec<String>> =
        reader.records().map(|r| r.expect("a CSV row").iter().map(str::to_string).collect()).collect();
    assert_eq!(rows.len(), 2, "one row per person: {csv}");
    let cells: Vec<&String> = rows.iter().flatten().collect();
    assert!(cells.iter().any(|c| **c == format!("'{FORMULA}")), "the formula is defused: {csv}");
    assert!(!cells.iter().any(|c| c.starts_with('=')), "{csv}");
    assert!(cells.iter().any(|c| c.as_str() == "Eve\nBcc: angripare@example.com"), "{csv}");
    assert!(cells.iter().any(|c| c.as_str() == "Enhet\u{FFFD}X"), "{csv}");

    // As XLSX: a workbook Excel opens, the formula text a string, not a formula.
    let (_, xlsx) =
        get_text(&s, &format!("/offerings/{offering}/roster/export?format=xlsx&min_position={position}")).await;
    let mut workbook: Xlsx<_> = open_workbook_from_rs(std::io::Cursor::new(xlsx)).expect("an XLSX workbook");
    let sheet = workbook.sheet_names()[0].clone();
    assert!(!sheet.contains(['\r', '\n']), "{sheet:?}");
    let range = workbook.worksheet_range(&sheet).expect("the sheet");
    assert!(range.cells().any(|(_, _, c)| *c == Data::String(FORMULA.into())), "the formula is kept as text");
    let formulas = workbook.worksheet_formula(&sheet).expect("formulas");
    assert!(formulas.cells().all(|(_, _, f)| f.is_empty()), "no cell is a formula");

    // The calendar: one event per session, no line injected, no bare CR.
    let (content_type, ics) = get_text(&s, &format!("/offerings/{offering}/calendar.ics")).await;
    assert!(content_type.starts_with("text/calendar"));
    let ics = String::from_utf8(ics).expect("UTF-8");
    assert_eq!(
        ics.split("\r\n").filter(|l| *l == "BEGIN:VEVENT").count(),
        1,
        "the text stays inside its values: {ics}"
    );
    assert!(!ics.lines().any(|l| l.starts_with("SUMMARY:Falsk")), "{ics}");
    assert!(
        ics.split("\r\n").all(|line| !line.contains('\r') && !line.contains('\n')),
        "only CRLF ends lines: {ics:?}"
    );
    let calendar: icalendar::Calendar = ics.parse().expect("iCalendar");
    assert_eq!(calendar.components.len(), 1, "{ics}");
    let (_, mine) = get_text(&s, &format!("/staff/{eve}/calendar.ics")).await;
    assert!(String::from_utf8(mine).unwrap().split("\r\n").all(|line| !line.contains('\r')));

    // The letters: receipts and cancellations, every one sent with one-line headers; no
    // letter goes to the address smuggled into Eve's name.
    let sink = SmtpSink::start();
    let settings = mail_settings(Some(sink.port));
    let transport = Transport::from_settings(&settings, &std::env::temp_dir()).expect("SMTP transport");
    let dispatcher = Dispatcher::new(s.app.clone(), transport, settings);
    let report = dispatcher.dispatch_due().await.expect("a round");
    assert_eq!(report.failed, 0, "{report:?}");
    assert!(report.sent >= 4, "receipts to both coordinators, cancellations to both people and them: {report:?}");
    let messages = sink.wait_for(report.sent, Duration::from_secs(10)).await;
    assert_eq!(messages.len(), report.sent);
    let eve_address = staff_body("Eve Berg")["work_email"].as_str().unwrap().to_string();
    assert!(messages.iter().any(|m| m.rcpt_tos == [eve_address.clone()]), "Eve's letters go to her");
    for m in &messages {
        assert!(!m.rcpt_tos.iter().any(|r| r.contains("angripare")), "{m:?}");
        assert!(!m.to.contains(['\r', '\n']) && !m.subject.contains(['\r', '\n']), "{m:?}");
        assert!(!m.to.contains("Bcc:") || m.to.contains("Eve Bcc: angripare"), "the name is one line: {:?}", m.to);
    }
    let cancelled: Vec<_> = messages.iter().filter(|m| m.subject.starts_with("Inställd kurs:")).collect();
    assert!(!cancelled.is_empty());
    assert!(
        cancelled.iter().all(|m| m.subject == "Inställd kurs: Kurs END:VEVENT BEGIN:VEVENT SUMMARY:Falsk"),
        "{cancelled:?}"
    );
    let outbox = s.read("/outbox?status=pending").await;
    assert_eq!(outbox["notices"].as_array().map(Vec::len), Some(0), "nothing left behind: {outbox}");
}

#[tokio::test]
async fn stored_hostile_text_projects_shows_and_sends_sqlite() {
    stored_hostile_text_projects_shows_and_sends(Backend::Sqlite).await;
}

#[tokio::test]
async fn stored_hostile_text_projects_shows_and_sends_postgres() {
    stored_hostile_text_projects_shows_and_sends(Backend::Postgres).await;
}

/// An event the enrolment projection cannot apply (a municipality without its federation)
/// is recorded and passed over: the events behind it are applied, `/readyz` says
/// `degraded` and names it, and the other projections are not held up at all.
async fn an_event_no_projection_can_apply_is_recorded_and_passed_over(backend: Backend) {
    let Some(s) = TestServer::start(backend).await else { return };
    s.add_municipality("uddevalla", "Uddevalla").await;
    let broken =
        append(&s, "municipality", "trasig", "MunicipalityAdded", json!({ "id": "trasig", "name": "Trasig" })).await;
    let staff = s.add_staff("uddevalla", "Anna Andersson").await;
    let reply = s.post(&Actor::coordinator("uddevalla"), &format!("/staff/{staff}/pause"), json!({})).await;
    let position = reply.expect(200)["position"].as_i64().expect("position");
    let record = s.read(&format!("/staff/{staff}/record?min_position={position}")).await;
    assert_eq!(record["staff_id"], staff, "the events after it were applied: {record}");
    let ready = s.read("/readyz").await;
    assert_eq!(ready["status"], "degraded", "{ready}");
    let enrolment =
        ready["projections"].as_array().unwrap().iter().find(|p| p["name"] == "enrolment").cloned().unwrap();
    assert_eq!(enrolment["failed_events"], 1, "{ready}");
    assert_eq!(enrolment["failures"][0]["position"], broken, "{ready}");
    assert_eq!(enrolment["failures"][0]["event_type"], "MunicipalityAdded");
    assert!(enrolment["failures"][0]["reason"].as_str().unwrap().contains("federation"), "{ready}");
    assert!(enrolment["position"].as_i64().unwrap() >= position, "{ready}");
    assert_eq!(ready["letters"]["failed"], 0, "{ready}");
    // The same for a monitoring system, without logging in.
    let metrics = s.send_unchecked(s.request(reqwest::Method::GET, "/metrics")).await;
    assert_eq!(metrics.status, 200);
    assert!(metrics.text.contains("kurslogg_projection_failed_events{projection=\"enrolment\"} 1"), "{}", metrics.text);
    assert!(metrics.text.contains("kurslogg_database_up 1"), "{}", metrics.text);
    assert!(metrics.text.contains("kurslogg_letters_failed 0"), "{}", metrics.text);

    // A rebuild goes past it too (it does not stop there), and it stays recorded, once.
    let statuses = kurslogg::views::rebuild(&s.app.log.views(), Some("enrolment")).await.expect("the rebuild");
    let enrolment = statuses.iter().find(|p| p.name == "enrolment").expect("enrolment");
    assert_eq!(enrolment.failed_events, 1, "{statuses:?}");
    assert_eq!(enrolment.failures[0].position, broken);
    let record = s.read(&format!("/staff/{staff}/record")).await;
    assert_eq!(record["staff_id"], staff, "rebuilt with the events after it: {record}");
}

#[tokio::test]
async fn an_event_no_projection_can_apply_is_recorded_and_passed_over_sqlite() {
    an_event_no_projection_can_apply_is_recorded_and_passed_over(Backend::Sqlite).await;
}

#[tokio::test]
async fn an_event_no_projection_can_apply_is_recorded_and_passed_over_postgres() {
    an_event_no_projection_can_apply_is_recorded_and_passed_over(Backend::Postgres).await;
}
