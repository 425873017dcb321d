-- The audit trail's time index is a block-range (BRIN) index on PostgreSQL (issue 4,
-- faster rebuilds).
--
-- Entries are written in log order, live and when rebuilt (the copy goes in position
-- order), and a command's time rises with the log: the rows of any stretch of time sit
-- together on disk. A BRIN index keeps only the earliest and latest time of each range of
-- 128 pages, so it is built in one pass over the table without a sort (the B-tree it
-- replaces was the costliest of the trail's five index builds after a rebuild) and is a
-- few dozen kilobytes instead of tens of megabytes. A search by time reads the ranges
-- that overlap it and checks each row, which for a day or a month is a small part of the
-- table. `autosummarize` has autovacuum add the ranges filled since; a range not yet
-- summarised is always read, so a recent search stays correct, only a little slower.
--
-- SQLite has no such index and keeps its B-tree.
DROP INDEX IF EXISTS audit_entries_time;
CREATE INDEX IF NOT EXISTS audit_entries_time ON audit_entries USING brin (recorded_at) WITH (autosummarize = on);
-- The index exists now even where a rebuild cut off had recorded the B-tree as dropped:
-- nothing is left to build.
DELETE FROM projection_dropped_indexes WHERE index_name = 'audit_entries_time';
