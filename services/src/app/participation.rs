//! Which offerings each person has been on: the lookup behind prerequisite checks and
//! "a staff member's registrations". Kept in memory and caught up from the log's global
//! position before each use, so events written by another process are seen too.
//!
//! Known limit (issue 4 replaces this with a durable projection): on PostgreSQL an
//! event whose transaction commits after a later position was read can be missed.

use std::collections::{BTreeSet, HashMap};
use std::str::FromStr;

use kurslogg_domain::{OfferingId, StaffId};
use tokio::sync::Mutex;

use crate::store::{EventLog, StoreError};

#[derive(Default)]
struct Index {
    read_up_to: i64,
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
        for row in log.people_on_offerings(index.read_up_to).await? {
            index.read_up_to = index.read_up_to.max(row.position);
            let Ok(offering) = OfferingId::from_str(&row.offering_id) else { continue };
            for person in people_named(&row.payload) {
                index.offerings_by_person.entry(person).or_default().insert(offering);
            }
        }
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
