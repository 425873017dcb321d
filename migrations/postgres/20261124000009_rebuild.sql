-- Faster rebuilds (issue 4).
--
-- A rebuild drops the secondary indexes of the tables it refills and builds them again
-- once at the end, which is several times cheaper than keeping them up to date row by
-- row. Each dropped index's definition is written here in the same transaction as the
-- drop, and deleted in the same transaction as the index is built again, so a rebuild
-- cut off in between leaves a record from which the next start restores it.
CREATE TABLE IF NOT EXISTS projection_dropped_indexes
(
    index_name text PRIMARY KEY,
    projection text NOT NULL,
    definition text NOT NULL
);

-- The municipality each staff member was registered in, as their first StaffMemberAdded
-- recorded it: the audit projection looks it up for the staff member's later events,
-- which do not name it. It used to find it through an index of audit_entries by
-- aggregate id, which nothing else used.
CREATE TABLE IF NOT EXISTS audit_registered_municipalities
(
    staff_id     text PRIMARY KEY,
    municipality text
);
INSERT INTO audit_registered_municipalities (staff_id, municipality)
SELECT DISTINCT ON (aggregate_id) aggregate_id, municipality FROM audit_entries
WHERE event_type = 'StaffMemberAdded' ORDER BY aggregate_id, position
ON CONFLICT DO NOTHING;
DROP INDEX IF EXISTS audit_entries_aggregate;
