//! Use cases: what the course office, coordinators and trainers can do. Each gathers
//! the facts a rule needs from other aggregates, runs the command, and records who did
//! it. HTTP and CLI both call these; nothing here knows about HTTP beyond status codes
//! stored with idempotent answers.

mod context;
mod errors;
mod freshness;
mod notices;
mod participation;
mod reads;
mod schedule;
mod writes;

use std::sync::Arc;

use kurslogg_domain::course::Course;
use kurslogg_domain::municipality::Municipality;
use kurslogg_domain::notice::Notice;
use kurslogg_domain::offering::Offering;
use kurslogg_domain::package::CoursePackage;
use kurslogg_domain::staff::StaffMember;
use kurslogg_domain::Clock;

pub use context::{Actor, CommandContext, Idempotency};
pub use errors::AppError;
pub use notices::Addressed;
pub use reads::*;
pub use writes::*;

use crate::store::{Aggregates, EventLog};
use participation::ParticipationIndex;

/// The application: every aggregate's executor over one event log.
pub struct Kurslogg {
    /// The event log.
    pub log: EventLog,
    /// Source of "now".
    pub clock: Arc<dyn Clock>,
    courses: Aggregates<Course>,
    packages: Aggregates<CoursePackage>,
    offerings: Aggregates<Offering>,
    municipalities: Aggregates<Municipality>,
    staff: Aggregates<StaffMember>,
    notices: Aggregates<Notice>,
    participation: ParticipationIndex,
}

impl Kurslogg {
    /// The application over `log`, with `clock` as the source of "now".
    pub fn new(log: EventLog, clock: Arc<dyn Clock>) -> Self {
        Self {
            courses: Aggregates::new(log.clone(), clock.clone()),
            packages: Aggregates::new(log.clone(), clock.clone()),
            offerings: Aggregates::new(log.clone(), clock.clone()),
            municipalities: Aggregates::new(log.clone(), clock.clone()),
            staff: Aggregates::new(log.clone(), clock.clone()),
            notices: Aggregates::new(log.clone(), clock.clone()),
            participation: ParticipationIndex::default(),
            log,
            clock,
        }
    }
}
