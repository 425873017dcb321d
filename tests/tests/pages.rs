//! The web pages in a real headless Chromium: logging in and out, a session that ran out,
//! and the pages every role shares. Fields are found by their labels and buttons by their
//! text, as a person finds them; every page is checked with axe-core.

mod api_support;
mod pages_support;

use api_support::{Backend, TestServer};
use kurslogg::app::Role;
use kurslogg_tests::browser::{Browser, Window};
use pages_support::{log_in, user_with_password, PASSWORD};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_front_door_is_a_swedish_login_page_that_says_what_went_wrong() {
    let server = TestServer::start(Backend::Sqlite).await.expect("SQLite always runs");
    user_with_password(&server, "anna@fyrbodal.se", "Anna Andersson", Role::CourseOffice, None, None).await;
    let browser = Browser::open(&server.base, "login", Window::Desktop).await;

    browser.visit("/").await;
    assert_eq!(browser.heading().await, "Logga in");
    assert_eq!(browser.run_script("return document.documentElement.lang").await, "sv");
    browser.assert_accessible().await;
    browser.screenshot("login").await;

    // Nothing typed: both fields are named in the summary and beside the field.
    browser.press("Logga in").await;
    assert_eq!(browser.errors().await, vec!["Fyll i din e-postadress eller ditt användarnamn", "Fyll i ditt lösenord"]);
    assert!(browser.title().await.starts_with("Fel: "), "the title says the page has errors");
    browser.assert_accessible().await;

    // A wrong password: refused, the login name kept, the password not.
    log_in(&browser, "anna@fyrbodal.se", "fel lösenord").await;
    assert_eq!(
        browser.errors().await,
        vec!["E-postadressen eller lösenordet stämmer inte. Kontrollera och försök igen."]
    );
    assert_eq!(browser.value_of("E-postadress eller användarnamn").await, "anna@fyrbodal.se");
    assert_eq!(browser.value_of("Lösenord").await, "");
    browser.screenshot("login-refused").await;

    log_in(&browser, "anna@fyrbodal.se", PASSWORD).await;
    assert_eq!(browser.path().await, "/start");
    assert!(browser.main_text().await.contains("Anna Andersson"), "the start page greets the user");
    browser.assert_accessible().await;

    // Back at the front door while logged in: straight to the start page.
    browser.visit("/").await;
    assert_eq!(browser.path().await, "/start");

    browser.press("Logga ut").await;
    assert_eq!(browser.heading().await, "Logga in");
    assert!(browser.main_text().await.contains("Du är utloggad."));
    browser.visit("/start").await;
    assert_eq!(browser.heading().await, "Logga in", "a page needs a login once logged out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_that_ran_out_says_so_and_comes_back_to_the_page_after_logging_in() {
    let server = TestServer::start(Backend::Sqlite).await.expect("SQLite always runs");
    user_with_password(&server, "anna@fyrbodal.se", "Anna Andersson", Role::CourseOffice, None, None).await;
    let browser = Browser::open(&server.base, "session-expired", Window::Desktop).await;
    log_in(&browser, "anna@fyrbodal.se", PASSWORD).await;
    assert_eq!(browser.path().await, "/start");

    // Sessions last eight hours.
    server.clock.set(api_support::utc(2027, 3, 1, 17, 30));
    browser.visit("/start").await;
    assert_eq!(browser.heading().await, "Logga in");
    let text = browser.main_text().await;
    assert!(text.contains("Din inloggning har gått ut"), "the page says plainly that the session ended: {text}");
    browser.assert_accessible().await;
    browser.screenshot("session-expired").await;

    browser.fill("E-postadress eller användarnamn", "anna@fyrbodal.se").await;
    browser.fill("Lösenord", PASSWORD).await;
    browser.press("Logga in").await;
    assert_eq!(browser.path().await, "/start", "back to the page that asked for the login");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_address_gets_a_swedish_page_in_a_browser_and_a_problem_document_otherwise() {
    let server = TestServer::start(Backend::Sqlite).await.expect("SQLite always runs");
    let browser = Browser::open(&server.base, "not-found", Window::Phone).await;
    browser.visit("/finns-inte").await;
    assert_eq!(browser.heading().await, "Sidan finns inte");
    browser.assert_accessible().await;

    let reply = server.request(reqwest::Method::GET, "/finns-inte").send().await.expect("request");
    assert_eq!(reply.status(), 404);
    assert_eq!(reply.headers()["content-type"], "application/problem+json");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_login_page_works_from_the_keyboard_alone() {
    let server = TestServer::start(Backend::Postgres).await;
    let Some(server) = server else { return };
    user_with_password(&server, "anna@fyrbodal.se", "Anna Andersson", Role::CourseOffice, None, None).await;
    let browser = Browser::open(&server.base, "keyboard", Window::Desktop).await;
    browser.visit("/").await;
    // The first Tab reaches the skip link, which leads past the header.
    browser.tab(1).await;
    assert_eq!(browser.focused().await, "a: Hoppa till innehållet");
    browser.enter().await;
    browser.tab(1).await;
    let focused = browser.focused().await;
    assert!(focused.starts_with("input"), "after the skip link, the first field: {focused}");
    browser.field("E-postadress eller användarnamn").await.send_keys("anna@fyrbodal.se").await.expect("type");
    browser.tab(1).await;
    browser.field("Lösenord").await.send_keys(PASSWORD).await.expect("type");
    browser.enter_and_load().await;
    assert_eq!(browser.path().await, "/start");
}
