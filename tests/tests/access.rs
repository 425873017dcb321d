//! Who may see and do what (issue 6), over HTTP on both backends: every endpoint × every
//! role × own/other municipality, and logging in, tokens, sessions and the security log.

mod api_support;

use api_support::{offering_body, staff_body, utc, Actor, Backend, Reply, TestServer};
use reqwest::Method;
use serde_json::{json, Value};

/// Two municipalities; in Uddevalla a supervisor (Stina) and her staff member Anna; in
/// Tanum Erik. Anna and Erik are on LVU grund, whose trainer is assigned; Samtal has none.
struct World {
    package: String,
    grund: String,
    samtal: String,
    stina: String,
    anna: String,
    erik: String,
}

const ANNA: &str = "Anna Andersson";
const ERIK: &str = "Erik Berg";

async fn add_staff(s: &TestServer, municipality: &str, name: &str, supervisor: Option<&str>) -> String {
    let mut body = staff_body(name);
    body["supervisor_id"] = json!(supervisor);
    let reply = s.post(&Actor::coordinator(municipality), &format!("/municipalities/{municipality}/staff"), body).await;
    reply.expect(201);
    reply.str("id")
}

async fn world(s: &TestServer) -> World {
    s.add_course("LVU-GRUND", "LVU grund", &[]).await;
    s.add_course("SAMTAL", "Samtal med barn", &[]).await;
    s.add_municipality("uddevalla", "Uddevalla").await;
    s.add_municipality("tanum", "Tanum").await;
    let stina = add_staff(s, "uddevalla", "Stina Chef", None).await;
    let anna = add_staff(s, "uddevalla", ANNA, Some(&stina)).await;
    let erik = add_staff(s, "tanum", ERIK, None).await;
    let package = s.create_package("HT2027").await;
    let grund = s.plan_offering(&package, offering_body("LVU-GRUND", 5, &[utc(2027, 9, 1, 6, 0)])).await;
    let samtal = s.plan_offering(&package, offering_body("SAMTAL", 5, &[utc(2027, 10, 5, 6, 0)])).await;
    s.assign_trainer(&grund).await;
    s.post(&Actor::office(), &format!("/packages/{package}/publish"), json!({})).await.expect(200);
    for (m, staff) in [("uddevalla", &anna), ("tanum", &erik)] {
        let path = format!("/offerings/{grund}/registrations");
        s.post(&Actor::coordinator(m), &path, json!({ "staff_id": staff })).await.expect(200);
    }
    World { package, grund, samtal, stina, anna, erik }
}

/// Who asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Office,
    Auditor,
    /// Uddevalla's coordinator: Anna's own.
    OwnCoordinator,
    /// Tanum's coordinator: Anna is another municipality's.
    OtherCoordinator,
    /// Stina, Anna's supervisor.
    Supervisor,
    /// The trainer of LVU grund (not of Samtal).
    Trainer,
    /// Anna herself.
    Participant,
    Nobody,
}

const EVERYONE: [Who; 8] = [
    Who::Office,
    Who::Auditor,
    Who::OwnCoordinator,
    Who::OtherCoordinator,
    Who::Supervisor,
    Who::Trainer,
    Who::Participant,
    Who::Nobody,
];

fn actor(w: &World, who: Who) -> Option<Actor> {
    match who {
        Who::Office => Some(Actor::office()),
        Who::Auditor => Some(Actor::auditor()),
        Who::OwnCoordinator => Some(Actor::coordinator("uddevalla")),
        Who::OtherCoordinator => Some(Actor::coordinator("tanum")),
        Who::Supervisor => Some(Actor::supervisor("uddevalla", &w.stina)),
        Who::Trainer => Some(Actor::trainer()),
        Who::Participant => Some(Actor::participant("uddevalla", &w.anna)),
        Who::Nobody => None,
    }
}

async fn send(s: &TestServer, w: &World, who: Who, method: Method, path: &str, body: Option<&Value>) -> Reply {
    let request = match actor(w, who) {
        Some(a) => s.as_actor(&a, method, path).await,
        None => s.request(method, path),
    };
    let request = match body {
        Some(body) => request.json(body),
        None => request,
    };
    s.send(request).await
}

/// What an answer must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// 2xx.
    Allowed,
    /// 403.
    Forbidden,
    /// 404: the person's existence must not leak.
    Hidden,
}

use Expect::{Allowed, Forbidden, Hidden};

/// A read and what each role gets.
struct Read {
    path: String,
    rule: fn(Who) -> Expect,
}

fn everyone(_: Who) -> Expect {
    Allowed
}

fn anna_readers(who: Who) -> Expect {
    match who {
        Who::Office | Who::Auditor | Who::OwnCoordinator | Who::Supervisor | Who::Participant => Allowed,
        _ => Hidden,
    }
}

/// Anna's certificates as PDF (decision 0019): her readers less the auditors; no trainer.
fn annas_certificates(who: Who) -> Expect {
    match who {
        Who::Auditor | Who::Trainer => Forbidden,
        other => anna_readers(other),
    }
}

fn supervisor_overview(who: Who) -> Expect {
    match who {
        Who::Participant => Forbidden,
        other => anna_readers(other),
    }
}

/// A person's letters: they themselves, the course office and auditors. Their
/// coordinator and supervisor, who may see the person, do not read their mail.
fn annas_letters(who: Who) -> Expect {
    match who {
        Who::Office | Who::Auditor | Who::Participant => Allowed,
        _ => Hidden,
    }
}

