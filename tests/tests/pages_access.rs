//! Who may open which page: every page tried by every role, by another municipality's
//! coordinator and by nobody logged in, as the API's access matrix does for endpoints.
//! No page shows another municipality's people.

mod api_support;
mod pages_support;

use api_support::{Actor, Backend, TestServer};
use kurslogg::app::Role;
use pages_support::{user_with_password, Term, PASSWORD};
use reqwest::redirect::Policy;
use serde_json::json;

/// A logged-in browser without a browser: the session cookie of a page login.
struct Visitor {
    cookie: String,
}

async fn log_in(server: &TestServer, login: &str) -> Visitor {
    let client = reqwest::Client::builder().redirect(Policy::none()).build().expect("client");
    let answer = client
        .post(server.url("/logga-in"))
        .form(&[("login", login), ("password", PASSWORD)])
        .send()
        .await
        .expect("log in");
    assert_eq!(answer.status(), 303, "{login} logs in");
    let cookie = answer
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|c| c.to_str().ok())
        .map(|c| c.split(';').next().unwrap_or_default().to_string())
        .collect::<Vec<_>>()
        .join("; ");
    Visitor { cookie }
}

/// The status and text of `path` for `visitor` (or nobody), redirects not followed.
async fn open(server: &TestServer, visitor: Option<&Visitor>, path: &str) -> (u16, String) {
    let client = reqwest::Client::builder().redirect(Policy::none()).build().expect("client");
    let mut request = client.get(server.url(path)).header("Accept", "text/html");
    if let Some(visitor) = visitor {
        request = request.header("Cookie", &visitor.cookie);
    }
    let answer = request.send().await.expect("open the page");
    let status = answer.status().as_u16();
    (status, answer.text().await.unwrap_or_default())
}

