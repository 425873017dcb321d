//! Authentication: users, personal API tokens, browser sessions, the rate limit on failed
//! logins, and the security log (docs/decisions/0008).
//!
//! Credentials are not domain facts, so they live in tables of their own (migration
//! 000007), not in the event log: a revoked token or a new password needs no event, and a
//! user's login name can be deleted. What happens to them is appended to `security_log`:
//! every login (and failed one), every token use, every user and token change, and every
//! read of a person's record.
//!
//! Secrets are never stored: tokens and passwords as Argon2id hashes, session ids and
//! CSRF tokens (random 256-bit values, where a slow hash buys nothing) as SHA-256.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::SaltString;
use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use kurslogg_domain::text::{self, check_chars, Shape};
use kurslogg_domain::{Clock, MunicipalityId, StaffId};
use kurslogg_projections::db::{Record, ViewTx};
use kurslogg_projections::Db;
use kurslogg_projections::Param;
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::app::{Actor, Role};

/// How long sessions last, how failed logins and token guesses are limited, and whose
/// word on the client's address is taken (docs/decisions/0008).
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// A browser session ends this long after login.
    pub session_hours: i64,
    /// Failed password logins for one login name from one client address within the
    /// window before that name is locked for that address.
    pub max_failed_logins: i64,
    /// Failed password logins for one login name from all addresses together within the
    /// window before the name is locked for addresses its user has never logged in from.
    pub max_failed_logins_per_name: i64,
    /// Failed password logins from one client address (any login names) within the window
    /// before password logins from it are refused, except for users who have logged in
    /// from that address before.
    pub max_failures_per_client: i64,
    /// Rejected bearer tokens from one client address within the window before it may not
    /// try unknown tokens any more (tokens already verified keep working).
    pub max_token_failures_per_client: i64,
    /// The window, in minutes.
    pub failure_window_minutes: i64,
    /// Mark session cookies `Secure` (only sent over HTTPS). Off only for local trials.
    pub secure_cookies: bool,
    /// Reverse proxies whose `X-Forwarded-For` gives the client's address; from anyone
    /// else the header is ignored.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            session_hours: 8,
            max_failed_logins: 5,
            max_failed_logins_per_name: 50,
            max_failures_per_client: 50,
            max_token_failures_per_client: 50,
            failure_window_minutes: 15,
            secure_cookies: true,
            trusted_proxies: vec![],
        }
    }
}

impl AuthSettings {
    /// The client's address: the connection's peer, or, when the peer is a trusted proxy,
    /// the address `X-Forwarded-For` (`forwarded_for`, every such header in order) names
    /// last before the trusted proxies that passed it on. A header a client wrote itself
    /// can only add entries on the left, which are never reached past an untrusted one.
    pub fn client_address<'h>(
        &self,
        peer: std::net::IpAddr,
        forwarded_for: impl DoubleEndedIterator<Item = &'h str>,
    ) -> std::net::IpAddr {
        let trusted = |ip: &std::net::IpAddr| self.trusted_proxies.iter().any(|net| net.contains(ip));
        if !trusted(&peer) {
            return peer;
        }
        let mut client = peer;
        let hops = forwarded_for.rev().flat_map(|header| header.rsplit(',')).map(str::trim);
        for hop in hops {
            // An entry that is no address (`unknown`, an obfuscated name) ends the chain:
            // the last address seen is the best known.
            let Some(ip) = parse_forwarded_address(hop) else { break };
            client = ip;
            if !trusted(&ip) {
                break;
            }
        }
        client
    }
}

/// An address as proxies write it in `X-Forwarded-For`: bare, `[v6]`, or with a port.
fn parse_forwarded_address(hop: &str) -> Option<std::net::IpAddr> {
    if let Ok(ip) = hop.parse() {
        return Some(ip);
    }
    if let Ok(socket) = hop.parse::<std::net::SocketAddr>() {
        return Some(socket.ip());
    }
    hop.strip_prefix('[').and_then(|h| h.strip_suffix(']')).and_then(|h| h.parse().ok())
}

/// Why a request or an administrative change was refused.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No valid credentials (401). The text never says which part was wrong.
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// Too many failures recently (429).
    #[error("too many failed attempts; try again in {retry_after_secs} seconds")]
    RateLimited {
        /// Seconds until the oldest counted failure leaves the window.
        retry_after_secs: i64,
    },
    /// Bad input (422).
    #[error("{0}")]
    Invalid(String),
    /// No such user or token (404).
    #[error("{0}")]
    NotFound(&'static str),
    /// Already so (409).
    #[error("{0}")]
    Conflict(String),
    /// The course office would have no active user left (422 `last_course_office`): only
    /// the command line could then make one.
    #[error(
        "användaren är den enda aktiva i kurskansliet (rollen course_office) och kan inte stängas av: skapa \
         eller aktivera en annan användare i kurskansliet först"
    )]
    LastCourseOffice,
    /// The database (503).
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// A user as the API shows them (never a secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct User {
    /// Random id: the actor id recorded in every event the user issues.
    pub user_id: String,
    /// What they log in with.
    pub login: String,
    /// Their name as shown to other users.
    pub display_name: String,
    /// Their role.
    pub role: Role,
    /// The municipality they belong to.
    pub municipality: Option<String>,
    /// The staff member they are.
    pub staff_id: Option<String>,
    /// Whether they may log in.
    pub has_password: bool,
    /// When created.
    pub created_at: String,
    /// When disabled; a disabled user's tokens and sessions stop working.
    pub disabled_at: Option<String>,
}

impl User {
    /// The actor this user acts as.
    pub fn actor(&self) -> Actor {
        Actor {
            id: self.user_id.clone(),
            role: self.role,
            municipality: self.municipality.as_deref().and_then(|m| MunicipalityId::parse(m).ok()),
            staff: self.staff_id.as_deref().and_then(|s| s.parse().ok()),
        }
    }

    /// The columns [`User::from_record`] reads, first in a query over `users u`.
    const COLUMNS: &'static str = "u.user_id, u.login, u.display_name, u.password_hash IS NOT NULL, u.role, \
         u.municipality, u.staff_id, u.created_at, u.disabled_at";

