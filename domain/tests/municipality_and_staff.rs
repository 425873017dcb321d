//! Member municipalities with their roles, and staff members' lifecycle.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use cqrs_es::test::TestFramework;
use kurslogg_domain::municipality::{
    MunicipalRole, Municipality, MunicipalityCommand, MunicipalityError, MunicipalityEvent,
};
use kurslogg_domain::staff::{SealedProfile, SealedStaffCommand, StaffError, StaffEvent, StaffMember, StaffProfile};
use kurslogg_domain::{
    Clock, ExperienceBand, FixedClock, MunicipalityId, OfferingId, Refusal, RefusalKind, Sealed, StaffGroup, StaffId,
    Text, WorkEmail,
};
use uuid::Uuid;

fn now() -> DateTime<Utc> {
    "2027-02-01T09:00:00Z".parse().unwrap()
}

fn clock() -> Arc<dyn Clock> {
    Arc::new(FixedClock(now()))
}

fn municipalities() -> TestFramework<Municipality> {
    TestFramework::with(clock())
}

fn staff_members() -> TestFramework<StaffMember> {
    TestFramework::with(clock())
}

fn muni(raw: &str) -> MunicipalityId {
    MunicipalityId::parse(raw).unwrap()
}

fn text(raw: &str) -> Text {
    Text::parse(raw).unwrap()
}

fn staff(n: u128) -> StaffId {
    StaffId(Uuid::from_u128(n))
}

// ---------------------------------------------------------------------------------------
// Municipality
// ---------------------------------------------------------------------------------------

fn dals_ed_added() -> MunicipalityEvent {
    MunicipalityEvent::MunicipalityAdded { id: muni("dals-ed"), name: text("Dals-Ed"), federation: text("Fyrbodal") }
}

fn assign(n: u128, of: &str, role: MunicipalRole) -> MunicipalityCommand {
    MunicipalityCommand::AssignRole { staff: staff(n), staff_municipality: muni(of), role }
}

#[tokio::test]
async fn a_municipality_joins_once() {
    municipalities()
        .given_no_previous_events()
        .when_async(MunicipalityCommand::AddMunicipality {
            id: muni("dals-ed"),
            name: text("Dals-Ed"),
            federation: text("Fyrbodal"),
        })
        .await
        .then_expect_events(vec![dals_ed_added()]);
    municipalities()
        .given(vec![dals_ed_added()])
        .when_async(MunicipalityCommand::AddMunicipality {
            id: muni("dals-ed"),
            name: text("Dals-Ed"),
            federation: text("Fyrbodal"),
        })
        .await
        .then_expect_error(MunicipalityError::AlreadyExists);
}

#[tokio::test]
async fn a_role_goes_to_the_municipalitys_own_staff() {
    municipalities()
        .given(vec![dals_ed_added()])
        .when_async(assign(1, "dals-ed", MunicipalRole::Coordinator))
        .await
        .then_expect_events(vec![MunicipalityEvent::RoleAssigned {
            staff: staff(1),
            role: MunicipalRole::Coordinator,
        }]);
}

#[tokio::test]
async fn a_role_for_staff_of_another_municipality_is_refused() {
    municipalities()
        .given(vec![dals_ed_added()])
        .when_async(assign(1, "bengtsfors", MunicipalRole::Coordinator))
        .await
        .then_expect_error(MunicipalityError::StaffOfOtherMunicipality);
    assert_eq!(MunicipalityError::StaffOfOtherMunicipality.code(), "staff_of_other_municipality");
}

#[tokio::test]
async fn assigning_a_role_twice_emits_it_once() {
    municipalities()
        .given(vec![
            dals_ed_added(),
            MunicipalityEvent::RoleAssigned { staff: staff(1), role: MunicipalRole::Supervisor },
        ])
        .when_async(assign(1, "dals-ed", MunicipalRole::Supervisor))
        .await
        .then_expect_events(vec![]);
}

#[tokio::test]
async fn one_person_can_hold_both_roles() {
    municipalities()
        .given(vec![
            dals_ed_added(),
            MunicipalityEvent::RoleAssigned { staff: staff(1), role: MunicipalRole::Supervisor },
        ])
        .when_async(assign(1, "dals-ed", MunicipalRole::Coordinator))
        .await
        .then_expect_events(vec![MunicipalityEvent::RoleAssigned {
            staff: staff(1),
            role: MunicipalRole::Coordinator,
        }]);
}

