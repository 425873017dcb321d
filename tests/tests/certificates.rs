//! Certificates as PDF and their public check (docs/decisions/0019), over HTTP on SQLite
//! and PostgreSQL: the PDF's text as poppler reads it, the same bytes every time, a page
//! rendered to PNG (kept in `target/certificate-artefacts/`), who may have it; the check
//! for a valid, a withdrawn, a wrong name, an unknown number, an erased holder and a
//! client over the limit, from the API and from the public page.

mod api_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use api_support::{offering_body, staff_body, utc, Actor, Backend, Reply, TestServer};
use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::json;

const ASA: &str = "Åsa Öberg";
const ERIK: &str = "Erik Berg";
const KARL: &str = "Karl Ek";
const TITLE: &str = "Introduktion för nya socialsekreterare";
const PUBLIC: &str = "https://kurslogg.fyrbodal.test";

/// When the course is completed in these tests, on the server's clock.
fn completed() -> DateTime<Utc> {
    utc(2027, 9, 8, 13, 0)
}

/// The checks' limits in these tests: small enough to reach quickly.
const MAX_CHECKS: i64 = 6;
const MAX_FAILED: i64 = 3;

fn artefacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/certificate-artefacts");
    std::fs::create_dir_all(&dir).expect("artefacts folder");
    dir
}

/// A server behind a trusted proxy on 127.0.0.1 (each check chooses its client address
/// with X-Forwarded-For), with the public address and the limits above.
async fn server(backend: Backend) -> Option<TestServer> {
    let auth = kurslogg::auth::AuthSettings {
        trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()],
        ..kurslogg::auth::AuthSettings::default()
    };
    let certificates = kurslogg::certificates::CertificateSettings {
        public_url: PUBLIC.into(),
        max_checks_per_client: MAX_CHECKS,
        max_failed_checks_per_client: MAX_FAILED,
    };
    TestServer::start_configured(backend, api_support::default_http_settings(), move |app, _| {
        app.with_auth_settings(auth).with_certificate_settings(certificates)
    })
    .await
}

/// The people and what they hold.
struct World {
    boss: String,
    asa: String,
    erik: String,
    karl: String,
    /// Åsa's certificate (valid), Erik's (withdrawn), Karl's (holder erased).
    asa_no: String,
    erik_no: String,
    karl_no: String,
}

async fn add_person(s: &TestServer, name: &str, supervisor: Option<&str>) -> String {
    let mut body = staff_body(name);
    body["supervisor_id"] = json!(supervisor);
    let reply = s.post(&Actor::coordinator("ockero"), "/municipalities/ockero/staff", body).await;
    reply.expect(201);
    reply.str("id")
}

/// Öckerö's Åsa, Erik and Karl take a two-session course and complete it; then Erik's
/// certificate is withdrawn and Karl is erased.
async fn world(s: &TestServer) -> World {
    let office = Actor::office();
    s.add_course("INTRO", TITLE, &[]).await;
    s.add_municipality("ockero", "Öckerö").await;
    s.add_municipality("uddevalla", "Uddevalla").await;
    let boss = add_person(s, "Stina Chef", None).await;
    let asa = add_person(s, ASA, Some(&boss)).await;
    let erik = add_person(s, ERIK, None).await;
    let karl = add_person(s, KARL, None).await;
    let package = s.create_package("HT2027").await;
    let sessions = [utc(2027, 9, 1, 6, 0), utc(2027, 9, 8, 6, 0)];
    let mut body = offering_body("INTRO", 10, &sessions);
    body["description"] = json!("Myndighetsutövning, dokumentation och samtal med barn för den som är ny i yrket.");
    body["competence_areas"] = json!(["juridik", "utredningsmetodik"]);
    let offering = s.plan_offering(&package, body).await;
    s.assign_trainer(&offering).await;
    s.post(&office, &format!("/packages/{package}/publish"), json!({})).await.expect(200);
    for person in [&asa, &erik, &karl] {
        let body = json!({ "staff_id": person });
        s.post(&Actor::coordinator("ockero"), &format!("/offerings/{offering}/registrations"), body).await.expect(200);
    }
    s.clock.set(utc(2027, 6, 16, 8, 0));
    s.post(&office, &format!("/packages/{package}/close-registration"), json!({})).await.expect(200);
    s.clock.set(completed());
    for person in [&asa, &erik, &karl] {
        for session in 0..2 {
            let body = json!({ "staff_id": person, "session": session, "attendance": "present" });
            s.post(&Actor::trainer(), &format!("/offerings/{offering}/attendance"), body).await.expect(200);
        }
    }
    s.post(&office, &format!("/offerings/{offering}/complete"), json!({})).await.expect(200);
    let number = |person: &str| {
        let person = person.to_string();
        async move {
            let lines = s.read(&format!("/staff/{person}/registrations")).await;
            lines[0]["certificate"].as_str().unwrap_or_else(|| panic!("no certificate: {lines}")).to_string()
        }
    };
    let (asa_no, erik_no, karl_no) = (number(&asa).await, number(&erik).await, number(&karl).await);
    s.clock.set(utc(2027, 10, 1, 9, 0));
    let withdraw = format!("/offerings/{offering}/certificates/{erik}/withdraw");
    s.post(&office, &withdraw, json!({ "reason": "Utfärdat av misstag" })).await.expect(200);
    s.clock.set(utc(2027, 10, 2, 9, 0));
    s.post(&office, &format!("/staff/{karl}/erase"), json!({ "reason": "Begäran om radering, ärende 2027-311" }))
        .await
        .expect(200);
    World { boss, asa, erik, karl, asa_no, erik_no, karl_no }
}

