-- Issue 4's views. The same SQL runs on both backends (text timestamps in RFC 3339 UTC
-- with milliseconds compare correctly as text).
--
-- The roster projection becomes the enrolment projection, with more columns: empty
-- its tables and forget its checkpoint so it is rebuilt from the log on start.
DELETE FROM roster_attendance;
DELETE FROM roster_entries;
DELETE FROM roster_offerings;
DELETE FROM projection_checkpoints WHERE name = 'roster';

-- What an offering is: for records, statistics, costs and calendars.
ALTER TABLE roster_offerings ADD COLUMN year bigint NOT NULL DEFAULT 0;
ALTER TABLE roster_offerings ADD COLUMN price bigint NOT NULL DEFAULT 0;
ALTER TABLE roster_offerings ADD COLUMN minutes bigint NOT NULL DEFAULT 0;
ALTER TABLE roster_offerings ADD COLUMN trainer text NOT NULL DEFAULT '';
ALTER TABLE roster_offerings ADD COLUMN place text NOT NULL DEFAULT '';
ALTER TABLE roster_offerings ADD COLUMN starts_at text NOT NULL DEFAULT '';
ALTER TABLE roster_offerings ADD COLUMN ends_at text NOT NULL DEFAULT '';
ALTER TABLE roster_offerings ADD COLUMN completion_threshold bigint NOT NULL DEFAULT 80;
-- JSON array of the competence areas covered.
ALTER TABLE roster_offerings ADD COLUMN competence_areas text NOT NULL DEFAULT '[]';

-- Who the person was when they were put on the offering (anonymous counts keep these
-- even after the person is erased), and when things happened.
ALTER TABLE roster_entries ADD COLUMN unit text;
ALTER TABLE roster_entries ADD COLUMN supervisor text;
ALTER TABLE roster_entries ADD COLUMN staff_group text;
ALTER TABLE roster_entries ADD COLUMN experience_band text;
ALTER TABLE roster_entries ADD COLUMN social_work_degree bigint;
ALTER TABLE roster_entries ADD COLUMN registered_at text NOT NULL DEFAULT '';
ALTER TABLE roster_entries ADD COLUMN cancelled_at text;

CREATE TABLE IF NOT EXISTS roster_sessions
(
    offering_id text   NOT NULL,
    session     bigint NOT NULL,
    starts_at   text   NOT NULL,
    ends_at     text   NOT NULL,
    minutes     bigint NOT NULL,
    PRIMARY KEY (offering_id, session)
);

-- Packages and their deadlines.
CREATE TABLE IF NOT EXISTS enrolment_packages
(
    package_id text PRIMARY KEY,
    term       text NOT NULL,
    title      text NOT NULL,
    deadline   text NOT NULL,
    phase      text NOT NULL
);

-- Municipalities (not personal data).
CREATE TABLE IF NOT EXISTS enrolment_municipalities
(
    municipality_id text PRIMARY KEY,
    name            text NOT NULL,
    federation      text NOT NULL
);

-- Staff as the work needs them, by id: no name, no e-mail (those stay in the staff
-- member's own stream).
CREATE TABLE IF NOT EXISTS enrolment_staff
(
    staff_id           text   PRIMARY KEY,
    municipality       text   NOT NULL,
    unit               text   NOT NULL,
    supervisor         text,
    staff_group        text   NOT NULL,
    experience_band    text   NOT NULL,
    social_work_degree bigint NOT NULL,
    status             text   NOT NULL
);
CREATE INDEX IF NOT EXISTS enrolment_staff_supervisor ON enrolment_staff (supervisor);
CREATE INDEX IF NOT EXISTS roster_entries_staff ON roster_entries (staff_id);

-- The audit trail: one row per event, with who, when, on whose behalf and the request.
CREATE TABLE IF NOT EXISTS audit_entries
(
    position       bigint PRIMARY KEY,
    recorded_at    text   NOT NULL,
    aggregate_type text   NOT NULL,
    aggregate_id   text   NOT NULL,
    event_type     text   NOT NULL,
    actor_id       text   NOT NULL,
    actor_role     text   NOT NULL,
    on_behalf_of   text,
    request_id     text   NOT NULL,
    -- The offering concerned, if any.
    offering_id    text,
    -- The municipality concerned (acted for, or the subject's own).
    municipality   text,
    -- The event's fields as JSON; NULL for a staff member's own events, whose personal
    -- data stays in their stream only.
    details        text
);
CREATE INDEX IF NOT EXISTS audit_entries_aggregate ON audit_entries (aggregate_id, position);
CREATE INDEX IF NOT EXISTS audit_entries_time ON audit_entries (recorded_at);
CREATE INDEX IF NOT EXISTS audit_entries_actor ON audit_entries (actor_id, position);
CREATE INDEX IF NOT EXISTS audit_entries_offering ON audit_entries (offering_id, position);
CREATE INDEX IF NOT EXISTS audit_entries_municipality ON audit_entries (municipality, position);

-- Staff members an event concerns (an allocation concerns many).
CREATE TABLE IF NOT EXISTS audit_staff
(
    staff_id text   NOT NULL,
    position bigint NOT NULL,
    PRIMARY KEY (staff_id, position)
);
CREATE INDEX IF NOT EXISTS audit_staff_position ON audit_staff (position);
