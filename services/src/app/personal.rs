//! Personal data (docs/decisions/0007): what callers give in plain text is sealed with
//! the person's own key before it reaches the staff aggregate, and opened again for the
//! views and letters that need it. Erasing a person records the erasure and destroys
//! the key; retention erases people who left long ago.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use kurslogg_domain::staff::{
    SealedProfile, SealedStaffCommand, StaffCommand, StaffError, StaffMember, StaffProfile, StaffStatus,
};
use kurslogg_domain::{OfferingId, Sealed, StaffId, Text};

use super::{AppError, CommandContext, Kurslogg, Written};
use crate::personal::PersonalKey;

/// A staff member's name and work e-mail, opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Personal {
    /// Full name.
    pub name: String,
    /// Work e-mail.
    pub work_email: String,
}

/// `profile` opened with `key`; `None` (and an error in the log) if it does not open,
/// which only a damaged log or key can cause.
pub(super) fn open_profile(key: &PersonalKey, staff: StaffId, profile: &SealedProfile) -> Option<Personal> {
    match (key.open(staff, &profile.name), key.open(staff, &profile.work_email)) {
        (Ok(name), Ok(work_email)) => Some(Personal { name, work_email }),
        _ => {
            tracing::error!(%staff, "a staff member's sealed details do not open with their key");
            None
        }
    }
}

/// `profile` as the log keeps it. A field whose text is what `current` already holds
/// keeps its sealed form: sealing never gives the same text twice, and the aggregate
/// must see an unchanged profile as unchanged.
fn seal_profile(
    key: &PersonalKey,
    staff: StaffId,
    profile: StaffProfile,
    current: Option<&SealedProfile>,
) -> SealedProfile {
    let seal = |plain: &str, sealed: Option<&kurslogg_domain::Sealed>| match sealed {
        Some(sealed) if key.open(staff, sealed).is_ok_and(|text| text == plain) => sealed.clone(),
        _ => key.seal(staff, plain),
    };
    let name = seal(profile.name.as_str(), current.map(|c| &c.name));
    let work_email = seal(profile.work_email.as_str(), current.map(|c| &c.work_email));
    profile.sealed(name, work_email)
}

/// Refuses an erasure reason that gives the person's name or e-mail address (or its
/// part before the @): the reason stays in the log afterwards.
fn ensure_reason_is_anonymous(reason: &Text, person: &Personal) -> Result<(), AppError> {
    let reason = reason.as_str().to_lowercase();
    let words: Vec<&str> =
        reason.split(|c: char| !(c.is_alphanumeric() || matches!(c, '.' | '@' | '-' | '_' | '+'))).collect();
    let email = person.work_email.to_lowercase();
    let mailbox = email.split('@').next().unwrap_or_default();
    let names_them = reason.contains(&person.name.to_lowercase())
        || words.iter().any(|word| word.trim_matches('.') == email || word.trim_matches('.') == mailbox);
    if names_them {
        return Err(AppError::Validation(
            "reason: the reason stays in the log after the erasure, so it must not give the person's name or \
             e-mail address"
                .into(),
        ));
    }
    Ok(())
}

/// The reason the scheduler gives when retention erases someone.
const RETENTION_REASON: &str = "retention";

impl Kurslogg {
    /// `member`'s name and e-mail as they are now; `None` once they are erased.
    pub(super) async fn open_personal(&self, member: &StaffMember) -> Result<Option<Personal>, AppError> {
        let Some(profile) = member.profile.as_ref().filter(|_| member.status != StaffStatus::Erased) else {
            return Ok(None);
        };
        let Some(key) = self.log.personal_key(member.id).await? else { return Ok(None) };
        Ok(open_profile(&key, member.id, profile))
    }

    /// The names of these staff members as they are now, their keys fetched together;
    /// the unknown and the erased are left out.
    pub async fn staff_names(&self, ids: &[StaffId]) -> Result<HashMap<StaffId, String>, AppError> {
        let ids: BTreeSet<StaffId> = ids.iter().copied().collect();
        let mut members = Vec::with_capacity(ids.len());
        for id in &ids {
            if let Some(member) = self.staff.load(&id.to_string()).await? {
                if member.status != StaffStatus::Erased && member.profile.is_some() {
                    members.push(member);
                }
            }
        }
        let keys = self.log.personal_keys(&members.iter().map(|m| m.id).collect::<Vec<_>>()).await?;
        let mut names = HashMap::with_capacity(members.len());
        for member in members {
            let (Some(key), Some(profile)) = (keys.get(&member.id), member.profile.as_ref()) else { continue };
            if let Some(personal) = open_profile(key, member.id, profile) {
                names.insert(member.id, personal.name);
            }
        }
        Ok(names)
    }

