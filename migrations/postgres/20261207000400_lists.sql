-- The lists the web pages and the API page through (issue 23): the course catalogue, the
-- organiser of a package, what a catalogue shows of an offering, and the trainers assigned
-- to offerings. All are kept by the enrolment projection. Every statement can run twice.

-- The new columns and tables are filled from the log: the enrolment projection is emptied
-- (first, so the new indexes are built on empty tables) and forgets its checkpoint, so it
-- is built again on start (as in migration 000013).
DELETE FROM roster_attendance;
DELETE FROM roster_charges;
DELETE FROM roster_sessions;
DELETE FROM roster_entries;
DELETE FROM roster_offerings;
DELETE FROM enrolment_packages;
DELETE FROM enrolment_municipalities;
DELETE FROM enrolment_staff;
DELETE FROM projection_checkpoints WHERE name = 'enrolment';

-- The catalogue: one row per course, as last revised. `prerequisites` is a JSON array of
-- course codes.
CREATE TABLE IF NOT EXISTS enrolment_courses
(
    code          text COLLATE "C" PRIMARY KEY,
    title         text NOT NULL,
    description   text NOT NULL,
    prerequisites text COLLATE "C" NOT NULL DEFAULT '[]'
);

-- Who organises a package (shown in the list of packages).
ALTER TABLE enrolment_packages ADD COLUMN IF NOT EXISTS organiser text NOT NULL DEFAULT '';

-- What the catalogue shows of an offering beyond what the roster needs. The three lists
-- are JSON arrays: experience bands and staff groups (empty: everyone), prerequisite
-- course codes.
ALTER TABLE roster_offerings ADD COLUMN IF NOT EXISTS description text NOT NULL DEFAULT '';
ALTER TABLE roster_offerings ADD COLUMN IF NOT EXISTS experience_bands text COLLATE "C" NOT NULL DEFAULT '[]';
ALTER TABLE roster_offerings ADD COLUMN IF NOT EXISTS staff_groups text COLLATE "C" NOT NULL DEFAULT '[]';
ALTER TABLE roster_offerings ADD COLUMN IF NOT EXISTS prerequisites text COLLATE "C" NOT NULL DEFAULT '[]';

-- The user accounts assigned to an offering as its trainers (their display names are
-- read from `users` when a list is shown).
CREATE TABLE IF NOT EXISTS roster_trainers
(
    offering_id text COLLATE "C" NOT NULL,
    user_id     text COLLATE "C" NOT NULL,
    PRIMARY KEY (offering_id, user_id)
);

-- What the lists look rows up by.
CREATE INDEX IF NOT EXISTS enrolment_staff_municipality ON enrolment_staff (municipality);
CREATE INDEX IF NOT EXISTS roster_offerings_package ON roster_offerings (package_id);
