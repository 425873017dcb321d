//! A trainer marks a ten-session course on a phone-sized window, one tap a person, until
//! the course is over: a mark is saved in place (htmx) or with a reload (no JavaScript),
//! a mark sent twice marks once, a corrected mark shows as a correction, and once the
//! course is completed the supervisor's summary is in the outbox. axe-core on every page.

mod api_support;
mod pages_support;

use api_support::{offering_body, utc, Actor, Backend, TestServer};
use chrono::Duration;
use kurslogg::app::Role;
use kurslogg_tests::browser::{Browser, Window};
use pages_support::{log_in, user_with_password, PASSWORD};
use serde_json::json;

const TRAINER: &str = "handledare@fou.se";

async fn a_trainers_course(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else { return };
    server.add_municipality("uddevalla", "Uddevalla").await;
    server.add_course("YRKESHANDLEDNING", "Yrkeshandledning", &[]).await;
    let stina = server.add_staff("uddevalla", "Stina Sjö").await;
    server
        .post(&Actor::office(), "/municipalities/uddevalla/roles", json!({ "staff_id": stina, "role": "supervisor" }))
        .await
        .expect(200);
    let mut people = vec![];
    for name in ["Anna Ek", "Bo Lind"] {
        let mut body = api_support::staff_body(name);
        body["supervisor_id"] = json!(stina);
        let reply = server.post(&Actor::coordinator("uddevalla"), "/municipalities/uddevalla/staff", body).await;
        people.push(reply.expect(201)["id"].as_str().expect("id").to_string());
    }
    let (anna, bo) = (people[0].clone(), people[1].clone());
    let package = server.create_package("HT2027").await;
    let first = utc(2027, 9, 6, 7, 0);
    let sessions: Vec<_> = (0..10).map(|i| first + Duration::days(14 * i)).collect();
    let offering = server.plan_offering(&package, offering_body("YRKESHANDLEDNING", 8, &sessions)).await;
    server.post(&Actor::office(), &format!("/packages/{package}/publish"), json!({})).await.expect(200);
    let lines = json!({ "lines": [{ "staff_id": anna, "offering_id": offering }, { "staff_id": bo, "offering_id": offering }] });
    server.post(&Actor::coordinator("uddevalla"), "/municipalities/uddevalla/registrations", lines).await.expect(200);
    server.clock.set(utc(2027, 6, 16, 8, 0));
    server.post(&Actor::office(), &format!("/packages/{package}/close-registration"), json!({})).await.expect(200);
    let trainer = user_with_password(&server, TRAINER, "Maria Handledare", Role::Trainer, None, None).await;
    server
        .post(&Actor::office(), &format!("/offerings/{offering}/trainers"), json!({ "user_id": trainer }))
        .await
        .expect(200);

    // The day after the last session.
    server.clock.set(*sessions.last().expect("ten") + Duration::days(1));
    let phone = Browser::open(&server.base, &format!("trainer-{backend:?}"), Window::Phone).await;
    log_in(&phone, TRAINER, PASSWORD).await;
    assert_eq!(phone.heading().await, "Mina kurser");
    phone.assert_accessible().await;
    phone.follow("Yrkeshandledning").await;
    phone.assert_accessible().await;
    phone.guide_screenshot("utbildare-kurs").await;

    // Ten sessions: Bo is there every time; Anna misses three (70 %, under 80 %).
    for number in 1..=10 {
        phone.visit(&format!("/undervisning/{offering}/tillfalle/{number}")).await;
        assert_eq!(phone.heading().await, format!("Tillfälle {number} av 10"));
        phone.tap("Närvarande: Bo Lind").await;
        let anna_mark = if number <= 3 { "Frånvarande: Anna Ek" } else { "Närvarande: Anna Ek" };
        phone.tap(anna_mark).await;
        assert!(phone.text_of(&format!("person-{bo}")).await.contains("Närvarande"), "Bo's row shows the mark");
        if number == 1 {
            phone.assert_accessible().await;
            phone.guide_screenshot("utbildare-narvaro").await;
        }
    }
    // A mark sent twice marks once: the same tap again changes nothing.
    let events = server.event_count().await;
    phone.visit(&format!("/undervisning/{offering}/tillfalle/10")).await;
    phone.tap("Närvarande: Bo Lind").await;
    assert_eq!(server.event_count().await, events, "the same mark again writes nothing");

    // Session 1 corrected: Anna was there after all; the page says it is a correction.
    phone.visit(&format!("/undervisning/{offering}/tillfalle/1")).await;
    phone.tap("Närvarande: Anna Ek").await;
    let row = phone.text_of(&format!("person-{anna}")).await;
    assert!(row.contains("Närvarande (rättad, var frånvarande)"), "{row}");
    phone.guide_screenshot("utbildare-rattelse").await;

    // Without JavaScript the same form works with a reload (the page comes back to the row).
    let cookies = phone.cookie_header().await;
    let csrf = cookies.split("; ").find_map(|c| c.strip_prefix("kurslogg_csrf=")).expect("csrf cookie").to_string();
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let answer = client
        .post(server.url(&format!("/undervisning/{offering}/tillfalle/2")))
        .header("Cookie", &cookies)
        .form(&[("_csrf", csrf.as_str()), ("person", anna.as_str()), ("narvaro", "excused")])
        .send()
        .await
        .expect("send");
    assert_eq!(answer.status(), 303);
    let location = answer.headers()["location"].to_str().expect("location").to_string();
    assert!(location.starts_with(&format!("/undervisning/{offering}/tillfalle/2?efter=")), "{location}");
    assert!(location.ends_with(&format!("#person-{anna}")), "{location}");

    let overview = {
        phone.visit(&format!("/undervisning/{offering}")).await;
        phone.table("Tillfällen").await
    };
    assert!(overview[1..].iter().all(|row| row[2] == "Klar, 2 av 2"), "every session marked: {overview:?}");

    // The course office completes the course: Bo completes, Anna (8 of 10 after the
    // corrections: 80 %) too; the supervisor's summary is in the outbox.
    let completed = server.post(&Actor::office(), &format!("/offerings/{offering}/complete"), json!({})).await;
    let position = completed.expect(200)["position"].as_i64().expect("a position");
    let roster = server.read(&format!("/offerings/{offering}/roster?min_position={position}")).await;
    let completion = |id: &str| {
        roster["entries"].as_array().expect("entries").iter().find(|e| e["staff_id"] == id).expect("on the roster")
            ["completion"]
            .clone()
    };
    assert_eq!(completion(&bo), "completed");
    assert_eq!(completion(&anna), "completed", "8 of 10 after the corrections is the threshold");
    let mut summaries = vec![];
    for _ in 0..50 {
        let outbox = server.read("/outbox?kind=course_summary").await;
        summaries = outbox["notices"].as_array().cloned().unwrap_or_default();
        if !summaries.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(summaries.len(), 1, "one summary, to Stina: {summaries:?}");
    assert_eq!(summaries[0]["recipient"], stina.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trainer_marks_a_ten_session_course_on_a_phone_on_sqlite() {
    a_trainers_course(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trainer_marks_a_ten_session_course_on_a_phone_on_postgres() {
    a_trainers_course(Backend::Postgres).await;
}