    /// The notes kept with these staff members' attendance on `offering`, opened: per
    /// person, per session index. The erased have none.
    pub async fn attendance_notes(
        &self,
        offering: OfferingId,
        ids: &[StaffId],
    ) -> Result<HashMap<StaffId, BTreeMap<usize, String>>, AppError> {
        let mut sealed = Vec::new();
        for id in ids {
            if let Some(member) = self.staff.peek(&id.to_string()).await? {
                let notes: Vec<(usize, Sealed)> = member
                    .notes
                    .iter()
                    .filter(|n| n.offering == offering && member.status != StaffStatus::Erased)
                    .map(|n| (n.session, n.note.clone()))
                    .collect();
                if !notes.is_empty() {
                    sealed.push((*id, notes));
                }
            }
        }
        let keys = self.log.personal_keys(&sealed.iter().map(|(id, _)| *id).collect::<Vec<_>>()).await?;
        let mut opened = HashMap::new();
        for (id, notes) in sealed {
            let Some(key) = keys.get(&id) else { continue };
            let notes: BTreeMap<usize, String> =
                notes.into_iter().filter_map(|(session, note)| Some((session, key.open(id, &note).ok()?))).collect();
            opened.insert(id, notes);
        }
        Ok(opened)
    }

    /// The key of staff member `id`, who must not be erased.
    async fn key_of_unerased(&self, id: StaffId) -> Result<PersonalKey, AppError> {
        self.log.personal_key(id).await?.ok_or_else(|| AppError::refused(&StaffError::Erased))
    }

    /// A caller's command on staff member `id` as the aggregate takes it: personal data
    /// sealed with their key. A new member's key is created here, before the event that
    /// needs it, so the append stays the command's one write. `current` is the member as
    /// it stands, if added.
    pub(super) async fn sealed_command(
        &self,
        id: StaffId,
        current: Option<&StaffMember>,
        command: StaffCommand,
    ) -> Result<SealedStaffCommand, AppError> {
        if current.is_some_and(|m| m.status == StaffStatus::Erased) {
            return Err(AppError::refused(&StaffError::Erased));
        }
        Ok(match command {
            StaffCommand::AddStaffMember { id, municipality, profile } => {
                let key = self.log.ensure_personal_key(id).await?;
                SealedStaffCommand::AddStaffMember { id, municipality, profile: seal_profile(&key, id, profile, None) }
            }
            StaffCommand::UpdateStaffMember { profile } => {
                let key = self.key_of_unerased(id).await?;
                let current = current.and_then(|m| m.profile.as_ref());
                SealedStaffCommand::UpdateStaffMember { profile: seal_profile(&key, id, profile, current) }
            }
            StaffCommand::PauseStaffMember => SealedStaffCommand::PauseStaffMember,
            StaffCommand::ResumeStaffMember => SealedStaffCommand::ResumeStaffMember,
            StaffCommand::RemoveStaffMember => SealedStaffCommand::RemoveStaffMember,
            StaffCommand::NoteAttendance { offering, session, note } => {
                let key = self.key_of_unerased(id).await?;
                SealedStaffCommand::NoteAttendance { offering, session, note: key.seal(id, note.as_str()) }
            }
        })
    }

    /// Erases a staff member's personal data (course office only): records the erasure
    /// with its reason, then destroys their key, so their name, e-mail and notes can
    /// never be read again from the log, a view, an export or a letter. Their
    /// registrations, attendance and certificates stay, by id, so counts and costs do
    /// not change. A second erasure is refused (409 `staff_erased`).
    pub async fn erase_staff(&self, ctx: &CommandContext, id: StaffId, reason: Text) -> Result<Written, AppError> {
        self.ensure_course_office(ctx)?;
        let member = self.staff.load(&id.to_string()).await?.ok_or_else(|| AppError::not_found("staff member"))?;
        if let Some(person) = self.open_personal(&member).await? {
            ensure_reason_is_anonymous(&reason, &person)?;
        }
        self.erase(ctx, id, reason).await
    }

    /// Erases a staff member whose retention has ended, with the reason
    /// [`RETENTION_REASON`] (the scheduler, as the system).
    pub async fn erase_after_retention(&self, ctx: &CommandContext, id: StaffId) -> Result<Written, AppError> {
        self.ensure_course_office(ctx)?;
        self.erase(ctx, id, Text::parse(RETENTION_REASON).expect("a valid reason")).await
    }

    async fn erase(&self, ctx: &CommandContext, id: StaffId, reason: Text) -> Result<Written, AppError> {
        let command = SealedStaffCommand::EraseStaffMember { reason };
        let written = self.run(&self.staff, &id.to_string(), command, ctx, Self::written(id.to_string())).await?;
        // The erasure is in the log: now the key goes. Should this process stop first (or
        // the database fail here), the scheduler's next round destroys it
        // (`finish_erasures`); until then every read already treats the person as erased.
        match self.log.destroy_personal_key(id).await {
            Ok(_) => tracing::info!(staff = %id, "personal data erased"),
            Err(e) => tracing::error!(staff = %id, error = %e, "erasure recorded; its key is left to the scheduler"),
        }
        Ok(written)
    }

    /// Destroys the keys that erasures left behind (the process stopped between the
    /// erasure event and the key's deletion). Returns how many.
    pub async fn finish_erasures(&self) -> Result<usize, AppError> {
        let left = self.log.keys_left_by_erasures().await?;
        for staff in &left {
            tracing::warn!(%staff, "destroying the key an interrupted erasure left behind");
            self.log.destroy_personal_key(*staff).await?;
        }
        Ok(left.len())
    }
}