/// Stina's own letters (her after-course summaries): Anna, her staff member, is no reader.
fn stinas_letters(who: Who) -> Expect {
    match who {
        Who::Office | Who::Auditor | Who::Supervisor => Allowed,
        _ => Hidden,
    }
}

fn roster_of_grund(who: Who) -> Expect {
    match who {
        Who::Participant => Forbidden,
        _ => Allowed,
    }
}

fn roster_of_samtal(who: Who) -> Expect {
    match who {
        Who::Participant | Who::Trainer => Forbidden,
        _ => Allowed,
    }
}

fn uddevalla_pages(who: Who) -> Expect {
    match who {
        Who::Office | Who::Auditor | Who::OwnCoordinator => Allowed,
        _ => Forbidden,
    }
}

fn counts(who: Who) -> Expect {
    match who {
        Who::Office | Who::Auditor | Who::OwnCoordinator | Who::OtherCoordinator => Allowed,
        _ => Forbidden,
    }
}

fn everything(who: Who) -> Expect {
    match who {
        Who::Office | Who::Auditor => Allowed,
        _ => Forbidden,
    }
}

fn reads(w: &World) -> Vec<Read> {
    let (p, g, sm, stina, anna) = (&w.package, &w.grund, &w.samtal, &w.stina, &w.anna);
    let read = |path: String, rule: fn(Who) -> Expect| Read { path, rule };
    vec![
        read("/courses/LVU-GRUND".into(), everyone),
        read("/courses".into(), everyone),
        read("/packages?term=HT2027".into(), everyone),
        read(format!("/packages/{p}/offerings"), everyone),
        read("/municipalities/uddevalla/staff".into(), uddevalla_pages),
        read("/municipalities/uddevalla/staff?status=active&as_of=2030-01-01T00:00:00Z".into(), uddevalla_pages),
        read(format!("/municipalities/uddevalla/registrations?package={p}"), uddevalla_pages),
        read(format!("/staff/{stina}/supervised-staff"), supervisor_overview),
        read(format!("/staff/{stina}/supervised-staff?status=active"), supervisor_overview),
        read(format!("/packages/{p}"), everyone),
        read(format!("/offerings/{g}"), everyone),
        read(format!("/offerings/{g}/calendar.ics"), everyone),
        read(format!("/offerings/{g}/roster"), roster_of_grund),
        read(format!("/offerings/{g}/roster?as_of=2030-01-01T00:00:00Z"), roster_of_grund),
        read(format!("/offerings/{g}/roster/export?format=csv"), roster_of_grund),
        read(format!("/offerings/{sm}/roster"), roster_of_samtal),
        read(format!("/staff/{anna}"), anna_readers),
        read(format!("/staff/{anna}/record"), anna_readers),
        read(format!("/staff/{anna}/record?as_of=2030-01-01T00:00:00Z"), anna_readers),
        read(format!("/staff/{anna}/competence"), anna_readers),
        read(format!("/staff/{anna}/competence?as_of=2030-01-01T00:00:00Z"), anna_readers),
        read("/competence-plans?federation=fyrbodal".into(), everyone),
        read(format!("/staff/{anna}/registrations"), anna_readers),
        read(format!("/staff/{anna}/calendar.ics"), anna_readers),
        read(format!("/staff/{anna}/certificates.pdf"), annas_certificates),
        read(format!("/staff/{stina}/supervised"), supervisor_overview),
        read(format!("/staff/{anna}/letters"), annas_letters),
        read(format!("/staff/{anna}/letters?kind=course_summary&limit=5"), annas_letters),
        read(format!("/staff/{stina}/letters"), stinas_letters),
        read("/municipalities/uddevalla".into(), uddevalla_pages),
        read("/municipalities/uddevalla/costs?term=HT2027".into(), uddevalla_pages),
        read("/costs?term=HT2027".into(), counts),
        read("/costs/export?term=HT2027&format=csv".into(), counts),
        read("/statistics?group_by=municipality".into(), counts),
        read("/statistics/export?format=csv".into(), counts),
        read("/statistics/charts/participants-per-year.svg".into(), counts),
        read(format!("/packages/{p}/deadline-overview"), counts),
        read("/audit?limit=1000".into(), everything),
        read("/audit?limit=1000&as_of=2030-01-01T00:00:00Z".into(), everything),
        read("/audit/export?format=csv".into(), everything),
        read("/outbox".into(), everything),
        read("/users".into(), everything),
        read("/security-log".into(), everything),
    ]
}

/// What `who` must never see in any answer: the other municipality's people (ids and
/// names); for a supervisor, anyone not theirs.
fn not_theirs(w: &World, who: Who) -> Vec<String> {
    match who {
        Who::OwnCoordinator | Who::Supervisor | Who::Participant => vec![w.erik.clone(), ERIK.into()],
        Who::OtherCoordinator => vec![w.anna.clone(), ANNA.into(), w.stina.clone()],
        _ => vec![],
    }
}

