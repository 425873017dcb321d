-- audit_staff without a primary key (issue 4, faster rebuilds).
--
-- Its rows are unique by construction: the audit projection writes each event's staff
-- members once, de-duplicated, and never applies an event twice (its checkpoint moves in
-- the same transaction). The primary key's unique index could not be dropped during a
-- rebuild, so every row went into it at a random place, checked for a conflict first
-- (about 5 µs a row on PostgreSQL, the largest single cost of the audit rebuild). A plain
-- index on the same columns serves the same look-ups and is built once, sorted, at the
-- end of a rebuild.
ALTER TABLE audit_staff DROP CONSTRAINT IF EXISTS audit_staff_pkey;
CREATE INDEX IF NOT EXISTS audit_staff_staff ON audit_staff (staff_id, position);
