//! Letters by e-mail, against a real SMTP server (`tests/smtp/sink.py`, aiosmtpd): the
//! supervisors' after-course summaries, receipts, allocation results, promotions,
//! cancellations and deadline reminders; a mail server that is down, a mailbox that
//! refuses, an audited resend, a rebuild that sends nothing again (and one that gets
//! further than the live projection had), and (PostgreSQL) two instances that send each
//! letter once.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use kurslogg::app::Kurslogg;
use kurslogg::config::SmtpSecurity;
use kurslogg::mail::dispatch::{DispatchReport, Dispatcher};
use kurslogg::mail::transport::Transport;
use kurslogg::scheduler::Scheduler;
use kurslogg_domain::municipality::MunicipalRole;
use kurslogg_domain::offering::OfferingCommand;
use kurslogg_domain::staff::StaffCommand;
use kurslogg_domain::{Attendance, MunicipalityId, OfferingId, StaffId};
use kurslogg_projections::outbox::{self, Filter, OutboxRow};
use kurslogg_tests::smtp::{mail_settings, Received, SinkOptions, SmtpSink};
use kurslogg_tests::{
    add_named_staff, after_ht2027_deadline, catch_up, conformance, coordinator, course_office, fresh_app, line,
    publish, spring_2027, staff_profile, text, trainer, utc, Backend, Fyrbodal, Guard, TestClock,
};

conformance!(
    summaries_reach_each_supervisor_once_with_their_own_staff,
    receipts_allocation_results_promotions_and_cancellations_reach_the_right_people,
    reminders_before_the_deadline_then_the_scheduler_closes_and_allocates,
    a_mail_server_that_is_down_loses_nothing_and_sends_once_when_back,
    a_refused_mailbox_fails_visibly_and_a_resend_is_audited,
    rebuilding_the_notices_sends_nothing_again,
    a_rebuild_ahead_of_the_live_notices_writes_their_letters_and_resends_once,
);

// ----- the world of these tests -----

fn dispatcher(app: &Arc<Kurslogg>, sink: &SmtpSink) -> Dispatcher {
    let settings = mail_settings(Some(sink.port));
    let transport = Transport::from_settings(&settings, &std::env::temp_dir()).expect("SMTP transport");
    Dispatcher::new(app.clone(), transport, settings)
}

async fn letters(app: &Kurslogg, kind: &str) -> Vec<OutboxRow> {
    let filter = Filter { kind: Some(kind.into()), ..Filter::default() };
    outbox::list(&app.log.views(), &filter, 10_000).await.expect("outbox")
}

async fn all_letters(app: &Kurslogg) -> Vec<OutboxRow> {
    outbox::list(&app.log.views(), &Filter::default(), 10_000).await.expect("outbox")
}

fn email_of(name: &str, municipality: &MunicipalityId) -> String {
    let local: String = name.to_lowercase().replace(' ', ".").replace(['å', 'ä'], "a").replace('ö', "o");
    format!("{local}@{municipality}.example.se")
}

/// Adds a named staff member (with a supervisor) and returns their id.
async fn person(app: &Kurslogg, municipality: &MunicipalityId, name: &str, supervisor: Option<StaffId>) -> StaffId {
    add_named_staff(app, municipality, name, &email_of(name, municipality), supervisor).await
}

/// Adds a supervisor (arbetsledare) to a municipality.
async fn supervisor(app: &Kurslogg, municipality: &MunicipalityId, name: &str) -> StaffId {
    let id = person(app, municipality, name, None).await;
    app.set_role(&coordinator(municipality), municipality.clone(), id, MunicipalRole::Supervisor, true)
        .await
        .expect("supervisor role");
    id
}

/// Records attendance at every session of `offering`: `present` sessions present, the
/// rest absent.
async fn attend(app: &Kurslogg, offering: OfferingId, staff: StaffId, sessions: usize, present: usize) {
    for session in 0..sessions {
        let mark = if session < present { Attendance::Present } else { Attendance::Absent };
        app.record_attendance(&trainer(), offering, staff, session, mark, None).await.expect("attendance");
    }
}

fn to(messages: &[Received], address: &str) -> Vec<Received> {
    messages.iter().filter(|m| m.rcpt_tos.iter().any(|r| r == address)).cloned().collect()
}

fn with_subject(messages: &[Received], prefix: &str) -> Vec<Received> {
    messages.iter().filter(|m| m.subject.starts_with(prefix)).cloned().collect()
}

/// Every Message-ID arrived once.
#[track_caller]
fn assert_each_once(messages: &[Received]) {
    let mut seen = BTreeMap::new();
    for m in messages {
        *seen.entry(m.message_id.clone()).or_insert(0) += 1;
    }
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "letters that arrived more than once: {twice:?}");
}

// ----- scenarios -----

