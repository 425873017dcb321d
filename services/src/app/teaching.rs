//! What a trainer needs: the offerings they are assigned to, and the corrections made to
//! attendance already recorded (corrections are new events, and the trainer sees them as
//! corrections, not as marks that changed by themselves).

use kurslogg_domain::OfferingId;
use kurslogg_projections::views::audit_trail::{self, AuditFilter};

use super::lists::{CatalogueOffering, OfferingsQuery, PackagesQuery, Paging, ViewAt, MAX_LIMIT};
use super::{Actor, AppError, Kurslogg, Role};

/// How long a page waits for the audit view to include a correction just made.
const CORRECTIONS_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// A mark of attendance that was changed after it was recorded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Correction {
    /// Whose.
    pub staff_id: String,
    /// Which session (index from 0).
    pub session: i64,
    /// What it said.
    pub from: String,
    /// What it says now.
    pub to: String,
    /// When it was corrected.
    pub at: String,
}

impl Kurslogg {
    /// The offerings `actor` (a trainer) is assigned to, first session first.
    pub async fn offerings_taught_by(&self, actor: &Actor) -> Result<Vec<CatalogueOffering>, AppError> {
        if actor.role != Role::Trainer {
            return Err(AppError::Forbidden("Sidan är för utbildare.".into()));
        }
        let all = Paging { limit: MAX_LIMIT, offset: 0 };
        let packages = self.list_packages(&PackagesQuery { paging: all, ..PackagesQuery::default() }).await?.items;
        let mut taught = vec![];
        for package in packages.iter().filter(|p| p.phase != "draft") {
            let Ok(id) = package.id.parse() else { continue };
            let query = OfferingsQuery { paging: all, ..OfferingsQuery::default() };
            taught.extend(
                self.list_package_offerings(id, &query)
                    .await?
                    .items
                    .into_iter()
                    .filter(|o| o.trainer_users.contains(&actor.id)),
            );
        }
        taught.sort_by(|a, b| a.starts_at.cmp(&b.starts_at));
        Ok(taught)
    }

    /// The corrections of attendance on `offering`, oldest first: for its trainers and the
    /// course office.
    pub async fn attendance_corrections(
        &self,
        actor: &Actor,
        offering: OfferingId,
        at: ViewAt,
    ) -> Result<Vec<Correction>, AppError> {
        if !actor.sees_everything() && !self.teaches(actor, offering).await? {
            return Err(AppError::Forbidden("Rättelser av närvaro visas för kursens utbildare.".into()));
        }
        let db = self.log.views();
        // The corrections come from the audit view, which follows the log on its own: a row
        // shown right after a correction waits until that view has it too.
        if let ViewAt::Reached(position) = at {
            if !crate::views::wait_for_named(&db, kurslogg_projections::audit::NAME, position, CORRECTIONS_WAIT).await?
            {
                return Err(AppError::ViewsBehind(position));
            }
        }
        let mut filter = AuditFilter {
            offering: Some(offering.to_string()),
            limit: Some(audit_trail::MAX_LIMIT),
            ..Default::default()
        };
        let mut corrections = vec![];
        loop {
            let page = audit_trail::audit_trail(&db, &filter, None).await?;
            for entry in page.entries.iter().filter(|e| e.event_type == "AttendanceCorrected") {
                let Some(details) = &entry.details else { continue };
                let field = |name: &str| details.get(name).and_then(|v| v.as_str()).unwrap_or_default().to_string();
                corrections.push(Correction {
                    staff_id: field("staff"),
                    session: details.get("session").and_then(serde_json::Value::as_i64).unwrap_or_default(),
                    from: field("from"),
                    to: field("to"),
                    at: entry.recorded_at.clone(),
                });
            }
            match page.next_after {
                Some(after) => filter.after = Some(after),
                None => break,
            }
        }
        Ok(corrections)
    }
}
