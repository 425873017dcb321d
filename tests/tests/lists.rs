//! Black-box tests of the lists the web pages page through (issue 23), over HTTP on
//! SQLite and PostgreSQL: course packages, a package's offerings (the catalogue), the
//! courses, a municipality's staff, a supervisor's staff and a municipality's
//! registrations on a package. A small term is driven through the API; what a
//! coordinator or supervisor would look for is asserted: order, filters, paging, names,
//! days left, counts. Who may read each list is in `access.rs`'s matrix.

mod api_support;

use api_support::{offering_body, staff_body, utc, Actor, Backend, Reply, TestServer};
use serde_json::{json, Value};

#[track_caller]
fn position(reply: &Reply) -> i64 {
    reply.json["position"].as_i64().unwrap_or_else(|| panic!("no position in {}", reply.text))
}

/// `field` of every item of a page.
#[track_caller]
fn column(page: &Value, field: &str) -> Vec<Value> {
    page["items"].as_array().unwrap_or_else(|| panic!("no items in {page}")).iter().map(|i| i[field].clone()).collect()
}

/// `field` of every item of a page, as text.
#[track_caller]
fn texts(page: &Value, field: &str) -> Vec<String> {
    column(page, field).iter().map(|v| v.as_str().unwrap_or_else(|| panic!("{field} in {page}")).to_string()).collect()
}

/// The item of a page whose `field` is `value`.
#[track_caller]
fn item<'a>(page: &'a Value, field: &str, value: &str) -> &'a Value {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i[field] == value)
        .unwrap_or_else(|| panic!("no {field} = {value} in {page}"))
}

async fn add_person(
    s: &TestServer,
    municipality: &str,
    name: &str,
    supervisor: Option<&str>,
    band: &str,
    group: &str,
) -> String {
    let mut body = staff_body(name);
    body["supervisor_id"] = json!(supervisor);
    body["experience_band"] = json!(band);
    body["staff_group"] = json!(group);
    let reply = s.post(&Actor::coordinator(municipality), &format!("/municipalities/{municipality}/staff"), body).await;
    reply.expect(201);
    reply.str("id")
}

/// Creates a package; returns its id and the position of its creation. A term that has
/// already taken place is entered as such (`recorded_afterwards`, decision 0012).
async fn new_package(s: &TestServer, term: &str, deadline: &str) -> (String, i64) {
    let past =
        deadline.parse::<chrono::DateTime<chrono::Utc>>().expect("an instant") <= kurslogg_domain::Clock::now(&s.clock);
    let body = json!({
        "term": term,
        "title": format!("Kompetenspaket {term}"),
        "organiser": "Fyrbodals kommunalförbund",
        "deadline": deadline,
        "recorded_afterwards": past,
    });
    let reply = s.post(&Actor::office(), "/packages", body).await;
    reply.expect(201);
    (reply.str("id"), position(&reply))
}

/// An offering body with its own target group, areas and session starts (6 h each).
fn offering(
    course: &str,
    seats: u32,
    starts: &[chrono::DateTime<chrono::Utc>],
    bands: &[&str],
    groups: &[&str],
    areas: &[&str],
) -> Value {
    let mut body = offering_body(course, seats, starts);
    body["experience_bands"] = json!(bands);
    body["staff_groups"] = json!(groups);
    body["competence_areas"] = json!(areas);
    body
}