/// GET `path` as `actor`, the body as bytes.
async fn bytes(s: &TestServer, actor: &Actor, path: &str) -> (u16, String, Vec<u8>) {
    let response = s.as_actor(actor, Method::GET, path).await.send().await.expect("the server answers");
    let status = response.status().as_u16();
    let kind = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    (status, kind, response.bytes().await.expect("body").to_vec())
}

/// A PDF's text and metadata as poppler reads them.
fn poppler(pdf: &[u8], name: &str) -> (String, String, String) {
    let file = artefacts().join(format!("{name}.pdf"));
    std::fs::write(&file, pdf).expect("write the PDF");
    let run = |program: &str, args: &[&str]| {
        let output = Command::new(program)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{program} (poppler-utils; scripts/test installs it): {e}"));
        assert!(output.status.success(), "{program} failed: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).expect("UTF-8")
    };
    let path = file.to_str().expect("a path");
    let text = run("pdftotext", &["-layout", path, "-"]);
    let info = run("pdfinfo", &[path]);
    let fonts = run("pdffonts", &[path]);
    (text, info, fonts)
}

/// The first page as PNG, kept as an artefact; answers its size in bytes.
fn render_png(pdf_name: &str) -> u64 {
    let dir = artefacts();
    let pdf = dir.join(format!("{pdf_name}.pdf"));
    let stem = dir.join(pdf_name);
    let status = Command::new("pdftoppm")
        .args(["-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile"])
        .arg(&pdf)
        .arg(&stem)
        .status()
        .expect("pdftoppm (poppler-utils)");
    assert!(status.success(), "pdftoppm failed");
    std::fs::metadata(stem.with_extension("png")).expect("the PNG").len()
}

/// A check from `client` (the address the trusted proxy names) through the API.
async fn check(s: &TestServer, client: &str, number: &str, name: &str) -> Reply {
    let request = s
        .request(Method::POST, "/certificates/check")
        .header("X-Forwarded-For", client)
        .json(&json!({ "number": number, "name": name }));
    s.send(request).await
}

/// A check from `client` through the public page's form.
async fn check_page(s: &TestServer, client: &str, number: &str, name: &str) -> Reply {
    let body = format!(
        "nummer={}&namn={}",
        kurslogg::web::session::encode_query_value(number),
        kurslogg::web::session::encode_query_value(name)
    );
    let request = s
        .request(Method::POST, "/kontrollera-intyg")
        .header("X-Forwarded-For", client)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body);
    s.send(request).await
}

/// When the log recorded the (first) event of `event_type`: a withdrawal is dated so.
async fn recorded(s: &TestServer, event_type: &str) -> DateTime<Utc> {
    let sql = format!("SELECT CAST(metadata AS text) FROM events WHERE event_type = '{event_type}'");
    let metadata: serde_json::Value = serde_json::from_str(&s.texts(&sql).await[0]).expect("metadata");
    metadata["recorded_at"].as_str().expect("recorded_at").parse().expect("a time")
}