    fn from_record(r: &Record) -> Self {
        Self {
            user_id: r.text(0),
            login: r.text(1),
            display_name: r.text(2),
            has_password: r.flag(3),
            role: Role::of_user(&r.text(4)).unwrap_or(Role::Participant),
            municipality: r.opt_text(5),
            staff_id: r.opt_text(6),
            created_at: r.text(7),
            disabled_at: r.opt_text(8),
        }
    }
}

/// A new user. Through the API and the CLI it is checked against the domain first
/// (`Kurslogg::create_user`: the role's municipality and staff member exist and agree).
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Login name.
    pub login: String,
    /// Name shown.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// Municipality.
    pub municipality: Option<MunicipalityId>,
    /// Staff member.
    pub staff: Option<StaffId>,
    /// Password, if they log in with one.
    pub password: Option<String>,
}

/// A token as listed (without its secret, which is shown once, at issue).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TokenInfo {
    /// Its id (also the middle part of the token).
    pub token_id: String,
    /// Whose.
    pub user_id: String,
    /// What the user called it.
    pub label: String,
    /// When issued.
    pub created_at: String,
    /// Who issued it.
    pub created_by: String,
    /// When it stops working, if ever.
    pub expires_at: Option<String>,
    /// When revoked.
    pub revoked_at: Option<String>,
}

/// A freshly issued token: the only time its secret is seen.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IssuedToken {
    /// The token's record.
    #[serde(flatten)]
    pub info: TokenInfo,
    /// Send as `Authorization: Bearer <token>`. Not stored; cannot be shown again.
    pub token: String,
}

/// A browser session just begun.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// The cookie's value.
    pub cookie: String,
    /// To send back as `X-CSRF-Token` with every change made through the session.
    pub csrf_token: String,
    /// When it ends.
    pub expires_at: DateTime<Utc>,
}

/// Where a request came from, for the security log and the rate limit.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    /// The client's address.
    pub client: String,
    /// The request id.
    pub request_id: String,
}

/// One line of the security log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SecurityEntry {
    /// Order of writing.
    pub entry_id: i64,
    /// When.
    pub at: String,
    /// login, login_failed, logout, token_used, token_rejected, token_issued, token_revoked,
    /// user_created, user_disabled, password_set, person_read, certificate_check (a check
    /// answered valid or withdrawn), certificate_check_failed (answered unknown).
    pub kind: String,
    /// The user concerned.
    pub user_id: Option<String>,
    /// Who did it.
    pub actor_id: Option<String>,
    /// The token concerned.
    pub token_id: Option<String>,
    /// The staff member whose record was read.
    pub staff_id: Option<String>,
    /// The client's address.
    pub client: String,
    /// The request id.
    pub request_id: String,
    /// What was done (method and path for a token use, the reason for a refusal).
    pub detail: String,
}

/// A line to append to the security log.
#[derive(Debug, Clone, Default)]
pub struct Event<'a> {
    /// Its kind.
    pub kind: &'a str,
    /// The user concerned.
    pub user_id: Option<&'a str>,
    /// Who did it.
    pub actor_id: Option<&'a str>,
    /// The token concerned.
    pub token_id: Option<&'a str>,
    /// The staff member concerned.
    pub staff_id: Option<&'a str>,
    /// SHA-256 of a login name tried.
    pub login_hash: Option<String>,
    /// What.
    pub detail: String,
}

/// Which security-log lines to list.
#[derive(Debug, Clone, Default)]
pub struct SecurityFilter {
    /// Only this kind.
    pub kind: Option<String>,
    /// Only about or by this user.
    pub user_id: Option<String>,
    /// Only about this staff member.
    pub staff_id: Option<String>,
    /// Only after this entry (paging).
    pub after: Option<i64>,
    /// At most this many.
    pub limit: i64,
}

/// Users, tokens, sessions and the security log over the event log's database.
pub struct Auth {
    db: Db,
    clock: Arc<dyn Clock>,
    settings: AuthSettings,
    /// Token id → SHA-256 of a secret already verified against its Argon2 hash, so a
    /// client using its token for every request pays for Argon2 once. Revocation, expiry
    /// and disabled users are still checked against the database on every request.
    verified: Mutex<HashMap<String, [u8; 32]>>,
}

const TOKEN_PREFIX: &str = "kl_";

/// How a user whose personal data retention has removed is named.
pub const ERASED_USER: &str = "(raderad användare)";

pub(crate) fn sha256_hex(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

pub(crate) fn stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Argon2id with the crate's defaults (OWASP's minimum: 19 MiB, 2 passes), off the async
/// threads because it takes tens of milliseconds on purpose.
async fn hash_secret(secret: String) -> String {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default().hash_password(secret.as_bytes(), &salt).map(|h| h.to_string()).unwrap_or_default()
    })
    .await
    .unwrap_or_default()
}

async fn verify_secret(secret: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .is_ok_and(|parsed| Argon2::default().verify_password(secret.as_bytes(), &parsed).is_ok())
    })
    .await
    .unwrap_or(false)
}

/// A login name as stored and compared: NFC, trimmed, lower case.
pub fn normalise_login(login: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    login.trim().nfc().collect::<String>().to_lowercase()
}

/// A login name as typed, checked (docs/decisions/0010): [`normalise_login`]'s form, 1 to
/// 200 characters, one line with no spaces (an e-mail address, a user name).
pub fn check_login(raw: &str) -> Result<String, AuthError> {
    let login = normalise_login(raw);
    let invalid = |why: &str| AuthError::Invalid(format!("login: {why}"));
    check_chars(&login, Shape::Line).map_err(|e| invalid(&e.0))?;
    match login.chars().count() {
        0 => Err(invalid("får inte vara tomt")),
        n if n > 200 => Err(invalid(&format!("får vara högst 200 tecken långt (är {n})"))),
        _ if login.contains(char::is_whitespace) => Err(invalid("får inte innehålla mellanslag")),
        _ => Ok(login),
    }
}

