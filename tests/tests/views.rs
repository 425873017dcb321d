//! Black-box tests of the views over HTTP: the participant record, the supervisor
//! overview, the audit trail with its filters, and time travel ("as of"), on both
//! backends.

mod api_support;

use std::collections::BTreeSet;

use api_support::{offering_body, staff_body, utc, Actor, Backend, TestServer};
use serde_json::{json, Value};

/// Adds a staff member with a supervisor and a unit; returns the id.
async fn add_staff(s: &TestServer, municipality: &str, name: &str, supervisor: Option<&str>, band: &str) -> String {
    let mut body = staff_body(name);
    body["supervisor_id"] = json!(supervisor);
    body["experience_band"] = json!(band);
    body["unit"] = json!("Öckerö barn och unga");
    let reply = s.post(&Actor::coordinator(municipality), &format!("/municipalities/{municipality}/staff"), body).await;
    reply.expect(201);
    reply.str("id")
}

/// Waits a little so that the wall-clock instants before and after differ by more
/// than the log's millisecond resolution.
async fn tick() -> chrono::DateTime<chrono::Utc> {
    tokio::time::sleep(std::time::Duration::from_millis(15)).await;
    let now = chrono::Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(15)).await;
    now
}

fn position(reply: &api_support::Reply) -> i64 {
    reply.json["position"].as_i64().unwrap_or_else(|| panic!("no position in {}", reply.text))
}

fn audit_types(page: &Value) -> Vec<String> {
    page["entries"].as_array().expect("entries").iter().map(|e| e["event_type"].as_str().unwrap().to_string()).collect()
}

