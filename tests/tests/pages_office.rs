//! The course office's term through the pages, in a real headless Chromium: a course
//! added, the autumn package built (an offering refused for a session before the
//! deadline, then planned), published; the deadline overview with a municipality that
//! has not registered and the reminder its coordinator got; after the deadline,
//! registration closed and seats allocated fairly, with the reason for each municipality;
//! the roster's attendance grid, a trainer assigned, a seat added; next year's package
//! copied from this one. Every page is checked with axe-core, on both backends.

mod api_support;
mod pages_support;

use api_support::{utc, Actor, Backend, TestServer};
use kurslogg::app::Role;
use kurslogg::scheduler::Scheduler;
use kurslogg_tests::browser::{Browser, Window};
use pages_support::{log_in, user_with_password, PASSWORD};
use serde_json::json;

const OFFICE: &str = "kurser@fyrbodal.se";

async fn the_course_offices_term(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else { return };
    for (id, name) in [("uddevalla", "Uddevalla"), ("vanersborg", "Vänersborg"), ("amal", "Åmål")] {
        server.add_municipality(id, name).await;
    }
    server.add_course("LVU-GRUND", "LVU grund", &[]).await;
    let anna = server.add_staff("uddevalla", "Anna Ek").await;
    let bo = server.add_staff("uddevalla", "Bo Lind").await;
    let cilla = server.add_staff("uddevalla", "Cilla Berg").await;
    let vera = server.add_staff("vanersborg", "Vera Holm").await;
    let alma = server.add_staff("amal", "Alma Åberg").await;
    let role = json!({ "staff_id": alma, "role": "coordinator" });
    server.post(&Actor::office(), "/municipalities/amal/roles", role).await.expect(200);
    user_with_password(&server, OFFICE, "Karin Kansli", Role::CourseOffice, None, None).await;
    user_with_password(&server, "maria@fou.se", "Maria Handledare", Role::Trainer, None, None).await;

    let browser = Browser::open(&server.base, &format!("office-{backend:?}"), Window::Desktop).await;
    log_in(&browser, OFFICE, PASSWORD).await;
    assert_eq!(browser.heading().await, "Start");
    browser.assert_accessible().await;

    // A course for the catalogue: refused until whole, then added.
    browser.follow("Kurser").await;
    assert_eq!(browser.heading().await, "Kurser");
    browser.assert_accessible().await;
    browser.follow("Ny kurs").await;
    browser.fill("Kod", "samtal med barn").await;
    browser.press("Lägg till kursen").await;
    let errors = browser.errors().await;
    assert!(errors.iter().any(|e| e.starts_with("Koden får bara ha")), "{errors:?}");
    assert!(errors.contains(&"Fyll i kursens titel".to_string()), "{errors:?}");
    assert_eq!(browser.value_of("Kod").await, "samtal med barn", "the form comes back filled in");
    browser.assert_accessible().await;
    browser.fill("Kod", "SAMTAL-BARN").await;
    browser.fill("Titel", "Samtal med barn").await;
    browser.fill("Beskrivning", "Att samtala med barn i utredningar.").await;
    browser.check("LVU grund (LVU-GRUND)", true).await;
    browser.check_in("Målgrupp: erfarenhet", "3–5 år", true).await;
    browser.fill("Kompetensområden", "Samtal med barn").await;
    browser.fill("Närvarokrav för intyg, procent", "75").await;
    browser.fill("Pris per deltagare i kronor", "2500").await;
    browser.press("Lägg till kursen").await;
    assert!(browser.main_text().await.contains("Kursen är tillagd i katalogen."));
    let courses = browser.table("Kurser i katalogen").await;
    assert!(courses.iter().any(|r| r[0] == "Samtal med barn" && r[2] == "LVU grund"), "{courses:?}");
    browser.guide_screenshot("kansli-kurser").await;

    // The autumn package: created as a draft with the term's own deadline.
    browser.follow("Kurspaket").await;
    browser.assert_accessible().await;
    browser.follow("Nytt kurspaket").await;
    browser.assert_accessible().await;
    browser.fill("Termin", "HT2027").await;
    browser.fill("Titel", "Utbildningspaket hösten 2027").await;
    browser.fill("Arrangör", "Fyrbodals kommunalförbund").await;
    browser.press("Skapa kurspaketet").await;
    assert_eq!(browser.heading().await, "Utbildningspaket hösten 2027");
    let page = browser.main_text().await;
    assert!(page.contains("15 juni 2027"), "the autumn term's deadline is in June: {page}");
    browser.assert_accessible().await;
    let path = browser.path().await;
    let package =
        path.trim_start_matches("/kansli/kurspaket/").split('?').next().expect("the package's id").to_string();

    // A course never given: its offering's form starts from what a run of it usually is.
    browser.visit(&format!("/kansli/kurspaket/{package}/tillfallen/nytt?kurs=SAMTAL-BARN")).await;
    assert_eq!(browser.value_of("Pris per deltagare i kronor").await, "2500");
    assert_eq!(browser.value_of("Närvarokrav för intyg, procent").await, "75");
    assert_eq!(browser.value_of("Kompetensområden").await, "Samtal med barn");
    browser.visit(&format!("/kansli/kurspaket/{package}")).await;

    // An offering of LVU grund, first with a session before the deadline: refused with
    // the domain's reason by the sessions, the form filled in as typed.
    browser.choose("Planera ett kurstillfälle av kursen", "LVU grund (LVU-GRUND)").await;
    browser.press("Planera kurstillfälle").await;
    assert_eq!(browser.heading().await, "Planera kurstillfälle");
    browser.fill("Beskrivning", "Lagen om vård av unga: grunderna.").await;
    browser.check_in("Målgrupp: erfarenhet", "Ny, 0–2 år", true).await;
    browser.fill("Kompetensområden", "Juridik").await;
    browser.fill("Utbildare", "Advokatbyrån Väst").await;
    browser.fill("Plats", "Kampenhof, Uddevalla").await;
    browser.fill("Antal platser", "2").await;
    browser.fill("Pris per deltagare i kronor", "1800").await;
    browser.fill("Datum för tillfälle 1", "2027-06-01").await;
    browser.fill("Börjar, tillfälle 1", "09:00").await;
    browser.fill("Slutar, tillfälle 1", "15:00").await;
    browser.press("Planera kurstillfället").await;
    let errors = browser.errors().await;
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("anmälningsdag"), "the domain's Swedish reason: {errors:?}");
    assert_eq!(browser.value_of("Utbildare").await, "Advokatbyrån Väst");
    browser.assert_accessible().await;
    browser.guide_screenshot("kansli-tillfalle-fel").await;
    // More rows without JavaScript: the form comes back with them, nothing saved.
    let events = server.event_count().await;
    browser.press("Fler tillfällen").await;
    assert_eq!(server.event_count().await, events);
    browser.fill("Datum för tillfälle 1", "2027-09-07").await;
    browser.fill("Datum för tillfälle 2", "2027-09-14").await;
    browser.fill("Börjar, tillfälle 2", "09:00").await;
    browser.fill("Slutar, tillfälle 2", "16:00").await;
    browser.fill("Undervisningstid i timmar, tillfälle 2", "6").await;
    browser.press("Planera kurstillfället").await;
    assert!(browser.main_text().await.contains("Kurstillfället är planerat."), "{}", browser.main_text().await);
    let offerings = browser.table("Kurstillfällen i paketet").await;
    assert_eq!(offerings.len(), 2, "{offerings:?}");
    assert!(offerings[1][1].contains("7 september 2027"), "Swedish time: {offerings:?}");
    browser.guide_screenshot("kansli-kurspaket").await;
    browser.press("Publicera kurspaketet").await;
    assert!(browser.main_text().await.contains("Kurspaketet är publicerat."));
    browser.assert_accessible().await;
    let lvu: String = server.read(&format!("/packages/{package}")).await["offerings"][0]["id"]
        .as_str()
        .expect("the offering")
        .to_string();

    // Uddevalla registers three, Vänersborg one; Åmål nobody, and is reminded.
    let lines = json!({ "lines": [
        { "staff_id": bo, "offering_id": lvu }, { "staff_id": anna, "offering_id": lvu },
        { "staff_id": cilla, "offering_id": lvu }] });
    server.post(&Actor::coordinator("uddevalla"), "/municipalities/uddevalla/registrations", lines).await.expect(200);
    let line = json!({ "lines": [{ "staff_id": vera, "offering_id": lvu }] });
    let registered =
        server.post(&Actor::coordinator("vanersborg"), "/municipalities/vanersborg/registrations", line).await;
    registered.expect(200);
    server.clock.set(utc(2027, 6, 5, 8, 0));
    let mut reminded = 0;
    for _ in 0..50 {
        reminded = Scheduler::new(server.app.clone(), vec![14]).round().await.expect("round").reminders;
        if reminded > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(reminded, 1, "Åmål's coordinator is reminded");
    let position = registered.json["position"].as_i64().unwrap_or(0);
    server.read(&format!("/packages/{package}/deadline-overview?min_position={position}")).await;

    // Months have passed: the session has ended; log in again.
    log_in(&browser, OFFICE, PASSWORD).await;
    assert_eq!(browser.heading().await, "Start");
    let start = browser.main_text().await;
    assert!(start.contains("2 av 3"), "two of three municipalities registered: {start}");
    assert!(start.contains("4 mot 2 platser"), "{start}");
    browser.assert_accessible().await;
    browser.guide_screenshot("kansli-start").await;
    browser.follow("Följ anmälan till Utbildningspaket hösten 2027").await;
    assert_eq!(browser.heading().await, "Översikt över anmälan");
    let silent = browser.main_text().await;
    assert!(!silent.contains("Alla kommuner har anmält"), "{silent}");
    let overview = browser.table("Anmälningar per kurstillfälle").await;
    assert_eq!(&overview[1][2..5], ["2", "4", "0"], "seats, in time, late: {overview:?}");
    assert!(silent.contains("Åmål") && silent.contains("14 dagar före"), "the reminder sent: {silent}");
    browser.assert_accessible().await;
    browser.guide_screenshot("kansli-oversikt").await;

    // After the deadline: close and allocate, asked first.
    server.clock.set(utc(2027, 6, 16, 8, 0));
    log_in(&browser, OFFICE, PASSWORD).await;
    browser.visit(&format!("/kansli/kurspaket/{package}/oversikt")).await;
    browser.follow("Stäng anmälan och fördela platser").await;
    assert_eq!(browser.heading().await, "Stäng anmälan och fördela platser");
    browser.assert_accessible().await;
    browser.guide_screenshot("kansli-stang").await;
    browser.press("Stäng anmälan och fördela platserna").await;
    assert_eq!(browser.heading().await, "Fördelning av platser");
    browser.assert_accessible().await;
    browser.guide_screenshot("kansli-fordelning").await;
    // Two seats, two municipalities: one each in the first round, whoever drew first;
    // Uddevalla's other two wait in its own priority order.
    let shares = browser.table("Kommunernas platser: LVU grund").await;
    let share =
        |name: &str| shares.iter().find(|r| r[1] == name).cloned().unwrap_or_else(|| panic!("{name}: {shares:?}"));
    assert_eq!(&share("Uddevalla")[2..5], ["3", "1", "2"], "{shares:?}");
    assert_eq!(&share("Vänersborg")[2..5], ["1", "1", "0"], "{shares:?}");
    assert!(share("Uddevalla")[5].contains("omgång 1"), "why: {shares:?}");
    let order = browser.table("I fördelningsordning: LVU grund").await;
    let seated: Vec<&str> = order[1..].iter().filter(|r| r[4] == "Fick plats").map(|r| r[1].as_str()).collect();
    assert!(seated.contains(&"Bo Lind") && seated.contains(&"Vera Holm"), "Uddevalla's first in priority: {order:?}");
    assert_eq!(order[3][1], "Anna Ek", "{order:?}");
    assert_eq!(order[3][4], "Väntelista, plats 1", "{order:?}");

    // The roster: attendance grid, a trainer's account, a seat more for the first waiting.
    browser.follow("Deltagarlistan").await;
    assert_eq!(browser.heading().await, "LVU grund");
    let grid = browser.table("Närvaro per tillfälle").await;
    assert_eq!(grid[0].len(), 7, "name, municipality, two sessions, attended, result, certificate: {grid:?}");
    assert_eq!(grid.len(), 3, "{grid:?}");
    browser.assert_accessible().await;
    browser.choose("Koppla en utbildare", "Maria Handledare").await;
    browser.press("Koppla utbildaren").await;
    assert!(browser.main_text().await.contains("Utbildarna är ändrade."));
    browser.fill("Antal platser", "noll").await;
    browser.press("Ändra antal platser").await;
    assert!(!browser.errors().await.is_empty(), "a seat limit that is no number is refused");
    browser.assert_accessible().await;
    browser.fill("Antal platser", "3").await;
    browser.press("Ändra antal platser").await;
    let grid = browser.table("Närvaro per tillfälle").await;
    assert_eq!(grid.len(), 4, "Anna, first in line, got the new seat: {grid:?}");
    assert!(grid.iter().any(|r| r[0] == "Anna Ek"), "{grid:?}");
    // Attendance recorded at the first session shows in the grid.
    server.clock.set(utc(2027, 9, 7, 14, 0));
    let marked = server
        .post(
            &Actor::office(),
            &format!("/offerings/{lvu}/attendance"),
            json!({ "staff_id": bo, "session": 0, "attendance": "present" }),
        )
        .await;
    let position = marked.expect(200)["position"].as_i64().expect("a position");
    log_in(&browser, OFFICE, PASSWORD).await;
    browser.visit(&format!("/kansli/tillfallen/{lvu}?efter={position}")).await;
    let grid = browser.table("Närvaro per tillfälle").await;
    let bo_row = grid.iter().find(|r| r[0] == "Bo Lind").expect("Bo");
    assert_eq!(bo_row[2], "Närvarande", "{grid:?}");
    browser.guide_screenshot("kansli-deltagarlista").await;

    // Next year's package, copied: LVU grund again on a Tuesday in September 2028.
    browser.visit(&format!("/kansli/kurspaket/{package}")).await;
    let events = server.event_count().await;
    browser.press("Kopiera till HT2028").await;
    assert_eq!(browser.heading().await, "Utbildningspaket HT2028");
    let copied = browser.table("Kurstillfällen i paketet").await;
    assert_eq!(copied.len(), 2, "{copied:?}");
    assert!(copied[1][1].contains("5 september 2028"), "52 weeks on, a Tuesday: {copied:?}");
    browser.assert_accessible().await;
    // Copying again finds the first copy: nothing more is written.
    let written = server.event_count().await;
    assert!(written > events);
    browser.visit(&format!("/kansli/kurspaket/{package}")).await;
    browser.press("Kopiera till HT2028").await;
    assert_eq!(server.event_count().await, written, "a second copy writes nothing");

    // The roster downloads with the page's session: the people on it, by name.
    let cookies = browser.cookie_header().await;
    let csv = server
        .request(reqwest::Method::GET, &format!("/offerings/{lvu}/roster/export?format=csv"))
        .header("Cookie", &cookies)
        .send()
        .await
        .expect("download");
    assert_eq!(csv.status(), 200);
    let csv = csv.text().await.expect("csv");
    assert!(csv.contains("Bo Lind") && csv.contains("Vera Holm"), "{csv}");

    // The copy is edited: a new trainer, then the offering is cancelled (the reason asked
    // first); the deadline moved; the course's title revised.
    browser.follow("LVU grund").await;
    browser.assert_accessible().await;
    browser.follow("Ändra uppgifter och tillfällen").await;
    assert_eq!(browser.heading().await, "Ändra LVU grund");
    assert_eq!(browser.value_of("Datum för tillfälle 2").await, "2028-09-12", "the copy's second session");
    browser.assert_accessible().await;
    browser.fill("Utbildare", "Familjerättsbyrån").await;
    browser.press("Spara ändringarna").await;
    assert!(browser.main_text().await.contains("Kurstillfället är ändrat."));
    assert!(browser.main_text().await.contains("Familjerättsbyrån"));
    browser.follow("Ställ in kurstillfället").await;
    browser.assert_accessible().await;
    browser.press("Ställ in kurstillfället").await;
    assert_eq!(browser.errors().await.len(), 1, "the reason is asked for");
    browser.fill("Anledning", "Kursen ges inte i år.").await;
    browser.press("Ställ in kurstillfället").await;
    assert!(browser.main_text().await.contains("Kurstillfället är inställt."));
    browser.follow("Till kurspaketet").await;
    browser.follow("Ändra sista anmälningsdag").await;
    browser.assert_accessible().await;
    browser.fill("Datum", "2028-06-01").await;
    browser.press("Spara sista anmälningsdag").await;
    assert!(browser.main_text().await.contains("Sista anmälningsdag är ändrad."));
    assert!(browser.main_text().await.contains("1 juni 2028"), "{}", browser.main_text().await);
    browser.visit("/kansli/kurser/SAMTAL-BARN").await;
    browser.assert_accessible().await;
    browser.fill("Titel", "Samtal med barn och unga").await;
    browser.press("Spara ändringarna").await;
    let courses = browser.table("Kurser i katalogen").await;
    assert!(courses.iter().any(|r| r[0] == "Samtal med barn och unga"), "{courses:?}");

    // After the last session the offering is completed: Bo, there both times, gets a
    // certificate; the others, never marked present, do not.
    server.clock.set(utc(2027, 9, 14, 15, 0));
    let marked = server
        .post(
            &Actor::office(),
            &format!("/offerings/{lvu}/attendance"),
            json!({ "staff_id": bo, "session": 1, "attendance": "present" }),
        )
        .await;
    let position = marked.expect(200)["position"].as_i64().expect("a position");
    log_in(&browser, OFFICE, PASSWORD).await;
    browser.visit(&format!("/kansli/tillfallen/{lvu}?efter={position}")).await;
    browser.press("Avsluta kurstillfället").await;
    assert!(browser.main_text().await.contains("Kurstillfället är avslutat."));
    let grid = browser.table("Närvaro per tillfälle").await;
    let bo_row = grid.iter().find(|r| r[0] == "Bo Lind").expect("Bo");
    assert_eq!(bo_row[5], "Genomförd", "{grid:?}");
    assert!(!bo_row[6].is_empty(), "Bo's certificate number: {grid:?}");
    let vera_row = grid.iter().find(|r| r[0] == "Vera Holm").expect("Vera");
    assert_eq!((vera_row[5].as_str(), vera_row[6].as_str()), ("Inte genomförd", ""), "{grid:?}");
    browser.assert_accessible().await;

    // Bo's certificate withdrawn from the roster: the reason is asked first, and the check
    // of the certificate then answers that it is withdrawn.
    let number = bo_row[6].split_whitespace().next().expect("the certificate's number").to_string();
    browser.follow("Återkalla intyget för Bo Lind").await;
    assert_eq!(browser.heading().await, format!("Återkalla intyg {number}"));
    browser.assert_accessible().await;
    browser.press("Återkalla intyget").await;
    assert_eq!(browser.errors().await, ["Skriv varför intyget återkallas; det syns i granskningsloggen"]);
    browser.fill("Anledning", "Närvaron vid andra tillfället var felregistrerad").await;
    browser.press("Återkalla intyget").await;
    assert!(browser.main_text().await.contains("Intyget är återkallat."));
    let grid = browser.table("Närvaro per tillfälle").await;
    let bo_row = grid.iter().find(|r| r[0] == "Bo Lind").expect("Bo");
    assert_eq!((bo_row[5].as_str(), bo_row[6].as_str()), ("Inte genomförd", ""), "{grid:?}");
    let checked = server
        .send(
            server
                .request(reqwest::Method::POST, "/certificates/check")
                .json(&json!({ "number": number, "name": "Bo Lind" })),
        )
        .await;
    assert_eq!(checked.expect(200)["status"], "withdrawn");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_course_office_builds_publishes_and_allocates_a_term_on_sqlite() {
    the_course_offices_term(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_course_office_builds_publishes_and_allocates_a_term_on_postgres() {
    the_course_offices_term(Backend::Postgres).await;
}
