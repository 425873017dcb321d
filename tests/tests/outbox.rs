//! The outbox over HTTP, on both backends: the course office (and auditors) see every
//! letter with its status; others are refused; bad queries get a 400; a resend is
//! recorded in the audit trail with who asked and why, and makes the letter due again.
//! And each person's own letters (`/staff/{id}/letters`): a supervisor reads their
//! after-course summaries as they got them, a participant and a coordinator their own,
//! nobody another's.

mod api_support;

use std::time::{Duration, Instant};

use api_support::{offering_body, staff_body, utc, Actor, Backend, Reply, TestServer};
use kurslogg::mail::dispatch::Dispatcher;
use kurslogg::mail::transport::Transport;
use kurslogg_tests::smtp::{mail_settings, SmtpSink};
use serde_json::{json, Value};

/// Waits (up to 10 s) until `GET path` as the course office satisfies `done`.
async fn poll(s: &TestServer, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    poll_as(s, &Actor::office(), path, done).await
}

/// Waits (up to 10 s) until `GET path` as `actor` satisfies `done`.
async fn poll_as(s: &TestServer, actor: &Actor, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let reply = s.get(actor, path).await;
        let body = reply.expect(200).clone();
        if done(&body) {
            return body;
        }
        assert!(Instant::now() < deadline, "GET {path} never got there: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn outbox_over_http(backend: Backend) {
    let Some(s) = TestServer::start(backend).await else { return };
    let office = Actor::office();
    s.add_course("SAMTAL", "Samtal med barn", &[]).await;
    s.add_municipality("uddevalla", "Uddevalla").await;
    let lena = s.add_staff("uddevalla", "Lena Samordnare").await;
    let body = json!({ "staff_id": lena, "role": "coordinator" });
    s.post(&Actor::coordinator("uddevalla"), "/municipalities/uddevalla/roles", body).await.expect(200);
    let mut people = vec![];
    for name in ["Anna Andersson", "Erik Berg"] {
        let reply = s.post(&Actor::coordinator("uddevalla"), "/municipalities/uddevalla/staff", staff_body(name)).await;
        people.push(reply.expect(201)["id"].as_str().expect("id").to_string());
    }
    let package = s.create_package("HT2027").await;
    let offering = s
        .plan_offering(&package, api_support::offering_body("SAMTAL", 10, &[api_support::utc(2027, 10, 5, 6, 0)]))
        .await;
    s.post(&office, &format!("/packages/{package}/publish"), json!({})).await.expect(200);
    // Two collective registrations: two receipts to Lena.
    for person in &people {
        let lines = json!({ "lines": [{ "staff_id": person, "offering_id": offering }] });
        s.post(&Actor::coordinator("uddevalla"), "/municipalities/uddevalla/registrations", lines).await.expect(200);
    }

    let page =
        poll(&s, "/outbox?kind=registration_receipt", |b| b["notices"].as_array().is_some_and(|n| n.len() == 2)).await;
    let first = &page["notices"][0];
    assert_eq!(first["kind"], "registration_receipt");
    assert_eq!(first["recipient"], lena.as_str());
    assert_eq!(first["recipient_name"], "Lena Samordnare");
    assert_eq!(page["notices"][1]["recipient_name"], "Lena Samordnare", "every letter names its recipient");
    assert_eq!(first["municipality"], "uddevalla");
    assert_eq!(first["status"], "pending", "no dispatcher runs in this test");
    assert_eq!(first["generation"], 0);
    assert!(page["next_after"].is_null());
    let id = first["notice_id"].as_str().expect("id").to_string();

    // Paging and filters.
    let one = s.get(&office, "/outbox?limit=1").await;
    let one = one.expect(200);
    assert_eq!(one["notices"].as_array().map(Vec::len), Some(1));
    let after = one["next_after"].as_str().expect("a next page").to_string();
    let rest = s.get(&office, &format!("/outbox?limit=10&after={after}")).await;
    assert_eq!(rest.expect(200)["notices"].as_array().map(Vec::len), Some(1));
    let sent = s.get(&office, "/outbox?status=sent").await;
    assert_eq!(sent.expect(200)["notices"], json!([]));
    let auditor = Actor::with_role("revisor@example.se", "auditor");
    s.get(&auditor, "/outbox").await.expect(200);
    let single = s.get(&office, &format!("/outbox/{id}")).await;
    assert_eq!(single.expect(200)["notice_id"], id.as_str());

    // Who may not look, and questions that make no sense.
    s.get(&Actor::coordinator("uddevalla"), "/outbox").await.problem(403, "forbidden");
    s.get(&Actor::trainer(), &format!("/outbox/{id}")).await.problem(403, "forbidden");
    s.get(&office, "/outbox?status=lost").await.problem(400, "invalid_query");
    s.get(&office, "/outbox?limit=0").await.problem(400, "invalid_query");
    s.get(&office, "/outbox?colour=red").await.problem(400, "invalid_query");
    s.get(&office, "/outbox?after=no-such-notice").await.problem(400, "invalid_query");
    s.get(&office, "/outbox/no-such-notice").await.problem(404, "not_found");

    // A resend: refused for others, for an unknown letter and without a reason; then done.
    let resend = format!("/outbox/{id}/resend");
    let reason = json!({ "reason": "Samordnaren hittar inte kvittot" });
    let events_before = s.event_count().await;
    s.post(&Actor::coordinator("uddevalla"), &resend, reason.clone()).await.problem(403, "forbidden");
    s.post(&office, "/outbox/no-such-notice/resend", reason.clone()).await.problem(404, "not_found");
    let empty = s.post(&office, &resend, json!({ "reason": "  " })).await;
    assert_eq!(empty.status, 422, "{}", empty.text);
    s.post(&office, &resend, json!({ "why": "?" })).await.expect(422);
    assert_eq!(s.event_count().await, events_before, "refused resends append nothing");
    let done = s.post(&office, &resend, reason).await;
    let position = done.expect(200)["position"].as_i64().expect("position");
    let again = poll(&s, &format!("/outbox/{id}"), |b| b["generation"] == 1).await;
    assert_eq!(again["status"], "pending", "due again");

    let office_id = s.user_id(&Actor::office()).await;
    let audit = s.read(&format!("/audit?actor={office_id}&min_position={position}")).await;
    let entry = audit["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .find(|e| e["event_type"] == "NoticeResendRequested")
        .unwrap_or_else(|| panic!("the resend is in the audit trail: {audit}"))
        .clone();
    assert_eq!(entry["aggregate_id"], id.as_str());
    assert_eq!(entry["actor_role"], "course_office");
    assert!(entry["request_id"].as_str().is_some_and(|r| !r.is_empty()));
    assert!(entry.to_string().contains("Samordnaren hittar inte kvittot"), "{entry}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_over_http_sqlite() {
    outbox_over_http(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_over_http_postgres() {
    outbox_over_http(Backend::Postgres).await;
}

/// Adds a staff member of Uddevalla with `supervisor`; returns the id.
async fn add_supervised(s: &TestServer, name: &str, supervisor: &str) -> String {
    let mut body = staff_body(name);
    body["supervisor_id"] = json!(supervisor);
    let reply = s.post(&Actor::coordinator("uddevalla"), "/municipalities/uddevalla/staff", body).await;
    reply.expect(201);
    reply.str("id")
}

/// The letters of a page.
fn letters_of(reply: &Reply) -> Vec<Value> {
    reply.expect(200)["letters"].as_array().unwrap_or_else(|| panic!("letters in {}", reply.text)).clone()
}

/// A text as a mail client shows it: line ends as LF, no trailing blank lines.
fn plain(text: &str) -> String {
    text.replace("\r\n", "\n").trim_end().to_string()
}

/// Samtal med barn runs with Karin's staff (Anna, Erik) and Omar's (Sara), all of
/// Uddevalla; LVU grund, with Anna on it, is cancelled. After the course is completed
/// and the letters are sent: Karin reads her summary, word for word as it arrived, with
/// her own staff in it; Omar reads only his, and Karin's is no such staff member to him;
/// Anna reads her own letter about the cancellation and nobody else's; Lena, the
/// coordinator, reads her receipt and results page by page. Each read is in the security
/// log, and an erased recipient's letter gives its reason instead of its text.
async fn people_read_their_own_letters(backend: Backend) {
    let Some(s) = TestServer::start(backend).await else { return };
    let office = Actor::office();
    s.add_course("SAMTAL", "Samtal med barn", &[]).await;
    s.add_course("LVU-GRUND", "LVU grund", &[]).await;
    s.add_municipality("uddevalla", "Uddevalla").await;
    let lena = s.add_staff("uddevalla", "Lena Samordnare").await;
    let body = json!({ "staff_id": lena, "role": "coordinator" });
    s.post(&Actor::coordinator("uddevalla"), "/municipalities/uddevalla/roles", body).await.expect(200);
    let karin = s.add_staff("uddevalla", "Karin Persson").await;
    let omar = s.add_staff("uddevalla", "Omar Haddad").await;
    let anna = add_supervised(&s, "Anna Andersson", &karin).await;
    let erik = add_supervised(&s, "Erik Berg", &karin).await;
    let sara = add_supervised(&s, "Sara Nilsson", &omar).await;
    let package = s.create_package("HT2027").await;
    let samtal = s.plan_offering(&package, offering_body("SAMTAL", 10, &[utc(2027, 10, 5, 6, 0)])).await;
    let grund = s.plan_offering(&package, offering_body("LVU-GRUND", 10, &[utc(2027, 11, 10, 7, 0)])).await;
    s.post(&office, &format!("/packages/{package}/publish"), json!({})).await.expect(200);
    let line = |staff: &str, offering: &str| json!({ "staff_id": staff, "offering_id": offering });
    let lines =
        json!({ "lines": [line(&anna, &samtal), line(&erik, &samtal), line(&sara, &samtal), line(&anna, &grund)] });
    s.post(&Actor::coordinator("uddevalla"), "/municipalities/uddevalla/registrations", lines).await.expect(200);
    s.clock.set(utc(2027, 6, 16, 8, 0));
    s.post(&office, &format!("/packages/{package}/close-registration"), json!({})).await.expect(200);
    s.post(&office, &format!("/offerings/{grund}/cancel"), json!({ "reason": "För få anmälda." })).await.expect(200);
    s.clock.set(utc(2027, 10, 5, 13, 0));
    for (staff, attendance) in [(&anna, "present"), (&erik, "absent"), (&sara, "present")] {
        let body = json!({ "staff_id": staff, "session": 0, "attendance": attendance });
        s.post(&office, &format!("/offerings/{samtal}/attendance"), body).await.expect(200);
    }
    s.post(&office, &format!("/offerings/{samtal}/complete"), json!({})).await.expect(200);
    poll(&s, "/outbox?kind=course_summary", |b| b["notices"].as_array().is_some_and(|n| n.len() == 2)).await;

    // The letters go out to a real SMTP server.
    let sink = SmtpSink::start();
    let settings = mail_settings(Some(sink.port));
    let transport = Transport::from_settings(&settings, &std::env::temp_dir()).expect("SMTP transport");
    let report = Dispatcher::new(s.app.clone(), transport, settings).dispatch_due().await.expect("dispatch");
    assert_eq!(report.failed, 0, "{report:?}");
    let messages = sink.wait_for(report.sent, Duration::from_secs(10)).await;

    // Karin reads her summary: her own staff, as the letter she got says it.
    let karin_as = Actor::supervisor("uddevalla", &karin);
    let hers = letters_of(&s.get(&karin_as, &format!("/staff/{karin}/letters")).await);
    assert_eq!(hers.len(), 1, "Karin has one letter: {hers:#?}");
    let summary = &hers[0];
    assert_eq!(summary["kind"], "course_summary");
    assert_eq!(summary["recipient"], karin.as_str());
    assert_eq!(summary["offering_id"], samtal.as_str());
    assert_eq!(summary["status"], "sent");
    assert!(summary["sent_at"].is_string(), "{summary}");
    assert!(summary["unwritable"].is_null(), "{summary}");
    let subject = summary["letter"]["subject"].as_str().expect("subject");
    let text = summary["letter"]["text"].as_str().expect("text");
    assert_eq!(subject, "Sammanfattning: Samtal med barn (HT2027)");
    for name in ["Karin Persson", "Anna Andersson", "Erik Berg"] {
        assert!(text.contains(name), "{name} in Karin's summary:\n{text}");
    }
    assert!(!text.contains("Sara Nilsson"), "only Karin's own staff:\n{text}");
    let arrived = messages
        .iter()
        .find(|m| Some(m.message_id.as_str()) == summary["message_id"].as_str())
        .unwrap_or_else(|| panic!("Karin's summary arrived: {summary}"));
    assert_eq!(arrived.subject, subject);
    assert_eq!(plain(arrived.text.as_deref().expect("plain-text part")), plain(text), "as she got it");
    let filtered = letters_of(&s.get(&karin_as, &format!("/staff/{karin}/letters?kind=course_summary")).await);
    assert_eq!(filtered.len(), 1);
    let none = letters_of(&s.get(&karin_as, &format!("/staff/{karin}/letters?kind=promotion")).await);
    assert!(none.is_empty(), "{none:#?}");
    let karin_notice = summary["notice_id"].as_str().expect("notice id").to_string();

    // Omar reads his own, about Sara; Karin's letters are no such staff member to him,
    // and her letter is no page mark in his list.
    let omar_as = Actor::supervisor("uddevalla", &omar);
    let theirs = s.get(&omar_as, &format!("/staff/{karin}/letters")).await;
    assert_eq!(theirs.problem(404, "not_found")["detail"], "Personen finns inte.");
    assert!(!theirs.text.contains("Anna Andersson"), "{}", theirs.text);
    let his = letters_of(&s.get(&omar_as, &format!("/staff/{omar}/letters")).await);
    assert_eq!(his.len(), 1, "{his:#?}");
    assert_ne!(his[0]["notice_id"], karin_notice.as_str());
    let his_text = his[0]["letter"]["text"].as_str().expect("text");
    assert!(his_text.contains("Omar Haddad") && his_text.contains("Sara Nilsson"), "{his_text}");
    assert!(!his_text.contains("Anna Andersson") && !his_text.contains("Erik Berg"), "{his_text}");
    s.get(&omar_as, &format!("/staff/{omar}/letters?after={karin_notice}")).await.problem(400, "invalid_query");

    // Anna reads her own letter (LVU grund is cancelled), not her supervisor's; her
    // supervisor and her coordinator do not read hers.
    let anna_as = Actor::participant("uddevalla", &anna);
    let own = letters_of(&s.get(&anna_as, &format!("/staff/{anna}/letters")).await);
    let kinds: Vec<&str> = own.iter().map(|l| l["kind"].as_str().expect("kind")).collect();
    assert_eq!(kinds, ["course_cancelled"], "{own:#?}");
    assert_eq!(own[0]["offering_id"], grund.as_str());
    assert_eq!(own[0]["letter"]["subject"], "Inställd kurs: LVU grund");
    assert!(own[0]["letter"]["text"].as_str().is_some_and(|t| t.contains("Anna Andersson")), "{own:#?}");
    s.get(&anna_as, &format!("/staff/{karin}/letters")).await.problem(404, "not_found");
    s.get(&karin_as, &format!("/staff/{anna}/letters")).await.problem(404, "not_found");
    s.get(&Actor::coordinator("uddevalla"), &format!("/staff/{anna}/letters")).await.problem(404, "not_found");

    // Lena, a coordinator who is a staff member, reads her own letters page by page.
    let lena_as = Actor {
        id: "lena@uddevalla.se".into(),
        role: "coordinator".into(),
        municipality: Some("uddevalla".into()),
        staff: Some(lena.clone()),
    };
    let all = letters_of(&s.get(&lena_as, &format!("/staff/{lena}/letters")).await);
    let kinds: Vec<&str> = all.iter().map(|l| l["kind"].as_str().expect("kind")).collect();
    for kind in ["registration_receipt", "allocation_result", "course_cancelled"] {
        assert!(kinds.contains(&kind), "{kind} among Lena's letters: {kinds:?}");
    }
    assert!(all.iter().all(|l| l["recipient"] == lena.as_str() && l["letter"]["subject"].is_string()), "{all:#?}");
    let first = s.get(&lena_as, &format!("/staff/{lena}/letters?limit=1")).await;
    assert_eq!(letters_of(&first).len(), 1);
    let after = first.str("next_after");
    let rest = s.get(&lena_as, &format!("/staff/{lena}/letters?limit=100&after={after}")).await;
    assert_eq!(letters_of(&rest).len(), all.len() - 1);
    assert!(rest.json["next_after"].is_null());
    s.get(&Actor::coordinator("uddevalla"), &format!("/staff/{lena}/letters")).await.problem(404, "not_found");
    for bad in ["limit=0", "limit=101", "colour=red", "after=no-such-notice"] {
        s.get(&lena_as, &format!("/staff/{lena}/letters?{bad}")).await.problem(400, "invalid_query");
    }

    // The course office and auditors read anyone's; a person who does not exist is not found.
    let auditor_read = letters_of(&s.get(&Actor::auditor(), &format!("/staff/{karin}/letters")).await);
    assert_eq!(auditor_read[0]["notice_id"], karin_notice.as_str());
    s.get(&office, &format!("/staff/{}/letters", uuid::Uuid::new_v4())).await.problem(404, "not_found");
    s.get(&office, "/staff/nobody/letters").await.problem(404, "not_found");

    // Every read is in the security log: Karin read her own letters, and the summary's people.
    let karin_user = s.user_id(&karin_as).await;
    let read_by_karin = |log: &Value, detail: &str| {
        log.as_array().expect("entries").iter().any(|e| e["actor_id"] == karin_user.as_str() && e["detail"] == detail)
    };
    let log = s.read(&format!("/security-log?kind=person_read&staff_id={karin}&limit=1000")).await;
    assert!(read_by_karin(&log, "letters"), "{log}");
    let log = s.read(&format!("/security-log?kind=person_read&staff_id={anna}&limit=1000")).await;
    assert!(read_by_karin(&log, "letters to another person"), "{log}");

    // Once Anna is erased, her letter cannot be written (the list still answers), and
    // Karin's summary no longer names her.
    let erased = s.post(&office, &format!("/staff/{anna}/erase"), json!({ "reason": "Begäran om radering." })).await;
    erased.expect(200);
    let gone = letters_of(&s.get(&office, &format!("/staff/{anna}/letters")).await);
    assert_eq!(gone.len(), 1, "{gone:#?}");
    assert!(gone[0]["letter"].is_null(), "{gone:#?}");
    assert_eq!(gone[0]["unwritable"], "the recipient's personal data has been erased");
    let hers = letters_of(&s.get(&karin_as, &format!("/staff/{karin}/letters")).await);
    let text = hers[0]["letter"]["text"].as_str().expect("text");
    assert!(!text.contains("Anna Andersson") && text.contains("(raderad person)"), "{text}");
    assert!(text.contains("Erik Berg"), "{text}");

    // The endpoint is in the OpenAPI document.
    let openapi = s.send(s.request(reqwest::Method::GET, "/openapi.json")).await;
    assert!(openapi.expect(200)["paths"]["/staff/{id}/letters"]["get"].is_object(), "documented");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_read_their_own_letters_sqlite() {
    people_read_their_own_letters(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_read_their_own_letters_postgres() {
    people_read_their_own_letters(Backend::Postgres).await;
}