async fn packages_and_the_catalogue(backend: Backend) {
    let Some(s) = TestServer::start(backend).await else { return };
    let office = Actor::office();
    let anyone = Actor::participant("uddevalla", &uuid::Uuid::new_v4().to_string());
    s.add_municipality("uddevalla", "Uddevalla").await;

    // Titles chosen so that the Swedish order (Å after Z, before Ä) differs from byte order.
    s.add_course("LVU-GRUND", "LVU grund", &[]).await;
    s.add_course("LVU-FORTS", "LVU fortsättning", &["LVU-GRUND"]).await;
    s.add_course("SAMTAL", "Samtal med barn", &[]).await;
    s.add_course("ATERKOPPLING", "Återkoppling i arbetet", &[]).await;
    s.add_course("ANKNYTNING", "Anknytning och omsorgssvikt", &[]).await;
    s.add_course("ARENDEN", "Ärendehantering", &[]).await;

    // The clock stands at 1 March 2027, 10:00 in Stockholm.
    let (ht2027, _) = new_package(&s, "HT2027", "2027-06-15T21:59:00Z").await; // 15 June, 23:59 summer time
    let (vt2028, spring_created) = new_package(&s, "VT2028", "2027-12-15T23:30:00Z").await; // 16 December, 00:30
    let (ht2026, _) = new_package(&s, "HT2026", "2026-06-15T21:59:00Z").await;
    let (vt2027, _) = new_package(&s, "VT2027", "2026-12-15T22:59:00Z").await;

    let grund = s
        .plan_offering(
            &ht2027,
            offering(
                "LVU-GRUND",
                2,
                &[utc(2027, 9, 1, 6, 0), utc(2027, 9, 2, 6, 0)],
                &["new0_to2", "years3_to5"],
                &["myndighetsutovning"],
                &["juridik"],
            ),
        )
        .await;
    let forts = s
        .plan_offering(
            &ht2027,
            offering(
                "LVU-FORTS",
                12,
                &[utc(2027, 9, 20, 6, 0)],
                &["years3_to5"],
                &["myndighetsutovning"],
                &["Juridik", "Barnrätt"],
            ),
        )
        .await;
    // Meant for everyone; its second session is in winter time.
    let samtal = s
        .plan_offering(
            &ht2027,
            offering("SAMTAL", 10, &[utc(2027, 10, 5, 6, 0), utc(2027, 11, 2, 8, 0)], &[], &[], &["samtal med barn"]),
        )
        .await;
    s.plan_offering(&ht2026, offering("ATERKOPPLING", 10, &[utc(2026, 10, 5, 6, 0)], &[], &[], &[])).await;
    let cancelled =
        s.plan_offering(&vt2027, offering("ATERKOPPLING", 10, &[utc(2027, 2, 5, 7, 0)], &[], &[], &[])).await;
    s.post(&office, &format!("/offerings/{cancelled}/cancel"), json!({ "reason": "För få anmälda." }))
        .await
        .expect(200);
    s.assign_trainer(&grund).await;
    for p in [&ht2027, &ht2026] {
        s.post(&office, &format!("/packages/{p}/publish"), json!({})).await.expect(200);
    }
    s.post(&office, &format!("/packages/{ht2026}/close-registration"), json!({})).await.expect(200);
    let archived = s.post(&office, &format!("/packages/{ht2026}/archive"), json!({})).await;
    archived.expect(200);
    let fresh = format!("min_position={}", position(&archived));

    // ----- packages: newest term first, days left in Swedish calendar days -----
    let page = s.get(&anyone, &format!("/packages?{fresh}")).await;
    let page = page.expect(200);
    assert_eq!(texts(page, "term"), ["VT2028", "HT2027", "VT2027", "HT2026"], "newest term first: {page}");
    assert_eq!((page["total"].as_i64(), page["offset"].as_i64(), page["limit"].as_i64()), (Some(4), Some(0), Some(50)));
    assert_eq!(page["next"], Value::Null);
    assert!(page["position"].as_i64().is_some_and(|p| p > 0), "{page}");
    let autumn = item(page, "id", &ht2027);
    assert_eq!(autumn["title"], "Kompetenspaket HT2027");
    assert_eq!(autumn["organiser"], "Fyrbodals kommunalförbund");
    assert_eq!(autumn["phase"], "published");
    assert_eq!(autumn["offerings"], 3);
    assert_eq!(autumn["deadline"], "2027-06-15T21:59:00.000Z");
    assert_eq!(autumn["deadline_local"], "2027-06-15T23:59:00+02:00");
    assert_eq!((autumn["days_left"].as_i64(), autumn["deadline_passed"].as_bool()), (Some(106), Some(false)));
    // 00:30 on 16 December in Stockholm is still 15 December in UTC: the day counted is Sweden's.
    let spring = item(page, "id", &vt2028);
    assert_eq!((spring["days_left"].as_i64(), spring["phase"].as_str()), (Some(290), Some("draft")));
    assert_eq!(spring["offerings"], 0);
    let old = item(page, "id", &ht2026);
    assert_eq!((old["days_left"].as_i64(), old["deadline_passed"].as_bool()), (Some(-259), Some(true)));
    assert_eq!(old["phase"], "archived");

    // On the deadline's day 0 days are left; at midnight in Sweden (22:00 UTC) it has passed.
    s.clock.set(utc(2027, 6, 15, 21, 0));
    let page = s.read("/packages?term=HT2027").await;
    assert_eq!(
        (page["items"][0]["days_left"].as_i64(), page["items"][0]["deadline_passed"].as_bool()),
        (Some(0), Some(false))
    );
    s.clock.set(utc(2027, 6, 15, 22, 0));
    let page = s.read("/packages?term=ht2027").await;
    assert_eq!(
        (page["items"][0]["days_left"].as_i64(), page["items"][0]["deadline_passed"].as_bool()),
        (Some(-1), Some(true))
    );
    s.clock.set(utc(2027, 3, 1, 9, 0));

    // Filters and paging.
    assert_eq!(texts(&s.read("/packages?phase=published").await, "id"), [ht2027.as_str()]);
    assert_eq!(texts(&s.read("/packages?phase=archived&term=HT2026").await, "id"), [ht2026.as_str()]);
    assert_eq!(s.read("/packages?phase=archived&term=HT2027").await["total"], 0);
    assert_eq!(texts(&s.read("/packages?phase=&term=").await, "id").len(), 4, "empty filters filter nothing");
    let first = s.read("/packages?limit=3").await;
    assert_eq!((texts(&first, "term").len(), first["total"].as_i64(), first["next"].as_i64()), (3, Some(4), Some(3)));
    let second = s.read("/packages?limit=3&offset=3").await;
    assert_eq!((texts(&second, "term"), second["next"].clone()), (vec!["HT2026".to_string()], Value::Null));
    let beyond = s.read("/packages?offset=10").await;
    assert_eq!((beyond["items"].as_array().map(Vec::len), beyond["total"].as_i64()), (Some(0), Some(4)));

    // ----- the catalogue of a package -----
    let page = s.get(&anyone, &format!("/packages/{ht2027}/offerings")).await;
    let page = page.expect(200);
    assert_eq!(texts(page, "id"), [grund.clone(), forts.clone(), samtal.clone()], "by first session: {page}");
    let g = item(page, "id", &grund);
    assert_eq!((g["course"].as_str(), g["title"].as_str()), (Some("LVU-GRUND"), Some("LVU grund")));
    assert_eq!(g["description"], "LVU-GRUND i Uddevalla.");
    assert_eq!((g["place"].as_str(), g["trainer"].as_str()), (Some("Kampenhof, Uddevalla"), Some("Advokatbyrån Väst")));
    assert_eq!(g["trainers"], json!([Actor::trainer().id]), "the assigned trainer's display name");
    assert_eq!((g["seat_limit"].as_i64(), g["free_seats"].as_i64()), (Some(2), Some(2)));
    assert_eq!((g["requested"].as_i64(), g["confirmed"].as_i64(), g["waiting"].as_i64()), (Some(0), Some(0), Some(0)));
    assert_eq!(g["experience_bands"], json!(["new0_to2", "years3_to5"]));
    assert_eq!(g["staff_groups"], json!(["myndighetsutovning"]));
    assert_eq!(g["competence_areas"], json!(["juridik"]));
    assert_eq!((g["price_sek"].as_i64(), g["completion_threshold"].as_i64()), (Some(1800), Some(80)));
    assert_eq!(
        (g["state"].as_str(), g["term"].as_str(), g["hours"].as_f64()),
        (Some("open"), Some("HT2027"), Some(12.0))
    );
    assert_eq!(g["sessions"].as_array().map(Vec::len), Some(2));
    assert_eq!(g["sessions"][0]["starts_at"], "2027-09-01T06:00:00.000Z");
    assert_eq!(g["sessions"][0]["starts_local"], "2027-09-01T08:00:00+02:00");
    assert_eq!(g["sessions"][1]["ends_local"], "2027-09-02T14:00:00+02:00");
    assert_eq!(
        (g["starts_local"].as_str(), g["ends_local"].as_str()),
        (Some("2027-09-01T08:00:00+02:00"), Some("2027-09-02T14:00:00+02:00"))
    );
    let f = item(page, "id", &forts);
    assert_eq!(f["prerequisites"], json!([{ "code": "LVU-GRUND", "title": "LVU grund" }]));
    assert_eq!(f["trainers"], json!([]));
    let sm = item(page, "id", &samtal);
    assert_eq!(sm["sessions"][1]["starts_local"], "2027-11-02T09:00:00+01:00", "winter time in November");
    assert_eq!((sm["experience_bands"].clone(), sm["staff_groups"].clone()), (json!([]), json!([])));

    // Filters: an offering that names no band or group is meant for everyone.
    let ids = |page: &Value| texts(page, "id");
    let url = |q: &str| format!("/packages/{ht2027}/offerings?{q}");
    assert_eq!(ids(&s.read(&url("experience_band=new0_to2")).await), [grund.clone(), samtal.clone()]);
    assert_eq!(ids(&s.read(&url("experience_band=over5")).await), [samtal.as_str()]);
    assert_eq!(ids(&s.read(&url("staff_group=utforare")).await), [samtal.as_str()]);
    assert_eq!(ids(&s.read(&url("competence_area=JURIDIK")).await), [grund.clone(), forts.clone()]);
    assert_eq!(ids(&s.read(&url("competence_area=barnrätt&experience_band=years3_to5")).await), [forts.as_str()]);
    let paged = s.read(&url("limit=1&offset=1")).await;
    assert_eq!((ids(&paged), paged["total"].as_i64(), paged["next"].as_i64()), (vec![forts.clone()], Some(3), Some(2)));

    // Registrations show up in the counts.
    let uddevalla = Actor::coordinator("uddevalla");
    let anna = add_person(&s, "uddevalla", "Anna Andersson", None, "new0_to2", "myndighetsutovning").await;
    let bo = add_person(&s, "uddevalla", "Bo Ek", None, "new0_to2", "myndighetsutovning").await;
    let mut last = 0;
    for who in [&anna, &bo] {
        let reply = s.post(&uddevalla, &format!("/offerings/{grund}/registrations"), json!({ "staff_id": who })).await;
        reply.expect(200);
        last = position(&reply);
    }
    let g = s.read(&url(&format!("min_position={last}"))).await;
    assert_eq!(item(&g, "id", &grund)["requested"], 2);

    // ----- the courses -----
    let page = s.get(&anyone, "/courses").await;
    let page = page.expect(200);
    assert_eq!(
        texts(page, "title"),
        [
            "Anknytning och omsorgssvikt",
            "LVU fortsättning",
            "LVU grund",
            "Samtal med barn",
            "Återkoppling i arbetet",
            "Ärendehantering"
        ],
        "by title, the Swedish way: {page}"
    );
    let f = item(page, "code", "LVU-FORTS");
    assert_eq!(f["prerequisites"], json!([{ "code": "LVU-GRUND", "title": "LVU grund" }]));
    assert_eq!(f["description"], "LVU fortsättning: kursbeskrivning.");
    assert_eq!((f["offerings"].as_i64(), f["terms"].clone()), (Some(1), json!(["HT2027"])));
    let a = item(page, "code", "ATERKOPPLING");
    assert_eq!(
        (a["offerings"].as_i64(), a["terms"].clone()),
        (Some(1), json!(["HT2026"])),
        "the cancelled one is left out"
    );
    assert_eq!(item(page, "code", "ARENDEN")["offerings"], 0);
    // A revision shows; so does a new course, once the views have it.
    let revised = s
        .put(
            &office,
            "/courses/SAMTAL",
            json!({ "title": "Samtal med barn och unga", "description": "Ny.", "prerequisites": ["ANKNYTNING"] }),
        )
        .await;
    revised.expect(200);
    let fresh = format!("min_position={}", position(&revised));
    let page = s.read(&format!("/courses?{fresh}&limit=2&offset=3")).await;
    assert_eq!(texts(&page, "code"), ["SAMTAL", "ATERKOPPLING"]);
    assert_eq!(
        page["items"][0]["prerequisites"],
        json!([{ "code": "ANKNYTNING", "title": "Anknytning och omsorgssvikt" }])
    );
    assert_eq!((page["total"].as_i64(), page["next"].as_i64()), (Some(6), Some(5)));
    let offerings = s.read(&format!("/packages/{ht2027}/offerings?{fresh}")).await;
    assert_eq!(item(&offerings, "id", &forts)["prerequisites"][0]["title"], "LVU grund");

    // As of before the spring package existed.
    let page = s.read(&format!("/packages?as_of_position={}", spring_created - 1)).await;
    assert_eq!(texts(&page, "term"), ["HT2027"], "{page}");

    // Unknown packages are 404; filters that do not parse are 422 and name the field.
    s.get(&office, &format!("/packages/{}/offerings", uuid::Uuid::new_v4())).await.problem(404, "not_found");
    s.get(&office, "/packages/inte-ett-id/offerings").await.problem(404, "not_found");
    for (path, field) in [
        ("/packages?term=HT27".to_string(), "term"),
        ("/packages?phase=closed".to_string(), "phase"),
        ("/packages?limit=0".to_string(), "limit"),
        ("/packages?limit=501".to_string(), "limit"),
        ("/packages?offset=-3".to_string(), "offset"),
        ("/packages?sort=title".to_string(), "sort"),
        ("/packages?term=HT2027&term=VT2028".to_string(), "term"),
        ("/packages?min_position=x".to_string(), "min_position"),
        ("/packages?as_of=igår".to_string(), "as_of"),
        (url("experience_band=nyanställd"), "experience_band"),
        (url("staff_group=chef"), "staff_group"),
        ("/courses?limit=alla".to_string(), "limit"),
    ] {
        let reply = s.get(&anyone, &path).await;
        let problem = reply.problem(422, "validation");
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.starts_with(&format!("{field}: ")), "{path}: the field is named: {detail}");
        assert!(
            ["ange", "okänd", "välj"].iter().any(|w| detail.contains(w)),
            "{path}: the detail is Swedish: {detail}"
        );
    }
    let closed = s.get(&anyone, "/packages?phase=closed").await;
    assert!(
        closed.json["detail"].as_str().unwrap().contains("registration_closed"),
        "says what to give: {}",
        closed.text
    );
}

