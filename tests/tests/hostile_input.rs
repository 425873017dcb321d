//! Hostile text at the edge (issue 21, docs/decisions/0010), over HTTP on both backends:
//! every hostile value of the corpus (`kurslogg_tests::hostile`) through every text field
//! of every operation answers 422 `validation` naming the field, and writes nothing; and
//! the smaller items: paths that are not text, filters with a NUL, bodies that are not
//! objects, a `min_position` beyond the log, the last course-office user.

mod api_support;

use std::time::{Duration, Instant};

use api_support::{offering_body, staff_body, utc, Actor, Backend, Reply, TestServer};
use kurslogg_tests::hostile::{formulas, refused, with_hostile, MARK};
use reqwest::Method;
use serde_json::{json, Value};

/// One text field of one operation: where to send what, with the field to be named.
struct Field {
    actor: Actor,
    method: Method,
    path: String,
    /// The body, with [`MARK`] where the hostile value goes.
    body: Value,
    /// What the refusal's detail must name.
    named: &'static str,
    /// A field of several lines: line breaks are text there.
    prose: bool,
}

/// The fields of several lines.
const PROSE: [&str; 4] = ["description", "follow_up", "reason", "note"];

/// `body` with [`MARK`] at the JSON pointer `at`.
fn marked(mut body: Value, at: &str) -> Value {
    let shown = body.to_string();
    *body.pointer_mut(at).unwrap_or_else(|| panic!("no {at} in {shown}")) = json!(MARK);
    body
}

struct World {
    staff: String,
    package: String,
    offering: String,
    trainer: String,
}

async fn world(s: &TestServer) -> World {
    s.add_course("LVU-GRUND", "LVU grund", &[]).await;
    s.add_course("SAMTAL", "Samtal med barn", &[]).await;
    s.add_municipality("uddevalla", "Uddevalla").await;
    let staff = s.add_staff("uddevalla", "Anna Andersson").await;
    let package = s.create_package("HT2027").await;
    let offering = s.plan_offering(&package, offering_body("LVU-GRUND", 10, &[utc(2027, 9, 1, 6, 0)])).await;
    let trainer = s.user_id(&Actor::trainer()).await;
    World { staff, package, offering, trainer }
}

