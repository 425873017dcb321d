//! Participation statistics and the cost basis of a term, for the API's `/statistics`
//! and `/costs` and the course office's pages alike: who may read them, the read, and
//! the names of the people on the cost lines (the views keep none).

use kurslogg_projections::views::costs::{self, CostBasis};
use kurslogg_projections::views::statistics::{self, Dimension, Statistics, StatisticsFilter};
use kurslogg_projections::Db;

use super::{Actor, AppError, Kurslogg, Role};
use crate::store::StoreError;

/// Who reads statistics and deadline overviews: counts, never names.
pub const COUNTS_READERS: &[Role] = &[Role::CourseOffice, Role::Auditor, Role::Coordinator];

impl Kurslogg {
    /// The participations `filter` picks in `db` (the views now, after a write, or as of
    /// a moment), grouped by `group_by`: the course office, auditors and coordinators.
    pub async fn statistics_in(
        &self,
        actor: &Actor,
        db: &Db,
        group_by: &[Dimension],
        filter: &StatisticsFilter,
    ) -> Result<Statistics, AppError> {
        self.ensure_role(actor, COUNTS_READERS, "läsa statistiken")?;
        Ok(statistics::statistics(db, group_by, filter).await?)
    }

    /// The cost basis of `term` in `db`, for one municipality or all, with the names of
    /// the people on its lines. The caller has checked whose costs `actor` may read.
    pub async fn cost_basis_in(&self, db: &Db, term: &str, municipality: Option<&str>) -> Result<CostBasis, AppError> {
        let mut basis = costs::cost_basis(db, term, municipality).await?;
        let ids: Vec<kurslogg_domain::StaffId> =
            basis.municipalities.iter().flat_map(|m| &m.lines).filter_map(|l| l.staff_id.parse().ok()).collect();
        let names = self.staff_names(&ids).await?;
        for line in basis.municipalities.iter_mut().flat_map(|m| m.lines.iter_mut()) {
            line.name = line.staff_id.parse().ok().and_then(|id| names.get(&id).cloned());
        }
        Ok(basis)
    }

    /// Every member municipality as (id, name), by name: for the pages' choices.
    pub async fn municipalities_by_name(&self) -> Result<Vec<(String, String)>, AppError> {
        let rows = self
            .log
            .views()
            .fetch("SELECT municipality_id, name FROM enrolment_municipalities ORDER BY name, municipality_id", &[])
            .await
            .map_err(|e| AppError::Store(StoreError::Database(e)))?;
        Ok(rows.iter().map(|r| (r.text(0), r.text(1))).collect())
    }
}
