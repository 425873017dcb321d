//! A coordinator's term through the pages, in a real headless Chromium: the catalogue, a
//! collective registration before the deadline with a line refused for a missing
//! prerequisite, a resubmission that changes nothing, a free withdrawal, then after the
//! deadline a transfer and a charged cancellation. Every page is checked with axe-core.

mod api_support;
mod pages_support;

use api_support::{utc, Actor, Backend, TestServer};
use kurslogg::app::Role;
use kurslogg_tests::browser::{Browser, Window};
use pages_support::{log_in, user_with_password, Term, PASSWORD};
use serde_json::json;

const COORDINATOR: &str = "samordnare@uddevalla.se";

async fn a_coordinators_term(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else { return };
    let term = Term::set_up(&server).await;
    user_with_password(&server, COORDINATOR, "Sara Samordnare", Role::Coordinator, Some("uddevalla"), None).await;
    let browser = Browser::open(&server.base, &format!("coordinator-{backend:?}"), Window::Desktop).await;
    log_in(&browser, COORDINATOR, PASSWORD).await;
    assert_eq!(browser.path().await, "/start");
    let start = browser.main_text().await;
    assert!(start.contains("Utbildningspaket HT2027"), "the open package: {start}");
    assert!(start.contains("106 dagar kvar"), "1 March to 15 June: {start}");
    assert!(start.contains("Inte skickad"), "{start}");
    browser.assert_accessible().await;
    browser.guide_screenshot("samordnare-start").await;

    // The staff register: a new person, refused until the form is whole, then paused.
    browser.follow("Personal").await;
    assert_eq!(browser.heading().await, "Personal");
    browser.assert_accessible().await;
    browser.follow("Lägg till medarbetare").await;
    browser.fill("Namn", "Dora Nyström").await;
    browser.fill("E-postadress i arbetet", "dora.nystrom@uddevalla").await;
    browser.press("Lägg till").await;
    let errors = browser.errors().await;
    assert!(errors.contains(&"Fyll i enheten".to_string()), "{errors:?}");
    assert!(errors.contains(&"Välj personalgrupp".to_string()), "{errors:?}");
    assert!(errors.contains(&"Skriv e-postadressen som namn@kommun.se, utan mellanslag".to_string()), "{errors:?}");
    assert_eq!(browser.value_of("Namn").await, "Dora Nyström", "the form comes back filled in");
    browser.assert_accessible().await;
    browser.guide_screenshot("samordnare-personal-fel").await;
    browser.fill("E-postadress i arbetet", "dora.nystrom@uddevalla.se").await;
    browser.fill("Enhet", "Barn och unga, utredning").await;
    browser.check("Myndighetsutövning", true).await;
    browser.check("Ny, 0–2 år", true).await;
    browser.check("Ja", true).await;
    browser.press("Lägg till").await;
    assert_eq!(browser.heading().await, "Dora Nyström");
    assert!(browser.main_text().await.contains("Personen är tillagd i registret."));
    browser.assert_accessible().await;
    browser.press("Pausa").await;
    assert!(browser.main_text().await.contains("Personen är pausad"), "{}", browser.main_text().await);
    browser.follow("Personal").await;
    let register = browser.main_text().await;
    assert!(register.contains("Dora Nyström") && register.contains("Pausad"), "{register}");

    // The catalogue.
    browser.follow("Kurskatalog").await;
    browser.assert_accessible().await;
    browser.follow("Utbildningspaket HT2027").await;
    assert_eq!(browser.heading().await, "Kurskatalog HT2027");
    let catalogue = browser.main_text().await;
    // WebDriver gives the text with no-break spaces as plain ones.
    for expected in ["LVU grund", "LVU fortsättning", "Kampenhof, Uddevalla", "1 800 kr per deltagare"] {
        assert!(catalogue.contains(expected), "{expected} in the catalogue: {catalogue}");
    }
    assert!(catalogue.contains("tisdag 7 september 2027 kl. 09.00–15.00"), "sessions in Stockholm time: {catalogue}");
    browser.assert_accessible().await;
    browser.guide_screenshot("samordnare-katalog").await;
    // Printed for an appraisal talk: the courses, without menus, filters or buttons.
    let printed = browser.print("catalogue").await;
    assert!(printed.contains("LVU fortsättning") && printed.contains("Kampenhof, Uddevalla"), "{printed}");
    for left_out in ["Logga ut", "Visa kurser", "Skriv ut katalogen", "Personal"] {
        assert!(!printed.contains(left_out), "{left_out:?} is not printed: {printed}");
    }

    // The collective registration: two on LVU grund, one on LVU fortsättning who has not
    // done LVU grund.
    browser.follow("Anmäl personal").await;
    assert_eq!(browser.heading().await, "Anmälan till Utbildningspaket HT2027");
    browser.assert_accessible().await;
    browser.open_details("LVU grund").await;
    let offered = browser.main_text().await;
    assert!(!offered.contains("Dora Nyström"), "a paused person is not offered: {offered}");
    browser.check_in("Personal till LVU grund", "Anna Ek", true).await;
    browser.check_in("Personal till LVU grund", "Bo Lind", true).await;
    browser.open_details("LVU fortsättning").await;
    browser.check_in("Personal till LVU fortsättning", "Cilla Berg", true).await;
    browser.guide_screenshot("samordnare-valj").await;
    browser.press("Fortsätt").await;
    assert_eq!(browser.heading().await, "Kontrollera anmälan");
    browser.assert_accessible().await;
    // Bo first: the municipality's own priority.
    browser.fill("Ordning för Bo Lind på LVU grund", "1").await;
    browser.fill("Ordning för Anna Ek på LVU grund", "2").await;
    browser.press("Uppdatera ordningen").await;
    let rows = browser.table("3 rader att skicka").await;
    assert_eq!(rows[1][1], "Bo Lind", "{rows:?}");
    assert_eq!(rows[2][1], "Anna Ek", "{rows:?}");
    let cookies = browser.cookie_header().await;
    let fields = browser.form_fields("Skicka anmälan").await;
    browser.guide_screenshot("samordnare-kontrollera").await;
    browser.press("Skicka anmälan").await;
    assert_eq!(browser.heading().await, "Anmälan är skickad");
    browser.assert_accessible().await;
    browser.guide_screenshot("samordnare-svar").await;
    let receipt = browser.table("Svar rad för rad").await;
    assert_eq!(receipt.len(), 4, "{receipt:?}");
    assert_eq!(receipt[1][0], "Bo Lind");
    assert_eq!(receipt[1][2], "Anmäld, väntar på fördelning");
    assert_eq!(receipt[2][0], "Anna Ek");
    assert_eq!(receipt[3][0], "Cilla Berg");
    assert!(receipt[3][2].starts_with("Inte anmäld:"), "the refused line says why: {receipt:?}");
    assert!(receipt[3][2].contains("LVU"), "the reason names the missing course: {receipt:?}");

    // The same form sent again (a double click, a reload) changes nothing.
    let events = server.event_count().await;
    let again = server
        .request(reqwest::Method::POST, &format!("/kurspaket/{}/anmalan/skicka", term.package))
        .header("Cookie", &cookies)
        .form(&fields)
        .send()
        .await
        .expect("send the form again");
    assert_eq!(again.status(), 200);
    let text = again.text().await.expect("page");
    assert!(text.contains("Anmälan är skickad"), "{text}");
    assert_eq!(server.event_count().await, events, "a resubmission writes nothing");

    // Before the deadline a line is withdrawn for free.
    browser.follow("Till kommunens anmälan").await;
    browser.follow("Ta bort Anna Ek från LVU grund").await;
    assert_eq!(browser.heading().await, "Ta bort anmälan");
    browser.assert_accessible().await;
    browser.press("Ta bort anmälan").await;
    assert!(browser.main_text().await.contains("Anmälan är borttagen. Det kostar inget."));

    // After the deadline the course office allocates: Bo gets a seat.
    server.clock.set(utc(2027, 6, 16, 8, 0));
    let closed =
        server.post(&Actor::office(), &format!("/packages/{}/close-registration", term.package), json!({})).await;
    closed.expect(200);
    // Months later: a new login, and back to the registration.
    log_in(&browser, COORDINATOR, PASSWORD).await;
    browser.visit(&format!("/kurspaket/{}/anmalan", term.package)).await;
    let page = browser.main_text().await;
    assert!(page.contains("Sista anmälningsdag har passerat"), "{page}");
    browser.assert_accessible().await;
    browser.guide_screenshot("samordnare-efter-sista-dag").await;

    // A transfer to a colleague costs nothing.
    browser.follow("Överlåt platsen för Bo Lind på LVU grund").await;
    browser.assert_accessible().await;
    browser.press("Överlåt platsen").await;
    assert_eq!(browser.errors().await, vec!["Välj vem som ska få platsen"], "nobody chosen: refused, said why");
    browser.choose("Vem ska få platsen?", "Cilla Berg").await;
    browser.press("Överlåt platsen").await;
    assert!(browser.main_text().await.contains("Platsen är överlåten."), "{}", browser.main_text().await);

    // Cancelling after the deadline is charged, and the page says so first.
    browser.follow("Avanmäl Cilla Berg från LVU grund").await;
    let warning = browser.main_text().await;
    assert!(warning.contains("debiteras kommunen hela avgiften"), "{warning}");
    browser.assert_accessible().await;
    browser.guide_screenshot("samordnare-avanmalan").await;
    browser.press("Avanmäl och betala 1\u{202f}800\u{a0}kr").await;
    assert!(browser.main_text().await.contains("Anmälan är avanmäld. Platsen debiteras kommunen."));
    let lines = server
        .get(&Actor::office(), &format!("/municipalities/uddevalla/registrations?package={}", term.package))
        .await;
    let cilla = lines.expect(200)["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|l| l["staff_id"] == term.cilla.as_str() && l["offering_id"] == term.lvu_grund.as_str())
        .cloned()
        .expect("Cilla's line");
    assert_eq!(cilla["status"], "cancelled");
    assert_eq!(cilla["charged"], true);

    // The costs: the charged cancellation, at the offering's price.
    browser.follow("Kostnader").await;
    assert_eq!(browser.heading().await, "Kostnader HT2027");
    let costs = browser.table("Rad för rad").await;
    assert!(
        costs.iter().any(|row| row[1] == "Cilla Berg"
            && row[2] == "Avanmäld efter sista anmälningsdag"
            && row[3] == "1 800 kr"),
        "{costs:?}"
    );
    browser.assert_accessible().await;
    browser.guide_screenshot("samordnare-kostnader").await;
    // The download beside the table: the same lines as a spreadsheet, with the session.
    let csv = server
        .request(reqwest::Method::GET, "/costs/export?term=HT2027&format=csv")
        .header("Cookie", browser.cookie_header().await)
        .send()
        .await
        .expect("download");
    assert_eq!(csv.status(), 200);
    let csv = csv.text().await.expect("CSV");
    assert!(csv.contains("Cilla Berg") && csv.contains("1800"), "{csv}");
    assert!(!csv.contains("Vera Holm"), "only the coordinator's own municipality: {csv}");
    browser.follow("Start").await;
    let start = browser.main_text().await;
    assert!(start.contains("Skickad"), "{start}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coordinators_term_on_sqlite() {
    a_coordinators_term(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coordinators_term_on_postgres() {
    a_coordinators_term(Backend::Postgres).await;
}