#[tokio::test]
async fn a_role_is_revoked_once_and_only_from_its_holder() {
    let given =
        vec![dals_ed_added(), MunicipalityEvent::RoleAssigned { staff: staff(1), role: MunicipalRole::Coordinator }];
    municipalities()
        .given(given.clone())
        .when_async(MunicipalityCommand::RevokeRole { staff: staff(1), role: MunicipalRole::Coordinator })
        .await
        .then_expect_events(vec![MunicipalityEvent::RoleRevoked { staff: staff(1), role: MunicipalRole::Coordinator }]);
    municipalities()
        .given(given.clone())
        .when_async(MunicipalityCommand::RevokeRole { staff: staff(1), role: MunicipalRole::Supervisor })
        .await
        .then_expect_events(vec![]);
    let mut revoked = given;
    revoked.push(MunicipalityEvent::RoleRevoked { staff: staff(1), role: MunicipalRole::Coordinator });
    municipalities()
        .given(revoked.clone())
        .when_async(MunicipalityCommand::RevokeRole { staff: staff(1), role: MunicipalRole::Coordinator })
        .await
        .then_expect_events(vec![]);
    // A revoked role can be given again.
    municipalities()
        .given(revoked)
        .when_async(assign(1, "dals-ed", MunicipalRole::Coordinator))
        .await
        .then_expect_events(vec![MunicipalityEvent::RoleAssigned {
            staff: staff(1),
            role: MunicipalRole::Coordinator,
        }]);
}

#[tokio::test]
async fn roles_in_a_municipality_never_added_are_refused_as_not_found() {
    municipalities()
        .given_no_previous_events()
        .when_async(assign(1, "dals-ed", MunicipalRole::Coordinator))
        .await
        .then_expect_error(MunicipalityError::NotFound);
    municipalities()
        .given_no_previous_events()
        .when_async(MunicipalityCommand::RevokeRole { staff: staff(1), role: MunicipalRole::Coordinator })
        .await
        .then_expect_error(MunicipalityError::NotFound);
}

// ---------------------------------------------------------------------------------------
// Staff
// ---------------------------------------------------------------------------------------

/// Sealed text stands in for what the services layer's sealing produces: the domain
/// only carries it, so any distinct text will do.
fn sealed(what: &str) -> Sealed {
    Sealed::from_sealed_text(format!("sealed:{what}"))
}

fn profile(supervisor: Option<StaffId>) -> SealedProfile {
    StaffProfile {
        name: kurslogg_domain::PersonName::parse("Sara Lind").unwrap(),
        work_email: WorkEmail::parse("sara.lind@dals-ed.se").unwrap(),
        unit: text("Barn och unga, myndighet"),
        supervisor,
        staff_group: StaffGroup::Myndighetsutovning,
        experience_band: ExperienceBand::New0To2,
        social_work_degree: true,
    }
    .sealed(sealed("Sara Lind"), sealed("sara.lind@dals-ed.se"))
}

fn removed() -> StaffEvent {
    StaffEvent::StaffMemberRemoved { at: now() }
}

fn erased() -> StaffEvent {
    StaffEvent::StaffMemberErased { reason: text("begäran från den anställda") }
}

fn added() -> StaffEvent {
    StaffEvent::StaffMemberAdded { id: staff(1), municipality: muni("dals-ed"), profile: profile(Some(staff(2))) }
}

fn add(supervisor: Option<StaffId>) -> SealedStaffCommand {
    SealedStaffCommand::AddStaffMember { id: staff(1), municipality: muni("dals-ed"), profile: profile(supervisor) }
}

#[tokio::test]
async fn a_staff_member_is_added_to_a_municipality_once() {
    staff_members().given_no_previous_events().when_async(add(Some(staff(2)))).await.then_expect_events(vec![added()]);
    staff_members().given(vec![added()]).when_async(add(None)).await.then_expect_error(StaffError::AlreadyExists);
}

#[tokio::test]
async fn nobody_is_their_own_supervisor() {
    staff_members()
        .given_no_previous_events()
        .when_async(add(Some(staff(1))))
        .await
        .then_expect_error(StaffError::OwnSupervisor);
    staff_members()
        .given(vec![added()])
        .when_async(SealedStaffCommand::UpdateStaffMember { profile: profile(Some(staff(1))) })
        .await
        .then_expect_error(StaffError::OwnSupervisor);
}

#[tokio::test]
async fn updating_a_staff_member_records_the_new_details_and_an_unchanged_update_nothing() {
    let mut moved = profile(Some(staff(3)));
    moved.experience_band = ExperienceBand::Years3To5;
    staff_members()
        .given(vec![added()])
        .when_async(SealedStaffCommand::UpdateStaffMember { profile: moved.clone() })
        .await
        .then_expect_events(vec![StaffEvent::StaffMemberUpdated { profile: moved }]);
    staff_members()
        .given(vec![added()])
        .when_async(SealedStaffCommand::UpdateStaffMember { profile: profile(Some(staff(2))) })
        .await
        .then_expect_events(vec![]);
}

