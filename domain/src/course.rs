//! A course in the catalogue: a stable code, title and description, given as offerings
//! in many terms; and what a run of it usually is (target group, competence areas,
//! completion threshold, price), for planning the next run from.

use std::sync::Arc;

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::offering::TargetGroups;
use crate::{Clock, CompletionThreshold, CourseCode, Refusal, RefusalKind, Sek, Text};

/// What a run of the course usually is: where the course office's form starts when it
/// plans one. Each offering keeps its own details (a price or a target group may differ
/// between runs); these change no planned offering.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CourseDefaults {
    /// Who it is for.
    pub target_groups: TargetGroups,
    /// Competence areas it covers (SOSFS 2014:7).
    pub competence_areas: Vec<Text>,
    /// Share of sessions to attend for completion.
    pub completion_threshold: CompletionThreshold,
    /// Price per participant in SEK.
    pub price: Sek,
}

/// Commands on a catalogue course.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum CourseCommand {
    /// Add a course to the catalogue.
    AddCourse {
        /// Its stable code.
        code: CourseCode,
        /// Title.
        title: Text,
        /// Description.
        description: Text,
        /// Courses to have taken first.
        prerequisites: Vec<CourseCode>,
    },
    /// Revise title, description or prerequisites (offerings already planned keep theirs).
    ReviseCourse {
        /// Title.
        title: Text,
        /// Description.
        description: Text,
        /// Courses to have taken first.
        prerequisites: Vec<CourseCode>,
    },
    /// Set what a run of the course usually is.
    SetDefaults {
        /// Target group, competence areas, completion threshold and price.
        defaults: CourseDefaults,
    },
}

/// Events of a catalogue course.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CourseEvent {
    /// A course was added to the catalogue.
    CourseAdded {
        /// Its code.
        code: CourseCode,
        /// Title.
        title: Text,
        /// Description.
        description: Text,
        /// Prerequisites.
        prerequisites: Vec<CourseCode>,
    },
    /// A course was revised.
    CourseRevised {
        /// Title.
        title: Text,
        /// Description.
        description: Text,
        /// Prerequisites.
        prerequisites: Vec<CourseCode>,
    },
    /// What a run of the course usually is was set.
    CourseDefaultsSet {
        /// Target group, competence areas, completion threshold and price.
        defaults: CourseDefaults,
    },
}

impl DomainEvent for CourseEvent {
    fn event_type(&self) -> String {
        match self {
            Self::CourseAdded { .. } => "CourseAdded",
            Self::CourseRevised { .. } => "CourseRevised",
            Self::CourseDefaultsSet { .. } => "CourseDefaultsSet",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        "1".to_string()
    }
}

/// Refusals of course commands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CourseError {
    /// No such course.
    #[error("no such course in the catalogue")]
    NotFound,
    /// The code is taken.
    #[error("a course with this code already exists")]
    AlreadyExists,
    /// A course listed as its own prerequisite.
    #[error("a course cannot be its own prerequisite")]
    OwnPrerequisite,
}

impl Refusal for CourseError {
    fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::AlreadyExists => "already_exists",
            Self::OwnPrerequisite => "validation",
        }
    }

    fn swedish(&self) -> String {
        crate::swedish::catalogue(self)
    }

    fn kind(&self) -> RefusalKind {
        match self {
            Self::NotFound => RefusalKind::NotFound,
            Self::AlreadyExists => RefusalKind::Conflict,
            Self::OwnPrerequisite => RefusalKind::Rule,
        }
    }
}

/// A catalogue course.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Course {
    /// Its code (None until added).
    pub code: Option<CourseCode>,
    /// Title.
    pub title: Option<Text>,
    /// Description.
    pub description: Option<Text>,
    /// Prerequisites.
    pub prerequisites: Vec<CourseCode>,
    /// What a run of it usually is, once set.
    #[serde(default)]
    pub defaults: Option<CourseDefaults>,
}

fn tidy(mut prerequisites: Vec<CourseCode>, own: &CourseCode) -> Result<Vec<CourseCode>, CourseError> {
    if prerequisites.contains(own) {
        return Err(CourseError::OwnPrerequisite);
    }
    prerequisites.sort();
    prerequisites.dedup();
    Ok(prerequisites)
}

impl Aggregate for Course {
    const TYPE: &'static str = "course";
    type Command = CourseCommand;
    type Event = CourseEvent;
    type Error = CourseError;
    type Services = Arc<dyn Clock>;

    async fn handle(
        &mut self,
        command: CourseCommand,
        _clock: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), CourseError> {
        let event = match command {
            CourseCommand::AddCourse { code, title, description, prerequisites } => {
                if self.code.is_some() {
                    return Err(CourseError::AlreadyExists);
                }
                let prerequisites = tidy(prerequisites, &code)?;
                CourseEvent::CourseAdded { code, title, description, prerequisites }
            }
            CourseCommand::ReviseCourse { title, description, prerequisites } => {
                let code = self.code.as_ref().ok_or(CourseError::NotFound)?;
                let prerequisites = tidy(prerequisites, code)?;
                if Some(&title) == self.title.as_ref()
                    && Some(&description) == self.description.as_ref()
                    && prerequisites == self.prerequisites
                {
                    return Ok(());
                }
                CourseEvent::CourseRevised { title, description, prerequisites }
            }
            CourseCommand::SetDefaults { defaults } => {
                if self.code.is_none() {
                    return Err(CourseError::NotFound);
                }
                if self.defaults.as_ref() == Some(&defaults) {
                    return Ok(());
                }
                CourseEvent::CourseDefaultsSet { defaults }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: CourseEvent) {
        match event {
            CourseEvent::CourseAdded { code, title, description, prerequisites } => {
                self.code = Some(code);
                self.title = Some(title);
                self.description = Some(description);
                self.prerequisites = prerequisites;
            }
            CourseEvent::CourseRevised { title, description, prerequisites } => {
                self.title = Some(title);
                self.description = Some(description);
                self.prerequisites = prerequisites;
            }
            CourseEvent::CourseDefaultsSet { defaults } => self.defaults = Some(defaults),
        }
    }
}
