-- Issue 6: who may see and do what. The same SQL on both backends but for the security
-- log's key column.
--
-- Users, their tokens and their browser sessions are credentials, not domain facts: they
-- live in these tables, not in the event log, so a password change or a revoked token
-- never needs a new event and a user's login name can be deleted. Every change to them,
-- every login and every token use is recorded in `security_log`, which is only ever
-- appended to.
CREATE TABLE IF NOT EXISTS users
(
    -- A random UUID: the actor id recorded in every event the user issues.
    user_id       text PRIMARY KEY,
    -- What the user types to log in (lower case); personal data, erasable with the user.
    login         text NOT NULL UNIQUE,
    display_name  text NOT NULL,
    -- Argon2id PHC string; NULL: no password (tokens or single sign-on only).
    password_hash text,
    -- course_office, coordinator, supervisor, trainer, auditor, participant.
    role          text NOT NULL,
    -- The municipality a coordinator, supervisor or participant belongs to.
    municipality  text,
    -- The staff member a supervisor or participant is (a coordinator may be one too).
    staff_id      text,
    created_at    text NOT NULL,
    disabled_at   text
);

-- Personal API tokens: `kl_<token_id>_<secret>`; only an Argon2id hash of the secret is kept.
CREATE TABLE IF NOT EXISTS api_tokens
(
    token_id     text PRIMARY KEY,
    user_id      text NOT NULL REFERENCES users (user_id),
    label        text NOT NULL,
    secret_hash  text NOT NULL,
    created_at   text NOT NULL,
    created_by   text NOT NULL,
    expires_at   text,
    revoked_at   text,
    last_used_at text
);
CREATE INDEX IF NOT EXISTS api_tokens_user ON api_tokens (user_id);

-- Browser sessions: the cookie holds a random id; only its SHA-256 is kept (as for the
-- CSRF token the page sends back with every change).
CREATE TABLE IF NOT EXISTS sessions
(
    session_hash text PRIMARY KEY,
    user_id      text NOT NULL REFERENCES users (user_id),
    csrf_hash    text NOT NULL,
    created_at   text NOT NULL,
    expires_at   text NOT NULL,
    ended_at     text
);

-- Who logged in, failed to, used a token, changed a user or read a person's record.
CREATE TABLE IF NOT EXISTS security_log
(
    entry_id   INTEGER PRIMARY KEY AUTOINCREMENT,
    at         text NOT NULL,
    -- login, login_failed, logout, token_used, token_rejected, token_issued,
    -- token_revoked, user_created, user_disabled, password_set, person_read.
    kind       text NOT NULL,
    -- The user concerned, when known.
    user_id    text,
    -- The user who did it (the same as user_id for one's own login).
    actor_id   text,
    token_id   text,
    -- The staff member whose record was read.
    staff_id   text,
    -- SHA-256 of the login name tried (rate limiting without keeping what was typed).
    login_hash text,
    client     text NOT NULL DEFAULT '',
    request_id text NOT NULL DEFAULT '',
    detail     text NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS security_log_failures ON security_log (kind, login_hash, at);
CREATE INDEX IF NOT EXISTS security_log_clients ON security_log (kind, client, at);
CREATE INDEX IF NOT EXISTS security_log_staff ON security_log (staff_id);