async fn reads_are_confined(backend: Backend) {
    let Some(s) = TestServer::start(backend).await else { return };
    let w = world(&s).await;
    // Wait until the views have the registrations.
    let position = s.post(&Actor::office(), "/courses", json!({ "code": "X", "title": "X", "description": "X" })).await;
    let position = position.expect(201)["position"].as_i64().expect("position");
    s.read(&format!("/offerings/{}/roster?min_position={position}", w.grund)).await;
    let mut checked = 0;
    for read in reads(&w) {
        for who in EVERYONE {
            let reply = send(&s, &w, who, Method::GET, &read.path, None).await;
            let context = format!("{who:?} GET {}: {} {}", read.path, reply.status, reply.text);
            if who == Who::Nobody {
                assert_eq!(reply.status, 401, "{context}");
                continue;
            }
            match (read.rule)(who) {
                Allowed => assert!((200..300).contains(&reply.status), "{context}"),
                Forbidden => assert_eq!(reply.status, 403, "{context}"),
                Hidden => assert_eq!(reply.status, 404, "{context}"),
            }
            for secret in not_theirs(&w, who) {
                assert!(!reply.text.contains(&secret), "{context}\nshows {secret}");
            }
            checked += 1;
        }
    }
    assert!(checked > 150, "the matrix ran: {checked}");

    // What the allowed get is really theirs: the own coordinator sees Anna on the roster,
    // the other coordinator sees Erik, a supervisor sees Anna; cost lines likewise.
    let roster = format!("/offerings/{}/roster", w.grund);
    let ids = |reply: &Reply| -> Vec<String> {
        reply.json["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .map(|e| e["staff_id"].as_str().unwrap().into())
            .collect()
    };
    assert_eq!(ids(&send(&s, &w, Who::OwnCoordinator, Method::GET, &roster, None).await), vec![w.anna.clone()]);
    assert_eq!(ids(&send(&s, &w, Who::OtherCoordinator, Method::GET, &roster, None).await), vec![w.erik.clone()]);
    assert_eq!(ids(&send(&s, &w, Who::Supervisor, Method::GET, &roster, None).await), vec![w.anna.clone()]);
    assert_eq!(ids(&send(&s, &w, Who::Trainer, Method::GET, &roster, None).await).len(), 2);
    assert_eq!(ids(&send(&s, &w, Who::Office, Method::GET, &roster, None).await).len(), 2);
    let record = send(&s, &w, Who::Participant, Method::GET, &format!("/staff/{}", w.anna), None).await;
    assert_eq!(record.expect(200)["name"], ANNA);
    // A coordinator asking for another municipality's costs by name is refused.
    let theirs = send(&s, &w, Who::OwnCoordinator, Method::GET, "/costs?term=HT2027&municipality=tanum", None).await;
    theirs.problem(403, "forbidden");

    // Every read of a person's record is in the security log: who, whose, when.
    let log = s.read(&format!("/security-log?kind=person_read&staff_id={}&limit=1000", w.anna)).await;
    let readers: Vec<&str> = log.as_array().unwrap().iter().map(|e| e["actor_id"].as_str().unwrap()).collect();
    for who in [Who::Office, Who::OwnCoordinator, Who::Supervisor, Who::Participant] {
        let id = s.user_id(&actor(&w, who).unwrap()).await;
        assert!(readers.contains(&id.as_str()), "{who:?} reading Anna's record is logged: {log}");
    }
    let other = s.user_id(&Actor::coordinator("tanum")).await;
    assert!(!readers.contains(&other.as_str()), "a refused read is no read: {log}");
    assert!(log[0]["at"].as_str().is_some_and(|at| at.starts_with("20")), "{log}");
}

#[tokio::test]
async fn reads_are_confined_sqlite() {
    reads_are_confined(Backend::Sqlite).await;
}

#[tokio::test]
async fn reads_are_confined_postgres() {
    reads_are_confined(Backend::Postgres).await;
}

/// A write and who may make it.
struct Write {
    method: Method,
    path: String,
    body: Value,
    allowed: &'static [Who],
    /// About a person of Uddevalla acted on directly: to Tanum's coordinator, not there.
    hidden_from_other: bool,
}

fn writes(w: &World) -> Vec<Write> {
    use Who::*;
    let (p, g, sm, anna, erik) = (&w.package, &w.grund, &w.samtal, &w.anna, &w.erik);
    let office: &'static [Who] = &[Office];
    let own: &'static [Who] = &[Office, OwnCoordinator];
    let teaching: &'static [Who] = &[Office, Trainer];
    let write = |method: Method, path: String, body: Value, allowed: &'static [Who]| Write {
        method,
        path,
        body,
        allowed,
        hidden_from_other: false,
    };
    let about_anna =
        |method: Method, path: String, body: Value| Write { hidden_from_other: true, ..write(method, path, body, own) };
    let course = json!({ "code": "NY", "title": "Ny", "description": "Ny kurs." });
    let user = json!({ "login": "ny@fyrbodal.se", "display_name": "Ny", "role": "auditor" });
    vec![
        write(Method::POST, "/courses".into(), course.clone(), office),
        write(Method::PUT, "/courses/LVU-GRUND".into(), json!({ "title": "LVU", "description": "LVU." }), office),
        write(
            Method::POST,
            "/municipalities".into(),
            json!({ "id": "orust", "name": "Orust", "federation": "Fyrbodal" }),
            office,
        ),
        write(Method::POST, "/municipalities/uddevalla/staff".into(), staff_body("Ny Person"), own),
        write(
            Method::POST,
            "/municipalities/uddevalla/roles".into(),
            json!({ "staff_id": anna, "role": "supervisor" }),
            own,
        ),
        write(
            Method::POST,
            "/municipalities/uddevalla/registrations".into(),
            json!({ "lines": [{ "staff_id": anna, "offering_id": sm }] }),
            own,
        ),
        about_anna(Method::PUT, format!("/staff/{anna}"), staff_body(ANNA)),
        about_anna(Method::POST, format!("/staff/{anna}/pause"), json!({})),
        about_anna(Method::POST, format!("/staff/{anna}/remove"), json!({})),
        write(Method::POST, "/packages".into(), json!({ "term": "VT2028", "title": "P", "organiser": "O" }), office),
        write(Method::POST, format!("/packages/{p}/deadline"), json!({ "deadline": "2027-06-20T21:59:00Z" }), office),
        write(Method::POST, format!("/packages/{p}/close-registration"), json!({}), office),
        write(Method::POST, format!("/packages/{p}/archive"), json!({}), office),
        write(Method::POST, format!("/offerings/{g}/seat-limit"), json!({ "seat_limit": 9 }), office),
        write(Method::POST, format!("/offerings/{g}/cancel"), json!({ "reason": "Inställd." }), office),
        write(Method::POST, format!("/offerings/{g}/complete"), json!({}), office),
        write(Method::POST, format!("/offerings/{g}/trainers"), json!({ "user_id": "x" }), office),
        about_anna(Method::POST, format!("/offerings/{sm}/registrations"), json!({ "staff_id": anna })),
        about_anna(Method::POST, format!("/offerings/{g}/registrations/{anna}/cancel"), json!({})),
        about_anna(
            Method::POST,
            format!("/offerings/{g}/registrations/{anna}/transfer"),
            json!({ "to_staff_id": erik }),
        ),
        write(
            Method::POST,
            format!("/offerings/{g}/attendance"),
            json!({ "staff_id": anna, "session": 0, "attendance": "present" }),
            teaching,
        ),
        write(
            Method::POST,
            format!("/offerings/{sm}/attendance"),
            json!({ "staff_id": anna, "session": 0, "attendance": "present" }),
            office,
        ),
        write(
            Method::POST,
            format!("/offerings/{g}/certificates/{anna}/withdraw"),
            json!({ "reason": "Fel." }),
            office,
        ),
        write(Method::POST, format!("/outbox/{}/resend", uuid::Uuid::new_v4()), json!({ "reason": "Igen." }), office),
        write(Method::POST, "/users".into(), user, office),
        write(
            Method::PUT,
            "/competence-plans/fyrbodal-2027".into(),
            json!({ "bands": [{ "band": "new0_to2", "courses": ["LVU-GRUND"] }] }),
            office,
        ),
    ]
}