/// LVU grund runs with people of two supervisors (and one with none); once attendance
/// is in after the last session, the scheduler completes it, and each supervisor gets
/// one summary listing their own staff: sessions attended of total, completed or not,
/// certificate number.
async fn summaries_reach_each_supervisor_once_with_their_own_staff(backend: Backend) {
    let clock = TestClock::at(spring_2027());
    let (app, _guard) = fresh_app(backend, &clock).await;
    let app = Arc::new(app);
    let world = Fyrbodal::build(&app, 1).await;
    let karin = supervisor(&app, &world.uddevalla, "Karin Persson").await;
    let omar = supervisor(&app, &world.trollhattan, "Omar Haddad").await;
    let anna = person(&app, &world.uddevalla, "Anna Lindqvist", Some(karin)).await;
    let erik = person(&app, &world.uddevalla, "Erik Johansson", Some(karin)).await;
    let sara = person(&app, &world.trollhattan, "Sara Nilsson", Some(omar)).await;
    let loner = person(&app, &world.trollhattan, "Lina Ek", None).await;
    publish(&app, world.package).await;
    app.register_collectively(
        &coordinator(&world.uddevalla),
        world.uddevalla.clone(),
        vec![line(anna, world.lvu_grund), line(erik, world.lvu_grund)],
    )
    .await
    .expect("Uddevalla registers");
    app.register_collectively(
        &coordinator(&world.trollhattan),
        world.trollhattan.clone(),
        vec![line(sara, world.lvu_grund), line(loner, world.lvu_grund)],
    )
    .await
    .expect("Trollhättan registers");
    clock.set(after_ht2027_deadline());
    app.close_registration(&course_office(), world.package).await.expect("allocation");

    // The course runs: five sessions, the last on 4 October 2027.
    clock.set(utc(2027, 10, 5, 9, 0));
    attend(&app, world.lvu_grund, anna, 5, 5).await;
    attend(&app, world.lvu_grund, erik, 5, 3).await;
    attend(&app, world.lvu_grund, sara, 5, 4).await;
    catch_up(&app).await;
    let scheduler = Scheduler::new(app.clone(), vec![14, 3]);
    let round = scheduler.round().await.expect("round");
    assert_eq!(round.completed, 0, "one participant's attendance is not in yet: no automatic completion");
    attend(&app, world.lvu_grund, loner, 5, 5).await;
    catch_up(&app).await;
    // A course that ended more than the look-back ago is left to the course office: a
    // service started on an old log does not complete (and mail about) last year's courses.
    clock.set(utc(2027, 12, 1, 9, 0));
    scheduler.round().await.expect("round");
    assert_eq!(app.offering(world.lvu_grund).await.expect("offering").state, "allocated", "not completed");
    clock.set(utc(2027, 10, 5, 9, 0));
    let round = scheduler.round().await.expect("round");
    assert_eq!(round.completed, 1, "attendance is in after the last session: completed automatically");
    catch_up(&app).await;

    let sink = SmtpSink::start();
    let report = dispatcher(&app, &sink).dispatch_due().await.expect("dispatch");
    assert_eq!(report.failed, 0, "{report:?}");
    let messages = sink.wait_for(report.sent, Duration::from_secs(10)).await;
    assert_eq!(messages.len(), report.sent, "every letter sent arrived");
    assert_each_once(&messages);

    let summaries = with_subject(&messages, "Sammanfattning: LVU grund");
    assert_eq!(summaries.len(), 2, "one summary per supervisor: {:#?}", summaries);
    let offering = app.offering(world.lvu_grund).await.expect("offering");
    let certificate = |staff: StaffId| {
        offering.registrations.iter().find(|r| r.staff_id == staff.to_string()).and_then(|r| r.certificate.clone())
    };

    let to_karin = to(&summaries, &email_of("Karin Persson", &world.uddevalla));
    assert_eq!(to_karin.len(), 1, "Karin's summary");
    let letter = &to_karin[0];
    assert_eq!(letter.content_type, "multipart/alternative", "HTML with a plain-text alternative");
    assert!(letter.subject.contains("HT2027"), "{}", letter.subject);
    assert!(letter.from.contains("kurser@fyrbodal.example.se"), "{}", letter.from);
    let text = letter.text.as_deref().expect("plain-text part");
    let html = letter.html.as_deref().expect("HTML part");
    for body in [text, html] {
        assert!(body.contains("Karin Persson"), "greets the supervisor:\n{body}");
        assert!(body.contains("Lena Lindqvist"), "names the trainer:\n{body}");
        assert!(body.contains("Gå igenom LVU-ärendenas dokumentation"), "the follow-up suggestion:\n{body}");
        assert!(!body.contains("Sara Nilsson") && !body.contains("Lina Ek"), "only Karin's own staff:\n{body}");
    }
    let line_of = |name: &str| {
        text.lines().find(|l| l.contains(name)).unwrap_or_else(|| panic!("no line for {name}:\n{text}")).to_string()
    };
    let anna_line = line_of("Anna Lindqvist");
    assert!(anna_line.contains("5 av 5") && anna_line.contains("Genomförd"), "{anna_line}");
    let anna_certificate = certificate(anna).expect("Anna completed");
    assert!(anna_line.contains(&anna_certificate), "{anna_line} has {anna_certificate}");
    let erik_line = line_of("Erik Johansson");
    assert!(erik_line.contains("3 av 5") && erik_line.contains("Ej genomförd"), "{erik_line}");
    assert!(certificate(erik).is_none(), "Erik fell below 80 %");
    assert!(html.contains("5 av 5") && html.contains("3 av 5") && html.contains(&anna_certificate), "{html}");

    let to_omar = to(&summaries, &email_of("Omar Haddad", &world.trollhattan));
    assert_eq!(to_omar.len(), 1, "Omar's summary");
    let text = to_omar[0].text.as_deref().expect("text");
    assert!(text.contains("Sara Nilsson") && text.contains("4 av 5"), "{text}");
    assert!(!text.contains("Anna Lindqvist") && !text.contains("Lina Ek"), "{text}");

    // The outbox remembers each letter as sent, with the Message-ID that went out.
    let rows = letters(&app, "course_summary").await;
    assert_eq!(rows.len(), 2);
    for row in &rows {
        assert_eq!(row.status, "sent", "{row:?}");
        let id = row.message_id.clone().expect("message id");
        assert!(summaries.iter().any(|m| m.message_id == id), "{id} arrived");
    }
    // Asking again sends nothing more.
    assert_eq!(dispatcher(&app, &sink).dispatch_due().await.expect("dispatch"), DispatchReport::default());
    assert_eq!(sink.messages().len(), messages.len());
}