#[tokio::test]
async fn packages_and_the_catalogue_sqlite() {
    packages_and_the_catalogue(Backend::Sqlite).await;
}

#[tokio::test]
async fn packages_and_the_catalogue_postgres() {
    packages_and_the_catalogue(Backend::Postgres).await;
}

/// A municipality's people: Stina supervises Anna, Åke and Örjan. Swedish order puts Å
/// before Ä (byte order does not).
struct People {
    stina: String,
    anna: String,
    orjan: String,
    bo: String,
    cecilia: String,
    ake: String,
    arna: String,
    eva: String,
    erik: String,
}

async fn people(s: &TestServer) -> People {
    s.add_municipality("uddevalla", "Uddevalla").await;
    s.add_municipality("tanum", "Tanum").await;
    let (m, my, ut) = ("uddevalla", "myndighetsutovning", "utforare");
    let stina = add_person(s, m, "Stina Chef", None, "supervisors", my).await;
    People {
        anna: add_person(s, m, "Anna Andersson", Some(&stina), "new0_to2", my).await,
        orjan: add_person(s, m, "Örjan Öberg", Some(&stina), "years3_to5", my).await,
        bo: add_person(s, m, "Bo Ek", None, "new0_to2", ut).await,
        cecilia: add_person(s, m, "Cecilia Dahl", None, "over5", my).await,
        ake: add_person(s, m, "Åke Ågren", Some(&stina), "over5", my).await,
        arna: add_person(s, m, "Ärna Lind", None, "new0_to2", my).await,
        eva: add_person(s, m, "Eva Ström", None, "new0_to2", my).await,
        erik: add_person(s, "tanum", "Erik Berg", None, "new0_to2", my).await,
        stina,
    }
}

