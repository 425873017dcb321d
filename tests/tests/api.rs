//! Black-box tests of the HTTP API: the real router on 127.0.0.1:0 over a fresh SQLite
//! file (and, for a subset, a fresh PostgreSQL database), driven with reqwest only.

mod api_support;

use std::collections::{BTreeMap, BTreeSet};

use api_support::{offering_body, staff_body, utc, Actor, Backend, Reply, TestServer};
use reqwest::Method;
use serde_json::{json, Value};

// ----- helpers -----

/// The registration of `staff` in an offering view.
#[track_caller]
fn registration<'a>(offering: &'a Value, staff: &str) -> &'a Value {
    offering["registrations"]
        .as_array()
        .expect("registrations")
        .iter()
        .find(|r| r["staff_id"] == staff)
        .unwrap_or_else(|| panic!("{staff} is not on the offering: {offering}"))
}

/// Staff id → status of every registration of an offering view.
fn statuses(offering: &Value) -> BTreeMap<String, String> {
    offering["registrations"]
        .as_array()
        .expect("registrations")
        .iter()
        .map(|r| (r["staff_id"].as_str().unwrap().to_string(), r["status"].as_str().unwrap().to_string()))
        .collect()
}

fn waiting_list(offering: &Value) -> Vec<String> {
    offering["waiting_list"].as_array().expect("waiting list").iter().map(|s| s.as_str().unwrap().into()).collect()
}

/// A collective registration body.
fn lines(pairs: &[(&str, &str)]) -> Value {
    json!({ "lines": pairs.iter().map(|(s, o)| json!({ "staff_id": s, "offering_id": o })).collect::<Vec<_>>() })
}