/// Every write refused to every role that may not make it: 401 without credentials,
/// 404 where the person belongs to another municipality, otherwise 403; and nothing
/// written.
async fn writes_are_refused_to_others(backend: Backend) {
    let Some(s) = TestServer::start(backend).await else { return };
    let w = world(&s).await;
    // Make every account first: creating one is not a write to the log.
    for who in EVERYONE {
        if let Some(a) = actor(&w, who) {
            s.account(&a).await;
        }
    }
    let events = s.event_count().await;
    let users = s.texts("SELECT user_id FROM users").await.len();
    let mut refused = 0;
    for write in writes(&w) {
        for who in EVERYONE.into_iter().filter(|who| !write.allowed.contains(who)) {
            let reply = send(&s, &w, who, write.method.clone(), &write.path, Some(&write.body)).await;
            let context = format!("{who:?} {} {}: {} {}", write.method, write.path, reply.status, reply.text);
            match who {
                Who::Nobody => assert_eq!(reply.status, 401, "{context}"),
                Who::OtherCoordinator if write.hidden_from_other => assert_eq!(reply.status, 404, "{context}"),
                _ => assert_eq!(reply.status, 403, "{context}"),
            }
            refused += 1;
        }
    }
    assert!(refused > 120, "the matrix ran: {refused}");
    assert_eq!(s.event_count().await, events, "a refused write wrote nothing");
    assert_eq!(s.texts("SELECT user_id FROM users").await.len(), users, "no user was created");

    // The same writes go through for those who may make them (a sample that changes
    // little): the recorded actor is the authenticated user, never a claimed header.
    s.clock.set(utc(2027, 6, 16, 8, 0));
    s.post(&Actor::office(), &format!("/packages/{}/close-registration", w.package), json!({})).await.expect(200);
    let attendance = json!({ "staff_id": w.anna, "session": 0, "attendance": "present" });
    s.clock.set(utc(2027, 9, 1, 13, 0));
    let path = format!("/offerings/{}/attendance", w.grund);
    let reply = send(&s, &w, Who::Trainer, Method::POST, &path, Some(&attendance)).await;
    let position = reply.expect(200)["position"].as_i64().unwrap();
    let trainer = s.user_id(&Actor::trainer()).await;
    let trail = s.read(&format!("/audit?min_position={position}&offering={}&limit=1000", w.grund)).await;
    let entry = trail["entries"].as_array().unwrap().iter().find(|e| e["event_type"] == "AttendanceRecorded").unwrap();
    assert_eq!(entry["actor_id"], trainer.as_str());
    assert_eq!(entry["actor_role"], "trainer");
}

#[tokio::test]
async fn writes_are_refused_to_others_sqlite() {
    writes_are_refused_to_others(Backend::Sqlite).await;
}

#[tokio::test]
async fn writes_are_refused_to_others_postgres() {
    writes_are_refused_to_others(Backend::Postgres).await;
}

fn cookie_of(reply: &Reply) -> String {
    let set = reply.headers["set-cookie"].to_str().expect("text");
    set.split(';').next().expect("name=value").to_string()
}