async fn every_page_by_every_role(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else { return };
    let term = Term::set_up(&server).await;
    let stina = server.add_staff("uddevalla", "Stina Sjö").await;
    let role = json!({ "staff_id": stina, "role": "supervisor" });
    server.post(&Actor::office(), "/municipalities/uddevalla/roles", role).await.expect(200);
    let mut body = api_support::staff_body("Bo Lind");
    body["supervisor_id"] = json!(stina);
    server.put(&Actor::coordinator("uddevalla"), &format!("/staff/{}", term.bo), body).await.expect(200);
    let line = json!({ "lines": [{ "staff_id": term.bo, "offering_id": term.lvu_grund }] });
    let registered =
        server.post(&Actor::coordinator("uddevalla"), "/municipalities/uddevalla/registrations", line).await;
    registered.expect(200);
    let line = json!({ "lines": [{ "staff_id": term.vera, "offering_id": term.lvu_grund }] });
    server.post(&Actor::coordinator("vanersborg"), "/municipalities/vanersborg/registrations", line).await.expect(200);

    let users = [
        ("office", "kontoret@fyrbodal.se", Role::CourseOffice, None, None),
        ("coordinator", "samordnare@uddevalla.se", Role::Coordinator, Some("uddevalla"), None),
        ("other coordinator", "samordnare@vanersborg.se", Role::Coordinator, Some("vanersborg"), None),
        ("supervisor", "stina@uddevalla.se", Role::Supervisor, None, Some(stina.as_str())),
        ("participant", "bo@uddevalla.se", Role::Participant, None, Some(term.bo.as_str())),
        ("trainer", "kursledare@example.se", Role::Trainer, None, None),
        ("auditor", "granskare@example.se", Role::Auditor, None, None),
    ];
    let mut visitors = vec![];
    for (who, login, role, municipality, staff) in users {
        user_with_password(&server, login, who, role, municipality, staff).await;
        visitors.push((who, log_in(&server, login).await));
    }
    // Let the views catch up with the set-up before reading lists.
    server
        .read(&format!(
            "/municipalities/uddevalla/registrations?package={}&min_position={}",
            term.package,
            registered.json["lines"][0]["position"].as_i64().unwrap_or(0)
        ))
        .await;

    let package = &term.package;
    let line = format!("/kurspaket/{package}/anmalan/{}/{}", term.lvu_grund, term.bo);
    // The course office's follow-up and the auditor's pages (decision 0021): a letter in
    // the outbox (the receipt to Uddevalla's coordinator), a user, a moment to travel to.
    let role = json!({ "staff_id": term.cilla, "role": "coordinator" });
    server.post(&Actor::office(), "/municipalities/uddevalla/roles", role).await.expect(200);
    let lines = json!({ "lines": [{ "staff_id": term.anna, "offering_id": term.lvu_grund }] });
    server.post(&Actor::coordinator("uddevalla"), "/municipalities/uddevalla/registrations", lines).await.expect(200);
    let mut notice = String::new();
    for _ in 0..100 {
        let outbox = server.read("/outbox?kind=registration_receipt").await;
        if let Some(id) = outbox["notices"][0]["notice_id"].as_str() {
            notice = id.to_string();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(!notice.is_empty(), "a receipt in the outbox");
    let trainer =
        server.app.auth.user_by_login("kursledare@example.se").await.expect("read").expect("the trainer").user_id;
    // A second on, so that the moment (typed to the second) is after all of the set-up.
    let now = (chrono::Utc::now() + chrono::TimeDelta::seconds(1)).with_timezone(&chrono_tz::Europe::Stockholm);
    let moment = format!("datum={}&tid={}", now.format("%Y-%m-%d"), now.format("%H:%M:%S"));
    // (path, who may open it; everyone else is refused with 403 or, for a thing outside
    // their reach, 404)
    let everyone = ["office", "coordinator", "other coordinator", "supervisor", "participant", "trainer", "auditor"];
    let pages: Vec<(String, Vec<&str>)> = vec![
        ("/start".into(), everyone.to_vec()),
        ("/kurspaket".into(), everyone.to_vec()),
        (format!("/kurspaket/{package}"), everyone.to_vec()),
        ("/kalender".into(), everyone.to_vec()),
        (format!("/kurspaket/{package}/anmalan"), vec!["coordinator", "other coordinator"]),
        (format!("{line}/avanmal"), vec!["coordinator"]),
        (format!("{line}/overlat"), vec!["coordinator"]),
        ("/personal".into(), vec!["coordinator", "other coordinator"]),
        ("/personal/ny".into(), vec!["coordinator", "other coordinator"]),
        (format!("/personal/{}", term.bo), vec!["coordinator"]),
        (format!("/personal/{}/andra", term.bo), vec!["coordinator"]),
        (format!("/personal/{}/ta-bort", term.bo), vec!["coordinator"]),
        ("/kostnader".into(), vec!["coordinator", "other coordinator"]),
        ("/mina-medarbetare".into(), vec!["supervisor"]),
        (format!("/mina-medarbetare/{}", term.bo), vec!["supervisor"]),
        ("/sammanfattningar".into(), vec!["supervisor"]),
        // The trainer here is assigned to no offering: a trainer's pages are their own offerings'.
        (format!("/undervisning/{}", term.lvu_grund), vec![]),
        (format!("/undervisning/{}/tillfalle/1", term.lvu_grund), vec![]),
        // The course office's pages (decision 0020).
        ("/kansli/kurser".into(), vec!["office"]),
        ("/kansli/kurser/ny".into(), vec!["office"]),
        ("/kansli/kurser/LVU-GRUND".into(), vec!["office"]),
        ("/kansli/kurspaket".into(), vec!["office"]),
        ("/kansli/kurspaket/nytt".into(), vec!["office"]),
        (format!("/kansli/kurspaket/{package}"), vec!["office"]),
        (format!("/kansli/kurspaket/{package}/sista-dag"), vec!["office"]),
        (format!("/kansli/kurspaket/{package}/tillfallen/nytt?kurs=LVU-GRUND"), vec!["office"]),
        (format!("/kansli/kurspaket/{package}/oversikt"), vec!["office"]),
        (format!("/kansli/kurspaket/{package}/stang"), vec!["office"]),
        (format!("/kansli/kurspaket/{package}/fordelning"), vec!["office"]),
        (format!("/kansli/tillfallen/{}", term.lvu_grund), vec!["office"]),
        (format!("/kansli/tillfallen/{}/andra", term.lvu_grund), vec!["office"]),
        (format!("/kansli/tillfallen/{}/stall-in", term.lvu_grund), vec!["office"]),
        // The course office's follow-up and the auditor's pages (decision 0021).
        ("/kansli/brev".into(), vec!["office"]),
        ("/kansli/brev?status=pending&typ=registration_receipt".into(), vec!["office"]),
        (format!("/kansli/brev/{notice}"), vec!["office"]),
        ("/kansli/statistik?grupp=municipality&grupp=course".into(), vec!["office"]),
        ("/kansli/kostnader?termin=HT2027&kommun=uddevalla".into(), vec!["office"]),
        ("/kansli/anvandare".into(), vec!["office"]),
        ("/kansli/anvandare/ny".into(), vec!["office"]),
        (format!("/kansli/anvandare/ny?person={}", term.bo), vec!["office"]),
        ("/kansli/anvandare/sakerhetslogg".into(), vec!["office"]),
        (format!("/kansli/anvandare/{trainer}"), vec!["office"]),
        (format!("/kansli/anvandare/{trainer}/stang-av"), vec!["office"]),
        (format!("/kansli/anvandare/{trainer}/losenord"), vec!["office"]),
        ("/kansli/personer?kommun=uddevalla".into(), vec!["office"]),
        (format!("/kansli/personer/{}/radera", term.bo), vec!["office"]),
        ("/granskning".into(), vec!["auditor"]),
        (format!("/granskning?kommun=uddevalla&person={}", term.bo), vec!["auditor"]),
        (format!("/granskning/tidsresa?kurstillfalle={}&{moment}", term.lvu_grund), vec!["auditor"]),
        (format!("/granskning/tidsresa?person={}&{moment}", term.bo), vec!["auditor"]),
        // Certificates (decision 0019): the person's list of completed courses as PDF, which
        // the pages link to with their session; refused as a Swedish page.
        (format!("/staff/{}/certificates.pdf", term.bo), vec!["office", "coordinator", "supervisor", "participant"]),
    ];
    for (path, allowed) in &pages {
        let (status, text) = open(&server, None, path).await;
        assert_eq!(status, 303, "nobody logged in is sent to the login page from {path}");
        assert!(text.is_empty(), "{path}");
        for (who, visitor) in &visitors {
            let (status, text) = open(&server, Some(visitor), path).await;
            if allowed.contains(who) {
                assert_eq!(status, 200, "{who} opens {path}: {text}");
            } else {
                assert!(matches!(status, 403 | 404), "{who} is refused {path}, not {status}");
                assert!(text.contains("lang=\"sv\""), "the refusal is a Swedish page: {text}");
            }
            // Nobody outside Uddevalla, and no supervisor of others, sees Uddevalla's people.
            if matches!(*who, "other coordinator" | "trainer" | "participant") {
                let own = if *who == "participant" { "Bo Lind" } else { "" };
                for name in ["Anna Ek", "Bo Lind", "Cilla Berg", "Stina Sjö"].into_iter().filter(|n| *n != own) {
                    assert!(!text.contains(name), "{who} sees {name} on {path}");
                }
            }
            if *who == "coordinator" {
                assert!(!text.contains("Vera Holm"), "Uddevalla's coordinator sees Vänersborg's Vera on {path}");
            }
        }
    }
    // A form sent by someone who may not: refused, nothing written.
    let events = server.event_count().await;
    let client = reqwest::Client::builder().redirect(Policy::none()).build().expect("client");
    for (who, visitor) in &visitors {
        if *who == "coordinator" {
            continue;
        }
        let csrf = visitor.cookie.split("; ").find_map(|c| c.strip_prefix("kurslogg_csrf=")).unwrap_or_default();
        let answer = client
            .post(server.url(&format!("{line}/avanmal")))
            .header("Cookie", &visitor.cookie)
            .form(&[("_csrf", csrf)])
            .send()
            .await
            .expect("send");
        assert!(matches!(answer.status().as_u16(), 403 | 404), "{who} may not cancel Bo's line");
        // Nor act as the course office.
        if *who != "office" {
            for action in [
                format!("/kansli/kurspaket/{package}/publicera"),
                format!("/kansli/kurspaket/{package}/kopiera"),
                format!("/kansli/kurspaket/{package}/stang"),
                format!("/kansli/tillfallen/{}/stall-in", term.lvu_grund),
                format!("/kansli/tillfallen/{}/platser", term.lvu_grund),
                format!("/kansli/tillfallen/{}/avsluta", term.lvu_grund),
                format!("/kansli/tillfallen/{}/intyg/{}/aterkalla", term.lvu_grund, term.bo),
            ] {
                let answer = client
                    .post(server.url(&action))
                    .header("Cookie", &visitor.cookie)
                    .form(&[("_csrf", csrf), ("anledning", "sjuk")])
                    .send()
                    .await
                    .expect("send");
                assert_eq!(answer.status().as_u16(), 403, "{who} may not {action}");
            }
        }
    }
    // The course office's binding forms (decision 0021), by everyone else.
    for (who, visitor) in &visitors {
        if *who == "office" {
            continue;
        }
        let csrf = visitor.cookie.split("; ").find_map(|c| c.strip_prefix("kurslogg_csrf=")).unwrap_or_default();
        for (path, fields) in [
            (
                format!("/kansli/personer/{}/radera", term.bo),
                vec![("anledning", "Begäran."), ("bekraftelse", "Bo Lind")],
            ),
            (format!("/kansli/brev/{notice}/skicka-igen"), vec![("anledning", "Fel adress.")]),
            (format!("/kansli/anvandare/{trainer}/stang-av"), vec![]),
            (format!("/kansli/anvandare/{trainer}/losenord"), vec![]),
        ] {
            let mut form = vec![("_csrf", csrf)];
            form.extend(fields);
            let answer = client.post(server.url(&path)).header("Cookie", &visitor.cookie).form(&form).send().await;
            let status = answer.expect("send").status().as_u16();
            assert!(matches!(status, 403 | 404), "{who} may not send {path}: {status}");
        }
    }
    assert_eq!(server.event_count().await, events, "refused forms write nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_by_every_role_on_sqlite() {
    every_page_by_every_role(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_by_every_role_on_postgres() {
    every_page_by_every_role(Backend::Postgres).await;
}
