//! What a municipality pays for a term (the cost basis, DOMAIN.md): confirmed seats and
//! charged cancellations at each offering's price, with the names of the people, for the
//! pages and the API alike.

use kurslogg_domain::{MunicipalityId, StaffId, Term};
use kurslogg_projections::views::costs::{self, MunicipalityCosts};

use super::lists::ViewAt;
use super::{Actor, AppError, Kurslogg};

impl Kurslogg {
    /// `municipality`'s costs for `term`, line by line: for the course office, auditors and
    /// the municipality's own coordinators.
    pub async fn municipality_costs(
        &self,
        actor: &Actor,
        municipality: &MunicipalityId,
        term: &Term,
        at: ViewAt,
    ) -> Result<MunicipalityCosts, AppError> {
        self.ensure_may_see_municipality(actor, municipality)?;
        let (db, _) = self.views_at(at).await?;
        let basis = costs::cost_basis(&db, &term.to_string(), Some(municipality.as_str())).await?;
        let mut costs = basis.municipalities.into_iter().next().ok_or_else(|| AppError::not_found("municipality"))?;
        let ids: Vec<StaffId> = costs.lines.iter().filter_map(|l| l.staff_id.parse().ok()).collect();
        let names = self.staff_names(&ids).await?;
        for line in &mut costs.lines {
            line.name = line.staff_id.parse().ok().and_then(|id| names.get(&id).cloned());
        }
        Ok(costs)
    }
}