/// Receipts go to the coordinator with every line (refused ones with why); the
/// allocation result goes to each municipality with people on the package; a promotion
/// to the person and their coordinator; a cancelled course to everyone on it and their
/// coordinators.
async fn receipts_allocation_results_promotions_and_cancellations_reach_the_right_people(backend: Backend) {
    let clock = TestClock::at(spring_2027());
    let (app, _guard) = fresh_app(backend, &clock).await;
    let app = Arc::new(app);
    let world = Fyrbodal::build(&app, 4).await;
    let coordinator_email = |m: &MunicipalityId| format!("handlaggare0@{m}.example.se");
    publish(&app, world.package).await;
    // Uddevalla asks for five seats on LVU grund (4 seats) and LVU fortsättning for one
    // who has not done grund (refused); Dals-Ed for one seat on Samtal med barn.
    let u = |n| world.member(&world.uddevalla, n);
    let mut lines: Vec<_> = (0..4).map(|n| line(u(n), world.lvu_grund)).collect();
    lines.push(line(u(1), world.lvu_forts));
    app.register_collectively(&coordinator(&world.uddevalla), world.uddevalla.clone(), lines)
        .await
        .expect("Uddevalla registers");
    // Dals-Ed's coordinator puts herself on Samtal med barn too.
    let d = world.member(&world.dals_ed, 1);
    let dals_ed_coordinator = world.member(&world.dals_ed, 0);
    let t = world.member(&world.trollhattan, 1);
    app.register_collectively(
        &coordinator(&world.dals_ed),
        world.dals_ed.clone(),
        vec![line(d, world.samtal), line(dals_ed_coordinator, world.samtal)],
    )
    .await
    .expect("Dals-Ed registers");
    app.register_collectively(
        &coordinator(&world.trollhattan),
        world.trollhattan.clone(),
        vec![line(t, world.lvu_grund)],
    )
    .await
    .expect("Trollhättan registers");
    clock.set(after_ht2027_deadline());
    app.close_registration(&course_office(), world.package).await.expect("allocation");
    // Someone with a seat cancels: the first on the waiting list is promoted.
    let offering = app.offering(world.lvu_grund).await.expect("offering");
    let waiting: Vec<String> =
        offering.registrations.iter().filter(|r| r.status == "waiting").map(|r| r.staff_id.clone()).collect();
    assert_eq!(waiting.len(), 1, "five asked for four seats");
    let holder =
        offering.registrations.iter().find(|r| r.status == "confirmed").expect("a seat holder").staff_id.clone();
    app.cancel_registration(&coordinator(&world.uddevalla), world.lvu_grund, holder.parse().expect("id"))
        .await
        .expect("cancel");
    // The organiser cancels Samtal med barn.
    let reason = text("Utbildaren är sjuk; kursen ges igen i vår.");
    app.offering_command(&course_office(), world.samtal, OfferingCommand::CancelOffering { reason })
        .await
        .expect("cancel offering");
    catch_up(&app).await;

    let sink = SmtpSink::start();
    let report = dispatcher(&app, &sink).dispatch_due().await.expect("dispatch");
    assert_eq!((report.deferred, report.failed), (0, 0), "{report:?}");
    let messages = sink.wait_for(report.sent, Duration::from_secs(10)).await;
    assert_eq!(messages.len(), report.sent);
    assert_each_once(&messages);

    // Receipts: one per collective registration, to that municipality's coordinator.
    let receipts = with_subject(&messages, "Kvitto på samlad anmälan");
    assert_eq!(receipts.len(), 3, "{receipts:#?}");
    let uddevalla_receipt = to(&receipts, &coordinator_email(&world.uddevalla));
    assert_eq!(uddevalla_receipt.len(), 1);
    let text = uddevalla_receipt[0].text.as_deref().expect("text");
    assert!(text.contains("Uddevalla"), "{text}");
    assert_eq!(text.matches("Mottagen –").count(), 4, "four lines received:\n{text}");
    assert!(text.contains("Ej registrerad"), "the LVU fortsättning line was refused:\n{text}");
    assert!(text.contains("Handläggare B i uddevalla – LVU fortsättning"), "{text}");

    // Allocation results: one per municipality with people on the package.
    let results = with_subject(&messages, "Resultat av platsfördelningen");
    let recipients: BTreeSet<String> = results.iter().flat_map(|m| m.rcpt_tos.clone()).collect();
    let expected: BTreeSet<String> =
        [&world.uddevalla, &world.trollhattan, &world.dals_ed].into_iter().map(coordinator_email).collect();
    assert_eq!(recipients, expected);
    assert_eq!(results.len(), 3);

    // The promotion: to the person and to their coordinator.
    let promoted: StaffId = waiting[0].parse().expect("id");
    let promoted_name = app.staff_member(promoted).await.expect("staff").name.expect("not erased");
    let promotions: Vec<_> =
        messages.iter().filter(|m| m.text.as_deref().is_some_and(|t| t.contains(&promoted_name))).collect();
    let promotion_recipients: BTreeSet<String> =
        letters(&app, "promotion").await.into_iter().map(|r| r.recipient).collect();
    let coordinator_of_promoted = world.member(&world.uddevalla, 0).to_string();
    assert!(promotion_recipients.contains(&promoted.to_string()), "the person is told");
    assert!(
        promotion_recipients.contains(&coordinator_of_promoted) || promoted.to_string() == coordinator_of_promoted,
        "their coordinator is told"
    );
    assert!(!promotions.is_empty());

    // The cancelled course: each person on it, and Dals-Ed's coordinator, who is on it
    // herself, gets her own letter and the municipality's (listing both).
    let cancelled = with_subject(&messages, "Inställd kurs");
    let dals_ed_person = format!("handlaggare1@{}.example.se", world.dals_ed);
    assert_eq!(to(&cancelled, &dals_ed_person).len(), 1);
    let to_coordinator = to(&cancelled, &coordinator_email(&world.dals_ed));
    assert_eq!(to_coordinator.len(), 2, "{to_coordinator:#?}");
    assert!(
        to_coordinator.iter().any(|m| m
            .text
            .as_deref()
            .is_some_and(|t| t.contains("Handläggare A i dals-ed") && t.contains("Handläggare B i dals-ed"))),
        "the municipality's letter lists both: {to_coordinator:#?}"
    );
    assert_eq!(cancelled.len(), 3);
    for letter in &cancelled {
        assert!(letter.text.as_deref().is_some_and(|t| t.contains("Utbildaren är sjuk")), "{letter:?}");
    }
}