/// Every text field of every operation that takes one.
fn fields(w: &World) -> Vec<Field> {
    let office = Actor::office;
    let coordinator = || Actor::coordinator("uddevalla");
    let mut all = Vec::new();
    let mut add = |actor: Actor, method: Method, path: String, body: Value, at: &str, named: &'static str| {
        all.push(Field { actor, method, path, body: marked(body, at), named, prose: PROSE.contains(&named) });
    };
    let course =
        json!({ "code": "NY-KURS", "title": "Ny kurs", "description": "Om kursen.", "prerequisites": ["LVU-GRUND"] });
    for (at, named) in
        [("/code", "code"), ("/title", "title"), ("/description", "description"), ("/prerequisites/0", "prerequisites")]
    {
        add(office(), Method::POST, "/courses".into(), course.clone(), at, named);
    }
    let revision = json!({ "title": "LVU grund", "description": "Om kursen.", "prerequisites": [] });
    let revision_with = json!({ "title": "LVU grund", "description": "Om kursen.", "prerequisites": ["X"] });
    add(office(), Method::PUT, "/courses/LVU-GRUND".into(), revision.clone(), "/title", "title");
    add(office(), Method::PUT, "/courses/LVU-GRUND".into(), revision, "/description", "description");
    add(office(), Method::PUT, "/courses/LVU-GRUND".into(), revision_with, "/prerequisites/0", "prerequisites");
    let municipality = json!({ "id": "tanum", "name": "Tanum", "federation": "Fyrbodal" });
    for (at, named) in [("/id", "id"), ("/name", "name"), ("/federation", "federation")] {
        add(office(), Method::POST, "/municipalities".into(), municipality.clone(), at, named);
    }
    for path in ["/municipalities/uddevalla/roles", "/municipalities/uddevalla/roles/revoke"] {
        let role = json!({ "staff_id": w.staff, "role": "supervisor" });
        add(coordinator(), Method::POST, path.into(), role.clone(), "/staff_id", "staff_id");
        add(coordinator(), Method::POST, path.into(), role, "/role", "role");
    }
    let staff = staff_body("Berit Berg");
    for (method, path) in
        [(Method::POST, "/municipalities/uddevalla/staff".to_string()), (Method::PUT, format!("/staff/{}", w.staff))]
    {
        for (at, named) in [
            ("/name", "name"),
            ("/work_email", "work_email"),
            ("/unit", "unit"),
            ("/supervisor_id", "supervisor_id"),
            ("/staff_group", "staff_group"),
            ("/experience_band", "experience_band"),
        ] {
            add(coordinator(), method.clone(), path.clone(), staff.clone(), at, named);
        }
    }
    let lines = json!({ "lines": [{ "staff_id": w.staff, "offering_id": w.offering }] });
    let collective = "/municipalities/uddevalla/registrations".to_string();
    add(coordinator(), Method::POST, collective.clone(), lines.clone(), "/lines/0/staff_id", "lines[0].staff_id");
    add(coordinator(), Method::POST, collective, lines, "/lines/0/offering_id", "lines[0].offering_id");
    let package = json!({ "term": "VT2028", "title": "Paket", "organiser": "Fyrbodal" });
    for (at, named) in [("/term", "term"), ("/title", "title"), ("/organiser", "organiser")] {
        add(office(), Method::POST, "/packages".into(), package.clone(), at, named);
    }
    let mut offering = offering_body("LVU-GRUND", 10, &[utc(2027, 10, 1, 6, 0)]);
    offering["prerequisites"] = json!(["SAMTAL"]);
    offering["follow_up"] = json!("Följ upp på arbetsplatsträffen.");
    let planned = format!("/packages/{}/offerings", w.package);
    let revised = format!("/offerings/{}", w.offering);
    for (at, named) in [
        ("/description", "description"),
        ("/experience_bands/0", "experience_bands"),
        ("/staff_groups/0", "staff_groups"),
        ("/competence_areas/0", "competence_areas[0]"),
        ("/trainer", "trainer"),
        ("/place", "place"),
        ("/prerequisites/0", "prerequisites"),
        ("/follow_up", "follow_up"),
    ] {
        add(office(), Method::POST, planned.clone(), offering.clone(), at, named);
        add(office(), Method::PUT, revised.clone(), offering.clone(), at, named);
    }
    add(office(), Method::POST, planned, offering, "/course", "course");
    let reason = json!({ "reason": "Skäl" });
    let o = &w.offering;
    add(office(), Method::POST, format!("/offerings/{o}/cancel"), reason.clone(), "/reason", "reason");
    add(
        office(),
        Method::POST,
        format!("/offerings/{o}/certificates/{}/withdraw", w.staff),
        reason.clone(),
        "/reason",
        "reason",
    );
    add(office(), Method::POST, format!("/staff/{}/erase", w.staff), reason.clone(), "/reason", "reason");
    add(office(), Method::POST, format!("/outbox/{o}/resend"), reason, "/reason", "reason");
    add(
        coordinator(),
        Method::POST,
        format!("/offerings/{o}/registrations"),
        json!({ "staff_id": w.staff }),
        "/staff_id",
        "staff_id",
    );
    let transfer = json!({ "to_staff_id": w.staff });
    add(
        coordinator(),
        Method::POST,
        format!("/offerings/{o}/registrations/{}/transfer", w.staff),
        transfer,
        "/to_staff_id",
        "to_staff_id",
    );
    for path in [format!("/offerings/{o}/trainers"), format!("/offerings/{o}/trainers/remove")] {
        add(office(), Method::POST, path, json!({ "user_id": w.trainer }), "/user_id", "user_id");
    }
    let attendance = json!({ "staff_id": w.staff, "session": 0, "attendance": "present", "note": "Kom sent." });
    for (at, named) in [("/staff_id", "staff_id"), ("/attendance", "attendance"), ("/note", "note")] {
        add(office(), Method::POST, format!("/offerings/{o}/attendance"), attendance.clone(), at, named);
    }
    let user = json!({ "login": "ny@fyrbodal.se", "display_name": "Ny Användare", "role": "trainer" });
    for (at, named) in [("/login", "login"), ("/display_name", "display_name"), ("/role", "role")] {
        add(office(), Method::POST, "/users".into(), user.clone(), at, named);
    }
    let user_in = json!({ "login": "ny@fyrbodal.se", "display_name": "Ny", "role": "participant", "municipality": "uddevalla", "staff_id": w.staff });
    add(office(), Method::POST, "/users".into(), user_in.clone(), "/municipality", "municipality");
    add(office(), Method::POST, "/users".into(), user_in, "/staff_id", "staff_id");
    add(office(), Method::POST, "/auth/tokens".into(), json!({ "label": "kalender" }), "/label", "label");
    add(
        office(),
        Method::POST,
        format!("/users/{}/tokens", w.trainer),
        json!({ "label": "kalender" }),
        "/label",
        "label",
    );
    all
}

