//! Black-box tests of the reports: the deadline overview, participation statistics, the
//! cost basis and the charts, over HTTP on SQLite and PostgreSQL. A small autumn term is
//! driven through the API and the numbers a course office, coordinator or auditor would
//! check are asserted, now and as of before the allocation.

mod api_support;

use api_support::{offering_body, staff_body, utc, Actor, Backend, Reply, TestServer};
use serde_json::{json, Value};

/// Adds a staff member with the given profile; returns (id, position).
async fn add_person(
    s: &TestServer,
    municipality: &str,
    name: &str,
    band: &str,
    group: &str,
    degree: bool,
) -> (String, i64) {
    let mut body = staff_body(name);
    body["experience_band"] = json!(band);
    body["staff_group"] = json!(group);
    body["social_work_degree"] = json!(degree);
    let reply = s.post(&Actor::coordinator(municipality), &format!("/municipalities/{municipality}/staff"), body).await;
    reply.expect(201);
    (reply.str("id"), position(&reply))
}

#[track_caller]
fn position(reply: &Reply) -> i64 {
    reply.json["position"].as_i64().unwrap_or_else(|| panic!("no position in {}", reply.text))
}

/// A collective registration; returns the last position written.
async fn register_collectively(s: &TestServer, municipality: &str, pairs: &[(&str, &str)]) -> i64 {
    let lines: Vec<Value> = pairs.iter().map(|(st, o)| json!({ "staff_id": st, "offering_id": o })).collect();
    let reply = s
        .post(
            &Actor::coordinator(municipality),
            &format!("/municipalities/{municipality}/registrations"),
            json!({ "lines": lines }),
        )
        .await;
    let receipt = reply.expect(200);
    assert_eq!(receipt["requested"], pairs.len(), "{}", reply.text);
    receipt["lines"].as_array().unwrap().iter().filter_map(|l| l["position"].as_i64()).max().expect("written")
}

/// The item of `list` whose `field` is `value`.
#[track_caller]
fn find<'a>(list: &'a Value, field: &str, value: &str) -> &'a Value {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .find(|item| item[field] == value)
        .unwrap_or_else(|| panic!("no {field} = {value} in {list}"))
}