/// Fourteen days before the deadline every coordinator of a municipality that has not
/// registered is reminded, once; three days before, only those still silent; after the
/// deadline the scheduler closes registration and allocates, and the results go out.
async fn reminders_before_the_deadline_then_the_scheduler_closes_and_allocates(backend: Backend) {
    let clock = TestClock::at(spring_2027());
    let (app, _guard) = fresh_app(backend, &clock).await;
    let app = Arc::new(app);
    let world = Fyrbodal::build(&app, 2).await;
    publish(&app, world.package).await;
    let scheduler = Scheduler::new(app.clone(), vec![14, 3]);
    catch_up(&app).await;
    assert_eq!(scheduler.round().await.expect("round").reminders, 0, "months before the deadline: no reminder");

    // 5 June 2027: ten days before the deadline of 15 June.
    let sink = SmtpSink::start();
    let dispatcher = dispatcher(&app, &sink);
    clock.set(utc(2027, 6, 5, 8, 0));
    assert_eq!(scheduler.round().await.expect("round").reminders, 3, "all three have yet to register");
    assert_eq!(scheduler.round().await.expect("round").reminders, 0, "each reminder is written once");
    assert_eq!(dispatcher.dispatch_due().await.expect("dispatch").sent, 3);
    let member = world.member(&world.uddevalla, 1);
    app.register_collectively(
        &coordinator(&world.uddevalla),
        world.uddevalla.clone(),
        vec![line(member, world.samtal)],
    )
    .await
    .expect("Uddevalla registers");
    catch_up(&app).await;
    // 13 June: the three-day reminder, to the two still silent.
    clock.set(utc(2027, 6, 13, 8, 0));
    assert_eq!(scheduler.round().await.expect("round").reminders, 2);
    let reminders = letters(&app, "deadline_reminder").await;
    let days: BTreeMap<String, Vec<i64>> = reminders.iter().fold(BTreeMap::new(), |mut by, r| {
        by.entry(r.municipality.clone().unwrap_or_default()).or_default().push(r.details["days"].as_i64().unwrap_or(0));
        by
    });
    assert_eq!(days[world.uddevalla.as_str()], vec![14]);
    assert_eq!(days[world.trollhattan.as_str()].iter().copied().collect::<BTreeSet<_>>(), BTreeSet::from([14, 3]));
    let report = dispatcher.dispatch_due().await.expect("dispatch");
    assert_eq!(report.sent, 2 + 1, "two reminders and Uddevalla's receipt: {report:?}");

    let messages = sink.messages();
    assert_each_once(&messages);
    let reminders = with_subject(&messages, "Påminnelse");
    assert_eq!(reminders.len(), 5);
    let to_dals_ed = to(&reminders, &format!("handlaggare0@{}.example.se", world.dals_ed));
    assert_eq!(to_dals_ed.len(), 2);
    let text = to_dals_ed.into_iter().filter_map(|m| m.text).collect::<Vec<_>>().join("\n---\n");
    assert!(text.contains("Dals-Ed") && text.contains("LVU grund") && text.contains("Samtal med barn"), "{text}");
    // Days left as they were when each went out: 10 on 5 June, 2 on 13 June (at 23.59 on the 15th).
    assert!(text.contains("10 dagar") && text.contains("2 dagar"), "{text}");

    // After the deadline the scheduler closes and allocates; nothing is left to close.
    clock.set(after_ht2027_deadline());
    let round = scheduler.round().await.expect("round");
    assert_eq!(round.closed, 1);
    catch_up(&app).await;
    assert_eq!(scheduler.round().await.expect("round").closed, 0, "closed once");
    let package = app.package(world.package).await.expect("package");
    assert_eq!(package.phase, "registration_closed");
    dispatcher.dispatch_due().await.expect("dispatch");
    let messages = sink.messages();
    assert_each_once(&messages);
    let results = with_subject(&messages, "Resultat av platsfördelningen");
    assert_eq!(results.len(), 1, "only Uddevalla had people on the package");
    assert_eq!(results[0].rcpt_tos, vec![format!("handlaggare0@{}.example.se", world.uddevalla)]);
}