/// What a refused request must leave as it was: events, users, tokens.
async fn written(s: &TestServer) -> (i64, Vec<String>) {
    let counts = s
        .texts(
            "SELECT CAST(count(*) AS text) FROM users UNION ALL SELECT CAST(count(*) AS text) FROM api_tokens \
             UNION ALL SELECT CAST(count(*) AS text) FROM outbox",
        )
        .await;
    (s.event_count().await, counts)
}

async fn send_text(s: &TestServer, actor: &Actor, method: Method, path: &str, body: String) -> Reply {
    let request = s.as_actor(actor, method, path).await.header("content-type", "application/json").body(body);
    s.send(request).await
}

async fn every_text_field_refuses_hostile_text_by_name(backend: Backend) {
    let Some(s) = TestServer::start(backend).await else { return };
    let w = world(&s).await;
    let fields = fields(&w);
    let corpus = refused();
    // Every account exists before the counts are taken.
    for actor in [Actor::office(), Actor::coordinator("uddevalla")] {
        s.account(&actor).await;
    }
    let before = written(&s).await;
    let mut failures = Vec::new();
    let mut sent = 0;
    for field in &fields {
        for hostile in corpus.iter().filter(|h| !(field.prose && h.only_line_breaks)) {
            sent += 1;
            let reply =
                send_text(&s, &field.actor, field.method.clone(), &field.path, with_hostile(&field.body, hostile))
                    .await;
            let detail = reply.json["detail"].as_str().unwrap_or_default();
            let ok = reply.status == 422
                && reply.json["code"] == "validation"
                && reply.content_type() == "application/problem+json"
                && detail.starts_with(field.named);
            if !ok {
                failures.push(format!(
                    "{} {} {} with {}: {} {}",
                    field.method, field.path, field.named, hostile.label, reply.status, reply.text
                ));
            }
        }
    }
    assert!(sent > 1_000, "the corpus went through every field: {sent} requests");
    assert!(
        failures.is_empty(),
        "{} of {} refusals were not 422 naming the field:\n{}",
        failures.len(),
        sent,
        failures.join("\n")
    );
    assert_eq!(written(&s).await, before, "a refused request wrote something");

    // The login: a NUL or a line break is refused as such (422), not looked up (503).
    for hostile in &corpus {
        let body = with_hostile(&json!({ "login": MARK, "password": "ett långt lösenord" }), hostile);
        let request = s.request(Method::POST, "/auth/login").header("content-type", "application/json").body(body);
        let reply = s.send(request).await;
        assert_eq!(reply.status, 422, "login with {}: {}", hostile.label, reply.text);
        assert!(reply.json["detail"].as_str().unwrap_or_default().starts_with("login"), "{}", reply.text);
    }
}

