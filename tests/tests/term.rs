//! A term in use (issue 22): what a course office meets in its first term, on both
//! backends. Each scenario walks the term through the public use cases and asserts what
//! a coordinator, the course office or a trainer would notice.

use std::path::Path;
use std::sync::Arc;

use kurslogg::app::{AppError, LineStatus, OfferingView};
use kurslogg::mail::dispatch::Dispatcher;
use kurslogg::mail::transport::Transport;
use kurslogg_domain::staff::StaffCommand;
use kurslogg_domain::StaffId;
use kurslogg_projections::outbox::{self, Filter, OutboxRow};
use kurslogg_tests::smtp::mail_settings;
use kurslogg_tests::*;

conformance!(
    scenario_late_registration_closes_when_the_first_session_starts,
    scenario_people_who_leave_are_taken_off_their_courses,
    scenario_kept_letters_forget_an_erased_person,
    scenario_dates_that_are_surely_mistakes_are_refused_and_the_past_can_be_recorded,
    scenario_every_write_answers_with_its_position,
    scenario_reasons_are_swedish_and_name_what_is_missing,
    scenario_a_coordinator_logs_in_and_gets_the_letters,
    scenario_a_charged_cancellation_is_told_to_the_coordinators,
);

// ----- helpers -----

fn status_of(view: &OfferingView, staff: StaffId) -> Option<&str> {
    let id = staff.to_string();
    view.registrations.iter().find(|r| r.staff_id == id).map(|r| r.status.as_str())
}

