//! Which offerings each person has been on: the lookup behind prerequisite checks and
//! "a staff member's registrations". Kept in memory and caught up from the log before
//! each use, so events written by another process are seen too. It is consulted on the
//! write path, where the durable views' lag (up to a poll interval) would not do.
//!
//! Gap safety, as for projections (`kurslogg_projections::feed`): on PostgreSQL a
//! position can commit after a later one was read. Positions at or below the append
//! fence's high-water mark are final; the index re-reads everything above the mark it
//! saw *before* its previous read, so a late commit is picked up next time. Adding a
//! person to a set twice is harmless, so re-reading is too. The mark is refreshed at most
//! every [`FENCE_EVERY`] so that lookups do not hold appends back.

use std::collections::{BTreeSet, HashMap};
use std::str::FromStr;
use std::time::{Duration, Instant};

use kurslogg_domain::{OfferingId, StaffId};
use tokio::sync::Mutex;

use crate::store::{EventLog, StoreError};

/// How often the fenced high-water mark is read again.
const FENCE_EVERY: Duration = Duration::from_millis(50);

#[derive(Default)]
struct Index {
    /// Every event at or below this position is in the index.
    final_up_to: i64,
    /// The fenced high-water mark, and when it was read.
    fence: Option<(i64, Instant)>,
    offerings_by_person: HashMap<StaffId, BTreeSet<OfferingId>>,
}

/// Person → offerings they have appeared on.
#[derive(Default)]
pub struct ParticipationIndex {
    index: Mutex<Index>,
}

impl ParticipationIndex {
    /// The offerings `staff` has appeared on, after catching up with the log.
    pub async fn offerings_of(&self, log: &EventLog, staff: StaffId) -> Result<Vec<OfferingId>, StoreError> {
        let mut index = self.index.lock().await;
        let fence = match index.fence {
            Some((mark, at)) if at.elapsed() < FENCE_EVERY => mark,
            _ => {
                let mark = kurslogg_projections::feed::high_water_mark(&log.views()).await?;
                index.fence = Some((mark, Instant::now()));
                mark
            }
        };
        // Read before the read below began, so everything up to it is in that read.
        let final_after_this_read = fence.max(index.final_up_to);
        for row in log.people_on_offerings(index.final_up_to).await? {
            let Ok(offering) = OfferingId::from_str(&row.offering_id) else { continue };
            for person in people_named(&row.payload) {
                index.offerings_by_person.entry(person).or_default().insert(offering);
            }
        }
        index.final_up_to = final_after_this_read;
        Ok(index.offerings_by_person.get(&staff).map(|s| s.iter().copied().collect()).unwrap_or_default())
    }
}

/// The people an offering event puts on the offering: `staff`, or `to` of a transfer.
fn people_named(payload: &str) -> Vec<StaffId> {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(payload) else { return vec![] };
    let Some(body) = value.as_object().and_then(|o| o.values().next()) else { return vec![] };
    ["staff", "to"]
        .iter()
        .filter_map(|field| body.get(*field)?.as_str().and_then(|s| StaffId::from_str(s).ok()))
        .collect()
}
