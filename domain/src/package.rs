//! A course package: the term's set of offerings, sent to the municipalities once per
//! term, with its registration deadline.
//!
//! Lifecycle: draft → published → registration closed (seats allocated) → archived.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::{Clock, OfferingId, PackageId, Refusal, RefusalKind, Term, Text};

/// Where a package is in its lifecycle.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PackagePhase {
    /// Being assembled; not visible to municipalities' registrations.
    #[default]
    Draft,
    /// Sent out; municipalities register.
    Published,
    /// The deadline passed and the course office closed registration; seats allocated.
    RegistrationClosed,
    /// The term is over.
    Archived,
}

/// Commands on a course package.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum PackageCommand {
    /// Start assembling a term's package.
    CreatePackage {
        /// The new package's id.
        id: PackageId,
        /// Its term.
        term: Term,
        /// Its title.
        title: Text,
        /// The organiser, e.g. "Fyrbodals kommunalförbund".
        organiser: Text,
        /// The deadline; the term's default (DOMAIN.md) when absent.
        deadline: Option<DateTime<Utc>>,
        /// A term that already took place, recorded afterwards: its deadline and sessions
        /// may lie in the past (decision 0012).
        recorded_afterwards: bool,
    },
    /// Move the registration deadline.
    ChangeDeadline {
        /// The new deadline.
        deadline: DateTime<Utc>,
        /// When the package's earliest offering starts (gathered by the services layer):
        /// the deadline must come before it.
        first_session: Option<DateTime<Utc>>,
    },
    /// Add a planned offering to the package.
    IncludeOffering {
        /// The offering.
        offering: OfferingId,
    },
    /// Send the package out.
    Publish,
    /// Close registration once the deadline has passed (seats are then allocated).
    CloseRegistration,
    /// Record that every offering's seats have been allocated after the close, so the
    /// municipalities can be told their results. Repeating it changes nothing.
    FinishAllocation,
    /// Archive the term's package.
    Archive,
}

/// Events of a course package.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PackageEvent {
    /// A package was created as a draft.
    PackageCreated {
        /// Its id.
        id: PackageId,
        /// Its term.
        term: Term,
        /// Its title.
        title: Text,
        /// Its organiser.
        organiser: Text,
        /// Its registration deadline.
        deadline: DateTime<Utc>,
        /// A term that already took place, recorded afterwards (absent in events from
        /// before the flag existed: false).
        #[serde(default)]
        recorded_afterwards: bool,
    },
    /// The deadline moved.
    DeadlineChanged {
        /// Before.
        from: DateTime<Utc>,
        /// After.
        to: DateTime<Utc>,
    },
    /// An offering joined the package.
    OfferingIncluded {
        /// The offering.
        offering: OfferingId,
    },
    /// The package was published.
    PackagePublished {
        /// When.
        at: DateTime<Utc>,
    },
    /// Registration closed after the deadline.
    RegistrationClosed {
        /// When.
        at: DateTime<Utc>,
    },
    /// Every offering's seats were allocated after registration closed.
    AllocationFinished {
        /// When.
        at: DateTime<Utc>,
    },
    /// The package was archived.
    PackageArchived {
        /// When.
        at: DateTime<Utc>,
    },
}

impl DomainEvent for PackageEvent {
    fn event_type(&self) -> String {
        match self {
            Self::PackageCreated { .. } => "PackageCreated",
            Self::DeadlineChanged { .. } => "DeadlineChanged",
            Self::OfferingIncluded { .. } => "OfferingIncluded",
            Self::PackagePublished { .. } => "PackagePublished",
            Self::RegistrationClosed { .. } => "RegistrationClosed",
            Self::AllocationFinished { .. } => "AllocationFinished",
            Self::PackageArchived { .. } => "PackageArchived",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        "1".to_string()
    }
}

/// Refusals of package commands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackageError {
    /// No such package.
    #[error("no such course package")]
    NotFound,
    /// The id is taken.
    #[error("a package with this id already exists")]
    AlreadyExists,
    /// The command does not fit the package's phase.
    #[error("the course package is {phase:?}; {what}")]
    WrongPhase {
        /// The current phase.
        phase: PackagePhase,
        /// What was refused.
        what: &'static str,
    },
    /// Publishing an empty package.
    #[error("a package needs at least one offering before it is published")]
    NoOfferings,
    /// A deadline that has already passed.
    #[error("the deadline has already passed")]
    DeadlinePassed,
    /// A deadline at or after the start of one of the package's sessions.
    #[error("the deadline must come before the package's first session")]
    SessionBeforeDeadline,
    /// Closing before the deadline.
    #[error("the registration deadline has not passed yet")]
    DeadlineNotPassed,
}

impl Refusal for PackageError {
    fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::AlreadyExists => "already_exists",
            Self::WrongPhase { .. } => "wrong_phase",
            Self::NoOfferings => "no_offerings",
            Self::DeadlinePassed => "deadline_passed",
            Self::SessionBeforeDeadline => "session_before_deadline",
            Self::DeadlineNotPassed => "deadline_not_passed",
        }
    }

    fn swedish(&self) -> String {
        crate::swedish::package(self)
    }

    fn kind(&self) -> RefusalKind {
        match self {
            Self::NotFound => RefusalKind::NotFound,
            Self::AlreadyExists | Self::WrongPhase { .. } => RefusalKind::Conflict,
            _ => RefusalKind::Rule,
        }
    }
}

