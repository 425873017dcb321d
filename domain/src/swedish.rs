//! The Swedish catalogue: every reason a person reads when Kurslogg says no, written
//! once (DOMAIN.md: text that participants, coordinators and supervisors read is in
//! Swedish). Problem documents, the line-by-line answer of a collective registration, the
//! receipt letter and the web pages all take their sentences from here; each names what
//! is missing and, where there is something to do, what to do.
//!
//! The refusals' codes stay the stable English ones (`prerequisite_missing`, …): they are
//! the API's contract. The `#[error]` texts of the error types stay English: they are for
//! logs and developers.

use crate::competence::CompetencePlanError;
use crate::course::CourseError;
use crate::municipality::MunicipalityError;
use crate::offering::OfferingError;
use crate::package::{PackageError, PackagePhase};
use crate::staff::StaffError;
use crate::{CourseCode, MAX_SESSIONS};

/// A course as a reason names it: its title and code, e.g. "LVU grund (LVU-GRUND)"; the
/// code alone when the title is not at hand.
pub fn course(code: &CourseCode, title: Option<&str>) -> String {
    match title {
        Some(title) => format!("{title} ({code})"),
        None => code.to_string(),
    }
}

/// Unmet prerequisites, each course named (see [`course`]).
pub fn prerequisites_missing(courses: &[String]) -> String {
    match courses {
        [one] => format!(
            "Förkunskapskrav saknas: {one} ska vara genomgången först. Anmäl personen till den kursen, eller be \
             kursadministrationen om ett undantag."
        ),
        many => format!(
            "Förkunskapskrav saknas: {} ska vara genomgångna först. Anmäl personen till de kurserna, eller be \
             kursadministrationen om ett undantag.",
            and_list(many)
        ),
    }
}

/// "a, b och c".
fn and_list(items: &[String]) -> String {
    match items.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} och {last}", rest.join(", ")),
    }
}

/// Why an offering refuses. Prerequisites are named by code here; the services layer,
/// which can read the courses' titles, says [`prerequisites_missing`] with titles.
pub fn offering(error: &OfferingError) -> String {
    use OfferingError as E;
    match error {
        E::NotFound => not_found("course offering"),
        E::AlreadyExists => "Kurstillfället finns redan.".into(),
        E::NoSessions => "Ett kurstillfälle behöver minst ett kurstillfälle i schemat (en session).".into(),
        E::TooManySessions => format!("Ett kurstillfälle kan ha högst {MAX_SESSIONS} sessioner."),
        E::OwnPrerequisite => "En kurs kan inte vara förkunskapskrav för sig själv.".into(),
        E::RegistrationNotOpen => {
            "Anmälan har inte öppnat: kurspaketet är inte publicerat än. Vänta tills kursadministrationen \
             publicerar det."
                .into()
        }
        E::PackageArchived => "Kurspaketet är avslutat och tar inte emot fler anmälningar.".into(),
        E::LateRegistrationClosed => {
            "Anmälan stängde när det första kurstillfället började; ingen kan längre anmälas till kursen. \
             Anmäl personen till ett senare tillfälle av kursen."
                .into()
        }
        E::SessionBeforeDeadline => {
            "Ett kurstillfälle börjar före sista anmälningsdag. Platserna fördelas vid sista anmälningsdag: \
             lägg kurstillfällena efter den, eller flytta sista anmälningsdag."
                .into()
        }
        E::SessionInPast => {
            "Ett kurstillfälle börjar i det förflutna. Ange ett kommande datum, eller registrera en termin som \
             redan har varit som efterregistrering (recorded_afterwards)."
                .into()
        }
        E::DeadlineNotPassed => "Sista anmälningsdag har inte passerat än; platserna fördelas efter den.".into(),
        E::AlreadyAllocated => "Platserna på kurstillfället är redan fördelade.".into(),
        E::OfferingCancelled => "Kurstillfället är inställt av arrangören.".into(),
        E::OfferingCompleted => "Kurstillfället är redan genomfört och avslutat.".into(),
        E::StaffPaused => {
            "Personen är pausad och kan inte anmälas just nu. Återaktivera personen först om hen ska gå kursen.".into()
        }
        E::StaffRemoved => "Personen har slutat och kan inte anmälas.".into(),
        E::StaffErased => "Personens uppgifter har raderats; hen kan inte anmälas.".into(),
        E::AlreadyRegistered => "Personen är redan anmäld till kurstillfället.".into(),
        E::NotRegistered => "Personen har ingen anmälan till kurstillfället.".into(),
        E::PrerequisiteMissing(codes) => {
            prerequisites_missing(&codes.iter().map(|c| course(c, None)).collect::<Vec<_>>())
        }
        E::TransferOutsideMunicipality => "En plats kan bara överlåtas till en person i samma kommun.".into(),
        E::TransferToSelf => "Platsen kan inte överlåtas till den som redan har den.".into(),
        E::NotAParticipant => "Närvaro registreras bara för deltagare med bekräftad plats.".into(),
        E::UnknownSession(n) => format!("Kurstillfället har ingen session nummer {n}."),
        E::SessionNotStarted => "Närvaro kan bara registreras för sessioner som har börjat.".into(),
        E::SessionsNotOver => "Kurstillfällets sista session har inte slutat än.".into(),
        E::SeatLimitBelowConfirmed(n) => {
            format!("Antalet platser kan inte bli färre än de {n} som redan är bekräftade.")
        }
        E::AttendanceAlreadyRecorded => "Sessionerna kan inte ändras när närvaro redan har registrerats.".into(),
        E::SeatsNotAllocated => "Platserna är inte fördelade än: stäng anmälan först.".into(),
        E::NoCertificate => "Personen har inget intyg från kurstillfället.".into(),
    }
}

