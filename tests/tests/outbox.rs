//! The outbox over HTTP, on both backends: the course office (and auditors) see every
//! letter with its status; others are refused; bad queries get a 400; a resend is
//! recorded in the audit trail with who asked and why, and makes the letter due again.

mod api_support;

use std::time::{Duration, Instant};

use api_support::{staff_body, Actor, Backend, TestServer};
use serde_json::{json, Value};

/// Waits (up to 10 s) until `GET path` as the course office satisfies `done`.
async fn poll(s: &TestServer, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let reply = s.get(&Actor::office(), path).await;
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
