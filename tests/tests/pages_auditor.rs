//! An auditor's pages in a real headless Chromium: a registration that was later
//! cancelled, seen on the roster as it stood between the two (the time travel, marked as
//! a past view), and the audit trail in words filtered to that offering and that person,
//! with its extract. axe-core on every page.

mod api_support;
mod pages_support;

use api_support::{Actor, Backend, TestServer};
use chrono::{DurationRound, TimeDelta, Utc};
use chrono_tz::Europe::Stockholm;
use kurslogg::app::Role;
use kurslogg_tests::browser::{Browser, Window};
use pages_support::{log_in, user_with_password, Term, PASSWORD};
use serde_json::json;

const AUDITOR: &str = "revisor@example.se";

async fn an_auditor_travels_in_time(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else { return };
    let term = Term::set_up(&server).await;
    let lines = json!({ "lines": [
        { "staff_id": term.bo, "offering_id": term.lvu_grund },
        { "staff_id": term.anna, "offering_id": term.lvu_forts },
    ] });
    server.post(&Actor::coordinator("uddevalla"), "/municipalities/uddevalla/registrations", lines).await.expect(200);
    // The next whole second after the registration is recorded, and the cancellation
    // after it: the moment between them, as the auditor types it (to the second).
    let between = Utc::now().duration_trunc(TimeDelta::seconds(1)).expect("whole seconds") + TimeDelta::seconds(1);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let cancel = format!("/offerings/{}/registrations/{}/cancel", term.lvu_grund, term.bo);
    let cancelled = server.post(&Actor::coordinator("uddevalla"), &cancel, json!({})).await;
    let position = cancelled.expect(200)["position"].as_i64().expect("position");
    let roster = server.read(&format!("/offerings/{}/roster?min_position={position}", term.lvu_grund)).await;
    assert_eq!(roster["entries"][0]["status"], "cancelled", "Bo is off the list now");
    user_with_password(&server, AUDITOR, "Rut Revisor", Role::Auditor, None, None).await;

    let browser = Browser::open(&server.base, &format!("auditor-{backend:?}"), Window::Desktop).await;
    log_in(&browser, AUDITOR, PASSWORD).await;
    assert_eq!(browser.heading().await, "Start");
    browser.assert_accessible().await;

    // The roster as it stood between the registration and the cancellation.
    browser.follow("Tidsresa").await;
    browser.assert_accessible().await;
    let local = between.with_timezone(&Stockholm);
    browser.choose("Kurstillfälle", "LVU grund, HT2027 (2027-09-07)").await;
    browser.fill("Datum", &local.format("%Y-%m-%d").to_string()).await;
    browser.fill("Klockslag", &local.format("%H:%M:%S").to_string()).await;
    browser.press("Visa hur det såg ut").await;
    let past = browser.main_text().await;
    assert!(past.contains("Historisk vy."), "marked as a past view: {past}");
    let table = browser.table("Deltagarlistan för LVU grund").await;
    assert_eq!(table[1], vec!["Bo Lind", "Uddevalla", "Anmäld, väntar på fördelning", ""], "{table:?}");
    browser.assert_accessible().await;
    browser.guide_screenshot("revisor-tidsresa").await;
    // A moment that has not been yet is refused, with the form back.
    browser.fill("Datum", "2099-01-01").await;
    browser.press("Visa hur det såg ut").await;
    let errors = browser.errors().await;
    assert_eq!(errors, vec!["Välj en tidpunkt som har varit: tidsresan visar hur det såg ut förut".to_string()]);
    browser.assert_accessible().await;

    // The audit trail of that offering, in words.
    browser.visit(&format!("/granskning?kurstillfalle={}", term.lvu_grund)).await;
    let trail = browser.main_text().await;
    assert!(trail.contains("anmälde Bo Lind till LVU grund (HT2027)"), "{trail}");
    assert!(trail.contains("avanmälde Bo Lind från LVU grund (HT2027), utan avgift"), "{trail}");
    assert!(!trail.contains("Anna Ek"), "Anna is on another offering: {trail}");
    browser.assert_accessible().await;
    // From the registration's entry, the roster just after it.
    let link = browser
        .run_script(
            "const li = [...document.querySelectorAll('.audit-list li')]\
               .find(l => l.textContent.includes('anmälde Bo Lind till'));\
             return li.querySelector('a').getAttribute('href');",
        )
        .await;
    browser.visit(link.as_str().expect("a link to the time travel")).await;
    let table = browser.table("Deltagarlistan för LVU grund").await;
    assert_eq!(table[1][2], "Anmäld, väntar på fördelning", "just after the registration: {table:?}");

    // ... and of Bo, chosen by municipality and name.
    browser.visit("/granskning").await;
    browser.choose("Kommun", "Uddevalla").await;
    browser.press("Visa").await;
    let municipality = browser.main_text().await;
    assert!(municipality.contains("(Uddevalla) anmälde 2 personer ("), "the collective registration: {municipality}");
    assert!(!municipality.contains("Vera Holm"), "Vänersborg's are not Uddevalla's: {municipality}");
    browser.choose("Person", "Bo Lind").await;
    browser.press("Visa").await;
    let trail = browser.main_text().await;
    assert!(trail.contains("Visar det som rör Bo Lind"), "{trail}");
    assert!(trail.contains("lade till Bo Lind i personalregistret"), "{trail}");
    assert!(trail.contains("anmälde Bo Lind till LVU grund") && trail.contains("avanmälde Bo Lind"), "{trail}");
    assert!(trail.contains("(Uddevalla)"), "on whose behalf: {trail}");
    browser.assert_accessible().await;
    browser.guide_screenshot("revisor-granskning").await;
    let cookies = browser.cookie_header().await;
    let export = reqwest::Client::new()
        .get(server.url(&format!("/audit/export?staff={}&format=csv", term.bo)))
        .header("Cookie", &cookies)
        .send()
        .await
        .expect("download");
    assert_eq!(export.status(), 200);
    let csv = export.text().await.expect("csv");
    assert!(csv.contains("RegistrationCancelled"), "{csv}");

    // Bo's own record as it stood then.
    browser.follow("Tidsresa för personen").await;
    browser.fill("Datum", &local.format("%Y-%m-%d").to_string()).await;
    browser.fill("Klockslag", &local.format("%H:%M:%S").to_string()).await;
    browser.press("Visa hur det såg ut").await;
    let record = browser.table("Bo Linds kurser").await;
    assert_eq!(record[1][0], "LVU grund (HT2027)");
    assert_eq!(record[1][2], "Anmäld, väntar på fördelning");
    browser.assert_accessible().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auditor_travels_in_time_on_sqlite() {
    an_auditor_travels_in_time(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auditor_travels_in_time_on_postgres() {
    an_auditor_travels_in_time(Backend::Postgres).await;
}