/// The mail server is down when the course is completed: nothing is lost (the letters
/// wait in the outbox with the reason); once it is back, each arrives exactly once.
async fn a_mail_server_that_is_down_loses_nothing_and_sends_once_when_back(backend: Backend) {
    let (app, _guard, world) = completed_course(backend, "Karin Persson").await;
    let mut sink = SmtpSink::stopped_with(SinkOptions::default());
    let dispatcher = dispatcher(&app, &sink);
    let report = dispatcher.dispatch_due().await.expect("dispatch");
    assert_eq!(report.sent, 0);
    assert!(report.deferred > 0, "{report:?}");
    // The first letter found the server down; the rest wait for the next round.
    let pending = all_letters(&app).await;
    assert!(pending.iter().all(|r| r.status == "pending"), "{pending:#?}");
    let tried: Vec<_> = pending.iter().filter(|r| r.attempts > 0).collect();
    assert_eq!(tried.len(), 1, "{pending:#?}");
    assert!(tried[0].last_error.as_deref().is_some_and(|e| e.contains("mail server")), "{tried:#?}");

    sink.resume();
    // The retry waits for its backoff (100 ms here): until then nothing is due.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let report = dispatcher.dispatch_due().await.expect("dispatch");
    assert_eq!(report.sent, pending.len(), "{report:?}");
    let messages = sink.wait_for(pending.len(), Duration::from_secs(10)).await;
    assert_eq!(messages.len(), pending.len(), "every letter arrived");
    assert_each_once(&messages);
    assert_eq!(with_subject(&messages, "Sammanfattning").len(), 1);
    let _ = world;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(dispatcher.dispatch_due().await.expect("dispatch").sent, 0);
    assert_eq!(sink.messages().len(), messages.len(), "nothing twice");
}