/// Passwords, sessions, CSRF, tokens, revocation, disabling, the lock on repeated
/// failures, and the security log.
async fn logging_in(backend: Backend) {
    let Some(s) = TestServer::start(backend).await else { return };
    let office = Actor::office();
    s.add_municipality("uddevalla", "Uddevalla").await;
    let body = json!({
        "login": "Samordnare@Uddevalla.se", "display_name": "Samordnaren", "role": "coordinator",
        "municipality": "uddevalla", "password": "ett långt lösenord",
    });
    let created = s.post(&office, "/users", body.clone()).await;
    let user_id = created.expect(201)["user_id"].as_str().unwrap().to_string();
    assert_eq!(created.json["login"], "samordnare@uddevalla.se", "logins are compared in lower case");
    s.post(&office, "/users", body).await.problem(409, "conflict");
    let bad = json!({ "login": "x", "display_name": "X", "role": "coordinator", "password": "ett långt lösenord" });
    s.post(&office, "/users", bad).await.problem(422, "validation");
    let short = json!({ "login": "y", "display_name": "Y", "role": "auditor", "password": "kort" });
    s.post(&office, "/users", short).await.problem(422, "validation");

    // Passwords are stored as Argon2id hashes only.
    let hashes = s.texts(&format!("SELECT password_hash FROM users WHERE user_id = '{user_id}'")).await;
    assert!(hashes[0].starts_with("$argon2id$") && !hashes[0].contains("lösenord"), "{hashes:?}");

    // A session: an HttpOnly, SameSite=Strict, Secure cookie; changes need the CSRF token.
    let login = |password: &str| {
        s.request(Method::POST, "/auth/login")
            .json(&json!({ "login": "samordnare@uddevalla.se", "password": password }))
    };
    let reply = s.send(login("ett långt lösenord")).await;
    let csrf = reply.expect(200)["csrf_token"].as_str().unwrap().to_string();
    let set_cookie = reply.headers["set-cookie"].to_str().unwrap().to_string();
    for flag in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
        assert!(set_cookie.contains(flag), "{flag} in {set_cookie}");
    }
    let cookie = cookie_of(&reply);
    let me = s.send(s.request(Method::GET, "/auth/me").header("Cookie", &cookie)).await;
    assert_eq!(me.expect(200)["user_id"], user_id.as_str());
    assert_eq!(me.json["role"], "coordinator");
    let staff =
        || s.request(Method::POST, "/municipalities/uddevalla/staff").header("Cookie", &cookie).json(&staff_body("Ny"));
    s.send(staff()).await.problem(403, "csrf");
    let added = s.send(staff().header("X-CSRF-Token", "fel")).await;
    added.problem(403, "csrf");
    let added = s.send(staff().header("X-CSRF-Token", &csrf)).await;
    let position = added.expect(201)["position"].as_i64().unwrap();
    let trail = s.read(&format!("/audit?min_position={position}&actor={user_id}")).await;
    assert_eq!(trail["entries"][0]["actor_id"], user_id.as_str(), "the session's user is the actor: {trail}");
    assert_eq!(trail["entries"][0]["on_behalf_of"], "uddevalla");
    let out = s.send(s.request(Method::POST, "/auth/logout").header("Cookie", &cookie)).await;
    assert_eq!(out.status, 204);
    s.send(s.request(Method::GET, "/auth/me").header("Cookie", &cookie)).await.problem(401, "unauthenticated");

    // Personal tokens: made by the user, shown once, stored hashed, revocable.
    let (_, office_token) = s.account(&office).await;
    let again = s.send(login("ett långt lösenord")).await;
    let (session, csrf) = (cookie_of(&again), again.json["csrf_token"].as_str().unwrap().to_string());
    let issued = s
        .send(
            s.request(Method::POST, "/auth/tokens")
                .header("Cookie", &session)
                .header("X-CSRF-Token", &csrf)
                .json(&json!({ "label": "kalender", "valid_days": 30 })),
        )
        .await;
    let token = issued.expect(201)["token"].as_str().unwrap().to_string();
    let token_id = issued.str("token_id");
    let stored = s.texts(&format!("SELECT secret_hash FROM api_tokens WHERE token_id = '{token_id}'")).await;
    assert!(stored[0].starts_with("$argon2id$"), "{stored:?}");
    assert!(!stored[0].contains(token.rsplit('_').next().unwrap()), "the secret is not stored");
    let listed = s.send(s.request(Method::GET, "/auth/tokens").bearer_auth(&token)).await;
    assert!(!listed.expect(200).to_string().contains(&token), "a listing never shows the secret");
    let feed = format!("/auth/me?access_token={token}");
    s.send(s.request(Method::GET, &feed)).await.problem(401, "unauthenticated");
    let ics = s.request(Method::GET, "/offerings/00000000-0000-4000-8000-000000000000/calendar.ics");
    assert_eq!(s.send(ics.query(&[("access_token", &token)])).await.status, 404, "a calendar feed takes its token");
    let revoke = s.send(s.request(Method::POST, &format!("/auth/tokens/{token_id}/revoke")).bearer_auth(&token)).await;
    revoke.expect(200);
    s.send(s.request(Method::GET, "/auth/me").bearer_auth(&token)).await.problem(401, "unauthenticated");

    // The course office can give a token and disable a user: then nothing of theirs works.
    let given = s.post(&office, &format!("/users/{user_id}/tokens"), json!({ "label": "integration" })).await;
    let given = given.expect(201)["token"].as_str().unwrap().to_string();
    s.send(s.request(Method::GET, "/auth/me").bearer_auth(&given)).await.expect(200);
    s.post(&office, &format!("/users/{user_id}/disable"), json!({})).await.expect(200);
    s.send(s.request(Method::GET, "/auth/me").bearer_auth(&given)).await.problem(401, "unauthenticated");
    s.send(login("ett långt lösenord")).await.problem(401, "unauthenticated");
    s.send(s.request(Method::GET, "/users").bearer_auth(&office_token)).await.expect(200);

    // Repeated failures lock the login name (even for the right password), with Retry-After.
    let body = json!({ "login": "revisor2@example.se", "display_name": "R", "role": "auditor", "password": "rätt lösenord nu" });
    s.post(&office, "/users", body).await.expect(201);
    let login2 = |password: &str| {
        s.request(Method::POST, "/auth/login").json(&json!({ "login": "revisor2@example.se", "password": password }))
    };
    for _ in 0..5 {
        s.send(login2("fel lösenord igen")).await.problem(401, "unauthenticated");
    }
    let locked = s.send(login2("rätt lösenord nu")).await;
    locked.problem(429, "rate_limited");
    assert!(locked.headers["retry-after"].to_str().unwrap().parse::<i64>().unwrap() > 0);
    s.clock.set(utc(2027, 3, 1, 9, 20));
    s.send(login2("rätt lösenord nu")).await.expect(200);

    // The security log: logins, failures, token uses, changes; for the course office and auditors.
    let log = s.read("/security-log?limit=1000").await;
    let kinds: Vec<&str> = log.as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    for kind in [
        "user_created",
        "login",
        "login_failed",
        "logout",
        "token_issued",
        "token_used",
        "token_rejected",
        "token_revoked",
        "user_disabled",
    ] {
        assert!(kinds.contains(&kind), "{kind} in the security log: {kinds:?}");
    }
    assert!(!log.to_string().contains("lösenord"), "no password in the log");
    assert!(!log.to_string().contains(&given), "no token in the log");
    s.get(&Actor::trainer(), "/security-log").await.problem(403, "forbidden");

    // Every answer carries the security headers.
    let reply = s.send(s.request(Method::GET, "/healthz")).await;
    for (name, value) in [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("cache-control", "no-store"),
        ("referrer-policy", "no-referrer"),
    ] {
        assert_eq!(reply.headers[name], value, "{name}");
    }
    assert!(reply.headers.contains_key("strict-transport-security"));
    assert!(reply.headers.contains_key("content-security-policy"));
}

