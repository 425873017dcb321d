-- Issue 5: notices by e-mail. The same SQL on both backends but for the log's position.
--
-- The outbox: one row per letter to one person. Written by the notices projection in
-- the same transaction as its checkpoint (or by the scheduler, for deadline reminders),
-- then sent by the dispatcher. People appear by staff id only: the dispatcher looks up
-- names and addresses in the staff streams when it writes the letter.
CREATE TABLE IF NOT EXISTS outbox
(
    -- Stable: derived from what caused the notice and who it is to, so writing it again
    -- (a rebuild, a second instance) finds it already there.
    notice_id       text   PRIMARY KEY,
    kind            text   NOT NULL,
    -- The staff member the letter is to.
    recipient       text   NOT NULL,
    offering_id     text,
    package_id      text,
    municipality    text,
    -- What the letter needs beyond the above, as JSON of ids and codes (never names).
    details         text   NOT NULL DEFAULT '{}',
    -- Log position of the event that caused it; NULL for a reminder (caused by time).
    caused_by       bigint,
    created_at      text   NOT NULL,
    -- pending (to send), sent, failed (permanently; the course office may resend).
    status          text   NOT NULL,
    attempts        bigint NOT NULL DEFAULT 0,
    -- When a retry is due; NULL: due at once.
    next_attempt_at text,
    last_error      text,
    sent_at         text,
    -- Times it was resent on request: part of the Message-ID, so a resent letter is a
    -- new message to mail clients while a retried one is the same message.
    generation      bigint NOT NULL DEFAULT 0,
    message_id      text
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX IF NOT EXISTS outbox_created ON outbox (created_at, notice_id);

-- What the notices projection needs to know to address letters.
CREATE TABLE IF NOT EXISTS notice_staff
(
    staff_id     text PRIMARY KEY,
    municipality text NOT NULL,
    supervisor   text
);
CREATE TABLE IF NOT EXISTS notice_coordinators
(
    municipality text NOT NULL,
    staff_id     text NOT NULL,
    PRIMARY KEY (municipality, staff_id)
);
CREATE TABLE IF NOT EXISTS notice_offerings
(
    offering_id text PRIMARY KEY,
    package_id  text NOT NULL
);
-- Who is on an offering (requested, confirmed or waiting).
CREATE TABLE IF NOT EXISTS notice_places
(
    offering_id  text NOT NULL,
    staff_id     text NOT NULL,
    municipality text NOT NULL,
    PRIMARY KEY (offering_id, staff_id)
);
-- Whose completion was evaluated when the offering was completed.
CREATE TABLE IF NOT EXISTS notice_participants
(
    offering_id text NOT NULL,
    staff_id    text NOT NULL,
    PRIMARY KEY (offering_id, staff_id)
);

-- Letters are written only for events after this position. An existing log's history
-- was never told by e-mail and must not be now, all at once; the projection still reads
-- that history to know who is who. On a new database it is 0.
CREATE TABLE IF NOT EXISTS notices_since
(
    position bigint NOT NULL
);
INSERT INTO notices_since (position)
SELECT head FROM (SELECT coalesce(max(rowid), 0) AS head FROM events) AS log
WHERE NOT EXISTS (SELECT 1 FROM notices_since);