/// The refusal's code and its human message.
fn refusal(result: Result<impl std::fmt::Debug, AppError>) -> (String, String) {
    match result {
        Err(AppError::Refused { code, message, .. }) => (code, message),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

// ----- 1. late registration ends -----

/// Late registration closes when the offering's first session starts: before then a
/// late registration takes a free seat; from then on it is refused with its own code and
/// a Swedish reason, nothing is registered and nothing charged, also for an offering
/// whose sessions are all over but which is not completed (attendance missing).
async fn scenario_late_registration_closes_when_the_first_session_starts(backend: Backend) {
    let clock = TestClock::at(spring_2027());
    let (app, _guard) = fresh_app(backend, &clock).await;
    let f = Fyrbodal::build(&app, 5).await;
    let u = f.uddevalla.clone();
    publish(&app, f.package).await;
    app.register(&coordinator(&u), line(f.member(&u, 1), f.lvu_grund)).await.expect("in time");
    clock.set(after_ht2027_deadline());
    app.close_registration(&course_office(), f.package).await.expect("close");

    // The minute before the first session: a late registration takes a free seat.
    clock.set(lvu_grund_first_session() - chrono::Duration::minutes(1));
    let late = app.register(&coordinator(&u), line(f.member(&u, 2), f.lvu_grund)).await.expect("late, in time");
    assert_eq!(late.status, LineStatus::Confirmed);

    // The first session has started: no more.
    clock.set(lvu_grund_first_session());
    let (code, message) = refusal(app.register(&coordinator(&u), line(f.member(&u, 3), f.lvu_grund)).await);
    assert_eq!(code, "late_registration_closed");
    assert!(message.contains("första kurstillfället"), "a Swedish reason: {message}");

    // Every session is over, attendance is missing so it is not completed: still no.
    clock.set(utc(2027, 10, 20, 9, 0));
    let receipt = app
        .register_collectively(&coordinator(&u), u.clone(), vec![line(f.member(&u, 4), f.lvu_grund)])
        .await
        .expect("answered line by line");
    assert_eq!(receipt.lines[0].status, LineStatus::Refused);
    assert_eq!(receipt.lines[0].code.as_deref(), Some("late_registration_closed"));
    let view = app.offering(f.lvu_grund).await.expect("offering");
    assert_eq!(status_of(&view, f.member(&u, 3)), None, "nothing registered");
    assert_eq!(status_of(&view, f.member(&u, 4)), None, "nothing registered");
    assert_eq!(view.registrations.iter().filter(|r| r.status == "confirmed").count(), 2);
    assert_eq!(view.state, "allocated", "not completed");
}

// ----- 2. people who leave -----

fn charged(view: &OfferingView, staff: StaffId) -> bool {
    let id = staff.to_string();
    view.registrations.iter().any(|r| r.staff_id == id && r.charged)
}

/// Removing a staff member settles their registrations: a request or a waiting-list
/// place ends free; a confirmed seat on a course that has not started could still be
/// transferred, so the removal is refused until the coordinator says to give it up, and
/// then it is given up as a cancellation would be (charged). Nobody removed or paused is
/// promoted into a freed seat: the next in line is, and only they get a letter.
async fn scenario_people_who_leave_are_taken_off_their_courses(backend: Backend) {
    let clock = TestClock::at(spring_2027());
    let (app, _guard) = fresh_app(backend, &clock).await;
    let f = Fyrbodal::build(&app, 7).await;
    let u = f.uddevalla.clone();
    let m = |n| f.member(&u, n);
    publish(&app, f.package).await;
    // Samtal med barn has 3 seats: Uddevalla's priority order decides who gets them.
    let mut lines: Vec<_> = (1..=6).map(|n| line(m(n), f.samtal)).collect();
    lines.push(line(m(4), f.lvu_grund));
    app.register_collectively(&coordinator(&u), u.clone(), lines).await.expect("registered");
    clock.set(after_ht2027_deadline());
    app.close_registration(&course_office(), f.package).await.expect("closed");
    let samtal = app.offering(f.samtal).await.unwrap();
    assert_eq!(samtal.waiting_list, [m(4), m(5), m(6)].map(|s| s.to_string()));

    // Member 4 waits for Samtal and holds a seat on LVU grund, which starts in September.
    let (code, message) = refusal(app.remove_staff(&coordinator(&u), m(4), false).await);
    assert_eq!(code, "seat_transferable");
    assert!(message.contains("LVU grund") && message.contains("överlåt"), "says what to do: {message}");
    assert_eq!(app.staff_member(m(4)).await.unwrap().status, "active", "nothing changed");
    assert_eq!(status_of(&app.offering(f.lvu_grund).await.unwrap(), m(4)), Some("confirmed"));

    // The coordinator gives the seat up: it is charged, the waiting place ends free.
    app.remove_staff(&coordinator(&u), m(4), true).await.expect("removed, seats given up");
    assert_eq!(app.staff_member(m(4)).await.unwrap().status, "removed");
    let grund = app.offering(f.lvu_grund).await.unwrap();
    assert_eq!(status_of(&grund, m(4)), Some("cancelled"));
    assert!(charged(&grund, m(4)), "a confirmed seat given up after the deadline is charged");
    let samtal = app.offering(f.samtal).await.unwrap();
    assert_eq!(status_of(&samtal, m(4)), Some("cancelled"));
    assert!(!charged(&samtal, m(4)), "leaving the waiting list is free");
    assert_eq!(samtal.waiting_list, [m(5), m(6)].map(|s| s.to_string()));

    // Member 5 is paused: no new registrations, but the waiting place stays.
    app.staff_command(&coordinator(&u), m(5), StaffCommand::PauseStaffMember).await.expect("paused");
    // A freed seat skips the paused person: the next in line gets it.
    app.cancel_registration(&coordinator(&u), f.samtal, m(1)).await.expect("cancelled");
    let samtal = app.offering(f.samtal).await.unwrap();
    assert_eq!(status_of(&samtal, m(6)), Some("confirmed"), "the next in line is promoted");
    assert_eq!(status_of(&samtal, m(5)), Some("waiting"), "the paused person keeps their place");

    // A removal with nothing binding left needs no confirmation.
    let removed = app.remove_staff(&coordinator(&u), m(5), false).await.expect("removed");
    assert!(removed.position.is_some());
    let samtal = app.offering(f.samtal).await.unwrap();
    assert_eq!(status_of(&samtal, m(5)), Some("cancelled"));
    assert!(samtal.waiting_list.is_empty());

    // Only the promoted person (and their coordinator) got a promotion letter.
    catch_up(&app).await;
    let filter = kurslogg_projections::outbox::Filter { kind: Some("promotion".into()), ..Default::default() };
    let letters = kurslogg_projections::outbox::list(&app.log.views(), &filter, 100).await.unwrap();
    let about: Vec<_> = letters.iter().flat_map(|l| l.staff()).collect();
    assert!(!letters.is_empty() && about.iter().all(|s| *s == m(6).to_string()), "{about:?}");
}

// ----- 3. kept letters forget an erased person -----

/// A kept letter as a person reads it: its Message-ID and its plain and HTML text.
fn read_eml(dir: &Path, letter: &OutboxRow) -> (String, String) {
    let path = dir.join(format!("{}.eml", letter.notice_id));
    let raw = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let message = mail_parser::MessageParser::default().parse(&raw).expect("a mail message");
    let text = format!(
        "{}\n{}",
        message.body_text(0).expect("a plain-text part"),
        message.body_html(0).expect("an HTML part")
    );
    (message.message_id().expect("a Message-ID").to_string(), text)
}

/// With the default file transport the service keeps every letter it wrote. Once a
/// person is erased, the letters kept about them (a coordinator's receipt and allocation
/// result) name them as the views do, "(raderad person)", and keep their Message-ID; the
/// letters about others are left as they were.
async fn scenario_kept_letters_forget_an_erased_person(backend: Backend) {
    let clock = TestClock::at(spring_2027());
    let (app, _guard) = fresh_app(backend, &clock).await;
    let app = Arc::new(app);
    let f = Fyrbodal::build(&app, 1).await;
    let u = f.uddevalla.clone();
    let petra = add_named_staff(&app, &u, "Petra Åkesson", "petra.akesson@uddevalla.example.se", None).await;
    let olle = add_named_staff(&app, &u, "Olle Berg", "olle.berg@uddevalla.example.se", None).await;
    let t = f.trollhattan.clone();
    let tove = add_named_staff(&app, &t, "Tove Lind", "tove.lind@trollhattan.example.se", None).await;
    publish(&app, f.package).await;
    app.register_collectively(&coordinator(&u), u.clone(), vec![line(petra, f.lvu_grund), line(olle, f.samtal)])
        .await
        .expect("Uddevalla");
    app.register_collectively(&coordinator(&t), t.clone(), vec![line(tove, f.samtal)]).await.expect("Trollhättan");
    clock.set(after_ht2027_deadline());
    app.close_registration(&course_office(), f.package).await.expect("closed");
    catch_up(&app).await;
    let dir = std::env::temp_dir().join(format!("kl-kept-letters-{}", uuid::Uuid::new_v4().simple()));
    let settings = mail_settings(None);
    let files = Dispatcher::new(app.clone(), Transport::from_settings(&settings, &dir).expect("files"), settings);
    assert_eq!(files.dispatch_due().await.expect("dispatch").failed, 0);

    let all = outbox::list(&app.log.views(), &Filter::default(), 1000).await.expect("outbox");
    let uddevalla_coordinator = f.member(&u, 0).to_string();
    let about_petra: Vec<&OutboxRow> = all
        .iter()
        .filter(|l| {
            l.recipient == uddevalla_coordinator
                && ["registration_receipt", "allocation_result"].contains(&l.kind.as_str())
        })
        .collect();
    assert_eq!(about_petra.len(), 2, "{all:#?}");
    let before: Vec<(String, String)> = about_petra.iter().map(|l| read_eml(&dir, l)).collect();
    for (_, text) in &before {
        assert!(text.contains("Petra Åkesson") && text.contains("Olle Berg"), "{text}");
    }
    let trollhattan_coordinator = f.member(&t, 0).to_string();
    let others: Vec<&OutboxRow> = all.iter().filter(|l| l.recipient == trollhattan_coordinator).collect();
    assert!(!others.is_empty());
    let others_before: Vec<Vec<u8>> =
        others.iter().map(|l| std::fs::read(dir.join(format!("{}.eml", l.notice_id))).unwrap()).collect();

    app.erase_staff(&course_office(), petra, text("Begäran om radering")).await.expect("erased");
    files.dispatch_due().await.expect("the next round");

    for (letter, (message_id, _)) in about_petra.iter().zip(&before) {
        let (kept_id, text) = read_eml(&dir, letter);
        assert!(!text.contains("Petra") && !text.contains("Åkesson"), "{text}");
        assert!(text.contains("(raderad person)") && text.contains("Olle Berg"), "{text}");
        assert_eq!(&kept_id, message_id, "the same letter");
    }
    for (letter, bytes) in others.iter().zip(&others_before) {
        assert_eq!(&std::fs::read(dir.join(format!("{}.eml", letter.notice_id))).unwrap(), bytes, "untouched");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

// ----- 4. dates with guard rails -----

async fn plan(
    app: &kurslogg::app::Kurslogg,
    package: kurslogg_domain::PackageId,
    course: &kurslogg_domain::CourseCode,
    first: chrono::DateTime<chrono::Utc>,
) -> Result<kurslogg::app::Written, AppError> {
    let seats = kurslogg_domain::SeatLimit::new(5).unwrap();
    app.plan_offering(
        &course_office(),
        package,
        course.clone(),
        details("Planerad", sessions(first, 2, 1)),
        None,
        seats,
    )
    .await
}

/// A package whose deadline has passed, offerings whose sessions start before the
/// deadline or in the past, and a deadline moved past a session are refused with a clear
/// reason; a term that already took place is recorded with an explicit flag, which the
/// audit trail shows, and then runs as any other (registration, attendance, completion).
async fn scenario_dates_that_are_surely_mistakes_are_refused_and_the_past_can_be_recorded(backend: Backend) {
    let clock = TestClock::at(spring_2027());
    let (app, guard) = fresh_app(backend, &clock).await;
    let f = Fyrbodal::build(&app, 2).await;
    let u = f.uddevalla.clone();
    let office = course_office();
    let term = |t: &str| kurslogg_domain::Term::parse(t).unwrap();

    // VT2027's default deadline (15 December 2026) is gone, and so is an explicit one.
    let vt = app.create_package(&office, term("VT2027"), text("VT2027"), text("Fyrbodal"), None, false).await;
    assert_eq!(refusal(vt).0, "deadline_passed");
    let past = utc(2027, 2, 1, 12, 0);
    let explicit =
        app.create_package(&office, term("HT2027"), text("HT2027"), text("Fyrbodal"), Some(past), false).await;
    assert_eq!(refusal(explicit).0, "deadline_passed");

    // Sessions before HT2027's deadline (15 June), or moved there, are refused.
    let (code, message) = refusal(plan(&app, f.package, &f.lvu_grund_code, utc(2027, 6, 1, 7, 0)).await);
    assert_eq!(code, "session_before_deadline");
    assert!(!message.is_empty());
    let mut moved = details("Flyttad", sessions(utc(2027, 5, 3, 7, 0), 5, 7));
    moved.prerequisites = vec![];
    let revise = kurslogg_domain::offering::OfferingCommand::ReviseOffering { details: moved, window: None };
    assert_eq!(refusal(app.offering_command(&office, f.lvu_grund, revise).await).0, "session_before_deadline");
    // The deadline cannot move past the first session either.
    let change = kurslogg_domain::package::PackageCommand::ChangeDeadline {
        deadline: utc(2027, 9, 10, 12, 0),
        first_session: None,
    };
    assert_eq!(refusal(app.package_command(&office, f.package, change).await).0, "session_before_deadline");

    // After the deadline, a session that has already begun is refused.
    publish(&app, f.package).await;
    clock.set(utc(2027, 8, 20, 9, 0));
    app.close_registration(&office, f.package).await.expect("closed");
    assert_eq!(refusal(plan(&app, f.package, &f.lvu_grund_code, utc(2027, 8, 19, 7, 0)).await).0, "session_in_past");
    plan(&app, f.package, &f.lvu_grund_code, utc(2027, 8, 30, 7, 0)).await.expect("a new run after the deadline");

    // HT2026 took place before Kurslogg: recorded afterwards, it takes past dates.
    let recorded = app
        .create_package(&office, term("HT2026"), text("HT2026 (efterregistrering)"), text("Fyrbodal"), None, true)
        .await
        .expect("a past term recorded afterwards");
    let package: kurslogg_domain::PackageId = recorded.id.parse().unwrap();
    let held = plan(&app, package, &f.lvu_grund_code, utc(2026, 9, 7, 7, 0)).await.expect("a past run");
    let held: kurslogg_domain::OfferingId = held.id.parse().unwrap();
    publish(&app, package).await;
    let who = f.member(&u, 1);
    assert_eq!(
        app.register(&coordinator(&u), line(who, held)).await.expect("registered").status,
        LineStatus::Requested
    );
    app.close_registration(&office, package).await.expect("allocated");
    for session in 0..2 {
        app.record_attendance(&office, held, who, session, kurslogg_domain::Attendance::Present, None)
            .await
            .expect("attendance");
    }
    let complete = kurslogg_domain::offering::OfferingCommand::CompleteOffering;
    app.offering_command(&office, held, complete).await.expect("completed");
    let view = app.offering(held).await.unwrap();
    assert!(view.registrations.iter().any(|r| r.staff_id == who.to_string() && r.certificate.is_some()));
    let created = guard.events_of("package", &recorded.id).await;
    assert_eq!(created[0].event_type, "PackageCreated");
    assert_eq!(created[0].payload["PackageCreated"]["recorded_afterwards"], true, "the audit trail shows it");
}

// ----- 5. every write answers with its position -----

/// A command that writes answers with the log position of its last event, so a client
/// can wait for the views with `min_position`: closing registration (allocation), a
/// collective registration (its receipt) and attendance with a note (the note comes last).
async fn scenario_every_write_answers_with_its_position(backend: Backend) {
    let clock = TestClock::at(spring_2027());
    let (app, guard) = fresh_app(backend, &clock).await;
    let f = Fyrbodal::build(&app, 3).await;
    let u = f.uddevalla.clone();
    publish(&app, f.package).await;
    let receipt = app
        .register_collectively(&coordinator(&u), u.clone(), vec![line(f.member(&u, 1), f.lvu_grund)])
        .await
        .expect("registered");
    assert_eq!(receipt.position, Some(guard.max_position().await), "the receipt's event is the last written");

    clock.set(after_ht2027_deadline());
    let report = app.close_registration(&course_office(), f.package).await.expect("closed");
    assert_eq!(report.position, Some(guard.max_position().await), "allocation's last event");
    let events = guard.all_events().await;
    let last = events.iter().find(|e| e.event_type == "AllocationFinished").expect("allocation finished");
    assert_eq!(last.aggregate_id, f.package.to_string());

    clock.set(lvu_grund_first_session() + chrono::Duration::hours(1));
    let noted = app
        .record_attendance(
            &trainer(),
            f.lvu_grund,
            f.member(&u, 1),
            0,
            kurslogg_domain::Attendance::Absent,
            Some(text("Sjuk")),
        )
        .await
        .expect("recorded");
    assert_eq!(noted.position, Some(guard.max_position().await), "the note is the last event");
}

// ----- 6. Swedish where people read it -----

/// What a coordinator reads is Swedish: a refusal's message (the problem document's
/// `detail`), each refused line of a collective registration and the receipt letter; a
/// missing prerequisite is named. The codes stay the stable English ones.
async fn scenario_reasons_are_swedish_and_name_what_is_missing(backend: Backend) {
    let clock = TestClock::at(spring_2027());
    let (app, _guard) = fresh_app(backend, &clock).await;
    let f = Fyrbodal::build(&app, 3).await;
    let u = f.uddevalla.clone();
    publish(&app, f.package).await;
    app.staff_command(&coordinator(&u), f.member(&u, 2), StaffCommand::PauseStaffMember).await.expect("paused");

    let receipt = app
        .register_collectively(
            &coordinator(&u),
            u.clone(),
            vec![line(f.member(&u, 1), f.lvu_forts), line(f.member(&u, 2), f.samtal), line(f.member(&u, 1), f.samtal)],
        )
        .await
        .expect("answered line by line");
    let prerequisite = &receipt.lines[0];
    assert_eq!(prerequisite.code.as_deref(), Some("prerequisite_missing"));
    let reason = prerequisite.reason.as_deref().expect("a reason");
    assert!(reason.to_lowercase().contains("förkunskap") && reason.contains("LVU grund"), "names the course: {reason}");
    let paused = receipt.lines[1].reason.as_deref().expect("a reason");
    assert_eq!(receipt.lines[1].code.as_deref(), Some("staff_paused"));
    assert!(paused.contains("pausad"), "{paused}");

    let (code, message) = refusal(app.register(&coordinator(&u), line(f.member(&u, 2), f.samtal)).await);
    assert_eq!(code, "staff_paused");
    assert!(message.contains("pausad"), "{message}");
    let (code, message) = refusal(app.register(&coordinator(&u), line(StaffId::new(), f.samtal)).await);
    assert_eq!(code, "not_found");
    assert!(message.contains("finns inte"), "{message}");
    let office_only =
        kurslogg::app::RegistrationLine { override_prerequisites: true, ..line(f.member(&u, 1), f.lvu_forts) };
    match app.register(&coordinator(&u), office_only).await {
        Err(AppError::Forbidden(message)) => assert!(message.contains("kursadministrationen"), "{message}"),
        other => panic!("expected forbidden, got {other:?}"),
    }

    // The receipt letter says the same, naming the course.
    catch_up(&app).await;
    let filter = Filter { kind: Some("registration_receipt".into()), ..Filter::default() };
    let letters = outbox::list(&app.log.views(), &filter, 10).await.expect("outbox");
    let letter = app.written_letter(&letters[0]).await.expect("gathered").expect("written");
    assert!(letter.text.contains("LVU grund"), "{}", letter.text);
    assert!(letter.text.to_lowercase().contains("förkunskap"), "{}", letter.text);
    assert!(letter.text.contains("pausad"), "{}", letter.text);
}

// ----- 7. one kind of coordinator -----

async fn legacy_coordinator_account(
    app: &kurslogg::app::Kurslogg,
    login: &str,
    name: &str,
    municipality: &str,
) -> String {
    // As accounts were made before a coordinator was a staff member: bound to the
    // municipality only (below the application, as `kurslogg users create` and the API
    // then allowed).
    let new = kurslogg::auth::NewUser {
        login: login.into(),
        display_name: name.into(),
        role: kurslogg::app::Role::Coordinator,
        municipality: Some(municipality_id(municipality)),
        staff: None,
        password: None,
    };
    let system = kurslogg::app::Actor::system();
    app.auth.create_user(&system, &kurslogg::auth::Origin::default(), new).await.expect("legacy account").user_id
}

/// A coordinator is one person: a staff member of the municipality who holds the
/// coordinator role (and so gets the receipts and allocation letters) and who logs in
/// with a coordinator account bound to them. Accounts made before are joined to their
/// person by a migration that only appends events; a new coordinator account makes the
/// person a coordinator; taking the role away closes the account.
async fn scenario_a_coordinator_logs_in_and_gets_the_letters(backend: Backend) {
    let clock = TestClock::at(spring_2027());
    let (app, guard) = fresh_app(backend, &clock).await;
    let f = Fyrbodal::build(&app, 2).await;
    let u = f.uddevalla.clone();
    // Member 0 of Uddevalla holds the coordinator role (the fixture); their e-mail is
    // also the login of a legacy account. Another legacy account has no staff member.
    let same =
        legacy_coordinator_account(&app, "handlaggare0@uddevalla.example.se", "Handläggare 0", "uddevalla").await;
    let maria =
        legacy_coordinator_account(&app, "maria.svensson@uddevalla.example.se", "Maria Svensson", "uddevalla").await;
    let nameless = legacy_coordinator_account(&app, "ifo-chef-dals-ed", "IFO-chefen", "dals-ed").await;
    let events_before = guard.all_events().await;

    let report = app.unify_coordinators(&course_office()).await.expect("unified");
    assert_eq!((report.linked, report.added), (2, 1), "{report:?}");
    assert_eq!(report.left, vec!["ifo-chef-dals-ed".to_string()], "no e-mail to write to: left for the course office");
    let user = |id: String| {
        let app = &app;
        async move { app.auth.user(&id).await.unwrap().unwrap() }
    };
    assert_eq!(user(same.clone()).await.staff_id, Some(f.member(&u, 0).to_string()), "joined to the role holder");
    let maria_staff: StaffId = user(maria.clone()).await.staff_id.expect("a person now").parse().unwrap();
    assert_eq!(app.staff_member(maria_staff).await.unwrap().name.as_deref(), Some("Maria Svensson"));
    assert!(user(nameless).await.staff_id.is_none());
    let coordinators = app.municipality(&u).await.unwrap().coordinators;
    assert!(coordinators.contains(&maria_staff.to_string()) && coordinators.contains(&f.member(&u, 0).to_string()));
    // History is kept: the migration appended, and changed no event.
    let events_after = guard.all_events().await;
    for before in &events_before {
        assert!(events_after.iter().any(|e| e.aggregate_id == before.aggregate_id
            && e.sequence == before.sequence
            && e.payload == before.payload));
    }
    // Asked again, it has nothing to do.
    let again = app.unify_coordinators(&course_office()).await.expect("unified");
    assert_eq!((again.linked, again.added), (0, 0));
    assert_eq!(guard.all_events().await.len(), events_after.len());

    // Both coordinators get the receipt.
    publish(&app, f.package).await;
    app.register_collectively(&coordinator(&u), u.clone(), vec![line(f.member(&u, 1), f.samtal)]).await.unwrap();
    catch_up(&app).await;
    let filter = Filter { kind: Some("registration_receipt".into()), ..Filter::default() };
    let mut to: Vec<String> =
        outbox::list(&app.log.views(), &filter, 10).await.unwrap().into_iter().map(|l| l.recipient).collect();
    to.sort();
    let mut expected = vec![f.member(&u, 0).to_string(), maria_staff.to_string()];
    expected.sort();
    assert_eq!(to, expected);

    // A new coordinator account makes its person a coordinator, or names one.
    let origin = kurslogg::auth::Origin::default();
    let office = kurslogg::app::Actor::new("kurskansliet-anna", kurslogg::app::Role::CourseOffice);
    let new = |login: &str, staff: Option<StaffId>| kurslogg::auth::NewUser {
        login: login.into(),
        display_name: "Ny samordnare".into(),
        role: kurslogg::app::Role::Coordinator,
        municipality: Some(u.clone()),
        staff,
        password: None,
    };
    let nobody = app.create_user(&office, &origin, new("ny-samordnare", None)).await;
    assert!(matches!(nobody, Err(AppError::Validation(_))), "neither a person nor an e-mail: {nobody:?}");
    let made =
        app.create_user(&office, &origin, new("ny@uddevalla.example.se", Some(f.member(&u, 1)))).await.expect("made");
    assert!(app.municipality(&u).await.unwrap().coordinators.contains(&f.member(&u, 1).to_string()));

    // Taking the role away closes the login.
    app.set_role(
        &course_office(),
        u.clone(),
        f.member(&u, 1),
        kurslogg_domain::municipality::MunicipalRole::Coordinator,
        false,
    )
    .await
    .expect("revoked");
    assert!(user(made.user_id).await.disabled_at.is_some(), "no coordinator login without the role");
}

// ----- 8. a charged cancellation is told -----

/// When a confirmed seat is given up after the deadline, the municipality is charged: its
/// coordinators get a letter saying so, with the fee, and that a transfer to a colleague
/// would have been free; a free cancellation (a request) writes no such letter.
async fn scenario_a_charged_cancellation_is_told_to_the_coordinators(backend: Backend) {
    let clock = TestClock::at(spring_2027());
    let (app, _guard) = fresh_app(backend, &clock).await;
    let f = Fyrbodal::build(&app, 3).await;
    let u = f.uddevalla.clone();
    publish(&app, f.package).await;
    let lines = vec![line(f.member(&u, 1), f.samtal), line(f.member(&u, 2), f.lvu_grund)];
    app.register_collectively(&coordinator(&u), u.clone(), lines).await.expect("registered");
    app.cancel_registration(&coordinator(&u), f.lvu_grund, f.member(&u, 2)).await.expect("a free withdrawal");
    clock.set(after_ht2027_deadline());
    app.close_registration(&course_office(), f.package).await.expect("closed");
    app.cancel_registration(&coordinator(&u), f.samtal, f.member(&u, 1)).await.expect("a charged cancellation");
    catch_up(&app).await;

    let filter = Filter { kind: Some("cancellation_charged".into()), ..Filter::default() };
    let letters = outbox::list(&app.log.views(), &filter, 10).await.expect("outbox");
    assert_eq!(letters.len(), 1, "one letter, to Uddevalla's coordinator, for the charged one only: {letters:#?}");
    assert_eq!(letters[0].recipient, f.member(&u, 0).to_string());
    assert_eq!(letters[0].staff(), vec![f.member(&u, 1).to_string()]);
    let letter = app.written_letter(&letters[0]).await.expect("gathered").expect("written");
    assert!(letter.subject.contains("Samtal med barn"), "{}", letter.subject);
    let name = app.staff_member(f.member(&u, 1)).await.unwrap().name.expect("a name");
    for said in [name.as_str(), "Samtal med barn", "1\u{202f}800\u{a0}kr", "överl"] {
        assert!(letter.text.contains(said), "{said:?} in {}", letter.text);
    }
}
