//! The course office's user administration, for the API's `/users` and `/security-log`
//! and the pages (`/kansli/anvandare`) alike: who may, and what is done. A password the
//! office resets is made here, random, and shown once; a form sent twice resets once.

use rand::Rng;

use super::{Actor, AppError, CommandContext, Kurslogg, Role};
use crate::auth::{Origin, SecurityEntry, SecurityFilter, User};
use crate::store::{AppendError, StoredResponse};

/// The letters a made password is drawn from: none that are easily mistaken for another
/// (no 0/o, 1/l/i) when it is read aloud or copied by hand.
const PASSWORD_LETTERS: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

/// A new random password: four groups of four (about 79 bits), easy to pass on.
pub fn made_password() -> String {
    let mut rng = rand::rng();
    (0..4)
        .map(|_| {
            (0..4).map(|_| PASSWORD_LETTERS[rng.random_range(0..PASSWORD_LETTERS.len())] as char).collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// What a password reset did.
#[derive(Debug)]
pub enum PasswordReset {
    /// The new password: shown once, never stored.
    New(String),
    /// This form was sent before and reset the password then; it is not shown again.
    AlreadyDone,
}

impl Kurslogg {
    /// Every user account: the course office and auditors.
    pub async fn users_seen(&self, actor: &Actor) -> Result<Vec<User>, AppError> {
        self.ensure_sees_everything(actor, "lista användare")?;
        Ok(self.auth.users().await?)
    }

    /// One user account: the course office and auditors, or the user.
    pub async fn user_seen(&self, actor: &Actor, user_id: &str) -> Result<User, AppError> {
        match self.auth.user(user_id).await? {
            Some(user) if actor.sees_everything() || user.user_id == actor.id => Ok(user),
            _ => Err(AppError::not_found("user")),
        }
    }

    /// Disables a user (the course office): their tokens and sessions stop working at once.
    pub async fn disable_user(&self, actor: &Actor, origin: &Origin, user_id: &str) -> Result<User, AppError> {
        self.ensure_role(actor, &[Role::CourseOffice], "stänga av användare")?;
        Ok(self.auth.disable_user(actor, origin, user_id).await?)
    }

    /// Sets a user's password (the course office).
    pub async fn set_user_password(
        &self,
        actor: &Actor,
        origin: &Origin,
        user_id: &str,
        password: String,
    ) -> Result<(), AppError> {
        self.ensure_role(actor, &[Role::CourseOffice], "sätta lösenord")?;
        Ok(self.auth.set_password(actor, origin, user_id, password).await?)
    }

    /// Gives a user a new random password (the course office), once per form
    /// ([`Self::first_sending`]): a form sent twice sets one password, and the password
    /// itself is never stored with the answer.
    pub async fn reset_password(
        &self,
        ctx: &CommandContext,
        origin: &Origin,
        user_id: &str,
    ) -> Result<PasswordReset, AppError> {
        self.ensure_role(&ctx.actor, &[Role::CourseOffice], "återställa lösenord")?;
        self.auth.user(user_id).await?.ok_or_else(|| AppError::not_found("user"))?;
        if !self.first_sending(ctx).await? {
            return Ok(PasswordReset::AlreadyDone);
        }
        let password = made_password();
        self.auth.set_password(&ctx.actor, origin, user_id, password.clone()).await?;
        Ok(PasswordReset::New(password))
    }

    /// Whether this is the first time the form behind `ctx` is sent: its idempotency key
    /// is claimed (recorded with the request's hash) before anything is done, so a second
    /// sending (a double click, a reload) does nothing. What the first answered is not
    /// stored: a password is shown once. Without a key, every sending is the first.
    pub async fn first_sending(&self, ctx: &CommandContext) -> Result<bool, AppError> {
        let Some(idempotency) = &ctx.idempotency else { return Ok(true) };
        if let Some(stored) = self.log.stored_response(&ctx.actor.id, &idempotency.key).await? {
            if stored.request_hash != idempotency.request_hash {
                return Err(AppError::IdempotencyKeyReused);
            }
            return Ok(false);
        }
        let claim = StoredResponse {
            actor_id: ctx.actor.id.clone(),
            key: idempotency.key.clone(),
            request_hash: idempotency.request_hash.clone(),
            status: 204,
            body: r#"{"outcome":"done","result":"shown_once"}"#.into(),
            aggregate_id: None,
            last_sequence: None,
        };
        match self.log.append(&[], &[claim]).await {
            Ok(_) => Ok(true),
            Err(AppendError::IdempotencyKeyTaken) => Ok(false),
            Err(AppendError::Store(e)) => Err(e.into()),
            Err(AppendError::Conflict | AppendError::Stale(_)) => Err(AppError::Contention),
        }
    }

    /// Security-log lines, oldest first: the course office and auditors.
    pub async fn security_log_seen(
        &self,
        actor: &Actor,
        filter: &SecurityFilter,
    ) -> Result<Vec<SecurityEntry>, AppError> {
        self.ensure_sees_everything(actor, "läsa säkerhetsloggen")?;
        Ok(self.auth.security_log(filter).await?)
    }

    /// Security-log lines, newest first, before entry `before` (or the newest), of `kind`
    /// and about or by `user` if given: the course office and auditors, for the pages.
    pub async fn security_log_newest(
        &self,
        actor: &Actor,
        kind: Option<&str>,
        user: Option<&str>,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<SecurityEntry>, AppError> {
        self.ensure_sees_everything(actor, "läsa säkerhetsloggen")?;
        Ok(self.auth.security_log_newest(kind, user, before, limit).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_made_password_is_long_enough_and_not_the_same_twice() {
        let first = made_password();
        assert_eq!(first.len(), 19, "{first}");
        assert!(crate::auth::check_password(&first).is_ok());
        assert!(first.chars().all(|c| c == '-' || PASSWORD_LETTERS.contains(&(c as u8))), "{first}");
        assert_ne!(first, made_password());
    }
}
