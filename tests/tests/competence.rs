//! The federations' competence plans over HTTP, on both backends: set and revised by the
//! course office (every version in the audit trail, and the plan as it read then), refused
//! with a Swedish reason when wrong, listed per federation, and a person's standing
//! against their band's plan as they move from "not yet" to requested, confirmed and
//! completed; who may read and write what.

mod api_support;

use std::time::{Duration, Instant};

use api_support::{offering_body, staff_body, utc, Actor, Reply, TestServer};
use kurslogg::app::lists::ViewAt;
use kurslogg_projections::history::AsOf;
use kurslogg_tests::{conformance, Backend};
use reqwest::Method;
use serde_json::{json, Value};

conformance!(
    a_plan_is_set_and_revised_and_every_version_stays_readable,
    a_wrong_plan_is_refused_in_swedish_and_changes_nothing,
    a_persons_standing_moves_from_not_yet_to_requested_to_confirmed_to_completed,
    who_may_read_and_set_plans_and_read_a_person_against_them,
);

fn http(backend: Backend) -> api_support::Backend {
    match backend {
        Backend::Sqlite => api_support::Backend::Sqlite,
        Backend::Postgres => api_support::Backend::Postgres,
    }
}

const PLAN: &str = "/competence-plans/fyrbodal-2027";

/// Fyrbodal's plan for 2027, as the course office writes it (bands in any order).
fn plan_2027() -> Value {
    json!({ "bands": [
        {
            "band": "years3_to5",
            "courses": ["SAMTAL", "LVU-FORTS"],
            "note": "Träning och fördjupning.",
        },
        {
            "band": "new0_to2",
            "courses": ["INTRO", "LVU-GRUND"],
            "local_needs": ["Skriftlig introduktionsplan", "Mentor/fadder"],
            "note": "Intro först.",
        },
    ]})
}

async fn catalogue(s: &TestServer) {
    s.add_course("INTRO", "Introduktionskurs", &[]).await;
    s.add_course("LVU-GRUND", "LVU grund", &[]).await;
    s.add_course("LVU-FORTS", "LVU fortsättning", &["LVU-GRUND"]).await;
    s.add_course("SAMTAL", "Samtal med barn", &[]).await;
}

fn position(reply: &Reply) -> i64 {
    reply.json["position"].as_i64().unwrap_or_else(|| panic!("no position in {}", reply.text))
}

/// Sets (or revises) a plan as the course office; returns the write's position.
async fn put_plan(s: &TestServer, path: &str, body: Value, events: u64) -> i64 {
    let reply = s.put(&Actor::office(), path, body).await;
    assert_eq!(reply.expect(200)["events"], events, "{}", reply.text);
    position(&reply)
}

