-- The audit trail's indexes by offering and by staff member are sorted by the key alone
-- (issue 4, faster rebuilds). PostgreSQL only: SQLite keeps (key, position).
--
-- Sorting by (key, position), a key of variable length followed by a second column, was
-- most of these builds' cost. An offering or a staff member has a few hundred entries (at
-- a million: 330 per offering and 270 per person on average, the largest offering 800;
-- both are bounded by what one course or one person's years can hold), so a page of the
-- trail (the entries after a position, in position order) is still found at once from
-- the key: those rows, then a sort.
-- - By offering: the key alone, deduplicated (each key once with the list of its rows):
--   7 MB instead of 64 MB at a million entries, built in 0.6 s of CPU instead of 0.95 s.
--   A page reads the rows themselves anyway.
-- - By staff member: the key, with the position carried along (`INCLUDE`) but not sorted
--   by: built in 0.9-1.1 s instead of 1.3-1.6 s (key alone: 0.8 s). The trail of a staff
--   member first gathers the positions of their entries, and takes them from this index
--   alone (an index-only scan); with the key alone it read a few hundred rows of the
--   table for them.
--
-- The actor and municipality indexes keep (key, position): one account or one
-- municipality can have a tenth of the trail and more, and a page of it is read from the
-- index in position order; without the position, each page would read and sort all of
-- that account's later entries.
--
-- A rebuild cut off before it built them again left their definitions recorded: the
-- records of these two go (the DELETE waits for an instance of the version before that
-- is building one of them now), and they are made here in their new form. Any other
-- audit index recorded stays for the projection's next start to build, as after any
-- cut-off rebuild.
DELETE FROM projection_dropped_indexes WHERE index_name IN ('audit_entries_offering', 'audit_entries_staff');
DROP INDEX IF EXISTS audit_entries_offering;
CREATE INDEX audit_entries_offering ON audit_entries (offering_id);
DROP INDEX IF EXISTS audit_entries_staff;
CREATE INDEX audit_entries_staff ON audit_entries (staff_id) INCLUDE (position);