/// A package's phase, as a sentence says it.
fn phase(phase: PackagePhase) -> &'static str {
    match phase {
        PackagePhase::Draft => "ett utkast",
        PackagePhase::Published => "publicerat",
        PackagePhase::RegistrationClosed => "stängt för anmälan",
        PackagePhase::Archived => "avslutat",
    }
}

/// Why a package refuses.
pub fn package(error: &PackageError) -> String {
    match error {
        PackageError::NotFound => not_found("course package"),
        PackageError::AlreadyExists => "Kurspaketet finns redan.".into(),
        PackageError::WrongPhase { phase: current, what } => {
            let what = match *what {
                "the deadline can only move before registration closes" => {
                    "sista anmälningsdag kan bara flyttas innan anmälan stänger"
                }
                "an archived package takes no new offerings" => "ett avslutat paket tar inte emot nya kurstillfällen",
                "only a draft can be published" => "bara ett utkast kan publiceras",
                "only a published package can close registration" => "bara ett publicerat paket kan stänga anmälan",
                "seats are allocated only after registration closes" => {
                    "platserna fördelas först när anmälan har stängt"
                }
                "only a package whose registration has closed can be archived" => {
                    "bara ett paket vars anmälan har stängt kan avslutas"
                }
                other => other,
            };
            format!("Kurspaketet är {}: {what}.", phase(*current))
        }
        PackageError::NoOfferings => "Lägg till minst ett kurstillfälle innan kurspaketet publiceras.".into(),
        PackageError::DeadlinePassed => {
            "Sista anmälningsdag har redan passerat. Välj ett kommande datum, eller registrera en termin som redan \
             har varit som efterregistrering (recorded_afterwards)."
                .into()
        }
        PackageError::SessionBeforeDeadline => {
            "Sista anmälningsdag måste ligga före paketets första kurstillfälle.".into()
        }
        PackageError::DeadlineNotPassed => {
            "Sista anmälningsdag har inte passerat än; anmälan stänger efter den.".into()
        }
    }
}

/// Why a staff member's record refuses.
pub fn staff(error: &StaffError) -> String {
    match error {
        StaffError::NotFound => not_found("staff member"),
        StaffError::AlreadyExists => "Personen finns redan.".into(),
        StaffError::Removed => "Personen har slutat; uppgifterna kan inte längre ändras.".into(),
        StaffError::Erased => "Personens uppgifter har raderats; inget mer kan göras med hen.".into(),
        StaffError::OwnSupervisor => "En person kan inte vara sin egen arbetsledare.".into(),
    }
}

/// Why a municipality refuses.
pub fn municipality(error: &MunicipalityError) -> String {
    match error {
        MunicipalityError::NotFound => not_found("municipality"),
        MunicipalityError::AlreadyExists => "Kommunen finns redan.".into(),
        MunicipalityError::StaffOfOtherMunicipality => staff_of_other_municipality(),
    }
}

/// Why the course catalogue refuses.
pub fn catalogue(error: &CourseError) -> String {
    match error {
        CourseError::NotFound => not_found("course"),
        CourseError::AlreadyExists => "Det finns redan en kurs med den koden.".into(),
        CourseError::OwnPrerequisite => "En kurs kan inte vara förkunskapskrav för sig själv.".into(),
    }
}