#[tokio::test]
async fn an_active_staff_member_is_paused_and_a_paused_one_resumed() {
    staff_members()
        .given(vec![added()])
        .when_async(SealedStaffCommand::PauseStaffMember)
        .await
        .then_expect_events(vec![StaffEvent::StaffMemberPaused]);
    staff_members()
        .given(vec![added(), StaffEvent::StaffMemberPaused])
        .when_async(SealedStaffCommand::ResumeStaffMember)
        .await
        .then_expect_events(vec![StaffEvent::StaffMemberResumed]);
}

#[tokio::test]
async fn pausing_a_paused_or_resuming_an_active_staff_member_emits_nothing() {
    staff_members()
        .given(vec![added(), StaffEvent::StaffMemberPaused])
        .when_async(SealedStaffCommand::PauseStaffMember)
        .await
        .then_expect_events(vec![]);
    staff_members()
        .given(vec![added()])
        .when_async(SealedStaffCommand::ResumeStaffMember)
        .await
        .then_expect_events(vec![]);
    staff_members()
        .given(vec![added(), StaffEvent::StaffMemberPaused, StaffEvent::StaffMemberResumed])
        .when_async(SealedStaffCommand::ResumeStaffMember)
        .await
        .then_expect_events(vec![]);
}

#[tokio::test]
async fn active_and_paused_staff_can_be_removed_once_and_the_removal_is_dated() {
    for given in [vec![added()], vec![added(), StaffEvent::StaffMemberPaused]] {
        staff_members()
            .given(given)
            .when_async(SealedStaffCommand::RemoveStaffMember)
            .await
            .then_expect_events(vec![removed()]);
    }
    staff_members()
        .given(vec![added(), removed()])
        .when_async(SealedStaffCommand::RemoveStaffMember)
        .await
        .then_expect_events(vec![]);
}

#[tokio::test]
async fn removed_staff_cannot_be_paused_resumed_or_updated() {
    for command in [
        SealedStaffCommand::PauseStaffMember,
        SealedStaffCommand::ResumeStaffMember,
        SealedStaffCommand::UpdateStaffMember { profile: profile(Some(staff(3))) },
    ] {
        staff_members()
            .given(vec![added(), StaffEvent::StaffMemberPaused, removed()])
            .when_async(command)
            .await
            .then_expect_error(StaffError::Removed);
    }
    assert_eq!(StaffError::Removed.code(), "staff_removed");
    assert_eq!(StaffError::Removed.kind(), RefusalKind::Conflict);
}

#[tokio::test]
async fn the_history_of_removed_staff_is_kept() {
    let note = SealedStaffCommand::NoteAttendance {
        offering: OfferingId(Uuid::from_u128(7)),
        session: 2,
        note: sealed("Sjuk, lämnade läkarintyg"),
    };
    staff_members().given(vec![added(), removed()]).when_async(note).await.then_expect_events(vec![
        StaffEvent::AttendanceNoted {
            offering: OfferingId(Uuid::from_u128(7)),
            session: 2,
            note: sealed("Sjuk, lämnade läkarintyg"),
        },
    ]);
}

#[tokio::test]
async fn any_staff_member_can_be_erased_with_a_reason() {
    for given in [vec![added()], vec![added(), StaffEvent::StaffMemberPaused], vec![added(), removed()]] {
        staff_members()
            .given(given)
            .when_async(SealedStaffCommand::EraseStaffMember { reason: text("begäran från den anställda") })
            .await
            .then_expect_events(vec![erased()]);
    }
}

/// Every command on a staff member who has been added, erasing with `reason`.
fn commands_on_an_added_member(reason: &str) -> Vec<SealedStaffCommand> {
    vec![
        SealedStaffCommand::PauseStaffMember,
        SealedStaffCommand::ResumeStaffMember,
        SealedStaffCommand::RemoveStaffMember,
        SealedStaffCommand::UpdateStaffMember { profile: profile(None) },
        SealedStaffCommand::NoteAttendance {
            offering: OfferingId(Uuid::from_u128(7)),
            session: 0,
            note: sealed("Sen"),
        },
        SealedStaffCommand::EraseStaffMember { reason: text(reason) },
    ]
}

#[tokio::test]
async fn erased_staff_take_no_command_not_even_a_second_erasure() {
    for command in commands_on_an_added_member("en gång till").into_iter().chain([add(None)]) {
        staff_members()
            .given(vec![added(), removed(), erased()])
            .when_async(command)
            .await
            .then_expect_error(StaffError::Erased);
    }
    assert_eq!(StaffError::Erased.code(), "staff_erased");
    assert_eq!(StaffError::Erased.kind(), RefusalKind::Conflict);
}

#[tokio::test]
async fn commands_on_staff_never_added_are_refused_as_not_found() {
    for command in commands_on_an_added_member("fel person") {
        staff_members().given_no_previous_events().when_async(command).await.then_expect_error(StaffError::NotFound);
    }
}