#[tokio::test]
async fn logging_in_sqlite() {
    logging_in(Backend::Sqlite).await;
}

#[tokio::test]
async fn logging_in_postgres() {
    logging_in(Backend::Postgres).await;
}

/// A user changes their own password: only with the current one, never to a short one,
/// and the change ends their other sessions.
async fn changing_ones_own_password(backend: Backend) {
    let Some(s) = TestServer::start(backend).await else { return };
    let body = json!({ "login": "revisor@fyrbodal.se", "display_name": "Revisorn", "role": "auditor",
        "password": "ett långt lösenord" });
    let user_id = s.post(&Actor::office(), "/users", body).await.expect(201)["user_id"].as_str().unwrap().to_string();
    let login = async |password: &str| {
        let body = json!({ "login": "revisor@fyrbodal.se", "password": password });
        s.send(s.request(Method::POST, "/auth/login").json(&body)).await
    };
    let here = login("ett långt lösenord").await;
    let (cookie, csrf) = (cookie_of(&here), here.expect(200)["csrf_token"].as_str().unwrap().to_string());
    let elsewhere = cookie_of(&login("ett långt lösenord").await);
    let change = async |current: &str, new: &str| {
        let body = json!({ "current_password": current, "new_password": new });
        let request = s.request(Method::POST, "/auth/password").header("Cookie", &cookie).header("X-CSRF-Token", &csrf);
        s.send(request.json(&body)).await
    };
    let wrong = change("fel lösenord", "ett nytt långt lösenord").await;
    assert!(wrong.problem(422, "validation")["detail"].as_str().unwrap().contains("current password"));
    change("ett långt lösenord", "kort").await.problem(422, "validation");
    let unauthenticated = s.request(Method::POST, "/auth/password");
    let body = json!({ "current_password": "ett långt lösenord", "new_password": "ett nytt långt lösenord" });
    s.send(unauthenticated.json(&body)).await.problem(401, "unauthenticated");
    login("ett långt lösenord").await.expect(200);

    assert_eq!(change("ett långt lösenord", "ett nytt långt lösenord").await.status, 204);
    let me = |cookie: &str| s.request(Method::GET, "/auth/me").header("Cookie", cookie.to_string());
    assert_eq!(s.send(me(&cookie)).await.expect(200)["user_id"], user_id.as_str(), "this session goes on");
    s.send(me(&elsewhere)).await.problem(401, "unauthenticated");
    login("ett långt lösenord").await.problem(401, "unauthenticated");
    login("ett nytt långt lösenord").await.expect(200);
    let log = s.read(&format!("/security-log?kind=password_set&user_id={user_id}")).await;
    let changes = log.as_array().unwrap();
    assert_eq!(changes.len(), 1, "{log}");
    assert_eq!((&changes[0]["actor_id"], &changes[0]["detail"]), (&json!(user_id), &json!("changed by the user")));
    assert!(!log.to_string().contains("lösenord"), "no password in the log: {log}");

    // Wrong current passwords count towards the lock on the login name, as failed logins
    // do (two so far: the wrong one above and the old password's login): locked, a change
    // is refused as a login is, 429 with Retry-After, even with the right password.
    for _ in 0..3 {
        change("fel lösenord", "ett tredje långt lösenord").await.problem(422, "validation");
    }
    let locked = change("ett nytt långt lösenord", "ett tredje långt lösenord").await;
    locked.problem(429, "rate_limited");
    assert!(locked.headers["retry-after"].to_str().unwrap().parse::<i64>().unwrap() > 0);
    login("ett nytt långt lösenord").await.problem(429, "rate_limited");

    // A user who logs in with a token only has no password to change.
    let office = s.as_actor(&Actor::office(), Method::POST, "/auth/password").await;
    s.send(office.json(&json!({ "current_password": "x", "new_password": "ett nytt långt lösenord" })))
        .await
        .problem(422, "validation");
}

