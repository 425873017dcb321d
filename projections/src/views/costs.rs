//! The cost basis of a term: what each municipality pays the federation, line by line,
//! so that a coordinator can check the invoice and an auditor can trace every krona.
//!
//! A municipality pays the offering's price for
//! - each **participation**: a confirmed place on an offering that was not cancelled
//!   (whether the person then attended and completed or not: the seat was theirs), and
//! - each **charged cancellation**: a registration cancelled after the deadline.
//!
//! Nothing is paid for a request that got no seat, a place on the waiting list, a free
//! cancellation before the deadline, a seat handed to a colleague (the colleague's
//! place is paid instead), or anything on an offering the organiser cancelled ("nobody
//! is charged"), charged cancellations on it included.

use serde::Serialize;
use utoipa::ToSchema;

use super::statistics::swedish_order;
use crate::db::{Db, Param};
use crate::enrolment;
use crate::runner::ProjectionError;

/// A participation line.
pub const PARTICIPATION: &str = "participation";
/// A charged cancellation line.
pub const CHARGED_CANCELLATION: &str = "charged_cancellation";

/// One thing a municipality pays for.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CostLine {
    /// participation or charged_cancellation.
    pub kind: String,
    /// Offering id.
    pub offering_id: String,
    /// Course code.
    pub course: String,
    /// Title.
    pub title: String,
    /// First session starts (RFC 3339 UTC).
    pub starts_at: String,
    /// Staff id.
    pub staff_id: String,
    /// Name, from the staff member's own stream as it is now (the views keep no names;
    /// filled in by the API, absent once the person is erased).
    pub name: Option<String>,
    /// completed or not_completed, once decided (participations).
    pub completion: Option<String>,
    /// When the registration was cancelled (charged cancellations).
    pub cancelled_at: Option<String>,
    /// The offering's price per participant, SEK.
    pub price_sek: i64,
}

/// A municipality's costs for the term.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct MunicipalityCosts {
    /// Municipality id.
    pub municipality_id: String,
    /// Name.
    pub name: String,
    /// Participations.
    pub participations: i64,
    /// What they cost, SEK.
    pub participations_sek: i64,
    /// Charged cancellations.
    pub charged_cancellations: i64,
    /// What they cost, SEK.
    pub charged_cancellations_sek: i64,
    /// Everything, SEK.
    pub total_sek: i64,
    /// Line by line: by course, offering, kind (participations first), staff id.
    pub lines: Vec<CostLine>,
}

/// The cost basis of a term.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CostBasis {
    /// Term, e.g. HT2027.
    pub term: String,
    /// Each municipality asked for (every one known, when none was named), in Swedish
    /// alphabetical order, those with nothing to pay included.
    pub municipalities: Vec<MunicipalityCosts>,
    /// Participations in all.
    pub participations: i64,
    /// What they cost, SEK.
    pub participations_sek: i64,
    /// Charged cancellations in all.
    pub charged_cancellations: i64,
    /// What they cost, SEK.
    pub charged_cancellations_sek: i64,
    /// Grand total, SEK.
    pub total_sek: i64,
    /// Log position the cost basis reflects.
    pub position: i64,
}

/// The cost basis of `term` (e.g. HT2027), for one municipality or all.
pub async fn cost_basis(db: &Db, term: &str, municipality: Option<&str>) -> Result<CostBasis, ProjectionError> {
    let position = super::position(db, enrolment::NAME).await?;
    let mut params: Vec<Param> = vec![term.into()];
    let mut only = String::new();
    if let Some(m) = municipality {
        params.push(m.into());
        only = " AND e.municipality = $2".into();
    }
    // Confirmed places, and every charged cancellation (kept apart from the entries: a
    // person who cancelled a seat and registered again pays for both).
    let sql = format!(
        "SELECT e.municipality, o.offering_id, o.course, o.title, o.starts_at, e.staff_id, 'confirmed', e.completion, \
         NULL, o.price FROM roster_entries e JOIN roster_offerings o ON o.offering_id = e.offering_id \
         WHERE o.term = $1{only} AND o.state <> 'cancelled' AND e.status = 'confirmed' \
         UNION ALL \
         SELECT e.municipality, o.offering_id, o.course, o.title, o.starts_at, e.staff_id, 'cancelled', NULL, \
         e.cancelled_at, o.price FROM roster_charges e JOIN roster_offerings o ON o.offering_id = e.offering_id \
         WHERE o.term = $1{only} AND o.state <> 'cancelled'"
    );
    let lines: Vec<(String, CostLine)> = db
        .fetch(&sql, &params)
        .await?
        .iter()
        .map(|r| {
            let participation = r.text(6) == "confirmed";
            let line = CostLine {
                kind: if participation { PARTICIPATION } else { CHARGED_CANCELLATION }.to_string(),
                offering_id: r.text(1),
                course: r.text(2),
                title: r.text(3),
                starts_at: r.text(4),
                staff_id: r.text(5),
                name: None,
                completion: r.opt_text(7).filter(|_| participation),
                cancelled_at: r.opt_text(8).filter(|_| !participation),
                price_sek: r.int(9),
            };
            (r.text(0), line)
        })
        .collect();

    let names_sql = match municipality {
        Some(_) => "SELECT municipality_id, name FROM enrolment_municipalities WHERE municipality_id = $1",
        None => "SELECT municipality_id, name FROM enrolment_municipalities",
    };
    let names_params: Vec<Param> = municipality.map(Param::from).into_iter().collect();
    let mut municipalities: Vec<MunicipalityCosts> =
        db.fetch(names_sql, &names_params).await?.iter().map(|r| empty(r.text(0), r.text(1))).collect();
    for (id, line) in lines {
        let index = match municipalities.iter().position(|m| m.municipality_id == id) {
            Some(index) => index,
            None => {
                // A registration always names a known municipality; should one not, it is still billed.
                municipalities.push(empty(id.clone(), id));
                municipalities.len() - 1
            }
        };
        let m = &mut municipalities[index];
        if line.kind == PARTICIPATION {
            m.participations += 1;
            m.participations_sek += line.price_sek;
        } else {
            m.charged_cancellations += 1;
            m.charged_cancellations_sek += line.price_sek;
        }
        m.total_sek += line.price_sek;
        m.lines.push(line);
    }
    for m in &mut municipalities {
        m.lines.sort_by(|a, b| {
            (&a.course, &a.starts_at, &a.offering_id, a.kind != PARTICIPATION, &a.staff_id).cmp(&(
                &b.course,
                &b.starts_at,
                &b.offering_id,
                b.kind != PARTICIPATION,
                &b.staff_id,
            ))
        });
    }
    municipalities
        .sort_by(|a, b| swedish_order(&a.name, &b.name).then_with(|| a.municipality_id.cmp(&b.municipality_id)));

    Ok(CostBasis {
        term: term.to_string(),
        participations: municipalities.iter().map(|m| m.participations).sum(),
        participations_sek: municipalities.iter().map(|m| m.participations_sek).sum(),
        charged_cancellations: municipalities.iter().map(|m| m.charged_cancellations).sum(),
        charged_cancellations_sek: municipalities.iter().map(|m| m.charged_cancellations_sek).sum(),
        total_sek: municipalities.iter().map(|m| m.total_sek).sum(),
        municipalities,
        position,
    })
}

fn empty(municipality_id: String, name: String) -> MunicipalityCosts {
    MunicipalityCosts {
        municipality_id,
        name,
        participations: 0,
        participations_sek: 0,
        charged_cancellations: 0,
        charged_cancellations_sek: 0,
        total_sek: 0,
        lines: Vec::new(),
    }
}
