//! Black-box tests of the downloads: roster and audit exports as CSV and XLSX, and the
//! iCalendar feeds, on a small term driven over the API, on SQLite and PostgreSQL.

mod api_support;

use std::collections::BTreeSet;
use std::io::Cursor;

use api_support::{offering_body, staff_body, utc, Actor, Backend, TestServer};
use calamine::{open_workbook_from_rs, Data, Reader, Xlsx};
use chrono::{DateTime, NaiveDateTime, Timelike, Utc};
use icalendar::{CalendarDateTime, Component, DatePerhapsTime, EventLike};
use reqwest::Method;
use serde_json::{json, Value};

/// A download: status, headers, raw bytes.
struct Download {
    status: u16,
    content_type: String,
    disposition: String,
    next_after: String,
    bytes: Vec<u8>,
}

impl Download {
    fn text(&self) -> String {
        String::from_utf8(self.bytes.clone()).expect("UTF-8")
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes).unwrap_or(Value::Null)
    }

    #[track_caller]
    fn ok(&self) -> &Self {
        assert_eq!(self.status, 200, "expected 200: {}", String::from_utf8_lossy(&self.bytes));
        self
    }

    #[track_caller]
    fn problem(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{}", String::from_utf8_lossy(&self.bytes));
        assert_eq!(self.content_type, "application/problem+json");
        assert_eq!(self.json()["code"], code, "{}", String::from_utf8_lossy(&self.bytes));
    }
}

async fn download(s: &TestServer, path: &str) -> Download {
    let response = s.as_actor(&Actor::office(), Method::GET, path).await.send().await.expect("the server answers");
    let header =
        |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let (status, content_type, disposition, next_after) =
        (response.status().as_u16(), header("content-type"), header("content-disposition"), header("x-next-after"));
    let bytes = response.bytes().await.expect("body").to_vec();
    assert!(status < 500, "the server answered {status}: {}", String::from_utf8_lossy(&bytes));
    Download { status, content_type, disposition, next_after, bytes }
}

/// A CSV export as a header and rows of text: UTF-8 with BOM, `;`-separated.
#[track_caller]
fn parse_csv(d: &Download) -> (Vec<String>, Vec<Vec<String>>) {
    assert_eq!(d.content_type, "text/csv; charset=utf-8");
    assert!(d.disposition.starts_with("attachment; filename=\""), "{}", d.disposition);
    assert!(d.disposition.ends_with(".csv\""), "{}", d.disposition);
    assert_eq!(&d.bytes[..3], b"\xEF\xBB\xBF", "a byte-order mark for Excel");
    let mut reader = csv::ReaderBuilder::new().delimiter(b';').from_reader(&d.bytes[3..]);
    let header = reader.headers().expect("a header row").iter().map(str::to_string).collect();
    let rows =
        reader.records().map(|r| r.expect("a well-formed CSV row").iter().map(str::to_string).collect()).collect();
    (header, rows)
}

/// An XLSX export's first sheet: its name and every row (header first).
#[track_caller]
fn parse_xlsx(d: &Download) -> (String, Vec<Vec<Data>>) {
    assert_eq!(d.content_type, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
    assert!(d.disposition.starts_with("attachment; filename=\""), "{}", d.disposition);
    assert!(d.disposition.ends_with(".xlsx\""), "{}", d.disposition);
    let mut workbook: Xlsx<_> = open_workbook_from_rs(Cursor::new(d.bytes.clone())).expect("the workbook opens");
    let sheet = workbook.sheet_names().first().cloned().expect("a sheet");
    let range = workbook.worksheet_range(&sheet).expect("the sheet reads");
    (sheet, range.rows().map(<[Data]>::to_vec).collect())
}

/// What a spreadsheet cell shows, as the CSV writes it (date-times as `yyyy-mm-dd hh:mm:ss`).
fn shown(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) if f.fract() == 0.0 => format!("{f:.0}"),
        Data::Float(f) => f.to_string().replace('.', ","),
        Data::DateTime(t) => t.as_datetime().expect("a date-time").format("%Y-%m-%d %H:%M:%S").to_string(),
        other => format!("{other:?}"),
    }
}