/// A mailbox the server refuses (550) fails the letter for good, visibly, with the
/// reason; after the address is corrected the course office resends it, the request is
/// in the audit trail, and the letter arrives as a new message.
async fn a_refused_mailbox_fails_visibly_and_a_resend_is_audited(backend: Backend) {
    let (app, guard, world) = completed_course(backend, "reject Karin").await;
    let sink = SmtpSink::start();
    let dispatcher = dispatcher(&app, &sink);
    let report = dispatcher.dispatch_due().await.expect("dispatch");
    assert_eq!(report.failed, 1, "{report:?}");
    let failed = outbox::list(&app.log.views(), &Filter { status: Some("failed".into()), ..Filter::default() }, 100)
        .await
        .expect("outbox");
    assert_eq!(failed.len(), 1);
    let notice = failed[0].clone();
    assert_eq!(notice.kind, "course_summary");
    assert!(notice.last_error.as_deref().is_some_and(|e| e.contains("550")), "{notice:?}");
    assert!(!notice.last_error.as_deref().unwrap_or_default().contains('@'), "no address in the outbox: {notice:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(dispatcher.dispatch_due().await.expect("dispatch").sent, 0, "a failed letter is not retried by itself");

    // The address is corrected and the letter resent.
    let supervisor: StaffId = notice.recipient.parse().expect("id");
    let corrected = staff_profile("Karin Persson", &email_of("Karin Persson", &world.uddevalla), None);
    app.staff_command(
        &coordinator(&world.uddevalla),
        supervisor,
        StaffCommand::UpdateStaffMember { profile: corrected },
    )
    .await
    .expect("correct the address");
    let written =
        app.resend_notice(&course_office(), &notice.notice_id, text("Rättad e-postadress")).await.expect("resend");
    assert!(written.position.is_some());
    catch_up(&app).await;
    let report = dispatcher.dispatch_due().await.expect("dispatch");
    assert_eq!(report.sent, 1, "{report:?}");
    let arrived = with_subject(&sink.messages(), "Sammanfattning");
    assert_eq!(arrived.len(), 1);
    assert_eq!(arrived[0].rcpt_tos, vec![email_of("Karin Persson", &world.uddevalla)]);
    assert!(
        arrived[0].message_id.contains(&format!("{}.1@", notice.notice_id)),
        "a new message: {}",
        arrived[0].message_id
    );
    let sent = outbox::get(&app.log.views(), &notice.notice_id).await.expect("outbox").expect("notice");
    assert_eq!((sent.status.as_str(), sent.generation), ("sent", 1));

    // Who asked, when, why and in which request is in the log.
    let events = guard.events_of("notice", &notice.notice_id).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event_type, "NoticeResendRequested");
    assert_eq!(events[0].metadata["actor_id"], "kurskansliet-anna");
    assert!(events[0].payload.to_string().contains("Rättad e-postadress"));

    // An unknown notice cannot be resent.
    let unknown = app.resend_notice(&course_office(), "no-such-notice", text("?")).await;
    assert_eq!(kurslogg_tests::refusal_code(unknown), "not_found");
}

/// Rebuilding the notices projection finds every letter again and sends none twice.
async fn rebuilding_the_notices_sends_nothing_again(backend: Backend) {
    let (app, _guard, _world) = completed_course(backend, "Karin Persson").await;
    let sink = SmtpSink::start();
    let dispatcher = dispatcher(&app, &sink);
    let first = dispatcher.dispatch_due().await.expect("dispatch");
    assert!(first.sent > 0);
    let before = all_letters(&app).await;
    kurslogg::views::rebuild(&app.log.views(), Some("notices")).await.expect("rebuild");
    assert_eq!(all_letters(&app).await, before, "the same letters, still sent");
    assert_eq!(dispatcher.dispatch_due().await.expect("dispatch"), DispatchReport::default());
    assert_eq!(sink.messages().len(), first.sent);
}

/// A rebuild that gets further than the live notices projection had (its runner was
/// behind) writes the letters of the events in between, once, and carries out the resend
/// requests among them; the live projection then writes none of them again.
async fn a_rebuild_ahead_of_the_live_notices_writes_their_letters_and_resends_once(backend: Backend) {
    let (app, _guard, _world) = course_completed_unseen(backend, "Karin Persson").await;
    assert!(all_letters(&app).await.is_empty(), "no letter before the notices projection has run");
    kurslogg::views::rebuild(&app.log.views(), Some("notices")).await.expect("rebuild");
    let written = all_letters(&app).await;
    let ids: BTreeSet<&str> = written.iter().map(|l| l.notice_id.as_str()).collect();
    assert_eq!(ids.len(), written.len(), "each letter once");
    let kinds: BTreeSet<&str> = written.iter().map(|l| l.kind.as_str()).collect();
    assert_eq!(kinds, BTreeSet::from(["allocation_result", "course_summary", "registration_receipt"]));
    assert!(written.iter().all(|l| l.status == "pending" && l.generation == 0), "{written:?}");
    let summaries = letters(&app, "course_summary").await;
    assert_eq!(summaries.len(), 1, "one summary, to Karin: {summaries:?}");

    let sink = SmtpSink::start();
    let dispatcher = dispatcher(&app, &sink);
    assert_eq!(dispatcher.dispatch_due().await.expect("dispatch").sent, written.len());
    catch_up(&app).await;
    assert_eq!(all_letters(&app).await.len(), written.len(), "the live projection writes none again");
    assert_eq!(dispatcher.dispatch_due().await.expect("dispatch"), DispatchReport::default());

    // A resend is asked for, and the views are rebuilt before the live projection sees it.
    let summary = &summaries[0];
    app.resend_notice(&course_office(), &summary.notice_id, text("Bilagan saknades")).await.expect("resend");
    kurslogg::views::rebuild(&app.log.views(), Some("notices")).await.expect("rebuild");
    let due = outbox::get(&app.log.views(), &summary.notice_id).await.expect("outbox").expect("notice");
    assert_eq!((due.status.as_str(), due.generation), ("pending", 1));
    assert_eq!(dispatcher.dispatch_due().await.expect("dispatch").sent, 1);
    let resent = with_subject(&sink.messages(), "Sammanfattning");
    assert_eq!(resent.len(), 2, "the summary, then once more");
    assert!(resent[1].message_id.contains(&format!("{}.1@", summary.notice_id)), "{}", resent[1].message_id);
    catch_up(&app).await;
    kurslogg::views::rebuild(&app.log.views(), Some("notices")).await.expect("rebuild");
    assert_eq!(dispatcher.dispatch_due().await.expect("dispatch"), DispatchReport::default());
    assert_eq!(sink.messages().len(), written.len() + 1);
}