/// The login page says a login with a line break or a NUL is no login (422), and shows
/// what was typed as one line; nothing is looked up.
#[tokio::test]
async fn the_login_page_refuses_a_login_that_is_not_one_line() {
    let Some(s) = TestServer::start(Backend::Postgres).await else { return };
    for login in ["anna\u{0}@fyrbodal.se", "anna@fyrbodal.se\r\nX-Injected: 1"] {
        let form = [("login", login), ("password", "ett långt lösenord")];
        let reply = s.send(s.request(Method::POST, "/logga-in").form(&form)).await;
        assert_eq!(reply.status, 422, "{}", reply.text);
        assert!(reply.text.contains("en rad utan mellanslag, radbrytningar eller andra"), "{}", reply.text);
        assert!(!reply.text.contains('\u{0}') && !reply.text.contains("\r\nX-Injected"), "{}", reply.text);
    }
}

#[tokio::test]
async fn every_text_field_refuses_hostile_text_by_name_sqlite() {
    every_text_field_refuses_hostile_text_by_name(Backend::Sqlite).await;
}

#[tokio::test]
async fn every_text_field_refuses_hostile_text_by_name_postgres() {
    every_text_field_refuses_hostile_text_by_name(Backend::Postgres).await;
}

/// Swedish reasons, a field kept as NFC, and the line between a title (which may look
/// like a formula: the exports defuse it) and a name (which begins with a letter).
async fn text_is_kept_normalised_and_names_are_names(backend: Backend) {
    let Some(s) = TestServer::start(backend).await else { return };
    let office = Actor::office();
    s.add_municipality("uddevalla", "Uddevalla").await;
    let reply =
        s.post(&office, "/courses", json!({ "code": "K1", "title": "Rad ett\nrad två", "description": "x" })).await;
    reply.problem(422, "validation");
    assert_eq!(
        reply.str("detail"),
        "title: får inte innehålla radbrytningar, tabbar eller andra styrtecken (U+000A, tecken 8)"
    );
    for (i, formula) in formulas().into_iter().enumerate() {
        let code = format!("F{i}");
        let body = json!({ "code": code, "title": formula, "description": formula });
        s.post(&office, "/courses", body).await.expect(201);
        let mut staff = staff_body("Formel Person");
        staff["name"] = json!(formula);
        let reply = s.post(&Actor::coordinator("uddevalla"), "/municipalities/uddevalla/staff", staff).await;
        reply.problem(422, "validation");
        assert!(reply.str("detail").starts_with("name: ett namn"), "{}", reply.text);
    }
    // Decomposed (NFD) letters are kept composed; a description keeps its line breaks as LF.
    let body = json!({ "code": "NFD", "title": "A\u{30A}sa\u{308}", "description": "Rad ett\r\nrad två\rrad tre" });
    s.post(&office, "/courses", body).await.expect(201);
    let course = s.read("/courses/NFD").await;
    assert_eq!(course["title"], "Åsä");
    assert_eq!(course["description"], "Rad ett\nrad två\nrad tre");
    let id = s.add_staff("uddevalla", "Åsa O'Neil-Öberg").await;
    assert_eq!(s.read(&format!("/staff/{id}")).await["name"], "Åsa O'Neil-Öberg");
}

#[tokio::test]
async fn text_is_kept_normalised_and_names_are_names_sqlite() {
    text_is_kept_normalised_and_names_are_names(Backend::Sqlite).await;
}

#[tokio::test]
async fn text_is_kept_normalised_and_names_are_names_postgres() {
    text_is_kept_normalised_and_names_are_names(Backend::Postgres).await;
}