async fn staff_and_registrations(backend: Backend) {
    let Some(s) = TestServer::start(backend).await else { return };
    let office = Actor::office();
    let coordinator = Actor::coordinator("uddevalla");
    let p = people(&s).await;
    s.add_course("LVU-GRUND", "LVU grund", &[]).await;
    s.add_course("SAMTAL", "Samtal med barn", &[]).await;
    let package = s.create_package("HT2027").await;
    let grund =
        s.plan_offering(&package, offering_body("LVU-GRUND", 2, &[utc(2027, 9, 1, 6, 0), utc(2027, 9, 2, 6, 0)])).await;
    let samtal = s.plan_offering(&package, offering_body("SAMTAL", 5, &[utc(2027, 10, 5, 6, 0)])).await;
    s.post(&office, &format!("/packages/{package}/publish"), json!({})).await.expect(200);

    // Uddevalla's collective registration, in its priority order; Tanum registers Erik.
    let lines = json!({ "lines": [
        { "staff_id": p.anna, "offering_id": grund },
        { "staff_id": p.orjan, "offering_id": grund },
        { "staff_id": p.bo, "offering_id": grund },
        { "staff_id": p.anna, "offering_id": samtal },
        { "staff_id": p.bo, "offering_id": samtal },
    ] });
    let receipt = s.post(&coordinator, "/municipalities/uddevalla/registrations", lines).await;
    assert_eq!(receipt.expect(200)["requested"], 5, "{}", receipt.text);
    let erik = json!({ "lines": [{ "staff_id": p.erik, "offering_id": grund }] });
    s.post(&Actor::coordinator("tanum"), "/municipalities/tanum/registrations", erik).await.expect(200);
    // Withdrawn before the deadline: free.
    let withdrawn =
        s.post(&coordinator, &format!("/offerings/{samtal}/registrations/{}/cancel", p.bo), json!({})).await;
    withdrawn.expect(200);
    let fresh = format!("min_position={}", position(&withdrawn));

    let registrations = |q: &str| format!("/municipalities/uddevalla/registrations?package={package}&{fresh}&{q}");
    let page = s.get(&coordinator, &registrations("")).await;
    let page = page.expect(200);
    let rows = |page: &Value| -> Vec<(String, String, String, Value)> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                let (o, st, status) = (l["offering_id"].as_str(), l["staff_id"].as_str(), l["status"].as_str());
                (o.unwrap().to_string(), st.unwrap().to_string(), status.unwrap().to_string(), l["priority"].clone())
            })
            .collect()
    };
    let line = |o: &str, st: &str, status: &str, priority: Value| {
        (o.to_string(), st.to_string(), status.to_string(), priority)
    };
    assert_eq!(
        rows(page),
        vec![
            line(&grund, &p.anna, "requested", json!(1)),
            line(&grund, &p.orjan, "requested", json!(2)),
            line(&grund, &p.bo, "requested", json!(3)),
            line(&samtal, &p.anna, "requested", json!(1)),
            line(&samtal, &p.bo, "cancelled", Value::Null),
        ],
        "by offering, in the municipality's priority order: {page}"
    );
    let first = &page["items"][0];
    assert_eq!(
        (first["name"].as_str(), first["course"].as_str(), first["title"].as_str()),
        (Some("Anna Andersson"), Some("LVU-GRUND"), Some("LVU grund"))
    );
    assert_eq!((first["late"].as_bool(), first["waiting_place"].clone()), (Some(false), Value::Null));
    assert!(first["registered_at"].as_str().is_some_and(|t| t.starts_with("20")), "{first}");
    let free = &page["items"][4];
    assert_eq!((free["charged"].as_bool(), free["name"].as_str()), (Some(false), Some("Bo Ek")));
    assert!(free["cancelled_at"].is_string(), "{free}");
    assert!(!page.to_string().contains(&p.erik), "only Uddevalla's lines: {page}");

    // The deadline passes: seats are allocated fairly (one each for two seats), the rest wait.
    s.clock.set(utc(2027, 6, 16, 8, 0));
    s.post(&office, &format!("/packages/{package}/close-registration"), json!({})).await.expect(200);
    let charged =
        s.post(&coordinator, &format!("/offerings/{samtal}/registrations/{}/cancel", p.anna), json!({})).await;
    charged.expect(200);
    let transfer = json!({ "to_staff_id": p.stina });
    let transferred =
        s.post(&coordinator, &format!("/offerings/{grund}/registrations/{}/transfer", p.anna), transfer).await;
    transferred.expect(200);
    let fresh = format!("min_position={}", position(&transferred));
    let registrations = |q: &str| format!("/municipalities/uddevalla/registrations?package={package}&{fresh}&{q}");

    let page = s.read(&registrations("")).await;
    let on_grund: Vec<_> = rows(&page).into_iter().filter(|l| l.0 == grund).collect();
    assert_eq!(on_grund.len(), 4, "{page}");
    let mut handed = [on_grund[0].clone(), on_grund[1].clone()];
    handed.sort_by_key(|l| l.2.clone());
    assert_eq!(
        handed,
        [line(&grund, &p.stina, "confirmed", json!(1)), line(&grund, &p.anna, "transferred_away", Value::Null)],
        "Stina took Anna's seat and place in the order: {page}"
    );
    assert_eq!(on_grund[2..], [line(&grund, &p.orjan, "waiting", json!(2)), line(&grund, &p.bo, "waiting", json!(3))]);
    let stina = page["items"].as_array().unwrap().iter().find(|l| l["staff_id"] == p.stina.as_str()).unwrap();
    assert_eq!(
        (stina["transferred_from"].as_str(), stina["name"].as_str()),
        (Some(p.anna.as_str()), Some("Stina Chef"))
    );
    let waiting = s.read(&registrations("status=waiting")).await;
    assert_eq!(texts(&waiting, "staff_id"), [p.orjan.clone(), p.bo.clone()]);
    assert_eq!(column(&waiting, "waiting_place"), [json!(1), json!(2)]);
    let cancelled = s.read(&registrations(&format!("status=cancelled&offering={samtal}"))).await;
    assert_eq!(texts(&cancelled, "staff_id"), [p.anna.clone(), p.bo.clone()]);
    assert_eq!(column(&cancelled, "charged"), [json!(true), json!(false)], "after the deadline charged, before free");
    let paged = s.read(&registrations("limit=2&offset=4")).await;
    assert_eq!(
        (paged["total"].as_i64(), paged["next"].clone(), texts(&paged, "staff_id").len()),
        (Some(6), Value::Null, 2)
    );
    assert_eq!(s.read(&registrations("limit=4")).await["next"], 4);

    // ----- the staff register -----
    s.post(&coordinator, &format!("/staff/{}/pause", p.cecilia), json!({})).await.expect(200);
    s.post(&coordinator, &format!("/staff/{}/remove", p.ake), json!({})).await.expect(200);
    let erased = s.post(&office, &format!("/staff/{}/erase", p.eva), json!({ "reason": "Begäran om radering." })).await;
    erased.expect(200);
    let fresh = format!("min_position={}", position(&erased));
    let staff = |q: &str| format!("/municipalities/uddevalla/staff?{fresh}&{q}");
    let page = s.get(&coordinator, &staff("")).await;
    let page = page.expect(200);
    assert_eq!(
        column(page, "name"),
        [
            json!("Anna Andersson"),
            json!("Bo Ek"),
            json!("Cecilia Dahl"),
            json!("Stina Chef"),
            json!("Åke Ågren"),
            json!("Ärna Lind"),
            json!("Örjan Öberg"),
            Value::Null,
        ],
        "by name the Swedish way, the erased last: {page}"
    );
    assert_eq!(page["total"], 8);
    let eva = item(page, "staff_id", &p.eva);
    assert_eq!((eva["status"].as_str(), eva["name"].clone()), (Some("erased"), Value::Null));
    assert!(!page.to_string().contains("Eva Ström"), "no trace of an erased name: {page}");
    assert!(!page.to_string().contains(&p.erik), "only Uddevalla's staff: {page}");
    let anna = item(page, "staff_id", &p.anna);
    assert_eq!(anna["supervisor"], p.stina.as_str());
    assert_eq!((anna["unit"].as_str(), anna["municipality"].as_str()), (Some("Barn och unga"), Some("uddevalla")));
    assert_eq!(
        (anna["experience_band"].as_str(), anna["staff_group"].as_str()),
        (Some("new0_to2"), Some("myndighetsutovning"))
    );
    let counts = |page: &Value, who: &str| {
        let i = item(page, "staff_id", who);
        [&i["courses_taken"], &i["courses_registered"], &i["courses_waiting"]].map(|v| v.as_i64().unwrap())
    };
    assert_eq!(counts(page, &p.anna), [0, 0, 0], "a seat handed on and a cancellation: nothing ahead");
    assert_eq!(counts(page, &p.stina), [0, 1, 0]);
    assert_eq!(counts(page, &p.orjan), [0, 0, 1]);
    assert_eq!(counts(page, &p.bo), [0, 0, 1]);

    let names = |page: &Value| texts(page, "staff_id");
    assert_eq!(names(&s.read(&staff("status=paused")).await), [p.cecilia.as_str()]);
    assert_eq!(names(&s.read(&staff("status=removed")).await), [p.ake.as_str()]);
    assert_eq!(names(&s.read(&staff("status=erased")).await), [p.eva.as_str()]);
    assert_eq!(
        names(&s.read(&staff(&format!("supervisor={}", p.stina))).await),
        [p.anna.clone(), p.ake.clone(), p.orjan.clone()]
    );
    assert_eq!(names(&s.read(&staff("experience_band=over5")).await), [p.cecilia.clone(), p.ake.clone()]);
    assert_eq!(names(&s.read(&staff("staff_group=utforare")).await), [p.bo.as_str()]);
    assert_eq!(
        names(&s.read(&staff(&format!("status=active&experience_band=new0_to2&supervisor={}", p.stina))).await),
        [p.anna.as_str()]
    );
    let second = s.read(&staff("limit=3&offset=3")).await;
    assert_eq!(
        (names(&second), second["next"].as_i64()),
        (vec![p.stina.clone(), p.ake.clone(), p.arna.clone()], Some(6))
    );

    // Reading a staff list is a read of each person shown, in the security log.
    let log = s.read(&format!("/security-log?kind=person_read&staff_id={}&limit=1000", p.arna)).await;
    let lists: Vec<&str> = log.as_array().unwrap().iter().map(|e| e["detail"].as_str().unwrap()).collect();
    assert!(lists.contains(&"staff list"), "{log}");

    // ----- a supervisor's staff -----
    let supervisor = Actor::supervisor("uddevalla", &p.stina);
    let supervised = |q: &str| format!("/staff/{}/supervised-staff?{fresh}&{q}", p.stina);
    let page = s.get(&supervisor, &supervised("")).await;
    let page = page.expect(200);
    assert_eq!(column(page, "name"), [json!("Anna Andersson"), json!("Åke Ågren"), json!("Örjan Öberg")], "{page}");
    assert_eq!(counts(page, &p.orjan), [0, 0, 1]);
    assert_eq!(item(page, "staff_id", &p.ake)["status"], "removed");
    assert_eq!(names(&s.get(&supervisor, &supervised("status=active")).await.json), [p.anna.clone(), p.orjan.clone()]);
    assert_eq!(names(&s.get(&coordinator, &supervised("experience_band=over5")).await.json), [p.ake.as_str()]);
    let log = s.read(&format!("/security-log?kind=person_read&staff_id={}&limit=1000", p.orjan)).await;
    assert!(log.as_array().unwrap().iter().any(|e| e["detail"] == "supervised staff list"), "{log}");

    // LVU grund is given and completed: Stina attended both sessions.
    s.clock.set(utc(2027, 9, 2, 13, 0));
    for session in [0, 1] {
        let body = json!({ "staff_id": p.stina, "session": session, "attendance": "present" });
        s.post(&office, &format!("/offerings/{grund}/attendance"), body).await.expect(200);
    }
    let completed = s.post(&office, &format!("/offerings/{grund}/complete"), json!({})).await;
    completed.expect(200);
    let page = s.read(&format!("/municipalities/uddevalla/staff?min_position={}", position(&completed))).await;
    let stina = item(&page, "staff_id", &p.stina);
    assert_eq!(counts(&page, &p.stina), [1, 0, 0]);
    assert_eq!(stina["hours_attended"].as_f64(), Some(12.0));
    let certificates = stina["certificates"].as_array().unwrap();
    assert!(certificates.len() == 1 && certificates[0].as_str().unwrap().starts_with("LVU-GRUND-HT2027-"), "{stina}");
    assert_eq!(counts(&page, &p.orjan), [0, 0, 0], "no longer waiting for a course that was given");

    // Read-your-writes: a person just added is on the list at once.
    let mut body = staff_body("Ny Person");
    body["supervisor_id"] = json!(p.stina);
    let added = s.post(&coordinator, "/municipalities/uddevalla/staff", body).await;
    added.expect(201);
    let page = s.read(&format!("/municipalities/uddevalla/staff?min_position={}&limit=500", position(&added))).await;
    assert_eq!(page["total"], 9);
    assert!(texts(&page, "staff_id").contains(&added.str("id")));

    // Not found, and filters that do not parse.
    let nobody = uuid::Uuid::new_v4();
    s.get(&office, "/municipalities/ingenstans/staff").await.problem(404, "not_found");
    s.get(&office, &format!("/staff/{nobody}/supervised-staff")).await.problem(404, "not_found");
    s.get(&office, &format!("/municipalities/uddevalla/registrations?package={nobody}"))
        .await
        .problem(404, "not_found");
    for (path, field) in [
        ("/municipalities/uddevalla/staff?status=sleeping".to_string(), "status"),
        ("/municipalities/uddevalla/staff?supervisor=stina".to_string(), "supervisor"),
        ("/municipalities/uddevalla/staff?experience_band=0-2".to_string(), "experience_band"),
        ("/municipalities/uddevalla/staff?staff_group=alla".to_string(), "staff_group"),
        ("/municipalities/uddevalla/staff?limit=1000".to_string(), "limit"),
        (format!("/staff/{}/supervised-staff?supervisor={}", p.stina, p.stina), "supervisor"),
        ("/municipalities/uddevalla/registrations".to_string(), "package"),
        ("/municipalities/uddevalla/registrations?package=paketet".to_string(), "package"),
        (format!("/municipalities/uddevalla/registrations?package={package}&status=gone"), "status"),
        (format!("/municipalities/uddevalla/registrations?package={package}&offering=grund"), "offering"),
        (format!("/municipalities/uddevalla/registrations?package={package}&as_of=1&min_position=1"), "as_of"),
    ] {
        let reply = s.get(&coordinator, &path).await;
        let detail = reply.problem(422, "validation")["detail"].as_str().unwrap().to_string();
        assert!(detail.starts_with(&format!("{field}: ")), "{path}: the field is named: {detail}");
    }
}

