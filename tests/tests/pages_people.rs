//! A supervisor and a participant after a course, in a real headless Chromium: the
//! supervisor reads the after-course summary as the e-mail says it and sees their staff's
//! courses and certificates; the participant sees their own record and makes a calendar
//! link that a calendar app can read. Every page is checked with axe-core.

mod api_support;
mod pages_support;

use api_support::{staff_body, utc, Actor, Backend, TestServer};
use kurslogg::app::Role;
use kurslogg_tests::browser::{Browser, Window};
use pages_support::{log_in, user_with_password, Term, PASSWORD};
use serde_json::json;

/// Stina supervises Anna and Bo; both get a seat on LVU grund, and after the day Bo has
/// been there and Anna has not.
async fn a_course_held(server: &TestServer, term: &Term) -> String {
    let stina = server.add_staff("uddevalla", "Stina Sjö").await;
    let role = json!({ "staff_id": stina, "role": "supervisor" });
    server.post(&Actor::office(), "/municipalities/uddevalla/roles", role).await.expect(200);
    for (id, name) in [(&term.anna, "Anna Ek"), (&term.bo, "Bo Lind")] {
        let mut body = staff_body(name);
        body["supervisor_id"] = json!(stina);
        server.put(&Actor::coordinator("uddevalla"), &format!("/staff/{id}"), body).await.expect(200);
    }
    let lines = json!({ "lines": [
        { "staff_id": term.bo, "offering_id": term.lvu_grund },
        { "staff_id": term.anna, "offering_id": term.lvu_grund },
    ]});
    server.post(&Actor::coordinator("uddevalla"), "/municipalities/uddevalla/registrations", lines).await.expect(200);
    server.clock.set(utc(2027, 6, 16, 8, 0));
    server
        .post(&Actor::office(), &format!("/packages/{}/close-registration", term.package), json!({}))
        .await
        .expect(200);
    server.clock.set(utc(2027, 9, 8, 8, 0));
    for (staff, attendance) in [(&term.bo, "present"), (&term.anna, "absent")] {
        let body = json!({ "staff_id": staff, "session": 0, "attendance": attendance });
        server.post(&Actor::office(), &format!("/offerings/{}/attendance", term.lvu_grund), body).await.expect(200);
    }
    server.post(&Actor::office(), &format!("/offerings/{}/complete", term.lvu_grund), json!({})).await.expect(200);
    let plan = json!({ "bands": [{
        "band": "new0_to2",
        "courses": ["LVU-GRUND", "LVU-FORTS"],
        "local_needs": ["Skriftlig introduktionsplan", "Mentor eller fadder"],
    }]});
    server.put(&Actor::office(), "/competence-plans/fyrbodal-2027", plan).await.expect(200);
    stina
}

async fn supervisor_and_participant(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else { return };
    let term = Term::set_up(&server).await;
    let stina = a_course_held(&server, &term).await;
    user_with_password(&server, "stina@uddevalla.se", "Stina Sjö", Role::Supervisor, None, Some(&stina)).await;
    user_with_password(&server, "bo@uddevalla.se", "Bo Lind", Role::Participant, None, Some(&term.bo)).await;

    // The summary reaches the outbox once the notices projection has seen the completion.
    let browser = Browser::open(&server.base, &format!("supervisor-{backend:?}"), Window::Desktop).await;
    log_in(&browser, "stina@uddevalla.se", PASSWORD).await;
    let mut start = browser.main_text().await;
    for _ in 0..50 {
        if start.contains("Sammanfattning") && !start.contains("Inga sammanfattningar ännu") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        browser.visit("/start").await;
        start = browser.main_text().await;
    }
    assert!(start.contains("2 medarbetare"), "{start}");
    browser.assert_accessible().await;
    browser.guide_screenshot("arbetsledare-start").await;

    browser.follow("Sammanfattningar").await;
    browser.assert_accessible().await;
    browser.follow("Sammanfattning: LVU grund (HT2027)").await;
    let summary = browser.main_text().await;
    assert!(summary.contains("Hej Stina Sjö"), "the letter as sent: {summary}");
    assert!(summary.contains("Uppföljning på arbetsplatsen"), "{summary}");
    let people = browser.table("Närvaro och resultat för dina medarbetare på LVU grund").await;
    assert!(people.iter().any(|r| r[0] == "Bo Lind" && r[1] == "1 av 1" && r[2] == "Genomförd"), "{people:?}");
    assert!(people.iter().any(|r| r[0] == "Anna Ek" && r[1] == "0 av 1"), "{people:?}");
    browser.assert_accessible().await;
    browser.guide_screenshot("arbetsledare-sammanfattning").await;

    browser.follow("Mina medarbetare").await;
    let staff = browser.table("Mina medarbetare").await;
    let bo = staff.iter().find(|r| r[0] == "Bo Lind").expect("Bo in the list");
    assert_eq!(bo[2], "1", "one course completed: {staff:?}");
    assert!(bo[6].starts_with("LVU-GRUND-HT2027-"), "the certificate number: {staff:?}");
    browser.assert_accessible().await;
    browser.follow("Bo Lind").await;
    assert_eq!(browser.heading().await, "Bo Lind");
    // The appraisal talk on one page: the plan of Bo's band against what Bo has done.
    let plan = browser.table("Rekommenderade kurser 2027").await;
    assert!(
        plan.iter().any(|r| r[0] == "LVU grund" && r[1] == "Genomförd" && r[2].contains("Intyg LVU-GRUND-HT2027-")),
        "{plan:?}"
    );
    assert!(plan.iter().any(|r| r[0] == "LVU fortsättning" && r[1] == "Inte anmäld ännu"), "{plan:?}");
    assert!(browser.main_text().await.contains("Mentor eller fadder"), "the needs met at the workplace");
    browser.assert_accessible().await;
    browser.guide_screenshot("arbetsledare-medarbetare").await;

    browser.follow("Kalender").await;
    assert!(browser.main_text().await.contains("LVU fortsättning"), "the coming course: {}", browser.main_text().await);
    browser.assert_accessible().await;

    // The participant, on a phone.
    drop(browser);
    let phone = Browser::open(&server.base, &format!("participant-{backend:?}"), Window::Phone).await;
    log_in(&phone, "bo@uddevalla.se", PASSWORD).await;
    assert_eq!(phone.heading().await, "Mina kurser");
    let courses = phone.table("Kurser").await;
    assert!(courses.iter().any(|r| r[0].starts_with("LVU grund") && r[1] == "Genomförd"), "{courses:?}");
    phone.assert_accessible().await;
    phone.guide_screenshot("deltagare-mina-kurser").await;
    phone.follow("Kalender och kalenderlänk").await;
    phone.press("Skapa kalenderlänk").await;
    let link = phone.value_of("Kalenderlänk").await;
    assert!(link.contains(&format!("/staff/{}/calendar.ics?access_token=kl_", term.bo)), "{link}");
    phone.assert_accessible().await;
    phone.screenshot("calendar-link").await;
    // A calendar app reads the feed with the link alone.
    let path = &link[link.find("/staff/").expect("path")..];
    let feed = server.request(reqwest::Method::GET, path).send().await.expect("feed");
    assert_eq!(feed.status(), 200);
    assert!(feed.text().await.expect("text").contains("BEGIN:VCALENDAR"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_and_a_participant_after_a_course_on_sqlite() {
    supervisor_and_participant(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_and_a_participant_after_a_course_on_postgres() {
    supervisor_and_participant(Backend::Postgres).await;
}