async fn views_over_http(backend: Backend) {
    let Some(s) = TestServer::start(backend).await else { return };
    let office = Actor::office();
    let trainer = Actor::trainer();
    s.add_course("LVU-GRUND", "LVU grund", &[]).await;
    s.add_course("SAMTAL", "Samtal med barn", &[]).await;
    s.add_municipality("uddevalla", "Uddevalla").await;
    s.add_municipality("tanum", "Tanum").await;
    let boss = add_staff(&s, "uddevalla", "Stina Chef", None, "supervisors").await;
    let anna = add_staff(&s, "uddevalla", "Anna Andersson", Some(&boss), "new0_to2").await;
    let erik = add_staff(&s, "uddevalla", "Erik Berg", Some(&boss), "years3_to5").await;
    let johan = add_staff(&s, "tanum", "Johan Dahl", None, "over5").await;
    let sara = add_staff(&s, "tanum", "Sara Ek", None, "over5").await;

    let package = s.create_package("HT2027").await;
    let grund =
        s.plan_offering(&package, offering_body("LVU-GRUND", 3, &[utc(2027, 9, 1, 6, 0), utc(2027, 9, 8, 6, 0)])).await;
    let samtal = s.plan_offering(&package, offering_body("SAMTAL", 10, &[utc(2027, 10, 5, 6, 0)])).await;
    s.post(&office, &format!("/packages/{package}/publish"), json!({})).await.expect(200);
    s.assign_trainer(&grund).await;

    let register = async |m: &str, staff: &str, offering: &str| {
        s.post(&Actor::coordinator(m), &format!("/offerings/{offering}/registrations"), json!({ "staff_id": staff }))
            .await
    };
    register("uddevalla", &anna, &grund).await.expect(200);
    register("uddevalla", &erik, &grund).await.expect(200);
    register("uddevalla", &anna, &samtal).await.expect(200);
    register("tanum", &johan, &grund).await.expect(200);
    let last_request = register("tanum", &sara, &grund).await;
    last_request.expect(200);
    let before_allocation = position(&last_request);
    let before_allocation_at = tick().await;

    // The deadline passes: four requests for three seats.
    s.clock.set(utc(2027, 6, 16, 8, 0));
    s.post(&office, &format!("/packages/{package}/close-registration"), json!({})).await.expect(200);
    s.clock.set(utc(2027, 9, 8, 13, 0));
    let grund_now = s.read(&format!("/offerings/{grund}")).await;
    let confirmed: Vec<String> = grund_now["registrations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "confirmed")
        .map(|r| r["staff_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(confirmed.len(), 3, "{grund_now}");
    let attendance = format!("/offerings/{grund}/attendance");
    for who in &confirmed {
        for session in 0..2 {
            let mark = if *who == anna || session == 0 { "present" } else { "absent" };
            let body = json!({ "staff_id": who, "session": session, "attendance": mark });
            s.post(&trainer, &attendance, body).await.expect(200);
        }
    }
    let completed = s.post(&office, &format!("/offerings/{grund}/complete"), json!({})).await;
    completed.expect(200);
    let now = position(&completed);

    // ----- participant record -----
    let record = s.read(&format!("/staff/{anna}/record?min_position={now}")).await;
    assert_eq!(record["name"], "Anna Andersson");
    assert_eq!(record["municipality"], "uddevalla");
    assert_eq!(record["supervisor"], boss.as_str());
    assert_eq!(record["experience_band"], "new0_to2");
    let lines = record["offerings"].as_array().expect("offerings");
    assert_eq!(lines.len(), 2, "{record}");
    let on_grund = lines.iter().find(|l| l["offering_id"] == grund.as_str()).expect("LVU grund on the record");
    let anna_confirmed = confirmed.contains(&anna);
    if anna_confirmed {
        assert_eq!(on_grund["status"], "confirmed");
        assert_eq!(on_grund["completion"], "completed");
        assert_eq!((on_grund["sessions_attended"].as_i64(), on_grund["sessions"].as_i64()), (Some(2), Some(2)));
        assert_eq!(on_grund["hours_attended"], 12.0);
        assert_eq!(record["completed"], 1);
        assert_eq!(record["competence_areas_covered"], json!(["juridik"]));
        let certificate = on_grund["certificate"].as_str().expect("a certificate");
        assert_eq!(record["certificates"], json!([certificate]));
    } else {
        assert_eq!(on_grund["status"], "waiting");
        assert_eq!(record["completed"], 0);
    }
    let on_samtal = lines.iter().find(|l| l["offering_id"] == samtal.as_str()).expect("Samtal on the record");
    assert_eq!(on_samtal["status"], "confirmed", "ten seats for one request");
    assert_eq!(on_samtal["completion"], Value::Null, "not held yet");
    assert_eq!(on_samtal["hours_attended"], 0.0);

    // ----- supervisor overview -----
    let overview = s.read(&format!("/staff/{boss}/supervised")).await;
    let staff: BTreeSet<&str> =
        overview["staff"].as_array().expect("staff").iter().map(|p| p["staff_id"].as_str().unwrap()).collect();
    assert_eq!(staff, BTreeSet::from([anna.as_str(), erik.as_str()]), "{overview}");
    let erik_record = overview["staff"].as_array().unwrap().iter().find(|p| p["staff_id"] == erik.as_str()).unwrap();
    assert_eq!(erik_record["name"], "Erik Berg");
    assert_eq!(erik_record["offerings"].as_array().unwrap().len(), 1);
    if confirmed.contains(&erik) {
        // Present at one session of two: below 80 %.
        assert_eq!(erik_record["offerings"][0]["completion"], "not_completed");
        assert_eq!(erik_record["offerings"][0]["hours_attended"], 6.0);
    }
    let nobody = s.read(&format!("/staff/{johan}/supervised")).await;
    assert_eq!(nobody["staff"], json!([]), "Johan supervises nobody");

    // ----- audit trail -----
    let trail = s.read(&format!("/audit?staff={anna}&min_position={now}")).await;
    let types = audit_types(&trail);
    for expected in ["StaffMemberAdded", "RegistrationRequested", "SeatsAllocated"] {
        assert!(types.iter().any(|t| t == expected), "{expected} missing from Anna's trail: {types:?}");
    }
    for entry in trail["entries"].as_array().unwrap() {
        assert!(entry["staff"].as_array().unwrap().iter().any(|s| s == anna.as_str()), "{entry}");
        assert!(!entry["request_id"].as_str().unwrap().is_empty(), "{entry}");
        assert!(!entry["actor_id"].as_str().unwrap().is_empty(), "{entry}");
    }
    // Personal data stays in the staff member's stream: the trail names nobody.
    let everything = s.get(&office, "/audit?limit=10000").await;
    everything.expect(200);
    for secret in ["Anna Andersson", "anna.andersson@kommun.se", "Stina Chef"] {
        assert!(!everything.text.contains(secret), "the audit trail shows {secret}");
    }
    let added = trail["entries"].as_array().unwrap().iter().find(|e| e["event_type"] == "StaffMemberAdded").unwrap();
    assert_eq!(added["details"], Value::Null);
    assert_eq!(added["municipality"], "uddevalla");

    // Who registered whom for Tanum, on LVU grund: only the Tanum coordinator's requests.
    let tanum_coordinator = s.user_id(&Actor::coordinator("tanum")).await;
    let tanum = s.read(&format!("/audit?offering={grund}&actor={tanum_coordinator}")).await;
    assert_eq!(audit_types(&tanum), vec!["RegistrationRequested", "RegistrationRequested"], "{tanum}");
    for entry in tanum["entries"].as_array().unwrap() {
        assert_eq!(entry["on_behalf_of"], "tanum");
        assert_eq!(entry["actor_role"], "coordinator");
        assert_eq!(entry["offering_id"], grund.as_str());
    }
    let by_municipality = s.read("/audit?municipality=tanum").await;
    assert!(by_municipality["entries"].as_array().unwrap().iter().all(|e| e["municipality"] == "tanum"));
    assert!(audit_types(&by_municipality).contains(&"StaffMemberAdded".to_string()));
    let after_deadline = before_allocation_at.to_rfc3339();
    let since = s.get(&office, &format!("/audit?from={}", urlencode(&after_deadline))).await;
    let since_types = audit_types(since.expect(200));
    assert!(since_types.contains(&"SeatsAllocated".to_string()), "{since_types:?}");
    assert!(!since_types.contains(&"RegistrationRequested".to_string()), "{since_types:?}");
    // Paging: pages follow each other with no gap and no overlap.
    let all = s.read("/audit?limit=10000").await;
    let all_positions: Vec<i64> =
        all["entries"].as_array().unwrap().iter().map(|e| e["position"].as_i64().unwrap()).collect();
    let (mut paged, mut after) = (Vec::new(), 0);
    loop {
        let page = s.read(&format!("/audit?limit=7&after={after}")).await;
        paged.extend(page["entries"].as_array().unwrap().iter().map(|e| e["position"].as_i64().unwrap()));
        match page["next_after"].as_i64() {
            Some(next) => after = next,
            None => break,
        }
    }
    assert_eq!(paged, all_positions);
    assert!(all_positions.windows(2).all(|w| w[0] < w[1]), "oldest first");

    // ----- time travel -----
    for past in [format!("as_of_position={before_allocation}"), format!("as_of={}", urlencode(&after_deadline))] {
        let roster = s.read(&format!("/offerings/{grund}/roster?{past}")).await;
        assert_eq!(roster["state"], "open", "{past}: {roster}");
        assert_eq!(roster["position"], before_allocation, "{past}");
        let statuses: Vec<&str> =
            roster["entries"].as_array().unwrap().iter().map(|e| e["status"].as_str().unwrap()).collect();
        assert_eq!(statuses, vec!["requested"; 4], "{past}");
        let record = s.read(&format!("/staff/{anna}/record?{past}")).await;
        assert!(record["offerings"].as_array().unwrap().iter().all(|l| l["status"] == "requested"), "{record}");
        assert_eq!(record["certificates"], json!([]));
        let trail = s.read(&format!("/audit?{past}")).await;
        assert!(
            trail["entries"].as_array().unwrap().iter().all(|e| e["position"].as_i64().unwrap() <= before_allocation),
            "{past}"
        );
        assert!(!audit_types(&trail).contains(&"SeatsAllocated".to_string()));
    }
    let roster_now = s.read(&format!("/offerings/{grund}/roster")).await;
    assert_eq!(roster_now["state"], "completed");
    // As of the latest position: the same as the live view.
    let replayed = s.read(&format!("/offerings/{grund}/roster?as_of_position={now}")).await;
    let mut live = roster_now.clone();
    live["position"] = json!(now);
    assert_eq!(replayed, live, "a roster rebuilt from the log differs from the live one");
    // A record replays only the person's offerings (and the other streams): still whole.
    let replayed = s.read(&format!("/staff/{anna}/record?as_of_position={now}")).await;
    let mut live = s.read(&format!("/staff/{anna}/record")).await;
    live["position"] = json!(now);
    assert_eq!(replayed, live, "a record rebuilt from the log differs from the live one");
    // Before anything happened: nothing to show.
    s.get(&office, &format!("/offerings/{grund}/roster?as_of=2000-01-01T00:00:00Z")).await.problem(404, "not_found");

    // ----- bad input -----
    for bad in [
        format!("/offerings/{grund}/roster?as_of=yesterday"),
        format!("/offerings/{grund}/roster?as_of_position=3&min_position=3"),
        format!("/offerings/{grund}/roster?as_of_position=three"),
        "/audit?limit=0".to_string(),
        "/audit?from=last%20week".to_string(),
        "/audit?after=-x".to_string(),
    ] {
        let reply = s.get(&office, &bad).await;
        reply.problem(400, "invalid_query");
        assert!(!reply.json["detail"].as_str().unwrap_or("").is_empty(), "{bad}: says what was wrong");
    }
    s.get(&office, &format!("/staff/{}/record", uuid::Uuid::new_v4())).await.problem(404, "not_found");
    s.get(&office, "/staff/nobody/record").await.problem(404, "not_found");
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

#[tokio::test]
async fn views_over_http_sqlite() {
    views_over_http(Backend::Sqlite).await;
}

#[tokio::test]
async fn views_over_http_postgres() {
    views_over_http(Backend::Postgres).await;
}

/// A seat cancelled after the deadline is charged; registering the same person again
/// does not make the charge disappear from the cost basis: both are billed.
async fn a_charge_survives_registering_again(backend: Backend) {
    let Some(s) = TestServer::start(backend).await else { return };
    let office = Actor::office();
    s.add_course("SAMTAL", "Samtal med barn", &[]).await;
    s.add_municipality("tanum", "Tanum").await;
    let johan = add_staff(&s, "tanum", "Johan Dahl", None, "over5").await;
    let package = s.create_package("HT2027").await;
    let samtal = s.plan_offering(&package, offering_body("SAMTAL", 10, &[utc(2027, 10, 5, 6, 0)])).await;
    s.post(&office, &format!("/packages/{package}/publish"), json!({})).await.expect(200);
    let tanum = Actor::coordinator("tanum");
    let register = format!("/offerings/{samtal}/registrations");
    s.post(&tanum, &register, json!({ "staff_id": johan })).await.expect(200);
    s.clock.set(utc(2027, 6, 16, 8, 0));
    s.post(&office, &format!("/packages/{package}/close-registration"), json!({})).await.expect(200);
    let cancelled = s.post(&tanum, &format!("/offerings/{samtal}/registrations/{johan}/cancel"), json!({})).await;
    assert_eq!(cancelled.expect(200)["events"], 1, "{}", cancelled.text);
    let again = s.post(&tanum, &register, json!({ "staff_id": johan })).await;
    assert_eq!(again.expect(200)["status"], "confirmed", "{}", again.text);

    let costs = s.read(&format!("/costs?term=HT2027&min_position={}", position(&again))).await;
    let lines = costs["municipalities"][0]["lines"].as_array().expect("lines");
    let kinds: Vec<&str> = lines.iter().map(|l| l["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["participation", "charged_cancellation"], "{costs}");
    assert_eq!(costs["total_sek"], 2 * 1800, "the cancelled seat and the new one");
    let roster = s.read(&format!("/offerings/{samtal}/roster")).await;
    assert_eq!(roster["entries"][0]["status"], "confirmed");
}

#[tokio::test]
async fn a_charge_survives_registering_again_sqlite() {
    a_charge_survives_registering_again(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_charge_survives_registering_again_postgres() {
    a_charge_survives_registering_again(Backend::Postgres).await;
}

/// The roster numbers its sessions as attendance is recorded (by index), and the
/// offering's trainer and the course office read back the notes kept with attendance;
/// a coordinator, who may see the person, does not get the notes.
async fn the_roster_numbers_sessions_and_shows_attendance_notes(backend: Backend) {
    let Some(s) = TestServer::start(backend).await else { return };
    let office = Actor::office();
    s.add_course("SAMTAL", "Samtal med barn", &[]).await;
    s.add_municipality("tanum", "Tanum").await;
    let johan = add_staff(&s, "tanum", "Johan Dahl", None, "over5").await;
    let package = s.create_package("HT2027").await;
    let days = [utc(2027, 10, 5, 6, 0), utc(2027, 10, 12, 6, 0)];
    let samtal = s.plan_offering(&package, offering_body("SAMTAL", 10, &days)).await;
    s.assign_trainer(&samtal).await;
    s.post(&office, &format!("/packages/{package}/publish"), json!({})).await.expect(200);
    let tanum = Actor::coordinator("tanum");
    s.post(&tanum, &format!("/offerings/{samtal}/registrations"), json!({ "staff_id": johan })).await.expect(200);
    s.clock.set(utc(2027, 6, 16, 8, 0));
    s.post(&office, &format!("/packages/{package}/close-registration"), json!({})).await.expect(200);
    s.clock.set(utc(2027, 10, 12, 12, 0));
    let attendance = format!("/offerings/{samtal}/attendance");
    let note = "Gick efter lunch: sjukt barn";
    let body = json!({ "staff_id": johan, "session": 1, "attendance": "excused", "note": note });
    let recorded = s.post(&Actor::trainer(), &attendance, body).await;
    let at = position(&recorded);
    s.post(&Actor::trainer(), &attendance, json!({ "staff_id": johan, "session": 0, "attendance": "present" }))
        .await
        .expect(200);

    let path = format!("/offerings/{samtal}/roster?min_position={at}");
    let roster = |actor: Actor| {
        let (s, path) = (&s, path.clone());
        async move { s.get(&actor, &path).await.expect(200).clone() }
    };
    let seen = roster(Actor::trainer()).await;
    let sessions: Vec<i64> =
        seen["sessions"].as_array().unwrap().iter().map(|s| s["session"].as_i64().unwrap()).collect();
    assert_eq!(sessions, [0, 1], "{seen}");
    assert_eq!(seen["entries"][0]["notes"], json!([null, note]), "{seen}");
    assert_eq!(roster(office.clone()).await["entries"][0]["notes"], json!([null, note]));
    let coordinator = roster(tanum).await;
    assert!(coordinator["entries"][0].get("notes").is_none(), "not the coordinator's to read: {coordinator}");
    assert_eq!(coordinator["entries"][0]["staff_id"], johan.as_str());
}

#[tokio::test]
async fn the_roster_numbers_sessions_and_shows_attendance_notes_sqlite() {
    the_roster_numbers_sessions_and_shows_attendance_notes(Backend::Sqlite).await;
}

#[tokio::test]
async fn the_roster_numbers_sessions_and_shows_attendance_notes_postgres() {
    the_roster_numbers_sessions_and_shows_attendance_notes(Backend::Postgres).await;
}