/// (status, code, already_registered) of each line of a collective receipt.
fn line_outcomes(receipt: &Value) -> Vec<(String, Option<String>, bool)> {
    receipt["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .map(|l| {
            (
                l["status"].as_str().unwrap().to_string(),
                l["code"].as_str().map(str::to_string),
                l["already_registered"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn outcome(status: &str, code: Option<&str>, already: bool) -> (String, Option<String>, bool) {
    (status.to_string(), code.map(str::to_string), already)
}

/// Asserts a refused request: the problem document, and nothing written or changed.
#[track_caller]
fn unchanged(before: &(i64, Vec<Value>), after: &(i64, Vec<Value>), what: &str) {
    assert_eq!(before.0, after.0, "{what}: events were appended by a refused request");
    assert_eq!(before.1, after.1, "{what}: state changed after a refused request");
}

/// A certificate number `LVU-GRUND-HT2027-<first 12 hex of the offering id>-NNN`.
#[track_caller]
fn assert_certificate(number: &str, course: &str, term: &str, offering: &str) {
    let short = offering.replace('-', "")[..12].to_ascii_uppercase();
    let prefix = format!("{course}-{term}-{short}-");
    let ordinal = number.strip_prefix(&prefix).unwrap_or_else(|| panic!("certificate {number} lacks {prefix}"));
    assert!(ordinal.len() == 3 && ordinal.chars().all(|c| c.is_ascii_digit()), "certificate ordinal: {number}");
}

// ----- a whole term -----

async fn full_term(backend: Backend) {
    let Some(s) = TestServer::start(backend).await else { return };
    let office = Actor::office();
    let trainer = Actor::trainer();

    // The catalogue.
    s.add_course("LVU-GRUND", "LVU grund", &[]).await;
    s.add_course("LVU-FORTS", "LVU fortsättning", &["LVU-GRUND"]).await;
    let course = s.read("/courses/LVU-FORTS").await;
    assert_eq!(course["title"], "LVU fortsättning");
    assert_eq!(course["prerequisites"], json!(["LVU-GRUND"]));

    // Municipalities; an id is made from the name when none is given.
    s.add_municipality("uddevalla", "Uddevalla").await;
    s.add_municipality("tanum", "Tanum").await;
    s.add_municipality("orust", "Orust").await;
    let amal = s.post(&office, "/municipalities", json!({ "name": "Åmål", "federation": "Fyrbodal" })).await;
    assert_eq!(amal.expect(201)["id"], "amal");
    let m = s.read("/municipalities/amal").await;
    assert_eq!((m["name"].as_str(), m["federation"].as_str()), (Some("Åmål"), Some("Fyrbodal")));

    // Staff, added by each municipality's coordinator.
    let u1 = s.add_staff("uddevalla", "Anna Andersson").await;
    let u2 = s.add_staff("uddevalla", "Erik Berg").await;
    let u3 = s.add_staff("uddevalla", "Maria Carlsson").await;
    let up = s.add_staff("uddevalla", "Paula Paus").await;
    let t1 = s.add_staff("tanum", "Johan Dahl").await;
    let t2 = s.add_staff("tanum", "Sara Ek").await;
    let t3 = s.add_staff("tanum", "Karl Fors").await;
    let t4 = s.add_staff("tanum", "Emma Gran").await;
    let o1 = s.add_staff("orust", "Lars Holm").await;
    let a1 = s.add_staff("amal", "Elin Ivarsson").await;
    let staff = s.read(&format!("/staff/{u1}")).await;
    assert_eq!(staff["municipality"], "uddevalla");
    assert_eq!(staff["name"], "Anna Andersson");
    assert_eq!(staff["work_email"], "anna.andersson@kommun.se");
    assert_eq!(staff["status"], "active");
    let paused = s.post(&Actor::coordinator("uddevalla"), &format!("/staff/{up}/pause"), json!({})).await;
    assert_eq!(paused.expect(200)["events"], 1);
    assert_eq!(s.read(&format!("/staff/{up}")).await["status"], "paused");

    // The package, its offerings, publication.
    let package = s.create_package("HT2027").await;
    let p = s.read(&format!("/packages/{package}")).await;
    assert_eq!((p["term"].as_str(), p["phase"].as_str()), (Some("HT2027"), Some("draft")));
    assert_eq!(p["deadline"], "2027-06-15T21:59:00+00:00");
    let grund =
        s.plan_offering(&package, offering_body("LVU-GRUND", 3, &[utc(2027, 9, 1, 6, 0), utc(2027, 9, 8, 6, 0)])).await;
    let forts = s.plan_offering(&package, offering_body("LVU-FORTS", 10, &[utc(2027, 10, 5, 6, 0)])).await;
    let a = s.read(&format!("/offerings/{grund}")).await;
    assert_eq!(a["course"], "LVU-GRUND");
    assert_eq!(a["title"], "LVU grund");
    assert_eq!(a["term"], "HT2027");
    assert_eq!(a["package_id"], package.as_str());
    assert_eq!((a["seat_limit"].as_u64(), a["free_seats"].as_u64()), (Some(3), Some(3)));
    assert_eq!(a["completion_threshold"], 80);
    assert_eq!(a["sessions"].as_array().unwrap().len(), 2);
    assert_eq!(a["sessions"][1]["starts_at"], "2027-09-08T06:00:00+00:00");
    assert_eq!(a["sessions"][0]["hours"], 6.0);
    assert_eq!(a["state"], "open");
    assert_eq!(s.read(&format!("/offerings/{forts}")).await["prerequisites"], json!(["LVU-GRUND"]));

    // Nobody registers on a draft.
    let early = s
        .post(&Actor::coordinator("uddevalla"), &format!("/offerings/{grund}/registrations"), json!({ "staff_id": u1 }))
        .await;
    early.problem(422, "registration_not_open");

    let published = s.post(&office, &format!("/packages/{package}/publish"), json!({})).await;
    assert_eq!(published.expect(200)["events"], 1);
    let p = s.read(&format!("/packages/{package}")).await;
    assert_eq!(p["phase"], "published");
    assert_eq!(p["offerings"].as_array().unwrap().len(), 2);

    // Collective registrations, answered line by line.
    let unknown_offering = uuid::Uuid::new_v4().to_string();
    let uddevalla_lines = lines(&[
        (&u1, &grund),
        (&u2, &grund),
        (&u3, &grund),
        (&u1, &forts),            // LVU grund not yet taken
        (&up, &grund),            // paused
        (&t1, &grund),            // not Uddevalla's
        (&u2, &unknown_offering), // no such offering
    ]);
    let path = "/municipalities/uddevalla/registrations";
    let first = s.post(&Actor::coordinator("uddevalla"), path, uddevalla_lines.clone()).await;
    let receipt = first.expect(200).clone();
    assert_eq!(receipt["municipality"], "uddevalla");
    assert_eq!(
        line_outcomes(&receipt),
        vec![
            outcome("requested", None, false),
            outcome("requested", None, false),
            outcome("requested", None, false),
            outcome("refused", Some("prerequisite_missing"), false),
            outcome("refused", Some("staff_paused"), false),
            outcome("refused", Some("staff_of_other_municipality"), false),
            outcome("refused", Some("not_found"), false),
        ]
    );
    assert_eq!((receipt["requested"].as_u64(), receipt["refused"].as_u64()), (Some(3), Some(4)));
    assert_eq!((receipt["confirmed"].as_u64(), receipt["waiting"].as_u64()), (Some(0), Some(0)));
    assert!(receipt["lines"][3]["reason"].as_str().is_some_and(|r| !r.is_empty()), "a refusal says why");
    assert_eq!(receipt["lines"][0]["staff_id"], u1.as_str());
    assert_eq!(receipt["lines"][0]["offering_id"], grund.as_str());
    let tanum = s
        .post(
            &Actor::coordinator("tanum"),
            "/municipalities/tanum/registrations",
            lines(&[(&t1, &grund), (&t2, &grund)]),
        )
        .await;
    assert_eq!(tanum.expect(200)["requested"], 2);
    let orust =
        s.post(&Actor::coordinator("orust"), "/municipalities/orust/registrations", lines(&[(&o1, &grund)])).await;
    assert_eq!(orust.expect(200)["requested"], 1);

    let a = s.read(&format!("/offerings/{grund}")).await;
    assert_eq!(a["registrations"].as_array().unwrap().len(), 6);
    assert!(statuses(&a).values().all(|st| st == "requested"), "before the deadline all are requests: {a}");
    assert_eq!(a["free_seats"], 3);
    assert!(waiting_list(&a).is_empty());

    // Resubmitting the collective registration changes nothing.
    let before = s.snapshot(&[&format!("/offerings/{grund}"), &format!("/offerings/{forts}")]).await;
    let again = s.post(&Actor::coordinator("uddevalla"), path, uddevalla_lines.clone()).await;
    let again = again.expect(200).clone();
    assert_eq!(
        line_outcomes(&again),
        vec![
            outcome("requested", None, true),
            outcome("requested", None, true),
            outcome("requested", None, true),
            outcome("refused", Some("prerequisite_missing"), false),
            outcome("refused", Some("staff_paused"), false),
            outcome("refused", Some("staff_of_other_municipality"), false),
            outcome("refused", Some("not_found"), false),
        ]
    );
    assert_eq!((again["requested"].as_u64(), again["refused"].as_u64()), (Some(3), Some(4)));
    let after = s.snapshot(&[&format!("/offerings/{grund}"), &format!("/offerings/{forts}")]).await;
    unchanged(&before, &after, "resubmitted collective registration");

    // Registration cannot close before the deadline.
    let too_early = s.post(&office, &format!("/packages/{package}/close-registration"), json!({})).await;
    too_early.problem(422, "deadline_not_passed");
    assert_eq!(s.read(&format!("/packages/{package}")).await["phase"], "published");

    // Past the deadline, before closing: a late request waits behind every request in time.
    s.clock.set(utc(2027, 6, 16, 8, 0));
    let after_deadline = s
        .post(&Actor::coordinator("amal"), &format!("/offerings/{grund}/registrations"), json!({ "staff_id": a1 }))
        .await;
    assert_eq!(after_deadline.expect(200)["status"], "requested");
    assert_eq!(registration(&s.read(&format!("/offerings/{grund}")).await, &a1)["late"], true);

    // Close and allocate fairly.
    let report = s.post(&office, &format!("/packages/{package}/close-registration"), json!({})).await;
    let report = report.expect(200).clone();
    assert_eq!(report["package_id"], package.as_str());
    let entry = |id: &str| -> Value {
        report["offerings"].as_array().unwrap().iter().find(|o| o["offering_id"] == id).cloned().expect("reported")
    };
    let a_report = entry(&grund);
    assert_eq!((a_report["confirmed"].as_u64(), a_report["waitlisted"].as_u64()), (Some(3), Some(4)));
    let round_order: Vec<String> =
        a_report["round_order"].as_array().unwrap().iter().map(|m| m.as_str().unwrap().to_string()).collect();
    assert_eq!(
        round_order.iter().cloned().collect::<BTreeSet<_>>(),
        ["orust", "tanum", "uddevalla"].map(String::from).into_iter().collect::<BTreeSet<_>>()
    );
    assert_eq!(entry(&forts)["confirmed"], 0);
    assert_eq!(s.read(&format!("/packages/{package}")).await["phase"], "registration_closed");

    let a = s.read(&format!("/offerings/{grund}")).await;
    assert_eq!(a["state"], "allocated");
    assert_eq!(a["free_seats"], 0);
    let st = statuses(&a);
    // Three seats, three municipalities: each gets a seat, for its first priority.
    for first_choice in [&u1, &t1, &o1] {
        assert_eq!(st[first_choice.as_str()], "confirmed", "{a}");
    }
    // The rest wait in round-robin order: round two in the recorded turn order, then
    // round three, then the late request.
    let second_round: Vec<String> = round_order
        .iter()
        .filter_map(|m| match m.as_str() {
            "uddevalla" => Some(u2.clone()),
            "tanum" => Some(t2.clone()),
            _ => None,
        })
        .collect();
    let expected_waiting: Vec<String> = second_round.iter().cloned().chain([u3.clone(), a1.clone()]).collect();
    assert_eq!(waiting_list(&a), expected_waiting);
    for w in &expected_waiting {
        assert_eq!(st[w.as_str()], "waiting");
    }
    let summary = s.read(&format!("/packages/{package}")).await;
    let summary = summary["offerings"].as_array().unwrap().iter().find(|o| o["id"] == grund.as_str()).cloned().unwrap();
    assert_eq!(
        (summary["confirmed"].as_u64(), summary["waiting"].as_u64(), summary["requested"].as_u64()),
        (Some(3), Some(4), Some(0))
    );
    assert_eq!(summary["state"], "allocated");
    let (first_waiting, second_waiting) = (expected_waiting[0].clone(), expected_waiting[1].clone());

    // Closing again is safe: nothing is allocated twice.
    let events = s.event_count().await;
    let repeat = s.post(&office, &format!("/packages/{package}/close-registration"), json!({})).await;
    let repeat = repeat.expect(200).clone();
    assert!(repeat["offerings"].as_array().unwrap().iter().all(|o| o["skipped"] == "already_allocated"), "{repeat}");
    assert_eq!(s.event_count().await, events);
    assert_eq!(s.read(&format!("/offerings/{grund}")).await, a);

    // Late registrations: a free seat first come first served, else the waiting list.
    let late = s
        .post(&Actor::coordinator("uddevalla"), &format!("/offerings/{forts}/registrations"), json!({ "staff_id": u1 }))
        .await;
    let late = late.expect(200).clone();
    assert_eq!(late["status"], "confirmed", "LVU grund confirmed and over before LVU fortsättning: {late}");
    assert_eq!(late["already_registered"], false);
    let f = s.read(&format!("/offerings/{forts}")).await;
    assert_eq!(registration(&f, &u1)["late"], true);
    assert_eq!(f["free_seats"], 9);
    let late_wait = s
        .post(&Actor::coordinator("tanum"), &format!("/offerings/{grund}/registrations"), json!({ "staff_id": t3 }))
        .await;
    assert_eq!(late_wait.expect(200)["status"], "waiting");
    // A person on the waiting list has not met the prerequisite.
    let events = s.event_count().await;
    let refused = s
        .post(&Actor::coordinator("uddevalla"), &format!("/offerings/{forts}/registrations"), json!({ "staff_id": u3 }))
        .await;
    refused.problem(422, "prerequisite_missing");
    assert_eq!(s.event_count().await, events);
    // The course office may let it pass; the override is recorded.
    let overridden = s
        .post(
            &office,
            &format!("/offerings/{forts}/registrations"),
            json!({ "staff_id": u3, "override_prerequisites": true }),
        )
        .await;
    assert_eq!(overridden.expect(200)["status"], "confirmed");
    assert_eq!(overridden.json["prerequisites_overridden"], json!(["LVU-GRUND"]));
    let a = s.read(&format!("/offerings/{grund}")).await;
    assert_eq!(registration(&a, &t3)["late"], true);
    assert_eq!(waiting_list(&a).last(), Some(&t3));

    // Orust cancels its confirmed seat after the deadline: charged, and the first on the
    // waiting list gets the seat.
    let cancelled =
        s.post(&Actor::coordinator("orust"), &format!("/offerings/{grund}/registrations/{o1}/cancel"), json!({})).await;
    cancelled.expect(200);
    let a = s.read(&format!("/offerings/{grund}")).await;
    assert_eq!(registration(&a, &o1)["status"], "cancelled");
    assert_eq!(registration(&a, &o1)["charged"], true);
    assert_eq!(registration(&a, &first_waiting)["status"], "confirmed", "promoted from the waiting list");
    assert_eq!(waiting_list(&a), vec![second_waiting.clone(), u3.clone(), a1.clone(), t3.clone()]);
    assert_eq!(a["free_seats"], 0);
    // Leaving the waiting list is free.
    let left = s
        .post(&Actor::coordinator("uddevalla"), &format!("/offerings/{grund}/registrations/{u3}/cancel"), json!({}))
        .await;
    left.expect(200);
    let a = s.read(&format!("/offerings/{grund}")).await;
    assert_eq!(registration(&a, &u3)["status"], "cancelled");
    assert_eq!(registration(&a, &u3)["charged"], false);
    assert_eq!(waiting_list(&a), vec![second_waiting.clone(), a1.clone(), t3.clone()]);

    // Transfers: within the municipality, free; outside it, refused.
    let transferred = s
        .post(
            &Actor::coordinator("tanum"),
            &format!("/offerings/{grund}/registrations/{t1}/transfer"),
            json!({ "to_staff_id": t4 }),
        )
        .await;
    transferred.expect(200);
    let a = s.read(&format!("/offerings/{grund}")).await;
    assert_eq!(registration(&a, &t1)["status"], "transferred_away");
    assert_eq!(registration(&a, &t1)["charged"], false);
    assert_eq!(registration(&a, &t4)["status"], "confirmed");
    assert_eq!(registration(&a, &t4)["municipality"], "tanum");
    let before = s.snapshot(&[&format!("/offerings/{grund}")]).await;
    let outside =
        s.post(&office, &format!("/offerings/{grund}/registrations/{u1}/transfer"), json!({ "to_staff_id": a1 })).await;
    outside.problem(422, "transfer_outside_municipality");
    let not_theirs = s
        .post(
            &Actor::coordinator("uddevalla"),
            &format!("/offerings/{grund}/registrations/{u1}/transfer"),
            json!({ "to_staff_id": a1 }),
        )
        .await;
    not_theirs.problem(404, "not_found");
    let transfer = format!("/offerings/{grund}/registrations/{u1}/transfer");
    s.post(&office, &transfer, json!({ "to_staff_id": u1 })).await.problem(422, "transfer_to_self");
    s.post(&office, &transfer, json!({ "to_staff_id": up })).await.problem(422, "staff_paused");
    s.post(&office, &transfer, json!({ "to_staff_id": uuid::Uuid::new_v4() })).await.problem(404, "not_found");
    // Erik is confirmed or waiting: either way already on the offering.
    s.post(&office, &transfer, json!({ "to_staff_id": u2 })).await.problem(409, "already_registered");
    // Maria left the waiting list: she has nothing to transfer.
    s.post(&office, &format!("/offerings/{grund}/registrations/{u3}/transfer"), json!({ "to_staff_id": u1 }))
        .await
        .problem(422, "not_registered");
    unchanged(&before, &s.snapshot(&[&format!("/offerings/{grund}")]).await, "refused transfers");

    // Attendance: not before the session, not by a coordinator.
    s.assign_trainer(&grund).await;
    let before = s.snapshot(&[&format!("/offerings/{grund}")]).await;
    let attend = |staff: &str, session: usize, attendance: &str| json!({ "staff_id": staff, "session": session, "attendance": attendance });
    let attendance_path = format!("/offerings/{grund}/attendance");
    s.post(&trainer, &attendance_path, attend(&u1, 0, "present")).await.problem(422, "session_not_started");
    s.post(&Actor::coordinator("uddevalla"), &attendance_path, attend(&u1, 0, "present"))
        .await
        .problem(403, "forbidden");
    unchanged(&before, &s.snapshot(&[&format!("/offerings/{grund}")]).await, "refused attendance");

    s.clock.set(utc(2027, 9, 1, 10, 0));
    for who in [&u1, &t4, &first_waiting] {
        s.post(&trainer, &attendance_path, attend(who, 0, "present")).await.expect(200);
    }
    s.post(&trainer, &attendance_path, attend(&u1, 1, "present")).await.problem(422, "session_not_started");
    s.post(&trainer, &attendance_path, attend(&second_waiting, 0, "present")).await.problem(422, "not_a_participant");
    s.post(&trainer, &attendance_path, attend(&u1, 7, "present")).await.problem(422, "unknown_session");
    s.post(&office, &format!("/offerings/{grund}/complete"), json!({})).await.problem(422, "sessions_not_over");

    s.clock.set(utc(2027, 9, 8, 13, 0));
    s.post(&trainer, &attendance_path, attend(&u1, 1, "present")).await.expect(200);
    s.post(&trainer, &attendance_path, attend(&t4, 1, "present")).await.expect(200);
    s.post(&trainer, &attendance_path, attend(&first_waiting, 1, "absent")).await.expect(200);
    let completed = s.post(&office, &format!("/offerings/{grund}/complete"), json!({})).await;
    // Two completions, one non-completion, the offering completed.
    assert_eq!(completed.expect(200)["events"], 4, "{}", completed.text);

    let a = s.read(&format!("/offerings/{grund}")).await;
    assert_eq!(a["state"], "completed");
    let cert_u1 = registration(&a, &u1)["certificate"].as_str().expect("u1 certified").to_string();
    let cert_t4 = registration(&a, &t4)["certificate"].as_str().expect("t4 certified").to_string();
    assert_certificate(&cert_u1, "LVU-GRUND", "HT2027", &grund);
    assert_certificate(&cert_t4, "LVU-GRUND", "HT2027", &grund);
    assert_ne!(cert_u1, cert_t4, "certificate numbers are unique");
    assert_eq!(registration(&a, &u1)["attendance"], json!(["present", "present"]));
    assert_eq!(registration(&a, &u1)["attended"], 2);
    let missed = registration(&a, &first_waiting);
    assert_eq!(missed["certificate"], Value::Null, "1 of 2 sessions is below 80 %");
    assert_eq!(missed["not_completed"], true);
    assert_eq!(missed["attendance"], json!(["present", "absent"]));
    assert_eq!(registration(&a, &t1)["certificate"], Value::Null, "who gave the seat away gets nothing");

    // The participant's own record.
    let record = s.read(&format!("/staff/{u1}/registrations")).await;
    let record = record.as_array().expect("a list");
    assert_eq!(record.len(), 2, "{record:?}");
    let on_grund = record.iter().find(|r| r["offering_id"] == grund.as_str()).expect("LVU grund listed");
    assert_eq!(on_grund["certificate"], cert_u1.as_str());
    assert_eq!((on_grund["attended"].as_u64(), on_grund["sessions"].as_u64()), (Some(2), Some(2)));
    assert_eq!(on_grund["course"], "LVU-GRUND");
    assert_eq!(on_grund["term"], "HT2027");
    assert_eq!(on_grund["status"], "confirmed");
    let on_forts = record.iter().find(|r| r["offering_id"] == forts.as_str()).expect("LVU fortsättning listed");
    assert_eq!(on_forts["status"], "confirmed");
    assert_eq!(on_forts["certificate"], Value::Null);
    let t4_record = s.read(&format!("/staff/{t4}/registrations")).await;
    assert_eq!(t4_record[0]["certificate"], cert_t4.as_str());
    let t1_record = s.read(&format!("/staff/{t1}/registrations")).await;
    assert_eq!(t1_record[0]["status"], "transferred_away");
    let o1_record = s.read(&format!("/staff/{o1}/registrations")).await;
    assert_eq!(o1_record[0]["status"], "cancelled");

    // The roster projection, read as soon as it has the completion (read-your-writes),
    // says what the offering says.
    let position = completed.json["position"].as_i64().expect("the completion's position");
    let roster = s.read(&format!("/offerings/{grund}/roster?min_position={position}")).await;
    assert!(roster["position"].as_i64().unwrap() >= position, "{roster}");
    assert_eq!(roster["state"], "completed");
    let entries = roster["entries"].as_array().expect("entries");
    let offering_registrations = a["registrations"].as_array().expect("registrations");
    assert_eq!(entries.len(), offering_registrations.len(), "{roster}");
    for registration in offering_registrations {
        let staff = registration["staff_id"].as_str().unwrap();
        let entry =
            entries.iter().find(|e| e["staff_id"] == staff).unwrap_or_else(|| panic!("{staff} not on the roster"));
        for field in ["status", "charged", "certificate", "attendance", "municipality", "late"] {
            assert_eq!(entry[field], registration[field], "{field} of {staff} in the roster: {roster}");
        }
    }
    let beyond = position + 1_000_000;
    // A position beyond the end of the log was never answered: 400 at once, said plainly.
    let behind = s.get(&Actor::office(), &format!("/offerings/{grund}/roster?min_position={beyond}")).await;
    behind.problem(400, "invalid_query");
    assert!(behind.str("detail").contains("beyond the end of the log"), "{}", behind.text);

    // A completed offering takes no more registrations.
    let closed = s
        .post(&Actor::coordinator("uddevalla"), &format!("/offerings/{grund}/registrations"), json!({ "staff_id": u2 }))
        .await;
    closed.problem(422, "offering_completed");
}

#[tokio::test]
async fn full_term_over_http_sqlite() {
    full_term(Backend::Sqlite).await;
}

#[tokio::test]
async fn full_term_over_http_postgres() {
    full_term(Backend::Postgres).await;
}

// ----- bad input: never 500, never a partial write -----

/// A small catalogue with one municipality, one staff member, a draft package and one
/// offering; returns (package, offering, staff).
async fn small_world(s: &TestServer) -> (String, String, String) {
    s.add_course("LVU-GRUND", "LVU grund", &[]).await;
    s.add_municipality("uddevalla", "Uddevalla").await;
    s.add_municipality("tanum", "Tanum").await;
    let staff = s.add_staff("uddevalla", "Anna Andersson").await;
    let package = s.create_package("HT2027").await;
    let offering = s.plan_offering(&package, offering_body("LVU-GRUND", 10, &[utc(2027, 9, 1, 6, 0)])).await;
    (package, offering, staff)
}

fn watched(package: &str, offering: &str, staff: &str) -> Vec<String> {
    vec![
        format!("/packages/{package}"),
        format!("/offerings/{offering}"),
        format!("/staff/{staff}"),
        "/courses/LVU-GRUND".into(),
        "/municipalities/uddevalla".into(),
    ]
}

async fn bad_input_is_refused_without_writes(backend: Backend) {
    let Some(s) = TestServer::start(backend).await else { return };
    let office = Actor::office();
    let (package, offering, staff) = small_world(&s).await;
    let paths = watched(&package, &offering, &staff);
    let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
    let start = s.snapshot(&paths).await;

    let (_, token) = s.account(&office).await;
    let raw = |path: &str, body: &str| {
        s.request(Method::POST, path)
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body.to_string())
    };

    // Malformed JSON: 400.
    for (path, body) in [
        ("/courses", r#"{"code": "X1", "title": "t""#),
        ("/packages", "{term: HT2027}"),
        (&format!("/packages/{package}/offerings") as &str, r#"{"course": "LVU-GRUND", "#),
        (&format!("/offerings/{offering}/registrations") as &str, "\u{0}\u{1}"),
    ] {
        s.send(raw(path, body)).await.problem(400, "malformed_json");
    }
    // Absurdly deep nesting is a bad body, not a crash.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let reply = s.send(raw("/courses", &deep)).await;
    assert!(matches!(reply.status, 400 | 422), "deep nesting: {} {}", reply.status, reply.text);
    assert_eq!(reply.content_type(), "application/problem+json");

    // Wrong types, unknown fields, missing fields: 422 validation.
    let course = |extra: Value| {
        let mut body = json!({ "code": "NY-KURS", "title": "Ny kurs", "description": "Beskrivning." });
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        body
    };
    for body in [
        course(json!({ "code": 5 })),
        course(json!({ "prerequisites": "LVU-GRUND" })),
        course(json!({ "title": null })),
        course(json!({ "colour": "blue" })),
        course(json!({ "title": "   " })),
        course(json!({ "code": "ny kurs!" })),
        course(json!({ "prerequisites": ["FINNS-INTE"] })),
        json!({ "code": "NY-KURS", "title": "Ny kurs" }),
        json!([]),
        json!("a string"),
    ] {
        let reply = s.post(&office, "/courses", body.clone()).await;
        assert_eq!(reply.status, 422, "{body}: {}", reply.text);
        assert_eq!(reply.content_type(), "application/problem+json");
        assert!(matches!(reply.json["code"].as_str(), Some("validation" | "unknown_course")), "{}", reply.text);
    }
    assert_eq!(s.get(&office, "/courses/NY-KURS").await.status, 404, "no course was added");

    // Out-of-range values when planning an offering.
    let offerings = format!("/packages/{package}/offerings");
    let planned = |patch: Value| {
        let mut body = offering_body("LVU-GRUND", 10, &[utc(2027, 10, 1, 6, 0)]);
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let session =
        |starts: &str, ends: &str, hours: Value| json!([{ "starts_at": starts, "ends_at": ends, "hours": hours }]);
    for (what, body) in [
        ("seat_limit 0", planned(json!({ "seat_limit": 0 }))),
        ("seat_limit 10001", planned(json!({ "seat_limit": 10_001 }))),
        ("seat_limit -1", planned(json!({ "seat_limit": -1 }))),
        ("seat_limit huge", planned(json!({ "seat_limit": 1e20 }))),
        ("seat_limit missing", planned(json!({ "seat_limit": null }))),
        ("completion_threshold 0", planned(json!({ "completion_threshold": 0 }))),
        ("completion_threshold 101", planned(json!({ "completion_threshold": 101 }))),
        ("completion_threshold 300", planned(json!({ "completion_threshold": 300 }))),
        ("price_sek -5", planned(json!({ "price_sek": -5 }))),
        (
            "hours -1",
            planned(json!({ "sessions": session("2027-10-01T06:00:00Z", "2027-10-01T12:00:00Z", json!(-1)) })),
        ),
        ("hours 0", planned(json!({ "sessions": session("2027-10-01T06:00:00Z", "2027-10-01T12:00:00Z", json!(0)) }))),
        (
            "hours 1000",
            planned(json!({ "sessions": session("2027-10-01T06:00:00Z", "2027-10-01T12:00:00Z", json!(1000)) })),
        ),
        (
            "hours 1e308",
            planned(json!({ "sessions": session("2027-10-01T06:00:00Z", "2027-10-01T12:00:00Z", json!(1e308)) })),
        ),
        (
            "hours beyond the session",
            planned(json!({ "sessions": session("2027-10-01T06:00:00Z", "2027-10-01T08:00:00Z", json!(6)) })),
        ),
        (
            "ends before it starts",
            planned(json!({ "sessions": session("2027-10-01T12:00:00Z", "2027-10-01T06:00:00Z", Value::Null) })),
        ),
        (
            "ends as it starts",
            planned(json!({ "sessions": session("2027-10-01T12:00:00Z", "2027-10-01T12:00:00Z", Value::Null) })),
        ),
        (
            "not a time",
            planned(json!({ "sessions": session("den första oktober", "2027-10-01T12:00:00Z", Value::Null) })),
        ),
        ("no sessions", planned(json!({ "sessions": [] }))),
        ("unknown band", planned(json!({ "experience_bands": ["ancient"] }))),
        ("unknown staff group", planned(json!({ "staff_groups": ["chefer"] }))),
        ("empty trainer", planned(json!({ "trainer": "" }))),
        ("unknown course", planned(json!({ "course": "FINNS-INTE" }))),
        ("own prerequisite", planned(json!({ "prerequisites": ["LVU-GRUND"] }))),
        ("unknown field", planned(json!({ "room": "A1" }))),
    ] {
        let reply = s.post(&office, &offerings, body).await;
        assert_eq!(reply.status, 422, "{what}: {}", reply.text);
        assert_eq!(reply.content_type(), "application/problem+json", "{what}");
        assert!(matches!(reply.json["code"].as_str(), Some("validation" | "unknown_course")), "{what}: {}", reply.text);
    }

    // Staff, packages, registrations, attendance.
    let staff_with = |field: &str, value: Value| {
        let mut body = staff_body("Ny Person");
        body[field] = value;
        body
    };
    let add_staff = "/municipalities/uddevalla/staff";
    for (what, body) in [
        ("no @", staff_with("work_email", json!("not-an-email"))),
        ("no domain dot", staff_with("work_email", json!("a@b"))),
        ("space", staff_with("work_email", json!("a b@kommun.se"))),
        ("two @", staff_with("work_email", json!("a@b@kommun.se"))),
        ("band", staff_with("experience_band", json!("ancient"))),
        ("group", staff_with("staff_group", json!("chefer"))),
        ("degree as text", staff_with("social_work_degree", json!("yes"))),
        ("supervisor not an id", staff_with("supervisor_id", json!("chefen"))),
        ("empty name", staff_with("name", json!(" "))),
        ("long name", staff_with("name", json!("x".repeat(100_000)))),
    ] {
        s.post(&office, add_staff, body).await.problem(422, "validation");
        let _ = what;
    }
    let unknown_supervisor = s.post(&office, add_staff, staff_with("supervisor_id", json!(uuid::Uuid::new_v4()))).await;
    unknown_supervisor.problem(404, "not_found");

    let package_body = |term: Value, deadline: Value| json!({ "term": term, "title": "Paket", "organiser": "Fyrbodal", "deadline": deadline });
    for body in [
        package_body(json!("XX2027"), Value::Null),
        package_body(json!("HT27"), Value::Null),
        package_body(json!("HT1999"), Value::Null),
        package_body(json!("HT20277"), Value::Null),
        package_body(json!("HTÅÄÖ7"), Value::Null),
        package_body(json!(2027), Value::Null),
        package_body(json!("HT2027"), json!("i juni")),
        package_body(json!("HT2027"), json!(20270615)),
    ] {
        let reply = s.post(&office, "/packages", body.clone()).await;
        assert_eq!(reply.status, 422, "{body}: {}", reply.text);
        reply.problem(422, "validation");
    }
    s.post(&office, &format!("/packages/{package}/deadline"), json!({ "deadline": "snart" }))
        .await
        .problem(422, "validation");
    s.post(&office, &format!("/offerings/{offering}/seat-limit"), json!({ "seat_limit": 0 }))
        .await
        .problem(422, "validation");
    s.post(&office, &format!("/offerings/{offering}/cancel"), json!({ "reason": "" })).await.problem(422, "validation");
    s.post(&office, &format!("/offerings/{offering}/cancel"), json!({})).await.problem(422, "validation");
    s.post(&office, &format!("/offerings/{offering}/registrations"), json!({ "staff_id": "anna" }))
        .await
        .problem(422, "validation");
    s.post(&office, &format!("/offerings/{offering}/registrations"), json!({ "staff_id": staff, "priority": 1 }))
        .await
        .problem(422, "validation");
    let collective = "/municipalities/uddevalla/registrations";
    s.post(&office, collective, json!({ "lines": [] })).await.problem(422, "validation");
    s.post(&office, collective, json!({ "lines": [{ "staff_id": staff, "offering_id": "nope" }] }))
        .await
        .problem(422, "validation");
    s.post(&office, collective, json!({ "lines": [{ "staff_id": staff }] })).await.problem(422, "validation");
    let attendance = format!("/offerings/{offering}/attendance");
    for body in [
        json!({ "staff_id": staff, "session": 0, "attendance": "maybe" }),
        json!({ "staff_id": staff, "session": -1, "attendance": "present" }),
        json!({ "staff_id": staff, "session": "first", "attendance": "present" }),
        json!({ "staff_id": staff, "session": 0, "attendance": "present", "note": "" }),
    ] {
        s.post(&office, &attendance, body).await.problem(422, "validation");
    }
    let mut revision = offering_body("LVU-GRUND", 10, &[utc(2027, 9, 1, 6, 0)]);
    revision["completion_threshold"] = json!(101);
    s.put(&office, &format!("/offerings/{offering}"), revision).await.problem(422, "validation");
    s.put(&office, "/courses/LVU-GRUND", json!({ "title": "", "description": "x" })).await.problem(422, "validation");

    // Too many lines for one collective registration.
    let line = json!({ "staff_id": staff, "offering_id": offering });
    s.post(&office, collective, json!({ "lines": vec![line; 5001] })).await.problem(422, "validation");

    // A body that is not JSON at all.
    let text = s.as_actor(&office, Method::POST, "/courses").await.header("content-type", "text/plain").body("code=X");
    s.send(text).await.problem(415, "unsupported_media_type");

    // Rule refusals on a draft package: nothing to publish twice, nothing to close yet.
    s.post(&office, &format!("/packages/{package}/close-registration"), json!({})).await.problem(409, "wrong_phase");
    s.post(&office, &format!("/packages/{package}/archive"), json!({})).await.problem(409, "wrong_phase");
    s.post(&office, "/courses", json!({ "code": "LVU-GRUND", "title": "Igen", "description": "Igen." }))
        .await
        .problem(409, "already_exists");
    s.post(&office, "/municipalities", json!({ "id": "uddevalla", "name": "Uddevalla", "federation": "Fyrbodal" }))
        .await
        .problem(409, "already_exists");

    unchanged(&start, &s.snapshot(&paths).await, "bad input");
}

/// A body that is not JSON is 400 however far a typed parse got before noticing.
#[tokio::test]
async fn truncated_json_is_malformed_even_when_types_are_wrong() {
    let s = TestServer::start(Backend::Sqlite).await.expect("SQLite");
    let (package, _, _) = small_world(&s).await;
    let before = s.event_count().await;
    for (path, body) in [
        ("/courses".to_string(), r#"{"code": 5, "title": "#),
        (format!("/packages/{package}/offerings"), "[1, 2,"),
        ("/packages".to_string(), r#"{"term": ["HT2027"#),
    ] {
        let request = s
            .as_actor(&Actor::office(), Method::POST, &path)
            .await
            .header("content-type", "application/json")
            .body(body);
        s.send(request).await.problem(400, "malformed_json");
    }
    assert_eq!(s.event_count().await, before);
}

#[tokio::test]
async fn bad_input_is_refused_without_writes_sqlite() {
    bad_input_is_refused_without_writes(Backend::Sqlite).await;
}

#[tokio::test]
async fn bad_input_is_refused_without_writes_postgres() {
    bad_input_is_refused_without_writes(Backend::Postgres).await;
}

#[tokio::test]
async fn unknown_ids_routes_and_methods() {
    let s = TestServer::start(Backend::Sqlite).await.expect("SQLite");
    let office = Actor::office();
    let (package, offering, staff) = small_world(&s).await;
    let paths = watched(&package, &offering, &staff);
    let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
    let start = s.snapshot(&paths).await;
    let nobody = uuid::Uuid::new_v4();

    // Reads of things that do not exist, or cannot exist: 404 not_found.
    for path in [
        format!("/offerings/{nobody}"),
        "/offerings/not-a-uuid".into(),
        format!("/offerings/{package}"), // a package id is not an offering id
        format!("/packages/{nobody}"),
        "/packages/12345".into(),
        format!("/packages/{offering}"),
        format!("/staff/{nobody}"),
        "/staff/anna".into(),
        format!("/staff/{nobody}/registrations"),
        "/courses/FINNS-INTE".into(),
        "/courses/inte%20en%20kod!".into(),
        "/municipalities/goteborg".into(),
        "/municipalities/%C3%A5m%C3%A5l%20".into(),
    ] {
        let reply = s.get(&office, &path).await;
        assert_eq!(reply.status, 404, "GET {path}: {}", reply.text);
        reply.problem(404, "not_found");
    }

    // Commands on things that do not exist.
    for (path, body) in [
        (format!("/packages/{nobody}/publish"), json!({})),
        ("/packages/xyz/publish".into(), json!({})),
        (format!("/packages/{nobody}/close-registration"), json!({})),
        (format!("/packages/{nobody}/deadline"), json!({ "deadline": "2027-06-01T00:00:00Z" })),
        (format!("/packages/{nobody}/offerings"), offering_body("LVU-GRUND", 5, &[utc(2027, 9, 1, 6, 0)])),
        (format!("/offerings/{nobody}/registrations"), json!({ "staff_id": staff })),
        ("/offerings/not-a-uuid/registrations".into(), json!({ "staff_id": staff })),
        (format!("/offerings/{offering}/registrations"), json!({ "staff_id": nobody })),
        (format!("/offerings/{nobody}/cancel"), json!({ "reason": "Inställd" })),
        (format!("/offerings/{nobody}/seat-limit"), json!({ "seat_limit": 5 })),
        (format!("/offerings/{offering}/registrations/{nobody}/cancel"), json!({})),
        (format!("/offerings/{offering}/registrations/bad/cancel"), json!({})),
        (format!("/staff/{nobody}/pause"), json!({})),
        ("/staff/anna/remove".into(), json!({})),
        ("/municipalities/goteborg/staff".into(), staff_body("Ny Person")),
        ("/municipalities/goteborg/registrations".into(), lines(&[(&staff, &offering)])),
    ] {
        let reply = s.post(&office, &path, body).await;
        assert_eq!(reply.status, 404, "POST {path}: {}", reply.text);
        reply.problem(404, "not_found");
    }
    s.put(&office, "/courses/FINNS-INTE", json!({ "title": "T", "description": "D" })).await.problem(404, "not_found");
    s.put(&office, &format!("/staff/{nobody}"), staff_body("Ny Person")).await.problem(404, "not_found");

    // Unknown routes: 404, with or without actor headers.
    for path in ["/nope", "/offerings", "/packages/x/y/z", "/courses/LVU-GRUND/extra"] {
        s.get(&office, path).await.problem(404, "not_found");
        s.send(s.request(Method::GET, path)).await.problem(404, "not_found");
    }

    // Wrong method: 405.
    for (method, path) in [
        (Method::DELETE, "/courses".to_string()),
        (Method::PUT, "/courses".into()),
        (Method::DELETE, "/packages".into()),
        (Method::DELETE, format!("/offerings/{offering}")),
        (Method::PATCH, format!("/staff/{staff}")),
        (Method::GET, format!("/packages/{package}/publish")),
        (Method::POST, "/healthz".into()),
        (Method::PUT, format!("/packages/{package}")),
    ] {
        let reply = s.send(s.as_actor(&office, method.clone(), &path).await).await;
        assert_eq!(reply.status, 405, "{method} {path}: {}", reply.text);
        reply.problem(405, "method_not_allowed");
    }

    unchanged(&start, &s.snapshot(&paths).await, "unknown ids, routes and methods");
}

#[tokio::test]
async fn actors_are_required_and_confined_to_their_municipality() {
    let s = TestServer::start(Backend::Sqlite).await.expect("SQLite");
    let (package, offering, staff) = small_world(&s).await;
    s.post(&Actor::office(), &format!("/packages/{package}/publish"), json!({})).await.expect(200);
    let tanum_staff = s.add_staff("tanum", "Johan Dahl").await;
    let paths = watched(&package, &offering, &staff);
    let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
    let start = s.snapshot(&paths).await;
    let course = json!({ "code": "NY-KURS", "title": "Ny", "description": "Ny kurs." });

    // No credentials: 401 on reads and writes. Claiming to be someone in a header (as
    // before authentication existed) grants nothing.
    s.send(s.request(Method::POST, "/courses").json(&course)).await.problem(401, "unauthenticated");
    s.send(s.request(Method::GET, &format!("/offerings/{offering}"))).await.problem(401, "unauthenticated");
    s.send(s.request(Method::GET, &format!("/staff/{staff}"))).await.problem(401, "unauthenticated");
    s.send(s.request(Method::POST, "/courses").header("X-Actor-Id", "someone").json(&course))
        .await
        .problem(401, "unauthenticated");
    s.send(s.request(Method::POST, "/courses").header("X-Actor-Role", "course_office").json(&course))
        .await
        .problem(401, "unauthenticated");
    s.send(
        s.request(Method::POST, "/courses")
            .header("X-Actor-Id", "  ")
            .header("X-Actor-Role", "course_office")
            .json(&course),
    )
    .await
    .problem(401, "unauthenticated");
    // Malformed, checked before the body is looked at.
    s.send(s.request(Method::POST, "/courses").header("content-type", "application/json").body("{"))
        .await
        .problem(401, "unauthenticated");
    // Credentials that are not a valid token: 401, saying nothing about why.
    let (_, token) = s.account(&Actor::office()).await;
    for bad in ["kl_nonsense", &token[..token.len() - 1], &format!("{token}0"), ""] {
        let reply = s.send(s.request(Method::POST, "/courses").bearer_auth(bad).json(&course)).await;
        reply.problem(401, "unauthenticated");
        assert_eq!(reply.headers["www-authenticate"], "Bearer", "{}", reply.text);
    }
    s.send(s.request(Method::POST, "/courses").header("Authorization", format!("Basic {token}")).json(&course))
        .await
        .problem(401, "unauthenticated");

    // Not their job, or not their municipality: 403; another municipality's person is
    // not even there for them (404).
    let tanum = Actor::coordinator("tanum");
    s.post(&tanum, "/courses", course.clone()).await.problem(403, "forbidden");
    s.post(&tanum, "/packages", json!({ "term": "HT2027", "title": "P", "organiser": "O" }))
        .await
        .problem(403, "forbidden");
    s.post(&tanum, &format!("/packages/{package}/close-registration"), json!({})).await.problem(403, "forbidden");
    s.post(&tanum, "/municipalities/uddevalla/registrations", lines(&[(&staff, &offering)]))
        .await
        .problem(403, "forbidden");
    s.post(&tanum, "/municipalities/uddevalla/staff", staff_body("Ny Person")).await.problem(403, "forbidden");
    s.post(&tanum, &format!("/offerings/{offering}/registrations"), json!({ "staff_id": staff }))
        .await
        .problem(404, "not_found");
    s.post(&tanum, &format!("/staff/{staff}/pause"), json!({})).await.problem(404, "not_found");
    s.put(&tanum, &format!("/staff/{staff}"), staff_body("Nytt Namn")).await.problem(404, "not_found");
    s.post(&Actor::trainer(), &format!("/offerings/{offering}/registrations"), json!({ "staff_id": staff }))
        .await
        .problem(403, "forbidden");
    s.post(
        &Actor::with_role("p", "participant"),
        &format!("/offerings/{offering}/attendance"),
        json!({ "staff_id": staff, "session": 0, "attendance": "present" }),
    )
    .await
    .problem(403, "forbidden");
    // Only the course office overrides prerequisites.
    s.post(
        &Actor::coordinator("uddevalla"),
        &format!("/offerings/{offering}/registrations"),
        json!({ "staff_id": staff, "override_prerequisites": true }),
    )
    .await
    .problem(403, "forbidden");
    // A coordinator cannot register another municipality's staff in their own name either.
    let receipt = s
        .post(
            &Actor::coordinator("uddevalla"),
            "/municipalities/uddevalla/registrations",
            lines(&[(&tanum_staff, &offering)]),
        )
        .await;
    assert_eq!(
        line_outcomes(receipt.expect(200)),
        vec![outcome("refused", Some("staff_of_other_municipality"), false)]
    );

    unchanged(&start, &s.snapshot(&paths).await, "refused actors");

    // A coordinator's own municipality works.
    let ok = s
        .post(
            &Actor::coordinator("uddevalla"),
            &format!("/offerings/{offering}/registrations"),
            json!({ "staff_id": staff }),
        )
        .await;
    assert_eq!(ok.expect(200)["status"], "requested");
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_with_413() {
    let s = TestServer::start(Backend::Sqlite).await.expect("SQLite");
    s.add_municipality("uddevalla", "Uddevalla").await;
    let before = s.event_count().await;
    let limit = api_support::default_http_settings().max_body_bytes;
    let big = json!({ "code": "STOR", "title": "Stor", "description": "x".repeat(limit + 1024) });
    let reply = s.post(&Actor::office(), "/courses", big).await;
    reply.problem(413, "payload_too_large");
    let huge_registration = json!({ "lines": vec![json!({ "staff_id": uuid::Uuid::new_v4(), "offering_id": uuid::Uuid::new_v4() }); limit / 60] });
    s.post(&Actor::office(), "/municipalities/uddevalla/registrations", huge_registration)
        .await
        .problem(413, "payload_too_large");
    assert_eq!(s.event_count().await, before);
    assert_eq!(s.get(&Actor::office(), "/courses/STOR").await.status, 404);
    // Just under the limit is accepted.
    let fits = json!({ "code": "LAGOM", "title": "Lagom", "description": "Kort beskrivning.", "prerequisites": [] });
    s.post(&Actor::office(), "/courses", fits).await.expect(201);
}

// ----- Idempotency-Key -----

/// The repeat of an idempotent request got the first answer: same status, same body
/// apart from `position` (see `a_replayed_answer_is_identical_to_the_first`).
#[track_caller]
fn same_answer(first: &Reply, repeat: &Reply) {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(o) = v.as_object_mut() {
            o.remove("position");
        }
        v
    };
    assert_eq!(repeat.status, first.status, "a repeat gets the first status: {}", repeat.text);
    assert_eq!(strip(&repeat.json), strip(&first.json), "a repeat gets the first answer");
}

async fn idempotency(backend: Backend) {
    let Some(s) = TestServer::start(backend).await else { return };
    let office = Actor::office();
    s.add_course("LVU-GRUND", "LVU grund", &[]).await;
    s.add_municipality("uddevalla", "Uddevalla").await;
    let anna = s.add_staff("uddevalla", "Anna Andersson").await;
    let erik = s.add_staff("uddevalla", "Erik Berg").await;

    // Creating a package twice with one key: one package, the same answer.
    let body = json!({ "term": "HT2027", "title": "Paket HT2027", "organiser": "Fyrbodal" });
    let first = s.post_with_key(&office, "/packages", body.clone(), "paket-ht2027").await;
    first.expect(201);
    let package = first.str("id");
    let events = s.event_count().await;
    let second = s.post_with_key(&office, "/packages", body.clone(), "paket-ht2027").await;
    same_answer(&first, &second);
    assert_eq!(second.str("id"), package);
    assert_eq!(s.event_count().await, events, "no new events for a repeat");
    // Without a key the same body makes a second package.
    let other = s.post(&office, "/packages", body.clone()).await;
    assert_ne!(other.expect(201)["id"], package.as_str());
    // The same key with another body, or on another path: 422 idempotency_key_reused.
    let events = s.event_count().await;
    let changed = json!({ "term": "VT2028", "title": "Paket VT2028", "organiser": "Fyrbodal" });
    s.post_with_key(&office, "/packages", changed, "paket-ht2027").await.problem(422, "idempotency_key_reused");
    s.post_with_key(&office, "/courses", json!({ "code": "NY", "title": "Ny", "description": "Ny." }), "paket-ht2027")
        .await
        .problem(422, "idempotency_key_reused");
    assert_eq!(s.event_count().await, events);
    assert_eq!(s.get(&office, "/courses/NY").await.status, 404);
    // Keys belong to the actor: another actor's identical key is a request of its own.
    let colleague = Actor::with_role("kollega@fyrbodal.se", "course_office");
    let theirs = s.post_with_key(&colleague, "/packages", body.clone(), "paket-ht2027").await;
    assert_ne!(theirs.expect(201)["id"], package.as_str());

    // Planning an offering twice with one key: one offering in the package.
    let offering_request = offering_body("LVU-GRUND", 1, &[utc(2027, 9, 1, 6, 0)]);
    let path = format!("/packages/{package}/offerings");
    let planned = s.post_with_key(&office, &path, offering_request.clone(), "plan-1").await;
    planned.expect(201);
    let events = s.event_count().await;
    let replanned = s.post_with_key(&office, &path, offering_request, "plan-1").await;
    assert_eq!((replanned.status, &replanned.json), (planned.status, &planned.json));
    assert_eq!(s.event_count().await, events);
    let offering = planned.str("id");
    assert_eq!(s.read(&format!("/packages/{package}")).await["offerings"].as_array().unwrap().len(), 1);

    // A refusal is an answer too: the repeat gets it even after the world changed.
    let draft = s.post(&office, "/packages", json!({ "term": "VT2028", "title": "Tomt", "organiser": "F" })).await;
    let draft = draft.str("id");
    let publish = format!("/packages/{draft}/publish");
    s.post_with_key(&office, &publish, json!({}), "publicera-tomt").await.problem(422, "no_offerings");
    s.post_with_key(&office, &publish, json!({}), "publicera-tomt").await.problem(422, "no_offerings");

    // Publishing with a key, twice: the second is the first answer, not wrong_phase.
    let published = s.post_with_key(&office, &format!("/packages/{package}/publish"), json!({}), "publicera").await;
    published.expect(200);
    let republished = s.post_with_key(&office, &format!("/packages/{package}/publish"), json!({}), "publicera").await;
    same_answer(&published, &republished);
    s.post(&office, &format!("/packages/{package}/publish"), json!({})).await.problem(409, "wrong_phase");

    // Registering twice with one key: the first outcome, not already_registered.
    let coordinator = Actor::coordinator("uddevalla");
    let register = format!("/offerings/{offering}/registrations");
    let first = s.post_with_key(&coordinator, &register, json!({ "staff_id": anna }), "anmalan-anna").await;
    assert_eq!(first.expect(200)["status"], "requested");
    assert_eq!(first.json["already_registered"], false);
    let events = s.event_count().await;
    let view = s.read(&format!("/offerings/{offering}")).await;
    let second = s.post_with_key(&coordinator, &register, json!({ "staff_id": anna }), "anmalan-anna").await;
    same_answer(&first, &second);
    assert_eq!(second.json["already_registered"], false);
    assert_eq!(s.event_count().await, events);
    assert_eq!(s.read(&format!("/offerings/{offering}")).await, view);
    // Without the key, the resubmission reports where Anna stands.
    let plain = s.post(&coordinator, "/municipalities/uddevalla/registrations", lines(&[(&anna, &offering)])).await;
    assert_eq!(line_outcomes(plain.expect(200)), vec![outcome("requested", None, true)]);
    // The registration key reused for Erik: refused, and Erik is not registered.
    s.post_with_key(&coordinator, &register, json!({ "staff_id": erik }), "anmalan-anna")
        .await
        .problem(422, "idempotency_key_reused");
    assert!(!statuses(&s.read(&format!("/offerings/{offering}")).await).contains_key(&erik));

    // A collective registration with a key, twice: an identical receipt.
    let collective = lines(&[(&erik, &offering), (&anna, &offering)]);
    let receipt =
        s.post_with_key(&coordinator, "/municipalities/uddevalla/registrations", collective.clone(), "samlad-1").await;
    receipt.expect(200);
    assert_eq!(line_outcomes(&receipt.json), vec![outcome("requested", None, false), outcome("requested", None, true)]);
    let events = s.event_count().await;
    let again = s.post_with_key(&coordinator, "/municipalities/uddevalla/registrations", collective, "samlad-1").await;
    assert_eq!((again.status, &again.text), (receipt.status, &receipt.text));
    assert_eq!(s.event_count().await, events);

    // Closing registration with a key: the same allocation report twice, seats allocated once.
    s.clock.set(utc(2027, 6, 16, 8, 0));
    let close = format!("/packages/{package}/close-registration");
    let report = s.post_with_key(&office, &close, json!({}), "stang").await;
    assert_eq!(report.expect(200)["offerings"][0]["confirmed"], 1);
    assert_eq!(report.json["offerings"][0]["waitlisted"], 1);
    let events = s.event_count().await;
    let again = s.post_with_key(&office, &close, json!({}), "stang").await;
    assert_eq!((again.status, &again.json), (200, &report.json));
    assert_eq!(s.event_count().await, events);

    // Adding staff with a key twice: one person.
    let add = "/municipalities/uddevalla/staff";
    let added = s.post_with_key(&coordinator, add, staff_body("Maria Carlsson"), "ny-maria").await;
    added.expect(201);
    let events = s.event_count().await;
    let readded = s.post_with_key(&coordinator, add, staff_body("Maria Carlsson"), "ny-maria").await;
    same_answer(&added, &readded);
    assert_eq!(s.event_count().await, events);

    // A key longer than 200 characters is refused.
    s.post_with_key(&office, "/packages", body, &"k".repeat(201)).await.problem(422, "validation");
}

#[tokio::test]
async fn idempotency_key_sqlite() {
    idempotency(Backend::Sqlite).await;
}

#[tokio::test]
async fn idempotency_key_postgres() {
    idempotency(Backend::Postgres).await;
}

// ----- operations -----

async fn health_openapi_and_request_ids(backend: Backend) {
    let Some(s) = TestServer::start(backend).await else { return };

    let health = s.send(s.request(Method::GET, "/healthz")).await;
    assert_eq!(health.expect(200)["status"], "ok");
    let ready = s.send(s.request(Method::GET, "/readyz")).await;
    assert_eq!(ready.expect(200)["database"], "ok");
    assert_eq!(ready.json["status"], "ready");

    let openapi = s.send(s.request(Method::GET, "/openapi.json")).await;
    openapi.expect(200);
    assert!(openapi.content_type().starts_with("application/json"), "{}", openapi.content_type());
    assert!(openapi.json["openapi"].as_str().is_some_and(|v| v.starts_with('3')), "an OpenAPI 3 document");
    let paths = openapi.json["paths"].as_object().expect("paths");
    for path in ["/packages", "/offerings/{id}/registrations", "/municipalities/{id}/registrations"] {
        assert!(paths.contains_key(path), "OpenAPI lists {path}");
    }
    assert!(paths["/packages"]["post"].is_object(), "POST /packages is documented");
    assert!(paths["/municipalities/{id}/registrations"]["post"].is_object());

    // Every answer carries a request id; the client's own is echoed back.
    let answers = [
        s.request(Method::GET, "/healthz"),
        s.request(Method::GET, "/nope"),
        s.request(Method::DELETE, "/courses"),
        s.request(Method::POST, "/courses").json(&json!({})),
        s.as_actor(&Actor::office(), Method::GET, "/courses/FINNS-INTE").await,
        s.as_actor(&Actor::office(), Method::POST, "/courses")
            .await
            .header("content-type", "application/json")
            .body("{"),
    ];
    let mut seen = BTreeSet::new();
    for request in answers {
        let reply: Reply = s.send(request).await;
        let id = reply.headers.get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        assert!(!id.is_empty(), "x-request-id on a {} answer", reply.status);
        seen.insert(id);
    }
    assert_eq!(seen.len(), 6, "each request gets its own id");
    for request in [
        s.request(Method::GET, "/healthz"),
        s.request(Method::GET, "/nope"),
        s.as_actor(&Actor::office(), Method::POST, "/courses")
            .await
            .json(&json!({ "code": "K1", "title": "T", "description": "D" })),
    ] {
        let reply = s.send(request.header("x-request-id", "klient-4711")).await;
        assert_eq!(reply.headers.get("x-request-id").and_then(|v| v.to_str().ok()), Some("klient-4711"));
    }
}

#[tokio::test]
async fn health_openapi_and_request_ids_sqlite() {
    health_openapi_and_request_ids(Backend::Sqlite).await;
}

#[tokio::test]
async fn health_openapi_and_request_ids_postgres() {
    health_openapi_and_request_ids(Backend::Postgres).await;
}

/// Every operation the OpenAPI document lists is served at that path and method, and
/// every route the router serves is documented (the document and the router are written
/// separately, so they can drift apart). Each documented operation is called as the
/// course office with an unknown id and an empty JSON body: whatever it answers (404 for
/// the unknown id, 422 for the empty body, ...), it must not be the router's own "no such
/// endpoint" or "method not allowed", nor a server error.
async fn every_documented_operation_is_served(backend: Backend) {
    let Some(s) = TestServer::start(backend).await else { return };
    let openapi = s.send(s.request(Method::GET, "/openapi.json")).await;
    let paths = openapi.expect(200)["paths"].as_object().expect("paths").clone();
    let mut documented = BTreeSet::new();
    for (path, operations) in &paths {
        let concrete: String = path
            .split('/')
            .map(|segment| if segment.starts_with('{') { "6f1c1a7e-0000-4000-8000-000000000000" } else { segment })
            .collect::<Vec<_>>()
            .join("/");
        for method in operations.as_object().expect("operations").keys().map(|m| m.to_uppercase()) {
            let method = Method::from_bytes(method.as_bytes()).expect("an HTTP method");
            documented.insert((path.clone(), method.to_string()));
            let mut request = s.as_actor(&Actor::office(), method.clone(), &concrete).await;
            if method == Method::POST || method == Method::PUT {
                request = request.json(&json!({}));
            }
            let reply = s.send(request).await;
            // Authentication runs before routing: a 401 would hide whether the route exists
            // (and would mean an earlier call, such as logout, ended the office's token).
            assert_ne!(reply.status, 401, "{method} {path} refused the course office's token: {}", reply.text);
            let unrouted = reply.status == 405 || (reply.status == 404 && reply.json["detail"] == "no such endpoint");
            assert!(!unrouted, "{method} {path} is documented but not served: {} {}", reply.status, reply.text);
        }
    }
    // The router's routes, from its source: `.route("/path", get(..).post(..))`.
    let source = include_str!("../../services/src/http/mod.rs");
    let mut routed = BTreeSet::new();
    for line in source.lines().map(str::trim).filter(|l| l.starts_with(".route(\"")) {
        let path = line.trim_start_matches(".route(\"").split('"').next().expect("a path").to_string();
        for method in ["get", "post", "put", "delete", "patch"] {
            if line.contains(&format!("{method}(")) {
                routed.insert((path.clone(), method.to_uppercase()));
            }
        }
    }
    assert!(routed.len() > 50, "the router's routes were found in its source: {routed:?}");
    let operational = ["/healthz", "/readyz", "/metrics", "/openapi.json"];
    let undocumented: Vec<_> =
        routed.iter().filter(|(path, _)| !operational.contains(&path.as_str()) && !paths.contains_key(path)).collect();
    assert!(undocumented.is_empty(), "served but not in the OpenAPI document: {undocumented:?}");
    let missing_methods: Vec<_> = routed
        .iter()
        .filter(|(path, _)| paths.contains_key(path))
        .filter(|route| !documented.contains(*route))
        .collect();
    assert!(missing_methods.is_empty(), "methods served but not documented: {missing_methods:?}");
}

#[tokio::test]
async fn every_documented_operation_is_served_sqlite() {
    every_documented_operation_is_served(Backend::Sqlite).await;
}

#[tokio::test]
async fn every_documented_operation_is_served_postgres() {
    every_documented_operation_is_served(Backend::Postgres).await;
}

/// A replayed answer carries the same log position as the first, so read-your-writes
/// works for a client that retried.
#[tokio::test]
async fn a_replayed_answer_is_identical_to_the_first_sqlite() {
    a_replayed_answer_is_identical_to_the_first(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_replayed_answer_is_identical_to_the_first_postgres() {
    a_replayed_answer_is_identical_to_the_first(Backend::Postgres).await;
}

async fn a_replayed_answer_is_identical_to_the_first(backend: Backend) {
    let Some(s) = TestServer::start(backend).await else { return };
    s.add_course("LVU-GRUND", "LVU grund", &[]).await;
    s.add_municipality("uddevalla", "Uddevalla").await;
    let anna = s.add_staff("uddevalla", "Anna Andersson").await;
    let package = s.create_package("HT2027").await;
    let offering = s.plan_offering(&package, offering_body("LVU-GRUND", 5, &[utc(2027, 9, 1, 6, 0)])).await;
    let body = json!({ "term": "HT2028", "title": "Paket", "organiser": "Fyrbodal" });
    let coordinator = Actor::coordinator("uddevalla");
    let register = format!("/offerings/{offering}/registrations");
    let publish = format!("/packages/{package}/publish");
    for (actor, path, body, key) in [
        (Actor::office(), "/packages", body, "k1"),
        (Actor::office(), publish.as_str(), json!({}), "k2"),
        (coordinator.clone(), "/municipalities/uddevalla/staff", staff_body("Erik Berg"), "k3"),
        (coordinator, register.as_str(), json!({ "staff_id": anna }), "k4"),
    ] {
        let first = s.post_with_key(&actor, path, body.clone(), key).await;
        assert!(first.status < 300, "{}", first.text);
        assert!(first.json["position"].is_i64(), "{}", first.text);
        let repeat = s.post_with_key(&actor, path, body, key).await;
        assert_eq!((repeat.status, &repeat.text), (first.status, &first.text), "POST {path}");
    }
}

// ----- changes along the way -----

async fn changes_along_the_way(backend: Backend) {
    let Some(s) = TestServer::start(backend).await else { return };
    let office = Actor::office();
    let uddevalla = Actor::coordinator("uddevalla");
    s.add_course("LVU-GRUND", "LVU grund", &[]).await;
    s.add_course("BBIC", "BBIC", &[]).await;
    s.add_municipality("uddevalla", "Uddevalla").await;
    s.add_municipality("tanum", "Tanum").await;
    let u1 = s.add_staff("uddevalla", "Anna Andersson").await;
    let u2 = s.add_staff("uddevalla", "Erik Berg").await;
    let u3 = s.add_staff("uddevalla", "Maria Carlsson").await;
    let t1 = s.add_staff("tanum", "Johan Dahl").await;

    // Roles.
    let roles = "/municipalities/uddevalla/roles";
    s.post(&office, roles, json!({ "staff_id": u1, "role": "coordinator" })).await.expect(200);
    s.post(&uddevalla, roles, json!({ "staff_id": u2, "role": "supervisor" })).await.expect(200);
    let m = s.read("/municipalities/uddevalla").await;
    assert_eq!(m["coordinators"], json!([u1]));
    assert_eq!(m["supervisors"], json!([u2]));
    s.post(&office, "/municipalities/uddevalla/roles/revoke", json!({ "staff_id": u1, "role": "coordinator" }))
        .await
        .expect(200);
    assert_eq!(s.read("/municipalities/uddevalla").await["coordinators"], json!([]));
    let before = s.snapshot(&["/municipalities/uddevalla"]).await;
    s.post(&office, roles, json!({ "staff_id": u1, "role": "king" })).await.problem(422, "validation");
    s.post(&office, roles, json!({ "staff_id": t1, "role": "supervisor" }))
        .await
        .problem(422, "staff_of_other_municipality");
    s.post(&Actor::coordinator("tanum"), roles, json!({ "staff_id": u1, "role": "supervisor" }))
        .await
        .problem(403, "forbidden");
    unchanged(&before, &s.snapshot(&["/municipalities/uddevalla"]).await, "refused roles");

    // Staff details, supervisors, removal.
    let mut details = staff_body("Erik Berg-Ström");
    details["supervisor_id"] = json!(u1);
    details["experience_band"] = json!("years3_to5");
    s.put(&uddevalla, &format!("/staff/{u2}"), details.clone()).await.expect(200);
    let erik = s.read(&format!("/staff/{u2}")).await;
    assert_eq!(erik["name"], "Erik Berg-Ström");
    assert_eq!(erik["supervisor"], u1.as_str());
    assert_eq!(erik["experience_band"], "years3_to5");
    assert_eq!(erik["work_email"], "erik.berg-ström@kommun.se");
    let before = s.snapshot(&[&format!("/staff/{u2}")]).await;
    details["supervisor_id"] = json!(t1);
    s.put(&uddevalla, &format!("/staff/{u2}"), details.clone()).await.problem(422, "supervisor_of_other_municipality");
    details["supervisor_id"] = json!(u2);
    s.put(&uddevalla, &format!("/staff/{u2}"), details.clone()).await.problem(422, "validation");
    unchanged(&before, &s.snapshot(&[&format!("/staff/{u2}")]).await, "refused staff updates");
    s.post(&uddevalla, &format!("/staff/{u3}/remove"), json!({})).await.expect(200);
    assert_eq!(s.read(&format!("/staff/{u3}")).await["status"], "removed");
    assert_eq!(s.read(&format!("/staff/{u3}")).await["name"], "Maria Carlsson", "history is kept");
    s.post(&uddevalla, &format!("/staff/{u3}/resume"), json!({})).await.problem(409, "staff_removed");
    assert_eq!(s.read(&format!("/staff/{t1}/registrations")).await, json!([]));

    // The deadline moves while the package is a draft or published.
    let package = s.create_package("HT2027").await;
    let x = s.plan_offering(&package, offering_body("LVU-GRUND", 1, &[utc(2027, 9, 1, 6, 0)])).await;
    s.post(&office, &format!("/packages/{package}/deadline"), json!({ "deadline": "2027-05-31T21:59:00Z" }))
        .await
        .expect(200);
    assert_eq!(s.read(&format!("/packages/{package}")).await["deadline"], "2027-05-31T21:59:00+00:00");
    s.post(&office, &format!("/packages/{package}/publish"), json!({})).await.expect(200);

    let receipt =
        s.post(&uddevalla, "/municipalities/uddevalla/registrations", lines(&[(&u1, &x), (&u2, &x), (&u3, &x)])).await;
    assert_eq!(
        line_outcomes(receipt.expect(200)),
        vec![
            outcome("requested", None, false),
            outcome("requested", None, false),
            outcome("refused", Some("staff_removed"), false)
        ]
    );
    // Before allocation a cancellation is free, and registering again is possible.
    s.post(&uddevalla, &format!("/offerings/{x}/registrations/{u2}/cancel"), json!({})).await.expect(200);
    let v = s.read(&format!("/offerings/{x}")).await;
    assert_eq!(
        (registration(&v, &u2)["status"].as_str(), registration(&v, &u2)["charged"].as_bool()),
        (Some("cancelled"), Some(false))
    );
    let again = s.post(&uddevalla, &format!("/offerings/{x}/registrations"), json!({ "staff_id": u2 })).await;
    assert_eq!(again.expect(200)["status"], "requested");
    s.post(&uddevalla, &format!("/offerings/{x}/registrations/{u3}/cancel"), json!({}))
        .await
        .problem(422, "not_registered");

    // One seat, one municipality: the first in its priority order gets it.
    s.clock.set(utc(2027, 6, 1, 8, 0));
    s.post(&office, &format!("/packages/{package}/close-registration"), json!({})).await.expect(200);
    s.post(&office, &format!("/packages/{package}/deadline"), json!({ "deadline": "2027-06-30T21:59:00Z" }))
        .await
        .problem(409, "wrong_phase");
    let v = s.read(&format!("/offerings/{x}")).await;
    assert_eq!(registration(&v, &u1)["status"], "confirmed");
    assert_eq!(waiting_list(&v), vec![u2.clone()]);
    let summary = &s.read(&format!("/packages/{package}")).await["offerings"][0];
    assert_eq!(
        (summary["confirmed"].as_u64(), summary["waiting"].as_u64(), summary["requested"].as_u64()),
        (Some(1), Some(1), Some(0))
    );
    assert_eq!(summary["state"], "allocated");

    // More seats promote from the waiting list; fewer than confirmed is refused.
    s.post(&office, &format!("/offerings/{x}/seat-limit"), json!({ "seat_limit": 2 })).await.expect(200);
    let v = s.read(&format!("/offerings/{x}")).await;
    assert_eq!(registration(&v, &u2)["status"], "confirmed");
    assert!(waiting_list(&v).is_empty());
    s.post(&office, &format!("/offerings/{x}/seat-limit"), json!({ "seat_limit": 1 }))
        .await
        .problem(422, "seat_limit_below_confirmed");
    assert_eq!(s.read(&format!("/offerings/{x}")).await["seat_limit"], 2);

    // An offering planned after the deadline is first come first served at once.
    let y = s.plan_offering(&package, offering_body("BBIC", 5, &[utc(2027, 10, 1, 6, 0)])).await;
    assert_eq!(s.read(&format!("/offerings/{y}")).await["state"], "allocated");
    let late = s.post(&uddevalla, &format!("/offerings/{y}/registrations"), json!({ "staff_id": u1 })).await;
    assert_eq!(late.expect(200)["status"], "confirmed");
    // The organiser cancels it: nobody is charged, nobody registers.
    s.post(&office, &format!("/offerings/{y}/cancel"), json!({ "reason": "Utbildaren är sjuk." })).await.expect(200);
    let v = s.read(&format!("/offerings/{y}")).await;
    assert_eq!(v["state"], "cancelled");
    assert_eq!(registration(&v, &u1)["charged"], false);
    s.post(&uddevalla, &format!("/offerings/{y}/registrations"), json!({ "staff_id": u2 }))
        .await
        .problem(422, "offering_cancelled");
    s.post(&uddevalla, &format!("/offerings/{y}/registrations/{u1}/cancel"), json!({}))
        .await
        .problem(422, "offering_cancelled");

    // Completion, a withdrawn certificate, and a correction after completion.
    s.clock.set(utc(2027, 9, 1, 13, 0));
    let attendance = format!("/offerings/{x}/attendance");
    s.post(&Actor::trainer(), &attendance, json!({ "staff_id": u1, "session": 0, "attendance": "present" }))
        .await
        .problem(403, "forbidden");
    s.assign_trainer(&x).await;
    s.post(
        &Actor::trainer(),
        &attendance,
        json!({ "staff_id": u1, "session": 0, "attendance": "present", "note": "Aktiv i diskussionen." }),
    )
    .await
    .expect(200);
    s.post(&Actor::trainer(), &attendance, json!({ "staff_id": u2, "session": 0, "attendance": "excused" }))
        .await
        .expect(200);
    // Recording the same again changes nothing.
    let same =
        s.post(&Actor::trainer(), &attendance, json!({ "staff_id": u2, "session": 0, "attendance": "excused" })).await;
    assert_eq!(same.expect(200)["events"], 0);
    s.post(&office, &format!("/offerings/{x}/complete"), json!({})).await.expect(200);
    let v = s.read(&format!("/offerings/{x}")).await;
    let certificate = registration(&v, &u1)["certificate"].as_str().expect("certified").to_string();
    assert_eq!(registration(&v, &u2)["certificate"], Value::Null);
    assert_eq!(registration(&v, &u2)["not_completed"], true);
    s.post(&office, &format!("/offerings/{x}/complete"), json!({})).await.problem(422, "offering_completed");

    let withdraw = format!("/offerings/{x}/certificates/{u1}/withdraw");
    s.post(&office, &withdraw, json!({ "reason": "Intyget utfärdades av misstag." })).await.expect(200);
    let v = s.read(&format!("/offerings/{x}")).await;
    assert_eq!(registration(&v, &u1)["certificate"], Value::Null);
    let record = s.read(&format!("/staff/{u1}/registrations")).await;
    let on_x = record.as_array().unwrap().iter().find(|r| r["offering_id"] == x.as_str()).expect("listed");
    assert_eq!(on_x["certificate"], Value::Null, "withdrawn {certificate} is gone from the personal record");
    s.post(&office, &withdraw, json!({ "reason": "Igen." })).await.problem(422, "no_certificate");
    s.post(&uddevalla, &withdraw, json!({ "reason": "Igen." })).await.problem(403, "forbidden");

    let corrected =
        s.post(&Actor::trainer(), &attendance, json!({ "staff_id": u2, "session": 0, "attendance": "present" })).await;
    assert_eq!(corrected.expect(200)["events"], 2, "the correction and the completion it earns");
    let v = s.read(&format!("/offerings/{x}")).await;
    let late_certificate =
        registration(&v, &u2)["certificate"].as_str().expect("certified after the correction").to_string();
    assert_certificate(&late_certificate, "LVU-GRUND", "HT2027", &x);
    assert_ne!(late_certificate, certificate, "a new number, never a reused one");
    assert_eq!(registration(&v, &u2)["not_completed"], false);

    // Archived: no new offerings.
    s.post(&office, &format!("/packages/{package}/archive"), json!({})).await.expect(200);
    assert_eq!(s.read(&format!("/packages/{package}")).await["phase"], "archived");
    let events = s.event_count().await;
    let reply = s
        .post(&office, &format!("/packages/{package}/offerings"), offering_body("BBIC", 5, &[utc(2027, 11, 1, 6, 0)]))
        .await;
    reply.problem(409, "wrong_phase");
    assert_eq!(s.event_count().await, events);
    assert_eq!(s.read(&format!("/packages/{package}")).await["offerings"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn changes_along_the_way_sqlite() {
    changes_along_the_way(Backend::Sqlite).await;
}

/// Headers that are not ASCII text, and a request that is too slow, still get problem
/// documents, never a 500.
#[tokio::test]
async fn odd_headers_are_client_errors() {
    let s = TestServer::start(Backend::Sqlite).await.expect("SQLite");
    let before = s.event_count().await;
    let course = json!({ "code": "NY", "title": "Ny", "description": "Ny." });
    let raw = |value: &str| reqwest::header::HeaderValue::from_bytes(value.as_bytes()).expect("raw header bytes");
    let request = s.request(Method::POST, "/courses").header("Authorization", raw("Bearer kl_åäö")).json(&course);
    s.send(request).await.problem(401, "unauthenticated");
    let request = s.as_actor(&Actor::office(), Method::POST, "/courses").await;
    let reply = s.send(request.header("Idempotency-Key", raw("nyckel-ö")).json(&course)).await;
    assert!(matches!(reply.status, 400 | 422), "Idempotency-Key: {} {}", reply.status, reply.text);
    assert_eq!(reply.content_type(), "application/problem+json");
    assert_eq!(reply.json["code"], "validation", "{}", reply.text);
    assert_eq!(s.event_count().await, before);
}

/// A client that stops sending its body is cut off with 408 as a problem document.
#[tokio::test]
async fn a_request_timeout_is_a_problem_document() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let settings = kurslogg::http::HttpSettings {
        request_timeout: std::time::Duration::from_millis(500),
        ..api_support::default_http_settings()
    };
    let s = TestServer::start_with(Backend::Sqlite, settings).await.expect("SQLite");
    let address = s.base.trim_start_matches("http://").to_string();
    let (_, token) = s.account(&Actor::office()).await;
    let mut stream = tokio::net::TcpStream::connect(&address).await.expect("connect");
    let head = format!(
        "POST /courses HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{{\"code\": "
    );
    stream.write_all(head.as_bytes()).await.expect("send head");
    let mut answer = Vec::new();
    tokio::time::timeout(std::time::Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .expect("the server answers a stalled request")
        .expect("read");
    let answer = String::from_utf8_lossy(&answer).to_string();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    let lower = answer.to_ascii_lowercase();
    assert!(lower.contains("content-type: application/problem+json"), "{answer}");
    assert!(answer.contains("\"code\""), "{answer}");
}

#[tokio::test]
async fn changes_along_the_way_postgres() {
    changes_along_the_way(Backend::Postgres).await;
}

/// Opens `count` connections that send the start of a request's headers and then nothing.
async fn slow_header_sockets(address: &str, count: usize) -> Vec<tokio::net::TcpStream> {
    use tokio::io::AsyncWriteExt;
    let mut sockets = Vec::with_capacity(count);
    for _ in 0..count {
        let mut stream = tokio::net::TcpStream::connect(address).await.expect("connect");
        stream
            .write_all(format!("GET /healthz HTTP/1.1\r\nHost: {address}\r\nX-Slow: ").as_bytes())
            .await
            .expect("send");
        sockets.push(stream);
    }
    sockets
}

/// Waits until the server closes `stream` (end of file, or a reset); how long that took.
async fn closed_by_the_server(mut stream: tokio::net::TcpStream) -> std::time::Duration {
    use tokio::io::AsyncReadExt;
    let started = std::time::Instant::now();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(20), stream.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the server left a connection with unfinished headers open for 20 s");
    started.elapsed()
}

/// A few hundred connections whose headers never finish do not keep `/healthz` from
/// answering at once, and each is closed once the header read timeout has passed.
#[tokio::test]
async fn unfinished_headers_are_cut_off_and_starve_nobody() {
    let timeout = std::time::Duration::from_secs(3);
    let settings =
        kurslogg::http::HttpSettings { header_read_timeout: timeout, ..api_support::default_http_settings() };
    let s = TestServer::start_with(Backend::Sqlite, settings).await.expect("SQLite");
    let address = s.base.trim_start_matches("http://").to_string();
    let mut slow = slow_header_sockets(&address, 300).await;
    let opened = std::time::Instant::now();
    let client = reqwest::Client::new();
    for _ in 0..5 {
        let reply = client.get(s.url("/healthz")).send().await.expect("/healthz answers");
        assert_eq!(reply.status(), 200);
    }
    assert!(opened.elapsed() < timeout, "/healthz answered only after {:?}", opened.elapsed());
    let first = slow.remove(0);
    let waited = closed_by_the_server(first).await + opened.elapsed().min(timeout);
    assert!(waited >= timeout - std::time::Duration::from_millis(500), "closed after {waited:?}, before the timeout");
    // A connection that sent nothing at all is closed too.
    let idle = tokio::net::TcpStream::connect(&address).await.expect("connect");
    let waited = closed_by_the_server(idle).await;
    assert!(waited >= timeout - std::time::Duration::from_millis(500), "closed after {waited:?}");
}

/// Beyond `max_connections`, a new connection waits until one closes (here: the stalled
/// ones, at their header read timeout), and is then served.
#[tokio::test]
async fn connections_beyond_the_limit_wait_for_a_free_one() {
    let timeout = std::time::Duration::from_secs(2);
    let settings = kurslogg::http::HttpSettings {
        header_read_timeout: timeout,
        max_connections: 4,
        ..api_support::default_http_settings()
    };
    let s = TestServer::start_with(Backend::Sqlite, settings).await.expect("SQLite");
    let address = s.base.trim_start_matches("http://").to_string();
    let _stalled = slow_header_sockets(&address, 4).await;
    let started = std::time::Instant::now();
    let reply = reqwest::Client::new().get(s.url("/healthz")).send().await.expect("/healthz answers in the end");
    assert_eq!(reply.status(), 200);
    let waited = started.elapsed();
    assert!(waited >= timeout - std::time::Duration::from_millis(500), "served after {waited:?}, past the limit");
    assert!(waited < timeout * 4, "served after {waited:?}");
}