/// A term's course package.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CoursePackage {
    /// Its id.
    pub id: PackageId,
    /// Created yet.
    pub created: bool,
    /// Its term.
    pub term: Option<Term>,
    /// Title.
    pub title: Option<Text>,
    /// Organiser.
    pub organiser: Option<Text>,
    /// Registration deadline.
    pub deadline: DateTime<Utc>,
    /// Lifecycle phase.
    pub phase: PackagePhase,
    /// Its offerings, in the order they were included.
    pub offerings: Vec<OfferingId>,
    /// Every offering's seats have been allocated (after registration closed).
    #[serde(default)]
    pub allocation_finished: bool,
    /// A term that already took place, recorded afterwards.
    #[serde(default)]
    pub recorded_afterwards: bool,
}

impl CoursePackage {
    fn wrong_phase(&self, what: &'static str) -> PackageError {
        PackageError::WrongPhase { phase: self.phase, what }
    }
}

impl Aggregate for CoursePackage {
    const TYPE: &'static str = "package";
    type Command = PackageCommand;
    type Event = PackageEvent;
    type Error = PackageError;
    type Services = Arc<dyn Clock>;

    async fn handle(
        &mut self,
        command: PackageCommand,
        clock: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), PackageError> {
        let now = clock.now();
        if !self.created && !matches!(command, PackageCommand::CreatePackage { .. }) {
            return Err(PackageError::NotFound);
        }
        let event = match command {
            PackageCommand::CreatePackage { id, term, title, organiser, deadline, recorded_afterwards } => {
                if self.created {
                    return Err(PackageError::AlreadyExists);
                }
                let deadline = deadline.unwrap_or_else(|| term.default_deadline());
                // **Dates with guard rails**: a live package whose deadline is gone could
                // take no registration in time; a past term is recorded as such.
                if deadline <= now && !recorded_afterwards {
                    return Err(PackageError::DeadlinePassed);
                }
                PackageEvent::PackageCreated { id, term, title, organiser, deadline, recorded_afterwards }
            }
            PackageCommand::ChangeDeadline { deadline, first_session } => {
                if !matches!(self.phase, PackagePhase::Draft | PackagePhase::Published) {
                    return Err(self.wrong_phase("the deadline can only move before registration closes"));
                }
                if deadline == self.deadline {
                    return Ok(());
                }
                // A deadline can be extended, but not set to an instant already gone: that
                // would close registration behind the municipalities' backs.
                if deadline <= now && !self.recorded_afterwards {
                    return Err(PackageError::DeadlinePassed);
                }
                // Registration must close before the first course begins.
                if first_session.is_some_and(|first| deadline >= first) && !self.recorded_afterwards {
                    return Err(PackageError::SessionBeforeDeadline);
                }
                PackageEvent::DeadlineChanged { from: self.deadline, to: deadline }
            }
            PackageCommand::IncludeOffering { offering } => {
                if self.phase == PackagePhase::Archived {
                    return Err(self.wrong_phase("an archived package takes no new offerings"));
                }
                if self.offerings.contains(&offering) {
                    return Ok(());
                }
                PackageEvent::OfferingIncluded { offering }
            }
            PackageCommand::Publish => {
                if self.phase != PackagePhase::Draft {
                    return Err(self.wrong_phase("only a draft can be published"));
                }
                if self.offerings.is_empty() {
                    return Err(PackageError::NoOfferings);
                }
                PackageEvent::PackagePublished { at: now }
            }
            PackageCommand::CloseRegistration => {
                if self.phase != PackagePhase::Published {
                    return Err(self.wrong_phase("only a published package can close registration"));
                }
                if now <= self.deadline {
                    return Err(PackageError::DeadlineNotPassed);
                }
                PackageEvent::RegistrationClosed { at: now }
            }
            PackageCommand::FinishAllocation => {
                if self.phase == PackagePhase::Published || self.phase == PackagePhase::Draft {
                    return Err(self.wrong_phase("seats are allocated only after registration closes"));
                }
                if self.allocation_finished {
                    return Ok(());
                }
                PackageEvent::AllocationFinished { at: now }
            }
            PackageCommand::Archive => {
                if self.phase != PackagePhase::RegistrationClosed {
                    return Err(self.wrong_phase("only a package whose registration has closed can be archived"));
                }
                PackageEvent::PackageArchived { at: now }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: PackageEvent) {
        match event {
            PackageEvent::PackageCreated { id, term, title, organiser, deadline, recorded_afterwards } => {
                self.id = id;
                self.recorded_afterwards = recorded_afterwards;
                self.created = true;
                self.term = Some(term);
                self.title = Some(title);
                self.organiser = Some(organiser);
                self.deadline = deadline;
            }
            PackageEvent::DeadlineChanged { to, .. } => self.deadline = to,
            PackageEvent::OfferingIncluded { offering } => self.offerings.push(offering),
            PackageEvent::PackagePublished { .. } => self.phase = PackagePhase::Published,
            PackageEvent::RegistrationClosed { .. } => self.phase = PackagePhase::RegistrationClosed,
            PackageEvent::AllocationFinished { .. } => self.allocation_finished = true,
            PackageEvent::PackageArchived { .. } => self.phase = PackagePhase::Archived,
        }
    }
}
