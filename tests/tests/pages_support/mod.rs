//! Support for the page tests: users who log in with a password, logging in through the
//! login page, and a municipality with staff and a published package to register on.

#![allow(dead_code)]

use kurslogg::app::Role;
use kurslogg_domain::{MunicipalityId, StaffId};
use kurslogg_tests::browser::Browser;
use serde_json::json;

use crate::api_support::{offering_body, utc, Actor, TestServer};

/// The password every page-test user has.
pub const PASSWORD: &str = "ett långt och hemligt lösenord";

/// A user who logs in with [`PASSWORD`], made as `kurslogg users create` makes one.
pub async fn user_with_password(
    server: &TestServer,
    login: &str,
    name: &str,
    role: Role,
    municipality: Option<&str>,
    staff: Option<&str>,
) -> String {
    let new = kurslogg::auth::NewUser {
        login: login.into(),
        display_name: name.into(),
        role,
        municipality: municipality.map(|m| MunicipalityId::parse(m).expect("municipality id")),
        staff: staff.map(|s| s.parse::<StaffId>().expect("staff id")),
        password: Some(PASSWORD.into()),
    };
    let system = kurslogg::app::Actor::system();
    let user =
        server.app.auth.create_user(&system, &kurslogg::auth::Origin::default(), new).await.expect("create the user");
    user.user_id
}

/// Logs in through the login page.
pub async fn log_in(browser: &Browser, login: &str, password: &str) {
    browser.visit("/").await;
    browser.fill("E-postadress eller användarnamn", login).await;
    browser.fill("Lösenord", password).await;
    browser.press("Logga in").await;
}

/// Uddevalla with three staff, Vänersborg with one, the LVU courses, and the autumn
/// package HT2027 published with LVU grund (two seats) and LVU fortsättning.
pub struct Term {
    /// The package's id.
    pub package: String,
    /// LVU grund's offering.
    pub lvu_grund: String,
    /// LVU fortsättning's offering (LVU grund first).
    pub lvu_forts: String,
    /// Uddevalla's staff: Anna Ek, Bo Lind, Cilla Berg.
    pub anna: String,
    /// Bo Lind.
    pub bo: String,
    /// Cilla Berg.
    pub cilla: String,
    /// Vänersborg's one staff member.
    pub vera: String,
}

impl Term {
    /// Sets the term up through the API, as the course office and the coordinators would.
    pub async fn set_up(server: &TestServer) -> Term {
        server.add_municipality("uddevalla", "Uddevalla").await;
        server.add_municipality("vanersborg", "Vänersborg").await;
        server.add_course("LVU-GRUND", "LVU grund", &[]).await;
        server.add_course("LVU-FORTS", "LVU fortsättning", &["LVU-GRUND"]).await;
        let anna = server.add_staff("uddevalla", "Anna Ek").await;
        let bo = server.add_staff("uddevalla", "Bo Lind").await;
        let cilla = server.add_staff("uddevalla", "Cilla Berg").await;
        let vera = server.add_staff("vanersborg", "Vera Holm").await;
        let package = server.create_package("HT2027").await;
        let lvu_grund = server.plan_offering(&package, offering_body("LVU-GRUND", 2, &[utc(2027, 9, 7, 7, 0)])).await;
        let lvu_forts = server
            .plan_offering(&package, offering_body("LVU-FORTS", 10, &[utc(2027, 10, 5, 7, 0), utc(2027, 10, 6, 7, 0)]))
            .await;
        server.post(&Actor::office(), &format!("/packages/{package}/publish"), json!({})).await.expect(200);
        Term { package, lvu_grund, lvu_forts, anna, bo, cilla, vera }
    }
}
