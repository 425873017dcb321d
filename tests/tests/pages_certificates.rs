//! Certificates on the pages (decision 0019), in a real headless Chromium with axe-core
//! on every page: a participant finds their certificate and their list of completed
//! courses as PDF from their start page; someone with the paper and no login checks it on
//! the public page `/kontrollera-intyg`, opened as the QR code opens it.

mod api_support;
mod pages_support;

use api_support::{utc, Actor, Backend, TestServer};
use kurslogg::app::Role;
use kurslogg_tests::browser::{Browser, Window};
use pages_support::{log_in, user_with_password, Term, PASSWORD};
use serde_json::json;

/// Bo has been at LVU grund's one session and completed it; answers his certificate number.
async fn bo_completes(server: &TestServer, term: &Term) -> String {
    let line = json!({ "lines": [{ "staff_id": term.bo, "offering_id": term.lvu_grund }] });
    server.post(&Actor::coordinator("uddevalla"), "/municipalities/uddevalla/registrations", line).await.expect(200);
    server.clock.set(utc(2027, 6, 16, 8, 0));
    let close = format!("/packages/{}/close-registration", term.package);
    server.post(&Actor::office(), &close, json!({})).await.expect(200);
    server.clock.set(utc(2027, 9, 8, 8, 0));
    let body = json!({ "staff_id": term.bo, "session": 0, "attendance": "present" });
    server.post(&Actor::office(), &format!("/offerings/{}/attendance", term.lvu_grund), body).await.expect(200);
    let done = server.post(&Actor::office(), &format!("/offerings/{}/complete", term.lvu_grund), json!({})).await;
    let position = done.expect(200)["position"].as_i64().expect("position");
    server.read(&format!("/staff/{}/record?min_position={position}", term.bo)).await;
    let lines = server.read(&format!("/staff/{}/registrations", term.bo)).await;
    lines[0]["certificate"].as_str().expect("a certificate").to_string()
}

/// GET `path` with the browser's session cookie: status and content type.
async fn fetch(server: &TestServer, browser: &Browser, path: &str) -> (u16, String) {
    let answer = server
        .request(reqwest::Method::GET, path)
        .header("Cookie", browser.cookie_header().await)
        .send()
        .await
        .expect("an answer");
    let kind = answer.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    (answer.status().as_u16(), kind)
}

async fn certificates_on_the_pages(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else { return };
    let term = Term::set_up(&server).await;
    let number = bo_completes(&server, &term).await;
    user_with_password(&server, "bo@uddevalla.se", "Bo Lind", Role::Participant, None, Some(&term.bo)).await;

    // The participant: the certificate and the list, linked from the start page.
    let phone = Browser::open(&server.base, &format!("certificates-participant-{backend:?}"), Window::Phone).await;
    log_in(&phone, "bo@uddevalla.se", PASSWORD).await;
    assert_eq!(phone.heading().await, "Mina kurser");
    let links = phone
        .run_script("return Array.from(document.querySelectorAll('main a')).map(a => a.getAttribute('href'));")
        .await;
    let links: Vec<String> =
        links.as_array().expect("hrefs").iter().filter_map(|h| h.as_str().map(str::to_string)).collect();
    let certificate = format!("/certificates/{number}/pdf");
    let record = format!("/staff/{}/certificates.pdf", term.bo);
    assert!(links.contains(&certificate) && links.contains(&record), "{links:?}");
    assert!(phone.has_link("Alla dina intyg i en PDF (utbildningsbevis)").await);
    phone.assert_accessible().await;
    for path in [&certificate, &record] {
        assert_eq!(fetch(&server, &phone, path).await, (200, "application/pdf".to_string()), "{path}");
    }

    // Someone with the paper, no login: the QR code opens the page with the number.
    drop(phone);
    let desk = Browser::open(&server.base, &format!("certificates-check-{backend:?}"), Window::Desktop).await;
    desk.visit(&format!("/kontrollera-intyg?nummer={number}")).await;
    assert_eq!(desk.heading().await, "Kontrollera ett intyg");
    assert_eq!(desk.value_of("Intygsnummer").await, number);
    desk.assert_accessible().await;
    desk.fill("Innehavarens namn", "bo lind").await;
    desk.press("Kontrollera").await;
    let answer = desk.main_text().await;
    assert!(answer.contains("Intyget gäller") && answer.contains("LVU grund"), "{answer}");
    assert!(answer.contains("1 av 1 tillfällen"), "{answer}");
    desk.assert_accessible().await;
    desk.screenshot("certificate-valid").await;
    desk.guide_screenshot("kontrollera-intyg").await;

    desk.fill("Innehavarens namn", "Bo Linde").await;
    desk.press("Kontrollera").await;
    let answer = desk.main_text().await;
    assert!(answer.contains("Intyget kunde inte bekräftas") && !answer.contains("LVU grund ("), "{answer}");
    desk.assert_accessible().await;

    desk.fill("Intygsnummer", "").await;
    desk.fill("Innehavarens namn", "").await;
    desk.press("Kontrollera").await;
    let errors = desk.errors().await;
    assert!(errors.iter().any(|e| e.contains("Skriv intygsnumret")), "{errors:?}");
    assert!(errors.iter().any(|e| e.contains("Skriv innehavarens namn")), "{errors:?}");
    desk.assert_accessible().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_on_the_pages_on_sqlite() {
    certificates_on_the_pages(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_on_the_pages_on_postgres() {
    certificates_on_the_pages(Backend::Postgres).await;
}
