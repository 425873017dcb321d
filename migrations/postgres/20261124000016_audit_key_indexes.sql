-- The audit trail's indexes by actor, by offering and by staff member hold the key alone,
-- with PostgreSQL's deduplication (issue 4, faster rebuilds). PostgreSQL only: SQLite
-- keeps (key, position).
--
-- Without the position each key is held once with the list of its rows, in the order of
-- the table (which is position order): at a million entries 7 MB instead of 57-64 MB
-- each, built in 0.6-0.7 s of CPU instead of 0.95-1.0 s, with cheaper comparisons (a key
-- of variable length followed by a second column was most of a build's sort). A page of
-- the trail (the entries after a position, in position order) is still found quickly:
-- - an offering or a staff member has a few hundred entries (at a million: 330 per
--   offering and 270 per person on average, the largest offering 800): a bitmap scan of
--   the key, then a sort of those rows, well under a millisecond;
-- - an account can have a tenth of the trail (64 accounts, the largest 117,000 entries):
--   the planner, which knows each account's share, reads the table in position order by
--   its primary key and keeps that account's rows, 1.6 ms for a page of 501; for a rare
--   one it takes the bitmap scan.
-- The municipality index keeps (key, position): it holds only the tenth of the entries
-- that name a municipality, and is small either way.
--
-- A rebuild cut off before it built them again left their definitions recorded: they are
-- built here first (as the projection's next start would), as in migration 000015.
DO $$
DECLARE
    dropped record;
BEGIN
    FOR dropped IN SELECT index_name, definition FROM projection_dropped_indexes WHERE projection = 'audit'
                   FOR UPDATE LOOP
        EXECUTE dropped.definition;
        DELETE FROM projection_dropped_indexes WHERE index_name = dropped.index_name;
    END LOOP;
END
$$;
DROP INDEX audit_entries_actor;
CREATE INDEX audit_entries_actor ON audit_entries (actor_id);
DROP INDEX audit_entries_offering;
CREATE INDEX audit_entries_offering ON audit_entries (offering_id);
DROP INDEX audit_entries_staff;
CREATE INDEX audit_entries_staff ON audit_entries (staff_id);
