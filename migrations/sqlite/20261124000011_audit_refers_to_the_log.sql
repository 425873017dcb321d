-- The audit trail refers to the log instead of copying it (issue 4, faster rebuilds,
-- and a database a third smaller).
--
-- An audit entry used to copy most of its event's row: aggregate, event type, the actor's
-- role, on whose behalf, the request id and the event's fields. The log holds all of
-- them, append-only, so the trail now keeps only what it is searched by (time, actor,
-- offering, municipality, staff member) and reads the rest from the event at the same
-- position when a page is shown.
--
-- Almost every event concerns at most one staff member, who is now a column of the entry;
-- audit_staff keeps only events that concern several (an allocation, a transfer). A
-- rebuild then writes about a million rows fewer per million events.
--
-- On SQLite the position is now the table's rowid (INTEGER PRIMARY KEY): the entries are
-- stored in position order with no separate key index to fill.
CREATE TABLE audit_entries_new
(
    position     integer PRIMARY KEY,
    recorded_at  text   NOT NULL,
    actor_id     text   NOT NULL,
    -- The offering concerned, if any.
    offering_id  text,
    -- The municipality concerned (acted for, or the subject's own).
    municipality text,
    -- The staff member concerned, when the event concerns exactly one (else audit_staff).
    staff_id     text
);
INSERT INTO audit_entries_new (position, recorded_at, actor_id, offering_id, municipality, staff_id)
SELECT a.position, a.recorded_at, a.actor_id, a.offering_id, a.municipality, s.staff_id
FROM audit_entries a
LEFT JOIN (SELECT position, min(staff_id) AS staff_id FROM audit_staff GROUP BY position HAVING count(*) = 1) s
    ON s.position = a.position;
DELETE FROM audit_staff WHERE position IN (SELECT position FROM audit_entries_new WHERE staff_id IS NOT NULL);
DROP TABLE audit_entries;
ALTER TABLE audit_entries_new RENAME TO audit_entries;
CREATE INDEX IF NOT EXISTS audit_entries_time ON audit_entries (recorded_at);
CREATE INDEX IF NOT EXISTS audit_entries_actor ON audit_entries (actor_id, position);
CREATE INDEX IF NOT EXISTS audit_entries_offering ON audit_entries (offering_id, position);
-- Most events name no municipality (attendance, recorded by trainers: nine in ten), and a
-- search by municipality never looks for none: the index leaves them out.
CREATE INDEX IF NOT EXISTS audit_entries_municipality ON audit_entries (municipality, position)
    WHERE municipality IS NOT NULL;
CREATE INDEX IF NOT EXISTS audit_entries_staff ON audit_entries (staff_id, position);
-- A rebuild cut off before it built these again has nothing left to build: the table and
-- its indexes are new.
DELETE FROM projection_dropped_indexes WHERE index_name LIKE 'audit\_entries\_%' ESCAPE '\';
