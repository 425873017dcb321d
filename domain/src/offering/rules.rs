//! The rules of DOMAIN.md's "product decisions" that concern one offering, each as a
//! pure function named as DOMAIN.md names it. The aggregate calls these; tests in
//! `tests.rs` exercise them through commands and events.

use std::collections::{BTreeMap, VecDeque};

use chrono::{DateTime, Utc};

use super::errors::OfferingError;
use super::facts::{PastParticipation, RegistrationWindow};
use super::RegistrationStatus;
use crate::staff::StaffStatus;
use crate::{CourseCode, MunicipalityId, OfferingId, Session, StaffId};

/// **Paused, removed or erased staff cannot be registered.**
pub fn staff_may_be_registered(status: StaffStatus) -> Result<(), OfferingError> {
    match status {
        StaffStatus::Active => Ok(()),
        StaffStatus::Paused => Err(OfferingError::StaffPaused),
        StaffStatus::Removed => Err(OfferingError::StaffRemoved),
        StaffStatus::Erased => Err(OfferingError::StaffErased),
    }
}

/// **Late registration closes when the first session starts**: after the deadline,
/// registrations take free seats first come first served, until the course begins. From
/// then on a newcomer would have missed teaching that completion counts, and a course
/// that is over (its completion waiting only for attendance) must not take, and charge,
/// a participant who never came. It holds before the deadline too, for an offering
/// whose sessions have begun.
pub fn late_registration_open(now: DateTime<Utc>, first_session_starts: DateTime<Utc>) -> Result<(), OfferingError> {
    if now < first_session_starts {
        Ok(())
    } else {
        Err(OfferingError::LateRegistrationClosed)
    }
}

/// **Dates with guard rails**: every session an offering is planned with, or moved to,
/// starts after the package's registration deadline (allocation comes first) and after
/// now (nobody could register for it any more). Sessions left as they were are not
/// judged again, so a course under way can still move its later sessions. A package that
/// records a term that already took place is exempt: its dates are history.
pub fn sessions_follow_the_deadline(
    new: &[Session],
    before: &[Session],
    window: &RegistrationWindow,
    now: DateTime<Utc>,
) -> Result<(), OfferingError> {
    if window.recorded_afterwards {
        return Ok(());
    }
    for session in new.iter().filter(|s| !before.contains(s)) {
        if session.starts_at <= window.deadline {
            return Err(OfferingError::SessionBeforeDeadline);
        }
        if session.starts_at <= now {
            return Err(OfferingError::SessionInPast);
        }
    }
    Ok(())
}

/// **Prerequisites** are met by having completed any offering of the course, or by
/// holding a confirmed seat on one that ends before this offering starts. Returns the
/// prerequisite courses that are not met.
pub fn missing_prerequisites(
    required: &[CourseCode],
    history: &[PastParticipation],
    this_offering_starts: DateTime<Utc>,
) -> Vec<CourseCode> {
    required
        .iter()
        .filter(|course| {
            !history.iter().any(|past| {
                &past.course == *course && (past.completed || (past.confirmed && past.ends_at <= this_offering_starts))
            })
        })
        .cloned()
        .collect()
}

/// The result of **fair allocation at the deadline**.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocation {
    /// The order municipalities take turns in.
    pub round_order: Vec<MunicipalityId>,
    /// Those who get a seat, in allocation order.
    pub confirmed: Vec<StaffId>,
    /// The rest, in allocation order: the waiting list.
    pub waitlisted: Vec<StaffId>,
}

/// A request awaiting allocation, in the order it was received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRequest {
    /// Who.
    pub staff: StaffId,
    /// Their municipality.
    pub municipality: MunicipalityId,
    /// Received after the deadline.
    pub late: bool,
}