fn stockholm_day(at: DateTime<Utc>) -> String {
    at.with_timezone(&chrono_tz::Europe::Stockholm).date_naive().to_string()
}

async fn certificates(backend: Backend) {
    let Some(s) = server(backend).await else { return };
    let w = world(&s).await;
    let tag = format!("{backend:?}").to_lowercase();
    // Issued when the offering was completed (on the server's clock); withdrawn when the
    // log recorded the withdrawal.
    let (issued, withdrawn_at) = (completed(), recorded(&s, "CertificateWithdrawn").await);
    let issued_on = kurslogg::mail::swedish::short_date(issued);

    // ----- the certificate as PDF -----
    let path = format!("/certificates/{}/pdf", w.asa_no);
    let (status, kind, pdf) = bytes(&s, &Actor::office(), &path).await;
    assert_eq!((status, kind.as_str()), (200, "application/pdf"), "{}", String::from_utf8_lossy(&pdf));
    let (_, _, again) = bytes(&s, &Actor::participant("ockero", &w.asa), &path).await;
    assert!(pdf == again, "the same certificate asked for twice is the same file");
    let (text, info, fonts) = poppler(&pdf, &format!("intyg-{tag}"));
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for expected in [
        "Fyrbodals kommunalförbund",
        "INTYG",
        "Härmed intygas att",
        ASA,
        TITLE,
        "INTRO",
        "HT2027",
        "Myndighetsutövning, dokumentation och samtal med barn",
        "juridik, utredningsmetodik",
        "Advokatbyrån Väst",
        "Kampenhof, Uddevalla",
        "1 september 2027 – 8 september 2027",
        "2 av 2 tillfällen, 12 timmar av kursens 12 timmar",
        "onsdag 1 september 2027 kl. 08.00–14.00",
        "närvarande",
        &w.asa_no,
        &format!("Utfärdat {issued_on}"),
        "Kontrollera intyget",
        &format!("{PUBLIC}/kontrollera-intyg"),
    ] {
        assert!(flat.contains(expected), "the certificate's text lacks {expected:?}:\n{text}");
    }
    assert!(info.contains(&format!("Title:           Intyg: {TITLE} – {ASA}")), "{info}");
    assert!(info.contains("Author:          Fyrbodals kommunalförbund"), "{info}");
    assert!(info.contains("CreationDate:") && info.contains("2027"), "created on the date of issue: {info}");
    assert!(info.contains("Page size:       595.28 x 841.89 pts (A4)"), "{info}");
    assert!(info.contains("Pages:           1"), "{info}");
    let embedded: Vec<&str> = fonts.lines().skip(2).collect();
    assert!(
        !embedded.is_empty() && embedded.iter().all(|l| l.contains("DejaVuSans") && l.contains(" yes ")),
        "{fonts}"
    );
    assert!(render_png(&format!("intyg-{tag}")) > 10_000, "the rendered page has something on it");

    // ----- the person's list of completed courses -----
    let record = format!("/staff/{}/certificates.pdf", w.asa);
    let (status, kind, list) = bytes(&s, &Actor::supervisor("ockero", &w.boss), &record).await;
    assert_eq!((status, kind.as_str()), (200, "application/pdf"), "{}", String::from_utf8_lossy(&list));
    assert!(list == bytes(&s, &Actor::office(), &record).await.2, "the same list twice is the same file");
    let (text, info, _) = poppler(&list, &format!("utbildningsbevis-{tag}"));
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for expected in [
        "UTBILDNINGSBEVIS",
        ASA,
        "har genomgått en kurs med intyg, 12 timmar i allt",
        &format!("{TITLE} (INTRO, HT2027)"),
        "2 av 2 tillfällen",
        &format!("Intyg {}, utfärdat {issued_on}", w.asa_no),
        &format!("{PUBLIC}/kontrollera-intyg"),
    ] {
        assert!(flat.contains(expected), "the list's text lacks {expected:?}:\n{text}");
    }
    assert!(info.contains(&format!("Title:           Utbildningsbevis – {ASA}")), "{info}");
    render_png(&format!("utbildningsbevis-{tag}"));
    // Erik's withdrawn certificate is not on his list.
    let (_, _, eriks) = bytes(&s, &Actor::office(), &format!("/staff/{}/certificates.pdf", w.erik)).await;
    let (text, _, _) = poppler(&eriks, &format!("utbildningsbevis-tillbakadraget-{tag}"));
    assert!(text.contains("har ännu inga genomgångna kurser med intyg") && !text.contains(&w.erik_no), "{text}");

    // ----- who may have them -----
    for (actor, expected) in [
        (Actor::office(), 200),
        (Actor::participant("ockero", &w.asa), 200),
        (Actor::supervisor("ockero", &w.boss), 200),
        (Actor::coordinator("ockero"), 200),
        (Actor::coordinator("uddevalla"), 404),
        (Actor::participant("ockero", &w.erik), 404),
        (Actor::supervisor("ockero", &w.erik), 404),
        (Actor::trainer(), 403),
        (Actor::auditor(), 403),
    ] {
        for path in [&path, &record] {
            let (status, _, body) = bytes(&s, &actor, path).await;
            assert_eq!(status, expected, "{} {path}: {}", actor.id, String::from_utf8_lossy(&body));
        }
    }
    let anonymous = s.send(s.request(Method::GET, &path)).await;
    assert_eq!(anonymous.status, 401, "{}", anonymous.text);
    // Someone elsewhere cannot tell a certificate that exists from one that does not.
    let unknown = "INTRO-HT2027-000000000000-001";
    let elsewhere = s.get(&Actor::coordinator("uddevalla"), &path).await;
    let nothing = s.get(&Actor::coordinator("uddevalla"), &format!("/certificates/{unknown}/pdf")).await;
    assert_eq!((elsewhere.json["detail"].clone(), elsewhere.status), (nothing.json["detail"].clone(), nothing.status));

    // ----- the supervisor's after-course summary links to her staff's certificates -----
    let boss = Actor::supervisor("ockero", &w.boss);
    let letters_path = format!("/staff/{}/letters?kind=course_summary", w.boss);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let letter = loop {
        let reply = s.get(&boss, &letters_path).await;
        if let Some(letter) = reply.expect(200)["letters"].as_array().and_then(|l| l.first()).cloned() {
            break letter;
        }
        assert!(std::time::Instant::now() < deadline, "no summary letter: {}", reply.text);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let text = letter["letter"]["text"].as_str().unwrap_or_else(|| panic!("a written letter: {letter}"));
    assert!(text.contains(&format!("{ASA}: {PUBLIC}/certificates/{}/pdf", w.asa_no)), "{text}");
    // The link, opened in a browser with no session, leads to the login and back.
    let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let redirect = browser.get(s.url(&path)).header("Accept", "text/html").send().await.expect("an answer");
    assert_eq!(redirect.status().as_u16(), 303);
    let to = redirect.headers()["location"].to_str().unwrap();
    assert_eq!(to, format!("/?nasta={}", kurslogg::web::session::encode_query_value(&path)));

    // ----- withdrawn and erased: no PDF -----
    let withdrawn = s.get(&Actor::office(), &format!("/certificates/{}/pdf", w.erik_no)).await;
    withdrawn.problem(409, "certificate_withdrawn");
    let withdrawn_on = kurslogg::mail::swedish::short_date(withdrawn_at);
    assert!(
        withdrawn.json["detail"].as_str().unwrap().contains(&format!("återkallades {withdrawn_on}")),
        "{}",
        withdrawn.text
    );
    s.get(&Actor::office(), &format!("/certificates/{}/pdf", w.karl_no)).await.problem(409, "staff_erased");
    s.get(&Actor::office(), &format!("/staff/{}/certificates.pdf", w.karl)).await.problem(409, "staff_erased");

    // ----- the check -----
    let client = "10.1.0.1";
    let valid = check(&s, client, &format!(" {} ", w.asa_no.to_lowercase()), "  åsa   ÖBERG ").await;
    assert_eq!(
        valid.expect(200),
        &json!({
            "status": "valid",
            "number": w.asa_no,
            "course": "INTRO",
            "title": TITLE,
            "term": "HT2027",
            "organiser": "Fyrbodals kommunalförbund",
            "starts_on": "2027-09-01",
            "ends_on": "2027-09-08",
            "sessions_attended": 2,
            "sessions": 2,
            "hours_attended": "12 timmar",
            "issued_on": stockholm_day(issued),
        })
    );
    let withdrawn = check(&s, client, &w.erik_no, ERIK).await;
    assert_eq!(
        withdrawn.expect(200),
        &json!({ "status": "withdrawn", "number": w.erik_no, "withdrawn_on": stockholm_day(withdrawn_at) })
    );
    // A wrong name, an unknown number, an erased holder: the same answer, byte for byte.
    let unknown_answers = [
        check(&s, client, &w.asa_no, "Åsa Berg").await,
        check(&s, "10.1.0.2", unknown, ASA).await,
        check(&s, "10.1.0.2", "inget nummer alls", ASA).await,
        check(&s, "10.1.0.3", &w.karl_no, KARL).await,
        check(&s, "10.1.0.3", &w.erik_no, ASA).await,
    ];
    for answer in &unknown_answers {
        assert_eq!((answer.status, answer.text.as_str()), (200, r#"{"status":"unknown"}"#));
    }
    check(&s, "10.1.0.4", "", ASA).await.problem(422, "validation");
    check(&s, "10.1.0.4", &w.asa_no, " ").await.problem(422, "validation");

    // ----- the public page -----
    let form = s.send(s.request(Method::GET, &format!("/kontrollera-intyg?nummer={}", w.asa_no))).await;
    assert_eq!(form.status, 200);
    assert!(form.text.contains(&format!("value=\"{}\"", w.asa_no)), "the QR code's number is filled in");
    let page = check_page(&s, "10.1.0.5", &w.asa_no, ASA).await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("Intyget gäller") && page.text.contains(TITLE), "{}", page.text);
    let page = check_page(&s, "10.1.0.5", &w.erik_no, ERIK).await;
    assert!(page.text.contains("Intyget är återkallat") && page.text.contains(&withdrawn_on), "{}", page.text);
    let page = check_page(&s, "10.1.0.5", &w.asa_no, ERIK).await;
    assert!(page.text.contains("Intyget kunde inte bekräftas") && !page.text.contains(TITLE), "{}", page.text);
    let page = check_page(&s, "10.1.0.5", "", "").await;
    assert_eq!(page.status, 422);
    assert!(page.text.contains("Skriv intygsnumret") && page.text.contains("href=\"#namn\""), "{}", page.text);

    // ----- the limits -----
    // Failures: after MAX_FAILED "unknown" answers, even a right pair waits.
    let guesser = "10.2.0.1";
    for n in 0..MAX_FAILED {
        check(&s, guesser, &format!("INTRO-HT2027-00000000000{n}-001"), ASA).await.expect(200);
    }
    let locked = check(&s, guesser, &w.asa_no, ASA).await;
    locked.problem(429, "rate_limited");
    assert!(locked.headers.contains_key("retry-after"), "says when to try again");
    assert!(locked.json["detail"].as_str().unwrap().contains("Försök igen om"), "{}", locked.text);
    let page = check_page(&s, guesser, &w.asa_no, ASA).await;
    assert_eq!(page.status, 429);
    assert!(page.text.contains("För många kontroller") && page.headers.contains_key("retry-after"), "{}", page.text);
    // Checks: after MAX_CHECKS answered, from one address, the next waits; others go on.
    let busy = "10.2.0.2";
    for _ in 0..MAX_CHECKS {
        check(&s, busy, &w.asa_no, ASA).await.expect(200);
    }
    check(&s, busy, &w.asa_no, ASA).await.problem(429, "rate_limited");
    assert_eq!(check(&s, "10.2.0.3", &w.asa_no, ASA).await.expect(200)["status"], "valid");
    // The window passes: the address may check again.
    s.clock.set(utc(2027, 10, 2, 12, 0));
    assert_eq!(check(&s, busy, &w.asa_no, ASA).await.expect(200)["status"], "valid");

    // Every check is in the security log, by outcome; the valid one names whose it was.
    let log = s.read("/security-log?kind=certificate_check&limit=500").await;
    let lines = log.as_array().or_else(|| log["items"].as_array()).expect("lines").clone();
    assert!(lines.iter().any(|l| l["staff_id"] == json!(w.asa) && l["detail"] == "valid"), "{log}");
    assert!(!log.to_string().contains(ASA), "the log does not keep the name typed");
}

#[tokio::test]
async fn certificates_sqlite() {
    certificates(Backend::Sqlite).await;
}

#[tokio::test]
async fn certificates_postgres() {
    certificates(Backend::Postgres).await;
}