#[tokio::test]
async fn staff_and_registrations_sqlite() {
    staff_and_registrations(Backend::Sqlite).await;
}

#[tokio::test]
async fn staff_and_registrations_postgres() {
    staff_and_registrations(Backend::Postgres).await;
}

/// The lists are in the OpenAPI document, with the paged answer's schema.
#[tokio::test]
async fn the_lists_are_documented() {
    let Some(s) = TestServer::start(Backend::Sqlite).await else { return };
    let doc = s.send(s.request(reqwest::Method::GET, "/openapi.json")).await;
    let doc = doc.expect(200);
    for path in [
        "/packages",
        "/packages/{id}/offerings",
        "/courses",
        "/municipalities/{id}/staff",
        "/staff/{id}/supervised-staff",
        "/municipalities/{id}/registrations",
    ] {
        let get = &doc["paths"][path]["get"];
        assert!(get.is_object(), "GET {path} is documented");
        let names: Vec<&str> =
            get["parameters"].as_array().unwrap().iter().filter_map(|p| p["name"].as_str()).collect();
        for name in ["limit", "offset", "min_position"] {
            assert!(names.contains(&name), "GET {path} takes {name}: {names:?}");
        }
        let schema = get["responses"]["200"]["content"]["application/json"]["schema"].to_string();
        assert!(schema.contains("items") || schema.contains("Listed"), "GET {path} answers a page: {schema}");
    }
    assert!(doc["paths"]["/packages"]["post"].is_object(), "POST /packages is still there");
}