/// Why a competence plan is refused. These refusals are written in Swedish where they are
/// declared (`CompetencePlanError`'s messages, which the course office reads).
pub fn competence_plan(error: &CompetencePlanError) -> String {
    error.to_string()
}

/// Something asked for that does not exist (`what` as the services layer names it).
pub fn not_found(what: &str) -> String {
    let thing = match what {
        "staff member" => "Personen",
        "course offering" => "Kurstillfället",
        "course package" => "Kurspaketet",
        "municipality" => "Kommunen",
        "course" => "Kursen",
        "supervisor" => "Arbetsledaren",
        "notice" => "Brevet",
        "user" => "Användaren",
        "token" => "Token",
        _ => "Det efterfrågade",
    };
    format!("{thing} finns inte.")
}

/// A staff member of another municipality named in a registration or a role.
pub fn staff_of_other_municipality() -> String {
    "Personen tillhör en annan kommun.".into()
}

/// A supervisor of another municipality.
pub fn supervisor_of_other_municipality() -> String {
    "Arbetsledaren tillhör en annan kommun.".into()
}

/// An erased supervisor.
pub fn supervisor_erased() -> String {
    "Arbetsledarens uppgifter har raderats; välj en annan arbetsledare.".into()
}

/// Why a staff member with confirmed seats on courses that have not started is not
/// removed yet (`courses`: each course with when it starts): what a transfer would save,
/// and how to give the seats up anyway.
pub fn seat_transferable(courses: &[String]) -> String {
    format!(
        "Personen har en bekräftad plats på {}. Anmälan är bindande: överlåt platsen till en kollega i samma \
         kommun så debiteras ingen avgift. Vill ni ta bort personen ändå lämnas platsen och kommunen debiteras \
         hela avgiften (give_up_seats).",
        and_list(courses)
    )
}

/// A course code that is not in the catalogue.
pub fn unknown_course(code: &CourseCode) -> String {
    format!("Kursen {code} finns inte i kurskatalogen.")
}

/// The reason for a refusal known only by its code (what a receipt keeps), with the
/// missing prerequisites named when that is the reason.
pub fn by_code(code: &str, missing_prerequisites: &[String]) -> String {
    match code {
        "prerequisite_missing" if !missing_prerequisites.is_empty() => prerequisites_missing(missing_prerequisites),
        "prerequisite_missing" => "Förkunskapskrav saknas (en tidigare kurs i rätt ordning).".into(),
        "already_registered" => offering(&OfferingError::AlreadyRegistered),
        "staff_paused" => offering(&OfferingError::StaffPaused),
        "staff_removed" => offering(&OfferingError::StaffRemoved),
        "staff_erased" => offering(&OfferingError::StaffErased),
        "staff_of_other_municipality" => staff_of_other_municipality(),
        "registration_not_open" => offering(&OfferingError::RegistrationNotOpen),
        "package_archived" => offering(&OfferingError::PackageArchived),
        "offering_cancelled" => offering(&OfferingError::OfferingCancelled),
        "offering_completed" => offering(&OfferingError::OfferingCompleted),
        "late_registration_closed" => offering(&OfferingError::LateRegistrationClosed),
        "not_found" => "Personen eller kurstillfället finns inte.".into(),
        "forbidden" => "Anmälan får inte göras för den kommunen.".into(),
        _ => "Anmälan kunde inte tas emot.".into(),
    }
}

// ----- who may do what -----

/// Only the course office lets an unmet prerequisite pass.
pub const OVERRIDE_BY_COURSE_OFFICE: &str =
    "Bara kursadministrationen kan göra undantag från förkunskapskrav. Kontakta kursadministrationen.";

/// Attendance is recorded by the offering's own trainers or the course office.
pub const ATTENDANCE_BY_TRAINERS: &str =
    "Närvaro registreras av kurstillfällets egna utbildare eller av kursadministrationen.";

/// A trainer reads the rosters of their own offerings only.
pub const TRAINERS_OWN_ROSTERS: &str = "En utbildare ser bara deltagarlistorna för sina egna kurstillfällen.";

/// `role` ("en samordnare") may not do `what` ("läsa utkorgen").
pub fn may_not(role: &str, what: &str) -> String {
    format!("Som {role} får du inte {what}.")
}

/// Something only the course office does, asked by `role`.
pub fn course_office_only(role: &str) -> String {
    format!("Det här gör kursadministrationen, inte {role}.")
}

/// Acting for `municipality` needs one of its own coordinators.
pub fn coordinator_of_only(municipality: &str) -> String {
    format!("Bara en samordnare i {municipality} (eller kursadministrationen) kan göra detta för {municipality}.")
}