/// (municipality id, year, participations, persons) of each statistics row.
fn by_municipality_and_year(stats: &Value) -> Vec<(String, i64, i64, i64)> {
    stats["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            (
                r["municipality"].as_str().unwrap().to_string(),
                r["year"].as_i64().unwrap(),
                r["participations"].as_i64().unwrap(),
                r["persons"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// (kind, course, staff id, price) of each cost line of a municipality.
fn cost_lines(municipality: &Value) -> Vec<(String, String, String, i64)> {
    municipality["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .map(|l| {
            (
                l["kind"].as_str().unwrap().to_string(),
                l["course"].as_str().unwrap().to_string(),
                l["staff_id"].as_str().unwrap().to_string(),
                l["price_sek"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn line(kind: &str, course: &str, staff: &str, price: i64) -> (String, String, String, i64) {
    (kind.to_string(), course.to_string(), staff.to_string(), price)
}

/// Asserts a 400 `invalid_query` problem whose detail says `says`.
async fn bad(s: &TestServer, path: &str, says: &str) {
    let reply = s.get(&Actor::office(), path).await;
    let problem = reply.problem(400, "invalid_query");
    assert!(problem["detail"].as_str().unwrap().contains(says), "{path}: {}", reply.text);
}

async fn reports(backend: Backend) {
    let Some(s) = TestServer::start(backend).await else { return };
    let office = Actor::office();
    let trainer = Actor::trainer();

    s.add_course("LVU-GRUND", "LVU grund", &[]).await;
    s.add_course("SAMTAL", "Samtal med barn", &[]).await;
    s.add_municipality("uddevalla", "Uddevalla").await;
    s.add_municipality("tanum", "Tanum").await;
    s.add_municipality("orust", "Orust").await;
    s.add_municipality("amal", "Åmål").await;

    let (u1, _) = add_person(&s, "uddevalla", "Anna Andersson", "new0_to2", "myndighetsutovning", true).await;
    let (u2, _) = add_person(&s, "uddevalla", "Erik Berg", "years3_to5", "utforare", false).await;
    let (u3, _) = add_person(&s, "uddevalla", "Maria Carlsson", "over5", "myndighetsutovning", true).await;
    let (t1, _) = add_person(&s, "tanum", "Johan Dahl", "new0_to2", "myndighetsutovning", true).await;
    let (t2, _) = add_person(&s, "tanum", "Sara Ek", "supervisors", "myndighetsutovning", true).await;
    let (t3, _) = add_person(&s, "tanum", "Karl Fors", "new0_to2", "utforare", false).await;
    let (a1, _) = add_person(&s, "amal", "Elin Ivarsson", "years3_to5", "utforare", false).await;

    let package = s.create_package("HT2027").await;
    let mut grund_body = offering_body("LVU-GRUND", 2, &[utc(2027, 9, 1, 6, 0)]);
    grund_body["price_sek"] = json!(1800);
    let grund = s.plan_offering(&package, grund_body).await;
    let mut samtal_body = offering_body("SAMTAL", 10, &[utc(2027, 10, 5, 6, 0)]);
    samtal_body["price_sek"] = json!(2400);
    let samtal = s.plan_offering(&package, samtal_body).await;
    s.post(&office, &format!("/packages/{package}/publish"), json!({})).await.expect(200);
    s.assign_trainer(&grund).await;

    // Before the deadline: Uddevalla and Tanum register; Orust and Åmål do not (yet).
    register_collectively(&s, "uddevalla", &[(&u1, &grund), (&u2, &grund), (&u3, &grund), (&u1, &samtal)]).await;
    register_collectively(&s, "tanum", &[(&t1, &grund), (&t2, &grund), (&t1, &samtal), (&t3, &samtal)]).await;
    // A cancellation before the deadline is free.
    let free = s
        .post(&Actor::coordinator("tanum"), &format!("/offerings/{samtal}/registrations/{t3}/cancel"), json!({}))
        .await;
    free.expect(200);
    let before_allocation = position(&free);

    // ----- the deadline overview before the allocation -----
    let overview = s.read(&format!("/packages/{package}/deadline-overview?min_position={before_allocation}")).await;
    assert_eq!(overview["term"], "HT2027");
    assert_eq!(overview["title"], "Utbildningspaket HT2027");
    assert_eq!(overview["deadline"], "2027-06-15T21:59:00.000Z");
    assert_eq!(overview["phase"], "published");
    assert_eq!(overview["municipalities_registered"], 2);
    let names: Vec<&str> =
        overview["municipalities"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Orust", "Tanum", "Uddevalla", "Åmål"], "Swedish alphabetical order");
    let uddevalla = find(&overview["municipalities"], "municipality_id", "uddevalla");
    assert_eq!((uddevalla["registered"].as_bool(), uddevalla["requests"].as_i64()), (Some(true), Some(4)));
    let tanum = find(&overview["municipalities"], "municipality_id", "tanum");
    assert_eq!((tanum["requests"].as_i64(), tanum["cancelled"].as_i64()), (Some(3), Some(1)), "{tanum}");
    assert_eq!(tanum["charged_cancellations"], 0);
    for silent in ["orust", "amal"] {
        let m = find(&overview["municipalities"], "municipality_id", silent);
        assert_eq!((m["registered"].as_bool(), m["requests"].as_i64()), (Some(false), Some(0)), "{m}");
    }
    let g = find(&overview["offerings"], "offering_id", &grund);
    assert_eq!(g["course"], "LVU-GRUND");
    assert_eq!(
        (g["seats"].as_i64(), g["requests_in_time"].as_i64(), g["late_requests"].as_i64()),
        (Some(2), Some(5), Some(0))
    );
    assert_eq!((g["requested"].as_i64(), g["confirmed"].as_i64(), g["waiting"].as_i64()), (Some(5), Some(0), Some(0)));
    assert_eq!((g["allocated"].as_bool(), g["oversubscribed"].as_bool()), (Some(false), Some(true)));
    let sa = find(&overview["offerings"], "offering_id", &samtal);
    assert_eq!(
        (sa["requests_in_time"].as_i64(), sa["requested"].as_i64(), sa["cancelled"].as_i64()),
        (Some(3), Some(2), Some(1))
    );
    assert_eq!((sa["allocated"].as_bool(), sa["oversubscribed"].as_bool()), (Some(false), Some(false)));
    let before_overview = overview.clone();

    // Nobody has a confirmed place yet: no participations, no costs.
    let stats = s.read(&format!("/statistics?group_by=municipality&min_position={before_allocation}")).await;
    assert_eq!(stats["total"], json!({ "participations": 0, "persons": 0 }));
    assert_eq!(stats["rows"], json!([]));

    // An instant between the last request in time and the allocation (the log records
    // wall-clock time); the pause only keeps the two in different milliseconds.
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let instant_before = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;

    // ----- the deadline passes: allocation, a late registration, a charged cancellation -----
    s.clock.set(utc(2027, 6, 16, 8, 0));
    s.post(&office, &format!("/packages/{package}/close-registration"), json!({})).await.expect(200);
    let late = s
        .post(&Actor::coordinator("amal"), &format!("/offerings/{samtal}/registrations"), json!({ "staff_id": a1 }))
        .await;
    assert_eq!(late.expect(200)["status"], "confirmed");
    let after_late = position(&late);

    let overview = s.read(&format!("/packages/{package}/deadline-overview?min_position={after_late}")).await;
    assert_eq!(overview["phase"], "registration_closed");
    assert_eq!(overview["municipalities_registered"], 3);
    let g = find(&overview["offerings"], "offering_id", &grund);
    assert_eq!((g["state"].as_str(), g["allocated"].as_bool()), (Some("allocated"), Some(true)));
    assert_eq!((g["requested"].as_i64(), g["confirmed"].as_i64(), g["waiting"].as_i64()), (Some(0), Some(2), Some(3)));
    assert_eq!((g["requests_in_time"].as_i64(), g["free_seats"].as_i64()), (Some(5), Some(0)));
    let sa = find(&overview["offerings"], "offering_id", &samtal);
    assert_eq!((sa["requests_in_time"].as_i64(), sa["late_requests"].as_i64()), (Some(3), Some(1)));
    assert_eq!((sa["confirmed"].as_i64(), sa["free_seats"].as_i64()), (Some(3), Some(7)));
    let amal = find(&overview["municipalities"], "municipality_id", "amal");
    assert_eq!((amal["registered"].as_bool(), amal["late_requests"].as_i64()), (Some(true), Some(1)));
    // Round-robin over two municipalities with two seats: each gets one, its first priority.
    let roster = s.read(&format!("/offerings/{grund}/roster?min_position={after_late}")).await;
    let status = |staff: &str| find(&roster["entries"], "staff_id", staff)["status"].as_str().unwrap().to_string();
    assert_eq!((status(&u1), status(&t1)), ("confirmed".into(), "confirmed".into()));
    assert_eq!([status(&u2), status(&u3), status(&t2)], ["waiting", "waiting", "waiting"].map(String::from));

    // Tanum cancels a confirmed place after the deadline: charged.
    let charged = s
        .post(&Actor::coordinator("tanum"), &format!("/offerings/{samtal}/registrations/{t1}/cancel"), json!({}))
        .await;
    charged.expect(200);
    // Attendance and completion of LVU grund.
    s.clock.set(utc(2027, 9, 1, 13, 0));
    for who in [&u1, &t1] {
        let body = json!({ "staff_id": who, "session": 0, "attendance": "present" });
        s.post(&trainer, &format!("/offerings/{grund}/attendance"), body).await.expect(200);
    }
    let completed = s.post(&office, &format!("/offerings/{grund}/complete"), json!({})).await;
    completed.expect(200);
    let now = position(&completed);
    let fresh = format!("min_position={now}");

    let overview = s.read(&format!("/packages/{package}/deadline-overview?{fresh}")).await;
    let sa = find(&overview["offerings"], "offering_id", &samtal);
    assert_eq!(
        (sa["confirmed"].as_i64(), sa["cancelled"].as_i64(), sa["charged_cancellations"].as_i64()),
        (Some(2), Some(2), Some(1))
    );
    let g = find(&overview["offerings"], "offering_id", &grund);
    assert_eq!((g["state"].as_str(), g["allocated"].as_bool()), (Some("completed"), Some(true)));

    // ----- statistics -----
    // Participations: Anna on both courses, Johan on LVU grund (completed), Elin on
    // Samtal med barn; Johan's charged cancellation and the waiting list are not.
    let stats = s.read(&format!("/statistics?group_by=municipality,year&{fresh}")).await;
    assert_eq!(stats["group_by"], json!(["municipality", "year"]));
    assert_eq!(stats["total"], json!({ "participations": 4, "persons": 3 }), "participations are not persons");
    assert_eq!(
        by_municipality_and_year(&stats),
        vec![("tanum".into(), 2027, 1, 1), ("uddevalla".into(), 2027, 2, 1), ("amal".into(), 2027, 1, 1)],
        "sorted by municipality name, Swedish order: {stats}"
    );
    assert_eq!(stats["rows"][2]["municipality_name"], "Åmål");
    assert!(stats["rows"][0].get("course").is_none(), "only the dimensions asked for: {stats}");

    let stats = s.read(&format!("/statistics?group_by=experience_band&{fresh}")).await;
    let bands: Vec<(String, i64, i64)> = stats["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["experience_band"].as_str().unwrap().into(),
                r["participations"].as_i64().unwrap(),
                r["persons"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(bands, vec![("new0_to2".into(), 3, 2), ("years3_to5".into(), 1, 1)]);

    let stats = s.read(&format!("/statistics?group_by=social_work_degree,staff_group&{fresh}")).await;
    let rows = stats["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{stats}");
    assert_eq!((&rows[0]["social_work_degree"], &rows[0]["staff_group"]), (&json!(false), &json!("utforare")));
    assert_eq!((rows[0]["participations"].as_i64(), rows[0]["persons"].as_i64()), (Some(1), Some(1)));
    assert_eq!((&rows[1]["social_work_degree"], &rows[1]["staff_group"]), (&json!(true), &json!("myndighetsutovning")));
    assert_eq!((rows[1]["participations"].as_i64(), rows[1]["persons"].as_i64()), (Some(3), Some(2)));

    let stats = s.read(&format!("/statistics?group_by=course,term&municipality=uddevalla&{fresh}")).await;
    assert_eq!(stats["filter"], json!({ "municipality": "uddevalla" }));
    assert_eq!(stats["total"], json!({ "participations": 2, "persons": 1 }));
    assert_eq!(stats["rows"][0]["course"], "LVU-GRUND");
    assert_eq!(stats["rows"][0]["course_title"], "LVU grund");
    assert_eq!(stats["rows"][1]["course"], "SAMTAL");
    assert_eq!(stats["rows"][1]["term"], "HT2027");
    let filtered = s.read(&format!("/statistics?year=2027&term=ht2027&course=lvu-grund&{fresh}")).await;
    assert_eq!(filtered["filter"], json!({ "year": 2027, "term": "HT2027", "course": "LVU-GRUND" }));
    assert_eq!(filtered["total"], json!({ "participations": 2, "persons": 2 }));
    assert_eq!(filtered["rows"], json!([]), "no group_by: the total only");
    let none = s.read(&format!("/statistics?year=2028&group_by=year&{fresh}")).await;
    assert_eq!((none["total"]["participations"].as_i64(), none["rows"].clone()), (Some(0), json!([])));

    // The same statistics as a file: one row per group, then the totals.
    let csv = csv_table(&s, &format!("/statistics/export?group_by=municipality,year&format=csv&{fresh}")).await;
    assert_eq!(csv[0], ["Kommun", "År", "Deltagartillfällen", "Personer"]);
    assert_eq!(
        csv[1..].to_vec(),
        [
            vec!["Tanum", "2027", "1", "1"],
            vec!["Uddevalla", "2027", "2", "1"],
            vec!["Åmål", "2027", "1", "1"],
            vec!["Totalt", "", "4", "3"],
        ]
    );
    let xlsx = s.get(&office, &format!("/statistics/export?group_by=year&format=xlsx&{fresh}")).await;
    assert_eq!(xlsx.status, 200);
    assert!(xlsx.content_type().contains("spreadsheetml"), "{}", xlsx.content_type());

    // ----- the cost basis -----
    let costs = s.read(&format!("/costs?term=HT2027&{fresh}")).await;
    assert_eq!(costs["term"], "HT2027");
    let ids: Vec<&str> =
        costs["municipalities"].as_array().unwrap().iter().map(|m| m["municipality_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["orust", "tanum", "uddevalla", "amal"], "every municipality, Swedish order");
    let tanum = find(&costs["municipalities"], "municipality_id", "tanum");
    assert_eq!(
        cost_lines(tanum),
        vec![line("participation", "LVU-GRUND", &t1, 1800), line("charged_cancellation", "SAMTAL", &t1, 2400)],
        "the charged cancellation is billed, the free one is not"
    );
    assert_eq!((tanum["participations"].as_i64(), tanum["participations_sek"].as_i64()), (Some(1), Some(1800)));
    assert_eq!(
        (tanum["charged_cancellations"].as_i64(), tanum["charged_cancellations_sek"].as_i64()),
        (Some(1), Some(2400))
    );
    assert_eq!(tanum["total_sek"], 4200);
    assert_eq!(tanum["lines"][0]["name"], "Johan Dahl");
    assert_eq!(tanum["lines"][0]["completion"], "completed");
    assert!(tanum["lines"][1]["cancelled_at"].is_string(), "{tanum}");
    let uddevalla = find(&costs["municipalities"], "municipality_id", "uddevalla");
    assert_eq!(
        cost_lines(uddevalla),
        vec![line("participation", "LVU-GRUND", &u1, 1800), line("participation", "SAMTAL", &u1, 2400)],
        "waiting is free: {uddevalla}"
    );
    assert_eq!(uddevalla["total_sek"], 4200);
    let amal = find(&costs["municipalities"], "municipality_id", "amal");
    assert_eq!(cost_lines(amal), vec![line("participation", "SAMTAL", &a1, 2400)]);
    let orust = find(&costs["municipalities"], "municipality_id", "orust");
    assert_eq!((orust["total_sek"].as_i64(), orust["lines"].clone()), (Some(0), json!([])));
    assert_eq!((costs["participations"].as_i64(), costs["participations_sek"].as_i64()), (Some(4), Some(8400)));
    assert_eq!(
        (costs["charged_cancellations"].as_i64(), costs["charged_cancellations_sek"].as_i64()),
        (Some(1), Some(2400))
    );
    assert_eq!(costs["total_sek"], 10800);

    // The cost basis as a file: the lines, each municipality's sum and the total agree
    // with the JSON.
    let csv = csv_table(&s, &format!("/costs/export?term=HT2027&format=csv&{fresh}")).await;
    let amount = csv[0].iter().position(|c| c == "Belopp (SEK)").expect("an amount column");
    let total_row = csv.last().expect("rows");
    assert_eq!((total_row[0].as_str(), total_row[amount].parse::<i64>().ok()), ("Totalt", costs["total_sek"].as_i64()));
    let lines: i64 = csv[1..]
        .iter()
        .filter(|r| r[0] != "Totalt" && !r[0].starts_with("Summa "))
        .map(|r| r[amount].parse::<i64>().unwrap())
        .sum();
    assert_eq!(Some(lines), costs["total_sek"].as_i64(), "the lines add up to the total");
    assert!(csv.iter().any(|r| r.iter().any(|c| c == "avgift vid avanmälan")), "the charged cancellation is a line");
    assert!(csv.iter().any(|r| r[0] == "Summa Tanum"), "each municipality's sum");
    bad(&s, "/costs/export?format=csv", "term is required").await;
    bad(&s, "/statistics/export?group_by=year&format=pdf", "format").await;

    let mine = s.get(&Actor::coordinator("tanum"), &format!("/municipalities/tanum/costs?term=HT2027&{fresh}")).await;
    let mine = mine.expect(200);
    assert_eq!(mine["municipalities"].as_array().unwrap().len(), 1);
    assert_eq!(mine["municipalities"][0], *tanum);
    assert_eq!(mine["total_sek"], 4200);
    let one = s.read(&format!("/costs?term=HT2027&municipality=uddevalla&{fresh}")).await;
    assert_eq!((one["municipalities"].as_array().unwrap().len(), one["total_sek"].as_i64()), (1, Some(4200)));
    let other_term = s.read(&format!("/costs?term=VT2028&{fresh}")).await;
    assert_eq!(other_term["total_sek"], 0);

    // ----- as of before the allocation -----
    let then = s.read(&format!("/packages/{package}/deadline-overview?as_of_position={before_allocation}")).await;
    assert_eq!(then["position"], before_allocation);
    assert_eq!(
        (then["phase"].clone(), then["offerings"].clone(), then["municipalities"].clone()),
        (
            before_overview["phase"].clone(),
            before_overview["offerings"].clone(),
            before_overview["municipalities"].clone()
        ),
        "the overview as it stood before the allocation"
    );
    let then = s.read(&format!("/packages/{package}/deadline-overview?as_of={instant_before}")).await;
    assert_eq!(then["phase"], "published");
    assert_eq!(find(&then["offerings"], "offering_id", &grund)["allocated"], false);
    assert_eq!(find(&then["offerings"], "offering_id", &grund)["requested"], 5);
    let then = s.read(&format!("/statistics?group_by=municipality&as_of={instant_before}")).await;
    assert_eq!(then["total"]["participations"], 0);
    let then = s.read(&format!("/costs?term=HT2027&as_of={instant_before}")).await;
    assert_eq!(then["total_sek"], 0);
    let now_costs = s.read(&format!("/costs?term=HT2027&{fresh}")).await;
    assert_ne!(then["total_sek"], now_costs["total_sek"]);

    // ----- charts -----
    let chart = s.get(&office, &format!("/statistics/charts/participants-per-municipality.svg?{fresh}")).await;
    assert_eq!(chart.status, 200, "{}", chart.text);
    assert!(chart.content_type().starts_with("image/svg+xml"), "{}", chart.content_type());
    assert!(chart.text.starts_with("<svg"), "{}", chart.text);
    assert!(chart.text.contains("Respektive kommuns deltagande"), "a Swedish title");
    for label in ["Tanum (1)", "Uddevalla (2)", "Åmål (1)"] {
        assert!(chart.text.contains(label), "{label} in the chart: {}", chart.text);
    }
    assert!(chart.text.contains("Totalt 4 deltagare, 3 personer"), "{}", chart.text);
    let chart = s.get(&office, &format!("/statistics/charts/participants-per-municipality-and-year.svg?{fresh}")).await;
    assert!(chart.text.contains("Deltagare/kommun och år") && chart.text.contains("Uddevalla (2)"), "{}", chart.text);
    let chart = s.get(&office, &format!("/statistics/charts/participants-per-year.svg?{fresh}")).await;
    assert!(chart.text.contains("Deltagarantal per år") && chart.text.contains("2027"), "{}", chart.text);
    let chart =
        s.get(&office, &format!("/statistics/charts/participants-per-course.svg?municipality=uddevalla&{fresh}")).await;
    assert!(chart.text.contains("Antal deltagare/utbildning"), "{}", chart.text);
    assert!(chart.text.contains("LVU grund (1)") && chart.text.contains("Samtal med barn (1)"), "{}", chart.text);
    assert!(chart.text.contains("Urval: kommun uddevalla."), "{}", chart.text);
    let chart = s.get(&office, &format!("/statistics/charts/participants-per-year.svg?as_of={instant_before}")).await;
    assert!(chart.text.contains("Inga deltagare att visa."), "{}", chart.text);

    // ----- bad input: 400 problems that say what is wrong -----
    bad(&s, "/statistics?group_by=colour", "unknown dimension \"colour\"").await;
    bad(&s, "/statistics?group_by=year,,term", "empty dimension").await;
    bad(&s, "/statistics?group_by=year,year", "twice").await;
    bad(&s, "/statistics?year=twenty", "year must be a calendar year").await;
    bad(&s, "/statistics?term=XT2027", "term").await;
    bad(&s, "/statistics?municipality=not%20an%20id", "municipality").await;
    bad(&s, "/statistics?course=LVU%20GRUND", "course").await;
    bad(&s, "/statistics?groupby=year", "unknown query parameter \"groupby\"").await;
    bad(&s, "/statistics?as_of=yesterday", "as_of must be an RFC 3339 instant").await;
    bad(&s, "/statistics?min_position=1&as_of_position=1", "at most one").await;
    bad(&s, "/costs", "term is required").await;
    bad(&s, "/costs?term=2027", "term").await;
    bad(&s, "/costs?term=HT2027&municipality=%C3%85m%C3%A5l", "municipality").await;
    bad(&s, "/municipalities/tanum/costs", "term is required").await;
    bad(&s, "/statistics/charts/participants-per-year.svg?group_by=course", "unknown query parameter").await;
    bad(&s, "/packages/00000000-0000-0000-0000-000000000000/deadline-overview?phase=x", "unknown query parameter")
        .await;
    s.get(&office, "/statistics/charts/pie.svg").await.problem(404, "not_found");
    s.get(&office, "/municipalities/nowhere/costs?term=HT2027").await.problem(404, "not_found");
    s.get(&office, "/packages/not-a-package/deadline-overview").await.problem(404, "not_found");
    let unknown = uuid::Uuid::new_v4();
    s.get(&office, &format!("/packages/{unknown}/deadline-overview")).await.problem(404, "not_found");
    // Reports are reads: an actor is required.
    let anonymous = s.send(s.request(reqwest::Method::GET, "/statistics")).await;
    anonymous.problem(401, "unauthenticated");

    // The endpoints are in the OpenAPI document.
    let api = s.read("/openapi.json").await;
    for path in [
        "/packages/{id}/deadline-overview",
        "/statistics",
        "/statistics/charts/{chart}",
        "/costs",
        "/municipalities/{id}/costs",
    ] {
        assert!(api["paths"][path]["get"].is_object(), "{path} documented");
    }
}

#[tokio::test]
async fn reports_sqlite() {
    reports(Backend::Sqlite).await;
}

#[tokio::test]
async fn reports_postgres() {
    reports(Backend::Postgres).await;
}

/// A CSV export (UTF-8 with BOM, `;`-separated) as rows of text, header first.
async fn csv_table(s: &TestServer, path: &str) -> Vec<Vec<String>> {
    let reply = s.get(&Actor::office(), path).await;
    assert_eq!(reply.status, 200, "{path}: {}", reply.text);
    assert!(reply.content_type().starts_with("text/csv"), "{}", reply.content_type());
    let text = reply.text.strip_prefix('\u{feff}').expect("a byte-order mark");
    let mut reader = csv::ReaderBuilder::new().delimiter(b';').has_headers(false).from_reader(text.as_bytes());
    reader.records().map(|r| r.expect("CSV").iter().map(str::to_string).collect()).collect()
}
