//! A notice Kurslogg sends by e-mail (after-course summary, receipt, reminder, ...). The
//! notice itself lives in the outbox; its stream records only what people did to it,
//! so the audit trail shows who asked for a letter to be sent again, and why.

use std::sync::Arc;

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::{Clock, Refusal, Text};

/// Commands on a notice.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum NoticeCommand {
    /// Send the notice again (after a permanent failure, or a lost letter).
    Resend {
        /// Why.
        reason: Text,
    },
}

/// Events of a notice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum NoticeEvent {
    /// The course office asked for the notice to be sent again.
    ResendRequested {
        /// Why.
        reason: Text,
    },
}

impl DomainEvent for NoticeEvent {
    fn event_type(&self) -> String {
        match self {
            Self::ResendRequested { .. } => "NoticeResendRequested".to_string(),
        }
    }

    fn event_version(&self) -> String {
        "1".to_string()
    }
}

/// Notice commands are never refused by the notice itself: whether the notice exists is
/// the outbox's to say, before the command is issued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unreachable")]
pub enum NoticeError {}

impl Refusal for NoticeError {
    fn code(&self) -> &'static str {
        match *self {}
    }

    fn swedish(&self) -> String {
        match *self {}
    }
}

/// What has been done to a notice.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Notice {
    /// Times it was asked to be sent again.
    pub resends: u32,
}

impl Aggregate for Notice {
    const TYPE: &'static str = "notice";
    type Command = NoticeCommand;
    type Event = NoticeEvent;
    type Error = NoticeError;
    type Services = Arc<dyn Clock>;

    async fn handle(
        &mut self,
        command: NoticeCommand,
        _clock: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), NoticeError> {
        match command {
            NoticeCommand::Resend { reason } => sink.write(NoticeEvent::ResendRequested { reason }, self).await,
        }
        Ok(())
    }

    fn apply(&mut self, event: NoticeEvent) {
        match event {
            NoticeEvent::ResendRequested { .. } => self.resends += 1,
        }
    }
}