/// A course completed with one Uddevalla participant whose supervisor is named
/// `supervisor_name` (an address starting "reject" is refused by the test server).
async fn completed_course(backend: Backend, supervisor_name: &str) -> (Arc<Kurslogg>, Guard, Fyrbodal) {
    let (app, guard, world) = course_completed_unseen(backend, supervisor_name).await;
    catch_up(&app).await;
    (app, guard, world)
}

/// [`completed_course`] before any projection has seen it: the events are in the log, no
/// letter is written yet.
async fn course_completed_unseen(backend: Backend, supervisor_name: &str) -> (Arc<Kurslogg>, Guard, Fyrbodal) {
    let clock = TestClock::at(spring_2027());
    let (app, guard) = fresh_app(backend, &clock).await;
    let app = Arc::new(app);
    let world = Fyrbodal::build(&app, 1).await;
    let boss = supervisor(&app, &world.uddevalla, supervisor_name).await;
    let anna = person(&app, &world.uddevalla, "Anna Lindqvist", Some(boss)).await;
    publish(&app, world.package).await;
    app.register_collectively(&coordinator(&world.uddevalla), world.uddevalla.clone(), vec![line(anna, world.samtal)])
        .await
        .expect("register");
    clock.set(after_ht2027_deadline());
    app.close_registration(&course_office(), world.package).await.expect("allocation");
    clock.set(utc(2027, 10, 13, 9, 0));
    attend(&app, world.samtal, anna, 2, 2).await;
    app.offering_command(&course_office(), world.samtal, OfferingCommand::CompleteOffering).await.expect("complete");
    (app, guard, world)
}

/// Two instances over one PostgreSQL database, each with its dispatcher running, send
/// every letter exactly once: one holds the mailer's lock, the other stands by.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_send_each_letter_once() {
    if kurslogg_tests::postgres_skipped() {
        return;
    }
    let clock = TestClock::at(spring_2027());
    let (first, guard) = fresh_app(Backend::Postgres, &clock).await;
    let first = Arc::new(first);
    let world = Fyrbodal::build(&first, 8).await;
    publish(&first, world.package).await;
    // Every member registers on everything that has room: a receipt per registration,
    // and results after allocation.
    for municipality in [&world.uddevalla, &world.trollhattan, &world.dals_ed] {
        for n in 1..8 {
            for offering in [world.lvu_grund, world.samtal] {
                app_register(&first, municipality, world.member(municipality, n), offering).await;
            }
        }
    }
    clock.set(after_ht2027_deadline());
    first.close_registration(&course_office(), world.package).await.expect("allocation");
    catch_up(&first).await;
    let expected = all_letters(&first).await.len();
    assert!(expected > 40, "{expected} letters");

    let sink = SmtpSink::start_with(SinkOptions { delay: 0.01, ..SinkOptions::default() });
    let second = Arc::new(guard.open(&clock).await);
    let a = tokio::spawn(dispatcher(&first, &sink).run(Duration::from_millis(20)));
    let b = tokio::spawn(dispatcher(&second, &sink).run(Duration::from_millis(20)));
    let messages = sink.wait_for(expected, Duration::from_secs(60)).await;
    // Give a second sender, if there were one, time to send its copies.
    tokio::time::sleep(Duration::from_millis(500)).await;
    a.abort();
    b.abort();
    let messages = if sink.messages().len() > messages.len() { sink.messages() } else { messages };
    assert_eq!(messages.len(), expected, "every letter once");
    assert_each_once(&messages);
    let unsent: Vec<_> = all_letters(&first).await.into_iter().filter(|r| r.status != "sent").collect();
    assert!(unsent.is_empty(), "{unsent:#?}");
}

async fn app_register(app: &Kurslogg, municipality: &MunicipalityId, staff: StaffId, offering: OfferingId) {
    app.register_collectively(&coordinator(municipality), municipality.clone(), vec![line(staff, offering)])
        .await
        .expect("register");
}