#[tokio::test]
async fn changing_ones_own_password_sqlite() {
    changing_ones_own_password(Backend::Sqlite).await;
}

#[tokio::test]
async fn changing_ones_own_password_postgres() {
    changing_ones_own_password(Backend::Postgres).await;
}

// ----- limits on failed logins and token guesses (issue 21) -----

/// A server whose limits are small enough to reach quickly, behind a trusted proxy on
/// 127.0.0.1 when `behind_proxy` (the tests then choose each request's client address
/// with X-Forwarded-For).
async fn limited_server(backend: Backend, behind_proxy: bool) -> Option<TestServer> {
    let settings = kurslogg::auth::AuthSettings {
        max_failed_logins: 3,
        max_failed_logins_per_name: 6,
        max_failures_per_client: 6,
        max_token_failures_per_client: 8,
        trusted_proxies: if behind_proxy { vec!["127.0.0.1/32".parse().unwrap()] } else { vec![] },
        ..kurslogg::auth::AuthSettings::default()
    };
    TestServer::start_configured(backend, api_support::default_http_settings(), move |app, _| {
        app.with_auth_settings(settings)
    })
    .await
}

/// A user who logs in with a password; answers the user id.
async fn password_user(s: &TestServer, login: &str) -> String {
    let body = json!({ "login": login, "display_name": login, "role": "auditor", "password": "ett långt lösenord" });
    s.post(&Actor::office(), "/users", body).await.expect(201)["user_id"].as_str().unwrap().to_string()
}

/// A password login as `login` from `client` (the X-Forwarded-For a trusted proxy sends).
async fn login_from(s: &TestServer, client: Option<&str>, login: &str, password: &str) -> Reply {
    let mut request = s.request(Method::POST, "/auth/login").json(&json!({ "login": login, "password": password }));
    if let Some(client) = client {
        request = request.header("X-Forwarded-For", client);
    }
    s.send(request).await
}

/// Garbage bearer tokens lock out further token guesses from that address, and nothing
/// else: password logins from it go on, and tokens already in use keep working.
/// Failed password logins, the other way round, do not lock out tokens.
async fn token_guesses_and_password_logins_have_limits_of_their_own(backend: Backend) {
    let Some(s) = limited_server(backend, false).await else { return };
    password_user(&s, "anna@uddevalla.se").await;
    let (_, office_token) = s.account(&Actor::office()).await;
    s.send(s.request(Method::GET, "/auth/me").bearer_auth(&office_token)).await.expect(200);
    for _ in 0..8 {
        let guess = s.request(Method::GET, "/healthz").bearer_auth("garbage");
        s.send(guess).await.problem(401, "unauthenticated");
    }
    let locked = s.send(s.request(Method::GET, "/healthz").bearer_auth("garbage")).await;
    locked.problem(429, "rate_limited");
    assert!(locked.headers["retry-after"].to_str().unwrap().parse::<i64>().unwrap() > 0);
    let unknown = format!("kl_{}_{}", "0".repeat(32), "a".repeat(64));
    s.send(s.request(Method::GET, "/auth/me").bearer_auth(&unknown)).await.problem(429, "rate_limited");
    // The token in use goes on; password logins from the same address too.
    s.send(s.request(Method::GET, "/auth/me").bearer_auth(&office_token)).await.expect(200);
    login_from(&s, None, "anna@uddevalla.se", "ett långt lösenord").await.expect(200);

    // Failed password logins up to their own limit: logins locked, tokens not.
    let Some(t) = limited_server(backend, false).await else { return };
    password_user(&t, "anna@uddevalla.se").await;
    let (_, fresh_token) = t.account(&Actor::auditor()).await;
    for n in 0..6 {
        login_from(&t, None, &format!("gissning{n}@uddevalla.se"), "fel lösenord")
            .await
            .problem(401, "unauthenticated");
    }
    login_from(&t, None, "ny@uddevalla.se", "fel lösenord").await.problem(429, "rate_limited");
    // A token this address has never used before is verified as usual.
    t.send(t.request(Method::GET, "/auth/me").bearer_auth(&fresh_token)).await.expect(200);
}

#[tokio::test]
async fn token_guesses_and_password_logins_have_limits_of_their_own_sqlite() {
    token_guesses_and_password_logins_have_limits_of_their_own(Backend::Sqlite).await;
}

#[tokio::test]
async fn token_guesses_and_password_logins_have_limits_of_their_own_postgres() {
    token_guesses_and_password_logins_have_limits_of_their_own(Backend::Postgres).await;
}