/// **Fair allocation at the deadline**: seats of an oversubscribed offering go
/// round-robin across municipalities, each municipality's requests in its own priority
/// order (the order it registered them in), not first come first served. Requests that
/// get no seat go to the waiting list in that same order. Requests received after the
/// deadline but before allocation are served after all in-time requests, first come
/// first served.
///
/// The order municipalities take turns in is a lottery seeded by the offering's id, so it
/// differs between offerings (no municipality is always first), yet anyone can
/// recompute it: the allocation event records it.
pub fn fair_allocation(offering: OfferingId, free_seats: usize, requests: &[PendingRequest]) -> Allocation {
    let mut queues: BTreeMap<&MunicipalityId, VecDeque<StaffId>> = BTreeMap::new();
    for request in requests.iter().filter(|r| !r.late) {
        queues.entry(&request.municipality).or_default().push_back(request.staff);
    }
    let mut round_order: Vec<MunicipalityId> = queues.keys().map(|m| (*m).clone()).collect();
    round_order.sort_by_key(|m| lottery_ticket(offering, m));

    let mut in_allocation_order = Vec::with_capacity(requests.len());
    while queues.values().any(|q| !q.is_empty()) {
        for municipality in &round_order {
            if let Some(staff) = queues.get_mut(municipality).and_then(VecDeque::pop_front) {
                in_allocation_order.push(staff);
            }
        }
    }
    in_allocation_order.extend(requests.iter().filter(|r| r.late).map(|r| r.staff));

    let waitlisted = in_allocation_order.split_off(free_seats.min(in_allocation_order.len()));
    Allocation { round_order, confirmed: in_allocation_order, waitlisted }
}

/// A stable 64-bit FNV-1a hash of offering id and municipality: the same on every
/// machine and Rust version, unlike std's hasher.
fn lottery_ticket(offering: OfferingId, municipality: &MunicipalityId) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in offering.0.as_bytes().iter().chain(municipality.as_str().as_bytes()) {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// **Nobody removed or paused is promoted**: a freed seat goes to the first on the
/// waiting list who may take it; someone paused keeps their place in line for when they
/// are resumed, someone removed loses it when the removal settles their registrations.
pub fn next_to_promote(waiting_list: &[StaffId], unavailable: &[StaffId]) -> Option<StaffId> {
    waiting_list.iter().copied().find(|staff| !unavailable.contains(staff))
}

/// What becomes of one registration of a staff member who is removed (has left).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnLeaving {
    /// A request awaiting allocation or a waiting-list place: it ends, free.
    EndsFree,
    /// A confirmed seat on a course under way: given up as a cancellation would be.
    GivenUp,
    /// A confirmed seat on a course that has not started: a transfer to a colleague is
    /// still possible and would avoid the charge, so the coordinator decides first.
    TransferFirst,
    /// A confirmed seat on a course whose sessions are over: it is history (attendance,
    /// completion, certificate) and stays.
    Kept,
}

/// **Staff who leave**: removing a staff member settles their registrations on an
/// offering that is still running, by the rules a cancellation follows (DOMAIN.md:
/// removed staff keep their history, take no new registrations, and nobody removed is
/// promoted).
pub fn on_leaving(
    status: RegistrationStatus,
    now: DateTime<Utc>,
    first_session_starts: DateTime<Utc>,
    last_session_ends: DateTime<Utc>,
) -> OnLeaving {
    match status {
        RegistrationStatus::Confirmed if now >= last_session_ends => OnLeaving::Kept,
        RegistrationStatus::Confirmed if now < first_session_starts => OnLeaving::TransferFirst,
        RegistrationStatus::Confirmed => OnLeaving::GivenUp,
        _ => OnLeaving::EndsFree,
    }
}

/// **Binding after the deadline**: giving up a confirmed seat is charged the full fee
/// (confirmed seats exist only from allocation, which is after the deadline). Withdrawing
/// a request that awaits allocation, or leaving the waiting list, is free. A transfer to
/// someone of the same municipality is not a cancellation and is never charged.
pub fn cancellation_is_charged(was_confirmed: bool) -> bool {
    was_confirmed
}

/// A certificate number unique across the system: course, term, the offering's id and the
/// participant's ordinal on it, e.g. `LVU-GRUND-HT2027-3F2A9C1B04D2-007`.
pub fn certificate_number(course: &CourseCode, term: crate::Term, offering: OfferingId, ordinal: u32) -> String {
    let short = offering.0.simple().to_string()[..12].to_ascii_uppercase();
    format!("{course}-{term}-{short}-{ordinal:03}")
}
