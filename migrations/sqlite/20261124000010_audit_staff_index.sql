-- audit_staff without a primary key (issue 4, faster rebuilds).
--
-- Its rows are unique by construction: the audit projection writes each event's staff
-- members once, de-duplicated, and never applies an event twice (its checkpoint moves in
-- the same transaction). The primary key's unique index could not be dropped during a
-- rebuild, so every row went into it at a random place. A plain index on the same columns
-- serves the same look-ups and is built once, sorted, at the end of a rebuild. SQLite
-- cannot drop a primary key: the table is made again.
CREATE TABLE audit_staff_new
(
    staff_id text   NOT NULL,
    position bigint NOT NULL
);
INSERT INTO audit_staff_new (staff_id, position) SELECT staff_id, position FROM audit_staff;
DROP TABLE audit_staff;
ALTER TABLE audit_staff_new RENAME TO audit_staff;
CREATE INDEX audit_staff_staff ON audit_staff (staff_id, position);
CREATE INDEX audit_staff_position ON audit_staff (position);