/// Paths that are not text, filters with a NUL or a line break, bodies that are not
/// objects, a position beyond the log, and the last course-office user: each a clear 4xx
/// problem document, at once, with nothing written.
async fn the_smaller_edges_answer_with_problems(backend: Backend) {
    let Some(s) = TestServer::start(backend).await else { return };
    let office = Actor::office();
    let w = world(&s).await;

    // A path segment that is not UTF-8: a problem document, not axum's plain text.
    for path in ["/staff/%FF/record", "/courses/%C3%28", "/offerings/%ED%A0%80/roster"] {
        s.get(&office, path).await.problem(400, "invalid_path");
    }
    // A control character in a path: no id can hold one (and PostgreSQL is never asked).
    for path in ["/users/%00", "/outbox/%00", "/staff/abc%0Adef", "/courses/LVU%00GRUND", "/auth/tokens/%00/revoke"] {
        let reply =
            if path.ends_with("revoke") { s.post(&office, path, json!({})).await } else { s.get(&office, path).await };
        reply.problem(404, "not_found");
    }
    // A filter with a NUL or a line break: 422 naming it.
    for (path, named) in [
        ("/audit?actor=%00", "actor"),
        ("/outbox?recipient=a%0Ab", "recipient"),
        ("/outbox?kind=%00", "kind"),
        ("/security-log?kind=%00", "kind"),
        ("/security-log?user_id=x%00", "user_id"),
        ("/statistics?group_by=%00", "group_by"),
        ("/costs?term=%FF", "term"),
    ] {
        let reply = s.get(&office, path).await;
        reply.problem(422, "validation");
        assert!(reply.str("detail").starts_with(named), "{path}: {}", reply.text);
    }

    // A command that takes no body takes nothing or {}, not [] (nor any other non-object).
    let before = s.event_count().await;
    let publish = format!("/packages/{}/publish", w.package);
    for body in ["[]", "[{}]", "null", "\"\"", "0"] {
        send_text(&s, &office, Method::POST, &publish, body.into()).await.problem(422, "validation");
    }
    let course = r#"["ARRAY", "Som lista", "Fält i ordning", []]"#;
    send_text(&s, &office, Method::POST, "/courses", course.into()).await.problem(422, "validation");
    assert_eq!(s.event_count().await, before, "nothing written");
    send_text(&s, &office, Method::POST, &publish, "{}".into()).await.expect(200);
    let pause = s.as_actor(&Actor::coordinator("uddevalla"), Method::POST, &format!("/staff/{}/pause", w.staff)).await;
    s.send(pause).await.expect(200);

    // A position beyond the log answers at once, not after 5 s with a 503.
    let started = Instant::now();
    let reply = s.get(&office, &format!("/offerings/{}/roster?min_position=999999", w.offering)).await;
    reply.problem(400, "invalid_query");
    assert!(reply.str("detail").contains("beyond the end of the log"), "{}", reply.text);
    assert!(started.elapsed() < Duration::from_secs(2), "answered at once: {:?}", started.elapsed());
    let position = s.event_count().await;
    s.get(&office, &format!("/offerings/{}/roster?min_position={position}", w.offering)).await.expect(200);

    // The only active course-office user cannot disable itself.
    let me = s.user_id(&office).await;
    let reply = s.post(&office, &format!("/users/{me}/disable"), json!({})).await;
    reply.problem(422, "last_course_office");
    assert!(reply.str("detail").contains("enda aktiva"), "a Swedish reason: {}", reply.text);
    assert!(s.get(&office, "/auth/me").await.expect(200)["disabled_at"].is_null(), "still active");
    // With a second one, either may go; the last one left may not.
    let second = s
        .post(
            &office,
            "/users",
            json!({ "login": "kansliet2@fyrbodal.se", "display_name": "Kansliet två", "role": "course_office" }),
        )
        .await;
    let second = second.expect(201)["user_id"].as_str().expect("user id").to_string();
    s.post(&office, &format!("/users/{second}/disable"), json!({})).await.expect(200);
    s.post(&office, &format!("/users/{me}/disable"), json!({})).await.problem(422, "last_course_office");
}

#[tokio::test]
async fn the_smaller_edges_answer_with_problems_sqlite() {
    the_smaller_edges_answer_with_problems(Backend::Sqlite).await;
}

#[tokio::test]
async fn the_smaller_edges_answer_with_problems_postgres() {
    the_smaller_edges_answer_with_problems(Backend::Postgres).await;
}
