-- Attendance marks stored in their key's order, in one B-tree (issue 4, faster rebuilds).
--
-- roster_attendance holds one small row per participant and session: most of the
-- enrolment projection's rows (835,000 of ~960,000 at a million events). As an ordinary
-- SQLite table each row went into two B-trees, the table's by rowid and its primary key's
-- index. WITHOUT ROWID keeps the row in the primary key's B-tree alone, which SQLite
-- recommends for small rows with a composite key. PostgreSQL has no such choice: no
-- migration there.
CREATE TABLE roster_attendance_new
(
    offering_id text    NOT NULL,
    staff_id    text    NOT NULL,
    session     integer NOT NULL,
    attendance  text    NOT NULL,
    PRIMARY KEY (offering_id, staff_id, session)
) WITHOUT ROWID;
INSERT INTO roster_attendance_new (offering_id, staff_id, session, attendance)
SELECT offering_id, staff_id, session, attendance FROM roster_attendance;
DROP TABLE roster_attendance;
ALTER TABLE roster_attendance_new RENAME TO roster_attendance;