/// Someone guessing a user's password locks the name for themselves (their address), not
/// for the user elsewhere; guessing from many addresses locks it only for addresses the
/// user has never logged in from; a whole address that guesses many names is stopped
/// without keeping out the users who log in from it. Every lock ends with its window.
async fn guessing_a_password_does_not_lock_its_user_out(backend: Backend) {
    let Some(s) = limited_server(backend, true).await else { return };
    let anna = "anna@uddevalla.se";
    let anna_id = password_user(&s, anna).await;
    password_user(&s, "erik@tanum.se").await;
    let (home, attacker) = ("198.51.100.10", "203.0.113.66");
    login_from(&s, Some(home), anna, "ett långt lösenord").await.expect(200);

    // One address guessing Anna's password: locked there, even with the right one.
    for _ in 0..3 {
        login_from(&s, Some(attacker), anna, "fel lösenord").await.problem(401, "unauthenticated");
    }
    login_from(&s, Some(attacker), anna, "ett långt lösenord").await.problem(429, "rate_limited");
    login_from(&s, Some(home), anna, "ett långt lösenord").await.expect(200);
    login_from(&s, Some("198.51.100.11"), anna, "ett långt lösenord").await.expect(200);

    // Many addresses guessing her password (3 failures so far, 6 in all): locked for new
    // addresses, open at home and at the other address she has logged in from.
    for n in 1..=3 {
        login_from(&s, Some(&format!("203.0.113.{n}")), anna, "fel lösenord").await.problem(401, "unauthenticated");
    }
    login_from(&s, Some("192.0.2.77"), anna, "ett långt lösenord").await.problem(429, "rate_limited");
    login_from(&s, Some(home), anna, "ett långt lösenord").await.expect(200);
    login_from(&s, Some("198.51.100.11"), anna, "ett långt lösenord").await.expect(200);
    // Erik is not affected by the guessing of Anna's password.
    login_from(&s, Some("192.0.2.77"), "erik@tanum.se", "ett långt lösenord").await.expect(200);

    // One address guessing many names: locked for names never logged in from there.
    let office_network = "192.0.2.10";
    login_from(&s, Some(office_network), "erik@tanum.se", "ett långt lösenord").await.expect(200);
    for n in 0..6 {
        let name = format!("gissning{n}@uddevalla.se");
        login_from(&s, Some(office_network), &name, "fel lösenord").await.problem(401, "unauthenticated");
    }
    login_from(&s, Some(office_network), anna, "ett långt lösenord").await.problem(429, "rate_limited");
    login_from(&s, Some(office_network), "erik@tanum.se", "ett långt lösenord").await.expect(200);

    // The window passes: the locks are gone.
    s.clock.set(utc(2027, 3, 1, 9, 20));
    login_from(&s, Some("192.0.2.77"), anna, "ett långt lösenord").await.expect(200);
    login_from(&s, Some(attacker), anna, "ett långt lösenord").await.expect(200);
    login_from(&s, Some(office_network), anna, "ett långt lösenord").await.expect(200);

    // The security log names the addresses the proxy gave.
    let log = s.read(&format!("/security-log?kind=login&user_id={anna_id}")).await;
    let clients: Vec<&str> = log.as_array().unwrap().iter().map(|e| e["client"].as_str().unwrap()).collect();
    assert!(clients.contains(&home) && clients.contains(&attacker), "{clients:?}");
}

#[tokio::test]
async fn guessing_a_password_does_not_lock_its_user_out_sqlite() {
    guessing_a_password_does_not_lock_its_user_out(Backend::Sqlite).await;
}

#[tokio::test]
async fn guessing_a_password_does_not_lock_its_user_out_postgres() {
    guessing_a_password_does_not_lock_its_user_out(Backend::Postgres).await;
}

/// X-Forwarded-For is taken only from a trusted proxy, and only what that proxy added.
async fn the_client_address_is_the_one_a_trusted_proxy_gives(backend: Backend) {
    let failed_from = async |s: &TestServer, header: &str| {
        login_from(s, Some(header), "ingen@example.se", "fel lösenord").await.problem(401, "unauthenticated");
        let log = s.read("/security-log?kind=login_failed&limit=1000").await;
        log.as_array().unwrap().last().unwrap()["client"].as_str().unwrap().to_string()
    };
    let Some(direct) = limited_server(backend, false).await else { return };
    assert_eq!(failed_from(&direct, "203.0.113.5").await, "127.0.0.1", "no trusted proxy: the header is ignored");
    // Nor can a client escape the limit by writing a new address each time.
    for n in 0..6 {
        login_from(&direct, Some(&format!("203.0.113.{n}")), &format!("x{n}@example.se"), "fel lösenord").await;
    }
    login_from(&direct, Some("203.0.113.99"), "y@example.se", "fel lösenord").await.problem(429, "rate_limited");

    let Some(proxied) = limited_server(backend, true).await else { return };
    assert_eq!(failed_from(&proxied, "203.0.113.5").await, "203.0.113.5");
    assert_eq!(failed_from(&proxied, "10.9.9.9, 203.0.113.6").await, "203.0.113.6", "what the client wrote is skipped");
}

#[tokio::test]
async fn the_client_address_is_the_one_a_trusted_proxy_gives_sqlite() {
    the_client_address_is_the_one_a_trusted_proxy_gives(Backend::Sqlite).await;
}

#[tokio::test]
async fn the_client_address_is_the_one_a_trusted_proxy_gives_postgres() {
    the_client_address_is_the_one_a_trusted_proxy_gives(Backend::Postgres).await;
}
