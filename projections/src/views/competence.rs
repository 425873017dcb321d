//! The federations' competence plans, as their current versions (earlier versions are in
//! the log and the audit trail; a view "as of" an earlier moment shows the version of
//! then), and the federation a municipality belongs to.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::{Db, Param, Record};
use crate::enrolment;
use crate::runner::ProjectionError;

/// What a plan says for one experience band.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BandPlanView {
    /// The experience band: `new0_to2`, `years3_to5`, `over5` or `supervisors`.
    pub band: String,
    /// Catalogue course codes recommended (needs met jointly), in the suggested order.
    pub courses: Vec<String>,
    /// Needs met locally at the workplace.
    pub local_needs: Vec<String>,
    /// Anything else the plan says for the band.
    pub note: Option<String>,
}

/// A federation's competence plan for a year, as its current version reads.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CompetencePlanView {
    /// `fyrbodal-2027`: the federation and the year.
    pub id: String,
    /// The federation's id (`fyrbodal`).
    pub federation: String,
    /// The year it is for.
    pub year: i64,
    /// The current version (1 when set, one more per revision).
    pub version: i64,
    /// When the first version was recorded (RFC 3339 UTC).
    pub set_at: String,
    /// When the current version was recorded (RFC 3339 UTC).
    pub revised_at: String,
    /// Per experience band, in band order.
    pub bands: Vec<BandPlanView>,
}

const COLUMNS: &str = "plan_id, federation, year, version, set_at, revised_at, bands";

fn plan(r: &Record) -> Result<CompetencePlanView, ProjectionError> {
    let bands = serde_json::from_str(&r.text(6)).map_err(|e| ProjectionError::Unreadable {
        position: 0,
        reason: format!("competence plan {}: bands: {e}", r.text(0)),
    })?;
    Ok(CompetencePlanView {
        id: r.text(0),
        federation: r.text(1),
        year: r.int(2),
        version: r.int(3),
        set_at: r.text(4),
        revised_at: r.text(5),
        bands,
    })
}

/// One plan, by id (`fyrbodal-2027`).
pub async fn competence_plan(db: &Db, id: &str) -> Result<Option<CompetencePlanView>, ProjectionError> {
    let sql = format!("SELECT {COLUMNS} FROM enrolment_competence_plans WHERE plan_id = $1");
    db.fetch(&sql, &[id.into()]).await?.first().map(plan).transpose()
}

/// Every plan, or one federation's, by federation and then year.
pub async fn competence_plans(db: &Db, federation: Option<&str>) -> Result<Vec<CompetencePlanView>, ProjectionError> {
    let rows = match federation {
        Some(federation) => {
            let sql = format!("SELECT {COLUMNS} FROM enrolment_competence_plans WHERE federation = $1 ORDER BY year");
            db.fetch(&sql, &[federation.into()]).await?
        }
        None => {
            let sql = format!("SELECT {COLUMNS} FROM enrolment_competence_plans ORDER BY federation, year");
            db.fetch(&sql, &[]).await?
        }
    };
    rows.iter().map(plan).collect()
}

/// The name of the federation a municipality belongs to, as it was added (`Fyrbodal`).
pub async fn federation_of(db: &Db, municipality: &str) -> Result<Option<String>, ProjectionError> {
    let sql = "SELECT federation FROM enrolment_municipalities WHERE municipality_id = $1";
    Ok(db.fetch(sql, &[Param::from(municipality)]).await?.first().map(|r| r.text(0)))
}

/// The log position the plans reflect.
pub async fn position(db: &Db) -> Result<i64, ProjectionError> {
    super::position(db, enrolment::NAME).await
}