async fn a_plan_is_set_and_revised_and_every_version_stays_readable(backend: Backend) {
    let Some(s) = TestServer::start(http(backend)).await else { return };
    catalogue(&s).await;
    s.add_municipality("uddevalla", "Uddevalla").await;

    let first = put_plan(&s, PLAN, plan_2027(), 1).await;
    let plan = s.read(&format!("{PLAN}?min_position={first}")).await;
    assert_eq!((plan["id"].as_str(), plan["federation"].as_str()), (Some("fyrbodal-2027"), Some("fyrbodal")));
    assert_eq!((plan["year"].as_i64(), plan["version"].as_i64()), (Some(2027), Some(1)));
    let bands: Vec<&str> = plan["bands"].as_array().unwrap().iter().map(|b| b["band"].as_str().unwrap()).collect();
    assert_eq!(bands, ["new0_to2", "years3_to5"], "bands in the plan's order: {plan}");
    assert_eq!(plan["bands"][0]["courses"], json!(["INTRO", "LVU-GRUND"]), "the suggested order kept");
    assert_eq!(plan["bands"][0]["local_needs"], json!(["Skriftlig introduktionsplan", "Mentor/fadder"]));
    assert_eq!(plan["bands"][0]["note"], "Intro först.");
    assert_eq!(plan["bands"][1]["local_needs"], json!([]));

    // The same plan again is no new version; a changed one is.
    assert_eq!(s.put(&Actor::office(), PLAN, plan_2027()).await.expect(200)["events"], 0);
    let mut revised = plan_2027();
    revised["bands"][1]["courses"] = json!(["INTRO", "SAMTAL", "LVU-GRUND"]);
    revised["bands"][1]["local_needs"] = json!(["Skriftlig introduktionsplan", "Mentor/fadder", "Ärendehandledning"]);
    let second = put_plan(&s, PLAN, revised, 1).await;
    let plan = s.read(&format!("{PLAN}?min_position={second}")).await;
    assert_eq!(plan["version"], 2);
    assert_eq!(plan["bands"][0]["courses"], json!(["INTRO", "SAMTAL", "LVU-GRUND"]));
    assert!(plan["revised_at"].as_str() >= plan["set_at"].as_str(), "{plan}");

    // What the plan said then: as of the first version.
    let then = s.read(&format!("{PLAN}?as_of_position={first}")).await;
    assert_eq!(then["version"], 1);
    assert_eq!(then["bands"][0]["courses"], json!(["INTRO", "LVU-GRUND"]));

    // Both versions are in the audit trail, whole, with who set them.
    let office = s.user_id(&Actor::office()).await;
    let trail = s.read(&format!("/audit?actor={office}&min_position={second}&limit=1000")).await;
    let versions: Vec<&Value> =
        trail["entries"].as_array().unwrap().iter().filter(|e| e["aggregate_type"] == "competence_plan").collect();
    let kinds: Vec<&str> = versions.iter().map(|e| e["event_type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["CompetencePlanSet", "CompetencePlanRevised"], "{trail}");
    assert!(versions.iter().all(|e| e["aggregate_id"] == "fyrbodal-2027" && e["actor_role"] == "course_office"));
    assert_eq!(versions[0]["details"]["bands"][0]["courses"], json!(["INTRO", "LVU-GRUND"]));
    assert_eq!(versions[1]["details"]["bands"][0]["courses"], json!(["INTRO", "SAMTAL", "LVU-GRUND"]));
    assert_eq!(versions[1]["details"]["version"], 2);

    // The list: one federation's plans by year, or every federation's.
    put_plan(&s, "/competence-plans/fyrbodal-2028", plan_2027(), 1).await;
    let gr = json!({ "bands": [{ "band": "over5", "note": "Individuell plan." }] });
    let last = put_plan(&s, "/competence-plans/goteborgsregionen-2027", gr, 1).await;
    let ids = |list: &Value| -> Vec<String> {
        list["items"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap().to_string()).collect()
    };
    let fyrbodal = s.read(&format!("/competence-plans?federation=fyrbodal&min_position={last}")).await;
    assert_eq!(ids(&fyrbodal), ["fyrbodal-2027", "fyrbodal-2028"]);
    assert_eq!((fyrbodal["total"].as_u64(), fyrbodal["next"].as_u64()), (Some(2), None));
    assert_eq!(fyrbodal["items"][0]["version"], 2);
    assert!(fyrbodal["position"].as_i64() >= Some(last));
    let first_page = s.read("/competence-plans?limit=2").await;
    assert_eq!((ids(&first_page).len(), first_page["next"].as_u64()), (2, Some(2)), "paged as every list");
    let all = s.read("/competence-plans").await;
    assert_eq!(ids(&all), ["fyrbodal-2027", "fyrbodal-2028", "goteborgsregionen-2027"]);
    assert_eq!(ids(&s.read("/competence-plans?federation=").await).len(), 3, "an empty filter is every federation");
    assert!(ids(&s.read("/competence-plans?federation=sjuharad").await).is_empty());
    let before = s.read(&format!("/competence-plans?as_of_position={first}")).await;
    assert_eq!(ids(&before), ["fyrbodal-2027"]);

    // The plan is documented.
    let openapi = s.send(s.request(Method::GET, "/openapi.json")).await;
    let paths = &openapi.expect(200)["paths"];
    assert!(paths["/competence-plans/{id}"]["put"].is_object() && paths["/competence-plans/{id}"]["get"].is_object());
    assert!(paths["/competence-plans"]["get"].is_object() && paths["/staff/{id}/competence"]["get"].is_object());
}

/// Asserts a refusal with `code` whose Swedish detail holds every one of `words`.
#[track_caller]
fn refused(reply: &Reply, status: u16, code: &str, words: &[&str]) {
    let detail = reply.problem(status, code)["detail"].as_str().unwrap().to_string();
    for word in words {
        assert!(detail.contains(word), "{code}: {detail:?} should say {word:?}");
    }
}

async fn a_wrong_plan_is_refused_in_swedish_and_changes_nothing(backend: Backend) {
    let Some(s) = TestServer::start(http(backend)).await else { return };
    catalogue(&s).await;
    let office = Actor::office();
    let set = put_plan(&s, PLAN, plan_2027(), 1).await;
    let before = s.snapshot(&[&format!("{PLAN}?min_position={set}"), "/competence-plans"]).await;

    // A course not in the catalogue, when setting a plan and when revising one.
    let mut unknown = plan_2027();
    unknown["bands"][1]["courses"] = json!(["INTRO", "LEDARSKAP", "MENTOR"]);
    let reply = s.put(&office, PLAN, unknown.clone()).await;
    refused(&reply, 422, "unknown_course", &["Kurserna finns inte i kurskatalogen", "LEDARSKAP, MENTOR"]);
    let reply = s.put(&office, "/competence-plans/fyrbodal-2029", unknown).await;
    refused(&reply, 422, "unknown_course", &["kurskatalogen"]);

    let wrong = |bands: Value| json!({ "bands": bands });
    let cases = [
        (wrong(json!([])), "empty_plan", vec!["minst en erfarenhetsgrupp"]),
        (
            wrong(json!([{ "band": "over5", "note": "A" }, { "band": "over5", "note": "B" }])),
            "duplicate_band",
            vec!["mer än 5 år", "mer än en gång"],
        ),
        (wrong(json!([{ "band": "new0_to2", "courses": ["INTRO", "intro"] }])), "duplicate_course", vec!["INTRO"]),
        (wrong(json!([{ "band": "supervisors", "note": "  " }])), "empty_band", vec!["arbetsledare", "tom"]),
        (wrong(json!([{ "band": "nyanställda", "courses": ["INTRO"] }])), "validation", vec!["bands[0].band", "okänd"]),
        (wrong(json!([{ "band": "over5", "courses": ["LVU GRUND"] }])), "validation", vec!["courses[0]", "kurskod"]),
        (
            wrong(json!([{ "band": "over5", "local_needs": ["Mentor", " "] }])),
            "validation",
            vec!["bands[0].local_needs[1]", "får inte vara tomt"],
        ),
        (
            wrong(json!([{ "band": "over5", "note": "x".repeat(4001) }])),
            "validation",
            vec!["bands[0].note", "högst 4000 tecken"],
        ),
        (
            wrong(json!([{ "band": "over5", "local_needs": ["Mentor\nfadder"] }])),
            "validation",
            vec!["bands[0].local_needs[0]", "radbrytningar"],
        ),
    ];
    for (body, code, words) in cases {
        refused(&s.put(&office, PLAN, body).await, 422, code, &words);
    }
    refused(
        &s.put(&office, "/competence-plans/fyrbodal", plan_2027()).await,
        422,
        "validation",
        &["t.ex. fyrbodal-2027"],
    );
    refused(&s.put(&office, "/competence-plans/fyrbodal-1850", plan_2027()).await, 422, "validation", &["2200"]);
    refused(&s.get(&office, "/competence-plans/fyrbodal-2031").await, 404, "not_found", &["ingen kompetensplan"]);
    refused(&s.get(&office, "/competence-plans/inget-id").await, 404, "not_found", &["ingen kompetensplan"]);
    refused(&s.get(&office, "/competence-plans?federation=Fyr%20bodal").await, 422, "validation", &["förbunds id"]);
    refused(&s.get(&office, "/competence-plans?year=2027").await, 422, "validation", &["okänd parameter"]);

    // Nothing was written, and the plan reads as before.
    let after = s.snapshot(&[&format!("{PLAN}?min_position={set}"), "/competence-plans"]).await;
    assert_eq!(before, after, "a refused plan wrote nothing");
}

/// Adds a staff member of `band` with a supervisor; returns the id.
async fn add_staff(s: &TestServer, municipality: &str, name: &str, band: &str, supervisor: Option<&str>) -> String {
    let mut body = staff_body(name);
    body["experience_band"] = json!(band);
    body["supervisor_id"] = json!(supervisor);
    let reply = s.post(&Actor::coordinator(municipality), &format!("/municipalities/{municipality}/staff"), body).await;
    reply.expect(201);
    reply.str("id")
}

/// The person's standing against their plan, once the views have reached `min_position`.
async fn competence(s: &TestServer, staff: &str, query: &str) -> Value {
    s.read(&format!("/staff/{staff}/competence?{query}")).await
}

/// Reads the person's standing until `done` holds (the views follow the log in the
/// background), for at most 10 s.
async fn competence_once(s: &TestServer, staff: &str, done: impl Fn(&Value) -> bool) -> Value {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let read = competence(s, staff, "").await;
        if done(&read) {
            return read;
        }
        assert!(Instant::now() < until, "the views never showed it: {read}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn on<'a>(competence: &'a Value, course: &str) -> &'a Value {
    competence["recommended"]
        .as_array()
        .expect("recommended")
        .iter()
        .find(|r| r["course"] == course)
        .unwrap_or_else(|| panic!("{course} is not recommended: {competence}"))
}

fn standings(competence: &Value) -> Vec<(String, String)> {
    competence["recommended"]
        .as_array()
        .expect("recommended")
        .iter()
        .map(|r| (r["course"].as_str().unwrap().to_string(), r["standing"].as_str().unwrap().to_string()))
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected.iter().map(|(c, s)| (c.to_string(), s.to_string())).collect()
}

async fn a_persons_standing_moves_from_not_yet_to_requested_to_confirmed_to_completed(backend: Backend) {
    let Some(s) = TestServer::start(http(backend)).await else { return };
    catalogue(&s).await;
    s.add_municipality("uddevalla", "Uddevalla").await;
    let office = Actor::office();
    let uddevalla = Actor::coordinator("uddevalla");
    let stina = add_staff(&s, "uddevalla", "Stina Chef", "supervisors", None).await;
    let anna = add_staff(&s, "uddevalla", "Anna Andersson", "new0_to2", Some(&stina)).await;
    let erik = add_staff(&s, "uddevalla", "Erik Berg", "new0_to2", Some(&stina)).await;
    let set = put_plan(&s, PLAN, plan_2027(), 1).await;

    // Not yet: the plan's courses for her band in its order, and what it says is met at work.
    let now = competence(&s, &anna, &format!("min_position={set}")).await;
    assert_eq!(now["name"], "Anna Andersson");
    assert_eq!((now["year"].as_i64(), now["experience_band"].as_str()), (Some(2027), Some("new0_to2")));
    assert_eq!(now["federation"], "fyrbodal");
    assert_eq!((now["plan"]["id"].as_str(), now["plan"]["version"].as_i64()), (Some("fyrbodal-2027"), Some(1)));
    assert_eq!(standings(&now), pairs(&[("INTRO", "not_yet"), ("LVU-GRUND", "not_yet")]));
    assert_eq!(on(&now, "INTRO")["title"], "Introduktionskurs");
    assert_eq!(on(&now, "INTRO")["offering_id"], Value::Null);
    assert_eq!(now["local_needs"], json!(["Skriftlig introduktionsplan", "Mentor/fadder"]));
    assert_eq!(now["note"], "Intro först.");
    assert_eq!(now["completed_outside_plan"], json!([]));

    // Requested: registered before the deadline; LVU grund has one seat for two.
    let package = s.create_package("HT2027").await;
    let intro_days = [utc(2027, 9, 1, 6, 0), utc(2027, 9, 2, 6, 0)];
    let intro = s.plan_offering(&package, offering_body("INTRO", 10, &intro_days)).await;
    let grund = s.plan_offering(&package, offering_body("LVU-GRUND", 1, &[utc(2027, 10, 4, 6, 0)])).await;
    let samtal = s.plan_offering(&package, offering_body("SAMTAL", 10, &[utc(2027, 9, 20, 6, 0)])).await;
    s.post(&office, &format!("/packages/{package}/publish"), json!({})).await.expect(200);
    let lines = json!({ "lines": [
        { "staff_id": anna, "offering_id": intro },
        { "staff_id": anna, "offering_id": grund },
        { "staff_id": erik, "offering_id": grund },
        { "staff_id": anna, "offering_id": samtal },
    ]});
    let receipt = s.post(&uddevalla, "/municipalities/uddevalla/registrations", lines).await;
    assert_eq!(receipt.expect(200)["requested"], 4, "{}", receipt.text);
    let registered = receipt.json["lines"][3]["position"].as_i64().expect("position");
    let now = competence(&s, &anna, &format!("min_position={registered}")).await;
    assert_eq!(standings(&now), pairs(&[("INTRO", "requested"), ("LVU-GRUND", "requested")]));
    let on_intro = on(&now, "INTRO");
    assert_eq!(on_intro["offering_id"], intro.as_str());
    assert_eq!(on_intro["term"], "HT2027");
    assert_eq!(on_intro["starts_at"], "2027-09-01T06:00:00.000Z", "which offering, and when it starts");
    assert_eq!(on_intro["completed_at"], Value::Null);

    // Confirmed (or waiting): seats are allocated at the deadline.
    s.clock.set(utc(2027, 6, 16, 8, 0));
    s.post(&office, &format!("/packages/{package}/close-registration"), json!({})).await.expect(200);
    let now = competence_once(&s, &anna, |c| on(c, "INTRO")["standing"] != "requested").await;
    assert_eq!(standings(&now), pairs(&[("INTRO", "confirmed"), ("LVU-GRUND", "confirmed")]));
    let theirs = competence_once(&s, &erik, |c| on(c, "LVU-GRUND")["standing"] != "requested").await;
    assert_eq!(on(&theirs, "LVU-GRUND")["standing"], "waiting", "one seat, Anna first in priority");
    assert_eq!(on(&theirs, "LVU-GRUND")["offering_id"], grund.as_str());
    // Erik leaves the waiting list: cancelled.
    let left = s.post(&uddevalla, &format!("/offerings/{grund}/registrations/{erik}/cancel"), json!({})).await;
    let left = position(&left);
    let theirs = competence(&s, &erik, &format!("min_position={left}")).await;
    assert_eq!(standings(&theirs), pairs(&[("INTRO", "not_yet"), ("LVU-GRUND", "cancelled")]));

    // Completed: present at both sessions of the introduction and at Samtal, which the plan
    // does not recommend for her band.
    s.clock.set(utc(2027, 9, 21, 13, 0));
    for (offering, sessions) in [(&intro, 2), (&samtal, 1)] {
        for session in 0..sessions {
            let mark = json!({ "staff_id": anna, "session": session, "attendance": "present" });
            s.post(&office, &format!("/offerings/{offering}/attendance"), mark).await.expect(200);
        }
    }
    s.post(&office, &format!("/offerings/{intro}/complete"), json!({})).await.expect(200);
    let completed = s.post(&office, &format!("/offerings/{samtal}/complete"), json!({})).await;
    let completed = position(&completed);
    let now = competence(&s, &anna, &format!("min_position={completed}")).await;
    assert_eq!(standings(&now), pairs(&[("INTRO", "completed"), ("LVU-GRUND", "confirmed")]));
    let on_intro = on(&now, "INTRO");
    assert_eq!(on_intro["completed_at"], "2027-09-02T12:00:00.000Z", "when: the end of the last session");
    assert_eq!(on_intro["hours_attended"], 12.0);
    let certificate = on_intro["certificate"].as_str().expect("a certificate number");
    assert!(certificate.starts_with("INTRO-HT2027-"), "{certificate}");
    let outside = now["completed_outside_plan"].as_array().expect("completed outside the plan");
    assert_eq!(outside.len(), 1, "{now}");
    assert_eq!((outside[0]["course"].as_str(), outside[0]["offering_id"].as_str()), (Some("SAMTAL"), Some(&*samtal)));
    assert!(outside[0]["certificate"].as_str().is_some_and(|c| c.starts_with("SAMTAL-")), "{now}");
    assert_eq!(outside[0]["hours_attended"], 6.0);

    // As she stood then: before the deadline, requested.
    let then = competence(&s, &anna, &format!("as_of_position={registered}")).await;
    assert_eq!(standings(&then), pairs(&[("INTRO", "requested"), ("LVU-GRUND", "requested")]));

    // The same through the application, as the pages read it: as of then, or now; and
    // another municipality's coordinator is told there is nobody.
    let anna_id: kurslogg_domain::StaffId = anna.parse().unwrap();
    let office_actor = kurslogg::app::Actor::new("kansliet", kurslogg::app::Role::CourseOffice);
    let origin = kurslogg::auth::Origin::default();
    let seen = |at| s.app.competence_seen(&office_actor, &origin, anna_id, at, None);
    let then = seen(ViewAt::AsOf(AsOf::Position(registered))).await.unwrap();
    assert_eq!(then.recommended.iter().map(|r| r.standing.as_str()).collect::<Vec<_>>(), ["requested", "requested"]);
    let now_seen = seen(ViewAt::Reached(completed)).await.unwrap();
    assert_eq!(now_seen.recommended[0].standing, "completed");
    assert_eq!(s.app.competence_of(&office_actor, anna_id).await.unwrap(), now_seen);
    let tanum = kurslogg::app::Actor::new("samordnare-tanum", kurslogg::app::Role::Coordinator)
        .for_municipality(kurslogg_domain::MunicipalityId::parse("tanum").unwrap());
    let hidden = s.app.competence_seen(&tanum, &origin, anna_id, ViewAt::Now, None).await.unwrap_err();
    assert!(matches!(&hidden, kurslogg::app::AppError::Refused { code, .. } if code == "not_found"), "{hidden:?}");

    // Another year's plan: a plan stands until the next; none before the first.
    let mut plan_2029 = plan_2027();
    plan_2029["bands"][1]["courses"] = json!(["LVU-GRUND"]);
    plan_2029["bands"][1]["local_needs"] = json!([]);
    let later = put_plan(&s, "/competence-plans/fyrbodal-2029", plan_2029, 1).await;
    let in_2028 = competence(&s, &anna, &format!("year=2028&min_position={later}")).await;
    assert_eq!(in_2028["plan"]["id"], "fyrbodal-2027");
    let in_2030 = competence(&s, &anna, "year=2030").await;
    assert_eq!(in_2030["plan"]["id"], "fyrbodal-2029");
    assert_eq!(standings(&in_2030), pairs(&[("LVU-GRUND", "confirmed")]));
    let outside: Vec<&str> =
        in_2030["completed_outside_plan"].as_array().unwrap().iter().map(|c| c["course"].as_str().unwrap()).collect();
    assert_eq!(outside, ["INTRO", "SAMTAL"], "earliest first");
    assert_eq!(in_2030["local_needs"], json!([]));
    let in_2026 = competence(&s, &anna, "year=2026").await;
    assert_eq!(in_2026["plan"], Value::Null, "no plan yet in 2026: {in_2026}");
    assert_eq!(in_2026["recommended"], json!([]));
    assert_eq!(in_2026["completed_outside_plan"].as_array().map(Vec::len), Some(2), "what she did still shows");
    refused(&s.get(&office, &format!("/staff/{anna}/competence?year=tjugo")).await, 422, "validation", &["inget år"]);

    // A band the plan does not cover: nothing recommended, her courses still listed.
    let boss = competence(&s, &stina, "").await;
    assert_eq!(
        (boss["plan"]["id"].as_str(), boss["recommended"].as_array().map(Vec::len)),
        (Some("fyrbodal-2027"), Some(0))
    );
}

async fn who_may_read_and_set_plans_and_read_a_person_against_them(backend: Backend) {
    let Some(s) = TestServer::start(http(backend)).await else { return };
    catalogue(&s).await;
    s.add_municipality("uddevalla", "Uddevalla").await;
    s.add_municipality("tanum", "Tanum").await;
    let ale = json!({ "id": "ale", "name": "Ale", "federation": "Göteborgsregionen" });
    s.post(&Actor::office(), "/municipalities", ale).await.expect(201);
    let stina = add_staff(&s, "uddevalla", "Stina Chef", "supervisors", None).await;
    let anna = add_staff(&s, "uddevalla", "Anna Andersson", "new0_to2", Some(&stina)).await;
    let erik = add_staff(&s, "tanum", "Erik Berg", "new0_to2", None).await;
    let alva = add_staff(&s, "ale", "Alva Ek", "new0_to2", None).await;
    put_plan(&s, PLAN, plan_2027(), 1).await;
    let gr = json!({ "bands": [{ "band": "new0_to2", "courses": ["SAMTAL"] }] });
    let last = put_plan(&s, "/competence-plans/goteborgsregionen-2027", gr, 1).await;
    // The views have every person and plan before the matrix runs.
    competence(&s, &alva, &format!("min_position={last}")).await;

    let everyone = [
        Actor::office(),
        Actor::auditor(),
        Actor::coordinator("uddevalla"),
        Actor::coordinator("tanum"),
        Actor::supervisor("uddevalla", &stina),
        Actor::trainer(),
        Actor::participant("uddevalla", &anna),
        Actor::participant("tanum", &erik),
    ];
    let annas_readers = [
        Actor::office(),
        Actor::auditor(),
        Actor::coordinator("uddevalla"),
        Actor::supervisor("uddevalla", &stina),
        Actor::participant("uddevalla", &anna),
    ];
    let events = s.event_count().await;
    for actor in &everyone {
        let who = format!("{} {:?}", actor.role, actor.municipality);
        // Every logged-in user reads the plans; only the course office sets them.
        assert_eq!(s.get(actor, PLAN).await.expect(200)["id"], "fyrbodal-2027", "{who}");
        s.get(actor, "/competence-plans?federation=fyrbodal").await.expect(200);
        if actor.role != "course_office" {
            refused(&s.put(actor, PLAN, plan_2027()).await, 403, "forbidden", &["kurskansliet"]);
        }
        // A person against their plan: as their record is read; to anyone else, nobody.
        let reply = s.get(actor, &format!("/staff/{anna}/competence")).await;
        if annas_readers.contains(actor) {
            let read = reply.expect(200);
            assert_eq!((read["staff_id"].as_str(), read["name"].as_str()), (Some(&*anna), Some("Anna Andersson")));
        } else {
            refused(&reply, 404, "not_found", &["Det finns ingen anställd"]);
            assert!(!reply.text.contains("Anna"), "{who} sees nothing of her: {}", reply.text);
        }
    }
    assert_eq!(s.event_count().await, events, "no refused write wrote anything");
    // Tanum's coordinator reads their own; each person is read against their own federation's plan.
    let tanum = s.get(&Actor::coordinator("tanum"), &format!("/staff/{erik}/competence")).await;
    assert_eq!(tanum.expect(200)["plan"]["id"], "fyrbodal-2027");
    let ale_read = s.get(&Actor::office(), &format!("/staff/{alva}/competence")).await;
    assert_eq!(ale_read.expect(200)["plan"]["id"], "goteborgsregionen-2027");
    assert_eq!(standings(&ale_read.json), pairs(&[("SAMTAL", "not_yet")]));
    assert_eq!(ale_read.json["federation"], "goteborgsregionen");
    refused(&s.get(&Actor::office(), "/staff/ingen/competence").await, 404, "not_found", &["ingen anställd"]);
    let nobody = format!("/staff/{}/competence", uuid::Uuid::new_v4());
    refused(&s.get(&Actor::office(), &nobody).await, 404, "not_found", &["ingen anställd"]);

    // Without credentials: nothing.
    for (method, path) in [
        (Method::GET, PLAN.to_string()),
        (Method::GET, "/competence-plans".into()),
        (Method::GET, format!("/staff/{anna}/competence")),
    ] {
        s.send(s.request(method, &path)).await.problem(401, "unauthenticated");
    }
    s.send(s.request(Method::PUT, PLAN).json(&plan_2027())).await.problem(401, "unauthenticated");

    // Each read of her standing is in the security log, as every read of a person's record.
    let log = s.read(&format!("/security-log?kind=person_read&staff_id={anna}&limit=1000")).await;
    let competence_reads: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["detail"] == "competence")
        .map(|e| e["actor_id"].as_str().unwrap())
        .collect();
    for actor in &annas_readers {
        let id = s.user_id(actor).await;
        assert!(competence_reads.contains(&id.as_str()), "{} reading her standing is logged: {log}", actor.role);
    }
    let other = s.user_id(&Actor::coordinator("tanum")).await;
    assert!(!competence_reads.contains(&other.as_str()), "a refused read is no read");
}