/// An RFC 3339 instant as Swedish local time, to the second.
fn swedish_time(raw: &str) -> NaiveDateTime {
    let t = DateTime::parse_from_rfc3339(raw).expect("RFC 3339").with_timezone(&chrono_tz::Europe::Stockholm);
    t.naive_local().with_nanosecond(0).expect("a time")
}

/// The column of `header` named `name`.
#[track_caller]
fn col(header: &[String], name: &str) -> usize {
    header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name:?} in {header:?}"))
}

/// The row of `staff` (first column: staff id).
#[track_caller]
fn row_of<'a>(rows: &'a [Vec<String>], staff: &str) -> &'a [String] {
    rows.iter().find(|r| r[0] == staff).unwrap_or_else(|| panic!("{staff} not in the export"))
}

/// The events of an iCalendar feed: (UID, start, end, summary, location, description).
type Ev = (String, DateTime<Utc>, DateTime<Utc>, String, String, String);

#[track_caller]
fn parse_ics(d: &Download) -> Vec<Ev> {
    assert_eq!(d.content_type, "text/calendar; charset=utf-8");
    let text = d.text();
    assert!(text.starts_with("BEGIN:VCALENDAR\r\n"), "{text}");
    let calendar: icalendar::Calendar = text.parse().unwrap_or_else(|e| panic!("not iCalendar ({e}): {text}"));
    let utc_of = |t: Option<DatePerhapsTime>| match t {
        Some(DatePerhapsTime::DateTime(CalendarDateTime::Utc(t))) => t,
        other => panic!("not a UTC date-time: {other:?} in {text}"),
    };
    calendar
        .events()
        .map(|e| {
            (
                e.get_uid().expect("a UID").to_string(),
                utc_of(e.get_start()),
                utc_of(e.get_end()),
                e.get_summary().unwrap_or_default().to_string(),
                e.get_location().unwrap_or_default().to_string(),
                e.get_description().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn uids(events: &[Ev]) -> BTreeSet<String> {
    events.iter().map(|e| e.0.clone()).collect()
}

/// The small term: who is where.
struct Term {
    grund: String,
    samtal: String,
    trauma: String,
    /// Öckerö; confirmed on LVU grund (present twice, completes) and Samtal med barn;
    /// cancelled on Trauma before the deadline.
    asa: String,
    /// Uddevalla; confirmed on LVU grund, then hands the seat to Karin.
    erik: String,
    /// Uddevalla; waiting on LVU grund.
    maria: String,
    /// Öckerö; waiting on LVU grund, confirmed on Samtal med barn.
    johan: String,
    /// Uddevalla; takes Erik's seat: absent, then present (does not complete).
    karin: String,
    /// After the registrations, before the deadline.
    registered_at_position: i64,
    /// The last write.
    position: i64,
}

async fn small_term(s: &TestServer) -> Term {
    let office = Actor::office();
    let trainer = Actor::trainer();
    s.add_course("LVU-GRUND", "LVU grund", &[]).await;
    s.add_course("SAMTAL", "Samtal med barn", &[]).await;
    s.add_course("TRAUMA", "Förhållningssätt vid trauma", &[]).await;
    s.add_municipality("uddevalla", "Uddevalla").await;
    s.add_municipality("ockero", "Öckerö").await;

    let mut body = staff_body("Åsa Öberg");
    body["unit"] = json!("Öckerö barn och unga");
    body["work_email"] = json!("asa.oberg@ockero.se");
    let asa = s.post(&Actor::coordinator("ockero"), "/municipalities/ockero/staff", body).await;
    let asa = asa.expect(201)["id"].as_str().expect("an id").to_string();
    let johan = s.add_staff("ockero", "Johan Dahl").await;
    let erik = s.add_staff("uddevalla", "Erik Berg").await;
    let maria = s.add_staff("uddevalla", "Maria Carlsson").await;
    let karin = s.add_staff("uddevalla", "Karin Ek").await;

    let package = s.create_package("HT2027").await;
    let grund =
        s.plan_offering(&package, offering_body("LVU-GRUND", 2, &[utc(2027, 9, 1, 6, 0), utc(2027, 9, 8, 6, 0)])).await;
    let samtal = s.plan_offering(&package, offering_body("SAMTAL", 5, &[utc(2027, 10, 5, 6, 0)])).await;
    let trauma = s.plan_offering(&package, offering_body("TRAUMA", 5, &[utc(2027, 11, 2, 7, 0)])).await;
    s.assign_trainer(&grund).await;
    s.post(&office, &format!("/packages/{package}/publish"), json!({})).await.expect(200);

    let lines = |pairs: &[(&str, &str)]| json!({ "lines": pairs.iter().map(|(s, o)| json!({ "staff_id": s, "offering_id": o })).collect::<Vec<_>>() });
    let ockero = s
        .post(
            &Actor::coordinator("ockero"),
            "/municipalities/ockero/registrations",
            lines(&[(&asa, &grund), (&johan, &grund), (&asa, &samtal), (&johan, &samtal), (&asa, &trauma)]),
        )
        .await;
    assert_eq!(ockero.expect(200)["requested"], 5, "{}", ockero.text);
    let uddevalla = s
        .post(
            &Actor::coordinator("uddevalla"),
            "/municipalities/uddevalla/registrations",
            lines(&[(&erik, &grund), (&maria, &grund)]),
        )
        .await;
    assert_eq!(uddevalla.expect(200)["requested"], 2, "{}", uddevalla.text);
    // Åsa leaves Trauma before the deadline: free.
    let left = s
        .post(&Actor::coordinator("ockero"), &format!("/offerings/{trauma}/registrations/{asa}/cancel"), json!({}))
        .await;
    let registered_at_position = left.expect(200)["position"].as_i64().expect("a position");

    // The deadline: two seats, two municipalities, each gets its first priority.
    s.clock.set(utc(2027, 6, 16, 8, 0));
    s.post(&office, &format!("/packages/{package}/close-registration"), json!({})).await.expect(200);
    s.post(
        &Actor::coordinator("uddevalla"),
        &format!("/offerings/{grund}/registrations/{erik}/transfer"),
        json!({ "to_staff_id": karin }),
    )
    .await
    .expect(200);

    let attendance = format!("/offerings/{grund}/attendance");
    let mark = |staff: &str, session: usize, attendance: &str| json!({ "staff_id": staff, "session": session, "attendance": attendance });
    s.clock.set(utc(2027, 9, 1, 13, 0));
    s.post(&trainer, &attendance, mark(&asa, 0, "present")).await.expect(200);
    s.post(&trainer, &attendance, mark(&karin, 0, "absent")).await.expect(200);
    s.clock.set(utc(2027, 9, 8, 13, 0));
    s.post(&trainer, &attendance, mark(&asa, 1, "present")).await.expect(200);
    s.post(&trainer, &attendance, mark(&karin, 1, "present")).await.expect(200);
    let completed = s.post(&office, &format!("/offerings/{grund}/complete"), json!({})).await;
    let position = completed.expect(200)["position"].as_i64().expect("a position");
    Term { grund, samtal, trauma, asa, erik, maria, johan, karin, registered_at_position, position }
}

async fn exports(backend: Backend) {
    let Some(s) = TestServer::start(backend).await else { return };
    let t = small_term(&s).await;
    let fresh = format!("min_position={}", t.position);

    // ----- the roster as CSV -----
    let csv_download = download(&s, &format!("/offerings/{}/roster/export?format=csv&{fresh}", t.grund)).await;
    let (header, rows) = parse_csv(csv_download.ok());
    assert!(csv_download.disposition.contains("deltagarlista-LVU-GRUND-HT2027"), "{}", csv_download.disposition);
    assert_eq!(
        &header[..8],
        [
            "Personal-id",
            "Namn",
            "Kommun",
            "Enhet",
            "Status",
            "Plats i väntelistan",
            "Efteranmäld",
            "Avgift vid avanmälan"
        ]
    );
    let (first, second) = (col(&header, "Tillfälle 1 (2027-09-01)"), col(&header, "Tillfälle 2 (2027-09-08)"));
    let (status, place, result, certificate, unit, municipality, name, attended) = (
        col(&header, "Status"),
        col(&header, "Plats i väntelistan"),
        col(&header, "Resultat"),
        col(&header, "Intygsnummer"),
        col(&header, "Enhet"),
        col(&header, "Kommun"),
        col(&header, "Namn"),
        col(&header, "Närvarotillfällen"),
    );
    assert_eq!(rows.len(), 5, "one row per person: {rows:?}");
    assert!(rows.iter().all(|r| r.len() == header.len()), "every row has every column");

    let asa = row_of(&rows, &t.asa);
    assert_eq!(asa[name], "Åsa Öberg");
    assert_eq!(asa[unit], "Öckerö barn och unga", "Swedish characters survive");
    assert_eq!(asa[municipality], "Öckerö");
    assert_eq!(asa[status], "antagen");
    assert_eq!((asa[first].as_str(), asa[second].as_str()), ("närvarande", "närvarande"));
    assert_eq!(asa[attended], "2");
    assert_eq!(asa[result], "genomförd");
    let karin = row_of(&rows, &t.karin);
    assert_eq!(karin[status], "antagen");
    assert_eq!((karin[first].as_str(), karin[second].as_str()), ("frånvarande", "närvarande"));
    assert_eq!(karin[result], "ej genomförd");
    assert_eq!(karin[certificate], "");
    assert_eq!(karin[col(&header, "Överlåten från")], t.erik);
    let erik = row_of(&rows, &t.erik);
    assert_eq!(erik[status], "överlåten");
    assert_eq!(erik[col(&header, "Överlåten till")], t.karin);
    assert_eq!((erik[first].as_str(), erik[second].as_str()), ("", ""));
    for waiting in [&t.maria, &t.johan] {
        assert_eq!(row_of(&rows, waiting)[status], "väntelista");
    }
    let places: BTreeSet<&str> = [&t.maria, &t.johan].iter().map(|w| row_of(&rows, w)[place].as_str()).collect();
    assert_eq!(places, BTreeSet::from(["1", "2"]));

    // The export says what the JSON roster says.
    let roster = s.read(&format!("/offerings/{}/roster?{fresh}", t.grund)).await;
    for entry in roster["entries"].as_array().expect("entries") {
        let row = row_of(&rows, entry["staff_id"].as_str().unwrap());
        assert_eq!(row[certificate], entry["certificate"].as_str().unwrap_or(""), "{entry}");
        assert_eq!(row[place], entry["waiting_place"].as_i64().map(|p| p.to_string()).unwrap_or_default(), "{entry}");
    }
    assert!(!asa[certificate].is_empty(), "Åsa has a certificate");
    // When Åsa was registered, in Swedish time, to the second.
    let registered = roster["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["staff_id"] == t.asa.as_str())
        .and_then(|e| e["registered_at"].as_str())
        .map(swedish_time)
        .expect("Åsa's registration time");
    assert_eq!(asa[col(&header, "Anmälningstidpunkt")], registered.format("%Y-%m-%d %H:%M:%S").to_string());

    // ----- the same roster as XLSX -----
    let xlsx_download = download(&s, &format!("/offerings/{}/roster/export?format=xlsx&{fresh}", t.grund)).await;
    let (sheet, sheet_rows) = parse_xlsx(xlsx_download.ok());
    assert_eq!(sheet, "LVU grund HT2027");
    let shown_rows: Vec<Vec<String>> = sheet_rows.iter().map(|r| r.iter().map(shown).collect()).collect();
    assert_eq!(shown_rows[0], header, "the same header");
    assert_eq!(shown_rows.len(), rows.len() + 1);
    for (xlsx_row, csv_row) in shown_rows[1..].iter().zip(&rows) {
        assert_eq!(xlsx_row, csv_row, "the same content as the CSV");
    }
    let asa_xlsx = sheet_rows.iter().find(|r| r[0] == Data::String(t.asa.clone())).expect("Åsa's row");
    assert_eq!(asa_xlsx[unit], Data::String("Öckerö barn och unga".into()));
    assert_eq!(asa_xlsx[attended], Data::Float(2.0), "numbers are numbers");
    match &asa_xlsx[col(&header, "Anmälningstidpunkt")] {
        Data::DateTime(t) => {
            assert_eq!(t.as_datetime(), Some(registered), "a real Excel date-time in Swedish time")
        }
        other => panic!("not a date-time: {other:?}"),
    }

    // As the roster stood before the deadline: everyone merely registered.
    let before = download(
        &s,
        &format!("/offerings/{}/roster/export?format=csv&as_of_position={}", t.grund, t.registered_at_position),
    )
    .await;
    let (header_then, rows_then) = parse_csv(before.ok());
    let status_then = col(&header_then, "Status");
    assert_eq!(rows_then.len(), 4, "Karin was not on it yet: {rows_then:?}");
    assert!(rows_then.iter().all(|r| r[status_then] == "anmäld"), "{rows_then:?}");

    // ----- calendars -----
    let offering_ics = format!("/offerings/{}/calendar.ics?{fresh}", t.grund);
    let first_download = download(&s, &offering_ics).await;
    let events = parse_ics(first_download.ok());
    assert_eq!(events.len(), 2, "one event per session");
    let mut sorted = events.clone();
    sorted.sort_by_key(|e| e.1);
    assert_eq!((sorted[0].1, sorted[0].2), (utc(2027, 9, 1, 6, 0), utc(2027, 9, 1, 12, 0)));
    assert_eq!((sorted[1].1, sorted[1].2), (utc(2027, 9, 8, 6, 0), utc(2027, 9, 8, 12, 0)));
    assert!(first_download.text().contains("DTSTART:20270901T060000Z"), "DTSTART in UTC");
    for (i, event) in sorted.iter().enumerate() {
        assert!(event.3.contains("LVU grund") && event.3.contains(&format!("tillfälle {}", i + 1)), "{event:?}");
        assert_eq!(event.4, "Kampenhof, Uddevalla");
        assert!(event.5.contains("Advokatbyrån Väst"), "the trainer: {event:?}");
    }
    let grund_uids = uids(&events);
    assert_eq!(grund_uids.len(), 2, "a UID per session");
    let again = parse_ics(download(&s, &offering_ics).await.ok());
    assert_eq!(uids(&again), grund_uids, "the same UIDs on the next download");

    let samtal_uids = uids(&parse_ics(download(&s, &format!("/offerings/{}/calendar.ics", t.samtal)).await.ok()));
    let trauma_uids = uids(&parse_ics(download(&s, &format!("/offerings/{}/calendar.ics", t.trauma)).await.ok()));
    assert_eq!((samtal_uids.len(), trauma_uids.len()), (1, 1));
    let staff_uids = |events: Vec<Ev>| uids(&events);
    let asa_cal = staff_uids(parse_ics(download(&s, &format!("/staff/{}/calendar.ics?{fresh}", t.asa)).await.ok()));
    assert_eq!(asa_cal, grund_uids.union(&samtal_uids).cloned().collect(), "confirmed courses only, not Trauma");
    let johan_cal = staff_uids(parse_ics(download(&s, &format!("/staff/{}/calendar.ics?{fresh}", t.johan)).await.ok()));
    assert_eq!(johan_cal, samtal_uids, "not the course Johan waits for");
    let erik_cal = staff_uids(parse_ics(download(&s, &format!("/staff/{}/calendar.ics?{fresh}", t.erik)).await.ok()));
    assert!(erik_cal.is_empty(), "not the course Erik handed over: {erik_cal:?}");
    let karin_cal = staff_uids(parse_ics(download(&s, &format!("/staff/{}/calendar.ics?{fresh}", t.karin)).await.ok()));
    assert_eq!(karin_cal, grund_uids, "the seat Karin took over");

    // A cancelled offering stays in the feed, marked cancelled, so calendars update it.
    let cancelled = s
        .post(&Actor::office(), &format!("/offerings/{}/cancel", t.trauma), json!({ "reason": "För få anmälda" }))
        .await;
    let cancelled_at = cancelled.expect(200)["position"].as_i64().expect("a position");
    let trauma_ics = download(&s, &format!("/offerings/{}/calendar.ics?min_position={cancelled_at}", t.trauma)).await;
    let trauma_events = parse_ics(trauma_ics.ok());
    assert_eq!(uids(&trauma_events), trauma_uids, "the same event, updated");
    assert!(trauma_events[0].3.starts_with("INSTÄLLT: "), "{trauma_events:?}");
    assert!(trauma_ics.text().contains("STATUS:CANCELLED"), "{}", trauma_ics.text());

    // ----- an audit extract -----
    let audit = download(&s, &format!("/audit/export?offering={}&format=csv&{fresh}", t.grund)).await;
    let (audit_header, audit_rows) = parse_csv(audit.ok());
    let (offering_col, event_col, position_col) =
        (col(&audit_header, "Kurstillfälle"), col(&audit_header, "Händelse"), col(&audit_header, "Position"));
    let json = s.read(&format!("/audit?offering={}&limit=10000&{fresh}", t.grund)).await;
    let json_positions: Vec<String> = json["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["position"].as_i64().unwrap().to_string())
        .collect();
    let csv_positions: Vec<String> = audit_rows.iter().map(|r| r[position_col].clone()).collect();
    assert_eq!(csv_positions, json_positions, "every entry GET /audit lists, in order");
    assert!(
        audit_rows.len() >= 8,
        "planned, registrations, allocation, transfer, attendance, completion: {audit_rows:?}"
    );
    assert!(audit_rows.iter().all(|r| r[offering_col] == t.grund), "only that offering's events");
    let kinds: BTreeSet<&str> = audit_rows.iter().map(|r| r[event_col].as_str()).collect();
    assert!(kinds.len() >= 4, "{kinds:?}");
    let audit_xlsx = download(&s, &format!("/audit/export?offering={}&format=xlsx&{fresh}", t.grund)).await;
    let (audit_sheet, audit_sheet_rows) = parse_xlsx(audit_xlsx.ok());
    assert_eq!(audit_sheet, "Loggutdrag");
    assert_eq!(audit_sheet_rows.len(), audit_rows.len() + 1);
    // A limited extract says where to go on.
    let limited = download(&s, &format!("/audit/export?offering={}&limit=2&{fresh}", t.grund)).await;
    let (_, limited_rows) = parse_csv(limited.ok());
    assert_eq!(limited_rows.len(), 2);
    assert_eq!(limited.next_after, csv_positions[1], "X-Next-After continues the extract");
    let rest = download(&s, &format!("/audit/export?offering={}&after={}&{fresh}", t.grund, limited.next_after)).await;
    let (_, rest_rows) = parse_csv(rest.ok());
    assert_eq!(rest_rows.len(), audit_rows.len() - 2);
    assert_eq!(rest.next_after, "", "the whole rest: nothing after it");

    // ----- refusals -----
    download(&s, &format!("/offerings/{}/roster/export?format=pdf", t.grund)).await.problem(400, "invalid_query");
    download(&s, "/audit/export?format=ods").await.problem(400, "invalid_query");
    download(&s, "/audit/export?limit=0").await.problem(400, "invalid_query");
    let nobody = uuid::Uuid::new_v4();
    download(&s, &format!("/offerings/{nobody}/roster/export?format=xlsx")).await.problem(404, "not_found");
    download(&s, &format!("/offerings/{nobody}/calendar.ics")).await.problem(404, "not_found");
    download(&s, &format!("/staff/{nobody}/calendar.ics")).await.problem(404, "not_found");
    download(&s, "/offerings/not-an-id/calendar.ics").await.problem(404, "not_found");
    let anonymous = s.request(Method::GET, &format!("/offerings/{}/roster/export", t.grund)).send().await.unwrap();
    assert_eq!(anonymous.status().as_u16(), 401, "exports need an actor like every read");

    // The OpenAPI document lists the exports.
    let doc = s.read("/openapi.json").await;
    for path in
        ["/offerings/{id}/roster/export", "/audit/export", "/offerings/{id}/calendar.ics", "/staff/{id}/calendar.ics"]
    {
        assert!(doc["paths"][path]["get"].is_object(), "{path} documented");
        assert_eq!(doc["paths"][path]["get"]["tags"], json!(["exports"]), "{path}");
    }
}

#[tokio::test]
async fn exports_and_calendars_sqlite() {
    exports(Backend::Sqlite).await;
}

#[tokio::test]
async fn exports_and_calendars_postgres() {
    exports(Backend::Postgres).await;
}
