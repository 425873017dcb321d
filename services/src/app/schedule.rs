//! Work the calendar calls for, which the scheduler asks for: closing registration at
//! the deadline and completing offerings once their attendance is in. Each is safe to
//! ask for again and again: it does what is due and nothing else.

use kurslogg_domain::offering::OfferingCommand;
use kurslogg_domain::package::PackagePhase;
use kurslogg_domain::{OfferingId, PackageId};

use super::{AppError, CommandContext, Kurslogg};

impl Kurslogg {
    /// Closes registration and allocates seats once the package's deadline has passed,
    /// and finishes an allocation that a crash interrupted. True when it did something.
    pub async fn close_when_due(&self, ctx: &CommandContext, package: PackageId) -> Result<bool, AppError> {
        let Some(current) = self.packages.peek(&package.to_string()).await? else { return Ok(false) };
        let due = match current.phase {
            PackagePhase::Published => self.clock.now() > current.deadline,
            PackagePhase::RegistrationClosed => !current.allocation_finished,
            PackagePhase::Draft | PackagePhase::Archived => false,
        };
        if due {
            self.close_registration(ctx, package).await?;
        }
        Ok(due)
    }

    /// Completes an offering once its last session is over and attendance has been
    /// recorded for everyone confirmed (the course office can also complete it by hand).
    /// True when it did.
    pub async fn complete_when_attendance_in(
        &self,
        ctx: &CommandContext,
        offering: OfferingId,
    ) -> Result<bool, AppError> {
        let now = self.clock.now();
        let ready = self.offerings.inspect(&offering.to_string(), |o| o.ready_to_complete(now)).await?;
        if ready != Some(true) {
            return Ok(false);
        }
        self.offering_command(ctx, offering, OfferingCommand::CompleteOffering).await?;
        Ok(true)
    }
}
