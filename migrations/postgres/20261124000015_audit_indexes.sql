-- The audit trail's indexes, built for less on PostgreSQL (issue 4, faster rebuilds).
-- A rebuild builds them again from the whole trail, one row per event.
--
-- 1. The time index is a block-range (BRIN) index.
--
-- Entries are written in log order, live and when rebuilt (the copy goes in position
-- order), and a command's time rises with the log: the rows of any stretch of time sit
-- together on disk. A BRIN index keeps only the earliest and latest time of each range of
-- 128 pages, so it is built in one pass over the table without a sort (the B-tree it
-- replaces was the costliest of the trail's index builds after a rebuild) and is a few
-- dozen kilobytes instead of tens of megabytes. A search by time reads the ranges that
-- overlap it and checks each row, which for a day or a month is a small part of the
-- table. `autosummarize` has autovacuum add the ranges filled since; a range not yet
-- summarised is always read, so a recent search stays correct, only a little slower.
-- SQLite has no such index and keeps its B-tree.
DROP INDEX IF EXISTS audit_entries_time;
CREATE INDEX IF NOT EXISTS audit_entries_time ON audit_entries USING brin (recorded_at) WITH (autosummarize = on);
-- It exists now even where a rebuild cut off had recorded the B-tree as dropped: nothing
-- is left to build.
DELETE FROM projection_dropped_indexes WHERE index_name = 'audit_entries_time';

-- 2. No deduplication in the indexes whose keys end in the position: no two entries share
-- a key, so PostgreSQL's search for duplicates (on every page a build fills, and before
-- every page split) never finds any. Without it two of them built from a million entries
-- in 2.2-2.4 s of CPU instead of 2.3-2.9 s (BENCHMARKS.md, fourteenth session).
-- audit_staff_position keeps it: an allocation lists many people under one position.
--
-- A rebuild cut off before it built them again left their definitions recorded: they are
-- built here first (as the projection's next start would), so that all of them can be
-- altered.
DO $$
DECLARE
    dropped record;
BEGIN
    -- FOR UPDATE: an instance of the version before may be building one of them now; this
    -- waits for it, and then finds its record gone.
    FOR dropped IN SELECT index_name, definition FROM projection_dropped_indexes WHERE projection = 'audit'
                   FOR UPDATE LOOP
        EXECUTE dropped.definition;
        DELETE FROM projection_dropped_indexes WHERE index_name = dropped.index_name;
    END LOOP;
END
$$;
ALTER INDEX audit_entries_actor SET (deduplicate_items = off);
ALTER INDEX audit_entries_offering SET (deduplicate_items = off);
ALTER INDEX audit_entries_municipality SET (deduplicate_items = off);
ALTER INDEX audit_entries_staff SET (deduplicate_items = off);
ALTER INDEX audit_staff_staff SET (deduplicate_items = off);
