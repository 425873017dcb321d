//! The course office's follow-up through the pages, in a real headless Chromium: the
//! supervisor's summary in the outbox after a course completes, read and sent again with a
//! reason; the statistics grouped by municipality and course with the four charts; the
//! cost basis; a user made, their password reset (a form sent twice resets once) and the
//! user disabled, with the security log; and a person's data erased after typing their
//! name, gone from the people list; the supervisor erased in turn, her summary failed and
//! shown with why. axe-core on every page.

mod api_support;
mod pages_support;

use api_support::{offering_body, utc, Actor, Backend, TestServer};
use kurslogg::app::Role;
use kurslogg_tests::browser::{Browser, Window};
use pages_support::{log_in, user_with_password, PASSWORD};
use reqwest::redirect::Policy;
use serde_json::{json, Value};

const OFFICE: &str = "karin.kansli@fyrbodal.se";

/// Reads `path` as the course office until `done` says yes (the views and the outbox
/// trail the log by moments).
async fn poll(server: &TestServer, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..100 {
        let body = server.read(path).await;
        if done(&body) {
            return body;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{path} did not get there in 10 s");
}

/// The status of a password login by `login`.
async fn login_status(server: &TestServer, login: &str, password: &str) -> u16 {
    let client = reqwest::Client::builder().redirect(Policy::none()).build().expect("client");
    let answer = client
        .post(server.url("/logga-in"))
        .form(&[("login", login), ("password", password)])
        .send()
        .await
        .expect("log in");
    answer.status().as_u16()
}

/// Uddevalla with a supervisor and two of her staff, Vänersborg with one; "Samtal med
/// barn" given once on 5 October 2027, all three on it, attended and completed.
struct Completed {
    stina: String,
    bo: String,
}

async fn a_completed_course(server: &TestServer) -> Completed {
    server.add_municipality("uddevalla", "Uddevalla").await;
    server.add_municipality("vanersborg", "Vänersborg").await;
    server.add_course("SAMTAL", "Samtal med barn", &[]).await;
    let stina = server.add_staff("uddevalla", "Stina Sjö").await;
    let role = json!({ "staff_id": stina, "role": "supervisor" });
    server.post(&Actor::office(), "/municipalities/uddevalla/roles", role).await.expect(200);
    let mut people = vec![];
    for name in ["Anna Ek", "Bo Lind"] {
        let mut body = api_support::staff_body(name);
        body["supervisor_id"] = json!(stina);
        let reply = server.post(&Actor::coordinator("uddevalla"), "/municipalities/uddevalla/staff", body).await;
        people.push(reply.expect(201)["id"].as_str().expect("id").to_string());
    }
    let vera = server.add_staff("vanersborg", "Vera Holm").await;
    let package = server.create_package("HT2027").await;
    let samtal = server.plan_offering(&package, offering_body("SAMTAL", 10, &[utc(2027, 10, 5, 6, 0)])).await;
    server.post(&Actor::office(), &format!("/packages/{package}/publish"), json!({})).await.expect(200);
    let line = |staff: &str| json!({ "staff_id": staff, "offering_id": samtal });
    let lines = json!({ "lines": [line(&people[0]), line(&people[1])] });
    server.post(&Actor::coordinator("uddevalla"), "/municipalities/uddevalla/registrations", lines).await.expect(200);
    let lines = json!({ "lines": [line(&vera)] });
    server.post(&Actor::coordinator("vanersborg"), "/municipalities/vanersborg/registrations", lines).await.expect(200);
    server.clock.set(utc(2027, 6, 16, 8, 0));
    server.post(&Actor::office(), &format!("/packages/{package}/close-registration"), json!({})).await.expect(200);
    server.clock.set(utc(2027, 10, 5, 13, 0));
    for staff in [&people[0], &people[1], &vera] {
        let body = json!({ "staff_id": staff, "session": 0, "attendance": "present" });
        server.post(&Actor::office(), &format!("/offerings/{samtal}/attendance"), body).await.expect(200);
    }
    server.post(&Actor::office(), &format!("/offerings/{samtal}/complete"), json!({})).await.expect(200);
    poll(server, "/outbox?kind=course_summary", |b| b["notices"].as_array().is_some_and(|n| n.len() == 1)).await;
    Completed { stina, bo: people[1].clone() }
}

async fn the_office_follows_up(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else { return };
    let course = a_completed_course(&server).await;
    user_with_password(&server, OFFICE, "Karin Kansli", Role::CourseOffice, None, None).await;
    let browser = Browser::open(&server.base, &format!("office-{backend:?}"), Window::Desktop).await;
    log_in(&browser, OFFICE, PASSWORD).await;

    // Letters: the supervisor's summary, read, then sent again with a reason.
    browser.follow("Brev").await;
    assert_eq!(browser.heading().await, "Brev");
    browser.choose("Sorts brev", "Sammanfattning efter kurs").await;
    browser.press("Visa").await;
    let outbox = browser.table("Utkorgen").await;
    assert_eq!(outbox.len(), 2, "the header and Stina's summary: {outbox:?}");
    assert!(outbox[1][1].starts_with("Sammanfattning efter kurs") && outbox[1][2] == "Stina Sjö", "{outbox:?}");
    assert!(outbox[1][3].starts_with("Väntar på att skickas"), "no dispatcher runs in the test: {outbox:?}");
    browser.assert_accessible().await;
    browser.guide_screenshot("kansli-uppf-brev").await;
    browser.follow("Sammanfattning efter kurs till Stina Sjö").await;
    let letter = browser.main_text().await;
    assert!(letter.contains("Samtal med barn") && letter.contains("Anna Ek") && letter.contains("Bo Lind"), "{letter}");
    browser.assert_accessible().await;
    browser.press("Skicka igen").await;
    assert_eq!(browser.errors().await, vec!["Skriv varför brevet ska skickas igen".to_string()]);
    browser.assert_accessible().await;
    browser.fill("Varför ska brevet skickas igen?", "Arbetsledarens adress var fel och är rättad.").await;
    browser.guide_screenshot("kansli-uppf-brev-skicka-igen").await;
    browser.press("Skicka igen").await;
    let after = browser.main_text().await;
    assert!(after.contains("Brevet skickas igen."), "{after}");
    assert!(after.contains("Skickat igen\n1 gång"), "{after}");
    let trail = server.read("/audit").await;
    let resends: Vec<&Value> = trail["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["event_type"] == "NoticeResendRequested")
        .collect();
    assert_eq!(resends.len(), 1, "one resend in the audit trail");
    assert_eq!(resends[0]["details"]["reason"], "Arbetsledarens adress var fel och är rättad.");

    // Statistics by municipality and course; the four charts are drawn.
    browser.follow("Statistik").await;
    browser.check("Kommun", true).await;
    browser.check("Kurs", true).await;
    browser.press("Visa").await;
    let table = browser.table("Deltagarstatistik").await;
    assert_eq!(
        table[1..].to_vec(),
        vec![
            vec!["Uddevalla", "Samtal med barn", "2", "2"],
            vec!["Vänersborg", "Samtal med barn", "1", "1"],
            vec!["Totalt", "3", "3"],
        ],
        "{table:?}"
    );
    let main = browser.main_text().await;
    assert!(main.contains("3 deltagartillfällen av 3 personer"), "{main}");
    let drawn = browser
        .run_script(
            "return [...document.querySelectorAll('figure.chart img')].map(i => i.complete && i.naturalWidth > 0);",
        )
        .await;
    assert_eq!(drawn, json!([true, true, true, true]), "four charts drawn");
    browser.guide_screenshot("kansli-uppf-statistik").await;
    browser.open_details("Diagrammets siffror").await;
    browser.assert_accessible().await;
    let cookies = browser.cookie_header().await;
    let client = reqwest::Client::builder().redirect(Policy::none()).build().expect("client");
    let csv = client
        .get(server.url("/statistics/export?group_by=municipality&format=csv"))
        .header("Cookie", &cookies)
        .send()
        .await
        .expect("download");
    assert_eq!(csv.status(), 200);
    assert!(csv.text().await.expect("csv").contains("Vänersborg;1;1"), "the download has the same figures");

    // The cost basis of the term, every municipality, then Uddevalla line by line.
    browser.follow("Kostnader").await;
    let all = browser.table("Per kommun").await;
    assert_eq!(all.len(), 4, "header, Uddevalla, Vänersborg, total: {all:?}");
    browser.choose("Kommun", "Uddevalla").await;
    browser.press("Visa").await;
    let lines = browser.table("Uddevalla rad för rad").await;
    assert!(lines.iter().any(|l| l[1] == "Bo Lind"), "{lines:?}");
    browser.assert_accessible().await;
    browser.guide_screenshot("kansli-uppf-kostnader").await;

    // A user made, their password reset (twice sent, reset once), then disabled.
    browser.follow("Användare").await;
    browser.assert_accessible().await;
    browser.follow("Skapa en användare").await;
    browser.press("Skapa användaren").await;
    let errors = browser.errors().await;
    assert!(
        errors.contains(&"Skriv användarens namn".to_string()) && errors.contains(&"Välj en roll".to_string()),
        "{errors:?}"
    );
    browser.assert_accessible().await;
    browser.fill("Namn", "Rut Revisor").await;
    browser.fill("Inloggning", "rut@revision.se").await;
    browser.check("Revisor", true).await;
    let made = browser.form_fields("Skapa användaren").await;
    browser.press("Skapa användaren").await;
    assert_eq!(browser.heading().await, "Rut Revisor har ett konto");
    let first = browser.text_of("losenord").await;
    browser.assert_accessible().await;
    // The same form again: one user, and no second password.
    let again = client.post(server.url("/kansli/anvandare/ny")).header("Cookie", &cookies).form(&made).send().await;
    let again = again.expect("send").text().await.expect("page");
    assert!(again.contains("redan skickats") && !again.contains("id=\"losenord\""), "{again}");
    let users = server.read("/users").await;
    let ruts = users.as_array().expect("users").iter().filter(|u| u["login"] == "rut@revision.se").count();
    assert_eq!(ruts, 1);
    assert_eq!(login_status(&server, "rut@revision.se", &first).await, 303, "the shown password logs in");
    browser.follow("Till Rut Revisor").await;
    browser.follow("Gör ett nytt lösenord").await;
    let fields = browser.form_fields("Gör ett nytt lösenord").await;
    browser.assert_accessible().await;
    browser.press("Gör ett nytt lösenord").await;
    let second = browser.text_of("losenord").await;
    assert_ne!(first, second);
    browser.guide_screenshot("kansli-uppf-losenord").await;
    assert_eq!(login_status(&server, "rut@revision.se", &first).await, 401, "the old password no longer works");
    assert_eq!(login_status(&server, "rut@revision.se", &second).await, 303, "the new one does");
    // The same form again (a double click, a reload): no third password.
    let path = browser.path().await;
    let again = client.post(server.url(&path)).header("Cookie", &cookies).form(&fields).send().await.expect("send");
    assert_eq!(again.status(), 200);
    assert!(again.text().await.expect("page").contains("redan skickats"));
    assert_eq!(login_status(&server, "rut@revision.se", &second).await, 303, "still the second password");
    browser.follow("Till Rut Revisor").await;
    browser.follow("Stäng av användaren").await;
    browser.assert_accessible().await;
    browser.press("Stäng av Rut Revisor").await;
    assert!(browser.main_text().await.contains("Användaren är avstängd"));
    assert_eq!(login_status(&server, "rut@revision.se", &second).await, 401, "a disabled user cannot log in");
    browser.follow("Användarens rader i säkerhetsloggen").await;
    let log = browser.table("Säkerhetsloggen").await;
    let kinds: Vec<&str> = log[1..].iter().map(|row| row[1].as_str()).collect();
    for kind in ["Användare avstängd", "Lösenord satt", "Användare skapad", "Inloggning"] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    browser.assert_accessible().await;
    browser.guide_screenshot("kansli-uppf-sakerhetslogg").await;

    // Bo asks to be forgotten: the wrong name is refused, his name erases him.
    browser.visit("/kansli/anvandare").await;
    browser.follow("Personer i kommunerna").await;
    browser.choose("Kommun", "Uddevalla").await;
    browser.press("Visa").await;
    browser.assert_accessible().await;
    browser.follow("Radera uppgifter om Bo Lind").await;
    assert_eq!(browser.heading().await, "Radera Bo Linds personuppgifter");
    browser.assert_accessible().await;
    browser.fill("Varför raderas uppgifterna?", "Begäran om radering enligt artikel 17.").await;
    browser.fill("Skriv personens namn för att bekräfta", "Bo Lindh").await;
    let events = server.event_count().await;
    browser.press("Radera uppgifterna").await;
    assert_eq!(
        browser.errors().await,
        vec!["Namnet stämmer inte: skriv personens namn så som det står på sidan".to_string()]
    );
    assert_eq!(server.event_count().await, events, "nothing erased");
    browser.assert_accessible().await;
    browser.fill("Skriv personens namn för att bekräfta", "Bo Lind").await;
    browser.guide_screenshot("kansli-uppf-radera").await;
    browser.press("Radera uppgifterna").await;
    let people = browser.main_text().await;
    assert!(people.contains("Personens uppgifter är raderade"), "{people}");
    assert!(!people.contains("Bo Lind"), "Bo is gone: {people}");
    assert!(people.contains("(raderad person)"), "{people}");
    let bo = server.read(&format!("/staff/{}", course.bo)).await;
    assert_eq!(bo["status"], "erased");
    assert!(bo["name"].is_null());
    // Stina's summary names him no more.
    browser.visit("/kansli/brev?typ=course_summary").await;
    browser.follow("Sammanfattning efter kurs till Stina Sjö").await;
    let letter = browser.main_text().await;
    assert!(letter.contains("(raderad person)") && !letter.contains("Bo Lind"), "{letter}");
    assert!(letter.contains("Anna Ek"), "the others are still named: {letter}");

    // Stina is erased too: her summary, not sent yet, fails and says why.
    let erase = format!("/staff/{}/erase", course.stina);
    server.post(&Actor::office(), &erase, json!({ "reason": "Begäran." })).await.expect(200);
    // The dispatcher (with letters as files) finds it cannot be written.
    let settings = kurslogg_tests::smtp::mail_settings(None);
    let folder = std::env::temp_dir().join(format!("kl-follow-up-{}", uuid::Uuid::new_v4().simple()));
    let transport = kurslogg::mail::transport::Transport::from_settings(&settings, &folder).expect("file transport");
    let dispatcher = kurslogg::mail::dispatch::Dispatcher::new(server.app.clone(), transport, settings);
    dispatcher.dispatch_due().await.expect("dispatch");
    let _ = std::fs::remove_dir_all(&folder);
    poll(&server, "/outbox?status=failed", |b| b["notices"].as_array().is_some_and(|n| n.len() == 1)).await;
    browser.visit("/kansli/brev").await;
    browser.choose("Status", "Kunde inte skickas").await;
    browser.press("Visa").await;
    let failed = browser.table("Utkorgen").await;
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert_eq!(failed[1][2], "(raderad person)", "{failed:?}");
    assert!(
        failed[1][3].starts_with("Kunde inte skickas") && failed[1][3].len() > "Kunde inte skickas".len(),
        "with why: {failed:?}"
    );
    browser.assert_accessible().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_course_office_follows_up_on_sqlite() {
    the_office_follows_up(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_course_office_follows_up_on_postgres() {
    the_office_follows_up(Backend::Postgres).await;
}