/// A one-line text of a user or token (a display name, a label) as typed, checked
/// (docs/decisions/0010).
fn check_line(field: &str, raw: &str, max: usize) -> Result<String, AuthError> {
    text::check(raw, Shape::Line, max).map_err(|e| AuthError::Invalid(format!("{field}: {}", e.0)))
}

/// Checks a new password: long enough to resist guessing, short enough to hash.
pub fn check_password(password: &str) -> Result<(), AuthError> {
    let length = password.chars().count();
    if length < 12 {
        return Err(AuthError::Invalid("password: at least 12 characters".into()));
    }
    if length > 256 {
        return Err(AuthError::Invalid("password: at most 256 characters".into()));
    }
    Ok(())
}

/// Splits `kl_<token id>_<secret>` into its id and secret.
fn parse_token(raw: &str) -> Option<(String, String)> {
    let rest = raw.strip_prefix(TOKEN_PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    let id = Uuid::try_parse(id).ok()?;
    (secret.len() == 64 && secret.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| (id.simple().to_string(), secret.to_string()))
}

impl Auth {
    /// Authentication over `db` (the event log's database, migrated).
    pub fn new(db: Db, clock: Arc<dyn Clock>, settings: AuthSettings) -> Self {
        Self { db, clock, settings, verified: Mutex::new(HashMap::new()) }
    }

    /// The settings in force.
    pub fn settings(&self) -> &AuthSettings {
        &self.settings
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Appends a line to the security log.
    pub async fn record(&self, origin: &Origin, event: Event<'_>) -> Result<(), AuthError> {
        self.record_all(origin, vec![event]).await
    }

    /// Writes several lines of one request to the security log, in one transaction.
    pub async fn record_all(&self, origin: &Origin, events: Vec<Event<'_>>) -> Result<(), AuthError> {
        if events.is_empty() {
            return Ok(());
        }
        let at = stamp(self.now());
        let mut tx = self.db.begin().await?;
        for event in events {
            tx.execute(
                "INSERT INTO security_log (at, kind, user_id, actor_id, token_id, staff_id, login_hash, client, \
                 request_id, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                &[
                    at.clone().into(),
                    event.kind.into(),
                    event.user_id.map(str::to_string).into(),
                    event.actor_id.map(str::to_string).into(),
                    event.token_id.map(str::to_string).into(),
                    event.staff_id.map(str::to_string).into(),
                    event.login_hash.into(),
                    origin.client.clone().into(),
                    origin.request_id.clone().into(),
                    event.detail.into(),
                ],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Lists security-log lines, oldest first.
    pub async fn security_log(&self, filter: &SecurityFilter) -> Result<Vec<SecurityEntry>, AuthError> {
        let rows = self
            .db
            .fetch(
                &format!(
                    "SELECT {SECURITY_COLUMNS} FROM security_log WHERE ($1 IS NULL OR kind = $1) \
                     AND ($2 IS NULL OR user_id = $2 OR actor_id = $2) AND ($3 IS NULL OR staff_id = $3) \
                     AND entry_id > $4 ORDER BY entry_id LIMIT $5"
                ),
                &[
                    filter.kind.clone().into(),
                    filter.user_id.clone().into(),
                    filter.staff_id.clone().into(),
                    filter.after.unwrap_or(0).into(),
                    filter.limit.into(),
                ],
            )
            .await?;
        Ok(rows.iter().map(security_entry).collect())
    }

    /// Lists security-log lines newest first, before entry `before` (or from the newest),
    /// of `kind` and about or by `user` if given: what the course office's page pages through.
    pub async fn security_log_newest(
        &self,
        kind: Option<&str>,
        user: Option<&str>,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<SecurityEntry>, AuthError> {
        let rows = self
            .db
            .fetch(
                &format!(
                    "SELECT {SECURITY_COLUMNS} FROM security_log WHERE ($1 IS NULL OR kind = $1) \
                     AND ($2 IS NULL OR user_id = $2 OR actor_id = $2) AND entry_id < $3 \
                     ORDER BY entry_id DESC LIMIT $4"
                ),
                &[
                    kind.map(str::to_string).into(),
                    user.map(str::to_string).into(),
                    Param::Int(before.unwrap_or(i64::MAX)),
                    Param::Int(limit),
                ],
            )
            .await?;
        Ok(rows.iter().map(security_entry).collect())
    }

    // ----- users -----

    /// Creates a user. The caller has checked that the municipality and staff member exist.
    pub async fn create_user(&self, by: &Actor, origin: &Origin, new: NewUser) -> Result<User, AuthError> {
        let login = check_login(&new.login)?;
        let display_name = check_line("display_name", &new.display_name, 200)?;
        if let Some(password) = &new.password {
            check_password(password)?;
        }
        let password_hash = match new.password {
            Some(password) => Some(hash_secret(password).await),
            None => None,
        };
        let user_id = Uuid::new_v4().to_string();
        let mut tx = self.db.begin().await?;
        let taken = tx.fetch("SELECT 1 FROM users WHERE login = $1", &[login.clone().into()]).await?;
        if !taken.is_empty() {
            return Err(AuthError::Conflict(format!("login {login:?} is taken")));
        }
        tx.execute(
            "INSERT INTO users (user_id, login, display_name, password_hash, role, municipality, staff_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                user_id.clone().into(),
                login.into(),
                display_name.into(),
                password_hash.into(),
                new.role.as_str().into(),
                new.municipality.map(|m| m.to_string()).into(),
                new.staff.map(|s| s.to_string()).into(),
                stamp(self.now()).into(),
            ],
        )
        .await?;
        tx.commit().await?;
        self.record(
            origin,
            Event {
                kind: "user_created",
                user_id: Some(&user_id),
                actor_id: Some(&by.id),
                detail: new.role.as_str().into(),
                ..Event::default()
            },
        )
        .await?;
        self.user(&user_id).await?.ok_or(AuthError::NotFound("no such user"))
    }

    /// The user with `user_id`.
    pub async fn user(&self, user_id: &str) -> Result<Option<User>, AuthError> {
        let sql = format!("SELECT {} FROM users u WHERE u.user_id = $1", User::COLUMNS);
        Ok(self.db.fetch(&sql, &[user_id.into()]).await?.first().map(User::from_record))
    }

    /// The user who logs in as `login`.
    pub async fn user_by_login(&self, login: &str) -> Result<Option<User>, AuthError> {
        let Ok(login) = check_login(login) else { return Ok(None) };
        let sql = format!("SELECT {} FROM users u WHERE u.login = $1", User::COLUMNS);
        Ok(self.db.fetch(&sql, &[login.into()]).await?.first().map(User::from_record))
    }

    /// Every user, by login.
    pub async fn users(&self) -> Result<Vec<User>, AuthError> {
        let sql = format!("SELECT {} FROM users u ORDER BY u.login", User::COLUMNS);
        Ok(self.db.fetch(&sql, &[]).await?.iter().map(User::from_record).collect())
    }

    /// Disables a user: their tokens and sessions stop working at once.
    pub async fn disable_user(&self, by: &Actor, origin: &Origin, user_id: &str) -> Result<User, AuthError> {
        let user = self.user(user_id).await?.ok_or(AuthError::NotFound("no such user"))?;
        if user.disabled_at.is_some() {
            return Err(AuthError::Conflict("the user is already disabled".into()));
        }
        let mut tx = self.db.begin().await?;
        if user.role == Role::CourseOffice {
            // Locked on PostgreSQL, so two course-office users disabling each other at once
            // take turns, and the second sees the first's change.
            let lock = if matches!(tx, ViewTx::Postgres(_)) { " FOR UPDATE" } else { "" };
            let sql = format!("SELECT user_id FROM users WHERE role = $1 AND disabled_at IS NULL{lock}");
            let active = tx.fetch(&sql, &[Role::CourseOffice.as_str().into()]).await?;
            if active.iter().all(|r| r.text(0) == user_id) {
                return Err(AuthError::LastCourseOffice);
            }
        }
        tx.execute("UPDATE users SET disabled_at = $1 WHERE user_id = $2", &[stamp(self.now()).into(), user_id.into()])
            .await?;
        tx.commit().await?;
        self.record(
            origin,
            Event { kind: "user_disabled", user_id: Some(user_id), actor_id: Some(&by.id), ..Event::default() },
        )
        .await?;
        self.user(user_id).await?.ok_or(AuthError::NotFound("no such user"))
    }

    /// Binds a user to the staff member they are (a coordinator account made before a
    /// coordinator was a staff member: docs/decisions/0018).
    pub async fn link_staff(
        &self,
        by: &Actor,
        origin: &Origin,
        user_id: &str,
        staff: StaffId,
    ) -> Result<(), AuthError> {
        let mut tx = self.db.begin().await?;
        tx.execute("UPDATE users SET staff_id = $1 WHERE user_id = $2", &[staff.to_string().into(), user_id.into()])
            .await?;
        tx.commit().await?;
        let staff = staff.to_string();
        let event = Event {
            kind: "user_linked",
            user_id: Some(user_id),
            actor_id: Some(&by.id),
            staff_id: Some(&staff),
            detail: "the staff member the user is".into(),
            ..Event::default()
        };
        self.record(origin, event).await
    }

    /// A user changes their own password: the current one must be right (failures count
    /// towards the lock, like failed logins), and the user's other sessions end, since
    /// a password is changed when someone else may know it.
    pub async fn change_own_password(
        &self,
        user: &Actor,
        origin: &Origin,
        current: String,
        new: String,
        keep_session: Option<&str>,
    ) -> Result<(), AuthError> {
        let row = self
            .db
            .fetch("SELECT login, password_hash FROM users WHERE user_id = $1", &[user.id.clone().into()])
            .await?;
        let row = row.first().ok_or(AuthError::NotFound("no such user"))?;
        let login_hash = sha256_hex(&row.text(0));
        self.ensure_login_allowed(origin, &login_hash, Some(&user.id)).await?;
        let Some(hash) = row.opt_text(1) else {
            return Err(AuthError::Invalid(
                "you have no password to change (you log in with a token or single sign-on)".into(),
            ));
        };
        if !verify_secret(current, hash).await {
            self.record_failed_login(
                origin,
                Some(&user.id),
                Some(login_hash),
                "wrong current password when changing it",
            )
            .await?;
            return Err(AuthError::Invalid("the current password is wrong".into()));
        }
        check_password(&new)?;
        let hash = hash_secret(new).await;
        let now = stamp(self.now());
        let mut tx = self.db.begin().await?;
        tx.execute("UPDATE users SET password_hash = $1 WHERE user_id = $2", &[hash.into(), user.id.clone().into()])
            .await?;
        let keep = keep_session.map(sha256_hex).unwrap_or_default();
        tx.execute(
            "UPDATE sessions SET ended_at = $1 WHERE user_id = $2 AND ended_at IS NULL AND session_hash <> $3",
            &[now.into(), user.id.clone().into(), keep.into()],
        )
        .await?;
        tx.commit().await?;
        let event = Event {
            kind: "password_set",
            user_id: Some(&user.id),
            actor_id: Some(&user.id),
            detail: "changed by the user".into(),
            ..Event::default()
        };
        self.record(origin, event).await
    }

    /// Sets a user's password.
    pub async fn set_password(
        &self,
        by: &Actor,
        origin: &Origin,
        user_id: &str,
        password: String,
    ) -> Result<(), AuthError> {
        check_password(&password)?;
        self.user(user_id).await?.ok_or(AuthError::NotFound("no such user"))?;
        let hash = hash_secret(password).await;
        let mut tx = self.db.begin().await?;
        tx.execute("UPDATE users SET password_hash = $1 WHERE user_id = $2", &[hash.into(), user_id.into()]).await?;
        tx.commit().await?;
        self.record(
            origin,
            Event { kind: "password_set", user_id: Some(user_id), actor_id: Some(&by.id), ..Event::default() },
        )
        .await
    }

    // ----- tokens -----

    /// Issues a personal API token for `user_id`; its secret is in the answer only.
    pub async fn issue_token(
        &self,
        by: &Actor,
        origin: &Origin,
        user_id: &str,
        label: &str,
        valid_days: Option<i64>,
    ) -> Result<IssuedToken, AuthError> {
        let label = check_line("label", label, 100)?;
        let label = label.as_str();
        if valid_days.is_some_and(|d| !(1..=3650).contains(&d)) {
            return Err(AuthError::Invalid("valid_days: 1 to 3650".into()));
        }
        let user = self.user(user_id).await?.ok_or(AuthError::NotFound("no such user"))?;
        if user.disabled_at.is_some() {
            return Err(AuthError::Conflict("the user is disabled".into()));
        }
        let token_id = Uuid::new_v4().simple().to_string();
        let secret = random_hex();
        let now = self.now();
        let info = TokenInfo {
            token_id: token_id.clone(),
            user_id: user_id.to_string(),
            label: label.to_string(),
            created_at: stamp(now),
            created_by: by.id.clone(),
            expires_at: valid_days.map(|d| stamp(now + Duration::days(d))),
            revoked_at: None,
        };
        let hash = hash_secret(secret.clone()).await;
        let mut tx = self.db.begin().await?;
        tx.execute(
            "INSERT INTO api_tokens (token_id, user_id, label, secret_hash, created_at, created_by, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                token_id.clone().into(),
                user_id.into(),
                label.into(),
                hash.into(),
                info.created_at.clone().into(),
                by.id.clone().into(),
                info.expires_at.clone().into(),
            ],
        )
        .await?;
        tx.commit().await?;
        self.record(
            origin,
            Event {
                kind: "token_issued",
                user_id: Some(user_id),
                actor_id: Some(&by.id),
                token_id: Some(&token_id),
                ..Event::default()
            },
        )
        .await?;
        Ok(IssuedToken { token: format!("{TOKEN_PREFIX}{token_id}_{secret}"), info })
    }

    /// A token's record.
    pub async fn token(&self, token_id: &str) -> Result<Option<TokenInfo>, AuthError> {
        Ok(self.tokens_where("token_id = $1", token_id).await?.into_iter().next())
    }

    /// A user's tokens, newest first.
    pub async fn tokens_of(&self, user_id: &str) -> Result<Vec<TokenInfo>, AuthError> {
        self.tokens_where("user_id = $1", user_id).await
    }

    async fn tokens_where(&self, condition: &str, value: &str) -> Result<Vec<TokenInfo>, AuthError> {
        let sql = format!(
            "SELECT token_id, user_id, label, created_at, created_by, expires_at, revoked_at FROM api_tokens \
             WHERE {condition} ORDER BY created_at DESC"
        );
        Ok(self
            .db
            .fetch(&sql, &[value.into()])
            .await?
            .iter()
            .map(|r| TokenInfo {
                token_id: r.text(0),
                user_id: r.text(1),
                label: r.text(2),
                created_at: r.text(3),
                created_by: r.text(4),
                expires_at: r.opt_text(5),
                revoked_at: r.opt_text(6),
            })
            .collect())
    }

    /// Revokes a token: it stops working at once.
    pub async fn revoke_token(&self, by: &Actor, origin: &Origin, token_id: &str) -> Result<TokenInfo, AuthError> {
        let token = self.token(token_id).await?.ok_or(AuthError::NotFound("no such token"))?;
        if token.revoked_at.is_some() {
            return Err(AuthError::Conflict("the token is already revoked".into()));
        }
        let mut tx = self.db.begin().await?;
        tx.execute(
            "UPDATE api_tokens SET revoked_at = $1 WHERE token_id = $2",
            &[stamp(self.now()).into(), token_id.into()],
        )
        .await?;
        tx.commit().await?;
        self.verified.lock().expect("token cache").remove(token_id);
        self.record(
            origin,
            Event {
                kind: "token_revoked",
                user_id: Some(&token.user_id),
                actor_id: Some(&by.id),
                token_id: Some(token_id),
                ..Event::default()
            },
        )
        .await?;
        self.token(token_id).await?.ok_or(AuthError::NotFound("no such token"))
    }

    /// The user a bearer token belongs to, recording the use (or the refusal). `what` is
    /// the method and path, for the log.
    pub async fn authenticate_token(&self, raw: &str, origin: &Origin, what: &str) -> Result<User, AuthError> {
        match self.check_token(raw, origin).await? {
            Ok((user, token_id)) => {
                let event = Event {
                    kind: "token_used",
                    user_id: Some(&user.user_id),
                    actor_id: Some(&user.user_id),
                    token_id: Some(&token_id),
                    detail: what.to_string(),
                    ..Event::default()
                };
                self.record(origin, event).await?;
                Ok(user)
            }
            Err(reason) => {
                let token_id = parse_token(raw).map(|(id, _)| id);
                let event = Event {
                    kind: "token_rejected",
                    token_id: token_id.as_deref(),
                    detail: format!("{reason}: {what}"),
                    ..Event::default()
                };
                self.record(origin, event).await?;
                Err(AuthError::Unauthenticated("the bearer token is not valid"))
            }
        }
    }

    /// The token's user and id, or why it is refused. A client address with too many
    /// rejected tokens (429) is told so before anything that could be guessing: an unknown
    /// token, or a secret not yet verified; a client using its known-good token is not
    /// slowed by the count. Rejected tokens count only towards this limit, never towards
    /// the limits on password logins.
    async fn check_token(&self, raw: &str, origin: &Origin) -> Result<Result<(User, String), &'static str>, AuthError> {
        let Some((token_id, secret)) = parse_token(raw) else {
            self.ensure_tokens_allowed(origin).await?;
            return Ok(Err("malformed"));
        };
        // The token and its user in one read: this runs on every request with a token.
        let sql = format!(
            "SELECT {}, t.secret_hash, t.expires_at, t.revoked_at FROM api_tokens t \
             JOIN users u ON u.user_id = t.user_id WHERE t.token_id = $1",
            User::COLUMNS
        );
        let rows = self.db.fetch(&sql, &[token_id.clone().into()]).await?;
        let Some(row) = rows.first() else {
            self.ensure_tokens_allowed(origin).await?;
            return Ok(Err("unknown token"));
        };
        if row.opt_text(11).is_some() {
            return Ok(Err("revoked"));
        }
        if row.opt_text(10).is_some_and(|expires| expires <= stamp(self.now())) {
            return Ok(Err("expired"));
        }
        let digest: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
        let known = self.verified.lock().expect("token cache").get(&token_id) == Some(&digest);
        if !known {
            self.ensure_tokens_allowed(origin).await?;
            if !verify_secret(secret, row.text(9)).await {
                return Ok(Err("wrong secret"));
            }
            let mut cache = self.verified.lock().expect("token cache");
            if cache.len() > 10_000 {
                cache.clear();
            }
            cache.insert(token_id.clone(), digest);
        }
        let user = User::from_record(row);
        if user.disabled_at.is_some() {
            return Ok(Err("user disabled"));
        }
        Ok(Ok((user, token_id)))
    }

    // ----- retention -----

    /// Retention (issue 6): users disabled before `cutoff` lose their login name and
    /// display name, their tokens and their sessions (the account stays, by its random
    /// id, because events name it as their actor), and security-log lines written before
    /// `cutoff` are deleted (they hold client addresses, which are personal data too).
    /// Returns how many users were erased and how many lines removed.
    pub async fn apply_retention(&self, cutoff: DateTime<Utc>) -> Result<(u64, u64), AuthError> {
        let cutoff = stamp(cutoff);
        let mut tx = self.db.begin().await?;
        let gone = "SELECT user_id FROM users WHERE disabled_at < $1 AND login NOT LIKE 'erased:%'";
        tx.execute(&format!("DELETE FROM api_tokens WHERE user_id IN ({gone})"), &[cutoff.clone().into()]).await?;
        tx.execute(&format!("DELETE FROM sessions WHERE user_id IN ({gone})"), &[cutoff.clone().into()]).await?;
        let users = tx
            .execute(
                "UPDATE users SET login = 'erased:' || user_id, display_name = $2, password_hash = NULL \
                 WHERE disabled_at < $1 AND login NOT LIKE 'erased:%'",
                &[cutoff.clone().into(), ERASED_USER.into()],
            )
            .await?;
        let lines = tx.execute("DELETE FROM security_log WHERE at < $1", &[cutoff.into()]).await?;
        tx.commit().await?;
        Ok((users, lines))
    }

    // ----- logins and sessions -----

    /// The start of the window in which failures count, and the answer for a count that
    /// has reached its limit: 429 until the oldest counted failure leaves the window.
    fn failure_window(&self) -> (String, impl Fn(Option<String>) -> AuthError) {
        let window_start = self.now() - Duration::minutes(self.settings.failure_window_minutes);
        let oldest_counted = move |at: Option<String>| {
            let retry = at
                .and_then(|at| DateTime::parse_from_rfc3339(&at).ok())
                .map(|at| (at.with_timezone(&Utc) - window_start).num_seconds().max(1))
                .unwrap_or(60);
            AuthError::RateLimited { retry_after_secs: retry }
        };
        (stamp(window_start), oldest_counted)
    }

    /// Counts security-log lines matching `condition` (on `$1..`) since `$n` (the last
    /// parameter): how many, and when the oldest was written.
    async fn count_since(
        &self,
        condition: &str,
        mut params: Vec<kurslogg_projections::Param>,
        since: &str,
    ) -> Result<(i64, Option<String>), AuthError> {
        params.push(since.into());
        let sql = format!("SELECT count(*), min(at) FROM security_log WHERE {condition} AND at > ${}", params.len());
        let rows = self.db.fetch(&sql, &params).await?;
        Ok(rows.first().map_or((0, None), |r| (r.int(0), r.opt_text(1))))
    }

    /// Refuses (429) a client address that has had too many bearer tokens rejected.
    async fn ensure_tokens_allowed(&self, origin: &Origin) -> Result<(), AuthError> {
        let (since, locked) = self.failure_window();
        let (count, oldest) = self
            .count_since("kind = 'token_rejected' AND client = $1", vec![origin.client.clone().into()], &since)
            .await?;
        if count >= self.settings.max_token_failures_per_client {
            return Err(locked(oldest));
        }
        Ok(())
    }

    /// Refuses (429) a password login (or a change of one's own password) for the name
    /// `login_hash` of `user_id` (if there is such a user) from this client address while:
    /// - the name has had `max_failed_logins` failures from this address: the one guessing
    ///   locks themselves out, not the user elsewhere;
    /// - this address has had `max_failures_per_client` failures (any names), or the name
    ///   `max_failed_logins_per_name` failures from all addresses, unless the user has
    ///   logged in from this address before: guessing from many names or many addresses is
    ///   stopped without locking users out of the places they log in from.
    ///
    /// Single sign-on is not limited here (the identity provider authenticates), and
    /// rejected bearer tokens do not count (see [`Self::ensure_tokens_allowed`]).
    async fn ensure_login_allowed(
        &self,
        origin: &Origin,
        login_hash: &str,
        user_id: Option<&str>,
    ) -> Result<(), AuthError> {
        let (since, locked) = self.failure_window();
        let client = || kurslogg_projections::Param::from(origin.client.clone());
        let name = || kurslogg_projections::Param::from(login_hash.to_string());
        let (count, oldest) = self
            .count_since("kind = 'login_failed' AND login_hash = $1 AND client = $2", vec![name(), client()], &since)
            .await?;
        if count >= self.settings.max_failed_logins {
            return Err(locked(oldest));
        }
        let (by_client, oldest_by_client) =
            self.count_since("kind = 'login_failed' AND client = $1", vec![client()], &since).await?;
        let (by_name, oldest_by_name) =
            self.count_since("kind = 'login_failed' AND login_hash = $1", vec![name()], &since).await?;
        let over_client = by_client >= self.settings.max_failures_per_client;
        let over_name = by_name >= self.settings.max_failed_logins_per_name;
        if (over_client || over_name) && !self.has_logged_in_from(user_id, origin).await? {
            return Err(locked(if over_client { oldest_by_client } else { oldest_by_name }));
        }
        Ok(())
    }

    /// Whether `user_id` has logged in (with a password or single sign-on) from this client
    /// address, as far as the security log remembers.
    async fn has_logged_in_from(&self, user_id: Option<&str>, origin: &Origin) -> Result<bool, AuthError> {
        let Some(user_id) = user_id else { return Ok(false) };
        let rows = self
            .db
            .fetch(
                "SELECT 1 FROM security_log WHERE kind = 'login' AND client = $1 AND user_id = $2 LIMIT 1",
                &[origin.client.clone().into(), user_id.into()],
            )
            .await?;
        Ok(!rows.is_empty())
    }

    /// Records a failed login (counted by [`Self::ensure_login_allowed`]): the login name only
    /// as its hash, if there is one.
    pub(crate) async fn record_failed_login(
        &self,
        origin: &Origin,
        user_id: Option<&str>,
        login_hash: Option<String>,
        reason: &str,
    ) -> Result<(), AuthError> {
        let event = Event { kind: "login_failed", user_id, login_hash, detail: reason.into(), ..Event::default() };
        self.record(origin, event).await
    }

    /// Logs in with a password and begins a browser session.
    pub async fn login(&self, login: &str, password: &str, origin: &Origin) -> Result<(User, NewSession), AuthError> {
        // A login no user can have (a NUL, a line break) is refused as such (422), before
        // anything is looked up.
        let login = check_login(login)?;
        let login_hash = sha256_hex(&login);
        let sql = format!("SELECT {}, u.password_hash FROM users u WHERE u.login = $1", User::COLUMNS);
        let row = self.db.fetch(&sql, &[login.clone().into()]).await?.into_iter().next();
        let (user, hash) = (row.as_ref().map(User::from_record), row.and_then(|r| r.opt_text(9)));
        self.ensure_login_allowed(origin, &login_hash, user.as_ref().map(|u| u.user_id.as_str())).await?;
        // Verify even when there is no such user, so the answer takes as long either way.
        let hash_to_check = hash.clone().unwrap_or_else(|| DUMMY_HASH.to_string());
        let password_ok = verify_secret(password.to_string(), hash_to_check).await && hash.is_some();
        let user = match user {
            Some(user) if password_ok && user.disabled_at.is_none() => user,
            user => {
                let reason = match &user {
                    None => "unknown login",
                    Some(u) if u.disabled_at.is_some() => "user disabled",
                    Some(_) => "wrong password",
                };
                self.record_failed_login(origin, user.as_ref().map(|u| u.user_id.as_str()), Some(login_hash), reason)
                    .await?;
                return Err(AuthError::Unauthenticated("wrong login or password"));
            }
        };
        let session = self.begin_session(&user, origin, "password").await?;
        Ok((user, session))
    }

    /// Logs in someone the identity provider has vouched for (OpenID Connect): `login` is
    /// the verified claim. Only an existing, enabled user may log in; the provider says who
    /// someone is, Kurslogg what they may do. The limits on password logins do not apply:
    /// nothing is guessed here, and a name locked by someone guessing its password must
    /// not keep its user out of single sign-on.
    pub async fn login_with_identity(&self, login: &str, origin: &Origin) -> Result<(User, NewSession), AuthError> {
        let login = normalise_login(login);
        let login_hash = sha256_hex(&login);
        // A claim no login can be (a NUL, a line break) names no user.
        let user = match self.user_by_login(&login).await? {
            Some(user) if user.disabled_at.is_none() => user,
            user => {
                let reason =
                    if user.is_some() { "openid connect: user disabled" } else { "openid connect: no such user" };
                self.record_failed_login(origin, user.as_ref().map(|u| u.user_id.as_str()), Some(login_hash), reason)
                    .await?;
                return Err(AuthError::Unauthenticated(
                    "the identity provider knows you, but Kurslogg has no user for you; ask the course office",
                ));
            }
        };
        let session = self.begin_session(&user, origin, "openid connect").await?;
        Ok((user, session))
    }

    /// Begins a browser session for `user`, who has just proved who they are by `method`.
    async fn begin_session(&self, user: &User, origin: &Origin, method: &str) -> Result<NewSession, AuthError> {
        let cookie = random_hex();
        let csrf_token = random_hex();
        let now = self.now();
        let expires_at = now + Duration::hours(self.settings.session_hours);
        let mut tx = self.db.begin().await?;
        tx.execute(
            "INSERT INTO sessions (session_hash, user_id, csrf_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
            &[
                sha256_hex(&cookie).into(),
                user.user_id.clone().into(),
                sha256_hex(&csrf_token).into(),
                stamp(now).into(),
                stamp(expires_at).into(),
            ],
        )
        .await?;
        tx.commit().await?;
        let event = Event {
            kind: "login",
            user_id: Some(&user.user_id),
            actor_id: Some(&user.user_id),
            detail: method.into(),
            ..Event::default()
        };
        self.record(origin, event).await?;
        Ok(NewSession { cookie, csrf_token, expires_at })
    }

    /// The user of a live session, and whether `csrf_token` (if given) is the session's.
    pub async fn authenticate_session(
        &self,
        cookie: &str,
        csrf_token: Option<&str>,
    ) -> Result<(User, bool), AuthError> {
        // The session and its user in one read: this runs on every request with a cookie.
        let sql = format!(
            "SELECT {}, s.csrf_hash FROM sessions s JOIN users u ON u.user_id = s.user_id \
             WHERE s.session_hash = $1 AND s.ended_at IS NULL AND s.expires_at > $2 AND u.disabled_at IS NULL",
            User::COLUMNS
        );
        let rows = self.db.fetch(&sql, &[sha256_hex(cookie).into(), stamp(self.now()).into()]).await?;
        let row = rows.first().ok_or(AuthError::Unauthenticated("the session has ended; log in again"))?;
        let user = User::from_record(row);
        let csrf_ok = csrf_token.is_some_and(|t| sha256_hex(t) == row.text(9));
        Ok((user, csrf_ok))
    }

    /// Ends a session.
    pub async fn logout(&self, cookie: &str, origin: &Origin) -> Result<(), AuthError> {
        let hash = sha256_hex(cookie);
        let rows =
            self.db.fetch("SELECT user_id FROM sessions WHERE session_hash = $1", &[hash.clone().into()]).await?;
        let mut tx = self.db.begin().await?;
        tx.execute(
            "UPDATE sessions SET ended_at = $1 WHERE session_hash = $2 AND ended_at IS NULL",
            &[stamp(self.now()).into(), hash.into()],
        )
        .await?;
        tx.commit().await?;
        if let Some(row) = rows.first() {
            let user = row.text(0);
            let event = Event { kind: "logout", user_id: Some(&user), actor_id: Some(&user), ..Event::default() };
            self.record(origin, event).await?;
        }
        Ok(())
    }
}

/// An Argon2id hash of a random value nobody knows: checked against when the login name
/// does not exist, so that a wrong name takes as long to refuse as a wrong password.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2wHc0sFl9Ww7oP1VQ6u+XlZ0C2FmK1bS3Fp9oR1cXrY";

// ----- the public check of certificates (docs/decisions/0019) -----
impl Auth {
    /// Refuses (429) a client address that has checked `max_checks` certificates, or had
    /// `max_failed` checks answered "unknown", within the window: guessing numbers or
    /// names is slow, and a typing mistake or two is not punished.
    pub(crate) async fn ensure_certificate_checks_allowed(
        &self,
        origin: &Origin,
        max_checks: i64,
        max_failed: i64,
    ) -> Result<(), AuthError> {
        let (since, locked) = self.failure_window();
        let client = || vec![kurslogg_projections::Param::from(origin.client.clone())];
        let (failed, oldest_failed) =
            self.count_since("kind = 'certificate_check_failed' AND client = $1", client(), &since).await?;
        if failed >= max_failed {
            return Err(locked(oldest_failed));
        }
        let (answered, oldest) =
            self.count_since("kind = 'certificate_check' AND client = $1", client(), &since).await?;
        if answered + failed >= max_checks {
            let oldest = match (oldest, oldest_failed) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            return Err(locked(oldest));
        }
        Ok(())
    }
}

/// The security log's columns, in the order [`security_entry`] reads them.
const SECURITY_COLUMNS: &str = "entry_id, at, kind, user_id, actor_id, token_id, staff_id, client, request_id, detail";

/// One security-log line from a row of [`SECURITY_COLUMNS`].
fn security_entry(r: &Record) -> SecurityEntry {
    SecurityEntry {
        entry_id: r.int(0),
        at: r.text(1),
        kind: r.text(2),
        user_id: r.opt_text(3),
        actor_id: r.opt_text(4),
        token_id: r.opt_text(5),
        staff_id: r.opt_text(6),
        client: r.text(7),
        request_id: r.text(8),
        detail: r.text(9),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_parse_only_in_their_own_shape() {
        let id = Uuid::new_v4().simple().to_string();
        let secret = random_hex();
        assert_eq!(parse_token(&format!("kl_{id}_{secret}")), Some((id.clone(), secret.clone())));
        assert_eq!(parse_token(&format!("{id}_{secret}")), None);
        assert_eq!(parse_token(&format!("kl_{id}_{}", &secret[1..])), None);
        assert_eq!(parse_token(&format!("kl_nonsense_{secret}")), None);
        assert_eq!(parse_token(""), None);
    }

    #[test]
    fn the_client_address_comes_from_x_forwarded_for_only_through_trusted_proxies() {
        let settings = AuthSettings {
            trusted_proxies: vec!["10.0.0.0/24".parse().unwrap(), "2001:db8:ffff::1/128".parse().unwrap()],
            ..AuthSettings::default()
        };
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        let client = |peer: &str, headers: &[&str]| settings.client_address(ip(peer), headers.iter().copied());
        // From anyone else the header is the client's own word, and ignored.
        assert_eq!(client("198.51.100.4", &["203.0.113.7"]), ip("198.51.100.4"));
        assert_eq!(AuthSettings::default().client_address(ip("10.0.0.5"), ["203.0.113.7"].into_iter()), ip("10.0.0.5"));
        // Through the trusted proxy: what it saw, not what the client wrote before it.
        assert_eq!(client("10.0.0.5", &["203.0.113.7"]), ip("203.0.113.7"));
        assert_eq!(client("10.0.0.5", &["1.2.3.4, 203.0.113.7"]), ip("203.0.113.7"));
        assert_eq!(client("10.0.0.5", &["1.2.3.4", "203.0.113.7"]), ip("203.0.113.7"));
        // Through two trusted proxies, and with ports and brackets as some proxies write.
        assert_eq!(client("10.0.0.5", &["1.2.3.4, 203.0.113.7, 10.0.0.9"]), ip("203.0.113.7"));
        assert_eq!(client("10.0.0.5", &["203.0.113.7:5555"]), ip("203.0.113.7"));
        assert_eq!(client("2001:db8:ffff::1", &["[2001:db8::7]:443"]), ip("2001:db8::7"));
        assert_eq!(client("10.0.0.5", &["[2001:db8::7]"]), ip("2001:db8::7"));
        // No header, or nothing usable in it: the proxy itself is the best known address.
        assert_eq!(client("10.0.0.5", &[]), ip("10.0.0.5"));
        assert_eq!(client("10.0.0.5", &["unknown"]), ip("10.0.0.5"));
        assert_eq!(client("10.0.0.5", &["203.0.113.7, unknown"]), ip("10.0.0.5"));
    }

    #[test]
    fn passwords_need_twelve_characters() {
        assert!(check_password("kort").is_err());
        assert!(check_password("elva tecken").is_err());
        assert!(check_password("tolv tecken!").is_ok());
    }

    #[tokio::test]
    async fn a_hash_verifies_its_secret_only() {
        let hash = hash_secret("rätt lösenord".into()).await;
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_secret("rätt lösenord".into(), hash.clone()).await);
        assert!(!verify_secret("fel lösenord".into(), hash).await);
        assert!(PasswordHash::new(DUMMY_HASH).is_ok(), "the dummy hash parses, so checking it costs the same");
    }
}