/// Over STARTTLS with a login, as to a municipality's relay: the server's certificate is
/// checked against the configured CA (here the server's own self-signed certificate),
/// and a wrong password is refused and the letter waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn letters_go_over_starttls_with_credentials() {
    let (app, _guard, _world) = completed_course(Backend::Sqlite, "Karin Persson").await;
    let (dir, cert, key) = localhost_certificate();
    let sink = SmtpSink::start_with(SinkOptions {
        tls: Some((cert.clone(), key)),
        auth: Some(("kurslogg".into(), "hemligt".into())),
        ..SinkOptions::default()
    });
    let settings = |password: &str| {
        let mut settings = mail_settings(Some(sink.port));
        let smtp = settings.smtp.as_mut().expect("smtp");
        smtp.host = "localhost".into();
        smtp.security = SmtpSecurity::Starttls;
        smtp.ca_file = Some(cert.clone());
        smtp.username = Some("kurslogg".into());
        smtp.password = Some(serde_json::from_value(serde_json::json!(password)).expect("secret"));
        settings
    };
    let send = |password: &str| {
        let settings = settings(password);
        let transport = Transport::from_settings(&settings, &dir).expect("transport");
        Dispatcher::new(app.clone(), transport, settings)
    };
    // A wrong password sends nothing; the letter waits (and the dispatcher is not stuck).
    let refused = tokio::time::timeout(Duration::from_secs(30), send("fel").dispatch_due())
        .await
        .expect("a refused login does not stop the dispatcher")
        .expect("dispatch");
    assert_eq!(refused.sent, 0, "{refused:?}");
    assert!(sink.messages().is_empty());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let report = tokio::time::timeout(Duration::from_secs(20), send("hemligt").dispatch_due())
        .await
        .expect("sent within 20 s")
        .expect("dispatch");
    assert!(report.sent > 0, "{report:?}");
    let messages = sink.wait_for(report.sent, Duration::from_secs(10)).await;
    assert!(!messages.is_empty());
    assert!(messages.iter().all(|m| m.tls && m.authenticated), "{messages:#?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Implicit TLS (as on port 465): the connection is encrypted from the first byte.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn letters_go_over_implicit_tls() {
    let (app, _guard, _world) = completed_course(Backend::Sqlite, "Karin Persson").await;
    let (dir, cert, key) = localhost_certificate();
    let sink = SmtpSink::start_with(SinkOptions {
        tls: Some((cert.clone(), key)),
        implicit_tls: true,
        ..SinkOptions::default()
    });
    let mut settings = mail_settings(Some(sink.port));
    let smtp = settings.smtp.as_mut().expect("smtp");
    smtp.host = "localhost".into();
    smtp.security = SmtpSecurity::Tls;
    smtp.ca_file = Some(cert.clone());
    let transport = Transport::from_settings(&settings, &dir).expect("transport");
    let report =
        tokio::time::timeout(Duration::from_secs(20), Dispatcher::new(app.clone(), transport, settings).dispatch_due())
            .await
            .expect("sent within 20 s")
            .expect("dispatch");
    assert!(report.sent > 0, "{report:?}");
    let messages = sink.wait_for(report.sent, Duration::from_secs(10)).await;
    assert_eq!(messages.len(), report.sent);
    assert!(messages.iter().all(|m| m.tls), "{messages:#?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A self-signed certificate for `localhost` and its key, as PEM files in a new directory
/// (returned first, for the caller to remove).
fn localhost_certificate() -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("certificate");
    let dir = std::env::temp_dir().join(format!("kl-tls-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("dir");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, certified.cert.pem()).expect("cert");
    std::fs::write(&key, certified.key_pair.serialize_pem()).expect("key");
    (dir, cert, key)
}

/// Two instances over one PostgreSQL database, each with its scheduler running: each
/// reminder is written once, and the deadline closes registration and finishes the
/// allocation once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_schedule_each_job_once() {
    if kurslogg_tests::postgres_skipped() {
        return;
    }
    let clock = TestClock::at(spring_2027());
    let (first, guard) = fresh_app(Backend::Postgres, &clock).await;
    let first = Arc::new(first);
    let world = Fyrbodal::build(&first, 2).await;
    publish(&first, world.package).await;
    kurslogg::views::spawn_runners(&first.log.views());
    let second = Arc::new(guard.open(&clock).await);
    clock.set(utc(2027, 6, 5, 8, 0));
    let a = tokio::spawn(Scheduler::new(first.clone(), vec![14, 3]).run(Duration::from_millis(20)));
    let b = tokio::spawn(Scheduler::new(second.clone(), vec![14, 3]).run(Duration::from_millis(20)));

    let until = |deadline: std::time::Instant| std::time::Instant::now() < deadline;
    let limit = std::time::Instant::now() + Duration::from_secs(20);
    while letters(&first, "deadline_reminder").await.len() < 3 && until(limit) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(letters(&first, "deadline_reminder").await.len(), 3, "one reminder per silent municipality");

    clock.set(after_ht2027_deadline());
    let limit = std::time::Instant::now() + Duration::from_secs(20);
    let finished = |events: &[kurslogg_tests::StoredEvent]| events.iter().any(|e| e.event_type == "AllocationFinished");
    while !finished(&guard.events_of("package", &world.package.to_string()).await) && until(limit) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    a.abort();
    b.abort();
    let events = guard.events_of("package", &world.package.to_string()).await;
    let count = |kind: &str| events.iter().filter(|e| e.event_type == kind).count();
    assert_eq!((count("RegistrationClosed"), count("AllocationFinished")), (1, 1), "closed and allocated once");
    for offering in [world.lvu_grund, world.samtal, world.lvu_forts] {
        let allocations = guard
            .events_of("offering", &offering.to_string())
            .await
            .iter()
            .filter(|e| e.event_type == "SeatsAllocated")
            .count();
        assert_eq!(allocations, 1, "each offering allocated once");
    }
}
